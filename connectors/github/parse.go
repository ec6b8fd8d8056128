package github

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// secondaryMinWait is what a secondary rate limit waits when GitHub sends no
// retry-after: GitHub's guidance is "at least one minute".
const secondaryMinWait = 60 * time.Second

// classify refines httpx's classification with GitHub's conventions. res is
// the answer httpx returned alongside err (nil for transport failures).
//
//   - primary rate limit: x-ratelimit-remaining 0 on a 403 or 429 → RateLimited
//     until x-ratelimit-reset (an epoch);
//   - secondary rate limit: 403/429 with retry-after or a "secondary rate
//     limit" message → RateLimited for retry-after, at least 60 s when absent;
//   - 422 → Permanent with GitHub's message and its errors list.
//
// 5xx (Retryable) and 404 (NotFound) keep httpx's classes.
func classify(res *httpx.Response, err error, now time.Time) error {
	if err == nil || res == nil {
		return err
	}
	return classifyAnswer(res.Status, res.Header, res.Body, err, now)
}

func classifyAnswer(status int, h http.Header, body []byte, err error, now time.Time) error {
	if h == nil {
		h = http.Header{}
	}
	switch status {
	case http.StatusForbidden, http.StatusTooManyRequests:
		if h.Get("X-RateLimit-Remaining") == "0" {
			wait := resetWait(h, now)
			if ra := httpx.RetryAfter(h, now); ra > wait {
				wait = ra
			}
			return gatehouse.RateLimited(wait, fmt.Errorf("github primary rate limit exhausted: %w", err))
		}
		ra := httpx.RetryAfter(h, now)
		msg := strings.ToLower(errorMessage(body))
		if ra > 0 || strings.Contains(msg, "secondary rate limit") || strings.Contains(msg, "abuse") || status == http.StatusTooManyRequests {
			return gatehouse.RateLimited(max(ra, secondaryMinWait), fmt.Errorf("github secondary rate limit: %w", err))
		}
		return gatehouse.Permanent(err)
	case http.StatusUnprocessableEntity:
		se := &httpx.StatusError{Status: status, Message: validationMessage(body)}
		var orig *httpx.StatusError
		if errors.As(err, &orig) {
			se.Method, se.URL = orig.Method, orig.URL
		}
		return gatehouse.Permanent(se)
	}
	return err
}

func resetWait(h http.Header, now time.Time) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil || n <= 0 {
		return secondaryMinWait
	}
	d := time.Unix(n, 0).Sub(now)
	switch {
	case d < time.Second:
		return time.Second // the window just reset: try again soon, not at once
	case d > 2*time.Hour:
		return 2 * time.Hour // the primary window is one hour; a bogus reset must not park a step for days
	}
	return d
}

// ghError is GitHub's error body.
type ghError struct {
	Message string `json:"message"`
	Errors  []json.RawMessage
}

func errorMessage(body []byte) string {
	var e ghError
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Message
}

// validationMessage renders a 422 body: "Validation Failed: Invitation email
// is already a part of this organization (code custom, field email)".
func validationMessage(body []byte) string {
	var e ghError
	if json.Unmarshal(body, &e) != nil {
		return httpx.Clip(strings.Join(strings.Fields(string(body)), " "), 300)
	}
	parts := []string{}
	for _, raw := range e.Errors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			parts = append(parts, s)
			continue
		}
		var d struct{ Resource, Field, Code, Message string }
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		var b strings.Builder
		b.WriteString(d.Message)
		var attrs []string
		for _, kv := range [][2]string{{"resource", d.Resource}, {"field", d.Field}, {"code", d.Code}} {
			if kv[1] != "" {
				attrs = append(attrs, kv[0]+" "+kv[1])
			}
		}
		if len(attrs) > 0 {
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteString("(" + strings.Join(attrs, ", ") + ")")
		}
		parts = append(parts, b.String())
		if len(parts) == 5 {
			break
		}
	}
	msg := e.Message
	if msg == "" {
		msg = "validation failed"
	}
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	return httpx.Clip(msg, 500)
}

// NextLink returns the rel="next" URL of a Link header (RFC 8288), or "".
// It never panics on hostile input; it is fuzzed.
func NextLink(header string) string {
	return httpx.NextLink(http.Header{"Link": {header}})
}

var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// validLogin reports whether s can be a GitHub login; anything else must not
// reach a URL path.
func validLogin(s string) bool { return loginRE.MatchString(s) }

// repoLevels orders repository roles; read and write are accepted aliases.
var repoLevels = map[string]int{"pull": 1, "triage": 2, "push": 3, "maintain": 4, "admin": 5}

func normalizeRepoLevel(l string) string {
	switch strings.ToLower(strings.TrimSpace(l)) {
	case "", "read":
		return "pull"
	case "write":
		return "push"
	default:
		return strings.ToLower(strings.TrimSpace(l))
	}
}

// repoRoleOf turns a collaborator answer's role_name (read, write, triage,
// maintain, admin or a custom role) into a permission level.
func repoRoleOf(roleName, permission string) string {
	if roleName != "" {
		if l := normalizeRepoLevel(roleName); repoLevels[l] > 0 {
			return l
		}
	}
	return normalizeRepoLevel(permission)
}
