package awstest

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

func loadModels(t *testing.T) (*Model, *Model) {
	t.Helper()
	dir, err := SpecDir()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadModel(filepath.Join(dir, "identitystore-2020-06-15.min.json"))
	if err != nil {
		t.Fatal(err)
	}
	sso, err := LoadModel(filepath.Join(dir, "sso-admin-2020-07-20.min.json"))
	if err != nil {
		t.Fatal(err)
	}
	return ids, sso
}

// TestValidatorBites proves the shape validator rejects what AWS's model
// forbids, and accepts the valid forms.
func TestValidatorBites(t *testing.T) {
	ids, sso := loadModels(t)
	tests := []struct {
		m      *Model
		op     string
		output bool
		body   string
		want   string // "" = valid
	}{
		{ids, "GetUserId", false, `{"IdentityStoreId":"d-1","AlternateIdentifier":{"UniqueAttribute":{"AttributePath":"userName","AttributeValue":"a@b.c"}}}`, ""},
		{ids, "GetUserId", false, `{"IdentityStoreId":"d-1"}`, "required member AlternateIdentifier is missing"},
		{ids, "GetUserId", false, `{"IdentityStoreId":"d-1","AlternateIdentifier":{}}`, "union must have exactly one member"},
		{ids, "GetUserId", false, `{"IdentityStoreId":"d-1","AlternateIdentifier":{"UniqueAttribute":{"AttributePath":"userName","AttributeValue":"x"},"ExternalId":{"Issuer":"i","Id":"1"}}}`, "union must have exactly one member"},
		{ids, "CreateUser", false, `{"IdentityStoreId":"d-1","UserName":"u","Emails":[{"Value":"a","Primary":"yes"}]}`, "want a boolean"},
		{ids, "CreateUser", false, `{"IdentityStoreId":"d-1","UserName":"u","Email":"a"}`, "unknown member Email"},
		{ids, "CreateUser", false, `{"IdentityStoreId":"d-1","Name":"Ada"}`, "want an object"},
		{ids, "ListUsers", false, `{"IdentityStoreId":"d-1","MaxResults":"2"}`, "want an integer"},
		{ids, "ListUsers", false, `{"IdentityStoreId":"d-1","MaxResults":2.5}`, "want an integer"},
		{ids, "ListUsers", true, `{"Users":[{"UserId":"u","IdentityStoreId":"d"}]}`, ""},
		{ids, "ListUsers", true, `{"Users":[{"UserId":"u"}]}`, "required member IdentityStoreId"},
		{ids, "ListUsers", true, `{"Users":{}}`, "want an array"},
		{ids, "NoSuchOp", false, `{}`, "not in the service model"},
		{sso, "CreateAccountAssignment", false, `{"InstanceArn":"a","PermissionSetArn":"p","PrincipalId":"u","PrincipalType":"USER","TargetId":"111122223333"}`, "required member TargetType"},
		{sso, "DescribeAccountAssignmentCreationStatus", true, `{"AccountAssignmentCreationStatus":{"Status":"IN_PROGRESS","CreatedDate":"yesterday"}}`, "want a timestamp"},
		{sso, "DescribeAccountAssignmentCreationStatus", true, `{"AccountAssignmentCreationStatus":{"Status":"SUCCEEDED","CreatedDate":1700000000.5}}`, ""},
		{sso, "ListPermissionSets", true, `{"PermissionSets":[1]}`, "want a string"},
		{sso, "ListPermissionSets", true, `not json`, "invalid JSON"},
	}
	for _, tc := range tests {
		var errs []string
		if tc.output {
			errs = tc.m.ValidateOutput(tc.op, []byte(tc.body))
		} else {
			errs = tc.m.ValidateInput(tc.op, []byte(tc.body))
		}
		got := strings.Join(errs, "; ")
		if tc.want == "" && got != "" {
			t.Errorf("%s %s: valid body rejected: %s", tc.op, tc.body, got)
		}
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s %s: got %q, want a violation mentioning %q", tc.op, tc.body, got, tc.want)
		}
	}
}

// TestConstraintsWhereModelled: the min.json models carry no enums,
// patterns or lengths, but the validator enforces them where a model does.
func TestConstraintsWhereModelled(t *testing.T) {
	m := &Model{Service: "X", patternCache: map[string]*regexp.Regexp{}, operations: map[string]rawOp{"Op": {Input: map[string]any{"type": "structure", "members": map[string]any{
		"Kind": map[string]any{"type": "string", "enum": []any{"USER", "GROUP"}},
		"Id":   map[string]any{"type": "string", "pattern": `^\d{12}$`, "min": 12.0, "max": 12.0},
		"N":    map[string]any{"type": "integer", "min": 1.0, "max": 100.0},
	}}}}}
	for body, want := range map[string]string{
		`{"Kind":"USER","Id":"111122223333","N":5}`: "",
		`{"Kind":"ROLE"}`:       "enum",
		`{"Id":"1111x2223333"}`: "pattern",
		`{"Id":"1"}`:            "below the minimum",
		`{"N":101}`:             "above the maximum",
	} {
		got := strings.Join(m.ValidateInput("Op", []byte(body)), "; ")
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", body, got, want)
		}
	}
}

// fakeRequest sends a raw request to the fake, to check what it refuses.
func fakeRequest(t *testing.T, s *Server, target, auth, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/", bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	date := time.Now().UTC().Format("20060102T150405Z")
	req.Header.Set("X-Amz-Date", date)
	req.Header.Set("Authorization", strings.ReplaceAll(auth, "DATE", date[:8]))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func TestFakeRefusesBadEnvelopes(t *testing.T) {
	rec := spectest.NewRecorder(t)
	s := New(rec, Options{Region: "eu-west-1"})
	good := "AWS4-HMAC-SHA256 Credential=" + AccessKeyID + "/DATE/eu-west-1/identitystore/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + strings.Repeat("ab", 32)
	body := `{"IdentityStoreId":"` + IdentityStoreID + `"}`
	if code := fakeRequest(t, s, "AWSIdentityStore.ListUsers", good, body); code != 200 || len(rec.Errors()) != 0 {
		t.Fatalf("good request: %d %v", code, rec.Errors())
	}
	bad := []struct{ target, auth, body string }{
		{"AWSIdentityStore.ListUsers", strings.Replace(good, "eu-west-1", "us-east-1", 1), body},    // wrong region
		{"AWSIdentityStore.ListUsers", strings.Replace(good, "/identitystore/", "/sso/", 1), body},  // wrong service
		{"AWSIdentityStore.ListUsers", "Bearer x", body},                                            // not SigV4
		{"AWSIdentityStore.ListUsers", strings.Replace(good, "host;", "", 1), body},                 // host unsigned
		{"AWSIdentityStore.ListUsers", good, `{"IdentityStoreId":"` + IdentityStoreID + `","X":1}`}, // unknown member
		{"AWSIdentityStore.Nope", good, body},                                                       // unknown operation
		{"Bogus.ListUsers", good, body},                                                             // unknown service
	}
	for i, b := range bad {
		before := len(rec.Errors())
		if code := fakeRequest(t, s, b.target, b.auth, b.body); code != 400 {
			t.Errorf("bad request %d answered %d, want 400", i, code)
		}
		if len(rec.Errors()) == before {
			t.Errorf("bad request %d did not fail the test", i)
		}
	}
}
