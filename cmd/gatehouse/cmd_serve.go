package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

func init() {
	register(command{
		Name:    "serve",
		Summary: "run the Slack bot, the lifecycle engine, its scheduler and the HR intake",
		Usage:   "serve --config FILE [--db FILE] [--simulate] [--standby]",
		Run:     runServe,
	})
}

// apiURLEnv overrides slack.api_url (GovSlack, a loopback Slack in tests).
const apiURLEnv = "GATEHOUSE_SLACK_API_URL"

// slackToken resolves one of the Slack tokens: from the config's secret
// (${ENV} or *_file), else from the conventional environment variable. Its
// errors say exactly what to set.
func slackToken(s config.Secret, key, env, prefix, what string) (string, error) {
	var v string
	switch {
	case s.IsSet():
		val, err := s.Value()
		if err != nil {
			return "", fmt.Errorf("set %s (%s…) — slack.%s is %s: %v", env, prefix, key, sourceText(s), err)
		}
		v = val
	default:
		v = os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("set %s (%s…, the %s) or slack.%s in the config, e.g. `%s: ${%s}`", env, prefix, what, key, key, env)
		}
	}
	if !strings.HasPrefix(v, prefix) {
		return "", fmt.Errorf("the %s does not start with %s (check %s — slack.%s is %s); see docs/slack.md", what, prefix, env, key, sourceText(s))
	}
	return v, nil
}

func sourceText(s config.Secret) string {
	src := s.Source()
	switch {
	case strings.HasPrefix(src, "env:"):
		return "${" + strings.TrimPrefix(src, "env:") + "}"
	case strings.HasPrefix(src, "file:"):
		return "read from " + strings.TrimPrefix(src, "file:")
	case src == "":
		return "not set"
	}
	return src
}

// runScheduledDigest computes, stores and posts one scheduled digest.
func runScheduledDigest(ctx context.Context, gov *governance.Service, conns map[string]gatehouse.Connector, b *bot.Bot, channel string, log zerolog.Logger) {
	d, err := gov.Produce(ctx, conns)
	if err != nil {
		log.Error().Err(err).Msg("governance digest failed")
		return
	}
	ev := log.Info().Str("digest", d.ID).Int("dormant", len(d.Dormant)).Int("orphans", len(d.Orphans)).Float64("reclaimable_monthly", d.Reclaimable)
	if channel == "" {
		ev.Msg("governance digest computed; no channel to post it to")
		return
	}
	if _, err := postDigest(ctx, gov, b, d, channel); err != nil {
		log.Error().Err(err).Str("digest", d.ID).Msg("governance digest not fully posted")
		return
	}
	ev.Str("channel", channel).Msg("governance digest posted")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve --config FILE [--db FILE] [--simulate] [--standby]", stderr)
	f := addEngineFlags(fs, false)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	standby := fs.Bool("standby", false, "if another instance holds the database, wait for its lock and take over when it dies (active/standby pair)")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fail(stderr, "--log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := zerolog.New(stderr).Level(level).With().Timestamp().Logger()
	// SIGHUP reloads the config. Subscribed before anything slow, so an
	// early HUP is a reload, not the default action (terminate).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, re, err := loadPolicy(f.config)
	if err != nil {
		return reportLoadErr(stderr, err)
	}
	// Check the tokens before touching the database: a typo in the
	// environment should cost a second, not a lock.
	if _, err := slackTokens(cfg); err != nil {
		return fail(stderr, "%v", err)
	}

	path := f.db
	if path == "" {
		path = cfg.Store.Path
	}
	db, err := openServeDB(ctx, path, *standby, log)
	if err != nil {
		return fail(stderr, "%s", dbErrText(err))
	}
	if db == nil { // stopped while standing by
		fmt.Fprintln(stdout, "gatehouse: stopped")
		return 0
	}
	// The metrics listener outlives reloads: its counters keep counting,
	// and its readiness check asks whichever engine runs now.
	sv := &server{flags: f, path: path, db: db, log: log, tel: newTelemetry(cfg, db, log)}
	raw, _ := os.ReadFile(f.config)
	c, err := sv.start(cfg, re)
	if err != nil {
		db.Close()
		return reportLoadErr(stderr, err)
	}
	c.raw = raw
	stopTelemetry, err := sv.tel.start(ctx, sv.eng.Load)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), c.cfg.Engine.ShutdownGrace)
		sv.closeDB(sctx, sv.stopCtx(sctx, c, "metrics listener failed"))
		cancel()
		return fail(stderr, "%v", err)
	}
	// The listener stops before the database closes: a scrape never reads
	// a closed store.
	closeDB := func(ctx context.Context, clean bool) {
		stopTelemetry()
		sv.closeDB(ctx, clean)
	}
	for {
		select {
		case <-ctx.Done():
			// SIGTERM / SIGINT: stop intake, checkpoint, exit within
			// the grace period whatever Slack or the apps do.
			sctx, cancel := context.WithTimeout(context.Background(), c.cfg.Engine.ShutdownGrace)
			clean := sv.stopCtx(sctx, c, "signal")
			closeDB(sctx, clean)
			cancel()
			fmt.Fprintln(stdout, "gatehouse: stopped")
			return 0
		case <-c.botExit:
			// The bot stopped by itself: Slack refused the tokens.
			err := c.botErr
			sctx, cancel := context.WithTimeout(context.Background(), c.cfg.Engine.ShutdownGrace)
			closeDB(sctx, sv.stopCtx(sctx, c, "slack stopped"))
			cancel()
			if errors.Is(err, bot.ErrAuth) {
				return fail(stderr, "%v — Slack refused the token: reinstall the app or copy fresh tokens into SLACK_BOT_TOKEN / SLACK_APP_TOKEN (see docs/slack.md)", err)
			}
			if err != nil {
				return fail(stderr, "slack: %v", err)
			}
			return fail(stderr, "slack: stopped unexpectedly")
		case <-hup:
			c = sv.reload(ctx, c)
			if c == nil {
				sctx, cancel := context.WithTimeout(context.Background(), time.Second)
				closeDB(sctx, false)
				cancel()
				return 1
			}
		}
	}
}

// slackTokens resolves both Slack tokens (app, bot) from the config or the
// environment; read afresh on every reload, so rotated secrets apply.
func slackTokens(cfg *config.Config) ([2]string, error) {
	appToken, err := slackToken(cfg.Slack.AppToken, "app_token", "SLACK_APP_TOKEN", "xapp-", "app-level token (Socket Mode)")
	if err != nil {
		return [2]string{}, err
	}
	botToken, err := slackToken(cfg.Slack.BotToken, "bot_token", "SLACK_BOT_TOKEN", "xoxb-", "bot token")
	if err != nil {
		return [2]string{}, err
	}
	return [2]string{appToken, botToken}, nil
}

// server is what outlives a reload: the open database (and its lock) and
// the flags. Everything built from the config is a core.
type server struct {
	flags *engineFlags
	path  string
	db    *store.DB
	log   zerolog.Logger
	tel   *telemetry                       // nil when metrics.listen is off
	eng   atomic.Pointer[lifecycle.Engine] // the running core's engine
}

// core is everything serve builds from one config: connectors, the Slack
// bot, the engine, the HR intake and the background jobs. A reload stops
// one core and starts the next on the same open database.
type core struct {
	cfg       *config.Config
	re        *rules.Engine
	raw       []byte        // the config file's text, to log what a reload changes
	engDone   chan struct{} // closed when the engine's Close returned (set by stop)
	b         *bot.Bot
	eng       *lifecycle.Engine
	intake    *hr.Service
	sched     *governance.Scheduler
	campaigns *governance.Campaigns
	botCancel context.CancelFunc
	botExit   chan struct{} // closed when bot.Run returned
	botErr    error         // bot.Run's result, set before botExit closes
	stopBG    context.CancelFunc
	bg        sync.WaitGroup // purge and backup goroutines
}

// start builds and starts a core from cfg. On error nothing is left running.
func (sv *server) start(cfg *config.Config, re *rules.Engine) (_ *core, err error) {
	log, db, path, f := sv.log, sv.db, sv.path, sv.flags
	tokens, err := slackTokens(cfg)
	if err != nil {
		return nil, err
	}
	apiURL := cfg.Slack.APIURL
	if v := os.Getenv(apiURLEnv); v != "" {
		apiURL = v
	}
	conns, err := connectors.Build(cfg, connectors.Deps{Logger: log, Tasks: lifecycle.NewTaskStore(db), UserAgent: "gatehouse",
		SimulateStateDir: simulateStateDir(path, f.simulate)}, f.simulate)
	if err != nil {
		return nil, err
	}

	c := &core{cfg: cfg, re: re, botExit: make(chan struct{})}
	svc := &sh.Service{Store: db, Config: cfg, Planner: sh.Rules{E: re}}
	digests := &sh.Digests{}
	reviews := &sh.Reviews{}
	b, err := bot.New(bot.Config{
		AppToken: tokens[0], BotToken: tokens[1], APIURL: apiURL, Digests: digests, Reviews: reviews,
		ITChannel: cfg.Admins.ITChannel, IT: cfg.Admins.IT, HR: cfg.Admins.HR,
		StateFile: path + ".slack.json", // where progress cards are, across restarts
		Log:       log.With().Str("component", "slack").Logger(),
		Metrics:   sv.tel.slack(),
	}, svc)
	if err != nil {
		return nil, err
	}
	c.b = b
	defer func() {
		if err != nil {
			sv.stop(c, cfg.Engine.ShutdownGrace, "start failed")
		}
	}()
	eng, err := lifecycle.New(lifecycle.Options{Store: db, Config: cfg, Rules: re, Connectors: conns,
		Notifier: b.Notifier(), Logger: log.With().Str("component", "engine").Logger(), Observer: sv.tel.lifecycle()})
	if err != nil {
		return c, err
	}
	svc.Engine = sh.Lifecycle{E: eng}
	digests.Gov = &governance.Service{Config: cfg, DB: db, Engine: eng}
	campaigns := serveReviews(cfg, db, eng, b.ReviewNotifier(), reviews, func(err error) { log.Error().Err(err).Msg("access review pass failed") })
	if err := eng.Start(context.Background()); err != nil {
		return c, fmt.Errorf("start engine: %w", err)
	}
	c.eng = eng
	sv.eng.Store(eng)

	intake, err := hr.New(hr.Options{Config: cfg, Store: db, Submitter: hr.EngineSubmitter(eng),
		Notifier: b.HRNotifier(cfg.HR.NotifyChannel), Logger: log.With().Str("component", "hr").Logger(), Observer: sv.tel.webhooks()})
	if err != nil {
		return c, fmt.Errorf("hr intake: %w", err)
	}
	if err := intake.Start(context.Background()); err != nil {
		return c, fmt.Errorf("hr intake: %w", err)
	}
	c.intake = intake

	// Expired Slack dedupe keys are purged hourly; the goroutine is owned
	// here and waited for before the store closes.
	pctx, stopBG := context.WithCancel(context.Background())
	c.stopBG = stopBG
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case now := <-t.C:
				if _, err := db.PurgeExpiredDedupe(now); err != nil {
					log.Warn().Err(err).Msg("purge dedupe keys")
				}
			}
		}
	}()
	// Scheduled hot backups: the server holds the database lock, so a
	// separate `gatehouse backup` cannot run while it serves.
	if every := cfg.Store.BackupEvery; every > 0 {
		dir := cfg.Store.BackupDir
		if dir == "" {
			dir = "backups"
		}
		if !filepath.IsAbs(dir) { // beside the database, wherever serve starts
			dir = filepath.Join(filepath.Dir(path), dir)
		}
		backup := func(now time.Time) {
			name, err := db.RotateBackups(dir, cfg.Store.BackupKeep, now)
			if err != nil {
				log.Error().Err(err).Str("dir", dir).Msg("scheduled backup failed")
				return
			}
			log.Info().Str("file", name).Msg("backup written")
		}
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			backup(time.Now()) // one at start: a known-good copy before any work
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return
				case now := <-t.C:
					backup(now)
				}
			}
		}()
	}
	// Access reviews: reminders, escalations and deadline actions.
	campaigns.Start(pctx)
	c.campaigns = campaigns
	if dc := cfg.Governance.Digest; !dc.Disabled {
		sched, err := governance.NewScheduler(dc.Schedule, cfg.Location(), nil, func(ctx context.Context, at time.Time) {
			runScheduledDigest(ctx, digests.Gov, conns, b, dc.Channel, log)
		})
		if err != nil {
			return c, err
		}
		sched.Start(pctx)
		c.sched = sched
		log.Info().Str("schedule", dc.Schedule).Str("channel", dc.Channel).Time("next", sched.Next(time.Now())).Msg("governance digest scheduled")
	}

	bctx, botCancel := context.WithCancel(context.Background())
	c.botCancel = botCancel
	go func() {
		c.botErr = b.Run(bctx)
		close(c.botExit)
	}()

	mode := "live"
	if f.simulate {
		mode = "simulated connectors"
	}
	log.Info().Str("config", f.config).Str("db", path).Str("mode", mode).Str("hr_listen", intake.Addr()).
		Dur("shutdown_grace", cfg.Engine.ShutdownGrace).Int("pid", os.Getpid()).Msg("gatehouse serving")
	return c, nil
}
