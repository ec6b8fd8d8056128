// Package googletest is a stateful fake of the Google Workspace Admin SDK
// (Directory API v1 and Data Transfer API v1) and of Google's OAuth token
// endpoint, for tests of the google connector and of anything built on it.
//
// Every request the fake receives and every response it sends is checked
// against Google's own discovery documents, read from the
// google.golang.org/api module in the module cache: the method and path
// template, path and query parameters (required, type, enum, range, unknown
// ones), request bodies (types, formats, unknown and read-only fields,
// fields required by the method) and response bodies. A violation fails the
// test with the method, path and reason.
//
// The token endpoint verifies the JWT bearer assertion as Google does: RS256
// signature by the service account's key, iss, sub, aud, iat/exp and that
// each requested scope is delegated (unauthorized_client otherwise).
package googletest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/config"
)

// Scopes the fake delegates by default: what the connector needs.
var DefaultScopes = []string{
	"https://www.googleapis.com/auth/admin.directory.user",
	"https://www.googleapis.com/auth/admin.directory.group.member",
	"https://www.googleapis.com/auth/admin.directory.group.readonly",
	"https://www.googleapis.com/auth/admin.directory.user.security",
	"https://www.googleapis.com/auth/admin.datatransfer",
}

// Application ids and names as Google reports them.
const (
	DriveAppID    = "55656082996"
	CalendarAppID = "435070579839"
)

// Options configure a Server.
type Options struct {
	// PageSize caps every list page (default 2, to force paging).
	PageSize int
	// TransferPolls is how many reads of a transfer show it inProgress
	// before it completes (0: completed on creation).
	TransferPolls int
	// Domain is the primary domain (default example.com).
	Domain string
	// Subject is the admin the service account impersonates (default admin@DOMAIN).
	Subject string
}

// User is a Workspace user as the fake stores it.
type User struct {
	ID                        string
	PrimaryEmail              string
	GivenName, FamilyName     string
	Suspended                 bool
	OrgUnitPath               string
	Title, Department         string
	Manager                   string // relations[type=manager].value
	LastLoginTime             time.Time
	Password                  string
	ChangePasswordAtNextLogin bool
	Tokens                    []Token
	ASPs                      []ASP
	BackupCodes               []string
	Sessions                  int // active web sessions; signOut clears them
	SignOuts                  int
}

// Token is an OAuth grant a user gave a third-party app.
type Token struct{ ClientID, DisplayText string }

// ASP is an application-specific password.
type ASP struct {
	CodeID int
	Name   string
}

// Transfer is a Data Transfer request.
type Transfer struct {
	ID          string
	OldOwner    string
	NewOwner    string
	Apps        []TransferApp
	Status      string // new, inProgress, completed, failed
	RequestTime time.Time
	pollsLeft   int
}

// TransferApp is one application's part of a transfer.
type TransferApp struct {
	ApplicationID string
	Params        map[string][]string
}

// Request is one request as received.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  url.Values
}

// Fault makes matching requests fail.
type Fault struct {
	Method string // "" matches any
	Path   string // substring of the path; "" matches any
	Status int
	Reason string // Google error reason, e.g. rateLimitExceeded
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Times is how many requests fail (0: one).
	Times int
}

type group struct {
	id, email string
	members   map[string]bool // lower-cased member email
}

type tokenInfo struct {
	scopes  map[string]bool
	subject string
	exp     time.Time
}

// Server is the fake.
type Server struct {
	t    testing.TB
	srv  *httptest.Server
	URL  string
	opts Options

	key                          *rsa.PrivateKey
	keyID, clientEmail, clientID string
	dir, dt                      *Discovery

	mu            sync.Mutex
	users         map[string]*User // by id
	byEmail       map[string]string
	groups        map[string]*group // by lower email
	transfers     []*Transfer
	tokens        map[string]tokenInfo
	delegated     map[string]bool
	faults        []*Fault
	latency       time.Duration
	log           []Request
	tokenRequests int
	seq           int
	violations    []string
}

// New starts a fake; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.PageSize <= 0 {
		opts.PageSize = 2
	}
	if opts.Domain == "" {
		opts.Domain = "example.com"
	}
	if opts.Subject == "" {
		opts.Subject = "admin@" + opts.Domain
	}
	dir, err := LoadDiscovery("admin/directory/v1/admin-api.json")
	if err != nil {
		t.Fatalf("googletest: %v", err)
	}
	dt, err := LoadDiscovery("admin/datatransfer/v1/admin-api.json")
	if err != nil {
		t.Fatalf("googletest: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("googletest: generate key: %v", err)
	}
	s := &Server{t: t, opts: opts, key: key, keyID: "0123456789abcdef0123456789abcdef01234567",
		clientEmail: "gatehouse@gatehouse-test.iam.gserviceaccount.com", clientID: "104200000000000000001",
		dir: dir, dt: dt, users: map[string]*User{}, byEmail: map[string]string{}, groups: map[string]*group{},
		tokens: map[string]tokenInfo{}, delegated: map[string]bool{}}
	for _, sc := range DefaultScopes {
		s.delegated[sc] = true
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// ServiceAccountJSON is a service-account key file for the fake's account.
func (s *Server) ServiceAccountJSON() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		s.t.Fatalf("googletest: marshal key: %v", err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	b, _ := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "gatehouse-test", "private_key_id": s.keyID,
		"private_key": string(pemKey), "client_email": s.clientEmail, "client_id": s.clientID,
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": s.URL + "/token",
	}, "", "  ")
	return b
}

// PrivateKeyPEM returns the key's PEM (for redaction tests).
func (s *Server) PrivateKeyPEM() string {
	var k map[string]string
	_ = json.Unmarshal(s.ServiceAccountJSON(), &k)
	return k["private_key"]
}

// SettingsYAML returns connector settings pointing at the fake, with the
// key written to a file in a temporary directory.
func (s *Server) SettingsYAML() string {
	path := filepath.Join(s.t.TempDir(), "sa.json")
	if err := os.WriteFile(path, s.ServiceAccountJSON(), 0o600); err != nil {
		s.t.Fatalf("googletest: %v", err)
	}
	return fmt.Sprintf("credentials_file: %s\nsubject: %s\ncustomer: my_customer\ndomain: %s\nbase_url: %s\ntoken_url: %s/token\n",
		path, s.opts.Subject, s.opts.Domain, s.URL, s.URL)
}

// App returns a config.App of connector type google pointing at the fake.
func (s *Server) App(name string, extraSettings string, ents map[string]*config.Entitlement) *config.App {
	st, err := config.NewSettings(s.SettingsYAML() + extraSettings)
	if err != nil {
		s.t.Fatalf("googletest: %v", err)
	}
	return &config.App{Name: name, Connector: "google", Settings: st, Entitlements: ents}
}

// Delegate replaces the scopes domain-wide delegation grants the client.
func (s *Server) Delegate(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delegated = map[string]bool{}
	for _, sc := range scopes {
		s.delegated[sc] = true
	}
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// SetLatency delays every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// AddUser stores u (an id is assigned when empty) and returns it.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = s.nextID()
	}
	if u.OrgUnitPath == "" {
		u.OrgUnitPath = "/"
	}
	cp := u
	s.users[u.ID] = &cp
	s.byEmail[strings.ToLower(u.PrimaryEmail)] = u.ID
	return cp
}

// AddGroup creates a group.
func (s *Server) AddGroup(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.groups[strings.ToLower(email)] = &group{id: fmt.Sprintf("03x%010d", s.seq), email: email, members: map[string]bool{}}
}

// User returns a copy of the user with this id or primary email.
func (s *Server) User(key string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.find(key)
	if u == nil {
		return User{}, false
	}
	cp := *u
	cp.Tokens = append([]Token(nil), u.Tokens...)
	cp.ASPs = append([]ASP(nil), u.ASPs...)
	cp.BackupCodes = append([]string(nil), u.BackupCodes...)
	return cp, true
}

// GroupsOf lists the group emails the user with this email belongs to, sorted.
func (s *Server) GroupsOf(email string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, g := range s.groups {
		if g.members[strings.ToLower(email)] {
			out = append(out, g.email)
		}
	}
	sort.Strings(out)
	return out
}

// Transfers returns copies of every transfer created.
func (s *Server) Transfers() []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transfer, len(s.transfers))
	for i, t := range s.transfers {
		out[i] = *t
	}
	return out
}

// FailTransfers marks every unfinished transfer failed.
func (s *Server) FailTransfers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.transfers {
		if t.Status != "completed" {
			t.Status = "failed"
		}
	}
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// TokenRequests counts token endpoint calls.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Violations are the discovery-document violations seen so far (each was
// also reported with t.Errorf).
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

func (s *Server) nextID() string {
	s.seq++
	return strconv.FormatInt(100000000000000000+int64(s.seq), 10)
}

func (s *Server) find(key string) *User {
	if u, ok := s.users[key]; ok {
		return u
	}
	if id, ok := s.byEmail[strings.ToLower(key)]; ok {
		return s.users[id]
	}
	return nil
}

func (s *Server) violation(method, path, msg string) {
	s.mu.Lock()
	s.violations = append(s.violations, method+" "+path+": "+msg)
	s.mu.Unlock()
	s.t.Errorf("googletest: %s %s violates the discovery document: %s", method, path, msg)
}

// reply is an answer being built, validated before it is sent.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func jsonReply(status int, v any) reply {
	b, _ := json.Marshal(v)
	return reply{status: status, body: b}
}

func gerr(status int, reason, msg string) reply {
	return jsonReply(status, map[string]any{"error": map[string]any{
		"code": status, "message": msg,
		"errors": []any{map[string]any{"message": msg, "domain": "global", "reason": reason}},
	}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	lat := s.latency
	s.log = append(s.log, Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()})
	s.mu.Unlock()
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if r.URL.Path == "/token" {
		rep := s.token(r, body)
		s.write(w, rep)
		return
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	var doc *Discovery
	switch {
	case strings.HasPrefix(path, "admin/directory/v1/"):
		doc = s.dir
	case strings.HasPrefix(path, "admin/datatransfer/v1/"):
		doc = s.dt
	default:
		s.violation(r.Method, r.URL.Path, "not a Directory or Data Transfer API path")
		s.write(w, gerr(404, "notFound", "Not Found"))
		return
	}
	m, probs := doc.ValidateRequest(r.Method, path, r.URL.Query(), body)
	for _, p := range probs {
		s.violation(r.Method, r.URL.Path, "request: "+p)
	}
	if m == nil {
		s.write(w, gerr(404, "notFound", "Not Found"))
		return
	}
	rep := s.authorize(r, m)
	if rep.status == 0 {
		rep = s.fault(r)
	}
	if rep.status == 0 {
		var params map[string]string
		_, params, _ = doc.Match(r.Method, path)
		s.mu.Lock()
		rep = s.handle(m.ID, params, r.URL.Query(), body)
		s.mu.Unlock()
	}
	for _, p := range doc.ValidateResponse(m, rep.status, rep.body) {
		s.violation(r.Method, r.URL.Path, "response: "+p)
	}
	s.write(w, rep)
}

func (s *Server) write(w http.ResponseWriter, rep reply) {
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if len(rep.body) > 0 {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func (s *Server) fault(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != r.Method) || !strings.Contains(r.URL.Path, f.Path) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		reason := f.Reason
		if reason == "" {
			switch {
			case f.Status == 429:
				reason = "rateLimitExceeded"
			case f.Status >= 500:
				reason = "backendError"
			default:
				reason = "invalid"
			}
		}
		rep := gerr(f.Status, reason, "injected fault: "+reason)
		if f.RetryAfter != "" {
			rep.header = http.Header{"Retry-After": {f.RetryAfter}}
		}
		return rep
	}
	return reply{}
}

func (s *Server) authorize(r *http.Request, m *Method) reply {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	info, known := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !known || time.Now().After(info.exp) {
		rep := jsonReply(401, map[string]any{"error": map[string]any{"code": 401,
			"message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
			"errors":  []any{map[string]any{"message": "Invalid Credentials", "domain": "global", "reason": "authError"}}}})
		return rep
	}
	for _, sc := range m.Scopes {
		if info.scopes[sc] {
			return reply{}
		}
	}
	return gerr(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
}

// token is the OAuth token endpoint for the jwt-bearer grant.
func (s *Server) token(r *http.Request, body []byte) reply {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	oauthErr := func(status int, code, desc string) reply {
		return jsonReply(status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		s.violation(r.Method, r.URL.Path, "token endpoint wants POST")
		return oauthErr(405, "invalid_request", "POST required")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.violation(r.Method, r.URL.Path, "token request content type "+ct)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		s.violation(r.Method, r.URL.Path, "token request without the jwt-bearer grant type")
		return oauthErr(400, "unsupported_grant_type", "Invalid grant_type")
	}
	if rep := s.fault(r); rep.status != 0 {
		return rep
	}
	parts := strings.Split(form.Get("assertion"), ".")
	if len(parts) != 3 {
		return oauthErr(400, "invalid_grant", "Invalid JWT: not three segments")
	}
	var hdr struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss, Sub, Scope, Aud string
		Iat, Exp             int64
	}
	if err := decodeSeg(parts[0], &hdr); err != nil || hdr.Alg != "RS256" {
		return oauthErr(400, "invalid_grant", "Invalid JWT header")
	}
	if err := decodeSeg(parts[1], &claims); err != nil {
		return oauthErr(400, "invalid_grant", "Invalid JWT claims")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return oauthErr(400, "invalid_grant", "Invalid JWT Signature.")
	}
	now := time.Now().Unix()
	switch {
	case hdr.Kid != "" && hdr.Kid != s.keyID:
		return oauthErr(400, "invalid_grant", "Invalid JWT Signature.")
	case claims.Iss != s.clientEmail:
		return oauthErr(400, "invalid_grant", "Invalid issuer")
	case claims.Aud != s.URL+"/token":
		return oauthErr(400, "invalid_grant", "Invalid JWT audience: "+claims.Aud)
	case claims.Exp <= now || claims.Iat > now+60 || claims.Exp-claims.Iat > 3600:
		return oauthErr(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	case claims.Sub != s.opts.Subject:
		return oauthErr(400, "invalid_grant", "Invalid email or User ID")
	case strings.TrimSpace(claims.Scope) == "":
		return oauthErr(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
	}
	scopes := map[string]bool{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range strings.Fields(claims.Scope) {
		if !s.delegated[sc] {
			return oauthErr(401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		}
		scopes[sc] = true
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.fake-" + base64.RawURLEncoding.EncodeToString(b)
	s.tokens[tok] = tokenInfo{scopes: scopes, subject: claims.Sub, exp: time.Now().Add(time.Hour)}
	return jsonReply(200, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func decodeSeg(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// page slices n items by the opaque pageToken.
func (s *Server) page(q url.Values, n int) (start, end int, next string, bad bool) {
	size := s.opts.PageSize
	if v := q.Get("maxResults"); v != "" {
		if m, err := strconv.Atoi(v); err == nil && m > 0 && m < size {
			size = m
		}
	}
	if tok := q.Get("pageToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		off, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || off < 0 || off > n {
			return 0, 0, "", true
		}
		start = off
	}
	end = min(start+size, n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return start, end, next, false
}

func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Server) userJSON(u *User) map[string]any {
	last := "1970-01-01T00:00:00.000Z"
	if !u.LastLoginTime.IsZero() {
		last = rfc3339(u.LastLoginTime)
	}
	m := map[string]any{
		"kind": "admin#directory#user", "id": u.ID, "primaryEmail": u.PrimaryEmail,
		"name":    map[string]any{"givenName": u.GivenName, "familyName": u.FamilyName, "fullName": strings.TrimSpace(u.GivenName + " " + u.FamilyName)},
		"isAdmin": false, "isDelegatedAdmin": false, "lastLoginTime": last,
		"creationTime": "2024-01-02T03:04:05.000Z", "agreedToTerms": true, "suspended": u.Suspended,
		"archived": false, "changePasswordAtNextLogin": u.ChangePasswordAtNextLogin,
		"ipWhitelisted": false, "customerId": "C0123abcd", "orgUnitPath": u.OrgUnitPath,
		"isMailboxSetup": true, "isEnrolledIn2Sv": false, "isEnforcedIn2Sv": false,
		"includeInGlobalAddressList": true, "etag": `"etag-` + u.ID + `"`,
	}
	if u.Suspended {
		m["suspensionReason"] = "ADMIN"
	}
	if u.Title != "" || u.Department != "" {
		m["organizations"] = []any{map[string]any{"title": u.Title, "department": u.Department, "primary": true, "customType": ""}}
	}
	if u.Manager != "" {
		m["relations"] = []any{map[string]any{"value": u.Manager, "type": "manager"}}
	}
	return m
}

// handle serves one validated, authorized API call; s.mu is held.
func (s *Server) handle(id string, p map[string]string, q url.Values, body []byte) reply {
	var in map[string]any
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return gerr(400, "parseError", "Parse Error")
		}
	}
	notFound := gerr(404, "notFound", "Resource Not Found: userKey")
	switch id {
	case "directory.users.get":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		return jsonReply(200, s.userJSON(u))
	case "directory.users.insert":
		email, _ := in["primaryEmail"].(string)
		if email == "" || !strings.Contains(email, "@") {
			return gerr(400, "invalid", "Invalid Input: primary_user_email")
		}
		if s.find(email) != nil {
			return gerr(409, "duplicate", "Entity already exists.")
		}
		name, _ := in["name"].(map[string]any)
		given, _ := name["givenName"].(string)
		family, _ := name["familyName"].(string)
		if given == "" || family == "" {
			return gerr(400, "required", "Invalid Given/Family Name: FamilyName")
		}
		pw, _ := in["password"].(string)
		if len(pw) < 8 {
			return gerr(400, "invalid", "Invalid Password")
		}
		u := &User{ID: s.nextID(), PrimaryEmail: email, GivenName: given, FamilyName: family, Password: pw, OrgUnitPath: "/"}
		s.apply(u, in)
		s.users[u.ID] = u
		s.byEmail[strings.ToLower(email)] = u.ID
		return jsonReply(200, s.userJSON(u))
	case "directory.users.patch", "directory.users.update":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		s.apply(u, in)
		return jsonReply(200, s.userJSON(u))
	case "directory.users.delete":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		delete(s.users, u.ID)
		delete(s.byEmail, strings.ToLower(u.PrimaryEmail))
		for _, g := range s.groups {
			delete(g.members, strings.ToLower(u.PrimaryEmail))
		}
		return reply{status: 204}
	case "directory.users.list":
		if q.Get("customer") == "" && q.Get("domain") == "" {
			return gerr(400, "badRequest", "Bad Request")
		}
		var all []*User
		for _, u := range s.users {
			if d := q.Get("domain"); d == "" || strings.HasSuffix(strings.ToLower(u.PrimaryEmail), "@"+strings.ToLower(d)) {
				all = append(all, u)
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].PrimaryEmail < all[j].PrimaryEmail })
		a, b, next, bad := s.page(q, len(all))
		if bad {
			return gerr(400, "invalid", "Invalid Input: pageToken")
		}
		users := []any{}
		for _, u := range all[a:b] {
			users = append(users, s.userJSON(u))
		}
		out := map[string]any{"kind": "admin#directory#users", "users": users, "etag": `"list"`}
		if next != "" {
			out["nextPageToken"] = next
		}
		return jsonReply(200, out)
	case "directory.users.signOut":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		u.Sessions, u.SignOuts = 0, u.SignOuts+1
		return reply{status: 204}
	case "directory.tokens.list":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		items := []any{}
		for _, t := range u.Tokens {
			items = append(items, map[string]any{"kind": "admin#directory#token", "clientId": t.ClientID, "displayText": t.DisplayText,
				"anonymous": false, "nativeApp": false, "userKey": u.ID, "scopes": []string{"https://www.googleapis.com/auth/drive"}})
		}
		return jsonReply(200, map[string]any{"kind": "admin#directory#tokenList", "items": items})
	case "directory.tokens.delete":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		for i, t := range u.Tokens {
			if t.ClientID == p["clientId"] {
				u.Tokens = append(u.Tokens[:i], u.Tokens[i+1:]...)
				return reply{status: 204}
			}
		}
		return gerr(404, "notFound", "Resource Not Found: clientId")
	case "directory.asps.list":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		items := []any{}
		for _, a := range u.ASPs {
			items = append(items, map[string]any{"kind": "admin#directory#asp", "codeId": a.CodeID, "name": a.Name, "userKey": u.ID,
				"creationTime": "1700000000000", "lastTimeUsed": "0"})
		}
		return jsonReply(200, map[string]any{"kind": "admin#directory#aspList", "items": items})
	case "directory.asps.delete":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		for i, a := range u.ASPs {
			if strconv.Itoa(a.CodeID) == p["codeId"] {
				u.ASPs = append(u.ASPs[:i], u.ASPs[i+1:]...)
				return reply{status: 204}
			}
		}
		return gerr(404, "notFound", "Resource Not Found: codeId")
	case "directory.verificationCodes.invalidate":
		u := s.find(p["userKey"])
		if u == nil {
			return notFound
		}
		u.BackupCodes = nil
		return reply{status: 204}
	case "directory.groups.list":
		uk := q.Get("userKey")
		if uk == "" && q.Get("customer") == "" && q.Get("domain") == "" {
			return gerr(400, "badRequest", "Bad Request")
		}
		var gs []*group
		if uk != "" {
			u := s.find(uk)
			if u == nil {
				return gerr(404, "notFound", "Resource Not Found: userKey")
			}
			for _, g := range s.groups {
				if g.members[strings.ToLower(u.PrimaryEmail)] {
					gs = append(gs, g)
				}
			}
		} else {
			for _, g := range s.groups {
				gs = append(gs, g)
			}
		}
		sort.Slice(gs, func(i, j int) bool { return gs[i].email < gs[j].email })
		a, b, next, bad := s.page(q, len(gs))
		if bad {
			return gerr(400, "invalid", "Invalid Input: pageToken")
		}
		items := []any{}
		for _, g := range gs[a:b] {
			items = append(items, map[string]any{"kind": "admin#directory#group", "id": g.id, "email": g.email, "name": g.email,
				"directMembersCount": strconv.Itoa(len(g.members)), "adminCreated": true})
		}
		out := map[string]any{"kind": "admin#directory#groups", "groups": items}
		if next != "" {
			out["nextPageToken"] = next
		}
		return jsonReply(200, out)
	case "directory.members.insert":
		g := s.groups[strings.ToLower(p["groupKey"])]
		if g == nil {
			return gerr(404, "notFound", "Resource Not Found: groupKey")
		}
		key, _ := in["email"].(string)
		if key == "" {
			key, _ = in["id"].(string)
		}
		u := s.find(key)
		if u == nil {
			return gerr(404, "notFound", "Resource Not Found: memberKey")
		}
		em := strings.ToLower(u.PrimaryEmail)
		if g.members[em] {
			return gerr(409, "duplicate", "Member already exists.")
		}
		g.members[em] = true
		return jsonReply(200, map[string]any{"kind": "admin#directory#member", "id": u.ID, "email": u.PrimaryEmail,
			"role": "MEMBER", "type": "USER", "status": "ACTIVE"})
	case "directory.members.delete":
		g := s.groups[strings.ToLower(p["groupKey"])]
		if g == nil {
			return gerr(404, "notFound", "Resource Not Found: groupKey")
		}
		em := strings.ToLower(p["memberKey"])
		if u := s.find(p["memberKey"]); u != nil {
			em = strings.ToLower(u.PrimaryEmail)
		}
		if !g.members[em] {
			return gerr(404, "notFound", "Resource Not Found: memberKey")
		}
		delete(g.members, em)
		return reply{status: 204}
	case "directory.members.list":
		g := s.groups[strings.ToLower(p["groupKey"])]
		if g == nil {
			return gerr(404, "notFound", "Resource Not Found: groupKey")
		}
		var ms []string
		for m := range g.members {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		a, b, next, bad := s.page(q, len(ms))
		if bad {
			return gerr(400, "invalid", "Invalid Input: pageToken")
		}
		items := []any{}
		for _, m := range ms[a:b] {
			item := map[string]any{"kind": "admin#directory#member", "email": m, "role": "MEMBER", "type": "USER", "status": "ACTIVE"}
			if u := s.find(m); u != nil {
				item["id"] = u.ID
			}
			items = append(items, item)
		}
		out := map[string]any{"kind": "admin#directory#members", "members": items}
		if next != "" {
			out["nextPageToken"] = next
		}
		return jsonReply(200, out)
	case "datatransfer.applications.list":
		return jsonReply(200, map[string]any{"kind": "admin#datatransfer#applicationsList", "applications": []any{
			map[string]any{"kind": "admin#datatransfer#ApplicationResource", "id": DriveAppID, "name": "Drive and Docs",
				"transferParams": []any{map[string]any{"key": "PRIVACY_LEVEL", "value": []string{"PRIVATE", "SHARED"}}}},
			map[string]any{"kind": "admin#datatransfer#ApplicationResource", "id": CalendarAppID, "name": "Calendar",
				"transferParams": []any{map[string]any{"key": "RELEASE_RESOURCES", "value": []string{"TRUE"}}}},
		}})
	case "datatransfer.transfers.insert":
		old, _ := in["oldOwnerUserId"].(string)
		nw, _ := in["newOwnerUserId"].(string)
		if s.users[old] == nil || s.users[nw] == nil {
			return gerr(400, "invalid", "Invalid Input: user id")
		}
		if old == nw {
			return gerr(400, "invalid", "Invalid Input: old and new owner are the same")
		}
		t := &Transfer{ID: "AKrEtIb" + strconv.Itoa(len(s.transfers)+1), OldOwner: old, NewOwner: nw, RequestTime: time.Now(),
			Status: "inProgress", pollsLeft: s.opts.TransferPolls}
		apps, _ := in["applicationDataTransfers"].([]any)
		if len(apps) == 0 {
			return gerr(400, "invalid", "Invalid Input: applicationDataTransfers")
		}
		for _, a := range apps {
			am, _ := a.(map[string]any)
			appID, _ := am["applicationId"].(string)
			if appID != DriveAppID && appID != CalendarAppID {
				return gerr(400, "invalid", "Invalid Input: applicationId")
			}
			ta := TransferApp{ApplicationID: appID, Params: map[string][]string{}}
			ps, _ := am["applicationTransferParams"].([]any)
			for _, p := range ps {
				pm, _ := p.(map[string]any)
				k, _ := pm["key"].(string)
				vs, _ := pm["value"].([]any)
				for _, v := range vs {
					sv, _ := v.(string)
					ta.Params[k] = append(ta.Params[k], sv)
				}
			}
			t.Apps = append(t.Apps, ta)
		}
		if t.pollsLeft == 0 {
			t.Status = "completed"
		}
		s.transfers = append(s.transfers, t)
		return jsonReply(200, transferJSON(t))
	case "datatransfer.transfers.list":
		var ts []*Transfer
		for _, t := range s.transfers {
			if (q.Get("oldOwnerUserId") == "" || q.Get("oldOwnerUserId") == t.OldOwner) &&
				(q.Get("newOwnerUserId") == "" || q.Get("newOwnerUserId") == t.NewOwner) &&
				(q.Get("status") == "" || q.Get("status") == t.Status) {
				ts = append(ts, t)
			}
		}
		a, b, next, bad := s.page(q, len(ts))
		if bad {
			return gerr(400, "invalid", "Invalid Input: pageToken")
		}
		items := []any{}
		for _, t := range ts[a:b] {
			s.poll(t)
			items = append(items, transferJSON(t))
		}
		out := map[string]any{"kind": "admin#datatransfer#dataTransfersList", "dataTransfers": items}
		if next != "" {
			out["nextPageToken"] = next
		}
		return jsonReply(200, out)
	case "datatransfer.transfers.get":
		for _, t := range s.transfers {
			if t.ID == p["dataTransferId"] {
				s.poll(t)
				return jsonReply(200, transferJSON(t))
			}
		}
		return gerr(404, "notFound", "Resource Not Found: dataTransferId")
	}
	return gerr(501, "notImplemented", "googletest does not implement "+id)
}

// poll advances an in-progress transfer by one read.
func (s *Server) poll(t *Transfer) {
	if t.Status != "inProgress" {
		return
	}
	t.pollsLeft--
	if t.pollsLeft <= 0 {
		t.Status = "completed"
	}
}

func transferJSON(t *Transfer) map[string]any {
	apps := []any{}
	for _, a := range t.Apps {
		var ps []any
		keys := make([]string, 0, len(a.Params))
		for k := range a.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps = append(ps, map[string]any{"key": k, "value": a.Params[k]})
		}
		apps = append(apps, map[string]any{"applicationId": a.ApplicationID, "applicationTransferParams": ps, "applicationTransferStatus": t.Status})
	}
	return map[string]any{"kind": "admin#datatransfer#DataTransfer", "id": t.ID, "oldOwnerUserId": t.OldOwner, "newOwnerUserId": t.NewOwner,
		"overallTransferStatusCode": t.Status, "requestTime": rfc3339(t.RequestTime), "applicationDataTransfers": apps, "etag": `"t"`}
}

// apply copies the writable fields of a users.insert/patch body.
func (s *Server) apply(u *User, in map[string]any) {
	if v, ok := in["suspended"].(bool); ok {
		u.Suspended = v
	}
	if v, ok := in["orgUnitPath"].(string); ok && v != "" {
		u.OrgUnitPath = v
	}
	if v, ok := in["password"].(string); ok && v != "" {
		u.Password = v
	}
	if v, ok := in["changePasswordAtNextLogin"].(bool); ok {
		u.ChangePasswordAtNextLogin = v
	}
	if n, ok := in["name"].(map[string]any); ok {
		if v, ok := n["givenName"].(string); ok && v != "" {
			u.GivenName = v
		}
		if v, ok := n["familyName"].(string); ok && v != "" {
			u.FamilyName = v
		}
	}
	if orgs, ok := in["organizations"].([]any); ok && len(orgs) > 0 {
		o, _ := orgs[0].(map[string]any)
		u.Title, _ = o["title"].(string)
		u.Department, _ = o["department"].(string)
	}
	if rels, ok := in["relations"].([]any); ok {
		u.Manager = ""
		for _, r := range rels {
			rm, _ := r.(map[string]any)
			if rm["type"] == "manager" {
				u.Manager, _ = rm["value"].(string)
			}
		}
	}
}
