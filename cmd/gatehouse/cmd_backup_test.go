package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/store"
)

func TestBackupCommand(t *testing.T) {
	path := auditTestDB(t)
	out := filepath.Join(t.TempDir(), "backup.db")
	code, stdout, errs := storeRunCmd(t, runBackup, "--db", path, "--out", out)
	if code != 0 || !strings.Contains(stdout, "written to "+out) || errs != "" {
		t.Fatalf("code %d out %q err %q", code, stdout, errs)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", err, fi)
	}
	db, err := store.Open(out, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := db.VerifyAudit(nil)
	db.Close()
	if err != nil || rep.Entries != 4 {
		t.Fatalf("backup verify: %v %+v", err, rep)
	}
	// And the audit command agrees.
	if code, _, errs := storeRunCmd(t, runAudit, "verify", "--db", out); code != 0 {
		t.Fatalf("verify backup: %s", errs)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--db", path}, 2, "needs --db FILE and --out FILE"},
		{[]string{"--db", path, "--out", path}, 1, "must not be the database"},
		{[]string{"--db", filepath.Join(t.TempDir(), "nope.db"), "--out", out}, 1, "no such file"},
		{[]string{"--db", path, "--out", out, "extra"}, 2, "unexpected argument"},
	} {
		code, _, errs := storeRunCmd(t, runBackup, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") < 1 {
			t.Errorf("%v: code %d err %q, want %d %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
