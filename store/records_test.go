package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
)

func TestIdentities(t *testing.T) {
	db, _ := openTest(t)
	ada := gatehouse.Identity{Email: "Ada@Example.com", EmployeeID: "E1", Name: "Ada"}
	if _, err := db.PutIdentity(ada, auditEntry("identity_put")); err != nil {
		t.Fatal(err)
	}
	for _, lookup := range []func() (gatehouse.Identity, error){
		func() (gatehouse.Identity, error) { return db.GetIdentity("emp:E1") },
		func() (gatehouse.Identity, error) { return db.IdentityByEmail("ada@example.COM ") },
		func() (gatehouse.Identity, error) { return db.IdentityByEmployeeID("E1") },
	} {
		got, err := lookup()
		if err != nil || got.Name != "Ada" {
			t.Fatalf("lookup: %v %+v", err, got)
		}
	}
	// Email change moves the index.
	ada.Email = "ada.lovelace@example.com"
	if _, err := db.PutIdentity(ada); err != nil {
		t.Fatal(err)
	}
	if _, err := db.IdentityByEmail("ada@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old email still indexed: %v", err)
	}
	if got, err := db.IdentityByEmail("ADA.lovelace@example.com"); err != nil || got.Key() != "emp:E1" {
		t.Fatalf("new email: %v", err)
	}
	// Someone else cannot take Ada's email.
	if _, err := db.PutIdentity(gatehouse.Identity{Email: "ada.lovelace@example.com", EmployeeID: "E2"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate email: %v", err)
	}
	if _, err := db.PutIdentity(gatehouse.Identity{Email: "bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	all, err := db.ListIdentities()
	if err != nil || len(all) != 2 || all[0].Key() != "bob@example.com" {
		t.Fatalf("list: %v %v", err, all)
	}
	n := 0
	stop := errors.New("stop")
	if err := db.EachIdentity(func(gatehouse.Identity) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("EachIdentity did not stop: %v %d", err, n)
	}
	if _, err := db.PutIdentity(gatehouse.Identity{}); err == nil {
		t.Fatal("identity without key accepted")
	}
}

func TestWhoHadAcrossIntervals(t *testing.T) {
	db, _ := openTest(t)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	put := func(who, app, ent string, at int, by ...string) {
		t.Helper()
		_, err := db.PutGrant(gatehouse.Grant{Identity: who, App: app, Entitlement: ent, Source: gatehouse.SourceRequest, GrantedAt: day(at), ApprovedBy: by}, auditEntry("grant"))
		must(err)
	}
	revoke := func(who, app, ent string, at int) bool {
		t.Helper()
		ok, err := db.RevokeGrant(who, app, ent, day(at), "it@example.com", auditEntry("revoke"))
		must(err)
		return ok
	}
	put("ada", "github", "admin", 1, "boss@example.com")
	put("bob", "github", "admin", 3)
	put("bob", "github", "read", 3)
	put("cy", "aws", "admin", 2)
	if !revoke("ada", "github", "admin", 5) {
		t.Fatal("revoke reported nothing revoked")
	}
	if revoke("ada", "github", "admin", 6) {
		t.Fatal("second revoke should be a no-op")
	}
	if revoke("nobody", "github", "admin", 6) {
		t.Fatal("revoking what was never granted should be a no-op")
	}
	put("ada", "github", "admin", 10) // re-granted: a second interval
	put("ada", "github", "admin", 12) // already active: same interval
	revoke("bob", "github", "admin", 8)

	tests := []struct {
		app, ent string
		at       time.Time
		want     string
	}{
		{"github", "admin", day(1).Add(-time.Second), "[]"},
		{"github", "admin", day(1), "[ada]"},
		{"github", "admin", day(4), "[ada bob]"},
		{"github", "admin", day(5), "[bob]"}, // revoked at day 5 exactly: not held
		{"github", "admin", day(9), "[]"},
		{"github", "admin", day(11), "[ada]"},
		{"github", "admin", day(20), "[ada]"},
		{"github", "", day(4), "[ada bob bob]"},
		{"aws", "", day(4), "[cy]"},
		{"gitlab", "", day(4), "[]"},
	}
	for _, tc := range tests {
		got, err := db.WhoHad(tc.app, tc.ent, tc.at)
		must(err)
		var who []string
		for _, g := range got {
			who = append(who, g.Identity)
		}
		if fmt.Sprint(who) != tc.want && !(tc.want == "[]" && who == nil) {
			t.Errorf("who had %s:%s at %s = %v, want %s", tc.app, tc.ent, tc.at.Format(time.RFC3339), who, tc.want)
		}
	}
	hist, err := db.GrantHistory("ada")
	must(err)
	if len(hist) != 2 || !hist[0].RevokedAt.Equal(day(5)) || hist[0].RevokedBy != "it@example.com" || !hist[1].GrantedAt.Equal(day(10)) || !hist[1].RevokedAt.IsZero() {
		t.Fatalf("history: %+v", hist)
	}
	if hist[0].ApprovedBy[0] != "boss@example.com" {
		t.Fatalf("history lost approver: %+v", hist[0])
	}
	cur, _ := db.Grants("bob")
	if len(cur) != 1 || cur[0].Entitlement != "read" {
		t.Fatalf("bob's active grants: %+v", cur)
	}
	all, _ := db.AllGrants()
	if len(all) != 3 {
		t.Fatalf("all active grants: %d, want 3", len(all))
	}
	if seq, _, _ := db.AuditHead(); seq != 8 { // 6 puts + 2 effective revokes
		t.Fatalf("audit head %d, want 8", seq)
	}
	if _, err := db.PutGrant(gatehouse.Grant{Identity: "x", App: "a", Entitlement: "e", RevokedAt: day(1)}); err == nil {
		t.Fatal("PutGrant accepted a revoked grant")
	}
}

func TestApprovalsAndTasks(t *testing.T) {
	db, _ := openTest(t)
	a, err := db.PutApproval(gatehouse.Approval{RunID: "r1", IdentityKey: "ada", Approvers: []string{"Boss@example.com"}, Required: 1}, auditEntry("approval_requested"))
	if err != nil || a.ID == "" || a.Status != gatehouse.ApprovalPending || a.Version != 1 {
		t.Fatalf("put: %v %+v", err, a)
	}
	if _, err := db.PutApproval(gatehouse.Approval{ID: a.ID}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
	b, _ := db.PutApproval(gatehouse.Approval{RunID: "r2", IdentityKey: "bob", Approvers: []string{"other@example.com"}})

	decide := func(ap *gatehouse.Approval) error {
		if ap.Status != gatehouse.ApprovalPending {
			return fmt.Errorf("already %s", ap.Status)
		}
		ap.Decisions = append(ap.Decisions, gatehouse.Decision{By: "boss@example.com", Approved: true})
		ap.Status = gatehouse.ApprovalApproved
		return nil
	}
	got, err := db.UpdateApproval(a.ID, decide, auditEntry("approve"))
	if err != nil || got.Version != 2 || got.Status != gatehouse.ApprovalApproved {
		t.Fatalf("decide: %v %+v", err, got)
	}
	if _, err := db.UpdateApproval(a.ID, decide, auditEntry("approve")); err == nil {
		t.Fatal("second decision accepted")
	}
	stale := a
	stale.Status = gatehouse.ApprovalDenied
	if _, err := db.ReplaceApproval(stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale replace: %v", err)
	}
	got.Escalations = 1
	if got, err = db.ReplaceApproval(got); err != nil || got.Version != 3 {
		t.Fatalf("replace: %v %+v", err, got)
	}
	if _, err := db.GetApproval("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		f    ApprovalFilter
		want []string
	}{
		{ApprovalFilter{}, []string{a.ID, b.ID}},
		{ApprovalFilter{Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}}, []string{b.ID}},
		{ApprovalFilter{Approver: "boss@EXAMPLE.com"}, []string{a.ID}},
		{ApprovalFilter{RunID: "r2"}, []string{b.ID}},
		{ApprovalFilter{IdentityKey: "ada"}, []string{a.ID}},
		{ApprovalFilter{Limit: 1}, []string{a.ID}},
	} {
		list, err := db.ListApprovals(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range list {
			ids = append(ids, x.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("filter %+v: got %v want %v", tc.f, ids, tc.want)
		}
	}

	task, err := db.PutTask(gatehouse.Task{IdentityKey: "ada", Title: "remove from the VPN", Assignee: "it@example.com", RunID: "r1"})
	if err != nil || task.Status != gatehouse.TaskOpen || task.ID[:2] != "t-" {
		t.Fatalf("put task: %v %+v", err, task)
	}
	done, err := db.UpdateTask(task.ID, func(t *gatehouse.Task) error { t.Status = gatehouse.TaskDone; t.DoneBy = "it@example.com"; return nil }, auditEntry("manual_done"))
	if err != nil || done.Version != 2 {
		t.Fatalf("update task: %v", err)
	}
	if _, err := db.ReplaceTask(task); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale task: %v", err)
	}
	open, _ := db.ListTasks(TaskFilter{Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	mine, _ := db.ListTasks(TaskFilter{Assignee: "IT@example.com", RunID: "r1"})
	if len(open) != 0 || len(mine) != 1 {
		t.Fatalf("task filters: open %d mine %d", len(open), len(mine))
	}
}

func TestJobsOrdering(t *testing.T) {
	db, _ := openTest(t)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, j := range []Job{{ID: "c", At: at(30)}, {ID: "a", At: at(10)}, {ID: "b", At: at(20)}, {ID: "a2", At: at(10)}, {ID: "z", At: at(90)}} {
		if err := db.ScheduleJob(j); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(js []Job) string {
		var s []string
		for _, j := range js {
			s = append(s, j.ID)
		}
		return fmt.Sprint(s)
	}
	if next, ok, _ := db.NextJobAt(); !ok || !next.Equal(at(10)) {
		t.Fatalf("next = %v %v", next, ok)
	}
	if got, _ := db.DueJobs(at(20), 0); ids(got) != "[a a2 b]" {
		t.Fatalf("due at 20: %s", ids(got))
	}
	if got, _ := db.DueJobs(at(20), 2); ids(got) != "[a a2]" {
		t.Fatalf("limit: %s", ids(got))
	}
	// Rescheduling moves, never duplicates.
	if err := db.ScheduleJob(Job{ID: "a", At: at(60), Kind: "remind"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.DueJobs(at(100), 0); ids(got) != "[a2 b c a z]" {
		t.Fatalf("after reschedule: %s", ids(got))
	}
	if j, err := db.GetJob("a"); err != nil || j.Kind != "remind" {
		t.Fatalf("get job: %v %+v", err, j)
	}
	for _, id := range []string{"a2", "a2", "b"} { // deleting twice is fine
		if err := db.DeleteJob(id); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := db.DueJobs(at(100), 0); ids(got) != "[c a z]" {
		t.Fatalf("after delete: %s", ids(got))
	}
	for _, id := range []string{"c", "a", "z"} {
		_ = db.DeleteJob(id)
	}
	if _, ok, _ := db.NextJobAt(); ok {
		t.Fatal("NextJobAt on empty schedule")
	}
}

func TestDedupeTTL(t *testing.T) {
	db, clk := openTest(t)
	seen := func(key string, ttl time.Duration) bool {
		t.Helper()
		s, err := db.MarkSeen(key, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if seen("ev1", time.Hour) || !seen("ev1", time.Hour) {
		t.Fatal("first delivery must be new, second seen")
	}
	seen("forever", 0)
	seen("short", time.Minute)
	clk.Add(30 * time.Minute)
	if seen("short", time.Minute) {
		t.Fatal("expired key still seen")
	}
	if !seen("ev1", time.Hour) {
		t.Fatal("unexpired key forgotten")
	}
	clk.Add(2 * time.Hour)
	n, err := db.PurgeExpiredDedupe(clk.Now())
	if err != nil || n != 2 { // ev1 and short
		t.Fatalf("purged %d (%v), want 2", n, err)
	}
	if !seen("forever", 0) {
		t.Fatal("permanent key purged")
	}
	if seen("ev1", time.Hour) {
		t.Fatal("purged key still seen")
	}
}

func TestBackupRoundTrip(t *testing.T) {
	db, _ := openTest(t)
	r, _, _ := db.CreateRun(newRun("k", "ada"), []gatehouse.Step{{ID: "a"}}, auditEntry("run_created"))
	for i := 0; i < 100; i++ {
		if _, err := db.AppendAudit(auditEntry(fmt.Sprint("a", i))); err != nil {
			t.Fatal(err)
		}
	}
	path := t.TempDir() + "/backup.db"
	n, err := db.BackupFile(path)
	if err != nil || n == 0 {
		t.Fatalf("backup: %d %v", n, err)
	}
	_, _ = db.AppendAudit(auditEntry("after backup"))
	bk, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	rep, err := bk.VerifyAudit(nil)
	if err != nil || rep.Entries != 101 {
		t.Fatalf("verify backup: %v %+v", err, rep)
	}
	if got, err := bk.GetRun(r.ID); err != nil || got.ID != r.ID {
		t.Fatalf("run in backup: %v", err)
	}
	if fi, _ := statMode(path); fi != 0o600 {
		t.Fatalf("backup mode %o", fi)
	}
}
