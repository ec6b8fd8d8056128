package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadSmall(t *testing.T) {
	data, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("small.yaml", data, env(map[string]string{"SLACK_BOT_TOKEN": "xoxb-secret-value"}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.AppNames(); strings.Join(got, ",") != "github,okta" {
		t.Errorf("apps = %v", got)
	}
	if cfg.IdP() == nil || cfg.IdP().Name != "okta" {
		t.Errorf("idp = %+v", cfg.IdP())
	}
	acct, ok := cfg.Entitlement(gatehouse.EntitlementRef{App: "okta", Entitlement: "account"})
	if !ok || acct.MonthlyCost != 6 || acct.Kind != gatehouse.EntAccount {
		t.Errorf("implicit account entitlement = %+v, %v", acct, ok)
	}
	if cfg.SoD[0].Action != "review" || cfg.Approvals.RemindAfter == 0 {
		t.Errorf("defaults not applied: %+v", cfg.Approvals)
	}
	v, err := cfg.Slack.BotToken.Value()
	if err != nil || v != "xoxb-secret-value" {
		t.Errorf("bot token = %q, %v", v, err)
	}
	var s struct {
		BaseURL string `yaml:"base_url"`
		Token   Secret `yaml:"token"`
	}
	if errs := cfg.Apps["okta"].Settings.Decode(&s); errs.Err() != nil {
		t.Fatalf("settings: %v", errs)
	}
	if _, err := s.Token.Value(); err == nil || !strings.Contains(err.Error(), "OKTA_TOKEN is not set") {
		t.Errorf("unset secret error = %v", err)
	}
	if s.BaseURL != "https://example.okta.com" {
		t.Errorf("base_url = %q", s.BaseURL)
	}
}

// TestSecretsNeverPrinted checks every formatting path of a resolved secret.
func TestSecretsNeverPrinted(t *testing.T) {
	s := NewSecret("hunter2", "env:X")
	for _, out := range []string{s.String(), s.GoString(), mustJSON(t, s), sprintf("%v %+v %#v %s %q", s, s, s, s, s)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	cfg := &Config{Slack: SlackConfig{BotToken: s}}
	if strings.Contains(sprintf("%+v", cfg), "hunter2") {
		t.Errorf("secret leaked through the %s form of the config", "%+v")
	}
}

func TestErrorsAllAtOnceWithPositions(t *testing.T) {
	src := `version: 1
admins:
  it: [nobody]
apps:
  okta:
    connector: oktaa
    owner: not-an-email
    colour: blue
    entitlements:
      admins: {kind: group, risk: extreme}
      x: {kind: gruop, risk: low}
profiles:
  eng:
    grants: [okta:admin, slack:member]
rules:
  - name: r1
    when: "true"
    profiles: [eng, missing]
    addons: [eng]
  - name: r1
    when: ""
    grant: [okta]
sod:
  - name: s
    entitlements: [okta:x]
`
	_, err := Parse("bad.yaml", []byte(src), env(nil))
	if err == nil {
		t.Fatal("want errors")
	}
	want := []string{
		"bad.yaml:3:8: admins.it[0]",
		"bad.yaml:6:16: apps.okta.connector: unknown connector \"oktaa\"",
		"bad.yaml:7:12: apps.okta.owner",
		"bad.yaml:8:5: apps.okta.colour: unknown key",
		"bad.yaml:10:35: apps.okta.entitlements.admins.risk: risk \"extreme\"",
		"bad.yaml:11:17: apps.okta.entitlements.x.kind: unknown kind \"gruop\"",
		"bad.yaml:14:14: profiles.eng.grants[0]: app \"okta\" has no entitlement \"admin\" (did you mean \"admins\"?)",
		"bad.yaml:14:26: profiles.eng.grants[1]: unknown app \"slack\"",
		"rules.r1.profiles: unknown profile \"missing\"",
		"rules.r1.addons: unknown add-on \"eng\"",
		"bad.yaml:20:11: rules.r1.name: duplicate rule name",
		"rules.r1.when: required",
		"sod.s.entitlements: list at least two",
	}
	got := err.Error()
	if strings.Contains(got, "risk: required") {
		t.Errorf("a risk that failed to parse must not also be reported missing:\n%s", got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

func TestSecretFileAndConflicts(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tok")
	if err := os.WriteFile(p, []byte("xapp-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, slack, wantErr, wantVal string
	}{
		{"file", "app_token_file: " + p, "", "xapp-from-file"},
		{"both", "app_token: ${A}\n  app_token_file: " + p, "set either app_token or app_token_file", ""},
		{"bad ref", "app_token: ${A-B}", "exactly ${NAME}", ""},
		{"literal warns", "app_token: xapp-literal", "", "xapp-literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\nadmins: {it: [U01]}\napps:\n  a: {connector: manual, owner: o@example.com}\nprofiles:\n  p: {grants: [a]}\nrules:\n  - {name: r, when: 'true', profiles: [p]}\nslack:\n  " + tt.slack + "\n"
			cfg, err := Parse("c.yaml", []byte(src), env(map[string]string{"A": "x"}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := cfg.Slack.AppToken.Value(); v != tt.wantVal {
				t.Errorf("value = %q", v)
			}
			if strings.Contains(tt.name, "literal") && len(cfg.Warnings) == 0 {
				t.Error("literal secret should warn")
			}
		})
	}
}

func TestDependencyCycle(t *testing.T) {
	src := "version: 1\nadmins: {it: [U01]}\napps:\n  a: {connector: manual, owner: o@example.com, depends_on: [b]}\n  b: {connector: manual, owner: o@example.com, depends_on: [a]}\nprofiles:\n  p: {grants: [a]}\nrules:\n  - {name: r, when: 'true', profiles: [p]}\n"
	_, err := Parse("c.yaml", []byte(src), env(nil))
	if err == nil || !strings.Contains(err.Error(), "dependency cycle: a → b → a") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/small.yaml")
	f.Add(seed)
	f.Add([]byte("version: 1\napps: [1, 2]\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte("rules:\n  - when: |\n      true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, env(nil))
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}

func TestUnresolvedSecretIsDistinguishable(t *testing.T) {
	src := "version: 1\nadmins: {it: [U01]}\napps:\n  a: {connector: manual, owner: o@example.com}\nprofiles:\n  p: {grants: [a]}\nrules:\n  - {name: r, when: 'true', profiles: [p]}\nslack:\n  bot_token: ${NOPE}\n"
	cfg, err := Parse("c.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Slack.BotToken.Value()
	if !errors.Is(err, ErrSecretUnresolved) || !strings.Contains(err.Error(), "c.yaml:10:14: environment variable NOPE is not set") {
		t.Fatalf("err = %v", err)
	}
}

func TestITWithoutEmailWarns(t *testing.T) {
	src := "version: 1\nadmins: {it: [U01, S02]}\napps:\n  a: {connector: manual, owner: o@example.com}\nprofiles:\n  p: {grants: [a]}\nrules:\n  - {name: r, when: 'true', profiles: [p]}\n"
	cfg, err := Parse("c.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Key != "admins.it_email" {
		t.Fatalf("warnings = %v", cfg.Warnings)
	}
}

func TestRevokeOnLeave(t *testing.T) {
	base := "version: 1\nadmins: {it: [U01], it_email: it@example.com}\napps:\n  a: {connector: manual, owner: o@example.com%s}\nprofiles:\n  p: {grants: [a]}\nrules:\n  - {name: r, when: 'true', profiles: [p]}\n"
	for _, c := range []struct {
		name, extra string
		want        *bool
		err         string
	}{
		{"unset: the connector decides", "", nil, ""},
		{"false", ", revoke_on_leave: false", new(false), ""},
		{"true", ", revoke_on_leave: true", new(true), ""},
		{"not a bool", ", revoke_on_leave: sometimes", nil, "c.yaml:4:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(strings.Replace(base, "%s", c.extra, 1)), env(nil))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one at %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Apps["a"].RevokeOnLeave
			if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
				t.Fatalf("revoke_on_leave = %v, want %v", got, c.want)
			}
		})
	}
}
