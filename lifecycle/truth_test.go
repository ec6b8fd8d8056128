package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/store"
)

// whoHad lists the identity keys among ids that store.WhoHad (what
// `audit who-had` asks) answers for app:ent now.
func (h *harness) whoHad(app, ent string, ids ...string) []string {
	h.t.Helper()
	gs, err := h.db.WhoHad(app, ent, time.Now().Add(time.Second))
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, g := range gs {
		for _, id := range ids {
			if g.Identity == id {
				out = append(out, g.Identity)
			}
		}
	}
	return out
}

func (h *harness) openTasks(runID string) []gatehouse.Task {
	h.t.Helper()
	ts, err := h.db.ListTasks(store.TaskFilter{RunID: runID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil {
		h.t.Fatal(err)
	}
	return ts
}

// opSeq returns the sequence number of the first op of kind on account
// (and entitlement, when set) in an app's log, or 0.
func opSeq(c *simulated.Connector, op, account, ent string) int64 {
	for _, o := range c.Ops() {
		if o.Op == op && strings.EqualFold(o.Account, account) && (ent == "" || o.Entitlement == ent) {
			return o.Seq
		}
	}
	return 0
}

func joinEngineers(t *testing.T, h *harness) gatehouse.Identity {
	t.Helper()
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Engineering", "", "ceo@example.com")}).ID)
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	if r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("joiner %s", r.Status)
	}
	return ada
}

// A leaver's memberships are removed one by one before the account is
// disabled, each app is re-read, and the grant history closes only what the
// re-read confirmed — so who-had and the apps agree.
func TestLeaverRevokesEntitlementsAndVerifiesByReRead(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := joinEngineers(t, h)
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	steps := h.steps(lr.ID)
	if lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver %s: %+v", lr.Status, steps)
	}
	for app, ent := range map[string]string{"okta": "engineering", "github": "member", "aws": "readonly"} {
		a, ok := h.sims[app].Find(gatehouse.AccountRef{Email: ada.Email, UserName: ada.Email})
		if !ok || a.Active || len(a.Entitlements) != 0 {
			t.Errorf("%s shows %+v after the leave: want inactive with no entitlements", app, a)
		}
		if who := h.whoHad(app, ent, ada.Key()); len(who) != 0 {
			t.Errorf("who-had %s:%s = %v", app, ent, who)
		}
		v := steps[stepID("verify", app)]
		if v.Status != gatehouse.StepSucceeded || v.Result[resVerified] != "true" || v.Result[resActive] != "false" || !strings.Contains(v.Result[resConfirmed], ent) {
			t.Errorf("verify:%s %+v", app, v)
		}
	}
	// In the apps themselves: the revoke happened before the disable.
	for app, ent := range map[string]string{"github": "member", "aws": "readonly"} {
		rv, dis := opSeq(h.sims[app], "revoke", ada.Email, ent), opSeq(h.sims[app], "disable", ada.Email, "")
		if rv == 0 || dis == 0 || rv > dis {
			t.Errorf("%s: revoke seq %d, disable seq %d; want the revoke first", app, rv, dis)
		}
	}
	if v := steps[stepID("verify", "google")]; v.Result[resExists] != "false" || v.Result[resExpect] != "deleted" {
		t.Errorf("verify:google (delete: true) %+v", v.Result)
	}
	// The grant closed at the re-read, not at the disable.
	hist, err := h.db.GrantHistory(ada.Key())
	if err != nil {
		t.Fatal(err)
	}
	verified := steps[stepID("verify", "github")]
	for _, g := range hist {
		if g.App == "github" && g.Entitlement == "member" && g.RevokedAt.Before(verified.StartedAt) {
			t.Errorf("github:member recorded revoked at %s, before the re-read started at %s", g.RevokedAt, verified.StartedAt)
		}
	}
	found := false
	for _, a := range h.audit("verify") {
		if a.App == "github" && a.Details[resVerified] == "true" && a.Details[resActive] == "false" {
			found = true
		}
	}
	if !found {
		t.Error("no verify audit entry with the observed state of github")
	}
	if !strings.Contains(lr.Summary, "re-read: ") {
		t.Errorf("summary %q does not report the re-reads", lr.Summary)
	}
	h.verifyAudit()
}

// When the app keeps a membership although it answered the removal with
// success, the re-read catches it: the run stays blocked with an escalated
// task naming the entitlement, and who-had still lists the person. Once the
// app lets go, a retry re-reads and the run succeeds.
func TestLeaverMismatchIsEscalatedAndWhoHadStaysTruthful(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := joinEngineers(t, h)
	h.sims["github"].SetStuck("member")
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	steps := h.steps(lr.ID)
	v := steps[stepID("verify", "github")]
	if lr.Status != gatehouse.RunBlocked || v.Status != gatehouse.StepEscalated {
		t.Fatalf("leaver %s, verify:github %+v: want blocked on an escalated verify", lr.Status, v)
	}
	if v.Result[resStillHeld] != "member" || v.Result[resVerified] != "mismatch" {
		t.Errorf("verify result %+v", v.Result)
	}
	tasks := h.openTasks(lr.ID)
	if len(tasks) != 1 || !tasks[0].Escalated || !strings.Contains(tasks[0].Title, "github:member") {
		t.Fatalf("open tasks %+v: want one escalated task naming github:member", tasks)
	}
	if who := h.whoHad("github", "member", ada.Key()); len(who) != 1 || who[0] != ada.Key() {
		t.Errorf("who-had github:member = %v, want %s (the app still shows it)", who, ada.Key())
	}
	// What the re-read did confirm is closed: the account grant (disabled).
	if who := h.whoHad("github", "account", ada.Key()); len(who) != 0 {
		t.Errorf("who-had github:account = %v after a confirmed disable", who)
	}
	if who := h.whoHad("aws", "readonly", ada.Key()); len(who) != 0 {
		t.Errorf("who-had aws:readonly = %v", who)
	}
	if !strings.Contains(lr.Summary, "still open") {
		t.Errorf("summary %q", lr.Summary)
	}
	h.sims["github"].SetStuck()
	if err := h.sims["github"].Revoke(context.Background(), gatehouse.AccountRef{Email: ada.Email}, gatehouse.Entitlement{Name: "member"}); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.Retry(context.Background(), lr.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if lr = h.wait(lr.ID); lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("after the retry: %s %+v", lr.Status, h.steps(lr.ID))
	}
	if who := h.whoHad("github", "member", ada.Key()); len(who) != 0 {
		t.Errorf("who-had github:member = %v after the confirming re-read", who)
	}
}

// An app configured revoke_on_leave: false gets no revoke steps; when its
// deactivation keeps the memberships (as the simulated app's does), the
// re-read says so instead of the record claiming they are gone.
func TestRevokeOnLeaveFalseIsStillVerified(t *testing.T) {
	no := false
	h := newHarness(t, loadConfig(t, cfgPath, func(c *config.Config) { c.Apps["aws"].RevokeOnLeave = &no }))
	ada := joinEngineers(t, h)
	plan, err := h.eng.PlanOffboard(context.Background(), ada.Email)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Accounts {
		switch a.App {
		case "aws":
			if len(a.Revoke) != 0 || a.Verify != "re-read" {
				t.Errorf("aws plan %+v: want no revokes, a re-read", a)
			}
		case "github":
			if len(a.Revoke) != 1 || a.Revoke[0] != "member" {
				t.Errorf("github plan %+v: want member revoked", a)
			}
		}
	}
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	if v := h.steps(lr.ID)[stepID("verify", "aws")]; lr.Status != gatehouse.RunBlocked || v.Result[resStillHeld] != "readonly" {
		t.Fatalf("leaver %s, verify:aws %+v", lr.Status, v)
	}
	if who := h.whoHad("aws", "readonly", ada.Key()); len(who) != 1 {
		t.Errorf("who-had aws:readonly = %v", who)
	}
}

// noReader hides a connector's ReadAccount.
type noReader struct{ gatehouse.Connector }

// unsupportedReader is a reader that cannot read this app's accounts.
type unsupportedReader struct{ *simulated.Connector }

func (unsupportedReader) ReadAccount(context.Context, gatehouse.AccountRef) (gatehouse.Account, error) {
	return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("no readable listing: %w", gatehouse.ErrUnsupported))
}

func TestVerifyWithoutReaderSaysNotVerified(t *testing.T) {
	for name, wrap := range map[string]func(*simulated.Connector) gatehouse.Connector{
		"not a reader":        func(c *simulated.Connector) gatehouse.Connector { return noReader{c} },
		"reader, unsupported": func(c *simulated.Connector) gatehouse.Connector { return unsupportedReader{c} },
	} {
		t.Run(name, func(t *testing.T) { testNotVerified(t, wrap) })
	}
}

func testNotVerified(t *testing.T, wrap func(*simulated.Connector) gatehouse.Connector) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	h.conns["aws"] = wrap(h.sims["aws"])
	h.restart()
	ada := joinEngineers(t, h)
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	v := h.steps(lr.ID)[stepID("verify", "aws")]
	if lr.Status != gatehouse.RunSucceeded || v.Result[resVerified] != "false" || v.Result[resObserved] != notVerified {
		t.Fatalf("leaver %s, verify:aws %+v", lr.Status, v)
	}
	if !strings.Contains(lr.Summary, "aws: "+notVerified) {
		t.Errorf("summary %q", lr.Summary)
	}
	// Provisional: the successful closing steps are the evidence.
	if who := h.whoHad("aws", "readonly", ada.Key()); len(who) != 0 {
		t.Errorf("who-had aws:readonly = %v", who)
	}
}

// Issue #9: the IdP account is suspended before its sessions are revoked,
// and both before any downstream app sees anything — as the apps observed
// it (one clock shared by every simulated app, ticking on every read).
func TestOffboardingOrderAsTheAppsSawIt(t *testing.T) {
	var tick atomic.Int64
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Microsecond) }
	h := newHarness(t, loadConfig(t, cfgPath, nil), withSim(func(string) simulated.Options {
		return simulated.Options{Now: now, Latency: time.Millisecond}
	}))
	ada := joinEngineers(t, h)
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	if lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver %s", lr.Status)
	}
	type seen struct {
		app, op string
		at      time.Time
	}
	var ops []seen
	for app, c := range h.sims {
		for _, o := range c.Ops() {
			if strings.HasPrefix(o.OperationKey, lr.ID+"/") {
				ops = append(ops, seen{app, o.Op, o.Time})
			}
		}
	}
	var suspend, sessions time.Time
	for _, o := range ops {
		switch {
		case o.app == "okta" && o.op == "disable":
			suspend = o.at
		case o.app == "okta" && o.op == "revoke_sessions":
			sessions = o.at
		}
	}
	if suspend.IsZero() || sessions.IsZero() || !suspend.Before(sessions) {
		t.Fatalf("okta suspend at %v, sessions revoked at %v: want suspend first", suspend, sessions)
	}
	downstream := 0
	for _, o := range ops {
		if o.app == "okta" {
			continue
		}
		downstream++
		if !o.at.After(sessions) {
			t.Errorf("%s %s at %v, before the IdP's sessions were revoked (%v)", o.app, o.op, o.at, sessions)
		}
	}
	if downstream == 0 {
		t.Fatal("no downstream operation recorded")
	}
}

// A joiner after a leave, even the same day, is a rehire: a new run that
// re-enables the accounts and re-grants; the same onboarding delivered
// again is still one run.
func TestRehireAfterLeaveSameDay(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := joinEngineers(t, h)
	first, err := h.db.ListRuns(store.RunFilter{IdentityKey: ada.Key()})
	if err != nil {
		t.Fatal(err)
	}
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	ctx := context.Background()
	ev := gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada, Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "hr@example.com"}}
	r, created, err := h.eng.Submit(ctx, ev)
	if err != nil || !created {
		t.Fatalf("rehire submit: created %v, %v", created, err)
	}
	if r.Event.Type != gatehouse.EventRehire || r.ID == first[len(first)-1].ID {
		t.Fatalf("run %s type %s: want a new rehire run", r.ID, r.Event.Type)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("rehire %s: %+v", r.Status, h.steps(r.ID))
	}
	for app, ent := range map[string]string{"okta": "engineering", "github": "member", "aws": "readonly", "google": "", "slack": ""} {
		a, ok := h.sims[app].Find(gatehouse.AccountRef{Email: ada.Email, UserName: ada.Email})
		if !ok || !a.Active || (ent != "" && (len(a.Entitlements) != 1 || a.Entitlements[0] != ent)) {
			t.Errorf("%s after the rehire: %+v (found %v)", app, a, ok)
		}
		if ent != "" {
			if who := h.whoHad(app, ent, ada.Key()); len(who) != 1 {
				t.Errorf("who-had %s:%s = %v", app, ent, who)
			}
		}
	}
	if id, _ := h.db.GetIdentity(ada.Key()); id.Status != gatehouse.StatusActive {
		t.Errorf("identity status %s", id.Status)
	}
	again, created, err := h.eng.Submit(ctx, ev)
	if err != nil || created || again.ID != r.ID {
		t.Fatalf("redelivery: run %s created %v (%v), want the rehire run %s", again.ID, created, err, r.ID)
	}
}

// transferFlaky answers transfers with InProgress a few times first, like
// Google's Data Transfer.
type transferFlaky struct {
	*simulated.Connector
	left atomic.Int32
}

func (c *transferFlaky) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	if c.left.Add(-1) >= 0 {
		return gatehouse.InProgress(5*time.Millisecond, context.DeadlineExceeded)
	}
	return c.Connector.TransferOwnership(ctx, from, to)
}

func TestInProgressWaitsWithoutCountingAttempts(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	slow := &transferFlaky{Connector: h.sims["google"]}
	slow.left.Store(5) // more than max_attempts (3)
	h.conns["google"] = slow
	h.restart()
	ada := joinEngineers(t, h)
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	tr := h.steps(lr.ID)[stepID("transfer", "google")]
	if lr.Status != gatehouse.RunSucceeded || tr.Status != gatehouse.StepSucceeded || tr.Attempts != 1 {
		t.Fatalf("leaver %s, transfer %+v: want success counted as one attempt", lr.Status, tr)
	}
	if o := tr.Result[resOutcome]; o == "in_progress" {
		t.Errorf("the finished transfer's evidence still says %q", o)
	}
	if n := h.sims["google"].Calls("transfer_ownership", ada.Email, "grace@example.com"); n != 1 {
		t.Errorf("%d transfers applied", n)
	}
	if esc := h.audit("escalate"); len(esc) != 0 {
		t.Errorf("escalations: %+v", esc)
	}
}

func TestInProgressWaitIsCapped(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, defaultInProgressWait}, {-time.Second, defaultInProgressWait}, {2 * time.Second, 2 * time.Second}, {time.Hour, maxInProgressWait},
	} {
		if got := inProgressWait(c.in); got != c.want {
			t.Errorf("inProgressWait(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// The ladder: per app, at plan time, the first of manager → app owner → IT
// with an account there; at run time an app that refuses the receiver moves
// the transfer to the next rung; IT without an account gets a hand-off task.
func TestTransferLadder(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	// grace (the manager) is in Sales: okta, google, slack only. The github
	// owner is an engineer; IT has the base apps.
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Sales", "", "ceo@example.com")}).ID)
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("eng-owner@example.com", "Engineering", "", "ceo@example.com")}).ID)
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("it@example.com", "IT", "", "ceo@example.com")}).ID)
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	// slack lost grace's account without Gatehouse knowing: the store still
	// says she has one, the app will refuse her.
	if err := h.sims["slack"].Delete(ctx, gatehouse.AccountRef{Email: "grace@example.com", UserName: "grace@example.com"}); err != nil {
		t.Fatal(err)
	}
	plan, err := h.eng.PlanOffboard(ctx, ada.Email)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Rung{
		"google": {RoleManager, "grace@example.com"},
		"slack":  {RoleManager, "grace@example.com"},
		"github": {RoleAppOwner, "eng-owner@example.com"},
		"aws":    {RoleIT, "it@example.com"},
	}
	got := map[string]Receiver{}
	for _, r := range plan.Receivers {
		got[r.App] = r.Receiver
	}
	for app, w := range want {
		if got[app].Rung != w {
			t.Errorf("%s receiver %+v, want %+v", app, got[app], w)
		}
	}
	if got["aws"].HasAccount || !got["github"].HasAccount {
		t.Errorf("receivers' accounts: %+v", got)
	}
	for _, a := range plan.Accounts {
		if a.App == "slack" && (a.Receiver == nil || len(a.Receiver.Fallbacks) == 0 || a.Receiver.Fallbacks[len(a.Receiver.Fallbacks)-1].Role != RoleIT) {
			t.Errorf("slack account receiver %+v: want fallbacks ending with IT", a.Receiver)
		}
	}
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	steps := h.steps(lr.ID)
	if s := steps[stepID("transfer", "slack")]; s.Status != gatehouse.StepSucceeded || s.Result[resTo] != "it@example.com" || s.Result[resRole] != RoleIT {
		t.Errorf("slack transfer %+v: want it moved down the ladder to IT", s)
	}
	if n := h.sims["slack"].Calls("transfer_ownership", ada.Email, "it@example.com"); n != 1 {
		t.Errorf("slack transfers to IT: %d", n)
	}
	if s := steps[stepID("transfer", "github")]; s.Status != gatehouse.StepSucceeded || s.Result[resTo] != "eng-owner@example.com" {
		t.Errorf("github transfer %+v", s)
	}
	fell := false
	for _, a := range h.audit("transfer_fallback") {
		fell = fell || (a.App == "slack" && a.Details["from_receiver"] == "grace@example.com" && a.Details[resTo] == "it@example.com")
	}
	if !fell {
		t.Error("no transfer_fallback audit entry for slack")
	}
	// aws: IT has no account there: a hand-off task, not an escalation.
	aws := steps[stepID("transfer", "aws")]
	if lr.Status != gatehouse.RunWaiting || aws.Status != gatehouse.StepWaiting || aws.Result[resOutcome] != "handoff" {
		t.Fatalf("leaver %s, aws transfer %+v: want waiting on a hand-off", lr.Status, aws)
	}
	// Proving the access gone does not wait for the hand-off.
	if v := steps[stepID("verify", "aws")]; v.Status != gatehouse.StepSucceeded {
		t.Errorf("verify:aws %s while the hand-off is open; want it done", v.Status)
	}
	tasks := h.openTasks(lr.ID)
	if len(tasks) != 1 || tasks[0].Escalated || tasks[0].Assignee != "it@example.com" || !strings.Contains(tasks[0].Title, "aws") {
		t.Fatalf("open tasks %+v: want one hand-off task for IT", tasks)
	}
	if _, err := h.eng.CompleteTask(ctx, tasks[0].ID, "it@example.com", true, "moved the stacks to the platform team"); err != nil {
		t.Fatal(err)
	}
	if lr = h.wait(lr.ID); lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("after the hand-off: %s %+v", lr.Status, h.steps(lr.ID))
	}
	for _, s := range []string{"google → grace@example.com (manager)", "github → eng-owner@example.com (app_owner)", "slack → it@example.com (it)"} {
		if !strings.Contains(lr.Summary, s) {
			t.Errorf("summary %q does not name %q", lr.Summary, s)
		}
	}
}
