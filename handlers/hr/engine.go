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

// Canceller is implemented by submitters that can cancel a run HR took back
// (a withdrawn termination). Optional: without it the run stays for IT.
type Canceller interface {
	Cancel(ctx context.Context, runID, by string) error
}

// EngineSubmitter submits to the lifecycle engine, creating held runs
// (lifecycle.Hold) for the mass-change guard, and cancels withdrawn ones.
func EngineSubmitter(e *lifecycle.Engine) Submitter { return engineSubmitter{e} }

type engineSubmitter struct{ e *lifecycle.Engine }

func (s engineSubmitter) Submit(ctx context.Context, ev gatehouse.Event, hold string) (gatehouse.Run, bool, error) {
	var opts []lifecycle.SubmitOption
	if hold != "" {
		opts = append(opts, lifecycle.Hold(hold))
	}
	run, created, err := s.e.Submit(ctx, ev, opts...)
	if errors.Is(err, lifecycle.ErrInvalidEvent) || errors.Is(err, lifecycle.ErrUnknownIdentity) {
		err = fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return run, created, err
}

func (s engineSubmitter) Cancel(ctx context.Context, runID, by string) error {
	return s.e.Cancel(ctx, runID, by)
}
