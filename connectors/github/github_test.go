package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/github/githubtest"
	"github.com/rs/zerolog"
)

const testToken = "ghp_testtoken0123456789abcdef"

var (
	entTeam = gatehouse.Entitlement{App: "gh", Name: "backend", Kind: gatehouse.EntTeam, Resource: "backend", Level: "member"}
	entRepo = gatehouse.Entitlement{App: "gh", Name: "api-write", Kind: gatehouse.EntRepoRole, Resource: "api", Level: "write"}
	entOwn  = gatehouse.Entitlement{App: "gh", Name: "owner", Kind: gatehouse.EntRole, Resource: "owner"}
)

func confEnts() map[string]*config.Entitlement {
	return map[string]*config.Entitlement{
		"backend":   {Kind: gatehouse.EntTeam, Resource: "backend", Level: "member"},
		"api-write": {Kind: gatehouse.EntRepoRole, Resource: "api", Level: "write"},
		"owner":     {Kind: gatehouse.EntRole, Resource: "owner"},
	}
}

func newFake(t testing.TB, opts githubtest.Options) *githubtest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	f := githubtest.New(t, opts)
	f.AddTeam("backend")
	f.AddRepo("api")
	return f
}

// newConn builds the connector from YAML settings, as connectors.Build does.
func newConn(t testing.TB, y string, deps connectors.Deps) *Connector {
	t.Helper()
	s, err := config.NewSettings(y)
	if err != nil {
		t.Fatal(err)
	}
	if deps.UserAgent == "" {
		deps.UserAgent = "gatehouse/test"
	}
	c, err := New(&config.App{Name: "gh", Connector: "github", Settings: s, Entitlements: confEnts()}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func tokenConn(t testing.TB, f *githubtest.Server, extra string) *Connector {
	return newConn(t, f.SettingsYAML()+extra, connectors.Deps{Logger: zerolog.Nop(), Debug: true})
}

func refFor(login string) gatehouse.AccountRef {
	email := login + "@example.com"
	return gatehouse.AccountRef{IdentityKey: "E-" + login, Email: email, UserName: email, Name: "Ada " + login,
		Attributes: map[string]string{DefaultLoginAttribute: login}}
}

var refSeq atomic.Int64

func TestContract(t *testing.T) {
	f := newFake(t, githubtest.Options{AutoAccept: true, AutoUsers: true})
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return tokenConn(t, f, "page_size: 2\n") },
		Entitlements: []gatehouse.Entitlement{entTeam, entRepo},
		// GitHub's natural key is the login: ListAccounts cannot show a
		// member's private email, so the suite matches listed accounts by
		// UserName = login, and the connector finds the login in the
		// github_login attribute.
		Ref: func(t *testing.T, n int) gatehouse.AccountRef {
			r := refFor(fmt.Sprintf("ct-%d-%d", refSeq.Add(1), n))
			r.UserName = r.Attributes[DefaultLoginAttribute]
			return r
		},
		Inspect: func(t *testing.T, _ gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
			login := ref.Attributes[DefaultLoginAttribute]
			m := f.Membership(login)
			var ents []string
			for slug := range f.Teams(login) {
				ents = append(ents, slug)
			}
			for repo, perm := range f.Collaborations(login) {
				if repoLevels[perm] >= repoLevels["push"] {
					ents = append(ents, repo)
				}
			}
			return m != nil, m != nil, ents
		},
	})
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no org", "auth:\n  type: token\n  token: x\n", "org is required"},
		{"bad org", "org: ../x\nauth:\n  type: token\n  token: x\n", "not a GitHub organization login"},
		{"bad auth", "org: acme\nauth:\n  type: oauth\n", "not app or token"},
		{"app without key", "org: acme\nauth:\n  type: app\n  app_id: \"1\"\n  installation_id: 2\n", "private_key"},
		{"app without installation", "org: acme\nauth:\n  type: app\n  app_id: \"1\"\n  private_key: x\n", "installation_id"},
		{"page size", "org: acme\npage_size: 500\nauth:\n  type: token\n  token: x\n", "page_size"},
		{"unknown key", "org: acme\nauth:\n  type: token\n  token: x\nsurprise: 1\n", "surprise"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.NewSettings(tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(&config.App{Name: "gh", Connector: "github", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	s, _ := config.NewSettings("org: acme\nauth:\n  type: token\n  token: x\n")
	for _, e := range []*config.Entitlement{
		{Kind: gatehouse.EntRepoRole, Resource: "r", Level: "superuser"},
		{Kind: gatehouse.EntRole, Resource: "billing_manager"},
		{Kind: gatehouse.EntGroup, Resource: "g"},
	} {
		_, err := New(&config.App{Name: "gh", Settings: s, Entitlements: map[string]*config.Entitlement{"x": e}}, connectors.Deps{Logger: zerolog.Nop()})
		if err == nil {
			t.Errorf("entitlement %+v accepted", *e)
		}
	}
}

func TestClassifyAnswer(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	base := errors.New("HTTP error")
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		class  gatehouse.ErrorClass
		wait   time.Duration
		msg    string
	}{
		{"primary 403", 403, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1700000120"), `{"message":"API rate limit exceeded"}`, gatehouse.ClassRateLimited, 120 * time.Second, "primary"},
		{"primary 429", 429, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1700000030"), `{}`, gatehouse.ClassRateLimited, 30 * time.Second, "primary"},
		{"primary reset passed", 403, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1699999000"), `{}`, gatehouse.ClassRateLimited, time.Second, "primary"},
		{"primary bogus reset", 403, h("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "9999999999"), `{}`, gatehouse.ClassRateLimited, 2 * time.Hour, "primary"},
		{"secondary retry-after", 403, h("Retry-After", "90", "X-RateLimit-Remaining", "4000"), `{"message":"You have exceeded a secondary rate limit"}`, gatehouse.ClassRateLimited, 90 * time.Second, "secondary"},
		{"secondary message only", 403, nil, `{"message":"You have exceeded a secondary rate limit."}`, gatehouse.ClassRateLimited, 60 * time.Second, "secondary"},
		{"secondary 429 bare", 429, nil, ``, gatehouse.ClassRateLimited, 60 * time.Second, "secondary"},
		{"plain forbidden", 403, h("X-RateLimit-Remaining", "4999"), `{"message":"Resource not accessible by integration"}`, gatehouse.ClassPermanent, 0, "HTTP error"},
		{"validation", 422, nil, `{"message":"Validation Failed","errors":[{"resource":"OrganizationInvite","field":"email","code":"custom","message":"Invitee has already been invited"}]}`, gatehouse.ClassPermanent, 0, "Validation Failed: Invitee has already been invited (resource OrganizationInvite, field email, code custom)"},
		{"validation string errors", 422, nil, `{"message":"Validation Failed","errors":["bad thing"]}`, gatehouse.ClassPermanent, 0, "Validation Failed: bad thing"},
		{"validation not json", 422, nil, `oops`, gatehouse.ClassPermanent, 0, "oops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyAnswer(tc.status, tc.header, []byte(tc.body), base, now)
			if got := gatehouse.Classify(err); got != tc.class {
				t.Fatalf("class %s, want %s (%v)", got, tc.class, err)
			}
			if got := gatehouse.RetryAfterOf(err); got != tc.wait {
				t.Fatalf("retry after %s, want %s", got, tc.wait)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
	// Statuses GitHub does not special-case keep httpx's classes.
	for _, st := range []int{404, 500, 502} {
		in := gatehouse.Retryable(base)
		if got := classifyAnswer(st, nil, nil, in, now); got != in {
			t.Errorf("status %d: changed the error to %v", st, got)
		}
	}
}

// The classes over the wire: 502, 404 and 422 from the fake.
func TestClassesOverTheWire(t *testing.T) {
	f := newFake(t, githubtest.Options{AutoAccept: true, AutoUsers: true})
	c := tokenConn(t, f, "")
	ctx := context.Background()
	f.Inject(githubtest.Fault{Kind: githubtest.BadGateway, Path: "/orgs/acme/memberships/"})
	if _, err := c.EnsureAccount(ctx, refFor("bob")); gatehouse.Classify(err) != gatehouse.ClassRetryable {
		t.Fatalf("502: %v (class %s), want retryable", err, gatehouse.Classify(err))
	}
	if f.Membership("bob") != nil {
		t.Fatal("a failed request changed the fake's state")
	}
	bad := gatehouse.Entitlement{Name: "nope", Kind: gatehouse.EntRepoRole, Resource: "api", Level: "superuser"}
	if _, err := c.EnsureAccount(ctx, refFor("bob")); err != nil {
		t.Fatal(err)
	}
	err := c.Grant(ctx, refFor("bob"), bad)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "permission superuser is not valid") {
		t.Fatalf("422: %v (class %s), want permanent with GitHub's errors", err, gatehouse.Classify(err))
	}
	missingTeam := gatehouse.Entitlement{Name: "ghost", Kind: gatehouse.EntTeam, Resource: "ghost"}
	if err := c.Grant(ctx, refFor("bob"), missingTeam); gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("404: %v (class %s), want not_found", err, gatehouse.Classify(err))
	}
}

func TestRateLimits(t *testing.T) {
	f := newFake(t, githubtest.Options{AutoAccept: true, AutoUsers: true})
	c := tokenConn(t, f, "")
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		fault    githubtest.Fault
		min, max time.Duration
	}{
		{"primary", githubtest.Fault{Kind: githubtest.PrimaryLimit, RetryAfter: 15 * time.Minute}, 14 * time.Minute, 15*time.Minute + time.Second},
		{"secondary with retry-after", githubtest.Fault{Kind: githubtest.SecondaryLimit, RetryAfter: 120 * time.Second}, 120 * time.Second, 120 * time.Second},
		{"secondary without retry-after", githubtest.Fault{Kind: githubtest.SecondaryLimit}, 60 * time.Second, 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			login := "rl-" + strings.ReplaceAll(tc.name, " ", "-")
			tc.fault.Path = "/orgs/acme/memberships/"
			f.Inject(tc.fault)
			_, err := c.EnsureAccount(ctx, refFor(login))
			if gatehouse.Classify(err) != gatehouse.ClassRateLimited {
				t.Fatalf("%v (class %s), want rate_limited", err, gatehouse.Classify(err))
			}
			if w := gatehouse.RetryAfterOf(err); w < tc.min || w > tc.max {
				t.Fatalf("retry after %s, want between %s and %s", w, tc.min, tc.max)
			}
			if f.Membership(login) != nil {
				t.Fatal("a rate-limited request changed the fake's state")
			}
			// Once the limit has passed the same call succeeds.
			if _, err := c.EnsureAccount(ctx, refFor(login)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	for i := range 7 {
		f.AddMember(fmt.Sprintf("m%d", i), "member")
	}
	f.AddMember("boss", "admin")
	f.AddCollaborator("api", "contractor", "pull")
	c := tokenConn(t, f, "page_size: 2\nmax_pages: 10\n")
	accts, err := c.ListAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]gatehouse.Account{}
	for _, a := range accts {
		byID[a.ID] = a
	}
	for i := range 7 {
		if a, ok := byID[fmt.Sprintf("m%d", i)]; !ok || !a.Active {
			t.Errorf("member m%d missing or inactive: %+v", i, a)
		}
	}
	if byID["boss"].Attributes["org_role"] != "admin" || len(byID["boss"].Entitlements) != 1 || byID["boss"].Entitlements[0] != "owner" {
		t.Errorf("owner listed as %+v", byID["boss"])
	}
	if byID["contractor"].Attributes["outside_collaborator"] != "true" {
		t.Errorf("outside collaborator listed as %+v", byID["contractor"])
	}
	pages := 0
	for _, r := range f.Requests() {
		if r.Path == "/orgs/acme/members" && r.Query.Get("role") == "" {
			pages++
			if r.Query.Get("per_page") != "2" {
				t.Errorf("page asked per_page=%q", r.Query.Get("per_page"))
			}
		}
	}
	if pages != 4 {
		t.Errorf("read %d pages of 8 members at 2 per page, want 4", pages)
	}
	small := tokenConn(t, f, "page_size: 2\nmax_pages: 2\n")
	if _, err := small.ListAccounts(context.Background()); gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "max_pages") {
		t.Errorf("listing beyond max_pages: %v", err)
	}
}

func TestInvitationFlow(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	c := tokenConn(t, f, "")
	ctx := context.Background()
	ref := gatehouse.AccountRef{IdentityKey: "E1", Email: "new.hire@example.com", Name: "New Hire"}
	for i := range 3 {
		_, err := c.EnsureAccount(ctx, ref)
		if gatehouse.Classify(err) != gatehouse.ClassInProgress || !strings.Contains(err.Error(), "waiting for the invitee") {
			t.Fatalf("EnsureAccount #%d before acceptance: %v (class %s), want in_progress", i+1, err, gatehouse.Classify(err))
		}
		if gatehouse.RetryAfterOf(err) <= 0 {
			t.Fatal("in-progress answer without a wait")
		}
	}
	if n := f.InvitationsSent(); n != 1 {
		t.Fatalf("%d invitations sent, want 1", n)
	}
	if inv := f.Invitations(); len(inv) != 1 || inv[0].Role != "direct_member" || inv[0].Email != ref.Email {
		t.Fatalf("invitations %+v", inv)
	}
	// Grants wait for the invitee too; revokes of an invitee are done.
	if err := c.Grant(ctx, ref, entTeam); gatehouse.Classify(err) != gatehouse.ClassInProgress {
		t.Fatalf("Grant before acceptance: %v, want in_progress", err)
	}
	if err := c.Revoke(ctx, ref, entTeam); err != nil {
		t.Fatalf("Revoke before acceptance: %v", err)
	}
	if a, err := c.ReadAccount(ctx, ref); err != nil || a.Active || !strings.HasPrefix(a.ID, "invitation:") || len(a.Entitlements) != 0 {
		t.Fatalf("ReadAccount of an invitee: %+v %v", a, err)
	}
	if !f.Accept(ref.Email, "newhire", true) {
		t.Fatal("no invitation to accept")
	}
	a, err := c.EnsureAccount(ctx, ref)
	if err != nil || a.ID != "newhire" || !a.Active {
		t.Fatalf("EnsureAccount after acceptance: %+v, %v", a, err)
	}
	if n := f.InvitationsSent(); n != 1 {
		t.Fatalf("%d invitations sent, want 1", n)
	}
	if err := c.Grant(ctx, ref, entTeam); err != nil {
		t.Fatal(err)
	}
	if f.Teams("newhire")["backend"] != "member" {
		t.Fatalf("teams %v", f.Teams("newhire"))
	}

	// An invitee with a private email cannot be found by email: GitHub
	// refuses the second invitation and the error says what to set.
	ref2 := gatehouse.AccountRef{IdentityKey: "E2", Email: "private@example.com"}
	if _, err := c.EnsureAccount(ctx, ref2); gatehouse.Classify(err) != gatehouse.ClassInProgress {
		t.Fatal(err)
	}
	f.Accept(ref2.Email, "quiet", false)
	_, err = c.EnsureAccount(ctx, ref2)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "already a part of this organization") {
		t.Fatalf("private-email invitee: %v (class %s)", err, gatehouse.Classify(err))
	}
	ref2.Attributes = map[string]string{DefaultLoginAttribute: "quiet"}
	if a, err := c.EnsureAccount(ctx, ref2); err != nil || a.ID != "quiet" {
		t.Fatalf("with github_login: %+v %v", a, err)
	}

	// Delete of someone still invited cancels the invitation.
	ref3 := gatehouse.AccountRef{IdentityKey: "E3", Email: "changed.mind@example.com"}
	_, _ = c.EnsureAccount(ctx, ref3)
	if err := c.Delete(ctx, ref3); err != nil {
		t.Fatal(err)
	}
	for _, inv := range f.Invitations() {
		if inv.Email == ref3.Email {
			t.Fatal("invitation not cancelled by Delete")
		}
	}
}

func TestPendingMembershipByLogin(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	f.AddUser("pat", "")
	c := tokenConn(t, f, "")
	ctx := context.Background()
	a, err := c.EnsureAccount(ctx, refFor("pat"))
	if err != nil || a.Attributes["membership_state"] != "pending" || !a.Active {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := c.EnsureAccount(ctx, refFor("pat")); err != nil {
		t.Fatal(err)
	}
	if n := f.InvitationsSent(); n != 1 {
		t.Fatalf("%d invitations for a pending membership ensured twice, want 1", n)
	}
	accts, err := c.ListAccounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].ID != "pat" || accts[0].Attributes["membership_state"] != "pending" {
		t.Fatalf("ListAccounts %+v %v", accts, err)
	}
	if err := c.Delete(ctx, refFor("pat")); err != nil {
		t.Fatal(err)
	}
	if len(f.Invitations()) != 0 || f.Membership("pat") != nil {
		t.Fatal("pending membership left after Delete")
	}
}

func TestOwnerRoleAndOutsideCollaborators(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	f.AddMember("lee", "member")
	f.AddCollaborator("api", "lee", "admin")
	c := tokenConn(t, f, "")
	ctx := context.Background()
	for range 2 {
		if err := c.Grant(ctx, refFor("lee"), entOwn); err != nil {
			t.Fatal(err)
		}
	}
	if f.Membership("lee").Role != "admin" {
		t.Fatal("owner role not granted")
	}
	a, err := c.ReadAccount(ctx, refFor("lee"))
	if err != nil || !strings.Contains(strings.Join(a.Entitlements, ","), "owner") || !strings.Contains(strings.Join(a.Entitlements, ","), "api-write") {
		t.Fatalf("ReadAccount %+v %v", a, err)
	}
	for range 2 {
		if err := c.Revoke(ctx, refFor("lee"), entOwn); err != nil {
			t.Fatal(err)
		}
	}
	if m := f.Membership("lee"); m == nil || m.Role != "member" {
		t.Fatalf("owner revoke left %+v", m)
	}
	// Leaving: the membership goes, and the direct repository role that
	// would survive it as an outside collaborator goes too.
	if err := c.Delete(ctx, refFor("lee")); err != nil {
		t.Fatal(err)
	}
	if f.Membership("lee") != nil || len(f.Collaborations("lee")) != 0 {
		t.Fatalf("after Delete: membership %+v, repos %v", f.Membership("lee"), f.Collaborations("lee"))
	}
	var order []string
	for _, r := range f.Requests() {
		if r.Method == http.MethodDelete {
			order = append(order, r.Path)
		}
	}
	if strings.Join(order, " ") != "/orgs/acme/memberships/lee /orgs/acme/outside_collaborators/lee" {
		t.Fatalf("delete order %v", order)
	}
	if _, err := c.ReadAccount(ctx, refFor("lee")); gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("ReadAccount after Delete: %v", err)
	}
	// An outside collaborator who never was a member is still read, inactive.
	f.AddCollaborator("api", "vendor", "push")
	a, err = c.ReadAccount(ctx, refFor("vendor"))
	if err != nil || a.Active || len(a.Entitlements) != 1 || a.Entitlements[0] != "api-write" {
		t.Fatalf("outside collaborator read %+v %v", a, err)
	}
}

func TestRevokeSessions(t *testing.T) {
	ctx := context.Background()
	t.Run("saml", func(t *testing.T) {
		f := newFake(t, githubtest.Options{SAML: true})
		f.AddMember("sam", "member")
		f.AddMember("other", "member")
		f.AddCredential("sam", "personal access token")
		f.AddCredential("sam", "SSH key")
		f.AddCredential("other", "SSH key")
		c := tokenConn(t, f, "page_size: 1\n")
		for range 2 {
			if err := c.RevokeSessions(ctx, refFor("sam")); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(f.Credentials("sam")); n != 0 {
			t.Fatalf("%d credential authorizations left", n)
		}
		if n := len(f.Credentials("other")); n != 1 {
			t.Fatalf("another member's credentials were revoked (%d left)", n)
		}
	})
	t.Run("no saml", func(t *testing.T) {
		f := newFake(t, githubtest.Options{})
		f.AddMember("sam", "member")
		c := tokenConn(t, f, "")
		if err := c.RevokeSessions(ctx, refFor("sam")); err != nil {
			t.Fatal(err)
		}
		reqs := f.Requests()
		if last := reqs[len(reqs)-1]; last.Path != "/orgs/acme/credential-authorizations" {
			t.Fatalf("last request %s, want the credential-authorizations read", last.Path)
		}
	})
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, scopes, want string
	}{
		{"classic complete", "admin:org, repo, user", ""},
		{"classic missing admin:org", "repo", "admin:org (scope)"},
		{"classic missing repo", "admin:org", "repo (scope)"},
		{"fine-grained", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, githubtest.Options{Scopes: tc.scopes})
			err := tokenConn(t, f, "").Check(ctx)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check: %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("app missing members write", func(t *testing.T) {
		f, y, _ := appFake(t, map[string]string{"members": "read", "administration": "write"}, false)
		err := newConn(t, y, connectors.Deps{Logger: zerolog.Nop()}).Check(ctx)
		if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "members: write") {
			t.Fatalf("Check: %v", err)
		}
		_ = f
	})
	t.Run("wrong org", func(t *testing.T) {
		f := newFake(t, githubtest.Options{})
		c := newConn(t, strings.Replace(f.SettingsYAML(), "org: acme", "org: other", 1), connectors.Deps{Logger: zerolog.Nop()})
		if err := c.Check(ctx); gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("Check: %v", err)
		}
	})
}

// appFake starts a fake with GitHub App auth and returns settings YAML.
func appFake(t *testing.T, perms map[string]string, debug bool) (*githubtest.Server, string, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	f := newFake(t, githubtest.Options{AppID: "12345", InstallationID: 678, AppKey: &key.PublicKey, Permissions: perms, Token: "unused-" + t.Name()})
	t.Setenv("GH_TEST_APP_KEY", pemText)
	y := fmt.Sprintf("org: acme\napi_url: %s\nauth:\n  type: app\n  app_id: \"12345\"\n  installation_id: 678\n  private_key: ${GH_TEST_APP_KEY}\n", f.URL)
	return f, y, pemText
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAppAuthTokenCache(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	clk := &clock{t: time.Now()}
	f := newFake(t, githubtest.Options{AppID: "12345", InstallationID: 678, AppKey: &key.PublicKey, TokenTTL: 10 * time.Minute, Now: clk.now, AutoAccept: true, AutoUsers: true})
	t.Setenv("GH_TEST_APP_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	y := fmt.Sprintf("org: acme\napi_url: %s\nauth:\n  type: app\n  app_id: \"12345\"\n  installation_id: 678\n  private_key: ${GH_TEST_APP_KEY}\n", f.URL)
	c := newConn(t, y, connectors.Deps{Logger: zerolog.Nop(), Now: clk.now})
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.EnsureAccount(ctx, refFor(fmt.Sprintf("app%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.TokenExchanges(); n != 1 {
		t.Fatalf("%d token exchanges for 3 operations, want 1 (cached)", n)
	}
	clk.add(4 * time.Minute) // 6 minutes left: still used
	if _, err := c.ListAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.TokenExchanges(); n != 1 {
		t.Fatalf("%d exchanges, want the cached token still used", n)
	}
	clk.add(2 * time.Minute) // 4 minutes left: inside the 5-minute margin
	if _, err := c.ListAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.TokenExchanges(); n != 2 {
		t.Fatalf("%d exchanges, want a renewal 5 minutes before expiry", n)
	}

	// A key GitHub does not know fails permanently at the exchange.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	t.Setenv("GH_TEST_APP_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(other))})))
	bad := newConn(t, y, connectors.Deps{Logger: zerolog.Nop(), Now: clk.now})
	if _, err := bad.ListAccounts(ctx); gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "installation token") {
		t.Fatalf("wrong key: %v (class %s)", err, gatehouse.Classify(err))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSecretsRedacted(t *testing.T) {
	f, y, pemText := appFake(t, nil, true)
	f.AddMember("red", "member")
	c := newConn(t, y, connectors.Deps{Logger: zerolog.Nop(), Debug: true})
	ctx := context.Background()
	if _, err := c.ListAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c.Grant(ctx, refFor("red"), gatehouse.Entitlement{Name: "x", Kind: gatehouse.EntRepoRole, Resource: "api", Level: "bogus"})
	rec := fmt.Sprintf("%+v", c.Recording())
	if len(c.Recording()) < 3 {
		t.Fatalf("recording has %d exchanges", len(c.Recording()))
	}
	keyLine := strings.Split(pemText, "\n")[1]
	for _, secret := range []string{keyLine, "ghs_", "eyJ"} {
		if strings.Contains(rec, secret) {
			t.Errorf("recording contains %q", secret)
		}
	}
	if !strings.Contains(rec, "[redacted]") {
		t.Error("recording shows no redaction at all")
	}
	s, _ := config.NewSettings(y)
	if strings.Contains(fmt.Sprintf("%+v %#v", c.s, s), keyLine) {
		t.Error("settings print the private key")
	}

	tf := newFake(t, githubtest.Options{})
	tc := tokenConn(t, tf, "")
	_, _ = tc.ListAccounts(ctx)
	if strings.Contains(fmt.Sprintf("%+v", tc.Recording()), testToken) {
		t.Error("recording contains the personal access token")
	}
}

func TestCopilotLastActivity(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	f.AddMember("cop", "member")
	f.AddMember("idle", "member")
	when := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	f.SetLastActivity("cop", when)
	accts, err := tokenConn(t, f, "copilot_activity: true\n").ListAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		switch a.ID {
		case "cop":
			if !a.LastActivity.Equal(when) {
				t.Errorf("cop last activity %s, want %s", a.LastActivity, when)
			}
		case "idle":
			if !a.LastActivity.IsZero() {
				t.Errorf("idle last activity %s", a.LastActivity)
			}
		}
	}
}

// Team levels that describe the team's repository access (as
// config.example.yaml writes them) add a plain member; maintainer a maintainer.
func TestTeamLevels(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	f.AddMember("tl", "member")
	f.AddTeam("leads")
	c := tokenConn(t, f, "")
	ctx := context.Background()
	if err := c.Grant(ctx, refFor("tl"), gatehouse.Entitlement{Name: "w", Kind: gatehouse.EntTeam, Resource: "backend", Level: "write"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx, refFor("tl"), gatehouse.Entitlement{Name: "l", Kind: gatehouse.EntTeam, Resource: "leads", Level: "maintainer"}); err != nil {
		t.Fatal(err)
	}
	if got := f.Teams("tl"); got["backend"] != "member" || got["leads"] != "maintainer" {
		t.Fatalf("teams %v", got)
	}
}

func TestHostileLogins(t *testing.T) {
	f := newFake(t, githubtest.Options{})
	c := tokenConn(t, f, "")
	for _, l := range []string{"../../admin", "a/b", "-lead", strings.Repeat("x", 40), "a b"} {
		ref := gatehouse.AccountRef{Email: "h@example.com", Attributes: map[string]string{DefaultLoginAttribute: l}}
		if _, err := c.EnsureAccount(context.Background(), ref); gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Errorf("login %q: %v, want permanent", l, err)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("hostile logins reached the server (%d requests)", n)
	}
}

func TestSlowServerIsRetryable(t *testing.T) {
	f := newFake(t, githubtest.Options{Latency: 500 * time.Millisecond})
	c := tokenConn(t, f, "timeout: 100ms\n")
	_, err := c.ListAccounts(context.Background())
	if gatehouse.Classify(err) != gatehouse.ClassRetryable {
		t.Fatalf("timeout: %v (class %s), want retryable", err, gatehouse.Classify(err))
	}
}
