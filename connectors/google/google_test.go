package google

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/google/googletest"
)

var (
	entEng = gatehouse.Entitlement{App: "google", Name: "engineering", Kind: gatehouse.EntGroup, Resource: "eng@example.com"}
	entOps = gatehouse.Entitlement{App: "google", Name: "ops", Kind: gatehouse.EntGroup, Resource: "ops@example.com"}
)

func fake(t *testing.T, opts googletest.Options) *googletest.Server {
	t.Helper()
	f := googletest.New(t, opts)
	f.AddGroup(entEng.Resource)
	f.AddGroup(entOps.Resource)
	return f
}

type build struct {
	extra string
	del   bool
	debug bool
}

func connect(t *testing.T, f *googletest.Server, b build) *Connector {
	t.Helper()
	app := f.App("google", b.extra, map[string]*config.Entitlement{
		"engineering": {Kind: gatehouse.EntGroup, Resource: entEng.Resource},
		"ops":         {Kind: gatehouse.EntGroup, Resource: entOps.Resource},
	})
	app.Delete = b.del
	c, err := New(app, connectors.Deps{Debug: b.debug})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c.(*Connector)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestContract(t *testing.T) {
	f := fake(t, googletest.Options{PageSize: 3})
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return connect(t, f, build{del: true}) },
		Entitlements: []gatehouse.Entitlement{entEng, entOps},
		Inspect: func(t *testing.T, _ gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
			u, ok := f.User(ref.AccountID)
			if !ok {
				u, ok = f.User(ref.Email)
			}
			if !ok {
				return false, false, nil
			}
			return true, !u.Suspended, f.GroupsOf(u.PrimaryEmail)
		},
	})
	if v := f.Violations(); len(v) > 0 {
		t.Errorf("%d discovery violations", len(v))
	}
}

func TestNewUserFields(t *testing.T) {
	f := fake(t, googletest.Options{})
	c := connect(t, f, build{extra: "org_unit_path: /Staff\n"})
	ref := gatehouse.AccountRef{Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", Title: "Engineer", Department: "R&D", Manager: "boss@example.com"}
	a, err := c.EnsureAccount(ctx(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := f.User("ada@example.com")
	if !ok || u.ID != a.ID {
		t.Fatalf("fake has %+v (ok %v), connector returned id %q", u, ok, a.ID)
	}
	if u.OrgUnitPath != "/Staff" || !u.ChangePasswordAtNextLogin || len(u.Password) < 20 || u.GivenName != "Ada" || u.FamilyName != "Lovelace" {
		t.Errorf("new user %+v: want org unit /Staff, a long random password to change at next login, the names", u)
	}
	b, err := c.EnsureAccount(ctx(t), gatehouse.AccountRef{Email: "bob@example.com", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	if ub, _ := f.User(b.ID); ub.Password == u.Password {
		t.Errorf("two users got the same password")
	}
}

func TestEnsureUnsuspends(t *testing.T) {
	f := fake(t, googletest.Options{})
	u := f.AddUser(googletest.User{PrimaryEmail: "sus@example.com", GivenName: "Sus", FamilyName: "Pended", Suspended: true})
	c := connect(t, f, build{})
	a, err := c.EnsureAccount(ctx(t), gatehouse.AccountRef{Email: "SUS@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != u.ID || !a.Active {
		t.Errorf("EnsureAccount = %+v, want id %s active", a, u.ID)
	}
	if got, _ := f.User(u.ID); got.Suspended {
		t.Errorf("fake user still suspended")
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		fault     googletest.Fault
		class     gatehouse.ErrorClass
		wantAfter time.Duration
	}{
		{"429 with Retry-After", googletest.Fault{Status: 429, RetryAfter: "7"}, gatehouse.ClassRateLimited, 7 * time.Second},
		{"429 without Retry-After", googletest.Fault{Status: 429}, gatehouse.ClassRateLimited, defaultBackoff},
		{"403 rateLimitExceeded", googletest.Fault{Status: 403, Reason: "rateLimitExceeded"}, gatehouse.ClassRateLimited, defaultBackoff},
		{"403 userRateLimitExceeded", googletest.Fault{Status: 403, Reason: "userRateLimitExceeded", RetryAfter: "3"}, gatehouse.ClassRateLimited, 3 * time.Second},
		{"403 insufficientPermissions", googletest.Fault{Status: 403, Reason: "insufficientPermissions"}, gatehouse.ClassPermanent, 0},
		{"403 forbidden", googletest.Fault{Status: 403, Reason: "forbidden"}, gatehouse.ClassPermanent, 0},
		{"500 backendError", googletest.Fault{Status: 500}, gatehouse.ClassRetryable, 0},
		{"503", googletest.Fault{Status: 503, Reason: "backendError"}, gatehouse.ClassRetryable, 0},
		{"400 invalid", googletest.Fault{Status: 400, Reason: "invalid"}, gatehouse.ClassPermanent, 0},
		{"404 notFound", googletest.Fault{Status: 404, Reason: "notFound"}, gatehouse.ClassNotFound, 0},
	}
	f := fake(t, googletest.Options{})
	u := f.AddUser(googletest.User{PrimaryEmail: "err@example.com", GivenName: "E", FamilyName: "R"})
	c := connect(t, f, build{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fault.Method, tc.fault.Path = "PATCH", "/users/"
			f.Inject(tc.fault)
			err := c.Disable(ctx(t), gatehouse.AccountRef{AccountID: u.ID})
			if got := gatehouse.Classify(err); got != tc.class {
				t.Fatalf("class %s (%v), want %s", got, err, tc.class)
			}
			if got := gatehouse.RetryAfterOf(err); got != tc.wantAfter {
				t.Errorf("retry after %s, want %s", got, tc.wantAfter)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.fault.Status {
				t.Errorf("error %v does not carry the Google status %d", err, tc.fault.Status)
			}
		})
	}
	// The fault is gone: the same call now works.
	if err := c.Disable(ctx(t), gatehouse.AccountRef{AccountID: u.ID}); err != nil {
		t.Fatalf("Disable after the faults: %v", err)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault googletest.Fault
		class gatehouse.ErrorClass
	}{
		{"429", googletest.Fault{Status: 429, RetryAfter: "2"}, gatehouse.ClassRateLimited},
		{"503", googletest.Fault{Status: 503}, gatehouse.ClassRetryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(t, googletest.Options{})
			c := connect(t, f, build{})
			tc.fault.Path = "/token"
			f.Inject(tc.fault)
			_, err := c.ListAccounts(ctx(t))
			if got := gatehouse.Classify(err); got != tc.class {
				t.Fatalf("class %s (%v), want %s", got, err, tc.class)
			}
		})
	}
	t.Run("subject not an admin", func(t *testing.T) {
		f := fake(t, googletest.Options{Subject: "someone-else@example.com"})
		c := connect(t, f, build{})
		// The settings name the fake's subject; point at another one.
		c.tokens.subject = "intruder@example.com"
		_, err := c.ListAccounts(ctx(t))
		if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("got %v (class %s), want a permanent invalid_grant", err, gatehouse.Classify(err))
		}
	})
}

func TestTokenCachedAndRenewed(t *testing.T) {
	f := fake(t, googletest.Options{})
	c := connect(t, f, build{})
	for range 3 {
		if _, err := c.ListAccounts(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for three listings, want 1 (cached)", n)
	}
	// An expired cache entry is renewed.
	c.tokens.mu.Lock()
	for k, v := range c.tokens.cache {
		v.exp = time.Now().Add(-time.Second)
		c.tokens.cache[k] = v
	}
	c.tokens.mu.Unlock()
	if _, err := c.ListAccounts(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests after expiry, want 2", n)
	}
}

func TestListAccountsPagingAndLastLogin(t *testing.T) {
	f := fake(t, googletest.Options{PageSize: 2})
	login := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := range 7 {
		u := googletest.User{PrimaryEmail: fmt.Sprintf("u%d@example.com", i), GivenName: "U", FamilyName: fmt.Sprint(i)}
		if i%2 == 0 {
			u.LastLoginTime = login.Add(time.Duration(i) * time.Hour)
		}
		f.AddUser(u)
	}
	c := connect(t, f, build{})
	accts, err := c.ListAccounts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 7 {
		t.Fatalf("%d accounts, want 7", len(accts))
	}
	pages := 0
	for _, r := range f.Requests() {
		if r.Method == "GET" && r.Path == "/admin/directory/v1/users" {
			pages++
			if r.Query.Get("domain") != "example.com" && r.Query.Get("customer") == "" {
				t.Errorf("users.list without customer or domain: %v", r.Query)
			}
		}
	}
	if pages < 4 {
		t.Errorf("%d list pages, want 4 (7 users, 2 per page)", pages)
	}
	for i, a := range accts {
		want := time.Time{}
		if i%2 == 0 {
			want = login.Add(time.Duration(i) * time.Hour)
		}
		if a.Email != fmt.Sprintf("u%d@example.com", i) || !a.LastActivity.Equal(want) {
			t.Errorf("account %d: %s last activity %v, want %v (epoch means never)", i, a.Email, a.LastActivity, want)
		}
	}
}

func TestReadAccountAttributes(t *testing.T) {
	f := fake(t, googletest.Options{PageSize: 1})
	f.AddGroup("all@example.com")
	c := connect(t, f, build{})
	ref := gatehouse.AccountRef{Email: "attr@example.com", GivenName: "At", FamilyName: "Tr", Title: "CTO", Department: "Tech", Manager: "ceo@example.com"}
	a, err := c.EnsureAccount(ctx(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	ref.AccountID = a.ID
	for _, e := range []gatehouse.Entitlement{entEng, {Name: "all", Kind: gatehouse.EntGroup, Resource: "all@example.com"}} {
		if err := c.Grant(ctx(t), ref, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.ReadAccount(ctx(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"orgUnitPath": "/", "title": "CTO", "department": "Tech", "manager": "ceo@example.com"}
	for k, v := range want {
		if got.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q (all %v)", k, got.Attributes[k], v, got.Attributes)
		}
	}
	// Configured groups map back to entitlement names; others show as emails.
	if strings.Join(got.Entitlements, ",") != "all@example.com,engineering" {
		t.Errorf("entitlements %v, want [all@example.com engineering]", got.Entitlements)
	}
}

func TestRevokeSessionsClearsEverything(t *testing.T) {
	f := fake(t, googletest.Options{})
	u := f.AddUser(googletest.User{PrimaryEmail: "leaver@example.com", GivenName: "L", FamilyName: "V", Sessions: 3,
		Tokens:      []googletest.Token{{ClientID: "1234.apps.googleusercontent.com", DisplayText: "Slack"}, {ClientID: "5678.apps.googleusercontent.com", DisplayText: "Zoom"}},
		ASPs:        []googletest.ASP{{CodeID: 11, Name: "mail"}, {CodeID: 12, Name: "caldav"}},
		BackupCodes: []string{"11112222", "33334444"}})
	other := f.AddUser(googletest.User{PrimaryEmail: "stays@example.com", GivenName: "S", FamilyName: "T", Sessions: 1,
		Tokens: []googletest.Token{{ClientID: "1234.apps.googleusercontent.com"}}, BackupCodes: []string{"55556666"}})
	c := connect(t, f, build{})
	for i := range 2 {
		if err := c.RevokeSessions(ctx(t), gatehouse.AccountRef{Email: u.PrimaryEmail}); err != nil {
			t.Fatalf("RevokeSessions #%d: %v", i+1, err)
		}
	}
	got, _ := f.User(u.ID)
	if got.Sessions != 0 || got.SignOuts != 2 || len(got.Tokens) != 0 || len(got.ASPs) != 0 || len(got.BackupCodes) != 0 {
		t.Errorf("after RevokeSessions: sessions %d, sign-outs %d, tokens %v, asps %v, backup codes %v; want all gone",
			got.Sessions, got.SignOuts, got.Tokens, got.ASPs, got.BackupCodes)
	}
	if o, _ := f.User(other.ID); o.Sessions != 1 || len(o.Tokens) != 1 || len(o.BackupCodes) != 1 {
		t.Errorf("another user was touched: %+v", o)
	}
	// Sign-out comes first, so no session outlives the token revocations.
	var order []string
	for _, r := range f.Requests() {
		if strings.Contains(r.Path, "/users/"+u.ID+"/") {
			order = append(order, r.Method+" "+strings.TrimPrefix(r.Path, "/admin/directory/v1/users/"+u.ID+"/"))
		}
	}
	wantPrefix := []string{"POST signOut", "GET tokens", "DELETE tokens/1234.apps.googleusercontent.com", "DELETE tokens/5678.apps.googleusercontent.com",
		"GET asps", "DELETE asps/11", "DELETE asps/12", "POST verificationCodes/invalidate"}
	if len(order) < len(wantPrefix) || strings.Join(order[:len(wantPrefix)], "|") != strings.Join(wantPrefix, "|") {
		t.Errorf("wire order %v, want it to start with %v", order, wantPrefix)
	}
}

func TestTransferPolledToCompletionAndResumed(t *testing.T) {
	f := fake(t, googletest.Options{TransferPolls: 2})
	from := f.AddUser(googletest.User{PrimaryEmail: "from@example.com", GivenName: "F", FamilyName: "R"})
	to := f.AddUser(googletest.User{PrimaryEmail: "to@example.com", GivenName: "T", FamilyName: "O"})
	c := connect(t, f, build{extra: "transfer_poll: 45s\n"})
	fromRef, toRef := gatehouse.AccountRef{Email: from.PrimaryEmail}, gatehouse.AccountRef{Email: to.PrimaryEmail}

	err := c.TransferOwnership(ctx(t), fromRef, toRef)
	if gatehouse.Classify(err) != gatehouse.ClassInProgress || gatehouse.RetryAfterOf(err) != 45*time.Second {
		t.Fatalf("first call: %v (class %s, after %s), want in progress after 45s", err, gatehouse.Classify(err), gatehouse.RetryAfterOf(err))
	}
	ts := f.Transfers()
	if len(ts) != 1 || ts[0].OldOwner != from.ID || ts[0].NewOwner != to.ID {
		t.Fatalf("transfers %+v, want one from %s to %s", ts, from.ID, to.ID)
	}
	params := map[string]string{}
	for _, a := range ts[0].Apps {
		for k, v := range a.Params {
			params[a.ApplicationID+"/"+k] = strings.Join(v, ",")
		}
	}
	if params[googletest.DriveAppID+"/PRIVACY_LEVEL"] != "SHARED,PRIVATE" || params[googletest.CalendarAppID+"/RELEASE_RESOURCES"] != "TRUE" {
		t.Errorf("transfer params %v", params)
	}

	// A restart: a new connector with no memory finds the running transfer.
	c2 := connect(t, f, build{})
	err = c2.TransferOwnership(ctx(t), fromRef, toRef)
	if gatehouse.Classify(err) != gatehouse.ClassInProgress {
		t.Fatalf("after restart: %v, want still in progress", err)
	}
	if err := c2.TransferOwnership(ctx(t), fromRef, toRef); err != nil {
		t.Fatalf("third call: %v, want completed", err)
	}
	if err := c2.TransferOwnership(ctx(t), fromRef, toRef); err != nil {
		t.Fatalf("after completion: %v", err)
	}
	if n := len(f.Transfers()); n != 1 {
		t.Fatalf("%d transfers created, want 1", n)
	}
}

func TestTransferFailures(t *testing.T) {
	f := fake(t, googletest.Options{TransferPolls: 5})
	from := f.AddUser(googletest.User{PrimaryEmail: "gone@example.com", GivenName: "G", FamilyName: "O"})
	f.AddUser(googletest.User{PrimaryEmail: "suspended@example.com", GivenName: "S", FamilyName: "U", Suspended: true})
	f.AddUser(googletest.User{PrimaryEmail: "mgr@example.com", GivenName: "M", FamilyName: "G"})
	c := connect(t, f, build{})
	fromRef := gatehouse.AccountRef{Email: from.PrimaryEmail}

	for _, to := range []string{"nobody@example.com", "suspended@example.com"} {
		err := c.TransferOwnership(ctx(t), fromRef, gatehouse.AccountRef{Email: to})
		if !errors.Is(err, gatehouse.ErrNoTransferTarget) || gatehouse.Classify(err) != gatehouse.ClassPermanent {
			t.Errorf("receiver %s: %v (class %s), want permanent ErrNoTransferTarget", to, err, gatehouse.Classify(err))
		}
	}
	err := c.TransferOwnership(ctx(t), gatehouse.AccountRef{Email: "never@example.com"}, gatehouse.AccountRef{Email: "mgr@example.com"})
	if gatehouse.Classify(err) != gatehouse.ClassNotFound || errors.Is(err, gatehouse.ErrNoTransferTarget) {
		t.Errorf("missing giver: %v (class %s), want not found", err, gatehouse.Classify(err))
	}
	err = c.TransferOwnership(ctx(t), fromRef, gatehouse.AccountRef{Email: "mgr@example.com"})
	if gatehouse.Classify(err) != gatehouse.ClassInProgress {
		t.Fatalf("start: %v", err)
	}
	f.FailTransfers()
	err = c.TransferOwnership(ctx(t), fromRef, gatehouse.AccountRef{Email: "mgr@example.com"})
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("failed transfer: %v (class %s), want permanent", err, gatehouse.Classify(err))
	}
	if n := len(f.Transfers()); n != 1 {
		t.Errorf("%d transfers, want 1 (a failed one is reported, not restarted)", n)
	}
}

func TestCheckNamesMissingScopes(t *testing.T) {
	f := fake(t, googletest.Options{})
	c := connect(t, f, build{})
	if err := c.Check(ctx(t)); err != nil {
		t.Fatalf("Check with every scope delegated: %v", err)
	}
	f.Delegate(ScopeUser, ScopeGroupMember, ScopeGroupRead)
	c = connect(t, f, build{})
	err := c.Check(ctx(t))
	if gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("Check: %v (class %s), want permanent", err, gatehouse.Classify(err))
	}
	msg := err.Error()
	for _, sc := range []string{ScopeUserSecurity, ScopeDataTransfer} {
		if !strings.Contains(msg, sc) {
			t.Errorf("Check error %q does not name %s", msg, sc)
		}
	}
	if strings.Contains(msg, ScopeGroupMember+",") || strings.Contains(msg, ScopeUser+",") {
		t.Errorf("Check error %q names a delegated scope", msg)
	}
	var _ connectors.Checker = c
	// Operations without a delegated scope fail permanently, naming the token error.
	if err := c.RevokeSessions(ctx(t), gatehouse.AccountRef{Email: "x@example.com"}); gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Errorf("RevokeSessions without delegation: %v (class %s)", err, gatehouse.Classify(err))
	}
}

func TestInsufficientScopeFromAPI(t *testing.T) {
	f := fake(t, googletest.Options{})
	c := connect(t, f, build{})
	// A token for the user scope only cannot sign users out.
	err := c.callScopes(ctx(t), []string{ScopeUser}, "POST", dirPath+"users/nobody@example.com/signOut", nil, nil, nil)
	var ae *APIError
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !errors.As(err, &ae) || !ae.HasReason("insufficientPermissions") {
		t.Fatalf("got %v (class %s), want permanent insufficientPermissions", err, gatehouse.Classify(err))
	}
}

func TestSecretsRedacted(t *testing.T) {
	f := fake(t, googletest.Options{})
	u := f.AddUser(googletest.User{PrimaryEmail: "rec@example.com", GivenName: "R", FamilyName: "C"})
	c := connect(t, f, build{debug: true})
	if _, err := c.EnsureAccount(ctx(t), gatehouse.AccountRef{Email: "new@example.com", GivenName: "N", FamilyName: "W"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeSessions(ctx(t), gatehouse.AccountRef{AccountID: u.ID}); err != nil {
		t.Fatal(err)
	}
	nu, _ := f.User("new@example.com")
	tok, err := c.tokens.token(ctx(t), Scopes)
	if err != nil {
		t.Fatal(err)
	}
	keyLine := strings.Split(f.PrivateKeyPEM(), "\n")[1]
	rec := c.Recording()
	if len(rec) == 0 {
		t.Fatal("nothing recorded in debug mode")
	}
	for _, ex := range rec {
		dump := fmt.Sprintf("%+v", ex)
		for what, secret := range map[string]string{"access token": tok, "private key": keyLine, "password": nu.Password} {
			if secret != "" && strings.Contains(dump, secret) {
				t.Errorf("recorded exchange %s %s leaks the %s", ex.Method, ex.URL, what)
			}
		}
		if strings.HasSuffix(ex.URL, "/token") {
			t.Errorf("the token exchange (with its signed assertion) was recorded: %s", ex.URL)
		}
	}
	// Settings errors never quote the key.
	bad := strings.Replace(string(f.ServiceAccountJSON()), `"type": "service_account"`, `"type": "user"`, 1)
	st, _ := config.NewSettings("credentials: '" + strings.ReplaceAll(bad, "'", "''") + "'\nsubject: admin@example.com\n")
	_, err = New(&config.App{Name: "g", Connector: "google", Settings: st}, connectors.Deps{})
	if err == nil || strings.Contains(err.Error(), keyLine) || !strings.Contains(err.Error(), "service_account") {
		t.Errorf("bad key type: %v", err)
	}
	if s := fmt.Sprintf("%v %+v", c.s, c.s); strings.Contains(s, keyLine) {
		t.Errorf("settings print the key")
	}
}

// TestDocExample builds the connector from the configuration in the package
// doc (with the fake's key in place of the documented path).
func TestDocExample(t *testing.T) {
	f := fake(t, googletest.Options{})
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(keyFile, f.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(conntest.DocExample(t, "."), "/etc/gatehouse/google-sa.json", keyFile)
	cfg := conntest.LoadDocExample(t, text)
	app := cfg.Apps["google"]
	if app == nil {
		t.Fatal("no google app in the package doc example")
	}
	c, err := New(app, connectors.Deps{})
	if err != nil {
		t.Fatalf("package doc example: %v", err)
	}
	gc := c.(*Connector)
	if gc.s.OrgUnitPath != "/Staff" || gc.groupEmail(gatehouse.Entitlement{Resource: "all-staff"}) != "all-staff@example.com" {
		t.Errorf("settings not as documented: %+v", gc.s)
	}
	if _, ok := gc.entByGroup["all-staff@example.com"]; !ok {
		t.Errorf("entitlement all-staff not mapped to its group: %v", gc.entByGroup)
	}
}

func TestSettingsErrors(t *testing.T) {
	f := fake(t, googletest.Options{})
	good := f.SettingsYAML()
	tests := []struct {
		name, yaml, want string
	}{
		{"no credentials", "subject: a@example.com\n", "credentials"},
		{"no subject", strings.Replace(good, "subject:", "x_subject_gone:", 1), "subject"},
		{"bad base url", strings.Replace(good, "base_url: http", "base_url: ftp", 1), "base_url"},
		{"page size", good + "page_size: 900\n", "page_size"},
		{"org unit", good + "org_unit_path: Staff\n", "org_unit_path"},
		{"not json", "credentials: not-json\nsubject: a@example.com\n", "not valid JSON"},
		{"unknown key", good + "scopes: [x]\n", "scopes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := config.NewSettings(tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(&config.App{Name: "g", Connector: "google", Settings: st}, connectors.Deps{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	st, _ := config.NewSettings(good)
	ents := map[string]*config.Entitlement{"admins": {Kind: gatehouse.EntRole, Resource: "x"}}
	if _, err := New(&config.App{Name: "g", Connector: "google", Settings: st, Entitlements: ents}, connectors.Deps{}); err == nil || !strings.Contains(err.Error(), "group") {
		t.Errorf("a role entitlement: %v, want an error saying only groups", err)
	}
}

func TestGrantMissingGroupIsPermanent(t *testing.T) {
	f := fake(t, googletest.Options{})
	f.AddUser(googletest.User{PrimaryEmail: "g@example.com", GivenName: "G", FamilyName: "G"})
	c := connect(t, f, build{})
	err := c.Grant(ctx(t), gatehouse.AccountRef{Email: "g@example.com"}, gatehouse.Entitlement{Name: "nosuch", Kind: gatehouse.EntGroup})
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "nosuch@example.com") {
		t.Fatalf("grant to a missing group: %v (class %s), want permanent naming nosuch@example.com", err, gatehouse.Classify(err))
	}
}

func TestLatencyAndCancel(t *testing.T) {
	f := fake(t, googletest.Options{})
	c := connect(t, f, build{})
	if _, err := c.ListAccounts(ctx(t)); err != nil { // warm the token
		t.Fatal(err)
	}
	f.SetLatency(2 * time.Second)
	cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListAccounts(cctx)
	if err == nil || time.Since(start) > time.Second || gatehouse.Classify(err) != gatehouse.ClassRetryable {
		t.Fatalf("slow answer: %v (class %s) after %s, want a prompt retryable timeout", err, gatehouse.Classify(err), time.Since(start))
	}
	f.SetLatency(0)
}

func TestCheckReportsMissingAdminPrivilege(t *testing.T) {
	f := fake(t, googletest.Options{})
	c := connect(t, f, build{})
	f.Inject(googletest.Fault{Method: "GET", Path: "/admin/datatransfer/v1/applications", Status: 403, Reason: "forbidden"})
	err := c.Check(ctx(t))
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "data transfer") {
		t.Fatalf("Check: %v (class %s), want a permanent data transfer error", err, gatehouse.Classify(err))
	}
}
