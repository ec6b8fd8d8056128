package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestParseResponse(t *testing.T) {
	jsonH := http.Header{"Content-Type": {"application/json"}}
	htmlH := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		class   gatehouse.ErrorClass // ClassUnknown = success
		wait    time.Duration
		msgPart string
	}{
		{"ok json", 200, jsonH, `{"id":"1"}`, gatehouse.ClassUnknown, 0, ""},
		{"empty 204", 204, nil, ``, gatehouse.ClassUnknown, 0, ""},
		{"json without content type", 200, nil, `[1,2]`, gatehouse.ClassUnknown, 0, ""},
		{"html 200", 200, htmlH, `<html><title>Sign in</title></html>`, gatehouse.ClassRetryable, 0, "Sign in"},
		{"html sniffed", 200, nil, `<!DOCTYPE html><html>`, gatehouse.ClassRetryable, 0, "HTML"},
		{"truncated json", 200, jsonH, `{"id":"1","na`, gatehouse.ClassRetryable, 0, "invalid JSON"},
		{"trailing garbage", 200, jsonH, `{"id":1} xx`, gatehouse.ClassRetryable, 0, "invalid JSON"},
		{"wrong content type", 200, http.Header{"Content-Type": {"text/plain"}}, `upstream connect error`, gatehouse.ClassRetryable, 0, "content type"},
		{"slack ok false", 200, jsonH, `{"ok":false,"error":"invalid_auth"}`, gatehouse.ClassPermanent, 0, "invalid_auth"},
		{"slack ratelimited", 200, jsonH, `{"ok":false,"error":"ratelimited"}`, gatehouse.ClassRateLimited, 0, ""},
		{"errors with 200", 200, jsonH, `{"errors":[{"message":"no such team"}]}`, gatehouse.ClassPermanent, 0, "no such team"},
		{"errors with data is fine", 200, jsonH, `{"data":{"a":1},"errors":[]}`, gatehouse.ClassUnknown, 0, ""},
		{"success false", 200, jsonH, `{"success":false,"message":"nope"}`, gatehouse.ClassPermanent, 0, "nope"},
		{"scim error with 200", 200, jsonH, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"bad","status":"400"}`, gatehouse.ClassPermanent, 0, "bad"},
		{"429 seconds", 429, http.Header{"Retry-After": {"7"}}, ``, gatehouse.ClassRateLimited, 7 * time.Second, ""},
		{"429 date", 429, http.Header{"Retry-After": {t0.Add(90 * time.Second).Format(http.TimeFormat)}}, ``, gatehouse.ClassRateLimited, 90 * time.Second, ""},
		{"429 github epoch", 429, http.Header{"X-Ratelimit-Reset": {"1795694460"}}, ``, gatehouse.ClassRateLimited, time.Unix(1795694460, 0).Sub(t0), ""},
		{"429 okta epoch", 429, http.Header{"X-Rate-Limit-Reset": {"1795694430"}}, ``, gatehouse.ClassRateLimited, 30 * time.Second, ""},
		{"429 delta reset", 429, http.Header{"Ratelimit-Reset": {"12"}}, ``, gatehouse.ClassRateLimited, 12 * time.Second, ""},
		{"429 absurd", 429, http.Header{"Retry-After": {"99999999999"}}, ``, gatehouse.ClassRateLimited, 0, ""},
		{"403 github exhausted", 403, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1795694410"}}, `{"message":"API rate limit exceeded"}`, gatehouse.ClassRateLimited, 10 * time.Second, "rate limit"},
		{"403 plain", 403, jsonH, `{"message":"Must have admin rights"}`, gatehouse.ClassPermanent, 0, "admin rights"},
		{"400 scim", 400, jsonH, `{"scimType":"invalidFilter","detail":"bad filter"}`, gatehouse.ClassPermanent, 0, "bad filter"},
		{"401", 401, nil, ``, gatehouse.ClassPermanent, 0, "Unauthorized"},
		{"409", 409, jsonH, `{"errors":["already exists","taken"]}`, gatehouse.ClassPermanent, 0, "already exists; taken"},
		{"422 nested", 422, jsonH, `{"error":{"message":"email invalid"}}`, gatehouse.ClassPermanent, 0, "email invalid"},
		{"404", 404, nil, `not here`, gatehouse.ClassNotFound, 0, "not here"},
		{"410", 410, nil, ``, gatehouse.ClassNotFound, 0, ""},
		{"500", 500, nil, ``, gatehouse.ClassRetryable, 0, ""},
		{"502 html", 502, htmlH, `<html><head><title>502 Bad Gateway</title></head></html>`, gatehouse.ClassRetryable, 0, "502 Bad Gateway"},
		{"503 retry after", 503, http.Header{"Retry-After": {"3"}}, ``, gatehouse.ClassRetryable, 3 * time.Second, ""},
		{"501", 501, nil, ``, gatehouse.ClassPermanent, 0, ""},
		{"408", 408, nil, ``, gatehouse.ClassRetryable, 0, ""},
		{"302", 302, nil, ``, gatehouse.ClassPermanent, 0, ""},
		{"1xx", 101, nil, ``, gatehouse.ClassRetryable, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResponse(tt.status, tt.header, []byte(tt.body), t0, false)
			if tt.class == gatehouse.ClassUnknown {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s error, got success", tt.class)
			}
			if got := gatehouse.Classify(err); got != tt.class {
				t.Fatalf("class = %s, want %s (%v)", got, tt.class, err)
			}
			if got := gatehouse.RetryAfterOf(err); got != tt.wait {
				t.Errorf("retry after = %s, want %s", got, tt.wait)
			}
			if !strings.Contains(err.Error(), tt.msgPart) {
				t.Errorf("error %q does not mention %q", err, tt.msgPart)
			}
		})
	}
}

func TestParseResponseAllowText(t *testing.T) {
	v, err := ParseResponse(200, http.Header{"Content-Type": {"text/plain"}}, []byte("OK"), t0, true)
	if err != nil || v != "OK" {
		t.Fatalf("got %v, %v", v, err)
	}
}

func FuzzClassifyResponse(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"ok":false,"error":"x"}`), "")
	f.Add(200, "text/html", []byte(`<html><title>x</title>`), "")
	f.Add(429, "", []byte(``), "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Add(200, "application/scim+json", []byte(`{"Resources":[{"id":"1"}]}`), "")
	f.Add(500, "application/json", []byte(`{"errors":[{"detail":"boom"}]}`), "5")
	f.Add(200, "", []byte{0xff, 0xfe, '{'}, "")
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte, retry string) {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if retry != "" {
			h.Set("Retry-After", retry)
			h.Set("X-RateLimit-Reset", retry)
		}
		v, err := ParseResponse(status, h, body, t0, false)
		if err != nil {
			if c := gatehouse.Classify(err); c == gatehouse.ClassUnknown {
				t.Fatalf("unclassified error %v", err)
			}
			if w := gatehouse.RetryAfterOf(err); w < 0 || w > maxWait {
				t.Fatalf("retry after %s out of range", w)
			}
			_ = err.Error()
			return
		}
		// A success is only ever a 2xx with an empty body or valid JSON.
		if status < 200 || status > 299 {
			t.Fatalf("status %d classified as success", status)
		}
		if v != nil && !json.Valid(body) {
			t.Fatalf("invalid JSON %q classified as success", body)
		}
		if m, ok := v.(map[string]any); ok {
			if b, ok := m["ok"].(bool); ok && !b {
				t.Fatalf("ok:false classified as success")
			}
		}
	})
}

func newClient(t *testing.T, srv *httptest.Server, mod func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: srv.URL + "/api", App: "acme", UserAgent: "gatehouse/1.2.3", Debug: true, Now: func() time.Time { return t0 }}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientAuthAndRedaction(t *testing.T) {
	tests := []struct {
		name   string
		auth   Auth
		header string
		want   string
	}{
		{"bearer", Auth{Type: "bearer", Token: config.NewSecret("tok-123456", "literal")}, "Authorization", "Bearer tok-123456"},
		{"basic", Auth{Type: "basic", Username: "u", Password: config.NewSecret("pw-123456", "literal")}, "Authorization", "Basic dTpwdy0xMjM0NTY="},
		{"api key", Auth{Type: "api_key", Header: "Authorization", Prefix: "Token token=", Key: config.NewSecret("key-123456", "literal")}, "Authorization", "Token token=key-123456"},
		{"extra headers", Auth{Type: "api_key", Headers: map[string]config.Secret{"DD-APPLICATION-KEY": config.NewSecret("app-123456", "literal")}}, "Dd-Application-Key", "app-123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get(tt.header); got != tt.want {
					t.Errorf("%s = %q, want %q", tt.header, got, tt.want)
				}
				if ua := r.Header.Get("User-Agent"); ua != "gatehouse/1.2.3 (+app acme)" {
					t.Errorf("User-Agent = %q", ua)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Set-Cookie", "session=abc")
				_, _ = w.Write([]byte(`{"id":"1","password":"hunter2","nested":{"api_token":"zzz"},"echo":"` + strings.TrimPrefix(tt.want, "Bearer ") + `"}`))
			}))
			defer srv.Close()
			c := newClient(t, srv, func(o *Options) { o.Auth = tt.auth })
			res, err := c.Do(context.Background(), Request{Method: "POST", Path: "/users", Body: map[string]any{"name": "x", "client_secret": "s3cr3t"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.JSON.(map[string]any)["id"] != "1" {
				t.Fatalf("body %v", res.JSON)
			}
			rec := c.Recording()
			if len(rec) != 1 {
				t.Fatalf("recorded %d exchanges", len(rec))
			}
			dump, _ := json.Marshal(rec)
			for _, leak := range []string{"tok-123456", "pw-123456", "key-123456", "app-123456", "hunter2", "zzz", "s3cr3t", "session=abc", "dTpwdy0xMjM0NTY"} {
				if strings.Contains(string(dump), leak) {
					t.Errorf("recording leaks %q: %s", leak, dump)
				}
			}
			if !strings.Contains(rec[0].URL, "/api/users") || rec[0].Status != 200 {
				t.Errorf("recording %+v", rec[0])
			}
		})
	}
}

func TestOAuth2RefreshOnce(t *testing.T) {
	var tokens, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/token":
			id, secret, _ := r.BasicAuth()
			if id != "cid" || secret != "csecret" || r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "users:write" {
				w.WriteHeader(401)
				_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
				return
			}
			n := tokens.Add(1)
			_, _ = w.Write([]byte(`{"access_token":"at-` + string(rune('0'+n)) + `","expires_in":3600}`))
		case "/api/me":
			calls.Add(1)
			// The first token is "revoked": 401 until a fresh one is used.
			if r.Header.Get("Authorization") != "Bearer at-2" {
				w.WriteHeader(401)
				_, _ = w.Write([]byte(`{"error":"expired"}`))
				return
			}
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/api/always401":
			calls.Add(1)
			w.WriteHeader(401)
		}
	}))
	defer srv.Close()
	c := newClient(t, srv, func(o *Options) {
		o.Auth = Auth{Type: "oauth2", TokenURL: srv.URL + "/oauth/token", ClientID: "cid", ClientSecret: config.NewSecret("csecret", "literal"), Scopes: []string{"users:write"}}
	})
	if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/me"}); err != nil {
		t.Fatal(err)
	}
	if tokens.Load() != 2 || calls.Load() != 2 {
		t.Fatalf("tokens=%d calls=%d, want 2 and 2", tokens.Load(), calls.Load())
	}
	// Cached: no new token request.
	if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/me"}); err != nil || tokens.Load() != 2 {
		t.Fatalf("err=%v tokens=%d", err, tokens.Load())
	}
	// A persistent 401 is retried exactly once, then permanent.
	calls.Store(0)
	_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/always401"})
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || calls.Load() != 2 {
		t.Fatalf("err=%v calls=%d", err, calls.Load())
	}
	dump, _ := json.Marshal(c.Recording())
	if strings.Contains(string(dump), "csecret") || strings.Contains(string(dump), "at-2") {
		t.Fatalf("recording leaks oauth secrets: %s", dump)
	}
}

func TestOAuth2BadClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"bad secret"}`))
	}))
	defer srv.Close()
	c := newClient(t, srv, func(o *Options) {
		o.Auth = Auth{Type: "oauth2", TokenURL: srv.URL + "/t", ClientID: "cid", ClientSecret: config.NewSecret("csecret", "literal"), ClientAuth: "body"}
	})
	_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/x"})
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "bad secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("body too large", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`"` + strings.Repeat("a", 4096) + `"`))
		}))
		defer srv.Close()
		c := newClient(t, srv, func(o *Options) { o.MaxBody = 1024 })
		_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/"})
		if gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c := newClient(t, srv, func(o *Options) { o.Timeout = 100 * time.Millisecond })
		_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/"})
		if gatehouse.Classify(err) != gatehouse.ClassRetryable {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection reset", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}))
		defer srv.Close()
		c := newClient(t, srv, nil)
		_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/"})
		if gatehouse.Classify(err) != gatehouse.ClassRetryable {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("truncated body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"id":`))
		}))
		defer srv.Close()
		c := newClient(t, srv, nil)
		_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/"})
		if gatehouse.Classify(err) != gatehouse.ClassRetryable {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("other host refused", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("request reached the server")
		}))
		defer srv.Close()
		c := newClient(t, srv, nil)
		_, err := c.Do(context.Background(), Request{Method: "GET", Path: "https://evil.example/steal"})
		if gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("redirect to another host not followed", func(t *testing.T) {
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Errorf("credentials followed a redirect to another host: %v", r.Header)
		}))
		defer other.Close()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		}))
		defer srv.Close()
		c := newClient(t, srv, func(o *Options) {
			o.Auth = Auth{Type: "api_key", Headers: map[string]config.Secret{"DD-API-KEY": config.NewSecret("k-123456", "literal")}}
		})
		_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/"})
		if gatehouse.Classify(err) != gatehouse.ClassPermanent || StatusOf(err) != 302 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		c := newClient(t, srv, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Do(ctx, Request{Method: "GET", Path: "/"})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStatusErrorDetails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(409)
		_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"uniqueness","detail":"userName taken","status":"409"}`))
	}))
	defer srv.Close()
	c := newClient(t, srv, nil)
	res, err := c.Do(context.Background(), Request{Method: "POST", Path: "/Users", Query: map[string][]string{"access_token": {"qs-secret"}}})
	if StatusOf(err) != 409 || ScimTypeOf(err) != "uniqueness" || res == nil || res.Status != 409 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "qs-secret") {
		t.Fatalf("error leaks query secret: %v", err)
	}
	if rec := c.Recording(); strings.Contains(rec[0].URL, "qs-secret") {
		t.Fatalf("recording leaks query secret: %s", rec[0].URL)
	}
}

func TestAuthValidate(t *testing.T) {
	var errs config.ErrorList
	(&Auth{Type: "oauth2", TokenURL: "ftp://x"}).Validate(config.Pos{}, "settings.auth", &errs)
	(&Auth{Type: "magic"}).Validate(config.Pos{}, "settings.auth", &errs)
	(&Auth{Type: "bearer"}).Validate(config.Pos{}, "settings.auth", &errs)
	if len(errs) != 5 {
		t.Fatalf("got %d errors: %v", len(errs), errs)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"absent", http.Header{}, 0},
		{"nil header", nil, 0},
		{"seconds", http.Header{"Retry-After": {" 30 "}}, 30 * time.Second},
		{"fraction", http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond},
		{"zero", http.Header{"Retry-After": {"0"}}, 0},
		{"negative", http.Header{"Retry-After": {"-5"}}, 0},
		{"a day is too long", http.Header{"Retry-After": {"86400"}}, 0},
		{"date", http.Header{"Retry-After": {t0.Add(2 * time.Minute).Format(http.TimeFormat)}}, 2 * time.Minute},
		{"past date", http.Header{"Retry-After": {t0.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{"far date is capped", http.Header{"Retry-After": {t0.Add(72 * time.Hour).Format(http.TimeFormat)}}, 24 * time.Hour},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"reset headers are not read", http.Header{"X-RateLimit-Reset": {"60"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryAfter(tt.h, t0); got != tt.want {
				t.Fatalf("RetryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
