package httpx

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTokenCache(t *testing.T) {
	clock := t0
	now := func() time.Time { return clock }
	var fetches int
	var fail error
	fetch := func() (string, time.Time, error) {
		fetches++
		if fail != nil {
			return "", time.Time{}, fail
		}
		return "tok" + string(rune('0'+fetches)), clock.Add(time.Minute), nil
	}
	var c TokenCache[string]
	steps := []struct {
		name        string
		advance     time.Duration
		invalidate  bool
		fail        error
		want        string
		wantFetches int
	}{
		{"first fetch", 0, false, nil, "tok1", 1},
		{"cached", 30 * time.Second, false, nil, "tok1", 1},
		{"renewed at its time", 30 * time.Second, false, nil, "tok2", 2},
		{"invalidated", 0, true, nil, "tok3", 3},
		{"cached again", time.Second, false, nil, "tok3", 3},
		{"failure caches nothing", 2 * time.Minute, false, errors.New("down"), "", 4},
		{"next call fetches", 0, false, nil, "tok5", 5},
	}
	for _, st := range steps {
		clock = clock.Add(st.advance)
		if st.invalidate {
			c.Invalidate()
		}
		fail = st.fail
		got, err := c.Get(now, fetch)
		if (err != nil) != (st.fail != nil) || got != st.want || fetches != st.wantFetches {
			t.Fatalf("%s: Get = %q, %v after %d fetches; want %q after %d", st.name, got, err, fetches, st.want, st.wantFetches)
		}
	}
}

// TestTokenCacheShared: concurrent callers share one fetch.
func TestTokenCacheShared(t *testing.T) {
	var c TokenCache[int]
	var n atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, _ = c.Get(time.Now, func() (int, time.Time, error) {
				n.Add(1)
				time.Sleep(10 * time.Millisecond)
				return 1, time.Now().Add(time.Hour), nil
			})
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d fetches, want 1", n.Load())
	}
}

func TestRenewEarly(t *testing.T) {
	tests := []struct {
		ttl, margin, want time.Duration
	}{
		{time.Hour, 30 * time.Second, time.Hour - 30*time.Second},
		{time.Hour, time.Minute, time.Hour - time.Minute},
		{60 * time.Second, 30 * time.Second, 54 * time.Second}, // a tenth of a short ttl
		{0, time.Minute, 0},
	}
	for _, tt := range tests {
		if got := RenewEarly(t0, tt.ttl, tt.margin); !got.Equal(t0.Add(tt.want)) {
			t.Errorf("RenewEarly(%v, %v) = +%v, want +%v", tt.ttl, tt.margin, got.Sub(t0), tt.want)
		}
	}
}
