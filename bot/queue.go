package bot

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// job is one piece of slow work taken off the receive loop.
type job struct {
	key  string
	name string
	fn   func(ctx context.Context)
}

// queue is a bounded set of shards, each drained by one worker, so jobs
// with the same key run in order while different keys run in parallel. The
// queue owns its workers: Close stops accepting, drains and waits.
type queue struct {
	shards  []chan job
	log     zerolog.Logger
	wg      sync.WaitGroup
	mu      sync.RWMutex
	closed  bool
	timeout time.Duration // per job
	// abort ends the jobs' contexts at once: a bounded shutdown whose
	// grace period is over must not wait out a job's own timeout.
	aborted context.Context
	abort   context.CancelFunc
}

func newQueue(ctx context.Context, workers, depth int, timeout time.Duration, log zerolog.Logger) *queue {
	q := &queue{shards: make([]chan job, workers), log: log, timeout: timeout}
	q.aborted, q.abort = context.WithCancel(context.Background())
	for i := range q.shards {
		ch := make(chan job, depth)
		q.shards[i] = ch
		q.wg.Add(1)
		go q.work(ctx, ch)
	}
	return q
}

func (q *queue) work(ctx context.Context, ch chan job) {
	defer q.wg.Done()
	for j := range ch {
		q.run(ctx, j)
	}
}

func (q *queue) run(ctx context.Context, j job) {
	// The work outlives a shutdown request by its own timeout: a run the
	// user started must still get its confirmation posted.
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.timeout)
	defer cancel()
	if q.aborted.Err() != nil {
		cancel() // AfterFunc would cancel too, but asynchronously
	}
	stop := context.AfterFunc(q.aborted, cancel)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			q.log.Error().Interface("panic", r).Str("job", j.name).Str("key", j.key).Msg("job panicked; continuing")
		}
	}()
	j.fn(jctx)
}

// errQueueClosed and errQueueFull say why push refused a job.
var (
	errQueueClosed = errors.New("queue closed")
	errQueueFull   = errors.New("queue full")
)

// push enqueues j, waiting at most wait for room. It fails when the shard
// stayed full (the caller tells the user to retry) or the queue closed.
func (q *queue) push(j job, wait time.Duration) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return errQueueClosed
	}
	h := fnv.New32a()
	h.Write([]byte(j.key))
	ch := q.shards[int(h.Sum32()%uint32(len(q.shards)))]
	select {
	case ch <- j:
		return nil
	default:
	}
	if wait <= 0 {
		return errQueueFull
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case ch <- j:
		return nil
	case <-t.C:
		return errQueueFull
	}
}

// close stops accepting jobs and waits until the queued ones are done.
func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		for _, ch := range q.shards {
			close(ch)
		}
	}
	q.mu.Unlock()
	q.wg.Wait()
}
