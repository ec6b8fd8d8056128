package cards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/lifecycle/governance"
)

// bigDigest has 2,000 dormant lines over 40 apps and 500 orphans.
func bigDigest() governance.Digest {
	d := sampleDigest()
	d.Dormant = nil
	for i := range 2000 {
		app := fmt.Sprintf("app%02d", i%40)
		d.Dormant = append(d.Dormant, governance.DormantItem{ID: fmt.Sprintf("d/emp:%d/%s", i, app), Identity: fmt.Sprintf("emp:%d", i), Email: fmt.Sprintf("p%d@example.com", i),
			App: app, AppTitle: "App " + app, AccountID: fmt.Sprint(i), IdleDays: 46 + i%300, MonthlyCost: 10})
	}
	// Compute sorts dormant lines by app; so does the fixture.
	sort.Slice(d.Dormant, func(i, j int) bool { return d.Dormant[i].App < d.Dormant[j].App })
	for i := range 500 {
		d.Orphans = append(d.Orphans, governance.OrphanItem{ID: fmt.Sprintf("o/app/%d", i), App: "app", AppTitle: "App", AccountID: fmt.Sprint(i), Login: fmt.Sprintf("x%d", i), Reason: "matches no identity Gatehouse knows"})
	}
	return d
}

func TestDigestGolden(t *testing.T) {
	sc := loadSchemas(t)
	for _, tc := range []struct {
		name string
		d    governance.Digest
		max  int
	}{{"digest_small", sampleDigest(), 100}, {"digest_big", bigDigest(), 100}} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := Digest(tc.d, tc.max)
			var all []any
			for i, m := range msgs {
				if len(m.Blocks) > MaxMessageBlocks {
					t.Fatalf("message %d (%s) has %d blocks", i, m.Section, len(m.Blocks))
				}
				s := Sample{Name: fmt.Sprintf("%s_%d", tc.name, i), Surface: SurfaceMessage, Value: msg{Blocks: m.Blocks}}
				raw, err := s.JSON()
				if err != nil {
					t.Fatal(err)
				}
				validate(t, sc, s, raw)
				all = append(all, json.RawMessage(raw))
			}
			if tc.name == "digest_big" {
				// The cap applies per section: 100 dormant lines in 5 replies,
				// 100 orphan lines, the rest counted.
				dormant := 0
				for _, m := range msgs {
					if m.Section == "dormant" {
						dormant++
					}
				}
				if dormant != 5 {
					t.Errorf("%d dormant replies, want 5", dormant)
				}
				if last := msgs[5]; !strings.Contains(string(mustJSON(t, last.Blocks)), "1900 more dormant") {
					t.Errorf("the last dormant reply does not count the 1,900 lines left out")
				}
				return
			}
			// The small digest's messages are golden files through
			// Samples (TestGolden); here only what every message must obey.
			_ = all
		})
	}
	for _, v := range []struct {
		name string
		view any
	}{{"modal_digest_keep", DigestKeepModal("g-1", sampleDigest().Dormant[0])}, {"modal_digest_revoke_app", DigestRevokeAppModal(sampleDigest(), "github")}} {
		s := Sample{Name: v.name, Surface: SurfaceModal, Value: v.view}
		raw, err := s.JSON()
		if err != nil {
			t.Fatal(err)
		}
		validate(t, sc, s, raw)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDigestRefRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ok     bool
		id, it string
	}{{"g-1|d/emp:1/github", true, "g-1", "d/emp:1/github"}, {"g-1|", false, "", ""}, {"|x", false, "", ""}, {"nopipe", false, "", ""}} {
		id, it, ok := ParseDigestRef(tc.in)
		if ok != tc.ok || (ok && (id != tc.id || it != tc.it)) {
			t.Errorf("ParseDigestRef(%q) = %q %q %v", tc.in, id, it, ok)
		}
	}
}
