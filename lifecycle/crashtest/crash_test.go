package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/store"
)

var binary string

// TestMain builds the gatehouse binary once for every test in the package.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-crash-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", binary, "github.com/gatehousehq/gatehouse/cmd/gatehouse")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// apps of the crash config: an IdP, two apps depending on it, one deleting
// accounts on leave, and plain ones. All low risk: runs complete with no
// person in the loop.
var apps = []struct {
	name, deps string
	delete     bool
}{
	{"okta", "", false}, {"google", "okta", true}, {"github", "okta", false}, {"slack", "", false},
	{"jira", "okta", false}, {"aws", "", false}, {"zoom", "", false}, {"notion", "", false},
}

func writeConfig(t *testing.T, dir string) string {
	var b strings.Builder
	b.WriteString("version: 1\norganization: {name: Crash, domain: example.com, time_zone: Europe/Berlin}\n")
	b.WriteString("admins: {it: [it@example.com], it_email: it@example.com}\n")
	b.WriteString("engine: {backoff_base: 5ms, backoff_max: 50ms, max_attempts: 20, workers: 32}\n")
	b.WriteString("apps:\n")
	for i, a := range apps {
		fmt.Fprintf(&b, "  %s:\n    connector: simulated\n    owner: owner@example.com\n    seat_cost: %d\n", a.name, i+1)
		if a.name == "okta" {
			b.WriteString("    idp: true\n")
		}
		if a.deps != "" {
			fmt.Fprintf(&b, "    depends_on: [%s]\n", a.deps)
		}
		if a.delete {
			b.WriteString("    delete: true\n")
		}
		// Two calls at a time per app make the work last long enough for
		// the kills to land mid-run.
		b.WriteString("    rate_limit: {concurrency: 2}\n")
		fmt.Fprintf(&b, "    settings: {latency: 20ms, jitter: 40ms, failure_rate: 0.05, seed: %d, state_file: %q}\n", i+1, filepath.Join(dir, a.name+".json"))
		b.WriteString("    entitlements:\n      users: {kind: group, risk: low}\n")
	}
	b.WriteString("profiles:\n  everyone:\n    grants: [")
	for i, a := range apps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s:users", a.name)
	}
	b.WriteString("]\nrules:\n  - name: everyone\n    when: \"true\"\n    profiles: [everyone]\n")
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type env struct {
	t      *testing.T
	dir    string
	config string
	db     string
	rng    *rand.Rand
	kills  int
}

func (e *env) command(args ...string) *exec.Cmd {
	args = append(args, "--config", e.config, "--db", e.db)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_ACTOR=crash@example.com")
	return cmd
}

// run runs gatehouse to completion and returns its output; failure is fatal.
func (e *env) run(args ...string) string {
	e.t.Helper()
	cmd := e.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// crashLoop starts `gatehouse runs resume` and SIGKILLs it after a random
// time between minDelay and maxDelay, up to n times, until a process finishes
// by itself (the work is done).
func (e *env) crashLoop(n int, minDelay, maxDelay time.Duration) {
	e.t.Helper()
	for range n {
		cmd := e.command("runs", "resume")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			e.t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := minDelay + time.Duration(e.rng.Int64N(int64(maxDelay-minDelay)))
		select {
		case err := <-done:
			if err != nil {
				e.t.Fatalf("resume exited early: %v\n%s", err, out.String())
			}
			return
		case <-time.After(delay):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			e.kills++
		}
	}
}

// runUntilDone issues a command, SIGKILLing it after a random time, until
// it completes by itself (the last of tries attempts is never killed).
func (e *env) runUntilDone(tries int, maxDelay time.Duration, args ...string) {
	e.t.Helper()
	for i := 1; i <= tries; i++ {
		cmd := e.command(args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			e.t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var timeout <-chan time.Time
		if i < tries {
			timeout = time.After(time.Duration(e.rng.Int64N(int64(maxDelay))))
		}
		select {
		case err := <-done:
			if err != nil {
				e.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
			return
		case <-timeout:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			e.kills++
		}
	}
}

func TestCrashAndResume(t *testing.T) {
	people, kills := 20, 10
	if testing.Short() {
		people, kills = 8, 4
	}
	dir := t.TempDir()
	e := &env{t: t, dir: dir, config: writeConfig(t, dir), db: filepath.Join(dir, "gatehouse.db"), rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	t.Logf("seed-independent parameters: %d people, %d apps, %d kills per phase", people, len(apps), kills)
	emails := make([]string, people)
	for i := range people {
		emails[i] = fmt.Sprintf("person%02d@example.com", i)
		p := map[string]any{"email": emails[i], "name": fmt.Sprintf("Person %d", i), "employee_id": fmt.Sprintf("E%03d", i),
			"department": "Engineering", "manager_email": "boss@example.com"}
		raw, _ := json.Marshal(p)
		path := filepath.Join(dir, fmt.Sprintf("p%02d.json", i))
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if i < kills/2 {
			continue // submitted below, with kills
		}
		// Submitting persists the run and returns: execution is resumed by
		// the processes below.
		e.run("onboard", "--person", path, "--wait=false")
	}
	start := time.Now()
	for i := range kills / 2 {
		// These onboard commands are killed while they submit and execute
		// (every unfinished run, not just their own), then simply issued
		// again: the same event must still make one run.
		e.runUntilDone(6, 300*time.Millisecond, "onboard", "--person", filepath.Join(dir, fmt.Sprintf("p%02d.json", i)))
	}
	// The leavers' manager receives their resources, so has accounts too.
	boss := filepath.Join(dir, "boss.json")
	if err := os.WriteFile(boss, []byte(`{"email":"boss@example.com","name":"The Boss","employee_id":"B001","department":"Engineering"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.run("onboard", "--person", boss, "--wait=false")
	e.crashLoop(kills, 40*time.Millisecond, 200*time.Millisecond)
	out := e.run("runs", "resume")
	t.Logf("joiners: %d kills, then %s(%v)", e.kills, out, time.Since(start).Round(time.Millisecond))

	leavers := emails[:people/2]
	for _, m := range leavers {
		e.run("offboard", m, "--yes", "--wait=false")
	}
	start = time.Now()
	e.crashLoop(kills, 40*time.Millisecond, 200*time.Millisecond)
	out = e.run("runs", "resume")
	t.Logf("leavers: %d kills in total, then %s(%v)", e.kills, out, time.Since(start).Round(time.Millisecond))

	db, err := store.Open(e.db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := db.ListRuns(store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != people+1+len(leavers) {
		t.Errorf("%d runs, want %d (one per event)", len(runs), people+1+len(leavers))
	}
	for _, r := range runs {
		if r.Status != gatehouse.RunSucceeded {
			steps, _ := db.Steps(r.ID)
			t.Errorf("run %s (%s %s) is %s: %+v", r.ID, r.Event.Type, r.Event.Identity.Email, r.Status, steps)
		}
	}
	left := map[string]bool{}
	for _, m := range leavers {
		left[m] = true
	}
	for _, a := range apps {
		st, err := simulated.LoadState(filepath.Join(dir, a.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range emails {
			if n := st.Effects("ensure_account", m, ""); n != 1 {
				t.Errorf("%s: account of %s created %d times, want exactly 1", a.name, m, n)
			}
			if n := st.Effects("grant", m, "users"); n != 1 {
				t.Errorf("%s: %s granted users %d times, want exactly 1", a.name, m, n)
			}
			var acct *simulated.AccountState
			for _, x := range st.Accounts {
				if strings.EqualFold(x.UserName, m) {
					acct = x
				}
			}
			switch {
			case left[m] && a.delete && acct != nil:
				t.Errorf("%s: leaver %s's account not deleted", a.name, m)
			case left[m] && !a.delete && (acct == nil || acct.Active):
				t.Errorf("%s: leaver %s's account still active (%+v)", a.name, m, acct)
			case !left[m] && (acct == nil || !acct.Active):
				t.Errorf("%s: joiner %s has no active account", a.name, m)
			}
			if left[m] {
				if n := st.Effects("transfer_ownership", m, "boss@example.com"); n > 1 {
					t.Errorf("%s: %s's resources transferred %d times", a.name, m, n)
				}
				if n := st.Effects("disable", m, "") + st.Effects("delete", m, ""); n != 1 {
					t.Errorf("%s: leaver %s closed %d times, want 1", a.name, m, n)
				}
			}
		}
	}
	rep, err := db.VerifyAudit(nil)
	if err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	t.Logf("audit chain verifies: %+v", rep)
	_ = context.Background
}
