package simulated

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Timestamp is a seeded account's last activity: an absolute time
// (RFC 3339 or YYYY-MM-DD) or an age relative to when the app is built
// ("90d", "90d ago", "36h ago"), so example configs stay dormant or fresh
// whenever they are run.
type Timestamp struct {
	At  time.Time
	Ago time.Duration
}

// UnmarshalText parses the forms described on Timestamp.
func (t *Timestamp) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	*t = Timestamp{}
	if s == "" {
		return nil
	}
	if at, err := time.Parse(time.RFC3339, s); err == nil {
		t.At = at
		return nil
	}
	if at, err := time.Parse("2006-01-02", s); err == nil {
		t.At = at
		return nil
	}
	rel := strings.TrimSpace(strings.TrimSuffix(s, "ago"))
	if days, ok := strings.CutSuffix(rel, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			t.Ago = time.Duration(n) * 24 * time.Hour
			return nil
		}
	}
	if d, err := time.ParseDuration(rel); err == nil && d >= 0 {
		t.Ago = d
		return nil
	}
	return fmt.Errorf("invalid time %q: want RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or an age (90d ago, 36h ago)", s)
}

// MarshalText writes the form UnmarshalText reads.
func (t Timestamp) MarshalText() ([]byte, error) {
	switch {
	case t.Ago > 0:
		return []byte(t.Ago.String() + " ago"), nil
	case t.At.IsZero():
		return nil, nil
	}
	return []byte(t.At.Format(time.RFC3339Nano)), nil
}

// resolve returns the absolute time, relative ages counted back from now.
func (t Timestamp) resolve(now time.Time) time.Time {
	if t.Ago > 0 {
		return now.Add(-t.Ago)
	}
	return t.At
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
