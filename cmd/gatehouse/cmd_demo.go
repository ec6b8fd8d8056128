package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// `gatehouse demo` is the README's first command: the whole product on the
// embedded example config with no files, tokens or network. It drives the
// real engine, store and rules through a joiner, the manager's approval, a
// move to another team (old access removed, high-risk changes confirmed) and
// a leaver, then verifies the audit chain and answers "who had access".

const demoUsage = "demo [--dir DIR] [--verbose]"

func init() {
	register(command{Name: "demo", Summary: "run a joiner, an approval, a mover and a leaver end to end on the embedded example (no setup)", Usage: demoUsage, Run: runDemo})
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoUsage, stderr)
	dir := fs.String("dir", "", "keep the config and database in DIR (default: a temporary directory, removed afterwards)")
	verbose := fs.Bool("verbose", false, "print every step as it changes")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	workDir := *dir
	if workDir == "" {
		tmp, err := os.MkdirTemp("", "gatehouse-demo-")
		if err != nil {
			return fail(stderr, "create a temporary directory: %v", err)
		}
		defer os.RemoveAll(tmp)
		workDir = tmp
	} else if err := os.MkdirAll(workDir, 0o700); err != nil {
		return fail(stderr, "create %s: %v", workDir, err)
	}
	d, err := newDemo(ctx, workDir, stdout, *verbose)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer d.close()
	if err := d.story(ctx); err != nil {
		return fail(stderr, "demo: %v", err)
	}
	return 0
}

type demo struct {
	out  io.Writer
	cfg  string
	db   *store.DB
	re   *rules.Engine
	eng  *lifecycle.Engine
	sims map[string]gatehouse.Connector
	note *demoNotifier
}

func newDemo(ctx context.Context, dir string, out io.Writer, verbose bool) (*demo, error) {
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, gatehouse.ExampleConfig(), 0o600); err != nil {
		return nil, fmt.Errorf("write the example config: %w", err)
	}
	cfg, re, err := loadPolicy(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("load the example config: %w", err)
	}
	db, err := store.Open(filepath.Join(dir, "gatehouse.db"), store.Options{})
	if err != nil {
		return nil, fmt.Errorf("open the database: %w", err)
	}
	// Every app is simulated: the example's real connectors would need the
	// vendors' credentials and network.
	conns, err := connectors.Build(cfg, connectors.Deps{Logger: zerolog.Nop(), Tasks: lifecycle.NewTaskStore(db), UserAgent: "gatehouse-demo"}, true)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("build simulated apps: %w", err)
	}
	note := &demoNotifier{out: out, verbose: verbose, seen: map[string]gatehouse.StepStatus{}}
	eng, err := lifecycle.New(lifecycle.Options{Store: db, Config: cfg, Rules: re, Connectors: conns, Logger: zerolog.Nop(), Notifier: note})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := eng.Start(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("start the engine: %w", err)
	}
	fmt.Fprintf(out, "Gatehouse demo: %s (%d apps, all simulated), database %s\n\n", cfg.Organization.Name, len(cfg.Apps), db.Path())
	return &demo{out: out, cfg: cfgPath, db: db, re: re, eng: eng, sims: conns, note: note}, nil
}

func (d *demo) close() {
	d.eng.Close()
	d.db.Close()
}

func (d *demo) person(name string) (gatehouse.Identity, error) {
	b, ok := gatehouse.ExamplePeople()[name]
	if !ok {
		return gatehouse.Identity{}, fmt.Errorf("sample person %s missing from the binary", name)
	}
	return rules.ParsePerson(b)
}

func (d *demo) story(ctx context.Context) error {
	ada, err := d.person("ada-backend.json")
	if err != nil {
		return err
	}
	moved, err := d.person("ada-platform.json")
	if err != nil {
		return err
	}
	hr := gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "demo-hr"}

	// The managers join first: they approve, and a leaver's resources are
	// transferred to their manager, which needs accounts to receive them.
	fmt.Fprintln(d.out, "0. The managers already work here")
	for _, name := range []string{"maya-manager.json", "sam-sre.json"} {
		m, err := d.person(name)
		if err != nil {
			return err
		}
		run, err := d.submit(ctx, gatehouse.Event{Type: gatehouse.EventJoiner, Identity: m, EffectiveAt: time.Now(), Source: "demo", Actor: hr})
		if err != nil {
			return err
		}
		if run, err = d.settle(ctx, run); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "   %s, %s:\n", m.Name, m.Title)
		d.summary(run)
	}
	now := time.Now()
	fmt.Fprintln(d.out)

	fmt.Fprintf(d.out, "1. Joiner: %s, %s (%s), manager %s\n", ada.Name, ada.Title, ada.Team, ada.ManagerEmail)
	run, err := d.submit(ctx, gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada, EffectiveAt: now, Source: "demo", Actor: hr})
	if err != nil {
		return err
	}
	if run, err = d.settle(ctx, run); err != nil {
		return err
	}
	d.summary(run)
	joinerDone := time.Now()

	fmt.Fprintf(d.out, "\n2. Mover: %s moves to %s (new manager %s) — new access added, old access removed\n", ada.Name, moved.Team, moved.ManagerEmail)
	prev := ada
	run, err = d.submit(ctx, gatehouse.Event{Type: gatehouse.EventMover, Identity: moved, Previous: &prev, EffectiveAt: time.Now(), Source: "demo", Actor: hr})
	if err != nil {
		return err
	}
	if run, err = d.settle(ctx, run); err != nil {
		return err
	}
	d.summary(run)
	moverDone := time.Now()

	fmt.Fprintf(d.out, "\n3. Leaver: %s leaves — IdP first, sessions revoked, every app closed, ownership to the manager\n", ada.Name)
	run, err = d.submit(ctx, gatehouse.Event{Type: gatehouse.EventLeaver, Identity: moved, EffectiveAt: time.Now(), Source: "demo", Actor: hr, Reason: "resigned"})
	if err != nil {
		return err
	}
	if run, err = d.settle(ctx, run); err != nil {
		return err
	}
	d.summary(run)
	if run.Status != gatehouse.RunSucceeded {
		return fmt.Errorf("the leaver run ended %s", run.Status)
	}

	fmt.Fprintln(d.out, "\n4. Evidence")
	rep, err := d.db.VerifyAudit(nil)
	if err != nil {
		return fmt.Errorf("verify the audit chain: %w", err)
	}
	fmt.Fprintf(d.out, "   audit chain verified: %d entries, head %s\n", rep.Entries, short(rep.HeadHash))
	for _, q := range []struct {
		app, ent string
		at       time.Time
	}{{"aws", "prod-readonly", joinerDone}, {"aws", "prod-readonly", moverDone}, {"aws", "prod-admin", moverDone}, {"aws", "prod-admin", time.Now()}} {
		held, err := d.db.WhoHad(q.app, q.ent, q.at)
		if err != nil {
			return err
		}
		who := make([]string, 0, len(held))
		for _, g := range held {
			name := g.Identity
			if id, err := d.db.GetIdentity(g.Identity); err == nil {
				name = id.Email
			}
			who = append(who, name)
		}
		if len(who) == 0 {
			who = append(who, "nobody")
		}
		fmt.Fprintf(d.out, "   who had %s:%s at %s? %s\n", q.app, q.ent, q.at.Format("15:04:05.000"), strings.Join(who, ", "))
	}
	open := 0
	for _, name := range sortedConnectorNames(d.sims) {
		accts, err := d.sims[name].ListAccounts(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", name, err)
		}
		for _, a := range accts {
			if a.Active && strings.EqualFold(a.Email, ada.Email) {
				open++
				fmt.Fprintf(d.out, "   still active in %s!\n", name)
			}
		}
	}
	fmt.Fprintf(d.out, "   active accounts left for %s across %d apps: %d\n", ada.Email, len(d.sims), open)
	if open > 0 {
		return errors.New("a leaver still has active accounts")
	}
	if err := d.governance(ctx, ada); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\nTry next (from the repository): gatehouse plan --config config.example.yaml --person examples/people/ada-backend.json\n  gatehouse test --config config.example.yaml; gatehouse help audit")
	return nil
}

// governance is the demo's last chapter: a week passes and the weekly
// digest finds a dormant account, an orphaned account, a bot whose owner has
// left and the money they cost; IT's Revoke click (the same service call the
// Slack button makes) closes the dormant one, which the app then shows.
func (d *demo) governance(ctx context.Context, leaver gatehouse.Identity) error {
	fmt.Fprintln(d.out, "\n5. Governance: a week later, the weekly digest")
	now := time.Now()
	cfg, _, err := loadPolicy(d.cfg)
	if err != nil {
		return err
	}
	maya, err := d.person("maya-manager.json")
	if err != nil {
		return err
	}
	// People use their apps; Maya stopped using one of hers 60 days ago.
	dormantApp := ""
	for _, name := range sortedConnectorNames(d.sims) {
		sim, ok := d.sims[name].(interface {
			Touch(gatehouse.AccountRef, time.Time) error
		})
		if !ok {
			continue
		}
		accts, err := d.sims[name].ListAccounts(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", name, err)
		}
		for _, a := range accts {
			if !a.Active {
				continue
			}
			at := now.Add(-24 * time.Hour)
			if dormantApp == "" && name != cfg.IdP().Name && strings.EqualFold(a.Email, maya.Email) {
				dormantApp, at = name, now.Add(-60*24*time.Hour)
			}
			if err := sim.Touch(gatehouse.AccountRef{AccountID: a.ID, Email: a.Email, UserName: a.UserName}, at); err != nil {
				return err
			}
		}
	}
	if dormantApp == "" {
		return errors.New("governance: the demo manager holds no app account to go dormant")
	}
	// An account somebody created by hand in the same app, never through
	// Gatehouse, and a CI bot the leaver owned.
	ghost := gatehouse.AccountRef{Email: "old-contractor@agency.example", UserName: "old-contractor@agency.example", Name: "Old Contractor"}
	if _, err := d.sims[dormantApp].EnsureAccount(ctx, ghost); err != nil {
		return err
	}
	bot := gatehouse.Identity{Kind: gatehouse.KindBot, Email: "deploy-bot@example.com", Name: "Deploy bot", Owner: leaver.Email,
		Purpose: "deploys the payments service", Expiry: gatehouse.DateOf(now.Add(90 * 24 * time.Hour)), Status: gatehouse.StatusActive}
	if _, err := d.db.PutIdentity(bot); err != nil {
		return err
	}
	// The next Monday's digest, just under a week after today's runs.
	gov := &governance.Service{Config: cfg, DB: d.db, Engine: d.eng, Now: func() time.Time { return now.Add(7*24*time.Hour - time.Hour) }}
	dg, err := gov.Produce(ctx, d.sims)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   digest %s: %d dormant, %d orphaned, %d non-human(s) needing an owner, $%.2f/month reclaimable\n",
		dg.ID, len(dg.Dormant), len(dg.Orphans), len(dg.NonHumans), dg.Reclaimable)
	if w := governance.WeekLine(dg); w != "" {
		fmt.Fprintf(d.out, "   last 7 days: %s\n", w)
	}
	var line governance.DormantItem
	for _, it := range dg.Dormant {
		fmt.Fprintf(d.out, "   dormant: %s in %s, no activity for %d days ($%.2f/month)\n", it.Email, it.AppTitle, it.IdleDays, it.MonthlyCost)
		if it.App == dormantApp && strings.EqualFold(it.Email, maya.Email) {
			line = it
		}
	}
	for _, o := range dg.Orphans {
		fmt.Fprintf(d.out, "   orphaned: %s in %s (%s)\n", o.Login, o.AppTitle, o.Reason)
	}
	for _, n := range dg.NonHumans {
		fmt.Fprintf(d.out, "   non-human: %s %s\n", n.Email, n.Problem)
	}
	if line.ID == "" || len(dg.Orphans) == 0 || len(dg.NonHumans) == 0 || dg.Reclaimable <= 0 {
		return errors.New("governance: the digest misses the dormant account, the orphan, the bot or the money")
	}
	it := gov.Config.Admins.ITEmail
	run, err := gov.Revoke(ctx, dg.ID, line.ID, governance.Actor{Email: it, IT: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   %s clicks Revoke on %s's %s account\n", it, maya.Email, line.AppTitle)
	if run, err = d.settle(ctx, run); err != nil {
		return err
	}
	d.summary(run)
	accts, err := d.sims[dormantApp].ListAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if a.ID == line.AccountID {
			fmt.Fprintf(d.out, "   %s now shows %s's account active=%v\n", line.AppTitle, maya.Email, a.Active)
			if a.Active {
				return errors.New("governance: the revoked account is still active in the app")
			}
		}
	}
	return nil
}

func (d *demo) submit(ctx context.Context, ev gatehouse.Event) (gatehouse.Run, error) {
	ev.ReceivedAt = time.Now()
	run, _, err := d.eng.Submit(ctx, ev)
	if err != nil {
		return run, fmt.Errorf("submit %s: %w", ev.Type, err)
	}
	if run.Plan != nil {
		p := run.Plan
		add := len(p.Add)
		if ev.Type != gatehouse.EventMover {
			add = len(p.Grants)
		}
		if ev.Type.Removes() {
			fmt.Fprintln(d.out, "   plan: close every access path Gatehouse knows of or discovers")
		} else {
			fmt.Fprintf(d.out, "   plan: profiles %s; %d to add, %d to remove, %d approvals\n",
				strings.Join(p.Profiles, ", "), add, len(p.Remove), len(p.Approvals))
		}
	}
	return run, nil
}

// settle waits for the run; whenever it waits on people, they act as they
// would in Slack: approvers click Approve in their DM, app owners complete
// their manual tasks (credential rotation, ownership transfers) with evidence.
func (d *demo) settle(ctx context.Context, run gatehouse.Run) (gatehouse.Run, error) {
	for round := 0; round < 20; round++ {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		r, err := d.eng.Wait(ctx, run.ID)
		cancel()
		if err != nil {
			return r, fmt.Errorf("wait for run %s: %w", run.ID, err)
		}
		if r.Status != gatehouse.RunWaiting && r.Status != gatehouse.RunBlocked {
			return r, nil
		}
		pending, err := d.db.ListApprovals(store.ApprovalFilter{RunID: run.ID, Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}})
		if err != nil {
			return r, err
		}
		tasks, err := d.db.ListTasks(store.TaskFilter{RunID: run.ID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
		if err != nil {
			return r, err
		}
		if len(pending)+len(tasks) == 0 {
			return r, nil
		}
		for _, a := range pending {
			if err := d.approve(ctx, a); err != nil {
				return r, err
			}
		}
		for _, t := range tasks {
			if _, err := d.eng.CompleteTask(ctx, t.ID, t.Assignee, true, "done by hand (demo)"); err != nil {
				return r, fmt.Errorf("complete task %s as %s: %w", t.ID, t.Assignee, err)
			}
			fmt.Fprintf(d.out, "   %s completes a task: %s\n", t.Assignee, t.Title)
		}
	}
	return run, fmt.Errorf("run %s did not settle", run.ID)
}

func (d *demo) approve(ctx context.Context, a gatehouse.Approval) error {
	items := make([]string, 0, len(a.Items))
	for _, it := range a.Items {
		items = append(items, fmt.Sprintf("%s:%s (%s)", it.App, it.Entitlement, it.Risk))
	}
	decided := 0
	for _, who := range a.Approvers {
		if decided >= a.Required {
			break
		}
		if _, err := d.eng.Decide(ctx, a.ID, who, true, "approved in the demo"); err != nil {
			if errors.Is(err, lifecycle.ErrSelfApproval) || errors.Is(err, lifecycle.ErrNotApprover) {
				continue
			}
			return fmt.Errorf("approve %s as %s: %w", a.ID, who, err)
		}
		decided++
		fmt.Fprintf(d.out, "   %s approves %s\n", who, strings.Join(items, ", "))
	}
	return nil
}

func (d *demo) summary(run gatehouse.Run) {
	steps, _ := d.db.Steps(run.ID)
	count := map[gatehouse.StepStatus]int{}
	for _, s := range steps {
		count[s.Status]++
	}
	fmt.Fprintf(d.out, "   run %s: %s — %d steps succeeded", run.ID, run.Status, count[gatehouse.StepSucceeded])
	if n := count[gatehouse.StepSkipped]; n > 0 {
		fmt.Fprintf(d.out, ", %d skipped", n)
	}
	fmt.Fprintln(d.out)
	if run.Summary != "" {
		fmt.Fprintf(d.out, "   evidence: %s\n", run.Summary)
	}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func sortedConnectorNames(m map[string]gatehouse.Connector) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// demoNotifier prints step changes as the engine reports them (verbose), so
// the demo shows the executor working in parallel.
type demoNotifier struct {
	lifecycle.NopNotifier
	out     io.Writer
	verbose bool
	mu      sync.Mutex
	seen    map[string]gatehouse.StepStatus
}

func (n *demoNotifier) RunChanged(_ context.Context, run gatehouse.Run, steps []gatehouse.Step) {
	if !n.verbose {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range steps {
		key := run.ID + "/" + s.ID
		if n.seen[key] == s.Status {
			continue
		}
		n.seen[key] = s.Status
		if s.Status == gatehouse.StepSucceeded || s.Status == gatehouse.StepEscalated || s.Status == gatehouse.StepFailed {
			fmt.Fprintf(n.out, "     %-10s %s\n", s.Status, s.ID)
		}
	}
}
