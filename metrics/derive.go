package metrics

import (
	"time"

	"github.com/gatehousehq/gatehouse"
)

// The figures the product promises ("HR event → access granted", "termination
// → last access closed", "manual tasks per hire") are derived from a run and
// its steps by these functions, shared by the live histograms and by
// `gatehouse stats`, so the two never disagree.

// Joiner reports whether a run gives someone access for the first time (or
// again, after a rehire): the runs time-to-access is measured on.
func Joiner(t gatehouse.EventType) bool {
	return t == gatehouse.EventJoiner || t == gatehouse.EventRehire
}

// TimeToAccess is the time from the HR event to the run granting the access:
// from the later of the event's arrival and its effective time (a hire
// recorded two weeks ahead is not two weeks late) to the run's end. ok is
// false unless the run is a joiner's and succeeded.
func TimeToAccess(r gatehouse.Run) (time.Duration, bool) {
	if !Joiner(r.Event.Type) || r.Status != gatehouse.RunSucceeded || r.FinishedAt.IsZero() {
		return 0, false
	}
	start := r.Event.ReceivedAt
	if r.Event.EffectiveAt.After(start) {
		start = r.Event.EffectiveAt
	}
	if start.IsZero() {
		start = r.CreatedAt
	}
	return max(r.FinishedAt.Sub(start), 0), true
}

// closing reports whether a step closes an access path.
func closing(s gatehouse.Step) bool {
	switch s.Kind {
	case gatehouse.StepRevoke, gatehouse.StepDisable, gatehouse.StepDelete, gatehouse.StepRevokeSessions:
		return true
	case gatehouse.StepManualTask:
		return s.Result["closes_access"] == "true"
	}
	return false
}

// TimeToRevoke is the time from a leaver's termination (the event's
// effective time, else its arrival) to the last step that closed an access
// path. ok is false unless the run removes access, succeeded and closed
// something.
func TimeToRevoke(r gatehouse.Run, steps []gatehouse.Step) (time.Duration, bool) {
	if !r.Event.Type.Removes() || r.Status != gatehouse.RunSucceeded {
		return 0, false
	}
	var last time.Time
	for _, s := range steps {
		if closing(s) && s.Status == gatehouse.StepSucceeded && s.FinishedAt.After(last) {
			last = s.FinishedAt
		}
	}
	if last.IsZero() {
		return 0, false
	}
	start := r.Event.EffectiveAt
	if start.IsZero() {
		start = r.Event.ReceivedAt
	}
	if start.IsZero() {
		start = r.CreatedAt
	}
	return max(last.Sub(start), 0), true
}

// ManualTasks counts the steps of a run that needed a person: manual-task
// steps and steps escalated to a task after their retries ran out.
func ManualTasks(steps []gatehouse.Step) int {
	n := 0
	for _, s := range steps {
		if s.Kind == gatehouse.StepManualTask || s.Status == gatehouse.StepEscalated || (s.Result["task_id"] != "" && s.Kind != gatehouse.StepApproval) {
			n++
		}
	}
	return n
}
