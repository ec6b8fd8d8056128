package lifecycle

import (
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// localLane runs steps that touch only the store (approvals, tasks,
// evidence, notifications). Its name cannot collide with an app's.
const localLane = "\x00local"

// work is one dispatched step.
type work struct {
	d         *driver
	run       gatehouse.Run
	step      gatehouse.Step
	approvals []string // approval ids of the approval steps this step waited for
	// managed (discover steps): the run already closes the identity's
	// account in this app, so only other accounts need new steps.
	managed bool
	// steps (evidence steps): the run's steps as the driver holds them.
	steps []gatehouse.Step
}

// lane executes one app's steps: FIFO, at most maxWorkers at a time, paced by
// the app's token bucket and paused while the vendor asked us to back off.
type lane struct {
	e           *Engine
	app         string
	conn        gatehouse.Connector
	bucket      *tokenBucket
	maxWorkers  int
	maxAttempts int
	timeout     time.Duration

	mu         sync.Mutex
	queue      []*work
	workers    int
	pauseUntil time.Time
}

func (e *Engine) laneFor(s gatehouse.Step) *lane {
	if isLocal(s.Kind) {
		return e.lanes[localLane]
	}
	if l := e.lanes[s.App]; l != nil {
		return l
	}
	// A step for an app that is no longer configured: run it in the local
	// lane, where it fails (no connector) and is escalated to a person.
	return e.lanes[localLane]
}

func isLocal(k gatehouse.StepKind) bool {
	switch k {
	case gatehouse.StepApproval, gatehouse.StepManualTask, gatehouse.StepEvidence, gatehouse.StepNotify:
		return true
	}
	return false
}

func (l *lane) enqueue(w *work) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, w)
	if l.workers < l.maxWorkers {
		l.workers++
		// The caller is a driver, itself counted in wg, so the counter is
		// above zero here and Add cannot race with Close's Wait.
		l.e.wg.Add(1)
		go l.worker()
	}
}

// worker drains the queue and exits when it is empty; enqueue starts
// workers on demand, so an idle app costs no goroutine.
func (l *lane) worker() {
	defer l.e.wg.Done()
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.workers--
			l.mu.Unlock()
			return
		}
		w := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		l.mu.Unlock()
		o := l.e.execute(l, w)
		w.d.results <- o
	}
}

// pause stops the lane until t (a vendor's Retry-After).
func (l *lane) pause(t time.Time) {
	l.mu.Lock()
	if t.After(l.pauseUntil) {
		l.pauseUntil = t
	}
	l.mu.Unlock()
}

// sleep waits d on the engine clock; false when the engine is closing.
func (e *Engine) sleep(d time.Duration) bool {
	if d <= 0 {
		return e.ctx.Err() == nil
	}
	c, stop := after(e.clock, d)
	defer stop()
	select {
	case <-c:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// pace blocks until the lane may make one call and holds a global slot for
// it; release returns the slot. It takes a token (a reservation: workers are
// served in order, without a thundering herd when a token frees up), waits
// for it and for any vendor pause without holding a slot (so a throttled app
// does not starve the others), then takes a slot. A short wait for the slot
// may bunch calls slightly; the burst we keep in reserve (burstShare)
// absorbs that.
func (l *lane) pace() (release func(), ok bool) {
	e := l.e
	if d := l.bucket.reserve(e.clock.Now()); d > 0 && !e.sleep(d) {
		return nil, false
	}
	for {
		l.mu.Lock()
		wait := l.pauseUntil.Sub(e.clock.Now())
		l.mu.Unlock()
		if wait <= 0 {
			break
		}
		if !e.sleep(wait) {
			return nil, false
		}
	}
	select {
	case e.global <- struct{}{}:
	case <-e.ctx.Done():
		return nil, false
	}
	return func() { <-e.global }, true
}
