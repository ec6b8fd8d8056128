package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

var (
	entEng = gatehouse.Entitlement{App: "acme", Name: "engineering", Kind: gatehouse.EntGroup, Resource: "Engineering", Risk: gatehouse.RiskLow}
	entOps = gatehouse.Entitlement{App: "acme", Name: "ops", Kind: gatehouse.EntGroup, Resource: "Ops", Risk: gatehouse.RiskMedium}
)

// newConn builds a connector the way connectors.Build does, from YAML settings.
func newConn(t *testing.T, baseURL, extra string, del bool) *Connector {
	t.Helper()
	y := fmt.Sprintf("base_url: %s\nauth:\n  type: bearer\n  token: scim-token\n%s", baseURL, extra)
	s, err := config.NewSettings(y)
	if err != nil {
		t.Fatal(err)
	}
	app := &config.App{Name: "acme", Connector: "scim", Settings: s, Delete: del, Entitlements: map[string]*config.Entitlement{
		"engineering": {Kind: gatehouse.EntGroup, Resource: "Engineering"},
		"ops":         {Kind: gatehouse.EntGroup, Resource: "Ops"},
	}}
	c, err := New(app, connectors.Deps{Logger: zerolog.Nop(), Debug: true, UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func ref(n string) gatehouse.AccountRef {
	email := n + "@example.com"
	return gatehouse.AccountRef{IdentityKey: "E-" + n, Email: email, UserName: email, Name: "Ada " + n, GivenName: "Ada", FamilyName: n, EmployeeID: "E-" + n, Title: "Engineer", Department: "R&D"}
}

// inspect reads an account's state straight from the peer's storage.
func (p *scimPeer) inspect(t *testing.T, _ gatehouse.Connector, r gatehouse.AccountRef) (bool, bool, []string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	for id, u := range p.store.users {
		if un, _ := u.attrs["userName"].(string); !strings.EqualFold(un, r.UserName) && id != r.AccountID {
			continue
		}
		active, _ := u.attrs["active"].(bool)
		var ents []string
		for _, g := range p.store.groups {
			for _, m := range members(g) {
				if m == u.id {
					ents = append(ents, g.attrs["displayName"].(string))
				}
			}
		}
		return true, active, ents
	}
	return false, false, nil
}

func TestContractElimity(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		etag        bool
	}{
		{"generic", "", false},
		{"etag", "", true},
		{"azure", "preset: azure\n", false},
		{"enterprise+externalId", "enterprise_extension: true\nmatch_external_id: true\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newSCIMPeer(t, tc.etag)
			p.addGroup("Engineering")
			p.addGroup("Ops")
			conntest.Run(t, conntest.Harness{
				New:          func(t *testing.T) gatehouse.Connector { return newConn(t, p.URL+"/scim/v2", tc.extra, true) },
				Entitlements: []gatehouse.Entitlement{entEng, entOps},
				Inspect:      p.inspect,
			})
		})
	}
}

func TestDeleteNeedsDeleteTrue(t *testing.T) {
	p := newSCIMPeer(t, false)
	ctx := context.Background()
	c := newConn(t, p.URL+"/scim/v2", "", false)
	if c.Capabilities().Has(gatehouse.CapDelete) {
		t.Fatal("delete declared without delete: true")
	}
	a, err := c.EnsureAccount(ctx, ref("keep"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, ref("keep")); !errors.Is(err, gatehouse.ErrUnsupported) {
		t.Fatalf("Delete without delete: true = %v, want unsupported", err)
	}
	if exists, active, _ := p.inspect(t, c, gatehouse.AccountRef{AccountID: a.ID}); !exists || !active {
		t.Fatalf("exists=%v active=%v: the account must be untouched", exists, active)
	}
	if newConn(t, p.URL+"/scim/v2", "preset: slack\n", true).Capabilities().Has(gatehouse.CapDelete) {
		t.Fatal("slack cannot delete (DELETE deactivates) but declares delete")
	}
}

func TestEnsureUsesSCIMShapes(t *testing.T) {
	p := newSCIMPeer(t, false)
	c := newConn(t, p.URL+"/scim/v2", "enterprise_extension: true\n", false)
	ctx := context.Background()
	mgr, err := c.EnsureAccount(ctx, ref("boss"))
	if err != nil {
		t.Fatal(err)
	}
	r := ref("hire")
	r.Manager = "boss@example.com"
	a, err := c.EnsureAccount(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "hire@example.com" || a.EmployeeID != "E-hire" || !a.Active || a.LastActivity.IsZero() {
		t.Fatalf("account %+v", a)
	}
	p.store.mu.Lock()
	u := p.store.users[a.ID]
	p.store.mu.Unlock()
	ext, _ := u.attrs[schemaEnterprise].(map[string]any)
	m, _ := ext["manager"].(map[string]any)
	if ext["department"] != "R&D" || m["value"] != mgr.ID || u.external != "E-hire" {
		t.Fatalf("stored %+v external %q", u.attrs, u.external)
	}
	name, _ := u.attrs["name"].(map[string]any)
	emails, _ := u.attrs["emails"].([]any)
	if name["givenName"] != "Ada" || len(emails) != 1 {
		t.Fatalf("stored %+v", u.attrs)
	}
}

func TestETagRetryOn412(t *testing.T) {
	p := newSCIMPeer(t, true)
	c := newConn(t, p.URL+"/scim/v2", "", false)
	ctx := context.Background()
	a, err := c.EnsureAccount(ctx, ref("etag"))
	if err != nil {
		t.Fatal(err)
	}
	p.store.mu.Lock()
	p.store.bumpOnce, p.store.patches = true, 0
	p.store.mu.Unlock()
	if err := c.Disable(ctx, gatehouse.AccountRef{AccountID: a.ID}); err != nil {
		t.Fatal(err)
	}
	if p.store.patches != 2 {
		t.Fatalf("patches = %d, want 2 (412 then success)", p.store.patches)
	}
	if _, active, _ := p.inspect(t, c, gatehouse.AccountRef{AccountID: a.ID}); active {
		t.Fatal("still active")
	}
	var sawIfMatch bool
	for _, ex := range c.Recording() {
		if ex.Method == http.MethodPatch && ex.RequestHeader.Get("If-Match") != "" {
			sawIfMatch = true
		}
	}
	if !sawIfMatch {
		t.Fatal("no If-Match sent although the server supports ETags")
	}
}

func TestPUTWhenPatchUnsupported(t *testing.T) {
	p := newSCIMPeer(t, false)
	p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig") {
			w.Header().Set("Content-Type", "application/scim+json")
			_, _ = io.WriteString(w, `{"patch":{"supported":false},"filter":{"supported":true,"maxResults":10},"etag":{"supported":false}}`)
			return true
		}
		return false
	}
	c := newConn(t, p.URL+"/scim/v2", "", false)
	ctx := context.Background()
	a, err := c.EnsureAccount(ctx, ref("put"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Disable(ctx, gatehouse.AccountRef{AccountID: a.ID}); err != nil {
		t.Fatal(err)
	}
	if p.store.puts != 1 || p.store.patches != 0 {
		t.Fatalf("puts=%d patches=%d", p.store.puts, p.store.patches)
	}
	exists, active, _ := p.inspect(t, c, gatehouse.AccountRef{AccountID: a.ID})
	if !exists || active {
		t.Fatalf("exists=%v active=%v", exists, active)
	}
}

// TestDialects drives the connector against servers with documented quirks,
// made by wrapping the elimity peer.
func TestDialects(t *testing.T) {
	ctx := context.Background()

	t.Run("409 uniqueness with case-sensitive filter", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		pre := newConn(t, p.URL+"/scim/v2", "", false)
		existing, err := pre.EnsureAccount(ctx, gatehouse.AccountRef{Email: "Mixed.Case@Example.com", UserName: "Mixed.Case@Example.com"})
		if err != nil {
			t.Fatal(err)
		}
		p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
			// A filter that compares case-sensitively: nothing matches a lower-cased query.
			if r.Method == http.MethodGet && strings.Contains(r.URL.Query().Get("filter"), "mixed.case") {
				w.Header().Set("Content-Type", "application/scim+json")
				_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
				return true
			}
			return false
		}
		c := newConn(t, p.URL+"/scim/v2", "", false)
		a, err := c.EnsureAccount(ctx, gatehouse.AccountRef{Email: "mixed.case@example.com", UserName: "mixed.case@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != existing.ID {
			t.Fatalf("got %s, want existing %s", a.ID, existing.ID)
		}
	})

	t.Run("201 without body or Location", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		var inner http.Handler
		p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") {
				rec := httptest.NewRecorder()
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/Users"
				inner.ServeHTTP(rec, r2)
				w.WriteHeader(rec.Code) // no body, no Location
				return true
			}
			return false
		}
		inner = elimityOnly(t, p)
		c := newConn(t, p.URL+"/scim/v2", "", false)
		a, err := c.EnsureAccount(ctx, ref("quiet"))
		if err != nil || a.ID == "" {
			t.Fatalf("a=%+v err=%v", a, err)
		}
	})

	t.Run("server ignores count and startIndex", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		c := newConn(t, p.URL+"/scim/v2", "page_size: 2\n", false)
		for i := range 5 {
			if _, err := c.EnsureAccount(ctx, ref(fmt.Sprint("u", i))); err != nil {
				t.Fatal(err)
			}
		}
		pages := 0
		p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/Users") && r.URL.Query().Get("filter") == "" {
				pages++
				// Every page is the whole list and claims more exist.
				var all []any
				p.store.mu.Lock()
				for id, u := range p.store.users {
					m := map[string]any{"id": id}
					for k, v := range u.attrs {
						m[k] = v
					}
					all = append(all, m)
				}
				p.store.mu.Unlock()
				w.Header().Set("Content-Type", "application/scim+json")
				_ = json.NewEncoder(w).Encode(map[string]any{"totalResults": 1000, "itemsPerPage": len(all), "Resources": all})
				return true
			}
			return false
		}
		accts, err := c.ListAccounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(accts) != 5 || pages != 2 {
			t.Fatalf("accounts=%d pages=%d, want 5 accounts in 2 requests", len(accts), pages)
		}
	})

	t.Run("server ignores filters", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		c := newConn(t, p.URL+"/scim/v2", "", false)
		first, _ := c.EnsureAccount(ctx, ref("first"))
		p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
			if q := r.URL.Query(); q.Get("filter") != "" {
				q.Del("filter")
				r.URL.RawQuery = q.Encode() // answer as if no filter was given
			}
			return false
		}
		second, err := c.EnsureAccount(ctx, ref("second"))
		if err != nil || second.ID == first.ID {
			t.Fatalf("second=%+v err=%v: a filter-ignoring server must not make us pick the wrong user", second, err)
		}
	})

	t.Run("slack deactivates with DELETE", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		c := newConn(t, p.URL+"/scim/v2", "preset: slack\n", false)
		a, _ := c.EnsureAccount(ctx, ref("slacker"))
		if err := c.Disable(ctx, gatehouse.AccountRef{AccountID: a.ID}); err != nil {
			t.Fatal(err)
		}
		reqs := p.requests()
		if last := reqs[len(reqs)-1]; !strings.HasPrefix(last, "DELETE /scim/v2/Users/") {
			t.Fatalf("last request %q, want DELETE", last)
		}
	})

	t.Run("azure ops are capitalised and remove by value list", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		gid := p.addGroup("Engineering")
		var bodies []string
		p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPatch {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				r.Body = io.NopCloser(strings.NewReader(string(b)))
			}
			return false
		}
		c := newConn(t, p.URL+"/scim/v2", "preset: azure\n", false)
		a, _ := c.EnsureAccount(ctx, ref("az"))
		r := ref("az")
		if err := c.Grant(ctx, r, entEng); err != nil {
			t.Fatal(err)
		}
		if err := c.Revoke(ctx, r, entEng); err != nil {
			t.Fatal(err)
		}
		if err := c.Disable(ctx, r); err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(bodies, "\n")
		for _, want := range []string{`"op":"Add"`, `"op":"Remove","path":"members","value":[{"value":"` + a.ID + `"}]`, `"op":"Replace","path":"active"`} {
			if !strings.Contains(joined, want) {
				t.Errorf("PATCH bodies lack %s:\n%s", want, joined)
			}
		}
		if len(p.groupMembers(gid)) != 0 {
			t.Fatal("member not removed")
		}
	})

	t.Run("groups attribute on users", func(t *testing.T) {
		p := newSCIMPeer(t, false)
		p.store.usersShowGroups = true
		p.addGroup("Engineering")
		c := newConn(t, p.URL+"/scim/v2", "", false)
		_, _ = c.EnsureAccount(ctx, ref("g"))
		if err := c.Grant(ctx, ref("g"), entEng); err != nil {
			t.Fatal(err)
		}
		before := len(p.requests())
		accts, err := c.ListAccounts(ctx)
		if err != nil || len(accts) != 1 || len(accts[0].Entitlements) != 1 || accts[0].Entitlements[0] != "engineering" {
			t.Fatalf("accts=%+v err=%v", accts, err)
		}
		for _, r := range p.requests()[before:] {
			if strings.Contains(r, "/Groups") {
				t.Fatalf("listed groups although users carry them: %s", r)
			}
		}
	})
}

func elimityOnly(t *testing.T, p *scimPeer) http.Handler {
	t.Helper()
	saved := p.wrap
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.wrap = nil
		p.mu.Unlock()
		defer func() { p.mu.Lock(); p.wrap = saved; p.mu.Unlock() }()
		r.URL.Path = "/scim/v2" + r.URL.Path
		r.Header.Set("Authorization", "Bearer scim-token")
		rec := httptest.NewRecorder()
		p.Config.Handler.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestBadAnswers: garbage never panics and never passes for success.
func TestBadAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		class  gatehouse.ErrorClass
	}{
		{"html 502", 502, "text/html", `<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>`, gatehouse.ClassRetryable},
		{"html 200 login page", 200, "text/html", `<!DOCTYPE html><html><title>Sign in</title></html>`, gatehouse.ClassRetryable},
		{"truncated json", 200, "application/scim+json", `{"totalResults":3,"Resources":[{"id":"1","userName":"a`, gatehouse.ClassRetryable},
		{"200 with scim error", 200, "application/scim+json", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"403","detail":"token lacks scope"}`, gatehouse.ClassPermanent},
		{"200 ok false", 200, "application/json", `{"ok":false,"error":"not_allowed_token_type"}`, gatehouse.ClassPermanent},
		{"wrong content type", 200, "text/plain", `service unavailable`, gatehouse.ClassRetryable},
		{"list that is an array", 200, "application/scim+json", `[{"id":"1"}]`, gatehouse.ClassRetryable},
		{"resources not objects", 200, "application/scim+json", `{"totalResults":1,"Resources":["x"]}`, gatehouse.ClassRetryable},
		{"429", 429, "application/scim+json", `{"detail":"slow down"}`, gatehouse.ClassRateLimited},
		{"401", 401, "application/scim+json", `{"detail":"bad token","status":"401"}`, gatehouse.ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig") {
					w.WriteHeader(404)
					return
				}
				w.Header().Set("Content-Type", tt.ctype)
				if tt.status == 429 {
					w.Header().Set("Retry-After", "2")
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := newConn(t, srv.URL, "", true)
			ctx := context.Background()
			_, err := c.EnsureAccount(ctx, ref("bad"))
			checkClass(t, "EnsureAccount", err, tt.class)
			_, err = c.ListAccounts(ctx)
			checkClass(t, "ListAccounts", err, tt.class)
			err = c.Grant(ctx, ref("bad"), entEng)
			checkClass(t, "Grant", err, tt.class)
		})
	}
}

func checkClass(t *testing.T, op string, err error, want gatehouse.ErrorClass) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded on a bad answer", op)
	}
	if got := gatehouse.Classify(err); got != want {
		t.Fatalf("%s: class %s, want %s (%v)", op, got, want, err)
	}
}

func TestSettingsErrors(t *testing.T) {
	s, _ := config.NewSettings("preset: nope\ndisable_via: carrier-pigeon\nauth:\n  type: bearer\nbogus: 1\n")
	app := &config.App{Name: "acme", Settings: s}
	_, err := New(app, connectors.Deps{Logger: zerolog.Nop()})
	var el config.ErrorList
	if !errors.As(err, &el) {
		t.Fatalf("err = %v, want config.ErrorList", err)
	}
	text := err.Error()
	for _, want := range []string{"base_url", "unknown preset", "disable_via", "token", "bogus"} {
		if !strings.Contains(text, want) {
			t.Errorf("errors lack %q:\n%s", want, text)
		}
	}
	for _, e := range el {
		if e.Pos.Line == 0 {
			t.Errorf("error without position: %v", e)
		}
	}
}

func TestPresetsDeclareCapabilities(t *testing.T) {
	for _, name := range PresetNames() {
		c := newConn(t, "https://scim.example.com", "preset: "+name+"\n", false)
		caps := c.Capabilities()
		if !caps.Has(gatehouse.CapEnsureAccount) || !caps.Has(gatehouse.CapDisable) || !caps.Has(gatehouse.CapListAccounts) {
			t.Errorf("preset %s: caps %v", name, caps.List())
		}
		if presets[name].doc == "" {
			t.Errorf("preset %s has no source", name)
		}
	}
}

func FuzzSCIMListResponse(f *testing.F) {
	f.Add([]byte(`{"totalResults":2,"itemsPerPage":2,"startIndex":1,"Resources":[{"id":"1","userName":"a","active":"False"},{"id":2,"emails":[{"value":"b@x","primary":"true"}]}]}`))
	f.Add([]byte(`{"resources":[{"id":"x","meta":{"lastModified":"2026-01-02T03:04:05Z"}}],"totalResults":"1"}`))
	f.Add([]byte(`{"Resources":[null]}`))
	f.Add([]byte(`{"totalResults":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		lr, err := parseListResponse(body)
		if err != nil {
			return
		}
		if lr.TotalResults < 0 || len(lr.Resources) > maxListResources {
			t.Fatalf("accepted bad list %+v", lr)
		}
		c := &Connector{entByResource: map[string]string{}}
		for _, r := range lr.Resources {
			u, err := parseUser(r)
			if err != nil {
				continue
			}
			if u.ID == "" {
				t.Fatal("user without id accepted")
			}
			_ = c.account(u, nil)
		}
	})
}

// TestContractSlackDialect runs the contract with the slack preset against a
// peer that, like Slack, deactivates (keeps the user, active=false) on DELETE.
func TestContractSlackDialect(t *testing.T) {
	p := newSCIMPeer(t, false)
	p.addGroup("Engineering")
	p.addGroup("Ops")
	p.wrap = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/Users/") {
			return false
		}
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		p.store.mu.Lock()
		defer p.store.mu.Unlock()
		u, ok := p.store.users[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return true
		}
		u.attrs["active"] = false
		u.version++
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return newConn(t, p.URL+"/scim/v2", "preset: slack\n", false) },
		Entitlements: []gatehouse.Entitlement{entEng, entOps},
		Inspect: func(t *testing.T, c gatehouse.Connector, r gatehouse.AccountRef) (bool, bool, []string) {
			return p.inspect(t, c, r)
		},
	})
}

func TestLastActivityAttribute(t *testing.T) {
	p := newSCIMPeer(t, false)
	c := newConn(t, p.URL+"/scim/v2", "last_activity_attribute: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\n", false)
	a, err := c.EnsureAccount(context.Background(), ref("seen"))
	if err != nil {
		t.Fatal(err)
	}
	p.store.mu.Lock()
	p.store.users[a.ID].attrs[schemaEnterprise] = map[string]any{"costCenter": "2026-11-01T10:00:00Z"}
	p.store.mu.Unlock()
	accts, err := c.ListAccounts(context.Background())
	if err != nil || len(accts) != 1 {
		t.Fatalf("accts=%v err=%v", accts, err)
	}
	if got := accts[0].LastActivity.Format("2006-01-02T15:04:05Z07:00"); got != "2026-11-01T10:00:00Z" {
		t.Fatalf("last activity %s", got)
	}
}

func TestRegistered(t *testing.T) {
	found := false
	for _, typ := range connectors.Types() {
		found = found || typ == "scim"
	}
	if !found {
		t.Fatal("scim is not registered")
	}
}

func TestCheck(t *testing.T) {
	p := newSCIMPeer(t, false)
	p.addGroup("Engineering")
	c := newConn(t, p.URL+"/scim/v2", "", false)
	var _ connectors.Checker = c
	if err := c.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "ops") || gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("Check with a missing group = %v", err)
	}
	p.addGroup("Ops")
	if err := newConn(t, p.URL+"/scim/v2", "", false).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad := newConn(t, p.URL+"/scim/v2", "", false)
	bad.users, _ = httpx.New(httpx.Options{BaseURL: p.URL + "/scim/v2", Auth: httpx.Auth{Type: "bearer", Token: config.NewSecret("wrong", "literal")}})
	if err := bad.Check(context.Background()); gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("Check with a bad token = %v", err)
	}
}
