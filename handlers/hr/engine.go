package hr

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
)

// ErrRejected marks a submission the engine refused for good (an invalid
// identity, an unknown one): retrying the same input cannot succeed, so the
// intake reports it and moves on instead of retrying.
var ErrRejected = errors.New("rejected by the lifecycle engine")

// EngineSubmitter submits to the lifecycle engine, creating held runs
// (lifecycle.Hold) for the mass-change guard.
func EngineSubmitter(e *lifecycle.Engine) Submitter {
	return SubmitFunc(func(ctx context.Context, ev gatehouse.Event, hold string) (gatehouse.Run, bool, error) {
		var opts []lifecycle.SubmitOption
		if hold != "" {
			opts = append(opts, lifecycle.Hold(hold))
		}
		run, created, err := e.Submit(ctx, ev, opts...)
		if errors.Is(err, lifecycle.ErrInvalidEvent) || errors.Is(err, lifecycle.ErrUnknownIdentity) {
			err = fmt.Errorf("%w: %w", ErrRejected, err)
		}
		return run, created, err
	})
}
