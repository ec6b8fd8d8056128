package bot

import (
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestBackoffGrowsCapsAndJitters(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 2 * time.Second
	seen := map[time.Duration]bool{}
	for n := 0; n < 40; n++ {
		want := min(lo<<uint(min(n, 30)), hi)
		for i := 0; i < 50; i++ {
			d := backoff(n, lo, hi)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, want/2, want)
			}
			if n == 3 {
				seen[d] = true
			}
		}
	}
	if len(seen) < 10 {
		t.Errorf("backoff(3) took %d distinct values in 50 draws: no jitter", len(seen))
	}
}

func TestOutageSummariesAtGrowingIntervals(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var lines []string
	o := &outage{now: func() time.Time { return now }, summary: time.Minute}
	o.log = zerolog.New(io.Discard).Hook(hookFunc(func(msg string) { lines = append(lines, msg) }))
	// An attempt a second for an hour.
	for i := 0; i < 3600; i++ {
		o.failed("dial tcp: connection refused")
		now = now.Add(time.Second)
	}
	o.recovered()
	o.recovered() // nothing more: it is up
	// 1 first line + summaries at 1, 3, 7, 15, 31 min + recovery.
	if len(lines) != 7 {
		t.Fatalf("%d lines for an hour of outage: %q", len(lines), lines)
	}
	if lines[0] != "slack unreachable; reconnecting with backoff (a summary follows while it lasts)" || lines[6] != "slack reachable again" {
		t.Errorf("lines %q", lines)
	}
}

type hookFunc func(string)

func (h hookFunc) Run(_ *zerolog.Event, _ zerolog.Level, msg string) { h(msg) }
