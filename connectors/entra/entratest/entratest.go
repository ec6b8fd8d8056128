// Package entratest is a stateful loopback fake of Microsoft Graph v1.0 and
// of the Microsoft identity platform's token endpoint, for the entra
// connector's tests and for end-to-end tests elsewhere.
//
// It keeps users, groups, memberships, sign-in sessions and sign-in
// activity, pages collections with @odata.nextLink (small pages on demand),
// issues client-credentials access tokens that are JWTs carrying a
// configurable roles claim, enforces those application permissions per
// operation, and injects faults (429 and 503 with Retry-After, latency).
//
// Every request it receives and every answer it sends is validated against
// Microsoft's published Graph entity description (the
// @microsoft/microsoft-graph-types package, installed by
// .ci/deps.d/entra.sh) and against the operation table in routes.go; a
// violation fails the test with the method, path and reason.
package entratest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials the fake's token endpoint accepts.
const (
	TenantID     = "11111111-2222-3333-4444-555555555555"
	ClientID     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	ClientSecret = "fake-entra-client-secret-value"
)

// AllRoles are the application permissions a fully consented Gatehouse app holds.
var AllRoles = []string{"User.ReadWrite.All", "GroupMember.ReadWrite.All", "AuditLog.Read.All", "User.RevokeSessions.All"}

// User is a user as the fake stores it.
type User struct {
	ID                string
	UserPrincipalName string
	Mail              string
	DisplayName       string
	GivenName         string
	Surname           string
	MailNickname      string
	EmployeeID        string
	JobTitle          string
	Department        string
	AccountEnabled    bool
	Password          string
	ForceChange       bool
	ManagerID         string
	// SessionsValidFrom is signInSessionsValidFromDateTime: refresh tokens and
	// session cookies issued before it are invalid.
	SessionsValidFrom time.Time
	// Sessions are the issue times of the user's sign-in sessions.
	Sessions           []time.Time
	LastSignIn         time.Time
	LastNonInteractive time.Time
	Created            time.Time
}

// Group is a security group.
type Group struct {
	ID          string
	DisplayName string
	Members     map[string]bool
}

// Request is one logged request.
type Request struct {
	Time   time.Time
	Method string
	Path   string // path under the Graph root, or the token path
	Query  url.Values
	Body   string
}

// Fault is an injected failure answered instead of the next Graph request(s).
type Fault struct {
	Status     int    // 429, 503…
	RetryAfter string // Retry-After header value, "" for none
	Code       string // Graph error code; a default per status when ""
	// Match limits the fault to requests whose "METHOD /path" contains it.
	Match string
}

// Server is the fake.
type Server struct {
	t   testing.TB
	srv *httptest.Server
	sch *Schema

	mu       sync.Mutex
	users    map[string]*User
	deleted  map[string]*User
	groups   map[string]*Group
	roles    []string
	tokens   map[string]bool
	faults   []Fault
	log      []Request
	seq      int
	pageSize int
	premium  bool
	latency  time.Duration
	now      func() time.Time
	cert     *x509.Certificate
}

// New starts a fake for t and stops it at the end of the test. It fails t
// when the Graph description is not installed.
func New(t testing.TB) *Server {
	t.Helper()
	sch, err := LoadSchema()
	if err != nil {
		t.Fatalf("entratest: %v", err)
	}
	s := &Server{t: t, sch: sch, users: map[string]*User{}, deleted: map[string]*User{}, groups: map[string]*Group{},
		roles: slices.Clone(AllRoles), tokens: map[string]bool{}, pageSize: 100, premium: true, now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's root; GraphURL the Graph v1.0 root.
func (s *Server) URL() string      { return s.srv.URL }
func (s *Server) GraphURL() string { return s.srv.URL + "/v1.0" }

// TokenURL is the tenant's v2.0 token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + "/" + TenantID + "/oauth2/v2.0/token" }

// Settings returns the entra connector settings YAML pointing at the fake,
// with the client secret inline; extra is appended as is.
func (s *Server) Settings(extra string) string {
	return fmt.Sprintf("tenant_id: %s\nclient_id: %s\nclient_secret: %s\ngraph_url: %s\ntoken_url: %s\n%s",
		TenantID, ClientID, ClientSecret, s.GraphURL(), s.TokenURL(), extra)
}

// SetRoles sets the roles claim of tokens issued from now on (and the
// permissions the fake enforces for them).
func (s *Server) SetRoles(roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles = slices.Clone(roles)
	s.tokens = map[string]bool{}
}

// SetCertificate registers the app registration's certificate: client
// assertions signed with its key are accepted from now on.
func (s *Server) SetCertificate(cert *x509.Certificate) { s.mu.Lock(); s.cert = cert; s.mu.Unlock() }

// checkAssertion verifies a client assertion as the identity platform
// does: an RS256 JWT whose x5t#S256 (or x5t) names the registered
// certificate, signed with its key, for this token URL, issued by and
// about the client, within its validity. It returns an OAuth error code
// and description, or "" when the assertion is good.
func (s *Server) checkAssertion(form url.Values) (string, string) {
	s.mu.Lock()
	cert, now := s.cert, s.now()
	s.mu.Unlock()
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return "invalid_request", "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer."
	}
	if cert == nil {
		return "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."
	}
	parts := strings.Split(form.Get("client_assertion"), ".")
	if len(parts) != 3 {
		return "invalid_client", "AADSTS50027: JWT token is invalid or malformed."
	}
	enc := base64.RawURLEncoding
	var hdr struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	var claims struct {
		Aud, Iss, Sub, Jti string
		Exp, Nbf           int64
	}
	hb, err1 := enc.DecodeString(parts[0])
	pb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &claims) != nil {
		return "invalid_client", "AADSTS50027: JWT token is invalid or malformed."
	}
	s256 := sha256.Sum256(cert.Raw)
	s1 := sha1.Sum(cert.Raw)
	if hdr.Alg != "RS256" && hdr.Alg != "PS256" || (hdr.X5tS256 != enc.EncodeToString(s256[:]) && hdr.X5t != enc.EncodeToString(s1[:])) {
		return "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ok || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		return "invalid_client", "AADSTS700027: Client assertion contains an invalid signature."
	}
	switch {
	case claims.Aud != s.TokenURL():
		return "invalid_client", "AADSTS700016: The audience of the client assertion is not the token endpoint."
	case claims.Iss != ClientID || claims.Sub != ClientID:
		return "invalid_client", "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter."
	case claims.Jti == "":
		return "invalid_client", "AADSTS50027: the client assertion has no jti."
	case claims.Exp < now.Unix() || claims.Nbf > now.Add(5*time.Minute).Unix():
		return "invalid_client", "AADSTS700024: Client assertion is not within its valid time range."
	}
	return "", ""
}

// SetPageSize sets the largest page the fake answers.
func (s *Server) SetPageSize(n int) { s.mu.Lock(); s.pageSize = max(1, n); s.mu.Unlock() }

// SetPremium says whether the tenant has an Entra ID P1/P2 licence; without
// one, selecting signInActivity is refused as Graph refuses it.
func (s *Server) SetPremium(ok bool) { s.mu.Lock(); s.premium = ok; s.mu.Unlock() }

// SetLatency delays every Graph answer.
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Fail queues faults, answered in order to the next matching Graph requests.
func (s *Server) Fail(f ...Fault) { s.mu.Lock(); s.faults = append(s.faults, f...); s.mu.Unlock() }

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// IssuedTokens returns the access tokens the token endpoint issued (still
// valid), so tests can check none is leaked.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for t := range s.tokens {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// AddUser stores u (an id is assigned when empty) and returns its id.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = s.newID()
	}
	if u.Created.IsZero() {
		u.Created = s.now()
	}
	s.users[u.ID] = &u
	return u.ID
}

// AddGroup creates a security group and returns its id.
func (s *Server) AddGroup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	s.groups[id] = &Group{ID: id, DisplayName: name, Members: map[string]bool{}}
	return id
}

// User returns a copy of the user with this id, userPrincipalName or mail.
func (s *Server) User(key string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.findUser(key); u != nil {
		return *u, true
	}
	return User{}, false
}

// Users returns copies of every user, by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Deleted reports whether the user id is in deletedItems.
func (s *Server) Deleted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[id] != nil
}

// GroupsOf returns the display names of the groups userID belongs to.
func (s *Server) GroupsOf(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range s.groups {
		if g.Members[userID] {
			out = append(out, g.DisplayName)
		}
	}
	sort.Strings(out)
	return out
}

// SignIn opens a sign-in session for the user now and records the sign-in
// activity (interactive or not).
func (s *Server) SignIn(id string, at time.Time, interactive bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		s.t.Errorf("entratest: SignIn of unknown user %s", id)
		return
	}
	u.Sessions = append(u.Sessions, s.now())
	if interactive {
		u.LastSignIn = at
	} else {
		u.LastNonInteractive = at
	}
}

// ActiveSessions counts the user's sessions issued after
// signInSessionsValidFromDateTime.
func (s *Server) ActiveSessions(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return 0
	}
	n := 0
	for _, t := range u.Sessions {
		if t.After(u.SessionsValidFrom) {
			n++
		}
	}
	return n
}

// SetManager sets the user's manager.
func (s *Server) SetManager(id, managerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[id]; u != nil {
		u.ManagerID = managerID
	}
}

func (s *Server) newID() string {
	s.seq++
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, b)
}

func (s *Server) findUser(key string) *User {
	if u := s.users[key]; u != nil {
		return u
	}
	for _, u := range s.users {
		if strings.EqualFold(u.UserPrincipalName, key) {
			return u
		}
	}
	return nil
}

// violation fails the test: the connector sent, or the fake was about to
// send, something Graph does not define.
func (s *Server) violation(method, path, format string, args ...any) {
	s.t.Errorf("entratest: %s %s: %s", method, path, fmt.Sprintf(format, args...))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.log = append(s.log, Request{Time: s.now(), Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/v1.0"), Query: r.URL.Query(), Body: string(body)})
	latency := s.latency
	s.mu.Unlock()
	if r.URL.Path == "/"+TenantID+"/oauth2/v2.0/token" {
		s.token(w, r, body)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
	if !ok {
		s.violation(r.Method, r.URL.Path, "not under the Graph v1.0 root /v1.0")
		s.graphError(w, r, http.StatusNotFound, "BadRequest", "Invalid version.")
		return
	}
	path = "/" + path
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid := s.tokens[tok]
	roles := slices.Clone(s.roles)
	var fault *Fault
	for i, f := range s.faults {
		if f.Match == "" || strings.Contains(r.Method+" "+path, f.Match) {
			fault = &f
			s.faults = slices.Delete(s.faults, i, i+1)
			break
		}
	}
	s.mu.Unlock()
	if !valid {
		s.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	rt, params, known := matchRoute(r.Method, path)
	if rt == nil {
		s.violation(r.Method, path, "no such Graph v1.0 operation (known path: %v)", known)
		if known {
			s.graphError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		} else {
			s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment.")
		}
		return
	}
	if !s.checkRequest(w, r, rt, path, body) {
		return
	}
	if fault != nil {
		s.fault(w, r, *fault)
		return
	}
	if !slices.ContainsFunc(rt.perms, func(p string) bool { return slices.Contains(roles, p) }) {
		s.graphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	var parsed map[string]any
	if len(body) > 0 {
		_ = json.Unmarshal(body, &parsed)
	}
	s.dispatch(w, r, rt, params, parsed, roles)
}

// checkRequest validates the query options and body of a request for rt.
func (s *Server) checkRequest(w http.ResponseWriter, r *http.Request, rt *route, path string, body []byte) bool {
	q := r.URL.Query()
	allowed := func(k string) bool { return slices.Contains(rt.query, k) }
	if kq, ok := s.sch.query[rt.pattern]; ok {
		// $skiptoken only ever comes from the opaque @odata.nextLink Graph sent.
		allowed = func(k string) bool { return kq[k] || k == "$skiptoken" }
	}
	for k := range q {
		if strings.HasPrefix(k, "$") && !allowed(k) {
			s.violation(r.Method, path, "query option %s is not documented for %s", k, rt.doc)
		}
	}
	if sel := q.Get("$select"); sel != "" && rt.respType != "" && rt.respType != "Edm.Boolean" {
		typ := rt.respType
		if typ == "DirectoryObject" && strings.Contains(path, "/memberOf") {
			typ = "Group"
		}
		for _, p := range strings.Split(sel, ",") {
			if !s.sch.HasProp(typ, strings.TrimSpace(p)) && !(rt.respType == "DirectoryObject" && s.sch.HasProp("User", p)) {
				s.violation(r.Method, path, "$select of %q: not a property of %s", p, typ)
			}
		}
	}
	switch rt.reqType {
	case "":
		if len(strings.TrimSpace(string(body))) > 0 {
			s.violation(r.Method, path, "%s takes no request body, got %q", rt.doc, clip(string(body)))
		}
	case "$ref":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			s.violation(r.Method, path, "reference body is not a JSON object: %v", err)
			s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid request body.")
			return false
		}
		id, _ := m["@odata.id"].(string)
		if len(m) != 1 || id == "" {
			s.violation(r.Method, path, `reference body must be exactly {"@odata.id": URL}, got %s`, clip(string(body)))
		}
	default:
		var v any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			s.violation(r.Method, path, "body is not JSON: %v", err)
			s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid request body.")
			return false
		}
		for _, p := range s.sch.Validate(rt.reqType, v) {
			s.violation(r.Method, path, "request body against %s: %s", rt.reqType, p)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			s.violation(r.Method, path, "Content-Type %q, want application/json", ct)
		}
		if r.Method == http.MethodPost && rt.doc == "user-post-users" {
			m, _ := v.(map[string]any)
			for _, req := range requiredOnCreate {
				if _, ok := m[req]; !ok {
					s.violation(r.Method, path, "user-post-users requires %s", req)
				}
			}
		}
	}
	return true
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	code := f.Code
	if code == "" {
		switch f.Status {
		case http.StatusTooManyRequests:
			code = "TooManyRequests"
		case http.StatusServiceUnavailable:
			code = "serviceNotAvailable"
		default:
			code = "generalException"
		}
	}
	s.graphError(w, r, f.Status, code, "Injected fault: "+http.StatusText(f.Status))
}

// graphError answers Graph's error body {"error":{"code","message","innerError"}}.
func (s *Server) graphError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body := map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"date": s.now().UTC().Format("2006-01-02T15:04:05"), "request-id": "00000000-fake-0000-0000-000000000000"}}}
	// innerError carries date, request-id and client-request-id, which the
	// PublicInnerError interface does not list: only the outer shape is checked.
	check := map[string]any{"error": map[string]any{"code": code, "message": msg}}
	for _, p := range s.sch.Validate("PublicErrorResponse", check) {
		s.violation(r.Method, r.URL.Path, "error answer: %s", p)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// entity answers one entity after validating it as typ.
func (s *Server) entity(w http.ResponseWriter, r *http.Request, status int, typ string, v map[string]any) {
	for _, p := range s.sch.Validate(typ, v) {
		s.violation(r.Method, r.URL.Path, "response against %s: %s", typ, p)
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// page answers one page of a collection of typ, with @odata.nextLink when
// more remain. The link is absolute, as Graph's is, and carries the other
// query options. Caller holds s.mu.
func (s *Server) page(w http.ResponseWriter, r *http.Request, typ string, all []map[string]any) {
	q := r.URL.Query()
	size := s.pageSize
	if top := q.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > 999 {
			s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.")
			return
		}
		size = min(size, n)
	}
	start := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "fake-"))
		if err != nil || n < 0 || n > len(all) {
			s.graphError(w, r, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
		start = n
	}
	end := min(len(all), start+size)
	items := make([]any, 0, end-start)
	for _, it := range all[start:end] {
		for _, p := range s.sch.Validate(typ, it) {
			s.violation(r.Method, r.URL.Path, "response item against %s: %s", typ, p)
		}
		items = append(items, it)
	}
	out := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + typ, "value": items}
	if end < len(all) {
		q.Set("$skiptoken", "fake-"+strconv.Itoa(end))
		out["@odata.nextLink"] = s.srv.URL + r.URL.Path + "?" + q.Encode()
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc})
	}
	switch {
	case r.Method != http.MethodPost || err != nil:
		oauthErr(http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	case form.Get("grant_type") != "client_credentials":
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
		return
	case form.Get("scope") != "https://graph.microsoft.com/.default":
		oauthErr(http.StatusBadRequest, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
		return
	case form.Get("client_id") != ClientID:
		oauthErr(http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	case form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "":
		if form.Get("client_secret") != "" {
			oauthErr(http.StatusBadRequest, "invalid_request", "AADSTS90014: only one of client_secret and client_assertion may be sent.")
			return
		}
		if code, desc := s.checkAssertion(form); code != "" {
			oauthErr(http.StatusUnauthorized, code, desc)
			return
		}
	case form.Get("client_secret") != ClientSecret:
		oauthErr(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	s.mu.Lock()
	roles := slices.Clone(s.roles)
	now := s.now()
	s.mu.Unlock()
	tok := MakeJWT(map[string]any{"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/" + TenantID + "/",
		"tid": TenantID, "appid": ClientID, "idtyp": "app", "roles": roles, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// MakeJWT builds an unsigned-looking JWT (header.payload.signature) with
// the given claims; nobody verifies the fake's signature.
func MakeJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "fake"})
	p, _ := json.Marshal(claims)
	var sig [32]byte
	_, _ = rand.Read(sig[:])
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString(sig[:])
}

var filterRE = regexp.MustCompile(`^(\w+) eq '((?:[^']|'')*)'$`)

// parseFilter understands the one clause shape the connector sends:
// PROPERTY eq 'VALUE' with quotes doubled inside VALUE, as OData requires.
func parseFilter(f string) (prop, val string, ok bool) {
	m := filterRE.FindStringSubmatch(f)
	if m == nil {
		return "", "", false
	}
	return m[1], strings.ReplaceAll(m[2], "''", "'"), true
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func iso(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
