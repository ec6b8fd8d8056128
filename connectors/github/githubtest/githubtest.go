// Package githubtest is a stateful fake GitHub organization for tests: a
// loopback httptest server speaking GitHub's REST wire format (org
// memberships, invitations, teams, repository collaborators, outside
// collaborators, SAML credential authorizations, GitHub App installation
// tokens), with Link paging, x-ratelimit-* headers on every answer and fault
// injection. Every request it receives and every response it sends is
// validated against GitHub's OpenAPI description from npm @octokit/openapi
// (installed by .ci/deps.d/github.sh); a violation fails the test.
package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server.
type Options struct {
	// Org is the organization login (default acme).
	Org string
	// MaxPerPage caps per_page (default 100, as GitHub does).
	MaxPerPage int
	// Token is a personal access token the server accepts.
	Token string
	// Scopes, when set, is sent as X-OAuth-Scopes to Token (a classic token).
	Scopes string
	// AppID, InstallationID and AppKey enable GitHub App authentication.
	AppID          string
	InstallationID int64
	AppKey         *rsa.PublicKey
	// Permissions are the installation's permissions (default members:
	// write, administration: write).
	Permissions map[string]string
	// TokenTTL is an installation token's lifetime (default 1 h).
	TokenTTL time.Duration
	// SAML enables SAML SSO (credential authorizations); without it those
	// endpoints answer 404, as GitHub does for organizations without SAML.
	SAML bool
	// AutoAccept makes an added membership active at once (the invitee
	// accepts instantly); otherwise it stays pending until Accept.
	AutoAccept bool
	// AutoUsers makes an unknown login a GitHub user on first reference.
	AutoUsers bool
	// Latency delays every answer (benchmarks, timeouts).
	Latency time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// User is a GitHub user account.
type User struct {
	ID    int64
	Login string
	// Email is the user's public email ("" when private).
	Email string
	// Emails are all the user's verified emails, public or not: GitHub
	// matches invitations against them.
	Emails []string
}

// Member is an organization membership.
type Member struct {
	Login string
	Role  string // admin, member
	State string // active, pending
}

// Invitation is a pending organization invitation.
type Invitation struct {
	ID      int64
	Login   string // set for invitations of a known user (pending memberships)
	Email   string
	Role    string
	Created time.Time
}

// TeamMember is a team membership.
type TeamMember struct{ Role, State string }

// Credential is a SAML SSO credential authorization.
type Credential struct {
	ID    int64
	Login string
	Type  string
}

// Request is one logged request.
type Request struct {
	Time         time.Time
	Method, Path string
	Query        url.Values
}

// FaultKind names an injected failure.
type FaultKind int

// Faults.
const (
	// PrimaryLimit answers 403 with x-ratelimit-remaining 0 and a reset RetryAfter ahead.
	PrimaryLimit FaultKind = iota + 1
	// SecondaryLimit answers 403 "secondary rate limit" with retry-after
	// RetryAfter (no header when 0).
	SecondaryLimit
	// BadGateway answers 502.
	BadGateway
)

// Fault is an injected failure for the next Count requests whose path has
// the prefix Path ("" for any).
type Fault struct {
	Kind       FaultKind
	Count      int
	Path       string
	RetryAfter time.Duration
}

// Server is the fake.
type Server struct {
	URL  string
	t    testing.TB
	opts Options
	spec *Spec
	srv  *httptest.Server

	mu          sync.Mutex
	nextID      int64
	users       map[string]*User
	members     map[string]*Member
	invitations []*Invitation
	invSent     int
	teams       map[string]*team
	repos       map[string]*repo
	creds       []*Credential
	activity    map[string]time.Time
	tokens      map[string]time.Time
	exchanges   int
	log         []Request
	faults      []*Fault
	used        int
}

type team struct {
	ID      int64
	Slug    string
	Members map[string]*TeamMember
}

type repo struct {
	ID     int64
	Name   string
	Collab map[string]string // login → pull|triage|push|maintain|admin
}

// New starts a fake organization; it stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	sp, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Org == "" {
		opts.Org = "acme"
	}
	if opts.MaxPerPage <= 0 {
		opts.MaxPerPage = 100
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Permissions == nil {
		opts.Permissions = map[string]string{"members": "write", "administration": "write"}
	}
	s := &Server{t: t, opts: opts, spec: sp, nextID: 1000, users: map[string]*User{}, members: map[string]*Member{},
		teams: map[string]*team{}, repos: map[string]*repo{}, tokens: map[string]time.Time{}, activity: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Org is the organization login.
func (s *Server) Org() string { return s.opts.Org }

// SettingsYAML returns connector settings pointing at the fake with token auth.
func (s *Server) SettingsYAML() string {
	return fmt.Sprintf("org: %s\napi_url: %s\nauth:\n  type: token\n  token: %s\n", s.opts.Org, s.URL, s.opts.Token)
}

func (s *Server) id() int64 { s.nextID++; return s.nextID }

// AddUser registers a GitHub user (email is its public email, may be "").
func (s *Server) AddUser(login, email string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUser(login, email)
}

func (s *Server) addUser(login, email string) *User {
	k := strings.ToLower(login)
	if u, ok := s.users[k]; ok {
		return u
	}
	u := &User{ID: s.id(), Login: login, Email: email}
	if email != "" {
		u.Emails = []string{email}
	}
	s.users[k] = u
	return u
}

func (s *Server) user(login string) *User {
	u := s.users[strings.ToLower(login)]
	if u == nil && s.opts.AutoUsers && login != "" {
		u = s.addUser(login, "")
	}
	return u
}

// AddMember makes login an active member with role (admin or member).
func (s *Server) AddMember(login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(login, "")
	s.members[strings.ToLower(login)] = &Member{Login: login, Role: role, State: "active"}
}

// AddTeam creates a team.
func (s *Server) AddTeam(slug string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teams[slug] = &team{ID: s.id(), Slug: slug, Members: map[string]*TeamMember{}}
}

// AddRepo creates an organization repository.
func (s *Server) AddRepo(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[strings.ToLower(name)] = &repo{ID: s.id(), Name: name, Collab: map[string]string{}}
}

// AddCollaborator gives login a direct role on repo (an outside
// collaborator when login is no member).
func (s *Server) AddCollaborator(repoName, login, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(login, "")
	s.repos[strings.ToLower(repoName)].Collab[strings.ToLower(login)] = perm
}

// AddCredential authorizes a credential of login for SAML SSO.
func (s *Server) AddCredential(login, typ string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Credential{ID: s.id(), Login: login, Type: typ}
	s.creds = append(s.creds, c)
	return c.ID
}

// SetLastActivity sets login's Copilot seat last_activity_at.
func (s *Server) SetLastActivity(login string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activity[strings.ToLower(login)] = t
}

// Accept makes the invitee of a pending invitation for emailOrLogin accept
// it as login (a new user when unknown); publicEmail makes the invitation's
// email the user's public email, else it stays private.
func (s *Server) Accept(emailOrLogin, login string, publicEmail bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, inv := range s.invitations {
		if strings.EqualFold(inv.Email, emailOrLogin) || (inv.Login != "" && strings.EqualFold(inv.Login, emailOrLogin)) {
			if inv.Login != "" {
				login = inv.Login
			}
			u := s.addUser(login, "")
			if inv.Email != "" {
				u.Emails = append(u.Emails, inv.Email)
				if publicEmail {
					u.Email = inv.Email
				}
			}
			role := "member"
			if inv.Role == "admin" {
				role = "admin"
			}
			s.members[strings.ToLower(login)] = &Member{Login: login, Role: role, State: "active"}
			for _, t := range s.teams {
				if tm := t.Members[strings.ToLower(login)]; tm != nil {
					tm.State = "active"
				}
			}
			s.invitations = append(s.invitations[:i], s.invitations[i+1:]...)
			return true
		}
	}
	return false
}

// Membership returns login's membership, or nil.
func (s *Server) Membership(login string) *Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.members[strings.ToLower(login)]; m != nil {
		cp := *m
		return &cp
	}
	return nil
}

// Invitations returns the pending invitations.
func (s *Server) Invitations() []Invitation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invitation, 0, len(s.invitations))
	for _, i := range s.invitations {
		out = append(out, *i)
	}
	return out
}

// InvitationsSent counts invitations created (by POST or by adding a pending membership).
func (s *Server) InvitationsSent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invSent
}

// Teams returns the team slugs login belongs to (active or pending) with roles.
func (s *Server) Teams(login string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for slug, t := range s.teams {
		if tm := t.Members[strings.ToLower(login)]; tm != nil {
			out[slug] = tm.Role
		}
	}
	return out
}

// Collaborations returns repo → direct role of login.
func (s *Server) Collaborations(login string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, r := range s.repos {
		if p, ok := r.Collab[strings.ToLower(login)]; ok {
			out[r.Name] = p
		}
	}
	return out
}

// Credentials returns the SAML credential authorizations of login.
func (s *Server) Credentials(login string) []Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Credential
	for _, c := range s.creds {
		if strings.EqualFold(c.Login, login) {
			out = append(out, *c)
		}
	}
	return out
}

// TokenExchanges counts installation token exchanges.
func (s *Server) TokenExchanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exchanges
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count <= 0 {
		f.Count = 1
	}
	s.faults = append(s.faults, &f)
}

// --- HTTP ---

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) json(status int, v any) {
	a.status = status
	if v == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	a.body = b
	a.header.Set("Content-Type", "application/json; charset=utf-8")
}

func (a *answer) fail(status int, msg string) {
	a.json(status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

func (a *answer) invalid(resource, field, code, msg string) {
	a.json(http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest",
		"status": "422", "errors": []map[string]string{{"resource": resource, "field": field, "code": code, "message": msg}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if s.opts.Latency > 0 {
		select {
		case <-time.After(s.opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	a := &answer{header: http.Header{}}
	s.mu.Lock()
	now := s.opts.Now()
	s.log = append(s.log, Request{Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()})
	s.used++
	remaining := max(0, 5000-s.used)
	reset := now.Add(time.Hour).Unix()
	faulted := false
	for i, f := range s.faults {
		if !strings.HasPrefix(r.URL.Path, f.Path) {
			continue
		}
		faulted = true
		switch f.Kind {
		case PrimaryLimit:
			remaining = 0
			reset = now.Add(f.RetryAfter).Unix()
			a.fail(http.StatusForbidden, "API rate limit exceeded for installation ID "+strconv.FormatInt(s.opts.InstallationID, 10)+".")
		case SecondaryLimit:
			if f.RetryAfter > 0 {
				a.header.Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Seconds())))
			}
			a.fail(http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
		case BadGateway:
			a.fail(http.StatusBadGateway, "Server Error")
		}
		if f.Count--; f.Count == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		break
	}
	if !faulted {
		s.route(a, r, body, now)
	}
	s.mu.Unlock()
	a.header.Set("X-RateLimit-Limit", "5000")
	a.header.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	a.header.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	a.header.Set("X-RateLimit-Used", strconv.Itoa(5000-remaining))
	a.header.Set("X-RateLimit-Resource", "core")
	a.header.Set("X-GitHub-Media-Type", "github.v3; format=json")
	if err := s.spec.Validate(Exchange{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header, Body: body,
		Status: a.status, RespHeader: a.header, RespBody: a.body}); err != nil {
		s.t.Errorf("githubtest: %s %s violates GitHub's OpenAPI description: %v", r.Method, r.URL.Path, err)
	}
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (s *Server) authorized(r *http.Request, now time.Time) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(r.Header.Get("Authorization"), "token ")
	}
	if !ok || tok == "" {
		return false
	}
	if s.opts.Token != "" && tok == s.opts.Token {
		return true
	}
	exp, ok := s.tokens[tok]
	return ok && now.Before(exp)
}

func (s *Server) route(a *answer, r *http.Request, body []byte, now time.Time) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i := range p {
		p[i], _ = url.PathUnescape(p[i])
	}
	if len(p) == 4 && p[0] == "app" && p[1] == "installations" && p[3] == "access_tokens" && r.Method == http.MethodPost {
		s.accessToken(a, r, p[2], now)
		return
	}
	if !s.authorized(r, now) {
		a.fail(http.StatusUnauthorized, "Bad credentials")
		return
	}
	if s.opts.Scopes != "" && r.Header.Get("Authorization") == "Bearer "+s.opts.Token {
		a.header.Set("X-OAuth-Scopes", s.opts.Scopes)
	}
	var in map[string]any
	if len(body) > 0 && json.Unmarshal(body, &in) != nil {
		a.fail(http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	q := r.URL.Query()
	switch {
	case p[0] == "orgs" && len(p) >= 2:
		if !strings.EqualFold(p[1], s.opts.Org) {
			a.fail(http.StatusNotFound, "Not Found")
			return
		}
		s.routeOrg(a, r, p[2:], q, in, now)
	case p[0] == "repos" && len(p) >= 4 && p[3] == "collaborators":
		rp := s.repos[strings.ToLower(p[2])]
		if !strings.EqualFold(p[1], s.opts.Org) || rp == nil {
			a.fail(http.StatusNotFound, "Not Found")
			return
		}
		s.routeRepo(a, r, rp, p[4:], q, in)
	default:
		a.fail(http.StatusNotFound, "Not Found")
	}
}

func (s *Server) routeOrg(a *answer, r *http.Request, p []string, q url.Values, in map[string]any, now time.Time) {
	m := r.Method
	switch {
	case len(p) == 0 && m == "GET":
		a.json(200, s.orgFull(now))
	case len(p) == 1 && p[0] == "members" && m == "GET":
		var items []any
		for _, k := range sortedKeys(s.members) {
			mb := s.members[k]
			role := q.Get("role")
			if mb.State != "active" || (role == "admin" && mb.Role != "admin") || (role == "member" && mb.Role != "member") {
				continue
			}
			items = append(items, s.simpleUser(s.users[k]))
		}
		s.page(a, r, items)
	case len(p) == 2 && p[0] == "memberships":
		s.membership(a, m, p[1], in, now)
	case len(p) == 1 && p[0] == "invitations" && m == "GET":
		var items []any
		for _, inv := range s.invitations {
			items = append(items, s.invitationJSON(inv))
		}
		s.page(a, r, items)
	case len(p) == 1 && p[0] == "invitations" && m == "POST":
		s.invite(a, in, now)
	case len(p) == 2 && p[0] == "invitations" && m == "DELETE":
		for i, inv := range s.invitations {
			if strconv.FormatInt(inv.ID, 10) == p[1] {
				s.invitations = append(s.invitations[:i], s.invitations[i+1:]...)
				if inv.Login != "" {
					if mb := s.members[strings.ToLower(inv.Login)]; mb != nil && mb.State == "pending" {
						delete(s.members, strings.ToLower(inv.Login))
					}
				}
				a.json(204, nil)
				return
			}
		}
		a.fail(404, "Not Found")
	case len(p) >= 3 && p[0] == "teams":
		t := s.teams[p[1]]
		if t == nil {
			a.fail(404, "Not Found")
			return
		}
		s.routeTeam(a, r, t, p[2:], q, in)
	case len(p) == 1 && p[0] == "outside_collaborators" && m == "GET":
		var items []any
		for _, k := range s.outside() {
			items = append(items, s.simpleUser(s.users[k]))
		}
		s.page(a, r, items)
	case len(p) == 2 && p[0] == "outside_collaborators" && m == "DELETE":
		k := strings.ToLower(p[1])
		if s.users[k] == nil {
			a.fail(404, "Not Found")
			return
		}
		if s.members[k] != nil {
			a.json(422, map[string]string{"message": "You cannot specify an organization member to remove as an outside collaborator.", "documentation_url": "https://docs.github.com/rest"})
			return
		}
		for _, rp := range s.repos {
			delete(rp.Collab, k)
		}
		a.json(204, nil)
	case len(p) >= 1 && p[0] == "credential-authorizations":
		if !s.opts.SAML {
			a.fail(404, "Not Found")
			return
		}
		switch {
		case len(p) == 1 && m == "GET":
			var items []any
			for _, c := range s.creds {
				if l := q.Get("login"); l == "" || strings.EqualFold(l, c.Login) {
					items = append(items, s.credJSON(c, now))
				}
			}
			s.page(a, r, items)
		case len(p) == 2 && m == "DELETE":
			for i, c := range s.creds {
				if strconv.FormatInt(c.ID, 10) == p[1] {
					s.creds = append(s.creds[:i], s.creds[i+1:]...)
					a.json(204, nil)
					return
				}
			}
			a.fail(404, "Not Found")
		default:
			a.fail(404, "Not Found")
		}
	case len(p) == 3 && p[0] == "copilot" && p[1] == "billing" && p[2] == "seats" && m == "GET":
		var seats []any
		for _, k := range sortedKeys(s.activity) {
			if u := s.users[k]; u != nil {
				seats = append(seats, map[string]any{"created_at": now.Add(-30 * 24 * time.Hour).Format(time.RFC3339),
					"assignee": s.simpleUser(u), "last_activity_at": s.activity[k].UTC().Format(time.RFC3339), "plan_type": "business"})
			}
		}
		a.json(200, map[string]any{"total_seats": len(seats), "seats": seats})
	default:
		a.fail(404, "Not Found")
	}
}

func (s *Server) membership(a *answer, method, login string, in map[string]any, now time.Time) {
	k := strings.ToLower(login)
	u := s.user(login)
	if u == nil {
		a.fail(404, "Not Found")
		return
	}
	mb := s.members[k]
	switch method {
	case "GET":
		if mb == nil {
			a.fail(404, "Not Found")
			return
		}
		a.json(200, s.membershipJSON(mb))
	case "PUT":
		role, _ := in["role"].(string)
		if role == "" {
			role = "member"
		}
		if mb == nil {
			mb = &Member{Login: u.Login, Role: role, State: "active"}
			if !s.opts.AutoAccept {
				mb.State = "pending"
				s.invitations = append(s.invitations, &Invitation{ID: s.id(), Login: u.Login, Email: u.Email, Role: invitationRole(role), Created: now})
				s.invSent++
			}
			s.members[k] = mb
		}
		mb.Role = role
		a.json(200, s.membershipJSON(mb))
	case "DELETE":
		if mb == nil {
			a.fail(404, "Not Found")
			return
		}
		delete(s.members, k)
		for i, inv := range s.invitations {
			if strings.EqualFold(inv.Login, login) {
				s.invitations = append(s.invitations[:i], s.invitations[i+1:]...)
				break
			}
		}
		for _, t := range s.teams {
			delete(t.Members, k)
		}
		// Direct repository roles stay: the person is now an outside collaborator.
		a.json(204, nil)
	default:
		a.fail(404, "Not Found")
	}
}

func (s *Server) invite(a *answer, in map[string]any, now time.Time) {
	email, _ := in["email"].(string)
	role, _ := in["role"].(string)
	if role == "" {
		role = "direct_member"
	}
	if email == "" {
		a.invalid("OrganizationInvite", "email", "missing_field", "email or invitee_id is required")
		return
	}
	for _, inv := range s.invitations {
		if strings.EqualFold(inv.Email, email) {
			a.invalid("OrganizationInvite", "email", "custom", "Invitee has already been invited")
			return
		}
	}
	for k, u := range s.users {
		for _, e := range u.Emails {
			if strings.EqualFold(e, email) && s.members[k] != nil {
				a.invalid("OrganizationInvite", "data", "unprocessable", "Invitee is already a part of this organization")
				return
			}
		}
	}
	inv := &Invitation{ID: s.id(), Email: email, Role: role, Created: now}
	s.invitations = append(s.invitations, inv)
	s.invSent++
	a.json(201, s.invitationJSON(inv))
}

func (s *Server) routeTeam(a *answer, r *http.Request, t *team, p []string, q url.Values, in map[string]any) {
	base := s.URL + "/orgs/" + s.opts.Org + "/teams/" + t.Slug
	switch {
	case len(p) == 1 && p[0] == "members" && r.Method == "GET":
		var items []any
		for _, k := range sortedKeys(t.Members) {
			tm := t.Members[k]
			if tm.State != "active" || (q.Get("role") == "maintainer" && tm.Role != "maintainer") || (q.Get("role") == "member" && tm.Role != "member") {
				continue
			}
			items = append(items, s.simpleUser(s.users[k]))
		}
		s.page(a, r, items)
	case len(p) == 2 && p[0] == "memberships":
		k := strings.ToLower(p[1])
		u := s.user(p[1])
		if u == nil {
			a.fail(404, "Not Found")
			return
		}
		tm := t.Members[k]
		switch r.Method {
		case "GET":
			if tm == nil {
				a.fail(404, "Not Found")
				return
			}
		case "PUT":
			role, _ := in["role"].(string)
			if role == "" {
				role = "member"
			}
			if tm == nil {
				tm = &TeamMember{State: "pending"}
				if mb := s.members[k]; mb != nil && mb.State == "active" {
					tm.State = "active"
				}
				t.Members[k] = tm
			}
			tm.Role = role
		case "DELETE":
			if tm == nil {
				a.fail(404, "Not Found")
				return
			}
			delete(t.Members, k)
			a.json(204, nil)
			return
		}
		a.json(200, map[string]any{"url": base + "/memberships/" + u.Login, "role": tm.Role, "state": tm.State})
	default:
		a.fail(404, "Not Found")
	}
}

var validPerms = map[string]bool{"pull": true, "triage": true, "push": true, "maintain": true, "admin": true}

func (s *Server) routeRepo(a *answer, r *http.Request, rp *repo, p []string, q url.Values, in map[string]any) {
	switch {
	case len(p) == 0 && r.Method == "GET":
		var items []any
		for _, k := range sortedKeys(rp.Collab) {
			items = append(items, s.collaborator(s.users[k], rp.Collab[k]))
		}
		s.page(a, r, items)
	case len(p) >= 1:
		k := strings.ToLower(p[0])
		u := s.user(p[0])
		if u == nil {
			a.fail(404, "Not Found")
			return
		}
		perm, has := rp.Collab[k]
		switch {
		case len(p) == 2 && p[1] == "permission" && r.Method == "GET":
			if !has {
				a.json(200, map[string]any{"permission": "none", "role_name": "none", "user": s.collaborator(u, "pull")})
				return
			}
			legacy := map[string]string{"pull": "read", "triage": "read", "push": "write", "maintain": "write", "admin": "admin"}[perm]
			a.json(200, map[string]any{"permission": legacy, "role_name": roleName(perm), "user": s.collaborator(u, perm)})
		case len(p) == 1 && r.Method == "GET":
			if !has {
				a.fail(404, "Not Found")
				return
			}
			a.json(204, nil)
		case len(p) == 1 && r.Method == "PUT":
			want, _ := in["permission"].(string)
			if want == "" {
				want = "push"
			}
			if !validPerms[want] {
				a.invalid("Repository", "permission", "invalid", "permission "+want+" is not valid")
				return
			}
			rp.Collab[k] = want
			a.json(204, nil)
		case len(p) == 1 && r.Method == "DELETE":
			delete(rp.Collab, k)
			a.json(204, nil)
		default:
			a.fail(404, "Not Found")
		}
	default:
		a.fail(404, "Not Found")
	}
}

func invitationRole(orgRole string) string {
	if orgRole == "admin" {
		return "admin"
	}
	return "direct_member"
}

func roleName(perm string) string {
	return map[string]string{"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain", "admin": "admin"}[perm]
}

// outside lists users with a direct repository role and no membership.
func (s *Server) outside() []string {
	set := map[string]bool{}
	for _, rp := range s.repos {
		for k := range rp.Collab {
			if s.members[k] == nil {
				set[k] = true
			}
		}
	}
	return sortedKeys(set)
}

// page answers one page of items with a Link header, as GitHub does.
func (s *Server) page(a *answer, r *http.Request, items []any) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, s.opts.MaxPerPage)
	pg, err := strconv.Atoi(q.Get("page"))
	if err != nil || pg <= 0 {
		pg = 1
	}
	start := min((pg-1)*per, len(items))
	end := min(start+per, len(items))
	last := max(1, (len(items)+per-1)/per)
	link := func(n int) string {
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(per))
		return s.URL + r.URL.Path + "?" + q.Encode()
	}
	var links []string
	if pg < last {
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, link(pg+1)), fmt.Sprintf(`<%s>; rel="last"`, link(last)))
	}
	if pg > 1 {
		links = append(links, fmt.Sprintf(`<%s>; rel="prev"`, link(pg-1)), fmt.Sprintf(`<%s>; rel="first"`, link(1)))
	}
	if len(links) > 0 {
		a.header.Set("Link", strings.Join(links, ", "))
	}
	out := items[start:end]
	if out == nil {
		out = []any{}
	}
	a.json(200, out)
}

// --- GitHub App tokens ---

func (s *Server) accessToken(a *answer, r *http.Request, inst string, now time.Time) {
	if s.opts.AppKey == nil || inst != strconv.FormatInt(s.opts.InstallationID, 10) {
		a.fail(404, "Not Found")
		return
	}
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		a.fail(401, "A JSON web token could not be decoded")
		return
	}
	if err := verifyJWT(jwt, s.opts.AppKey, s.opts.AppID, now); err != nil {
		a.fail(401, "'Issued at' or 'Expiration time' claim is invalid, or the JWT does not verify: "+err.Error())
		return
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	exp := now.Add(s.opts.TokenTTL)
	s.tokens[tok] = exp
	s.exchanges++
	a.json(201, map[string]any{"token": tok, "expires_at": exp.UTC().Format(time.RFC3339), "permissions": s.opts.Permissions, "repository_selection": "all"})
}

// verifyJWT checks an app JWT the way GitHub does: RS256 signed by the app
// key, issued by the app, not expired, at most 10 minutes long.
func verifyJWT(tok string, key *rsa.PublicKey, appID string, now time.Time) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return err
	}
	var h struct{ Alg string }
	if json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" {
		return fmt.Errorf("alg %q is not RS256", h.Alg)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var c struct {
		Iat, Exp int64
		Iss      any
	}
	if err := json.Unmarshal(cb, &c); err != nil {
		return err
	}
	if fmt.Sprint(c.Iss) != appID {
		return fmt.Errorf("iss %v is not app %s", c.Iss, appID)
	}
	if c.Exp <= now.Unix() || c.Iat > now.Unix()+60 || c.Exp-c.Iat > 660 {
		return fmt.Errorf("iat %d / exp %d invalid at %d", c.Iat, c.Exp, now.Unix())
	}
	return nil
}

// --- JSON shapes (GitHub's, with every field the description requires) ---

func (s *Server) simpleUser(u *User) map[string]any {
	api := s.URL + "/users/" + u.Login
	m := map[string]any{
		"login": u.Login, "id": u.ID, "node_id": fmt.Sprintf("MDQ6VXNlcj%d", u.ID),
		"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(u.ID, 10), "gravatar_id": "",
		"url": api, "html_url": "https://github.com/" + u.Login, "followers_url": api + "/followers",
		"following_url": api + "/following{/other_user}", "gists_url": api + "/gists{/gist_id}",
		"starred_url": api + "/starred{/owner}{/repo}", "subscriptions_url": api + "/subscriptions",
		"organizations_url": api + "/orgs", "repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
		"received_events_url": api + "/received_events", "type": "User", "site_admin": false,
	}
	if u.Email != "" {
		m["email"] = u.Email
	}
	return m
}

func (s *Server) collaborator(u *User, perm string) map[string]any {
	m := s.simpleUser(u)
	lv := map[string]int{"pull": 1, "triage": 2, "push": 3, "maintain": 4, "admin": 5}[perm]
	m["permissions"] = map[string]bool{"pull": lv >= 1, "triage": lv >= 2, "push": lv >= 3, "maintain": lv >= 4, "admin": lv >= 5}
	m["role_name"] = roleName(perm)
	return m
}

func (s *Server) orgSimple() map[string]any {
	api := s.URL + "/orgs/" + s.opts.Org
	return map[string]any{"login": s.opts.Org, "id": 1, "node_id": "MDEyOk9yZ2FuaXphdGlvbjE=", "url": api,
		"repos_url": api + "/repos", "events_url": api + "/events", "hooks_url": api + "/hooks", "issues_url": api + "/issues",
		"members_url": api + "/members{/member}", "public_members_url": api + "/public_members{/member}",
		"avatar_url": "https://avatars.githubusercontent.com/u/1", "description": "A fake organization"}
}

func (s *Server) orgFull(now time.Time) map[string]any {
	m := s.orgSimple()
	for k, v := range map[string]any{"html_url": "https://github.com/" + s.opts.Org, "has_organization_projects": true,
		"has_repository_projects": true, "public_repos": len(s.repos), "public_gists": 0, "followers": 0, "following": 0,
		"type": "Organization", "created_at": now.Add(-365 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"updated_at": now.UTC().Format(time.RFC3339), "archived_at": nil} {
		m[k] = v
	}
	return m
}

func (s *Server) membershipJSON(mb *Member) map[string]any {
	return map[string]any{"url": s.URL + "/orgs/" + s.opts.Org + "/memberships/" + mb.Login, "state": mb.State, "role": mb.Role,
		"organization_url": s.URL + "/orgs/" + s.opts.Org, "organization": s.orgSimple(), "user": s.simpleUser(s.users[strings.ToLower(mb.Login)])}
}

func (s *Server) invitationJSON(inv *Invitation) map[string]any {
	inviter := s.addUser("gatehouse-bot", "")
	var login, email any
	if inv.Login != "" {
		login = inv.Login
	}
	if inv.Email != "" {
		email = inv.Email
	}
	return map[string]any{"id": inv.ID, "login": login, "email": email, "role": inv.Role,
		"created_at": inv.Created.UTC().Format(time.RFC3339), "inviter": s.simpleUser(inviter), "team_count": 0,
		"node_id":              fmt.Sprintf("MDIyOk9yZ2FuaXphdGlvbkludml0YXRpb24%d", inv.ID),
		"invitation_teams_url": s.URL + "/organizations/1/invitations/" + strconv.FormatInt(inv.ID, 10) + "/teams"}
}

func (s *Server) credJSON(c *Credential, now time.Time) map[string]any {
	return map[string]any{"login": c.Login, "credential_id": c.ID, "credential_type": c.Type,
		"credential_authorized_at": now.Add(-24 * time.Hour).UTC().Format(time.RFC3339),
		"credential_accessed_at":   now.UTC().Format(time.RFC3339), "authorized_credential_id": c.ID + 1}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
