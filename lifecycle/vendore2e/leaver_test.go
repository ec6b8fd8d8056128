package vendore2e

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/google/googletest"
	"github.com/gatehousehq/gatehouse/store"
)

var allApps = []string{"okta", "google", "m365", "github", "slack", "aws"}

// held lists ada's grants (app:entitlement) open now, as the store records them.
func (e *env) held() []string {
	e.t.Helper()
	hist, err := e.db.GrantHistory(ada.Key())
	if err != nil {
		e.t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, g := range hist {
		k := g.App + ":" + g.Entitlement
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// whoHad answers `audit who-had APP:ENT` now for ada.
func (e *env) whoHad(appEnt string) bool {
	e.t.Helper()
	app, ent, _ := strings.Cut(appEnt, ":")
	gs, err := e.db.WhoHad(app, ent, time.Now().Add(time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.ContainsFunc(gs, func(g gatehouse.Grant) bool { return g.Identity == ada.Key() })
}

func (e *env) awsID() string {
	e.t.Helper()
	u, ok := e.f.aws.UserByName(adaEmail)
	if !ok {
		e.t.Fatal("aws has no user for ada")
	}
	return u.ID
}

// offboard runs ada's leaver and returns the run and when it was submitted.
func (e *env) offboard() (gatehouse.Run, time.Time) {
	e.t.Helper()
	since := time.Now()
	r := e.wait(e.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: adaEmail}}).ID)
	return r, since
}

func TestLeaverAcrossVendors(t *testing.T) {
	e := newEnv(t, envOptions{transferPolls: 2})
	e.onboard()
	awsID := e.awsID()

	// Before: ada holds an account and entitlements in every vendor, as the
	// vendors themselves show it — else the assertions below prove nothing.
	before := e.f.access(awsID)
	for app, want := range map[string][]string{
		"okta":   {"status ACTIVE", "1 sessions, 1 oauth tokens", "group Engineering"},
		"google": {"not suspended", "2 web sessions", "1 tokens, 1 ASPs, 2 backup codes", "group eng@example.com"},
		"m365":   {"accountEnabled", "1 sessions", "group Engineering SG"},
		"github": {"org membership member/active", "team platform (member)"},
		"slack":  {"member of #engineering", "member of @oncall"},
		"aws":    {"assignment ReadOnly@" + awsAccount, "group Platform Engineers"},
	} {
		for _, w := range want {
			if !slices.Contains(before[app], w) {
				t.Errorf("before the leave %s shows %q, want %q among them", app, before[app], w)
			}
		}
	}
	held := e.held()
	for _, app := range allApps {
		if !slices.ContainsFunc(held, func(k string) bool { return strings.HasPrefix(k, app+":") && k != app+":account" }) {
			t.Errorf("store records no entitlement of %s for ada: %v", app, held)
		}
	}
	for _, k := range held {
		if !e.whoHad(k) {
			t.Errorf("before the leave who-had %s does not list ada", k)
		}
	}
	graceGoogle, _ := e.f.google.User(graceEmail)
	adaGoogle, _ := e.f.google.User(adaEmail)
	slackUser, _ := e.f.slack.UserByEmail(adaEmail)
	entraUser, _ := e.f.entra.User(adaEmail)
	if t.Failed() {
		t.FailNow()
	}

	lr, since := e.offboard()
	steps := e.steps(lr.ID)
	if lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver %s: %s%s", lr.Status, lr.Summary, describe(steps))
	}

	// The vendors' own state.
	after := e.f.access(awsID)
	for _, app := range allApps {
		if len(after[app]) != 0 {
			t.Errorf("after the leave %s still shows %q", app, after[app])
		}
	}
	if u, ok := e.f.okta.User(adaEmail); !ok || u.Status != "SUSPENDED" {
		t.Errorf("okta user %+v (found %v): want SUSPENDED (delete is off)", u, ok)
	}
	if u, ok := e.f.google.User(adaEmail); !ok || !u.Suspended || u.SignOuts == 0 {
		t.Errorf("google user suspended %v, sign-outs %d (found %v)", u.Suspended, u.SignOuts, ok)
	}
	var tr []googletest.Transfer
	for _, x := range e.f.google.Transfers() {
		if x.OldOwner == adaGoogle.ID {
			tr = append(tr, x)
		}
	}
	if len(tr) != 1 || tr[0].NewOwner != graceGoogle.ID || tr[0].Status != "completed" {
		t.Errorf("google transfers of ada %+v: want exactly one, to grace (%s), completed", tr, graceGoogle.ID)
	} else {
		var apps []string
		for _, a := range tr[0].Apps {
			apps = append(apps, a.ApplicationID)
		}
		if !slices.Contains(apps, googletest.DriveAppID) || !slices.Contains(apps, googletest.CalendarAppID) {
			t.Errorf("transfer covers %v, want Drive and Calendar", apps)
		}
	}
	// The transfer was in progress when first asked about, and the engine
	// came back for it: more than one read of it went over the wire.
	polls := 0
	for _, w := range e.f.wire(since) {
		if w.Vendor == "google" && w.Method == "GET" && strings.Contains(w.Path, "datatransfer/v1/transfers") {
			polls++
		}
	}
	if s := steps["transfer:google"]; polls < 3 || s.Status != gatehouse.StepSucceeded || s.Result["to"] != graceEmail {
		t.Errorf("google transfer step %+v after %d polls: want succeeded to grace after the fake's 2 inProgress reads", s, polls)
	}
	if u, ok := e.f.entra.User(entraUser.ID); !ok || u.AccountEnabled || !u.SessionsValidFrom.After(entraUser.SessionsValidFrom) {
		t.Errorf("entra user enabled %v, sessions valid from %s (was %s)", u.AccountEnabled, u.SessionsValidFrom, entraUser.SessionsValidFrom)
	}
	if u, ok := e.f.slack.UserByID(slackUser.ID); !ok || !u.Deleted {
		t.Errorf("slack user %+v: want deactivated", u)
	}
	scim := 0
	for _, w := range e.f.wire(since) {
		if w.Vendor == "slack" && w.Query == "scim" && (w.Method == "PATCH" || w.Method == "DELETE") {
			scim++
		}
	}
	if scim == 0 {
		t.Error("slack was not deactivated through SCIM")
	}
	if n := e.f.slack.SessionResets(slackUser.ID); n == 0 {
		t.Error("slack sessions were not reset")
	}
	if _, ok := e.f.aws.UserByID(awsID); ok {
		t.Error("aws user still exists (delete: true)")
	}

	// The run succeeded only once every re-read confirmed.
	ev, ok := steps["evidence"]
	if !ok {
		t.Fatal("no evidence step")
	}
	for _, app := range allApps {
		v, ok := steps["verify:"+app]
		if !ok {
			t.Errorf("no verify step for %s", app)
			continue
		}
		if v.Status != gatehouse.StepSucceeded || v.Result["verified"] != "true" {
			t.Errorf("verify:%s %s %v", app, v.Status, v.Result)
		}
		if v.FinishedAt.IsZero() || v.FinishedAt.After(lr.FinishedAt) {
			t.Errorf("verify:%s finished %s, the run finished %s: want the run done after every re-read", app, v.FinishedAt, lr.FinishedAt)
		}
		if !strings.Contains(lr.Summary, app+": account ") {
			t.Errorf("summary %q does not report the re-read of %s", lr.Summary, app)
		}
	}
	if ev.Result["open"] != "0" {
		t.Errorf("evidence %v: want nothing open", ev.Result)
	}
	// who-had agrees with the vendors: nothing is open anywhere.
	for _, k := range held {
		if e.whoHad(k) {
			t.Errorf("after the leave who-had %s still lists ada", k)
		}
	}
	// The audit's verify entries carry what each vendor showed.
	entries, err := e.db.AuditEntries(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	verified := map[string]gatehouse.AuditEntry{}
	for _, a := range entries {
		if a.Action == "verify" && a.RunID == lr.ID {
			verified[a.App] = a
		}
	}
	for _, app := range allApps {
		a, ok := verified[app]
		switch {
		case !ok:
			t.Errorf("no verify audit entry for %s", app)
		case a.Details["verified"] != "true" || a.Details["observed"] == "":
			t.Errorf("verify audit entry for %s: %v", app, a.Details)
		case app == "aws" && a.Details["exists"] != "false":
			t.Errorf("aws verify entry %v: want the deleted user observed as gone", a.Details)
		case app != "aws" && app != "github" && a.Details["active"] != "false":
			t.Errorf("%s verify entry %v: want observed inactive", app, a.Details)
		}
		if ok && a.Details["entitlements"] != "" {
			t.Errorf("%s verify entry says the app still shows %q", app, a.Details["entitlements"])
		}
	}
	if _, err := e.db.VerifyAudit(nil); err != nil {
		t.Errorf("audit chain: %v", err)
	}
	if t.Failed() {
		t.Logf("summary: %s%s", lr.Summary, describe(steps))
	}
}
