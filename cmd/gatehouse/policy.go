package main

import (
	"errors"
	"fmt"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/rules"
)

// This file holds what the policy commands (check, plan, test) share:
// loading a config and compiling its rules in one pass, reading person files
// and parsing --now.

// defaultConfigPath is --config's default: $GATEHOUSE_CONFIG, else
// gatehouse.yaml in the working directory.
func defaultConfigPath() string {
	if p := os.Getenv("GATEHOUSE_CONFIG"); p != "" {
		return p
	}
	return "gatehouse.yaml"
}

// loadPolicy loads the config and compiles its rules. Compilation runs even
// when loading found problems so that every error, YAML and expression alike,
// is reported at once; the returned error is then a sorted config.ErrorList.
func loadPolicy(path string) (*config.Config, *rules.Engine, error) {
	cfg, err := config.Load(path)
	var errs config.ErrorList
	if err != nil {
		var el config.ErrorList
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no config at %s: pass --config FILE or set GATEHOUSE_CONFIG (config.example.yaml is a complete example; 'gatehouse demo' needs none)", path)
		}
		if !errors.As(err, &el) || cfg == nil {
			return nil, nil, err
		}
		errs = append(errs, el...)
	}
	eng, cerr := rules.Compile(cfg)
	if cerr != nil {
		var el config.ErrorList
		if !errors.As(cerr, &el) {
			return cfg, nil, cerr
		}
		errs = append(errs, el...)
	}
	// The HR section's expressions and every app's connector settings belong
	// to the config too: report their errors in the same pass.
	hard, warns := append(hr.CheckConfig(cfg), connectors.Validate(cfg)...).SplitWarnings()
	errs = append(errs, hard...)
	cfg.Warnings = append(cfg.Warnings, warns...)
	if len(errs) > 0 {
		errs.Sort()
		return cfg, eng, errs
	}
	return cfg, eng, nil
}

// reportLoadErr reports a failure to load or build from the config: located
// config errors one per line with a count, anything else as one line. It
// returns exit status 1.
func reportLoadErr(stderr io.Writer, err error) int {
	var el config.ErrorList
	if errors.As(err, &el) {
		printConfigErrors(stderr, err)
		return 1
	}
	return fail(stderr, "%v", err)
}

// printConfigErrors writes every error on its own line and a count.
func printConfigErrors(w io.Writer, err error) {
	var el config.ErrorList
	if errors.As(err, &el) {
		for _, e := range el {
			fmt.Fprintln(w, e.Error())
		}
		fmt.Fprintf(w, "%d %s\n", len(el), plural(len(el), "error", "errors"))
		return
	}
	fmt.Fprintln(w, "gatehouse: "+err.Error())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// readPerson reads and validates a person JSON file.
func readPerson(path string) (gatehouse.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("read person: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, rules.MaxPersonSize+1))
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("read person %s: %w", path, err)
	}
	id, err := rules.ParsePerson(data)
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

// parseNow reads --now: RFC 3339, or a date meaning 09:00 in loc (a working
// morning, so that "today" is unambiguous in every zone).
func parseNow(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Now().In(loc), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t.Add(9 * time.Hour), nil
	}
	return time.Time{}, fmt.Errorf("--now %q: want a date (2026-12-01) or RFC 3339 time", s)
}
