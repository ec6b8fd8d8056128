// Package httpx is the HTTP layer every HTTP connector shares: a resty client
// with timeouts, a per-app User-Agent, authentication (bearer, basic, API-key
// headers, OAuth2 client credentials with a cached token), a bounded response
// body, and the classification of every answer into gatehouse error classes.
//
// httpx never retries: the lifecycle executor owns retries and backoff and
// needs to see each failure with its class. The one exception is an OAuth2
// token refresh after a 401, which is not a retry of the operation but a
// renewal of the credential.
//
// Requests and responses are logged at debug level with credentials redacted;
// with Options.Debug every exchange is also kept (redacted) for inspection.
package httpx

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/go-resty/resty/v2"
	"github.com/rs/zerolog"
)

// Auth configures how requests authenticate. It is decoded from connector
// settings (`auth:` blocks), so its fields carry yaml tags.
type Auth struct {
	// Type is none, bearer, basic, api_key or oauth2.
	Type string `yaml:"type"`
	// Token is the bearer token.
	Token config.Secret `yaml:"token"`
	// Username and Password are for basic auth.
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// Header, Prefix and Key are for api_key: the header is set to Prefix+Key,
	// e.g. header Authorization, prefix "Token token=" (PagerDuty).
	Header string        `yaml:"header"`
	Prefix string        `yaml:"prefix"`
	Key    config.Secret `yaml:"key"`
	// Headers are further secret headers sent with every request (Datadog
	// wants DD-API-KEY and DD-APPLICATION-KEY together).
	Headers map[string]config.Secret `yaml:"headers"`
	// OAuth2 client credentials.
	TokenURL     string        `yaml:"token_url"`
	ClientID     string        `yaml:"client_id"`
	ClientSecret config.Secret `yaml:"client_secret"`
	Scopes       []string      `yaml:"scopes"`
	// ClientAuth is "header" (HTTP basic, the default) or "body" (client_id
	// and client_secret as form fields), as RFC 6749 section 2.3.1 allows.
	ClientAuth string `yaml:"client_auth"`
	// TokenParams are extra form fields for the token request (e.g. Zoom's
	// account_id).
	TokenParams map[string]string `yaml:"token_params"`
}

// Validate reports configuration mistakes in a, located under key.
func (a *Auth) Validate(pos config.Pos, key string, errs *config.ErrorList) {
	need := func(ok bool, field, why string) {
		if !ok {
			errs.Add(pos, key+"."+field, "%s", why)
		}
	}
	switch a.Type {
	case "", "none":
	case "bearer":
		need(a.Token.IsSet(), "token", "bearer auth needs a token")
	case "basic":
		need(a.Username != "", "username", "basic auth needs a username")
		need(a.Password.IsSet(), "password", "basic auth needs a password")
	case "api_key":
		need(a.Key.IsSet() || len(a.Headers) > 0, "key", "api_key auth needs a key (or headers)")
		need(a.Header != "" || !a.Key.IsSet(), "header", "api_key auth needs the header name the key goes in")
	case "oauth2":
		need(a.TokenURL != "", "token_url", "oauth2 needs token_url")
		need(a.ClientID != "", "client_id", "oauth2 needs client_id")
		need(a.ClientSecret.IsSet(), "client_secret", "oauth2 needs client_secret")
		if a.TokenURL != "" {
			if u, err := url.Parse(a.TokenURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				errs.Add(pos, key+".token_url", "token_url %q is not an http(s) URL", a.TokenURL)
			}
		}
		if a.ClientAuth != "" && a.ClientAuth != "header" && a.ClientAuth != "body" {
			errs.Add(pos, key+".client_auth", "client_auth must be header or body, not %q", a.ClientAuth)
		}
	default:
		errs.Add(pos, key+".type", "auth type %q is not one of none, bearer, basic, api_key, oauth2", a.Type)
	}
}

// Options configure a Client.
type Options struct {
	// BaseURL is prefixed to relative request paths.
	BaseURL string
	// App is the configured app name (for the User-Agent and logs).
	App string
	// UserAgent is "gatehouse/VERSION"; the app name is appended.
	UserAgent string
	// Timeout bounds a whole request (default 30 s); ConnectTimeout the TCP
	// and TLS setup (default 10 s).
	Timeout        time.Duration
	ConnectTimeout time.Duration
	Auth           Auth
	// Headers are sent with every request.
	Headers map[string]string
	// MaxBody bounds a response body (default 10 MiB).
	MaxBody int64
	Logger  zerolog.Logger
	// Debug keeps a redacted recording of every exchange (see Recording).
	Debug bool
	// Now is the clock for Retry-After dates and token expiry.
	Now func() time.Time
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
}

// DefaultMaxBody bounds response bodies: an access API never needs more, and a
// hostile or broken server must not exhaust memory.
const DefaultMaxBody = 10 << 20

// Client sends requests to one app. It is safe for concurrent use.
type Client struct {
	rc    *resty.Client
	opts  Options
	base  *url.URL
	red   *redactor
	log   zerolog.Logger
	now   func() time.Time
	oauth *tokenSource

	mu  sync.Mutex
	rec []Exchange
}

// Exchange is one recorded request and response, redacted.
type Exchange struct {
	Time           time.Time
	Method         string
	URL            string
	RequestHeader  http.Header
	RequestBody    string
	Status         int
	ResponseHeader http.Header
	ResponseBody   string
	Duration       time.Duration
	Err            string
}

// maxRecorded bounds the recording so a long-running debug session does not grow without end.
const maxRecorded = 2000

// New builds a client. Secrets are resolved here so that a missing
// credential is reported once, clearly, when the connector is built.
func New(opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var base *url.URL
	if opts.BaseURL != "" {
		u, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("base URL %q is not an http(s) URL", opts.BaseURL)
		}
		base = u
	}
	c := &Client{opts: opts, base: base, red: &redactor{names: map[string]bool{}}, now: now,
		log: opts.Logger.With().Str("app", opts.App).Logger()}

	transport := opts.Transport
	if transport == nil {
		dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
		transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   opts.ConnectTimeout,
			ResponseHeaderTimeout: opts.Timeout,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "gatehouse/dev"
	}
	if opts.App != "" {
		ua += " (+app " + opts.App + ")"
	}
	rc := resty.New().
		SetTransport(transport).
		SetTimeout(opts.Timeout).
		SetRetryCount(0).
		SetResponseBodyLimit(int(opts.MaxBody)).
		SetLogger(discardLogger{}).
		SetDisableWarn(true).
		SetRedirectPolicy(sameHostRedirects{}).
		SetHeader("User-Agent", ua).
		SetHeader("Accept", "application/json")
	if base != nil {
		rc.SetBaseURL(base.String())
	}
	for k, v := range opts.Headers {
		rc.SetHeader(k, v)
	}
	if err := c.setAuth(rc); err != nil {
		return nil, err
	}
	c.rc = rc
	return c, nil
}

func (c *Client) setAuth(rc *resty.Client) error {
	a := c.opts.Auth
	secret := func(s config.Secret, what string) (string, error) {
		v, err := s.Value()
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		c.red.add(v)
		return v, nil
	}
	for h, s := range a.Headers {
		v, err := secret(s, "auth header "+h)
		if err != nil {
			return err
		}
		c.red.names[http.CanonicalHeaderKey(h)] = true
		rc.SetHeader(h, v)
	}
	switch a.Type {
	case "", "none":
	case "bearer":
		v, err := secret(a.Token, "bearer token")
		if err != nil {
			return err
		}
		rc.SetAuthToken(v)
	case "basic":
		v, err := secret(a.Password, "basic auth password")
		if err != nil {
			return err
		}
		rc.SetBasicAuth(a.Username, v)
		// The encoded pair is as secret as the password, should a server echo it.
		c.red.add(base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + v)))
	case "api_key":
		if a.Key.IsSet() {
			v, err := secret(a.Key, "api key")
			if err != nil {
				return err
			}
			c.red.names[http.CanonicalHeaderKey(a.Header)] = true
			rc.SetHeader(a.Header, a.Prefix+v)
		}
	case "oauth2":
		v, err := secret(a.ClientSecret, "oauth2 client secret")
		if err != nil {
			return err
		}
		c.oauth = &tokenSource{c: c, secret: v}
	default:
		return fmt.Errorf("auth type %q is not supported", a.Type)
	}
	return nil
}

// Request is one API call.
type Request struct {
	Method string
	// Path is relative to the base URL, or an absolute URL on the same host
	// (next-page links). Credentials are never sent to another host.
	Path   string
	Query  url.Values
	Header map[string]string
	// Body is sent as is when []byte, else encoded as JSON.
	Body any
	// AllowText accepts a 2xx body that is not JSON.
	AllowText bool
}

// Response is a classified successful answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// JSON is the decoded body (json.Number for numbers), nil when empty.
	JSON any
}

// Do sends req and classifies the answer. A non-nil error always carries a
// gatehouse class; the Response is returned alongside errors that came from
// an HTTP answer, so callers can inspect status and headers.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	resp, err := c.do(ctx, req)
	if err != nil && c.oauth != nil && StatusOf(err) == http.StatusUnauthorized {
		// The cached token may have been revoked or expired early: renew it
		// once and repeat the request.
		c.oauth.invalidate()
		resp, err = c.do(ctx, req)
	}
	return resp, err
}

func (c *Client) do(ctx context.Context, req Request) (*Response, error) {
	target, err := c.resolve(req.Path)
	if err != nil {
		return nil, gatehouse.Permanent(err)
	}
	r := c.rc.R().SetContext(ctx)
	if c.oauth != nil {
		tok, err := c.oauth.token(ctx)
		if err != nil {
			return nil, err
		}
		r.SetAuthToken(tok)
	}
	for k, v := range req.Header {
		r.SetHeader(k, v)
	}
	if len(req.Query) > 0 {
		r.SetQueryParamsFromValues(req.Query)
	}
	var bodyBytes []byte
	if req.Body != nil {
		switch b := req.Body.(type) {
		case []byte:
			bodyBytes = b
		case string:
			bodyBytes = []byte(b)
		default:
			bodyBytes, err = json.Marshal(b)
			if err != nil {
				return nil, gatehouse.Permanent(fmt.Errorf("encode request body: %w", err))
			}
		}
		r.SetBody(bodyBytes)
		if _, ok := req.Header["Content-Type"]; !ok {
			r.SetHeader("Content-Type", "application/json")
		}
	}
	method := strings.ToUpper(req.Method)
	start, clock := c.now(), time.Now()
	res, sendErr := r.Execute(method, target)
	ex := Exchange{Time: start, Method: method, URL: c.red.url(fullURL(target, req.Query)), Duration: time.Since(clock)}
	if res != nil && res.Request != nil && res.Request.RawRequest != nil {
		ex.RequestHeader = c.red.header(res.Request.RawRequest.Header)
	}
	ex.RequestBody = c.red.body(bodyBytes, r.Header.Get("Content-Type"))
	if sendErr != nil {
		cerr := c.transportError(method, target, sendErr)
		ex.Err = c.red.text(cerr.Error())
		c.record(ex)
		return nil, cerr
	}
	body := res.Body()
	out := &Response{Status: res.StatusCode(), Header: res.Header(), Body: body}
	ex.Status, ex.ResponseHeader = out.Status, c.red.header(out.Header)
	ex.ResponseBody = c.red.body(body, out.Header.Get("Content-Type"))
	v, perr := ParseResponse(out.Status, out.Header, body, c.now(), req.AllowText)
	if perr != nil {
		var se *StatusError
		if errors.As(perr, &se) {
			se.Method, se.URL = method, c.red.url(stripQuery(target))
			se.Message = c.red.text(se.Message)
		}
		ex.Err = perr.Error()
		c.record(ex)
		return out, perr
	}
	out.JSON = v
	c.record(ex)
	return out, nil
}

func (c *Client) record(ex Exchange) {
	ev := c.log.Debug().Str("method", ex.Method).Str("url", ex.URL).Int("status", ex.Status).Dur("took", ex.Duration)
	if ex.Err != "" {
		ev = ev.Str("error", ex.Err)
	}
	if c.opts.Debug {
		ev = ev.Str("request_body", Clip(ex.RequestBody, 2048)).Str("response_body", Clip(ex.ResponseBody, 2048))
	}
	ev.Msg("http exchange")
	if !c.opts.Debug {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rec) >= maxRecorded {
		copy(c.rec, c.rec[1:])
		c.rec = c.rec[:len(c.rec)-1]
	}
	c.rec = append(c.rec, ex)
}

// Recording returns the redacted exchanges kept in debug mode, oldest first.
func (c *Client) Recording() []Exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Exchange(nil), c.rec...)
}

// BaseURL returns the configured base URL.
func (c *Client) BaseURL() string {
	if c.base == nil {
		return ""
	}
	return c.base.String()
}

// resolve turns a request path into a URL, refusing absolute URLs on another
// host: a next-page link or Location header from a hostile server must not
// receive our credentials.
func (c *Client) resolve(p string) (string, error) {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		u, err := url.Parse(p)
		if err != nil {
			return "", fmt.Errorf("bad URL %q: %w", Clip(p, 100), err)
		}
		if c.base == nil || !strings.EqualFold(u.Host, c.base.Host) || u.Scheme != c.base.Scheme {
			return "", fmt.Errorf("refusing to send credentials to %s://%s (not the configured base URL)", u.Scheme, u.Host)
		}
		return p, nil
	}
	if c.base == nil {
		return "", fmt.Errorf("relative path %q without a base URL", Clip(p, 100))
	}
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return c.base.String() + p, nil
}

func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func fullURL(u string, q url.Values) string {
	if len(q) == 0 {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// transportError classifies a failure to get any answer.
func (c *Client) transportError(method, target string, err error) error {
	wrapped := fmt.Errorf("%s %s: %s", method, c.red.url(stripQuery(target)), c.red.text(err.Error()))
	switch {
	case errors.Is(err, resty.ErrResponseBodyTooLarge):
		return gatehouse.Permanent(fmt.Errorf("%w (limit %d bytes)", wrapped, c.opts.MaxBody))
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", wrapped, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return gatehouse.Retryable(fmt.Errorf("%w: %w", wrapped, context.DeadlineExceeded))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return gatehouse.Retryable(fmt.Errorf("%w (timeout)", wrapped))
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return gatehouse.Retryable(wrapped)
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
		return gatehouse.Permanent(wrapped)
	}
	// DNS failures, TLS hiccups and the like: most are transient; the
	// executor escalates after its maximum attempts.
	return gatehouse.Retryable(wrapped)
}

// sameHostRedirects follows at most 5 redirects on the same scheme and host.
// A redirect elsewhere is not followed (the 3xx answer is classified as
// permanent): net/http strips Authorization across hosts but would forward
// API-key headers such as DD-API-KEY.
type sameHostRedirects struct{}

func (sameHostRedirects) Apply(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return http.ErrUseLastResponse
	}
	if first := via[0].URL; !strings.EqualFold(req.URL.Host, first.Host) || req.URL.Scheme != first.Scheme {
		return http.ErrUseLastResponse
	}
	return nil
}

type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// tokenSource fetches and caches an OAuth2 client-credentials token.
type tokenSource struct {
	c      *Client
	secret string
	cache  TokenCache[string]
}

func (t *tokenSource) invalidate() { t.cache.Invalidate() }

// token returns a cached token or fetches one.
func (t *tokenSource) token(ctx context.Context) (string, error) {
	return t.cache.Get(t.c.now, func() (string, time.Time, error) { return t.fetch(ctx) })
}

// fetch asks the token endpoint for a token and says when to renew it.
func (t *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	a := t.c.opts.Auth
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(a.Scopes) > 0 {
		form.Set("scope", strings.Join(a.Scopes, " "))
	}
	for k, v := range a.TokenParams {
		form.Set(k, v)
	}
	r := t.c.rc.R().SetContext(ctx).
		SetHeader("Content-Type", "application/x-www-form-urlencoded")
	if a.ClientAuth == "body" {
		form.Set("client_id", a.ClientID)
		form.Set("client_secret", t.secret)
	} else {
		r.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(t.secret))
	}
	body := []byte(form.Encode())
	r.SetBody(body)
	start, clock := t.c.now(), time.Now()
	res, err := r.Post(a.TokenURL)
	ex := Exchange{Time: start, Method: http.MethodPost, URL: t.c.red.url(a.TokenURL), Duration: time.Since(clock),
		RequestBody: t.c.red.body(body, "application/x-www-form-urlencoded")}
	if err != nil {
		cerr := t.c.transportError(http.MethodPost, a.TokenURL, err)
		ex.Err = cerr.Error()
		t.c.record(ex)
		return "", time.Time{}, fmt.Errorf("oauth2 token: %w", cerr)
	}
	ex.Status, ex.ResponseHeader = res.StatusCode(), t.c.red.header(res.Header())
	v, perr := ParseResponse(res.StatusCode(), res.Header(), res.Body(), t.c.now(), false)
	if perr == nil {
		// Record the token response with the token itself hidden.
		if m, ok := v.(map[string]any); ok {
			if s, ok := m["access_token"].(string); ok {
				t.c.red.add(s)
			}
		}
	}
	ex.ResponseBody = t.c.red.body(res.Body(), res.Header().Get("Content-Type"))
	if perr != nil {
		if StatusOf(perr) == http.StatusBadRequest || StatusOf(perr) == http.StatusUnauthorized {
			// RFC 6749 answers bad client credentials with 400/401: permanent.
			perr = gatehouse.Permanent(perr)
		}
		ex.Err = t.c.red.text(perr.Error())
		t.c.record(ex)
		return "", time.Time{}, fmt.Errorf("oauth2 token: %w", perr)
	}
	t.c.record(ex)
	m, _ := v.(map[string]any)
	tok, _ := m["access_token"].(string)
	if tok == "" {
		return "", time.Time{}, gatehouse.Permanent(errors.New("oauth2 token: response has no access_token"))
	}
	ttl := time.Hour
	if n, ok := m["expires_in"].(json.Number); ok {
		if secs, err := n.Float64(); err == nil && secs > 0 {
			ttl = time.Duration(secs) * time.Second
		}
	}
	return tok, RenewEarly(t.c.now(), ttl, 30*time.Second), nil
}

// JSONBody is a helper for callers that want to send a pre-encoded JSON body.
func JSONBody(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
