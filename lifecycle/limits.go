package lifecycle

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/config"
)

// vendorLimit is a connector type's default pace when the config sets none:
// what the vendor documents (or what is safe) for the admin APIs we call.
type vendorLimit struct {
	perSecond   float64
	burst       int
	concurrency int
}

var vendorLimits = map[string]vendorLimit{
	"okta":   {10, 10, 4},
	"google": {5, 5, 4},
	"github": {5000.0 / 3600, 5, 2}, // 5,000 requests an hour
	"slack":  {1, 1, 1},             // admin.* methods are tier 2: ~20/min, bursts tolerated
	"scim":   {5, 5, 4},
	"ldap":   {50, 50, 8},
	"entra":  {10, 10, 4},
	"http":   {5, 5, 4},
	"manual": {0, 0, 16}, // no API: unlimited
	// simulated apps are limited only when the config says so, so that
	// benchmarks measure the engine, not an invented vendor.
	"simulated": {0, 0, 8},
}

const (
	defaultConcurrency = 4
	localConcurrency   = 32 // approvals, tasks, evidence: store writes only
)

// appLimits resolves an app's limits: the config's rate_limit, else the
// vendor default for its connector type, else a conservative default.
func appLimits(app *config.App, eng config.EngineConfig) (perSecond float64, burst, concurrency, maxAttempts int, timeout time.Duration) {
	v, ok := vendorLimits[app.Connector]
	if !ok {
		v = vendorLimit{5, 5, defaultConcurrency}
	}
	rl := app.RateLimit
	perSecond, burst, concurrency = v.perSecond, v.burst, v.concurrency
	if rl.PerSecond > 0 {
		perSecond = rl.PerSecond
		burst = int(math.Max(1, math.Floor(rl.PerSecond)))
	}
	if rl.Burst > 0 {
		burst = rl.Burst
	}
	if burst < 1 {
		burst = 1
	}
	if rl.Concurrency > 0 {
		concurrency = rl.Concurrency
	}
	maxAttempts = eng.MaxAttempts
	if rl.MaxAttempts > 0 {
		maxAttempts = rl.MaxAttempts
	}
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	timeout = eng.StepTimeout
	if rl.Timeout > 0 {
		timeout = rl.Timeout
	}
	return
}

// tokenBucket is a classic token bucket driven by an explicit clock: rate
// tokens a second, at most burst saved. A reservation may drive the balance
// negative; the caller then waits until it is repaid, so reservations are
// served in order and the long-run rate never exceeds the limit.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// Pacing margins. Requests we space exactly at the vendor's limit reach the
// vendor with jitter (scheduling, network, the vendor's own queueing), and
// requests that arrive closer than we sent them look like a burst. So we pace
// at a slightly lower rate and use only a quarter of the vendor's burst,
// keeping the rest in reserve to absorb that compression.
const (
	rateMargin = 0.99
	burstShare = 0.25
)

func newTokenBucket(perSecond float64, burst int, now time.Time) *tokenBucket {
	if perSecond <= 0 {
		return nil
	}
	b := math.Max(1, math.Floor(float64(burst)*burstShare))
	return &tokenBucket{rate: perSecond * rateMargin, burst: b, tokens: b, last: now}
}

func (b *tokenBucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// reserve takes a token and returns how long to wait before using it.
func (b *tokenBucket) reserve(now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return durationFor(-b.tokens / b.rate)
}

func durationFor(seconds float64) time.Duration {
	// Round up so that the wait never ends a hair before the token exists.
	return time.Duration(math.Ceil(seconds * float64(time.Second)))
}

// backoff returns the wait before attempt n+1 after n failed attempts:
// exponential from base, capped at max, with "equal jitter" (half fixed, half
// random) so that retries of many steps do not synchronise. A positive
// retryAfter from the vendor is used as is: it knows when it will accept
// requests again, and the lane pauses for it too.
func backoff(n int, base, max, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}
