package governance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/robfig/cron/v3"
)

// Scheduler fires a job on a cron schedule in a time zone, on a
// lifecycle.Clock so that tests can drive a whole week without sleeping.
// robfig/cron parses the schedule and computes the next instant; the wait
// itself is the clock's, which robfig's own runner cannot be given.
type Scheduler struct {
	sched cron.Schedule
	loc   *time.Location
	clock lifecycle.Clock
	job   func(ctx context.Context, at time.Time)

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// NewScheduler parses spec (5 fields, config.CronParser) in loc.
func NewScheduler(spec string, loc *time.Location, clock lifecycle.Clock, job func(ctx context.Context, at time.Time)) (*Scheduler, error) {
	s, err := config.CronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("digest schedule %q: %w", spec, err)
	}
	if loc == nil {
		loc = time.UTC
	}
	if clock == nil {
		clock = lifecycle.SystemClock{}
	}
	return &Scheduler{sched: s, loc: loc, clock: clock, job: job}, nil
}

// Next is the first firing after t.
func (s *Scheduler) Next(t time.Time) time.Time { return s.sched.Next(t.In(s.loc)) }

// Start runs the loop until ctx ends or Close. Jobs run one at a time, in
// the loop's goroutine: a digest that takes long delays the next, never
// overlaps it.
func (s *Scheduler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Go(func() {
		next := s.Next(s.clock.Now())
		for {
			t := s.clock.NewTimer(next.Sub(s.clock.Now()))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			at := next
			s.job(ctx, at)
			// From the later of the slot and now: a job that overran skips
			// the slots it covered instead of firing in a burst.
			from := s.clock.Now()
			if at.After(from) {
				from = at
			}
			next = s.Next(from)
		}
	})
}

// Close stops the loop and waits for a running job.
func (s *Scheduler) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}
