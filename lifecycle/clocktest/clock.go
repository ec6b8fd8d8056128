// Package clocktest provides a fake lifecycle.Clock whose time only moves when
// a test advances it, so backoff, Retry-After, rate limits and deadlines are
// tested exactly and instantly.
package clocktest

import (
	"sort"
	"sync"
	"time"
)

// Clock is a manually advanced clock. The zero value is not usable; call New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	waiters []chan struct{} // BlockUntil callers, woken when timers change
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

type timer struct {
	c      *Clock
	at     time.Time
	ch     chan time.Time
	active bool
}

// NewTimer returns a timer firing when the clock reaches now+d. A
// non-positive d fires at once.
func (c *Clock) NewTimer(d time.Duration) interface {
	C() <-chan time.Time
	Stop() bool
} {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1), active: true}
	if d <= 0 {
		t.active = false
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	t.c.removeLocked(t)
	return was
}

func (c *Clock) removeLocked(t *timer) {
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			break
		}
	}
	c.notifyLocked()
}

func (c *Clock) notifyLocked() {
	for _, w := range c.waiters {
		close(w)
	}
	c.waiters = nil
}

// Advance moves the clock forward by d, firing every timer that comes due, in
// deadline order.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires due timers.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	keep := c.timers[:0]
	for _, x := range c.timers {
		if !x.at.After(c.now) {
			x.active = false
			x.ch <- c.now
			continue
		}
		keep = append(keep, x)
	}
	c.timers = keep
	c.notifyLocked()
}

// Timers returns how many timers are waiting.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextDeadline returns the earliest pending timer's deadline.
func (c *Clock) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	min := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(min) {
			min = t.at
		}
	}
	return min, true
}

// BlockUntil waits until at least n timers are pending or the timeout (real
// time) passes; it reports whether the count was reached. Tests use it to
// know the code under test has gone to sleep before advancing the clock.
func (c *Clock) BlockUntil(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return true
		}
		w := make(chan struct{})
		c.waiters = append(c.waiters, w)
		c.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		select {
		case <-w:
		case <-time.After(left):
		}
	}
}
