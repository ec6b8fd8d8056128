package slacktest

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func TestShortcutEventAndSlashResponseURL(t *testing.T) {
	s := newServer(t, nil)
	var mu sync.Mutex
	var homeOpened []string
	startBot(t, s, func(b *bot, evt socketmode.Event) {
		switch evt.Type {
		case socketmode.EventTypeInteractive:
			cb := evt.Data.(slack.InteractionCallback)
			_ = b.sm.Ack(*evt.Request)
			if cb.Type == slack.InteractionTypeShortcut {
				_, _ = b.api.OpenView(cb.TriggerID, slack.ModalViewRequest{
					Type: slack.VTModal, CallbackID: cb.CallbackID, NotifyOnClose: true,
					Title:  slack.NewTextBlockObject("plain_text", "Request access", false, false),
					Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
				})
			}
		case socketmode.EventTypeEventsAPI:
			ev := evt.Data.(slackevents.EventsAPIEvent)
			if e, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok {
				mu.Lock()
				homeOpened = append(homeOpened, e.User)
				mu.Unlock()
			}
			_ = b.sm.Ack(*evt.Request) // record first, then ack
		case socketmode.EventTypeSlashCommand:
			cmd := evt.Data.(slack.SlashCommand)
			_ = b.sm.Ack(*evt.Request) // ack empty, answer later through response_url
			_, _, _ = b.api.PostMessage(cmd.ChannelID, slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel),
				slack.MsgOptionText("Offboarding "+cmd.Text+" started", false))
		}
	})
	ctx := ctxT(t, 5*time.Second)

	d, err := s.SendShortcut("U1", "request_access")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := s.WaitForView(ctx, func(v View) bool { return v.CallbackID == "request_access" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendViewClosed("U1", v.ID); err != nil {
		t.Fatal(err)
	}
	if len(s.OpenModals("U1")) != 0 {
		t.Fatalf("view_closed should close the modal")
	}

	ed, err := s.SendEvent(map[string]any{"type": "app_home_opened", "user": "U2", "channel": "DU2", "tab": "home"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ed.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]string(nil), homeOpened...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "U2" {
		t.Fatalf("app_home_opened users = %v", got)
	}
	var env map[string]any
	_ = json.Unmarshal(ed.Payload, &env)
	if env["type"] != "event_callback" || env["event_id"] != ed.EventID || env["event_time"] == nil {
		t.Fatalf("events payload = %s", ed.Payload)
	}

	sd, err := s.SendSlashCommand(SlashCommand{Command: "/offboard", Text: "cy", UserID: "U1", ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if ack, err := sd.Wait(ctx); err != nil || ack.Payload != nil || ack.Late {
		t.Fatalf("ack = %+v, %v", ack, err)
	}
	m, err := s.WaitForMessage(ctx, "#it-ops", func(m Message) bool { return strings.HasPrefix(m.Text, "Offboarding") })
	if err != nil || m.Text != "Offboarding cy started" {
		t.Fatalf("in_channel response = %+v, %v", m, err)
	}
	if len(s.Pending()) != 0 {
		t.Fatalf("pending = %+v", s.Pending())
	}
}

// An ack of 20 KB or more is what Slack silently drops; slack-go refuses
// to send one, so this test speaks the protocol by hand.
func TestOversizeAckAndRawProtocol(t *testing.T) {
	s := newServer(t, nil)
	_, wsURL, err := s.NewClient().StartSocketModeContext(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pinged := make(chan struct{}, 1)
	c.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	var hello struct {
		Type           string `json:"type"`
		NumConnections int    `json:"num_connections"`
		DebugInfo      struct {
			ApproximateConnectionTime int `json:"approximate_connection_time"`
		} `json:"debug_info"`
		ConnectionInfo struct {
			AppID string `json:"app_id"`
		} `json:"connection_info"`
	}
	if err := c.ReadJSON(&hello); err != nil || hello.Type != "hello" || hello.NumConnections != 1 ||
		hello.ConnectionInfo.AppID == "" || hello.DebugInfo.ApproximateConnectionTime == 0 {
		t.Fatalf("hello = %+v, %v", hello, err)
	}
	d, err := s.SendSlashCommand(SlashCommand{Command: "/access", UserID: "U1", ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		EnvelopeID             string          `json:"envelope_id"`
		Type                   string          `json:"type"`
		AcceptsResponsePayload bool            `json:"accepts_response_payload"`
		Payload                json.RawMessage `json:"payload"`
	}
	if err := c.ReadJSON(&env); err != nil || env.EnvelopeID != d.EnvelopeID || env.Type != "slash_commands" || !env.AcceptsResponsePayload {
		t.Fatalf("envelope = %+v, %v", env, err)
	}
	big := map[string]any{"envelope_id": env.EnvelopeID, "payload": map[string]any{"text": strings.Repeat("x", MaxAckPayloadBytes)}}
	if err := c.WriteJSON(big); err != nil {
		t.Fatal(err)
	}
	// Keep reading so control frames (pings) are processed.
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ack, err := d.Wait(ctxT(t, 5*time.Second))
	if err != nil || len(ack.Problems) != 1 || !strings.Contains(ack.Problems[0], "dropped") {
		t.Fatalf("oversize ack = %+v, %v", ack.Problems, err)
	}
	if len(s.Ephemerals("U1")) != 0 {
		t.Fatalf("a dropped ack must not produce a reply")
	}
	select {
	case <-pinged:
	case <-time.After(3 * time.Second):
		t.Fatal("no websocket ping from the server")
	}
}

func TestValidateMessage(t *testing.T) {
	if errs := ValidateMessage(json.RawMessage(`{"text":"hi","blocks":[{"type":"divider"}]}`)); len(errs) != 0 {
		t.Fatalf("valid message: %v", errs)
	}
	errs := ValidateMessage(json.RawMessage(`{"text":"` + strings.Repeat("x", MaxMessageText+1) + `"}`))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "msg_too_long") {
		t.Fatalf("long text: %v", errs)
	}
	if errs := ValidateMessage(json.RawMessage(`{}`)); len(errs) != 1 {
		t.Fatalf("empty message: %v", errs)
	}
}
