package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gatehouse "github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/store"
)

// TestReviewCommands starts a campaign from the CLI over two onboarded
// people, decides a line, and checks status and both export formats.
func TestReviewCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "g.db")
	flags := []string{"--config", lifecycleConfig, "--db", db}
	if code, _, errs := runCLI(t, append([]string{"review", "status"}, flags...)...); code == 0 || !strings.Contains(errs, "no database") {
		t.Fatalf("status without a database: %d %s", code, errs)
	}
	ada := writeFile(t, dir, "ada.json", `{"email":"ada@example.com","name":"Ada Lovelace","employee_id":"E1","department":"Sales","team":"emea","manager_email":"grace@example.com"}`)
	grace := writeFile(t, dir, "grace.json", `{"email":"grace@example.com","name":"Grace Hopper","employee_id":"E2","department":"Sales","team":"emea"}`)
	for _, p := range []string{grace, ada} {
		if code, out, errs := runCLI(t, append([]string{"onboard", "--person", p}, flags...)...); code != 0 {
			t.Fatalf("onboard %s: %d\n%s\n%s", p, code, out, errs)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--min-risk", "extreme"}, "not one of low"},
		{[]string{"--apps", "nope"}, `app "nope" is not configured`},
		{[]string{"--deadline", "soon"}, "not a duration"},
		{[]string{"--reviewers", "ceo"}, "not one of manager, app_owner"},
		{[]string{"--team", "apac"}, "nothing in scope"},
	} {
		code, _, errs := runCLI(t, append(append([]string{"review", "start"}, tc.args...), flags...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("review start %v: %d %q, want %q", tc.args, code, errs, tc.want)
		}
	}
	code, out, errs := runCLI(t, append([]string{"review", "start", "--apps", "google,slack", "--team", "emea", "--deadline", "10d", "--on-deadline", "keep", "--name", "Q4"}, flags...)...)
	if code != 0 || !strings.Contains(out, "4 line(s)") || !strings.Contains(out, "grace@example.com") || !strings.Contains(out, "it@example.com") {
		t.Fatalf("review start: %d\n%s\n%s", code, out, errs)
	}
	id := strings.Fields(strings.TrimPrefix(out, "access review "))[0]

	// A decision (as Slack would make it), then status and exports.
	sdb, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &sh.Reviews{}
	cfg, _, err := loadPolicy(lifecycleConfig)
	if err != nil {
		t.Fatal(err)
	}
	runner := serveReviews(cfg, sdb, nil, nil, h, nil)
	items, _ := h.Gov.Items(id)
	var adaGoogle gatehouse.ReviewItem
	for _, it := range items {
		if it.Email == "ada@example.com" && it.App == "google" {
			adaGoogle = it
		}
	}
	if _, err := h.Gov.Decide(context.Background(), id, adaGoogle.ID, governance.Actor{Email: "grace@example.com"}, gatehouse.ReviewKeep, "needs mail"); err != nil {
		t.Fatal(err)
	}
	if runner.Reviews != h.Gov {
		t.Fatal("serveReviews: the runner does not drive the handler's reviews")
	}
	sdb.Close()

	code, out, _ = runCLI(t, append([]string{"review", "status", id}, flags...)...)
	if code != 0 || !strings.Contains(out, "1/4 decided, 1 kept, 0 revoked") || !strings.Contains(out, "grace@example.com: 1 of 2 undecided") {
		t.Fatalf("review status: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, append([]string{"review", "status"}, flags...)...)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "1/4 decided") {
		t.Fatalf("review status (all): %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, append([]string{"review", "export", "c-missing"}, flags...)...); code == 0 || !strings.Contains(errs, "no access review c-missing") {
		t.Fatalf("export of an unknown review: %d %s", code, errs)
	}
	code, out, errs = runCLI(t, append([]string{"review", "export", id, "--format", "csv"}, flags...)...)
	if code != 0 {
		t.Fatalf("export csv: %d %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 5 || recs[0][0] != "campaign" {
		t.Fatalf("csv export: %v\n%s", err, out)
	}
	outFile := filepath.Join(dir, "evidence.jsonl")
	if code, _, errs := runCLI(t, append([]string{"review", "export", id, "--format", "jsonl", "--out", outFile}, flags...)...); code != 0 {
		t.Fatalf("export jsonl: %d %s", code, errs)
	}
	rawb, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(rawb)
	kept := 0
	for _, l := range strings.Split(strings.TrimSpace(raw), "\n") {
		var row governance.EvidenceRow
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if row.Decision == "keep" && row.DecidedBy == "grace@example.com" && row.Reason == "needs mail" && row.CampaignName == "Q4" {
			kept++
		}
	}
	if kept != 1 {
		t.Fatalf("jsonl export misses the kept line:\n%s", raw)
	}
	if code, _, errs := runCLI(t, append([]string{"review", "export", id, "--format", "xml"}, flags...)...); code == 0 || !strings.Contains(errs, "csv or jsonl") {
		t.Fatalf("xml export: %d %s", code, errs)
	}
}
