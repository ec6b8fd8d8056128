package hr

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
)

type engineClock struct{ c *clock }

func (e engineClock) Now() time.Time { return e.c.Now() }
func (e engineClock) NewTimer(d time.Duration) lifecycle.Timer {
	return lifecycle.SystemClock{}.NewTimer(d)
}
func withEngine(h *harness, eng *lifecycle.Engine) func(*Options) {
	return func(o *Options) { o.Submitter = EngineSubmitter(eng) }
}

// TestIntegrationWithLifecycle drives the real lifecycle engine over a real
// bbolt file: webhooks become runs (a future joiner scheduled, a termination,
// a held burst), the same delivery twice is one run, and a sync agrees with
// what the webhooks did.
func TestIntegrationWithLifecycle(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "roster.csv")
	hrCfg := webhookConfig + fmt.Sprintf("    people:\n      vendor: csv\n      roster: file\n      file: %s\n  guard: {max_people: 2, max_share: 0.5}\n", roster)
	h := &harness{notes: &notes{}, clock: newClock("2026-02-02T10:00:00Z"), path: filepath.Join(dir, "g.db")}
	h.db = openStore(t, h.path, true, h.clock.Now)
	cfg := loadConfig(t, hrCfg)
	re, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := lifecycle.New(lifecycle.Options{Store: h.db, Config: cfg, Rules: re, Clock: engineClock{h.clock}})
	if err != nil {
		t.Fatal(err)
	}
	h.start(t, hrCfg, withEngine(h, eng))
	t.Cleanup(func() { h.srv.Close(); h.svc.Close(); eng.Close(); h.db.Close() })

	post := func(body string) {
		t.Helper()
		b := []byte(body)
		if got := h.post(t, "/hr/gen", b, genericHeaders("generic-secret", b, h.clock.Now())); got != http.StatusAccepted && got != http.StatusOK {
			t.Fatalf("post: %d", got)
		}
		h.drain(t)
	}
	runs := func(f store.RunFilter) []gatehouse.Run {
		t.Helper()
		rs, err := h.db.ListRuns(f)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	// A future joiner: one scheduled run, the day before at 09:00 Berlin.
	hire := `{"delivery":"i-1","event":"hired","person":{"id":1,"email":"ada@example.com","name":"Ada L","dept":"R&D","title":"Eng","manager":"boss@example.com","start":"2026-03-02"}}`
	post(hire)
	post(hire) // the vendor's retry
	rs := runs(store.RunFilter{})
	if len(rs) != 1 || rs[0].Status != gatehouse.RunScheduled || rs[0].Event.Type != gatehouse.EventJoiner {
		t.Fatalf("runs after hire: %+v", rs)
	}
	if want := time.Date(2026, 3, 1, 9, 0, 0, 0, mustZone(t, "Europe/Berlin")); !rs[0].NotBefore.Equal(want) {
		t.Fatalf("not before %s, want %s", rs[0].NotBefore, want)
	}
	// Three active people, then a burst of three terminations: the third is held.
	for i := 2; i <= 4; i++ {
		if _, err := h.db.PutIdentity(gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: fmt.Sprintf("u%d@example.com", i), EmployeeID: fmt.Sprint(i), Name: "U", Status: gatehouse.StatusActive}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 2; i <= 4; i++ {
		post(fmt.Sprintf(`{"delivery":"t-%d","event":"left","person":{"id":%d,"email":"u%d@example.com","last_day":"2026-02-27"}}`, i, i, i))
	}
	held := runs(store.RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunHeld}})
	sched := runs(store.RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunScheduled}})
	if len(held) != 1 || len(sched) != 3 {
		t.Fatalf("held %d scheduled %d", len(held), len(sched))
	}
	if len(h.notes.massChange) != 1 || h.notes.massChange[0].RunIDs[0] != held[0].ID {
		t.Fatalf("mass change notice %+v", h.notes.massChange)
	}
	// IT confirms: the engine releases the held run.
	if err := eng.Release(context.Background(), held[0].ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	// HR withdraws u2's termination: the scheduled leaver run is cancelled.
	post(`{"delivery":"w-2","event":"updated","person":{"id":2,"email":"u2@example.com"}}`)
	cancelled := runs(store.RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunCancelled}})
	if len(cancelled) != 1 || cancelled[0].IdentityKey != "emp:2" || cancelled[0].Event.Type != gatehouse.EventLeaver {
		t.Fatalf("cancelled %+v", cancelled)
	}
	if id, _ := h.db.IdentityByEmployeeID("2"); id.Attr(AttrTerminationDate) != "" {
		t.Fatalf("withdrawn termination still recorded: %+v", id)
	}
	// A sync of a roster that agrees with the webhooks changes nothing.
	os.WriteFile(roster, []byte("employee_id,email,name,department,title,manager_email,start_date,status\n1,ada@example.com,Ada L,R&D,Eng,boss@example.com,2026-03-02,pending\n"), 0o600)
	rep, err := h.svc.Sync(context.Background(), "people", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Joiners)+len(rep.Movers)+len(rep.Leavers) != 0 {
		t.Fatalf("sync disagrees with webhooks: %+v", rep)
	}
	// A contractor without a contract end is refused by the engine; the
	// sync reports it and still onboards the next person.
	os.WriteFile(roster, []byte("employee_id,email,name,kind,status\n1,ada@example.com,Ada L,,pending\n7,c@example.com,Con Tractor,contractor,active\n8,g@example.com,Good Hire,,active\n"), 0o600)
	rep, err = h.svc.Sync(context.Background(), "people", false)
	if err != nil {
		t.Fatal(err)
	}
	var rejected, created int
	for _, o := range rep.Outcomes {
		if o.Err != "" {
			rejected++
		}
		for _, c := range o.Created {
			if c {
				created++
			}
		}
	}
	if rejected != 1 || created != 1 {
		t.Fatalf("rejected %d created %d: %+v", rejected, created, rep.Outcomes)
	}
	if _, err := h.db.IdentityByEmail("c@example.com"); err == nil {
		t.Fatal("a rejected identity was stored")
	}
}

// TestCrashSafetyWithLifecycle: a delivery recorded and acknowledged, then
// the process dies before processing it; on restart (same bbolt file, new
// engine) it becomes exactly one run, and the vendor's retry changes nothing.
func TestCrashSafetyWithLifecycle(t *testing.T) {
	dir := t.TempDir()
	c := newClock("2026-02-02T10:00:00Z")
	path := filepath.Join(dir, "g.db")
	cfg := loadConfig(t, webhookConfig)
	re, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	boot := func() (*harness, *lifecycle.Engine) {
		h := &harness{notes: &notes{}, clock: c, path: path}
		h.db = openStore(t, path, false, c.Now) // fsync on: this is about durability
		eng, err := lifecycle.New(lifecycle.Options{Store: h.db, Config: cfg, Rules: re, Clock: engineClock{c}})
		if err != nil {
			t.Fatal(err)
		}
		h.start(t, webhookConfig, withEngine(h, eng))
		return h, eng
	}
	h, eng := boot()
	body := []byte(`{"delivery":"crash-1","event":"hired","person":{"id":31,"email":"grace@example.com","name":"Grace H","start":"2026-03-02"}}`)
	if got := h.post(t, "/hr/gen", body, genericHeaders("generic-secret", body, c.Now())); got != http.StatusAccepted {
		t.Fatal(got)
	}
	// Die: no drain, no graceful anything beyond releasing the file.
	h.srv.Close()
	h.svc.Close()
	eng.Close()
	h.db.Close()

	h, eng = boot()
	defer func() { h.srv.Close(); h.svc.Close(); eng.Close(); h.db.Close() }()
	if rs, _ := h.db.ListRuns(store.RunFilter{}); len(rs) != 0 {
		t.Fatalf("runs before processing: %d", len(rs))
	}
	if err := h.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var rs []gatehouse.Run
	for time.Now().Before(deadline) {
		if rs, _ = h.db.ListRuns(store.RunFilter{}); len(rs) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(rs) != 1 || rs[0].Event.Identity.Email != "grace@example.com" || rs[0].Status != gatehouse.RunScheduled {
		t.Fatalf("after restart: %+v", rs)
	}
	if got := h.post(t, "/hr/gen", body, genericHeaders("generic-secret", body, c.Now())); got != http.StatusOK {
		t.Fatalf("vendor retry: %d, want 200 duplicate", got)
	}
	time.Sleep(100 * time.Millisecond)
	if rs, _ = h.db.ListRuns(store.RunFilter{}); len(rs) != 1 {
		t.Fatalf("runs after retry: %d", len(rs))
	}
}
