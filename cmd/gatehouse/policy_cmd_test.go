package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const exampleConfig = "../../config.example.yaml"

func people(name string) string { return filepath.Join("../../examples/people", name+".json") }

func runPolicyCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func TestPlanGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"plan_joiner", []string{"--person", people("ada-backend")}},
		{"plan_mover", []string{"--person", people("ada-platform"), "--previous", people("ada-backend")}},
		{"plan_contractor", []string{"--person", people("carl-contractor")}},
		{"plan_conflict", []string{"--person", people("cleo-support-lead")}},
		{"plan_leaver", []string{"--person", people("ada-backend"), "--event", "leaver"}},
	}
	for _, tt := range tests {
		for _, asJSON := range []bool{false, true} {
			name := tt.name
			args := append([]string{"plan", "--config", exampleConfig, "--now", "2026-12-01"}, tt.args...)
			if asJSON {
				name += ".json"
				args = append(args, "--json")
			}
			t.Run(name, func(t *testing.T) {
				code, out, errOut := runPolicyCmd(t, args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				golden(t, name, out)
				if asJSON {
					var top map[string]json.RawMessage
					if err := json.Unmarshal([]byte(out), &top); err != nil {
						t.Fatal(err)
					}
					for _, k := range []string{"schema", "profiles", "grants", "approvals", "conflicts", "add", "remove", "keep", "review", "excluded"} {
						if v, ok := top[k]; !ok || string(v) == "null" {
							t.Errorf("JSON lacks %q (or it is null)", k)
						}
					}
				}
			})
		}
	}
}

func TestPlanUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan", "--config", exampleConfig}, 2, "usage"},
		{[]string{"plan", "--config", exampleConfig, "--person", people("ada-backend"), "--event", "party"}, 2, `event "party"`},
		{[]string{"plan", "--config", exampleConfig, "--person", "nope.json"}, 1, "read person"},
		{[]string{"plan", "--config", exampleConfig, "--person", people("ada-backend"), "--now", "tomorrow"}, 2, "--now"},
	} {
		code, _, errOut := runPolicyCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestCheckExample(t *testing.T) {
	code, out, errOut := runPolicyCmd(t, "check", "--config", exampleConfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{": ok", "17 apps", "11 profiles, 1 add-on", "25 rules", "2 SoD constraints"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
}

func TestCheckBroken(t *testing.T) {
	bad := `version: 1
admins: {it: [U0IT00001]}
apps:
  okta: {connector: simulated, owner: it@example.com}
  gh: {connector: gitlab, owner: gh@example.com}
profiles:
  p: {grants: [okta, gh:admin]}
rules:
  - name: not-bool
    when: identity.department
    profiles: [p]
  - name: typo
    when: identity.tema == "sre"
    profiles: [p, q]
  - name: ok
    when: 'identity.kind == "employee"'
    profiles: [p]
`
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runPolicyCmd(t, "check", "--config", path)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := []string{
		"bad.yaml:5:19: apps.gh.connector: unknown connector \"gitlab\"",
		"bad.yaml:7:22: profiles.p.grants[1]: app \"gh\" has no entitlement \"admin\"",
		"bad.yaml:10:11: rules.not-bool.when: must be boolean, got string",
		"bad.yaml:13:20: rules.typo.when: unknown field tema (did you mean team?)",
		"bad.yaml:14:19: rules.typo.profiles: unknown profile \"q\"",
		"5 errors",
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestPolicyTestCommand(t *testing.T) {
	code, out, errOut := runPolicyCmd(t, "test", "--config", exampleConfig)
	if code != 0 || !strings.HasPrefix(out, "ok  \t") {
		t.Fatalf("example policy tests: exit %d\n%s%s", code, out, errOut)
	}
	failing := `now: 2026-12-01
tests:
  - name: wrong on purpose
    person: ` + people("ada-backend") + `
    expect:
      profiles: [employee-base]
      grants: [figma:editor]
      absent: [github:backend]
      approvals:
        aws:prod-readonly: [manager, it]
  - name: right
    person: ` + people("ada-backend") + `
    expect:
      grants: [github:backend]
`
	dir := t.TempDir()
	// person paths are relative to the test file
	failing = strings.ReplaceAll(failing, "../../", mustAbs(t, "../..")+"/")
	path := filepath.Join(dir, "failing.yaml")
	if err := os.WriteFile(path, []byte(failing), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runPolicyCmd(t, "test", "--config", exampleConfig, "-v", path)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, w := range []string{
		"--- FAIL: wrong on purpose",
		"failing.yaml:3: profiles differ (- want, + got):\n        + backend-engineer\n          employee-base\n        + engineer-base",
		"- figma:editor",
		"+ github:backend  ← backend-engineers (backend-engineer)",
		"- aws:prod-readonly: [manager, it]\n        + aws:prod-readonly: [manager]",
		"--- PASS: right",
		"FAIL\t" + path + "\t1 of 2 failed",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCheckWarnsAboutNilPrevious(t *testing.T) {
	text := `version: 1
admins: {it: [U0IT00001]}
apps:
  okta: {connector: simulated, owner: it@example.com}
profiles:
  p: {grants: [okta]}
rules:
  - name: movers
    when: 'previous.team != identity.team'
    profiles: [p]
`
	path := filepath.Join(t.TempDir(), "lint.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runPolicyCmd(t, "check", "--config", path)
	if code != 0 || !strings.Contains(errOut, "lint.yaml:9:12: warning: rules.movers.when: fails for a joiner (employee, previous is nil)") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestMissingConfigSaysWhatToDo(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"check", "--config", filepath.Join(t.TempDir(), "absent.yaml")}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "pass --config FILE or set GATEHOUSE_CONFIG") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
}
