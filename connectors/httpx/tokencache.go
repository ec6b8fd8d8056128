package httpx

import (
	"sync"
	"time"
)

// TokenCache holds one access token (with whatever came along with it: the
// scopes granted, the permissions) until it is due for renewal. Get holds
// the lock while fetching, so concurrent callers share one token request
// instead of stampeding the token endpoint. The zero value is empty and
// ready. Each connector keeps its own grant and its own renewal margin:
// fetch says when the token it got must be replaced.
type TokenCache[T any] struct {
	mu      sync.Mutex
	val     T
	valid   bool
	renewAt time.Time
}

// Get returns the cached value while now is before its renewal time, else
// calls fetch and caches what it returns. A failed fetch caches nothing.
func (c *TokenCache[T]) Get(now func() time.Time, fetch func() (T, time.Time, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && now().Before(c.renewAt) {
		return c.val, nil
	}
	v, renewAt, err := fetch()
	if err != nil {
		var zero T
		return zero, err
	}
	c.val, c.renewAt, c.valid = v, renewAt, true
	return v, nil
}

// Invalidate drops the cached token (after the API refused it with a 401),
// so that the next Get fetches a new one.
func (c *TokenCache[T]) Invalidate() {
	c.mu.Lock()
	c.valid = false
	c.mu.Unlock()
}

// RenewEarly is the renewal time of a token valid for ttl from now, moved
// ahead by margin but by no more than a tenth of ttl, so that a token does
// not expire in flight and a short-lived one is still used.
func RenewEarly(now time.Time, ttl, margin time.Duration) time.Time {
	return now.Add(ttl - min(margin, ttl/10))
}
