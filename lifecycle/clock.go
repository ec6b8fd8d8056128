package lifecycle

import "time"

// Clock is the engine's source of time. Production uses the wall clock; tests
// use clocktest.Clock to drive backoff, Retry-After, rate limits, scheduled
// runs and approval deadlines without sleeping.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on this clock.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the engine uses: C fires once, Stop
// prevents that and reports whether the timer was still active. It is an alias
// of an interface literal so fake clocks (clocktest) satisfy Clock without
// importing this package.
type Timer = interface {
	C() <-chan time.Time
	Stop() bool
}

// after returns a channel that receives once d has passed on c, and a stop
// function that releases the timer early.
func after(c Clock, d time.Duration) (<-chan time.Time, func() bool) {
	t := c.NewTimer(d)
	return t.C(), t.Stop
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
