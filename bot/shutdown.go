package bot

import "context"

// Shutdown is Close bounded by ctx: it stops taking jobs and waits for the
// queued ones until ctx ends; then it cancels every job still running or
// queued (they fail fast, e.g. a card post to an unreachable Slack) and
// returns ctx's error without waiting further. Without it, jobs run with
// their own timeouts detached from cancellation (60 s, 10 min for cards),
// which is what kept a stopping server busy while Slack was unreachable.
// Cancel Run's context first, so that no new interaction is taken.
func (b *Bot) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		b.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, q := range []*queue{b.queue, b.cardQueue, b.answers} {
		q.abort()
	}
	return ctx.Err()
}
