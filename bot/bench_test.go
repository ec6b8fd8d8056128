package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
)

// BenchmarkAckLatency sends slash commands and card clicks at 100 per
// second over the loopback Socket Mode link and reports the ack latency
// slacktest measured (send to ack), plus the heap while serving.
// Run with -benchtime=1000x for a stable p99.
func BenchmarkAckLatency(b *testing.B) {
	h := newHarness(b)
	// One approval card to click on (forged clicks: refusal + audit write).
	a, err := h.db.PutApproval(gatehouse.Approval{ID: "a-bench", IdentityKey: "bob@example.com", Requester: "bob@example.com",
		Approvers: []string{"grace@example.com"}, Required: 1, Status: gatehouse.ApprovalPending, CreatedAt: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	h.bot.Notifier().ApprovalRequested(context.Background(), a)
	card := h.waitMessage("DU0GRACE", "Access approval needed")

	tick := time.NewTicker(10 * time.Millisecond) // 100 interactions per second
	defer tick.Stop()
	ds := make([]*slacktest.Delivery, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		var d *slacktest.Delivery
		switch i % 3 {
		case 0:
			d, err = h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", UserID: "U0BOB", ChannelID: "C0IT"})
		case 1:
			d, err = h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "why okta", UserID: "U0BOB", ChannelID: "C0IT"})
		default:
			d, err = h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: "a-bench"})
		}
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	lat := make([]time.Duration, 0, len(ds))
	for _, d := range ds {
		ack, err := d.Wait(h.ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, ack.Latency)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ack-ms")
	b.ReportMetric(pct(0.99), "p99-ack-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ack-ms")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	if p99 := pct(0.99); p99 > 50 && !testing.Short() {
		b.Logf("p99 ack latency %.1f ms exceeds the 50 ms target", p99)
	}
}

func seedApprovals(b *testing.B, h *harness, n int) []string {
	b.Helper()
	ids := make([]string, n)
	now := time.Now()
	for i := range ids {
		a := gatehouse.Approval{ID: fmt.Sprintf("a-%05d", i), IdentityKey: "bob@example.com", Requester: "bob@example.com",
			Items:     []gatehouse.PlannedGrant{{App: "aws", Entitlement: "poweruser", Risk: gatehouse.RiskHigh, Reasons: []gatehouse.Reason{{Rule: "payments"}}}},
			Approvers: []string{"grace@example.com", "it-lead@example.com"}, Required: 1, Status: gatehouse.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(72 * time.Hour)}
		if _, err := h.db.PutApproval(a); err != nil {
			b.Fatal(err)
		}
		ids[i] = a.ID
	}
	return ids
}

// BenchmarkHome500Approvals builds and renders the IT Home tab with 500
// pending approvals (store reads, model, Block Kit, JSON).
func BenchmarkHome500Approvals(b *testing.B) {
	h := newHarness(b)
	seedApprovals(b, h, 500)
	actor := sh.Actor{UserID: "U0IT", Email: "it-lead@example.com", IT: true}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := h.svc.Home(ctx, actor)
		if err != nil {
			b.Fatal(err)
		}
		v := cards.Home(m)
		if len(v.Blocks.BlockSet) > cards.MaxViewBlocks {
			b.Fatalf("%d blocks", len(v.Blocks.BlockSet))
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApprovalLookup500 re-checks a click against stored state with
// 500 pending approvals: what every Approve / Deny does before acting.
func BenchmarkApprovalLookup500(b *testing.B) {
	h := newHarness(b)
	ids := seedApprovals(b, h, 500)
	actor := sh.Actor{UserID: "U0GRACE", Email: "grace@example.com"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.svc.PrepareDeny(actor, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmissionAckLatency submits an onboarding form with an invalid
// email at 100 per second: the ack waits for validation (directory lookups,
// store reads) and carries the inline errors, so this is the slowest ack
// path. The modal stays open, so one view takes every submission.
func BenchmarkSubmissionAckLatency(b *testing.B) {
	h := newHarness(b)
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", UserID: "U0IT", ChannelID: "C0IT"}))
	v := h.waitView("U0IT", cards.CallbackOnboard)
	vals := onboardValues("not-an-email", time.Now().UTC().Format("2006-01-02"), "")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	ds := make([]*slacktest.Delivery, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		d, err := h.srv.SendViewSubmission("U0IT", v.ID, vals)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	lat := make([]time.Duration, 0, len(ds))
	for _, d := range ds {
		ack, err := d.Wait(h.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(ack.Payload) == 0 {
			b.Fatal("invalid form acked without errors")
		}
		lat = append(lat, ack.Latency)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ack-ms")
	b.ReportMetric(pct(0.99), "p99-ack-ms")
}
