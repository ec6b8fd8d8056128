package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strings"
	"sync"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	_ "github.com/gatehousehq/gatehouse/connectors/all" // every connector type
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// This file holds what the headless lifecycle commands (onboard, offboard,
// move, runs, approve, deny, tasks) share: their common flags, and wiring the
// same lifecycle engine the Slack bot runs — config, rules, store,
// connectors — so that the CLI is a break-glass path with identical effects.

// engineFlags are the flags every lifecycle command takes.
type engineFlags struct {
	config   string
	db       string
	simulate bool
	wait     bool
	timeout  time.Duration
}

func addEngineFlags(fs *flag.FlagSet, wait bool) *engineFlags {
	f := &engineFlags{}
	fs.StringVar(&f.config, "config", defaultConfigPath(), "config file ($GATEHOUSE_CONFIG)")
	fs.StringVar(&f.db, "db", "", "database file (default: the config's store.path)")
	fs.BoolVar(&f.simulate, "simulate", false, "use simulated connectors for every app (no credentials needed)")
	if wait {
		fs.BoolVar(&f.wait, "wait", true, "execute the run and wait until it is done, waiting on people, or blocked")
		fs.DurationVar(&f.timeout, "timeout", 0, "give up waiting after this long (0: no limit); the run continues on the next start")
	}
	return f
}

// parseArgs parses flags and positional arguments in any order and checks
// that exactly npos positionals were given (npos < 0: any number). On
// failure it returns the exit status (0 for -h, 2 for bad usage).
func parseArgs(fs *flag.FlagSet, args []string, npos int) ([]string, int, bool) {
	pos, code, ok := splitArgs(fs, args)
	if !ok {
		return nil, code, false
	}
	if npos >= 0 && len(pos) != npos {
		fmt.Fprintf(fs.Output(), "gatehouse %s: want %d argument(s), got %d\n", fs.Name(), npos, len(pos))
		fs.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// lifecycleEnv is a wired engine and what it was built from.
type lifecycleEnv struct {
	cfg      *config.Config
	rules    *rules.Engine
	db       *store.DB
	eng      *lifecycle.Engine
	conns    map[string]gatehouse.Connector
	progress *progress
	started  bool
}

// openOpts say how much of the environment a command needs.
type openOpts struct {
	// mustExist refuses to create a database: commands about existing
	// identities or runs must not leave an empty file behind on a typo.
	mustExist bool
	stdout    io.Writer
	// readOnly opens the database read-only and builds neither connectors
	// nor the engine: listing runs or tasks must not need the apps'
	// credentials.
	readOnly bool
}

// openLifecycle loads the config, compiles the rules, opens the database and
// builds the connectors and the engine (not started: callers validate their
// input first, so that bad input writes nothing). It prints its own one-line
// error and returns a non-zero status on failure.
func openLifecycle(f *engineFlags, stderr io.Writer, o openOpts) (*lifecycleEnv, int) {
	cfg, re, err := loadPolicy(f.config)
	if err != nil {
		return nil, reportLoadErr(stderr, err)
	}
	path := f.db
	if path == "" {
		path = cfg.Store.Path
	}
	if o.mustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fail(stderr, "no database at %s (nothing has been run yet, or pass --db)", path)
		}
	}
	db, err := store.Open(path, store.Options{Timeout: time.Second, ReadOnly: o.readOnly})
	if err != nil {
		return nil, fail(stderr, "%s", dbErrText(err))
	}
	env := &lifecycleEnv{cfg: cfg, rules: re, db: db}
	if o.readOnly {
		return env, 0
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	conns, err := connectors.Build(cfg, connectors.Deps{Logger: logger, Tasks: lifecycle.NewTaskStore(db), UserAgent: "gatehouse",
		SimulateStateDir: simulateStateDir(path, f.simulate)}, f.simulate)
	if err != nil {
		db.Close()
		return nil, reportLoadErr(stderr, err)
	}
	out := o.stdout
	if out == nil {
		out = io.Discard
	}
	env.conns = conns
	env.progress = newProgress(out, isTerminal(out))
	env.eng, err = lifecycle.New(lifecycle.Options{Store: db, Config: cfg, Rules: re, Connectors: conns, Logger: logger, Notifier: env.progress})
	if err != nil {
		db.Close()
		return nil, fail(stderr, "%v", err)
	}
	return env, 0
}

// simulateStateDir keeps --simulate apps' state beside the database, so the
// simulated apps live exactly as long as the runs that changed them.
func simulateStateDir(dbPath string, simulate bool) string {
	if !simulate {
		return ""
	}
	return dbPath + ".simulated"
}

func dbErrText(err error) string {
	switch {
	case errors.Is(err, store.ErrLocked):
		return err.Error() + " (is gatehouse serve running? stop it, or use Slack)"
	case errors.Is(err, store.ErrSchemaTooNew):
		return err.Error()
	case errors.Is(err, store.ErrCorrupt):
		return err.Error() + " (restore a backup)"
	}
	return err.Error()
}

// start resumes every unfinished run and starts the scheduler.
func (env *lifecycleEnv) start(ctx context.Context) error {
	if env.started {
		return nil
	}
	if err := env.eng.Start(ctx); err != nil {
		return err
	}
	env.started = true
	return nil
}

func (env *lifecycleEnv) close() {
	if env.eng != nil {
		env.eng.Close()
	}
	env.db.Close()
}

// execute starts the engine (when f.wait) and waits for the run, printing
// the outcome. It returns the exit status: 0 when the run succeeded, is
// scheduled, held or waiting on people; 1 when it failed, was cancelled, or
// is blocked on IT.
func (env *lifecycleEnv) execute(ctx context.Context, f *engineFlags, run gatehouse.Run, stdout, stderr io.Writer) int {
	if !f.wait {
		printOutcome(stdout, run, nil)
		return 0
	}
	env.progress.follow(run.ID)
	if err := env.start(ctx); err != nil {
		return fail(stderr, "start engine: %v", err)
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	r, err := env.eng.Wait(ctx, run.ID)
	env.progress.finish()
	if err != nil {
		return fail(stderr, "run %s is still %s: %v (it continues on the next start)", run.ID, r.Status, err)
	}
	steps, _ := env.db.Steps(r.ID)
	printOutcome(stdout, r, steps)
	switch r.Status {
	case gatehouse.RunFailed, gatehouse.RunCancelled, gatehouse.RunBlocked:
		return 1
	}
	return 0
}

// printOutcome writes the run's result in a few lines.
func printOutcome(w io.Writer, r gatehouse.Run, steps []gatehouse.Step) {
	fmt.Fprintf(w, "run %s (%s %s): %s\n", r.ID, r.Event.Type, r.Event.Identity.Email, r.Status)
	switch r.Status {
	case gatehouse.RunScheduled:
		fmt.Fprintf(w, "  starts at %s\n", r.NotBefore.Format(time.RFC3339))
	case gatehouse.RunWaiting:
		fmt.Fprintln(w, "  waiting on people (approvals or manual tasks); see 'gatehouse runs show "+r.ID+"'")
	case gatehouse.RunBlocked:
		fmt.Fprintln(w, "  blocked: a step ran out of retries and was escalated to IT; see 'gatehouse tasks list'")
	}
	for _, s := range steps {
		if s.Status.Done() {
			continue
		}
		fmt.Fprintf(w, "  open: %s %s\n", s.ID, s.Status)
	}
	// The evidence summary is final only once the run is; while people
	// still have to act, the open steps above are the current truth.
	if r.Summary != "" && (r.Status.Terminal() || r.Status == gatehouse.RunHeld) {
		fmt.Fprintf(w, "  %s\n", r.Summary)
	}
}

// isTerminal reports whether w is an interactive terminal (not merely a
// character device such as /dev/null); tests and pipes get plain output.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// progress prints a followed run's steps as they change: on a terminal one
// redrawn line per app, otherwise a plain line per step change.
type progress struct {
	lifecycle.NopNotifier
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	runID  string
	seen   map[string]gatehouse.StepStatus
	drawn  int // lines drawn last time (tty)
	closed bool
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, seen: map[string]gatehouse.StepStatus{}}
}

func (p *progress) follow(runID string) {
	p.mu.Lock()
	p.runID = runID
	p.mu.Unlock()
}

func (p *progress) finish() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// RunChanged implements lifecycle.Notifier.
func (p *progress) RunChanged(_ context.Context, run gatehouse.Run, steps []gatehouse.Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || run.ID != p.runID || len(steps) == 0 {
		return
	}
	if !p.tty {
		for _, s := range steps {
			if p.seen[s.ID] == s.Status {
				continue
			}
			p.seen[s.ID] = s.Status
			if s.Status == gatehouse.StepPending {
				continue
			}
			line := fmt.Sprintf("%-28s %s", s.ID, s.Status)
			if s.LastError != "" && !s.Status.Done() {
				line += ": " + s.LastError
			}
			fmt.Fprintln(p.w, line)
		}
		return
	}
	// One line per app: each step's status as a symbol.
	byApp := map[string][]string{}
	for _, s := range steps {
		app := s.App
		if app == "" {
			app = "-"
		}
		byApp[app] = append(byApp[app], symbol(s.Status)+" "+string(s.Kind)+suffix(s))
	}
	apps := make([]string, 0, len(byApp))
	for a := range byApp {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	for _, a := range apps {
		fmt.Fprintf(p.w, "\x1b[2K%-12s %s\n", a, strings.Join(byApp[a], "  "))
	}
	fmt.Fprintf(p.w, "\x1b[2K%s\n", run.Status)
	p.drawn = len(apps) + 1
}

func suffix(s gatehouse.Step) string {
	if s.Entitlement != "" && s.Kind != gatehouse.StepEnsureAccount {
		return " " + s.Entitlement
	}
	return ""
}

func symbol(s gatehouse.StepStatus) string {
	switch s {
	case gatehouse.StepSucceeded:
		return "✓"
	case gatehouse.StepSkipped, gatehouse.StepCancelled:
		return "-"
	case gatehouse.StepRunning:
		return "…"
	case gatehouse.StepRetrying:
		return "↻"
	case gatehouse.StepWaiting:
		return "⏸"
	case gatehouse.StepEscalated, gatehouse.StepFailed:
		return "✗"
	}
	return "·"
}

// cliActor is who the CLI acts as: $GATEHOUSE_ACTOR (an email), else the
// operating-system user.
func cliActor() gatehouse.Actor {
	if a := strings.TrimSpace(os.Getenv("GATEHOUSE_ACTOR")); a != "" {
		return gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: strings.ToLower(a)}
	}
	u := os.Getenv("USER")
	if u == "" {
		if cur, err := user.Current(); err == nil && cur.Username != "" {
			u = cur.Username
		} else {
			u = "unknown"
		}
	}
	return gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "cli:" + u}
}

// lifecycleErr turns engine errors into one line for people.
func lifecycleErr(err error) string {
	switch {
	case errors.Is(err, lifecycle.ErrUnknownIdentity):
		return strings.Replace(err.Error(), lifecycle.ErrUnknownIdentity.Error()+": ", "", 1)
	case errors.Is(err, lifecycle.ErrRunNotFound):
		return strings.Replace(err.Error(), ": "+lifecycle.ErrRunNotFound.Error(), " does not exist", 1)
	}
	return err.Error()
}
