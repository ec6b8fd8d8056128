// Package oktatest is a stateful, loopback fake of Okta's Management API for
// tests: users with Okta's lifecycle (STAGED, PROVISIONED, ACTIVE,
// SUSPENDED, DEPROVISIONED), groups and memberships, app assignments and app
// links, sessions and OAuth tokens per user, lastLogin, Link-header paging,
// X-Rate-Limit headers on every answer, and fault injection (429 with a
// reset, 5xx, latency).
//
// Every request it receives and every answer it sends is validated against
// Okta's own OpenAPI 3 description (management-minimal.yaml, see LoadSpec)
// with kin-openapi's openapi3filter; a violation is reported with t.Errorf
// naming the method, path and reason. OAuth access tokens are checked
// against the scopes the description lists for each operation, so a
// service app without a scope gets Okta's 403 E0000006 with an
// insufficient_scope challenge.
//
// The token endpoint (/oauth2/v1/token, not part of the Management API
// description) implements client_credentials with private_key_jwt: it
// verifies the client assertion's RS256/ES256 signature, issuer, subject,
// audience, expiry and jti replay.
package oktatest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Token is the SSWS API token the fake accepts by default.
const Token = "00okta-fake-ssws-token-for-tests"

// Options configure a fake.
type Options struct {
	// PageSize caps every list page (default 200), so tests can force many pages.
	PageSize int
	// RateLimit is the X-Rate-Limit-Limit per one-minute window (default
	// 6000); past it the fake answers 429 until the window resets.
	RateLimit int
	// Latency delays every answer (benchmarks, timeouts).
	Latency time.Duration
	// Token is the accepted SSWS token (default Token).
	Token string
	// ClientID and PublicKey (RSA or ECDSA P-256) enable the OAuth service
	// app; Scopes are the scopes granted to it.
	ClientID  string
	PublicKey crypto.PublicKey
	Scopes    []string
	// TokenTTL is the lifetime of issued access tokens (default 1h).
	TokenTTL time.Duration
	// Violation receives each OpenAPI violation; default t.Errorf.
	Violation func(msg string)
}

// User is a user as the fake stores it.
type User struct {
	ID        string
	Status    string
	Profile   map[string]any
	Created   time.Time
	Activated *time.Time
	Changed   time.Time
	LastLogin *time.Time
	// Sessions and Tokens count the user's Okta sessions and the OAuth
	// tokens issued to them; RevokeSessions clears them.
	Sessions, Tokens int
}

// Entry is one request in the log.
type Entry struct {
	Time   time.Time
	Method string
	Path   string
	Query  url.Values
	Status int
}

// Fault is an injected failure for the next Count requests whose path has
// Prefix ("" matches all).
type Fault struct {
	Status int           // 429, 403 (E0000006), 500, 503…
	Reset  time.Time     // X-Rate-Limit-Reset of a 429 (default now+1s)
	Delay  time.Duration // sleep before answering (a timeout when long)
	Prefix string
	Count  int
}

// Server is a running fake.
type Server struct {
	URL string
	t   testing.TB
	o   Options
	ts  *httptest.Server

	mu        sync.Mutex
	seq       int
	users     map[string]*User
	order     []string // user ids in creation order, for paging
	groups    map[string]string
	gorder    []string
	members   map[string]map[string]bool // group id → user ids
	apps      map[string]string          // app id → label
	aorder    []string
	assigned  map[string]map[string]bool // app id → user ids
	tokens    map[string]issued
	jtis      map[string]bool
	tokenReqs int
	faults    []Fault
	log       []Entry
	window    time.Time
	count     int
}

type issued struct {
	scopes  []string
	expires time.Time
}

// New starts a fake for t; it stops when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if _, err := LoadSpec(); err != nil {
		t.Fatalf("oktatest: %v", err)
	}
	if o.PageSize <= 0 {
		o.PageSize = 200
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 6000
	}
	if o.Token == "" {
		o.Token = Token
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.Violation == nil {
		o.Violation = func(msg string) { t.Errorf("%s", msg) }
	}
	s := &Server{t: t, o: o, users: map[string]*User{}, groups: map[string]string{}, members: map[string]map[string]bool{},
		apps: map[string]string{}, assigned: map[string]map[string]bool{}, tokens: map[string]issued{}, jtis: map[string]bool{}}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	return s
}

// SettingsYAML returns okta connector settings pointing at the fake with
// the SSWS token; extra is appended (more settings keys).
func (s *Server) SettingsYAML(extra string) string {
	return fmt.Sprintf("org_url: %s\nauth:\n  type: ssws\n  token: %s\n%s", s.URL, s.o.Token, extra)
}

func (s *Server) newID(prefix string) string {
	s.seq++
	// Okta ids are 20 characters: a 3-character type prefix and 17 more.
	return fmt.Sprintf("%s%017d", prefix, s.seq)
}

// AddGroup creates an Okta group and returns its id.
func (s *Server) AddGroup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("00g")
	s.groups[id] = name
	s.gorder = append(s.gorder, id)
	s.members[id] = map[string]bool{}
	return id
}

// AddApp creates an app (a bookmark app) with label and returns its id.
func (s *Server) AddApp(label string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("0oa")
	s.apps[id] = label
	s.aorder = append(s.aorder, id)
	s.assigned[id] = map[string]bool{}
	return id
}

// AddUser creates a user directly in the given status and returns its id.
func (s *Server) AddUser(status string, profile map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUser(status, profile).ID
}

func (s *Server) addUser(status string, profile map[string]any) *User {
	now := time.Now().UTC().Truncate(time.Second)
	u := &User{ID: s.newID("00u"), Status: status, Profile: profile, Created: now, Changed: now}
	if status != "STAGED" {
		u.Activated = &now
	}
	s.users[u.ID] = u
	s.order = append(s.order, u.ID)
	return u
}

// Login simulates the user signing in: an open session, an OAuth token,
// lastLogin set, and a PROVISIONED user's activation completed.
func (s *Server) Login(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		s.t.Fatalf("oktatest: Login: no user %s", id)
	}
	if u.Status == "PROVISIONED" {
		u.Status = "ACTIVE"
	}
	at = at.UTC().Truncate(time.Second)
	u.LastLogin = &at
	u.Sessions++
	u.Tokens++
}

// User returns a copy of a user by id or login (case-insensitive).
func (s *Server) User(idOrLogin string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookup(idOrLogin)
	if u == nil {
		return User{}, false
	}
	cp := *u
	cp.Profile = map[string]any{}
	for k, v := range u.Profile {
		cp.Profile[k] = v
	}
	return cp, true
}

// Users returns the number of stored users.
func (s *Server) Users() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// GroupsOf returns the names of the groups user id belongs to, sorted.
func (s *Server) GroupsOf(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for gid, ms := range s.members {
		if ms[id] {
			out = append(out, s.groups[gid])
		}
	}
	sort.Strings(out)
	return out
}

// AppsOf returns the labels of the apps user id is assigned to, sorted.
func (s *Server) AppsOf(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for aid, us := range s.assigned {
		if us[id] {
			out = append(out, s.apps[aid])
		}
	}
	sort.Strings(out)
	return out
}

// TokenRequests counts the token endpoint's successful answers.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// RevokeAccessTokens invalidates every OAuth access token issued so far, as
// an admin revoking the service app's tokens would: the next API call with
// one gets 401 invalid_token.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Log returns the request log, oldest first.
func (s *Server) Log() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.log...)
}

// Fail injects f.
func (s *Server) Fail(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

func (s *Server) lookup(idOrLogin string) *User {
	if u := s.users[idOrLogin]; u != nil {
		return u
	}
	for _, id := range s.order {
		if u := s.users[id]; u != nil {
			if l, _ := u.Profile["login"].(string); strings.EqualFold(l, idOrLogin) {
				return u
			}
		}
	}
	return nil
}

// answer is a response under construction, validated before it is sent.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) json(status int, v any) {
	a.status = status
	a.header.Set("Content-Type", "application/json")
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	a.body = b
}

func (a *answer) empty(status int) { a.status = status }

func (a *answer) oktaError(status int, code, summary string, causes ...string) {
	body := map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae" + strconv.Itoa(status)}
	cs := []map[string]string{}
	for _, c := range causes {
		cs = append(cs, map[string]string{"errorSummary": c})
	}
	body["errorCauses"] = cs
	a.json(status, body)
}

func (a *answer) notFound(what string) {
	a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+what+" (User)")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	s.mu.Lock()
	now := time.Now()
	if now.After(s.window) {
		s.window, s.count = now.Truncate(time.Second).Add(time.Minute), 0
	}
	s.count++
	var fault *Fault
	for i := range s.faults {
		f := &s.faults[i]
		if f.Count > 0 && strings.HasPrefix(r.URL.Path, f.Prefix) {
			f.Count--
			cp := *f
			fault = &cp
			break
		}
	}
	latency := s.o.Latency
	s.mu.Unlock()
	if fault != nil && fault.Delay > 0 {
		latency += fault.Delay
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	a := &answer{header: http.Header{}}
	validate := true
	if r.URL.Path == "/oauth2/v1/token" {
		s.token(r, body, a)
		validate = false // not part of the Management API description
	} else {
		ri, params, ok := s.route(r, body)
		switch {
		case !ok:
			a.oktaError(http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
			validate = false
		case fault != nil && fault.Status != 0:
			s.injected(fault, a)
			validate = fault.Status == http.StatusTooManyRequests || fault.Status == http.StatusForbidden
		case s.overLimit():
			s.injected(&Fault{Status: http.StatusTooManyRequests, Reset: s.windowEnd()}, a)
		default:
			if s.authorize(r, ri, a) {
				s.mu.Lock()
				s.handle(r, ri.op.OperationID, params, body, a)
				s.mu.Unlock()
			} else if a.status == http.StatusUnauthorized {
				// Okta's gateway answers a bad credential before any
				// operation runs; the description declares no 401s.
				validate = false
			}
		}
		if validate && ok {
			s.validateResponse(r, body, ri, params, a)
		}
	}
	s.rateHeaders(a)
	for k, vs := range a.header {
		w.Header()[k] = vs
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
	s.mu.Lock()
	s.log = append(s.log, Entry{Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: a.status})
	s.mu.Unlock()
}

func (s *Server) overLimit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count > s.o.RateLimit
}

func (s *Server) windowEnd() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.window
}

func (s *Server) rateHeaders(a *answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rem := max(s.o.RateLimit-s.count, 0)
	a.header.Set("X-Rate-Limit-Limit", strconv.Itoa(s.o.RateLimit))
	if a.header.Get("X-Rate-Limit-Remaining") == "" {
		a.header.Set("X-Rate-Limit-Remaining", strconv.Itoa(rem))
	}
	if a.header.Get("X-Rate-Limit-Reset") == "" {
		a.header.Set("X-Rate-Limit-Reset", strconv.FormatInt(s.window.Unix(), 10))
	}
}

func (s *Server) injected(f *Fault, a *answer) {
	switch f.Status {
	case http.StatusTooManyRequests:
		reset := f.Reset
		if reset.IsZero() {
			reset = time.Now().Add(time.Second)
		}
		a.header.Set("X-Rate-Limit-Remaining", "0")
		a.header.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
		a.oktaError(http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
	case http.StatusForbidden:
		a.oktaError(http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
	default:
		a.oktaError(f.Status, "E0000009", "Internal Server Error")
	}
}

// route finds the operation in the description and validates the request;
// ok is false when the description has no such operation.
func (s *Server) route(r *http.Request, body []byte) (*routeInfo, map[string]string, bool) {
	sp, _ := LoadSpec()
	rr := r.Clone(context.Background())
	rr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := sp.Router.FindRoute(rr)
	if err != nil {
		s.o.Violation(fmt.Sprintf("okta fake: %s %s: not an operation of Okta's Management API description: %v", r.Method, r.URL.Path, err))
		return nil, nil, false
	}
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		s.o.Violation(fmt.Sprintf("okta fake: request %s %s violates Okta's OpenAPI description: %v", r.Method, r.URL.RequestURI(), err))
	}
	return &routeInfo{route: route, op: route.Operation}, params, true
}

type routeInfo struct {
	route *routers.Route
	op    *openapi3.Operation
}

func (s *Server) validateResponse(r *http.Request, body []byte, ri *routeInfo, params map[string]string, a *answer) {
	rr := r.Clone(context.Background())
	rr.Body = io.NopCloser(bytes.NewReader(body))
	route := ri.route
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route},
		Status:                 status, Header: a.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(a.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		s.o.Violation(fmt.Sprintf("okta fake: answer %d to %s %s violates Okta's OpenAPI description: %v", status, r.Method, r.URL.Path, err))
	}
}

// authorize checks the credential and, for OAuth tokens, the scopes the
// description requires for the operation.
func (s *Server) authorize(r *http.Request, ri *routeInfo, a *answer) bool {
	h := r.Header.Get("Authorization")
	switch {
	case h == "SSWS "+s.o.Token:
		return true
	case strings.HasPrefix(h, "Bearer "):
		s.mu.Lock()
		tok, ok := s.tokens[strings.TrimPrefix(h, "Bearer ")]
		s.mu.Unlock()
		if !ok || time.Now().After(tok.expires) {
			a.header.Set("WWW-Authenticate", `Bearer authorization_uri="`+s.URL+`/oauth2/v1/authorize", realm="`+s.URL+`", scope="", error="invalid_token", error_description="The token is not valid.", resource=""`)
			a.oktaError(http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return false
		}
		var need []string
		if ri.op.Security != nil {
			for _, req := range *ri.op.Security {
				if sc, ok := req["oauth2"]; ok {
					need = sc
				}
			}
		}
		for _, sc := range need {
			if !contains(tok.scopes, sc) {
				a.header.Set("WWW-Authenticate", `Bearer authorization_uri="`+s.URL+`/oauth2/v1/authorize", realm="`+s.URL+`", scope="`+sc+`", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="`+r.URL.Path+`"`)
				a.oktaError(http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
				return false
			}
		}
		return true
	}
	a.oktaError(http.StatusUnauthorized, "E0000011", "Invalid token provided")
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// token is the org authorization server's token endpoint.
func (s *Server) token(r *http.Request, body []byte, a *answer) {
	fail := func(code, desc string) {
		a.json(http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
		if code == "invalid_client" {
			a.status = http.StatusUnauthorized
		}
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		fail("invalid_request", "The token request must be a form POST.")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail("invalid_request", "Malformed form body.")
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		fail("unsupported_grant_type", "The grant type is not supported.")
		return
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		fail("invalid_client", "client_assertion_type must be jwt-bearer.")
		return
	}
	if s.o.PublicKey == nil {
		fail("invalid_client", "No service app is configured in this fake.")
		return
	}
	if err := s.verifyAssertion(form.Get("client_assertion")); err != nil {
		fail("invalid_client", "The client_assertion is invalid: "+err.Error())
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		fail("invalid_scope", "The authorization server resource does not have any configured default scopes, 'scope' must be provided.")
		return
	}
	var denied []string
	for _, sc := range scopes {
		if !contains(s.o.Scopes, sc) {
			denied = append(denied, sc)
		}
	}
	if len(denied) > 0 {
		fail("invalid_scope", "The following scopes are not allowed: "+strings.Join(denied, ", "))
		return
	}
	var raw [24]byte
	rand.Read(raw[:])
	tok := "eyFakeAccess." + hex.EncodeToString(raw[:])
	s.mu.Lock()
	s.tokens[tok] = issued{scopes: scopes, expires: time.Now().Add(s.o.TokenTTL)}
	s.tokenReqs++
	s.mu.Unlock()
	a.json(http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(s.o.TokenTTL.Seconds()), "access_token": tok, "scope": strings.Join(scopes, " ")})
}

// verifyAssertion checks a private_key_jwt client assertion the way Okta
// does: signature with the registered key, iss = sub = client id, aud = the
// token endpoint, an expiry within an hour, and a jti never seen before.
func (s *Server) verifyAssertion(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWS compact serialization")
	}
	dec := base64.RawURLEncoding
	hb, err1 := dec.DecodeString(parts[0])
	cb, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("bad base64url")
	}
	var hdr struct{ Alg, Typ string }
	var cl struct {
		Iss, Sub, Jti string
		Aud           any
		Exp, Iat      int64
	}
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &cl) != nil {
		return fmt.Errorf("bad JSON")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := s.o.PublicKey.(type) {
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			return fmt.Errorf("signature does not verify (alg %s)", hdr.Alg)
		}
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 || !ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return fmt.Errorf("signature does not verify (alg %s)", hdr.Alg)
		}
	default:
		return fmt.Errorf("unsupported key")
	}
	if cl.Iss != s.o.ClientID || cl.Sub != s.o.ClientID {
		return fmt.Errorf("iss and sub must be the client id")
	}
	if aud, _ := cl.Aud.(string); aud != s.URL+"/oauth2/v1/token" {
		return fmt.Errorf("aud %v is not the token endpoint", cl.Aud)
	}
	now := time.Now().Unix()
	if cl.Exp <= now || cl.Exp > now+3600 || cl.Iat > now+60 {
		return fmt.Errorf("expired or too long-lived")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl.Jti == "" || s.jtis[cl.Jti] {
		return fmt.Errorf("jti missing or replayed")
	}
	s.jtis[cl.Jti] = true
	return nil
}
