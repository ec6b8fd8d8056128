package lifecycle

import (
	"context"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/rules"
)

// Notifier is told about changes people should see: the Slack bot renders
// progress cards, approval and task DMs from these calls; the CLI prints
// progress. Calls are made synchronously from engine goroutines and must
// return quickly (queue the work); they must not call back into the engine.
type Notifier interface {
	RunChanged(ctx context.Context, run gatehouse.Run, steps []gatehouse.Step)
	ApprovalRequested(ctx context.Context, a gatehouse.Approval)
	ApprovalDecided(ctx context.Context, a gatehouse.Approval)
	TaskOpened(ctx context.Context, t gatehouse.Task)
	TaskClosed(ctx context.Context, t gatehouse.Task)
	// Reminder nudges about something outstanding. kind is "approval",
	// "task", "grant_expiry" (id is the grant's job id), "owner_expired"
	// (a non-human identity's owner; id is the run id), "owner_attest" (ask
	// a non-human's owner whether it is still needed; id is its key) or
	// "owner_handoff" (its owner left: ask the manager to take it over).
	Reminder(ctx context.Context, kind string, id string)
}

// NopNotifier ignores everything.
type NopNotifier struct{}

// RunChanged implements Notifier.
func (NopNotifier) RunChanged(context.Context, gatehouse.Run, []gatehouse.Step) {}

// ApprovalRequested implements Notifier.
func (NopNotifier) ApprovalRequested(context.Context, gatehouse.Approval) {}

// ApprovalDecided implements Notifier.
func (NopNotifier) ApprovalDecided(context.Context, gatehouse.Approval) {}

// TaskOpened implements Notifier.
func (NopNotifier) TaskOpened(context.Context, gatehouse.Task) {}

// TaskClosed implements Notifier.
func (NopNotifier) TaskClosed(context.Context, gatehouse.Task) {}

// Reminder implements Notifier.
func (NopNotifier) Reminder(context.Context, string, string) {}

func planWithRules(r *rules.Engine) PlanFunc {
	return func(id gatehouse.Identity, prev *gatehouse.Identity, ev gatehouse.Event, now time.Time) (gatehouse.Plan, error) {
		return r.Plan(rules.Input{Identity: id, Previous: prev, Event: ev.Type, Now: now})
	}
}
