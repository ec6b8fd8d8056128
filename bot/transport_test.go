package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
)

// startBot runs a bot with a store but no engine: enough for transport
// behaviour (acks, dedupe, malformed input, rate limits).
func startBot(t *testing.T, cfg slacktest.Config) (*Bot, *slacktest.Server, *store.DB) {
	t.Helper()
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	srv := slacktest.New(t, cfg)
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := &sh.Service{Store: db}
	b, err := New(Config{AppToken: srv.AppToken(), BotToken: srv.BotToken(), APIURL: srv.APIURL(), ITChannel: "C0IT",
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)}, svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := srv.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return b, srv, db
}

func TestNewRejectsMalformedTokens(t *testing.T) {
	for _, tc := range []struct {
		app, bot string
		want     error
	}{
		{"", "xoxb-1", ErrAppToken},
		{"xoxb-1", "xoxb-1", ErrAppToken},
		{"xapp-1", "xapp-1", ErrBotToken},
		{"xapp-1", "", ErrBotToken},
	} {
		if _, err := New(Config{AppToken: tc.app, BotToken: tc.bot}, nil); err != tc.want {
			t.Errorf("New(%q, %q) = %v, want %v", tc.app, tc.bot, err, tc.want)
		}
	}
}

func TestInvalidAuthStops(t *testing.T) {
	srv := slacktest.New(t, slacktest.Config{Logf: func(string, ...any) {}})
	b, err := New(Config{AppToken: srv.AppToken(), BotToken: "xoxb-wrong", APIURL: srv.APIURL(), Log: zerolog.Nop()}, &sh.Service{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Run(ctx); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("Run = %v, want invalid_auth", err)
	}
}

// TestMalformedEnvelopesAreAckedAndSurvived sends payloads slack-go cannot
// decode and payloads that decode into nonsense: each is acked, and the bot
// still answers afterwards.
func TestMalformedEnvelopesAreAckedAndSurvived(t *testing.T) {
	_, srv, _ := startBot(t, slacktest.Config{Users: []slacktest.User{{ID: "U1", Name: "ana", Email: "ana@example.com"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, p := range []map[string]any{
		{"type": "block_actions", "actions": "not-a-list", "user": map[string]any{"id": "U1"}},
		{"type": "view_submission", "user": map[string]any{"id": "U1"}, "view": map[string]any{"callback_id": "onboard", "state": map[string]any{"values": "x"}}},
		{"type": "view_submission", "user": map[string]any{"id": "U1"}, "view": map[string]any{"callback_id": "unknown"}},
		{"type": "block_actions", "user": map[string]any{"id": "U1"}, "actions": []any{map[string]any{"action_id": "approval_approve", "value": strings.Repeat("x", 5000)}}},
		{"type": "something_new"},
	} {
		d, err := srv.SendInteraction(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Wait(ctx); err != nil {
			t.Fatalf("payload %d not acked: %v", i, err)
		}
	}
	d, err := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "help", UserID: "U1", ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, p := range srv.ResponsePosts() {
			found = found || strings.Contains(string(p.Blocks), "Gatehouse commands")
		}
	}
	if !found {
		t.Fatalf("bot did not answer after malformed input: %+v", srv.ResponsePosts())
	}
}

// TestRateLimitedCallsRetryAfter: a 429 with Retry-After is waited out and
// the call succeeds; posts to one channel are paced.
func TestRateLimitedCallsRetryAfter(t *testing.T) {
	b, srv, _ := startBot(t, slacktest.Config{Channels: []slacktest.Channel{{ID: "C0IT", Name: "it"}}})
	srv.ForceRateLimit("chat.postMessage", 1, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	ref, err := b.api.post(ctx, "C0IT", "hello", nil)
	if err != nil {
		t.Fatalf("post after 429: %v", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After", waited)
	}
	if _, ok := srv.Message(ref.Channel, ref.TS); !ok {
		t.Fatal("message not stored")
	}
	start = time.Now()
	for i := 0; i < 3; i++ {
		if _, err := b.api.post(ctx, "C0IT", "again", nil); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 1900*time.Millisecond {
		t.Errorf("3 posts to one channel took %v; want about 1 per second", took)
	}
}

// TestEventDedupePersists: a redelivery is dropped even when the in-memory
// set was lost (a restart), because the key is in the store.
func TestEventDedupePersists(t *testing.T) {
	b, _, db := startBot(t, slacktest.Config{})
	if b.seen("Ev1") {
		t.Fatal("first delivery reported as seen")
	}
	if !b.seen("Ev1") {
		t.Fatal("second delivery not deduped")
	}
	b.dedupe.Delete("Ev1")
	if !b.seen("Ev1") {
		t.Fatal("dedupe did not survive losing the memory set")
	}
	if already, _ := db.MarkSeen("slack:event:Ev1", time.Hour); !already {
		t.Fatal("key not in the store")
	}
}

// FuzzInteractionPayload decodes arbitrary interaction payloads the way the
// bot does and reads every form field from them: nothing may panic.
func FuzzInteractionPayload(f *testing.F) {
	for _, s := range []string{
		`{"type":"view_submission","view":{"callback_id":"onboard","state":{"values":{"name":{"v":{"type":"plain_text_input","value":"Ada"}}}}}}`,
		`{"type":"block_actions","actions":[{"action_id":"approval_approve","value":"a-1"}]}`,
		`{"envelope_id":"e1","payload":{}}`, `null`, `{"view":{"state":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = envelopeID(raw)
		var cb slack.InteractionCallback
		if json.Unmarshal(raw, &cb) != nil {
			return
		}
		for _, field := range []string{sh.FieldName, sh.FieldEmail, sh.FieldManager, sh.FieldStartDate, sh.FieldKind, sh.FieldEndDate, sh.FieldReason, sh.FieldEvidence} {
			_ = value(cb.View.State, field)
		}
		f := sh.OnboardForm{Name: value(cb.View.State, sh.FieldName), Email: value(cb.View.State, sh.FieldEmail),
			StartDate: value(cb.View.State, sh.FieldStartDate), Kind: value(cb.View.State, sh.FieldKind), EndDate: value(cb.View.State, sh.FieldEndDate)}
		_, _ = f.Identity(gatehouse.Date{Year: 2026, Month: 11, Day: 26})
		for _, a := range cb.ActionCallback.BlockActions {
			if a != nil {
				_ = a.ActionID + a.Value
			}
		}
	})
}

// TestEscalationPostsOnlyToNewApprovers: when the engine adds approvers
// (escalation to the next manager up, then IT), only they get a new card;
// the cards already out are edited to show the escalation.
func TestEscalationPostsOnlyToNewApprovers(t *testing.T) {
	b, srv, db := startBot(t, slacktest.Config{Users: []slacktest.User{
		{ID: "U0GRACE", Name: "grace", Email: "grace@example.com"}, {ID: "U0VP", Name: "vp", Email: "vp@example.com"}}})
	a, err := db.PutApproval(gatehouse.Approval{ID: "a-esc", IdentityKey: "ada@example.com", Requester: "ada@example.com",
		Approvers: []string{"grace@example.com"}, Required: 1, Status: gatehouse.ApprovalPending})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b.Notifier().ApprovalRequested(ctx, a)
	first, err := srv.WaitForMessage(ctx, "DU0GRACE", func(m slacktest.Message) bool { return strings.Contains(string(m.Blocks), "a-esc") })
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool { x, _ := db.GetApproval("a-esc"); return len(x.Messages) == 1 }); err != nil {
		t.Fatal("card ref not recorded")
	}
	a, err = db.UpdateApproval("a-esc", func(x *gatehouse.Approval) error {
		x.Escalations++
		x.Approvers = append(x.Approvers, "vp@example.com")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Notifier().ApprovalRequested(ctx, a)
	if _, err := srv.WaitForMessage(ctx, "DU0VP", func(m slacktest.Message) bool { return strings.Contains(string(m.Blocks), "Escalated") }); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool { m, _ := srv.Message(first.Channel, first.TS); return m.Edits > 0 }); err != nil {
		t.Fatal("first approver's card not edited")
	}
	if n := len(srv.Messages("DU0GRACE")); n != 1 {
		t.Errorf("first approver got %d cards, want 1", n)
	}
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func TestCapMessage(t *testing.T) {
	var blocks []slack.Block
	for i := 0; i < 70; i++ {
		blocks = append(blocks, slack.NewDividerBlock())
	}
	raw, err := json.Marshal(capMessage(blocks))
	if err != nil {
		t.Fatal(err)
	}
	if errs := slacktest.ValidateMessageBlocks(raw); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(string(raw), "21 more blocks") {
		t.Fatalf("no note: %s", raw)
	}
	if got := capMessage(blocks[:3]); len(got) != 3 {
		t.Fatalf("short message changed: %d", len(got))
	}
}

// TestProgressCardSurvivesRestart: a restarted bot edits the progress card
// it posted before instead of posting a second one.
func TestProgressCardSurvivesRestart(t *testing.T) {
	srv := slacktest.New(t, slacktest.Config{Channels: []slacktest.Channel{{ID: "C0IT", Name: "it"}}, Logf: func(string, ...any) {}})
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	state := filepath.Join(t.TempDir(), "slack-state.json")
	newBot := func() *Bot {
		b, err := New(Config{AppToken: srv.AppToken(), BotToken: srv.BotToken(), APIURL: srv.APIURL(), ITChannel: "C0IT",
			StateFile: state, Log: zerolog.Nop()}, &sh.Service{Store: db})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	run := gatehouse.Run{ID: "r-1", IdentityKey: "ada@example.com", Status: gatehouse.RunRunning,
		Event: gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: "ada@example.com", Name: "Ada"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	b1 := newBot()
	b1.renderProgress(ctx, run, nil)
	ref, ok := b1.ProgressCard("r-1")
	if !ok {
		t.Fatal("no card posted")
	}
	b1.Close()

	b2 := newBot()
	defer b2.Close()
	if got, ok := b2.ProgressCard("r-1"); !ok || got != ref {
		t.Fatalf("restarted bot has card %+v (%v), want %+v", got, ok, ref)
	}
	run.Status = gatehouse.RunSucceeded
	b2.renderProgress(ctx, run, nil)
	if n := len(srv.Messages("C0IT")); n != 1 {
		t.Fatalf("%d cards in the channel, want 1", n)
	}
	if m, _ := srv.Message(ref.Channel, ref.TS); m.Edits != 1 || !strings.Contains(string(m.Blocks), "Succeeded") {
		t.Fatalf("card not edited to the final state: %d edits", m.Edits)
	}
	b3 := newBot()
	defer b3.Close()
	if _, ok := b3.ProgressCard("r-1"); ok {
		t.Error("finished run still remembered after a restart")
	}
}

// TestRunLeavesNoGoroutines: every goroutine the bot starts (socket,
// queues, submission checks) is gone once Run returns.
func TestRunLeavesNoGoroutines(t *testing.T) {
	srv := slacktest.New(t, slacktest.Config{Users: []slacktest.User{{ID: "U1", Name: "ana", Email: "ana@example.com"}}, Logf: func(string, ...any) {}})
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := runtime.NumGoroutine()
	b, err := New(Config{AppToken: srv.AppToken(), BotToken: srv.BotToken(), APIURL: srv.APIURL(), Log: zerolog.Nop()}, &sh.Service{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := srv.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	d, err := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "help", UserID: "U1", ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		http.DefaultClient.CloseIdleConnections()
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestUserChangeFlushesTheDirectory: rights follow emails, so a changed
// email takes effect at the next click, not after the cache expires.
func TestUserChangeFlushesTheDirectory(t *testing.T) {
	b, srv, _ := startBot(t, slacktest.Config{Users: []slacktest.User{{ID: "U1", Name: "ana", Email: "ana@example.com"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e, _ := b.dir.EmailOf(ctx, "U1"); e != "ana@example.com" {
		t.Fatalf("email %q", e)
	}
	srv.AddUser(slacktest.User{ID: "U1", Name: "ana", Email: "ana.new@example.com"})
	if e, _ := b.dir.EmailOf(ctx, "U1"); e != "ana@example.com" {
		t.Fatalf("cache not used: %q", e)
	}
	d, err := srv.SendEvent(map[string]any{"type": "user_change", "user": map[string]any{"id": "U1", "name": "ana"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, func() bool { e, _ := b.dir.EmailOf(ctx, "U1"); return e == "ana.new@example.com" }); err != nil {
		t.Fatal("directory kept the old email after user_change")
	}
}
