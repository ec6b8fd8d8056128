// Package slackapptest is a stateful loopback fake of a Slack workspace's
// Web API (https://slack.com/api/METHOD) and SCIM v2 API, for testing
// connectors/slack. It is named slackapptest because bot/slacktest is the
// fake of the bot's side of Slack.
//
// Every Web API request it receives and every answer it sends is checked
// against Slack's own description of the API in @slack/web-api (see Spec):
// an unknown method, a missing required argument, an unknown argument, a
// badly typed value or an undeclared response field fails the test with
// t.Errorf naming the method. Slack publishes no machine-readable SCIM
// description, so SCIM bodies (requests and answers) are checked against
// RFC 7643's core User attributes (restated in scimcheck.go: names, types,
// required userName), and filters and PATCH paths against RFC 7644's
// grammar as github.com/scim2/filter-parser parses it.
//
// The fake keeps users (with the deleted flag), channels and their members,
// user groups and their users, session resets and access logs; it pages
// with small limits, answers Slack's "ok": false errors, injects 429 with
// Retry-After and 5xx, adds latency, and logs every request.
package slackapptest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tokens the fake accepts.
const (
	BotToken  = "xoxb-fake-bot-token-0123456789"
	UserToken = "xoxp-fake-user-token-0123456789"
)

// User is a Slack member.
type User struct {
	ID, Name, Email, RealName string
	Deleted, IsBot            bool
}

// Channel is a conversation with members.
type Channel struct {
	ID, Name  string
	Private   bool
	BotMember bool // private channels are visible only to a member bot
	Members   []string
}

// Usergroup is a user group (@handle).
type Usergroup struct {
	ID, Handle string
	Users      []string
}

// Plan says what the fake workspace allows.
type Plan struct {
	SCIM bool // the SCIM API answers
	Grid bool // team.info shows an enterprise; admin.users.* answer
	// PaidLogs enables team.accessLogs (else paid_only).
	PaidLogs bool
}

// Request is one logged request.
type Request struct {
	Time   time.Time
	Method string // HTTP method
	Path   string
	API    string // Web API method, or "scim"
}

// Fault is an injected failure for the next request(s) to a method.
type Fault struct {
	Status     int    // HTTP status (429, 500…); 0 with Code means HTTP 200 ok:false
	Code       string // Slack error code for ok:false
	RetryAfter int    // seconds, sent with 429
	Times      int    // how many requests it hits (default 1)
}

// Server is the fake.
type Server struct {
	*httptest.Server
	t    testing.TB
	spec *Spec

	mu        sync.Mutex
	plan      Plan
	users     map[string]*User
	order     []string // user ids in creation order, for paging
	channels  []*Channel
	groups    []*Usergroup
	resets    map[string]int
	logins    map[string]int64
	botScopes []string
	usrScopes []string
	faults    map[string][]*Fault
	log       []Request
	seq       int
	// PageLimit caps every page (default 2) so listings span pages. Set it
	// before the first request.
	PageLimit int
	latency   time.Duration
}

// SetLatency delays every later answer by d (benchmarks, timeouts).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// New starts a fake with plan. It fails t when Slack's description is not
// installed. The workspace starts with a bot user and Slackbot.
func New(t testing.TB, plan Plan) *Server {
	t.Helper()
	spec, err := FindSpec()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, spec: spec, plan: plan, users: map[string]*User{}, resets: map[string]int{}, logins: map[string]int64{},
		faults: map[string][]*Fault{}, PageLimit: 2,
		botScopes: []string{"users:read", "users:read.email", "channels:read", "groups:read", "channels:manage", "groups:write", "usergroups:read", "usergroups:write", "team:read"},
		usrScopes: []string{"admin", "admin.users:read", "admin.users:write"}}
	s.AddUser(User{ID: "USLACKBOT", Name: "slackbot", RealName: "Slackbot", IsBot: true})
	s.AddUser(User{ID: "UBOTGATE", Name: "gatehouse", RealName: "Gatehouse", IsBot: true})
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SettingsYAML returns connector settings pointing at the fake.
func (s *Server) SettingsYAML() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	y := fmt.Sprintf("bot_token: %s\napi_url: %s/api\npage_size: 100\n", BotToken, s.URL)
	if s.plan.SCIM || s.plan.Grid {
		y += "user_token: " + UserToken + "\n"
	}
	if s.plan.SCIM {
		y += fmt.Sprintf("scim: true\nscim_url: %s/scim/v2\n", s.URL)
	}
	if s.plan.Grid {
		y += "enterprise_grid: true\n"
	}
	return y
}

// SetScopes replaces the scopes the bot and user tokens were granted.
func (s *Server) SetScopes(bot, user []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.botScopes, s.usrScopes = bot, user
}

// AddUser adds a member (an id is assigned when empty) and returns its id.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUser(u)
}

func (s *Server) addUser(u User) string {
	if u.ID == "" {
		s.seq++
		u.ID = fmt.Sprintf("U%07d", s.seq)
	}
	s.users[u.ID] = &u
	s.order = append(s.order, u.ID)
	return u.ID
}

// AddChannel adds a channel.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels = append(s.channels, &c)
}

// AddUsergroup adds a user group.
func (s *Server) AddUsergroup(g Usergroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = append(s.groups, &g)
}

// SetLogin records a login for team.accessLogs.
func (s *Server) SetLogin(userID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins[userID] = at.Unix()
}

// UserByEmail returns a copy of the member with email.
func (s *Server) UserByEmail(email string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		if u := s.users[id]; strings.EqualFold(u.Email, email) {
			return *u, true
		}
	}
	return User{}, false
}

// UserByID returns a copy of a member.
func (s *Server) UserByID(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// SetDeleted sets a member's deleted flag (what an admin does by hand).
func (s *Server) SetDeleted(id string, deleted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.Deleted = deleted
	}
}

// Memberships returns the channel names and group handles id belongs to.
func (s *Server) Memberships(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.channels {
		if slices.Contains(c.Members, id) {
			out = append(out, "#"+c.Name)
		}
	}
	for _, g := range s.groups {
		if slices.Contains(g.Users, id) {
			out = append(out, "@"+g.Handle)
		}
	}
	sort.Strings(out)
	return out
}

// SessionResets returns how many times id's sessions were reset.
func (s *Server) SessionResets(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resets[id]
}

// Fail injects f for the next requests to api (a Web API method, or "scim").
func (s *Server) Fail(api string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults[api] = append(s.faults[api], &f)
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Calls counts the logged requests to api.
func (s *Server) Calls(api string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.API == api {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	lat := s.latency
	s.mu.Unlock()
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return
		}
	}
	api := "scim"
	if m, ok := strings.CutPrefix(r.URL.Path, "/api/"); ok {
		api = m
	}
	s.mu.Lock()
	s.log = append(s.log, Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, API: api})
	var fault *Fault
	if fs := s.faults[api]; len(fs) > 0 {
		fault = fs[0]
		if fault.Times--; fault.Times <= 0 {
			s.faults[api] = fs[1:]
		}
	}
	s.mu.Unlock()
	if fault != nil && fault.Status != 0 {
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
		}
		w.WriteHeader(fault.Status)
		if api != "scim" && fault.Status == http.StatusTooManyRequests {
			_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
		}
		return
	}
	if api == "scim" {
		s.serveSCIM(w, r)
		return
	}
	s.serveAPI(w, r, api, fault)
}

var userScoped = map[string]bool{"team.accessLogs": true}

// methodScopes is the scope each method needs (Slack's method reference).
var methodScopes = map[string]string{
	"users.info": "users:read", "users.list": "users:read", "users.lookupByEmail": "users:read.email",
	"users.conversations": "channels:read", "conversations.list": "channels:read", "conversations.members": "channels:read",
	"conversations.invite": "channels:manage", "conversations.kick": "channels:manage",
	"usergroups.list": "usergroups:read", "usergroups.users.list": "usergroups:read", "usergroups.users.update": "usergroups:write",
	"team.info": "team:read", "team.accessLogs": "admin",
	"admin.users.session.reset": "admin.users:write", "admin.users.invite": "admin.users:write", "admin.users.list": "admin.users:read",
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string, fault *Fault) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		s.t.Errorf("slackapptest: %s /api/%s: Slack's Web API takes GET or POST", r.Method, method)
	}
	if err := r.ParseForm(); err != nil {
		s.t.Errorf("slackapptest: %s /api/%s: bad form: %v", r.Method, method, err)
	}
	args := map[string]string{}
	for k, v := range r.Form {
		if len(v) > 1 {
			s.t.Errorf("slackapptest: /api/%s: argument %s sent %d times", method, k, len(v))
		}
		args[k] = v[0]
	}
	for _, p := range s.spec.CheckRequest(method, args) {
		s.t.Errorf("slackapptest: POST /api/%s: request: %s", method, p)
	}
	reply := func(h http.Header, v map[string]any) {
		body, _ := json.Marshal(v)
		for _, p := range s.spec.CheckResponse(method, body) {
			s.t.Errorf("slackapptest: POST /api/%s: %s", method, p)
		}
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}
	fail := func(code string, extra ...any) {
		v := map[string]any{"ok": false, "error": code}
		for i := 0; i+1 < len(extra); i += 2 {
			v[extra[i].(string)] = extra[i+1]
		}
		reply(nil, v)
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok != BotToken && tok != UserToken {
		fail("invalid_auth")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scopes := s.botScopes
	if tok == UserToken {
		scopes = s.usrScopes
	}
	hdr := http.Header{"X-Oauth-Scopes": {strings.Join(scopes, ",")}}
	if (strings.HasPrefix(method, "admin.") || userScoped[method]) && tok != UserToken {
		fail("not_allowed_token_type")
		return
	}
	if need := methodScopes[method]; need != "" && !slices.Contains(scopes, need) {
		fail("missing_scope", "needed", need, "provided", strings.Join(scopes, ","))
		return
	}
	if fault != nil && fault.Code != "" {
		fail(fault.Code)
		return
	}
	ok := func(v map[string]any) {
		v["ok"] = true
		reply(hdr, v)
	}
	switch method {
	case "auth.test":
		v := map[string]any{"url": "https://fake.slack.com/", "team": "Fake", "team_id": "T0FAKE", "user": "gatehouse", "user_id": "UBOTGATE"}
		if s.plan.Grid {
			v["enterprise_id"] = "E0FAKE"
		}
		ok(v)
	case "team.info":
		team := map[string]any{"id": "T0FAKE", "name": "Fake", "domain": "fake"}
		if s.plan.Grid {
			team["enterprise_id"], team["enterprise_name"] = "E0FAKE", "Fake Org"
		}
		ok(map[string]any{"team": team})
	case "users.info":
		u, found := s.users[args["user"]]
		if !found {
			fail("user_not_found")
			return
		}
		ok(map[string]any{"user": userJSON(u)})
	case "users.lookupByEmail":
		for _, id := range s.order {
			if u := s.users[id]; !u.Deleted && u.Email != "" && strings.EqualFold(u.Email, args["email"]) {
				ok(map[string]any{"user": userJSON(u)})
				return
			}
		}
		fail("users_not_found")
	case "users.list":
		page, next, err := s.page(len(s.order), args)
		if err != "" {
			fail(err)
			return
		}
		var members []any
		for _, i := range page {
			members = append(members, userJSON(s.users[s.order[i]]))
		}
		ok(map[string]any{"members": orEmpty(members), "response_metadata": map[string]any{"next_cursor": next}})
	case "conversations.list", "users.conversations":
		var vis []*Channel
		for _, c := range s.channels {
			if c.Private && !c.BotMember {
				continue
			}
			if method == "users.conversations" && args["user"] != "" && !slices.Contains(c.Members, args["user"]) {
				continue
			}
			vis = append(vis, c)
		}
		page, next, err := s.page(len(vis), args)
		if err != "" {
			fail(err)
			return
		}
		var chans []any
		for _, i := range page {
			c := vis[i]
			ch := map[string]any{"id": c.ID, "name": c.Name, "is_channel": !c.Private, "is_private": c.Private}
			if method == "conversations.list" { // users.conversations declares no is_member
				ch["is_member"] = c.BotMember
			}
			chans = append(chans, ch)
		}
		ok(map[string]any{"channels": orEmpty(chans), "response_metadata": map[string]any{"next_cursor": next}})
	case "conversations.members":
		c, code := s.channelFor(args["channel"])
		if code != "" {
			fail(code)
			return
		}
		page, next, err := s.page(len(c.Members), args)
		if err != "" {
			fail(err)
			return
		}
		members := []string{}
		for _, i := range page {
			members = append(members, c.Members[i])
		}
		ok(map[string]any{"members": members, "response_metadata": map[string]any{"next_cursor": next}})
	case "conversations.invite":
		c, code := s.channelWithBot(args["channel"])
		if code != "" {
			fail(code)
			return
		}
		for _, id := range strings.Split(args["users"], ",") {
			u, found := s.users[id]
			switch {
			case !found:
				fail("user_not_found")
				return
			case u.Deleted:
				fail("user_is_deleted") // not a documented code; stands for Slack's refusal
				return
			case slices.Contains(c.Members, id):
				fail("already_in_channel")
				return
			}
			c.Members = append(c.Members, id)
		}
		ok(map[string]any{"channel": map[string]any{"id": c.ID, "name": c.Name}})
	case "conversations.kick":
		c, code := s.channelWithBot(args["channel"])
		if code != "" {
			fail(code)
			return
		}
		if _, found := s.users[args["user"]]; !found {
			fail("user_not_found")
			return
		}
		i := slices.Index(c.Members, args["user"])
		if i < 0 {
			fail("not_in_channel")
			return
		}
		c.Members = slices.Delete(c.Members, i, i+1)
		ok(map[string]any{})
	case "usergroups.list":
		var gs []any
		for _, g := range s.groups {
			gs = append(gs, map[string]any{"id": g.ID, "handle": g.Handle, "name": g.Handle})
		}
		ok(map[string]any{"usergroups": orEmpty(gs)})
	case "usergroups.users.list", "usergroups.users.update":
		var g *Usergroup
		for _, x := range s.groups {
			if x.ID == args["usergroup"] {
				g = x
			}
		}
		if g == nil {
			fail("no_such_subteam")
			return
		}
		if method == "usergroups.users.update" {
			if args["users"] == "" {
				fail("invalid_users")
				return
			}
			g.Users = strings.Split(args["users"], ",")
			ok(map[string]any{"usergroup": map[string]any{"id": g.ID, "handle": g.Handle, "users": slices.Clone(g.Users)}})
			return
		}
		ok(map[string]any{"users": append([]string{}, g.Users...)})
	case "admin.users.session.reset":
		if !s.plan.Grid {
			fail("not_an_enterprise")
			return
		}
		if _, found := s.users[args["user_id"]]; !found {
			fail("user_not_found")
			return
		}
		s.resets[args["user_id"]]++
		ok(map[string]any{})
	case "admin.users.invite":
		if !s.plan.Grid {
			fail("not_an_enterprise")
			return
		}
		ok(map[string]any{})
	case "admin.users.list":
		if !s.plan.Grid {
			fail("not_an_enterprise")
			return
		}
		page, next, err := s.page(len(s.order), args)
		if err != "" {
			fail(err)
			return
		}
		var users []any
		for _, i := range page {
			u := s.users[s.order[i]]
			v := map[string]any{"id": u.ID, "email": u.Email, "username": u.Name, "full_name": u.RealName, "is_active": !u.Deleted, "is_bot": u.IsBot}
			if at, ok := s.logins[u.ID]; ok {
				v["last_active_ts"] = at
			}
			users = append(users, v)
		}
		ok(map[string]any{"users": orEmpty(users), "response_metadata": map[string]any{"next_cursor": next}})
	case "team.accessLogs":
		if !s.plan.PaidLogs {
			fail("paid_only")
			return
		}
		ids := make([]string, 0, len(s.logins))
		for id := range s.logins {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		page, next, err := s.page(len(ids), args)
		if err != "" {
			fail(err)
			return
		}
		var logins []any
		for _, i := range page {
			logins = append(logins, map[string]any{"user_id": ids[i], "username": ids[i], "date_first": s.logins[ids[i]] - 86400, "date_last": s.logins[ids[i]], "count": 3})
		}
		ok(map[string]any{"logins": orEmpty(logins), "response_metadata": map[string]any{"next_cursor": next}})
	default:
		s.t.Errorf("slackapptest: the fake does not implement %s", method)
		fail("unknown_method")
	}
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func (s *Server) channelFor(id string) (*Channel, string) {
	for _, c := range s.channels {
		if c.ID == id {
			if c.Private && !c.BotMember {
				return nil, "channel_not_found"
			}
			return c, ""
		}
	}
	return nil, "channel_not_found"
}

// channelWithBot is channelFor for methods the bot may call only in a
// channel it is a member of (invite, kick): not_in_channel otherwise.
func (s *Server) channelWithBot(key string) (*Channel, string) {
	c, code := s.channelFor(key)
	if code == "" && !c.BotMember {
		code = "not_in_channel"
	}
	return c, code
}

// page slices n items by cursor ("off:N") and limit, capped by PageLimit.
func (s *Server) page(n int, args map[string]string) ([]int, string, string) {
	limit := s.PageLimit
	if l, err := strconv.Atoi(args["limit"]); err == nil && l > 0 && l < limit {
		limit = l
	}
	off := 0
	if c := args["cursor"]; c != "" {
		v, found := strings.CutPrefix(c, "off:")
		o, err := strconv.Atoi(v)
		if !found || err != nil || o < 0 || o > n {
			return nil, "", "invalid_cursor"
		}
		off = o
	}
	var out []int
	for i := off; i < n && i < off+limit; i++ {
		out = append(out, i)
	}
	next := ""
	if off+limit < n {
		next = fmt.Sprintf("off:%d", off+limit)
	}
	return out, next, ""
}

func userJSON(u *User) map[string]any {
	return map[string]any{
		"id": u.ID, "name": u.Name, "real_name": u.RealName, "deleted": u.Deleted, "is_bot": u.IsBot, "team_id": "T0FAKE",
		"profile": map[string]any{"email": u.Email, "real_name": u.RealName, "display_name": u.Name},
	}
}

// --- SCIM v2 ---

const (
	scimUserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimListSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	scimErrSchema   = "urn:ietf:params:scim:api:messages:2.0:Error"
)

func (s *Server) serveSCIM(w http.ResponseWriter, r *http.Request) {
	write := func(status int, v any) {
		if m, ok := v.(map[string]any); ok && hasSchemaStr(m, scimUserSchema) {
			for _, p := range checkSCIMUser(roundTrip(m)) {
				s.t.Errorf("slackapptest: %s %s: response: %s", r.Method, r.URL.Path, p)
			}
		}
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	scimErr := func(status int, typ, detail string) {
		v := map[string]any{"schemas": []string{scimErrSchema}, "status": strconv.Itoa(status), "detail": detail}
		if typ != "" {
			v["scimType"] = typ
		}
		write(status, v)
	}
	if r.Header.Get("Authorization") != "Bearer "+UserToken {
		scimErr(http.StatusUnauthorized, "", "invalid_authentication")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.plan.SCIM {
		scimErr(http.StatusForbidden, "", "this plan has no SCIM API")
		return
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/scim/v2/Users")
	if !found {
		s.t.Errorf("slackapptest: %s %s: not a Slack SCIM resource", r.Method, r.URL.Path)
		scimErr(http.StatusNotFound, "", "no such resource")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/scim+json") {
			s.t.Errorf("slackapptest: %s %s: content type %q", r.Method, r.URL.Path, ct)
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			s.t.Errorf("slackapptest: %s %s: body is not JSON: %v", r.Method, r.URL.Path, err)
			scimErr(http.StatusBadRequest, "invalidSyntax", err.Error())
			return
		}
	}
	id := strings.TrimPrefix(rest, "/")
	switch {
	case id == "" && r.Method == http.MethodGet:
		var res []any
		attr, want := "", ""
		if f := r.URL.Query().Get("filter"); f != "" {
			var err error
			if attr, want, err = parseSCIMFilter(f); err != nil || attr != "email" && attr != "username" && attr != "emails.value" {
				s.t.Errorf("slackapptest: GET /Users: %v (attribute %q)", err, attr)
				scimErr(http.StatusBadRequest, "invalidFilter", "unsupported filter")
				return
			}
		}
		for _, uid := range s.order {
			u := s.users[uid]
			if u.IsBot || attr == "username" && u.Name != want || attr != "" && attr != "username" && !strings.EqualFold(u.Email, want) {
				continue
			}
			ru := roundTrip(scimJSON(u))
			for _, p := range checkSCIMUser(ru) {
				s.t.Errorf("slackapptest: GET /Users: response: %s", p)
			}
			res = append(res, ru)
		}
		write(http.StatusOK, map[string]any{"schemas": []string{scimListSchema}, "totalResults": len(res), "startIndex": 1, "itemsPerPage": len(res), "Resources": orEmpty(res)})
	case id == "" && r.Method == http.MethodPost:
		if !hasSchema(body, scimUserSchema) {
			s.t.Errorf("slackapptest: POST /Users: schemas must include %s (RFC 7643 section 4.1)", scimUserSchema)
		}
		for _, p := range checkSCIMUser(body) {
			s.t.Errorf("slackapptest: POST /Users: request: %s", p)
		}
		userName, _ := body["userName"].(string)
		if userName == "" {
			s.t.Errorf("slackapptest: POST /Users: userName is required (RFC 7643 section 4.1.1)")
			scimErr(http.StatusBadRequest, "invalidValue", "userName is required")
			return
		}
		email := ""
		if es, ok := body["emails"].([]any); ok && len(es) > 0 {
			if e, ok := es[0].(map[string]any); ok {
				email, _ = e["value"].(string)
			}
		}
		if email == "" {
			s.t.Errorf("slackapptest: POST /Users: Slack requires emails[0].value")
			scimErr(http.StatusBadRequest, "invalidValue", "email is required")
			return
		}
		for _, u := range s.users {
			if strings.EqualFold(u.Email, email) || u.Name == userName {
				scimErr(http.StatusConflict, "uniqueness", "user already exists")
				return
			}
		}
		dn, _ := body["displayName"].(string)
		u := &User{Name: userName, Email: email, RealName: dn}
		s.addUser(*u)
		write(http.StatusCreated, scimJSON(s.users[s.order[len(s.order)-1]]))
	case id != "":
		u, ok := s.users[id]
		if !ok || u.IsBot {
			scimErr(http.StatusNotFound, "", "user not found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			write(http.StatusOK, scimJSON(u))
		case http.MethodDelete:
			u.Deleted = true // Slack deactivates on DELETE
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPatch:
			if !hasSchema(body, scimPatchSchema) {
				s.t.Errorf("slackapptest: PATCH /Users/%s: schemas must be [%s] (RFC 7644 section 3.5.2)", id, scimPatchSchema)
			}
			ops, _ := body["Operations"].([]any)
			if len(ops) == 0 {
				s.t.Errorf("slackapptest: PATCH /Users/%s: no Operations", id)
			}
			for _, o := range ops {
				op, _ := o.(map[string]any)
				name, _ := op["op"].(string)
				if !slices.Contains([]string{"add", "remove", "replace"}, strings.ToLower(name)) {
					s.t.Errorf("slackapptest: PATCH /Users/%s: op %q is not add, remove or replace", id, name)
					continue
				}
				path, _ := op["path"].(string)
				for _, p := range checkSCIMPatch(name, path, op["value"]) {
					s.t.Errorf("slackapptest: PATCH /Users/%s: request: %s", id, p)
				}
				switch v := op["value"].(type) {
				case bool:
					if path == "active" {
						u.Deleted = !v
					}
				case map[string]any:
					if a, ok := v["active"].(bool); ok && path == "" {
						u.Deleted = !a
					}
				}
			}
			write(http.StatusOK, scimJSON(u))
		default:
			scimErr(http.StatusMethodNotAllowed, "", "method not allowed")
		}
	default:
		scimErr(http.StatusMethodNotAllowed, "", "method not allowed")
	}
}

func hasSchema(body map[string]any, want string) bool {
	ss, _ := body["schemas"].([]any)
	for _, s := range ss {
		if s == want {
			return true
		}
	}
	return false
}

func scimJSON(u *User) map[string]any {
	return map[string]any{
		"schemas": []string{scimUserSchema}, "id": u.ID, "userName": u.Name, "displayName": u.RealName, "active": !u.Deleted,
		"emails": []any{map[string]any{"value": u.Email, "primary": true}},
		"meta":   map[string]any{"resourceType": "User", "location": "/scim/v2/Users/" + url.PathEscape(u.ID)},
	}
}

func hasSchemaStr(m map[string]any, want string) bool {
	switch ss := m["schemas"].(type) {
	case []string:
		return slices.Contains(ss, want)
	case []any:
		return slices.Contains(ss, any(want))
	}
	return false
}

// roundTrip turns a Go literal into what JSON decoding yields, so the
// schema checks see the wire shape.
func roundTrip(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
