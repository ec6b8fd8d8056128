package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/aws/awstest"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/rs/zerolog"
)

var (
	entStaging = gatehouse.Entitlement{App: "aws", Name: "staging_dev", Kind: gatehouse.EntPermissionSet, Resource: "StagingDeveloper", Risk: gatehouse.RiskMedium}
	entProdRO  = gatehouse.Entitlement{App: "aws", Name: "prod_ro", Kind: gatehouse.EntPermissionSet, Resource: "ProdReadOnly", Level: "222233334444,333344445555", Risk: gatehouse.RiskLow}
	entAdmins  = gatehouse.Entitlement{App: "aws", Name: "platform", Kind: gatehouse.EntGroup, Resource: "Platform Engineers", Risk: gatehouse.RiskHigh}
)

// fixture is a fake with the permission sets and group the tests use.
func fixture(t *testing.T, opts awstest.Options) *awstest.Server {
	t.Helper()
	srv := awstest.New(t, opts)
	srv.AddPermissionSet("StagingDeveloper")
	srv.AddPermissionSet("ProdReadOnly")
	srv.AddPermissionSet("SecurityAudit") // not configured: resolution must skip it
	srv.AddGroup("Platform Engineers")
	srv.AddGroup("Other")
	return srv
}

func newConn(t *testing.T, srv *awstest.Server, extra string, del bool) *Connector {
	t.Helper()
	y := srv.SettingsYAML() + "accounts:\n  StagingDeveloper: [\"111122223333\"]\npoll_interval: 5ms\npage_size: 2\n" + extra
	s, err := config.NewSettings(y)
	if err != nil {
		t.Fatal(err)
	}
	app := &config.App{Name: "aws", Connector: "aws", Settings: s, Delete: del, Entitlements: map[string]*config.Entitlement{
		"staging_dev": {Kind: gatehouse.EntPermissionSet, Resource: "StagingDeveloper"},
		"prod_ro":     {Kind: gatehouse.EntPermissionSet, Resource: "ProdReadOnly", Level: "222233334444,333344445555"},
		"platform":    {Kind: gatehouse.EntGroup, Resource: "Platform Engineers"},
	}}
	c, err := New(app, connectors.Deps{Logger: zerolog.Nop(), Debug: true, UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func inspect(srv *awstest.Server) func(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
	return func(t *testing.T, _ gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
		u, ok := srv.UserByID(ref.AccountID)
		if !ok {
			if u, ok = srv.UserByName(ref.UserName); !ok {
				return false, false, nil
			}
		}
		var ents []string
		as := strings.Join(srv.Assignments(u.ID), ",")
		if strings.Contains(as, "StagingDeveloper@111122223333") {
			ents = append(ents, "staging_dev")
		}
		if strings.Contains(as, "ProdReadOnly@") {
			ents = append(ents, "prod_ro")
		}
		for _, g := range srv.Groups(u.ID) {
			if g == "Platform Engineers" {
				ents = append(ents, "platform")
			}
		}
		return true, u.UserType != "Disabled", ents
	}
}

func TestContract(t *testing.T) {
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", del), func(t *testing.T) {
			srv := fixture(t, awstest.Options{PendingPolls: 1})
			conntest.Run(t, conntest.Harness{
				New:          func(t *testing.T) gatehouse.Connector { return newConn(t, srv, "", del) },
				Entitlements: []gatehouse.Entitlement{entStaging, entAdmins, entProdRO},
				Inspect:      inspect(srv),
			})
		})
	}
}

func ref(n string) gatehouse.AccountRef {
	e := n + "@example.com"
	return gatehouse.AccountRef{IdentityKey: n, Email: e, UserName: e, Name: "Ada " + n, GivenName: "Ada", FamilyName: n}
}

// TestAssignmentResumesAfterCrash: a grant still in progress hands back
// InProgress; a new connector (the process restarted) finds the in-progress
// request instead of issuing a second one, and completes it.
func TestAssignmentResumesAfterCrash(t *testing.T) {
	srv := fixture(t, awstest.Options{PendingPolls: 3})
	ctx := gatehouse.WithOperationKey(context.Background(), "run1/step1")
	c := newConn(t, srv, "poll_attempts: 1\n", false)
	a, err := c.EnsureAccount(ctx, ref("crash"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Grant(ctx, ref("crash"), entStaging)
	if gatehouse.Classify(err) != gatehouse.ClassInProgress {
		t.Fatalf("first grant: %v (class %s), want in_progress", err, gatehouse.Classify(err))
	}
	if gatehouse.RetryAfterOf(err) != 5*time.Millisecond {
		t.Errorf("retry after %s, want the poll interval", gatehouse.RetryAfterOf(err))
	}
	if got := srv.Assignments(a.ID); len(got) != 0 {
		t.Fatalf("assignment visible while in progress: %v", got)
	}
	for i := 0; ; i++ {
		c2 := newConn(t, srv, "poll_attempts: 1\n", false) // fresh memory: a restart
		err = c2.Grant(ctx, ref("crash"), entStaging)
		if err == nil {
			break
		}
		if gatehouse.Classify(err) != gatehouse.ClassInProgress || i > 5 {
			t.Fatalf("resumed grant #%d: %v", i, err)
		}
	}
	if n := srv.Count("SWBExternalService.CreateAccountAssignment"); n != 1 {
		t.Fatalf("CreateAccountAssignment issued %d times, want 1", n)
	}
	if got := srv.Assignments(a.ID); len(got) != 1 || got[0] != "StagingDeveloper@111122223333" {
		t.Fatalf("assignments %v", got)
	}
	// Granting again finds it held and issues nothing.
	if err := c.Grant(ctx, ref("crash"), entStaging); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("SWBExternalService.CreateAccountAssignment"); n != 1 {
		t.Fatalf("CreateAccountAssignment issued %d times after a re-grant, want 1", n)
	}
}

func TestAssignmentFailedIsPermanent(t *testing.T) {
	srv := fixture(t, awstest.Options{})
	c := newConn(t, srv, "", false)
	ctx := context.Background()
	if _, err := c.EnsureAccount(ctx, ref("fail")); err != nil {
		t.Fatal(err)
	}
	srv.FailNextAssignment("Received a 404 status error: Not supported account")
	err := c.Grant(ctx, ref("fail"), entStaging)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "Not supported account") {
		t.Fatalf("grant: %v (class %s), want permanent with the FailureReason", err, gatehouse.Classify(err))
	}
}

// TestDisableRemovesAllAccess checks the fake's state: no assignment and no
// membership is left, including ones Gatehouse does not manage.
func TestDisableRemovesAllAccess(t *testing.T) {
	srv := fixture(t, awstest.Options{PendingPolls: 1})
	c := newConn(t, srv, "", false)
	ctx := context.Background()
	a, err := c.EnsureAccount(ctx, ref("leaver"))
	if err != nil {
		t.Fatal(err)
	}
	r := ref("leaver")
	r.AccountID = a.ID
	for _, e := range []gatehouse.Entitlement{entStaging, entProdRO, entAdmins} {
		if err := c.Grant(ctx, r, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Assignments(a.ID); len(got) != 3 {
		t.Fatalf("before disable: %v", got)
	}
	if err := c.Disable(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := srv.Assignments(a.ID); len(got) != 0 {
		t.Fatalf("after disable the user still has assignments %v", got)
	}
	if got := srv.Groups(a.ID); len(got) != 0 {
		t.Fatalf("after disable the user is still in groups %v", got)
	}
	acct, err := c.ReadAccount(ctx, r)
	if err != nil || acct.Active || len(acct.Entitlements) != 0 {
		t.Fatalf("ReadAccount after disable: %+v, %v", acct, err)
	}
}

func TestPaging(t *testing.T) {
	srv := fixture(t, awstest.Options{PageSize: 2})
	for i := range 7 {
		srv.AddUser(awstest.User{UserName: fmt.Sprintf("p%d@example.com", i), DisplayName: "P", GivenName: "P", FamilyName: "Q", Email: fmt.Sprintf("p%d@example.com", i)})
	}
	c := newConn(t, srv, "", false)
	accts, err := c.ListAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 7 {
		t.Fatalf("listed %d accounts, want 7", len(accts))
	}
	if n := srv.Count("AWSIdentityStore.ListUsers"); n < 4 {
		t.Fatalf("ListUsers called %d times, want ≥4 pages", n)
	}
	for _, a := range accts {
		if !a.LastActivity.IsZero() {
			t.Errorf("LastActivity %v: these APIs report none", a.LastActivity)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		fault awstest.Fault
		class gatehouse.ErrorClass
		after time.Duration
	}{
		{awstest.Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded", RetryAfterSeconds: 7}, gatehouse.ClassRateLimited, 7 * time.Second},
		{awstest.Fault{Status: 429, Code: "", Message: "slow down"}, gatehouse.ClassRateLimited, 0},
		{awstest.Fault{Status: 402, Code: "ServiceQuotaExceededException", Message: "quota"}, gatehouse.ClassPermanent, 0},
		{awstest.Fault{Status: 500, Code: "InternalServerException", Message: "oops", RetryAfterSeconds: 2}, gatehouse.ClassRetryable, 2 * time.Second},
		{awstest.Fault{Status: 503, Code: "", Message: ""}, gatehouse.ClassRetryable, 0},
		{awstest.Fault{Status: 400, Code: "AccessDeniedException", Message: "no"}, gatehouse.ClassPermanent, 0},
		{awstest.Fault{Status: 400, Code: "ValidationException", Message: "bad"}, gatehouse.ClassPermanent, 0},
		{awstest.Fault{Status: 400, Code: "ResourceNotFoundException", Message: "gone"}, gatehouse.ClassNotFound, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", tc.fault.Status, tc.fault.Code), func(t *testing.T) {
			srv := fixture(t, awstest.Options{})
			c := newConn(t, srv, "", false)
			srv.Fail("AWSIdentityStore.ListUsers", 1, tc.fault)
			_, err := c.ListAccounts(context.Background())
			if gatehouse.Classify(err) != tc.class {
				t.Fatalf("class %s, want %s (%v)", gatehouse.Classify(err), tc.class, err)
			}
			if gatehouse.RetryAfterOf(err) != tc.after {
				t.Errorf("retry after %s, want %s", gatehouse.RetryAfterOf(err), tc.after)
			}
		})
	}
}

func TestConflictOnCreateFindsUser(t *testing.T) {
	srv := fixture(t, awstest.Options{})
	c := newConn(t, srv, "", false)
	// The user appears between our lookup and our create (a concurrent step).
	id := srv.AddUser(awstest.User{UserName: "race@example.com", DisplayName: "R", GivenName: "R", FamilyName: "C", Email: "race@example.com"})
	srv.Fail("AWSIdentityStore.GetUserId", 1, awstest.Fault{Status: 400, Code: "ResourceNotFoundException", Message: "not yet"})
	a, err := c.EnsureAccount(context.Background(), ref("race"))
	if err != nil || a.ID != id {
		t.Fatalf("EnsureAccount after a conflict: %+v, %v; want id %s", a, err, id)
	}
}

func TestCheckNamesMissingActions(t *testing.T) {
	srv := fixture(t, awstest.Options{})
	c := newConn(t, srv, "", false)
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("check: %v", err)
	}
	srv.Fail("AWSIdentityStore.ListUsers", 1, awstest.Fault{Status: 400, Code: "AccessDeniedException",
		Message: "User: arn:aws:iam::111122223333:user/gh is not authorized to perform: identitystore:ListUsers on resource: arn:aws:identitystore::111122223333:identitystore/d-1234567890"})
	srv.Fail("SWBExternalService.ListPermissionSets", 1, awstest.Fault{Status: 400, Code: "AccessDeniedException", Message: "denied"})
	err := c.Check(context.Background())
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "identitystore:ListUsers") || !strings.Contains(err.Error(), "sso:ListPermissionSets") {
		t.Fatalf("check: %v", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	srv := fixture(t, awstest.Options{})
	c := newConn(t, srv, "", false)
	if _, err := c.EnsureAccount(context.Background(), ref("redact")); err != nil {
		t.Fatal(err)
	}
	rec := c.Recordings()
	if len(rec) == 0 {
		t.Fatal("no recording in debug mode")
	}
	for _, ex := range rec {
		dump := fmt.Sprintf("%v %v %s %s", ex.RequestHeader, ex.ResponseHeader, ex.RequestBody, ex.URL)
		for _, secret := range []string{awstest.SecretKey, "Signature="} {
			if strings.Contains(dump, secret) {
				t.Fatalf("recording leaks %q: %s", secret, dump)
			}
		}
		if ex.RequestHeader.Get("Authorization") != "[redacted]" {
			t.Fatalf("Authorization header recorded as %q", ex.RequestHeader.Get("Authorization"))
		}
	}
	if s := fmt.Sprintf("%+v", c.s); strings.Contains(s, awstest.SecretKey) {
		t.Fatal("settings print the secret key")
	}
}

func TestSettingsValidation(t *testing.T) {
	bad := []struct{ yaml, want string }{
		{"region: moon\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\n", "region"},
		{"region: eu-west-1\nidentity_store_id: x\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\n", "identity_store_id"},
		{"region: eu-west-1\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:iam::1:role/x\n", "instance_arn"},
		{"region: eu-west-1\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\naccounts:\n  Nope: [\"111122223333\"]\n", "no permission_set entitlement"},
		{"region: eu-west-1\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\naccounts:\n  StagingDeveloper: [\"12\"]\n", "12-digit"},
		{"region: eu-west-1\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\ncredentials:\n  source: magic\n", "credentials source"},
	}
	for _, tc := range bad {
		s, err := config.NewSettings(tc.yaml)
		if err != nil {
			t.Fatal(err)
		}
		app := &config.App{Name: "aws", Settings: s, Entitlements: map[string]*config.Entitlement{
			"staging": {Kind: gatehouse.EntPermissionSet, Resource: "StagingDeveloper"},
		}}
		_, err = New(app, connectors.Deps{Logger: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("settings %q: error %v, want one mentioning %q", tc.yaml, err, tc.want)
		}
	}
	// A permission set with no account anywhere is refused at load.
	s, _ := config.NewSettings("region: eu-west-1\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\n")
	_, err := New(&config.App{Name: "aws", Settings: s, Entitlements: map[string]*config.Entitlement{"x": {Kind: gatehouse.EntPermissionSet, Resource: "X"}}}, connectors.Deps{})
	if err == nil || !strings.Contains(err.Error(), "names no AWS account") {
		t.Errorf("permission set without accounts: %v", err)
	}
}

func TestParseError(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amzn-Errortype", "ThrottlingException:http://internal.amazon.com/coral/com.amazonaws.identitystore/")
	e, after := parseError("ListUsers", 400, h, []byte(`{"__type":"x#Other","Message":"Rate exceeded","RetryAfterSeconds":3}`))
	if e.Code != "ThrottlingException" || e.Message != "Rate exceeded" || after != 3*time.Second {
		t.Fatalf("got %+v %s", e, after)
	}
	e, _ = parseError("X", 400, nil, []byte(`{"__type":"com.amazonaws.swbexternalservice#ConflictException","message":"m","Reason":"CONCURRENT_MODIFICATION"}`))
	if e.Code != "ConflictException" || e.Reason != "CONCURRENT_MODIFICATION" {
		t.Fatalf("got %+v", e)
	}
	var ae *APIError
	if !errors.As(classify(e, 0), &ae) {
		t.Fatal("classify lost the APIError")
	}
}

func FuzzParseError(f *testing.F) {
	for _, s := range []string{`{"__type":"a#ThrottlingException","message":"x","RetryAfterSeconds":1e400}`, `<html>`, ``, `{"Message":1}`, `[1,2]`, `{"RetryAfterSeconds":-5}`} {
		f.Add(400, "ThrottlingException:http://x", []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, typ string, body []byte) {
		h := http.Header{}
		h.Set("X-Amzn-Errortype", typ)
		e, after := parseError("Op", status, h, body)
		if after < 0 || after > maxRetryAfter {
			t.Fatalf("wait %s out of bounds", after)
		}
		if err := classify(e, after); gatehouse.Classify(err) == gatehouse.ClassUnknown {
			t.Fatalf("unclassified %v", err)
		}
	})
}

func TestSharedCredentials(t *testing.T) {
	text := "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n[profile gh]\naws_access_key_id=AKIAGH\naws_secret_access_key=s2\naws_session_token = tok\n"
	sc := bufioScanner(text)
	c, ok := parseSharedCredentials(sc, "gh")
	if !ok || c.AccessKeyID != "AKIAGH" || c.SecretAccessKey != "s2" || c.SessionToken != "tok" {
		t.Fatalf("got %+v %v", c, ok)
	}
	p := &credProvider{cfg: Credentials{Source: "environment"}, now: time.Now, env: func(k string) string { return map[string]string{"AWS_ACCESS_KEY_ID": "AKIAENV"}[k] }}
	if _, err := p.get(); !errors.Is(err, errNoCredentials) {
		t.Fatalf("environment without a secret: %v", err)
	}
}

// TestRevokeResumesAfterCrash: deletion is asynchronous too; a restarted
// connector polls the in-progress deletion instead of issuing another.
func TestRevokeResumesAfterCrash(t *testing.T) {
	srv := fixture(t, awstest.Options{})
	ctx := gatehouse.WithOperationKey(context.Background(), "run2/step1")
	c := newConn(t, srv, "poll_attempts: 1\n", false)
	a, err := c.EnsureAccount(ctx, ref("rv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx, ref("rv"), entStaging); err != nil {
		t.Fatal(err)
	}
	srv.SetPendingPolls(2)
	if err := c.Revoke(ctx, ref("rv"), entStaging); gatehouse.Classify(err) != gatehouse.ClassInProgress {
		t.Fatalf("first revoke: %v, want in_progress", err)
	}
	for i := 0; ; i++ {
		err := newConn(t, srv, "poll_attempts: 1\n", false).Revoke(ctx, ref("rv"), entStaging)
		if err == nil {
			break
		}
		if gatehouse.Classify(err) != gatehouse.ClassInProgress || i > 5 {
			t.Fatalf("resumed revoke #%d: %v", i, err)
		}
	}
	if n := srv.Count("SWBExternalService.DeleteAccountAssignment"); n != 1 {
		t.Fatalf("DeleteAccountAssignment issued %d times, want 1", n)
	}
	if got := srv.Assignments(a.ID); len(got) != 0 {
		t.Fatalf("assignments left %v", got)
	}
}

// TestSlowAnswerTimesOut: latency beyond the operation's deadline is a
// retryable failure, not a hang.
func TestSlowAnswerTimesOut(t *testing.T) {
	srv := fixture(t, awstest.Options{Latency: 200 * time.Millisecond})
	c := newConn(t, srv, "", false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.ListAccounts(ctx)
	if err == nil || gatehouse.Classify(err) != gatehouse.ClassRetryable {
		t.Fatalf("slow answer: %v (class %s), want retryable", err, gatehouse.Classify(err))
	}
}

// TestWireOrderOfDisable asserts the order on the wire: memberships go
// before assignments, and the user is marked disabled last.
func TestWireOrderOfDisable(t *testing.T) {
	srv := fixture(t, awstest.Options{})
	c := newConn(t, srv, "", false)
	ctx := context.Background()
	if _, err := c.EnsureAccount(ctx, ref("order")); err != nil {
		t.Fatal(err)
	}
	for _, e := range []gatehouse.Entitlement{entStaging, entAdmins} {
		if err := c.Grant(ctx, ref("order"), e); err != nil {
			t.Fatal(err)
		}
	}
	start := len(srv.Log())
	if err := c.Disable(ctx, ref("order")); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range srv.Log()[start:] {
		switch e.Target {
		case "AWSIdentityStore.DeleteGroupMembership", "SWBExternalService.DeleteAccountAssignment", "AWSIdentityStore.UpdateUser":
			ops = append(ops, e.Target[strings.IndexByte(e.Target, '.')+1:])
		}
	}
	if got := strings.Join(ops, ","); got != "DeleteGroupMembership,DeleteAccountAssignment,UpdateUser" {
		t.Fatalf("disable wire order %s", got)
	}
}
