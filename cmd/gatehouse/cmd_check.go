package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/gatehousehq/gatehouse/config"
)

const checkUsage = `check [--config FILE]

Loads the config and compiles every rule, then prints a short summary (exit 0)
or every problem with file:line:col (exit 1). --config defaults to
$GATEHOUSE_CONFIG, else gatehouse.yaml.`

func init() {
	register(command{Name: "check", Summary: "validate the config and its rules; report every error at once", Usage: checkUsage, Run: runCheck})
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfigPath(), "config `FILE`")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: gatehouse "+checkUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse: check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, eng, err := loadPolicy(*path)
	if cfg != nil {
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, w.Error())
		}
	}
	if err != nil {
		printConfigErrors(stderr, err)
		return 1
	}
	for _, w := range eng.Lint() {
		fmt.Fprintln(stderr, w.Error())
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	fmt.Fprint(stdout, checkSummary(cfg))
	return 0
}

func checkSummary(cfg *config.Config) string {
	ents := 0
	for _, a := range cfg.Apps {
		ents += len(a.Entitlements)
	}
	kinds := map[string]int{}
	for _, s := range cfg.SoD {
		kinds[s.Action]++
	}
	actions := make([]string, 0, len(kinds))
	for k := range kinds {
		actions = append(actions, k)
	}
	sort.Strings(actions)
	sod := fmt.Sprintf("%d SoD %s", len(cfg.SoD), plural(len(cfg.SoD), "constraint", "constraints"))
	for i, a := range actions {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		sod += fmt.Sprintf("%s%d %s", sep, kinds[a], a)
		if i == len(actions)-1 {
			sod += ")"
		}
	}
	return fmt.Sprintf("  %d %s, %d %s\n  %d %s, %d %s\n  %d %s\n  %s\n",
		len(cfg.Apps), plural(len(cfg.Apps), "app", "apps"), ents, plural(ents, "entitlement", "entitlements"),
		len(cfg.Profiles), plural(len(cfg.Profiles), "profile", "profiles"), len(cfg.AddOns), plural(len(cfg.AddOns), "add-on", "add-ons"),
		len(cfg.Rules), plural(len(cfg.Rules), "rule", "rules"), sod)
}
