package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

func TestStatsTableAndJSON(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "db")
	db, err := store.Open(dbPath, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, wait := range []time.Duration{2 * time.Minute, 4 * time.Minute, 90 * time.Minute} {
		ev := gatehouse.Event{Type: gatehouse.EventJoiner, ReceivedAt: now.Add(-24 * time.Hour), DedupeKey: "hire" + string(rune('a'+i))}
		steps := []gatehouse.Step{{ID: "s1", Kind: gatehouse.StepGrant, Status: gatehouse.StepSucceeded}}
		if i == 0 {
			steps = append(steps, gatehouse.Step{ID: "s2", Kind: gatehouse.StepManualTask, Status: gatehouse.StepSucceeded})
		}
		if _, _, err := db.CreateRun(gatehouse.Run{Event: ev, Status: gatehouse.RunSucceeded, FinishedAt: ev.ReceivedAt.Add(wait), IdentityKey: "E1"}, steps); err != nil {
			t.Fatal(err)
		}
	}
	leave := gatehouse.Event{Type: gatehouse.EventLeaver, EffectiveAt: now.Add(-2 * time.Hour), DedupeKey: "leave"}
	if _, _, err := db.CreateRun(gatehouse.Run{Event: leave, Status: gatehouse.RunSucceeded, FinishedAt: now.Add(-time.Hour), IdentityKey: "E1"},
		[]gatehouse.Step{{ID: "s1", Kind: gatehouse.StepDisable, Status: gatehouse.StepSucceeded, FinishedAt: now.Add(-2*time.Hour + 45*time.Second)}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg := filepath.Join("..", "..", "bot", "testdata", "e2e.yaml")

	var out, errb bytes.Buffer
	if code := runStats(context.Background(), []string{"--config", cfg, "--db", dbPath, "--since", "7d"}, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if i := strings.Index(l, ")"); i > 0 && strings.Contains(l, "→") {
			rows[l[:i+1]] = strings.Join(strings.Fields(l[i+1:]), " ")
		}
	}
	for row, want := range map[string]string{
		"time to access (HR event → access granted)":        "3 4m0s 1h30m0s",
		"time to revoke (termination → last access closed)": "1 45s 45s",
		"approval wait (request → decision)":                "0 - -",
	} {
		if rows[row] != want {
			t.Errorf("%s: %q, want %q\n%s", row, rows[row], want, out.String())
		}
	}
	for _, want := range []string{"manual tasks per hire: 0.33 (1 tasks over 3 hires)", "approvals waited on: 0 requested"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := runStats(context.Background(), []string{"--config", cfg, "--db", dbPath, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	var j statsJSON
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if j.TimeToAccess.Count != 3 || j.TimeToAccess.MedianSeconds != 240 || j.TimeToAccess.P90Seconds != 5400 || j.TimeToRevoke.MedianSeconds != 45 || j.Hires != 3 {
		t.Errorf("json = %+v", j)
	}
	if code := runStats(context.Background(), []string{"--config", cfg, "--db", dbPath, "--since", "soon"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--since") {
		t.Errorf("bad --since: code %d, %s", code, errb.String())
	}
}
