package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/store"
)

const lifecycleConfig = "../../lifecycle/testdata/config.yaml"

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOnboardOffboardRunsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	ada := writeFile(t, dir, "ada.json", `{"email":"ada@example.com","name":"Ada Lovelace","employee_id":"E1","department":"Sales","manager_email":"grace@example.com"}`)
	grace := writeFile(t, dir, "grace.json", `{"email":"grace@example.com","name":"Grace Hopper","employee_id":"E2","department":"Sales"}`)
	flags := []string{"--config", lifecycleConfig, "--db", db}
	for _, p := range []string{grace, ada} {
		code, out, errs := runCLI(t, append([]string{"onboard", "--person", p}, flags...)...)
		if code != 0 || !strings.Contains(out, ": succeeded") {
			t.Fatalf("onboard %s: %d\n%s\n%s", p, code, out, errs)
		}
	}
	// Again: the same event, one run.
	code, out, _ := runCLI(t, append([]string{"onboard", "--person", ada}, flags...)...)
	if code != 0 || !strings.Contains(out, "already submitted") {
		t.Fatalf("second onboard: %d %s", code, out)
	}
	// Not a terminal and no --yes: refuse, change nothing.
	origIn, origTTY := confirmIn, confirmInIsTerminal
	t.Cleanup(func() { confirmIn, confirmInIsTerminal = origIn, origTTY })
	confirmInIsTerminal = func() bool { return false }
	code, _, errs := runCLI(t, append([]string{"offboard", "ada@example.com"}, flags...)...)
	if code == 0 || !strings.Contains(errs, "--yes") {
		t.Fatalf("offboard without confirmation: %d %q", code, errs)
	}
	// A terminal: the plan is shown and "no" changes nothing.
	confirmInIsTerminal = func() bool { return true }
	confirmIn = strings.NewReader("no\n")
	code, out, _ = runCLI(t, append([]string{"offboard", "ada@example.com"}, flags...)...)
	if code == 0 || !strings.Contains(out, "Seat cost reclaimed") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("declined offboard: %d %s", code, out)
	}
	confirmIn = strings.NewReader("yes\n")
	code, out, errs = runCLI(t, append([]string{"offboard", "ada@example.com"}, flags...)...)
	if code != 0 || !strings.Contains(out, "leaver ada@example.com): succeeded") {
		t.Fatalf("offboard: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, append([]string{"runs", "list"}, flags...)...)
	if code != 0 || strings.Count(out, "succeeded") != 3 {
		t.Fatalf("runs list: %d\n%s", code, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	code, out, _ = runCLI(t, append([]string{"runs", "show", id}, flags...)...)
	if code != 0 || !strings.Contains(out, "evidence") {
		t.Fatalf("runs show: %d\n%s", code, out)
	}
}

func TestLifecycleCommandsRefuseBadInputWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	flags := []string{"--config", lifecycleConfig, "--db", db}
	bad := writeFile(t, dir, "bad.json", `{"email":"x@example.com","nmae":"typo"}`)
	garbled := writeFile(t, dir, "garbled.json", `{"email":`)
	corrupt := writeFile(t, dir, "corrupt.db", strings.Repeat("not a database ", 1000))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown field", append([]string{"onboard", "--person", bad}, flags...), "nmae"},
		{"truncated json", append([]string{"onboard", "--person", garbled}, flags...), "garbled.json"},
		{"missing file", append([]string{"onboard", "--person", filepath.Join(dir, "nope.json")}, flags...), "nope.json"},
		{"offboard without a database", append([]string{"offboard", "ghost@example.com", "--yes"}, flags...), "no database"},
		{"runs show without a database", append([]string{"runs", "show", "r-x"}, flags...), "no database"},
		{"not an email", append([]string{"offboard", "ghost", "--yes"}, flags...), "not an email"},
		{"corrupt database", []string{"offboard", "ghost@example.com", "--yes", "--config", lifecycleConfig, "--db", corrupt}, "corrupt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCLI(t, c.args...)
			if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("exit %d, stderr %q: want one line mentioning %q", code, errs, c.want)
			}
		})
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("bad input created the database (%v)", err)
	}
	// With a database: unknown email, unknown run, locked file.
	grace := writeFile(t, dir, "grace.json", `{"email":"grace@example.com","name":"Grace Hopper","department":"Sales"}`)
	if code, out, errs := runCLI(t, append([]string{"onboard", "--person", grace}, flags...)...); code != 0 {
		t.Fatalf("onboard: %s %s", out, errs)
	}
	s, _ := os.Stat(db)
	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"offboard", "ghost@example.com", "--yes"}, flags...), `no identity "ghost@example.com"`},
		{append([]string{"runs", "show", "r-nope"}, flags...), "does not exist"},
		{append([]string{"runs", "retry", "r-nope"}, flags...), "does not exist"},
		{append([]string{"approve", "a-nope", "--as", "grace@example.com"}, flags...), "does not exist"},
		{append([]string{"tasks", "done", "t-nope", "--as", "it@example.com", "--evidence", "x"}, flags...), "does not exist"},
	} {
		code, _, errs := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q: want one line with %q", c.args[:2], code, errs, c.want)
		}
	}
	if s2, _ := os.Stat(db); s2.ModTime() != s.ModTime() {
		t.Errorf("refused commands wrote to the database")
	}
	held, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, errs := runCLI(t, append([]string{"runs", "list"}, flags...)...)
	if code == 0 || !strings.Contains(errs, "in use") {
		t.Errorf("locked database: exit %d, %q", code, errs)
	}
}

func TestNewerSchemaIsRefusedWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// The schema version is a plain 8-byte big-endian value after its key in
	// a bbolt leaf page (data pages carry no checksum): make it 99.
	want := append([]byte("schema_version"), 0, 0, 0, 0, 0, 0, 0, byte(store.SchemaVersion()))
	i := bytes.Index(raw, want)
	if i < 0 {
		t.Skip("schema version not found in the file layout")
	}
	raw[i+len(want)-1] = 99
	if err := os.WriteFile(db, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"runs", "list"},
		{"offboard", "ada@example.com", "--yes"},
		{"onboard", "--person", writeFile(t, dir, "p.json", `{"email":"ada@example.com","name":"Ada"}`)},
	} {
		code, _, errs := runCLI(t, append(args, "--config", lifecycleConfig, "--db", db)...)
		if code == 0 || !strings.Contains(errs, "schema version 99") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(after, raw) {
		t.Error("the newer database was modified")
	}
}

// TestSimulatedAppsPersistAcrossCommands: with --simulate, onboard in one
// process and approve in another must act on the same simulated apps (their
// state lives beside the database), or the approved grant would find no
// account and be escalated.
func TestSimulatedAppsPersistAcrossCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	flags := []string{"--config", "../../config.example.yaml", "--db", db, "--simulate"}
	code, out, errs := runCLI(t, append([]string{"onboard", "--person", "../../examples/people/maya-manager.json"}, flags...)...)
	if code != 0 || !strings.Contains(out, ": waiting") {
		t.Fatalf("onboard: %d\n%s\n%s", code, out, errs)
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := st.ListRuns(store.RunFilter{})
	st.Close()
	if len(runs) != 1 {
		t.Fatalf("runs = %d", len(runs))
	}
	id := "a-" + runs[0].ID + ".approval:aws:prod-readonly"
	code, out, errs = runCLI(t, append([]string{"approve", id, "--as", "cto@example.com"}, flags...)...)
	if code != 0 {
		t.Fatalf("approve: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCLI(t, append([]string{"runs", "show", runs[0].ID}, flags...)...)
	if code != 0 || !regexpMatch(`grant:aws:prod-readonly\s+succeeded`, out) {
		t.Fatalf("after approval the grant should have run against the same simulated aws:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "g.db.simulated", "aws.json")); err != nil {
		t.Errorf("simulated state not kept beside the database: %v", err)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
