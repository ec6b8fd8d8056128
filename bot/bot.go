package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Config configures the bot.
type Config struct {
	AppToken string // xapp-…: Socket Mode
	BotToken string // xoxb-…: Web API
	// APIURL overrides https://slack.com/api/ (GovSlack, loopback tests). It
	// must end in "/api/".
	APIURL    string
	ITChannel string   // progress cards and escalations
	IT, HR    []string // admin entries: user ids, user-group ids or emails

	Workers    int           // queue shards (default 8)
	QueueDepth int           // jobs per shard (default 256)
	JobTimeout time.Duration // per job (default 60 s)
	// SubmitBudget bounds the work done before acking a view submission
	// (default 2 s, leaving a second of Slack's three for the network).
	SubmitBudget time.Duration
	// PingInterval is how long without a server ping means a dead link
	// (default: slack-go's 30 s).
	PingInterval time.Duration
	HTTPClient   *http.Client
	Log          zerolog.Logger
	// StateFile keeps where progress cards were posted across restarts
	// ("" keeps it in memory only).
	StateFile string
	// Digests answers clicks on posted governance digests (nil: digest
	// buttons are answered with "not enabled").
	Digests *sh.Digests
	// Reviews answers access review commands and clicks (nil: not enabled).
	Reviews *sh.Reviews
	// ReconnectMin and ReconnectMax bound the wait between Socket Mode
	// reconnect attempts while Slack is unreachable (exponential, with
	// jitter; defaults 1 s and 2 min). OutageSummary is when the first
	// "still unreachable" line is logged (default 1 min; then doubling).
	ReconnectMin, ReconnectMax, OutageSummary time.Duration
	// Metrics receives ack latencies and connection changes (nil: none).
	Metrics Metrics
}

// Sentinel errors of New and Run.
var (
	ErrAppToken = errors.New("slack app-level token missing or malformed (want xapp-…)")
	ErrBotToken = errors.New("slack bot token missing or malformed (want xoxb-…)")
	ErrAuth     = errors.New("slack refused the token (invalid_auth)")
)

// Bot is the Slack transport. New builds it, Run serves until the context
// ends or Slack refuses the tokens.
type Bot struct {
	cfg    Config
	log    zerolog.Logger
	client *slack.Client
	api    *api
	dir    *directory
	svc    *sh.Service
	store  storeAPI
	now    func() time.Time

	queue     *queue
	cardQueue *queue
	// answers carries the private answers to clicks (response_url posts),
	// sharded by URL: an answer never waits behind another click's work
	// or a card edit paced per channel.
	answers   *queue
	refreshes sync.Map // approval id -> true while a card refresh is queued
	dedupe    sync.Map // event_id -> time first seen (fast path before the store)
	ackStart  sync.Map // envelope id -> time received (only with Config.Metrics)
	progress  sync.Map // run id -> gatehouse.MessageRef (progress card)
	finished  sync.Map // run id -> true once its card shows the final state
	pendingRC sync.Map // run id -> *runUpdate (coalesced progress updates)
	held      sync.Map // batch id -> heldBatch (HR mass changes awaiting IT)
	syncSem   chan struct{}
	syncWG    sync.WaitGroup

	outage     *outage
	sockCancel atomic.Pointer[context.CancelFunc] // ends the current socketmode RunContext

	stateMu   sync.Mutex
	connects  atomic.Int64
	dedupeN   atomic.Int64
	closeOnce sync.Once
}

// storeAPI is what the bot itself reads and writes (through Service.Store).
type storeAPI interface {
	MarkSeen(key string, ttl time.Duration, audit ...gatehouse.AuditEntry) (bool, error)
}

// New validates the tokens' shape and builds the bot. svc.Directory is set
// to the bot's Slack directory when unset.
func New(cfg Config, svc *sh.Service) (*Bot, error) {
	if !strings.HasPrefix(cfg.AppToken, "xapp-") {
		return nil, ErrAppToken
	}
	if !strings.HasPrefix(cfg.BotToken, "xoxb-") {
		return nil, ErrBotToken
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 256
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 60 * time.Second
	}
	if cfg.SubmitBudget <= 0 {
		cfg.SubmitBudget = 2 * time.Second
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = defaultReconnectMin
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = max(defaultReconnectMax, cfg.ReconnectMin)
	}
	if cfg.OutageSummary <= 0 {
		cfg.OutageSummary = defaultOutageSummary
	}
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken)}
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, slack.OptionHTTPClient(cfg.HTTPClient))
	}
	c := slack.New(cfg.BotToken, opts...)
	b := &Bot{cfg: cfg, log: cfg.Log, client: c, svc: svc, now: time.Now, syncSem: make(chan struct{}, 32)}
	b.api = newAPI(c, cfg.Log)
	b.outage = &outage{log: cfg.Log, now: time.Now, summary: cfg.OutageSummary}
	// The queue exists before Run so that notifications from an engine
	// resuming runs at start-up are not lost; Run (or Close) drains it.
	b.queue = newQueue(context.Background(), cfg.Workers, cfg.QueueDepth, cfg.JobTimeout, cfg.Log)
	// Channel cards (progress, HR notices) are paced at about one post a
	// second per channel; they get their own lane so that a burst of runs
	// waiting for IT-channel slots never delays an approver's DM or a modal.
	b.cardQueue = newQueue(context.Background(), 2, cfg.QueueDepth*4, 10*time.Minute, cfg.Log)
	b.answers = newQueue(context.Background(), cfg.Workers, cfg.QueueDepth, 30*time.Second, cfg.Log)
	b.dir = newDirectory(b.api, cfg.IT, cfg.HR)
	if err := b.loadState(); err != nil {
		b.Close()
		return nil, err
	}
	if svc != nil {
		if svc.Directory == nil {
			svc.Directory = b.dir
		}
		if svc.Now != nil {
			b.now = svc.Now
		}
		if svc.Store != nil {
			b.store = svc.Store
		}
	}
	return b, nil
}

// Close drains the work queue and waits for its workers. Run calls it on
// return; call it yourself only when Run was never called.
func (b *Bot) Close() {
	b.closeOnce.Do(func() {
		b.syncWG.Wait()
		b.queue.close()
		b.cardQueue.close()
		b.answers.close()
	})
}

// Directory returns the bot's Slack user directory (cached users.info /
// users.lookupByEmail).
func (b *Bot) Directory() sh.Directory { return b.dir }

// Connects reports how many Socket Mode connections were established.
func (b *Bot) Connects() int { return int(b.connects.Load()) }

// fatalAuth reports whether a connection error means the tokens are bad,
// which no reconnect can fix.
func fatalAuth(err error) bool {
	if err == nil {
		return false
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && (sc.Code == http.StatusNotFound || sc.Code == http.StatusUnauthorized) {
		return true
	}
	switch err.Error() {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type":
		return true
	}
	return false
}

// Run connects over Socket Mode and serves until ctx ends (nil) or Slack
// refuses the tokens (ErrAuth). Network drops reconnect with backoff
// (slack-go's, capped at 5 minutes); Slack's disconnect messages
// (refresh_requested, warning) reconnect at once. Work already queued
// continues across reconnects; Run waits for it before returning.
func (b *Bot) Run(ctx context.Context) error {
	defer b.Close()
	if _, err := b.client.AuthTestContext(ctx); err != nil {
		if fatalAuth(err) {
			return fmt.Errorf("%w: bot token: %v", ErrAuth, err)
		}
		// The network may come back; Socket Mode retries on its own.
		b.log.Warn().Err(err).Msg("auth.test failed; connecting anyway")
	}

	var smOpts []socketmode.Option
	if b.cfg.PingInterval > 0 {
		smOpts = append(smOpts, socketmode.OptionPingInterval(b.cfg.PingInterval))
	}
	sm := socketmode.New(b.client, smOpts...)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		done <- b.runSocket(sctx, sm)
	}()
	// Stop the socket first, then wait for it, then (deferred above)
	// drain the queues.
	defer func() {
		cancel()
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		case evt := <-sm.Events:
			b.handle(sctx, sm, evt)
		}
	}
}

// runSocket keeps a Socket Mode connection up. slack-go's RunContext
// reconnects by itself after drops and Slack's disconnect messages, but
// after a failed connection attempt it retries on its own short schedule
// (from 100 ms, no jitter) and reports every attempt. So a failed attempt
// (EventTypeConnectionError, see handle) ends that RunContext and the
// retry happens here: exponential backoff with jitter, capped, and the
// outage is logged once, then summarized (outage).
func (b *Bot) runSocket(ctx context.Context, sm *socketmode.Client) error {
	attempt := 0
	for {
		connects := b.connects.Load()
		rctx, cancel := context.WithCancel(ctx)
		b.sockCancel.Store(&cancel)
		err := sm.RunContext(rctx)
		cancel()
		b.socketDown()
		if b.connects.Load() != connects {
			attempt = 0 // it was up in between: start the backoff afresh
		}
		if ctx.Err() != nil {
			return nil
		}
		if fatalAuth(err) {
			return fmt.Errorf("%w: app token: %v", ErrAuth, err)
		}
		if !b.outage.down() {
			// RunContext ended without a failed attempt (an error after
			// connecting): that is the start of an outage too.
			b.outage.failed(fmt.Sprint(err))
		}
		t := time.NewTimer(backoff(attempt, b.cfg.ReconnectMin, b.cfg.ReconnectMax))
		attempt++
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// handle is the receive loop's only work: ack, then enqueue. It must never
// block for long, or acks of later envelopes (and Slack's pings) wait.
func (b *Bot) handle(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	b.received(evt)
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Debug().Msg("socket mode connecting")
	case socketmode.EventTypeConnected:
		b.connects.Add(1)
		b.socketUp()
		b.outage.recovered()
		b.log.Info().Int64("connects", b.connects.Load()).Msg("socket mode connected")
	case socketmode.EventTypeHello:
	case socketmode.EventTypeConnectionError:
		// One readable cause, not slack-go's nested error struct; the
		// outage tracker decides whether it is worth a line. Then stop
		// slack-go's own retry loop: runSocket retries with our backoff.
		b.outage.failed(connectionCause(evt.Data))
		b.socketDown()
		if c := b.sockCancel.Load(); c != nil {
			(*c)()
		}
	case socketmode.EventTypeInvalidAuth:
		b.log.Error().Msg("socket mode: invalid auth")
	case socketmode.EventTypeDisconnect:
		b.log.Info().Msg("slack asked to reconnect")
		b.socketDown()
	case socketmode.EventTypeErrorBadMessage:
		b.ackMalformed(sm, evt)
	case socketmode.EventTypeIncomingError:
		// A read error on the websocket: slack-go reconnects by itself.
		b.log.Debug().Interface("error", evt.Data).Msg("socket read error")
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		b.ack(sm, evt.Request, nil)
		if !ok {
			return
		}
		b.enqueue(cmd.UserID, "command "+cmd.Command, func(ctx context.Context) { b.onCommand(ctx, cmd) }, func() {
			b.sorry(cmd.ResponseURL)
		})
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			b.ack(sm, evt.Request, nil)
			return
		}
		if cb.Type == slack.InteractionTypeViewSubmission {
			b.onSubmission(ctx, sm, evt.Request, cb)
			return
		}
		b.ack(sm, evt.Request, nil)
		b.onInteraction(cb)
	case socketmode.EventTypeEventsAPI:
		b.ack(sm, evt.Request, nil)
		b.onEvent(evt)
	default:
		if evt.Request != nil && evt.Request.EnvelopeID != "" {
			b.ack(sm, evt.Request, nil)
		}
	}
}

// connectionCause is the readable cause of a failed connection attempt.
func connectionCause(data any) string {
	if e, ok := data.(*slack.ConnectionErrorEvent); ok && e.ErrorObj != nil {
		return e.ErrorObj.Error()
	}
	return fmt.Sprint(data)
}

func (b *Bot) ack(sm *socketmode.Client, req *socketmode.Request, payload any) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	// An ack later than Slack's 3 s is worthless, and while the socket is
	// down slack-go's response buffer can fill: never wait longer than that.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		b.log.Warn().Err(err).Str("envelope", req.EnvelopeID).Msg("ack failed")
	}
	b.acked(req.EnvelopeID)
}

// ackMalformed logs an envelope slack-go could not decode and acks it by
// its envelope id, so Slack does not redeliver garbage and the user gets
// Slack's own "did not respond" at worst — never a crashed bot.
func (b *Bot) ackMalformed(sm *socketmode.Client, evt socketmode.Event) {
	var raw json.RawMessage
	var cause error
	switch d := evt.Data.(type) {
	case *socketmode.ErrorBadMessage:
		raw, cause = d.Message, d.Cause
	}
	id := envelopeID(raw)
	b.log.Warn().AnErr("cause", cause).Str("envelope", id).Int("bytes", len(raw)).Msg("malformed envelope; acked and dropped")
	if id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := sm.SendCtx(ctx, socketmode.Response{EnvelopeID: id}); err != nil {
			b.log.Warn().Err(err).Msg("ack of malformed envelope failed")
		}
	}
}

// envelopeID digs the envelope id out of a frame that did not decode.
func envelopeID(raw []byte) string {
	var e struct {
		EnvelopeID string `json:"envelope_id"`
	}
	if json.Unmarshal(raw, &e) != nil || len(e.EnvelopeID) > 200 {
		return ""
	}
	return e.EnvelopeID
}

// enqueue hands work to the queue; when it is full for a moment, onFull
// tells the user instead of blocking the receive loop.
func (b *Bot) enqueue(key, name string, fn func(context.Context), onFull func()) {
	b.enqueueOn(b.queue, key, name, fn, onFull)
}

func (b *Bot) enqueueOn(q *queue, key, name string, fn func(context.Context), onFull func()) {
	err := q.push(job{key: key, name: name, fn: fn}, 50*time.Millisecond)
	switch {
	case err == nil:
		return
	case errors.Is(err, errQueueClosed):
		b.log.Debug().Str("job", name).Msg("bot stopped; dropping")
		return
	}
	b.log.Warn().Str("job", name).Str("key", key).Msg("queue full; dropping")
	if onFull != nil {
		b.syncWG.Add(1)
		go func() {
			defer b.syncWG.Done()
			onFull()
		}()
	}
}

func (b *Bot) sorry(responseURL string) {
	if responseURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.api.respond(ctx, responseURL, "Gatehouse is very busy right now; please try again in a minute.", nil, false)
}
