package hr

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// baseConfig is a minimal valid config the HR section is appended to.
const baseConfig = `version: 1
organization: {name: Example, domain: example.com, time_zone: Europe/Berlin}
admins: {it: [it@example.com], it_channel: C0ITCHAN1}
apps:
  okta:
    connector: simulated
    owner: it@example.com
    idp: true
    entitlements:
      everyone: {kind: group, risk: low}
profiles:
  base: {grants: [okta:everyone]}
rules:
  - name: everyone
    when: "true"
    profiles: [base]
`

// testEnv resolves ${VAR} secrets in test configs.
var testEnv = map[string]string{
	"BAMBOO_KEY": "bamboo-secret", "BOB_KEY": "bob-secret", "PERSONIO_TOKEN": "personio-token",
	"RIPPLING_TOKEN": "rippling-token", "GENERIC_KEY": "generic-secret", "API_KEY": "api-key",
}

func loadConfig(t testing.TB, hr string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(baseConfig+hr), func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func openStore(t testing.TB, path string, noSync bool, now func() time.Time) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{NoSync: noSync, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s string) *clock {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &clock{t: t}
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a stand-in lifecycle engine for unit tests: it dedupes by key
// like the engine does and remembers what it was given. (Integration tests
// use the real engine.)
type recorder struct {
	mu     sync.Mutex
	events []gatehouse.Event
	holds  []string
	runs   map[string]gatehouse.Run
	n      int
}

func (r *recorder) Submit(_ context.Context, ev gatehouse.Event, hold string) (gatehouse.Run, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs == nil {
		r.runs = map[string]gatehouse.Run{}
	}
	if run, ok := r.runs[ev.DedupeKey]; ok {
		return run, false, nil
	}
	r.n++
	st := gatehouse.RunPending
	if hold != "" {
		st = gatehouse.RunHeld
	}
	run := gatehouse.Run{ID: "r" + strings.Repeat("0", 3) + string(rune('a'+r.n%26)) + ev.ID, IdentityKey: ev.Identity.Key(), Event: ev, Status: st}
	r.runs[ev.DedupeKey] = run
	r.events = append(r.events, ev)
	r.holds = append(r.holds, hold)
	return run, true, nil
}

func (r *recorder) Events() []gatehouse.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gatehouse.Event(nil), r.events...)
}

func (r *recorder) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, h := range r.holds {
		if h != "" {
			n++
		}
	}
	return n
}

// notes records notifications.
type notes struct {
	mu         sync.Mutex
	hires      []string
	terms      []string
	ambiguous  []Ambiguity
	massChange []MassChange
}

func (n *notes) NewHirePlanned(_ context.Context, id gatehouse.Identity, _ gatehouse.Run) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hires = append(n.hires, id.Email)
	return nil
}
func (n *notes) TerminationReceived(_ context.Context, id gatehouse.Identity, _ time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.terms = append(n.terms, id.Email)
	return nil
}
func (n *notes) AmbiguousMatch(_ context.Context, a Ambiguity) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ambiguous = append(n.ambiguous, a)
	return nil
}
func (n *notes) MassChangeHeld(_ context.Context, m MassChange) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.massChange = append(n.massChange, m)
	return nil
}

type harness struct {
	svc   *Service
	db    *store.DB
	sub   *recorder
	notes *notes
	clock *clock
	srv   *httptest.Server
	path  string
}

func newHarness(t testing.TB, hr string, opts ...func(*Options)) *harness {
	t.Helper()
	h := &harness{sub: &recorder{}, notes: &notes{}, clock: newClock("2026-02-02T10:00:00Z")}
	h.path = filepath.Join(t.TempDir(), "g.db")
	h.db = openStore(t, h.path, true, h.clock.Now)
	h.start(t, hr, opts...)
	t.Cleanup(func() {
		if h.srv != nil {
			h.srv.Close()
		}
		_ = h.svc.Close()
		_ = h.db.Close()
	})
	return h
}

func (h *harness) start(t testing.TB, hr string, opts ...func(*Options)) {
	t.Helper()
	o := Options{Config: loadConfig(t, hr), Store: h.db, Submitter: h.sub, Notifier: h.notes, Now: h.clock.Now, Logger: zerolog.Nop()}
	for _, f := range opts {
		f(&o)
	}
	svc, err := New(o)
	if err != nil {
		t.Fatalf("hr.New: %v", err)
	}
	h.svc = svc
	h.srv = httptest.NewServer(svc.Handler())
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) post(t testing.TB, path string, body []byte, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) put(t testing.TB, ids ...gatehouse.Identity) {
	t.Helper()
	for _, id := range ids {
		id.Normalize()
		if _, err := h.db.PutIdentity(id); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) drain(t testing.TB) {
	t.Helper()
	if err := h.svc.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) inbox(t testing.TB) int {
	t.Helper()
	jobs, err := h.db.DueJobs(h.clock.Now().Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range jobs {
		if j.Kind == JobDelivery {
			n++
		}
	}
	return n
}
