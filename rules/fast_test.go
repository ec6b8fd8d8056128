package rules

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// TestNativeMatchesVM runs every expression on both evaluators over a set of
// identities and demands the same answer (or an error from both).
func TestNativeMatchesVM(t *testing.T) {
	exprs := []struct {
		src    string
		native bool // expected to be translated
	}{
		{`identity.department == "Eng"`, true},
		{`identity.department != "Eng" && identity.kind == "employee"`, true},
		{`identity.kind in ["employee", "intern"]`, true},
		{`inList(identity.location, ["Berlin", "Dublin"])`, true},
		{`!inList(identity.location, ["Berlin", "Dublin"])`, true},
		{`identity.team not in ["sre"]`, true},
		{`matches(identity.title, "(?i)^(engineering manager|director)")`, true},
		{`identity.title matches "Eng"`, true},
		{`hasAttr("seniority") || attr("manager") == "true"`, true},
		{`identity.seniority == "senior"`, true},
		{`identity.attributes["manager"] == "true"`, true},
		{`identity.attributes.manager == "true"`, true},
		{`"manager" in identity.attributes`, true},
		{`identity.is_human`, true},
		{`!identity.is_human`, true},
		{`event == "joiner"`, true},
		{`daysUntil(identity.end_date) < 30`, true},
		{`daysUntil(identity.end_date) >= -1`, true},
		{`identity.end_date > now`, true},
		{`identity.end_date.IsZero()`, true},
		{`!identity.end_date.IsZero() && identity.end_date <= now`, true},
		{`identity.start_date == identity.end_date`, true},
		{`previous != nil && previous.department != identity.department`, true},
		{`previous == nil`, true},
		{`nil == previous`, true},
		{`previous.team == "sre"`, true},
		{`lower(identity.email) endsWith "@example.com"`, true},
		{`identity.name startsWith "A" or identity.name contains "z"`, true},
		{`upper(trim(identity.team)) == "SRE"`, true},
		{`identity.kind == "contractor" ? identity.team == "sre" : identity.team == "backend"`, true},
		{`identity.email < identity.name`, true},
		{`true`, true},
		{`false || false`, true},
		{`len(identity.name) > 3`, false},
		{`previous?.team == "sre"`, false},
		{`identity.end_date.Year() == 2027`, false},
		{`daysUntil(identity.end_date) < 30.5`, false},
		{`any(["a", "b"], # == identity.team)`, false},
		{`identity.manager_email == identity.email || identity.owner == "" && identity.purpose == "" || identity.status == "active" || identity.employee_id == "1"`, true},
		{`identity.start_date.IsZero() || identity.expiry > now`, true},
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ids := []gatehouse.Identity{
		{Kind: "employee", Email: "ada@example.com", Name: "Ada", Department: "Eng", Team: "sre", Title: "Engineering Manager", Location: "Berlin", Attributes: map[string]string{"seniority": "senior", "manager": "true"}},
		{Kind: "contractor", Email: "zed@example.com", Name: "Zed", Department: "Eng", Team: " sre ", Location: "Austin", EndDate: gatehouse.Date{Year: 2026, Month: 12, Day: 20}},
		{Kind: "bot", Email: "bot@example.com", Name: "b", Owner: "o@example.com", Purpose: "ci", Expiry: gatehouse.Date{Year: 2027, Month: 1, Day: 1}},
		{Kind: "intern", Email: "i@example.com", Name: "Ivy", Department: "Sales", Team: "backend", Title: "director", StartDate: gatehouse.Date{Year: 2026, Month: 12, Day: 1}, EndDate: gatehouse.Date{Year: 2026, Month: 12, Day: 1}},
	}
	env := newEnv(loc)
	var machine vm.VM
	for _, x := range exprs {
		p, cerr := compileExpr(config.Expr{Source: x.src}, "t", nil, loc, nil)
		if cerr != nil {
			t.Fatalf("%s: %v", x.src, cerr)
		}
		fast := translate(p.Node())
		if (fast != nil) != x.native {
			t.Errorf("%s: translated = %v, want %v", x.src, fast != nil, x.native)
		}
		if fast == nil {
			continue
		}
		for i := range ids {
			for _, prev := range []*gatehouse.Identity{nil, &ids[(i+1)%len(ids)]} {
				env.set(&ids[i], prev, gatehouse.EventJoiner, now, loc)
				want, verr := machine.Run(p, env)
				got, ferr := runFast(fast, env)
				name := fmt.Sprintf("%s [%s prev=%v]", x.src, ids[i].Email, prev != nil)
				if (verr != nil) != (ferr != nil) {
					t.Errorf("%s: vm err %v, native err %v", name, verr, ferr)
					continue
				}
				if verr == nil && want != got {
					t.Errorf("%s: vm %v, native %v", name, want, got)
				}
			}
		}
	}
}

func runFast(f func(*Env) bool, e *Env) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return f(e), nil
}

func TestRenameMatches(t *testing.T) {
	for in, want := range map[string]string{
		`matches(a, "x")`:                                `matchesRe(a, "x")`,
		`a matches "x"`:                                  `a matches "x"`,
		`x.matches(1) || matches (a,b)`:                  `x.matches(1) || matchesRe (a,b)`,
		`t == "matches(x)" && matches(t, 'a\'matches(')`: `t == "matches(x)" && matchesRe(t, 'a\'matches(')`,
		`ismatches(a)`:                                   `ismatches(a)`,
	} {
		if got := renameMatches(in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	_ = strings.TrimSpace
}

// TestGuardsDoNotChangePlans compares plans with the guard index against
// plans evaluating every rule.
func TestGuardsDoNotChangePlans(t *testing.T) {
	for _, text := range []string{generated().yaml, testConfig} {
		e := mustEngine(t, text)
		if len(e.guards) == 0 {
			t.Fatal("no guards found")
		}
		plain := mustEngine(t, text)
		plain.guards = nil
		for i := range plain.rules {
			plain.rules[i].guarded = false
		}
		for _, id := range append(largePeople(200), person("a@example.com"), person("s@example.com", func(i *gatehouse.Identity) { i.Team = "sre" })) {
			a, err1 := e.Plan(Input{Identity: id, Now: testNow})
			b, err2 := plain.Plan(Input{Identity: id, Now: testNow})
			if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: guarded plan differs", id.Email)
			}
		}
	}
}
