package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/rules"
)

const planUsage = `plan [--config FILE] --person FILE.json [--previous FILE.json] [--event EVENT] [--now TIME] [--json]

Prints the access plan for a person: profiles, every grant with the rules and
profiles that caused it, exclusions, approvals needed and by whom, SoD
conflicts and expiry. With --previous (a mover) it prints the diff: + to add,
- to remove, ~ unchanged, and flags high-risk additions for manager review.
--now fixes the evaluation time (a date means 09:00 in the org time zone).
--json prints the stable schema "gatehouse.plan/v1" (see docs/rules.md).`

func init() {
	register(command{Name: "plan", Summary: "show the access plan (and mover diff) for a person file", Usage: planUsage, Run: runPlan})
}

// planSchema names the --json output format; bump it on incompatible change.
const planSchema = "gatehouse.plan/v1"

// planJSON is the --json output. Every list is always present (possibly
// empty) so consumers need no null checks.
type planJSON struct {
	Schema    string                          `json:"schema"`
	Identity  planIdentityJSON                `json:"identity"`
	Event     gatehouse.EventType             `json:"event"`
	Now       time.Time                       `json:"now"`
	Profiles  []string                        `json:"profiles"`
	Grants    []gatehouse.PlannedGrant        `json:"grants"`
	Excluded  []gatehouse.Exclusion           `json:"excluded"`
	Approvals []gatehouse.ApprovalRequirement `json:"approvals"`
	Conflicts []gatehouse.Conflict            `json:"conflicts"`
	ExpiresAt *time.Time                      `json:"expires_at"`
	Add       []gatehouse.PlannedGrant        `json:"add"`
	Remove    []gatehouse.PlannedGrant        `json:"remove"`
	Keep      []gatehouse.PlannedGrant        `json:"keep"`
	Review    []gatehouse.PlannedGrant        `json:"review"`
	Summary   planSummaryJSON                 `json:"summary"`
}

type planIdentityJSON struct {
	Key   string                 `json:"key"`
	Email string                 `json:"email"`
	Name  string                 `json:"name,omitempty"`
	Kind  gatehouse.IdentityKind `json:"kind"`
}

type planSummaryJSON struct {
	Add         int     `json:"add"`
	Remove      int     `json:"remove"`
	Keep        int     `json:"keep"`
	Approvals   int     `json:"approvals"`
	Conflicts   int     `json:"conflicts"`
	Review      int     `json:"review"`
	MonthlyCost float64 `json:"monthly_cost"`
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "config `FILE`")
	personPath := fs.String("person", "", "person `FILE.json`")
	prevPath := fs.String("previous", "", "the person before a move, `FILE.json` (makes the event a mover)")
	event := fs.String("event", "", "lifecycle `EVENT`: joiner, mover, leaver, rehire, leave_of_absence, return, contract_end, expiry")
	nowFlag := fs.String("now", "", "evaluate at `TIME` (RFC 3339 or a date); default the current time")
	asJSON := fs.Bool("json", false, "print JSON (schema "+planSchema+")")
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: gatehouse "+planUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *personPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	in := rules.Input{}
	if *event != "" {
		ev, err := gatehouse.ParseEventType(*event)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse: plan: %v\n", err)
			return 2
		}
		in.Event = ev
	}
	cfg, eng, err := loadPolicy(*cfgPath)
	if err != nil {
		printConfigErrors(stderr, err)
		return 1
	}
	if in.Now, err = parseNow(*nowFlag, cfg.Location()); err != nil {
		fmt.Fprintf(stderr, "gatehouse: plan: %v\n", err)
		return 2
	}
	if in.Identity, err = readPerson(*personPath); err != nil {
		return fail(stderr, "plan: %v", err)
	}
	if *prevPath != "" {
		prev, err := readPerson(*prevPath)
		if err != nil {
			return fail(stderr, "plan: %v", err)
		}
		in.Previous = &prev
	}
	plan, err := eng.Plan(in)
	if err != nil {
		return fail(stderr, "plan: %v", err)
	}
	if *asJSON {
		out := toPlanJSON(in, plan)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "plan: write: %v", err)
		}
		return 0
	}
	writePlan(stdout, cfg, in, plan)
	return 0
}

func toPlanJSON(in rules.Input, p gatehouse.Plan) planJSON {
	nz := func(gs []gatehouse.PlannedGrant) []gatehouse.PlannedGrant {
		if gs == nil {
			return []gatehouse.PlannedGrant{}
		}
		return gs
	}
	out := planJSON{
		Schema:   planSchema,
		Identity: planIdentityJSON{Key: in.Identity.Key(), Email: in.Identity.Email, Name: in.Identity.Name, Kind: in.Identity.Kind},
		Event:    p.Event, Now: in.Now, Profiles: p.Profiles, Grants: nz(p.Grants), Excluded: p.Excluded,
		Approvals: p.Approvals, Conflicts: p.Conflicts,
		Add: nz(p.Add), Remove: nz(p.Remove), Keep: nz(p.Keep), Review: nz(p.Review),
	}
	if !p.ExpiresAt.IsZero() {
		t := p.ExpiresAt
		out.ExpiresAt = &t
	}
	out.Summary = planSummaryJSON{Add: len(p.Add), Remove: len(p.Remove), Keep: len(p.Keep), Approvals: len(p.Approvals), Conflicts: len(p.Conflicts), Review: len(p.Review), MonthlyCost: monthlyCost(p.Grants)}
	return out
}

func monthlyCost(gs []gatehouse.PlannedGrant) float64 {
	var c float64
	for _, g := range gs {
		c += g.MonthlyCost
	}
	return c
}

// planLine is one row of the human plan.
type planLine struct {
	sign string
	g    gatehouse.PlannedGrant
	was  bool // reasons are the previous plan's
}

// writePlan prints the plan like `terraform plan`: one line per change with
// its reasons underneath, then approvals, conflicts, review and a summary.
func writePlan(w io.Writer, cfg *config.Config, in rules.Input, p gatehouse.Plan) {
	loc := cfg.Location()
	who := in.Identity.Email
	if in.Identity.Name != "" {
		who = in.Identity.Name + " <" + in.Identity.Email + ">"
	}
	fmt.Fprintf(w, "Plan for %s (%s), event %s, at %s\n", who, in.Identity.Kind, p.Event, in.Now.In(loc).Format("2006-01-02 15:04 MST"))
	if in.Previous != nil {
		fmt.Fprintf(w, "Moving from %s to %s\n", describeRole(*in.Previous), describeRole(in.Identity))
	}
	if len(p.Profiles) > 0 {
		fmt.Fprintf(w, "Profiles: %s\n", strings.Join(p.Profiles, ", "))
	}
	var lines []planLine
	mover := in.Previous != nil || p.Event.Removes()
	if mover {
		i, j, k := 0, 0, 0
		for i < len(p.Add) || j < len(p.Remove) || k < len(p.Keep) {
			best, which := gatehouse.EntitlementRef{}, -1
			for n, list := range [][]gatehouse.PlannedGrant{p.Add, p.Remove, p.Keep} {
				idx := []int{i, j, k}[n]
				if idx < len(list) && (which < 0 || list[idx].Ref().Less(best)) {
					best, which = list[idx].Ref(), n
				}
			}
			switch which {
			case 0:
				lines = append(lines, planLine{sign: "+", g: p.Add[i]})
				i++
			case 1:
				lines = append(lines, planLine{sign: "-", g: p.Remove[j], was: true})
				j++
			case 2:
				lines = append(lines, planLine{sign: "~", g: p.Keep[k]})
				k++
			}
		}
	} else {
		for _, g := range p.Grants {
			lines = append(lines, planLine{sign: "+", g: g})
		}
	}
	review := map[gatehouse.EntitlementRef]bool{}
	for _, g := range p.Review {
		review[g.Ref()] = true
	}
	approvals := map[gatehouse.EntitlementRef]gatehouse.ApprovalRequirement{}
	for _, a := range p.Approvals {
		approvals[gatehouse.EntitlementRef{App: a.App, Entitlement: a.Entitlement}] = a
	}
	fmt.Fprintln(w)
	if len(lines) == 0 {
		fmt.Fprintln(w, "  (no access)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		flags := []string{}
		if _, ok := approvals[l.g.Ref()]; ok && l.sign == "+" {
			flags = append(flags, "approval")
		}
		if review[l.g.Ref()] {
			flags = append(flags, "REVIEW")
		}
		if !l.g.ExpiresAt.IsZero() && l.sign != "-" {
			flags = append(flags, "until "+l.g.ExpiresAt.In(loc).Format("2006-01-02"))
		}
		why := "← " + compactReasons(l.g.Reasons)
		if l.was {
			why = "← was " + compactReasons(l.g.Reasons)
		}
		flag := ""
		if len(flags) > 0 {
			flag = "[" + strings.Join(flags, ", ") + "]"
		}
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\t%s\n", l.sign, l.g.Ref(), l.g.Kind, l.g.Risk, flag, why)
	}
	tw.Flush()
	if len(p.Excluded) > 0 {
		fmt.Fprintln(w, "\nExcluded (exclusions win over grants):")
		for _, x := range p.Excluded {
			fmt.Fprintf(w, "  ! %s:%s ← %s\n", x.App, x.Entitlement, compactReasons(x.Reasons))
		}
	}
	if len(p.Approvals) > 0 {
		fmt.Fprintln(w, "\nApprovals needed:")
		for _, a := range p.Approvals {
			roles := make([]string, len(a.Approvers))
			for i, r := range a.Approvers {
				roles[i] = string(r)
			}
			n := "1 approval"
			if a.Required > 1 {
				n = fmt.Sprintf("%d distinct approvers (two-person rule)", a.Required)
			}
			fmt.Fprintf(w, "  %s:%s (%s): %s from %s  [%s]\n", a.App, a.Entitlement, a.Risk, n, strings.Join(roles, ", "), strings.Join(a.Reasons, "; "))
		}
	}
	if len(p.Conflicts) > 0 {
		fmt.Fprintln(w, "\nSegregation-of-duties conflicts:")
		for _, c := range p.Conflicts {
			refs := make([]string, len(c.Entitlements))
			for i, r := range c.Entitlements {
				refs[i] = r.String()
			}
			fmt.Fprintf(w, "  ✗ %s (%s): %s", c.Constraint, c.Action, strings.Join(refs, " + "))
			if c.Description != "" {
				fmt.Fprintf(w, " — %s", c.Description)
			}
			fmt.Fprintln(w)
		}
	}
	if len(p.Review) > 0 {
		fmt.Fprintf(w, "\nManager review: %d high-risk %s held until %s confirms:\n", len(p.Review), plural(len(p.Review), "change is", "changes are"), managerName(in.Identity))
		for _, g := range p.Review {
			fmt.Fprintf(w, "  ⚠ %s (%s)\n", g.Ref(), g.Risk)
		}
	}
	if !p.ExpiresAt.IsZero() {
		var first []string
		for _, g := range p.Grants {
			if g.ExpiresAt.Equal(p.ExpiresAt) {
				first = append(first, g.Ref().String())
			}
		}
		what := strings.Join(first, ", ")
		if len(first) == len(p.Grants) {
			what = "all access"
		} else if len(first) > 3 {
			what = fmt.Sprintf("%s and %d more", strings.Join(first[:3], ", "), len(first)-3)
		}
		fmt.Fprintf(w, "\nEarliest expiry: %s (%s)\n", p.ExpiresAt.In(loc).Format("2006-01-02 15:04 MST"), what)
	}
	fmt.Fprintf(w, "\nPlan: %d to add, %d to remove, %d unchanged; %d %s, %d %s; $%.2f/month.\n",
		len(p.Add), len(p.Remove), len(p.Keep), len(p.Approvals), plural(len(p.Approvals), "approval", "approvals"),
		len(p.Conflicts), plural(len(p.Conflicts), "conflict", "conflicts"), monthlyCost(p.Grants))
}

// compactReasons writes reasons grouped by rule, in order:
// "employees (employee-base); welcome".
func compactReasons(rs []gatehouse.Reason) string {
	var rules []string
	profiles := map[string][]string{}
	for _, r := range rs {
		if _, seen := profiles[r.Rule]; !seen {
			rules = append(rules, r.Rule)
			profiles[r.Rule] = nil
		}
		if r.Profile != "" {
			profiles[r.Rule] = append(profiles[r.Rule], r.Profile)
		}
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r
		if ps := profiles[r]; len(ps) > 0 {
			parts[i] += " (" + strings.Join(ps, ", ") + ")"
		}
	}
	return strings.Join(parts, "; ")
}

func describeRole(id gatehouse.Identity) string {
	parts := []string{}
	for _, s := range []string{id.Department, id.Team, id.Title, id.Location} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return string(id.Kind)
	}
	return strings.Join(parts, " / ")
}

func managerName(id gatehouse.Identity) string {
	if id.ManagerEmail != "" {
		return "the manager (" + id.ManagerEmail + ")"
	}
	return "the manager"
}
