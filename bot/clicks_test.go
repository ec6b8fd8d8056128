package bot_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
)

// clickBurst clicks Approve n times, one click every interval, on two
// cards: a pending approval clicked by someone who is not its approver
// (refused and audited) and an approval already decided, clicked again by
// its approver (stale: answered, and the card refreshed). Every click has
// its own response_url; clickBurst returns, per click, the time from the
// click to the first post on its response_url.
func clickBurst(tb testing.TB, h *harness, n int, interval time.Duration) []time.Duration {
	tb.Helper()
	ctx := context.Background()
	pending, err := h.db.PutApproval(gatehouse.Approval{ID: "a-clicks", IdentityKey: "bob@example.com", Requester: "bob@example.com",
		Approvers: []string{"grace@example.com"}, Required: 1, Status: gatehouse.ApprovalPending, CreatedAt: time.Now()})
	if err != nil {
		tb.Fatal(err)
	}
	h.bot.Notifier().ApprovalRequested(ctx, pending)
	card := h.waitMessage("DU0GRACE", "Access approval needed")
	decided, err := h.db.PutApproval(gatehouse.Approval{ID: "a-decided", IdentityKey: "bob@example.com", Requester: "bob@example.com",
		Approvers: []string{"grace@example.com"}, Required: 1, Status: gatehouse.ApprovalApproved, CreatedAt: time.Now(),
		Decisions: []gatehouse.Decision{{By: "grace@example.com", Approved: true, At: time.Now()}},
		Messages:  []gatehouse.MessageRef{{Channel: card.Channel, TS: card.TS}}})
	if err != nil {
		tb.Fatal(err)
	}

	tick := time.NewTicker(interval)
	defer tick.Stop()
	ds := make([]*slacktest.Delivery, 0, n)
	for i := 0; i < n; i++ {
		<-tick.C
		a := slacktest.BlockAction{UserID: "U0MAL", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: pending.ID}
		if i%2 == 1 {
			a.UserID, a.Value = "U0GRACE", decided.ID
		}
		d, err := h.srv.SendBlockAction(a)
		if err != nil {
			tb.Fatal(err)
		}
		ds = append(ds, d)
	}
	wctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	lat := make([]time.Duration, 0, n)
	for i, d := range ds {
		if d.ResponseURL == "" {
			tb.Fatalf("click %d has no response_url", i)
		}
		p, err := h.srv.WaitForResponse(wctx, d.ResponseURL)
		if err != nil {
			tb.Fatalf("click %d of %d was never answered: %v (%d answers in all)", i+1, n, err, len(h.srv.ResponsePosts()))
		}
		if p.Error != "" {
			tb.Errorf("click %d: response_url refused the answer: %s", i+1, p.Error)
		}
		lat = append(lat, p.Time.Sub(d.Sent))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

func pct(lat []time.Duration, p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }

// TestRapidClicksAllAnswered: 200 clicks within one second each get their
// ephemeral answer (the refusal or "already decided") on their own
// response_url. No timing is asserted here; BenchmarkClickAnswerLatency
// measures it.
func TestRapidClicksAllAnswered(t *testing.T) {
	h := newHarness(t)
	lat := clickBurst(t, h, 200, 5*time.Millisecond)
	if len(lat) != 200 {
		t.Fatalf("%d answers", len(lat))
	}
	t.Logf("click to answer: p50 %v, p99 %v, max %v", pct(lat, 0.5), pct(lat, 0.99), lat[len(lat)-1])
}

// BenchmarkClickAnswerLatency clicks at 100 per second over the loopback
// Slack and reports the time from each click to its response_url answer.
// Run with -benchtime=1000x for a stable p99 (target: p99 ≤ 1 s).
func BenchmarkClickAnswerLatency(b *testing.B) {
	h := newHarness(b)
	b.ResetTimer()
	lat := clickBurst(b, h, max(b.N, 2), 10*time.Millisecond)
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(lat, 0.50)), "p50-answer-ms")
	b.ReportMetric(ms(pct(lat, 0.99)), "p99-answer-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-answer-ms")
}
