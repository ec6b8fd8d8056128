package main

import (
	"path/filepath"
	"strings"
	"testing"

	gatehouse "github.com/gatehousehq/gatehouse"
)

const botYAML = `kind: bot
name: Deploy bot
email: Deploy-Bot@example.com
owner: ada@example.com
purpose: deploys main to production
expiry: 2099-12-01
access: [aws:readonly, github:member]
`

func TestParseRegistration(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // substrings of the error; none: valid
	}{
		{"yaml", botYAML, nil},
		{"json", `{"kind":"ai_agent","name":"Agent","email":"agent@example.com","owner":"ada@example.com","purpose":"triage","expiry":"2099-01-01","access":["aws:readonly"]}`, nil},
		{"no owner", strings.Replace(botYAML, "owner: ada@example.com\n", "", 1), []string{"needs an owner"}},
		{"no access", strings.Replace(botYAML, "access: [aws:readonly, github:member]\n", "", 1), []string{"access is required"}},
		{"person kind", strings.Replace(botYAML, "kind: bot", "kind: employee", 1), []string{"kind \"employee\""}},
		{"bad date", strings.Replace(botYAML, "2099-12-01", "next year", 1), []string{"expiry \"next year\""}},
		{"bad access", strings.Replace(botYAML, "github:member", "github", 1), []string{"access[1]"}},
		{"unknown key", botYAML + "admin: true\n", []string{"admin"}},
		{"two documents", botYAML + "---\n" + botYAML, []string{"one document"}},
		{"owns itself", strings.Replace(botYAML, "ada@example.com", "deploy-bot@example.com", 1), []string{"own itself"}},
		{"empty", "", []string{"empty"}},
		{"everything wrong", "kind: robot\n", []string{"kind", "expiry", "access", "name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := parseRegistration([]byte(tc.in))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if reg.Identity.Owner != "ada@example.com" || len(reg.Access) == 0 || reg.Identity.Expiry.IsZero() || reg.Identity.Kind.Human() {
					t.Fatalf("parsed %+v", reg)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", reg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(botYAML))
	f.Add([]byte(`{"kind":"bot","email":"a@b.co","owner":"c@d.co","purpose":"x","expiry":"2030-01-01","access":["a:b"],"name":"n"}`))
	f.Add([]byte("kind: [\n"))
	f.Add([]byte("access: &a [*a]\n"))
	f.Add([]byte("expiry: 0000-00-00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := parseRegistration(data)
		if err != nil {
			return
		}
		id := reg.Identity
		// Whatever is accepted has an owner, a purpose, an expiry and access.
		if id.Kind.Human() || !gatehouse.ValidEmail(id.Owner) || !gatehouse.ValidEmail(id.Email) || id.Purpose == "" || id.Expiry.IsZero() || len(reg.Access) == 0 {
			t.Fatalf("accepted an incomplete registration: %+v", reg)
		}
		for _, r := range reg.Access {
			if r.App == "" || r.Entitlement == "" {
				t.Fatalf("accepted access %+v", r)
			}
		}
	})
}

func TestIdentityRegisterAndList(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	flags := []string{"--config", lifecycleConfig, "--db", db}
	ada := writeFile(t, dir, "ada.json", `{"email":"ada@example.com","name":"Ada Lovelace","employee_id":"E1","department":"Sales"}`)
	if code, out, errs := runCLI(t, append([]string{"onboard", "--person", ada}, flags...)...); code != 0 {
		t.Fatalf("onboard owner: %d %s %s", code, out, errs)
	}
	// Refused before anything is written: the catalog lacks the entitlement.
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(botYAML, "github:member", "github:nope", 1))
	if code, _, errs := runCLI(t, append([]string{"identity", "register", "--file", bad}, flags...)...); code != 1 || !strings.Contains(errs, "github:nope") {
		t.Fatalf("unknown entitlement: %d %s", code, errs)
	}
	// An owner Gatehouse does not know: no owner, no access.
	ghost := writeFile(t, dir, "ghost.yaml", strings.Replace(botYAML, "ada@example.com", "ghost@example.com", 1))
	if code, _, errs := runCLI(t, append([]string{"identity", "register", "--file", ghost}, flags...)...); code != 1 || !strings.Contains(errs, "ghost@example.com") {
		t.Fatalf("unknown owner: %d %s", code, errs)
	}
	good := writeFile(t, dir, "bot.yaml", botYAML)
	code, out, errs := runCLI(t, append([]string{"identity", "register", "--file", good}, flags...)...)
	if code != 0 || !strings.Contains(out, "registered bot deploy-bot@example.com") || !strings.Contains(out, "access_request deploy-bot@example.com): succeeded") {
		t.Fatalf("register: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, append([]string{"identity", "list", "--kind", "bot"}, flags...)...)
	if code != 0 || !strings.Contains(out, "deploy-bot@example.com") || !strings.Contains(out, "ada@example.com") || !strings.Contains(out, "2099-12-01") {
		t.Fatalf("list: %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ = runCLI(t, append([]string{"identity", "list", "--kind", "ai_agent"}, flags...)...); code != 0 || strings.Contains(out, "deploy-bot") {
		t.Fatalf("list ai_agent: %d %s", code, out)
	}
	if code, _, _ = runCLI(t, append([]string{"identity", "list", "--kind", "employee"}, flags...)...); code != 2 {
		t.Fatalf("list --kind employee: %d, want usage error", code)
	}
}
