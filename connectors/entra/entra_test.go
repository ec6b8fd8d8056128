package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/entra/entratest"
	"github.com/rs/zerolog"
)

var (
	entEng = gatehouse.Entitlement{App: "m365", Name: "engineering", Kind: gatehouse.EntGroup, Resource: "Engineering", Risk: gatehouse.RiskLow}
	entOps = gatehouse.Entitlement{App: "m365", Name: "ops", Kind: gatehouse.EntGroup, Resource: "Ops", Risk: gatehouse.RiskMedium}
)

type fixture struct {
	srv    *entratest.Server
	engID  string
	opsID  string
	logBuf *syncBuffer
}

// syncBuffer is a log sink safe for the connector's concurrent operations.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := entratest.New(t)
	return &fixture{srv: srv, engID: srv.AddGroup("Engineering"), opsID: srv.AddGroup("Ops"), logBuf: &syncBuffer{}}
}

// conn builds a connector the way connectors.Build does, from YAML settings.
func (f *fixture) conn(t *testing.T, extra string, del bool) *Connector {
	t.Helper()
	s, err := config.NewSettings(f.srv.Settings(extra))
	if err != nil {
		t.Fatal(err)
	}
	app := &config.App{Name: "m365", Connector: "entra", Settings: s, Delete: del, Entitlements: map[string]*config.Entitlement{
		"engineering": {Kind: gatehouse.EntGroup, Resource: "Engineering"},
		"ops":         {Kind: gatehouse.EntGroup, Resource: f.opsID}, // by group id
	}}
	c, err := New(app, connectors.Deps{Logger: zerolog.New(f.logBuf), Debug: true, UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

// inspect reads an account's state from the fake, bypassing the connector.
func (f *fixture) inspect(_ *testing.T, _ gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
	u, ok := f.srv.User(ref.AccountID)
	if !ok {
		u, ok = f.srv.User(strings.ToLower(ref.Email))
	}
	if !ok {
		return false, false, nil
	}
	return true, u.AccountEnabled, f.srv.GroupsOf(u.ID)
}

func TestContract(t *testing.T) {
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", del), func(t *testing.T) {
			f := newFixture(t)
			f.srv.SetPageSize(3) // several pages even in the contract suite
			conntest.Run(t, conntest.Harness{
				New:          func(t *testing.T) gatehouse.Connector { return f.conn(t, "", del) },
				Entitlements: []gatehouse.Entitlement{entEng, entOps},
				Inspect:      f.inspect,
			})
		})
	}
}

func ref(local string) gatehouse.AccountRef {
	email := local + "@example.com"
	return gatehouse.AccountRef{IdentityKey: "E-" + local, Email: email, UserName: email, Name: "Ada " + local,
		GivenName: "Ada", FamilyName: local, EmployeeID: "E-" + local, Title: "Engineer", Department: "R&D"}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestEnsureAccountCreatesWhatGraphRequires(t *testing.T) {
	f := newFixture(t)
	c := f.conn(t, "", false)
	a, err := c.EnsureAccount(ctx(t), ref("grace"))
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.srv.User(a.ID)
	if !ok {
		t.Fatalf("fake has no user %s", a.ID)
	}
	if u.UserPrincipalName != "grace@example.com" || u.MailNickname != "grace" || !u.AccountEnabled || !u.ForceChange {
		t.Errorf("created %+v", u)
	}
	if u.EmployeeID != "E-grace" || u.JobTitle != "Engineer" || u.Department != "R&D" || u.GivenName != "Ada" {
		t.Errorf("attributes not set: %+v", u)
	}
	if len(u.Password) < 20 {
		t.Errorf("password %d characters, want a long random one", len(u.Password))
	}
	// A second person gets a different password.
	b, err := c.EnsureAccount(ctx(t), ref("hopper"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.srv.User(b.ID); v.Password == u.Password {
		t.Error("two accounts got the same password")
	}
	// Disabled outside Gatehouse: ensuring re-enables with one PATCH.
	if err := c.Disable(ctx(t), ref("grace")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureAccount(ctx(t), ref("grace")); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.srv.User(a.ID); !u.AccountEnabled {
		t.Error("EnsureAccount did not re-enable the disabled user")
	}
	if n := len(f.srv.Users()); n != 2 {
		t.Errorf("%d users in the fake, want 2", n)
	}
}

func TestUPNDomain(t *testing.T) {
	f := newFixture(t)
	c := f.conn(t, "upn_domain: contoso.onmicrosoft.com\n", false)
	a, err := c.EnsureAccount(ctx(t), ref("ada"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.srv.User(a.ID)
	if u.UserPrincipalName != "ada@contoso.onmicrosoft.com" || u.Mail != "" {
		t.Errorf("upn %q mail %q: want the tenant domain and no mail on another domain", u.UserPrincipalName, u.Mail)
	}
	if b, err := c.EnsureAccount(ctx(t), ref("ada")); err != nil || b.ID != a.ID {
		t.Errorf("again: %v %v", b.ID, err)
	}
	same, err := f.conn(t, "", false).EnsureAccount(ctx(t), ref("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := f.srv.User(same.ID); u.Mail != "bob@example.com" {
		t.Errorf("mail %q, want it set on the UPN's domain", u.Mail)
	}
}

// TestFilterEscapesApostrophes: an OData string literal doubles quotes; an
// unescaped O'Brien breaks the filter (the fake refuses it as Graph does).
func TestFilterEscapesApostrophes(t *testing.T) {
	f := newFixture(t)
	c := f.conn(t, "", false)
	r := ref("conan.o'brien")
	a, err := c.EnsureAccount(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.EnsureAccount(ctx(t), r)
	if err != nil || again.ID != a.ID {
		t.Fatalf("second EnsureAccount: id %q err %v, want the same account %q", again.ID, err, a.ID)
	}
	want := "userPrincipalName eq 'conan.o''brien@example.com'"
	found := false
	for _, rq := range f.srv.Requests() {
		if rq.Query.Get("$filter") == want {
			found = true
		}
	}
	if !found {
		t.Errorf("no request filtered with %q", want)
	}
	if n := len(f.srv.Users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	if u, _ := f.srv.User(a.ID); u.MailNickname != "conan.o'brien" {
		t.Errorf("mailNickname %q", u.MailNickname)
	}
}

func TestListAccountsPagesAndLastActivity(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPageSize(2)
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 7 {
		ids = append(ids, f.srv.AddUser(entratest.User{UserPrincipalName: fmt.Sprintf("u%d@example.com", i), DisplayName: fmt.Sprintf("U %d", i), AccountEnabled: true}))
	}
	f.srv.SignIn(ids[0], t0, true)
	f.srv.SignIn(ids[0], t0.Add(48*time.Hour), false) // later non-interactive sign-in wins
	f.srv.SignIn(ids[1], t0.Add(time.Hour), true)
	c := f.conn(t, "page_size: 50\n", false)
	for _, who := range []string{"u3", "u4", "u5"} {
		if err := c.Grant(ctx(t), ref(who), entEng); err != nil {
			t.Fatal(err)
		}
	}
	accts, err := c.ListAccounts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 7 {
		t.Fatalf("%d accounts, want 7", len(accts))
	}
	byID := map[string]gatehouse.Account{}
	for _, a := range accts {
		byID[a.ID] = a
	}
	if got := byID[ids[0]].LastActivity; !got.Equal(t0.Add(48 * time.Hour)) {
		t.Errorf("u0 last activity %v, want the later non-interactive sign-in %v", got, t0.Add(48*time.Hour))
	}
	if got := byID[ids[1]].LastActivity; !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("u1 last activity %v", got)
	}
	for i, id := range ids {
		want := ""
		if i >= 3 && i <= 5 {
			want = "engineering"
		}
		if got := strings.Join(byID[id].Entitlements, ","); got != want {
			t.Errorf("u%d entitlements %q, want %q (members listed over two pages)", i, got, want)
		}
	}
	if !byID[ids[2]].LastActivity.IsZero() {
		t.Errorf("u2 never signed in but has last activity %v", byID[ids[2]].LastActivity)
	}
	pages, next := 0, 0
	for _, rq := range f.srv.Requests() {
		if rq.Method == "GET" && rq.Path == "/users" && rq.Query.Get("$filter") == "" {
			pages++
			if rq.Query.Get("$skiptoken") != "" {
				next++
			}
			if !strings.Contains(rq.Query.Get("$select"), "signInActivity") {
				t.Errorf("page without signInActivity: %v", rq.Query)
			}
		}
	}
	if pages < 4 || next != pages-1 {
		t.Errorf("%d user pages (%d through @odata.nextLink), want 4 with 3 followed links", pages, next)
	}
}

func TestSignInActivityFallback(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPremium(false)
	id := f.srv.AddUser(entratest.User{UserPrincipalName: "a@example.com", AccountEnabled: true})
	f.srv.SignIn(id, time.Now(), true)
	c := f.conn(t, "", false)
	for range 2 {
		accts, err := c.ListAccounts(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(accts) != 1 || !accts[0].LastActivity.IsZero() {
			t.Fatalf("accounts %+v", accts)
		}
	}
	tries := 0
	for _, rq := range f.srv.Requests() {
		if strings.Contains(rq.Query.Get("$select"), "signInActivity") {
			tries++
		}
	}
	if tries != 1 {
		t.Errorf("asked for signInActivity %d times, want once (then remembered)", tries)
	}
	if n := strings.Count(f.logBuf.String(), "graph refused signInActivity"); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%s", n, f.logBuf)
	}
	// Required: the refusal is the answer.
	r := f.conn(t, "sign_in_activity: required\n", false)
	if _, err := r.ListAccounts(ctx(t)); err == nil || !strings.Contains(err.Error(), "Authentication_RequestFromNonPremiumTenantOrB2CTenant") {
		t.Errorf("required sign-in activity: %v", err)
	}
	// Off: never asked.
	before := len(f.srv.Requests())
	if _, err := f.conn(t, "sign_in_activity: off\n", false).ListAccounts(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, rq := range f.srv.Requests()[before:] {
		if strings.Contains(rq.Query.Get("$select"), "signInActivity") {
			t.Error("sign_in_activity: off still selected signInActivity")
		}
	}
}

func TestRevokeSessionsInvalidatesSessions(t *testing.T) {
	f := newFixture(t)
	c := f.conn(t, "", false)
	a, err := c.EnsureAccount(ctx(t), ref("leaver"))
	if err != nil {
		t.Fatal(err)
	}
	f.srv.SignIn(a.ID, time.Now(), true)
	f.srv.SignIn(a.ID, time.Now(), false)
	if n := f.srv.ActiveSessions(a.ID); n != 2 {
		t.Fatalf("%d sessions before revoke", n)
	}
	r := ref("leaver")
	r.AccountID = a.ID
	if err := c.Grant(ctx(t), r, entEng); err != nil {
		t.Fatal(err)
	}
	start := len(f.srv.Requests())
	// A leaver's steps, in the executor's order.
	for _, step := range []func() error{
		func() error { return c.Disable(ctx(t), r) },
		func() error { return c.RevokeSessions(ctx(t), r) },
		func() error { return c.Revoke(ctx(t), r, entEng) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.srv.ActiveSessions(a.ID); n != 0 {
		t.Errorf("%d sessions still valid after RevokeSessions", n)
	}
	u, _ := f.srv.User(a.ID)
	if u.SessionsValidFrom.IsZero() || u.AccountEnabled {
		t.Errorf("after leave: %+v", u)
	}
	var wire []string
	for _, rq := range f.srv.Requests()[start:] {
		if rq.Method != "GET" {
			wire = append(wire, rq.Method+" "+rq.Path)
		}
	}
	want := []string{"PATCH /users/" + a.ID, "POST /users/" + a.ID + "/revokeSignInSessions", "DELETE /groups/" + f.engID + "/members/" + a.ID + "/$ref"}
	if strings.Join(wire, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes on the wire:\n%s\nwant:\n%s", strings.Join(wire, "\n"), strings.Join(want, "\n"))
	}
}

func TestClassification(t *testing.T) {
	tests := []struct {
		name      string
		fault     *entratest.Fault
		roles     []string
		latency   time.Duration
		op        func(c *Connector, r gatehouse.AccountRef) error
		wantClass gatehouse.ErrorClass
		wantWait  time.Duration
		wantText  string
	}{
		{name: "429 honours Retry-After", fault: &entratest.Fault{Status: 429, RetryAfter: "7"},
			op: disable, wantClass: gatehouse.ClassRateLimited, wantWait: 7 * time.Second, wantText: "TooManyRequests"},
		{name: "503 with Retry-After", fault: &entratest.Fault{Status: 503, RetryAfter: "3"},
			op: disable, wantClass: gatehouse.ClassRetryable, wantWait: 3 * time.Second, wantText: "serviceNotAvailable"},
		{name: "503 on the write only", fault: &entratest.Fault{Status: 503, Match: "PATCH"},
			op: disable, wantClass: gatehouse.ClassRetryable},
		{name: "timeout", latency: 400 * time.Millisecond, op: disable, wantClass: gatehouse.ClassRetryable},
		{name: "denied names the permission", roles: []string{"User.Read.All", "GroupMember.Read.All"},
			op: revokeSessions, wantClass: gatehouse.ClassPermanent, wantText: "User.RevokeSessions.All"},
		{name: "group member already there is success", op: func(c *Connector, r gatehouse.AccountRef) error {
			if err := c.Grant(context.Background(), r, entEng); err != nil {
				return err
			}
			return c.Grant(context.Background(), r, entEng)
		}},
		{name: "remove a non-member is done", op: func(c *Connector, r gatehouse.AccountRef) error { return c.Revoke(context.Background(), r, entOps) }},
		{name: "missing user is not found", op: func(c *Connector, r gatehouse.AccountRef) error {
			r.AccountID, r.Email, r.UserName = "00000000-0000-4000-8000-000000000000", "nobody@example.com", ""
			return c.Disable(context.Background(), r)
		}, wantClass: gatehouse.ClassNotFound, wantText: "no entra user"},
		{name: "unknown group is permanent", op: func(c *Connector, r gatehouse.AccountRef) error {
			return c.Grant(context.Background(), r, gatehouse.Entitlement{Name: "x", Kind: gatehouse.EntGroup, Resource: "No Such Group"})
		}, wantClass: gatehouse.ClassPermanent, wantText: "no entra group named"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.conn(t, "timeout: 200ms\n", false)
			a, err := c.EnsureAccount(ctx(t), ref("x"))
			if err != nil {
				t.Fatal(err)
			}
			r := ref("x")
			r.AccountID = a.ID
			if tc.fault != nil {
				f.srv.Fail(*tc.fault)
			}
			if tc.roles != nil {
				f.srv.SetRoles(tc.roles...)
				c = f.conn(t, "timeout: 200ms\n", false) // a fresh token with the new roles
			}
			f.srv.SetLatency(tc.latency)
			err = tc.op(c, r)
			if tc.wantClass == gatehouse.ClassUnknown {
				if err != nil {
					t.Fatalf("err %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %s", tc.wantClass)
			}
			if got := gatehouse.Classify(err); got != tc.wantClass {
				t.Errorf("class %s, want %s (%v)", got, tc.wantClass, err)
			}
			if got := gatehouse.RetryAfterOf(err); got != tc.wantWait {
				t.Errorf("retry after %s, want %s", got, tc.wantWait)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not say %q", err, tc.wantText)
			}
		})
	}
}

func disable(c *Connector, r gatehouse.AccountRef) error { return c.Disable(context.Background(), r) }
func revokeSessions(c *Connector, r gatehouse.AccountRef) error {
	return c.RevokeSessions(context.Background(), r)
}

func TestCheckNamesMissingPermissions(t *testing.T) {
	f := newFixture(t)
	if err := f.conn(t, "", true).Check(ctx(t)); err != nil {
		t.Fatalf("fully consented: %v", err)
	}
	f.srv.SetRoles("User.Read.All", "GroupMember.Read.All")
	err := f.conn(t, "", true).Check(ctx(t))
	if !errors.Is(err, ErrMissingPermissions) || gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("err %v", err)
	}
	for _, p := range []string{"User.ReadWrite.All", "User.EnableDisableAccount.All", "User.RevokeSessions.All", "GroupMember.ReadWrite.All"} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("check error does not name %s: %v", p, err)
		}
	}
	if strings.Contains(err.Error(), "AuditLog.Read.All (") {
		t.Errorf("auto sign-in activity must not be required: %v", err)
	}
	// A least-privilege consent passes: each need met by its narrowest permission.
	f.srv.SetRoles("User.Read.All", "User.ReadWrite.All", "GroupMember.ReadWrite.All", "User.RevokeSessions.All")
	if err := f.conn(t, "", true).Check(ctx(t)); err != nil {
		t.Errorf("least privilege without AuditLog.Read.All (auto): %v", err)
	}
	if err := f.conn(t, "sign_in_activity: required\n", true).Check(ctx(t)); err == nil || !strings.Contains(err.Error(), "AuditLog.Read.All") {
		t.Errorf("required sign-in activity without AuditLog.Read.All: %v", err)
	}
	// A configured group that does not exist.
	f.srv.SetRoles(entratest.AllRoles...)
	s, _ := config.NewSettings(f.srv.Settings(""))
	app := &config.App{Name: "m365", Settings: s, Entitlements: map[string]*config.Entitlement{"x": {Kind: gatehouse.EntGroup, Resource: "Nope"}}}
	c, err := New(app, connectors.Deps{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.(*Connector).Check(ctx(t)); err == nil || !strings.Contains(err.Error(), `no entra group named "Nope"`) {
		t.Errorf("missing group: %v", err)
	}
}

func TestBadCredentialsArePermanent(t *testing.T) {
	f := newFixture(t)
	s, _ := config.NewSettings(strings.Replace(f.srv.Settings(""), entratest.ClientSecret, "wrong-secret-value", 1))
	c, err := New(&config.App{Name: "m365", Settings: s}, connectors.Deps{Logger: zerolog.Nop(), Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"check":   func() error { return c.(*Connector).Check(ctx(t)) },
		"disable": func() error { return c.Disable(ctx(t), ref("x")) },
	} {
		err := op()
		if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "AADSTS7000215") {
			t.Errorf("%s with a wrong secret: %v (class %s)", name, err, gatehouse.Classify(err))
		}
		if strings.Contains(err.Error(), "wrong-secret-value") {
			t.Errorf("%s error shows the secret: %v", name, err)
		}
	}
}

// TestSecretsRedacted: the recording (debug mode) and the log never show
// the client secret, an access token or a generated password.
func TestSecretsRedacted(t *testing.T) {
	f := newFixture(t)
	c := f.conn(t, "", false)
	a, err := c.EnsureAccount(ctx(t), ref("secretive"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx(t)); err != nil {
		t.Fatal(err)
	}
	u, _ := f.srv.User(a.ID)
	rec, err := json.Marshal(c.Recording())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Recording()) < 3 {
		t.Fatalf("recording has %d exchanges", len(c.Recording()))
	}
	tokens := f.srv.IssuedTokens()
	if len(tokens) < 2 {
		t.Fatalf("%d tokens issued, want the connector's and Check's", len(tokens))
	}
	for _, ex := range c.Recording() {
		if strings.Contains(ex.URL, "/token") && ex.ResponseBody == "" {
			t.Errorf("token exchange not recorded: %+v", ex)
		}
	}
	for _, secret := range append(tokens, entratest.ClientSecret, u.Password) {
		if strings.Contains(string(rec), secret) {
			t.Errorf("recording contains a secret (%d chars)", len(secret))
		}
		if strings.Contains(f.logBuf.String(), secret) {
			t.Errorf("log contains a secret (%d chars)", len(secret))
		}
	}
	if strings.Contains(string(rec), "eyJ") { // the base64 of a JWT header
		t.Error("recording contains an access token")
	}
	if !strings.Contains(string(rec), "[redacted]") {
		t.Error("nothing was redacted: is the recording empty?")
	}
}

func TestReadAccountAttributesAndManager(t *testing.T) {
	f := newFixture(t)
	c := f.conn(t, "read_manager: true\n", false)
	boss, err := c.EnsureAccount(ctx(t), ref("boss"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.EnsureAccount(ctx(t), ref("worker"))
	if err != nil {
		t.Fatal(err)
	}
	f.srv.SetManager(a.ID, boss.ID)
	f.srv.AddGroup("Unmanaged Group")
	r := ref("worker")
	if err := c.Grant(ctx(t), r, entOps); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadAccount(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Entitlements, ",") != "ops" {
		t.Errorf("entitlements %v, want [ops] (mapped from the group id)", got.Entitlements)
	}
	want := map[string]string{"title": "Engineer", "department": "R&D", "employee_id": "E-worker", "manager": "boss@example.com"}
	for k, v := range want {
		if got.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got.Attributes[k], v)
		}
	}
	// No manager is not an error.
	if b, err := c.ReadAccount(ctx(t), ref("boss")); err != nil || b.Attributes["manager"] != "" {
		t.Errorf("boss: %v %v", b.Attributes, err)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"client_id: x\nclient_secret: y\n", "tenant_id is required"},
		{"tenant_id: t\nclient_secret: y\n", "client_id is required"},
		{"tenant_id: t\nclient_id: x\n", "client_secret is required"},
		{"tenant_id: t\nclient_id: x\nclient_secret: y\ngraph_url: ftp://x\n", "graph_url"},
		{"tenant_id: t\nclient_id: x\nclient_secret: y\nsign_in_activity: maybe\n", "sign_in_activity"},
		{"tenant_id: t\nclient_id: x\nclient_secret: y\npage_size: 5000\n", "page_size"},
		{"tenant_id: t\nclient_id: x\nclient_secret: y\nupn_from: phone\n", "upn_from"},
		{"tenant_id: t\nclient_id: x\nclient_secret: y\nbogus: 1\n", "bogus"},
	} {
		s, err := config.NewSettings(tc.yaml)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(&config.App{Name: "m365", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
	s, _ := config.NewSettings("tenant_id: t\nclient_id: x\nclient_secret: y\n")
	c, err := New(&config.App{Name: "m365", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.(*Connector).s.TokenURL; got != "https://login.microsoftonline.com/t/oauth2/v2.0/token" {
		t.Errorf("default token url %s", got)
	}
	if got := c.(*Connector).s.GraphURL; got != DefaultGraphURL {
		t.Errorf("default graph url %s", got)
	}
}
