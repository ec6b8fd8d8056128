package httpx

import (
	"net/http"
	"strings"
	"testing"
)

func TestNextLink(t *testing.T) {
	tests := []struct {
		name string
		hdr  []string
		want string
	}{
		{"github style", []string{`<https://api.github.com/orgs/a/members?page=2>; rel="next", <https://api.github.com/orgs/a/members?page=5>; rel="last"`}, "https://api.github.com/orgs/a/members?page=2"},
		{"next after prev", []string{`<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="next"`}, "https://x/?page=3"},
		{"comma in url", []string{`<https://x/?a=1,2&page=3>; rel="next"`}, "https://x/?a=1,2&page=3"},
		{"unquoted upper-case rel", []string{`<https://x/?page=3>; REL=next`}, "https://x/?page=3"},
		{"several relations", []string{`<https://x/?page=3>; rel="last next"`}, "https://x/?page=3"},
		{"okta style: one header per link", []string{`<https://a.okta.com/api/v1/users?limit=2>; rel="self"`, `<https://a.okta.com/api/v1/users?after=00u2&limit=2>; rel="next"`}, "https://a.okta.com/api/v1/users?after=00u2&limit=2"},
		{"quoted comma in a later param", []string{`<https://x>; rel="next"; title="a,b"`}, "https://x"},
		{"no next", []string{`<https://x/?page=9>; rel="last"`}, ""},
		{"no params", []string{`<https://x/?page=2>`}, ""},
		{"junk before params", []string{`<https://x/?page=2> junk; rel=next`}, ""},
		{"bracket inside target", []string{`<<https://x>; rel=next`}, ""},
		{"empty", []string{``}, ""},
		{"no header", nil, ""},
		{"garbage", []string{`garbage; rel="next"`}, ""},
		{"oversized header skipped", []string{`<https://x/` + strings.Repeat("a", maxLinkHeader) + `>; rel=next`, `<https://y>; rel=next`}, "https://y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NextLink(http.Header{"Link": tt.hdr}); got != tt.want {
				t.Errorf("NextLink(%q) = %q, want %q", tt.hdr, got, tt.want)
			}
		})
	}
}

// FuzzNextLink: Link headers come from the server; parsing them must never
// panic, and a result is part of the header and holds no angle bracket.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://api.github.com/orgs/a/members?page=2&per_page=2>; rel="next", <https://api.github.com/orgs/a/members?page=4>; rel="last"`,
		`<>; rel=next`, `<<<>>>, ,;;rel="next"`, `<https://x>; rel="next"; title="a,b"`, strings.Repeat("<a>,", 100), `<<a>; rel=next`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := NextLink(http.Header{"Link": {v}})
		if got != "" && (!strings.Contains(v, got) || strings.ContainsAny(got, "<>")) {
			t.Fatalf("NextLink(%q) = %q", v, got)
		}
	})
}
