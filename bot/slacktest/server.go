package slacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
)

// User is one member of the fake workspace.
type User struct {
	ID       string
	Name     string // handle, e.g. "ana"
	RealName string
	Email    string
	TZ       string // IANA name, e.g. "Europe/Berlin"
	IsBot    bool
	Deleted  bool
	IsAdmin  bool
}

// Channel is a conversation of the fake workspace. DMs ("D"+user id) are
// created on demand by conversations.open and need not be listed.
type Channel struct {
	ID        string
	Name      string
	IsPrivate bool
	Members   []string
	// NotMember makes chat.postMessage fail with not_in_channel, as for a
	// channel the bot was never invited to.
	NotMember bool
	// Archived makes chat.postMessage fail with is_archived.
	Archived bool
}

// UserGroup is a Slack user group (subteam) served by usergroups.users.list.
type UserGroup struct {
	ID     string // "S..."
	Handle string
	Name   string
	Users  []string
}

// Config configures a Server. Zero values get sensible defaults.
type Config struct {
	BotToken  string // default "xoxb-gatehouse-test"
	AppToken  string // default "xapp-1-A0GATEHOUSE-test"
	TeamID    string // default "T0GATEHOUSE"
	TeamName  string // default "Gatehouse Test"
	AppID     string // default "A0GATEHOUSE"
	BotUserID string // default "U0BOT"; added to Users
	BotID     string // default "B0BOT"

	Users      []User
	Channels   []Channel
	UserGroups []UserGroup

	// TriggerTTL is how long an issued trigger_id stays usable. Slack's
	// triggers expire after 3 s (docs.slack.dev "Handling user interaction").
	TriggerTTL time.Duration
	// PingInterval is how often the server sends websocket PINGs. slack-go
	// reconnects when it sees none for 30 s; tests use ~1 s (the default).
	PingInterval time.Duration
	// RedeliverAfter, when > 0, redelivers an events_api envelope that was not
	// acked in time, as Slack does (retry_reason "timeout"), up to MaxRetries.
	RedeliverAfter time.Duration
	MaxRetries     int // default 3, like Slack
	// RateLimits are off by default so ordinary tests never see a 429; see
	// SlackRateLimits for Slack's documented values.
	RateLimits RateLimits
	// Logf receives one line per API call and socket event; default tb.Logf
	// (shown on failure or with -v). Set a no-op func to silence it.
	Logf func(format string, args ...any)
}

// Call is one recorded Web API request.
type Call struct {
	Method string
	// Args holds the decoded arguments. Form fields keep their string value;
	// JSON-body fields that are strings are unquoted, other values (objects,
	// arrays, numbers, booleans) keep their JSON text, so "blocks" and "view"
	// read the same whether the client sent a form or JSON.
	Args       map[string]string
	Token      string
	Time       time.Time
	HTTPStatus int
	Error      string          // "" when ok
	Response   json.RawMessage // body sent back

	retryAfter string // Retry-After header of a 429
}

// Message is the current state of a message the bot posted.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string
	Text      string
	Blocks    json.RawMessage
	User      string // bot user id
	Edits     int    // number of chat.update / replace_original applied
	Deleted   bool
	Ephemeral bool   // chat.postEphemeral or ephemeral response_url post
	To        string // recipient of an ephemeral message
}

// View is the current state of a modal or Home tab.
type View struct {
	ID              string
	Type            string // modal | home
	UserID          string
	CallbackID      string
	ExternalID      string
	PrivateMetadata string
	Hash            string
	RootViewID      string
	PreviousViewID  string
	JSON            json.RawMessage // as Slack would return it (with id, hash, state)
	Closed          bool
	Updates         int
}

// ResponsePost is one POST the bot made to a response_url.
type ResponsePost struct {
	URL  string
	Time time.Time
	Body json.RawMessage
	// Decoded fields.
	Text            string
	Blocks          json.RawMessage
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	Error           string // "" when accepted
}

// ConnEvent records a Socket Mode connection opening or closing.
type ConnEvent struct {
	ConnID int
	Kind   string // "connected" | "disconnect_sent" | "closed"
	Reason string
	Time   time.Time
}

// Server is the fake Slack. Create it with New; Close stops everything.
type Server struct {
	cfg     Config
	tb      testing.TB
	ln      net.Listener
	httpSrv *http.Server
	base    string // http://127.0.0.1:port
	up      websocket.Upgrader

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every state change
	closed   bool
	seq      int
	lastTSus int64

	calls    []Call
	users    map[string]*User
	userIDs  []string
	channels map[string]*Channel
	groups   map[string]*UserGroup

	msgs       map[string][]*Message // per channel, in post order
	ephemerals []*Message
	views      map[string]*View
	homes      map[string]string   // user -> home view id
	stacks     map[string][]string // user -> modal stack (view ids)
	triggers   map[string]*trigger
	tickets    map[string]bool

	conns      map[int]*wsConn
	connSeq    int
	connEvents []ConnEvent

	deliveries map[string]*Delivery
	eventIDs   map[string]int // event_id -> deliveries sent
	timers     map[string]*time.Timer

	unavailable   bool // SetUnavailable
	responseURLs  map[string]*respTarget
	responsePosts []ResponsePost

	limits  RateLimits
	buckets map[string]*bucket
	forced  map[string]*forced429

	wg sync.WaitGroup
}

type trigger struct {
	user    string
	issued  time.Time
	used    bool
	viewID  string // set for triggers issued from a view interaction
	channel string
}

// New starts a fake Slack on 127.0.0.1 with a random port. If tb is not nil
// the server is closed by tb.Cleanup and logs through tb.Logf.
func New(tb testing.TB, cfg Config) *Server {
	if tb != nil {
		tb.Helper()
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.BotToken, "xoxb-gatehouse-test")
	def(&cfg.AppToken, "xapp-1-A0GATEHOUSE-test")
	def(&cfg.TeamID, "T0GATEHOUSE")
	def(&cfg.TeamName, "Gatehouse Test")
	def(&cfg.AppID, "A0GATEHOUSE")
	def(&cfg.BotUserID, "U0BOT")
	def(&cfg.BotID, "B0BOT")
	if cfg.TriggerTTL == 0 {
		cfg.TriggerTTL = 3 * time.Second
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.Logf == nil && tb != nil {
		cfg.Logf = tb.Logf
	}

	s := &Server{
		cfg:          cfg,
		tb:           tb,
		changed:      make(chan struct{}),
		users:        map[string]*User{},
		channels:     map[string]*Channel{},
		groups:       map[string]*UserGroup{},
		msgs:         map[string][]*Message{},
		views:        map[string]*View{},
		homes:        map[string]string{},
		stacks:       map[string][]string{},
		triggers:     map[string]*trigger{},
		tickets:      map[string]bool{},
		conns:        map[int]*wsConn{},
		deliveries:   map[string]*Delivery{},
		eventIDs:     map[string]int{},
		timers:       map[string]*time.Timer{},
		responseURLs: map[string]*respTarget{},
		limits:       cfg.RateLimits,
		buckets:      map[string]*bucket{},
		forced:       map[string]*forced429{},
	}
	// slack-go dials with "Origin: https://api.slack.com"; accept any origin.
	s.up = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

	s.addUser(User{ID: cfg.BotUserID, Name: "gatehouse", RealName: "Gatehouse", IsBot: true})
	for _, u := range cfg.Users {
		s.addUser(u)
	}
	for _, c := range cfg.Channels {
		c := c
		s.channels[c.ID] = &c
	}
	for _, g := range cfg.UserGroups {
		g := g
		s.groups[g.ID] = &g
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if tb != nil {
			tb.Fatalf("slacktest: listen: %v", err)
		}
		panic(fmt.Sprintf("slacktest: listen: %v", err))
	}
	s.ln = ln
	s.base = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.track(s.serveAPI))
	mux.HandleFunc("/link/", s.track(s.serveSocket))
	mux.HandleFunc("/response/", s.track(s.serveResponseURL))
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// track makes every request handler part of s.wg: http.Server.Close does
// not wait for running handlers, and a handler that logs after the test
// ended would panic in testing.
func (s *Server) track(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed || s.unavailable {
			s.mu.Unlock()
			http.Error(w, "slacktest: server closed", http.StatusServiceUnavailable)
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		h(w, r)
	}
}

func (s *Server) addUser(u User) {
	if u.TZ == "" {
		u.TZ = "UTC"
	}
	if u.RealName == "" {
		u.RealName = u.Name
	}
	if _, ok := s.users[u.ID]; !ok {
		s.userIDs = append(s.userIDs, u.ID)
	}
	s.users[u.ID] = &u
}

// AddUser adds or replaces a user while the server runs (a hire in HR shows
// up in Slack later).
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(u)
	s.notifyLocked()
}

// NewClient returns a real slack-go client wired to this server with both
// tokens, ready for socketmode.New.
func (s *Server) NewClient(opts ...slack.Option) *slack.Client {
	all := append([]slack.Option{slack.OptionAppLevelToken(s.cfg.AppToken), slack.OptionAPIURL(s.APIURL())}, opts...)
	return slack.New(s.cfg.BotToken, all...)
}

// APIURL is the Web API base for slack.OptionAPIURL; it ends in "/api/".
func (s *Server) APIURL() string { return s.base + "/api/" }

// URL is the server's base URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return s.base }

// BotToken returns the configured bot token (xoxb-...).
func (s *Server) BotToken() string { return s.cfg.BotToken }

// AppToken returns the configured app-level token (xapp-...).
func (s *Server) AppToken() string { return s.cfg.AppToken }

// TeamID returns the workspace id.
func (s *Server) TeamID() string { return s.cfg.TeamID }

// BotUserID returns the bot's user id.
func (s *Server) BotUserID() string { return s.cfg.BotUserID }

// SetUnavailable simulates Slack being unreachable (an outage, a network
// partition) while the test's server keeps its state: when down, every
// live Socket Mode connection is dropped and every request (Web API,
// apps.connections.open, websocket dials, response_urls) answers 503.
// SetUnavailable(false) lets clients back in.
func (s *Server) SetUnavailable(down bool) {
	s.mu.Lock()
	s.unavailable = down
	var conns []*wsConn
	if down {
		conns = s.liveConnsLocked()
	}
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
}

// Close drops every websocket connection, stops the HTTP server and waits
// for every goroutine the server started. It is safe to call twice.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for id, t := range s.timers {
		if t.Stop() {
			s.wg.Done() // the timer's func will never run
		}
		delete(s.timers, id)
	}
	conns := make([]*wsConn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.notifyLocked()
	s.mu.Unlock()

	for _, c := range conns {
		c.abort()
	}
	// Close (not Shutdown): tests want it quick; hijacked websocket
	// connections were closed above and their goroutines are in s.wg.
	_ = s.httpSrv.Close()
	s.wg.Wait()
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("slacktest: "+format, args...)
	}
}

// notifyLocked wakes every waiter. Callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) returns true, the
// context ends or the server closes.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrClosed is returned by waits and sends after Close.
var ErrClosed = errors.New("slacktest: server closed")

// ErrNotConnected is returned by Send* when no Socket Mode client is connected.
var ErrNotConnected = errors.New("slacktest: no socket mode connection")

func (s *Server) nextSeqLocked() int {
	s.seq++
	return s.seq
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newTSLocked returns a fresh, strictly increasing message timestamp in
// Slack's "seconds.micros" form.
func (s *Server) newTSLocked() string {
	us := time.Now().UnixMicro()
	if us <= s.lastTSus {
		us = s.lastTSus + 1
	}
	s.lastTSus = us
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// --- recorded calls -------------------------------------------------------

// Calls returns the recorded Web API calls of method, oldest first; "" for
// all methods.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitForCall returns the first recorded call of method (past or future)
// for which pred returns true; a nil pred matches any call.
func (s *Server) WaitForCall(ctx context.Context, method string, pred func(Call) bool) (Call, error) {
	var found Call
	err := s.waitFor(ctx, func() bool {
		for _, c := range s.calls {
			if c.Method == method && (pred == nil || pred(c)) {
				found = c
				return true
			}
		}
		return false
	})
	return found, err
}

// --- message store --------------------------------------------------------

// Messages returns the current (not deleted) messages of a channel in post
// order. Ephemeral messages are listed by Ephemerals.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs[s.resolveChannelLocked(channel)] {
		if !m.Deleted {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns the current state of one message (also when deleted).
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findMsgLocked(s.resolveChannelLocked(channel), ts); m != nil {
		return *m, true
	}
	return Message{}, false
}

// WaitForMessage waits until a live message in channel satisfies pred.
func (s *Server) WaitForMessage(ctx context.Context, channel string, pred func(Message) bool) (Message, error) {
	var found Message
	err := s.waitFor(ctx, func() bool {
		for _, m := range s.msgs[s.resolveChannelLocked(channel)] {
			if !m.Deleted && (pred == nil || pred(*m)) {
				found = *m
				return true
			}
		}
		return false
	})
	return found, err
}

// Ephemerals returns the ephemeral messages shown to user, oldest first.
func (s *Server) Ephemerals(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.ephemerals {
		if user == "" || m.To == user {
			out = append(out, *m)
		}
	}
	return out
}

func (s *Server) findMsgLocked(channel, ts string) *Message {
	for _, m := range s.msgs[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// findAnyMsgLocked also finds ephemeral messages, which buttons can sit on.
func (s *Server) findAnyMsgLocked(channel, ts string) *Message {
	if m := s.findMsgLocked(channel, ts); m != nil {
		return m
	}
	for _, m := range s.ephemerals {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// --- views ----------------------------------------------------------------

// View returns a view by id.
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.views[id]
	if !ok {
		return View{}, false
	}
	return *v, true
}

// HomeView returns the Home tab published for user.
func (s *Server) HomeView(user string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.homes[user]
	if !ok {
		return View{}, false
	}
	return *s.views[id], true
}

// OpenModals returns user's modal stack, root first.
func (s *Server) OpenModals(user string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, id := range s.stacks[user] {
		out = append(out, *s.views[id])
	}
	return out
}

// WaitForView waits until a view satisfying pred exists.
func (s *Server) WaitForView(ctx context.Context, pred func(View) bool) (View, error) {
	var found View
	err := s.waitFor(ctx, func() bool {
		ids := make([]string, 0, len(s.views))
		for id := range s.views {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if pred(*s.views[id]) {
				found = *s.views[id]
				return true
			}
		}
		return false
	})
	return found, err
}

// ResponsePosts returns everything posted to response_urls, oldest first.
func (s *Server) ResponsePosts() []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResponsePost(nil), s.responsePosts...)
}

// WaitForResponse waits for the first post to response_url url (a
// Delivery's ResponseURL) and returns it; with it a test measures the time
// from a click (Delivery.Sent) to its answer.
func (s *Server) WaitForResponse(ctx context.Context, url string) (ResponsePost, error) {
	var found ResponsePost
	err := s.waitFor(ctx, func() bool {
		for _, p := range s.responsePosts {
			if p.URL == url {
				found = p
				return true
			}
		}
		return false
	})
	return found, err
}

// IssueTrigger returns a fresh trigger_id for user, as if they had just
// clicked something. Send* helpers issue one automatically.
func (s *Server) IssueTrigger(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueTriggerLocked(user, "", "")
}

func (s *Server) issueTriggerLocked(user, viewID, channel string) string {
	// Slack's format: "12345.98765.abcd2358fdea".
	id := fmt.Sprintf("%d.%d.%s", time.Now().UnixNano()%1e10, s.nextSeqLocked(), randHex(8))
	s.triggers[id] = &trigger{user: user, issued: time.Now(), viewID: viewID, channel: channel}
	return id
}

// resolveChannelLocked maps a user id to its DM channel and "#name" to the
// channel id, as Slack does for chat.postMessage.
func (s *Server) resolveChannelLocked(ch string) string {
	if name, ok := strings.CutPrefix(ch, "#"); ok {
		for _, c := range s.channels {
			if c.Name == name {
				return c.ID
			}
		}
	}
	if _, ok := s.users[ch]; ok && (strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W")) {
		return s.dmLocked(ch)
	}
	return ch
}

func (s *Server) dmLocked(user string) string {
	id := "D" + user
	if _, ok := s.channels[id]; !ok {
		s.channels[id] = &Channel{ID: id, Members: []string{user, s.cfg.BotUserID}}
	}
	return id
}

func (s *Server) channelLocked(id string) (*Channel, bool) {
	if c, ok := s.channels[id]; ok {
		return c, true
	}
	// A DM with any known user exists implicitly.
	if strings.HasPrefix(id, "D") {
		if _, ok := s.users[id[1:]]; ok {
			return s.channels[s.dmLocked(id[1:])], true
		}
	}
	return nil, false
}
