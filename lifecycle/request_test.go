package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/manual"
	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
	"github.com/gatehousehq/gatehouse/store"
)

func TestTimeBoundRequestExpiresByItself(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	ctx := context.Background()
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	ref := gatehouse.EntitlementRef{App: "aws", Entitlement: "poweruser"}
	r, err := h.eng.RequestAccess(ctx, AccessRequest{Identity: ada.Email, Entitlements: []gatehouse.EntitlementRef{ref},
		Duration: 7 * 24 * time.Hour, Reason: "incident 42", Requester: ada.Email})
	if err != nil {
		t.Fatal(err)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("request %s: %+v", r.Status, h.steps(r.ID))
	}
	g, err := h.db.GetGrant(ada.Key(), "aws", "poweruser")
	if err != nil || g.Source != gatehouse.SourceRequest || !g.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("grant %+v (%v)", g, err)
	}
	// Reminded expiry_reminder (72h) before the end, revoked at the end.
	clk.Advance(4 * 24 * time.Hour)
	eventually(t, "expiry reminder", func() bool {
		h.notes.mu.Lock()
		defer h.notes.mu.Unlock()
		return len(h.notes.reminders) == 1
	})
	clk.Advance(3 * 24 * time.Hour)
	eventually(t, "revocation at expiry", func() bool {
		_, err := h.db.GetGrant(ada.Key(), "aws", "poweruser")
		return errors.Is(err, store.ErrNotFound)
	})
	eventually(t, "the revocation to reach aws", func() bool { return h.sims["aws"].Effects("revoke", ada.Email, "poweruser") == 1 })
	// Asking for something policy excludes, or for an unknown person, is refused.
	if _, err := h.eng.RequestAccess(ctx, AccessRequest{Identity: "ghost@example.com", Entitlements: []gatehouse.EntitlementRef{ref}}); !errors.Is(err, ErrUnknownIdentity) {
		t.Errorf("request for unknown identity: %v", err)
	}
}

// lateTasks reaches the harness's current store (it is reopened on restart).
type lateTasks struct{ h *harness }

func (l lateTasks) EnsureTask(ctx context.Context, t gatehouse.Task) (gatehouse.Task, error) {
	return NewTaskStore(l.h.db).EnsureTask(ctx, t)
}
func (l lateTasks) GetTask(ctx context.Context, id string) (gatehouse.Task, error) {
	return NewTaskStore(l.h.db).GetTask(ctx, id)
}

var _ connectors.TaskStore = lateTasks{}

func TestManualConnectorWaitsForTheOwnerAndRechecks(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	h.close()
	mc, err := manual.New("slack", manual.Options{Assignee: "it@example.com", Tasks: lateTasks{h}})
	if err != nil {
		t.Fatal(err)
	}
	h.conns["slack"] = mc
	h.open()
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	s := h.steps(r.ID)["account:slack"]
	if r.Status != gatehouse.RunWaiting || s.Status != gatehouse.StepWaiting || s.Result[resTask] == "" {
		t.Fatalf("run %s, step %+v", r.Status, s)
	}
	task, err := h.db.GetTask(s.Result[resTask])
	if err != nil || task.RunID != r.ID || task.StepID != s.ID {
		t.Fatalf("task %+v (%v): want it tied to the step", task, err)
	}
	// A restart does not open a second task.
	h.restart()
	if r = h.wait(r.ID); r.Status != gatehouse.RunWaiting {
		t.Fatalf("after restart: %s", r.Status)
	}
	if ts, _ := h.db.ListTasks(store.TaskFilter{RunID: r.ID}); len(ts) != 1 {
		t.Fatalf("%d tasks after restart, want 1", len(ts))
	}
	if _, err := h.eng.CompleteTask(ctx, task.ID, "it@example.com", true, "invited ada in the Slack admin"); err != nil {
		t.Fatal(err)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("after the task: %s %+v", r.Status, h.steps(r.ID))
	}
	if _, err := h.db.GetGrant(ada.Key(), "slack", "account"); err != nil {
		t.Errorf("grant not recorded: %v", err)
	}
}
