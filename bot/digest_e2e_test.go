package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/store"
)

// TestDigestEndToEnd posts a digest to the loopback Slack, refuses a forged
// Revoke, lets the person's manager revoke (the app's own state shows the
// account closed), and keeps another line through the Keep modal so that
// the next digest no longer lists it.
func TestDigestEndToEnd(t *testing.T) {
	h := newHarness(t)
	bob, err := h.db.IdentityByEmail("bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-200 * 24 * time.Hour)
	for _, app := range []string{"github", "aws"} {
		sim := h.conns[app].(*simulated.Connector)
		if _, err := sim.EnsureAccount(h.ctx, gatehouse.RefFor(bob)); err != nil {
			t.Fatal(err)
		}
		if err := sim.Touch(gatehouse.RefFor(bob), time.Now().Add(-90*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := h.db.PutGrant(gatehouse.Grant{Identity: bob.Key(), App: app, Entitlement: "account", Source: gatehouse.SourceBirthright, GrantedAt: long}); err != nil {
			t.Fatal(err)
		}
	}
	// Two accounts nobody owns: one to disable, one to give an owner.
	ghosts := map[string]gatehouse.Account{}
	for app, email := range map[string]string{"github": "ghost@agency.example", "aws": "old-ci@agency.example"} {
		a, err := h.conns[app].(*simulated.Connector).EnsureAccount(h.ctx, gatehouse.AccountRef{Email: email, UserName: email})
		if err != nil {
			t.Fatal(err)
		}
		ghosts[app] = a
	}
	compute := func() governance.Digest {
		d, err := governance.Compute(h.ctx, governance.Sources{Config: h.digests.Gov.Config, DB: h.db, Conns: h.conns, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := h.digests.Gov.Save(compute())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Dormant) != 2 {
		t.Fatalf("dormant lines %+v, want bob in github and aws", d.Dormant)
	}
	refs, err := h.bot.PostDigest(h.ctx, "C0IT", d, 100)
	if err != nil {
		t.Fatal(err)
	}
	summary := h.waitMessage("C0IT", "Weekly access digest")
	if summary.ThreadTS != "" || refs[0].TS != summary.TS {
		t.Fatalf("summary %+v is not the thread's parent (refs %+v)", summary, refs)
	}
	replies := 0
	for _, m := range h.srv.Messages("C0IT") {
		if m.ThreadTS == summary.TS {
			replies++
		}
	}
	if replies != len(refs)-1 || replies == 0 {
		t.Fatalf("%d thread replies, posted %d", replies, len(refs)-1)
	}
	dormantMsg := h.waitMessage("C0IT", "Dormant in github")
	line := "d/" + bob.Key() + "/github"

	// Mallory is neither IT, the app owner nor bob's manager.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "C0IT", MessageTS: dormantMsg.TS, ActionID: cards.ActDigestRevoke, Value: cards.DigestRef(d.ID, line)}))
	h.waitResponse("Only IT, the app's owner or the person's manager")
	if a, ok := h.conns["github"].(*simulated.Connector).Find(gatehouse.RefFor(bob)); !ok || !a.Active {
		t.Fatalf("a refused click changed bob's github account: %+v", a)
	}
	// A forged value naming no line of the digest.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "C0IT", MessageTS: dormantMsg.TS, ActionID: cards.ActDigestRevoke, Value: cards.DigestRef(d.ID, "d/emp:999/github")}))
	h.waitResponse("does not know this digest line")
	refused := 0
	all, _ := h.db.AuditEntries(store.AuditFilter{})
	for _, a := range all {
		if a.Action == "refuse" && a.Details["digest"] == d.ID {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d digest refusals audited, want 2", refused)
	}

	// Grace is bob's manager: her click revokes, once, however often.
	for range 2 {
		h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "C0IT", MessageTS: dormantMsg.TS, ActionID: cards.ActDigestRevoke, Value: cards.DigestRef(d.ID, line)}))
	}
	run := h.waitRun(bob.Key(), lifecycle.EventAccessRevoke)
	if done := h.settle(run.ID); done.Status != gatehouse.RunSucceeded {
		t.Fatalf("revoke run ended %s: %s", done.Status, done.Summary)
	}
	if a, ok := h.conns["github"].(*simulated.Connector).Find(gatehouse.RefFor(bob)); !ok || a.Active {
		t.Fatalf("after the revoke github shows bob's account %+v, want it disabled", a)
	}
	runs, _ := h.db.ListRuns(store.RunFilter{IdentityKey: bob.Key()})
	n := 0
	for _, r := range runs {
		if r.Event.Type == lifecycle.EventAccessRevoke {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d revoke runs for two clicks, want 1", n)
	}

	// Orphans: Grace is bob's manager, not the app's owner: refused. IT
	// disables the GitHub ghost (the app shows it closed) and gives the AWS
	// one an owner (the next digest no longer lists it).
	orphanMsg := h.waitMessage("C0IT", "Orphaned in github")
	ghLine, awsLine := "o/github/"+ghosts["github"].ID, "o/aws/"+ghosts["aws"].ID
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "C0IT", MessageTS: orphanMsg.TS, ActionID: cards.ActDigestDisable, Value: cards.DigestRef(d.ID, ghLine)}))
	h.waitResponse("Only IT, the app's owner")
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "C0IT", MessageTS: orphanMsg.TS, ActionID: cards.ActDigestDisable, Value: cards.DigestRef(d.ID, ghLine)}))
	orphanRun := h.waitRun("orphan:github:"+ghosts["github"].ID, lifecycle.EventAccessRevoke)
	if done := h.settle(orphanRun.ID); done.Status != gatehouse.RunSucceeded {
		t.Fatalf("orphan run ended %s: %s", done.Status, done.Summary)
	}
	if a, ok := h.conns["github"].(*simulated.Connector).Find(gatehouse.AccountRef{AccountID: ghosts["github"].ID}); !ok || a.Active {
		t.Fatalf("github shows the disabled orphan as %+v", a)
	}
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "C0IT", MessageTS: orphanMsg.TS, ActionID: cards.ActDigestAssign, Value: cards.DigestRef(d.ID, awsLine)}))
	av := h.waitView("U0IT", cards.CallbackDigestAssign)
	h.acked(h.srv.SendViewSubmission("U0IT", av.ID, map[string]map[string]slacktest.InputValue{
		sh.FieldOwner: {cards.InputAction: {Type: "users_select", SelectedUser: "U0BOB"}},
	}))
	h.waitMessage("DU0IT", "belongs to bob@example.com")
	for _, o := range compute().Orphans {
		if o.ID == awsLine || o.ID == ghLine {
			t.Fatalf("orphan %s still listed after it was handled", o.ID)
		}
	}

	// IT keeps bob's aws account for 30 days through the modal.
	awsKeep := "d/" + bob.Key() + "/aws"
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "C0IT", MessageTS: dormantMsg.TS, ActionID: cards.ActDigestKeep, Value: cards.DigestRef(d.ID, awsKeep)}))
	v := h.waitView("U0IT", cards.CallbackDigestKeep)
	bad := h.acked(h.srv.SendViewSubmission("U0IT", v.ID, map[string]map[string]slacktest.InputValue{
		sh.FieldKeepReason: {cards.InputAction: {Value: " "}},
		sh.FieldKeepDays:   {cards.InputAction: {Type: "static_select", SelectedOption: "30"}},
	}))
	if !strings.Contains(string(bad.Payload), sh.FieldKeepReason) {
		t.Fatalf("a keep without a reason was not refused inline: %s", bad.Payload)
	}
	h.acked(h.srv.SendViewSubmission("U0IT", v.ID, map[string]map[string]slacktest.InputValue{
		sh.FieldKeepReason: {cards.InputAction: {Value: "on-call rotation needs break-glass access"}},
		sh.FieldKeepDays:   {cards.InputAction: {Type: "static_select", SelectedOption: "30"}},
	}))
	h.waitMessage("DU0IT", "Kept")
	next := compute()
	if _, listed := next.DormantByID(awsKeep); listed || next.Snoozed != 1 {
		t.Fatalf("after keep: aws listed=%v snoozed=%d", listed, next.Snoozed)
	}
}

// TestScheduledDigestThroughAWeek drives the digest's schedule with a fake
// clock across two weeks: the loopback Slack receives exactly one digest
// (summary plus its thread) each Monday at 09:00, and nothing in between.
func TestScheduledDigestThroughAWeek(t *testing.T) {
	h := newHarness(t)
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) // a Sunday
	clock := clocktest.New(start)
	gov := &governance.Service{Config: h.digests.Gov.Config, DB: h.db, Engine: h.eng, Now: clock.Now}
	posted := make(chan time.Time, 4)
	sched, err := governance.NewScheduler("0 9 * * MON", time.UTC, clock, func(ctx context.Context, at time.Time) {
		d, err := gov.Produce(ctx, h.conns)
		if err != nil {
			t.Errorf("produce: %v", err)
			return
		}
		if _, err := h.bot.PostDigest(ctx, "C0IT", d, 100); err != nil {
			t.Errorf("post: %v", err)
			return
		}
		posted <- at
	})
	if err != nil {
		t.Fatal(err)
	}
	sched.Start(h.ctx)
	defer sched.Close()
	summaries := func() int {
		n := 0
		for _, m := range h.srv.Messages("C0IT") {
			if m.ThreadTS == "" && strings.Contains(m.Text, "Weekly access digest") {
				n++
			}
		}
		return n
	}
	for week := 1; week <= 2; week++ {
		for hour := 0; hour < 7*24; hour++ {
			if !clock.BlockUntil(1, 5*time.Second) {
				t.Fatalf("week %d hour %d: the scheduler is not waiting on the clock", week, hour)
			}
			clock.Advance(time.Hour)
			select {
			case at := <-posted:
				if at.Weekday() != time.Monday || at.Hour() != 9 {
					t.Fatalf("a digest went out at %s", at)
				}
			default:
			}
		}
		h.waitMessage("C0IT", "Weekly access digest")
		if n := summaries(); n != week {
			t.Fatalf("after %d week(s) the IT channel has %d digests", week, n)
		}
	}
}
