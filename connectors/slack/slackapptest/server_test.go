package slackapptest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

// TestFakeRejectsBadRequests proves the fake holds its clients to Slack's
// description: each bad call is reported with the method and the reason.
func TestFakeRejectsBadRequests(t *testing.T) {
	tests := []struct {
		method string
		form   url.Values
		want   string
	}{
		{"conversations.invite", url.Values{"channel": {"C1"}}, "missing required argument(s) users"},
		{"conversations.kick", url.Values{"channel": {"C1"}, "user": {"U1"}, "reason": {"bye"}}, `unknown argument "reason"`},
		{"users.list", url.Values{"limit": {"lots"}}, "not a number"},
		{"users.lookupByMail", url.Values{"email": {"a@b.c"}}, "does not exist"},
		{"usergroups.users.update", url.Values{"usergroup": {"S1"}}, "missing required argument(s) users"},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			rec := spectest.NewRecorder(t)
			f := New(rec, Plan{})
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/api/"+tc.method, strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+BotToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := strings.Join(rec.Errors(), "\n"); !strings.Contains(got, tc.want) || !strings.Contains(got, "/api/"+tc.method) {
				t.Fatalf("fake reported %q, want the method and %q", got, tc.want)
			}
		})
	}
	t.Run("valid request passes", func(t *testing.T) {
		rec := spectest.NewRecorder(t)
		f := New(rec, Plan{})
		req, _ := http.NewRequest(http.MethodPost, f.URL+"/api/users.list", strings.NewReader("limit=1&cursor=off%3A1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+BotToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := strings.Join(rec.Errors(), "\n"); got != "" {
			t.Fatalf("a valid users.list was reported: %s", got)
		}
	})
}

// TestFakeRejectsBadSCIM proves the SCIM side bites too: bodies are held
// to RFC 7643's core User schema and filters and paths to RFC 7644.
func TestFakeRejectsBadSCIM(t *testing.T) {
	tests := []struct {
		name, method, path, body, want string
	}{
		{"no userName", "POST", "/scim/v2/Users", `{"schemas":["` + scimUserSchema + `"],"emails":[{"value":"a@b.c"}]}`, "userName is required"},
		{"unknown attribute", "POST", "/scim/v2/Users", `{"schemas":["` + scimUserSchema + `"],"userName":"a","emails":[{"value":"a@b.c"}],"deactivated":true}`, `attribute "deactivated"`},
		{"wrong type", "POST", "/scim/v2/Users", `{"schemas":["` + scimUserSchema + `"],"userName":"a","active":"yes","emails":[{"value":"a@b.c"}]}`, "active must be of type boolean"},
		{"unknown sub-attribute", "POST", "/scim/v2/Users", `{"schemas":["` + scimUserSchema + `"],"userName":"a","emails":[{"value":"a@b.c","kind":"work"}]}`, "emails.kind is not a sub-attribute"},
		{"bad patch path", "PATCH", "/scim/v2/Users/U1", `{"schemas":["` + scimPatchSchema + `"],"Operations":[{"op":"replace","path":"active[","value":false}]}`, "not an RFC 7644 attribute path"},
		{"patch of unknown attribute", "PATCH", "/scim/v2/Users/U1", `{"schemas":["` + scimPatchSchema + `"],"Operations":[{"op":"replace","path":"enabled","value":false}]}`, "replace enabled: not a modifiable core User attribute"},
		{"bad filter", "GET", "/scim/v2/Users?filter=" + url.QueryEscape(`email = "a@b.c"`), "", "not an RFC 7644 attribute expression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := spectest.NewRecorder(t)
			f := New(rec, Plan{SCIM: true})
			f.AddUser(User{ID: "U1", Name: "one", Email: "one@example.com"})
			req, _ := http.NewRequest(tc.method, f.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/scim+json")
			req.Header.Set("Authorization", "Bearer "+UserToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := strings.Join(rec.Errors(), "\n"); !strings.Contains(got, tc.want) {
				t.Fatalf("fake reported %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSpecCoversFake checks that every method the fake serves is one Slack
// describes, so a renamed method upstream fails here first.
func TestSpecCoversFake(t *testing.T) {
	s := loadSpec(t)
	for m := range methodScopes {
		if !s.HasMethod(m) {
			t.Errorf("the fake serves %s, which @slack/web-api %s does not describe", m, s.Version)
		}
	}
	for _, m := range []string{"auth.test", "team.info"} {
		if !s.HasMethod(m) {
			t.Errorf("%s missing", m)
		}
	}
	if n := len(s.Methods()); n < 200 {
		t.Fatalf("only %d methods parsed", n)
	}
}
