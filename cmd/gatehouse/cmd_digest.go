package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gatehousehq/gatehouse/bot"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/rs/zerolog"
)

const digestUsage = `digest [--dry-run | --post] [--json] [--config FILE] [--db FILE] [--simulate]

Computes the governance digest from the database and every app's own account
listing: dormant accounts (per-app dormant_after), orphaned accounts, leavers
with access still open, runs blocked or waiting, overdue manual tasks, SoD
conflicts held now, expiring access, non-humans without a living owner, and
the licence money reclaimable.

--dry-run (the default) prints every line in the terminal (or --json) and
changes nothing. --post stores the digest and posts it to
governance.digest.channel now, as the schedule does; it needs the Slack tokens
and, like every command that writes, cannot run while serve holds the
database (serve posts on governance.digest.schedule).`

func init() {
	register(command{Name: "digest", Summary: "print or post the weekly governance digest (dormant, orphaned, open, money)", Usage: digestUsage, Run: runDigest})
}

func runDigest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("digest", digestUsage, stderr)
	f := addEngineFlags(fs, false)
	_ = fs.Bool("dry-run", true, "print the digest; change nothing (the default)")
	post := fs.Bool("post", false, "store the digest and post it to Slack now")
	asJSON := fs.Bool("json", false, "print the digest as JSON")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	env, code := openLifecycle(f, stderr, openOpts{stdout: stdout, mustExist: true})
	if env == nil {
		return code
	}
	defer env.close()
	gov := &governance.Service{Config: env.cfg, DB: env.db, Engine: env.eng}
	if !*post {
		d, err := governance.Compute(ctx, governance.Sources{Config: env.cfg, DB: env.db, Conns: env.conns, Now: time.Now()})
		if err != nil {
			return fail(stderr, "%v", err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(d); err != nil {
				return fail(stderr, "%v", err)
			}
			return 0
		}
		if err := d.WriteText(stdout); err != nil {
			return fail(stderr, "%v", err)
		}
		return 0
	}
	channel := env.cfg.Governance.Digest.Channel
	if channel == "" {
		return fail(stderr, "no channel to post to: set governance.digest.channel or admins.it_channel")
	}
	b, code := digestBot(env.cfg, stderr)
	if b == nil {
		return code
	}
	defer b.Close()
	d, err := gov.Produce(ctx, env.conns)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	refs, err := postDigest(ctx, gov, b, d, channel)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "digest %s posted to %s (%d messages): %d dormant, %d orphaned, $%.2f/month reclaimable\n",
		d.ID, channel, len(refs), len(d.Dormant), len(d.Orphans), d.Reclaimable)
	return 0
}

// digestBot builds a bot only to post (no Socket Mode connection).
func digestBot(cfg *config.Config, stderr io.Writer) (*bot.Bot, int) {
	appToken, err := slackToken(cfg.Slack.AppToken, "app_token", "SLACK_APP_TOKEN", "xapp-", "app-level token (Socket Mode)")
	if err != nil {
		return nil, fail(stderr, "%v", err)
	}
	botToken, err := slackToken(cfg.Slack.BotToken, "bot_token", "SLACK_BOT_TOKEN", "xoxb-", "bot token")
	if err != nil {
		return nil, fail(stderr, "%v", err)
	}
	apiURL := cfg.Slack.APIURL
	if v := os.Getenv(apiURLEnv); v != "" {
		apiURL = v
	}
	b, err := bot.New(bot.Config{AppToken: appToken, BotToken: botToken, APIURL: apiURL, ITChannel: cfg.Admins.ITChannel,
		IT: cfg.Admins.IT, HR: cfg.Admins.HR, Log: zerolog.New(stderr).Level(zerolog.WarnLevel)}, nil)
	if err != nil {
		return nil, fail(stderr, "%v", err)
	}
	return b, 0
}

// postDigest posts a stored digest and records where it went.
func postDigest(ctx context.Context, gov *governance.Service, b *bot.Bot, d governance.Digest, channel string) ([]string, error) {
	refs, err := b.PostDigest(ctx, channel, d, gov.Config.Governance.Digest.MaxItems)
	if len(refs) > 0 {
		if perr := gov.Posted(d, refs); perr != nil && err == nil {
			err = perr
		}
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.TS
	}
	return out, err
}
