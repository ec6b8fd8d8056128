package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// APIError is an error answer of an AWS JSON-protocol service: the error
// code (the shape name, e.g. ThrottlingException) from x-amzn-ErrorType or
// the body's __type, and its message. It sits inside a gatehouse
// ConnectorError; callers branch on Code with errors.As.
type APIError struct {
	Op      string
	Status  int
	Code    string
	Message string
	// Reason is the exception's Reason member where the service sends one
	// (ConflictException: UNIQUENESS_CONSTRAINT_VIOLATION, CONCURRENT_MODIFICATION).
	Reason string
}

func (e *APIError) Error() string {
	msg := e.Op + ": HTTP " + strconv.Itoa(e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// maxRetryAfter caps what a server may ask us to wait.
const maxRetryAfter = time.Hour

// parseError reads an AWS JSON error answer. It never panics on hostile
// input (see FuzzParseError) and always returns an APIError, with the code
// empty when neither the header nor the body names one.
func parseError(op string, status int, header http.Header, body []byte) (*APIError, time.Duration) {
	e := &APIError{Op: op, Status: status}
	var retry time.Duration
	if header != nil {
		e.Code = errorCode(header.Get("X-Amzn-Errortype"))
		if v := strings.TrimSpace(header.Get("Retry-After")); v != "" {
			if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
				retry = boundWait(secs)
			}
		}
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(body)))
	dec.UseNumber()
	if dec.Decode(&m) == nil {
		if e.Code == "" {
			if s, ok := m["__type"].(string); ok {
				e.Code = errorCode(s)
			} else if s, ok := m["code"].(string); ok {
				e.Code = errorCode(s)
			}
		}
		for _, k := range []string{"message", "Message", "errorMessage"} {
			if s, ok := m[k].(string); ok && s != "" {
				e.Message = httpx.Clip(s, 400)
				break
			}
		}
		if s, ok := m["Reason"].(string); ok {
			e.Reason = httpx.Clip(s, 64)
		}
		if n, ok := m["RetryAfterSeconds"].(json.Number); ok {
			if secs, err := n.Float64(); err == nil && secs >= 0 {
				retry = boundWait(secs)
			}
		}
	} else if t := bytes.TrimSpace(body); len(t) > 0 {
		e.Message = httpx.Clip(strings.Join(strings.Fields(strings.ToValidUTF8(string(t), "?")), " "), 200)
	}
	return e, retry
}

func boundWait(secs float64) time.Duration {
	if secs > maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(secs * float64(time.Second))
}

// errorCode strips the namespace ("com.amazonaws.identitystore#") and the
// documentation URL suffix (":http://internal.amazon.com/…") AWS adds to
// error type names.
func errorCode(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return httpx.Clip(s, 100)
}

// classify turns an AWS error answer into a gatehouse error class.
func classify(e *APIError, retry time.Duration) error {
	switch e.Code {
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded":
		return gatehouse.RateLimited(retry, e)
	case "ResourceNotFoundException":
		return gatehouse.NotFound(e)
	case "InternalServerException", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException":
		return &gatehouse.ConnectorError{Class: gatehouse.ClassRetryable, RetryAfter: retry, Err: e}
	case "ServiceQuotaExceededException", "AccessDeniedException", "ValidationException", "ConflictException",
		"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature", "MissingAuthenticationToken",
		"ExpiredTokenException", "InvalidClientTokenId", "SerializationException", "UnknownOperationException":
		return gatehouse.Permanent(e)
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return gatehouse.RateLimited(retry, e)
	case e.Status >= 500:
		return &gatehouse.ConnectorError{Class: gatehouse.ClassRetryable, RetryAfter: retry, Err: e}
	case e.Status == http.StatusNotFound:
		return gatehouse.NotFound(e)
	}
	return gatehouse.Permanent(e)
}

// codeOf returns the AWS error code in err's chain, or "".
func codeOf(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
