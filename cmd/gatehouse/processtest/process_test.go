package processtest

// Real-process tests of serve's lifecycle: the binary is built once, then
// started, signalled and killed like an operator (or systemd) would.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/store"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// gatehouseBinary builds cmd/gatehouse once per test binary.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-process-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "gatehouse")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/gatehousehq/gatehouse/cmd/gatehouse").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running gatehouse process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type procEnv struct {
	t   *testing.T
	bin string
	dir string
	cfg string
	db  string
	srv *slacktest.Server
}

func newProcEnv(t *testing.T) *procEnv {
	bin := gatehouseBinary(t)
	dir := t.TempDir()
	srv := slacktest.New(t, slacktest.Config{Users: []slacktest.User{{ID: "U0IT", Name: "ida", Email: "it-lead@example.com"}}, Logf: func(string, ...any) {}})
	return &procEnv{t: t, bin: bin, dir: dir, cfg: filepath.Join(dir, "gatehouse.yaml"), db: filepath.Join(dir, "gatehouse.db"), srv: srv}
}

func (e *procEnv) command(args ...string) *exec.Cmd {
	args = append(args, "--config", e.cfg, "--db", e.db)
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_SLACK_API_URL="+e.srv.APIURL(), "SLACK_APP_TOKEN="+e.srv.AppToken(),
		"SLACK_BOT_TOKEN="+e.srv.BotToken(), "GATEHOUSE_ACTOR=ops@example.com")
	return cmd
}

func (e *procEnv) run(args ...string) string {
	e.t.Helper()
	out, err := e.command(args...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (e *procEnv) start(args ...string) *proc {
	e.t.Helper()
	p := &proc{t: e.t, cmd: e.command(append([]string{"serve"}, args...)...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLog waits until the process's output contains s.
func (p *proc) waitLog(s string, timeout time.Duration) {
	p.t.Helper()
	end := time.Now().Add(timeout)
	for !strings.Contains(p.out.String(), s) {
		select {
		case <-p.done:
			p.t.Fatalf("process exited (%v) before logging %q:\n%s", p.err, s, p.out.String())
		default:
		}
		if time.Now().After(end) {
			p.t.Fatalf("no %q within %v:\n%s", s, timeout, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signalAndWait sends sig and returns how long the process took to exit.
func (p *proc) signalAndWait(sig os.Signal, timeout time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
		return time.Since(start)
	case <-time.After(timeout):
		p.t.Fatalf("still running %v after %v:\n%s", timeout, sig, p.out.String())
	}
	return 0
}

// appsYAML is a config whose simulated apps are slow enough that runs are
// still in flight a second after serve starts.
func (e *procEnv) writeConfig(latency string, extra string) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString(`version: 1
organization: {name: Example, domain: example.com, time_zone: UTC}
admins: {it: [U0IT], it_channel: C0IT, it_email: it-lead@example.com}
engine: {backoff_base: 10ms, backoff_max: 50ms, max_attempts: 5, shutdown_grace: 2s}
apps:
`)
	for i, app := range []string{"okta", "github", "aws"} {
		fmt.Fprintf(&b, "  %s:\n    connector: simulated\n    owner: it-lead@example.com\n", app)
		if app == "okta" {
			b.WriteString("    idp: true\n")
		}
		b.WriteString("    rate_limit: {concurrency: 1}\n")
		fmt.Fprintf(&b, "    settings: {latency: %s, seed: %d, state_file: %q}\n", latency, i+1, filepath.Join(e.dir, app+".json"))
		b.WriteString("    entitlements:\n      users: {kind: group, risk: low}\n")
	}
	b.WriteString(extra)
	if err := os.WriteFile(e.cfg, []byte(b.String()), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *procEnv) effects(app, op, account, ent string) int {
	st, err := simulated.LoadState(filepath.Join(e.dir, app+".json"))
	if err != nil {
		return 0
	}
	return st.Effects(op, account, ent)
}

// waitEffect polls an app's state file until op happened to account.
func (e *procEnv) waitEffect(p *proc, app, op, account, ent string, timeout time.Duration) {
	e.t.Helper()
	end := time.Now().Add(timeout)
	for e.effects(app, op, account, ent) == 0 {
		if time.Now().After(end) {
			e.t.Fatalf("%s: no %s %s %s within %v:\n%s", app, op, account, ent, timeout, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopWhenDone stops p once every run is terminal. The database cannot be
// read while serve holds its lock, so p is stopped and the runs read; while
// some are unfinished (a verification still in flight), serve is started
// again, which resumes them — at most a few times.
func (e *procEnv) stopWhenDone(p *proc) []gatehouse.Run {
	e.t.Helper()
	for try := 0; ; try++ {
		time.Sleep(time.Second)
		p.signalAndWait(syscall.SIGTERM, 10*time.Second)
		runs, db := e.runs()
		db.Close()
		open := 0
		for _, r := range runs {
			if !r.Status.Terminal() {
				open++
			}
		}
		if open == 0 || try == 4 {
			return runs
		}
		p = e.start()
		p.waitLog("gatehouse serving", 20*time.Second)
	}
}

func (e *procEnv) runs() ([]gatehouse.Run, *store.DB) {
	e.t.Helper()
	db, err := store.Open(e.db, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	runs, err := db.ListRuns(store.RunFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return runs, db
}

const everyoneProfile = "profiles:\n  everyone:\n    grants: [okta:users, github:users, aws:users]\nrules:\n  - name: everyone\n    when: \"true\"\n    profiles: [everyone]\n"

func (e *procEnv) submitJoiners(n int) []string {
	e.t.Helper()
	var emails []string
	for i := range n {
		email := fmt.Sprintf("joiner%d@example.com", i)
		path := filepath.Join(e.dir, fmt.Sprintf("p%d.json", i))
		body := fmt.Sprintf(`{"email":%q,"name":"Joiner %d","employee_id":"E%d","department":"Engineering","manager_email":"it-lead@example.com"}`, email, i, i)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			e.t.Fatal(err)
		}
		e.run("onboard", "--person", path, "--wait=false")
		emails = append(emails, email)
	}
	return emails
}

// TestServeSIGTERMWithSlackDownExitsWithinGrace: runs are in flight and
// Slack is unreachable when SIGTERM lands; serve is gone within
// shutdown_grace (2 s) plus a margin, and the next start finishes every run
// with each effect exactly once.
func TestServeSIGTERMWithSlackDownExitsWithinGrace(t *testing.T) {
	e := newProcEnv(t)
	e.writeConfig("250ms", everyoneProfile)
	emails := e.submitJoiners(4)

	p := e.start("--log-level", "debug")
	p.waitLog("gatehouse serving", 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitEffect(p, "okta", "ensure_account", emails[0], "", 10*time.Second) // work is under way
	e.srv.SetUnavailable(true)
	time.Sleep(300 * time.Millisecond) // the socket drops, card posts start failing
	took := p.signalAndWait(syscall.SIGTERM, 10*time.Second)
	t.Logf("SIGTERM → exit with Slack unreachable: %v (grace 2s)", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("exit took %v, want within the 2s grace + 1s", took)
	}
	if p.err != nil {
		t.Errorf("exit status: %v", p.err)
	}
	if !strings.Contains(p.out.String(), "stopping: intake closed") {
		t.Errorf("no shutdown log:\n%s", p.out.String())
	}
	runs, db := e.runs()
	unfinished := 0
	for _, r := range runs {
		if !r.Status.Terminal() {
			unfinished++
		}
	}
	db.Close()
	if unfinished == 0 {
		t.Fatalf("every run finished before SIGTERM; the test proves nothing")
	}
	t.Logf("%d of %d runs unfinished at exit", unfinished, len(runs))
	if testing.Verbose() {
		for _, l := range strings.Split(p.out.String(), "\n") {
			if strings.Contains(l, "shutdown") || strings.Contains(l, "stop") {
				t.Log(l)
			}
		}
	}

	// Next start, Slack back: the checkpointed runs resume and finish.
	e.srv.SetUnavailable(false)
	p2 := e.start()
	p2.waitLog("gatehouse serving", 20*time.Second)
	for _, m := range emails {
		for _, app := range []string{"okta", "github", "aws"} {
			e.waitEffect(p2, app, "grant", m, "users", 30*time.Second)
		}
	}
	runs = e.stopWhenDone(p2)
	for _, r := range runs {
		if r.Status != gatehouse.RunSucceeded {
			t.Errorf("run %s (%s) is %s after the restart", r.ID, r.Event.Identity.Email, r.Status)
		}
	}
	for _, m := range emails {
		for _, app := range []string{"okta", "github", "aws"} {
			if n := e.effects(app, "ensure_account", m, ""); n != 1 {
				t.Errorf("%s: account of %s created %d times", app, m, n)
			}
			if n := e.effects(app, "grant", m, "users"); n != 1 {
				t.Errorf("%s: %s granted %d times", app, m, n)
			}
		}
	}
}

func (e *procEnv) writeRoster(rows ...string) {
	e.t.Helper()
	body := "employee_id,email,name,department,title,manager_email,status\n" + strings.Join(rows, "\n") + "\n"
	// Atomically: the sync must never read half a file.
	tmp := filepath.Join(e.dir, "roster.tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.dir, "roster.csv")); err != nil {
		e.t.Fatal(err)
	}
}

// TestServeSIGHUPReload: a valid changed config (a new rule) is swapped in
// and changes the next plan; a broken one is refused with every error logged
// and the running config keeps working.
func TestServeSIGHUPReload(t *testing.T) {
	e := newProcEnv(t)
	hrYAML := fmt.Sprintf(`hr:
  listen: 127.0.0.1:0
  guard: {disabled: true}
  sync: {schedule: "@every 1s"}
  sources:
    people: {vendor: csv, roster: file, file: %s}
`, filepath.Join(e.dir, "roster.csv"))
	profiles := "profiles:\n  base:\n    grants: [okta:users]\n  sales:\n    grants: [github:users]\n"
	base := hrYAML + profiles + "rules:\n  - name: everyone\n    when: \"true\"\n    profiles: [base]\n"
	withSales := base + "  - name: sales\n    when: identity.department == \"Sales\"\n    profiles: [sales]\n"
	broken := withSales + "  - name: typo\n    when: identity.departmnt ==\n    profiles: [nosuch]\n"

	e.writeConfig("1ms", base)
	e.writeRoster("1,ann@example.com,Ann,Sales,Rep,it-lead@example.com,active")
	p := e.start()
	p.waitLog("gatehouse serving", 20*time.Second)
	e.waitEffect(p, "okta", "grant", "ann@example.com", "users", 20*time.Second)

	// A valid change: the sales rule.
	e.writeConfig("1ms", withSales)
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog("reload: new config in effect", 20*time.Second)
	if !strings.Contains(p.out.String(), `"changed":["rules"]`) {
		t.Errorf("the reload did not log that only the rules changed:\n%s", p.out.String())
	}
	t.Logf("valid reload took %v", time.Since(start).Round(time.Millisecond))
	e.writeRoster("1,ann@example.com,Ann,Sales,Rep,it-lead@example.com,active",
		"2,bob@example.com,Bob,Sales,Rep,it-lead@example.com,active")
	e.waitEffect(p, "github", "grant", "bob@example.com", "users", 20*time.Second)

	// A broken change: refused, every error logged, the sales rule stays.
	e.writeConfig("1ms", broken)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog("reload rejected: the old config stays in effect", 20*time.Second)
	log := p.out.String()
	for _, want := range []string{"rules.typo.when: unexpected token", `unknown profile \"nosuch\"`, `"errors":2`} {
		if !strings.Contains(log, want) {
			t.Errorf("the rejected reload did not log the error about %q:\n%s", want, log)
		}
	}
	e.writeRoster("1,ann@example.com,Ann,Sales,Rep,it-lead@example.com,active",
		"2,bob@example.com,Bob,Sales,Rep,it-lead@example.com,active",
		"3,cy@example.com,Cy,Sales,Rep,it-lead@example.com,active")
	e.waitEffect(p, "github", "grant", "cy@example.com", "users", 20*time.Second)
	p.signalAndWait(syscall.SIGTERM, 10*time.Second)
	if p.err != nil {
		t.Errorf("exit status %v", p.err)
	}

	// Ann was planned before the rule existed, Bob and Cy after.
	if n := e.effects("github", "grant", "ann@example.com", "users"); n != 0 {
		t.Errorf("ann got github %d times: the rule applied before the reload", n)
	}
	runs, _ := e.runs()
	if len(runs) != 3 {
		t.Errorf("%d runs, want 3", len(runs))
	}
}

// TestServeStandbyTakesOver: two serves on one database; the second waits
// for the lock, and when the active one is killed -9 with runs in flight it
// takes over within a few seconds and finishes them, each effect once.
func TestServeStandbyTakesOver(t *testing.T) {
	e := newProcEnv(t)
	e.writeConfig("200ms", everyoneProfile)
	emails := e.submitJoiners(3)
	active := e.start()
	active.waitLog("gatehouse serving", 20*time.Second)
	standby := e.start("--standby")
	standby.waitLog("standby: waiting for the lock held by the active instance", 20*time.Second)
	e.waitEffect(active, "okta", "ensure_account", emails[0], "", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(standby.out.String(), "gatehouse serving") {
		t.Fatal("the standby serves while the active one holds the lock")
	}
	killed := time.Now()
	if err := active.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-active.done
	standby.waitLog("gatehouse serving", 10*time.Second)
	took := time.Since(killed)
	t.Logf("standby took over %v after kill -9", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("takeover took %v", took)
	}
	for _, m := range emails {
		for _, app := range []string{"okta", "github", "aws"} {
			e.waitEffect(standby, app, "grant", m, "users", 30*time.Second)
		}
	}
	runs := e.stopWhenDone(standby)
	for _, r := range runs {
		if r.Status != gatehouse.RunSucceeded {
			t.Errorf("run %s is %s", r.ID, r.Status)
		}
	}
	for _, m := range emails {
		for _, app := range []string{"okta", "github", "aws"} {
			if n := e.effects(app, "grant", m, "users"); n != 1 {
				t.Errorf("%s: %s granted %d times", app, m, n)
			}
		}
	}
}

// TestHotBackupRestoreResumes: serve's scheduled backup is taken while runs
// are unfinished (the first one is written at start, as the engine resumes
// work); the active server then dies. The backup restored to a new path
// opens, and the engine started on it resumes the unfinished runs and
// finishes them — effects the apps already had are not repeated.
func TestHotBackupRestoreResumes(t *testing.T) {
	e := newProcEnv(t)
	backups := filepath.Join(e.dir, "backups")
	e.writeConfig("200ms", everyoneProfile+"store: {backup_every: 1h, backup_dir: "+backups+", backup_keep: 2}\n")
	emails := e.submitJoiners(3)
	p := e.start()
	p.waitLog("backup written", 20*time.Second)
	e.waitEffect(p, "okta", "ensure_account", emails[0], "", 10*time.Second)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	names, _ := filepath.Glob(filepath.Join(backups, "gatehouse-*.db"))
	if len(names) != 1 {
		t.Fatalf("backups %v", names)
	}
	restored := filepath.Join(t.TempDir(), "restored.db")
	raw, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(restored, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	e.db = restored
	runs, db := e.runs()
	db.Close()
	open := 0
	for _, r := range runs {
		if !r.Status.Terminal() {
			open++
		}
	}
	if len(runs) != 3 || open == 0 {
		t.Fatalf("backup holds %d runs, %d unfinished; want 3, some unfinished", len(runs), open)
	}
	out := e.run("runs", "resume")
	runs, _ = e.runs()
	for _, r := range runs {
		if r.Status != gatehouse.RunSucceeded {
			t.Errorf("restored run %s is %s (%s)", r.ID, r.Status, out)
		}
	}
	for _, m := range emails {
		for _, app := range []string{"okta", "github", "aws"} {
			if n := e.effects(app, "ensure_account", m, ""); n != 1 {
				t.Errorf("%s: account of %s created %d times", app, m, n)
			}
			if n := e.effects(app, "grant", m, "users"); n != 1 {
				t.Errorf("%s: %s granted %d times", app, m, n)
			}
		}
	}
	t.Logf("backup of %d bytes with %d unfinished runs restored and resumed", len(raw), open)
}
