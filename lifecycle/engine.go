package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// Sentinel errors callers (the Slack bot, the CLI) branch on. Returned errors
// wrap them; test with errors.Is.
var (
	ErrNotApprover       = errors.New("not an approver of this request")
	ErrSelfApproval      = errors.New("nobody approves their own access")
	ErrAlreadyDecided    = errors.New("already decided")
	ErrExpired           = errors.New("approval expired")
	ErrRunCancelled      = errors.New("run was cancelled")
	ErrUnknownIdentity   = errors.New("unknown identity")
	ErrRunNotFound       = errors.New("run not found")
	ErrInvalidEvent      = errors.New("invalid event")
	ErrNotAllowed        = errors.New("not allowed")
	ErrTaskClosed        = errors.New("task already closed")
	ErrWrongState        = errors.New("run is not in a state that allows this")
	ErrClosed            = errors.New("engine is closed")
	errSkipWrite         = errors.New("nothing to write")
	errNoConnectorForApp = errors.New("no connector configured for app")
)

// PlanFunc computes the access plan for an identity and event; it is what
// rules.Engine.Plan provides. Options.Planner overrides the rules engine (for
// callers and tests that plan differently).
type PlanFunc func(identity gatehouse.Identity, previous *gatehouse.Identity, ev gatehouse.Event, now time.Time) (gatehouse.Plan, error)

// Options configure an Engine. Store, Config and a planner (Rules or Planner)
// are required.
type Options struct {
	Store      *store.DB
	Config     *config.Config
	Rules      *rules.Engine
	Planner    PlanFunc
	Connectors map[string]gatehouse.Connector
	Clock      Clock
	Logger     zerolog.Logger
	Notifier   Notifier
	// Observer receives operational measurements (nil: none).
	Observer Observer
}

// Engine plans and executes runs. Create it with New, then Start it; Close
// stops every goroutine it started.
type Engine struct {
	db     *store.DB
	cfg    *config.Config
	conns  map[string]gatehouse.Connector
	clock  Clock
	log    zerolog.Logger
	notify Notifier
	plan   PlanFunc
	rules  *rules.Engine

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	started    bool
	closed     bool
	drivers    map[string]*driver       // run id → its active driver
	identBusy  map[string]string        // identity key → run id being driven
	identQueue map[string][]string      // identity key → run ids waiting their turn, FIFO
	watchers   map[string]chan struct{} // run id → closed when that run changes (Wait)
	driverGen  uint64                   // drivers started so far
	lanes      map[string]*lane
	global     chan struct{} // bounds concurrent connector calls across lanes
	schedWake  chan struct{}

	observer     Observer
	schedRunning atomic.Bool
}

// New validates opts and returns an engine that is not yet running.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("lifecycle: Options.Store is required")
	}
	if opts.Config == nil {
		return nil, errors.New("lifecycle: Options.Config is required")
	}
	e := &Engine{
		db: opts.Store, cfg: opts.Config, conns: opts.Connectors, clock: opts.Clock,
		log: opts.Logger, notify: opts.Notifier, plan: opts.Planner, rules: opts.Rules, observer: opts.Observer,
		drivers: map[string]*driver{}, identBusy: map[string]string{}, identQueue: map[string][]string{},
		watchers: map[string]chan struct{}{}, lanes: map[string]*lane{}, schedWake: make(chan struct{}, 1),
	}
	if e.plan == nil && opts.Rules != nil {
		e.plan = planWithRules(opts.Rules)
	}
	if e.plan == nil {
		return nil, errors.New("lifecycle: Options.Rules (or Options.Planner) is required")
	}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.notify == nil {
		e.notify = NopNotifier{}
	}
	if e.conns == nil {
		e.conns = map[string]gatehouse.Connector{}
	}
	workers := opts.Config.Engine.Workers
	if workers <= 0 {
		workers = 16
	}
	e.global = make(chan struct{}, workers)
	now := e.clock.Now()
	for _, name := range opts.Config.AppNames() {
		app := opts.Config.Apps[name]
		ps, burst, conc, attempts, timeout := appLimits(app, opts.Config.Engine)
		e.lanes[name] = &lane{e: e, app: name, conn: e.conns[name], bucket: newTokenBucket(ps, burst, now),
			maxWorkers: conc, maxAttempts: attempts, timeout: timeout}
	}
	e.lanes[localLane] = &lane{e: e, app: localLane, maxWorkers: localConcurrency, maxAttempts: 3, timeout: opts.Config.Engine.StepTimeout}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Start resumes every unfinished run (a step found running after a crash is
// executed again), re-arms scheduled runs and starts the scheduler. The engine
// owns the goroutines it starts; Close waits for them. ctx only bounds the
// resume itself.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started || e.closed {
		e.mu.Unlock()
		return errors.New("lifecycle: engine already started or closed")
	}
	e.started = true
	e.mu.Unlock()
	runs, err := e.db.UnfinishedRuns()
	if err != nil {
		return fmt.Errorf("resume runs: %w", err)
	}
	for _, r := range runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch r.Status {
		case gatehouse.RunHeld:
			// waits for Release
		case gatehouse.RunScheduled:
			// ScheduleJob is idempotent: re-arm in case the process died
			// between creating the run and scheduling its job.
			if err := e.scheduleRunStart(r); err != nil {
				return err
			}
		default:
			e.kick(r.ID, r.IdentityKey)
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.schedRunning.Store(true)
		defer e.schedRunning.Store(false)
		e.scheduler()
	}()
	return nil
}

// Close stops the scheduler, the run drivers and the lane workers, and waits
// for all of them. Steps in flight are cut off; they stay "running" in the
// store and are executed again on the next Start.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return nil
}

// changed wakes whoever waits for the run in Wait.
func (e *Engine) changed(runID string) {
	e.mu.Lock()
	if ch, ok := e.watchers[runID]; ok {
		close(ch)
		delete(e.watchers, runID)
	}
	e.mu.Unlock()
}

// watch returns a channel closed at the run's next change. Per-run channels
// keep a busy engine from waking every waiter on every change.
func (e *Engine) watch(runID string) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.watchers[runID]
	if !ok {
		ch = make(chan struct{})
		e.watchers[runID] = ch
	}
	return ch
}

// Wait blocks until the run is terminal, waiting (approvals, manual tasks),
// blocked (escalated to IT), scheduled for later or held, and returns it.
func (e *Engine) Wait(ctx context.Context, runID string) (gatehouse.Run, error) {
	for {
		ch := e.watch(runID)
		// The run must have been read while no driver was working on it
		// (and none came and went meanwhile), or the status may be stale.
		g1, driving1 := e.driving(runID)
		r, err := e.getRun(runID)
		if err != nil {
			return gatehouse.Run{}, err
		}
		g2, driving2 := e.driving(runID)
		if settled(r.Status) && !driving1 && !driving2 && g1 == g2 {
			return r, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r, ctx.Err()
		case <-e.ctx.Done():
			return r, ErrClosed
		}
	}
}

func settled(s gatehouse.RunStatus) bool {
	switch s {
	case gatehouse.RunPending, gatehouse.RunRunning:
		return false
	}
	return true
}

// driving reports whether a driver works on the run, and how many drivers
// have been started in total (a generation for Wait's consistency check).
func (e *Engine) driving(runID string) (uint64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.drivers[runID]
	return e.driverGen, ok
}

func (e *Engine) getRun(id string) (gatehouse.Run, error) {
	r, err := e.db.GetRun(id)
	if errors.Is(err, store.ErrNotFound) {
		return gatehouse.Run{}, fmt.Errorf("run %s: %w", id, ErrRunNotFound)
	}
	return r, err
}

// kick makes sure the run is being driven: it starts a driver when the
// identity is free, queues the run behind the identity's current run
// otherwise, or pokes the existing driver to reload its state.
func (e *Engine) kick(runID, identityKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || !e.started {
		return
	}
	if d, ok := e.drivers[runID]; ok {
		d.poke()
		return
	}
	if busy, ok := e.identBusy[identityKey]; ok && busy != runID {
		for _, q := range e.identQueue[identityKey] {
			if q == runID {
				return
			}
		}
		e.identQueue[identityKey] = append(e.identQueue[identityKey], runID)
		return
	}
	e.startDriverLocked(runID, identityKey)
}

func (e *Engine) startDriverLocked(runID, identityKey string) {
	d := newDriver(e, runID, identityKey)
	e.drivers[runID] = d
	e.driverGen++
	e.identBusy[identityKey] = runID
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		d.loop()
		e.driverDone(d)
	}()
}

// driverDone releases the identity and hands it to the next queued run.
func (e *Engine) driverDone(d *driver) {
	e.mu.Lock()
	delete(e.drivers, d.runID)
	if e.identBusy[d.identity] == d.runID {
		delete(e.identBusy, d.identity)
	}
	again := d.repoke.Load()
	if !e.closed {
		if again {
			// Poked while finishing: look again rather than lose the news.
			e.startDriverLocked(d.runID, d.identity)
		} else if q := e.identQueue[d.identity]; len(q) > 0 {
			next := q[0]
			if len(q) == 1 {
				delete(e.identQueue, d.identity)
			} else {
				e.identQueue[d.identity] = q[1:]
			}
			e.startDriverLocked(next, d.identity)
		}
	}
	e.mu.Unlock()
	e.changed(d.runID)
}
