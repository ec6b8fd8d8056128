package entra

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzParseGraph feeds hostile bytes to every parser of Graph payloads:
// user entities, collection pages, directory objects, error bodies and the
// access token's claims. None may panic, and what they accept must hold
// their invariants.
func FuzzParseGraph(f *testing.F) {
	for _, seed := range []string{
		`{"id":"1","userPrincipalName":"a@x.com","mail":null,"accountEnabled":false,"signInActivity":{"lastSignInDateTime":"2026-01-02T03:04:05Z","lastNonInteractiveSignInDateTime":"2026-02-02T03:04:05.123Z"}}`,
		`{"id":"1","signInActivity":{"lastSignInDateTime":"0001-01-01T00:00:00Z"}}`,
		`{"id":""}`,
		`{"id":7}`,
		`{"value":[{"id":"1"},{"@odata.type":"#microsoft.graph.group","id":"g","displayName":"Eng"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=x"}`,
		`{"value":null}`,
		`{"@odata.context":"x"}`,
		`{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist","innerError":{"date":"2026-01-01T00:00:00","request-id":"r","client-request-id":"c"}}}`,
		`{"error":{"code":"","message":"x"}}`,
		`{"error":"invalid_client","error_description":"AADSTS7000215"}`,
		`eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJVc2VyLlJlYWQuQWxsIl19.c2ln`,
		`a.b.c`, `{}`, `[]`, `null`, `{"id":"1"} trailing`, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := parseUser(b); err == nil {
			if strings.TrimSpace(u.ID) == "" {
				t.Fatalf("accepted a user without id: %q", b)
			}
			if la := u.lastActivity(); !la.IsZero() && la.Location() != time.UTC {
				t.Fatalf("last activity not in UTC: %v", la)
			}
			_ = (&Connector{}).account(u)
		}
		if p, err := parsePage(b); err == nil {
			if p.Value == nil {
				t.Fatalf("accepted a page without value: %q", b)
			}
			for _, raw := range p.Value {
				if !json.Valid(raw) {
					t.Fatalf("page item is not JSON: %q", raw)
				}
			}
		}
		if o, err := parseDirectoryObject(b); err == nil && strings.TrimSpace(o.ID) == "" {
			t.Fatalf("accepted a directory object without id: %q", b)
		}
		if ge, ok := parseGraphError(b); ok && (ge.Code == "" || len(ge.Message) > 300+len("…")) {
			t.Fatalf("graph error %+v from %q", ge, b)
		}
		_, _ = tokenRoles(string(b))
	})
}

func TestSmallParsers(t *testing.T) {
	for in, want := range map[string]string{"a@x.com": "'a@x.com'", "o'brien": "'o''brien'", "''": "''''''", "": "''"} {
		if got := odataQuote(in); got != want {
			t.Errorf("odataQuote(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"conan.o'brien@x.com": "conan.o'brien", "a b(c)@x.com": "abc", "@x.com": "user", "émile@x.com": "mile"} {
		if got := mailNickname(in); got != want {
			t.Errorf("mailNickname(%q) = %q, want %q", in, got, want)
		}
	}
	roles, err := tokenRoles("eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJVc2VyLlJlYWQuQWxsIl19.c2ln")
	if err != nil || len(roles) != 1 || roles[0] != "User.Read.All" {
		t.Errorf("roles %v err %v", roles, err)
	}
	if _, err := tokenRoles("opaque-token"); err == nil {
		t.Error("an opaque token decoded")
	}
	for range 20 {
		pw, err := randomPassword()
		if err != nil {
			t.Fatal(err)
		}
		var lo, up, dg, sy bool
		for _, r := range pw {
			switch {
			case r >= 'a' && r <= 'z':
				lo = true
			case r >= 'A' && r <= 'Z':
				up = true
			case r >= '0' && r <= '9':
				dg = true
			default:
				sy = true
			}
		}
		if len(pw) != 24 || !lo || !up || !dg || !sy {
			t.Fatalf("weak password shape %d %v %v %v %v", len(pw), lo, up, dg, sy)
		}
	}
}
