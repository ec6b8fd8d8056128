package hr

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store"
)

// guardJobID is where the guard's sliding window is persisted. It is a job
// scheduled far in the future so that DueJobs never returns it: the job queue
// is the one durable key-value place the store lends to other packages.
const guardJobID = "hr.guard.window"

var guardJobAt = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// Guard is the mass-change guard: a sliding window of the terminations and
// moves Gatehouse accepted from HR. When a batch (a sync) or one more event
// (a webhook) would take the window over the limit, the runs are held and IT
// is asked to confirm. Held events count too, so a burst stays held until it
// ends. The window survives restarts (persisted after every admission).
type Guard struct {
	mu      sync.Mutex
	cfg     config.HRGuard
	st      Store
	entries []guardEntry // oldest first
	tripped bool
}

type guardEntry struct {
	At  time.Time `json:"at"`
	Key string    `json:"key"` // the event's dedupe key: re-detecting it does not count twice
}

type guardState struct {
	Entries []guardEntry `json:"entries"`
	Tripped bool         `json:"tripped"`
}

// NewGuard loads the persisted window.
func NewGuard(cfg config.HRGuard, st Store) (*Guard, error) {
	g := &Guard{cfg: cfg, st: st}
	j, err := st.GetJob(guardJobID)
	switch {
	case isNotFound(err):
		return g, nil
	case err != nil:
		return nil, fmt.Errorf("load mass-change guard window: %w", err)
	}
	var s guardState
	if err := json.Unmarshal(j.Payload, &s); err != nil {
		// A mangled window must not block intake: start empty, loudly.
		return g, fmt.Errorf("decode mass-change guard window (starting empty): %w", err)
	}
	g.entries, g.tripped = s.Entries, s.Tripped
	return g, nil
}

// Admission is the guard's answer for a batch.
type Admission struct {
	Hold     bool
	FirstHit bool // the guard just tripped: tell IT
	InWindow int
}

// limitExceeded applies the thresholds: more than MaxPeople, or more than
// MaxShare of all identities once at least MinPeople changes are counted.
func (g *Guard) limitExceeded(n, total int) bool {
	if g.cfg.MaxPeople > 0 && n > g.cfg.MaxPeople {
		return true
	}
	if g.cfg.MaxShare > 0 && total > 0 && n >= max(g.cfg.MinPeople, 1) && float64(n) > g.cfg.MaxShare*float64(total) {
		return true
	}
	return false
}

// Admit counts keys (dedupe keys of leaver and mover events) against the
// window at now, with total identities, and says whether to hold them. All
// of a batch is held or none: a sync's half is not safer than its whole.
func (g *Guard) Admit(keys []string, total int, now time.Time) (Admission, error) {
	if g == nil || g.cfg.Disabled || len(keys) == 0 {
		return Admission{}, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cut := now.Add(-g.cfg.Window)
	i := 0
	for i < len(g.entries) && !g.entries[i].At.After(cut) {
		i++
	}
	g.entries = append(g.entries[:0:0], g.entries[i:]...)
	if len(g.entries) == 0 {
		g.tripped = false
	}
	have := make(map[string]bool, len(g.entries))
	for _, e := range g.entries {
		have[e.Key] = true
	}
	for _, k := range keys {
		if !have[k] {
			have[k] = true
			g.entries = append(g.entries, guardEntry{At: now, Key: k})
		}
	}
	n := len(g.entries)
	a := Admission{InWindow: n, Hold: g.limitExceeded(n, total)}
	a.FirstHit = a.Hold && !g.tripped
	g.tripped = a.Hold
	return a, g.persist()
}

func (g *Guard) persist() error {
	raw, err := json.Marshal(guardState{Entries: g.entries, Tripped: g.tripped})
	if err != nil {
		return fmt.Errorf("encode mass-change guard window: %w", err)
	}
	if err := g.st.ScheduleJob(store.Job{ID: guardJobID, Kind: "hr.guard", At: guardJobAt, Payload: raw}); err != nil {
		return fmt.Errorf("persist mass-change guard window: %w", err)
	}
	return nil
}

// InWindow reports how many changes the window holds at now (for tests and
// status pages).
func (g *Guard) InWindow(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	cut := now.Add(-g.cfg.Window)
	n := 0
	for _, e := range g.entries {
		if e.At.After(cut) {
			n++
		}
	}
	return n
}
