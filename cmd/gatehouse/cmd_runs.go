package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

const (
	runsUsage    = "runs list [--status S] [--identity EMAIL] [--limit N] | runs show ID | runs retry ID | runs cancel ID | runs resume   (each with [--config FILE] [--db FILE] [--simulate])"
	approveUsage = "approve ID --as EMAIL [--reason TEXT] [--config FILE] [--db FILE] [--simulate] [--wait=false]"
	denyUsage    = "deny ID --as EMAIL [--reason TEXT] [--config FILE] [--db FILE] [--simulate] [--wait=false]"
	tasksUsage   = "tasks list [--assignee EMAIL] [--all] | tasks done ID --as EMAIL --evidence TEXT [--cant-do]   (each with [--config FILE] [--db FILE] [--simulate])"
)

func init() {
	register(command{Name: "runs", Summary: "list, show, retry, cancel or resume lifecycle runs", Usage: runsUsage, Run: runRuns})
	register(command{Name: "approve", Summary: "approve an access request as EMAIL (break-glass; same checks as Slack)", Usage: approveUsage,
		Run: func(ctx context.Context, a []string, o, e io.Writer) int {
			return runDecide(ctx, "approve", approveUsage, true, a, o, e)
		}})
	register(command{Name: "deny", Summary: "deny an access request as EMAIL", Usage: denyUsage,
		Run: func(ctx context.Context, a []string, o, e io.Writer) int {
			return runDecide(ctx, "deny", denyUsage, false, a, o, e)
		}})
	register(command{Name: "tasks", Summary: "list manual tasks, or complete one with evidence", Usage: tasksUsage, Run: runTasks})
}

func runRuns(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", runsUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		return runsList(args, stdout, stderr)
	case "show":
		return runsShow(args, stdout, stderr)
	case "retry", "cancel", "resume":
		return runsAct(ctx, sub, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "gatehouse runs: unknown subcommand %q\nusage: gatehouse %s\n", sub, runsUsage)
	return 2
}

func runsList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("runs list", runsUsage, stderr)
	f := addEngineFlags(fs, false)
	status := fs.String("status", "", "only runs with this status (comma-separated)")
	ident := fs.String("identity", "", "only runs of this identity (email or key)")
	limit := fs.Int("limit", 50, "at most this many (0: all)")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	env, code := openLifecycle(f, stderr, openOpts{mustExist: true, readOnly: true})
	if env == nil {
		return code
	}
	defer env.close()
	filter := store.RunFilter{Limit: *limit}
	for _, s := range strings.Split(*status, ",") {
		if s = strings.TrimSpace(s); s != "" {
			filter.Status = append(filter.Status, gatehouse.RunStatus(s))
		}
	}
	if *ident != "" {
		id, err := env.db.IdentityByEmail(*ident)
		if err != nil {
			id.ID = *ident
		}
		filter.IdentityKey = id.Key()
	}
	runs, err := env.db.ListRuns(filter)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tEVENT\tIDENTITY\tSTATUS\tCREATED\tSUMMARY")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Event.Type, r.Event.Identity.Email, r.Status,
			r.CreatedAt.Local().Format("2006-01-02 15:04"), oneLine(r.Summary, 80))
	}
	tw.Flush()
	return 0
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func runsShow(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("runs show", runsUsage, stderr)
	f := addEngineFlags(fs, false)
	pos, code, ok := parseArgs(fs, args, 1)
	if !ok {
		return code
	}
	env, code := openLifecycle(f, stderr, openOpts{mustExist: true, readOnly: true})
	if env == nil {
		return code
	}
	defer env.close()
	r, err := env.db.GetRun(pos[0])
	if errors.Is(err, store.ErrNotFound) {
		return fail(stderr, "run %s does not exist (see 'gatehouse runs list')", pos[0])
	} else if err != nil {
		return fail(stderr, "%v", err)
	}
	steps, err := env.db.Steps(r.ID)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "run %s\n  event:    %s %s (source %s, by %s)\n  status:   %s\n  created:  %s\n", r.ID, r.Event.Type,
		r.Event.Identity.Email, r.Event.Source, r.Event.Actor, r.Status, r.CreatedAt.Format(time.RFC3339))
	if !r.NotBefore.IsZero() {
		fmt.Fprintf(stdout, "  not before: %s\n", r.NotBefore.Format(time.RFC3339))
	}
	if r.Summary != "" {
		fmt.Fprintf(stdout, "  summary:  %s\n", r.Summary)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tATTEMPTS\tDETAIL")
	for _, s := range steps {
		detail := s.LastError
		if t := s.Result["task_id"]; t != "" {
			detail = "task " + t + " " + detail
		}
		if a := s.Result["approval_id"]; a != "" {
			detail = "approval " + a + " " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.ID, s.Status, s.Attempts, oneLine(strings.TrimSpace(detail), 100))
	}
	tw.Flush()
	return 0
}

// runsAct retries or cancels a run, or resumes every unfinished run.
func runsAct(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("runs "+sub, runsUsage, stderr)
	f := addEngineFlags(fs, sub != "cancel")
	n := 1
	if sub == "resume" {
		n = 0
	}
	pos, code, ok := parseArgs(fs, args, n)
	if !ok {
		return code
	}
	env, code := openLifecycle(f, stderr, openOpts{stdout: stdout, mustExist: true})
	if env == nil {
		return code
	}
	defer env.close()
	by := cliActor().ID
	switch sub {
	case "cancel":
		if err := env.eng.Cancel(ctx, pos[0], by); err != nil {
			return fail(stderr, "%s", lifecycleErr(err))
		}
		fmt.Fprintf(stdout, "run %s cancelled\n", pos[0])
		return 0
	case "retry":
		if err := env.eng.Retry(ctx, pos[0], by); err != nil {
			return fail(stderr, "%s", lifecycleErr(err))
		}
		r, err := env.db.GetRun(pos[0])
		if err != nil {
			return fail(stderr, "%v", err)
		}
		return env.execute(ctx, f, r, stdout, stderr)
	}
	// resume: drive every unfinished run until each is settled.
	runs, err := env.db.UnfinishedRuns()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if err := env.start(ctx); err != nil {
		return fail(stderr, "start engine: %v", err)
	}
	if !f.wait {
		return 0
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	counts := map[gatehouse.RunStatus]int{}
	for _, r := range runs {
		got, err := env.eng.Wait(ctx, r.ID)
		if err != nil {
			return fail(stderr, "run %s: %v", r.ID, err)
		}
		counts[got.Status]++
	}
	if len(runs) == 0 {
		fmt.Fprintln(stdout, "no unfinished runs")
		return 0
	}
	fmt.Fprintf(stdout, "%d unfinished run(s) resumed:", len(runs))
	for _, s := range []gatehouse.RunStatus{gatehouse.RunSucceeded, gatehouse.RunWaiting, gatehouse.RunBlocked, gatehouse.RunScheduled, gatehouse.RunHeld, gatehouse.RunFailed, gatehouse.RunCancelled} {
		if counts[s] > 0 {
			fmt.Fprintf(stdout, " %d %s", counts[s], s)
		}
	}
	fmt.Fprintln(stdout)
	return 0
}

func runDecide(ctx context.Context, name, usage string, approve bool, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, usage, stderr)
	f := addEngineFlags(fs, true)
	as := fs.String("as", "", "the approver's email (required)")
	reason := fs.String("reason", "", "why, for the audit log")
	pos, code, ok := parseArgs(fs, args, 1)
	if !ok {
		return code
	}
	if *as == "" {
		fs.Usage()
		return 2
	}
	env, code := openLifecycle(f, stderr, openOpts{stdout: stdout, mustExist: true})
	if env == nil {
		return code
	}
	defer env.close()
	a, err := env.eng.Decide(ctx, pos[0], *as, approve, *reason)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail(stderr, "approval %s does not exist", pos[0])
		}
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "approval %s: %s\n", a.ID, a.Status)
	return env.follow(ctx, f, a.RunID, stdout, stderr)
}

// follow executes and waits for the run a decision or a task moved on (if
// any), printing its outcome.
func (env *lifecycleEnv) follow(ctx context.Context, f *engineFlags, runID string, stdout, stderr io.Writer) int {
	if runID == "" {
		return 0
	}
	r, err := env.db.GetRun(runID)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	return env.execute(ctx, f, r, stdout, stderr)
}

func runTasks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", tasksUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		fs := newFlagSet("tasks list", tasksUsage, stderr)
		f := addEngineFlags(fs, false)
		assignee := fs.String("assignee", "", "only tasks assigned to this email")
		all := fs.Bool("all", false, "include closed tasks")
		if _, code, ok := parseArgs(fs, args, 0); !ok {
			return code
		}
		env, code := openLifecycle(f, stderr, openOpts{mustExist: true, readOnly: true})
		if env == nil {
			return code
		}
		defer env.close()
		filter := store.TaskFilter{Assignee: *assignee}
		if !*all {
			filter.Status = []gatehouse.TaskStatus{gatehouse.TaskOpen}
		}
		tasks, err := env.db.ListTasks(filter)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TASK\tSTATUS\tASSIGNEE\tESCALATED\tTITLE")
		for _, t := range tasks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", t.ID, t.Status, t.Assignee, t.Escalated, oneLine(t.Title, 90))
		}
		tw.Flush()
		return 0
	case "done":
		fs := newFlagSet("tasks done", tasksUsage, stderr)
		f := addEngineFlags(fs, true)
		as := fs.String("as", "", "who did it (email, required)")
		evidence := fs.String("evidence", "", "what was done, where (required unless --cant-do)")
		cantDo := fs.Bool("cant-do", false, "close the task as impossible instead")
		pos, code, ok := parseArgs(fs, args, 1)
		if !ok {
			return code
		}
		if *as == "" || (*evidence == "" && !*cantDo) {
			fs.Usage()
			return 2
		}
		env, code := openLifecycle(f, stderr, openOpts{stdout: stdout, mustExist: true})
		if env == nil {
			return code
		}
		defer env.close()
		t, err := env.eng.CompleteTask(ctx, pos[0], *as, !*cantDo, *evidence)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fail(stderr, "task %s does not exist (see 'gatehouse tasks list')", pos[0])
			}
			return fail(stderr, "%v", err)
		}
		fmt.Fprintf(stdout, "task %s: %s\n", t.ID, t.Status)
		return env.follow(ctx, f, t.RunID, stdout, stderr)
	}
	fmt.Fprintf(stderr, "gatehouse tasks: unknown subcommand %q\nusage: gatehouse %s\n", sub, tasksUsage)
	return 2
}
