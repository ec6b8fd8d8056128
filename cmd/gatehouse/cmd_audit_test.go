package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// auditTestDB builds a small database: Ada (keyed by employee id) held
// github:admin from Jan 1 to Jan 5 and again from Jan 10; Bob holds github:read.
func auditTestDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = db.PutIdentity(gatehouse.Identity{Email: "ada@example.com", EmployeeID: "E1", Name: "Ada"})
	must(err)
	_, err = db.PutIdentity(gatehouse.Identity{Email: "bob@example.com", Name: "Bob"})
	must(err)
	boss := gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "boss@example.com"}
	_, err = db.AppendAudit(gatehouse.AuditEntry{Time: day(1).Add(-time.Hour), Actor: boss, Action: "approve", IdentityKey: "emp:E1", App: "github", Entitlement: "admin", Reason: "UNIQUE-REASON-42"})
	must(err)
	_, err = db.PutGrant(gatehouse.Grant{Identity: "emp:E1", App: "github", Entitlement: "admin", Source: gatehouse.SourceRequest, ApprovedBy: []string{"boss@example.com"}, GrantedAt: day(1)},
		gatehouse.AuditEntry{Time: day(1), Actor: boss, Action: "grant", IdentityKey: "emp:E1", App: "github", Entitlement: "admin", Details: map[string]string{"api_token": "hunter2", "ticket": "T-1"}})
	must(err)
	_, err = db.RevokeGrant("emp:E1", "github", "admin", day(5), "it@example.com",
		gatehouse.AuditEntry{Time: day(5), Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "it@example.com"}, Action: "revoke", IdentityKey: "emp:E1", App: "github", Entitlement: "admin"})
	must(err)
	_, err = db.PutGrant(gatehouse.Grant{Identity: "emp:E1", App: "github", Entitlement: "admin", Source: gatehouse.SourceBirthright, GrantedAt: day(10)})
	must(err)
	_, err = db.PutGrant(gatehouse.Grant{Identity: "bob@example.com", App: "github", Entitlement: "read", Source: gatehouse.SourceBirthright, GrantedAt: day(2)},
		gatehouse.AuditEntry{Time: day(2), Actor: gatehouse.Actor{Kind: gatehouse.ActorRule, ID: "everyone"}, Action: "grant", IdentityKey: "bob@example.com", App: "github", Entitlement: "read"})
	must(err)
	return path
}

func storeRunCmd(t *testing.T, run func(context.Context, []string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditVerifyCommand(t *testing.T) {
	path := auditTestDB(t)
	code, out, errs := storeRunCmd(t, runAudit, "verify", "--db", path)
	if code != 0 || !strings.HasPrefix(out, "audit chain OK: 4 entries, head ") || errs != "" {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
	// Flip one byte of an entry in the file: verify must fail naming it.
	// bbolt copies pages on write, so freed pages may hold stale copies of
	// the entry: edit every copy, so that the live one is edited too.
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte("UNIQUE-REASON-42")) {
		t.Fatal("entry not found in file")
	}
	raw = bytes.ReplaceAll(raw, []byte("UNIQUE-REASON-42"), []byte("XNIQUE-REASON-42"))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = storeRunCmd(t, runAudit, "verify", "--db", path)
	if code != 1 || out != "" || !strings.Contains(errs, "entry 1 (edited)") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("tampered: code %d out %q err %q", code, out, errs)
	}
}

func TestAuditCommandErrors(t *testing.T) {
	path := auditTestDB(t)
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notDB, []byte("hello"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "usage"},
		{"unknown subcommand", []string{"frobnicate"}, 2, "unknown subcommand"},
		{"missing db", []string{"verify"}, 2, "needs --db"},
		{"absent file", []string{"verify", "--db", filepath.Join(t.TempDir(), "nope.db")}, 1, "no such file"},
		{"not a database", []string{"verify", "--db", notDB}, 1, "not a gatehouse database"},
		{"bad time", []string{"who-had", "github", "--at", "yesterday", "--db", path}, 2, "RFC 3339"},
		{"bad ref", []string{"who-had", "github:", "--db", path}, 2, "APP or APP:ENTITLEMENT"},
		{"missing ref", []string{"who-had", "--db", path}, 2, "want 1 argument"},
		{"bad format", []string{"export", "--format", "xml", "--db", path}, 2, "jsonl or csv"},
		{"help", []string{"verify", "-h"}, 0, "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := storeRunCmd(t, runAudit, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("code %d err %q, want %d and %q", code, errs, tc.code, tc.want)
			}
		})
	}
	// Read commands never modify the file.
	before, _ := os.ReadFile(path)
	storeRunCmd(t, runAudit, "history", "ada@example.com", "--db", path)
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a read command modified the database")
	}
}

func TestAuditLockedCommand(t *testing.T) {
	path := auditTestDB(t)
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	code, _, errs := storeRunCmd(t, runAudit, "verify", "--db", path)
	if code != 1 || !strings.Contains(errs, "in use by another gatehouse process") {
		t.Fatalf("code %d err %q", code, errs)
	}
}

func TestAuditExportCommand(t *testing.T) {
	path := auditTestDB(t)
	code, out, errs := storeRunCmd(t, runAudit, "export", "--db", path)
	if code != 0 || errs != "" {
		t.Fatalf("code %d err %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	var e gatehouse.AuditEntry
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Seq != 2 || e.Details["ticket"] != "T-1" || e.Hash == "" {
		t.Fatalf("entry: %+v", e)
	}
	if strings.Contains(out, "hunter2") || e.Details["api_token"] != "[redacted]" {
		t.Fatal("a secret was exported")
	}
	// An unredacted entry re-hashes to its exported hash.
	var first gatehouse.AuditEntry
	json.Unmarshal([]byte(lines[0]), &first)
	if h, _ := store.HashAuditEntry(first); h != first.Hash {
		t.Fatalf("exported entry does not re-hash: %s vs %s", h, first.Hash)
	}

	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--identity", "ADA@example.com"}, 3},
		{[]string{"--identity", "bob@example.com"}, 1},
		{[]string{"--since", "2026-01-02"}, 2},
		{[]string{"--since", "2026-01-01T11:00:00Z", "--until", "2026-01-03"}, 3},
		{[]string{"--app", "gitlab"}, 0},
	} {
		_, out, errs := storeRunCmd(t, runAudit, append([]string{"export", "--db", path}, tc.args...)...)
		if n := strings.Count(out, "\n"); n != tc.want {
			t.Errorf("%v: %d entries (%s), want %d", tc.args, n, errs, tc.want)
		}
	}

	file := filepath.Join(t.TempDir(), "audit.csv")
	code, out, errs = storeRunCmd(t, runAudit, "export", "--db", path, "--format", "csv", "--out", file)
	if code != 0 || out != "" || !strings.Contains(errs, "exported 4 audit entries") {
		t.Fatalf("csv: code %d out %q err %q", code, out, errs)
	}
	f, _ := os.Open(file)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 5 || recs[0][0] != "seq" || recs[2][4] != "grant" {
		t.Fatalf("csv: %v %v", err, recs)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("export mode %v", fi.Mode())
	}
}

func TestAuditWhoHadCommand(t *testing.T) {
	path := auditTestDB(t)
	tests := []struct {
		args       []string
		want, none []string
	}{
		{[]string{"github:admin", "--at", "2026-01-03"}, []string{"ada@example.com", "github:admin", "2026-01-01 12:00:00Z", "2026-01-05 12:00:00Z", "request", "boss@example.com"}, []string{"bob"}},
		{[]string{"--at", "2026-01-03T00:00:00Z", "github"}, []string{"ada@example.com", "bob@example.com", "github:read"}, nil},
		{[]string{"github:admin", "--at", "2026-01-07"}, []string{"nobody held github:admin"}, nil},
		{[]string{"github:admin", "--at", "2026-01-11"}, []string{"ada@example.com", "birthright"}, []string{"boss@"}},
	}
	for _, tc := range tests {
		code, out, errs := storeRunCmd(t, runAudit, append([]string{"who-had", "--db", path}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: code %d err %q", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, w := range tc.none {
			if strings.Contains(out, w) {
				t.Errorf("%v: output has %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestAuditHistoryCommand(t *testing.T) {
	path := auditTestDB(t)
	code, out, errs := storeRunCmd(t, runAudit, "history", "Ada@Example.com", "--db", path)
	if code != 0 {
		t.Fatalf("code %d err %q", code, errs)
	}
	t.Logf("history:\n%s", out)
	_, who, _ := storeRunCmd(t, runAudit, "who-had", "github", "--at", "2026-01-03", "--db", path)
	t.Logf("who-had:\n%s", who)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var events []string
	for _, l := range lines[1:] {
		events = append(events, strings.Fields(l)[2])
	}
	want := "approve granted grant revoked revoke granted"
	if strings.Join(events, " ") != want {
		t.Fatalf("events %v, want %s\n%s", events, want, out)
	}
	if !strings.Contains(out, "UNIQUE-REASON-42") || !strings.Contains(out, "person:boss@example.com") {
		t.Fatalf("history lacks the decision:\n%s", out)
	}
	_, out, _ = storeRunCmd(t, runAudit, "history", "nobody@example.com", "--db", path)
	if !strings.Contains(out, "no history") {
		t.Fatalf("unknown person: %q", out)
	}
}
