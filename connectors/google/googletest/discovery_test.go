package googletest

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

func TestDiscoveryValidatesRequests(t *testing.T) {
	dir, err := LoadDiscovery("admin/directory/v1/admin-api.json")
	if err != nil {
		t.Fatal(err)
	}
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	tests := []struct {
		name, method, path, query, body string
		wantID                          string
		wantErr                         string // "" means valid
	}{
		{"get user", "GET", "admin/directory/v1/users/a%40example.com", "", "", "directory.users.get", ""},
		{"list users", "GET", "admin/directory/v1/users", "customer=my_customer&maxResults=500&pageToken=x", "", "directory.users.list", ""},
		{"literal beats parameter", "POST", "admin/directory/v1/users/watch", "", `{"id":"c","type":"web_hook","address":"https://x"}`, "directory.users.watch", ""},
		{"patch suspend", "PATCH", "admin/directory/v1/users/123", "", `{"suspended":true}`, "directory.users.patch", ""},
		{"insert user", "POST", "admin/directory/v1/users", "", `{"primaryEmail":"a@example.com","name":{"givenName":"A","familyName":"B"},"password":"x"}`, "directory.users.insert", ""},
		{"delete asp", "DELETE", "admin/directory/v1/users/1/asps/12", "", "", "directory.asps.delete", ""},
		{"unknown path", "GET", "admin/directory/v1/people/1", "", "", "", "no method of admin:directory_v1"},
		{"wrong verb", "PUT", "admin/directory/v1/users/1/signOut", "", "", "", "no method of admin:directory_v1"},
		{"unknown query parameter", "GET", "admin/directory/v1/users", "customer=my_customer&limit=5", "", "directory.users.list", `unknown query parameter "limit"`},
		{"integer out of range", "GET", "admin/directory/v1/users", "customer=my_customer&maxResults=501", "", "directory.users.list", "above the maximum 500"},
		{"integer not a number", "GET", "admin/directory/v1/users", "maxResults=lots", "", "directory.users.list", "not an integer"},
		{"bad enum", "GET", "admin/directory/v1/users", "customer=my_customer&orderBy=age", "", "directory.users.list", "not one of email"},
		{"path integer", "DELETE", "admin/directory/v1/users/1/asps/abc", "", "", "directory.asps.delete", "codeId"},
		{"body where none", "POST", "admin/directory/v1/users/1/signOut", "", `{"all":true}`, "directory.users.signOut", "takes no request body"},
		{"body missing", "POST", "admin/directory/v1/groups/g%40x/members", "", "", "directory.members.insert", "needs a Member request body"},
		{"wrong field type", "PATCH", "admin/directory/v1/users/1", "", `{"suspended":"yes"}`, "directory.users.patch", "want a boolean"},
		{"unknown field", "PATCH", "admin/directory/v1/users/1", "", `{"suspend":true}`, "directory.users.patch", `unknown field "suspend"`},
		{"read-only field", "PATCH", "admin/directory/v1/users/1", "", `{"isAdmin":true}`, "directory.users.patch", "read-only"},
		{"required by method", "POST", "admin/directory/v1/users", "", `{"primaryEmail":"a@example.com","name":{"givenName":"A"},"password":"x"}`, "directory.users.insert", `required field "familyName"`},
		{"nested unknown", "POST", "admin/directory/v1/users", "", `{"primaryEmail":"a@example.com","name":{"givenName":"A","familyName":"B","middle":"C"},"password":"x"}`, "directory.users.insert", `unknown field "middle"`},
		{"invalid json", "PATCH", "admin/directory/v1/users/1", "", `{"suspended":`, "directory.users.patch", "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, probs := dir.ValidateRequest(tc.method, tc.path, q(tc.query), []byte(tc.body))
			if tc.wantID != "" && (m == nil || m.ID != tc.wantID) {
				t.Fatalf("matched %v, want %s", m, tc.wantID)
			}
			got := strings.Join(probs, "; ")
			if tc.wantErr == "" && len(probs) > 0 {
				t.Fatalf("valid request rejected: %s", got)
			}
			if tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Fatalf("problems %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
}

func TestDiscoveryValidatesResponses(t *testing.T) {
	dt, err := LoadDiscovery("admin/datatransfer/v1/admin-api.json")
	if err != nil {
		t.Fatal(err)
	}
	m, probs := dt.ValidateRequest("GET", "admin/datatransfer/v1/transfers", url.Values{"oldOwnerUserId": {"1"}}, nil)
	if m == nil || len(probs) > 0 {
		t.Fatalf("transfers.list: %v %v", m, probs)
	}
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"valid", 200, `{"kind":"admin#datatransfer#dataTransfersList","dataTransfers":[{"id":"a","oldOwnerUserId":"1","newOwnerUserId":"2","overallTransferStatusCode":"inProgress","requestTime":"2026-01-02T03:04:05.000Z","applicationDataTransfers":[{"applicationId":"55656082996"}]}]}`, ""},
		{"bad date-time", 200, `{"dataTransfers":[{"requestTime":"yesterday"}]}`, "RFC 3339"},
		{"int64 as number", 200, `{"dataTransfers":[{"applicationDataTransfers":[{"applicationId":55656082996}]}]}`, "want a string"},
		{"bad int64 string", 200, `{"dataTransfers":[{"applicationDataTransfers":[{"applicationId":"drive"}]}]}`, "int64"},
		{"unknown field", 200, `{"transfers":[]}`, `unknown field "transfers"`},
		{"array expected", 200, `{"dataTransfers":{}}`, "want an array"},
		{"good error", 404, `{"error":{"code":404,"message":"Not Found","errors":[{"reason":"notFound","message":"Not Found","domain":"global"}]}}`, ""},
		{"error with wrong code", 404, `{"error":{"code":400,"message":"x"}}`, "does not repeat"},
		{"error not google's", 500, `{"message":"boom"}`, "not a Google error body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(dt.ValidateResponse(m, tc.status, []byte(tc.body)), "; ")
			if tc.wantErr == "" && got != "" {
				t.Fatalf("valid response rejected: %s", got)
			}
			if tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Fatalf("problems %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
	signOut, _, _ := (func() (*Method, map[string]string, bool) {
		d, _ := LoadDiscovery("admin/directory/v1/admin-api.json")
		return d.Match("POST", "admin/directory/v1/users/1/signOut")
	})()
	d, _ := LoadDiscovery("admin/directory/v1/admin-api.json")
	if p := d.ValidateResponse(signOut, 200, []byte(`{"ok":true}`)); len(p) == 0 {
		t.Errorf("a body on an empty-response method was accepted")
	}
}

// TestFakeReportsViolations proves the fake fails a test whose client sends
// what the discovery document does not allow.
func TestFakeReportsViolations(t *testing.T) {
	rec := spectest.NewRecorder(t)
	f := New(rec, Options{})
	req, _ := newRequest("GET", f.URL+"/admin/directory/v1/users?customer=my_customer&limit=3")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rec.Errors()) == 0 || !strings.Contains(strings.Join(rec.Errors(), "\n"), `unknown query parameter "limit"`) {
		t.Fatalf("fake reported %v, want the unknown parameter", rec.Errors())
	}
	if len(f.Violations()) == 0 {
		t.Fatal("Violations() is empty")
	}
}
