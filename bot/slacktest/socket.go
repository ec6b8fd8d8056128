package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one Socket Mode connection. gorilla allows one concurrent writer,
// so data frames go through wmu; control frames (ping, close) may be written
// concurrently by design.
type wsConn struct {
	id       int
	ws       *websocket.Conn
	wmu      sync.Mutex
	done     chan struct{} // closed when the reader exits
	stopPing chan struct{}
	once     sync.Once
}

func (c *wsConn) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// abort closes the TCP connection without a close frame.
func (c *wsConn) abort() {
	c.once.Do(func() { close(c.stopPing) })
	_ = c.ws.NetConn().Close()
}

// serveSocket upgrades /link/?ticket=... to the Socket Mode websocket.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket) // a ticket is good for one connection
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already answered
	}
	c := &wsConn{ws: ws, done: make(chan struct{}), stopPing: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.connSeq++
	c.id = s.connSeq
	n := len(s.conns) + 1
	// hello must be the first frame: write it before the connection is
	// visible to Send*/Disconnect, which would otherwise race it.
	hello := obj{
		"type":            "hello",
		"num_connections": n,
		"debug_info": obj{
			"host":                        fmt.Sprintf("applink-slacktest-%d", c.id),
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": obj{"app_id": s.cfg.AppID},
	}
	if err := c.writeJSON(hello); err != nil {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c.id] = c
	s.connEvents = append(s.connEvents, ConnEvent{ConnID: c.id, Kind: "connected", Time: time.Now()})
	s.wg.Add(1) // the pinger; this handler is tracked by s.track
	s.notifyLocked()
	s.mu.Unlock()
	s.logf("socket: connection %d open (%d live)", c.id, n)

	go s.pinger(c)
	defer func() {
		c.abort()
		close(c.done)
		s.mu.Lock()
		delete(s.conns, c.id)
		s.connEvents = append(s.connEvents, ConnEvent{ConnID: c.id, Kind: "closed", Time: time.Now()})
		s.notifyLocked()
		s.mu.Unlock()
		s.logf("socket: connection %d closed", c.id)
	}()

	// The default ping handler answers client pings with pongs.
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		s.handleAck(c, data)
	}
}

// pinger sends PING frames so slack-go's dead-man timer stays happy.
func (s *Server) pinger(c *wsConn) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stopPing:
			return
		case <-c.done:
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
				return
			}
		}
	}
}

// --- envelopes and acks ---------------------------------------------------

// Delivery is one envelope the server sent, and the handle to await its ack.
type Delivery struct {
	EnvelopeID   string
	Type         string // slash_commands | interactive | events_api
	Payload      json.RawMessage
	EventID      string // events_api only
	RetryAttempt int
	TriggerID    string // issued for slash commands, block actions, shortcuts
	ResponseURL  string // slash commands and message block actions
	ConnID       int
	Sent         time.Time

	srv      *Server
	seq      int // send order
	envelope obj
	acked    bool
	ack      Ack
}

// Wait waits for the client's ack of this delivery (AckFor by envelope id).
func (d *Delivery) Wait(ctx context.Context) (Ack, error) {
	return d.srv.AckFor(ctx, d.EnvelopeID)
}

// AckDeadline is how long Slack waits for an ack before it shows the user an
// error (interactions, slash commands) or retries (events).
const AckDeadline = 3 * time.Second

// Ack is the client's acknowledgement of an envelope.
type Ack struct {
	Payload json.RawMessage // nil when the ack carried none
	Latency time.Duration   // from send to ack
	At      time.Time
	// Late is set when Latency exceeded AckDeadline: Slack would already
	// have shown "operation timed out" or retried the event.
	Late bool
	// Problems lists what the fake found wrong applying the ack (invalid
	// view in a response_action, oversize payload, invalid blocks...).
	Problems []string
}

func (s *Server) handleAck(c *wsConn, data []byte) {
	var msg struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	now := time.Now()
	if err := json.Unmarshal(data, &msg); err != nil || msg.EnvelopeID == "" {
		s.logf("socket: connection %d sent a frame that is not an ack: %.200s", c.id, data)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[msg.EnvelopeID]
	if !ok {
		s.logf("socket: ack for unknown envelope %s", msg.EnvelopeID)
		return
	}
	if d.acked {
		s.logf("socket: duplicate ack for envelope %s", msg.EnvelopeID)
		return
	}
	d.acked = true
	d.ack = Ack{Latency: now.Sub(d.Sent), At: now, Late: now.Sub(d.Sent) > AckDeadline}
	if len(msg.Payload) > 0 && string(msg.Payload) != "null" {
		d.ack.Payload = append(json.RawMessage(nil), msg.Payload...)
	}
	if len(data) >= MaxAckPayloadBytes {
		// Slack silently drops acks of 20 KB or more.
		d.ack.Problems = append(d.ack.Problems, fmt.Sprintf("ack of %d bytes would be dropped by Slack (limit %d)", len(data), MaxAckPayloadBytes))
	} else {
		s.applyAckLocked(d)
	}
	if t, ok := s.timers[d.EnvelopeID]; ok && t.Stop() {
		delete(s.timers, d.EnvelopeID)
		s.wg.Done()
	}
	s.logf("socket: ack %s (%s) after %v", d.EnvelopeID, d.Type, d.ack.Latency)
	s.notifyLocked()
}

// applyAckLocked does what Slack does with an ack payload: a slash command's
// payload becomes the response message; a view_submission's response_action
// updates, pushes, clears or reports errors; no payload closes the modal.
func (s *Server) applyAckLocked(d *Delivery) {
	var p struct {
		Type string `json:"type"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		UserID    string `json:"user_id"`
		ChannelID string `json:"channel_id"`
		View      struct {
			ID string `json:"id"`
		} `json:"view"`
	}
	_ = json.Unmarshal(d.Payload, &p)
	problem := func(f string, args ...any) { d.ack.Problems = append(d.ack.Problems, fmt.Sprintf(f, args...)) }

	switch {
	case d.Type == "slash_commands" && d.ack.Payload != nil:
		var r struct {
			Text         string          `json:"text"`
			Blocks       json.RawMessage `json:"blocks"`
			ResponseType string          `json:"response_type"`
		}
		if err := json.Unmarshal(d.ack.Payload, &r); err != nil {
			problem("ack payload is not a JSON object: %v", err)
			return
		}
		blocks, aerr := checkContent(r.Text, string(r.Blocks), true)
		if aerr != nil {
			problem("%s %v", aerr.code, aerr.messages)
			return
		}
		m := &Message{Channel: p.ChannelID, TS: s.newTSLocked(), Text: r.Text, Blocks: blocks, User: s.cfg.BotUserID}
		if r.ResponseType == "in_channel" {
			s.msgs[p.ChannelID] = append(s.msgs[p.ChannelID], m)
		} else {
			m.Ephemeral, m.To = true, p.UserID
			s.ephemerals = append(s.ephemerals, m)
		}
	case p.Type == "view_submission":
		user := p.User.ID
		if d.ack.Payload == nil {
			s.closeTopModalLocked(user)
			return
		}
		var r struct {
			ResponseAction string            `json:"response_action"`
			View           json.RawMessage   `json:"view"`
			Errors         map[string]string `json:"errors"`
		}
		if err := json.Unmarshal(d.ack.Payload, &r); err != nil {
			problem("ack payload is not a JSON object: %v", err)
			return
		}
		switch r.ResponseAction {
		case "errors":
			if len(r.Errors) == 0 {
				problem("response_action errors without errors")
			}
			// The modal stays open showing the errors.
		case "clear":
			for _, id := range s.stacks[user] {
				s.views[id].Closed = true
			}
			delete(s.stacks, user)
		case "update", "push":
			m, aerr := s.parseViewLocked(string(r.View), "modal")
			if aerr != nil {
				problem("response_action %s: %s %v", r.ResponseAction, aerr.code, aerr.messages)
				return
			}
			stack := s.stacks[user]
			if r.ResponseAction == "update" {
				v, ok := s.views[p.View.ID]
				if !ok {
					problem("response_action update: unknown view %s", p.View.ID)
					return
				}
				v.Updates++
				s.materializeLocked(v, m)
				return
			}
			if len(stack) >= 3 {
				problem("response_action push: push_limit_reached")
				return
			}
			v := &View{ID: s.newViewIDLocked(), UserID: user}
			if len(stack) > 0 {
				v.RootViewID, v.PreviousViewID = stack[0], stack[len(stack)-1]
			} else {
				v.RootViewID = v.ID
			}
			s.materializeLocked(v, m)
			s.views[v.ID] = v
			s.stacks[user] = append(stack, v.ID)
		case "":
			s.closeTopModalLocked(user)
		default:
			problem("unknown response_action %q", r.ResponseAction)
		}
	}
}

func (s *Server) closeTopModalLocked(user string) {
	stack := s.stacks[user]
	if len(stack) == 0 {
		return
	}
	s.views[stack[len(stack)-1]].Closed = true
	s.stacks[user] = stack[:len(stack)-1]
	if len(s.stacks[user]) == 0 {
		delete(s.stacks, user)
	}
}

// AckFor waits for the client's ack of an envelope.
func (s *Server) AckFor(ctx context.Context, envelopeID string) (Ack, error) {
	var ack Ack
	err := s.waitFor(ctx, func() bool {
		d, ok := s.deliveries[envelopeID]
		if ok && d.acked {
			ack = d.ack
		}
		return ok && d.acked
	})
	if err == nil {
		return ack, nil
	}
	s.mu.Lock()
	_, known := s.deliveries[envelopeID]
	s.mu.Unlock()
	if !known {
		return Ack{}, fmt.Errorf("slacktest: unknown envelope %s: %w", envelopeID, err)
	}
	return Ack{}, err
}

// Acked reports whether an envelope has been acked, without waiting.
func (s *Server) Acked(envelopeID string) (Ack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[envelopeID]
	if !ok || !d.acked {
		return Ack{}, false
	}
	return d.ack, true
}

// Deliveries returns every envelope sent, in send order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.deliveries))
	for _, d := range s.deliveries {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// Pending returns the deliveries not acked yet, in send order.
func (s *Server) Pending() []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if !d.acked {
			out = append(out, d)
		}
	}
	return out
}

// sendLocked wraps payload in a Socket Mode envelope and writes it to the
// newest live connection.
func (s *Server) sendLocked(typ string, payload obj, d *Delivery) (*Delivery, error) {
	if s.closed {
		return nil, ErrClosed
	}
	var c *wsConn
	for _, x := range s.conns {
		if c == nil || x.id > c.id {
			c = x
		}
	}
	if c == nil {
		return nil, ErrNotConnected
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	d.EnvelopeID = fmt.Sprintf("%08x-%04x-4%03x-%s", s.nextSeqLocked(), time.Now().UnixNano()&0xffff, s.seq&0xfff, randHex(6))
	d.Type = typ
	d.Payload = raw
	d.srv = s
	d.seq = s.seq
	d.ConnID = c.id
	env := obj{
		"envelope_id": d.EnvelopeID,
		"type":        typ,
		"payload":     json.RawMessage(raw),
		// Slack accepts a response payload in acks of slash commands and
		// interactions, not of events.
		"accepts_response_payload": typ != "events_api",
	}
	if typ == "events_api" {
		env["retry_attempt"] = d.RetryAttempt
		env["retry_reason"] = ""
		if d.RetryAttempt > 0 {
			env["retry_reason"] = "timeout"
		}
	}
	d.envelope = env
	d.Sent = time.Now()
	s.deliveries[d.EnvelopeID] = d
	// Write under s.mu so envelopes reach the client in Send order; the
	// write has a deadline so a stuck client cannot wedge the server.
	if err := c.writeJSON(env); err != nil {
		delete(s.deliveries, d.EnvelopeID)
		return nil, fmt.Errorf("slacktest: write envelope: %w", err)
	}
	if typ == "events_api" && s.cfg.RedeliverAfter > 0 && d.RetryAttempt < s.cfg.MaxRetries {
		s.scheduleRedeliveryLocked(d)
	}
	s.logf("socket: sent %s %s on connection %d", typ, d.EnvelopeID, c.id)
	s.notifyLocked()
	cp := *d
	return &cp, nil
}

func (s *Server) scheduleRedeliveryLocked(d *Delivery) {
	id := d.EnvelopeID
	s.wg.Add(1)
	s.timers[id] = time.AfterFunc(s.cfg.RedeliverAfter, func() {
		defer s.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.timers, id)
		if s.closed || s.deliveries[id].acked {
			return
		}
		if _, err := s.redeliverLocked(s.deliveries[id], s.deliveries[id].RetryAttempt+1); err != nil {
			s.logf("socket: redelivery of %s failed: %v", id, err)
		}
	})
}

// Redeliver sends an events_api delivery again as Slack's retry: same
// event_id, a new envelope_id, retry_attempt set to attempt and
// retry_reason "timeout".
func (s *Server) Redeliver(d *Delivery, attempt int) (*Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	orig, ok := s.deliveries[d.EnvelopeID]
	if !ok {
		return nil, fmt.Errorf("slacktest: unknown envelope %s", d.EnvelopeID)
	}
	return s.redeliverLocked(orig, attempt)
}

func (s *Server) redeliverLocked(orig *Delivery, attempt int) (*Delivery, error) {
	if orig.Type != "events_api" {
		return nil, fmt.Errorf("slacktest: only events_api envelopes are redelivered, not %s", orig.Type)
	}
	var payload obj
	if err := json.Unmarshal(orig.Payload, &payload); err != nil {
		return nil, err
	}
	nd := &Delivery{EventID: orig.EventID, RetryAttempt: attempt}
	return s.sendLocked("events_api", payload, nd)
}

// --- connection control ---------------------------------------------------

// Disconnect sends Slack's disconnect message ("refresh_requested",
// "warning", "link_disabled") on every live connection and waits for the
// client to close it (closing it after 2 s otherwise), so the client must
// call apps.connections.open again.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := s.liveConnsLocked()
	for _, c := range conns {
		s.connEvents = append(s.connEvents, ConnEvent{ConnID: c.id, Kind: "disconnect_sent", Reason: reason, Time: time.Now()})
	}
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.writeJSON(obj{
			"type":   "disconnect",
			"reason": reason,
			"debug_info": obj{
				"host": fmt.Sprintf("applink-slacktest-%d", c.id),
			},
		})
		// Slack keeps the socket open after a disconnect message and lets
		// the client close it (for "warning" about 10 s later). Closing at
		// once would race the client's processing of frames it already
		// read, so wait for the client, then close the hard way.
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(time.Second))
			c.abort()
			<-c.done
		}
	}
}

// DropConnection closes every live connection abruptly, with no disconnect
// message and no close frame (a network failure).
func (s *Server) DropConnection() {
	s.mu.Lock()
	conns := s.liveConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.abort()
		<-c.done
	}
}

func (s *Server) liveConnsLocked() []*wsConn {
	out := make([]*wsConn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Connections returns the number of live Socket Mode connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ConnectCount returns how many connections were ever opened.
func (s *Server) ConnectCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connSeq
}

// ConnEvents returns the connection history.
func (s *Server) ConnEvents() []ConnEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ConnEvent(nil), s.connEvents...)
}

// WaitConnected waits until at least one connection is live.
func (s *Server) WaitConnected(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return len(s.conns) > 0 })
}

// WaitConnectCount waits until n connections have been opened in total
// (n = 2 after one reconnect) and one is live.
func (s *Server) WaitConnectCount(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return s.connSeq >= n && len(s.conns) > 0 })
}
