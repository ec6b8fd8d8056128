package hr

import (
	"bytes"
	"net/http"
)

// Observer is told the outcome of every webhook delivery, for metrics.
// vendor is the source's configured vendor (one of config.HRVendors, or
// "unknown" for a path no source serves); outcome is one of the Outcome
// constants. Both are bounded sets: no delivery id or address is reported.
type Observer interface {
	WebhookDelivered(vendor, outcome string)
}

// Webhook delivery outcomes reported to the Observer.
const (
	OutcomeAccepted     = "accepted"     // recorded, 202
	OutcomeDuplicate    = "duplicate"    // seen before, 200
	OutcomePing         = "ping"         // a vendor's test delivery, 200
	OutcomeUnauthorized = "unauthorized" // bad or missing signature, replay, 401/403
	OutcomeInvalid      = "invalid"      // malformed body or method, 4xx
	OutcomeTooLarge     = "too_large"    // over hr.body_limit, 413
	OutcomeUnavailable  = "unavailable"  // not recorded in time, 503: the vendor retries
	OutcomeUnknownPath  = "unknown_path" // no source on this path, 404
	OutcomeError        = "error"        // anything else
)

// ServeHTTP verifies, records and acknowledges one webhook delivery (see
// serveHTTP) and reports its outcome to the Observer.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.obs == nil {
		s.serveHTTP(w, r)
		return
	}
	vendor := "unknown"
	if src, ok := s.byPath[r.URL.Path]; ok {
		vendor = src.cfg().Vendor
	}
	sw := &statusWriter{ResponseWriter: w}
	s.serveHTTP(sw, r)
	s.obs.WebhookDelivered(vendor, outcomeOf(sw.code, sw.head))
}

// outcomeOf maps the answer given to an outcome. The 200 answers differ
// only in their JSON body ({"status":"duplicate"} or {"status":"ok"}).
func outcomeOf(code int, head []byte) string {
	switch {
	case code == http.StatusAccepted:
		return OutcomeAccepted
	case code == http.StatusOK && bytes.Contains(head, []byte(`"duplicate"`)):
		return OutcomeDuplicate
	case code == http.StatusOK:
		return OutcomePing
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return OutcomeUnauthorized
	case code == http.StatusRequestEntityTooLarge:
		return OutcomeTooLarge
	case code == http.StatusServiceUnavailable:
		return OutcomeUnavailable
	case code == http.StatusNotFound:
		return OutcomeUnknownPath
	case code >= 400 && code < 500:
		return OutcomeInvalid
	}
	return OutcomeError
}

// statusWriter remembers the status code and the first bytes of the body.
type statusWriter struct {
	http.ResponseWriter
	code int
	head []byte
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if n := 64 - len(w.head); n > 0 {
		w.head = append(w.head, p[:min(n, len(p))]...)
	}
	return w.ResponseWriter.Write(p)
}
