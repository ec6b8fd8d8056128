package cards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/lifecycle/stats"
)

// sampleDigest is a small digest with a line in every section.
func sampleDigest() governance.Digest {
	now := SampleNow
	return governance.Digest{ID: "g-01jq3v9xk20003", GeneratedAt: now, Identities: 312, Grants: 4210, Apps: 17, Snoozed: 2, Reclaimable: 109,
		Dormant: []governance.DormantItem{
			{ID: "d/emp:1001/github", Identity: "emp:1001", Email: "ada@example.com", Name: "Ada Lovelace", Manager: "grace@example.com", App: "github", AppTitle: "GitHub",
				AccountID: "583231", LastActivity: now.Add(-61 * 24 * time.Hour), IdleDays: 61, Entitlements: []string{"backend"}, MonthlyCost: 25},
			{ID: "d/emp:1004/github", Identity: "emp:1004", Email: "dan@example.com", App: "github", AppTitle: "GitHub", AccountID: "77", Since: now.Add(-90 * 24 * time.Hour), IdleDays: 90, MonthlyCost: 21},
			{ID: "d/emp:1001/figma", Identity: "emp:1001", Email: "ada@example.com", Name: "Ada Lovelace", App: "figma", AppTitle: "Figma", AccountID: "f-1", LastActivity: now.Add(-50 * 24 * time.Hour), IdleDays: 50, MonthlyCost: 15},
		},
		Orphans:      []governance.OrphanItem{{ID: "o/github/991", App: "github", AppTitle: "GitHub", AccountID: "991", Login: "octo-legacy", Reason: "matches no identity Gatehouse knows", MonthlyCost: 21}},
		OpenLeavers:  []governance.LeaverItem{{Identity: "emp:900", Email: "left@example.com", Open: []string{"zendesk:account"}}},
		StuckRuns:    []governance.RunItem{{RunID: "r-01", Identity: "emp:900", Email: "left@example.com", Event: gatehouse.EventLeaver, Status: gatehouse.RunBlocked, Since: now.Add(-72 * time.Hour)}},
		OverdueTasks: []governance.TaskItem{{TaskID: "t-1", Title: "Remove left@example.com from Zendesk", Assignee: "support-lead@example.com", App: "zendesk", Since: now.Add(-96 * time.Hour)}},
		SoD:          []governance.SoDItem{{Constraint: "prod-admin-vs-audit", Action: "block", Identity: "emp:7", Email: "ops@example.com", Entitlements: []string{"aws:prod-admin", "aws:security-audit"}}},
		Expiring:     []governance.ExpiringItem{{Identity: "emp:1001", Email: "ada@example.com", Entitlement: "aws:prod-readonly", ExpiresAt: now.Add(3 * 24 * time.Hour)}},
		NonHumans:    []governance.NonHumanItem{{Identity: "ci-bot", Email: "ci-bot@example.com", Kind: gatehouse.KindBot, Owner: "left@example.com", Problem: "owner left@example.com has left"}},
		Licenses:     []governance.LicenseLine{{App: "github", AppTitle: "GitHub", Seats: 3, MonthlyCost: 67}, {App: "figma", AppTitle: "Figma", Seats: 1, MonthlyCost: 15}},
		Notes:        []string{"LDAP VPN reports no last activity for any account, so none is called dormant"},
		Week: stats.Report{TimeToAccess: stats.Latency{Count: 4, Median: 3 * time.Minute, P90: 26 * time.Hour}, TimeToRevoke: stats.Latency{Count: 2, Median: 95 * time.Second, P90: 4 * time.Minute},
			Hires: 4, ManualTasks: 2, TasksPerHire: 0.5},
	}
}

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
			raw := mustJSON(t, all)
			golden(t, tc.name, raw)
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
