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
	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
	"github.com/gatehousehq/gatehouse/store"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// eventually polls cond in real time: the engine's goroutines move on their
// own, only the engine's clock is fake.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// never checks that cond stays false for a while of real time.
func never(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s happened too early", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRetryAfterIsHonouredExactly(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	h.sims["slack"].SetFailNext(1, gatehouse.ClassRateLimited) // answers 429, Retry-After: 1s
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	r := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada})
	step := func() gatehouse.Step { s, _ := h.db.GetStep(r.ID, "account:slack"); return s }
	eventually(t, "slack step retrying", func() bool { return step().Status == gatehouse.StepRetrying })
	if got, want := step().NextAttempt, t0.Add(time.Second); !got.Equal(want) {
		t.Fatalf("next attempt %v, want %v (Retry-After)", got, want)
	}
	clk.Advance(999 * time.Millisecond)
	never(t, "retry before Retry-After", func() bool { return step().Status != gatehouse.StepRetrying })
	clk.Advance(time.Millisecond)
	eventually(t, "retry after Retry-After", func() bool { return step().Status == gatehouse.StepSucceeded })
	if r := h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("status %s", r.Status)
	}
	if s := step(); s.Attempts != 2 {
		t.Errorf("attempts %d, want 2", s.Attempts)
	}
}

func TestRateLimitPacesCallsWithoutViolations(t *testing.T) {
	clk := clocktest.New(t0)
	cfg := loadConfig(t, cfgPath, func(c *config.Config) {
		c.Apps["slack"].RateLimit = config.RateLimit{PerSecond: 2, Burst: 1, Concurrency: 4}
	})
	h := newHarness(t, cfg, withClock(clk), withSim(func(app string) simulated.Options {
		if app == "slack" {
			return simulated.Options{RatePerSecond: 2, Burst: 1, Now: clk.Now}
		}
		return simulated.Options{}
	}))
	var runs []string
	for _, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"} {
		runs = append(runs, h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person(e, "Sales", "", "grace@example.com")}).ID)
	}
	created := func() int { return len(h.sims["slack"].Accounts()) }
	eventually(t, "first slack call", func() bool { return created() == 1 })
	// We pace a little under the vendor's limit (rateMargin).
	interval := durationFor(1 / (2 * rateMargin))
	for want := 2; want <= 4; want++ {
		clk.Advance(interval - time.Millisecond)
		never(t, "a call beyond the rate limit", func() bool { return created() >= want })
		clk.Advance(time.Millisecond)
		eventually(t, "the next paced call", func() bool { return created() == want })
	}
	for _, id := range runs {
		if r := h.wait(id); r.Status != gatehouse.RunSucceeded {
			t.Fatalf("run %s: %s", id, r.Status)
		}
	}
	if v := h.sims["slack"].Violations(); v != 0 {
		t.Errorf("%d requests beyond the vendor's limit", v)
	}
}

func TestScheduledLeaverFiresAtEffectiveTimeAfterRestart(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("grace@example.com", "Sales", "", "")}).ID)
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	ada.TimeZone = "America/New_York"
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	// Last day 2026-03-05: access ends at midnight New York time.
	ada.EndDate = gatehouse.Date{Year: 2026, Month: 3, Day: 5}
	if _, err := h.db.PutIdentity(ada); err != nil {
		t.Fatal(err)
	}
	r := h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}})
	loc, _ := time.LoadLocation("America/New_York")
	want := time.Date(2026, 3, 5, 0, 0, 0, 0, loc)
	if r.Status != gatehouse.RunScheduled || !r.NotBefore.Equal(want) {
		t.Fatalf("run %s not before %v, want scheduled at %v", r.Status, r.NotBefore, want)
	}
	h.restart()
	clk.Set(want.Add(-time.Second))
	never(t, "leaver before its time", func() bool {
		x, _ := h.db.GetRun(r.ID)
		return x.Status != gatehouse.RunScheduled
	})
	clk.Set(want)
	eventually(t, "leaver to start", func() bool {
		x, _ := h.db.GetRun(r.ID)
		return x.Status != gatehouse.RunScheduled
	})
	if x := h.wait(r.ID); x.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver %s: %+v", x.Status, h.steps(r.ID))
	}
	if a, _ := h.sims["okta"].Find(gatehouse.AccountRef{Email: ada.Email}); a.Active {
		t.Errorf("okta account still active")
	}
}

func TestApprovalRemindEscalateExpire(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	ctx := context.Background()
	// grace's manager is the CEO: escalation goes one level up from grace.
	grace := person("grace@example.com", "Engineering", "", "ceo@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: grace}).ID)
	ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	aid := h.steps(r.ID)["approval:github:admin"].Result[resApproval]
	pol := h.cfg.Approvals
	clk.Advance(pol.RemindAfter)
	eventually(t, "reminder", func() bool {
		h.notes.mu.Lock()
		defer h.notes.mu.Unlock()
		return len(h.notes.reminders) > 0
	})
	clk.Advance(pol.EscalateAfter - pol.RemindAfter)
	eventually(t, "escalation to the next manager up", func() bool {
		a, _ := h.db.GetApproval(aid)
		return containsFold(a.Approvers, "ceo@example.com")
	})
	clk.Advance(pol.ExpireAfter)
	eventually(t, "expiry", func() bool {
		a, _ := h.db.GetApproval(aid)
		return a.Status == gatehouse.ApprovalExpired
	})
	if _, err := h.eng.Decide(ctx, aid, "grace@example.com", true, "late"); err == nil {
		t.Fatal("decided an expired approval")
	}
	// The scheduler settles the step after marking the approval expired.
	eventually(t, "the gated grant to be skipped", func() bool {
		s, _ := h.db.GetStep(r.ID, "grant:github:admin")
		return s.Status == gatehouse.StepSkipped
	})
	r = h.wait(r.ID)
	if s := h.steps(r.ID)["grant:github:admin"]; s.Status != gatehouse.StepSkipped || r.Status != gatehouse.RunSucceeded {
		t.Fatalf("run %s, grant %+v", r.Status, s)
	}
}

func TestManualTaskRemindsThenEscalatesToIT(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	ctx := context.Background()
	grace := person("grace@example.com", "Engineering", "", "ceo@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: grace}).ID)
	ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	aid := h.steps(r.ID)["approval:github:admin"].Result[resApproval]
	a, err := h.db.GetApproval(aid)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range a.Approvers {
		if _, err := h.eng.Decide(ctx, aid, who, true, "ok"); err != nil && !errors.Is(err, ErrAlreadyDecided) {
			t.Fatalf("approve as %s: %v", who, err)
		}
	}
	h.wait(r.ID)
	// Ada held github:admin (critical): her leaving opens a task for the
	// app owner to rotate the shared credentials she could see.
	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	tasks, err := h.db.ListTasks(store.TaskFilter{RunID: lr.ID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no open task after the leaver (%v); run %s %+v", err, lr.Status, h.steps(lr.ID))
	}
	task := tasks[0]
	owner := task.Assignee
	if task.Escalated || strings.EqualFold(owner, h.eng.itEmail()) {
		t.Fatalf("task %+v should start with the app owner", task)
	}
	pol := h.cfg.Approvals
	clk.Advance(pol.RemindAfter)
	eventually(t, "a reminder about the task", func() bool {
		h.notes.mu.Lock()
		defer h.notes.mu.Unlock()
		for _, r := range h.notes.reminders {
			if r == "task:"+task.ID {
				return true
			}
		}
		return false
	})
	clk.Advance(pol.EscalateAfter - pol.RemindAfter)
	eventually(t, "escalation to IT", func() bool {
		x, _ := h.db.GetTask(task.ID)
		return x.Escalated && strings.EqualFold(x.Assignee, h.eng.itEmail())
	})
	if len(h.audit("escalate_task")) == 0 {
		t.Error("escalation not audited")
	}
	// The original owner may still finish it; closing it stops the nagging.
	if _, err := h.eng.CompleteTask(ctx, task.ID, owner, true, "rotated the deploy key"); err != nil {
		t.Fatalf("owner completes after escalation: %v", err)
	}
	if _, err := h.db.GetJob(jobID(jobTaskRemind, task.ID)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reminder job left behind after completion: %v", err)
	}
}
