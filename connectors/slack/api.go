package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// APIError is a Web API answer with "ok": false. It sits inside a
// gatehouse.ConnectorError; callers branch on Code (CodeOf).
type APIError struct {
	Method string
	Code   string // Slack's error code: not_in_channel, missing_scope, …
	// Needed and Provided are the scopes a missing_scope answer names.
	Needed, Provided string
	Warnings         []string
}

func (e *APIError) Error() string {
	s := e.Method + ": " + e.Code
	if e.Code == "missing_scope" {
		s += fmt.Sprintf(" (the token needs scope %q; it has %q)", e.Needed, e.Provided)
	}
	return s
}

// CodeOf returns the Slack error code in err's chain, or "".
func CodeOf(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// envelope is what every Web API answer carries.
type envelope struct {
	OK       *bool  `json:"ok"`
	Error    string `json:"error"`
	Needed   string `json:"needed"`
	Provided string `json:"provided"`
	Meta     struct {
		NextCursor string   `json:"next_cursor"`
		Messages   []string `json:"messages"`
		Warnings   []string `json:"warnings"`
	} `json:"response_metadata"`
}

// decodeEnvelope reads a Web API answer's envelope. It returns the
// classified error of an "ok": false answer, an error for a body that is
// not a Web API answer at all, and nil for a success. It never panics on
// hostile input (FuzzDecodeEnvelope).
func decodeEnvelope(method string, header http.Header, body []byte) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		// A truncated answer or a proxy's page: the call may not have happened.
		return env, gatehouse.Retryable(fmt.Errorf("%s: answer is not a Slack Web API response: %v", method, err))
	}
	if env.OK == nil {
		return env, gatehouse.Retryable(fmt.Errorf("%s: answer has no \"ok\" field", method))
	}
	if *env.OK {
		return env, nil
	}
	code := env.Error
	if code == "" {
		code = "unknown_error"
	}
	if len(code) > 100 {
		code = code[:100]
	}
	ae := &APIError{Method: method, Code: code, Needed: clip(env.Needed), Provided: clip(env.Provided), Warnings: env.Meta.Warnings}
	return env, classifyCode(ae, header)
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}

// classifyCode maps Slack's error codes to gatehouse classes. Codes not
// listed are permanent: Slack documents them as caller errors.
func classifyCode(ae *APIError, header http.Header) error {
	switch ae.Code {
	case "ratelimited", "rate_limited":
		return gatehouse.RateLimited(httpx.RetryAfter(header, time.Now()), ae)
	case "user_not_found", "users_not_found", "not_found":
		return gatehouse.NotFound(ae)
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org":
		return gatehouse.Retryable(ae)
	}
	return gatehouse.Permanent(ae)
}

// call invokes one Web API method with form-encoded arguments (every method
// accepts them) and decodes the answer into out.
func (c *Connector) call(ctx context.Context, cl *httpx.Client, method string, args url.Values, out any) (http.Header, error) {
	if cl == nil {
		return nil, gatehouse.Permanent(fmt.Errorf("%s needs settings.user_token (an admin user token)", method))
	}
	resp, err := cl.Do(ctx, httpx.Request{Method: http.MethodPost, Path: "/" + method, Body: []byte(args.Encode()),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if resp != nil && resp.Status == http.StatusOK && len(resp.Body) > 0 {
		// Slack answers errors with HTTP 200 and "ok": false; read the code
		// ourselves rather than trust a generic classification.
		if _, eerr := decodeEnvelope(method, resp.Header, resp.Body); eerr != nil {
			return resp.Header, eerr
		}
		if err == nil && out != nil {
			if uerr := json.Unmarshal(resp.Body, out); uerr != nil {
				return resp.Header, gatehouse.Retryable(fmt.Errorf("%s: decode answer: %v", method, uerr))
			}
		}
	}
	if err != nil {
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		return h, err
	}
	return resp.Header, nil
}

// paged calls a cursor-paged method until next_cursor is empty. each gets
// every page's raw body.
func (c *Connector) paged(ctx context.Context, cl *httpx.Client, method string, args url.Values, each func(body []byte) error) error {
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page >= c.maxPages {
			return gatehouse.Permanent(fmt.Errorf("%s: more than %d pages; raise settings.max_pages", method, c.maxPages))
		}
		a := url.Values{}
		for k, v := range args {
			a[k] = v
		}
		a.Set("limit", strconv.Itoa(c.pageSize))
		if cursor != "" {
			a.Set("cursor", cursor)
		}
		var raw json.RawMessage
		if _, err := c.call(ctx, cl, method, a, &raw); err != nil {
			return err
		}
		if err := each(raw); err != nil {
			return err
		}
		var env envelope
		_ = json.Unmarshal(raw, &env)
		cursor = env.Meta.NextCursor
		if cursor == "" {
			return nil
		}
		if seen[cursor] {
			return gatehouse.Retryable(fmt.Errorf("%s: the server repeated cursor %q", method, clip(cursor)))
		}
		seen[cursor] = true
	}
}
