package okta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/connectors/okta/oktatest"
	"github.com/rs/zerolog"
)

var (
	entEng = gatehouse.Entitlement{App: "okta", Name: "engineering", Kind: gatehouse.EntGroup, Resource: "Engineering"}
	entOps = gatehouse.Entitlement{App: "okta", Name: "ops", Kind: gatehouse.EntGroup, Resource: "Ops"}
	entApp = gatehouse.Entitlement{App: "okta", Name: "wiki", Kind: gatehouse.EntRole, Resource: "app:Wiki"}
)

// fixture is a fake Okta with the groups and app the entitlements name.
type fixture struct {
	*oktatest.Server
	eng, ops, engMgr, wiki string
}

func newFixture(t *testing.T, o oktatest.Options) *fixture {
	t.Helper()
	f := &fixture{Server: oktatest.New(t, o)}
	f.engMgr = f.AddGroup("Engineering Managers") // a prefix twin the resolver must not pick
	f.eng = f.AddGroup("Engineering")
	f.ops = f.AddGroup("Ops")
	f.wiki = f.AddApp("Wiki")
	f.AddApp("Wiki Admin")
	return f
}

func appConfig(t *testing.T, settings string, del bool) *config.App {
	t.Helper()
	s, err := config.NewSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	return &config.App{Name: "okta", Connector: "okta", Settings: s, Delete: del, Entitlements: map[string]*config.Entitlement{
		"engineering": {Kind: gatehouse.EntGroup, Resource: "Engineering"},
		"ops":         {Kind: gatehouse.EntGroup, Resource: "Ops"},
		"wiki":        {Kind: gatehouse.EntRole, Resource: "app:Wiki"},
	}}
}

// newConn builds a connector the way connectors.Build does.
func newConn(t *testing.T, f *fixture, extra string, del bool) *Connector {
	t.Helper()
	c, err := New(appConfig(t, f.SettingsYAML(extra), del), connectors.Deps{Logger: zerolog.Nop(), Debug: true, UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func ref(n string) gatehouse.AccountRef {
	email := n + "@example.com"
	return gatehouse.AccountRef{IdentityKey: "E-" + n, Email: email, UserName: email, Name: "Ada " + n, GivenName: "Ada", FamilyName: n,
		EmployeeID: "E-" + n, Title: "Engineer", Department: "R&D", Manager: "boss@example.com"}
}

// inspect reads an account straight from the fake's state.
func (f *fixture) inspect(_ *testing.T, _ gatehouse.Connector, r gatehouse.AccountRef) (bool, bool, []string) {
	key := r.AccountID
	if key == "" {
		key = r.UserName
	}
	u, ok := f.User(key)
	if !ok {
		if u, ok = f.User(r.UserName); !ok {
			return false, false, nil
		}
	}
	active := u.Status != "STAGED" && u.Status != "SUSPENDED" && u.Status != "DEPROVISIONED"
	return true, active, append(f.GroupsOf(u.ID), prefixed(f.AppsOf(u.ID))...)
}

func prefixed(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = "app:" + l
	}
	return out
}

func TestContract(t *testing.T) {
	for _, tc := range []struct{ name, extra string }{
		{"suspend", ""},
		{"deactivate", "disable: deactivate\n"},
		{"paged", "page_size: 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, oktatest.Options{PageSize: 3})
			conntest.Run(t, conntest.Harness{
				New:          func(t *testing.T) gatehouse.Connector { return newConn(t, f, tc.extra, true) },
				Entitlements: []gatehouse.Entitlement{entEng, entApp, entOps},
				Inspect:      f.inspect,
			})
		})
	}
}

func TestContractWithoutDelete(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	c := newConn(t, f, "", false)
	if c.Capabilities().Has(gatehouse.CapDelete) || c.Capabilities().Has(gatehouse.CapTransferOwnership) {
		t.Fatalf("capabilities %v: delete needs delete: true and transfer is not an Okta concept", c.Capabilities().List())
	}
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return newConn(t, f, "", false) },
		Entitlements: []gatehouse.Entitlement{entEng, entOps},
		Inspect:      f.inspect,
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no org", "auth: {type: ssws, token: x}\n", "org_url is required"},
		{"org with path", "org_url: https://acme.okta.com/api/v1\nauth: {type: ssws, token: x}\n", "base URL"},
		{"no auth", "org_url: https://acme.okta.com\n", "auth.type is required"},
		{"bad auth", "org_url: https://acme.okta.com\nauth: {type: basic}\n", "not one of ssws, oauth2"},
		{"ssws no token", "org_url: https://acme.okta.com\nauth: {type: ssws}\n", "needs token"},
		{"oauth no key", "org_url: https://acme.okta.com\nauth: {type: oauth2, client_id: x}\n", "needs private_key"},
		{"oauth bad key", "org_url: https://acme.okta.com\nauth: {type: oauth2, client_id: x, private_key: nope}\n", "not PEM"},
		{"disable", "org_url: https://acme.okta.com\nauth: {type: ssws, token: x}\ndisable: delete\n", "suspend or deactivate"},
		{"profile", "org_url: https://acme.okta.com\nauth: {type: ssws, token: x}\nprofile: {title: job}\n", "unknown source"},
		{"login dropped", "org_url: https://acme.okta.com\nauth: {type: ssws, token: x}\nprofile: {login: \"\"}\n", "login cannot be dropped"},
		{"unknown key", "org_url: https://acme.okta.com\nauth: {type: ssws, token: x}\nactivated: true\n", "activated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.NewSettings(tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(&config.App{Name: "okta", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	s, _ := config.NewSettings("org_url: https://acme.okta.com\nauth: {type: ssws, token: x}\n")
	_, err := New(&config.App{Name: "okta", Settings: s, Entitlements: map[string]*config.Entitlement{"x": {Kind: gatehouse.EntRole, Resource: "Wiki"}}}, connectors.Deps{Logger: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "app:<app id or label>") {
		t.Fatalf("role entitlement without app: prefix: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	if !slices.Contains(connectors.Types(), "okta") {
		t.Fatalf("connector type okta not registered: %v", connectors.Types())
	}
}

// TestFaults checks how Okta's failures are classified.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     oktatest.Fault
		class     gatehouse.ErrorClass
		minWait   time.Duration
		timeout   string
		wantInErr string
	}{
		{"429 honours reset", oktatest.Fault{Status: 429, Reset: time.Now().Add(40 * time.Second)}, gatehouse.ClassRateLimited, 30 * time.Second, "", "API call exceeded rate limit"},
		{"500", oktatest.Fault{Status: 500}, gatehouse.ClassRetryable, 0, "", "Internal Server Error"},
		{"503", oktatest.Fault{Status: 503}, gatehouse.ClassRetryable, 0, "", "E0000009"},
		{"timeout", oktatest.Fault{Delay: 2 * time.Second}, gatehouse.ClassRetryable, 0, "timeout: 200ms\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, oktatest.Options{})
			c := newConn(t, f, tc.timeout, false)
			f.Fail(tc.fault)
			_, err := c.ListAccounts(ctx(t))
			if err == nil {
				t.Fatal("ListAccounts succeeded through an injected fault")
			}
			if got := gatehouse.Classify(err); got != tc.class {
				t.Fatalf("class %s, want %s (%v)", got, tc.class, err)
			}
			if w := gatehouse.RetryAfterOf(err); w < tc.minWait {
				t.Fatalf("retry after %s, want at least %s", w, tc.minWait)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("error %q does not surface %q", err, tc.wantInErr)
			}
			if tc.fault.Status == 429 {
				// Until the reset, calls to that family wait without being sent.
				sent := len(f.Log())
				if _, err := c.ListAccounts(ctx(t)); gatehouse.Classify(err) != gatehouse.ClassRateLimited || len(f.Log()) != sent {
					t.Fatalf("before the reset: %v, %d requests sent", err, len(f.Log())-sent)
				}
				return
			}
			if tc.fault.Status == 0 {
				return
			}
			// The fault is over: the next call works.
			if _, err := c.ListAccounts(ctx(t)); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
}

// TestRateLimitGate checks that an exhausted bucket holds calls until reset
// without sending them.
func TestRateLimitGate(t *testing.T) {
	f := newFixture(t, oktatest.Options{RateLimit: 3})
	c := newConn(t, f, "", false)
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = c.getUser(ctx(t), "nobody@example.com")
	}
	if gatehouse.Classify(err) != gatehouse.ClassRateLimited || gatehouse.RetryAfterOf(err) <= 0 {
		t.Fatalf("after the bucket emptied: %v (class %s), want rate_limited with a wait", err, gatehouse.Classify(err))
	}
	sent := len(f.Log())
	if _, err := c.getUser(ctx(t), "nobody@example.com"); gatehouse.Classify(err) != gatehouse.ClassRateLimited {
		t.Fatalf("gate open too early: %v", err)
	}
	if len(f.Log()) != sent {
		t.Fatalf("a request was sent although the bucket was empty until reset")
	}
	// Another API family has its own bucket in Okta; the gate is per family.
	c.groupID(ctx(t), "Ops")
	if len(f.Log()) == sent {
		t.Fatalf("the users bucket also held the groups family")
	}
}

func TestPagingAcrossPages(t *testing.T) {
	f := newFixture(t, oktatest.Options{PageSize: 2})
	for i := range 7 {
		f.AddUser("ACTIVE", map[string]any{"login": fmt.Sprintf("u%d@example.com", i), "email": fmt.Sprintf("u%d@example.com", i), "firstName": "U", "lastName": fmt.Sprint(i)})
	}
	gone := f.AddUser("DEPROVISIONED", map[string]any{"login": "gone@example.com", "email": "gone@example.com", "firstName": "G", "lastName": "One"})
	seen := f.AddUser("ACTIVE", map[string]any{"login": "seen@example.com", "email": "seen@example.com", "firstName": "S", "lastName": "Een"})
	at := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	f.Login(seen, at)
	c := newConn(t, f, "", false)
	accts, err := c.ListAccounts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 9 {
		t.Fatalf("listed %d accounts, want 9 (7 + deactivated + seen)", len(accts))
	}
	pages := 0
	for _, e := range f.Log() {
		if e.Path == "/api/v1/users" && e.Query.Get("filter") == "" {
			pages++
		}
	}
	if pages < 4 {
		t.Fatalf("walked %d pages of 2 for 8 open users, want at least 4", pages)
	}
	for _, a := range accts {
		switch a.ID {
		case gone:
			if a.Active || a.Attributes["status"] != "DEPROVISIONED" {
				t.Errorf("deactivated user listed as %+v", a)
			}
		case seen:
			if !a.LastActivity.Equal(at) {
				t.Errorf("LastActivity %s, want lastLogin %s", a.LastActivity, at)
			}
		}
	}
}

func TestSearchEscaping(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	c := newConn(t, f, "", false)
	// A login with a quote and a backslash must be escaped in the search
	// expression; the fake parses it like Okta and rejects a broken one.
	r := ref(`o"brien\x`)
	r.Email = `o"brien\x@example.com`
	r.UserName = r.Email
	f.AddUser("ACTIVE", map[string]any{"login": `o"brien@example.com`, "email": `o"brien@example.com`, "firstName": "Near", "lastName": "Miss"})
	a, err := c.EnsureAccount(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.EnsureAccount(ctx(t), gatehouse.AccountRef{Email: r.Email, UserName: r.Email})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || f.Users() != 2 {
		t.Fatalf("ids %s, %s and %d users: the second ensure did not find the first", a.ID, b.ID, f.Users())
	}
	var searched bool
	for _, e := range f.Log() {
		if s := e.Query.Get("search"); strings.Contains(s, `o\"brien\\x@example.com`) {
			searched = true
		}
	}
	if !searched {
		t.Fatalf("no escaped search on the wire: %v", f.Log())
	}
}

func TestRehireReactivates(t *testing.T) {
	for _, status := range []string{"SUSPENDED", "DEPROVISIONED", "STAGED"} {
		t.Run(status, func(t *testing.T) {
			f := newFixture(t, oktatest.Options{})
			id := f.AddUser(status, map[string]any{"login": "rehire@example.com", "email": "rehire@example.com", "firstName": "Re", "lastName": "Hire"})
			c := newConn(t, f, "", false)
			a, err := c.EnsureAccount(ctx(t), ref("rehire"))
			if err != nil {
				t.Fatal(err)
			}
			u, _ := f.User(id)
			if a.ID != id || f.Users() != 1 {
				t.Fatalf("rehire got id %s (want %s), %d users: a second account was created", a.ID, id, f.Users())
			}
			want := map[string]string{"SUSPENDED": "ACTIVE", "DEPROVISIONED": "PROVISIONED", "STAGED": "PROVISIONED"}[status]
			if u.Status != want || !a.Active {
				t.Fatalf("after rehire Okta status %s (active %v), want %s", u.Status, a.Active, want)
			}
		})
	}
}

func TestStagedCreate(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	c := newConn(t, f, "activate: false\n", false)
	a, err := c.EnsureAccount(ctx(t), ref("staged"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.User(a.ID)
	if u.Status != "STAGED" || a.Active {
		t.Fatalf("status %s active %v, want a STAGED inactive user", u.Status, a.Active)
	}
	for k, want := range map[string]string{"login": "staged@example.com", "employeeNumber": "E-staged", "department": "R&D", "manager": "boss@example.com", "lastName": "staged"} {
		if u.Profile[k] != want {
			t.Errorf("profile %s = %v, want %q", k, u.Profile[k], want)
		}
	}
	for _, e := range f.Log() {
		if e.Method == http.MethodPost && e.Path == "/api/v1/users" && e.Query.Get("activate") != "false" {
			t.Errorf("create sent activate=%q", e.Query.Get("activate"))
		}
	}
}

func TestDisableModes(t *testing.T) {
	for _, tc := range []struct{ extra, from, want string }{
		{"", "ACTIVE", "SUSPENDED"},
		{"disable: deactivate\n", "ACTIVE", "DEPROVISIONED"},
		{"", "PROVISIONED", "DEPROVISIONED"}, // Okta suspends only ACTIVE users
		{"", "LOCKED_OUT", "DEPROVISIONED"},
	} {
		t.Run(tc.from+tc.extra, func(t *testing.T) {
			f := newFixture(t, oktatest.Options{})
			id := f.AddUser(tc.from, map[string]any{"login": "leaver@example.com", "email": "leaver@example.com", "firstName": "Lea", "lastName": "Ver"})
			c := newConn(t, f, tc.extra, false)
			if err := c.Disable(ctx(t), ref("leaver")); err != nil {
				t.Fatal(err)
			}
			if u, _ := f.User(id); u.Status != tc.want {
				t.Fatalf("status %s, want %s", u.Status, tc.want)
			}
		})
	}
}

func TestRevokeSessionsClearsSessionsAndTokens(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	id := f.AddUser("ACTIVE", map[string]any{"login": "leaver@example.com", "email": "leaver@example.com", "firstName": "Lea", "lastName": "Ver"})
	f.Login(id, time.Now())
	f.Login(id, time.Now())
	c := newConn(t, f, "", false)
	r := ref("leaver")
	if err := c.Disable(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeSessions(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	u, _ := f.User(id)
	if u.Sessions != 0 || u.Tokens != 0 {
		t.Fatalf("after RevokeSessions: %d sessions, %d tokens", u.Sessions, u.Tokens)
	}
	var order []string
	for _, e := range f.Log() {
		if e.Method != http.MethodGet {
			order = append(order, e.Method+" "+e.Path+"?"+e.Query.Encode())
		}
	}
	want := []string{"POST /api/v1/users/" + id + "/lifecycle/suspend?", "DELETE /api/v1/users/" + id + "/sessions?oauthTokens=true"}
	if !slices.Equal(order, want) {
		t.Fatalf("writes on the wire %q, want %q", order, want)
	}
}

func TestReadAccountMapsBack(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	other := f.AddGroup("Unmanaged")
	c := newConn(t, f, "", false)
	a, err := c.EnsureAccount(ctx(t), ref("reader"))
	if err != nil {
		t.Fatal(err)
	}
	r := ref("reader")
	r.AccountID = a.ID
	for _, e := range []gatehouse.Entitlement{entEng, entApp} {
		if err := c.Grant(ctx(t), r, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.GroupsOf(a.ID); !slices.Equal(got, []string{"Engineering"}) {
		t.Fatalf("groups %v: the prefix twin must not be picked", got)
	}
	_ = other
	got, err := c.ReadAccount(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Entitlements, []string{"engineering", "wiki"}) {
		t.Fatalf("entitlements %v, want [engineering wiki]", got.Entitlements)
	}
	if got.Attributes["status"] != "PROVISIONED" || got.Attributes["department"] != "R&D" {
		t.Fatalf("attributes %v", got.Attributes)
	}
}

func TestRecordingRedactsSecrets(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	c := newConn(t, f, "", false)
	if _, err := c.EnsureAccount(ctx(t), ref("rec")); err != nil {
		t.Fatal(err)
	}
	rec := c.Recording()
	if len(rec) == 0 {
		t.Fatal("nothing recorded in debug mode")
	}
	for _, ex := range rec {
		dump := fmt.Sprintf("%v %v %s %s %v", ex.URL, ex.RequestHeader, ex.RequestBody, ex.ResponseBody, ex.ResponseHeader)
		if strings.Contains(dump, oktatest.Token) {
			t.Fatalf("the SSWS token leaked into a recording: %s", dump)
		}
	}
	if h := rec[0].RequestHeader.Get("Authorization"); h != "[redacted]" {
		t.Fatalf("Authorization recorded as %q", h)
	}
}

func pemKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// oauthConn builds a connector authenticating as a service app with key.
func oauthConn(t *testing.T, f *fixture, key string, scopes []string) *Connector {
	t.Helper()
	t.Setenv("OKTA_TEST_PRIVATE_KEY", key)
	y := fmt.Sprintf("org_url: %s\nauth:\n  type: oauth2\n  client_id: 0oafakeserviceapp001\n  key_id: k1\n  private_key: ${OKTA_TEST_PRIVATE_KEY}\n", f.URL)
	if scopes != nil {
		y += "  scopes: [" + strings.Join(scopes, ", ") + "]\n"
	}
	c, err := New(appConfig(t, y, false), connectors.Deps{Logger: zerolog.Nop(), Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

var allScopes = []string{"okta.users.read", "okta.users.manage", "okta.groups.read", "okta.groups.manage", "okta.apps.read", "okta.apps.manage"}

func TestPrivateKeyJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		sign, trust any
		ok          bool
	}{
		{"RS256", rsaKey, &rsaKey.PublicKey, true},
		{"ES256", ecKey, &ecKey.PublicKey, true},
		{"wrong key", ecKey, &rsaKey.PublicKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, oktatest.Options{ClientID: "0oafakeserviceapp001", PublicKey: tc.trust, Scopes: allScopes})
			c := oauthConn(t, f, pemKey(t, tc.sign), nil)
			r := ref("jwt")
			a, err := c.EnsureAccount(ctx(t), r)
			if !tc.ok {
				if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "invalid_client") {
					t.Fatalf("with an untrusted key: %v (class %s), want permanent invalid_client", err, gatehouse.Classify(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r.AccountID = a.ID
			if err := c.Grant(ctx(t), r, entEng); err != nil {
				t.Fatal(err)
			}
			if err := c.Check(ctx(t)); err != nil {
				t.Fatalf("Check with every scope: %v", err)
			}
			if n := f.TokenRequests(); n != 1 {
				t.Fatalf("%d token requests for several calls, want 1 (cached until expiry)", n)
			}
			for _, ex := range c.Recording() {
				if strings.Contains(ex.URL, "/oauth2/") || ex.RequestHeader.Get("Authorization") != "[redacted]" {
					t.Fatalf("recording shows a token exchange or an unredacted bearer: %s %v", ex.URL, ex.RequestHeader)
				}
			}
		})
	}
}

func TestTokenRenewedOnExpiry(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := newFixture(t, oktatest.Options{ClientID: "0oafakeserviceapp001", PublicKey: &key.PublicKey, Scopes: allScopes, TokenTTL: time.Second})
	c := oauthConn(t, f, pemKey(t, key), nil)
	if _, err := c.ListAccounts(ctx(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.ListAccounts(ctx(t)); err != nil {
		t.Fatalf("after the token expired: %v", err)
	}
	if n := f.TokenRequests(); n < 2 {
		t.Fatalf("%d token requests, want a renewal", n)
	}
}

func TestCheckNamesMissingScopes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	granted := []string{"okta.users.read", "okta.users.manage", "okta.apps.read", "okta.apps.manage"}
	t.Run("granted scopes short", func(t *testing.T) {
		f := newFixture(t, oktatest.Options{ClientID: "0oafakeserviceapp001", PublicKey: &key.PublicKey, Scopes: granted})
		c := oauthConn(t, f, pemKey(t, key), granted) // asks only for what it was granted
		err := c.Check(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "okta.groups.manage") || !strings.Contains(err.Error(), "okta.groups.read") {
			t.Fatalf("Check: %v, want it to name okta.groups.read and okta.groups.manage", err)
		}
		// The fake enforces the description's scopes: a group grant is refused.
		r := ref("scoped")
		if _, err := c.EnsureAccount(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		err = c.Grant(ctx(t), r, entEng)
		var oe *OktaError
		if !errors.As(err, &oe) || oe.Code != "E0000006" || oe.Scope != "okta.groups.read" || gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Fatalf("grant without okta.groups scopes: %v", err)
		}
	})
	t.Run("token refused", func(t *testing.T) {
		f := newFixture(t, oktatest.Options{ClientID: "0oafakeserviceapp001", PublicKey: &key.PublicKey, Scopes: granted})
		c := oauthConn(t, f, pemKey(t, key), nil) // asks for every needed scope
		err := c.Check(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "okta.groups.manage") || gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Fatalf("Check: %v, want invalid_scope naming okta.groups.manage", err)
		}
	})
	t.Run("ssws ok", func(t *testing.T) {
		f := newFixture(t, oktatest.Options{})
		if err := newConn(t, f, "", false).Check(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ssws forbidden", func(t *testing.T) {
		f := newFixture(t, oktatest.Options{})
		f.Fail(oktatest.Fault{Status: 403, Prefix: "/api/v1/users"})
		err := newConn(t, f, "", false).Check(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "custom admin role") || gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Fatalf("Check: %v, want it to name the admin role needed", err)
		}
	})
	t.Run("ssws missing group", func(t *testing.T) {
		f := &fixture{Server: oktatest.New(t, oktatest.Options{})}
		f.AddApp("Wiki")
		err := newConn(t, f, "", false).Check(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "engineering (group Engineering)") {
			t.Fatalf("Check: %v", err)
		}
	})
}

func TestErrorClassification(t *testing.T) {
	f := newFixture(t, oktatest.Options{})
	c := newConn(t, f, "", false)
	_, err := c.do(ctx(t), http.MethodGet, "/api/v1/users/00u00000000000000404", nil, nil)
	if gatehouse.Classify(err) != gatehouse.ClassNotFound || codeOf(err) != "E0000007" || !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("missing user: %v (class %s)", err, gatehouse.Classify(err))
	}
	if err := c.Enable(ctx(t), ref("ghost")); gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("enable of a missing account: %v", err)
	}
	// A create that Okta refuses surfaces errorSummary and errorCauses.
	_, err = c.createUser(ctx(t), gatehouse.AccountRef{UserName: "x@example.com"}, "x@example.com")
	if err != nil {
		t.Fatalf("create with fallbacks for names: %v", err)
	}
	_, err = c.do(ctx(t), http.MethodPost, "/api/v1/users", nil, map[string]any{"profile": map[string]any{"login": "x@example.com", "email": "x@example.com", "firstName": "X", "lastName": "Y"}})
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "already exists") || codeOf(err) != "E0000001" {
		t.Fatalf("duplicate create: %v", err)
	}
}

var fixedNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{`plain@example.com`, `o"brien@example.com`, `back\slash`, `"\"`, "tab\there"} {
		q := quote(s)
		inner := q[1 : len(q)-1]
		// Every quote inside is escaped, so the literal cannot end early.
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' {
				i++
				continue
			}
			if inner[i] == '"' {
				t.Fatalf("quote(%q) = %s leaves a bare quote", s, q)
			}
		}
	}
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		hdr  []string
		want string
	}{
		{[]string{`<https://a.okta.com/api/v1/users?limit=2>; rel="self"`, `<https://a.okta.com/api/v1/users?after=00u2&limit=2>; rel="next"`}, "https://a.okta.com/api/v1/users?after=00u2&limit=2"},
		{[]string{`<https://a.okta.com/x?a=1,2>; rel="self", <https://a.okta.com/x?after=b>; rel="next"`}, "https://a.okta.com/x?after=b"},
		{[]string{`<https://a.okta.com/x>; rel="self"`}, ""},
		{[]string{`garbage`}, ""},
	} {
		h := http.Header{"Link": tc.hdr}
		if got := httpx.NextLink(h); got != tc.want {
			t.Errorf("httpx.NextLink(%q) = %q, want %q", tc.hdr, got, tc.want)
		}
	}
}

func TestTokenRenewedAfter401(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := newFixture(t, oktatest.Options{ClientID: "0oafakeserviceapp001", PublicKey: &key.PublicKey, Scopes: allScopes})
	c := oauthConn(t, f, pemKey(t, key), nil)
	if _, err := c.EnsureAccount(ctx(t), ref("renew")); err != nil {
		t.Fatal(err)
	}
	f.RevokeAccessTokens()
	if _, err := c.ReadAccount(ctx(t), ref("renew")); err != nil {
		t.Fatalf("after the token was revoked: %v", err)
	}
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one renewal after the 401)", n)
	}
}

// BenchmarkEnsureAccount measures a hire against a fake with Okta-like latency.
func BenchmarkEnsureAccount(b *testing.B) {
	f := &fixture{Server: oktatest.New(b, oktatest.Options{Latency: 2 * time.Millisecond})}
	s, _ := config.NewSettings(f.SettingsYAML(""))
	conn, err := New(&config.App{Name: "okta", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	c := conn.(*Connector)
	for i := 0; b.Loop(); i++ {
		if _, err := c.EnsureAccount(context.Background(), ref(fmt.Sprintf("bench%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPrivateKeyFileAndAppByID(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	f := newFixture(t, oktatest.Options{ClientID: "0oafakeserviceapp001", PublicKey: &key.PublicKey, Scopes: allScopes})
	path := t.TempDir() + "/okta.pem"
	if err := os.WriteFile(path, []byte(pemKey(t, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf("org_url: %s\nauth:\n  type: oauth2\n  client_id: 0oafakeserviceapp001\n  private_key_file: %s\n", f.URL, path)
	app := appConfig(t, y, false)
	app.Entitlements["wiki-by-id"] = &config.Entitlement{Kind: gatehouse.EntLicense, Resource: "app:" + f.wiki}
	conn, err := New(app, connectors.Deps{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	c := conn.(*Connector)
	a, err := c.EnsureAccount(ctx(t), ref("byid"))
	if err != nil {
		t.Fatal(err)
	}
	byID := gatehouse.Entitlement{Name: "wiki-by-id", Kind: gatehouse.EntLicense, Resource: "app:" + f.wiki}
	if err := c.Grant(ctx(t), ref("byid"), byID); err != nil {
		t.Fatal(err)
	}
	if got := f.AppsOf(a.ID); !slices.Equal(got, []string{"Wiki"}) {
		t.Fatalf("apps %v, want [Wiki]", got)
	}
	for _, e := range f.Log() {
		if e.Path == "/api/v1/apps" {
			t.Fatalf("an app id was looked up by label: %v", e)
		}
	}
	if err := c.Revoke(ctx(t), ref("byid"), byID); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx(t), ref("byid"), byID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if got := f.AppsOf(a.ID); len(got) != 0 {
		t.Fatalf("apps %v after revoke", got)
	}
}

// An unset credential must surface as config.ErrSecretUnresolved, which
// `gatehouse check` reports as a warning, and never build a connector
// without its key.
func TestUnresolvedSecrets(t *testing.T) {
	for _, y := range []string{
		"org_url: https://acme.okta.com\nauth: {type: ssws, token: \"${OKTA_UNSET_FOR_TEST}\"}\n",
		"org_url: https://acme.okta.com\nauth: {type: oauth2, client_id: x, private_key: \"${OKTA_UNSET_FOR_TEST}\"}\n",
	} {
		s, err := config.NewSettings(y)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(&config.App{Name: "okta", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
		if !errors.Is(err, config.ErrSecretUnresolved) || c != nil {
			t.Fatalf("%s: connector %v, error %v; want ErrSecretUnresolved", y, c, err)
		}
	}
}
