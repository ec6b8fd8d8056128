package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/store"
)

const reviewUsage = `review start [--apps a,b] [--min-risk high] [--team T] [--department D] [--deadline 14d]
                 [--reviewers manager,app_owner] [--on-deadline revoke|keep|escalate] [--name N]
       review status [ID]
       review export ID [--format csv|jsonl] [--out FILE]
       (each takes --config FILE and --db FILE)

start creates an access review campaign over the active grants in scope and
prints its id; defaults come from governance.reviews. Reviewers are sent
their lines in Slack by the running gatehouse serve (at once when started
with /access review start, else at its next campaign check). status prints
a campaign's progress (without ID: every campaign). export writes the
auditor's evidence: every line with its reviewer, decision, reason, who
decided and when, and the resulting run with its final status.`

func init() {
	register(command{Name: "review", Summary: "start, follow and export access review campaigns", Usage: reviewUsage, Run: runReview})
}

func runReview(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", reviewUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "start":
		return runReviewStart(ctx, args[1:], stdout, stderr)
	case "status":
		return runReviewStatus(args[1:], stdout, stderr)
	case "export":
		return runReviewExport(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "gatehouse review: unknown subcommand %q\nusage: gatehouse %s\n", args[0], reviewUsage)
	return 2
}

// openReviews opens the config and the database only: starting, following
// and exporting a review needs no app credentials.
func openReviews(f *engineFlags, stderr io.Writer, readOnly bool) (*governance.Reviews, func(), int) {
	cfg, _, err := loadPolicy(f.config)
	if err != nil {
		return nil, nil, reportLoadErr(stderr, err)
	}
	path := f.db
	if path == "" {
		path = cfg.Store.Path
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fail(stderr, "no database at %s (nothing has been run yet, or pass --db)", path)
	}
	db, err := store.Open(path, store.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		return nil, nil, fail(stderr, "%s", dbErrText(err))
	}
	return &governance.Reviews{Config: cfg, DB: db}, func() { db.Close() }, 0
}

func runReviewStart(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("review start", reviewUsage, stderr)
	f := addEngineFlags(fs, false)
	var o governance.StartOptions
	fs.StringVar(&o.Apps, "apps", "", "apps to review, comma-separated (default: every app)")
	fs.StringVar(&o.MinRisk, "min-risk", "", "lowest risk reviewed: low, medium, high, critical")
	fs.StringVar(&o.Team, "team", "", "only people in this team")
	fs.StringVar(&o.Department, "department", "", "only people in this department")
	fs.StringVar(&o.Deadline, "deadline", "", "how long reviewers have, e.g. 14d (default governance.reviews.deadline)")
	fs.StringVar(&o.Reviewers, "reviewers", "", "reviewer roles in order: manager, app_owner (default governance.reviews.reviewers)")
	fs.StringVar(&o.OnDeadline, "on-deadline", "", "what undecided lines do at the deadline: revoke, keep, escalate")
	fs.StringVar(&o.Name, "name", "", "a name for the campaign, e.g. \"Q4 production access\"")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	r, done, code := openReviews(f, stderr, false)
	if r == nil {
		return code
	}
	defer done()
	req, err := o.Request(governance.Actor{Email: cliActor().ID, IT: true})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	c, err := r.Start(ctx, req)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "access review %s started: %d line(s), %s; deadline %s, then %s\n",
		c.ID, c.Items, governance.ScopeText(c.Scope), c.Deadline.Format(time.RFC3339), c.OnDeadline)
	_, per, err := r.Progress(c.ID)
	if err == nil {
		for _, p := range per {
			fmt.Fprintf(stdout, "  %-40s %d line(s)\n", p.Reviewer, p.Total)
		}
	}
	return 0
}

func runReviewStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("review status", reviewUsage, stderr)
	f := addEngineFlags(fs, false)
	pos, code, ok := parseArgs(fs, args, -1)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return fail(stderr, "review status takes at most one campaign id")
	}
	r, done, code := openReviews(f, stderr, true)
	if r == nil {
		return code
	}
	defer done()
	if len(pos) == 0 {
		cs, err := r.DB.Campaigns()
		if err != nil {
			return fail(stderr, "%v", err)
		}
		if len(cs) == 0 {
			fmt.Fprintln(stdout, "no access reviews yet")
		}
		for _, c := range cs {
			fmt.Fprintf(stdout, "%s  %-9s %d/%d decided, %d kept, %d revoked  deadline %s  %s\n", c.ID, c.Status, c.Decided, c.Items, c.Kept, c.Revoked,
				c.Deadline.Format("2006-01-02"), governance.ScopeText(c.Scope))
		}
		return 0
	}
	c, per, err := r.Progress(pos[0])
	if err != nil {
		return fail(stderr, "%v", reviewCLIErr(err, pos[0]))
	}
	fmt.Fprintln(stdout, sh.StatusText(c, per))
	return 0
}

func runReviewExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("review export", reviewUsage, stderr)
	f := addEngineFlags(fs, false)
	format := fs.String("format", "csv", "csv or jsonl")
	out := fs.String("out", "", "write to FILE instead of standard output")
	pos, code, ok := parseArgs(fs, args, 1)
	if !ok {
		return code
	}
	if *format != "csv" && *format != "jsonl" {
		return fail(stderr, "--format %q: want csv or jsonl", *format)
	}
	r, done, code := openReviews(f, stderr, true)
	if r == nil {
		return code
	}
	defer done()
	if _, err := r.Campaign(pos[0]); err != nil {
		return fail(stderr, "%v", reviewCLIErr(err, pos[0]))
	}
	w := stdout
	if *out != "" {
		file, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		defer file.Close()
		w = file
	}
	if err := r.WriteEvidence(w, pos[0], *format); err != nil {
		return fail(stderr, "%v", err)
	}
	return 0
}

func reviewCLIErr(err error, id string) error {
	if errors.Is(err, governance.ErrNoCampaign) {
		return fmt.Errorf("no access review %s (gatehouse review status lists them)", id)
	}
	return err
}

// serveReviews wires access reviews into serve: h is the handler given to
// bot.New as bot.Config.Reviews (created empty first, like the digests'),
// notify the bot's ReviewNotifier. The returned runner sends reminders,
// escalates and applies deadline actions; serve Starts and Closes it.
func serveReviews(cfg *config.Config, db *store.DB, eng *lifecycle.Engine, notify governance.ReviewNotifier, h *sh.Reviews, onErr func(error)) *governance.Campaigns {
	h.Gov = &governance.Reviews{Config: cfg, DB: db, Engine: eng, Notify: notify}
	return &governance.Campaigns{Reviews: h.Gov, OnError: onErr}
}
