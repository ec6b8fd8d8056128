package github

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

func TestNextLink(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<https://api.github.com/orgs/a/members?page=2>; rel="next", <https://api.github.com/orgs/a/members?page=5>; rel="last"`, "https://api.github.com/orgs/a/members?page=2"},
		{`<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="next"`, "https://x/?page=3"},
		{`<https://x/?a=1,2&page=3>; rel="next"`, "https://x/?a=1,2&page=3"},
		{`<https://x/?page=3>; REL=next`, "https://x/?page=3"},
		{`<https://x/?page=3>; rel="last next"`, "https://x/?page=3"},
		{`<https://x/?page=9>; rel="last"`, ""},
		{``, ""},
		{`garbage; rel="next"`, ""},
	} {
		if got := NextLink(tc.in); got != tc.want {
			t.Errorf("NextLink(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzNextLink: Link headers come from the server; parsing them must never
// panic and a result is always a substring of the header.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://api.github.com/orgs/a/members?page=2&per_page=2>; rel="next", <https://api.github.com/orgs/a/members?page=4>; rel="last"`,
		`<>; rel=next`, `<<<>>>, ,;;rel="next"`, `<https://x>; rel="next"; title="a,b"`, strings.Repeat("<a>,", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got := NextLink(h); got != "" && !strings.Contains(h, got) {
			t.Fatalf("NextLink(%q) = %q, not part of the header", h, got)
		}
	})
}

// FuzzClassifyAnswer: GitHub error bodies and rate-limit headers are hostile
// input; classification never panics, never drops the error, and waits are
// bounded.
func FuzzClassifyAnswer(f *testing.F) {
	f.Add(403, "0", "1700000100", "", `{"message":"API rate limit exceeded"}`)
	f.Add(403, "10", "", "30", `{"message":"You have exceeded a secondary rate limit"}`)
	f.Add(422, "", "", "", `{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"},"x",1,null]}`)
	f.Add(429, "", "-5", "99999999999", `not json`)
	f.Add(422, "", "", "", `{"errors":{"a":1}}`)
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, status int, remaining, reset, retryAfter, body string) {
		h := http.Header{}
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", reset)
		h.Set("Retry-After", retryAfter)
		err := classifyAnswer(status, h, []byte(body), gatehouse.Permanent(errors.New("base")), now)
		if err == nil {
			t.Fatal("classification dropped the error")
		}
		if w := gatehouse.RetryAfterOf(err); w < 0 || w > 24*time.Hour {
			t.Fatalf("wait %s out of bounds", w)
		}
		_ = validationMessage([]byte(body))
	})
}

// FuzzDecodeInvitation: the JSON shapes the connector reads from listings.
func FuzzDecodeInvitation(f *testing.F) {
	f.Add([]byte(`{"id":1,"login":null,"email":"a@example.com","role":"direct_member","created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"x","created_at":5}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decode[invitation](b, "invitation")
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassRetryable {
			t.Fatalf("undecodable body classified %s", gatehouse.Classify(err))
		}
		_, _ = decode[membership](b, "membership")
	})
}
