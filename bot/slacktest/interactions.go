package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SlashCommand is a user typing a command. Slack posts slash commands as
// form fields; in Socket Mode the same fields arrive as a JSON object.
type SlashCommand struct {
	Command   string // "/onboard"
	Text      string
	UserID    string
	ChannelID string
}

// SendSlashCommand delivers a slash_commands envelope with a fresh
// trigger_id and response_url.
func (s *Server) SendSlashCommand(cmd SlashCommand) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userOrStubLocked(cmd.UserID)
	chName := ""
	if c, ok := s.channelLocked(cmd.ChannelID); ok {
		chName = c.Name
		if strings.HasPrefix(c.ID, "D") {
			chName = "directmessage"
		}
	}
	d := &Delivery{TriggerID: s.issueTriggerLocked(cmd.UserID, "", cmd.ChannelID)}
	d.ResponseURL = s.newResponseURLLocked(cmd.UserID, cmd.ChannelID, "")
	payload := obj{
		"token": "verification-token", "team_id": s.cfg.TeamID, "team_domain": "gatehouse-test",
		"channel_id": cmd.ChannelID, "channel_name": chName,
		"user_id": cmd.UserID, "user_name": u.Name,
		"command": cmd.Command, "text": cmd.Text,
		"api_app_id": s.cfg.AppID, "is_enterprise_install": false,
		"response_url": d.ResponseURL, "trigger_id": d.TriggerID,
	}
	return s.sendLocked("slash_commands", payload, d)
}

// SendInteraction delivers an arbitrary interactive payload as is (for
// shapes the typed helpers do not build). If the payload has no trigger_id
// field a fresh one is added for the payload's user.id.
func (s *Server) SendInteraction(payload map[string]any) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &Delivery{}
	if _, ok := payload["trigger_id"]; !ok {
		user := ""
		if u, ok := payload["user"].(map[string]any); ok {
			user, _ = u["id"].(string)
		}
		d.TriggerID = s.issueTriggerLocked(user, "", "")
		payload["trigger_id"] = d.TriggerID
	} else {
		d.TriggerID, _ = payload["trigger_id"].(string)
	}
	d.ResponseURL, _ = payload["response_url"].(string)
	return s.sendLocked("interactive", payload, d)
}

// BlockAction is a click (or selection) on an interactive element, either on
// a message (Channel + MessageTS) or in a view (ViewID).
type BlockAction struct {
	UserID    string
	Channel   string
	MessageTS string
	ViewID    string
	ActionID  string
	BlockID   string
	Value     string // button value
	// Type is the element type; default "button". For static_select set
	// SelectedValue (and SelectedText); for users_select SelectedUser; for
	// datepicker SelectedDate.
	Type          string
	SelectedValue string
	SelectedText  string
	SelectedUser  string
	SelectedDate  string
}

// SendBlockAction delivers a block_actions interaction shaped like Slack's:
// user, container, channel and message (or view), actions[], a fresh
// trigger_id and, for messages, a response_url.
func (s *Server) SendBlockAction(a BlockAction) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userOrStubLocked(a.UserID)
	if a.Type == "" {
		a.Type = "button"
	}
	action := obj{
		"action_id": a.ActionID, "block_id": a.BlockID, "type": a.Type,
		"action_ts": fmt.Sprintf("%.6f", float64(time.Now().UnixMicro())/1e6),
	}
	switch a.Type {
	case "button":
		action["value"] = a.Value
		action["text"] = obj{"type": "plain_text", "text": a.ActionID, "emoji": true}
	case "static_select", "external_select", "overflow", "radio_buttons":
		text := a.SelectedText
		if text == "" {
			text = a.SelectedValue
		}
		action["selected_option"] = obj{"text": obj{"type": "plain_text", "text": text, "emoji": true}, "value": a.SelectedValue}
	case "users_select":
		action["selected_user"] = a.SelectedUser
	case "datepicker":
		action["selected_date"] = a.SelectedDate
	}
	d := &Delivery{}
	payload := obj{
		"type": "block_actions", "user": s.userRefLocked(u), "api_app_id": s.cfg.AppID,
		"token": "verification-token", "team": obj{"id": s.cfg.TeamID, "domain": "gatehouse-test"},
		"enterprise": nil, "is_enterprise_install": false,
		"actions": []obj{action}, "state": obj{"values": obj{}},
	}
	if a.ViewID != "" {
		v, ok := s.views[a.ViewID]
		if !ok {
			return nil, fmt.Errorf("slacktest: unknown view %s", a.ViewID)
		}
		payload["container"] = obj{"type": "view", "view_id": v.ID}
		payload["view"] = v.JSON
		d.TriggerID = s.issueTriggerLocked(a.UserID, v.ID, "")
	} else {
		chID := s.resolveChannelLocked(a.Channel)
		c, ok := s.channelLocked(chID)
		if !ok {
			return nil, fmt.Errorf("slacktest: unknown channel %s", a.Channel)
		}
		m := s.findAnyMsgLocked(chID, a.MessageTS)
		if m == nil || m.Deleted {
			return nil, fmt.Errorf("slacktest: no message %s in %s", a.MessageTS, chID)
		}
		payload["container"] = obj{"type": "message", "message_ts": m.TS, "channel_id": c.ID, "is_ephemeral": m.Ephemeral}
		payload["channel"] = obj{"id": c.ID, "name": c.Name}
		if !m.Ephemeral { // Slack does not echo ephemeral messages back
			payload["message"] = s.msgJSON(m)
		}
		d.TriggerID = s.issueTriggerLocked(a.UserID, "", c.ID)
		d.ResponseURL = s.newResponseURLLocked(a.UserID, c.ID, m.TS)
		payload["response_url"] = d.ResponseURL
	}
	payload["trigger_id"] = d.TriggerID
	return s.sendLocked("interactive", payload, d)
}

// InputValue is the state of one input element in a view submission.
type InputValue struct {
	Type           string // plain_text_input, static_select, users_select, datepicker, multi_users_select, checkboxes...
	Value          string // plain_text_input
	SelectedOption string // static_select value
	SelectedUser   string
	SelectedDate   string // YYYY-MM-DD
	SelectedUsers  []string
	SelectedValues []string // multi_static_select, checkboxes
}

func (iv InputValue) json() obj {
	o := obj{"type": iv.Type}
	opt := func(v string) obj {
		return obj{"text": obj{"type": "plain_text", "text": v, "emoji": true}, "value": v}
	}
	switch iv.Type {
	case "plain_text_input", "email_text_input", "url_text_input", "number_input", "":
		if iv.Type == "" {
			o["type"] = "plain_text_input"
		}
		o["value"] = iv.Value
	case "static_select", "external_select", "radio_buttons":
		if iv.SelectedOption == "" {
			o["selected_option"] = nil
		} else {
			o["selected_option"] = opt(iv.SelectedOption)
		}
	case "users_select":
		o["selected_user"] = iv.SelectedUser
	case "multi_users_select":
		o["selected_users"] = append([]string{}, iv.SelectedUsers...)
	case "datepicker":
		o["selected_date"] = iv.SelectedDate
	case "multi_static_select", "checkboxes":
		opts := []obj{}
		for _, v := range iv.SelectedValues {
			opts = append(opts, opt(v))
		}
		o["selected_options"] = opts
	default:
		o["value"] = iv.Value
	}
	return o
}

// SendViewSubmission submits an open modal with the given input values
// (block_id -> action_id -> value). The payload carries the stored view's
// id, callback_id, private_metadata and hash, as Slack's does. Applying
// the ack (close, update, push, errors, clear) is done when it arrives.
func (s *Server) SendViewSubmission(userID, viewID string, values map[string]map[string]InputValue) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	if !ok || v.Closed {
		return nil, fmt.Errorf("slacktest: view %s is not open", viewID)
	}
	state := obj{}
	for b, acts := range values {
		ao := obj{}
		for a, iv := range acts {
			ao[a] = iv.json()
		}
		state[b] = ao
	}
	var view obj
	_ = json.Unmarshal(v.JSON, &view)
	view["state"] = obj{"values": state}
	u := s.userOrStubLocked(userID)
	d := &Delivery{TriggerID: s.issueTriggerLocked(userID, v.ID, "")}
	payload := obj{
		"type": "view_submission", "team": obj{"id": s.cfg.TeamID, "domain": "gatehouse-test"},
		"user": s.userRefLocked(u), "api_app_id": s.cfg.AppID, "token": "verification-token",
		"trigger_id": d.TriggerID, "view": view, "response_urls": []any{},
		"is_enterprise_install": false, "enterprise": nil,
	}
	return s.sendLocked("interactive", payload, d)
}

// SendViewClosed reports that the user closed a modal (sent only when the
// view asked for notify_on_close, which the caller is trusted to check).
func (s *Server) SendViewClosed(userID, viewID string) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[viewID]
	if !ok {
		return nil, fmt.Errorf("slacktest: unknown view %s", viewID)
	}
	u := s.userOrStubLocked(userID)
	payload := obj{
		"type": "view_closed", "team": obj{"id": s.cfg.TeamID, "domain": "gatehouse-test"},
		"user": s.userRefLocked(u), "api_app_id": s.cfg.AppID, "token": "verification-token",
		"view": v.JSON, "is_cleared": false, "is_enterprise_install": false,
	}
	s.closeTopModalLocked(userID)
	return s.sendLocked("interactive", payload, &Delivery{})
}

// SendShortcut delivers a global shortcut with a fresh trigger_id.
func (s *Server) SendShortcut(userID, callbackID string) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userOrStubLocked(userID)
	d := &Delivery{TriggerID: s.issueTriggerLocked(userID, "", "")}
	payload := obj{
		"type": "shortcut", "token": "verification-token",
		"action_ts":   fmt.Sprintf("%.6f", float64(time.Now().UnixMicro())/1e6),
		"team":        obj{"id": s.cfg.TeamID, "domain": "gatehouse-test"},
		"user":        s.userRefLocked(u),
		"callback_id": callbackID, "trigger_id": d.TriggerID, "api_app_id": s.cfg.AppID,
		"is_enterprise_install": false, "enterprise": nil,
	}
	return s.sendLocked("interactive", payload, d)
}

// SendEvent delivers an Events API event (the inner "event" object, e.g.
// {"type":"app_home_opened","user":"U1","tab":"home"}) in an event_callback
// wrapped in an events_api envelope, with a fresh event_id.
func (s *Server) SendEvent(event map[string]any) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if _, ok := event["event_ts"]; !ok {
		event["event_ts"] = fmt.Sprintf("%.6f", float64(now.UnixMicro())/1e6)
	}
	eventID := fmt.Sprintf("Ev%010d", s.nextSeqLocked())
	payload := obj{
		"token": "verification-token", "team_id": s.cfg.TeamID, "api_app_id": s.cfg.AppID,
		"event": event, "type": "event_callback", "event_id": eventID, "event_time": now.Unix(),
		"authorizations": []obj{{
			"enterprise_id": nil, "team_id": s.cfg.TeamID, "user_id": s.cfg.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-" + randHex(12),
	}
	return s.sendLocked("events_api", payload, &Delivery{EventID: eventID})
}

func (s *Server) userOrStubLocked(id string) *User {
	if u, ok := s.users[id]; ok {
		return u
	}
	return &User{ID: id, Name: strings.ToLower(id)}
}

func (s *Server) userRefLocked(u *User) obj {
	return obj{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.cfg.TeamID}
}

// --- response_url ---------------------------------------------------------

type respTarget struct {
	user, channel, messageTS string
	issued                   time.Time
	uses                     int
}

// Slack allows a response_url to be used five times within 30 minutes.
const (
	responseURLUses = 5
	responseURLTTL  = 30 * time.Minute
)

func (s *Server) newResponseURLLocked(user, channel, messageTS string) string {
	id := fmt.Sprintf("T%s/%d/%s", s.cfg.TeamID, s.nextSeqLocked(), randHex(12))
	s.responseURLs[id] = &respTarget{user: user, channel: s.resolveChannelLocked(channel), messageTS: messageTS, issued: time.Now()}
	return s.base + "/response/" + id
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	post := ResponsePost{URL: s.base + r.URL.Path, Time: time.Now(), Body: body}
	var req struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
	}
	perr := json.Unmarshal(body, &req)
	post.Text, post.Blocks, post.ResponseType = req.Text, req.Blocks, req.ResponseType
	post.ReplaceOriginal, post.DeleteOriginal = req.ReplaceOriginal, req.DeleteOriginal

	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(status int, res obj) {
		if e, ok := res["error"].(string); ok {
			post.Error = e
		}
		s.responsePosts = append(s.responsePosts, post)
		s.notifyLocked()
		b, _ := json.Marshal(res)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	}
	t, ok := s.responseURLs[id]
	switch {
	case !ok || r.Method != http.MethodPost:
		answer(http.StatusNotFound, obj{"ok": false, "error": "invalid_url"})
		return
	case t.uses >= responseURLUses || time.Since(t.issued) > responseURLTTL:
		answer(http.StatusNotFound, obj{"ok": false, "error": "expired_url"})
		return
	case perr != nil:
		answer(http.StatusBadRequest, obj{"ok": false, "error": "invalid_payload"})
		return
	}
	blocks, aerr := checkContent(req.Text, string(req.Blocks), !req.DeleteOriginal)
	if aerr != nil {
		res := obj{"ok": false, "error": aerr.code}
		if len(aerr.messages) > 0 {
			res["response_metadata"] = obj{"messages": aerr.messages}
		}
		answer(http.StatusOK, res)
		return
	}
	t.uses++
	orig := s.findAnyMsgLocked(t.channel, t.messageTS)
	switch {
	case req.DeleteOriginal && orig != nil:
		orig.Deleted = true
	case req.ReplaceOriginal && orig != nil:
		orig.Text, orig.Blocks = req.Text, blocks
		orig.Edits++
	case req.ResponseType == "in_channel":
		m := &Message{Channel: t.channel, TS: s.newTSLocked(), ThreadTS: req.ThreadTS, Text: req.Text, Blocks: blocks, User: s.cfg.BotUserID}
		s.msgs[t.channel] = append(s.msgs[t.channel], m)
	default:
		m := &Message{Channel: t.channel, TS: s.newTSLocked(), Text: req.Text, Blocks: blocks, User: s.cfg.BotUserID, Ephemeral: true, To: t.user}
		s.ephemerals = append(s.ephemerals, m)
	}
	answer(http.StatusOK, obj{"ok": true})
}
