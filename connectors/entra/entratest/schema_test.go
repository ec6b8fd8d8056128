package entratest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

func schema(t *testing.T) *Schema {
	t.Helper()
	s, err := LoadSchema()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaReadsGraphTypes(t *testing.T) {
	s := schema(t)
	props, ok := s.Props("User")
	if !ok {
		t.Fatal("no User")
	}
	for k, want := range map[string]string{
		"accountEnabled":  "NullableOption<boolean>",
		"passwordProfile": "NullableOption<PasswordProfile>",
		"signInActivity":  "NullableOption<SignInActivity>",
		"id":              "string",                 // from Entity
		"deletedDateTime": "NullableOption<string>", // from DirectoryObject
		"businessPhones":  "string[]",
	} {
		if props[k] != want {
			t.Errorf("User.%s is %q, want %q", k, props[k], want)
		}
	}
	if len(props) < 100 {
		t.Errorf("User has %d properties; the parser is missing some", len(props))
	}
	if s.HasProp("User", "enabled") {
		t.Error("User has a property enabled")
	}
}

// TestValidatorBites: what Graph does not define is reported, what it does is not.
func TestValidatorBites(t *testing.T) {
	s := schema(t)
	for _, tc := range []struct {
		typ, body, want string // want "" = valid
	}{
		{"User", `{"accountEnabled":true,"displayName":"A","mailNickname":"a","userPrincipalName":"a@x.com","passwordProfile":{"password":"Xx1!xxxxxx","forceChangePasswordNextSignIn":true}}`, ""},
		{"User", `{"accountEnabled":false}`, ""},
		{"User", `{"mail":null,"businessPhones":[]}`, ""},
		{"User", `{"enabled":false}`, `property "enabled" is not defined on User`},
		{"User", `{"accountEnabled":"false"}`, "$.accountEnabled: want a boolean, got a string"},
		{"User", `{"passwordProfile":{"password":"x","forceChange":true}}`, `property "forceChange" is not defined on PasswordProfile`},
		{"User", `{"businessPhones":"555"}`, "want an array"},
		{"User", `{"signInActivity":{"lastSignInDateTime":7}}`, "$.signInActivity.lastSignInDateTime: want a string"},
		{"DirectoryObject", `{"@odata.type":"#microsoft.graph.group","id":"g","displayName":"Eng","securityEnabled":true}`, ""},
		{"DirectoryObject", `{"@odata.type":"#microsoft.graph.group","id":"g","securityEnabled":"yes"}`, "securityEnabled: want a boolean"},
		{"DirectoryObject", `{"id":"g","displayName":"Eng"}`, `property "displayName" is not defined on DirectoryObject`},
		{"DirectoryObject", `{"@odata.type":"#microsoft.graph.nonsense","id":"g"}`, "names no Graph entity"},
		{"PublicErrorResponse", `{"error":{"code":"x","message":"y"}}`, ""},
		{"PublicErrorResponse", `{"error":{"code":1}}`, "want a string"},
		{"Group", `{"groupTypes":["Unified"],"visibility":"Private"}`, ""},
		{"Group", `[]`, "want a Group object"},
	} {
		probs := s.Validate(tc.typ, decode(t, tc.body))
		got := strings.Join(probs, "; ")
		switch {
		case tc.want == "" && len(probs) > 0:
			t.Errorf("%s %s: unexpected problems: %s", tc.typ, tc.body, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s %s: problems %q, want one saying %q", tc.typ, tc.body, got, tc.want)
		}
	}
}

func TestSchemaEnums(t *testing.T) {
	s := schema(t)
	// Any string-literal union of the package will do; find one to test.
	for name, lits := range s.enums {
		var one string
		for l := range lits {
			one = l
			break
		}
		s.ifaces["EnumProbe"] = &iface{props: map[string]string{"v": name}}
		if p := s.Validate("EnumProbe", map[string]any{"v": one}); len(p) > 0 {
			t.Errorf("%s %q: %v", name, one, p)
		}
		if p := s.Validate("EnumProbe", map[string]any{"v": "not-a-value-of-" + name}); len(p) == 0 {
			t.Errorf("%s accepted a value outside the enum", name)
		}
		delete(s.ifaces, "EnumProbe")
		return
	}
	t.Fatal("no enums parsed")
}

func TestParseSchemaRefusesOtherFiles(t *testing.T) {
	if _, err := ParseSchema("export interface Foo {\n    a?: string;\n}\n"); err == nil {
		t.Error("a file without the Graph entities parsed")
	}
}

// TestFakeRejectsWhatGraphDoesNotDefine sends the fake requests a careless
// connector could send and checks each is reported with method, path and
// reason, while a correct one is not.
func TestFakeRejectsWhatGraphDoesNotDefine(t *testing.T) {
	rec := spectest.NewRecorder(t)
	srv := New(rec)
	uid := srv.AddUser(User{UserPrincipalName: "a@example.com", AccountEnabled: true})
	gid := srv.AddGroup("Eng")
	res, err := http.PostForm(srv.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID},
		"client_secret": {ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	send := func(method, path, body string) int {
		req, _ := http.NewRequest(method, srv.GraphURL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		method, path, body, want string // want "" = no violation
	}{
		{"PATCH", "/users/" + uid, `{"accountEnabled":false}`, ""},
		{"GET", "/users?$select=id,signInActivity&$top=5", "", ""},
		{"POST", "/groups/" + gid + "/members/$ref", `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/` + uid + `"}`, ""},
		{"PATCH", "/users/" + uid, `{"enabled":false}`, `PATCH /users/` + uid + `: request body against User: $: property "enabled" is not defined on User`},
		{"PATCH", "/users/" + uid, `{"accountEnabled":"false"}`, "want a boolean, got a string"},
		{"POST", "/users", `{"userPrincipalName":"b@example.com","displayName":"B","mailNickname":"b","passwordProfile":{"password":"Aa1!aaaaaaaa"}}`, "user-post-users requires accountEnabled"},
		{"GET", "/users?$select=id,signinActivity", "", `$select of "signinActivity": not a property of User`},
		{"GET", "/users?$skip=10", "", "query option $skip is not documented for user-list"},
		{"GET", "/users/" + uid + "/licenseDetailz", "", "GET /users/" + uid + "/licenseDetailz: no such Graph v1.0 operation"},
		{"PUT", "/users/" + uid, `{}`, "no such Graph v1.0 operation (known path: true)"},
		{"POST", "/groups/" + gid + "/members/$ref", `{"@odata.id":"x","extra":1}`, `reference body must be exactly {"@odata.id": URL}`},
		{"POST", "/users/" + uid + "/revokeSignInSessions", `{"all":true}`, "takes no request body"},
	} {
		send(tc.method, tc.path, tc.body)
		got := strings.Join(rec.Take(), "\n")
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s %s: unexpected violation: %s", tc.method, tc.path, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s %s: violations %q, want one saying %q", tc.method, tc.path, got, tc.want)
		}
	}
	// Without a token Graph answers 401 and the fake validates its error body.
	req, _ := http.NewRequest("GET", srv.GraphURL()+"/users", nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d", res.StatusCode)
	}
}

func TestFilterParsing(t *testing.T) {
	for _, tc := range []struct {
		in, prop, val string
		ok            bool
	}{
		{"userPrincipalName eq 'a@x.com'", "userPrincipalName", "a@x.com", true},
		{"userPrincipalName eq 'conan.o''brien@x.com'", "userPrincipalName", "conan.o'brien@x.com", true},
		{"userPrincipalName eq 'conan.o'brien@x.com'", "", "", false},
		{"mail eq ''''", "mail", "'", true},
		{"mail eq 'a' or 1 eq 1", "", "", false},
	} {
		p, v, ok := parseFilter(tc.in)
		if p != tc.prop || v != tc.val || ok != tc.ok {
			t.Errorf("parseFilter(%q) = %q %q %v", tc.in, p, v, ok)
		}
	}
}
