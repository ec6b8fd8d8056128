package vendore2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/aws/awstest"
	"github.com/gatehousehq/gatehouse/connectors/entra/entratest"
	"github.com/gatehousehq/gatehouse/connectors/okta/oktatest"
	"github.com/gatehousehq/gatehouse/connectors/slack/slackapptest"
)

// Vendors throttle and fail in the middle of an offboarding: a 503 on the
// IdP's suspend, 429s with each vendor's own Retry-After on Entra's session
// revoke, Slack's channel kick and AWS's assignment deletion, a 500 on
// Slack's SCIM deactivation. The run still ends with everything closed, each
// retry waits what the vendor asked, and no side effect happens twice.
func TestLeaverSurvivesVendorFaults(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.onboard()
	awsID := e.awsID()
	okta, _ := e.f.okta.User(adaEmail)
	suspendPath := "/api/v1/users/" + okta.ID + "/lifecycle/suspend"

	e.f.okta.Fail(oktatest.Fault{Status: http.StatusServiceUnavailable, Prefix: suspendPath, Count: 1})
	e.f.entra.Fail(entratest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Match: "/revokeSignInSessions"})
	e.f.slack.Fail("conversations.kick", slackapptest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1})
	e.f.slack.Fail("scim", slackapptest.Fault{Status: http.StatusInternalServerError})
	e.f.aws.Fail("SWBExternalService.DeleteAccountAssignment", 1,
		awstest.Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded", RetryAfterSeconds: 1})

	lr, since := e.offboard()
	steps := e.steps(lr.ID)
	if lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver %s: %s%s", lr.Status, lr.Summary, describe(steps))
	}
	for app, open := range e.f.access(awsID) {
		if len(open) != 0 {
			t.Errorf("after the leave %s still shows %q", app, open)
		}
	}
	log := e.f.wire(since)
	if err := checkOffboardOrder(log); err != nil {
		t.Errorf("order with faults: %v", err)
	}

	type op struct {
		vendor string
		match  func(wireEntry) bool
		calls  int           // requests expected: the faulted one and one retry
		wait   time.Duration // the vendor's Retry-After
		// within bounds the retry of a fault without Retry-After: Okta sends
		// X-Rate-Limit-Reset (its window's end) on every answer, which is no
		// reason to hold the IdP's suspend back for up to a minute.
		within time.Duration
	}
	for name, o := range map[string]op{
		"okta suspend (503)": {"okta", func(w wireEntry) bool { return w.Method == "POST" && w.Path == suspendPath }, 2, 0, time.Second},
		"entra revokeSignInSessions (429, Retry-After: 1)": {"m365", func(w wireEntry) bool {
			return w.Method == "POST" && strings.HasSuffix(w.Path, "/revokeSignInSessions")
		}, 2, time.Second, 0},
		"slack conversations.kick (429, Retry-After: 1)": {"slack", func(w wireEntry) bool { return w.Query == "conversations.kick" }, 2, time.Second, 0},
		"slack SCIM deactivate (500)": {"slack", func(w wireEntry) bool {
			return w.Query == "scim" && (w.Method == "PATCH" || w.Method == "DELETE")
		}, 2, 0, 0},
		"aws DeleteAccountAssignment (ThrottlingException)": {"aws", func(w wireEntry) bool {
			return w.Path == "SWBExternalService.DeleteAccountAssignment"
		}, 2, time.Second, 0},
	} {
		var at []time.Time
		for _, w := range log {
			if w.Vendor == o.vendor && o.match(w) {
				at = append(at, w.Time)
			}
		}
		if len(at) != o.calls {
			t.Errorf("%s: %d requests, want %d (the failed one and one retry, no duplicate)", name, len(at), o.calls)
			continue
		}
		if gap := at[1].Sub(at[0]); gap < o.wait {
			t.Errorf("%s: retried after %s, the vendor asked for %s", name, gap, o.wait)
		} else if o.within > 0 && gap > o.within {
			t.Errorf("%s: retried after %s, want within %s (engine backoff_max is 40ms)", name, gap, o.within)
		}
	}
	// Side effects on the vendors happened exactly once.
	if n := countOkta(e.f.okta.Log(), since, suspendPath, http.StatusOK); n != 1 {
		t.Errorf("okta answered %d suspends with 200, want 1", n)
	}
	if s, _ := e.f.slack.UserByEmail(adaEmail); e.f.slack.SessionResets(s.ID) != 1 {
		t.Errorf("slack sessions reset %d times, want 1", e.f.slack.SessionResets(s.ID))
	}
	if n := len(e.f.google.Transfers()); n != 1 {
		t.Errorf("%d google transfers, want 1", n)
	}
	for _, app := range allApps {
		if v := steps["verify:"+app]; v.Status != gatehouse.StepSucceeded || v.Result["verified"] != "true" {
			t.Errorf("verify:%s %s %v", app, v.Status, v.Result)
		}
	}
	for _, k := range e.held() {
		if e.whoHad(k) {
			t.Errorf("who-had %s still lists ada", k)
		}
	}
	if t.Failed() {
		t.Logf("summary %s%s", lr.Summary, describe(steps))
	}
}

func countOkta(log []oktatest.Entry, since time.Time, path string, status int) int {
	n := 0
	for _, r := range log {
		if !r.Time.Before(since) && r.Path == path && r.Status == status {
			n++
		}
	}
	return n
}
