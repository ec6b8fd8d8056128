package bot_test

import (
	"slices"
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
	"github.com/gatehousehq/gatehouse/store"
)

func registerValues(owner, expiry string, access ...string) map[string]map[string]slacktest.InputValue {
	v := map[string]map[string]slacktest.InputValue{
		sh.FieldNHKind:    {cards.InputAction: {Type: "static_select", SelectedOption: "bot"}},
		sh.FieldNHName:    in("Deploy bot"),
		sh.FieldNHEmail:   in("deploy-bot@example.com"),
		sh.FieldNHPurpose: in("Deploys main to production after review"),
		sh.FieldNHExpiry:  {cards.InputAction: {Type: "datepicker", SelectedDate: expiry}},
		sh.FieldNHAccess:  {cards.InputAction: {Type: "multi_static_select", SelectedValues: access}},
	}
	if owner != "" {
		v[sh.FieldNHOwner] = map[string]slacktest.InputValue{cards.InputAction: {Type: "users_select", SelectedUser: owner}}
	}
	return v
}

func (h *harness) sim(app string) *simulated.Connector { return h.conns[app].(*simulated.Connector) }

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func buttonValue(t testing.TB, m slacktest.Message, action string) string {
	t.Helper()
	raw := string(m.Blocks)
	i := strings.Index(raw, `"action_id":"`+action+`"`)
	if i < 0 {
		t.Fatalf("no %s button in %s", action, raw)
	}
	// Buttons render value after action_id in slack-go's encoding.
	rest := raw[i:]
	j := strings.Index(rest, `"value":"`)
	if j < 0 {
		t.Fatalf("button %s has no value", action)
	}
	rest = rest[j+len(`"value":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestIdentityRegisterStory: /identity register → modal; without an owner
// the form is refused inline (no owner, no access); with one, the bot is
// created, its access request goes to IT (the registrant cannot approve),
// and once approved the simulated app has the account and the grant.
func TestIdentityRegisterStory(t *testing.T) {
	t.Parallel() // own Slack, store and clock; the time is Slack's pacing
	h := newHarness(t)
	expiry := time.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")

	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/identity", Text: "register", UserID: "U0BOB", ChannelID: "C0IT"}))
	v := h.waitView("U0BOB", cards.CallbackIdentityRegister)
	for _, want := range []string{sh.FieldNHOwner, sh.FieldNHExpiry, "aws:poweruser", "users_select", "datepicker"} {
		if !strings.Contains(string(v.JSON), want) {
			t.Errorf("register modal lacks %s", want)
		}
	}
	ack := h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, registerValues("", expiry, "aws:poweruser")))
	if !strings.Contains(string(ack.Payload), sh.FieldNHOwner) {
		t.Fatalf("no owner accepted: %s", ack.Payload)
	}
	if _, err := h.db.IdentityByEmail("deploy-bot@example.com"); err == nil {
		t.Fatal("a refused form created the identity")
	}
	ack = h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, registerValues("U0GRACE", expiry, "aws:poweruser")))
	if len(ack.Payload) != 0 {
		t.Fatalf("valid registration answered %s", ack.Payload)
	}
	h.waitMessage("DU0BOB", "deploy-bot@example.com is registered")
	bot, err := h.db.IdentityByEmail("deploy-bot@example.com")
	if err != nil || bot.Owner != "grace@example.com" || bot.Kind != gatehouse.KindBot {
		t.Fatalf("identity %+v (%v): want owner resolved to grace's email", bot, err)
	}
	req := h.waitRun(bot.Key(), lifecycle.EventAccessRequest)
	card := h.waitMessage("DU0IT", "Access approval needed", "aws:poweruser")
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0IT", Channel: "DU0IT", MessageTS: card.TS, ActionID: cards.ActApprove, Value: approvalID(t, card)}))
	if r := h.settle(req.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("request %s", r.Status)
	}
	acct, ok := h.sim("aws").Find(gatehouse.AccountRef{Email: "deploy-bot@example.com"})
	if !ok || !acct.Active || !slices.Contains(acct.Entitlements, "poweruser") {
		t.Fatalf("simulated aws account %+v (%v)", acct, ok)
	}
	if runs, _ := h.db.ListRuns(store.RunFilter{IdentityKey: bot.Key()}); !slices.ContainsFunc(runs, func(r gatehouse.Run) bool {
		return r.Event.Type == gatehouse.EventExpiry && r.Status == gatehouse.RunScheduled
	}) {
		t.Error("no scheduled expiry run")
	}
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/identity", Text: "list bot", UserID: "U0GRACE", ChannelID: "C0IT"}))
	h.waitResponse("deploy-bot@example.com")
}

func registerBot(t *testing.T, h *harness, owner string, expiry gatehouse.Date) gatehouse.Identity {
	t.Helper()
	reg, err := h.eng.RegisterNonHuman(h.ctx, lifecycle.Registration{Requester: owner, Source: "test",
		Identity: gatehouse.Identity{Kind: gatehouse.KindBot, Email: "ci-bot@example.com", Name: "CI bot", Owner: owner, Purpose: "runs CI", Expiry: expiry}})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.settle(reg.Joiner.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("bot joiner %s", r.Status)
	}
	return reg.Identity
}

// TestAttestationStory: with a fake clock, the owner's card arrives 14 days
// before the expiry; a stranger's click is refused; "Still needed" moves
// the expiry and edits the card; "Retire now" closes the bot's accounts.
func TestAttestationStory(t *testing.T) {
	t.Parallel() // own Slack, store and clock; the time is Slack's pacing
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(9 * time.Hour)
	clk := clocktest.New(start)
	h := newHarness(t, func(o *lifecycle.Options) { o.Clock = clk })
	exp := gatehouse.DateOf(start.AddDate(0, 0, 20))
	bot := registerBot(t, h, "grace@example.com", exp)
	clk.Set(exp.In(time.UTC).Add(-14 * 24 * time.Hour))
	card := h.waitMessage("DU0GRACE", "Still needed", "ci-bot@example.com")
	key := buttonValue(t, card, cards.ActNHAttest)

	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActNHAttest, Value: key}))
	h.waitResponse("only the owner")
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActNHAttest, Value: key}))
	h.waitResponse("now runs until")
	got, _ := h.db.GetIdentity(bot.Key())
	if !exp.Before(got.Expiry) {
		t.Fatalf("expiry %s not extended past %s", got.Expiry, exp)
	}
	h.eventually("card edited without buttons", func() bool {
		m, _ := h.srv.Message(card.Channel, card.TS)
		return m.Edits > 0 && !strings.Contains(string(m.Blocks), cards.ActNHAttest)
	})
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActNHRetire, Value: key}))
	h.waitResponse("being retired")
	h.eventually("okta account closed", func() bool {
		a, ok := h.sim("okta").Find(gatehouse.AccountRef{Email: "ci-bot@example.com"})
		return ok && !a.Active
	})
}

// TestOwnerLeavesStory: Bob owns a bot and leaves; Grace (his manager) gets
// the hand-off card; the bot is frozen (a mover adds nothing); Grace
// accepts (owner changed, audited) or retires it (accounts closed).
func TestOwnerLeavesStory(t *testing.T) {
	t.Parallel()
	for _, retire := range []bool{false, true} {
		t.Run(map[bool]string{false: "accept", true: "retire"}[retire], func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			bot := registerBot(t, h, "bob@example.com", gatehouse.DateOf(time.Now().UTC().AddDate(0, 3, 0)))
			bob, _ := h.db.IdentityByEmail("bob@example.com")
			lv, _, err := h.eng.Submit(h.ctx, gatehouse.Event{Type: gatehouse.EventLeaver, Identity: bob, EffectiveAt: time.Now(), Source: "test",
				Actor: gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "test"}})
			if err != nil {
				t.Fatal(err)
			}
			h.settle(lv.ID)
			card := h.waitMessage("DU0GRACE", "Accept ownership", "ci-bot@example.com")
			key := buttonValue(t, card, cards.ActNHAccept)

			// Frozen: moving the bot into Engineering would add github:member.
			cur, _ := h.db.GetIdentity(bot.Key())
			cur.Department = "Engineering"
			mv, _, err := h.eng.Submit(h.ctx, gatehouse.Event{Type: gatehouse.EventMover, Identity: cur, Source: "test", Actor: gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "test"}})
			if err != nil {
				t.Fatal(err)
			}
			h.settle(mv.ID)
			if _, ok := h.sim("github").Find(gatehouse.AccountRef{Email: "ci-bot@example.com"}); ok {
				t.Fatal("a frozen bot got a github account")
			}

			h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActNHAccept, Value: key}))
			h.waitResponse("was not asked")
			if retire {
				h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActNHRetire, Value: key}))
				h.waitResponse("being retired")
				h.eventually("okta account closed", func() bool {
					a, ok := h.sim("okta").Find(gatehouse.AccountRef{Email: "ci-bot@example.com"})
					return ok && !a.Active
				})
				return
			}
			h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActNHAccept, Value: key}))
			h.waitResponse("You own ci-bot@example.com now")
			got, _ := h.db.GetIdentity(bot.Key())
			if got.Owner != "grace@example.com" || got.Attr(lifecycle.AttrOwnerLeft) != "" {
				t.Fatalf("after accepting: %+v", got)
			}
			audit, _ := h.db.AuditEntries(store.AuditFilter{})
			if !slices.ContainsFunc(audit, func(a gatehouse.AuditEntry) bool {
				return a.Action == "accept_ownership" && a.Actor.ID == "grace@example.com"
			}) {
				t.Error("ownership change not audited")
			}
		})
	}
}

// TestGrantExpiryReminderExtend: the reminder DM offers Extend; the modal
// asks for a duration and a reason; the extension waits for the manager.
func TestGrantExpiryReminderExtend(t *testing.T) {
	t.Parallel() // own Slack, store and clock; the time is Slack's pacing
	start := time.Now().UTC()
	clk := clocktest.New(start)
	h := newHarness(t, func(o *lifecycle.Options) { o.Clock = clk })
	bob, _ := h.db.IdentityByEmail("bob@example.com")
	r, _, err := h.eng.Submit(h.ctx, gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bob, Source: "test", Actor: gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	h.settle(r.ID)
	req, err := h.eng.RequestAccess(h.ctx, lifecycle.AccessRequest{Identity: bob.Email, Requester: bob.Email, Duration: 7 * 24 * time.Hour,
		Entitlements: []gatehouse.EntitlementRef{{App: "okta", Entitlement: "engineering"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.settle(req.ID)
	g, err := h.db.GetGrant(bob.Key(), "okta", "engineering")
	if err != nil || g.ExpiresAt.IsZero() {
		t.Fatalf("grant %+v %v", g, err)
	}
	clk.Set(g.ExpiresAt.Add(-72 * time.Hour))
	card := h.waitMessage("DU0BOB", "okta:engineering", "Extend")
	val := buttonValue(t, card, cards.ActExtend)
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0MAL", Channel: "DU0BOB", MessageTS: card.TS, ActionID: cards.ActExtend, Value: val}))
	h.waitResponse("Only the holder")
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0BOB", Channel: "DU0BOB", MessageTS: card.TS, ActionID: cards.ActExtend, Value: val}))
	v := h.waitView("U0BOB", cards.CallbackExtend)
	ack := h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, requestValues("", "7d", "short")))
	if !strings.Contains(string(ack.Payload), sh.FieldJustification) {
		t.Fatalf("short justification accepted: %s", ack.Payload)
	}
	h.acked(h.srv.SendViewSubmission("U0BOB", v.ID, map[string]map[string]slacktest.InputValue{
		sh.FieldDuration:      {cards.InputAction: {Type: "static_select", SelectedOption: "30d"}},
		sh.FieldJustification: in("the migration takes longer than planned"),
	}))
	h.waitMessage("DU0BOB", "Your extension is with its approvers")
	card = h.waitMessage("DU0GRACE", "Access approval needed", "okta:engineering")
	if g2, _ := h.db.GetGrant(bob.Key(), "okta", "engineering"); !g2.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatal("extended before the approval")
	}
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0GRACE", Channel: "DU0GRACE", MessageTS: card.TS, ActionID: cards.ActApprove, Value: approvalID(t, card)}))
	h.eventually("the new end", func() bool {
		g2, _ := h.db.GetGrant(bob.Key(), "okta", "engineering")
		return g2.ExpiresAt.Equal(clk.Now().Add(30 * 24 * time.Hour))
	})
}
