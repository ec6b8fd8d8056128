package cards

import (
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/lifecycle/stats"
)

// governanceSamples are the governance surfaces: the weekly digest (each
// message of it), its modals, an access review's DM and progress, and the
// non-human and time-bound cards.
func governanceSamples() []Sample {
	d := sampleDigest()
	var out []Sample
	for i, m := range Digest(d, 100) {
		out = append(out, Sample{Name: fmt.Sprintf("digest_%d_%s", i, m.Section), Surface: SurfaceMessage, Value: msg{Blocks: m.Blocks}})
	}
	out = append(out,
		Sample{Name: "modal_digest_keep", Surface: SurfaceModal, Value: DigestKeepModal(d.ID, d.Dormant[0])},
		Sample{Name: "modal_digest_revoke_app", Surface: SurfaceModal, Value: DigestRevokeAppModal(d, "github")},
		Sample{Name: "modal_digest_assign", Surface: SurfaceModal, Value: DigestAssignModal(d.ID, d.Orphans[0])},
	)
	c := sampleCampaign()
	for i, m := range Review(c, "grace@example.com", reviewItems(2, 2), "") {
		out = append(out, Sample{Name: fmt.Sprintf("review_dm_%d", i), Surface: SurfaceMessage, Value: msg{Blocks: m.Blocks}})
	}
	out = append(out,
		Sample{Name: "review_progress", Surface: SurfaceMessage, Value: msg{Blocks: ReviewProgress(c)}},
		Sample{Name: "modal_review_keep_all", Surface: SurfaceModal, Value: ReviewKeepAllModal(c, 12)},
	)
	return append(out, identitySamples()...)
}

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

func sampleCampaign() gatehouse.Campaign {
	return gatehouse.Campaign{ID: "c-01jq3v9xk20007", Name: "Q4 production access", CreatedBy: "it-lead@example.com", CreatedAt: SampleNow,
		Deadline: SampleNow.Add(14 * 24 * time.Hour), OnDeadline: gatehouse.OnDeadlineEscalate, Status: gatehouse.CampaignOpen,
		Scope: gatehouse.ReviewScope{Apps: []string{"aws", "github"}, MinRisk: gatehouse.RiskHigh}, Reviewers: []string{"manager"},
		Items: 120, Decided: 45, Kept: 38, Revoked: 7}
}

func reviewItems(people, per int) []gatehouse.ReviewItem {
	var out []gatehouse.ReviewItem
	for p := range people {
		for e := range per {
			out = append(out, gatehouse.ReviewItem{ID: fmt.Sprintf("i%06d", len(out)+1), Identity: fmt.Sprintf("emp:%d", p), Email: fmt.Sprintf("p%d@example.com", p),
				Name: fmt.Sprintf("Person %d", p), App: "aws", Entitlement: fmt.Sprintf("role-%d", e), Risk: gatehouse.RiskHigh,
				GrantedAt: SampleNow.Add(-400 * 24 * time.Hour), Reviewer: "grace@example.com", ReviewerRole: "manager"})
		}
	}
	return out
}

func identitySamples() []Sample {
	bot := gatehouse.Identity{ID: "ci-bot@example.com", Kind: gatehouse.KindBot, Email: "ci-bot@example.com", Name: "CI bot", Owner: "ada@example.com",
		Purpose: "Deploys main to production after review", Expiry: gatehouse.Date{Year: 2026, Month: 12, Day: 10}, Status: gatehouse.StatusActive}
	left := bot
	left.Attributes = map[string]string{"owner_left": "ada@example.com", "handoff_to": "grace@example.com"}
	g := gatehouse.Grant{Identity: "emp:1001", App: "aws", Entitlement: "poweruser", Source: gatehouse.SourceRequest, ExpiresAt: SampleNow.Add(72 * time.Hour)}
	apps := []sh.AppChoice{{App: "aws", Title: "AWS", Entitlements: []sh.EntChoice{{Name: "readonly", Risk: gatehouse.RiskLow}, {Name: "poweruser", Risk: gatehouse.RiskHigh}}},
		{App: "github", Title: "GitHub", Entitlements: []sh.EntChoice{{Name: "member", Risk: gatehouse.RiskLow}}}}
	return []Sample{
		{Name: "modal_identity_register", Surface: SurfaceModal, Value: IdentityRegisterModal(sh.RegisterModel{Apps: apps})},
		{Name: "modal_identity_register_errors", Surface: SurfaceModal, Value: IdentityRegisterModal(sh.RegisterModel{Apps: apps,
			Form: sh.RegisterForm{Name: "CI bot", Email: "ci-bot@example.com"}, Errors: sh.FieldErrors{sh.FieldNHOwner: "Pick its owner: no owner, no access."}})},
		{Name: "nonhuman_attest", Surface: SurfaceMessage, Value: msg{NonHuman(sh.AttestModel{Identity: bot, ExtendTo: gatehouse.Date{Year: 2027, Month: 2, Day: 24}})}},
		{Name: "nonhuman_attested", Surface: SurfaceMessage, Value: msg{NonHuman(sh.AttestModel{Identity: bot, Done: true, Note: "Extended to 2027-02-24 by ada@example.com"})}},
		{Name: "nonhuman_handoff", Surface: SurfaceMessage, Value: msg{NonHuman(sh.AttestModel{Identity: left, Handoff: true})}},
		{Name: "grant_expiry", Surface: SurfaceMessage, Value: msg{GrantExpiry(g, "")}},
		{Name: "grant_expiry_owner", Surface: SurfaceMessage, Value: msg{GrantExpiry(g, "ci-bot@example.com")}},
		{Name: "modal_extend", Surface: SurfaceModal, Value: ExtendModal(sh.ExtendModel{Grant: g})},
		{Name: "identity_list", Surface: SurfaceMessage, Value: msg{IdentityList([]gatehouse.Identity{bot, left})}},
	}
}
