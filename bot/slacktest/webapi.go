package slacktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// apiError is a Slack error answer: {"ok":false,"error":code,...}.
type apiError struct {
	code     string
	messages []string // response_metadata.messages
}

func fail(code string, messages ...string) *apiError {
	return &apiError{code: code, messages: messages}
}

func missing(arg string) *apiError {
	return fail("invalid_arguments", "[ERROR] missing required field: "+arg)
}

type obj = map[string]any

// serveAPI handles every Web API method under /api/. State changes happen
// under s.mu; the response is written after unlocking so a slow client
// cannot hold the server's lock.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	args, token, perr := parseArgs(r)
	call := s.handleAPI(method, args, token, perr)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if call.HTTPStatus == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", call.retryAfter)
	}
	w.WriteHeader(call.HTTPStatus)
	_, _ = w.Write(call.Response)
}

func (s *Server) handleAPI(method string, args map[string]string, token string, perr error) (call Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call = Call{Method: method, Args: args, Token: token, Time: time.Now(), HTTPStatus: http.StatusOK}
	defer func() {
		s.calls = append(s.calls, call)
		s.logf("%s %s -> %d %s", method, summarizeArgs(args), call.HTTPStatus, call.Error)
		s.notifyLocked()
	}()

	var res obj
	var aerr *apiError
	switch {
	case perr != nil:
		aerr = fail("invalid_form_data", "[ERROR] "+perr.Error())
	case token == "":
		aerr = fail("not_authed")
	case token != s.cfg.BotToken && token != s.cfg.AppToken:
		aerr = fail("invalid_auth")
	case (method == "apps.connections.open") != (token == s.cfg.AppToken):
		// apps.connections.open takes only the app-level token, everything
		// else only the bot token.
		aerr = fail("not_allowed_token_type")
	}
	if aerr == nil {
		channel := ""
		if method == "chat.postMessage" || method == "chat.postEphemeral" {
			channel = s.resolveChannelLocked(args["channel"])
		}
		if limited, wait := s.rateLimitedLocked(method, channel); limited {
			// Like Slack: HTTP 429, Retry-After in whole seconds.
			call.HTTPStatus = http.StatusTooManyRequests
			call.Error = "ratelimited"
			call.retryAfter = strconv.Itoa(int(math.Ceil(max(wait, 0).Seconds())))
			call.Response = json.RawMessage(`{"ok":false,"error":"ratelimited"}`)
			return call
		}
		res, aerr = s.dispatchLocked(method, args)
	}
	if aerr != nil {
		res = obj{"ok": false, "error": aerr.code}
		if len(aerr.messages) > 0 {
			res["response_metadata"] = obj{"messages": aerr.messages}
			if aerr.code == "invalid_blocks" {
				// Slack also lists the bare messages under "errors".
				errs := make([]string, len(aerr.messages))
				for i, m := range aerr.messages {
					errs[i] = strings.TrimPrefix(m, "[ERROR] ")
				}
				res["errors"] = errs
			}
		}
		call.Error = aerr.code
	} else {
		res["ok"] = true
	}
	call.Response, _ = json.Marshal(res)
	return call
}

// parseArgs decodes form (query or body) or JSON arguments, and the token
// from "Authorization: Bearer" or the token field, as Slack accepts both.
func parseArgs(r *http.Request) (map[string]string, string, error) {
	args := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			return args, "", err
		}
		var m map[string]json.RawMessage
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := json.Unmarshal(raw, &m); err != nil {
				return args, bearer(r), fmt.Errorf("invalid JSON body: %w", err)
			}
		}
		for k, v := range m {
			var s string
			if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
				args[k] = s
			} else {
				args[k] = string(v)
			}
		}
		for k, v := range r.URL.Query() {
			if _, ok := args[k]; !ok && len(v) > 0 {
				args[k] = v[0]
			}
		}
	} else {
		if err := r.ParseForm(); err != nil {
			return args, bearer(r), err
		}
		for k, v := range r.Form {
			if len(v) > 0 {
				args[k] = v[0]
			}
		}
	}
	token := bearer(r)
	if token == "" {
		token = args["token"]
	}
	delete(args, "token")
	return args, token, nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func summarizeArgs(a map[string]string) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := a[k]
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		fmt.Fprintf(&b, "%s=%q ", k, v)
	}
	return strings.TrimSpace(b.String())
}

func (s *Server) dispatchLocked(method string, a map[string]string) (obj, *apiError) {
	switch method {
	case "auth.test":
		return obj{
			"url": "https://gatehouse-test.slack.com/", "team": s.cfg.TeamName, "user": "gatehouse",
			"team_id": s.cfg.TeamID, "user_id": s.cfg.BotUserID, "bot_id": s.cfg.BotID,
			"is_enterprise_install": false,
		}, nil
	case "apps.connections.open":
		ticket := randHex(16)
		s.tickets[ticket] = true
		url := "ws://" + strings.TrimPrefix(s.base, "http://") + "/link/?ticket=" + ticket + "&app_id=" + s.cfg.AppID
		return obj{"url": url}, nil
	case "team.info":
		return obj{"team": obj{"id": s.cfg.TeamID, "name": s.cfg.TeamName, "domain": "gatehouse-test", "email_domain": ""}}, nil
	case "chat.postMessage":
		return s.chatPostMessage(a)
	case "chat.update":
		return s.chatUpdate(a)
	case "chat.postEphemeral":
		return s.chatPostEphemeral(a)
	case "chat.delete":
		return s.chatDelete(a)
	case "conversations.open":
		return s.conversationsOpen(a)
	case "conversations.info":
		c, ok := s.channelLocked(a["channel"])
		if !ok {
			return nil, fail("channel_not_found")
		}
		return obj{"channel": s.channelJSON(c)}, nil
	case "users.info":
		if a["user"] == "" {
			return nil, missing("user")
		}
		u, ok := s.users[a["user"]]
		if !ok {
			return nil, fail("user_not_found")
		}
		return obj{"user": s.userJSON(u)}, nil
	case "users.lookupByEmail":
		if a["email"] == "" {
			return nil, missing("email")
		}
		for _, id := range s.userIDs {
			if u := s.users[id]; u.Email != "" && strings.EqualFold(u.Email, a["email"]) {
				return obj{"user": s.userJSON(u)}, nil
			}
		}
		return nil, fail("users_not_found")
	case "users.list":
		return s.usersList(a)
	case "usergroups.users.list":
		if a["usergroup"] == "" {
			return nil, missing("usergroup")
		}
		g, ok := s.groups[a["usergroup"]]
		if !ok {
			return nil, fail("no_such_subteam")
		}
		return obj{"users": append([]string{}, g.Users...)}, nil
	case "views.open", "views.push":
		return s.viewsOpen(method, a)
	case "views.update":
		return s.viewsUpdate(a)
	case "views.publish":
		return s.viewsPublish(a)
	}
	return nil, fail("unknown_method")
}

func (s *Server) userJSON(u *User) obj {
	return obj{
		"id": u.ID, "team_id": s.cfg.TeamID, "name": u.Name, "deleted": u.Deleted,
		"real_name": u.RealName, "tz": u.TZ, "tz_label": u.TZ, "tz_offset": tzOffset(u.TZ),
		"is_bot": u.IsBot, "is_admin": u.IsAdmin, "is_app_user": false,
		"profile": obj{
			"real_name": u.RealName, "display_name": u.Name, "email": u.Email, "team": s.cfg.TeamID,
		},
	}
}

func tzOffset(tz string) int {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return 0
	}
	_, off := time.Now().In(loc).Zone()
	return off
}

func (s *Server) channelJSON(c *Channel) obj {
	isIM := strings.HasPrefix(c.ID, "D")
	o := obj{
		"id": c.ID, "name": c.Name, "is_channel": !isIM && !c.IsPrivate, "is_group": c.IsPrivate,
		"is_im": isIM, "is_private": c.IsPrivate || isIM, "is_member": !c.NotMember, "is_archived": c.Archived,
		"created": 1700000000,
	}
	if isIM {
		o["user"] = strings.TrimPrefix(c.ID, "D")
	}
	return o
}

func (s *Server) msgJSON(m *Message) obj {
	o := obj{
		"type": "message", "text": m.Text, "user": m.User, "bot_id": s.cfg.BotID,
		"ts": m.TS, "team": s.cfg.TeamID, "app_id": s.cfg.AppID,
	}
	if len(m.Blocks) > 0 {
		o["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		o["thread_ts"] = m.ThreadTS
	}
	return o
}

// checkContent validates text and blocks of a message; it returns compacted
// blocks.
func checkContent(text, blocks string, needSome bool) (json.RawMessage, *apiError) {
	if chars(text) > MaxMessageText {
		return nil, fail("msg_too_long")
	}
	var compact json.RawMessage
	if strings.TrimSpace(blocks) != "" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(blocks)); err != nil {
			return nil, fail("invalid_blocks_format", "[ERROR] blocks must be a JSON array")
		}
		if errs := ValidateMessageBlocks(buf.Bytes()); len(errs) > 0 {
			return nil, fail("invalid_blocks", slackMessages(errs)...)
		}
		if !isEmptyJSON(buf.Bytes()) {
			compact = buf.Bytes()
		}
	}
	if needSome && text == "" && compact == nil {
		return nil, fail("no_text")
	}
	return compact, nil
}

func (s *Server) chatPostMessage(a map[string]string) (obj, *apiError) {
	chID := s.resolveChannelLocked(a["channel"])
	c, ok := s.channelLocked(chID)
	if !ok {
		return nil, fail("channel_not_found")
	}
	switch {
	case c.Archived:
		return nil, fail("is_archived")
	case c.NotMember:
		return nil, fail("not_in_channel")
	}
	blocks, aerr := checkContent(a["text"], a["blocks"], a["attachments"] == "")
	if aerr != nil {
		return nil, aerr
	}
	m := &Message{Channel: c.ID, TS: s.newTSLocked(), ThreadTS: a["thread_ts"], Text: a["text"], Blocks: blocks, User: s.cfg.BotUserID}
	s.msgs[c.ID] = append(s.msgs[c.ID], m)
	return obj{"channel": c.ID, "ts": m.TS, "message": s.msgJSON(m)}, nil
}

func (s *Server) chatUpdate(a map[string]string) (obj, *apiError) {
	chID := s.resolveChannelLocked(a["channel"])
	if _, ok := s.channelLocked(chID); !ok {
		return nil, fail("channel_not_found")
	}
	if a["ts"] == "" {
		return nil, missing("ts")
	}
	m := s.findMsgLocked(chID, a["ts"])
	if m == nil || m.Deleted {
		return nil, fail("message_not_found")
	}
	blocks, aerr := checkContent(a["text"], a["blocks"], false)
	if aerr != nil {
		return nil, aerr
	}
	// chat.update keeps what is not sent: omitted blocks stay, an empty
	// array removes them.
	if _, ok := a["text"]; ok {
		m.Text = a["text"]
	}
	if _, ok := a["blocks"]; ok {
		m.Blocks = blocks
	}
	m.Edits++
	return obj{"channel": chID, "ts": m.TS, "text": m.Text, "message": s.msgJSON(m)}, nil
}

func (s *Server) chatPostEphemeral(a map[string]string) (obj, *apiError) {
	chID := s.resolveChannelLocked(a["channel"])
	c, ok := s.channelLocked(chID)
	if !ok {
		return nil, fail("channel_not_found")
	}
	if a["user"] == "" {
		return nil, missing("user")
	}
	if _, ok := s.users[a["user"]]; !ok {
		return nil, fail("user_not_found")
	}
	blocks, aerr := checkContent(a["text"], a["blocks"], a["attachments"] == "")
	if aerr != nil {
		return nil, aerr
	}
	m := &Message{Channel: c.ID, TS: s.newTSLocked(), ThreadTS: a["thread_ts"], Text: a["text"], Blocks: blocks,
		User: s.cfg.BotUserID, Ephemeral: true, To: a["user"]}
	s.ephemerals = append(s.ephemerals, m)
	return obj{"message_ts": m.TS}, nil
}

func (s *Server) chatDelete(a map[string]string) (obj, *apiError) {
	chID := s.resolveChannelLocked(a["channel"])
	if _, ok := s.channelLocked(chID); !ok {
		return nil, fail("channel_not_found")
	}
	m := s.findMsgLocked(chID, a["ts"])
	if m == nil || m.Deleted {
		return nil, fail("message_not_found")
	}
	m.Deleted = true
	return obj{"channel": chID, "ts": m.TS}, nil
}

func (s *Server) conversationsOpen(a map[string]string) (obj, *apiError) {
	if a["channel"] != "" {
		c, ok := s.channelLocked(a["channel"])
		if !ok {
			return nil, fail("channel_not_found")
		}
		return obj{"channel": obj{"id": c.ID}, "no_op": true, "already_open": true}, nil
	}
	if a["users"] == "" {
		return nil, fail("users_list_not_supplied")
	}
	users := strings.Split(a["users"], ",")
	for _, u := range users {
		if _, ok := s.users[strings.TrimSpace(u)]; !ok {
			return nil, fail("user_not_found")
		}
	}
	if len(users) == 1 {
		u := strings.TrimSpace(users[0])
		_, existed := s.channels["D"+u]
		id := s.dmLocked(u)
		return obj{"channel": obj{"id": id}, "no_op": existed, "already_open": existed}, nil
	}
	// A multi-person DM: a stable id per member set.
	sort.Strings(users)
	id := "G" + strings.ToUpper(randHexFrom(strings.Join(users, ",")))
	if _, ok := s.channels[id]; !ok {
		s.channels[id] = &Channel{ID: id, Name: "mpdm-" + strings.Join(users, "--"), IsPrivate: true, Members: users}
	}
	return obj{"channel": obj{"id": id}}, nil
}

// randHexFrom is a short stable id derived from s (not random despite the name
// pattern: ids must be stable per member set).
func randHexFrom(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return fmt.Sprintf("%08x", h)
}

func (s *Server) usersList(a map[string]string) (obj, *apiError) {
	limit := 100
	if a["limit"] != "" {
		n, err := strconv.Atoi(a["limit"])
		if err != nil || n < 0 {
			return nil, fail("invalid_limit")
		}
		if n > 0 {
			limit = min(n, 1000)
		}
	}
	start := 0
	if c := a["cursor"]; c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		id, ok := strings.CutPrefix(string(raw), "user:")
		if err != nil || !ok {
			return nil, fail("invalid_cursor")
		}
		start = -1
		for i, uid := range s.userIDs {
			if uid == id {
				start = i
			}
		}
		if start < 0 {
			return nil, fail("invalid_cursor")
		}
	}
	members := []obj{}
	end := min(start+limit, len(s.userIDs))
	for _, id := range s.userIDs[start:end] {
		members = append(members, s.userJSON(s.users[id]))
	}
	next := ""
	if end < len(s.userIDs) {
		// Slack's cursors look like base64("user:U0123").
		next = base64.StdEncoding.EncodeToString([]byte("user:" + s.userIDs[end]))
	}
	return obj{"members": members, "cache_ts": time.Now().Unix(), "response_metadata": obj{"next_cursor": next}}, nil
}

// --- views ----------------------------------------------------------------

func (s *Server) parseViewLocked(raw string, wantType string) (map[string]any, *apiError) {
	if raw == "" {
		return nil, missing("view")
	}
	if errs := ValidateView(json.RawMessage(raw)); len(errs) > 0 {
		return nil, fail("invalid_arguments", slackMessages(errs)...)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m) // ValidateView proved it parses
	if t, _ := m["type"].(string); wantType != "" && t != wantType {
		return nil, fail("invalid_arguments", fmt.Sprintf("[ERROR] view type must be %s [json-pointer:/view/type]", wantType))
	}
	return m, nil
}

// materializeLocked turns a submitted view into what Slack returns and stores.
func (s *Server) materializeLocked(v *View, m map[string]any) {
	str := func(k string) string { x, _ := m[k].(string); return x }
	v.Type = str("type")
	v.CallbackID = str("callback_id")
	v.PrivateMetadata = str("private_metadata")
	if ext := str("external_id"); ext != "" {
		v.ExternalID = ext
	}
	v.Hash = fmt.Sprintf("%d.%s", time.Now().Unix(), randHex(4))
	m["id"] = v.ID
	m["team_id"] = s.cfg.TeamID
	m["app_id"] = s.cfg.AppID
	m["app_installed_team_id"] = s.cfg.TeamID
	m["bot_id"] = s.cfg.BotID
	m["hash"] = v.Hash
	m["state"] = obj{"values": obj{}}
	m["root_view_id"] = v.RootViewID
	if v.PreviousViewID != "" {
		m["previous_view_id"] = v.PreviousViewID
	} else {
		m["previous_view_id"] = nil
	}
	for _, k := range []string{"callback_id", "private_metadata", "external_id"} {
		if _, ok := m[k]; !ok {
			m[k] = ""
		}
	}
	m["external_id"] = v.ExternalID
	for _, k := range []string{"clear_on_close", "notify_on_close"} {
		if _, ok := m[k]; !ok {
			m[k] = false
		}
	}
	v.JSON, _ = json.Marshal(m)
}

func (s *Server) newViewIDLocked() string {
	return fmt.Sprintf("V%08d", s.nextSeqLocked())
}

func (s *Server) viewsOpen(method string, a map[string]string) (obj, *apiError) {
	tid := a["trigger_id"]
	if tid == "" {
		tid = a["interactivity_pointer"]
	}
	if tid == "" {
		return nil, missing("trigger_id")
	}
	tr, ok := s.triggers[tid]
	switch {
	case !ok:
		return nil, fail("invalid_trigger_id")
	case tr.used:
		return nil, fail("exchanged_trigger_id")
	case time.Since(tr.issued) > s.cfg.TriggerTTL:
		return nil, fail("expired_trigger_id")
	}
	m, aerr := s.parseViewLocked(a["view"], "modal")
	if aerr != nil {
		return nil, aerr
	}
	stack := s.stacks[tr.user]
	if method == "views.push" {
		if len(stack) == 0 {
			return nil, fail("not_found")
		}
		if len(stack) >= 3 {
			return nil, fail("push_limit_reached")
		}
	}
	if ext, _ := m["external_id"].(string); ext != "" {
		for _, v := range s.views {
			if v.ExternalID == ext {
				return nil, fail("duplicate_external_id")
			}
		}
	}
	tr.used = true
	v := &View{ID: s.newViewIDLocked(), UserID: tr.user}
	if method == "views.open" {
		for _, id := range stack {
			s.views[id].Closed = true
		}
		v.RootViewID = v.ID
		s.stacks[tr.user] = []string{v.ID}
	} else {
		v.RootViewID = stack[0]
		v.PreviousViewID = stack[len(stack)-1]
		s.stacks[tr.user] = append(stack, v.ID)
	}
	s.materializeLocked(v, m)
	s.views[v.ID] = v
	return obj{"view": v.JSON}, nil
}

func (s *Server) viewsUpdate(a map[string]string) (obj, *apiError) {
	var v *View
	switch {
	case a["view_id"] != "":
		v = s.views[a["view_id"]]
	case a["external_id"] != "":
		for _, x := range s.views {
			if x.ExternalID == a["external_id"] {
				v = x
			}
		}
	default:
		return nil, missing("view_id")
	}
	if v == nil || v.Closed {
		return nil, fail("not_found")
	}
	if h := a["hash"]; h != "" && h != v.Hash {
		// Slack's optimistic lock: the view changed since the caller saw it.
		return nil, fail("hash_conflict")
	}
	m, aerr := s.parseViewLocked(a["view"], v.Type)
	if aerr != nil {
		return nil, aerr
	}
	v.Updates++
	s.materializeLocked(v, m)
	return obj{"view": v.JSON}, nil
}

func (s *Server) viewsPublish(a map[string]string) (obj, *apiError) {
	if a["user_id"] == "" {
		return nil, missing("user_id")
	}
	if _, ok := s.users[a["user_id"]]; !ok {
		return nil, fail("user_not_found")
	}
	m, aerr := s.parseViewLocked(a["view"], "home")
	if aerr != nil {
		return nil, aerr
	}
	var v *View
	if id, ok := s.homes[a["user_id"]]; ok {
		v = s.views[id]
		if h := a["hash"]; h != "" && h != v.Hash {
			return nil, fail("hash_conflict")
		}
		v.Updates++
	} else {
		v = &View{ID: s.newViewIDLocked(), UserID: a["user_id"]}
		v.RootViewID = v.ID
		s.views[v.ID] = v
		s.homes[a["user_id"]] = v.ID
	}
	s.materializeLocked(v, m)
	return obj{"view": v.JSON}, nil
}
