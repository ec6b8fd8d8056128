package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
)

const offboardUsage = "offboard EMAIL [--at TIME] [--yes] [--config FILE] [--db FILE] [--simulate] [--wait=false] [--reason TEXT]"

func init() {
	register(command{Name: "offboard", Summary: "deprovision a leaver everywhere (asks to confirm the plan unless --yes)", Usage: offboardUsage, Run: runOffboard})
}

// Seams for tests: the confirmation prompt reads stdin when it is a terminal.
var (
	confirmIn           io.Reader = os.Stdin
	confirmInIsTerminal           = func() bool { return isTerminal(os.Stdin) }
)

func runOffboard(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("offboard", offboardUsage, stderr)
	f := addEngineFlags(fs, true)
	at := fs.String("at", "", "when access ends: RFC 3339 time, or a date (midnight at its start in the person's time zone); default now")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	reason := fs.String("reason", "", "why, for the audit log")
	pos, code, ok := parseArgs(fs, args, 1)
	if !ok {
		return code
	}
	email := strings.ToLower(strings.TrimSpace(pos[0]))
	if !gatehouse.ValidEmail(email) {
		return fail(stderr, "%q is not an email address", pos[0])
	}
	if !*yes && !confirmInIsTerminal() {
		return fail(stderr, "refusing to offboard %s without confirmation: stdin is not a terminal; review 'gatehouse offboard %s' interactively or pass --yes", email, email)
	}
	env, code := openLifecycle(f, stderr, openOpts{stdout: stdout, mustExist: true})
	if env == nil {
		return code
	}
	defer env.close()
	plan, err := env.eng.PlanOffboard(ctx, email)
	if err != nil {
		return fail(stderr, "%s", lifecycleErr(err))
	}
	effective := time.Now()
	if *at != "" {
		effective, err = parseAt(*at, plan.Identity.Zone(env.cfg.Location()))
		if err != nil {
			return fail(stderr, "%v", err)
		}
	}
	if !*yes {
		printOffboardPlan(stdout, plan, effective)
		fmt.Fprint(stdout, "Offboard "+email+"? Type yes to proceed: ")
		line, _ := bufio.NewReader(confirmIn).ReadString('\n')
		if strings.TrimSpace(strings.ToLower(line)) != "yes" {
			fmt.Fprintln(stdout, "not confirmed; nothing was changed")
			return 1
		}
	}
	ev := gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: email}, EffectiveAt: effective,
		Source: "cli", Actor: cliActor(), Reason: *reason}
	run, created, err := env.eng.Submit(ctx, ev)
	if err != nil {
		return fail(stderr, "%s", lifecycleErr(err))
	}
	if !created {
		fmt.Fprintf(stdout, "the same event was already submitted; following run %s\n", run.ID)
	}
	return env.execute(ctx, f, run, stdout, stderr)
}

// parseAt reads --at: RFC 3339, or a date meaning the start of that day in loc.
func parseAt(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := gatehouse.ParseDate(s)
	if err != nil || d.IsZero() {
		return time.Time{}, fmt.Errorf("--at %q: want a date (2026-12-01) or an RFC 3339 time", s)
	}
	return d.In(loc), nil
}

func printOffboardPlan(w io.Writer, p lifecycle.OffboardPlan, at time.Time) {
	fmt.Fprintf(w, "Offboarding %s <%s> at %s\n", p.Identity.Name, p.Identity.Email, at.Format(time.RFC3339))
	fmt.Fprintf(w, "Accounts Gatehouse knows (%d):\n", len(p.Accounts))
	for _, a := range p.Accounts {
		extra := ""
		if len(a.Revoke) > 0 {
			extra += "; removes " + strings.Join(a.Revoke, ", ") + " first"
		}
		if a.Verify != "" {
			extra += "; " + a.Verify
		}
		fmt.Fprintf(w, "  %-12s %-8s %s (%s%s)\n", a.App, a.Action, strings.Join(a.Entitlements, ", "), joinSources(a.Sources), extra)
	}
	if len(p.Discover) > 0 {
		fmt.Fprintf(w, "Will search for accounts Gatehouse never granted in: %s\n", strings.Join(p.Discover, ", "))
	}
	if len(p.Receivers) > 0 {
		fmt.Fprintln(w, "Who receives what (per app; the next in line if the app refuses):")
		for _, r := range p.Receivers {
			note := ""
			if !r.HasAccount {
				note = ", no account there: a hand-off task if the app refuses"
			}
			var next []string
			for _, f := range r.Fallbacks {
				next = append(next, f.Email+" ("+f.Role+")")
			}
			then := ""
			if len(next) > 0 {
				then = "; then " + strings.Join(next, ", ")
			}
			fmt.Fprintf(w, "  %-12s %s (%s%s)%s\n", r.App, r.Email, r.Role, note, then)
		}
	} else if p.TransferTo != "" {
		fmt.Fprintf(w, "Resources transfer to: %s\n", p.TransferTo)
	}
	if len(p.RotateCredentials) > 0 {
		fmt.Fprintf(w, "Shared credentials to rotate (tasks for the app owners): %s\n", strings.Join(p.RotateCredentials, ", "))
	}
	fmt.Fprintf(w, "Seat cost reclaimed: %.2f/month\n", p.SeatCost)
	fmt.Fprintf(w, "Steps (%d):\n", len(p.Steps))
	for _, s := range p.Steps {
		deps := ""
		if len(s.DependsOn) > 0 {
			deps = " after " + strings.Join(s.DependsOn, ", ")
		}
		fmt.Fprintf(w, "  %s%s\n", s.ID, deps)
	}
}

func joinSources(ss []gatehouse.GrantSource) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
