package vendore2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// The IdP is suspended before its sessions are revoked, and both before any
// downstream vendor hears anything — as the vendors' request logs show it.
func TestLeaverOrderOnTheWire(t *testing.T) {
	t.Run("engine", func(t *testing.T) {
		// A little latency so that instants on different fakes are apart.
		ms := time.Millisecond
		e := newEnv(t, envOptions{latency: map[string]time.Duration{"okta": ms, "google": ms, "m365": ms, "github": ms, "slack": ms, "aws": ms}})
		e.onboard()
		lr, since := e.offboard()
		if lr.Status != gatehouse.RunSucceeded {
			t.Fatalf("leaver %s: %s%s", lr.Status, lr.Summary, describe(e.steps(lr.ID)))
		}
		log := e.f.wire(since)
		if err := checkOffboardOrder(log); err != nil {
			var b strings.Builder
			for _, w := range log {
				b.WriteString("\n  " + w.String())
			}
			t.Fatalf("%v; wire:%s", err, b.String())
		}
		vendors := map[string]bool{}
		for _, w := range log {
			vendors[w.Vendor] = true
		}
		for _, app := range allApps {
			if !vendors[app] {
				t.Errorf("%s received nothing during the leave", app)
			}
		}
	})

	at := func(ms int) time.Time { return time.Date(2026, 1, 1, 9, 0, 0, ms*int(time.Millisecond), time.UTC) }
	suspend := wireEntry{"okta", at(10), time.Time{}, "POST", "/api/v1/users/00u1/lifecycle/suspend", ""}
	sessions := wireEntry{"okta", at(20), time.Time{}, "DELETE", "/api/v1/users/00u1/sessions", "oauthTokens=true"}
	lookup := wireEntry{"okta", at(5), time.Time{}, "GET", "/api/v1/users/00u1", ""}
	google := wireEntry{"google", at(30), time.Time{}, "PUT", "/admin/directory/v1/users/1", ""}
	early := wireEntry{"github", at(15), time.Time{}, "DELETE", "/orgs/acme/memberships/ada-gh", ""}
	tie := wireEntry{"aws", at(20), time.Time{}, "POST", "AWSIdentityStore.DeleteUser", ""}
	for _, c := range []struct {
		name  string
		log   []wireEntry
		fails string // "" when the order is right
	}{
		{"right order", []wireEntry{lookup, suspend, sessions, google}, ""},
		{"sessions before suspend", []wireEntry{lookup, {"okta", at(8), time.Time{}, "DELETE", sessions.Path, sessions.Query}, suspend, google}, "not after the suspend"},
		{"sessions at the suspend's instant", []wireEntry{lookup, suspend, {"okta", at(10), time.Time{}, "DELETE", sessions.Path, sessions.Query}, google}, "not after the suspend"},
		{"log out of order, times right", []wireEntry{google, sessions, suspend, lookup}, ""},
		{"downstream between suspend and sessions", []wireEntry{suspend, early, sessions, google}, "before the IdP's session revoke"},
		{"downstream before the suspend", []wireEntry{{"slack", at(1), time.Time{}, "POST", "/api/conversations.kick", ""}, suspend, sessions}, "before the IdP's session revoke"},
		{"downstream at the same instant", []wireEntry{suspend, sessions, tie}, "before the IdP's session revoke"},
		{"sessions sent before the suspend was answered", []wireEntry{{"okta", at(10), at(25), "POST", suspend.Path, ""}, sessions, google}, "not after the suspend"},
		{"downstream sent before the sessions were answered", []wireEntry{suspend, {"okta", at(20), at(40), "DELETE", sessions.Path, sessions.Query}, google}, "before the IdP's session revoke"},
		{"no session revoke", []wireEntry{suspend, google}, "both must be on the wire"},
		{"no suspend", []wireEntry{sessions, google}, "both must be on the wire"},
		{"nothing downstream", []wireEntry{suspend, sessions}, "no downstream vendor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkOffboardOrder(c.log)
			switch {
			case c.fails == "" && err != nil:
				t.Errorf("rejected a right order: %v", err)
			case c.fails != "" && err == nil:
				t.Errorf("accepted a wrong order")
			case c.fails != "" && !strings.Contains(err.Error(), c.fails):
				t.Errorf("error %q, want it to say %q", err, c.fails)
			}
		})
	}
}

func TestCriticalPathFromTheWire(t *testing.T) {
	at := func(ms int) time.Time { return time.Date(2026, 1, 1, 9, 0, 0, ms*int(time.Millisecond), time.UTC) }
	w := func(app string, from, to int, method, path string) wireEntry {
		return wireEntry{app, at(from), at(to), method, path, ""}
	}
	log := []wireEntry{
		w("okta", 0, 10, "GET", "/api/v1/users/u"),
		w("okta", 12, 22, "POST", "/api/v1/users/u/lifecycle/suspend"),
		w("okta", 25, 35, "DELETE", "/api/v1/users/u/sessions"),
		w("google", 40, 60, "PUT", "/admin/directory/v1/users/1"),
		w("google", 50, 70, "POST", "/admin/directory/v1/users/1/signOut"), // overlaps: counts 10 ms
		w("google", 400, 420, "GET", "/admin/datatransfer/v1/transfers"),
		w("aws", 41, 46, "POST", "SWBExternalService.DeleteAccountAssignment"),
		w("okta", 40, 50, "DELETE", "/api/v1/groups/g/users/u"),
		w("okta", 60, 70, "GET", "/api/v1/users/u"),
		w("m365", 36, 136, "PATCH", "/users/x"),
	}
	for _, c := range []struct {
		name    string
		wait    func(string, []wireEntry) []wireEntry
		slowest time.Duration
		app     string
	}{
		{"busy time only", nil, 100 * time.Millisecond, "m365"},
		{"with the transfer poll google asked for", func(app string, _ []wireEntry) []wireEntry {
			if app == "google" { // asked at 70 to come back 300 ms later; half of it overlaps nothing else
				return []wireEntry{{Vendor: app, Time: at(70), End: at(370)}}
			}
			return nil
		}, 350 * time.Millisecond, "google"},
		{"a wait overlapping requests counts once", func(app string, _ []wireEntry) []wireEntry {
			if app == "google" {
				return []wireEntry{{Vendor: app, Time: at(45), End: at(65)}}
			}
			return nil
		}, 100 * time.Millisecond, "m365"},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp, slow, app, st, err := criticalPath(log, c.wait)
			if err != nil || idp != 35*time.Millisecond || slow != c.slowest || app != c.app {
				t.Fatalf("criticalPath = %s, %s, %q, %v; want 35ms, %s, %s", idp, slow, app, err, c.slowest, c.app)
			}
			if g := st["google"]; g.span != 380*time.Millisecond || g.n != 3 {
				t.Errorf("google %+v: want span 380ms over 3 requests", g)
			}
			if o := st["okta (after sessions)"]; o.busy != 20*time.Millisecond {
				t.Errorf("okta after sessions %+v: want 20ms busy", o)
			}
		})
	}
	// A wrong order is no basis for a critical path.
	if _, _, _, _, err := criticalPath(append(slices.Clone(log), w("slack", 5, 8, "POST", "/api/conversations.kick")), nil); err == nil {
		t.Fatal("criticalPath accepted a downstream request before the IdP's")
	}
}
