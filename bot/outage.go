package bot

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Reconnect defaults: the first retry after about a second, doubling up
// to two minutes; while Slack stays unreachable, one summary line after a
// minute, then at doubling intervals up to an hour.
const (
	defaultReconnectMin   = time.Second
	defaultReconnectMax   = 2 * time.Minute
	defaultOutageSummary  = time.Minute
	maxOutageSummaryEvery = time.Hour
)

// backoff returns the wait before reconnect attempt n (0-based): min·2ⁿ
// capped at max, with "equal jitter" (between half and all of it) so that
// many bots cut off by one outage do not reconnect in lockstep.
func backoff(n int, min, max time.Duration) time.Duration {
	d := max
	if n < 32 {
		if x := min << uint(n); x > 0 && x < max {
			d = x
		}
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// outage turns a stream of connection failures into a few readable log
// lines: what is wrong, once; a summary at growing intervals while it
// lasts; and one line when the connection is back.
type outage struct {
	log     zerolog.Logger
	now     func() time.Time
	summary time.Duration // first summary interval

	mu         sync.Mutex
	since      time.Time // zero while connected
	failures   int
	lastErr    string
	every      time.Duration
	nextReport time.Time
}

// failed records one failed connection attempt.
func (o *outage) failed(cause string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.since.IsZero() {
		o.since, o.failures, o.lastErr = now, 1, cause
		o.every = o.summary
		o.nextReport = now.Add(o.every)
		o.log.Warn().Str("error", cause).Msg("slack unreachable; reconnecting with backoff (a summary follows while it lasts)")
		return
	}
	o.failures++
	if cause != o.lastErr {
		// A different cause is news (DNS fixed, now the token is refused…).
		o.lastErr = cause
		o.log.Warn().Str("error", cause).Dur("down_for", now.Sub(o.since).Round(time.Second)).Msg("slack still unreachable, now for another reason")
	}
	if !now.Before(o.nextReport) {
		o.log.Warn().Str("error", o.lastErr).Dur("down_for", now.Sub(o.since).Round(time.Second)).Int("attempts", o.failures).Msg("slack still unreachable")
		o.every = min(o.every*2, maxOutageSummaryEvery)
		o.nextReport = now.Add(o.every)
	}
}

// recovered records a successful connection; it logs only after an outage.
func (o *outage) recovered() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	o.log.Info().Dur("down_for", o.now().Sub(o.since).Round(time.Millisecond)).Int("failed_attempts", o.failures).Msg("slack reachable again")
	o.since, o.failures, o.lastErr = time.Time{}, 0, ""
}

// down reports whether an outage is in progress.
func (o *outage) down() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.since.IsZero()
}
