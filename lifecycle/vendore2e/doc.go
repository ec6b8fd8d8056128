// Package vendore2e holds end-to-end tests of the lifecycle engine against
// the loopback fakes of every native vendor connector (Okta as the IdP,
// Google Workspace, Microsoft Entra ID, GitHub, Slack with SCIM, AWS IAM
// Identity Center): a real bbolt store, the real rules engine and the real
// connectors built from each fake's own settings. The tests assert on the
// fakes' state and request logs — what the vendors would show — rather than
// on Gatehouse's own records, and benchmark offboarding one person across all
// six against the critical path (IdP suspend + IdP session revoke + the
// slowest downstream app's chain). It contains no production code.
//
//	go test -race ./lifecycle/vendore2e/
//	go test -run '^$' -bench OffboardAll -benchtime 3x ./lifecycle/vendore2e/
//
// The fakes need the vendors' descriptions installed (bash .ci/install-deps.sh).
package vendore2e
