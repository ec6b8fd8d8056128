package okta

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// FuzzParseOkta feeds hostile bytes to every parser of Okta payloads: user
// objects and pages, groups, error bodies, Link headers, and the error
// classification built on them. None may panic; what parses must be sane.
func FuzzParseOkta(f *testing.F) {
	for _, s := range []string{
		`{"id":"00u1","status":"ACTIVE","lastLogin":"2026-01-02T03:04:05.000Z","profile":{"login":"a@example.com","email":"a@example.com","employeeNumber":42}}`,
		`[{"id":"00u1","status":"SUSPENDED","lastLogin":null,"profile":{}}]`,
		`[{"id":"00g1","profile":{"name":"Engineering"}}]`,
		`{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)","errorLink":"E0000007","errorId":"oae1","errorCauses":[]}`,
		`{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorCauses":[{"errorSummary":"login: An object with this field already exists"}]}`,
		`{"id":"","status":""}`, `[null]`, `{"lastLogin":"yesterday"}`, `{}{}`, `"`, ``,
	} {
		f.Add([]byte(s), `<https://acme.okta.com/api/v1/users?after=00u2&limit=2>; rel="next", <https://acme.okta.com/api/v1/users>; rel="self"`)
	}
	f.Fuzz(func(t *testing.T, body []byte, link string) {
		if u, err := parseUser(body); err == nil {
			if u.ID == "" || u.Status == "" || u.Profile == nil {
				t.Fatalf("parseUser accepted %q as %+v", body, u)
			}
			_ = u.enabled()
			_ = u.login()
		}
		if us, err := parseUsers(body); err == nil {
			for _, u := range us {
				if u == nil || u.ID == "" {
					t.Fatalf("parseUsers accepted an empty user in %q", body)
				}
			}
		}
		_, _ = parseGroups(body)
		if e, ok := parseError(body); ok {
			if len(e.Summary) > 310 || len(e.Causes) > 5 {
				t.Fatalf("parseError kept an unbounded summary or causes: %d, %d", len(e.Summary), len(e.Causes))
			}
			_ = e.causes()
		}
		h := http.Header{}
		h.Add("Link", link)
		if next := httpx.NextLink(h); next != "" && strings.ContainsAny(next, "<>") {
			t.Fatalf("httpx.NextLink(%q) = %q still holds the angle brackets", link, next)
		}
		_ = cursorOf(link)
		_ = authParam(link, "scope")
		for _, status := range []int{400, 403, 404, 429, 500} {
			res := &httpx.Response{Status: status, Header: http.Header{"Www-Authenticate": {link}}, Body: body}
			_, perr := httpx.ParseResponse(status, res.Header, body, fixedNow, false)
			if err := classify(res, perr); err == nil {
				t.Fatalf("classify turned a %d into success", status)
			}
		}
		q := quote(string(body))
		if !strings.HasPrefix(q, `"`) || !strings.HasSuffix(q, `"`) {
			t.Fatalf("quote(%q) = %s", body, q)
		}
	})
}
