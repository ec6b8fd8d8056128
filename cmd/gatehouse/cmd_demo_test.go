package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the README's main job exactly as a newcomer would, and checks
// the story it tells: approvals decided by the designated people, the leaver
// fully closed, the audit chain verified, and who-had answered.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := runDemo(ctx, []string{"--dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"maya.manager@example.com approves aws:prod-readonly (high)",
		"sre-lead@example.com approves aws:prod-admin (critical)", // the two-person rule: the app owner too
		"Rotate shared credentials of aws",
		"nothing left open",
		"audit chain verified",
		"who had aws:prod-admin at",
		"active accounts left for ada.lovelace@example.com across 17 apps: 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err != nil {
		t.Errorf("--dir should keep the database: %v", err)
	}
	// Bad usage is refused before anything is opened.
	out.Reset()
	errOut.Reset()
	code := runDemo(ctx, []string{"--dir", dir, "extra"}, &out, &errOut)
	if code != 2 {
		t.Errorf("unexpected argument: exit %d, want 2", code)
	}
}
