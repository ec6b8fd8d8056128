package google

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// APIError is a Google API error answer:
// {"error":{"code":403,"message":"…","errors":[{"reason":"rateLimitExceeded",…}]}}.
type APIError struct {
	Method  string
	Path    string
	Status  int
	Message string
	Reasons []string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if len(e.Reasons) > 0 {
		s += " (" + strings.Join(e.Reasons, ", ") + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// HasReason reports whether Google gave reason r.
func (e *APIError) HasReason(r string) bool {
	for _, x := range e.Reasons {
		if x == r {
			return true
		}
	}
	return false
}

// googleError is the wire shape of an error body.
type googleError struct {
	Error *struct {
		Code    json.Number `json:"code"`
		Message string      `json:"message"`
		Status  string      `json:"status"`
		Errors  []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
			Domain  string `json:"domain"`
		} `json:"errors"`
	} `json:"error"`
}

// ParseError extracts message and reasons from a Google error body. It
// accepts anything (hostile input): a body that is not Google's shape
// yields ok=false, never a panic.
func ParseError(body []byte) (message string, reasons []string, ok bool) {
	var ge googleError
	if err := json.Unmarshal(bytes.TrimSpace(body), &ge); err != nil || ge.Error == nil {
		return "", nil, false
	}
	message = httpx.Clip(strings.ToValidUTF8(ge.Error.Message, "?"), 300)
	for _, e := range ge.Error.Errors {
		if e.Reason != "" && len(reasons) < 5 {
			reasons = append(reasons, httpx.Clip(strings.ToValidUTF8(e.Reason, "?"), 64))
		}
		if message == "" && e.Message != "" {
			message = httpx.Clip(strings.ToValidUTF8(e.Message, "?"), 300)
		}
	}
	if message == "" && ge.Error.Status != "" {
		message = httpx.Clip(strings.ToValidUTF8(ge.Error.Status, "?"), 64)
	}
	return message, reasons, true
}

// defaultBackoff is the wait suggested for a rate limit without Retry-After:
// Google's per-user quotas refill per minute, so a shorter wait is futile.
const defaultBackoff = 30 * time.Second

var rateReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true, "quotaExceeded": true, "dailyLimitExceeded": true}

// classify turns a failed httpx answer into a classified APIError. Answers
// that never arrived (transport errors, cancellation) keep httpx's class.
func classify(method, path string, resp *httpx.Response, err error) error {
	if resp == nil {
		return err
	}
	ae := &APIError{Method: method, Path: path, Status: resp.Status}
	msg, reasons, ok := ParseError(resp.Body)
	if ok {
		ae.Message, ae.Reasons = msg, reasons
	} else {
		var se *httpx.StatusError
		if errors.As(err, &se) {
			ae.Message = se.Message
		}
	}
	rate := resp.Status == 429
	backend := resp.Status >= 500
	for _, r := range ae.Reasons {
		rate = rate || rateReasons[r]
		backend = backend || r == "backendError" || r == "internalError"
	}
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		// A 2xx that httpx refused (HTML page, broken JSON): keep its class.
		return err
	case rate:
		after := gatehouse.RetryAfterOf(err)
		if after == 0 {
			// httpx reads Retry-After for 429 only; Google's 403 rate limits may carry it too.
			after = httpx.RetryAfter(resp.Header, time.Now())
		}
		if after == 0 {
			after = defaultBackoff
		}
		return gatehouse.RateLimited(after, ae)
	case resp.Status == 404:
		return gatehouse.NotFound(ae)
	case backend:
		return &gatehouse.ConnectorError{Class: gatehouse.ClassRetryable, RetryAfter: gatehouse.RetryAfterOf(err), Err: ae}
	case resp.Status == 401:
		return gatehouse.Permanent(fmt.Errorf("%w (the access token was refused twice)", ae))
	case resp.Status == 403 && (ae.HasReason("insufficientPermissions") || ae.HasReason("forbidden")):
		return gatehouse.Permanent(fmt.Errorf("%w (check the delegated scopes and the subject's admin role; `gatehouse apps check` names missing scopes)", ae))
	}
	return gatehouse.Permanent(ae)
}

// isConflict reports a 409 (Google's "Entity already exists." or
// "Member already exists.", reason duplicate).
func isConflict(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == 409
}
