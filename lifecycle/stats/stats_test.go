package stats

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestComputeFromARealStore writes runs, steps and approvals into a bbolt
// file, reopens it read-only as `gatehouse stats` does, and checks every
// figure.
func TestComputeFromARealStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	add := func(ev gatehouse.Event, st gatehouse.RunStatus, finished time.Time, steps ...gatehouse.Step) {
		t.Helper()
		n++
		ev.Identity = gatehouse.Identity{Email: "p@example.com", EmployeeID: "E1"}
		ev.DedupeKey = "k" + string(rune('a'+n))
		for i := range steps {
			steps[i].ID = string(rune('a' + i))
		}
		if _, _, err := db.CreateRun(gatehouse.Run{Event: ev, Status: st, CreatedAt: t0, FinishedAt: finished, IdentityKey: "E1"}, steps); err != nil {
			t.Fatal(err)
		}
	}
	hire := func(recv time.Time) gatehouse.Event {
		return gatehouse.Event{Type: gatehouse.EventJoiner, ReceivedAt: recv}
	}
	task := gatehouse.Step{Kind: gatehouse.StepManualTask, Status: gatehouse.StepSucceeded, App: "badge"}
	grant := gatehouse.Step{Kind: gatehouse.StepGrant, Status: gatehouse.StepSucceeded, App: "okta"}
	// Joiners waiting 10, 20, 30, 40 and 100 minutes; two manual tasks.
	for i, m := range []int{10, 20, 30, 40, 100} {
		steps := []gatehouse.Step{grant}
		if i < 2 {
			steps = append(steps, task)
		}
		add(hire(t0), gatehouse.RunSucceeded, t0.Add(time.Duration(m)*time.Minute), steps...)
	}
	// Outside the figures: a failed joiner, a joiner finished before the
	// period, a mover.
	add(hire(t0), gatehouse.RunFailed, t0.Add(time.Minute), grant)
	add(hire(t0.Add(-60*24*time.Hour)), gatehouse.RunSucceeded, t0.Add(-59*24*time.Hour), grant)
	add(gatehouse.Event{Type: gatehouse.EventMover, ReceivedAt: t0}, gatehouse.RunSucceeded, t0.Add(time.Hour), grant)
	// Leavers: terminated at t0, last access closed 1 h and 3 h later.
	leave := gatehouse.Event{Type: gatehouse.EventLeaver, EffectiveAt: t0, ReceivedAt: t0.Add(-24 * time.Hour)}
	add(leave, gatehouse.RunSucceeded, t0.Add(5*time.Hour),
		gatehouse.Step{Kind: gatehouse.StepDisable, Status: gatehouse.StepSucceeded, FinishedAt: t0.Add(time.Hour)})
	add(leave, gatehouse.RunSucceeded, t0.Add(5*time.Hour),
		gatehouse.Step{Kind: gatehouse.StepDisable, Status: gatehouse.StepSucceeded, FinishedAt: t0.Add(time.Hour)},
		gatehouse.Step{Kind: gatehouse.StepManualTask, Status: gatehouse.StepSucceeded, FinishedAt: t0.Add(3 * time.Hour), Result: map[string]string{"closes_access": "true"}},
		gatehouse.Step{Kind: gatehouse.StepEvidence, Status: gatehouse.StepSucceeded, FinishedAt: t0.Add(5 * time.Hour)})
	// Approvals: decided after 2 h and 6 h (the second needed two
	// answers), one pending, one from before the period.
	for i, a := range []gatehouse.Approval{
		{Status: gatehouse.ApprovalApproved, CreatedAt: t0, Decisions: []gatehouse.Decision{{By: "m@example.com", Approved: true, At: t0.Add(2 * time.Hour)}}},
		{Status: gatehouse.ApprovalDenied, CreatedAt: t0, Decisions: []gatehouse.Decision{{By: "m@example.com", Approved: true, At: t0.Add(time.Hour)}, {By: "o@example.com", At: t0.Add(6 * time.Hour)}}},
		{Status: gatehouse.ApprovalPending, CreatedAt: t0.Add(time.Hour)},
		{Status: gatehouse.ApprovalApproved, CreatedAt: t0.Add(-90 * 24 * time.Hour), Decisions: []gatehouse.Decision{{At: t0.Add(-89 * 24 * time.Hour)}}},
	} {
		a.ID = "a" + string(rune('0'+i))
		a.IdentityKey = "E1"
		if _, err := db.PutApproval(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()

	rep, err := Compute(ro, t0.Add(-30*24*time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"access count", rep.TimeToAccess.Count, 5},
		{"access median", rep.TimeToAccess.Median, 30 * time.Minute},
		{"access p90", rep.TimeToAccess.P90, 100 * time.Minute},
		{"revoke count", rep.TimeToRevoke.Count, 2},
		{"revoke median", rep.TimeToRevoke.Median, time.Hour},
		{"revoke p90", rep.TimeToRevoke.P90, 3 * time.Hour},
		{"hires", rep.Hires, 5},
		{"manual tasks", rep.ManualTasks, 2},
		{"tasks per hire", rep.TasksPerHire, 0.4},
		{"approvals requested", rep.Approvals.Requested, 3},
		{"approvals decided", rep.Approvals.Decided, 2},
		{"approvals pending", rep.Approvals.Pending, 1},
		{"approval wait median", rep.Approvals.Wait.Median, 2 * time.Hour},
		{"approval wait p90", rep.Approvals.Wait.P90, 6 * time.Hour},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	empty, err := Compute(ro, t0.Add(100*24*time.Hour), t0.Add(101*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if empty.TimeToAccess.Count != 0 || empty.Hires != 0 || empty.TasksPerHire != 0 || empty.Approvals.Requested != 0 {
		t.Errorf("an empty period has figures: %+v", empty)
	}
}

func TestRank(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {0, 1}} {
		if got := rank(ds, c.p); got != c.want {
			t.Errorf("rank(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := summarize([]time.Duration{7}); got.Median != 7 || got.P90 != 7 || got.Count != 1 {
		t.Errorf("one value: %+v", got)
	}
}
