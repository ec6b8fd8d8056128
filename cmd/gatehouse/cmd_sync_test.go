package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const syncTestConfig = `version: 1
organization: {name: Example, domain: example.com, time_zone: Europe/Berlin}
admins: {it: [it@example.com], it_channel: C0ITCHAN1}
apps:
  okta:
    connector: simulated
    owner: it@example.com
    idp: true
    entitlements:
      everyone: {kind: group, risk: low}
profiles:
  base: {grants: [okta:everyone]}
rules:
  - name: everyone
    when: "true"
    profiles: [base]
hr:
  guard: {max_people: 10, max_share: 0.05}
  sources:
    people:
      vendor: csv
      roster: file
      file: %s
`

func writeSyncRoster(t *testing.T, path string, n, skipEvery int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("employee_id,email,name,department,title,manager_email,start_date,status\n")
	for i := 1; i <= n; i++ {
		if skipEvery > 0 && i%skipEvery == 0 {
			continue
		}
		fmt.Fprintf(&b, "%d,p%d@example.com,Person %d,Eng,Dev,boss@example.com,2025-01-06,active\n", i, i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runSyncCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runSync(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestSyncCommand(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "roster.csv")
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	db := filepath.Join(dir, "g.db")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(syncTestConfig, roster)), 0o600); err != nil {
		t.Fatal(err)
	}
	writeSyncRoster(t, roster, 24, 0)

	code, out, errs := runSyncCmd(t, "--config", cfgPath, "--db", db, "--dry-run")
	if code != 0 || !strings.Contains(out, "joiners (24)") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a dry run created the database")
	}
	code, out, errs = runSyncCmd(t, "--config", cfgPath, "--db", db, "--simulate")
	if code != 0 || !strings.Contains(out, "joiners (24)") || !strings.Contains(out, "submitted") {
		t.Fatalf("sync: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runSyncCmd(t, "--config", cfgPath, "--db", db, "--dry-run", "--source", "people")
	if code != 0 || !strings.Contains(out, "in sync") {
		t.Fatalf("second dry run: %d\n%s", code, out)
	}
	// A mover and half the company gone.
	writeSyncRoster(t, roster, 24, 2)
	code, out, errs = runSyncCmd(t, "--config", cfgPath, "--db", db, "--simulate")
	if code != 0 || !strings.Contains(out, "leavers (12)") || !strings.Contains(out, "HELD") {
		t.Fatalf("half the roster lost: %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = runSyncCmd(t, "--config", cfgPath, "--db", db, "--source", "nope", "--dry-run")
	if code != 1 || !strings.Contains(errs, "no source named") {
		t.Fatalf("unknown source: %d %s", code, errs)
	}
}

// TestSyncExampleContractors runs the example config's CSV source the way the
// README suggests: the roster path is relative to the config file.
func TestSyncExampleContractors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"sync", "--config", "../../config.example.yaml", "--db", db, "--source", "contractors", "--dry-run"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "joiners (2)") || !strings.Contains(out.String(), "carl.contractor@example.com") {
		t.Fatalf("sync: %d\n%s\n%s", code, out.String(), errb.String())
	}
}
