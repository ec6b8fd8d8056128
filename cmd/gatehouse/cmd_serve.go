package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

func init() {
	register(command{
		Name:    "serve",
		Summary: "run the Slack bot, the lifecycle engine, its scheduler and the HR intake",
		Usage:   "serve --config FILE [--db FILE] [--simulate]",
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
	fs := newFlagSet("serve", "serve --config FILE [--db FILE] [--simulate]", stderr)
	f := addEngineFlags(fs, false)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fail(stderr, "--log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := zerolog.New(stderr).Level(level).With().Timestamp().Logger()

	cfg, re, err := loadPolicy(f.config)
	if err != nil {
		return reportLoadErr(stderr, err)
	}
	// Check the tokens before touching the database: a typo in the
	// environment should cost a second, not a lock.
	appToken, err := slackToken(cfg.Slack.AppToken, "app_token", "SLACK_APP_TOKEN", "xapp-", "app-level token (Socket Mode)")
	if err != nil {
		return fail(stderr, "%v", err)
	}
	botToken, err := slackToken(cfg.Slack.BotToken, "bot_token", "SLACK_BOT_TOKEN", "xoxb-", "bot token")
	if err != nil {
		return fail(stderr, "%v", err)
	}
	apiURL := cfg.Slack.APIURL
	if v := os.Getenv(apiURLEnv); v != "" {
		apiURL = v
	}

	path := f.db
	if path == "" {
		path = cfg.Store.Path
	}
	db, err := store.Open(path, store.Options{Timeout: time.Second})
	if err != nil {
		return fail(stderr, "%s", dbErrText(err))
	}
	defer db.Close()
	tel := newTelemetry(cfg, db, log)
	conns, err := connectors.Build(cfg, connectors.Deps{Logger: log, Tasks: lifecycle.NewTaskStore(db), UserAgent: "gatehouse",
		SimulateStateDir: simulateStateDir(path, f.simulate)}, f.simulate)
	if err != nil {
		return reportLoadErr(stderr, err)
	}

	svc := &sh.Service{Store: db, Config: cfg, Planner: sh.Rules{E: re}}
	digests := &sh.Digests{}
	b, err := bot.New(bot.Config{
		AppToken: appToken, BotToken: botToken, APIURL: apiURL, Digests: digests,
		ITChannel: cfg.Admins.ITChannel, IT: cfg.Admins.IT, HR: cfg.Admins.HR,
		StateFile: path + ".slack.json", // where progress cards are, across restarts
		Log:       log.With().Str("component", "slack").Logger(),
		Metrics:   tel.slack(),
	}, svc)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	eng, err := lifecycle.New(lifecycle.Options{Store: db, Config: cfg, Rules: re, Connectors: conns,
		Notifier: b.Notifier(), Logger: log.With().Str("component", "engine").Logger(), Observer: tel.lifecycle()})
	if err != nil {
		b.Close()
		return fail(stderr, "%v", err)
	}
	svc.Engine = sh.Lifecycle{E: eng}
	digests.Gov = &governance.Service{Config: cfg, DB: db, Engine: eng}
	if err := eng.Start(ctx); err != nil {
		b.Close()
		return fail(stderr, "start engine: %v", err)
	}
	defer eng.Close()

	intake, err := hr.New(hr.Options{Config: cfg, Store: db, Submitter: hr.EngineSubmitter(eng),
		Notifier: b.HRNotifier(cfg.HR.NotifyChannel), Logger: log.With().Str("component", "hr").Logger(), Observer: tel.webhooks()})
	if err != nil {
		b.Close()
		return reportLoadErr(stderr, fmt.Errorf("hr intake: %w", err))
	}
	if err := intake.Start(ctx); err != nil {
		b.Close()
		return fail(stderr, "hr intake: %v", err)
	}
	defer intake.Close()
	stopTelemetry, err := tel.start(ctx, eng)
	if err != nil {
		b.Close()
		return fail(stderr, "%v", err)
	}
	defer stopTelemetry()

	// Expired Slack dedupe keys are purged hourly; the goroutine is owned
	// here and waited for before the store closes.
	pctx, stopPurge := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
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
		wg.Add(1)
		go func() {
			defer wg.Done()
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
	defer wg.Wait()
	defer stopPurge()
	if dc := cfg.Governance.Digest; !dc.Disabled {
		sched, err := governance.NewScheduler(dc.Schedule, cfg.Location(), nil, func(ctx context.Context, at time.Time) {
			runScheduledDigest(ctx, digests.Gov, conns, b, dc.Channel, log)
		})
		if err != nil {
			return fail(stderr, "%v", err)
		}
		sched.Start(pctx)
		defer sched.Close()
		log.Info().Str("schedule", dc.Schedule).Str("channel", dc.Channel).Time("next", sched.Next(time.Now())).Msg("governance digest scheduled")
	}

	mode := "live"
	if f.simulate {
		mode = "simulated connectors"
	}
	log.Info().Str("config", f.config).Str("db", path).Str("mode", mode).Str("hr_listen", intake.Addr()).Msg("gatehouse serving")
	if err := b.Run(ctx); err != nil {
		if errors.Is(err, bot.ErrAuth) {
			return fail(stderr, "%v — Slack refused the token: reinstall the app or copy fresh tokens into SLACK_BOT_TOKEN / SLACK_APP_TOKEN (see docs/slack.md)", err)
		}
		return fail(stderr, "slack: %v", err)
	}
	fmt.Fprintln(stdout, "gatehouse: stopped")
	return 0
}
