package bot

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestShutdownBoundsTheDrain: a job that would run for its whole timeout
// (a card post to an unreachable Slack) is cancelled at the deadline, and
// a job still queued behind it runs with a cancelled context; when the
// queues drain in time, Shutdown returns nil.
func TestShutdownBoundsTheDrain(t *testing.T) {
	newBot := func() *Bot {
		log := zerolog.Nop()
		return &Bot{queue: newQueue(context.Background(), 1, 4, time.Minute, log),
			cardQueue: newQueue(context.Background(), 1, 4, 10*time.Minute, log),
			answers:   newQueue(context.Background(), 1, 4, time.Minute, log)}
	}
	t.Run("cut off at the deadline", func(t *testing.T) {
		b := newBot()
		started := make(chan struct{})
		cut := make(chan error, 2)
		if err := b.cardQueue.push(job{key: "c", fn: func(ctx context.Context) {
			close(started)
			<-ctx.Done()
			cut <- ctx.Err()
		}}, 0); err != nil {
			t.Fatal(err)
		}
		if err := b.cardQueue.push(job{key: "c", fn: func(ctx context.Context) { cut <- ctx.Err() }}, 0); err != nil {
			t.Fatal(err)
		}
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want the deadline", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Shutdown took %v", took)
		}
		for range 2 {
			select {
			case err := <-cut:
				if err == nil {
					t.Error("a job ran with a live context after the deadline")
				}
			case <-time.After(2 * time.Second):
				t.Fatal("a job was not cancelled")
			}
		}
		if err := b.queue.push(job{key: "x", fn: func(context.Context) {}}, 0); !errors.Is(err, errQueueClosed) {
			t.Fatalf("push after Shutdown = %v, want closed", err)
		}
	})
	t.Run("drained in time", func(t *testing.T) {
		b := newBot()
		ran := make(chan struct{})
		_ = b.queue.push(job{key: "q", fn: func(ctx context.Context) { time.Sleep(20 * time.Millisecond); close(ran) }}, 0)
		if err := b.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ran:
		default:
			t.Fatal("Shutdown returned before the queued job ran")
		}
	})
}
