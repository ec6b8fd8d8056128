package httpx

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

const redactedText = "[redacted]"

// sensitiveName reports whether a header, query parameter or JSON field name
// usually carries a credential.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"authorization", "cookie", "password", "passwd", "secret", "token", "api-key", "api_key", "apikey", "application-key", "session", "credential", "private"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return n == "key" || strings.HasSuffix(n, "-key") || strings.HasSuffix(n, "_key")
}

// redactor hides credentials in what is logged or recorded: by name (headers,
// query parameters, JSON and form fields) and by value (every secret this
// client knows, wherever it appears, e.g. echoed back in an error body).
type redactor struct {
	mu     sync.RWMutex
	values []string
	names  map[string]bool // extra header names configured as secret
}

func (r *redactor) add(v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, v)
}

func (r *redactor) text(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range r.values {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, redactedText)
		}
	}
	return s
}

func (r *redactor) header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if sensitiveName(k) || r.names[http.CanonicalHeaderKey(k)] {
			out[k] = []string{redactedText}
			continue
		}
		cp := make([]string, len(vs))
		for i, v := range vs {
			cp[i] = r.text(v)
		}
		out[k] = cp
	}
	return out
}

func (r *redactor) url(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return r.text(raw)
	}
	u.User = nil
	q := u.Query()
	changed := false
	for k := range q {
		if sensitiveName(k) {
			q[k] = []string{redactedText}
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return r.text(u.String())
}

// body redacts a JSON or form body; anything else only by known values.
func (r *redactor) body(b []byte, contentType string) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxRecordedBody {
		b = b[:maxRecordedBody]
	}
	var v any
	if err := json.Unmarshal(b, &v); err == nil {
		out, err := json.Marshal(redactJSON(v))
		if err == nil {
			return r.text(string(out))
		}
	}
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		if q, err := url.ParseQuery(string(b)); err == nil {
			for k := range q {
				if sensitiveName(k) {
					q[k] = []string{redactedText}
				}
			}
			return r.text(q.Encode())
		}
	}
	return r.text(string(b))
}

// maxRecordedBody bounds what a recording or log line keeps of a body.
const maxRecordedBody = 64 << 10

func redactJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if sensitiveName(k) {
				t[k] = redactedText
				continue
			}
			t[k] = redactJSON(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = redactJSON(e)
		}
		return t
	}
	return v
}
