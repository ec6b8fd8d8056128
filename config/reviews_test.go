package config

import (
	"strings"
	"testing"
)

const reviewsBase = `version: 1
organization: {name: Example, domain: example.com}
admins: {it: [it@example.com], it_channel: C0IT}
apps:
  github: {connector: simulated, owner: cto@example.com}
profiles: {base: {grants: [github]}}
rules: [{name: everyone, when: "true", profiles: [base]}]
`

func TestGovernanceReviews(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		errs       []string
		check      func(*testing.T, ReviewsConfig)
	}{
		{name: "defaults", check: func(t *testing.T, r ReviewsConfig) {
			if r.Deadline != 14*Day || r.OnDeadline != "escalate" || strings.Join(r.Reviewers, ",") != "manager" || r.Channel != "C0IT" {
				t.Fatalf("defaults %+v", r)
			}
		}},
		{name: "set", yaml: "governance:\n  reviews: {deadline: 21d, on_deadline: revoke, reviewers: [app_owner, manager], channel: C0REV}\n", check: func(t *testing.T, r ReviewsConfig) {
			if r.Deadline != 21*Day || r.OnDeadline != "revoke" || strings.Join(r.Reviewers, ",") != "app_owner,manager" || r.Channel != "C0REV" {
				t.Fatalf("settings %+v", r)
			}
		}},
		{name: "bad", yaml: "governance:\n  reviews: {deadline: 2h, on_deadline: ignore, reviewers: [ceo]}\n",
			errs: []string{"governance.reviews.deadline", "governance.reviews.on_deadline", "governance.reviews.reviewers[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(reviewsBase+tc.yaml), func(string) (string, bool) { return "", false })
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatal("config accepted")
				}
				for _, e := range tc.errs {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("error %q does not name %s", err, e)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg.Governance.Reviews)
		})
	}
}
