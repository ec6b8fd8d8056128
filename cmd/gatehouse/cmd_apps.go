package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	_ "github.com/gatehousehq/gatehouse/connectors/all" // every connector type
	"github.com/rs/zerolog"
)

const appsUsage = `apps check [APP] [--config FILE] [--simulate] [--timeout 30s]
       gatehouse apps accounts APP [--config FILE] [--simulate] [--json]

check   connects to every app (or just APP) with the configured credentials and
        tests connectivity and permissions: a connector's own check when it has
        one, else listing accounts. Prints OK or FAIL per app with the reason
        and its class (retryable, permanent, rate_limited…) and the app's
        capabilities. Exit 1 if any app fails.
accounts lists APP's accounts: id, user, email, active, last activity and
        entitlements, as a table or --json (an array of accounts).

--simulate replaces every app with the simulated connector (no credentials).
Secrets are never printed.`

func init() {
	register(command{Name: "apps", Summary: "check app connectivity and list an app's accounts", Usage: appsUsage, Run: runApps})
}

func runApps(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", appsUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "check":
		return runAppsCheck(ctx, args[1:], stdout, stderr)
	case "accounts":
		return runAppsAccounts(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "gatehouse apps: unknown subcommand %q (want check or accounts)\n", args[0])
	return 2
}

type appsFlags struct {
	config   string
	simulate bool
	timeout  time.Duration
	json     bool
}

// parseAppsArgs parses flags and positionals in any order ("apps check okta
// --config x" and "apps check --config x okta" both work).
func parseAppsArgs(fs *flag.FlagSet, args []string, maxPos int) ([]string, int, bool) {
	pos, code, ok := splitArgs(fs, args)
	if !ok {
		return nil, code, false
	}
	if len(pos) > maxPos {
		fmt.Fprintf(fs.Output(), "gatehouse %s: unexpected argument %q\n", fs.Name(), pos[maxPos])
		fs.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

func newAppsFlagSet(name string, stderr io.Writer, f *appsFlags, withJSON bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", defaultConfigPath(), "config `FILE` ($GATEHOUSE_CONFIG)")
	fs.BoolVar(&f.simulate, "simulate", false, "use the simulated connector for every app (no credentials needed)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on an app after this long")
	if withJSON {
		fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n\nflags:\n", appsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// buildApps loads the config and builds the connectors of the named apps
// (all when names is empty), one app at a time so that an app whose
// connector cannot be built (bad settings, a type missing from this build)
// is reported as that app's failure without hiding the others. On failure
// to load it has printed the problem and returns the exit status.
func buildApps(f *appsFlags, names []string, stderr io.Writer) (*config.Config, map[string]gatehouse.Connector, map[string]error, int) {
	cfg, err := config.Load(f.config)
	if cfg != nil {
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, w.Error())
		}
	}
	if err != nil {
		return nil, nil, nil, reportLoadErr(stderr, err)
	}
	if len(names) == 0 {
		names = cfg.AppNames()
	}
	for _, n := range names {
		if _, ok := cfg.Apps[n]; !ok {
			return nil, nil, nil, fail(stderr, "no app %q in %s (apps: %s)", n, f.config, strings.Join(cfg.AppNames(), ", "))
		}
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	deps := connectors.Deps{Logger: logger, UserAgent: "gatehouse", Now: time.Now}
	conns, errs := map[string]gatehouse.Connector{}, map[string]error{}
	for _, n := range names {
		sub := *cfg
		sub.Apps = map[string]*config.App{n: cfg.Apps[n]}
		built, err := connectors.Build(&sub, deps, f.simulate)
		if err != nil {
			errs[n] = err
			continue
		}
		conns[n] = built[n]
	}
	return cfg, conns, errs, 0
}

// redact removes the values of every secret the config package knows of
// from text: connector errors should never carry credentials, but a
// vendor echoing a token back in an error body must not leak it here.
func redact(cfg *config.Config, text string) string {
	for _, s := range cfg.Secrets() {
		if v, err := s.Value(); err == nil && len(v) >= 4 {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}

// appCheck is one app's check result.
type appCheck struct {
	App, Connector, Probe string
	Caps                  []gatehouse.Capability
	Err                   error
	Took                  time.Duration
}

func runAppsCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f appsFlags
	fs := newAppsFlagSet("apps check", stderr, &f, false)
	pos, code, ok := parseAppsArgs(fs, args, 1)
	if !ok {
		return code
	}
	cfg, conns, buildErrs, code := buildApps(&f, pos, stderr)
	if cfg == nil {
		return code
	}
	names := make([]string, 0, len(conns)+len(buildErrs))
	for n := range conns {
		names = append(names, n)
	}
	for n := range buildErrs {
		names = append(names, n)
	}
	sort.Strings(names)
	results := make([]appCheck, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8) // bounded: a config may list many apps
	for i, n := range names {
		if err, bad := buildErrs[n]; bad {
			results[i] = appCheck{App: n, Connector: cfg.Apps[n].Connector, Err: fmt.Errorf("cannot build the connector: %w", err)}
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := conns[n]
			cctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			start := time.Now()
			probe, err := connectors.Probe(cctx, c)
			typ := cfg.Apps[n].Connector
			if f.simulate {
				typ = "simulated"
			}
			results[i] = appCheck{App: n, Connector: typ, Probe: probe, Caps: c.Capabilities().List(), Err: err, Took: time.Since(start)}
		})
	}
	wg.Wait()
	for _, c := range conns {
		if cl, ok := c.(io.Closer); ok {
			cl.Close()
		}
	}

	failed := 0
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tCONNECTOR\tRESULT\tTIME\tCAPABILITIES")
	var reasons []string
	for _, r := range results {
		status := "OK"
		switch {
		case errors.Is(r.Err, connectors.ErrNoProbe):
			status = "UNCHECKED"
			reasons = append(reasons, fmt.Sprintf("%s: not checked: %v", r.App, r.Err))
		case r.Err != nil:
			status = "FAIL"
			failed++
			class := gatehouse.Classify(r.Err).String()
			var el config.ErrorList
			if errors.As(r.Err, &el) {
				class = "config"
			}
			reasons = append(reasons, fmt.Sprintf("%s: %s: %s", r.App, class, strings.ReplaceAll(redact(cfg, r.Err.Error()), "\n", "\n    ")))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.App, r.Connector, status, r.Took.Round(time.Millisecond), capList(r.Caps))
	}
	tw.Flush()
	if len(reasons) > 0 {
		fmt.Fprintln(stdout)
		for _, s := range reasons {
			fmt.Fprintln(stdout, s)
		}
	}
	if f.simulate {
		fmt.Fprintln(stdout, "\n(--simulate: every app is the simulated connector; nothing real was contacted)")
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "gatehouse: %d of %d %s failed\n", failed, len(results), plural(len(results), "app", "apps"))
		return 1
	}
	return 0
}

func capList(caps []gatehouse.Capability) string {
	s := make([]string, len(caps))
	for i, c := range caps {
		s[i] = string(c)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func runAppsAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f appsFlags
	fs := newAppsFlagSet("apps accounts", stderr, &f, true)
	pos, code, ok := parseAppsArgs(fs, args, 1)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "gatehouse apps accounts: name the app")
		fs.Usage()
		return 2
	}
	cfg, conns, buildErrs, code := buildApps(&f, pos, stderr)
	if cfg == nil {
		return code
	}
	if err := buildErrs[pos[0]]; err != nil {
		var el config.ErrorList
		if errors.As(err, &el) {
			printConfigErrors(stderr, err)
			return 1
		}
		return fail(stderr, "%s", redact(cfg, err.Error()))
	}
	c := conns[pos[0]]
	defer func() {
		if cl, ok := c.(io.Closer); ok {
			cl.Close()
		}
	}()
	if !c.Capabilities().Has(gatehouse.CapListAccounts) {
		return fail(stderr, "app %s cannot list accounts: its connector (%s) lacks list_accounts", pos[0], cfg.Apps[pos[0]].Connector)
	}
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	accts, err := c.ListAccounts(cctx)
	if err != nil {
		return fail(stderr, "list accounts of %s: %s (%s)", pos[0], redact(cfg, err.Error()), gatehouse.Classify(err))
	}
	sort.SliceStable(accts, func(i, j int) bool {
		if accts[i].UserName != accts[j].UserName {
			return accts[i].UserName < accts[j].UserName
		}
		return accts[i].ID < accts[j].ID
	})
	if f.json {
		if accts == nil {
			accts = []gatehouse.Account{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(accts); err != nil {
			return fail(stderr, "write json: %v", err)
		}
		return 0
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tEMAIL\tACTIVE\tLAST ACTIVITY\tENTITLEMENTS")
	active := 0
	for _, a := range accts {
		if a.Active {
			active++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dash(a.ID), dash(a.UserName), dash(a.Email), yesNo(a.Active), lastActivity(a.LastActivity, now), dash(strings.Join(a.Entitlements, ",")))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d %s, %d active\n", len(accts), plural(len(accts), "account", "accounts"), active)
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// lastActivity prints a date and how long ago it was, so dormant accounts
// stand out in a long table.
func lastActivity(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	days := int(now.Sub(t).Hours() / 24)
	switch {
	case days < 0:
		return t.UTC().Format("2006-01-02")
	case days == 0:
		return t.UTC().Format("2006-01-02") + " (today)"
	}
	return fmt.Sprintf("%s (%dd ago)", t.UTC().Format("2006-01-02"), days)
}
