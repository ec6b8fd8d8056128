package cards

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
)

func TestReviewGolden(t *testing.T) {
	sc := loadSchemas(t)
	small := reviewItems(2, 2)
	small[3].EscalatedFrom = []string{"bob@example.com"}
	for _, tc := range []struct {
		name   string
		items  []gatehouse.ReviewItem
		note   string
		golden bool
	}{
		{"review_small", small, "", true},
		{"review_escalated", small[2:], "Escalated to you: 2 line(s) were not reviewed in time by bob@example.com.", true},
		{"review_big", reviewItems(60, 7), "Reminder: 420 line(s) still wait for your decision.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := Review(sampleCampaign(), "grace@example.com", tc.items, tc.note)
			var all []any
			lines, keepAll := 0, 0
			for i, m := range msgs {
				if len(m.Blocks) > MaxMessageBlocks {
					t.Fatalf("message %d has %d blocks", i, len(m.Blocks))
				}
				s := Sample{Name: fmt.Sprintf("%s_%d", tc.name, i), Surface: SurfaceMessage, Value: msg{Blocks: m.Blocks}}
				raw, err := s.JSON()
				if err != nil {
					t.Fatal(err)
				}
				validate(t, sc, s, raw)
				lines += strings.Count(string(raw), `"action_id": "`+ActReviewRevoke+`"`)
				keepAll += strings.Count(string(raw), `"action_id": "`+ActReviewKeepAll+`"`)
				all = append(all, json.RawMessage(raw))
			}
			if keepAll != 1 || !strings.Contains(string(mustJSON(t, msgs[len(msgs)-1].Blocks)), ActReviewKeepAll) {
				t.Errorf("Keep all appears %d times, want once on the last message", keepAll)
			}
			if !tc.golden {
				// 420 lines: capped at MaxReviewMessages messages of 15 lines,
				// the rest counted.
				if len(msgs) != MaxReviewMessages || lines != MaxReviewMessages*reviewLinesPerMessage {
					t.Fatalf("%d messages with %d lines", len(msgs), lines)
				}
				if !strings.Contains(string(mustJSON(t, msgs[len(msgs)-1].Blocks)), "and 270 more line(s)") {
					t.Error("the lines left out are not counted")
				}
				return
			}
			if lines != len(tc.items) {
				t.Fatalf("%d Revoke buttons for %d lines", lines, len(tc.items))
			}
			raw := mustJSON(t, all)
			golden(t, tc.name, raw)
		})
	}
}

func TestReviewRefRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in       string
		ok       bool
		camp, it string
	}{{ReviewRef("c-1", "i000001"), true, "c-1", "i000001"}, {"c-1|", false, "", ""}, {"|i1", false, "", ""}, {"garbage", false, "", ""}} {
		c, it, ok := ParseReviewRef(tc.in)
		if ok != tc.ok || (ok && (c != tc.camp || it != tc.it)) {
			t.Errorf("ParseReviewRef(%q) = %q %q %v", tc.in, c, it, ok)
		}
	}
}

func TestReviewLineDecided(t *testing.T) {
	sc := loadSchemas(t)
	c := sampleCampaign()
	items := reviewItems(2, 2)
	blocks := Review(c, "grace@example.com", items, "")[0].Blocks
	for _, tc := range []struct {
		it   gatehouse.ReviewItem
		want string
	}{
		{gatehouse.ReviewItem{ID: items[1].ID, Decision: gatehouse.ReviewKeep, DecidedBy: "grace@example.com"}, "Kept by grace@example.com"},
		{gatehouse.ReviewItem{ID: items[2].ID, Decision: gatehouse.ReviewRevoke, DecidedBy: "grace@example.com", RunID: "r-1"}, "Revoked by grace@example.com · run `r-1`"},
	} {
		out, ok := ReviewLineDecided(blocks, c.ID, tc.it)
		if !ok || len(out) != len(blocks) {
			t.Fatalf("line %s not found", tc.it.ID)
		}
		raw := string(mustJSON(t, out))
		if !strings.Contains(raw, tc.want) || strings.Contains(raw, `"value": "`+ReviewRef(c.ID, tc.it.ID)+`"`) {
			t.Fatalf("line %s: outcome missing or buttons left:\n%s", tc.it.ID, raw)
		}
		if strings.Count(raw, `"action_id": "`+ActReviewRevoke+`"`) != len(items)-1 {
			t.Fatal("other lines lost their buttons")
		}
		s := Sample{Name: "review_decided", Surface: SurfaceMessage, Value: msg{Blocks: out}}
		js, err := s.JSON()
		if err != nil {
			t.Fatal(err)
		}
		validate(t, sc, s, js)
	}
	if _, ok := ReviewLineDecided(blocks, c.ID, gatehouse.ReviewItem{ID: "i999999"}); ok {
		t.Fatal("a line not on the card was found")
	}
	if _, ok := ReviewLineDecided(blocks, "c-other", items[0]); ok {
		t.Fatal("a line of another campaign was found")
	}
}
