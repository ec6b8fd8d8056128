package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// harness is an engine over a real bbolt file in a temp dir, with simulated
// apps built from the config's app list.
type harness struct {
	t      *testing.T
	dir    string
	cfg    *config.Config
	rules  *rules.Engine
	db     *store.DB
	sims   map[string]*simulated.Connector
	conns  map[string]gatehouse.Connector
	eng    *Engine
	clock  Clock
	notes  *recorder
	simOpt func(app string) simulated.Options
}

type harnessOption func(*harness)

func withClock(c Clock) harnessOption { return func(h *harness) { h.clock = c } }
func withSim(f func(app string) simulated.Options) harnessOption {
	return func(h *harness) { h.simOpt = f }
}

func loadConfig(t testing.TB, path string, edit func(*config.Config)) *config.Config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, b, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

func newHarness(t *testing.T, cfg *config.Config, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), cfg: cfg, notes: &recorder{}}
	for _, o := range opts {
		o(h)
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	h.rules = r
	h.sims = map[string]*simulated.Connector{}
	h.conns = map[string]gatehouse.Connector{}
	for _, name := range cfg.AppNames() {
		var o simulated.Options
		if h.simOpt != nil {
			o = h.simOpt(name)
		}
		c := simulated.New(name, o)
		h.sims[name], h.conns[name] = c, c
	}
	h.open()
	return h
}

// open opens the store and starts an engine on it.
func (h *harness) open() {
	h.t.Helper()
	db, err := store.Open(filepath.Join(h.dir, "gatehouse.db"), store.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.db = db
	eng, err := New(Options{Store: db, Config: h.cfg, Rules: h.rules, Connectors: h.conns, Clock: h.clock,
		Logger: zerolog.Nop(), Notifier: h.notes})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
	h.t.Cleanup(h.close)
}

// close stops the engine and the store (idempotent).
func (h *harness) close() {
	if h.eng != nil {
		h.eng.Close()
		h.eng = nil
	}
	if h.db != nil {
		h.db.Close()
		h.db = nil
	}
}

// restart simulates a process restart on the same files.
func (h *harness) restart() {
	h.close()
	h.open()
}

func (h *harness) submit(ev gatehouse.Event, opts ...SubmitOption) gatehouse.Run {
	h.t.Helper()
	if ev.Actor.ID == "" {
		ev.Actor = gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "test"}
	}
	r, _, err := h.eng.Submit(context.Background(), ev, opts...)
	if err != nil {
		h.t.Fatalf("submit %s: %v", ev.Type, err)
	}
	return r
}

func (h *harness) wait(id string) gatehouse.Run {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := h.eng.Wait(ctx, id)
	if err != nil {
		h.t.Fatalf("wait %s: %v (status %s)", id, err, r.Status)
	}
	return r
}

func (h *harness) steps(id string) map[string]gatehouse.Step {
	h.t.Helper()
	ss, err := h.db.Steps(id)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]gatehouse.Step{}
	for _, s := range ss {
		m[s.ID] = s
	}
	return m
}

func (h *harness) verifyAudit() {
	h.t.Helper()
	if _, err := h.db.VerifyAudit(nil); err != nil {
		h.t.Fatalf("audit chain: %v", err)
	}
}

func (h *harness) audit(action string) []gatehouse.AuditEntry {
	h.t.Helper()
	all, err := h.db.AuditEntries(store.AuditFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []gatehouse.AuditEntry
	for _, a := range all {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

func person(email, dept, team, manager string) gatehouse.Identity {
	return gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: email, Name: "Test Person", Department: dept, Team: team,
		ManagerEmail: manager, EmployeeID: "E-" + email[:3]}
}

// recorder is a Notifier that remembers what it was told.
type recorder struct {
	mu        sync.Mutex
	requested []gatehouse.Approval
	decided   []gatehouse.Approval
	opened    []gatehouse.Task
	closed    []gatehouse.Task
	reminders []string
	changes   int
}

func (r *recorder) RunChanged(context.Context, gatehouse.Run, []gatehouse.Step) {
	r.mu.Lock()
	r.changes++
	r.mu.Unlock()
}
func (r *recorder) ApprovalRequested(_ context.Context, a gatehouse.Approval) {
	r.mu.Lock()
	r.requested = append(r.requested, a)
	r.mu.Unlock()
}
func (r *recorder) ApprovalDecided(_ context.Context, a gatehouse.Approval) {
	r.mu.Lock()
	r.decided = append(r.decided, a)
	r.mu.Unlock()
}
func (r *recorder) TaskOpened(_ context.Context, t gatehouse.Task) {
	r.mu.Lock()
	r.opened = append(r.opened, t)
	r.mu.Unlock()
}
func (r *recorder) TaskClosed(_ context.Context, t gatehouse.Task) {
	r.mu.Lock()
	r.closed = append(r.closed, t)
	r.mu.Unlock()
}
func (r *recorder) Reminder(_ context.Context, kind, id string) {
	r.mu.Lock()
	r.reminders = append(r.reminders, kind+":"+id)
	r.mu.Unlock()
}
