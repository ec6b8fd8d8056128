package slackapptest

import (
	"strings"
	"testing"
)

func loadSpec(t *testing.T) *Spec {
	t.Helper()
	s, err := FindSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSpecBites proves the validator rejects what Slack's description
// forbids, so a green fake means something.
func TestSpecBites(t *testing.T) {
	s := loadSpec(t)
	tests := []struct {
		name, method string
		args         map[string]string
		want         string // substring of a problem; "" means valid
	}{
		{"valid invite", "conversations.invite", map[string]string{"channel": "C1", "users": "U1"}, ""},
		{"unknown method", "conversations.invitee", map[string]string{"channel": "C1"}, "does not exist"},
		{"missing required", "conversations.invite", map[string]string{"channel": "C1"}, "missing required argument(s) users"},
		{"unknown argument", "conversations.kick", map[string]string{"channel": "C1", "user": "U1", "users": "U2"}, `unknown argument "users"`},
		{"bad number", "conversations.list", map[string]string{"limit": "many"}, "not a number"},
		{"bad boolean", "conversations.list", map[string]string{"exclude_archived": "yes"}, "not a boolean"},
		{"optional arguments", "users.list", map[string]string{"limit": "2", "cursor": "x"}, ""},
		{"valid lookup", "users.lookupByEmail", map[string]string{"email": "a@b.c"}, ""},
		{"session reset", "admin.users.session.reset", map[string]string{"user_id": "U1"}, ""},
		{"session reset missing", "admin.users.session.reset", map[string]string{}, "user_id"},
		{"usergroups update", "usergroups.users.update", map[string]string{"usergroup": "S1", "users": "U1,U2"}, ""},
		{"access logs", "team.accessLogs", map[string]string{"count": "100", "page": "2"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probs := s.CheckRequest(tc.method, tc.args)
			got := strings.Join(probs, "; ")
			if tc.want == "" && len(probs) > 0 {
				t.Fatalf("valid request rejected: %s", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want one containing %q", got, tc.want)
			}
		})
	}
	resp := []struct {
		name, method, body, want string
	}{
		{"valid user", "users.info", `{"ok":true,"user":{"id":"U1","deleted":false,"profile":{"email":"a@b.c"}}}`, ""},
		{"undeclared field", "users.info", `{"ok":true,"user":{"id":"U1","deactivated":true}}`, `field "deactivated" is not declared`},
		{"wrong type", "users.info", `{"ok":true,"user":{"id":1}}`, "a number where string is declared"},
		{"members page", "conversations.members", `{"ok":true,"members":["U1"],"response_metadata":{"next_cursor":"x"}}`, ""},
		{"members not array", "conversations.members", `{"ok":true,"members":"U1"}`, "where an array is declared"},
		{"error envelope", "conversations.kick", `{"ok":false,"error":"not_in_channel"}`, ""},
		{"access logs", "team.accessLogs", `{"ok":true,"logins":[{"user_id":"U1","date_last":1700000000}],"paging":{"page":1,"pages":1}}`, ""},
	}
	for _, tc := range resp {
		t.Run("response "+tc.name, func(t *testing.T) {
			probs := s.CheckResponse(tc.method, []byte(tc.body))
			got := strings.Join(probs, "; ")
			if tc.want == "" && len(probs) > 0 {
				t.Fatalf("valid response rejected: %s", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want one containing %q", got, tc.want)
			}
		})
	}
}
