package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/store"
)

func TestMoverAddsNewRemovesOldAndReviewsHighRisk(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Engineering", "", "ceo@example.com")}).ID)
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	// Engineering → Sales: engineering access goes; nothing high-risk is added.
	sales := ada
	sales.Department = "Sales"
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventMover, Identity: sales}).ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("mover %s: %+v", r.Status, h.steps(r.ID))
	}
	for _, ref := range []string{"okta:engineering", "github:member", "aws:readonly"} {
		ent, _ := gatehouse.ParseEntitlementRef(ref)
		if _, err := h.db.GetGrant(ada.Key(), ent.App, ent.Entitlement); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s still held after the move (%v)", ref, err)
		}
	}
	// github and aws had nothing else: their accounts are closed (no stacking).
	for _, app := range []string{"github", "aws"} {
		if a, _ := h.sims[app].Find(gatehouse.AccountRef{Email: ada.Email}); a.Active {
			t.Errorf("%s account left active after the move", app)
		}
	}
	if n := h.sims["okta"].Effects("revoke", ada.Email, "engineering"); n != 1 {
		t.Errorf("okta:engineering revoked %d times", n)
	}
	// Sales → SRE engineer: github:admin (critical) and aws:poweruser (high)
	// are held for the manager's review; the rest proceeds.
	sre := ada
	sre.Team = "SRE"
	r = h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventMover, Identity: sre}).ID)
	steps := h.steps(r.ID)
	if r.Status != gatehouse.RunWaiting || steps["review:aws:poweruser"].Status != gatehouse.StepWaiting || steps["grant:aws:poweruser"].Status != gatehouse.StepPending {
		t.Fatalf("mover %s: %+v", r.Status, steps)
	}
	// github:admin needs an approval by policy (critical): that approval is
	// the review too, so the manager is asked once, not twice.
	if _, twice := steps["review:github:admin"]; twice {
		t.Error("github:admin has both an approval and a review step")
	}
	if st, ok := steps["approval:github:admin"]; !ok || !strings.Contains(st.Result[resRoles], "manager") {
		t.Errorf("approval:github:admin %+v: want the manager among its approvers", st)
	}
	if steps["grant:github:member"].Status != gatehouse.StepSucceeded {
		t.Errorf("low-risk addition waited for review: %+v", steps["grant:github:member"])
	}
	a, err := h.db.GetApproval(steps["review:aws:poweruser"].Result[resApproval])
	if err != nil || len(a.Approvers) != 1 || a.Approvers[0] != "grace@example.com" {
		t.Fatalf("review approval %+v (%v): want the manager", a, err)
	}
	if _, err := h.eng.Decide(ctx, a.ID, "grace@example.com", true, "ok"); err != nil {
		t.Fatal(err)
	}
	h.wait(r.ID)
	if s, _ := h.db.GetStep(r.ID, "grant:aws:poweruser"); s.Status != gatehouse.StepSucceeded {
		t.Errorf("reviewed grant %+v", s)
	}
}

func TestLeaveOfAbsenceAndReturnKeepGrants(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	before, _ := h.db.Grants(ada.Key())
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaveOfAbsence, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("leave %s", r.Status)
	}
	for _, app := range []string{"okta", "google", "slack"} {
		if a, _ := h.sims[app].Find(gatehouse.AccountRef{Email: ada.Email}); a.Active {
			t.Errorf("%s active during leave", app)
		}
	}
	if after, _ := h.db.Grants(ada.Key()); len(after) != len(before) {
		t.Errorf("leave of absence changed the recorded grants: %d → %d", len(before), len(after))
	}
	if id, _ := h.db.GetIdentity(ada.Key()); id.Status != gatehouse.StatusSuspended {
		t.Errorf("status %s, want suspended", id.Status)
	}
	r = h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventReturn, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("return %s", r.Status)
	}
	for _, app := range []string{"okta", "google", "slack"} {
		if a, _ := h.sims[app].Find(gatehouse.AccountRef{Email: ada.Email}); !a.Active {
			t.Errorf("%s not re-enabled on return", app)
		}
	}
	if id, _ := h.db.GetIdentity(ada.Key()); id.Status != gatehouse.StatusActive {
		t.Errorf("status %s, want active", id.Status)
	}
}

func TestRehireEnablesAndProvisions(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Sales", "", "")}).ID)
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventRehire, Identity: ada}).ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("rehire %s: %+v", r.Status, h.steps(r.ID))
	}
	if a, _ := h.sims["okta"].Find(gatehouse.AccountRef{Email: ada.Email}); !a.Active {
		t.Error("okta not enabled on rehire")
	}
	if _, ok := h.sims["google"].Find(gatehouse.AccountRef{Email: ada.Email}); !ok {
		t.Error("google (deleted on leave) not re-created on rehire")
	}
	if n := h.sims["okta"].Effects("ensure_account", ada.Email, ""); n != 1 {
		t.Errorf("okta account created %d times; a rehire enables the old one", n)
	}
}

func TestExhaustedStepEscalatesAndBlocksUntilITCompletes(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	h.sims["slack"].SetFailNext(3, gatehouse.ClassRetryable) // max_attempts: 3
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	s := h.steps(r.ID)["account:slack"]
	if r.Status != gatehouse.RunBlocked || s.Status != gatehouse.StepEscalated || s.Attempts != 3 {
		t.Fatalf("run %s, step %+v", r.Status, s)
	}
	task, err := h.db.GetTask(s.Result[resTask])
	if err != nil || !task.Escalated || task.Assignee != "it@example.com" {
		t.Fatalf("task %+v (%v)", task, err)
	}
	if _, err := h.eng.CompleteTask(ctx, task.ID, "mallory@example.com", true, "trust me"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a stranger closed an IT task: %v", err)
	}
	if _, err := h.eng.CompleteTask(ctx, task.ID, "it@example.com", true, "created by hand in the admin console"); err != nil {
		t.Fatal(err)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("after IT: %s", r.Status)
	}
	if _, err := h.db.GetGrant(ada.Key(), "slack", "account"); err != nil {
		t.Errorf("manual completion not recorded as a grant: %v", err)
	}
}

func TestRetryRestartsEscalatedSteps(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	h.sims["slack"].SetFailNext(1, gatehouse.ClassPermanent)
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	if r.Status != gatehouse.RunBlocked {
		t.Fatalf("status %s", r.Status)
	}
	old := h.steps(r.ID)["account:slack"].Result[resTask]
	if err := h.eng.Retry(ctx, r.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("after retry: %s", r.Status)
	}
	if tk, _ := h.db.GetTask(old); tk.Status != gatehouse.TaskCanceled {
		t.Errorf("escalation task left %s after retry", tk.Status)
	}
	if err := h.eng.Retry(ctx, "r-nope", "it@example.com"); !errors.Is(err, ErrRunNotFound) {
		t.Errorf("retry of a missing run: %v", err)
	}
}

func TestHoldReleaseDiscardAndCancel(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	r := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}, Hold("42 joiners in one sync"))
	if r = h.wait(r.ID); r.Status != gatehouse.RunHeld {
		t.Fatalf("status %s, want held", r.Status)
	}
	if n := h.sims["okta"].Effects("ensure_account", ada.Email, ""); n != 0 {
		t.Fatal("a held run did something")
	}
	if err := h.eng.Release(ctx, r.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("released run %s", r.Status)
	}
	bob := person("bob@example.com", "Sales", "", "grace@example.com")
	r2 := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bob}, Hold("mass change"))
	if err := h.eng.Discard(ctx, r2.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if r2 = h.wait(r2.ID); r2.Status != gatehouse.RunCancelled {
		t.Fatalf("discarded run %s", r2.Status)
	}
	// A held mover that is discarded leaves the person as they were.
	moved := ada
	moved.Department = "Engineering"
	rm := h.submit(gatehouse.Event{Type: gatehouse.EventMover, Identity: moved}, Hold("mass change"))
	if got, _ := h.db.GetIdentity(ada.Key()); got.Department != "Sales" {
		t.Errorf("a held mover changed the stored identity: %s", got.Department)
	}
	if err := h.eng.Discard(ctx, rm.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.db.GetIdentity(ada.Key()); got.Department != "Sales" {
		t.Errorf("a discarded mover changed the stored identity: %s", got.Department)
	}
	if err := h.eng.Cancel(ctx, r2.ID, "it@example.com"); !errors.Is(err, ErrWrongState) {
		t.Errorf("cancel of a cancelled run: %v", err)
	}
	// Submitting the same event again after a cancellation is a new attempt.
	again, created, err := h.eng.Submit(ctx, gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bob, Actor: gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "t"}})
	if err != nil || !created || again.ID == r2.ID {
		t.Fatalf("resubmit after cancel: %v created=%v id=%s", err, created, again.ID)
	}
	if again = h.wait(again.ID); again.Status != gatehouse.RunSucceeded {
		t.Fatalf("resubmitted run %s", again.Status)
	}
	// Cancelling a run waiting on approval withdraws the approval.
	cat := person("cat@example.com", "Engineering", "SRE", "grace@example.com")
	r3 := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: cat}).ID)
	aid := h.steps(r3.ID)["approval:github:admin"].Result[resApproval]
	if err := h.eng.Cancel(ctx, r3.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Decide(ctx, aid, "grace@example.com", true, ""); !errors.Is(err, ErrRunCancelled) {
		t.Errorf("decided on a cancelled run: %v", err)
	}
	h.verifyAudit()
}

func TestNonHumanExpiryNotifiesOwner(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	// The owner receives the bot's resources, so has accounts too.
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("ada@example.com", "Sales", "", "")}).ID)
	bot := gatehouse.Identity{Kind: gatehouse.KindBot, Email: "ci-bot@example.com", Name: "CI bot", Owner: "ada@example.com",
		Purpose: "deploys", Expiry: gatehouse.Date{Year: 2099, Month: 1, Day: 1}}
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bot}).ID)
	// By default an expiry takes effect on the expiry date; here: now.
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventExpiry, Identity: gatehouse.Identity{Email: bot.Email}, EffectiveAt: time.Now()}).ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("expiry %s (%s): %+v", r.Status, r.Summary, h.steps(r.ID))
	}
	if a, _ := h.sims["okta"].Find(gatehouse.AccountRef{Email: bot.Email}); a.Active {
		t.Error("expired bot still active")
	}
	h.notes.mu.Lock()
	defer h.notes.mu.Unlock()
	if len(h.notes.reminders) != 1 || h.notes.reminders[0] != "owner_expired:"+r.ID {
		t.Errorf("owner not notified: %v", h.notes.reminders)
	}
}

func TestBadInputIsRefusedWithoutWrites(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	headBefore, _, _ := h.db.AuditHead()
	cases := []struct {
		name string
		ev   gatehouse.Event
		want error
	}{
		{"unknown event", gatehouse.Event{Type: "promotion", Identity: person("a@example.com", "", "", "")}, ErrInvalidEvent},
		{"invalid joiner", gatehouse.Event{Type: gatehouse.EventJoiner, Identity: gatehouse.Identity{Email: "not-an-email"}}, ErrInvalidEvent},
		{"unknown leaver", gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: "ghost@example.com"}}, ErrUnknownIdentity},
		{"unknown mover", gatehouse.Event{Type: gatehouse.EventMover, Identity: person("ghost@example.com", "Sales", "", "")}, ErrUnknownIdentity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := h.eng.Submit(ctx, c.ev); !errors.Is(err, c.want) {
				t.Errorf("err %v, want %v", err, c.want)
			}
		})
	}
	if head, _, _ := h.db.AuditHead(); head != headBefore {
		t.Errorf("refused input wrote %d audit entries", head-headBefore)
	}
	if runs, _ := h.db.ListRuns(store.RunFilter{}); len(runs) != 0 {
		t.Errorf("refused input created runs: %+v", runs)
	}
	if _, err := h.eng.PlanOffboard(ctx, "ghost@example.com"); !errors.Is(err, ErrUnknownIdentity) {
		t.Errorf("plan offboard of unknown: %v", err)
	}
	if _, err := h.eng.Wait(ctx, "r-nope"); !errors.Is(err, ErrRunNotFound) {
		t.Errorf("wait for unknown run: %v", err)
	}
}

// garbage is a connector that answers nonsense: an account without an id.
type garbage struct{ gatehouse.Connector }

func (g garbage) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	return gatehouse.Account{}, nil
}

func TestGarbageAnswerIsAFailureNotASuccess(t *testing.T) {
	cfg := loadConfig(t, cfgPath, nil)
	h := newHarness(t, cfg)
	h.close()
	h.conns["slack"] = garbage{h.sims["slack"]}
	h.open()
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("ada@example.com", "Sales", "", "g@example.com")}).ID)
	s := h.steps(r.ID)["account:slack"]
	if r.Status != gatehouse.RunBlocked || s.Status != gatehouse.StepEscalated {
		t.Fatalf("run %s, step %+v", r.Status, s)
	}
	if _, err := h.db.GetGrant("emp:E-ada", "slack", "account"); err == nil {
		t.Error("garbage recorded as a grant")
	}
}

func TestLeaverSupersedesOpenRunsOfTheIdentity(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Engineering", "", "")}).ID)
	ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
	j := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	if j.Status != gatehouse.RunWaiting {
		t.Fatalf("joiner %s, want waiting on the critical grant's approval", j.Status)
	}
	aid := h.steps(j.ID)["approval:github:admin"].Result[resApproval]
	l := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	if j, _ = h.db.GetRun(j.ID); j.Status != gatehouse.RunCancelled {
		t.Fatalf("joiner %s after the leaver started, want cancelled", j.Status)
	}
	// The pending approval went with it: approving now grants nothing.
	if _, err := h.eng.Decide(ctx, aid, "grace@example.com", true, ""); !errors.Is(err, ErrRunCancelled) {
		t.Errorf("decide after supersede: %v", err)
	}
	if n := h.sims["github"].Effects("grant", ada.Email, "admin"); n != 0 {
		t.Errorf("github:admin granted to a leaver")
	}
	if l.Status != gatehouse.RunWaiting { // rotation task for aws (high)
		t.Errorf("leaver %s", l.Status)
	}
}

func TestLeaverPreemptsARetryingJoiner(t *testing.T) {
	cfg := loadConfig(t, cfgPath, nil)
	cfg.Engine.MaxAttempts = 100
	cfg.Engine.BackoffBase = time.Hour // the joiner would wait for hours
	cfg.Engine.BackoffMax = time.Hour
	h := newHarness(t, cfg)
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	h.sims["slack"].SetFailNext(1, gatehouse.ClassRetryable)
	j := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada})
	eventually(t, "the joiner to back off", func() bool {
		s, _ := h.db.GetStep(j.ID, "account:slack")
		return s.Status == gatehouse.StepRetrying
	})
	start := time.Now()
	l := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}, EffectiveAt: time.Now()}).ID)
	if l.Status.Terminal() && l.Status != gatehouse.RunSucceeded || time.Since(start) > 5*time.Second {
		t.Fatalf("leaver %s after %v", l.Status, time.Since(start))
	}
	if j, _ = h.db.GetRun(j.ID); j.Status != gatehouse.RunCancelled {
		t.Errorf("joiner %s, want cancelled", j.Status)
	}
	if a, _ := h.sims["okta"].Find(gatehouse.AccountRef{Email: ada.Email}); a.Active {
		t.Error("okta left active")
	}
}

func TestStepTimeoutCountsAsAFailedAttempt(t *testing.T) {
	cfg := loadConfig(t, cfgPath, func(c *config.Config) {
		c.Apps["slack"].RateLimit = config.RateLimit{Timeout: 20 * time.Millisecond, MaxAttempts: 2}
	})
	h := newHarness(t, cfg, withSim(func(app string) simulated.Options {
		if app == "slack" {
			return simulated.Options{Latency: time.Second}
		}
		return simulated.Options{}
	}))
	start := time.Now()
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("ada@example.com", "Sales", "", "g@example.com")}).ID)
	s := h.steps(r.ID)["account:slack"]
	if r.Status != gatehouse.RunBlocked || s.Status != gatehouse.StepEscalated || s.Attempts != 2 || s.ErrorClass != "retryable" {
		t.Fatalf("run %s, step %+v", r.Status, s)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("two 20 ms timeouts took %v", took)
	}
}

func TestRunsOfOneIdentityAreSerializedOthersParallel(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil), withSim(func(string) simulated.Options {
		return simulated.Options{Latency: 50 * time.Millisecond}
	}))
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	bob := person("bob@example.com", "Sales", "", "grace@example.com")
	ja := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada})
	jb := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bob})
	eng := ada
	eng.Department = "Engineering"
	ma := h.submit(gatehouse.Event{Type: gatehouse.EventMover, Identity: eng, Previous: &ada})
	for _, id := range []string{ja.ID, jb.ID, ma.ID} {
		if r := h.wait(id); r.Status != gatehouse.RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Status)
		}
	}
	span := func(id string) (first, last time.Time) {
		for _, s := range h.steps(id) {
			if s.StartedAt.IsZero() {
				continue
			}
			if first.IsZero() || s.StartedAt.Before(first) {
				first = s.StartedAt
			}
			if s.FinishedAt.After(last) {
				last = s.FinishedAt
			}
		}
		return first, last
	}
	aStart, aEnd := span(ja.ID)
	bStart, _ := span(jb.ID)
	mStart, _ := span(ma.ID)
	if !bStart.Before(aEnd) {
		t.Errorf("different identities ran one after the other (b started %v after a ended)", bStart.Sub(aEnd))
	}
	if mStart.Before(aEnd) {
		t.Errorf("ada's mover started %v before her joiner finished", aEnd.Sub(mStart))
	}
	_ = aStart
}

func TestSegregationOfDutiesGatesNewConflictingAccess(t *testing.T) {
	tests := []struct {
		action    string
		wantStep  string
		wantFirst string // an approver the gate must include
	}{
		{"block", "sod:aws:poweruser", "it@example.com"},
		{"review", "sod:aws:poweruser", "grace@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			cfg := loadConfig(t, cfgPath, func(c *config.Config) {
				c.SoD = append(c.SoD, &config.SoDConstraint{Name: "admin-vs-poweruser", Action: tt.action, Entitlements: []config.Ref{
					{EntitlementRef: gatehouse.EntitlementRef{App: "github", Entitlement: "admin"}},
					{EntitlementRef: gatehouse.EntitlementRef{App: "aws", Entitlement: "poweruser"}},
				}})
			})
			h := newHarness(t, cfg)
			h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Engineering", "", "ceo@example.com")}).ID)
			ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
			r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
			steps := h.steps(r.ID)
			gate, ok := steps[tt.wantStep]
			if !ok || gate.Status != gatehouse.StepWaiting {
				t.Fatalf("no waiting %s gate: %+v", tt.wantStep, steps)
			}
			if steps["grant:aws:poweruser"].Status != gatehouse.StepPending {
				t.Errorf("conflicting grant ran before the gate: %+v", steps["grant:aws:poweruser"])
			}
			if steps["grant:github:member"].Status != gatehouse.StepSucceeded {
				t.Errorf("unrelated access waited: %+v", steps["grant:github:member"])
			}
			a, err := h.db.GetApproval(gate.Result[resApproval])
			if err != nil || !containsFold(a.Approvers, tt.wantFirst) || len(a.Conflicts) == 0 {
				t.Fatalf("gate approval %+v (%v): want %s among approvers and the conflict shown", a, err, tt.wantFirst)
			}
			if tt.action == "block" && containsFold(a.Approvers, "grace@example.com") {
				t.Errorf("a manager must not be able to waive a blocking SoD constraint: %v", a.Approvers)
			}
		})
	}
}
