package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/ldap/ldaptest"
)

const appsConfig = `version: 1
organization: {name: Example, domain: example.com}
admins:
  it: [it@example.com]
apps:
  hr-sim:
    connector: simulated
    owner: it@example.com
    settings:
      accounts:
        - {user_name: ann, email: ann@example.com, entitlements: [admins], last_activity: 2d ago}
        - {user_name: ghost, email: ghost@example.com, disabled: true}
    entitlements:
      admins: {kind: role, risk: high}
  payroll:
    connector: manual
    owner: payroll-owner@example.com
LDAP_APPS
rules:
  - name: everyone
    when: "true"
    grant: [hr-sim]
`

const ldapApps = `  dir:
    connector: ldap
    owner: it@example.com
    settings:
      url: URL
      bind_dn: cn=admin,dc=example,dc=com
      bind_password: ${GATEHOUSE_TEST_LDAP_PASSWORD}
      base_dn: dc=example,dc=com
      users_dn: dc=example,dc=com
      groups_dn: ou=groups,dc=example,dc=com
    entitlements:
      eng: {kind: group, resource: engineering, risk: low}
  dir-wrong-password:
    connector: ldap
    owner: it@example.com
    settings:
      url: URL
      bind_dn: cn=admin,dc=example,dc=com
      bind_password: ${GATEHOUSE_TEST_LDAP_WRONG}
      base_dn: dc=example,dc=com
`

func writeAppsConfig(t *testing.T, ldapURL string) string {
	t.Helper()
	text := strings.Replace(appsConfig, "LDAP_APPS", "", 1)
	if ldapURL != "" {
		text = strings.Replace(appsConfig, "LDAP_APPS", strings.ReplaceAll(ldapApps, "URL", ldapURL), 1)
	}
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAppsCheckSimulatedAndManual(t *testing.T) {
	cfg := writeAppsConfig(t, "")
	code, out, stderr := runCmd(t, "apps", "check", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"APP", "hr-sim   simulated  OK",
		"payroll  manual     UNCHECKED",
		"payroll: not checked: manual payroll: people do its operations",
		"delete,disable,enable,ensure_account,grant,list_accounts,revoke,revoke_sessions,transfer_ownership",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// One app by name, flags after the positional.
	code, out, _ = runCmd(t, "apps", "check", "hr-sim", "--config", cfg)
	if code != 0 || strings.Contains(out, "payroll") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, _, stderr = runCmd(t, "apps", "check", "nope", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, `no app "nope"`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestAppsAccounts(t *testing.T) {
	cfg := writeAppsConfig(t, "")
	code, out, stderr := runCmd(t, "apps", "accounts", "hr-sim", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[1], "ann") || !strings.Contains(lines[1], "yes") || !strings.Contains(lines[1], "(2d ago)") || !strings.Contains(lines[1], "admins") ||
		!strings.Contains(lines[2], "ghost") || !strings.Contains(lines[2], " no ") ||
		lines[3] != "2 accounts, 1 active" {
		t.Fatalf("table:\n%s", out)
	}
	code, out, _ = runCmd(t, "apps", "accounts", "--json", "--config", cfg, "hr-sim")
	var accts []gatehouse.Account
	if code != 0 || json.Unmarshal([]byte(out), &accts) != nil || len(accts) != 2 || accts[0].UserName != "ann" || accts[0].LastActivity.IsZero() {
		t.Fatalf("json (exit %d):\n%s", code, out)
	}
	code, _, stderr = runCmd(t, "apps", "accounts", "payroll", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "cannot list accounts") {
		t.Fatalf("manual without roster: exit %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "apps", "accounts", "--config", cfg); code != 2 {
		t.Fatalf("missing app: exit %d", code)
	}
	if code, _, _ := runCmd(t, "apps", "frobnicate"); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
}

func TestAppsAgainstSlapd(t *testing.T) {
	srv := ldaptest.Need(t)
	t.Setenv("GATEHOUSE_TEST_LDAP_PASSWORD", ldaptest.AdminPassword)
	t.Setenv("GATEHOUSE_TEST_LDAP_WRONG", "wrong-password-value")
	cfg := writeAppsConfig(t, srv.URL)

	code, out, stderr := runCmd(t, "apps", "check", "--config", cfg)
	if code != 1 {
		t.Fatalf("want exit 1 (one app has a wrong password), got %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"dir                 ldap       OK",
		"dir-wrong-password  ldap       FAIL",
		"dir-wrong-password: permanent: ldap dir-wrong-password bind as cn=admin,dc=example,dc=com: LDAP Result Code 49",
		"Invalid Credentials",
		"delete,disable,enable,ensure_account,grant,list_accounts,revoke",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "1 of 4 apps failed") {
		t.Errorf("stderr: %s", stderr)
	}
	for _, secret := range []string{ldaptest.AdminPassword, "wrong-password-value"} {
		if strings.Contains(out+stderr, secret) {
			t.Fatalf("a secret was printed:\n%s\n%s", out, stderr)
		}
	}

	code, out, stderr = runCmd(t, "apps", "accounts", "dir", "--config", cfg)
	if code != 0 || !strings.Contains(out, "ghost@example.com") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}

	// --simulate contacts nothing: the wrong password does not matter.
	code, out, stderr = runCmd(t, "apps", "check", "--simulate", "--config", cfg)
	if code != 0 || !strings.Contains(out, "dir-wrong-password  simulated  OK") || !strings.Contains(out, "nothing real was contacted") {
		t.Fatalf("simulate: exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestAppsCheckUnbuildableApp(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	text := strings.Replace(appsConfig, "LDAP_APPS", `  dir:
    connector: ldap
    owner: it@example.com
    settings: {url: "http://nope", base_dn: "dc=x"}
`, 1)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "apps", "check", "--config", p)
	if code != 1 || !strings.Contains(out, "dir      ldap       FAIL") || !strings.Contains(out, "dir: config: cannot build the connector") || !strings.Contains(out, "hr-sim   simulated  OK") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
