package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse"
)

// StatusError is an HTTP answer that was not a success. It sits inside a
// gatehouse.ConnectorError, so callers get the class from gatehouse.Classify
// and the status and SCIM error type from errors.As.
type StatusError struct {
	Method  string
	URL     string // without query string
	Status  int
	Message string // concise, extracted from the body when possible
	// ScimType is the SCIM "scimType" (uniqueness, noTarget, invalidValue…), if any.
	ScimType string
}

func (e *StatusError) Error() string {
	var b strings.Builder
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.URL + ": ")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.ScimType != "" {
		b.WriteString(" (" + e.ScimType + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// StatusOf returns the HTTP status of err's StatusError, or 0.
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// ScimTypeOf returns the SCIM error type carried by err, or "".
func ScimTypeOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.ScimType
	}
	return ""
}

// ParseResponse classifies one HTTP response. For a success it returns the
// decoded JSON body (nil when the body is empty). Everything else is an error
// of a gatehouse class:
//
//   - 429, and 403 with an exhausted X-RateLimit-Remaining (GitHub's style),
//     → RateLimited with the wait from Retry-After or the reset headers;
//   - 5xx (but 501), 408, 425 → Retryable;
//   - 404, 410 → NotFound;
//   - other 4xx, 501, unexpected 3xx → Permanent with a message from the body;
//   - 2xx with an HTML page, invalid or truncated JSON, or a JSON error body
//     (`{"ok":false,…}`, `{"errors":[…]}`, a SCIM Error) → classified error,
//     never a false success.
//
// allowText accepts a 2xx body that is not JSON (returned as a string).
// ParseResponse never panics on hostile input; it is fuzzed.
func ParseResponse(status int, header http.Header, body []byte, now time.Time, allowText bool) (any, error) {
	if header == nil {
		header = http.Header{}
	}
	switch {
	case status >= 200 && status < 300:
		return parseSuccess(status, header, body, allowText)
	case status == http.StatusTooManyRequests:
		return nil, gatehouse.RateLimited(retryAfter(header, now), errorFor(status, header, body))
	case status == http.StatusForbidden && header.Get("X-RateLimit-Remaining") == "0":
		return nil, gatehouse.RateLimited(retryAfter(header, now), errorFor(status, header, body))
	case status == http.StatusNotFound || status == http.StatusGone:
		return nil, gatehouse.NotFound(errorFor(status, header, body))
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly:
		return nil, gatehouse.Retryable(errorFor(status, header, body))
	case status == http.StatusNotImplemented:
		return nil, gatehouse.Permanent(errorFor(status, header, body))
	case status >= 500 && status < 600:
		return nil, &gatehouse.ConnectorError{Class: gatehouse.ClassRetryable, RetryAfter: retryAfter(http.Header{"Retry-After": header.Values("Retry-After")}, now), Err: errorFor(status, header, body)}
	case status >= 300 && status < 500:
		return nil, gatehouse.Permanent(errorFor(status, header, body))
	}
	// 1xx that reached us, or a status outside HTTP's range: a broken peer.
	return nil, gatehouse.Retryable(&StatusError{Status: status, Message: "unexpected HTTP status"})
}

func parseSuccess(status int, header http.Header, body []byte, allowText bool) (any, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if looksHTML(header, trimmed) {
		// A proxy, a captive portal or an SSO login page answered instead of the
		// API: the operation did not happen, and it may work later.
		return nil, gatehouse.Retryable(&StatusError{Status: status, Message: "got an HTML page instead of an API response" + htmlTitle(trimmed)})
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	err := dec.Decode(&v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after JSON value")
	}
	if err != nil {
		if allowText && !isJSONType(header) && utf8.Valid(trimmed) {
			return string(trimmed), nil
		}
		ct := header.Get("Content-Type")
		if ct != "" && !isJSONType(header) {
			return nil, gatehouse.Retryable(&StatusError{Status: status, Message: fmt.Sprintf("unexpected content type %q: %s", ct, snippet(trimmed))})
		}
		// Truncated bodies come from dropped connections: worth another try.
		return nil, gatehouse.Retryable(&StatusError{Status: status, Message: "invalid JSON in response: " + err.Error()})
	}
	if msg, class, ok := errorInSuccess(v); ok {
		se := &StatusError{Status: status, Message: msg}
		if class == gatehouse.ClassRateLimited {
			return nil, gatehouse.RateLimited(0, se)
		}
		return nil, gatehouse.Permanent(se)
	}
	return v, nil
}

// errorInSuccess detects error bodies sent with a 2xx status: Slack's
// {"ok":false,"error":"…"}, GraphQL's and JSON:API's {"errors":[…]} without
// data, {"success":false}, and a SCIM Error resource.
func errorInSuccess(v any) (string, gatehouse.ErrorClass, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", 0, false
	}
	if okv, present := m["ok"]; present {
		if b, isBool := okv.(bool); isBool && !b {
			msg := messageFrom(m)
			if msg == "" {
				msg = `"ok": false`
			}
			if strings.Contains(msg, "ratelimited") || strings.Contains(msg, "rate_limited") {
				return msg, gatehouse.ClassRateLimited, true
			}
			return msg, gatehouse.ClassPermanent, true
		}
	}
	if sv, present := m["success"]; present {
		if b, isBool := sv.(bool); isBool && !b {
			msg := messageFrom(m)
			if msg == "" {
				msg = `"success": false`
			}
			return msg, gatehouse.ClassPermanent, true
		}
	}
	if errs, present := m["errors"]; present {
		if list, isList := errs.([]any); isList && len(list) > 0 {
			if d, hasData := m["data"]; !hasData || d == nil {
				return messageFrom(m), gatehouse.ClassPermanent, true
			}
		}
	}
	if schemas, ok := m["schemas"].([]any); ok {
		for _, s := range schemas {
			if s == "urn:ietf:params:scim:api:messages:2.0:Error" {
				return messageFrom(m), gatehouse.ClassPermanent, true
			}
		}
	}
	return "", 0, false
}

func isJSONType(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func looksHTML(h http.Header, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
		return true
	}
	head := body
	if len(head) > 64 {
		head = head[:64]
	}
	lower := bytes.ToLower(head)
	return bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html")) ||
		bytes.HasPrefix(lower, []byte("<head")) || bytes.HasPrefix(lower, []byte("<body"))
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

func htmlTitle(body []byte) string {
	m := titleRE.FindSubmatch(body)
	if m == nil {
		return ""
	}
	t := strings.Join(strings.Fields(string(m[1])), " ")
	if t == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", Clip(t, 120))
}

// errorFor builds the StatusError of a non-2xx response with a concise message.
func errorFor(status int, header http.Header, body []byte) *StatusError {
	se := &StatusError{Status: status}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		se.Message = http.StatusText(status)
		return se
	}
	if looksHTML(header, trimmed) {
		se.Message = "HTML error page" + htmlTitle(trimmed)
		return se
	}
	var v any
	if err := json.Unmarshal(trimmed, &v); err == nil {
		if m, ok := v.(map[string]any); ok {
			se.Message = messageFrom(m)
			if st, ok := m["scimType"].(string); ok {
				se.ScimType = Clip(st, 64)
			}
		}
		if se.Message == "" {
			se.Message = snippet(trimmed)
		}
		return se
	}
	se.Message = snippet(trimmed)
	return se
}

// messageFrom extracts a human message from the common error body shapes.
func messageFrom(m map[string]any) string {
	for _, k := range []string{"detail", "message", "error_description", "errorSummary", "error", "title", "msg", "description"} {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return Clip(v, 300)
			}
		case map[string]any:
			if s := messageFrom(v); s != "" {
				return s
			}
		}
	}
	if errs, ok := m["errors"].([]any); ok {
		var parts []string
		for _, e := range errs {
			switch ev := e.(type) {
			case string:
				parts = append(parts, ev)
			case map[string]any:
				if s := messageFrom(ev); s != "" {
					parts = append(parts, s)
				}
			}
			if len(parts) == 3 {
				break
			}
		}
		return Clip(strings.Join(parts, "; "), 300)
	}
	return ""
}

func snippet(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return Clip(strings.Join(strings.Fields(s), " "), 200)
}

// Clip shortens s to at most n bytes plus "…", cutting at a rune boundary
// so that a clipped vendor message stays valid UTF-8. Connectors use it to
// bound what a vendor's answer puts into an error.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxWait caps what a server may ask us to wait: a bogus reset far in the
// future must not park a step for days.
const maxWait = 24 * time.Hour

// RetryAfter reads the Retry-After header alone: delay seconds (fractions
// allowed) or an HTTP date, as a wait within [0, 24h]; 0 when it is absent,
// unreadable or absurd. Connectors that classify a vendor's own rate-limit
// answers (a 403 or a 200 with ok:false) use it so every connector reads
// the header by one rule.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	d, _ := retryAfterHeader(h, now)
	return d
}

// retryAfterHeader is RetryAfter, with ok false when the header gave no
// usable wait (so that the reset headers are read instead).
func retryAfterHeader(h http.Header, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && secs < maxWait.Seconds() {
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return bound(t.Sub(now)), true
	}
	return 0, false
}

// retryAfter reads how long to wait from Retry-After (seconds or an HTTP
// date), the IETF RateLimit-Reset (seconds), or X-RateLimit-Reset /
// X-Rate-Limit-Reset (GitHub's and Okta's epoch seconds, or seconds when small).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := retryAfterHeader(h, now); ok {
		return d
	}
	for _, k := range []string{"RateLimit-Reset", "X-RateLimit-Reset", "X-Rate-Limit-Reset"} {
		v := strings.TrimSpace(h.Get(k))
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || n > 1e13 {
			continue
		}
		if n > 1e9 { // an epoch timestamp
			if n > 1e12 { // in milliseconds
				n /= 1000
			}
			return bound(time.Unix(int64(n), 0).Sub(now))
		}
		return bound(time.Duration(n * float64(time.Second)))
	}
	return 0
}

func bound(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return min(d, maxWait)
}
