package bot_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// harness runs the whole bot against the loopback Slack with the real
// store, rules engine and lifecycle engine (simulated connectors).
type harness struct {
	t   testing.TB
	svc *sh.Service
	srv *slacktest.Server
	db  *store.DB
	eng *lifecycle.Engine
	bot *bot.Bot
	// conns are the simulated apps; digests answers digest clicks.
	conns   map[string]gatehouse.Connector
	digests *sh.Digests
	reviews *sh.Reviews
	done    chan error
	ctx     context.Context
}

var people = []gatehouse.Identity{
	{Email: "grace@example.com", Name: "Grace Hopper", Department: "Engineering", ManagerEmail: "vp@example.com", Status: gatehouse.StatusActive},
	{Email: "vp@example.com", Name: "Vera VP", Department: "Engineering", Status: gatehouse.StatusActive},
	{Email: "bob@example.com", Name: "Bob Builder", Department: "Engineering", ManagerEmail: "grace@example.com", Status: gatehouse.StatusActive},
	{Email: "mallory@example.com", Name: "Mallory", Department: "Sales", Status: gatehouse.StatusActive},
	{Email: "it-lead@example.com", Name: "Ida IT", Department: "IT", Status: gatehouse.StatusActive},
}

func newHarness(t testing.TB, opts ...func(*lifecycle.Options)) *harness {
	t.Helper()
	return newHarnessWith(t, "e2e.yaml", people, opts...)
}

// newHarnessWith runs the bot with testdata/CONFIG and the given people in
// the store (none: a fresh install).
func newHarnessWith(t testing.TB, configFile string, people []gatehouse.Identity, opts ...func(*lifecycle.Options)) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	srv := slacktest.New(t, slacktest.Config{
		Users: []slacktest.User{
			{ID: "U0IT", Name: "ida", Email: "it-lead@example.com"},
			{ID: "U0GRACE", Name: "grace", Email: "grace@example.com"},
			{ID: "U0BOB", Name: "bob", Email: "bob@example.com"},
			{ID: "U0MAL", Name: "mallory", Email: "mallory@example.com"},
			{ID: "U0HR", Name: "hank", Email: "hank@example.com"},
			{ID: "U0VP", Name: "vera", Email: "vp@example.com"},
		},
		Channels:   []slacktest.Channel{{ID: "C0IT", Name: "it-ops"}},
		UserGroups: []slacktest.UserGroup{{ID: "S0HR", Handle: "hr", Users: []string{"U0HR"}}},
		Logf:       func(string, ...any) {},
	})
	raw, err := os.ReadFile(filepath.Join("testdata", configFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(configFile, raw, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "gatehouse.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, p := range people {
		p.Normalize()
		if _, err := db.PutIdentity(p); err != nil {
			t.Fatal(err)
		}
	}
	re, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]gatehouse.Connector{}
	for _, name := range cfg.AppNames() {
		conns[name] = simulated.New(name, simulated.Options{})
	}
	h := &harness{t: t, srv: srv, db: db, done: make(chan error, 1), ctx: ctx}
	svc := &sh.Service{Store: db, Config: cfg, Planner: sh.Rules{E: re}}
	digests, reviews := &sh.Digests{}, &sh.Reviews{}
	b, err := bot.New(bot.Config{
		AppToken: srv.AppToken(), BotToken: srv.BotToken(), APIURL: srv.APIURL(),
		ITChannel: cfg.Admins.ITChannel, IT: cfg.Admins.IT, HR: cfg.Admins.HR, Digests: digests, Reviews: reviews,
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}, svc)
	if err != nil {
		t.Fatal(err)
	}
	lo := lifecycle.Options{Store: db, Config: cfg, Rules: re, Connectors: conns, Notifier: b.Notifier(),
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	for _, o := range opts {
		o(&lo)
	}
	eng, err := lifecycle.New(lo)
	if err != nil {
		t.Fatal(err)
	}
	svc.Engine = sh.Lifecycle{E: eng}
	digests.Gov = &governance.Service{Config: cfg, DB: db, Engine: eng}
	reviews.Gov = &governance.Reviews{Config: cfg, DB: db, Engine: eng, Notify: b.ReviewNotifier()}
	h.reviews = reviews
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.eng, h.bot, h.svc, h.conns, h.digests = eng, b, svc, conns, digests
	rctx, stop := context.WithCancel(context.Background())
	go func() { h.done <- b.Run(rctx) }()
	t.Cleanup(func() {
		// Every Web API call the bot made must have been valid: slacktest
		// refuses blocks over Block Kit's limits, bad arguments, and so on.
		for _, c := range srv.Calls("") {
			switch c.Error {
			case "", "users_not_found", "user_not_found", "ratelimited":
			default:
				t.Errorf("Web API %s failed with %s", c.Method, c.Error)
			}
		}
		stop()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("bot.Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("bot.Run did not return")
		}
		eng.Close()
	})
	if err := srv.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// acked waits for a delivery's ack and checks it came within Slack's 3 s.
func (h *harness) acked(d *slacktest.Delivery, err error) slacktest.Ack {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	ack, err := d.Wait(h.ctx)
	if err != nil {
		h.t.Fatalf("no ack for %s: %v", d.EnvelopeID, err)
	}
	if ack.Latency > 3*time.Second {
		h.t.Errorf("ack after %v", ack.Latency)
	}
	for _, p := range ack.Problems {
		h.t.Errorf("ack problem: %s", p)
	}
	return ack
}

func (h *harness) waitMessage(channel string, contains ...string) slacktest.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
	defer cancel()
	m, err := h.srv.WaitForMessage(ctx, channel, func(m slacktest.Message) bool {
		for _, c := range contains {
			if !strings.Contains(string(m.Blocks), c) && !strings.Contains(m.Text, c) {
				return false
			}
		}
		return true
	})
	if err != nil {
		h.t.Fatalf("no message in %s containing %q: %v (have %d messages)", channel, contains, err, len(h.srv.Messages(channel)))
	}
	return m
}

func (h *harness) waitView(user, callback string) slacktest.View {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	v, err := h.srv.WaitForView(ctx, func(v slacktest.View) bool {
		return v.UserID == user && v.CallbackID == callback && !v.Closed
	})
	if err != nil {
		h.t.Fatalf("no %s view for %s: %v", callback, user, err)
	}
	return v
}

func (h *harness) waitResponse(contains string) slacktest.ResponsePost {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range h.srv.ResponsePosts() {
			if strings.Contains(p.Text, contains) || strings.Contains(string(p.Blocks), contains) {
				return p
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no response_url post containing %q; have %+v", contains, h.srv.ResponsePosts())
	return slacktest.ResponsePost{}
}

func (h *harness) waitRun(key string, ev gatehouse.EventType) gatehouse.Run {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runs, _ := h.db.ListRuns(store.RunFilter{IdentityKey: key})
		for _, r := range runs {
			if r.Event.Type == ev {
				return r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no %s run for %s", ev, key)
	return gatehouse.Run{}
}

func (h *harness) settle(runID string) gatehouse.Run {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := h.db.GetRun(runID)
		if err != nil {
			h.t.Fatalf("run %s: %v", runID, err)
		}
		if r.Status.Terminal() || r.Status == gatehouse.RunBlocked || time.Now().After(deadline) {
			if r.Status != gatehouse.RunSucceeded {
				steps, _ := h.db.Steps(runID)
				for _, s := range steps {
					h.t.Logf("step %s %s %s %s: %s", s.ID, s.Kind, s.App, s.Status, s.LastError)
				}
			}
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func in(v string) map[string]slacktest.InputValue {
	return map[string]slacktest.InputValue{cards.InputAction: {Type: "plain_text_input", Value: v}}
}

func onboardValues(email, start, end string) map[string]map[string]slacktest.InputValue {
	return map[string]map[string]slacktest.InputValue{
		sh.FieldName:       in("Ada Lovelace"),
		sh.FieldEmail:      in(email),
		sh.FieldTitle:      in("Backend Engineer"),
		sh.FieldDepartment: in("Engineering"),
		sh.FieldTeam:       in("Payments"),
		sh.FieldLocation:   in("Berlin"),
		sh.FieldManager:    {cards.InputAction: {Type: "users_select", SelectedUser: "U0GRACE"}},
		sh.FieldStartDate:  {cards.InputAction: {Type: "datepicker", SelectedDate: start}},
		sh.FieldKind:       {cards.InputAction: {Type: "static_select", SelectedOption: "employee"}},
		sh.FieldEndDate:    {cards.InputAction: {Type: "datepicker", SelectedDate: end}},
	}
}

func approvalID(t *testing.T, m slacktest.Message) string {
	t.Helper()
	var blocks []map[string]any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, e := range b["elements"].([]any) {
			el := e.(map[string]any)
			if el["action_id"] == cards.ActApprove {
				return el["value"].(string)
			}
		}
	}
	t.Fatalf("no approve button in %s", m.Blocks)
	return ""
}

// TestOnboardStory: /onboard → modal → preview → submit → the manager gets
// an approval card in a DM; a forged click by someone else is refused and
// audited; Slack asks the bot to reconnect mid-run; the manager approves;
// the run completes and both cards are edited in place.
func TestOnboardStory(t *testing.T) {
	h := newHarness(t)
	today := time.Now().UTC().Format("2006-01-02")

	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", UserID: "U0IT", ChannelID: "C0IT"}))
	v := h.waitView("U0IT", cards.CallbackOnboard)

	// Preview: the plan is shown before submitting.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", ViewID: v.ID, ActionID: cards.ActPreview, BlockID: "preview_actions", Value: "preview"}))
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	if _, err := h.srv.WaitForView(ctx, func(x slacktest.View) bool { return x.ID == v.ID && x.Updates > 0 }); err != nil {
		t.Fatalf("preview did not update the modal: %v", err)
	}
	cancel()

	// Invalid submission: inline errors, nothing created.
	bad := onboardValues("not-an-email", today, "2000-01-01")
	ack := h.acked(h.srv.SendViewSubmission("U0IT", v.ID, bad))
	if !strings.Contains(string(ack.Payload), `"errors"`) || !strings.Contains(string(ack.Payload), sh.FieldEmail) || !strings.Contains(string(ack.Payload), sh.FieldEndDate) {
		t.Fatalf("want inline errors for email and end_date, got %s", ack.Payload)
	}
	if runs, _ := h.db.ListRuns(store.RunFilter{}); len(runs) != 0 {
		t.Fatalf("invalid form created %d runs", len(runs))
	}

	ack = h.acked(h.srv.SendViewSubmission("U0IT", v.ID, onboardValues("ada@example.com", today, "")))
	if len(ack.Payload) != 0 {
		t.Fatalf("valid submission answered %s", ack.Payload)
	}
	run := h.waitRun("ada@example.com", gatehouse.EventJoiner)
	card := h.waitMessage("DU0GRACE", "Access approval needed")
	id := approvalID(t, card)
	if !strings.Contains(string(card.Blocks), "aws:poweruser") {
		t.Errorf("approval card does not name the grant: %s", card.Blocks)
	}
	h.waitMessage("C0IT", "Onboarding Ada Lovelace")

	// A forwarded card clicked by someone else: ephemeral refusal, audited,
	// nothing changes.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitResponse("not an approver")
	if a, _ := h.db.GetApproval(id); a.Status != gatehouse.ApprovalPending {
		t.Fatalf("forged click changed the approval to %s", a.Status)
	}
	audit, _ := h.db.AuditEntries(store.AuditFilter{})
	refused := false
	for _, e := range audit {
		if e.Action == "refuse" && e.Actor.ID == "mallory@example.com" {
			refused = true
		}
	}
	if !refused {
		t.Error("forged approval was not audited")
	}

	// Slack rotates the connection mid-run.
	h.srv.Disconnect("refresh_requested")
	ctx, cancel = context.WithTimeout(h.ctx, 15*time.Second)
	if err := h.srv.WaitConnectCount(ctx, 2); err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	cancel()

	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: id}))
	done := h.settle(run.ID)
	if done.Status != gatehouse.RunSucceeded {
		t.Fatalf("run ended %s", done.Status)
	}
	h.waitMessage("DU0GRACE", "Access approved")
	if m, _ := h.srv.Message(card.Channel, card.TS); m.Edits == 0 || !strings.Contains(string(m.Blocks), "Access approved") {
		t.Errorf("approval card not edited in place: %d edits", m.Edits)
	}
	h.waitMessage("C0IT", "Succeeded")

	// A stale click on the decided card answers politely and changes nothing.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitResponse("already approved")
}

// TestOffboardStory: /offboard by HR (via a user group) → confirmation modal
// listing every account → submit → progress card edited to the evidence.
func TestOffboardStory(t *testing.T) {
	h := newHarness(t)
	// Give Bob access first, straight through the engine.
	bob, _ := h.db.IdentityByEmail("bob@example.com")
	r, _, err := h.eng.Submit(h.ctx, gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bob, Source: "test", Actor: gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.settle(r.ID).Status; s != gatehouse.RunSucceeded {
		t.Fatalf("joiner %s", s)
	}

	// Not IT/HR: refused with an ephemeral answer.
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/offboard", Text: "<@U0BOB>", UserID: "U0MAL", ChannelID: "C0IT"}))
	h.waitResponse("Only IT and HR")
	// Wrong arguments.
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/offboard", Text: "bob yesterday", UserID: "U0HR", ChannelID: "C0IT"}))
	h.waitResponse("usage")
	// Unknown email.
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/offboard", Text: "nobody@example.com", UserID: "U0HR", ChannelID: "C0IT"}))
	h.waitResponse("does not know")

	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/offboard", Text: "<@U0BOB|bob> now", UserID: "U0HR", ChannelID: "C0IT"}))
	v := h.waitView("U0HR", cards.CallbackOffboard)
	for _, app := range []string{"okta", "github", "aws"} {
		if !strings.Contains(string(v.JSON), app) {
			t.Errorf("offboard modal does not list %s", app)
		}
	}
	if !strings.Contains(string(v.JSON), "U0GRACE") {
		t.Error("ownership transfer does not default to the manager")
	}
	// Grace has no account in these apps: the modal says, before anyone
	// confirms, that the ladder hands github's resources to IT.
	if !strings.Contains(string(v.JSON), "resources to it-lead@example.com (it)") {
		t.Errorf("the offboard modal does not say who receives github's resources:\n%s", v.JSON)
	}
	h.acked(h.srv.SendViewSubmission("U0HR", v.ID, map[string]map[string]slacktest.InputValue{
		sh.FieldTransferTo: {cards.InputAction: {Type: "users_select", SelectedUser: "U0GRACE"}},
	}))
	run := h.waitRun(bob.Key(), gatehouse.EventLeaver)
	// Grace has no account in the simulated apps, so the transfer ladder
	// hands ownership to IT as a manual task, and credentials of high-risk
	// apps are rotated by their owners: the run waits on people (never
	// "offboarded" while a path is open) until they close them from their cards.
	if s := h.settle(run.ID).Status; s != gatehouse.RunWaiting && s != gatehouse.RunBlocked {
		t.Fatalf("leaver run ended %s, want waiting on manual tasks", s)
	}
	h.waitMessage("C0IT", "Offboarding Bob Builder", "Waiting")
	tasks, _ := h.db.ListTasks(store.TaskFilter{RunID: run.ID})
	if len(tasks) == 0 {
		t.Fatal("no manual tasks for the escalated steps")
	}
	for _, task := range tasks {
		uid := map[string]string{"it-lead@example.com": "U0IT", "grace@example.com": "U0GRACE"}[task.Assignee]
		tc := h.waitMessage("D"+uid, task.ID)
		// Someone else may not close it.
		h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "D" + uid, MessageTS: tc.TS, ActionID: cards.ActTaskDone, Value: task.ID}))
		h.waitResponse("assigned to someone else")
		h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: uid, Channel: "D" + uid, MessageTS: tc.TS, ActionID: cards.ActTaskDone, Value: task.ID}))
		tv := h.waitView(uid, cards.CallbackTask)
		ack := h.acked(h.srv.SendViewSubmission(uid, tv.ID, map[string]map[string]slacktest.InputValue{sh.FieldEvidence: in("")}))
		if !strings.Contains(string(ack.Payload), sh.FieldEvidence) {
			t.Fatalf("empty evidence accepted: %s", ack.Payload)
		}
		h.acked(h.srv.SendViewSubmission(uid, tv.ID, map[string]map[string]slacktest.InputValue{sh.FieldEvidence: in("Transferred by hand in the admin console.")}))
		h.waitMessage("D"+uid, "Manual task done", task.ID)
	}
	done := h.settle(run.ID)
	if done.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver run ended %s after the tasks were done", done.Status)
	}
	card := h.waitMessage("C0IT", "Offboarding Bob Builder")
	ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
	defer cancel()
	m, err := h.srv.WaitForMessage(ctx, "C0IT", func(m slacktest.Message) bool {
		return m.TS == card.TS && strings.Contains(string(m.Blocks), "Evidence")
	})
	if err != nil {
		t.Fatalf("progress card never showed the evidence: %v", err)
	}
	if m.Edits == 0 {
		t.Error("progress card was not edited in place")
	}
}

// TestAccessAndHome: /access answers, /access why, a manager looking at a
// report, a stranger refused; the Home tab publishes once per event even
// when Slack redelivers it.
func TestAccessAndHome(t *testing.T) {
	h := newHarness(t)
	bob, _ := h.db.IdentityByEmail("bob@example.com")
	r, _, err := h.eng.Submit(h.ctx, gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bob, Source: "test", Actor: gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	h.settle(r.ID)

	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", UserID: "U0BOB", ChannelID: "C0IT"}))
	h.waitResponse("github:member")
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "why github:member", UserID: "U0BOB", ChannelID: "C0IT"}))
	h.waitResponse("engineers")
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "<@U0BOB>", UserID: "U0MAL", ChannelID: "C0IT"}))
	h.waitResponse("Only IT and a person")
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "<@U0BOB>", UserID: "U0GRACE", ChannelID: "C0IT"}))
	h.waitResponse("Access of Bob Builder")

	d, err := h.srv.SendEvent(map[string]any{"type": "app_home_opened", "user": "U0IT", "channel": "DU0IT", "tab": "home"})
	h.acked(d, err)
	h.acked(h.srv.Redeliver(d, 1))
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if _, err := h.srv.WaitForCall(ctx, "views.publish", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(h.srv.Calls("views.publish")); n != 1 {
		t.Errorf("views.publish called %d times for one event delivered twice", n)
	}
	home, _ := h.srv.HomeView("U0IT")
	if !strings.Contains(string(home.JSON), "IT operations") {
		t.Errorf("IT admin's Home lacks the IT section")
	}
}

func requestValues(ent, dur, why string) map[string]map[string]slacktest.InputValue {
	return map[string]map[string]slacktest.InputValue{
		sh.FieldEntitlement:   {cards.InputAction: {Type: "static_select", SelectedOption: ent}},
		sh.FieldDuration:      {cards.InputAction: {Type: "static_select", SelectedOption: dur}},
		sh.FieldJustification: in(why),
	}
}

// TestAccessRequestStory: /access request → modal → manager's card; the
// requester cannot approve their own request; a denial asks for a reason
// and tells the requester; a network drop mid-story reconnects; a second
// request is approved into a grant that expires by itself.
func TestAccessRequestStory(t *testing.T) {
	h := newHarness(t)
	bob, _ := h.db.IdentityByEmail("bob@example.com")

	request := func() (gatehouse.Run, slacktest.Message) {
		h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "request", UserID: "U0BOB", ChannelID: "C0IT"}))
		v := h.waitView("U0BOB", cards.CallbackRequest)
		ack := h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, requestValues("aws:poweruser", "7d", "short")))
		if !strings.Contains(string(ack.Payload), sh.FieldJustification) {
			t.Fatalf("short justification accepted: %s", ack.Payload)
		}
		before := len(h.srv.Messages("DU0GRACE"))
		h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, requestValues("aws:poweruser", "7d", "Payments on-call rotation starts Monday")))
		deadline := time.Now().Add(10 * time.Second)
		for len(h.srv.Messages("DU0GRACE")) == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		msgs := h.srv.Messages("DU0GRACE")
		if len(msgs) == before {
			t.Fatal("no approval card for the request")
		}
		card := msgs[len(msgs)-1]
		a, err := h.db.GetApproval(approvalID(t, card))
		if err != nil {
			t.Fatal(err)
		}
		run, _ := h.db.GetRun(a.RunID)
		return run, card
	}

	run1, card := request()
	id := approvalID(t, card)
	// The requester clicks a forwarded card: self-approval is refused.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0BOB", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitResponse("cannot approve your own access")

	// The network drops; the bot reconnects by itself.
	h.srv.DropConnection()
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	if err := h.srv.WaitConnectCount(ctx, 2); err != nil {
		t.Fatalf("no reconnect after a drop: %v", err)
	}
	cancel()

	// Deny asks for a reason.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActDeny, Value: id}))
	dv := h.waitView("U0GRACE", cards.CallbackDeny)
	ack := h.acked(h.srv.SendViewSubmission("U0GRACE", dv.ID, map[string]map[string]slacktest.InputValue{sh.FieldReason: in("  ")}))
	if !strings.Contains(string(ack.Payload), sh.FieldReason) {
		t.Fatalf("denial without a reason accepted: %s", ack.Payload)
	}
	h.acked(h.srv.SendViewSubmission("U0GRACE", dv.ID, map[string]map[string]slacktest.InputValue{sh.FieldReason: in("Use readonly until the training")}))
	h.waitMessage("DU0GRACE", "Access denied", id)
	h.waitMessage("DU0BOB", "was denied")
	if r := h.settle(run1.ID); r.Status == gatehouse.RunRunning {
		t.Fatalf("denied request still running")
	}
	if g, err := h.db.GetGrant(bob.Key(), "aws", "poweruser"); err == nil && g.Active(time.Now()) {
		t.Fatal("denied access was granted")
	}

	run2, card2 := request()
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card2.TS, ActionID: cards.ActApprove, Value: approvalID(t, card2)}))
	if r := h.settle(run2.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("approved request ended %s", r.Status)
	}
	g, err := h.db.GetGrant(bob.Key(), "aws", "poweruser")
	if err != nil {
		t.Fatal(err)
	}
	if g.ExpiresAt.IsZero() || g.ExpiresAt.After(time.Now().Add(7*24*time.Hour+time.Minute)) {
		t.Errorf("grant expiry %v, want about 7 days from now", g.ExpiresAt)
	}
	h.waitMessage("DU0BOB", "was approved")
}

// TestHeldMassChange: the HR guard held a batch of leavers; the IT channel
// gets a card; a non-IT click is refused; IT releases and the runs go on.
func TestHeldMassChange(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for _, email := range []string{"bob@example.com", "mallory@example.com"} {
		id, _ := h.db.IdentityByEmail(email)
		r, _, err := h.eng.Submit(h.ctx, gatehouse.Event{Type: gatehouse.EventLeaver, Identity: id, Source: "hr:test",
			Actor: gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "test"}}, lifecycle.Hold("mass change"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != gatehouse.RunHeld {
			t.Fatalf("run %s is %s, want held", r.ID, r.Status)
		}
		ids = append(ids, r.ID)
	}
	if err := h.bot.HRNotifier("").MassChangeHeld(h.ctx, hr.MassChange{Source: "bamboohr", Origin: "sync", Leavers: 2, Identities: 4, InWindow: 2, Window: time.Hour, RunIDs: ids, Reason: "half the company"}); err != nil {
		t.Fatal(err)
	}
	card := h.waitMessage("C0IT", "held for confirmation")
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "C0IT", MessageTS: card.TS, ActionID: cards.ActReleaseHeld, Value: ids[0]}))
	h.waitResponse("Only IT")
	if r, _ := h.db.GetRun(ids[0]); r.Status != gatehouse.RunHeld {
		t.Fatalf("a non-IT click changed the run to %s", r.Status)
	}
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "C0IT", MessageTS: card.TS, ActionID: cards.ActReleaseHeld, Value: ids[0]}))
	h.waitMessage("C0IT", "released by it-lead@example.com")
	for _, id := range ids {
		if r := h.settle(id); r.Status == gatehouse.RunHeld {
			t.Fatalf("run %s still held", id)
		}
	}
}

// TestOnboardPrefillAndRefusal: a known email prefills the form from HR
// data (manager as the picker's initial user); people outside IT and HR are
// refused with an ephemeral answer.
func TestOnboardPrefillAndRefusal(t *testing.T) {
	h := newHarness(t)
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", Text: "bob@example.com", UserID: "U0HR", ChannelID: "C0IT"}))
	v := h.waitView("U0HR", cards.CallbackOnboard)
	for _, want := range []string{"Bob Builder", `"initial_user":"U0GRACE"`, "Prefilled from the HR data"} {
		if !strings.Contains(string(v.JSON), want) {
			t.Errorf("prefilled modal lacks %s", want)
		}
	}
	// Picking an employment type refreshes the plan preview in place.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0HR", ViewID: v.ID, ActionID: cards.InputAction, BlockID: sh.FieldKind, Type: "static_select", SelectedValue: "contractor"}))
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if _, err := h.srv.WaitForView(ctx, func(x slacktest.View) bool { return x.ID == v.ID && x.Updates > 0 }); err != nil {
		t.Fatalf("selection did not refresh the preview: %v", err)
	}
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", UserID: "U0MAL", ChannelID: "C0IT"}))
	h.waitResponse("Only IT and HR can run /onboard")
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", Text: "not an email", UserID: "U0IT", ChannelID: "C0IT"}))
	h.waitResponse("usage")
}

// TestTwoPersonRule: a critical grant needs two different approvers; the
// first approval leaves the request pending (and the same person cannot
// approve twice); the second approves it.
func TestTwoPersonRule(t *testing.T) {
	h := newHarness(t)
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "request", UserID: "U0BOB", ChannelID: "C0IT"}))
	v := h.waitView("U0BOB", cards.CallbackRequest)
	h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, requestValues("aws:admin", "1d", "Rotate the break-glass keys tonight")))
	card := h.waitMessage("DU0GRACE", "Two-person rule")
	id := approvalID(t, card)
	a, _ := h.db.GetApproval(id)
	if a.Required != 2 {
		t.Fatalf("approval needs %d approvers, want 2", a.Required)
	}
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitResponse("second approver")
	h.waitMessage("DU0GRACE", "Approvals: 1 of 2", id)
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitResponse("already decided")
	if a, _ := h.db.GetApproval(id); a.Status != gatehouse.ApprovalPending {
		t.Fatalf("one person's two clicks made it %s", a.Status)
	}
	itCard := h.waitMessage("DU0IT", id)
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "DU0IT", MessageTS: itCard.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitMessage("DU0GRACE", "Access approved", id)
	if r := h.settle(a.RunID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("run ended %s", r.Status)
	}
}

// TestReminderAndEscalation drives the engine's clock: after remind_after
// the approver's card says so and a reminder DM follows; after
// escalate_after the approver's own manager gets a card too.
func TestReminderAndEscalation(t *testing.T) {
	clock := clocktest.New(time.Now())
	h := newHarness(t, func(o *lifecycle.Options) { o.Clock = clock })
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "request", UserID: "U0BOB", ChannelID: "C0IT"}))
	v := h.waitView("U0BOB", cards.CallbackRequest)
	h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, requestValues("aws:poweruser", "7d", "Payments on-call rotation starts Monday")))
	card := h.waitMessage("DU0GRACE", "Access approval needed")
	id := approvalID(t, card)

	clock.Advance(25 * time.Hour)
	h.waitMessage("DU0GRACE", "Reminder: this request is still waiting for you", id)
	h.waitMessage("DU0GRACE", "Reminder: an access request is waiting")

	clock.Advance(24 * time.Hour)
	vp := h.waitMessage("DU0VP", "Escalated to you", id)
	if a, _ := h.db.GetApproval(id); a.Escalations == 0 {
		t.Fatal("approval not escalated")
	}
	// The escalated approver can decide.
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0VP", Channel: "DU0VP", MessageTS: vp.TS, ActionID: cards.ActApprove, Value: id}))
	h.waitMessage("DU0GRACE", "Access approved", id)
}
