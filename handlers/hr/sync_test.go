package hr

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/rs/zerolog"
)

func writeRoster(t testing.TB, path string, n int, skipEvery int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("employee_id,email,name,department,title,manager_email,status\n")
	for i := 0; i < n; i++ {
		if skipEvery > 0 && i%skipEvery == 0 {
			continue
		}
		fmt.Fprintf(&b, "%d,p%d@example.com,Person %d,Dept %d,Title,boss@example.com,active\n", i, i, i, i%7)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func csvConfig(path string) string {
	return fmt.Sprintf(`hr:
  sources:
    people:
      vendor: csv
      roster: file
      file: %s
`, path)
}

func TestSyncJoinersThenHalfRosterLostIsHeld(t *testing.T) {
	roster := filepath.Join(t.TempDir(), "roster.csv")
	writeRoster(t, roster, 40, 0)
	h := newHarness(t, csvConfig(roster))
	ctx := context.Background()

	dry, err := h.svc.Sync(ctx, "people", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Joiners) != 40 || len(h.sub.Events()) != 0 {
		t.Fatalf("dry run: %d joiners, %d submitted", len(dry.Joiners), len(h.sub.Events()))
	}
	rep, err := h.svc.Sync(ctx, "people", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Joiners) != 40 || rep.Held {
		t.Fatalf("first sync: %d joiners held=%v", len(rep.Joiners), rep.Held)
	}
	// Syncing the same roster again changes nothing.
	again, err := h.svc.Sync(ctx, "people", false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(again.Joiners) + len(again.Movers) + len(again.Leavers) + len(again.Other); n != 0 {
		t.Fatalf("second sync found %d changes", n)
	}
	// The export loses half the company.
	writeRoster(t, roster, 40, 2)
	lost, err := h.svc.Sync(ctx, "people", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(lost.Leavers) != 20 || !lost.Held {
		t.Fatalf("half roster lost: %d leavers, held=%v", len(lost.Leavers), lost.Held)
	}
	if h.sub.Held() != 20 {
		t.Fatalf("%d runs held, want 20", h.sub.Held())
	}
	if len(h.notes.massChange) != 1 || h.notes.massChange[0].Leavers != 20 || len(h.notes.massChange[0].RunIDs) != 20 {
		t.Fatalf("mass change notice %+v", h.notes.massChange)
	}
	// Held leavers keep their stored identity (discarding must leave them whole).
	id, err := h.db.IdentityByEmployeeID("0")
	if err != nil || id.Status == gatehouse.StatusTerminated {
		t.Fatalf("held leaver was stored as terminated: %+v %v", id, err)
	}
}

func TestSyncMoverAndAmbiguous(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "roster.csv")
	h := newHarness(t, csvConfig(roster))
	h.put(t,
		gatehouse.Identity{Email: "a@example.com", EmployeeID: "1", Name: "A", Department: "Ops", Status: gatehouse.StatusActive, Attributes: map[string]string{AttrSource: "people"}},
		gatehouse.Identity{Email: "b@example.com", EmployeeID: "2", Name: "B", Status: gatehouse.StatusActive},
	)
	os.WriteFile(roster, []byte("employee_id,email,name,department,status\n1,a@example.com,A,Sales,active\n2,a2@example.com,B,,active\n3,b@example.com,C,,active\n4,dup@example.com,D,,active\n5,dup@example.com,E,,active\n"), 0o600)
	rep, err := h.svc.Sync(context.Background(), "people", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Movers) != 1 || rep.Movers[0].Fields[0] != "department" {
		t.Fatalf("movers %+v", rep.Movers)
	}
	// Record 3's email belongs to identity 2 (employee id 2): ambiguous; 4 and 5 share an email.
	if len(rep.Ambiguous) != 2 || len(h.notes.ambiguous) != 2 {
		t.Fatalf("ambiguous %+v", rep.Ambiguous)
	}
	for _, c := range rep.Joiners {
		if c.Record.Email == "dup@example.com" || c.Record.Email == "b@example.com" {
			t.Fatalf("guessed an ambiguous record: %+v", c.Record)
		}
	}
}

func TestWebhookBurstTripsGuard(t *testing.T) {
	cfg := webhookConfig + "  guard: {max_people: 3, max_share: 0.5, window: 1h}\n"
	h := newHarness(t, cfg)
	for i := 0; i < 8; i++ {
		h.put(t, gatehouse.Identity{Email: fmt.Sprintf("u%d@example.com", i), EmployeeID: fmt.Sprint(i), Name: "U", Status: gatehouse.StatusActive})
	}
	for i := 0; i < 5; i++ {
		body := []byte(fmt.Sprintf(`{"delivery":"t-%d","event":"left","person":{"id":%d,"email":"u%d@example.com"}}`, i, i, i))
		if got := h.post(t, "/hr/gen", body, genericHeaders("generic-secret", body, h.clock.Now())); got != http.StatusAccepted {
			t.Fatal(got)
		}
		h.drain(t)
		h.clock.Add(time.Minute)
	}
	if got := h.sub.Held(); got != 2 {
		t.Fatalf("held %d of 5 terminations, want the 2 beyond max_people=3", got)
	}
	if len(h.notes.massChange) != 1 {
		t.Fatalf("IT asked %d times, want once per burst", len(h.notes.massChange))
	}
	// The window is persisted: a restarted service still counts the burst.
	_ = h.svc.Close()
	h.srv.Close()
	h.start(t, cfg)
	if n := h.svc.guard.InWindow(h.clock.Now()); n != 5 {
		t.Fatalf("window after restart holds %d, want 5", n)
	}
	// An hour later the window has emptied.
	h.clock.Add(time.Hour)
	body := []byte(`{"delivery":"t-late","event":"left","person":{"id":6,"email":"u6@example.com"}}`)
	h.post(t, "/hr/gen", body, genericHeaders("generic-secret", body, h.clock.Now()))
	h.drain(t)
	if got := h.sub.Held(); got != 2 {
		t.Fatalf("a lone termination after the window was held (held=%d)", got)
	}
}

func TestCrashSafeInbox(t *testing.T) {
	h := newHarness(t, webhookConfig)
	gen := []byte(`{"delivery":"c-1","event":"hired","person":{"id":11,"email":"crash@example.com","name":"Crash Test"}}`)
	if got := h.post(t, "/hr/gen", gen, genericHeaders("generic-secret", gen, h.clock.Now())); got != http.StatusAccepted {
		t.Fatal(got)
	}
	// The process "dies" after answering 2xx, before processing: close
	// everything without draining.
	h.srv.Close()
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(h.sub.Events()) != 0 {
		t.Fatal("processed before the crash")
	}
	// Restart on the same file: Start's worker drains the inbox.
	h.db = openStore(t, h.path, true, h.clock.Now)
	h.start(t, webhookConfig)
	if err := h.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.sub.Events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	evs := h.sub.Events()
	if len(evs) != 1 || evs[0].Identity.Email != "crash@example.com" {
		t.Fatalf("after restart: %+v", evs)
	}
	// The vendor retries the delivery it may think failed: still one effect.
	if got := h.post(t, "/hr/gen", gen, genericHeaders("generic-secret", gen, h.clock.Now())); got != http.StatusOK {
		t.Fatalf("retry after restart: %d, want 200 duplicate", got)
	}
	time.Sleep(50 * time.Millisecond)
	if len(h.sub.Events()) != 1 {
		t.Fatal("duplicate processed")
	}
	_ = zerolog.Nop
}

func TestResolveManagers(t *testing.T) {
	recs := []Record{
		{VendorID: "v1", EmployeeID: "1", Email: "boss@example.com"},
		{VendorID: "v2", EmployeeID: "2", Email: "a@example.com", ManagerID: "v1"},
		{VendorID: "v3", EmployeeID: "3", Email: "b@example.com", ManagerID: "9"},
		{VendorID: "v4", EmployeeID: "4", Email: "c@example.com", ManagerID: "404"},
	}
	resolveManagers(recs, []gatehouse.Identity{{EmployeeID: "9", Email: "old.boss@example.com"}})
	if recs[1].ManagerEmail != "boss@example.com" || recs[2].ManagerEmail != "old.boss@example.com" || recs[3].ManagerEmail != "" {
		t.Fatalf("%+v", recs)
	}
}

// TestStartServesAndSchedules runs the service as serve does: a real
// listener on hr.listen, the worker, and the cron-scheduled sync.
func TestStartServesAndSchedules(t *testing.T) {
	roster := filepath.Join(t.TempDir(), "roster.csv")
	writeRoster(t, roster, 3, 0)
	cfg := fmt.Sprintf("hr:\n  listen: 127.0.0.1:0\n  sync: {schedule: \"@every 1s\"}\n%s    people:\n      vendor: csv\n      roster: file\n      file: %s\n",
		webhookConfig[len("hr:\n  body_limit: 4096\n"):], roster)
	h := newHarness(t, cfg)
	if err := h.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.svc.Addr() == "" {
		t.Fatal("not listening")
	}
	body := []byte(`{"delivery":"s-1","event":"hired","person":{"id":77,"email":"live@example.com"}}`)
	h.srv.URL = "http://" + h.svc.Addr()
	if got := h.post(t, "/hr/gen", body, genericHeaders("generic-secret", body, h.clock.Now())); got != http.StatusAccepted {
		t.Fatal(got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.sub.Events()) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(h.sub.Events()); n != 4 {
		t.Fatalf("%d events (want the webhook's joiner and 3 from the scheduled sync)", n)
	}
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEmailTakenByAnotherIdentityIsFlaggedNotFatal(t *testing.T) {
	roster := filepath.Join(t.TempDir(), "roster.csv")
	h := newHarness(t, csvConfig(roster))
	h.put(t,
		gatehouse.Identity{Email: "a@example.com", EmployeeID: "1", Name: "A", Status: gatehouse.StatusActive, Attributes: map[string]string{AttrSource: "people"}},
		gatehouse.Identity{Email: "svc@example.com", Name: "Robot", Kind: gatehouse.KindServiceAccount, Owner: "a@example.com", Purpose: "ci", Expiry: d("2027-01-01")},
	)
	// Employee 1's email changes to one a service account already holds; employee 2 is new.
	os.WriteFile(roster, []byte("employee_id,email,name,department,status\n1,svc@example.com,A,Ops,active\n2,b@example.com,B,,active\n"), 0o600)
	rep, err := h.svc.Sync(context.Background(), "people", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ambiguous) != 1 || len(rep.Joiners) != 1 {
		t.Fatalf("ambiguous %+v joiners %d", rep.Ambiguous, len(rep.Joiners))
	}
	if _, err := h.db.IdentityByEmployeeID("2"); err != nil {
		t.Fatal("the next person was not synced")
	}
}
