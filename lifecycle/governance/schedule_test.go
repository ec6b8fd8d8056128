package governance

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
)

// TestSchedulerThroughAWeek drives the weekly digest's schedule on a fake
// clock across two weeks, including a daylight-saving change in the zone.
func TestSchedulerThroughAWeek(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 18, 12, 0, 0, 0, berlin) // a Sunday; DST ends on 25 October
	clock := clocktest.New(start)
	var mu sync.Mutex
	var fired []time.Time
	s, err := NewScheduler("0 9 * * MON", berlin, clock, func(_ context.Context, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		fired = append(fired, at)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	defer s.Close()
	got := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), fired...)
	}
	for hour := 0; hour < 14*24; hour++ { // Sunday noon to Sunday noon, twice
		if !clock.BlockUntil(1, 5*time.Second) {
			t.Fatalf("hour %d: the scheduler is not waiting on the clock", hour)
		}
		clock.Advance(time.Hour)
	}
	clock.BlockUntil(1, 5*time.Second)
	want := []time.Time{time.Date(2026, 10, 19, 9, 0, 0, 0, berlin), time.Date(2026, 10, 26, 9, 0, 0, 0, berlin)}
	f := got()
	if len(f) != len(want) {
		t.Fatalf("fired %v, want %v", f, want)
	}
	for i := range want {
		if !f[i].Equal(want[i]) {
			t.Errorf("firing %d at %s, want %s", i, f[i], want[i])
		}
	}
	// 09:00 local is 07:00 UTC before the change and 08:00 after it.
	if f[0].UTC().Hour() != 7 || f[1].UTC().Hour() != 8 {
		t.Errorf("firings in UTC %s and %s: the zone is not honoured", f[0].UTC(), f[1].UTC())
	}
}

func TestSchedulerRejectsBadSpec(t *testing.T) {
	if _, err := NewScheduler("every monday", time.UTC, nil, nil); err == nil {
		t.Fatal("a bad schedule was accepted")
	}
}

func TestShortDurations(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{{4200 * time.Millisecond, "4s"}, {95 * time.Second, "2m"}, {3 * time.Minute, "3m"}, {65 * time.Minute, "1h5m"}, {26 * time.Hour, "1d2h"}, {0, "0s"}} {
		if got := short(c.in); got != c.want {
			t.Errorf("short(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}
