package cards

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
)

// TestProgressEvidenceOneCount: a finished run with approval, discovery and
// notify steps (which succeed but change nothing) shows one change count,
// the evidence record's, not a second one counted from the steps.
func TestProgressEvidenceOneCount(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	run := gatehouse.Run{ID: "r1", IdentityKey: "ada@example.com", Status: gatehouse.RunSucceeded, FinishedAt: now,
		Event: gatehouse.Event{Type: gatehouse.EventLeaver}}
	var steps []gatehouse.Step
	for i, k := range []gatehouse.StepKind{gatehouse.StepApproval, gatehouse.StepDiscover, gatehouse.StepDisable, gatehouse.StepRevoke, gatehouse.StepRevoke} {
		steps = append(steps, gatehouse.Step{ID: string(k) + string(rune('a'+i)), Kind: k, App: "app" + string(rune('a'+i)), Status: gatehouse.StepSucceeded})
	}
	steps = append(steps, gatehouse.Step{ID: "evidence", Kind: gatehouse.StepEvidence, Status: gatehouse.StepSucceeded,
		Result: map[string]string{"changed": "3", "summary": "3 change(s) in 3 app(s); nothing left open"}})
	for _, tc := range []struct {
		name string
		run  gatehouse.Run
	}{
		{"from the run's summary", func() gatehouse.Run { r := run; r.Summary = "3 change(s) in 3 app(s); nothing left open"; return r }()},
		{"from the evidence step", run},
	} {
		raw, err := json.Marshal(Progress(sh.ProgressModel{Run: tc.run, Steps: steps, Now: now}))
		if err != nil {
			t.Fatal(err)
		}
		counts := regexp.MustCompile(`(\d+) change`).FindAllStringSubmatch(string(raw), -1)
		if len(counts) != 1 || counts[0][1] != "3" {
			t.Errorf("%s: change counts %v, want exactly one, 3, in %s", tc.name, counts, raw)
		}
	}
}
