package slacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

var testUsers = []User{
	{ID: "U1", Name: "ana", RealName: "Ana Admin", Email: "ana@example.com", TZ: "Europe/Berlin", IsAdmin: true},
	{ID: "U2", Name: "bo", RealName: "Bo Manager", Email: "bo@example.com", TZ: "America/New_York"},
	{ID: "U3", Name: "cy", RealName: "Cy Leaver", Email: "cy@example.com", Deleted: true},
	{ID: "U4", Name: "di", RealName: "Di Dev", Email: "di@example.com"},
}

func newServer(t *testing.T, mod func(*Config)) *Server {
	cfg := Config{
		Users:      testUsers,
		Channels:   []Channel{{ID: "C1", Name: "it-ops"}, {ID: "C2", Name: "general"}},
		UserGroups: []UserGroup{{ID: "S1", Handle: "it", Name: "IT", Users: []string{"U1", "U2"}}},
	}
	if mod != nil {
		mod(&cfg)
	}
	return New(t, cfg)
}

func apiFor(s *Server) *slack.Client {
	return slack.New(s.BotToken(), slack.OptionAppLevelToken(s.AppToken()), slack.OptionAPIURL(s.APIURL()))
}

func slackErr(t *testing.T, err error) slack.SlackErrorResponse {
	t.Helper()
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		t.Fatalf("want a Slack error response, got %T %v", err, err)
	}
	return se
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// bot runs a real slack-go Socket Mode client against the fake and hands
// every event to handle. Cleanup stops it before the server closes.
type bot struct {
	api    *slack.Client
	sm     *socketmode.Client
	mu     sync.Mutex
	events []socketmode.Event
}

func startBot(t *testing.T, s *Server, handle func(b *bot, evt socketmode.Event)) *bot {
	t.Helper()
	b := &bot{api: apiFor(s)}
	b.sm = socketmode.New(b.api)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = b.sm.RunContext(ctx)
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-b.sm.Events:
				b.mu.Lock()
				b.events = append(b.events, evt)
				b.mu.Unlock()
				if handle != nil {
					handle(b, evt)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	if err := s.WaitConnected(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
	return b
}

func (b *bot) count(typ socketmode.EventType) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebAPIAuthAndDirectory(t *testing.T) {
	s := newServer(t, nil)
	api := apiFor(s)

	at, err := api.AuthTest()
	if err != nil || at.UserID != s.BotUserID() || at.TeamID != s.TeamID() {
		t.Fatalf("auth.test = %+v, %v", at, err)
	}
	if _, err := slack.New("xoxb-wrong", slack.OptionAPIURL(s.APIURL())).AuthTest(); slackErr(t, err).Err != "invalid_auth" {
		t.Fatalf("wrong token: %v", err)
	}
	// No token at all, JSON body.
	resp, err := http.Post(s.APIURL()+"auth.test", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"error":"not_authed"`) {
		t.Fatalf("no token: %s", body)
	}
	// The app token is only for apps.connections.open.
	if _, _, err := slack.New(s.AppToken(), slack.OptionAPIURL(s.APIURL())).PostMessage("C1", slack.MsgOptionText("x", false)); slackErr(t, err).Err != "not_allowed_token_type" {
		t.Fatalf("app token on chat.postMessage: %v", err)
	}
	botAsApp := slack.New(s.BotToken(), slack.OptionAppLevelToken(s.BotToken()), slack.OptionAPIURL(s.APIURL()))
	if _, _, err := botAsApp.StartSocketModeContext(context.Background()); slackErr(t, err).Err != "not_allowed_token_type" {
		t.Fatalf("bot token on apps.connections.open: %v", err)
	}

	u, err := api.GetUserInfo("U1")
	if err != nil || u.Profile.Email != "ana@example.com" || u.TZ != "Europe/Berlin" || !u.IsAdmin {
		t.Fatalf("users.info = %+v, %v", u, err)
	}
	if _, err := api.GetUserInfo("U404"); slackErr(t, err).Err != "user_not_found" {
		t.Fatalf("unknown user: %v", err)
	}
	if u, err := api.GetUserByEmail("BO@example.com"); err != nil || u.ID != "U2" {
		t.Fatalf("lookupByEmail = %+v, %v", u, err)
	}
	if _, err := api.GetUserByEmail("nobody@example.com"); slackErr(t, err).Err != "users_not_found" {
		t.Fatalf("unknown email: %v", err)
	}

	// users.list pages with cursors.
	p := api.GetUsersPaginated(slack.GetUsersOptionLimit(2))
	var ids []string
	pages := 0
	for {
		var err error
		p, err = p.Next(context.Background())
		if p.Done(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, u := range p.Users {
			ids = append(ids, u.ID)
			if u.ID == "U3" && !u.Deleted {
				t.Errorf("U3 should be deleted")
			}
		}
	}
	if pages != 3 || strings.Join(ids, ",") != "U0BOT,U1,U2,U3,U4" {
		t.Fatalf("users.list: %d pages, %v", pages, ids)
	}

	members, err := api.GetUserGroupMembers("S1")
	if err != nil || strings.Join(members, ",") != "U1,U2" {
		t.Fatalf("usergroups.users.list = %v, %v", members, err)
	}
	if _, err := api.GetUserGroupMembers("S404"); slackErr(t, err).Err != "no_such_subteam" {
		t.Fatalf("unknown group: %v", err)
	}

	ch, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U2"}})
	if err != nil || ch.ID != "DU2" {
		t.Fatalf("conversations.open = %+v, %v", ch, err)
	}
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U404"}}); slackErr(t, err).Err != "user_not_found" {
		t.Fatalf("open with unknown user: %v", err)
	}
	info, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C1"})
	if err != nil || info.Name != "it-ops" {
		t.Fatalf("conversations.info = %+v, %v", info, err)
	}
	if _, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C404"}); slackErr(t, err).Err != "channel_not_found" {
		t.Fatalf("unknown channel: %v", err)
	}
	team, err := api.GetTeamInfo()
	if err != nil || team.ID != s.TeamID() {
		t.Fatalf("team.info = %+v, %v", team, err)
	}

	// Token in the form field works too, and calls are recorded without it.
	resp, err = http.PostForm(s.APIURL()+"users.info", url.Values{"token": {s.BotToken()}, "user": {"U4"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	calls := s.Calls("users.info")
	last := calls[len(calls)-1]
	if last.Args["user"] != "U4" || last.Token != s.BotToken() || last.Args["token"] != "" || last.Error != "" {
		t.Fatalf("recorded call = %+v", last)
	}
	if len(s.Calls("")) < 15 {
		t.Fatalf("expected every call recorded, got %d", len(s.Calls("")))
	}
}

func TestMessagesPostUpdateDelete(t *testing.T) {
	s := newServer(t, nil)
	api := apiFor(s)
	blocks := slack.MsgOptionBlocks(
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*Access request* for Bo", false, false), nil, nil),
		slack.NewActionBlock("req-1",
			slack.NewButtonBlockElement("approve", "req-1", slack.NewTextBlockObject("plain_text", "Approve", false, false)),
			slack.NewButtonBlockElement("deny", "req-1", slack.NewTextBlockObject("plain_text", "Deny", false, false)),
		),
	)
	ch, ts, err := api.PostMessage("U2", slack.MsgOptionText("Access request", false), blocks)
	if err != nil || ch != "DU2" || ts == "" {
		t.Fatalf("postMessage to a user = %q %q %v", ch, ts, err)
	}
	m, ok := s.Message("DU2", ts)
	if !ok || m.Text != "Access request" || !strings.Contains(string(m.Blocks), `"action_id":"approve"`) {
		t.Fatalf("stored message = %+v", m)
	}
	// Update edits in place; omitted blocks would be kept, so send new ones.
	_, _, _, err = api.UpdateMessage(ch, ts, slack.MsgOptionText("Approved by Bo", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "Approved ✅", false, false), nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m, _ = s.Message(ch, ts)
	if m.Text != "Approved by Bo" || m.Edits != 1 || strings.Contains(string(m.Blocks), "approve") {
		t.Fatalf("after update = %+v", m)
	}
	if _, _, _, err := api.UpdateMessage(ch, "1.000001", slack.MsgOptionText("x", false)); slackErr(t, err).Err != "message_not_found" {
		t.Fatalf("update unknown ts: %v", err)
	}
	if _, _, err := api.PostMessage("C404", slack.MsgOptionText("x", false)); slackErr(t, err).Err != "channel_not_found" {
		t.Fatalf("unknown channel: %v", err)
	}
	if _, _, err := api.PostMessage("C1"); slackErr(t, err).Err != "no_text" {
		t.Fatalf("empty message: %v", err)
	}
	if _, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	if e := s.Ephemerals("U1"); len(e) != 1 || e[0].Text != "only you" || e[0].Channel != "C1" {
		t.Fatalf("ephemerals = %+v", e)
	}
	if _, _, err := api.DeleteMessage(ch, ts); err != nil {
		t.Fatal(err)
	}
	if len(s.Messages("U2")) != 0 {
		t.Fatalf("deleted message still listed")
	}
	if _, _, err := api.DeleteMessage(ch, ts); slackErr(t, err).Err != "message_not_found" {
		t.Fatalf("double delete: %v", err)
	}
	c, err := s.WaitForCall(ctxT(t, time.Second), "chat.postMessage", func(c Call) bool { return c.Args["channel"] == "U2" })
	if err != nil || !strings.Contains(c.Args["blocks"], `"type":"actions"`) {
		t.Fatalf("WaitForCall = %+v, %v", c, err)
	}
}

func TestBlockKitLimits(t *testing.T) {
	section := func(text string) string {
		b, _ := json.Marshal(map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}})
		return string(b)
	}
	button := func(id, text, value string) string {
		b, _ := json.Marshal(map[string]any{"type": "button", "action_id": id, "text": map[string]any{"type": "plain_text", "text": text}, "value": value})
		return string(b)
	}
	repeat := func(s string, n int) string { return "[" + strings.TrimSuffix(strings.Repeat(s+",", n), ",") + "]" }
	opt := func(text, value string) string {
		return `{"text":{"type":"plain_text","text":"` + text + `"},"value":"` + value + `"}`
	}
	cases := []struct {
		name, blocks, want string // want "" = valid
	}{
		{"ok", "[" + section("hi") + "]", ""},
		{"50 blocks ok", repeat(`{"type":"divider"}`, 50), ""},
		{"51 blocks", repeat(`{"type":"divider"}`, 51), "no more than 50 items allowed [json-pointer:/blocks]"},
		{"section 3000 ok", "[" + section(strings.Repeat("é", 3000)) + "]", ""},
		{"section 3001", "[" + section(strings.Repeat("x", 3001)) + "]", "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"},
		{"empty text", "[" + section("") + "]", "must be more than 0 characters [json-pointer:/blocks/0/text/text]"},
		{"11 fields", `[{"type":"section","fields":` + repeat(`{"type":"mrkdwn","text":"f"}`, 11) + `}]`, "no more than 10 items allowed [json-pointer:/blocks/0/fields]"},
		{"field 2001", `[{"type":"section","fields":[{"type":"mrkdwn","text":"` + strings.Repeat("x", 2001) + `"}]}]`, "[json-pointer:/blocks/0/fields/0/text]"},
		{"header 151", `[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]`, "must be less than 151 characters"},
		{"header mrkdwn", `[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]`, "must be plain_text"},
		{"button text 76", `[{"type":"actions","elements":[` + button("a", strings.Repeat("b", 76), "v") + `]}]`, "[json-pointer:/blocks/0/elements/0/text/text]"},
		{"button value 2001", `[{"type":"actions","elements":[` + button("a", "ok", strings.Repeat("v", 2001)) + `]}]`, "[json-pointer:/blocks/0/elements/0/value]"},
		{"action_id 256", `[{"type":"actions","elements":[` + button(strings.Repeat("a", 256), "ok", "v") + `]}]`, "[json-pointer:/blocks/0/elements/0/action_id]"},
		{"dup action_id in block", `[{"type":"actions","elements":[` + button("a", "ok", "1") + "," + button("a", "ok", "2") + `]}]`, "duplicate action_id"},
		{"same action_id across blocks ok", `[{"type":"actions","elements":[` + button("a", "ok", "1") + `]},{"type":"actions","elements":[` + button("a", "ok", "2") + `]}]`, ""},
		{"dup block_id", `[{"type":"divider","block_id":"x"},{"type":"divider","block_id":"x"}]`, "duplicate block_id"},
		{"block_id 256", `[{"type":"divider","block_id":"` + strings.Repeat("b", 256) + `"}]`, "[json-pointer:/blocks/0/block_id]"},
		{"26 actions", `[{"type":"actions","elements":` + repeat(button("", "b", "v"), 26) + `}]`, "no more than 25 items allowed [json-pointer:/blocks/0/elements]"},
		{"11 context", `[{"type":"context","elements":` + repeat(`{"type":"mrkdwn","text":"c"}`, 11) + `}]`, "no more than 10 items allowed"},
		{"101 options", `[{"type":"section","text":{"type":"mrkdwn","text":"t"},"accessory":{"type":"static_select","action_id":"s","options":` + repeat(opt("o", "v"), 101) + `}}]`, "no more than 100 items allowed [json-pointer:/blocks/0/accessory/options]"},
		{"option text 76", `[{"type":"section","text":{"type":"mrkdwn","text":"t"},"accessory":{"type":"static_select","action_id":"s","options":[` + opt(strings.Repeat("o", 76), "v") + `]}}]`, "[json-pointer:/blocks/0/accessory/options/0/text/text]"},
		{"option value 151", `[{"type":"section","text":{"type":"mrkdwn","text":"t"},"accessory":{"type":"static_select","action_id":"s","options":[` + opt("o", strings.Repeat("v", 151)) + `]}}]`, "[json-pointer:/blocks/0/accessory/options/0/value]"},
		{"input in message", `[{"type":"input","label":{"type":"plain_text","text":"l"},"element":{"type":"plain_text_input","action_id":"i"}}]`, "not supported in messages"},
		{"unknown type", `[{"type":"sectoin"}]`, "unsupported type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := ValidateMessageBlocks(json.RawMessage(c.blocks))
			if c.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), c.want) {
				t.Fatalf("errors = %v, want %q", errs, c.want)
			}
		})
	}

	input := func(label string, maxLen int) string {
		return `{"type":"input","block_id":"b","label":{"type":"plain_text","text":"` + label + `"},"element":{"type":"plain_text_input","action_id":"a","max_length":` + jsonInt(maxLen) + `}}`
	}
	viewCases := []struct{ name, view, want string }{
		{"ok", `{"type":"modal","title":{"type":"plain_text","text":"Onboard"},"submit":{"type":"plain_text","text":"Start"},"blocks":[` + input("Name", 100) + `]}`, ""},
		{"title 25", `{"type":"modal","title":{"type":"plain_text","text":"` + strings.Repeat("t", 25) + `"},"blocks":[{"type":"divider"}]}`, "must be less than 25 characters [json-pointer:/view/title/text]"},
		{"submit 25", `{"type":"modal","title":{"type":"plain_text","text":"t"},"submit":{"type":"plain_text","text":"` + strings.Repeat("s", 25) + `"},"blocks":[{"type":"divider"}]}`, "[json-pointer:/view/submit/text]"},
		{"input without submit", `{"type":"modal","title":{"type":"plain_text","text":"t"},"blocks":[` + input("Name", 10) + `]}`, "must provide submit"},
		{"label 2001", `{"type":"modal","title":{"type":"plain_text","text":"t"},"submit":{"type":"plain_text","text":"s"},"blocks":[` + input(strings.Repeat("l", 2001), 10) + `]}`, "[json-pointer:/view/blocks/0/label/text]"},
		{"max_length 3001", `{"type":"modal","title":{"type":"plain_text","text":"t"},"submit":{"type":"plain_text","text":"s"},"blocks":[` + input("l", 3001) + `]}`, "[json-pointer:/view/blocks/0/element/max_length]"},
		{"private_metadata 3001", `{"type":"modal","title":{"type":"plain_text","text":"t"},"private_metadata":"` + strings.Repeat("m", 3001) + `","blocks":[{"type":"divider"}]}`, "[json-pointer:/view/private_metadata]"},
		{"callback_id 256", `{"type":"home","callback_id":"` + strings.Repeat("c", 256) + `","blocks":[{"type":"divider"}]}`, "[json-pointer:/view/callback_id]"},
		{"home 100 ok", `{"type":"home","blocks":` + repeat(`{"type":"divider"}`, 100) + `}`, ""},
		{"home 101", `{"type":"home","blocks":` + repeat(`{"type":"divider"}`, 101) + `}`, "no more than 100 items allowed [json-pointer:/view/blocks]"},
	}
	for _, c := range viewCases {
		t.Run("view "+c.name, func(t *testing.T) {
			errs := ValidateView(json.RawMessage(c.view))
			if c.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), c.want) {
				t.Fatalf("errors = %v, want %q", errs, c.want)
			}
		})
	}

	// Through the API, with Slack's error shape.
	s := newServer(t, nil)
	api := apiFor(s)
	var many []slack.Block
	for range 51 {
		many = append(many, slack.NewDividerBlock())
	}
	_, _, err := api.PostMessage("C1", slack.MsgOptionBlocks(many...))
	se := slackErr(t, err)
	if se.Err != "invalid_blocks" || len(se.ResponseMetadata.Messages) != 1 ||
		se.ResponseMetadata.Messages[0] != "[ERROR] no more than 50 items allowed [json-pointer:/blocks]" {
		t.Fatalf("51 blocks: %+v", se)
	}
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText(strings.Repeat("x", 40001), false)); slackErr(t, err).Err != "msg_too_long" {
		t.Fatalf("40001 chars: %v", err)
	}
	if len(s.Messages("C1")) != 0 {
		t.Fatalf("rejected messages must not be stored")
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRateLimits(t *testing.T) {
	s := newServer(t, nil)
	api := apiFor(s)

	s.ForceRateLimit("users.info", 1, 1500*time.Millisecond)
	_, err := api.GetUserInfo("U1")
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("forced 429: %v", err)
	}
	if _, err := api.GetUserInfo("U1"); err != nil {
		t.Fatalf("after the forced 429: %v", err)
	}
	c := s.Calls("users.info")[0]
	if c.HTTPStatus != http.StatusTooManyRequests || c.Error != "ratelimited" || string(c.Response) != `{"ok":false,"error":"ratelimited"}` {
		t.Fatalf("recorded 429 = %+v", c)
	}

	// Per channel: a burst of 2, then 429 for that channel only.
	s.SetRateLimits(RateLimits{PerChannel: Limit{Every: time.Second, Burst: 2}})
	for i := range 2 {
		if _, _, err := api.PostMessage("C1", slack.MsgOptionText("burst", false)); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	_, _, err = api.PostMessage("C1", slack.MsgOptionText("one too many", false))
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("third post: %v", err)
	}
	if _, _, err := api.PostMessage("C2", slack.MsgOptionText("other channel", false)); err != nil {
		t.Fatalf("other channel: %v", err)
	}

	// Per method tier.
	s.SetRateLimits(RateLimits{Tiers: map[Tier]Limit{Tier3: PerMinute(50, 1)}})
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U1"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U1"}}); !errors.As(err, &rl) {
		t.Fatalf("tier 3 second call: %v", err)
	}
}

func TestSocketModeSlashCommandAndViews(t *testing.T) {
	s := newServer(t, nil)
	b := startBot(t, s, func(b *bot, evt socketmode.Event) {
		switch evt.Type {
		case socketmode.EventTypeSlashCommand:
			cmd := evt.Data.(slack.SlashCommand)
			_ = b.sm.Ack(*evt.Request, map[string]any{"text": "Starting onboarding for " + cmd.Text})
			_, _ = b.api.OpenView(cmd.TriggerID, slack.ModalViewRequest{
				Type: slack.VTModal, CallbackID: "onboard", PrivateMetadata: `{"run":"r1"}`,
				Title:  slack.NewTextBlockObject("plain_text", "Onboard", false, false),
				Submit: slack.NewTextBlockObject("plain_text", "Start", false, false),
				Blocks: slack.Blocks{BlockSet: []slack.Block{
					slack.NewInputBlock("who", slack.NewTextBlockObject("plain_text", "Who", false, false), nil,
						slack.NewOptionsSelectBlockElement("users_select", slack.NewTextBlockObject("plain_text", "Pick", false, false), "user")),
					slack.NewInputBlock("start", slack.NewTextBlockObject("plain_text", "Start date", false, false), nil,
						slack.NewDatePickerBlockElement("date")),
				}},
			})
		case socketmode.EventTypeInteractive:
			cb := evt.Data.(slack.InteractionCallback)
			if cb.Type == slack.InteractionTypeViewSubmission {
				if cb.View.State.Values["start"]["date"].SelectedDate == "" {
					_ = b.sm.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"start": "Pick a date"}))
					return
				}
				_ = b.sm.Ack(*evt.Request)
			}
		}
	})
	eventually(t, "hello", func() bool { return b.count(socketmode.EventTypeHello) == 1 })

	ctx := ctxT(t, 5*time.Second)
	d, err := s.SendSlashCommand(SlashCommand{Command: "/onboard", Text: "Di", UserID: "U1", ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := s.AckFor(ctx, d.EnvelopeID)
	if err != nil || ack.Latency <= 0 || !strings.Contains(string(ack.Payload), "Starting onboarding for Di") || len(ack.Problems) > 0 {
		t.Fatalf("ack = %+v, %v", ack, err)
	}
	if e := s.Ephemerals("U1"); len(e) != 1 || e[0].Text != "Starting onboarding for Di" {
		t.Fatalf("slash ack payload should become an ephemeral reply: %+v", e)
	}
	var p map[string]any
	_ = json.Unmarshal(d.Payload, &p)
	for _, k := range []string{"command", "text", "user_id", "user_name", "channel_id", "team_id", "trigger_id", "response_url", "api_app_id"} {
		if p[k] == "" || p[k] == nil {
			t.Errorf("slash payload lacks %s: %s", k, d.Payload)
		}
	}

	v, err := s.WaitForView(ctx, func(v View) bool { return v.CallbackID == "onboard" })
	if err != nil || v.UserID != "U1" || v.PrivateMetadata != `{"run":"r1"}` {
		t.Fatalf("view = %+v, %v", v, err)
	}
	// The trigger was exchanged: a second views.open with it fails.
	_, err = b.api.OpenView(d.TriggerID, slack.ModalViewRequest{Type: slack.VTModal,
		Title: slack.NewTextBlockObject("plain_text", "x", false, false), Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}})
	if slackErr(t, err).Err != "exchanged_trigger_id" {
		t.Fatalf("reused trigger: %v", err)
	}

	// Submit without a date: the bot answers errors, the modal stays.
	sub, err := s.SendViewSubmission("U1", v.ID, map[string]map[string]InputValue{
		"who": {"user": {Type: "users_select", SelectedUser: "U4"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ack, err = s.AckFor(ctx, sub.EnvelopeID); err != nil || !strings.Contains(string(ack.Payload), `"response_action":"errors"`) {
		t.Fatalf("errors ack = %+v, %v", ack, err)
	}
	if len(s.OpenModals("U1")) != 1 {
		t.Fatalf("modal should stay open after errors")
	}
	sub, _ = s.SendViewSubmission("U1", v.ID, map[string]map[string]InputValue{
		"who":   {"user": {Type: "users_select", SelectedUser: "U4"}},
		"start": {"date": {Type: "datepicker", SelectedDate: "2026-12-01"}},
	})
	if ack, err = s.AckFor(ctx, sub.EnvelopeID); err != nil || ack.Payload != nil {
		t.Fatalf("empty ack = %+v, %v", ack, err)
	}
	if len(s.OpenModals("U1")) != 0 {
		t.Fatalf("an empty ack closes the modal")
	}
	if _, err := s.SendViewSubmission("U1", v.ID, nil); err == nil {
		t.Fatalf("submitting a closed view should fail")
	}
}

func TestTriggersExpireAndViewHashes(t *testing.T) {
	s := newServer(t, func(c *Config) { c.TriggerTTL = 50 * time.Millisecond })
	api := apiFor(s)
	modal := func(title string) slack.ModalViewRequest {
		return slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", title, false, false),
			Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}
	}
	tr := s.IssueTrigger("U1")
	time.Sleep(80 * time.Millisecond)
	if _, err := api.OpenView(tr, modal("late")); slackErr(t, err).Err != "expired_trigger_id" {
		t.Fatalf("expired trigger: %v", err)
	}
	if _, err := api.OpenView("1.2.nope", modal("x")); slackErr(t, err).Err != "invalid_trigger_id" {
		t.Fatalf("unknown trigger: %v", err)
	}
	// An invalid view does not use up the trigger.
	tr = s.IssueTrigger("U1")
	_, err := api.OpenView(tr, modal(strings.Repeat("t", 25)))
	se := slackErr(t, err)
	if se.Err != "invalid_arguments" || !strings.Contains(strings.Join(se.ResponseMetadata.Messages, ""), "/view/title/text") {
		t.Fatalf("long title: %+v", se)
	}
	vr, err := api.OpenView(tr, modal("Request access"))
	if err != nil || vr.ID == "" || vr.Hash == "" || vr.Title.Text != "Request access" {
		t.Fatalf("views.open = %+v, %v", vr, err)
	}
	up, err := api.UpdateView(modal("Step 2"), "", vr.Hash, vr.ID)
	if err != nil || up.Hash == vr.Hash {
		t.Fatalf("views.update = %+v, %v", up, err)
	}
	if _, err := api.UpdateView(modal("Stale"), "", vr.Hash, vr.ID); slackErr(t, err).Err != "hash_conflict" {
		t.Fatalf("stale hash: %v", err)
	}
	if _, err := api.UpdateView(modal("x"), "", "", "V404"); slackErr(t, err).Err != "not_found" {
		t.Fatalf("unknown view: %v", err)
	}
	// views.push needs a fresh trigger from within the modal.
	tr = s.IssueTrigger("U1")
	pushed, err := api.PushView(tr, modal("Details"))
	if err != nil || pushed.PreviousViewID != vr.ID || len(s.OpenModals("U1")) != 2 {
		t.Fatalf("views.push = %+v, %v", pushed, err)
	}

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject("plain_text", "Your access", false, false)),
	}}}
	h1, err := api.PublishView("U2", home, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.PublishView("U2", home, h1.Hash); err != nil {
		t.Fatalf("publish with current hash: %v", err)
	}
	if _, err := api.PublishView("U2", home, h1.Hash); slackErr(t, err).Err != "hash_conflict" {
		t.Fatalf("publish with stale hash: %v", err)
	}
	hv, ok := s.HomeView("U2")
	if !ok || hv.Updates != 1 || !strings.Contains(string(hv.JSON), "Your access") {
		t.Fatalf("home = %+v", hv)
	}
	if _, err := api.PublishView("U404", home, ""); slackErr(t, err).Err != "user_not_found" {
		t.Fatalf("publish for unknown user: %v", err)
	}
}

func TestBlockActionAndResponseURL(t *testing.T) {
	s := newServer(t, nil)
	api := apiFor(s)
	_, ts, err := api.PostMessage("C1", slack.MsgOptionText("Approve access?", false), slack.MsgOptionBlocks(
		slack.NewActionBlock("req-7", slack.NewButtonBlockElement("approve", "req-7", slack.NewTextBlockObject("plain_text", "Approve", false, false)))))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan slack.InteractionCallback, 1)
	startBot(t, s, func(b *bot, evt socketmode.Event) {
		if evt.Type != socketmode.EventTypeInteractive {
			return
		}
		cb := evt.Data.(slack.InteractionCallback)
		_ = b.sm.Ack(*evt.Request)
		_, _, _ = b.api.PostMessage(cb.Channel.ID, slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("Approved by "+cb.User.Name, false))
		got <- cb
	})
	d, err := s.SendBlockAction(BlockAction{UserID: "U2", Channel: "C1", MessageTS: ts, ActionID: "approve", BlockID: "req-7", Value: "req-7"})
	if err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	select {
	case cb = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no interaction")
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != "U2" || cb.Container.MessageTs != ts || cb.Channel.ID != "C1" ||
		len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].Value != "req-7" || cb.TriggerID != d.TriggerID ||
		cb.Message.Timestamp != ts {
		t.Fatalf("callback = %+v", cb)
	}
	if _, err := s.AckFor(ctxT(t, 5*time.Second), d.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	m, err := s.WaitForMessage(ctxT(t, 5*time.Second), "C1", func(m Message) bool { return m.Edits == 1 })
	if err != nil || m.Text != "Approved by bo" || m.TS != ts {
		t.Fatalf("replaced original = %+v, %v", m, err)
	}
	if posts := s.ResponsePosts(); len(posts) != 1 || !posts[0].ReplaceOriginal || posts[0].Error != "" {
		t.Fatalf("response posts = %+v", posts)
	}
}

func TestDisconnectReconnectAndDrop(t *testing.T) {
	s := newServer(t, nil)
	b := startBot(t, s, nil)
	ctx := ctxT(t, 10*time.Second)
	s.Disconnect("refresh_requested")
	if err := s.WaitConnectCount(ctx, 2); err != nil {
		t.Fatalf("no reconnect after disconnect: %v", err)
	}
	// A drop loses frames in flight (slack-go drops a read hello when its
	// connection dies), so let the hello arrive first.
	eventually(t, "two hellos", func() bool { return b.count(socketmode.EventTypeHello) == 2 })
	s.DropConnection()
	if err := s.WaitConnectCount(ctx, 3); err != nil {
		t.Fatalf("no reconnect after drop: %v", err)
	}
	if n := len(s.Calls("apps.connections.open")); n != 3 {
		t.Fatalf("apps.connections.open called %d times", n)
	}
	kinds := map[string]int{}
	for _, e := range s.ConnEvents() {
		kinds[e.Kind]++
		if e.Kind == "disconnect_sent" && e.Reason != "refresh_requested" {
			t.Errorf("disconnect reason = %q", e.Reason)
		}
	}
	// The client may reconnect before the old connection's close is seen,
	// so only the counts are stable.
	if kinds["connected"] != 3 || kinds["disconnect_sent"] != 1 {
		t.Fatalf("conn events = %v", kinds)
	}
	eventually(t, "two closes", func() bool {
		n := 0
		for _, e := range s.ConnEvents() {
			if e.Kind == "closed" {
				n++
			}
		}
		return n == 2
	})
	eventually(t, "three hellos", func() bool { return b.count(socketmode.EventTypeHello) == 3 })
	// Pings keep the connection alive beyond a few intervals.
	time.Sleep(1200 * time.Millisecond)
	if s.Connections() != 1 || s.ConnectCount() != 3 {
		t.Fatalf("connections = %d, total %d", s.Connections(), s.ConnectCount())
	}
}

func TestEventsRedelivery(t *testing.T) {
	s := newServer(t, func(c *Config) { c.RedeliverAfter = 150 * time.Millisecond })
	var mu sync.Mutex
	var seen []socketmode.Request
	startBot(t, s, func(b *bot, evt socketmode.Event) {
		if evt.Type != socketmode.EventTypeEventsAPI {
			return
		}
		mu.Lock()
		seen = append(seen, *evt.Request)
		n := len(seen)
		mu.Unlock()
		if n >= 2 { // ignore the first delivery: Slack must retry
			_ = b.sm.Ack(*evt.Request)
		}
	})
	d, err := s.SendEvent(map[string]any{"type": "app_home_opened", "user": "U1", "tab": "home"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "redelivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) >= 2 })
	time.Sleep(300 * time.Millisecond) // acked: no third delivery
	mu.Lock()
	got := append([]socketmode.Request(nil), seen...)
	mu.Unlock() // never t.Fatal holding mu: the bot's handler would block its cleanup
	if len(got) != 2 || got[1].RetryAttempt != 1 || got[1].RetryReason != "timeout" || got[1].EnvelopeID == got[0].EnvelopeID {
		t.Fatalf("deliveries = %+v", got)
	}
	var p1, p2 struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(got[0].Payload, &p1)
	_ = json.Unmarshal(got[1].Payload, &p2)
	if p1.EventID == "" || p1.EventID != p2.EventID || p1.EventID != d.EventID {
		t.Fatalf("event ids %q %q", p1.EventID, p2.EventID)
	}
	if _, ok := s.Acked(d.EnvelopeID); ok {
		t.Fatalf("first envelope was never acked")
	}
	// Manual redelivery with a chosen attempt.
	r, err := s.Redeliver(d, 3)
	if err != nil || r.RetryAttempt != 3 || r.EventID != d.EventID {
		t.Fatalf("Redeliver = %+v, %v", r, err)
	}
	if _, err := s.AckFor(ctxT(t, 5*time.Second), r.EnvelopeID); err != nil {
		t.Fatal(err)
	}
}

func TestNotConnected(t *testing.T) {
	s := newServer(t, nil)
	if _, err := s.SendEvent(map[string]any{"type": "app_home_opened"}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SendEvent without a client: %v", err)
	}
	// A ticket is good for one connection.
	_, wsURL, err := apiFor(s).StartSocketModeContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	defer c.Close()
	var hello map[string]any
	if err := c.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
		t.Fatalf("hello = %v, %v", hello, err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second dial with the same ticket: %v", err)
	}
}

// TestCloseLeavesNoGoroutines checks that Close stops every goroutine the
// server started, including websocket readers and pingers.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	s := New(nil, Config{Users: testUsers, PingInterval: 20 * time.Millisecond, RedeliverAfter: time.Hour})
	api := apiFor(s)
	sm := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sm.RunContext(ctx) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sm.Events:
			}
		}
	}()
	if err := s.WaitConnected(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendEvent(map[string]any{"type": "app_home_opened", "user": "U1"}); err != nil {
		t.Fatal(err) // never acked: leaves a pending redelivery timer
	}
	s.Close()
	s.Close() // idempotent
	cancel()
	<-done
	deadline := time.Now().Add(3 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "slacktest.(*Server)") && !strings.Contains(stacks, "slacktest.(*wsConn)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server goroutines left after Close:\n%s", stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.AckFor(context.Background(), "nope"); !errors.Is(err, ErrClosed) {
		t.Fatalf("AckFor after Close: %v", err)
	}
}

// The fake also accepts a JSON body with a Bearer token for form-style
// methods, as Slack does.
func TestJSONBodies(t *testing.T) {
	s := newServer(t, nil)
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+"chat.postMessage",
		bytes.NewReader([]byte(`{"channel":"C2","text":"hi","blocks":[{"type":"divider"}]}`)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+s.BotToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		OK      bool   `json:"ok"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if !out.OK || out.Channel != "C2" {
		t.Fatalf("json post = %+v", out)
	}
	c := s.Calls("chat.postMessage")[0]
	if c.Args["blocks"] != `[{"type":"divider"}]` || c.Args["text"] != "hi" {
		t.Fatalf("decoded args = %+v", c.Args)
	}
}
