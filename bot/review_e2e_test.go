package bot_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/store"
)

// TestReviewEndToEnd: IT starts a review with /access review start; bob's
// manager gets a DM card; a forged Revoke is refused and audited; her
// Revoke runs through the engine and the simulated app shows the
// entitlement gone; the IT channel's progress message is edited; the
// export names the run and its final status; Keep all needs a reason.
func TestReviewEndToEnd(t *testing.T) {
	h := newHarness(t)
	bob, err := h.db.IdentityByEmail("bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	aws := h.conns["aws"].(*simulated.Connector)
	ref := gatehouse.RefFor(bob)
	if _, err := aws.EnsureAccount(h.ctx, ref); err != nil {
		t.Fatal(err)
	}
	for _, ent := range []string{"poweruser", "admin"} {
		e, _ := h.svc.Config.Entitlement(gatehouse.EntitlementRef{App: "aws", Entitlement: ent})
		if err := aws.Grant(h.ctx, ref, e); err != nil {
			t.Fatal(err)
		}
		if _, err := h.db.PutGrant(gatehouse.Grant{Identity: bob.Key(), App: "aws", Entitlement: ent, Source: gatehouse.SourceRequest, GrantedAt: time.Now().Add(-90 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	// Only IT may start a review; the refusal is audited.
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "review start --apps aws", UserID: "U0MAL", ChannelID: "C0IT"}))
	h.waitResponse("Only IT can start")
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "review start --apps aws --min-risk high --deadline 14d --name Q4", UserID: "U0IT", ChannelID: "C0IT"}))
	started := h.waitResponse("Access review c-")
	campaignID := strings.Fields(strings.TrimPrefix(started.Text, "Access review "))[0]
	c, err := h.reviews.Gov.Campaign(campaignID)
	if err != nil || c.Items != 2 {
		t.Fatalf("campaign %+v, %v (from %q)", c, err, started.Text)
	}
	card := h.waitMessage("DU0GRACE", "Access review", "aws:poweruser", "aws:admin")
	h.waitMessage("C0IT", "0/2")
	items, _ := h.reviews.Gov.Items(campaignID)
	var power gatehouse.ReviewItem
	for _, it := range items {
		if it.Reviewer != "grace@example.com" {
			t.Fatalf("item %+v not grace's", it)
		}
		if it.Entitlement == "poweruser" {
			power = it
		}
	}

	// Mallory forges grace's Revoke.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: card.Channel, MessageTS: card.TS, ActionID: cards.ActReviewRevoke, Value: cards.ReviewRef(campaignID, power.ID)}))
	h.waitResponse("Only the line's reviewer or IT")
	// Bob may not review his own access, IT or not.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0BOB", Channel: card.Channel, MessageTS: card.TS, ActionID: cards.ActReviewKeep, Value: cards.ReviewRef(campaignID, power.ID)}))
	refused := 0
	deadline := time.Now().Add(10 * time.Second)
	for refused < 3 && time.Now().Before(deadline) {
		refused = 0
		all, _ := h.db.AuditEntries(store.AuditFilter{})
		for _, a := range all {
			if a.Action == "refuse" && (a.Details["campaign"] == campaignID || strings.Contains(a.Reason, "access review")) {
				refused++
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if refused != 3 {
		t.Fatalf("%d review refusals audited, want 3 (start, forged revoke, self review)", refused)
	}
	if a, _ := aws.Find(ref); !strings.Contains(strings.Join(a.Entitlements, ","), "poweruser") {
		t.Fatalf("a refused click changed bob's aws: %+v", a)
	}

	// Grace revokes (twice: one run).
	for range 2 {
		h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: card.Channel, MessageTS: card.TS, ActionID: cards.ActReviewRevoke, Value: cards.ReviewRef(campaignID, power.ID)}))
	}
	h.waitResponse("Revoking bob@example.com's aws:poweruser")
	run := h.waitRun(bob.Key(), lifecycle.EventAccessRevoke)
	if done := h.settle(run.ID); done.Status != gatehouse.RunSucceeded {
		t.Fatalf("revoke run ended %s: %s", done.Status, done.Summary)
	}
	a, _ := aws.Find(ref)
	if strings.Contains(strings.Join(a.Entitlements, ","), "poweruser") || !strings.Contains(strings.Join(a.Entitlements, ","), "admin") {
		t.Fatalf("after the revoke aws shows bob with %v, want admin only", a.Entitlements)
	}
	if edited := h.waitMessage("DU0GRACE", "Revoked by grace@example.com", run.ID); edited.TS != card.TS || edited.Edits == 0 {
		t.Fatalf("the review card was not edited in place: %+v", edited)
	}
	progress := h.waitMessage("C0IT", "1/2", "1* revoked")
	if progress.Edits == 0 {
		t.Fatalf("the progress message was posted again instead of edited: %+v", progress)
	}

	// Keep all: the modal refuses an empty reason, then keeps the rest.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: card.Channel, MessageTS: card.TS, ActionID: cards.ActReviewKeepAll, Value: cards.ReviewRef(campaignID, "all")}))
	v := h.waitView("U0GRACE", cards.CallbackReviewKeepAll)
	bad := h.acked(h.srv.SendViewSubmission("U0GRACE", v.ID, map[string]map[string]slacktest.InputValue{sh.FieldReviewReason: {cards.InputAction: {Value: " "}}}))
	if !strings.Contains(string(bad.Payload), sh.FieldReviewReason) {
		t.Fatalf("keep all without a reason was not refused inline: %s", bad.Payload)
	}
	h.acked(h.srv.SendViewSubmission("U0GRACE", v.ID, map[string]map[string]slacktest.InputValue{sh.FieldReviewReason: {cards.InputAction: {Value: "break-glass admin, reviewed with SRE"}}}))
	h.waitMessage("DU0GRACE", "Kept 1 line(s)")
	h.waitMessage("C0IT", "2/2", "closed")

	var buf bytes.Buffer
	if err := h.reviews.Gov.WriteEvidence(&buf, campaignID, "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("export: %d records, %v", len(recs), err)
	}
	found := false
	for _, rec := range recs[1:] {
		line := strings.Join(rec, ",")
		if strings.Contains(line, ",poweruser,") {
			found = strings.Contains(line, run.ID+","+string(gatehouse.RunSucceeded)) && strings.Contains(line, "grace@example.com")
		}
	}
	if !found {
		t.Fatalf("the export does not show grace's revoke with run %s succeeded: %v", run.ID, recs)
	}
}
