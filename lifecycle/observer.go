package lifecycle

import (
	"time"

	"github.com/gatehousehq/gatehouse"
)

// Observer is told about what the engine did, for operational metrics
// (Options.Observer; nil observes nothing). Its methods use only root types
// so that a metrics package can implement it without importing lifecycle.
// Calls are made synchronously from engine goroutines and must return
// quickly; they must not call back into the engine.
type Observer interface {
	// StepAttempted reports one connector call: the app, the operation (the
	// step kind), how long the call took, the class of its error
	// (gatehouse.ClassUnknown with err == nil on success) and whether it
	// was a retry (attempt 2 or later).
	StepAttempted(app string, op gatehouse.StepKind, took time.Duration, class gatehouse.ErrorClass, err error, retry bool)
	// RunFinished reports a run reaching a terminal status, with its steps
	// as the engine saw them.
	RunFinished(run gatehouse.Run, steps []gatehouse.Step)
}

func (e *Engine) observeAttempt(s gatehouse.Step, took time.Duration, err error) {
	if e.observer == nil {
		return
	}
	class := gatehouse.ClassUnknown
	if err != nil {
		class = gatehouse.Classify(err)
	}
	e.observer.StepAttempted(s.App, s.Kind, took, class, err, s.Attempts > 1)
}

func (e *Engine) observeFinished(r gatehouse.Run, steps []gatehouse.Step) {
	if e.observer != nil && r.Status.Terminal() {
		e.observer.RunFinished(r, steps)
	}
}

// SchedulerRunning reports whether the engine's job scheduler goroutine is
// running (for a readiness check).
func (e *Engine) SchedulerRunning() bool { return e.schedRunning.Load() }
