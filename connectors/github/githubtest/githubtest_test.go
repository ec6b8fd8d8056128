package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

func send(t *testing.T, s *Server, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Accept", "application/vnd.github+json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestValidatorBites proves that a request GitHub's description forbids is
// reported, and that a valid one is not.
func TestValidatorBites(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"valid", "PUT", "/orgs/acme/memberships/ok", `{"role":"member"}`, ""},
		{"bad enum", "PUT", "/orgs/acme/memberships/someone", `{"role":"superuser"}`, "superuser"},
		{"bad team role", "PUT", "/orgs/acme/teams/t/memberships/someone", `{"role":"owner"}`, "owner"},
		{"bad invitation role", "POST", "/orgs/acme/invitations", `{"email":"a@example.com","role":"boss"}`, "boss"},
		{"bad query type", "GET", "/orgs/acme/members?per_page=lots", ``, "per_page"},
		{"undocumented operation", "GET", "/orgs/acme/secret-endpoint", ``, "no operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := spectest.NewRecorder(t)
			s := New(rec, Options{Token: "tok", AutoUsers: true})
			s.AddTeam("t")
			send(t, s, tc.method, tc.path, tc.body)
			errs := rec.Errors()
			if tc.want == "" {
				if len(errs) != 0 {
					t.Fatalf("valid request reported: %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tc.want) || !strings.Contains(errs[0], tc.method+" ") {
				t.Fatalf("want a violation naming %q with the method, got %v", tc.want, errs)
			}
		})
	}
}

// TestResponseValidation proves responses are checked against the vendor's
// schemas: a membership without its required fields is rejected.
func TestResponseValidation(t *testing.T) {
	sp, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	ok := Exchange{Method: "GET", Path: "/orgs/acme/memberships/x", Header: http.Header{}, Status: 200, RespHeader: h,
		RespBody: []byte(`{"state":"active","role":"member","url":"u","organization_url":"u"}`)}
	if err := sp.Validate(ok); err == nil || !strings.Contains(err.Error(), "organization") {
		t.Fatalf("membership without organization and user accepted: %v", err)
	}
	bad := ok
	bad.RespBody = []byte(`[]`)
	if err := sp.Validate(bad); err == nil {
		t.Fatal("array accepted as a membership")
	}
	state := Exchange{Method: "GET", Path: "/orgs/acme/teams/t/memberships/x", Header: http.Header{}, Status: 200, RespHeader: h,
		RespBody: []byte(`{"url":"https://x","role":"member","state":"sleeping"}`)}
	if err := sp.Validate(state); err == nil || !strings.Contains(err.Error(), "sleeping") {
		t.Fatalf("team membership state outside the enum accepted: %v", err)
	}
	state.RespBody = []byte(`{"url":"https://x","role":"member","state":"active"}`)
	if err := sp.Validate(state); err != nil {
		t.Fatalf("valid team membership rejected: %v", err)
	}
}

func TestEveryAnswerCarriesRateLimitHeaders(t *testing.T) {
	s := New(t, Options{Token: "tok"})
	for _, p := range []string{"/orgs/acme", "/orgs/acme/members", "/orgs/nope"} {
		res := send(t, s, "GET", p, "")
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used"} {
			if res.Header.Get(h) == "" {
				t.Errorf("%s: no %s", p, h)
			}
		}
	}
	s.Inject(Fault{Kind: PrimaryLimit, RetryAfter: time.Minute})
	res := send(t, s, "GET", "/orgs/acme", "")
	if res.StatusCode != 403 || res.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("primary limit answered %d remaining %q", res.StatusCode, res.Header.Get("X-RateLimit-Remaining"))
	}
	if res := send(t, s, "GET", "/orgs/acme", ""); res.StatusCode != 200 {
		t.Fatalf("fault outlived its count: %d", res.StatusCode)
	}
	unauth, _ := http.Get(s.URL + "/orgs/acme")
	unauth.Body.Close()
	if unauth.StatusCode != 401 {
		t.Fatalf("unauthenticated request answered %d", unauth.StatusCode)
	}
}

func signJWT(t *testing.T, key *rsa.PrivateKey, claims string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

func TestVerifyJWT(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Unix(1_700_000_000, 0)
	c := func(iat, exp int64, iss string) string {
		return fmt.Sprintf(`{"iat":%d,"exp":%d,"iss":%q}`, now.Unix()+iat, now.Unix()+exp, iss)
	}
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"good", signJWT(t, key, c(-60, 540, "42")), true},
		{"wrong key", signJWT(t, other, c(-60, 540, "42")), false},
		{"wrong issuer", signJWT(t, key, c(-60, 540, "43")), false},
		{"expired", signJWT(t, key, c(-700, -10, "42")), false},
		{"too long", signJWT(t, key, c(-60, 3600, "42")), false},
		{"issued in the future", signJWT(t, key, c(300, 600, "42")), false},
		{"garbage", "a.b.c", false},
		{"tampered", strings.Replace(signJWT(t, key, c(-60, 540, "42")), ".", ".x", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyJWT(tc.tok, &key.PublicKey, "42", now)
			if (err == nil) != tc.ok {
				t.Fatalf("verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
