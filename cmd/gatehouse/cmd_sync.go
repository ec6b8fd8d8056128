package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

const syncUsage = "sync [--config FILE] [--db FILE] [--source NAME] [--dry-run] [--simulate]"

func init() {
	register(command{Name: "sync", Summary: "read the HR roster and turn differences into joiners, movers and leavers", Usage: syncUsage, Run: runSync})
}

// runSync reads every roster source (or --source), diffs it against the
// store and prints what it found. Without --dry-run it submits the events
// (through the mass-change guard); the runs execute when `gatehouse serve`
// next runs, since serve holds the database while it does.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sync", syncUsage, stderr)
	f := addEngineFlags(fs, false)
	source := fs.String("source", "", "only this HR source (default: every source with a roster)")
	dry := fs.Bool("dry-run", false, "print what the sync would do; change nothing")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	var (
		cfg *config.Config
		st  hr.Store
		sub hr.Submitter
	)
	if *dry {
		c, _, err := loadPolicy(f.config)
		if err != nil {
			printConfigErrors(stderr, err)
			return 1
		}
		db, cleanup, code := openForDryRun(c, f.db, stderr)
		if db == nil {
			return code
		}
		defer cleanup()
		cfg, st = c, db
	} else {
		env, code := openLifecycle(f, stderr, openOpts{stdout: stdout})
		if env == nil {
			return code
		}
		defer env.close()
		cfg, st, sub = env.cfg, env.db, hr.EngineSubmitter(env.eng)
	}
	svc, err := hr.New(hr.Options{Config: cfg, Store: st, Submitter: sub, Notifier: cliNotifier{out: stdout}, Logger: logger})
	if err != nil {
		return reportLoadErr(stderr, err)
	}
	names := svc.SyncSources()
	if *source != "" {
		names = []string{*source}
	}
	if len(names) == 0 {
		return fail(stderr, "no HR source has a roster (set hr.sources.NAME.roster, or use a workday or csv source)")
	}
	loc := cfg.Location()
	status := 0
	for _, name := range names {
		rep, err := svc.Sync(ctx, name, *dry)
		if rep != nil {
			printSyncReport(stdout, rep, loc)
		}
		if err != nil {
			fail(stderr, "%v", err)
			status = 1
		}
	}
	return status
}

// openForDryRun opens the database read-only so a dry run writes nothing;
// a database that does not exist yet is an empty one (everyone is a joiner).
func openForDryRun(cfg *config.Config, path string, stderr io.Writer) (*store.DB, func(), int) {
	if path == "" {
		path = cfg.Store.Path
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		dir, err := os.MkdirTemp("", "gatehouse-sync-")
		if err != nil {
			return nil, nil, fail(stderr, "%v", err)
		}
		db, err := store.Open(filepath.Join(dir, "empty.db"), store.Options{NoSync: true})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, fail(stderr, "%s", dbErrText(err))
		}
		return db, func() { db.Close(); os.RemoveAll(dir) }, 0
	}
	db, err := store.Open(path, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, nil, fail(stderr, "%s", dbErrText(err))
	}
	return db, func() { db.Close() }, 0
}

func printSyncReport(w io.Writer, r *hr.SyncReport, loc *time.Location) {
	mode := ""
	if r.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "source %s: %d %s in the roster%s\n", r.Source, r.Records, plural(r.Records, "person", "people"), mode)
	section := func(title, mark string, cs []hr.Change, detail func(hr.Change) string) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "%s (%d):\n", title, len(cs))
		sort.Slice(cs, func(i, j int) bool { return cs[i].Next.Email < cs[j].Next.Email })
		for _, c := range cs {
			fmt.Fprintf(w, "  %s %s%s\n", mark, who(c.Next), detail(c))
		}
	}
	when := func(c hr.Change) string {
		var parts []string
		for _, e := range c.Events {
			parts = append(parts, fmt.Sprintf("%s %s", e.Type, whenText(e.EffectiveAt, c.Next, loc)))
		}
		return ": " + strings.Join(parts, ", ")
	}
	section("joiners", "+", r.Joiners, func(c hr.Change) string {
		return fmt.Sprintf(" — %s%s", orgLine(c.Next), when(c))
	})
	section("rehires", "+", r.Rehires, when)
	section("movers", "~", r.Movers, func(c hr.Change) string {
		var parts []string
		for _, f := range c.Fields {
			parts = append(parts, fmt.Sprintf("%s %q → %q", f, hr.MoverValue(*c.Previous, f), hr.MoverValue(c.Next, f)))
		}
		return ": " + strings.Join(parts, "; ")
	})
	section("leavers", "-", r.Leavers, when)
	section("other changes", "·", r.Other, func(c hr.Change) string {
		if len(c.Events) == 0 {
			return ": profile data updated"
		}
		return when(c)
	})
	if len(r.Ambiguous) > 0 {
		fmt.Fprintf(w, "ambiguous matches, flagged to IT and left alone (%d):\n", len(r.Ambiguous))
		for _, a := range r.Ambiguous {
			fmt.Fprintf(w, "  ? employee id %q, email %s: %s", a.EmployeeID, a.Email, a.Reason)
			if len(a.Candidates) > 0 {
				fmt.Fprintf(w, " (identities %s)", strings.Join(a.Candidates, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	total := len(r.Joiners) + len(r.Rehires) + len(r.Movers) + len(r.Leavers) + len(r.Other)
	if total == 0 && len(r.Ambiguous) == 0 {
		fmt.Fprintln(w, "  in sync: nothing to do")
	}
	for _, o := range r.Outcomes {
		if o.Err != "" {
			fmt.Fprintf(w, "  ! %s: %s\n", who(o.Change.Next), o.Err)
		}
	}
	if r.Held {
		fmt.Fprintln(w, "HELD: the mass-change guard held these terminations and moves; confirm or discard them in Slack")
	}
	if !r.DryRun && total > 0 {
		fmt.Fprintln(w, "submitted; runs execute under gatehouse serve")
	}
}

func who(id gatehouse.Identity) string {
	if id.EmployeeID != "" {
		return fmt.Sprintf("%s (employee %s)", id.Email, id.EmployeeID)
	}
	return id.Email
}

func orgLine(id gatehouse.Identity) string {
	parts := []string{}
	for _, s := range []string{id.Department, id.Title} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return string(id.Kind)
	}
	return strings.Join(parts, " / ")
}

func whenText(at time.Time, id gatehouse.Identity, def *time.Location) string {
	if at.IsZero() || !at.After(time.Now()) {
		return "now"
	}
	return "at " + at.In(id.Zone(def)).Format("2006-01-02 15:04 MST")
}

// cliNotifier prints what would go to Slack, so a CLI sync loses nothing.
type cliNotifier struct{ out io.Writer }

func (n cliNotifier) NewHirePlanned(_ context.Context, id gatehouse.Identity, run gatehouse.Run) error {
	if id.ManagerEmail != "" {
		fmt.Fprintf(n.out, "  notify %s: new hire %s planned (run %s)\n", id.ManagerEmail, id.Email, run.ID)
	}
	return nil
}

func (n cliNotifier) TerminationReceived(context.Context, gatehouse.Identity, time.Time) error {
	return nil // the report lists leavers already
}

func (n cliNotifier) AmbiguousMatch(context.Context, hr.Ambiguity) error { return nil }

func (n cliNotifier) MassChangeHeld(_ context.Context, m hr.MassChange) error {
	fmt.Fprintf(n.out, "  mass-change guard: %d leavers and %d movers held (%d within %s); runs %s\n",
		m.Leavers, m.Movers, m.InWindow, m.Window, strings.Join(m.RunIDs, ", "))
	return nil
}
