package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

// example loads a testdata example with its base URL pointed at srv.
func example(t *testing.T, file, realBase, fakeBase string, ents map[string]*config.Entitlement) *Connector {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "base_url: "+realBase, "base_url: "+fakeBase, 1)
	if text == string(b) {
		t.Fatalf("%s does not use base_url %s", file, realBase)
	}
	return build(t, text, ents)
}

func build(t *testing.T, settings string, ents map[string]*config.Entitlement) *Connector {
	t.Helper()
	s, err := config.NewSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	app := &config.App{Name: "acme", Connector: "http", Settings: s, Entitlements: ents}
	c, err := New(app, connectors.Deps{Logger: zerolog.Nop(), Debug: true, UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func setEnv(t *testing.T) {
	t.Setenv("PAGERDUTY_API_KEY", "pd-key")
	t.Setenv("DD_API_KEY", "dd-api")
	t.Setenv("DD_APP_KEY", "dd-app")
}

func (s *fakeStore) inspect(t *testing.T, _ gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.byEmail(ref.Email)
	if u == nil {
		return false, false, nil
	}
	return true, !u.disabled, sortedKeys(u.groups)
}

var (
	pdTeams = map[string]string{"PTEAM01": "Platform", "PTEAM02": "Payments"}
	pdEnts  = []gatehouse.Entitlement{
		{App: "pagerduty", Name: "platform", Kind: gatehouse.EntTeam, Resource: "PTEAM01"},
		{App: "pagerduty", Name: "payments", Kind: gatehouse.EntTeam, Resource: "PTEAM02", Level: "manager"},
	}
	ddRoles = map[string]string{"role-ro": "Datadog Read Only Role", "role-std": "Datadog Standard Role"}
	ddEnts  = []gatehouse.Entitlement{
		{App: "datadog", Name: "read_only", Kind: gatehouse.EntRole, Resource: "role-ro"},
		{App: "datadog", Name: "standard", Kind: gatehouse.EntRole, Resource: "role-std"},
	}
)

func cfgEnts(ents []gatehouse.Entitlement) map[string]*config.Entitlement {
	out := map[string]*config.Entitlement{}
	for _, e := range ents {
		out[e.Name] = &config.Entitlement{Kind: e.Kind, Resource: e.Resource, Level: e.Level}
	}
	return out
}

func TestContractPagerDuty(t *testing.T) {
	setEnv(t)
	st := newFakeStore(pdTeams)
	srv := newPagerDuty(t, st)
	conntest.Run(t, conntest.Harness{
		New: func(t *testing.T) gatehouse.Connector {
			return example(t, "pagerduty.yaml", "https://api.pagerduty.com", srv.URL, cfgEnts(pdEnts))
		},
		Entitlements: pdEnts,
		Inspect:      st.inspect,
	})
}

func TestContractDatadog(t *testing.T) {
	setEnv(t)
	st := newFakeStore(ddRoles)
	srv := newDatadog(t, st)
	conntest.Run(t, conntest.Harness{
		New: func(t *testing.T) gatehouse.Connector {
			return example(t, "datadog.yaml", "https://api.datadoghq.com", srv.URL, cfgEnts(ddEnts))
		},
		Entitlements: ddEnts,
		Inspect:      st.inspect,
	})
}

func TestPagerDutyPagingAndShapes(t *testing.T) {
	setEnv(t)
	st := newFakeStore(pdTeams)
	srv := newPagerDuty(t, st)
	c := example(t, "pagerduty.yaml", "https://api.pagerduty.com", srv.URL, cfgEnts(pdEnts))
	ctx := context.Background()
	for i := range 230 {
		u := &fakeUser{id: fmt.Sprintf("PX%04d", i), email: fmt.Sprintf("u%d@example.com", i), name: "U", groups: map[string]bool{}}
		if i%2 == 0 {
			u.groups["PTEAM02"] = true
		}
		st.users[u.id] = u
	}
	accts, err := c.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 230 {
		t.Fatalf("listed %d, want 230", len(accts))
	}
	withPayments := 0
	for _, a := range accts {
		for _, e := range a.Entitlements {
			if e == "payments" {
				withPayments++
			}
		}
	}
	if withPayments != 115 {
		t.Fatalf("%d accounts hold payments (mapped from team id), want 115", withPayments)
	}
	// Grant uses the entitlement level as the team role, JSON-escaped.
	r := gatehouse.AccountRef{Email: `o"hara@example.com`, UserName: `o"hara@example.com`, Name: `Scarlett "O" Hara`}
	a, err := c.EnsureAccount(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if st.users[a.ID].name != `Scarlett "O" Hara` {
		t.Fatalf("stored name %q", st.users[a.ID].name)
	}
	if err := c.Grant(ctx, r, pdEnts[1]); err != nil {
		t.Fatal(err)
	}
	var body string
	for _, ex := range c.Recording() {
		if ex.Method == http.MethodPut {
			body = ex.RequestBody
		}
	}
	if body != `{"role":"manager"}` {
		t.Fatalf("grant body %s", body)
	}
	dump := fmt.Sprint(c.Recording())
	if strings.Contains(dump, "pd-key") {
		t.Fatal("recording leaks the API key")
	}
}

func TestPathEscaping(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath())
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c := build(t, fmt.Sprintf(`
base_url: %s
operations:
  disable:
    method: POST
    path: /users/{{ .Ref.Email }}/disable
`, srv.URL), nil)
	if err := c.Disable(context.Background(), gatehouse.AccountRef{Email: "a/../../admin?x=1#@example.com"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "/users/a%2F..%2F..%2Fadmin%3Fx=1%23@example.com/disable" {
		t.Fatalf("paths %v", got)
	}
}

func TestConfigErrorsHavePositions(t *testing.T) {
	settings := `base_url: https://api.example.com
operations:
  ensure_account:
    find:
      path: /users/{{ .Ref.Emial }}
      id: 'body.id +* 2'
    create:
      method: POST
      path: /users
      body: '{"email": {{ .Ref.Email }}}'
  grant:
    method: FETCH
    path: /x/{{ .Ent.Resource
  list_accounts:
    path: /users
    fields:
      email: item.email
`
	s, err := config.NewSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(&config.App{Name: "acme", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
	var el config.ErrorList
	if !errors.As(err, &el) {
		t.Fatalf("err = %v", err)
	}
	want := map[string]int{ // key suffix → line
		"ensure_account.find.path":   5,
		"ensure_account.find.id":     6,
		"ensure_account.create.body": 10,
		"grant.method":               13,
		"grant.path":                 13,
		"list_accounts.items":        0,
		"list_accounts.fields.id":    0,
	}
	for suffix, line := range want {
		found := false
		for _, e := range el {
			if strings.HasSuffix(e.Key, suffix) {
				found = true
				if line != 0 && e.Pos.Line != line {
					t.Errorf("%s at line %d, want %d: %v", suffix, e.Pos.Line, line, e)
				}
			}
		}
		if !found {
			t.Errorf("no error for %s in:\n%v", suffix, err)
		}
	}
}

// TestBadAnswers: garbage from the server never passes for success.
func TestBadAnswers(t *testing.T) {
	setEnv(t)
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		class  gatehouse.ErrorClass
	}{
		{"html 502", 502, "text/html", "<html><title>502 Bad Gateway</title></html>", gatehouse.ClassRetryable},
		{"html 200", 200, "text/html", "<!DOCTYPE html><html>login</html>", gatehouse.ClassRetryable},
		{"truncated", 200, "application/json", `{"users":[{"id":"P1","email":"a@`, gatehouse.ClassRetryable},
		{"200 error body", 200, "application/json", `{"errors":["Forbidden"]}`, gatehouse.ClassPermanent},
		{"200 ok false", 200, "application/json", `{"ok":false,"error":"invalid_auth"}`, gatehouse.ClassPermanent},
		{"users not a list", 200, "application/json", `{"users":"nope","more":false}`, gatehouse.ClassRetryable},
		{"item without id", 200, "application/json", `{"users":[{"email":"a@example.com"}],"more":false}`, gatehouse.ClassRetryable},
		{"json content type with xml", 200, "application/json", `<?xml version="1.0"?><users/>`, gatehouse.ClassRetryable},
		{"429", 429, "application/json", `{"error":{"message":"Rate Limit Exceeded"}}`, gatehouse.ClassRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := example(t, "pagerduty.yaml", "https://api.pagerduty.com", srv.URL, nil)
			_, err := c.ListAccounts(context.Background())
			if err == nil {
				t.Fatal("ListAccounts succeeded on a bad answer")
			}
			if got := gatehouse.Classify(err); got != tt.class {
				t.Fatalf("class %s, want %s: %v", got, tt.class, err)
			}
			if tt.name != "users not a list" && tt.name != "item without id" {
				_, err = c.EnsureAccount(context.Background(), gatehouse.AccountRef{Email: "a@example.com", UserName: "a@example.com"})
				if err == nil {
					t.Fatal("EnsureAccount succeeded on a bad answer")
				}
			}
		})
	}
}

func TestListLoopGuard(t *testing.T) {
	setEnv(t)
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		// Always the same page, always "more": a server stuck in a loop.
		_, _ = w.Write([]byte(`{"users":[{"id":"P1","email":"a@example.com","teams":[]}],"limit":100,"offset":0,"more":true}`))
	}))
	defer srv.Close()
	c := example(t, "pagerduty.yaml", "https://api.pagerduty.com", srv.URL, nil)
	accts, err := c.ListAccounts(context.Background())
	if err != nil || len(accts) != 1 || calls > 3 {
		t.Fatalf("accts=%d calls=%d err=%v", len(accts), calls, err)
	}
}

// TestDocExamplesMatchTestdata keeps docs/connectors-http.md and the tested
// files identical.
func TestDocExamplesMatchTestdata(t *testing.T) {
	doc, err := os.ReadFile("../../docs/connectors-http.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- testdata: ([a-z0-9_.-]+) -->\n```yaml\n(.*?)```")
	blocks := re.FindAllSubmatch(doc, -1)
	seen := map[string]bool{}
	for _, m := range blocks {
		name := string(m[1])
		seen[name] = true
		want, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if string(m[2]) != string(want) {
			t.Errorf("docs block for %s differs from testdata/%s", name, name)
		}
	}
	for _, f := range []string{"pagerduty.yaml", "datadog.yaml"} {
		if !seen[f] {
			t.Errorf("docs/connectors-http.md has no block for testdata/%s", f)
		}
	}
}

func FuzzHTTPItems(f *testing.F) {
	f.Add([]byte(`{"users":[{"id":"P1","email":"a@x","teams":[{"id":"T"}]}],"more":true,"offset":0,"limit":1}`))
	f.Add([]byte(`{"data":[{"id":"u","attributes":{"email":"a","disabled":"true","modified_at":"2026-01-01T00:00:00Z"},"relationships":{"roles":{"data":[{"id":1}]}}}]}`))
	f.Add([]byte(`{"users":[null,1,"x",{"id":null}]}`))
	f.Add([]byte(`{"data":[{"attributes":null}]}`))
	f.Setenv("PAGERDUTY_API_KEY", "pd-key")
	f.Setenv("DD_API_KEY", "dd-api")
	f.Setenv("DD_APP_KEY", "dd-app")
	var conns []*Connector
	for _, spec := range []struct{ file, base string }{{"pagerduty.yaml", "https://api.pagerduty.com"}, {"datadog.yaml", "https://api.datadoghq.com"}} {
		b, err := os.ReadFile("testdata/" + spec.file)
		if err != nil {
			f.Fatal(err)
		}
		s, err := config.NewSettings(string(b))
		if err != nil {
			f.Fatal(err)
		}
		c, err := New(&config.App{Name: "fuzz", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
		if err != nil {
			f.Fatal(err)
		}
		conns = append(conns, c.(*Connector))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range conns {
			st := c.ops[gatehouse.CapListAccounts]
			v, err := parseBody(body)
			if err != nil {
				return
			}
			env := vars{Status: 200, Body: v}
			accts, err := c.items(st, env)
			if err != nil {
				if gatehouse.Classify(err) == gatehouse.ClassUnknown {
					t.Fatalf("unclassified error %v", err)
				}
				continue
			}
			for _, a := range accts {
				if a.ID == "" {
					t.Fatal("account without id accepted")
				}
			}
			if st.next != nil {
				_, _ = st.next.EvalString(env)
			}
		}
	})
}

func parseBody(b []byte) (any, error) {
	v, err := httpx.ParseResponse(200, http.Header{"Content-Type": {"application/json"}}, b, time.Now(), false)
	if err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// TestCreateConflictFindsExisting: a find that misses (a lagging search
// index) then a 409 on create must end with the existing account, not an error
// or a duplicate.
func TestCreateConflictFindsExisting(t *testing.T) {
	setEnv(t)
	st := newFakeStore(ddRoles)
	dd := newDatadog(t, st)
	st.users["u-1"] = &fakeUser{id: "u-1", email: "lag@example.com", name: "Lag", groups: map[string]bool{}}
	misses := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && misses > 0 {
			misses--
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":[],"meta":{"page":{"total_count":0}}}`))
			return
		}
		r2, _ := http.NewRequestWithContext(r.Context(), r.Method, dd.URL+r.URL.RequestURI(), r.Body)
		r2.Header = r.Header
		res, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	defer srv.Close()
	c := example(t, "datadog.yaml", "https://api.datadoghq.com", srv.URL, nil)
	a, err := c.EnsureAccount(context.Background(), gatehouse.AccountRef{Email: "lag@example.com", UserName: "lag@example.com", Name: "Lag"})
	if err != nil || a.ID != "u-1" || len(st.users) != 1 {
		t.Fatalf("a=%+v err=%v users=%d", a, err, len(st.users))
	}
}

func TestCheck(t *testing.T) {
	setEnv(t)
	st := newFakeStore(pdTeams)
	srv := newPagerDuty(t, st)
	c := example(t, "pagerduty.yaml", "https://api.pagerduty.com", srv.URL, nil)
	var _ connectors.Checker = c
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAGERDUTY_API_KEY", "wrong")
	bad := example(t, "pagerduty.yaml", "https://api.pagerduty.com", srv.URL, nil)
	if err := bad.Check(context.Background()); gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("Check with a bad key = %v", err)
	}
	if len(st.users) != 0 {
		t.Fatal("Check changed the app")
	}
}
