package slacktest

import (
	"math"
	"time"
)

// Tier is a Slack Web API rate-limit tier
// (https://docs.slack.dev/apis/web-api/rate-limits: Tier 1 1+/min, Tier 2
// 20+/min, Tier 3 50+/min, Tier 4 100+/min, "special" for chat.postMessage:
// about one message per second per channel, short bursts allowed).
type Tier int

const (
	TierNone Tier = iota
	Tier1
	Tier2
	Tier3
	Tier4
	TierSpecial
)

// MethodTiers lists the tier Slack's method reference gives each method the
// fake serves.
var MethodTiers = map[string]Tier{
	"auth.test":             TierSpecial,
	"apps.connections.open": Tier1,
	"chat.postMessage":      TierSpecial,
	"chat.postEphemeral":    TierSpecial,
	"chat.update":           Tier3,
	"chat.delete":           Tier3,
	"conversations.open":    Tier3,
	"conversations.info":    Tier3,
	"users.info":            Tier4,
	"users.lookupByEmail":   Tier3,
	"users.list":            Tier2,
	"usergroups.users.list": Tier2,
	"views.open":            Tier4,
	"views.update":          Tier4,
	"views.push":            Tier4,
	"views.publish":         Tier4,
	"team.info":             Tier3,
}

// Limit is a token bucket: one request per Every, up to Burst at once.
// A zero Every means unlimited.
type Limit struct {
	Every time.Duration
	Burst int
}

// PerMinute returns a Limit of n requests per minute with the given burst.
func PerMinute(n int, burst int) Limit {
	return Limit{Every: time.Minute / time.Duration(n), Burst: burst}
}

// RateLimits configures the fake's rate limiting. Method limits override
// tier limits; PerChannel applies to chat.postMessage and chat.postEphemeral
// per channel, on top of the method limit.
type RateLimits struct {
	Tiers      map[Tier]Limit
	Methods    map[string]Limit
	PerChannel Limit
}

// SlackRateLimits returns limits shaped like Slack's documented minimums.
// They are slow (Tier 1 is one call a minute): use them in tests that are
// about rate limiting, with a fake clock-free expectation of 429s.
func SlackRateLimits() RateLimits {
	return RateLimits{
		Tiers: map[Tier]Limit{
			Tier1: PerMinute(1, 1),
			Tier2: PerMinute(20, 5),
			Tier3: PerMinute(50, 10),
			Tier4: PerMinute(100, 20),
		},
		PerChannel: Limit{Every: time.Second, Burst: 3},
	}
}

// SetRateLimits replaces the rate limits at run time and resets all buckets.
func (s *Server) SetRateLimits(l RateLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
	s.buckets = map[string]*bucket{}
}

type forced429 struct {
	n          int
	retryAfter time.Duration
}

// ForceRateLimit makes the next n calls of method fail with HTTP 429 and
// Retry-After (rounded up to whole seconds, as the header carries seconds).
func (s *Server) ForceRateLimit(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forced[method] = &forced429{n: n, retryAfter: retryAfter}
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one token; when empty it returns how long until one is back.
func (b *bucket) take(l Limit, now time.Time) (ok bool, wait time.Duration) {
	burst := float64(max(l.Burst, 1))
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = math.Min(burst, b.tokens+float64(now.Sub(b.last))/float64(l.Every))
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.Every))
}

// rateLimitedLocked decides whether this call is throttled. channel is ""
// for methods that are not per-channel.
func (s *Server) rateLimitedLocked(method, channel string) (bool, time.Duration) {
	if f := s.forced[method]; f != nil && f.n > 0 {
		f.n--
		return true, f.retryAfter
	}
	now := time.Now()
	l, ok := s.limits.Methods[method]
	if !ok {
		l = s.limits.Tiers[MethodTiers[method]]
	}
	if l.Every > 0 {
		b := s.buckets["m:"+method]
		if b == nil {
			b = &bucket{}
			s.buckets["m:"+method] = b
		}
		if ok, wait := b.take(l, now); !ok {
			return true, wait
		}
	}
	if channel != "" && s.limits.PerChannel.Every > 0 {
		key := "c:" + channel
		b := s.buckets[key]
		if b == nil {
			b = &bucket{}
			s.buckets[key] = b
		}
		if ok, wait := b.take(s.limits.PerChannel, now); !ok {
			return true, wait
		}
	}
	return false, 0
}
