package hr

import (
	"context"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
)

// EngineSubmitter submits to the lifecycle engine, creating held runs
// (lifecycle.Hold) for the mass-change guard.
func EngineSubmitter(e *lifecycle.Engine) Submitter {
	return SubmitFunc(func(ctx context.Context, ev gatehouse.Event, hold string) (gatehouse.Run, bool, error) {
		if hold != "" {
			return e.Submit(ctx, ev, lifecycle.Hold(hold))
		}
		return e.Submit(ctx, ev)
	})
}
