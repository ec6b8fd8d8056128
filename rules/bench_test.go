package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// Benchmarks: a person's plan against the example config and against a
// generated policy of 200 rules and 60 profiles, the same large decision
// hand-written in plain Go (for the ratio), and 10,000 people planned on
// two cores. Every benchmark asserts that evaluation compiled nothing.

func examplePeople(b *testing.B) []gatehouse.Identity {
	files, _ := filepath.Glob("../examples/people/*.json")
	var out []gatehouse.Identity
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		id, err := ParsePerson(data)
		if err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		b.Fatal("no example people")
	}
	return out
}

func BenchmarkPlanExample(b *testing.B) {
	cfg, err := config.Load("../config.example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	e, err := Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ids := examplePeople(b)
	benchPlans(b, e, ids)
}

func benchPlans(b *testing.B, e *Engine, ids []gatehouse.Identity) {
	before := Compiles()
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		if _, err := e.Plan(Input{Identity: ids[i%len(ids)], Now: testNow}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCPU(b, cpu)
	if n := Compiles() - before; n != 0 {
		b.Fatalf("%d expr compiles during evaluation", n)
	}
}

// reportCPU adds CPU time per op: the cost of the work itself, whatever else
// the machine is doing.
func reportCPU(b *testing.B, start time.Duration) {
	if c := cpuTime(); c > 0 {
		b.ReportMetric(float64((c-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// ---- the generated large policy ----

const (
	genApps     = 20
	genEntsPer  = 15
	genProfiles = 60
	genRules    = 200
	genDepts    = 20
	genTeams    = 40
	genLocs     = 8
)

// genRule is one generated rule, with the same condition as Go code for the
// plain-Go baseline.
type genRule struct {
	name, when string
	pred       func(id *gatehouse.Identity, now time.Time) bool
	profile    string
	grant      string
	exclude    string
	approvers  string
}

type genPolicy struct {
	yaml     string
	rules    []genRule
	profiles map[string][]string // profile → its grants
	includes map[string]string   // profile → included profile
}

var (
	genOnce sync.Once
	gen     genPolicy
)

func generated() genPolicy {
	genOnce.Do(func() { gen = generate() })
	return gen
}

func ent(a, n int) string {
	if n == 0 {
		return fmt.Sprintf("app%02d:account", a)
	}
	return fmt.Sprintf("app%02d:e%02d", a, n)
}

func generate() genPolicy {
	var sb strings.Builder
	g := genPolicy{profiles: map[string][]string{}, includes: map[string]string{}}
	sb.WriteString("version: 1\norganization: {name: Gen, domain: example.com, time_zone: Europe/Berlin}\nadmins: {it: [U0IT00001]}\napps:\n")
	for a := 0; a < genApps; a++ {
		fmt.Fprintf(&sb, "  app%02d:\n    connector: simulated\n    owner: owner%d@example.com\n    entitlements:\n", a, a)
		for n := 1; n < genEntsPer; n++ {
			risk := []string{"low", "low", "medium", "high", "critical"}[n%5]
			fmt.Fprintf(&sb, "      e%02d: {kind: group, risk: %s}\n", n, risk)
		}
	}
	sb.WriteString("profiles:\n")
	for p := 0; p < genProfiles; p++ {
		name := fmt.Sprintf("p%02d", p)
		var grants []string
		for k := 0; k < 6; k++ {
			grants = append(grants, ent((p*3+k*7)%genApps, 1+(p+k*5)%(genEntsPer-1)))
		}
		g.profiles[name] = grants
		fmt.Fprintf(&sb, "  %s:\n    grants: [%s]\n", name, strings.Join(grants, ", "))
		if p%4 == 1 {
			inc := fmt.Sprintf("p%02d", p-1)
			g.includes[name] = inc
			fmt.Fprintf(&sb, "    includes: [%s]\n", inc)
		}
	}
	sb.WriteString("rules:\n")
	for r := 0; r < genRules; r++ {
		gr := genRule{name: fmt.Sprintf("r%03d", r), profile: fmt.Sprintf("p%02d", r%genProfiles)}
		d, t1, t2, loc := r%genDepts, r%genTeams, (r+7)%genTeams, r%genLocs
		// the plain-Go predicates compare with precomputed strings, as
		// hand-written code would
		dept, team1, team2, locS, lvlS := fmt.Sprint("dept-", d), fmt.Sprint("team-", t1), fmt.Sprint("team-", t2), fmt.Sprint("loc-", loc), fmt.Sprint("L", r%6)
		switch r % 5 {
		case 0:
			gr.when = fmt.Sprintf(`identity.department == "dept-%d" && identity.kind == "employee"`, d)
			gr.pred = func(id *gatehouse.Identity, _ time.Time) bool {
				return id.Department == dept && id.Kind == gatehouse.KindEmployee
			}
		case 1:
			gr.when = fmt.Sprintf(`identity.team in ["team-%d", "team-%d"] && identity.is_human`, t1, t2)
			gr.pred = func(id *gatehouse.Identity, _ time.Time) bool {
				return (id.Team == team1 || id.Team == team2) && id.Kind.Human()
			}
		case 2:
			gr.when = fmt.Sprintf(`attr("level") == "L%d" && identity.location == "loc-%d"`, r%6, loc)
			gr.pred = func(id *gatehouse.Identity, _ time.Time) bool {
				return id.Attributes["level"] == lvlS && id.Location == locS
			}
		case 3:
			gr.when = fmt.Sprintf(`identity.department == "dept-%d" && matches(identity.title, "^(Senior|Staff) ")`, d)
			re := regexp.MustCompile("^(Senior|Staff) ")
			gr.pred = func(id *gatehouse.Identity, _ time.Time) bool {
				return id.Department == dept && re.MatchString(id.Title)
			}
		case 4:
			gr.when = fmt.Sprintf(`hasAttr("flag-%d") || identity.kind == "contractor" && daysUntil(identity.end_date) < %d`, r%10, 20+r%30)
			flag, days := fmt.Sprint("flag-", r%10), 20+r%30
			gr.pred = func(id *gatehouse.Identity, now time.Time) bool {
				_, ok := id.Attributes[flag]
				return ok || id.Kind == gatehouse.KindContractor && daysBetween(now, id.EndDate.In(time.UTC), time.UTC) < days
			}
		}
		fmt.Fprintf(&sb, "  - name: %s\n    when: '%s'\n    profiles: [%s]\n", gr.name, gr.when, gr.profile)
		gr.grant = ent((r*11)%genApps, 1+r%(genEntsPer-1))
		fmt.Fprintf(&sb, "    grant: [%s]\n", gr.grant)
		if r%10 == 9 {
			gr.exclude = ent((r*13)%genApps, 1+(r*3)%(genEntsPer-1))
			fmt.Fprintf(&sb, "    exclude: [%s]\n", gr.exclude)
		}
		if r%7 == 3 {
			gr.approvers = "it"
			sb.WriteString("    approvers: [it]\n")
		}
		g.rules = append(g.rules, gr)
	}
	sb.WriteString("approvals:\n  high: {approvers: [manager]}\n  critical: {approvers: [manager, app_owner], two_person: true}\n")
	sb.WriteString("sod:\n  - name: s1\n    entitlements: [app00:e01, app01:e01]\n  - name: s2\n    entitlements: [app02:e03, app03:e04, app04:e05]\n    action: review\n")
	g.yaml = sb.String()
	return g
}

func largePeople(n int) []gatehouse.Identity {
	out := make([]gatehouse.Identity, n)
	titles := []string{"Senior Engineer", "Engineer", "Staff Engineer", "Analyst"}
	for i := range out {
		id := gatehouse.Identity{
			Kind: gatehouse.KindEmployee, Email: fmt.Sprintf("p%d@example.com", i), Name: fmt.Sprint("Person ", i),
			Department: fmt.Sprint("dept-", i%genDepts), Team: fmt.Sprint("team-", (i*7)%genTeams),
			Location: fmt.Sprint("loc-", i%genLocs), Title: titles[i%len(titles)],
			Attributes: map[string]string{"level": fmt.Sprint("L", i%6)},
		}
		if i%5 == 0 {
			id.Attributes[fmt.Sprint("flag-", i%10)] = "1"
		}
		if i%9 == 0 {
			id.Kind, id.EndDate = gatehouse.KindContractor, gatehouse.Date{Year: 2026, Month: 12, Day: 10 + i%20}
		}
		out[i] = id
	}
	return out
}

func largeEngine(b *testing.B) *Engine {
	return mustEngine(b, generated().yaml)
}

func BenchmarkPlanLarge(b *testing.B) {
	e := largeEngine(b)
	ids := largePeople(1000)
	benchPlans(b, e, ids)
	st := largeStats(e, ids)
	b.ReportMetric(st.rulesMatched, "rules-matched/person")
	b.ReportMetric(st.grants, "grants/person")
}

type stats struct{ rulesMatched, grants float64 }

func largeStats(e *Engine, ids []gatehouse.Identity) stats {
	var st stats
	for _, id := range ids {
		p, _ := e.Plan(Input{Identity: id, Now: testNow})
		st.grants += float64(len(p.Grants))
		s := e.get()
		_ = e.evaluate(s, &id, nil, gatehouse.EventJoiner, testNow)
		st.rulesMatched += float64(len(s.matched))
		e.put(s)
	}
	st.rulesMatched /= float64(len(ids))
	st.grants /= float64(len(ids))
	return st
}

// plainGo is the large policy's decision hand-written in ordinary Go: the
// same conditions as Go predicates, maps for grants and reasons, exclusions,
// account implication, approvals and sorted output. It is what one would
// write without a rules engine, and the yardstick for the engine's cost.
type plainGo struct {
	rules    []genRule
	expanded map[string][]gatehouse.Reason // profile → (entitlement via profile) pairs, as Reason{Rule: ent, Profile: via}
	risk     map[string]gatehouse.Risk
}

func newPlainGo(g genPolicy, cfg *config.Config) *plainGo {
	pg := &plainGo{rules: g.rules, expanded: map[string][]gatehouse.Reason{}, risk: map[string]gatehouse.Risk{}}
	for name := range g.profiles {
		for p := name; p != ""; p = g.includes[p] {
			for _, e := range g.profiles[p] {
				pg.expanded[name] = append(pg.expanded[name], gatehouse.Reason{Rule: e, Profile: p})
			}
		}
	}
	for _, a := range cfg.AppNames() {
		for n, en := range cfg.Apps[a].Entitlements {
			pg.risk[a+":"+n] = en.Risk
		}
	}
	return pg
}

func (pg *plainGo) plan(id *gatehouse.Identity, now time.Time) gatehouse.Plan {
	reasons := map[string][]gatehouse.Reason{}
	excluded := map[string][]gatehouse.Reason{}
	approvers := map[string][]gatehouse.ApproverRole{}
	var profiles []string
	for _, r := range pg.rules {
		if !r.pred(id, now) {
			continue
		}
		profiles = append(profiles, r.profile)
		for _, x := range pg.expanded[r.profile] {
			reasons[x.Rule] = append(reasons[x.Rule], gatehouse.Reason{Rule: r.name, Profile: x.Profile})
			if r.approvers != "" {
				approvers[x.Rule] = append(approvers[x.Rule], gatehouse.ApproverRole(r.approvers))
			}
		}
		reasons[r.grant] = append(reasons[r.grant], gatehouse.Reason{Rule: r.name})
		if r.exclude != "" {
			excluded[r.exclude] = append(excluded[r.exclude], gatehouse.Reason{Rule: r.name})
		}
	}
	for ref := range excluded {
		delete(reasons, ref)
	}
	for ref, rs := range reasons {
		app, _, _ := strings.Cut(ref, ":")
		if acct := app + ":account"; acct != ref {
			if _, ok := excluded[acct]; !ok {
				reasons[acct] = append(reasons[acct], rs...)
			}
		}
	}
	refs := make([]string, 0, len(reasons))
	for ref := range reasons {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	p := gatehouse.Plan{Identity: id.Key(), Profiles: profiles}
	for _, ref := range refs {
		app, ent, _ := strings.Cut(ref, ":")
		g := gatehouse.PlannedGrant{App: app, Entitlement: ent, Risk: pg.risk[ref], Reasons: reasons[ref]}
		p.Grants = append(p.Grants, g)
		var roles []gatehouse.ApproverRole
		switch g.Risk {
		case gatehouse.RiskHigh:
			roles = []gatehouse.ApproverRole{"manager"}
		case gatehouse.RiskCritical:
			roles = []gatehouse.ApproverRole{"manager", "app_owner"}
		}
		roles = append(roles, approvers[ref]...)
		if len(roles) > 0 {
			p.Approvals = append(p.Approvals, gatehouse.ApprovalRequirement{App: app, Entitlement: ent, Risk: g.Risk, Approvers: roles, Required: 1})
		}
	}
	return p
}

func BenchmarkPlanPlainGo(b *testing.B) {
	e := largeEngine(b)
	pg := newPlainGo(generated(), e.Config())
	ids := largePeople(1000)
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		_ = pg.plan(&ids[i%len(ids)], testNow)
		i++
	}
	reportCPU(b, cpu)
}

// TestPlainGoAgrees checks that the baseline makes the same decision as the
// engine (same grants), so the ratio compares like with like.
func TestPlainGoAgrees(t *testing.T) {
	e := mustEngine(t, generated().yaml)
	pg := newPlainGo(generated(), e.Config())
	for _, id := range largePeople(300) {
		want, err := e.Plan(Input{Identity: id, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		got := pg.plan(&id, testNow)
		if a, b := strings.Join(refs(want.Grants), " "), strings.Join(refs(got.Grants), " "); a != b {
			t.Fatalf("%s: engine %s\nplain %s", id.Email, a, b)
		}
		if len(want.Approvals) == 0 && len(got.Approvals) != 0 {
			t.Fatalf("%s: approvals differ", id.Email)
		}
	}
}

// Benchmark10kPeople plans 10,000 people per operation on two cores.
func Benchmark10kPeople(b *testing.B) {
	e := largeEngine(b)
	ids := largePeople(10_000)
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	before := Compiles()
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < len(ids); i += 2 {
					if _, err := e.Plan(Input{Identity: ids[i], Now: testNow}); err != nil {
						b.Error(err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
	}
	if n := Compiles() - before; n != 0 {
		b.Fatalf("%d expr compiles during evaluation", n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/10k")
	if c := cpuTime(); c > 0 {
		b.ReportMetric(float64((c-cpu).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/10k")
	}
}

// TestLargeRulesAreNative guards the fast path: every generated condition
// must be translated, or BenchmarkPlanLarge silently measures the VM.
func TestLargeRulesAreNative(t *testing.T) {
	e := mustEngine(t, generated().yaml)
	for _, r := range e.rules {
		if r.fast == nil {
			t.Errorf("rule %s runs on the VM", r.name)
		}
	}
	cfg, err := config.Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ex.rules {
		if r.fast == nil && r.when != nil {
			t.Errorf("example rule %s runs on the VM", r.name)
		}
	}
}

// BenchmarkConditionsNative and BenchmarkConditionsPlainGo time only the 200
// conditions of the large policy for one person (no index, no plan
// building): the translated expressions against the same predicates written
// in Go.
func BenchmarkConditionsNative(b *testing.B) {
	e := largeEngine(b)
	ids := largePeople(1000)
	s := e.get()
	defer e.put(s)
	b.ReportAllocs()
	i, n := 0, 0
	for b.Loop() {
		id := &ids[i%len(ids)]
		s.env.set(id, nil, gatehouse.EventJoiner, testNow, e.loc)
		for r := range e.rules {
			if e.rules[r].fast(s.env) {
				n++
			}
		}
		i++
	}
	_ = n
}

func BenchmarkConditionsPlainGo(b *testing.B) {
	g := generated()
	ids := largePeople(1000)
	b.ReportAllocs()
	i, n := 0, 0
	for b.Loop() {
		id := &ids[i%len(ids)]
		for _, r := range g.rules {
			if r.pred(id, testNow) {
				n++
			}
		}
		i++
	}
	_ = n
}

// BenchmarkConditionsVM runs the same 200 conditions on expr's VM, which is
// what the native translation saves.
func BenchmarkConditionsVM(b *testing.B) {
	e := largeEngine(b)
	ids := largePeople(1000)
	s := e.get()
	defer e.put(s)
	b.ReportAllocs()
	i, n := 0, 0
	for b.Loop() {
		id := &ids[i%len(ids)]
		s.env.set(id, nil, gatehouse.EventJoiner, testNow, e.loc)
		for r := range e.rules {
			out, err := s.vm.Run(e.rules[r].when, s.env)
			if err != nil {
				b.Fatal(err)
			}
			if out == true {
				n++
			}
		}
		i++
	}
	_ = n
}
