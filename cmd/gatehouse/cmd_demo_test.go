package main

import (
	"bytes"
	"context"
	"encoding/json"
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
		"5. Governance: a week later, the weekly digest",
		"orphaned: old-contractor@agency.example",
		"non-human: deploy-bot@example.com owner ada.lovelace@example.com has left",
		"account active=false",
		"last 7 days: 3 joiner(s), time to access median",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err != nil {
		t.Errorf("--dir should keep the database: %v", err)
	}
	// The digest command on the demo's database: the store-side sections
	// (the bot whose owner left) are there; --json parses.
	out.Reset()
	errOut.Reset()
	args := []string{"--config", filepath.Join(dir, "gatehouse.yaml"), "--db", filepath.Join(dir, "gatehouse.db"), "--simulate"}
	if code := runDigest(ctx, args, &out, &errOut); code != 0 {
		t.Fatalf("digest exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"Access digest", "== Dormant accounts", "deploy-bot@example.com", "owner ada.lovelace@example.com has left"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("digest --dry-run lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := runDigest(ctx, append(args, "--json"), &out, &errOut); code != 0 {
		t.Fatalf("digest --json exit %d: %s", code, errOut.String())
	}
	var dg struct {
		NonHumans []struct{ Email string } `json:"non_humans"`
	}
	if err := json.Unmarshal(out.Bytes(), &dg); err != nil || len(dg.NonHumans) != 1 {
		t.Fatalf("digest --json: %v %+v", err, dg)
	}
	if code := runDigest(ctx, append(args, "--post"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "token") {
		t.Errorf("digest --post without Slack tokens: exit %d, %s", code, errOut.String())
	}

	// Bad usage is refused before anything is opened.
	out.Reset()
	errOut.Reset()
	code := runDemo(ctx, []string{"--dir", dir, "extra"}, &out, &errOut)
	if code != 2 {
		t.Errorf("unexpected argument: exit %d, want 2", code)
	}
}
