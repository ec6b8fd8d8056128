package lifecycle

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// driver advances one run: it keeps the run's steps in memory, dispatches
// the ready ones to their app lanes, records outcomes and computes the run's
// status. There is at most one driver per run, and per identity, at a time.
type driver struct {
	e        *Engine
	runID    string
	identity string
	kickCh   chan struct{}
	repoke   atomic.Bool
	results  chan outcome

	run      gatehouse.Run
	steps    []gatehouse.Step
	index    map[string]int
	inflight map[string]bool
	dirty    bool // a step changed since the last notification
	// effected holds in-flight steps whose side effect is done but whose
	// records are still being written: their dependents may start (the
	// order that matters is the order of effects in the apps; a crash
	// before the records are written repeats the idempotent step).
	effected map[string]bool
}

// outcome is what a lane worker reports back for a dispatched step.
type outcome struct {
	stepID string
	step   gatehouse.Step // the stored step after the attempt, when stored
	stored bool
	reload bool // the store changed under us (CAS lost, steps added): reload
	// effect is an early note: the step's side effect succeeded, its
	// records follow in a final outcome.
	effect bool
}

func newDriver(e *Engine, runID, identity string) *driver {
	return &driver{e: e, runID: runID, identity: identity, kickCh: make(chan struct{}, 1),
		results: make(chan outcome, 64), inflight: map[string]bool{}, effected: map[string]bool{}}
}

// poke asks the driver to reload its state from the store.
func (d *driver) poke() {
	d.repoke.Store(true)
	select {
	case d.kickCh <- struct{}{}:
	default:
	}
}

func (d *driver) load() error {
	r, err := d.e.db.GetRun(d.runID)
	if err != nil {
		return err
	}
	steps, err := d.e.db.Steps(d.runID)
	if err != nil {
		return err
	}
	d.run, d.steps = r, steps
	clear(d.effected)
	d.index = make(map[string]int, len(steps))
	for i, s := range steps {
		d.index[s.ID] = i
	}
	return nil
}

func (d *driver) setStep(s gatehouse.Step) {
	if i, ok := d.index[s.ID]; ok {
		d.steps[i] = s
		return
	}
	d.index[s.ID] = len(d.steps)
	d.steps = append(d.steps, s)
}

// loop runs until the run needs nothing from this process for now: it is
// terminal, waiting on people, blocked on IT, scheduled, held, or the engine
// is closing. It never returns with steps in flight.
func (d *driver) loop() {
	e := d.e
	reload := true
	var retryStop func() bool
	defer func() {
		if retryStop != nil {
			retryStop()
		}
	}()
	for {
		if d.repoke.Swap(false) {
			reload = true
		}
		if reload && len(d.inflight) == 0 {
			if err := d.load(); err != nil {
				if !errors.Is(err, store.ErrNotFound) && e.ctx.Err() == nil {
					e.log.Error().Err(err).Str("run", d.runID).Msg("load run")
				}
				return
			}
			reload = false
		}
		closing := e.ctx.Err() != nil
		active := !closing && (d.run.Status == gatehouse.RunPending || d.run.Status == gatehouse.RunRunning ||
			d.run.Status == gatehouse.RunWaiting || d.run.Status == gatehouse.RunBlocked)
		changed := false
		if active && len(d.steps) == 0 {
			if err := d.start(); err != nil {
				e.log.Error().Err(err).Str("run", d.runID).Msg("plan run")
				d.fail(err)
				return
			}
			reload = true
			continue
		}
		var nextRetry time.Time
		if active && !reload {
			var err error
			changed, nextRetry, err = d.advance()
			changed = changed || d.dirty
			d.dirty = false
			if err != nil {
				if errors.Is(err, store.ErrConflict) {
					reload = true
					continue
				}
				e.log.Error().Err(err).Str("run", d.runID).Msg("advance run")
			}
			if err := d.updateStatus(changed); err != nil {
				e.log.Error().Err(err).Str("run", d.runID).Msg("update run status")
			}
		}
		if len(d.inflight) == 0 {
			switch {
			case !active:
				return
			case reload:
				continue
			case nextRetry.IsZero():
				return // waiting on people, blocked on IT, or finished
			}
		}
		var timer <-chan time.Time
		if retryStop != nil {
			retryStop()
			retryStop = nil
		}
		if !nextRetry.IsZero() && !closing {
			timer, retryStop = after(e.clock, nextRetry.Sub(e.clock.Now()))
		}
		var done <-chan struct{}
		if !closing {
			done = e.ctx.Done()
		}
		select {
		case o := <-d.results:
			d.take(o, &reload)
			// Take whatever else is ready so a burst costs one status update.
			for more := true; more; {
				select {
				case o := <-d.results:
					d.take(o, &reload)
				default:
					more = false
				}
			}
		case <-d.kickCh:
			reload = true
		case <-timer:
		case <-done:
		}
	}
}

func (d *driver) take(o outcome, reload *bool) {
	if o.effect {
		d.effected[o.stepID] = true
		return
	}
	delete(d.inflight, o.stepID)
	delete(d.effected, o.stepID)
	d.dirty = true
	if o.stored {
		d.setStep(o.step)
	}
	if o.reload {
		*reload = true
	}
}

// deps reports whether s's dependencies are all done, and whether one of
// them ended in a way that means s must not run (denied, expired, failed…).
func (d *driver) deps(s gatehouse.Step) (ready, blocked bool, why string) {
	ready = true
	for _, id := range s.DependsOn {
		i, ok := d.index[id]
		if !ok {
			continue // a dependency that was never planned cannot hold anything up
		}
		dep := d.steps[i]
		switch {
		case dep.Status == gatehouse.StepFailed:
			return false, true, "depends on failed step " + dep.ID
		case dep.Status == gatehouse.StepSkipped || dep.Status == gatehouse.StepCancelled:
			switch dep.Result[resOutcome] {
			case "denied", "expired", "cancelled", "blocked":
				return false, true, dep.ID + " " + dep.Result[resOutcome]
			}
		case dep.Status.Done() || d.effected[id]:
		default:
			ready = false
		}
	}
	return ready, false, ""
}

// settledExcept reports whether every step other than skip has finished or
// is waiting on a person: the point at which the evidence can be written.
func (d *driver) othersSettled(skip string) (settled, allDone bool) {
	settled, allDone = true, true
	for _, s := range d.steps {
		if s.ID == skip {
			continue
		}
		if d.inflight[s.ID] {
			return false, false
		}
		switch s.Status {
		case gatehouse.StepSucceeded, gatehouse.StepSkipped, gatehouse.StepCancelled, gatehouse.StepFailed:
		case gatehouse.StepWaiting, gatehouse.StepEscalated:
			allDone = false
		case gatehouse.StepPending:
			allDone = false
			if r, blocked, _ := d.deps(s); r || blocked {
				return false, false // will run (or be skipped) next
			}
		default:
			return false, false
		}
	}
	return settled, allDone
}

// advance skips steps whose dependencies can no longer be met, refreshes a
// stale evidence summary and dispatches every ready step. It returns whether
// anything changed and when the earliest retry is due.
func (d *driver) advance() (changed bool, nextRetry time.Time, err error) {
	e := d.e
	now := e.clock.Now()
	for i := range d.steps {
		s := d.steps[i]
		if d.inflight[s.ID] {
			continue
		}
		switch s.Status {
		case gatehouse.StepPending:
			if s.Kind == gatehouse.StepEvidence {
				if settled, _ := d.othersSettled(s.ID); !settled {
					continue
				}
				d.dispatch(s)
				continue
			}
			ready, blocked, why := d.deps(s)
			if blocked {
				ns, err := e.skipStep(d.run, s, "blocked", why)
				if err != nil {
					return changed, nextRetry, err
				}
				d.steps[i], changed = ns, true
				continue
			}
			if ready {
				d.dispatch(s)
			}
		case gatehouse.StepRunning:
			// Found running but not in flight here: the process that ran it
			// died mid-operation. Operations are idempotent; run it again.
			d.dispatch(s)
		case gatehouse.StepRetrying:
			if !s.NextAttempt.After(now) {
				d.dispatch(s)
			} else if nextRetry.IsZero() || s.NextAttempt.Before(nextRetry) {
				nextRetry = s.NextAttempt
			}
		case gatehouse.StepSucceeded:
			if s.Kind == gatehouse.StepEvidence && s.Result[resOpen] != "0" {
				if _, allDone := d.othersSettled(s.ID); allDone {
					// Everything that was open when the evidence was
					// written is closed now: write it again.
					ns, err := e.db.UpdateStepFunc(d.runID, s.ID, func(st *gatehouse.Step) error {
						st.Status = gatehouse.StepPending
						return nil
					})
					if err != nil {
						return changed, nextRetry, err
					}
					d.steps[i], changed = ns, true
					d.dispatch(ns)
				}
			}
		}
	}
	return changed, nextRetry, nil
}

func (d *driver) dispatch(s gatehouse.Step) {
	d.inflight[s.ID] = true
	d.dirty = true
	w := &work{d: d, run: d.run, step: s}
	if s.Kind == gatehouse.StepEvidence {
		w.steps = d.snapshot()
	}
	if s.Kind == gatehouse.StepDiscover {
		for _, x := range d.steps {
			if x.App == s.App && x.Result[resAccountID] == "" && (x.Kind == gatehouse.StepDisable || x.Kind == gatehouse.StepDelete ||
				x.Kind == gatehouse.StepRevoke || (x.Kind == gatehouse.StepManualTask && x.Result["closes_access"] == "true")) {
				w.managed = true
			}
		}
	}
	for _, dep := range s.DependsOn {
		if i, ok := d.index[dep]; ok && d.steps[i].Kind == gatehouse.StepApproval {
			if a := d.steps[i].Result[resApproval]; a != "" {
				w.approvals = append(w.approvals, a)
			}
		}
	}
	d.e.laneFor(s).enqueue(w)
}

// status derives the run's status from its steps.
func (d *driver) status() gatehouse.RunStatus {
	var running, waiting, escalated, failed, open bool
	for _, s := range d.steps {
		if d.inflight[s.ID] {
			running = true
			continue
		}
		switch s.Status {
		case gatehouse.StepSucceeded, gatehouse.StepSkipped, gatehouse.StepCancelled:
		case gatehouse.StepFailed:
			failed = true
		case gatehouse.StepEscalated:
			escalated = true
		case gatehouse.StepWaiting:
			waiting = true
		case gatehouse.StepRunning, gatehouse.StepRetrying:
			running = true
		default:
			open = true
		}
	}
	switch {
	case running:
		return gatehouse.RunRunning
	case escalated:
		return gatehouse.RunBlocked
	case waiting || open:
		return gatehouse.RunWaiting
	case failed:
		return gatehouse.RunFailed
	}
	return gatehouse.RunSucceeded
}

// updateStatus stores the derived status when it changed and tells the
// notifier; stepsChanged forces a progress notification.
func (d *driver) updateStatus(stepsChanged bool) error {
	e := d.e
	st := d.status()
	summary := d.run.Summary
	if i, ok := d.index[evidenceStep]; ok && d.steps[i].Status == gatehouse.StepSucceeded {
		summary = d.steps[i].Result["summary"]
	}
	if (st == d.run.Status || (st == gatehouse.RunRunning && d.run.Status == gatehouse.RunPending)) && summary == d.run.Summary {
		// Pending → running is not written: a run in the store is pending
		// until it settles, whether queued or executing (the live status
		// goes to the notifier). At 500 runs starting at once those writes
		// would sit in front of the first connector call.
		if stepsChanged || st != d.run.Status {
			live := d.run
			live.Status = st
			e.notify.RunChanged(e.ctx, live, d.snapshot())
			e.changed(d.runID)
		}
		return nil
	}
	var audit []gatehouse.AuditEntry
	if st.Terminal() && st != d.run.Status {
		audit = append(audit, e.auditFor(d.run, "run_"+string(st), gatehouse.Step{}, summary))
	}
	r, err := e.db.UpdateRunFunc(d.runID, func(r *gatehouse.Run) error {
		if r.Status.Terminal() || r.Status == gatehouse.RunHeld || r.Status == gatehouse.RunScheduled {
			return errSkipWrite // cancelled (or re-held) under us: the store wins
		}
		r.Status = st
		r.Summary = summary
		return nil
	}, audit...)
	if errors.Is(err, errSkipWrite) {
		d.repoke.Store(true)
		return nil
	}
	if err != nil {
		return err
	}
	wasTerminal := d.run.Status.Terminal()
	d.run = r
	if st.Terminal() && !wasTerminal {
		e.finished(r)
		e.observeFinished(r, d.snapshot())
	}
	e.notify.RunChanged(e.ctx, r, d.snapshot())
	e.changed(d.runID)
	return nil
}

func (d *driver) snapshot() []gatehouse.Step {
	return append([]gatehouse.Step(nil), d.steps...)
}

// start plans a run's steps the first time it is driven and records the
// identity's new status.
func (d *driver) start() error {
	e := d.e
	steps, err := e.materialize(d.run)
	if err != nil {
		return err
	}
	// Both are idempotent and independent: issue them together so the
	// store commits them in one transaction.
	begun := make(chan error, 1)
	go func() { begun <- e.beginRun(d.run) }()
	_, err = e.db.AddSteps(d.runID, steps, e.auditFor(d.run, "start", gatehouse.Step{}, ""))
	if berr := <-begun; berr != nil {
		return berr
	}
	return err
}

// fail marks a run that cannot even be planned as failed.
func (d *driver) fail(cause error) {
	e := d.e
	r, err := e.db.UpdateRunFunc(d.runID, func(r *gatehouse.Run) error {
		if r.Status.Terminal() {
			return errSkipWrite
		}
		r.Status = gatehouse.RunFailed
		r.Summary = "could not plan: " + cause.Error()
		return nil
	}, e.auditFor(d.run, "run_failed", gatehouse.Step{}, cause.Error()))
	if err == nil {
		e.notify.RunChanged(e.ctx, r, nil)
		e.observeFinished(r, nil)
	}
}
