package ldap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"
)

var groupEnts = []gatehouse.Entitlement{
	{App: "dir", Name: "eng", Kind: gatehouse.EntGroup, Resource: "engineering"},
	{App: "dir", Name: "oncall", Kind: gatehouse.EntGroup, Resource: "cn=oncall,ou=groups,dc=example,dc=com"},
}

var posixEnts = []gatehouse.Entitlement{
	{App: "dir", Name: "devs", Kind: gatehouse.EntGroup, Resource: "devs"},
	{App: "dir", Name: "admins", Kind: gatehouse.EntGroup, Resource: "cn=admins,ou=posix,dc=example,dc=com"},
}

func baseSettings(srv *slapdServer) Settings {
	return Settings{
		URL: srv.URL, BindDN: testAdmin, BindPassword: config.NewSecret(testPass, "literal"),
		BaseDN: testBase, UsersDN: "ou=people," + testBase, GroupsDN: "ou=groups," + testBase,
	}
}

func newTest(t *testing.T, s Settings, ents []gatehouse.Entitlement) *Connector {
	t.Helper()
	c, err := New("dir", s, ents, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// admin is an out-of-band view of the directory for assertions.
func admin(t *testing.T, srv *slapdServer) *goldap.Conn {
	t.Helper()
	l, err := goldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(testAdmin, testPass); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func searchOne(t *testing.T, l *goldap.Conn, filter string, attrs ...string) *goldap.Entry {
	t.Helper()
	res, err := l.Search(goldap.NewSearchRequest(testBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s: %v", filter, err)
	}
	if len(res.Entries) > 1 {
		t.Fatalf("search %s: %d entries", filter, len(res.Entries))
	}
	if len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0]
}

// inspector checks an account's entry and group memberships directly.
func inspector(srv *slapdServer, s Settings, ents []gatehouse.Entitlement) func(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
	return func(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
		l := admin(t, srv)
		conn := c.(*Connector)
		uid := conn.uidFor(ref)
		e := searchOne(t, l, "(&(objectClass=inetOrgPerson)(uid="+goldap.EscapeFilter(uid)+"))", "*", "entryUUID")
		if e == nil {
			return false, false, nil
		}
		var held []string
		for _, ent := range ents {
			g, err := conn.groupDN(context.Background(), ent)
			if err != nil {
				t.Fatal(err)
			}
			ge := searchOne(t, l, fmt.Sprintf("(entryDN=%s)", goldap.EscapeFilter(g)), "member", "memberUid")
			if ge == nil {
				t.Fatalf("group %s missing", g)
			}
			for _, v := range append(ge.GetAttributeValues("member"), ge.GetAttributeValues("memberUid")...) {
				if strings.EqualFold(v, e.DN) || strings.EqualFold(v, uid) {
					held = append(held, ent.Name)
				}
			}
		}
		return true, conn.m.active(e), held
	}
}

func TestContractGroupOfNamesAttributeDisable(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return newTest(t, s, groupEnts) },
		Entitlements: groupEnts,
		Inspect:      inspector(srv, s, groupEnts),
	})
}

func TestContractPosixMoveDisable(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.GroupType, s.GroupsDN = PosixGroup, "ou=posix,"+testBase
	s.DisableMethod, s.DisabledDN = DisableMove, "ou=disabled,"+testBase
	s.IDAttribute = "entryUUID"
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return newTest(t, s, posixEnts) },
		Entitlements: posixEnts,
		Inspect:      inspector(srv, s, posixEnts),
	})
}

func TestContractStartTLSDNIDs(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.StartTLS, s.CAFile, s.IDAttribute = true, srv.CAFile, "dn"
	c := newTest(t, s, groupEnts)
	if _, err := c.ListAccounts(context.Background()); err != nil {
		t.Fatalf("StartTLS with the CA: %v", err)
	}
	l, _, err := c.conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := l.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("connection is not TLS after StartTLS")
	}
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return newTest(t, s, groupEnts) },
		Entitlements: groupEnts,
		Inspect:      inspector(srv, s, groupEnts),
	})

	// Without the CA the certificate is refused, permanently.
	s.CAFile = ""
	_, err = newTest(t, s, groupEnts).ListAccounts(context.Background())
	if err == nil || gatehouse.Classify(err) == gatehouse.ClassNotFound {
		t.Fatalf("StartTLS without the CA: want a certificate error, got %v", err)
	}
}

var uniq atomic.Int64

func person(prefix string) gatehouse.AccountRef {
	n := uniq.Add(1)
	email := fmt.Sprintf("%s.%d.%d@example.com", prefix, time.Now().UnixNano()%1e6, n)
	return gatehouse.AccountRef{
		IdentityKey: email, Email: email, UserName: email, Name: "Test Person", GivenName: "Test", FamilyName: "Person",
		EmployeeID: fmt.Sprintf("E%d", n), Title: "Engineer", Department: "R&D, \"Core\"",
	}
}

func TestLastMemberPlaceholder(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	lonely := gatehouse.Entitlement{App: "dir", Name: "lonely", Kind: gatehouse.EntGroup, Resource: "lonely"}
	c := newTest(t, s, []gatehouse.Entitlement{lonely})
	ctx := context.Background()
	l := admin(t, srv)
	members := func() []string {
		return searchOne(t, l, "(&(objectClass=groupOfNames)(cn=lonely))", "member").GetAttributeValues("member")
	}
	ref := person("lonely")
	a, err := c.EnsureAccount(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx, ref, lonely); err != nil {
		t.Fatal(err)
	}
	if m := members(); len(m) != 1 || strings.Contains(m[0], "nobody") {
		t.Fatalf("after grant the placeholder should be gone: %v", m)
	}
	if err := c.Revoke(ctx, ref, lonely); err != nil {
		t.Fatalf("revoking the last member: %v", err)
	}
	if m := members(); len(m) != 1 || m[0] != "cn=nobody,"+testBase {
		t.Fatalf("after revoking the last member: %v", m)
	}
	if err := c.Revoke(ctx, ref, lonely); err != nil {
		t.Fatal(err)
	}
	// Without a placeholder the revoke fails permanently and says why.
	if err := c.Grant(ctx, ref, lonely); err != nil {
		t.Fatal(err)
	}
	s2 := s
	empty := ""
	s2.EmptyGroupMember = &empty
	err = newTest(t, s2, nil).Revoke(ctx, gatehouse.AccountRef{AccountID: a.ID}, lonely)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "empty_group_member") {
		t.Fatalf("want a permanent error naming empty_group_member, got %v", err)
	}
	// Deleting the account removes it from the group, placeholder kept.
	if err := c.Delete(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if m := members(); len(m) != 1 || m[0] != "cn=nobody,"+testBase {
		t.Fatalf("after delete: %v", m)
	}
}

func TestAttributesEscapingAndLookup(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.Attributes = map[string]string{"description": "attr.cost_center", "title": ""}
	s.StaticAttributes = map[string]string{"businessCategory": "gatehouse"}
	c := newTest(t, s, groupEnts)
	ctx := context.Background()
	// A uid with every character that needs escaping in DNs and filters.
	ref := person("x")
	// Unique per run: the package shares one slapd across -count repeats.
	ref.Email = `o'neil+test,(a*b)\"#` + strings.ToLower(ref.EmployeeID) + `@example.com`
	ref.UserName = ref.Email
	ref.Attributes = map[string]string{"cost_center": "CC-42"}
	a, err := c.EnsureAccount(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	e := searchOne(t, admin(t, srv), "(mail="+goldap.EscapeFilter(ref.Email)+")", "*")
	if e == nil {
		t.Fatal("entry not found")
	}
	want := map[string]string{
		"uid": `o'neil+test,(a*b)\"#` + strings.ToLower(ref.EmployeeID), "cn": "Test Person", "sn": "Person", "givenName": "Test",
		"employeeNumber": ref.EmployeeID, "departmentNumber": `R&D, "Core"`, "description": "CC-42",
		"businessCategory": "gatehouse", "title": "",
	}
	for k, v := range want {
		if got := e.GetAttributeValue(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Found again by natural key, and by the id alone.
	for _, r := range []gatehouse.AccountRef{ref, {AccountID: a.ID}} {
		b, err := c.EnsureAccount(ctx, r)
		if err != nil || b.ID != a.ID {
			t.Fatalf("ensure %+v: %v, %+v", r, err, b)
		}
	}
	// A filter-injection attempt matches nothing rather than everything.
	if e, err := c.find(ctx, gatehouse.AccountRef{UserName: "*)(uid=*"}); err != nil || e != nil {
		t.Fatalf("injection: %v %v", e, err)
	}
	// A malformed id is "not found", not an error.
	if e, err := c.find(ctx, gatehouse.AccountRef{AccountID: "not-a-uuid"}); err != nil || e != nil {
		t.Fatalf("bad id: %v %v", e, err)
	}
}

func TestDisableByDelete(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.DisableMethod = DisableDelete
	c := newTest(t, s, groupEnts)
	if c.Capabilities().Has(gatehouse.CapEnable) {
		t.Fatal("delete method must not declare enable")
	}
	ctx := context.Background()
	ref := person("del")
	a, err := c.EnsureAccount(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx, ref, groupEnts[0]); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Disable(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if e := searchOne(t, admin(t, srv), "(mail="+goldap.EscapeFilter(ref.Email)+")"); e != nil {
		t.Fatalf("entry still there: %s", e.DN)
	}
	if err := c.Enable(ctx, ref); !errors.Is(err, gatehouse.ErrUnsupported) {
		t.Fatalf("enable: %v", err)
	}
	b, err := c.EnsureAccount(ctx, ref)
	if err != nil || b.ID == a.ID || len(b.Entitlements) != 0 {
		t.Fatalf("recreate: %v %+v", err, b)
	}
}

func TestMoveDisableKeepsMembership(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.DisableMethod, s.DisabledDN = DisableMove, "ou=disabled,"+testBase
	c := newTest(t, s, groupEnts)
	ctx := context.Background()
	ref := person("mv")
	a, err := c.EnsureAccount(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx, ref, groupEnts[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Disable(ctx, gatehouse.AccountRef{AccountID: a.ID}); err != nil {
		t.Fatal(err)
	}
	e := searchOne(t, admin(t, srv), "(mail="+goldap.EscapeFilter(ref.Email)+")")
	if !strings.HasSuffix(e.DN, ",ou=disabled,"+testBase) {
		t.Fatalf("disabled entry at %s", e.DN)
	}
	accts, err := c.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range accts {
		if x.ID == a.ID {
			found = true
			// refint rewrote the member DN on the move, so the membership
			// still shows, and revoking it later works.
			if x.Active || len(x.Entitlements) != 1 || x.Entitlements[0] != "eng" {
				t.Fatalf("disabled account listed as %+v", x)
			}
		}
	}
	if !found {
		t.Fatal("disabled account not listed")
	}
	if err := c.Revoke(ctx, ref, groupEnts[0]); err != nil {
		t.Fatal(err)
	}
}

func TestListAccountsPagingAndDiscovery(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.UsersDN = testBase // include ou=legacy: the ghost Gatehouse never created
	s.PageSize = 2
	s.LastActivityAttribute = "modifyTimestamp"
	c := newTest(t, s, groupEnts)
	ctx := context.Background()
	var refs []gatehouse.AccountRef
	for range 5 {
		ref := person("page")
		if _, err := c.EnsureAccount(ctx, ref); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	accts, err := c.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range accts {
		seen[a.Email] = true
		if a.Email == "ghost@example.com" && (a.UserName != "ghost" || a.DisplayName != "Ghost User" || a.LastActivity.IsZero()) {
			t.Errorf("ghost = %+v", a)
		}
	}
	for _, r := range append(refs, gatehouse.AccountRef{Email: "ghost@example.com"}) {
		if !seen[r.Email] {
			t.Errorf("ListAccounts (page size 2) missed %s", r.Email)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	srv := needSlapd(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		mutate func(s *Settings)
		op     func(c *Connector) error
		want   gatehouse.ErrorClass
	}{
		{"bad password", func(s *Settings) { s.BindPassword = config.NewSecret("wrong", "literal") },
			func(c *Connector) error { _, err := c.ListAccounts(ctx); return err }, gatehouse.ClassPermanent},
		{"read-only bind cannot write", func(s *Settings) {
			s.BindDN, s.BindPassword = testReader, config.NewSecret(readerPass, "literal")
		}, func(c *Connector) error { _, err := c.EnsureAccount(ctx, person("ro")); return err }, gatehouse.ClassPermanent},
		{"server down", func(s *Settings) { s.URL = "ldap://127.0.0.1:1" },
			func(c *Connector) error { _, err := c.ListAccounts(ctx); return err }, gatehouse.ClassRetryable},
		{"users_dn missing", func(s *Settings) { s.UsersDN = "ou=nowhere," + testBase },
			func(c *Connector) error { _, err := c.ListAccounts(ctx); return err }, gatehouse.ClassNotFound},
		{"grant to an unknown group", nil, func(c *Connector) error {
			ref := person("g")
			if _, err := c.EnsureAccount(ctx, ref); err != nil {
				return err
			}
			return c.Grant(ctx, ref, gatehouse.Entitlement{Name: "nope", Resource: "no-such-group"})
		}, gatehouse.ClassPermanent},
		{"grant to a missing account", nil, func(c *Connector) error {
			return c.Grant(ctx, person("missing"), groupEnts[0])
		}, gatehouse.ClassNotFound},
		{"unresolved secret", func(s *Settings) { s.BindPassword = config.Secret{} },
			func(c *Connector) error { _, err := c.ListAccounts(ctx); return err }, gatehouse.ClassPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSettings(srv)
			if tc.mutate != nil {
				tc.mutate(&s)
			}
			if !s.BindPassword.IsSet() {
				// An unresolved ${VAR}: build it the way config does.
				cfg, err := config.NewSettings("bind_password: ${GATEHOUSE_TEST_UNSET_VAR}\n")
				if err != nil {
					t.Fatal(err)
				}
				var tmp struct {
					BindPassword config.Secret `yaml:"bind_password"`
				}
				if errs := cfg.Decode(&tmp); errs.Err() != nil {
					t.Fatal(errs)
				}
				s.BindPassword = tmp.BindPassword
			}
			err := tc.op(newTest(t, s, groupEnts))
			if err == nil || gatehouse.Classify(err) != tc.want {
				t.Fatalf("want %s, got %v (%s)", tc.want, err, gatehouse.Classify(err))
			}
			if strings.Contains(err.Error(), testPass) || strings.Contains(err.Error(), readerPass) {
				t.Fatalf("error leaks a password: %v", err)
			}
		})
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	srv := needSlapd(t)
	c := newTest(t, baseSettings(srv), groupEnts)
	ctx := context.Background()
	if _, err := c.ListAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	// Break the pooled connection under the connector, as a server restart
	// or an idle timeout would.
	l, _, _ := c.conn(ctx)
	l.Close()
	if _, err := c.EnsureAccount(ctx, person("rc")); err != nil {
		t.Fatalf("after the connection dropped: %v", err)
	}
}

func TestCheck(t *testing.T) {
	srv := needSlapd(t)
	c := newTest(t, baseSettings(srv), groupEnts)
	var _ interface{ Check(context.Context) error } = c
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := baseSettings(srv)
	s.BindPassword = config.NewSecret("nope", "literal")
	if err := newTest(t, s, groupEnts).Check(context.Background()); gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("bad credentials: %v", err)
	}
}

func TestFactorySettings(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
	}{
		{"ok", "url: ldap://dir:389\nbind_dn: cn=admin,dc=x\nbind_password: ${X}\nbase_dn: dc=x\nusers_dn: ou=p,dc=x\n", nil},
		{"strict", "url: http://dir\nbase_dn: dc=x\nbind_dn: cn=a,dc=x\nusers_dn: ou=p,dc=y\ngroup_type: roles\ndisable_method: move\nuid_form: email\nattributes: {mail: mailbox}\n",
			[]string{"url: want ldap://", "bind_password: required with bind_dn", `users_dn: "ou=p,dc=y" is not within base_dn`,
				"group_type: want groupOfNames or posixGroup", "disabled_dn: required with disable_method move",
				`uid_form: unknown key (did you mean "uid_from"?)`, `attributes.mail: unknown field "mailbox"`}},
		{"required", "start_tls: true\n", []string{"url: required", "base_dn: required"}},
		{"ldaps with starttls", "url: ldaps://dir\nstart_tls: true\nbase_dn: dc=x\n", []string{"start_tls: ldaps:// is already TLS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := config.NewSettings(tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			app := &config.App{Name: "dir", Connector: "ldap", Settings: st, Entitlements: map[string]*config.Entitlement{
				"eng": {Kind: gatehouse.EntGroup, Resource: "engineering"},
			}}
			c, err := factory(app, connectors.Deps{Logger: zerolog.Nop()})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Name() != "dir" || c.Capabilities().Has(gatehouse.CapRevokeSessions) {
					t.Fatalf("connector %v", c)
				}
				return
			}
			var el config.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("want config.ErrorList, got %T %v", err, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestUIDCollisionIsRefused(t *testing.T) {
	srv := needSlapd(t)
	c := newTest(t, baseSettings(srv), groupEnts)
	ctx := context.Background()
	n := uniq.Add(1)
	jane := gatehouse.AccountRef{Email: fmt.Sprintf("jane%d@a.example", n), Name: "Jane A", EmployeeID: fmt.Sprintf("A%d", n)}
	other := gatehouse.AccountRef{Email: fmt.Sprintf("jane%d@b.example", n), Name: "Jane B", EmployeeID: fmt.Sprintf("B%d", n)}
	a, err := c.EnsureAccount(ctx, jane)
	if err != nil {
		t.Fatal(err)
	}
	// Same uid, different person: never hand Jane A's account to Jane B,
	// and never touch it on her behalf.
	if _, err := c.EnsureAccount(ctx, other); gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "is taken by") {
		t.Fatalf("ensure for another person with the same uid: %v", err)
	}
	if err := c.Disable(ctx, other); gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("disable for another person with the same uid: %v", err)
	}
	// A changed address with the same employee number is the same person.
	b, err := c.EnsureAccount(ctx, gatehouse.AccountRef{Email: fmt.Sprintf("jane%d@c.example", n), EmployeeID: jane.EmployeeID})
	if err != nil || b.ID != a.ID {
		t.Fatalf("renamed address, same employee number: %v %+v", err, b)
	}
}

// TestPPolicyLockAndLastBind disables by pwdAccountLockedTime (ppolicy):
// a locked account cannot bind, an enabled one can, and the bind sets
// authTimestamp (lastbind), which ListAccounts reports as last activity.
// It talks ldaps:// to cover that transport too.
func TestPPolicyLockAndLastBind(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.URL, s.CAFile = srv.LDAPSURL, srv.CAFile
	s.DisableAttribute = "pwdAccountLockedTime"
	s.IDAttribute = "dn"
	c := newTest(t, s, groupEnts)
	ctx := context.Background()
	ref := person("lock")
	a, err := c.EnsureAccount(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	l := admin(t, srv)
	set := goldap.NewModifyRequest(a.ID, nil)
	set.Replace("userPassword", []string{"user-pw"})
	if err := l.Modify(set); err != nil {
		t.Fatal(err)
	}
	bind := func() error {
		ul, err := goldap.DialURL(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer ul.Close()
		return ul.Bind(a.ID, "user-pw")
	}
	if err := bind(); err != nil {
		t.Fatalf("bind before disable: %v", err)
	}
	for range 2 {
		if err := c.Disable(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := bind(); err == nil {
		t.Fatal("a locked account could still bind")
	}
	accts, err := c.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got gatehouse.Account
	for _, x := range accts {
		if x.ID == a.ID {
			got = x
		}
	}
	if got.Active || got.LastActivity.IsZero() || time.Since(got.LastActivity) > time.Hour {
		t.Fatalf("locked account listed as %+v; want inactive with the bind's authTimestamp", got)
	}
	if err := c.Enable(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if err := bind(); err != nil {
		t.Fatalf("bind after enable: %v", err)
	}
}

func TestInsecureSkipVerifyWarns(t *testing.T) {
	srv := needSlapd(t)
	s := baseSettings(srv)
	s.URL, s.InsecureSkipVerify = srv.LDAPSURL, true
	var logs strings.Builder
	c, err := New("dir", s, groupEnts, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.Contains(logs.String(), "insecure_skip_verify") || !strings.Contains(logs.String(), `"level":"warn"`) {
		t.Fatalf("no warning logged: %s", logs.String())
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("self-signed server with insecure_skip_verify: %v", err)
	}
	if strings.Contains(logs.String(), testPass) {
		t.Fatal("the password was logged")
	}
}

// TestDocExample builds the connector from the configuration shown in the
// package doc, so the documentation cannot drift from the settings.
func TestDocExample(t *testing.T) {
	text := conntest.DocExample(t, ".")
	text = strings.ReplaceAll(text, "/tmp/demo-app.json", filepath.Join(t.TempDir(), "demo.json"))
	cfg := conntest.LoadDocExample(t, text)
	if len(cfg.Apps) == 0 {
		t.Fatal("no apps in the example")
	}
	for _, name := range cfg.AppNames() {
		if _, err := factory(cfg.Apps[name], connectors.Deps{}); err != nil {
			t.Errorf("app %s from the package doc: %v", name, err)
		}
	}
}
