package main

// The `test` command. (The file is not called cmd_test.go because the Go
// tool would take that for a test file.)

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/rules"
	"go.yaml.in/yaml/v3"
)

const testUsage = `test [--config FILE] [-v] [--run REGEXP] [TESTS.yaml...]

Runs policy tests: each names an identity (a person file or inline) and an
event, and what the plan must contain. Without arguments it runs the files
listed under "tests:" in the config (relative to the config file). Output is
like "go test"; a failing test shows a diff (- expected, + got). Exit 1 when
any test fails. The format is described in docs/rules.md.`

func init() {
	register(command{Name: "test", Summary: "run policy tests (identity + event → expected plan)", Usage: testUsage, Run: runPolicyTest})
}

// policyTestFile is one YAML file of policy tests.
type policyTestFile struct {
	// Now is the default evaluation time for the file's tests.
	Now   string       `yaml:"now"`
	Tests []policyTest `yaml:"tests"`
}

type policyTest struct {
	Name string `yaml:"name"`
	// Person is a person JSON file (relative to the test file); Identity is
	// the same object written inline.
	Person           string         `yaml:"person"`
	Identity         map[string]any `yaml:"identity"`
	Previous         string         `yaml:"previous"`
	PreviousIdentity map[string]any `yaml:"previous_identity"`
	Event            string         `yaml:"event"`
	Now              string         `yaml:"now"`
	Expect           policyExpect   `yaml:"expect"`
	line             int
}

// policyExpect: lists of refs must be present (grants, excluded, add, remove,
// keep, review) or absent (absent); profiles and conflicts, when given, must
// match exactly (order aside); approvals maps a ref to its exact approvers
// ([] meaning no approval).
type policyExpect struct {
	Profiles  *[]string           `yaml:"profiles"`
	Grants    []string            `yaml:"grants"`
	Absent    []string            `yaml:"absent"`
	Excluded  []string            `yaml:"excluded"`
	Approvals map[string][]string `yaml:"approvals"`
	Conflicts *[]string           `yaml:"conflicts"`
	Add       []string            `yaml:"add"`
	Remove    []string            `yaml:"remove"`
	Keep      []string            `yaml:"keep"`
	Review    []string            `yaml:"review"`
	ExpiresAt string              `yaml:"expires_at"` // a date, RFC 3339, or "none"
}

func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "config `FILE`")
	verbose := fs.Bool("v", false, "print every test, not only failures")
	runRe := fs.String("run", "", "run only tests whose name matches `REGEXP`")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: gatehouse "+testUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	var filter *regexp.Regexp
	if *runRe != "" {
		re, err := regexp.Compile(*runRe)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse: test: --run: %v\n", err)
			return 2
		}
		filter = re
	}
	cfg, eng, err := loadPolicy(*cfgPath)
	if err != nil {
		printConfigErrors(stderr, err)
		return 1
	}
	files := fs.Args()
	if len(files) == 0 {
		for _, t := range cfg.Tests {
			p := t
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(*cfgPath), p)
			}
			matches, _ := filepath.Glob(p)
			if len(matches) == 0 {
				matches = []string{p} // report it as missing below
			}
			files = append(files, matches...)
		}
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "gatehouse: test: no test files (list them under tests: in the config or pass them as arguments)")
		return 2
	}
	failed := false
	for _, f := range files {
		if !runPolicyFile(stdout, eng, f, filter, *verbose) {
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

// runPolicyFile runs one file's tests and prints a go-test-style report.
func runPolicyFile(w io.Writer, eng *rules.Engine, path string, filter *regexp.Regexp, verbose bool) bool {
	start := time.Now()
	file, err := readPolicyTests(path)
	if err != nil {
		fmt.Fprintf(w, "FAIL\t%s\t[%v]\n", path, err)
		return false
	}
	loc := eng.Config().Location()
	ran, fails := 0, 0
	for _, t := range file.Tests {
		if filter != nil && !filter.MatchString(t.Name) {
			continue
		}
		ran++
		if verbose {
			fmt.Fprintf(w, "=== RUN   %s\n", t.Name)
		}
		t0 := time.Now()
		problems := runOnePolicyTest(eng, path, file.Now, t, loc)
		d := time.Since(t0).Seconds()
		if len(problems) > 0 {
			fails++
			fmt.Fprintf(w, "--- FAIL: %s (%.2fs)\n", t.Name, d)
			for _, p := range problems {
				fmt.Fprintf(w, "    %s:%d: %s\n", filepath.Base(path), t.line, strings.ReplaceAll(p, "\n", "\n        "))
			}
		} else if verbose {
			fmt.Fprintf(w, "--- PASS: %s (%.2fs)\n", t.Name, d)
		}
	}
	el := time.Since(start).Seconds()
	if fails > 0 {
		fmt.Fprintln(w, "FAIL")
		fmt.Fprintf(w, "FAIL\t%s\t%d of %d failed\t%.3fs\n", path, fails, ran, el)
		return false
	}
	if verbose {
		fmt.Fprintln(w, "PASS")
	}
	fmt.Fprintf(w, "ok  \t%s\t%d %s\t%.3fs\n", path, ran, plural(ran, "test", "tests"), el)
	return true
}

func readPolicyTests(path string) (*policyTestFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tests: %w", err)
	}
	var file policyTestFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// A second pass over the node tree finds each test's line for reports.
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "tests" && root.Content[i+1].Kind == yaml.SequenceNode {
				for j, n := range root.Content[i+1].Content {
					if j < len(file.Tests) {
						file.Tests[j].line = n.Line
					}
				}
			}
		}
	}
	for i, t := range file.Tests {
		if t.Name == "" {
			return nil, fmt.Errorf("%s: test %d has no name", path, i+1)
		}
	}
	return &file, nil
}

// identityFrom reads a person file (relative to the test file) or an
// inline identity, through the same strict parser as person files.
func identityFrom(base, file string, inline map[string]any) (*gatehouse.Identity, error) {
	switch {
	case file != "" && inline != nil:
		return nil, fmt.Errorf("give a person file or an inline identity, not both")
	case file != "":
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(base), file)
		}
		id, err := readPerson(file)
		return &id, err
	case inline != nil:
		for k, v := range inline {
			if t, ok := v.(time.Time); ok { // YAML dates arrive as times
				inline[k] = t.Format("2006-01-02")
			}
		}
		data, err := json.Marshal(inline)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		id, err := rules.ParsePerson(data)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		return &id, nil
	}
	return nil, nil
}

func runOnePolicyTest(eng *rules.Engine, path, fileNow string, t policyTest, loc *time.Location) []string {
	id, err := identityFrom(path, t.Person, t.Identity)
	if err != nil {
		return []string{err.Error()}
	}
	if id == nil {
		return []string{"no identity: give person: FILE.json or identity: {...}"}
	}
	prev, err := identityFrom(path, t.Previous, t.PreviousIdentity)
	if err != nil {
		return []string{"previous: " + err.Error()}
	}
	in := rules.Input{Identity: *id, Previous: prev}
	if t.Event != "" {
		if in.Event, err = gatehouse.ParseEventType(t.Event); err != nil {
			return []string{err.Error()}
		}
	}
	nowText := t.Now
	if nowText == "" {
		nowText = fileNow
	}
	if nowText == "" {
		return []string{"no now: set now: for the file or the test, so results do not depend on the day"}
	}
	if in.Now, err = parseNow(nowText, loc); err != nil {
		return []string{err.Error()}
	}
	p, err := eng.Plan(in)
	if err != nil {
		return []string{"plan: " + err.Error()}
	}
	return checkExpect(t.Expect, p, loc)
}

func refStrings(gs []gatehouse.PlannedGrant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Ref().String()
	}
	return out
}

// normRef lets tests write a bare app for its account, like the config.
func normRef(s string) string {
	if r, err := gatehouse.ParseEntitlementRef(s); err == nil {
		return r.String()
	}
	return s
}

func checkExpect(x policyExpect, p gatehouse.Plan, loc *time.Location) []string {
	var problems []string
	if x.Profiles != nil {
		if d := setDiff(*x.Profiles, p.Profiles); d != "" {
			problems = append(problems, "profiles differ (- want, + got):\n"+d)
		}
	}
	why := map[string]string{}
	for _, g := range p.Grants {
		why[g.Ref().String()] = compactReasons(g.Reasons)
	}
	present := func(label string, want []string, got []string) {
		var missing []string
		for _, w := range want {
			if !slices.Contains(got, normRef(w)) {
				missing = append(missing, "- "+normRef(w))
			}
		}
		if len(missing) > 0 {
			problems = append(problems, label+" missing (- want):\n"+strings.Join(missing, "\n"))
		}
	}
	grants := refStrings(p.Grants)
	present("grants", x.Grants, grants)
	var unexpected []string
	for _, a := range x.Absent {
		if r := normRef(a); slices.Contains(grants, r) {
			unexpected = append(unexpected, "+ "+r+"  ← "+why[r])
		}
	}
	if len(unexpected) > 0 {
		problems = append(problems, "granted but expected absent (+ got):\n"+strings.Join(unexpected, "\n"))
	}
	var excluded []string
	for _, e := range p.Excluded {
		excluded = append(excluded, e.App+":"+e.Entitlement)
	}
	present("excluded", x.Excluded, excluded)
	present("add", x.Add, refStrings(p.Add))
	present("remove", x.Remove, refStrings(p.Remove))
	present("keep", x.Keep, refStrings(p.Keep))
	present("review", x.Review, refStrings(p.Review))
	if x.Conflicts != nil {
		var got []string
		for _, c := range p.Conflicts {
			got = append(got, c.Constraint)
		}
		if d := setDiff(*x.Conflicts, got); d != "" {
			problems = append(problems, "conflicts differ (- want, + got):\n"+d)
		}
	}
	if len(x.Approvals) > 0 {
		got := map[string][]string{}
		for _, a := range p.Approvals {
			roles := make([]string, len(a.Approvers))
			for i, r := range a.Approvers {
				roles[i] = string(r)
			}
			got[a.App+":"+a.Entitlement] = roles
		}
		refs := make([]string, 0, len(x.Approvals))
		for r := range x.Approvals {
			refs = append(refs, r)
		}
		sort.Strings(refs)
		var lines []string
		for _, r := range refs {
			want, have := x.Approvals[r], got[normRef(r)]
			if setDiff(want, have) != "" {
				lines = append(lines, fmt.Sprintf("- %s: [%s]\n+ %s: [%s]", normRef(r), strings.Join(want, ", "), normRef(r), strings.Join(have, ", ")))
			}
		}
		if len(lines) > 0 {
			problems = append(problems, "approvals differ (- want, + got):\n"+strings.Join(lines, "\n"))
		}
	}
	if x.ExpiresAt != "" {
		got := "none"
		if !p.ExpiresAt.IsZero() {
			got = p.ExpiresAt.In(loc).Format(time.RFC3339)
		}
		want := x.ExpiresAt
		ok := want == got
		if !ok && want != "none" && !p.ExpiresAt.IsZero() {
			if len(want) == len("2006-01-02") {
				ok = p.ExpiresAt.In(loc).Format("2006-01-02") == want
			} else if t, err := time.Parse(time.RFC3339, want); err == nil {
				ok = t.Equal(p.ExpiresAt)
			}
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("expires_at differs:\n- %s\n+ %s", want, got))
		}
	}
	return problems
}

// setDiff compares two lists as sets and renders the union sorted, marking
// entries only wanted with - and only got with +; "" when equal.
func setDiff(want, got []string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, s := range want {
		w[s] = true
	}
	for _, s := range got {
		g[s] = true
	}
	var all []string
	for s := range w {
		all = append(all, s)
	}
	for s := range g {
		if !w[s] {
			all = append(all, s)
		}
	}
	sort.Strings(all)
	differ := false
	lines := make([]string, len(all))
	for i, s := range all {
		switch {
		case w[s] && g[s]:
			lines[i] = "  " + s
		case w[s]:
			lines[i], differ = "- "+s, true
		default:
			lines[i], differ = "+ "+s, true
		}
	}
	if !differ {
		return ""
	}
	return strings.Join(lines, "\n")
}
