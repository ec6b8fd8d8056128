package main

import (
	"context"
	"time"
)

// Bounded shutdown of serve.
//
// After SIGTERM serve must be gone within engine.shutdown_grace whatever the
// network does. Before this, the stop waited on work detached from
// cancellation: Slack jobs (card posts, DMs) run with their own timeouts —
// 60 s, 10 min for cards — and retry 503s, so with Slack unreachable the
// queue drain alone kept the process up for ~25 s. Now every stage runs
// against one deadline, in this order:
//
//  1. intake stops: the Slack socket is closed (no new interaction is
//     taken; Slack redelivers unacknowledged ones to the next process) and
//     the HR listener stops accepting (vendors retry their webhooks);
//  2. the engine is closed: steps in flight are cut off and stay "running"
//     in the store — the checkpoint — and run again on the next start
//     (steps are idempotent);
//  3. background jobs (dedupe purge, scheduled backups, digests) stop;
//  4. the Slack queues drain what they can until the deadline; what is left
//     is cancelled (a progress card is refreshed from the store on the
//     next change);
//  5. the database is closed.
//
// A stage still busy at the deadline is abandoned, not waited for: the
// process exits and the OS releases the database lock. bbolt commits are
// atomic, so an abandoned write is simply not there on the next start.

// stage runs fn until it returns or ctx ends; it reports whether fn finished.
func (sv *server) stage(ctx context.Context, name string, fn func()) bool {
	if ctx.Err() != nil {
		sv.log.Warn().Str("stage", name).Msg("shutdown: grace period over; stage skipped")
		return false
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		sv.log.Debug().Str("stage", name).Dur("took", time.Since(start)).Msg("shutdown: stage done")
		return true
	case <-ctx.Done():
		sv.log.Warn().Str("stage", name).Dur("took", time.Since(start)).Msg("shutdown: grace period over; stage abandoned (cut off: steps resume on the next start, undelivered Slack notices are dropped)")
		return false
	}
}

// stop stops core c within grace and reports whether every stage finished
// in time. It never closes the database (a reload keeps it open).
func (sv *server) stop(c *core, grace time.Duration, why string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return sv.stopCtx(ctx, c, why)
}

func (sv *server) stopCtx(ctx context.Context, c *core, why string) bool {
	start := time.Now()
	sv.log.Info().Str("reason", why).Dur("grace", deadlineLeft(ctx)).Msg("stopping: intake closed, checkpointing in-flight work")
	clean := true
	if c.botCancel != nil {
		c.botCancel() // the socket closes first: no new interaction
	}
	if c.intake != nil {
		clean = sv.stage(ctx, "hr intake", func() { _ = c.intake.Close() }) && clean
	}
	if c.eng != nil {
		done := make(chan struct{})
		c.engDone = done
		go func() {
			defer close(done)
			_ = c.eng.Close()
		}()
		clean = sv.stage(ctx, "engine", func() { <-done }) && clean
	}
	if c.stopBG != nil {
		c.stopBG()
		clean = sv.stage(ctx, "background jobs", func() {
			if c.sched != nil {
				c.sched.Close()
			}
			if c.campaigns != nil {
				c.campaigns.Close()
			}
			c.bg.Wait()
		}) && clean
	}
	if c.b != nil {
		clean = sv.stage(ctx, "slack queues", func() { _ = c.b.Shutdown(ctx) }) && clean
		if c.botExit != nil && c.botCancel != nil {
			clean = sv.stage(ctx, "slack socket", func() { <-c.botExit }) && clean
		}
	}
	ev := sv.log.Info()
	if !clean {
		ev = sv.log.Warn()
	}
	ev.Bool("clean", clean).Dur("took", time.Since(start)).Msg("core stopped")
	return clean
}

// closeDB closes the database unless a stage was abandoned (a goroutine may
// still be inside a transaction, and bbolt's Close would wait for it).
func (sv *server) closeDB(ctx context.Context, clean bool) {
	if !clean {
		sv.log.Warn().Msg("database left to the OS to unlock at exit (work was abandoned)")
		return
	}
	sv.stage(ctx, "database", func() { _ = sv.db.Close() })
}

func deadlineLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d).Round(time.Millisecond)
	}
	return 0
}
