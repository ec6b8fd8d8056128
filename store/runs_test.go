package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	gatehouse "github.com/gatehousehq/gatehouse"
)

func newRun(dedupe, identity string) gatehouse.Run {
	return gatehouse.Run{
		IdentityKey: identity,
		Event: gatehouse.Event{
			ID: "ev-" + dedupe, Type: gatehouse.EventJoiner, DedupeKey: dedupe,
			Identity: gatehouse.Identity{Email: identity + "@example.com"},
		},
		Plan: &gatehouse.Plan{Identity: identity, Profiles: []string{"backend"}},
	}
}

func auditEntry(action string) gatehouse.AuditEntry {
	return gatehouse.AuditEntry{Actor: gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "test"}, Action: action}
}

func TestCreateRunDedupe(t *testing.T) {
	db, _ := openTest(t)
	steps := []gatehouse.Step{{Kind: gatehouse.StepEnsureAccount, App: "okta"}, {ID: "gh", Kind: gatehouse.StepGrant, App: "github"}}
	r1, created, err := db.CreateRun(newRun("hr:42", "ada"), steps, auditEntry("run_created"))
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	if r1.ID == "" || r1.Version != 1 || r1.Status != gatehouse.RunPending || r1.CreatedAt.IsZero() {
		t.Fatalf("defaults not applied: %+v", r1)
	}
	r2, created, err := db.CreateRun(newRun("hr:42", "ada"), steps, auditEntry("run_created"))
	if err != nil || created || r2.ID != r1.ID {
		t.Fatalf("second create: id %s created=%v err=%v, want %s false nil", r2.ID, created, err, r1.ID)
	}
	if seq, _, _ := db.AuditHead(); seq != 1 {
		t.Fatalf("dedupe hit wrote audit: head seq %d", seq)
	}
	got, _ := db.Steps(r1.ID)
	if len(got) != 2 || got[0].ID != "s1" || got[1].ID != "gh" || got[0].RunID != r1.ID || got[0].Version != 1 || got[0].Status != gatehouse.StepPending {
		t.Fatalf("steps: %+v", got)
	}
	e, _ := db.AuditEntries(AuditFilter{})
	if e[0].RunID != r1.ID {
		t.Fatalf("audit run id %q, want %q", e[0].RunID, r1.ID)
	}
	if r, err := db.RunByDedupeKey("hr:42"); err != nil || r.ID != r1.ID {
		t.Fatalf("by dedupe: %v %v", r.ID, err)
	}

	// Concurrent duplicates: exactly one run.
	var made atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, c, err := db.CreateRun(newRun("slack:Ev1", "bob"), nil); err == nil && c {
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	if made.Load() != 1 {
		t.Fatalf("%d runs created for one dedupe key", made.Load())
	}
}

func TestRunCAS(t *testing.T) {
	db, _ := openTest(t)
	r, _, err := db.CreateRun(newRun("k1", "ada"), nil)
	if err != nil {
		t.Fatal(err)
	}
	stale := r
	r.Status = gatehouse.RunRunning
	r2, err := db.UpdateRun(r, auditEntry("start"))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Version != 2 || r2.Status != gatehouse.RunRunning {
		t.Fatalf("after update: %+v", r2)
	}
	stale.Status = gatehouse.RunCancelled
	if _, err := db.UpdateRun(stale, auditEntry("cancel")); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: err = %v, want ErrConflict", err)
	}
	if seq, _, _ := db.AuditHead(); seq != 1 {
		t.Fatalf("failed CAS wrote audit: head %d", seq)
	}
	if got, _ := db.GetRun(r.ID); got.Status != gatehouse.RunRunning || got.Version != 2 {
		t.Fatalf("stale write leaked: %+v", got)
	}
	if _, err := db.UpdateRun(gatehouse.Run{ID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	// Closure form: concurrent increments all land.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.UpdateRunFunc(r.ID, func(r *gatehouse.Run) error { r.Summary += "x"; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := db.GetRun(r.ID)
	if len(got.Summary) != 50 || got.Version != 52 {
		t.Fatalf("summary %d chars version %d, want 50 and 52", len(got.Summary), got.Version)
	}
	// An error from fn writes nothing.
	boom := errors.New("boom")
	if _, err := db.UpdateRunFunc(r.ID, func(r *gatehouse.Run) error { r.Summary = ""; return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got2, _ := db.GetRun(r.ID); got2.Version != got.Version {
		t.Fatal("failed closure wrote")
	}
}

func TestUnfinishedAndListRuns(t *testing.T) {
	db, clk := openTest(t)
	var ids []string
	for i := 0; i < 10; i++ {
		clk.Add(1000000)
		r, _, err := db.CreateRun(newRun(fmt.Sprint("k", i), []string{"ada", "bob"}[i%2]), nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		if i < 6 { // finish the first six
			r.Status = gatehouse.RunSucceeded
			if r, err = db.UpdateRun(r); err != nil || r.FinishedAt.IsZero() {
				t.Fatalf("finish: %v %+v", err, r)
			}
		}
	}
	un, err := db.UnfinishedRuns()
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 4 || un[0].ID != ids[6] || un[3].ID != ids[9] {
		t.Fatalf("unfinished: %d runs", len(un))
	}
	tests := []struct {
		name string
		f    RunFilter
		want []string
	}{
		{"all newest first", RunFilter{}, []string{ids[9], ids[8], ids[7], ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"limit", RunFilter{Limit: 2}, []string{ids[9], ids[8]}},
		{"status", RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunPending}}, []string{ids[9], ids[8], ids[7], ids[6]}},
		{"identity", RunFilter{IdentityKey: "bob"}, []string{ids[9], ids[7], ids[5], ids[3], ids[1]}},
		{"identity+status+limit", RunFilter{IdentityKey: "ada", Status: []gatehouse.RunStatus{gatehouse.RunSucceeded}, Limit: 2}, []string{ids[4], ids[2]}},
		{"since", RunFilter{Since: t0.Add(8 * 1000000)}, []string{ids[9], ids[8], ids[7]}},
		{"unknown identity", RunFilter{IdentityKey: "zed"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListRuns(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v\nwant %v", gotIDs, tc.want)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	db, _ := openTest(t)
	r, _, _ := db.CreateRun(newRun("k", "ada"), []gatehouse.Step{{ID: "a", Kind: gatehouse.StepGrant}, {ID: "b", Kind: gatehouse.StepGrant}})
	// Another run whose id shares a prefix must not leak into Steps.
	r2, _, _ := db.CreateRun(gatehouse.Run{ID: r.ID + "x", IdentityKey: "bob"}, []gatehouse.Step{{ID: "a"}})
	added, err := db.AddSteps(r.ID, []gatehouse.Step{{ID: "c", Kind: gatehouse.StepRevoke}, {ID: "a", Kind: gatehouse.StepNotify}})
	if err != nil {
		t.Fatal(err)
	}
	if added[1].Kind != gatehouse.StepGrant {
		t.Fatalf("re-adding an existing step replaced it: %+v", added[1])
	}
	steps, _ := db.Steps(r.ID)
	var order string
	for _, s := range steps {
		order += s.ID
	}
	if order != "abc" {
		t.Fatalf("order %q, want abc", order)
	}
	if s2, _ := db.Steps(r2.ID); len(s2) != 1 {
		t.Fatalf("run %s has %d steps", r2.ID, len(s2))
	}
	// Generated ids skip ids a caller chose.
	gen, err := db.AddSteps(r2.ID, []gatehouse.Step{{ID: "s2"}, {}, {}})
	if err != nil || gen[1].ID != "s3" || gen[2].ID != "s4" {
		t.Fatalf("generated step ids: %v %+v", err, gen)
	}
	if _, err := db.AddSteps("missing", []gatehouse.Step{{ID: "z"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("add to missing run: %v", err)
	}

	s := steps[1]
	stale := s
	s.Status = gatehouse.StepRunning
	s.Result = map[string]string{"account_id": "42"}
	s2, err := db.UpdateStep(s, auditEntry("step_running"))
	if err != nil || s2.Version != 2 {
		t.Fatalf("update step: %v %+v", err, s2)
	}
	if _, err := db.UpdateStep(stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale step update: %v", err)
	}
	got, _ := db.GetStep(r.ID, "b")
	if got.Status != gatehouse.StepRunning || got.Result["account_id"] != "42" || got.Version != 2 {
		t.Fatalf("stored step: %+v", got)
	}
	s3, err := db.UpdateStepFunc(r.ID, "b", func(s *gatehouse.Step) error { s.Status = gatehouse.StepSucceeded; s.Version = 999; return nil })
	if err != nil || s3.Version != 3 || s3.Status != gatehouse.StepSucceeded {
		t.Fatalf("closure update: %v %+v", err, s3)
	}
	if _, err := db.UpdateStep(gatehouse.Step{RunID: r.ID, ID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing step: %v", err)
	}
}

// Values handed out must not alias bbolt's mmap: mutate them after the
// transaction, force a remap with many writes, and re-read.
func TestCopyOutSafety(t *testing.T) {
	db, _ := openTest(t)
	r, _, _ := db.CreateRun(newRun("k", "ada"), []gatehouse.Step{{ID: "a", Result: map[string]string{"x": "1"}}})
	steps, _ := db.Steps(r.ID)
	got, _ := db.GetRun(r.ID)
	if err := db.ScheduleJob(Job{ID: "j", Payload: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := db.DueJobs(t0.Add(1), 0)
	// Grow the file past its first mmap so old pages are unmapped.
	big := make([]gatehouse.AuditEntry, 2000)
	for i := range big {
		big[i] = auditEntry("padding")
		big[i].Reason = string(make([]byte, 512))
	}
	for i := 0; i < 5; i++ {
		if _, err := db.AppendAudit(big...); err != nil {
			t.Fatal(err)
		}
	}
	if got.Plan.Profiles[0] != "backend" || steps[0].Result["x"] != "1" || string(jobs[0].Payload) != `{"a":1}` {
		t.Fatal("returned values changed after remap")
	}
	jobs[0].Payload[2] = 'b'
	steps[0].Result["x"] = "2"
	again, _ := db.DueJobs(t0.Add(1), 0)
	st, _ := db.Steps(r.ID)
	if string(again[0].Payload) != `{"a":1}` || st[0].Result["x"] != "1" {
		t.Fatal("mutating a returned value changed the store")
	}
}
