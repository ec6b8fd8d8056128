package simulated

import (
	"context"
	"errors"
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
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
)

var testEnts = []gatehouse.Entitlement{
	{App: "sim", Name: "engineering", Kind: gatehouse.EntGroup, Resource: "Engineering"},
	{App: "sim", Name: "oncall", Kind: gatehouse.EntGroup, Resource: "On-call"},
}

func inspect(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
	a, ok := c.(*Connector).Find(ref)
	return ok, a.Active, a.Entitlements
}

func TestContract(t *testing.T) {
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return New("sim", Options{}) },
		Entitlements: testEnts,
		Inspect:      inspect,
	})
}

// TestContractStateFile runs the contract with a fresh process-like
// connector per subtest sharing one state file, and inspects the file rather
// than memory: what the suite sees is what a restarted process would see.
func TestContractStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	conntest.Run(t, conntest.Harness{
		New: func(t *testing.T) gatehouse.Connector {
			c, err := Open("sim", Options{StateFile: path, Latency: time.Millisecond, Jitter: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Entitlements: testEnts,
		Inspect: func(t *testing.T, _ gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
			c, err := Open("sim", Options{StateFile: path})
			if err != nil {
				t.Fatal(err)
			}
			return inspect(t, c, ref)
		},
	})
}

func ctxKey(key string) context.Context {
	return gatehouse.WithOperationKey(context.Background(), key)
}

var alice = gatehouse.AccountRef{Email: "alice@example.com", UserName: "alice@example.com", Name: "Alice A", EmployeeID: "E1"}

func TestEffectsCountedOnceAcrossRetries(t *testing.T) {
	c := New("sim", Options{})
	ctx := ctxKey("run1/step1")
	// The response to the first create is "lost": the caller retries, and
	// the retry must find the account instead of creating a second.
	c.SetFailNextAfterApply(1)
	_, err := c.EnsureAccount(ctx, alice)
	if gatehouse.Classify(err) != gatehouse.ClassRetryable {
		t.Fatalf("first ensure: want retryable, got %v", err)
	}
	a, err := c.EnsureAccount(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Grant(ctx, alice, testEnts[0]); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		op, ent        string
		effects, calls int
	}{
		{"ensure_account", "", 1, 2},
		{"grant", "engineering", 1, 3},
		{"revoke", "engineering", 0, 0},
	}
	for _, tc := range tests {
		if got := c.Effects(tc.op, "ALICE@example.com", tc.ent); got != tc.effects {
			t.Errorf("Effects(%s, %s) = %d, want %d", tc.op, tc.ent, got, tc.effects)
		}
		if got := c.Calls(tc.op, "alice@example.com", tc.ent); got != tc.calls {
			t.Errorf("Calls(%s, %s) = %d, want %d", tc.op, tc.ent, got, tc.calls)
		}
	}
	ops := c.Ops()
	if len(ops) != 5 || ops[0].Effect != "created" || ops[0].AccountID != a.ID || ops[0].OperationKey != "run1/step1" {
		t.Fatalf("ops = %+v", ops)
	}
	if len(c.Accounts()) != 1 {
		t.Fatalf("accounts = %+v", c.Accounts())
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func TestRateLimit(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := New("sim", Options{RatePerSecond: 2, Burst: 2, Now: clk.Now})
	ctx := context.Background()
	for i := range 2 {
		if _, err := c.ListAccounts(ctx); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	_, err := c.ListAccounts(ctx)
	if gatehouse.Classify(err) != gatehouse.ClassRateLimited {
		t.Fatalf("call beyond burst: want rate limited, got %v", err)
	}
	if ra := gatehouse.RetryAfterOf(err); ra != 500*time.Millisecond {
		t.Fatalf("retry after = %s, want 500ms", ra)
	}
	if c.Violations() != 1 {
		t.Fatalf("violations = %d", c.Violations())
	}
	clk.Add(gatehouse.RetryAfterOf(err))
	if _, err := c.ListAccounts(ctx); err != nil {
		t.Fatalf("after waiting retry-after: %v", err)
	}
	if c.Violations() != 1 {
		t.Fatalf("violations = %d after a well-behaved call", c.Violations())
	}
}

func TestFailureRateDeterministic(t *testing.T) {
	pattern := func(seed uint64) string {
		c := New("sim", Options{FailureRate: 0.3, Seed: seed})
		var b strings.Builder
		for range 64 {
			_, err := c.ListAccounts(context.Background())
			switch {
			case err == nil:
				b.WriteByte('.')
			case gatehouse.Classify(err) == gatehouse.ClassRetryable:
				b.WriteByte('x')
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		return b.String()
	}
	a, b := pattern(7), pattern(7)
	if a != b {
		t.Fatalf("same seed, different failures:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 8 || n > 32 {
		t.Fatalf("failure rate 0.3 gave %d/64 failures: %s", n, a)
	}
	if pattern(8) == a {
		t.Fatalf("different seeds gave the same failures")
	}
}

func TestSetFailNext(t *testing.T) {
	tests := []struct {
		class gatehouse.ErrorClass
		want  gatehouse.ErrorClass
	}{
		{gatehouse.ClassRetryable, gatehouse.ClassRetryable},
		{gatehouse.ClassRateLimited, gatehouse.ClassRateLimited},
		{gatehouse.ClassPermanent, gatehouse.ClassPermanent},
		{gatehouse.ClassNotFound, gatehouse.ClassNotFound},
		{gatehouse.ClassPending, gatehouse.ClassPending},
		{gatehouse.ClassUnknown, gatehouse.ClassUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.class.String(), func(t *testing.T) {
			c := New("sim", Options{})
			c.SetFailNext(2, tc.class)
			for i := range 2 {
				_, err := c.EnsureAccount(context.Background(), alice)
				if err == nil || gatehouse.Classify(err) != tc.want {
					t.Fatalf("call %d: want %s, got %v", i, tc.want, err)
				}
			}
			if len(c.Accounts()) != 0 || len(c.Ops()) != 0 {
				t.Fatalf("a failure before applying changed state: %+v", c.Ops())
			}
			if _, err := c.EnsureAccount(context.Background(), alice); err != nil {
				t.Fatalf("third call: %v", err)
			}
		})
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	c := New("sim", Options{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.EnsureAccount(ctx, alice)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	if len(c.Accounts()) != 0 {
		t.Fatal("cancelled ensure created the account")
	}
}

func TestConcurrentGrants(t *testing.T) {
	c := New("sim", Options{Jitter: time.Millisecond})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ref := gatehouse.AccountRef{UserName: fmt.Sprintf("u%d", i%4), Email: fmt.Sprintf("u%d@example.com", i%4)}
			if _, err := c.EnsureAccount(context.Background(), ref); err != nil {
				t.Error(err)
			}
			if err := c.Grant(context.Background(), ref, testEnts[i%2]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(c.Accounts()); n != 4 {
		t.Fatalf("accounts = %d, want 4", n)
	}
	for i := range 4 {
		if n := c.Effects("ensure_account", fmt.Sprintf("u%d", i), ""); n != 1 {
			t.Errorf("u%d created %d times", i, n)
		}
	}
}

func TestTransferAndSessions(t *testing.T) {
	c := New("sim", Options{Accounts: []SeedAccount{
		{UserName: "bob", Email: "bob@example.com", Owns: []string{"repo:payments"}, Sessions: 2},
		{UserName: "carol", Email: "carol@example.com"},
	}})
	ctx := context.Background()
	bob, carol := gatehouse.AccountRef{Email: "bob@example.com"}, gatehouse.AccountRef{UserName: "carol"}
	for range 2 {
		if err := c.TransferOwnership(ctx, bob, carol); err != nil {
			t.Fatal(err)
		}
		if err := c.RevokeSessions(ctx, bob); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := c.Find(carol)
	if strings.Join(got.Owns, ",") != "repo:payments" {
		t.Fatalf("carol owns %v", got.Owns)
	}
	if n := c.Effects("transfer_ownership", "bob", "carol"); n != 1 {
		t.Fatalf("transfer effects = %d", n)
	}
	if n := c.Effects("revoke_sessions", "bob", ""); n != 1 {
		t.Fatalf("revoke_sessions effects = %d", n)
	}
	err := c.TransferOwnership(ctx, bob, gatehouse.AccountRef{UserName: "nobody"})
	if gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("transfer to a missing account: %v", err)
	}
	err = c.TransferOwnership(ctx, gatehouse.AccountRef{UserName: "nobody"}, carol)
	if gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("transfer from a missing account: %v", err)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.json")
	c := New("sim", Options{StateFile: path, Accounts: []SeedAccount{{UserName: "seed", Entitlements: []string{"legacy"}}}})
	if _, err := c.EnsureAccount(ctx(), alice); err != nil {
		t.Fatal(err)
	}
	if err := c.Grant(ctx(), alice, testEnts[0]); err != nil {
		t.Fatal(err)
	}
	// A restart with different seeds keeps the saved state: seeds only
	// initialise a new file.
	c2 := New("sim", Options{StateFile: path, Accounts: []SeedAccount{{UserName: "other"}}})
	if got := len(c2.Accounts()); got != 2 {
		t.Fatalf("after restart: %d accounts, want 2", got)
	}
	if _, err := c2.EnsureAccount(ctx(), alice); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Effects("ensure_account", "alice@example.com", "") != 1 || st.Effects("grant", "alice@example.com", "engineering") != 1 {
		t.Fatalf("counters = %+v", st.Counters)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(path + ".tmp*"); len(matches) != 0 {
		t.Fatalf("temp files left: %v", matches)
	}
}

func ctx() context.Context { return context.Background() }

// TestSIGKILLLeavesConsistentState kills a process in the middle of a stream
// of writes and checks that the state file is intact and every recorded
// effect is reflected in the accounts.
func TestSIGKILLLeavesConsistentState(t *testing.T) {
	if os.Getenv("SIMULATED_CHILD_STATE") != "" {
		childWriter(os.Getenv("SIMULATED_CHILD_STATE"))
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "app.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLLeavesConsistentState$")
	cmd.Env = append(os.Environ(), "SIMULATED_CHILD_STATE="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := LoadState(path)
		if err == nil && len(st.Ops) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child made no progress: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	st, err := LoadState(path)
	if err != nil {
		t.Fatalf("state after SIGKILL: %v", err)
	}
	c := New("sim", Options{StateFile: path})
	for _, a := range c.Accounts() {
		if n := st.Effects("ensure_account", a.UserName, ""); n != 1 {
			t.Errorf("%s created %d times", a.UserName, n)
		}
		for _, e := range a.Entitlements {
			if n := st.Effects("grant", a.UserName, e); n != 1 {
				t.Errorf("%s granted %s %d times", a.UserName, e, n)
			}
		}
	}
	if len(c.Accounts()) == 0 {
		t.Fatal("no accounts after restart")
	}
}

func childWriter(path string) {
	c := New("sim", Options{StateFile: path})
	for i := 0; ; i++ {
		ref := gatehouse.AccountRef{UserName: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i)}
		if _, err := c.EnsureAccount(ctx(), ref); err != nil {
			os.Exit(3)
		}
		if err := c.Grant(ctx(), ref, testEnts[0]); err != nil {
			os.Exit(3)
		}
	}
}

func app(t *testing.T, connector, yaml string) *config.App {
	t.Helper()
	s, err := config.NewSettings(yaml)
	if err != nil {
		t.Fatal(err)
	}
	return &config.App{Name: "demo", Connector: connector, Settings: s}
}

func TestFactory(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	deps := connectors.Deps{Now: func() time.Time { return now }}
	tests := []struct {
		name      string
		connector string
		yaml      string
		wantErr   []string
		check     func(t *testing.T, c *Connector)
	}{
		{
			name: "full", connector: "simulated",
			yaml: `
latency: 1ms
jitter: 1ms
failure_rate: 0
seed: 3
rate_per_second: 100
burst: 10
accounts:
  - {user_name: ghost, email: ghost@example.com, entitlements: [admin], last_activity: 120d ago}
  - {email: dana@example.com, disabled: true, last_activity: "2026-05-01"}
  - {user_name: eve}
last_activity:
  eve: 2026-05-30T12:00:00Z
`,
			check: func(t *testing.T, c *Connector) {
				accts, err := c.ListAccounts(ctx())
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{
					"ghost":            now.Add(-120 * 24 * time.Hour).Format(time.RFC3339),
					"dana@example.com": "2026-05-01T00:00:00Z",
					"eve":              "2026-05-30T12:00:00Z",
				}
				for _, a := range accts {
					if got := a.LastActivity.Format(time.RFC3339); got != want[a.UserName] {
						t.Errorf("%s last activity %s, want %s", a.UserName, got, want[a.UserName])
					}
					if a.UserName == "dana@example.com" && a.Active {
						t.Errorf("dana should be disabled")
					}
				}
				if len(accts) != 3 || accts[0].Entitlements[0] != "admin" {
					t.Fatalf("accounts = %+v", accts)
				}
			},
		},
		{
			name: "strict", connector: "simulated",
			yaml: "latncy: 1ms\nfailure_rate: 2\naccounts: [{name: x}, {user_name: a}, {user_name: A}]\nlast_activity: {zed: 1d, a: soon}\n",
			wantErr: []string{
				`settings.latncy: unknown key (did you mean "latency"?)`,
				"failure_rate: want a fraction",
				"accounts[0]: needs user_name or email",
				`accounts[2]: account "a" is listed twice`,
				`last_activity.zed: no seeded account`,
				`settings.last_activity.a: invalid time "soon"`,
			},
		},
		{
			// --simulate: another connector's settings are not ours to judge.
			name: "simulate flag", connector: "ldap", yaml: "url: ldap://x\nbind_dn: cn=admin\n",
			check: func(t *testing.T, c *Connector) {
				if len(c.Accounts()) != 0 || c.Name() != "demo" {
					t.Fatalf("unexpected state")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := factory(app(t, tc.connector, tc.yaml), deps)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("want errors")
				}
				var el config.ErrorList
				if !errors.As(err, &el) {
					t.Fatalf("want a config.ErrorList, got %T %v", err, err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("errors lack %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c.(*Connector))
		})
	}
}

func TestSimulateStateDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(StateDirEnv, dir)
	c, err := factory(app(t, "scim", "base_url: https://x\n"), connectors.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureAccount(ctx(), alice); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(filepath.Join(dir, "demo.json")); err != nil {
		t.Fatal(err)
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		at   string
		ago  time.Duration
		fail bool
	}{
		{in: "2026-01-02T03:04:05Z", at: "2026-01-02T03:04:05Z"},
		{in: "2026-01-02", at: "2026-01-02T00:00:00Z"},
		{in: "90d", ago: 90 * 24 * time.Hour},
		{in: "90d ago", ago: 90 * 24 * time.Hour},
		{in: "36h ago", ago: 36 * time.Hour},
		{in: "", at: "0001-01-01T00:00:00Z"},
		{in: "-3d", fail: true},
		{in: "yesterday", fail: true},
	}
	for _, tc := range tests {
		var ts Timestamp
		err := ts.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.fail {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if tc.fail {
			continue
		}
		if ts.Ago != tc.ago || (tc.ago == 0 && ts.At.Format(time.RFC3339) != tc.at) {
			t.Errorf("%q: got %+v", tc.in, ts)
		}
		b, _ := ts.MarshalText()
		var back Timestamp
		if err := back.UnmarshalText(b); err != nil || back.Ago != ts.Ago || !back.At.Equal(ts.At) {
			t.Errorf("%q: round trip %q gave %+v, %v", tc.in, b, back, err)
		}
	}
}

// TestSharedStateFile has two connectors (as two processes would) work on
// one state file at once: they must behave as one app.
func TestSharedStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.json")
	a, b := New("sim", Options{StateFile: path}), New("sim", Options{StateFile: path})
	var wg sync.WaitGroup
	for i := range 20 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() {
			ref := gatehouse.AccountRef{UserName: fmt.Sprintf("u%d", i%5)}
			if _, err := c.EnsureAccount(ctx(), ref); err != nil {
				t.Error(err)
			}
			if err := c.Grant(ctx(), ref, testEnts[0]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, c := range []*Connector{a, b} {
		if n := len(c.Accounts()); n != 5 {
			t.Fatalf("%d accounts, want 5", n)
		}
		for i := range 5 {
			u := fmt.Sprintf("u%d", i)
			if c.Effects("ensure_account", u, "") != 1 || c.Effects("grant", u, "engineering") != 1 || c.Calls("grant", u, "engineering") != 4 {
				t.Fatalf("%s: effects %d/%d calls %d", u, c.Effects("ensure_account", u, ""), c.Effects("grant", u, "engineering"), c.Calls("grant", u, "engineering"))
			}
		}
	}
}

func TestPersistedLogIsCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("writes many state files")
	}
	path := filepath.Join(t.TempDir(), "cap.json")
	c := New("sim", Options{StateFile: path})
	if _, err := c.EnsureAccount(ctx(), alice); err != nil {
		t.Fatal(err)
	}
	for range MaxPersistedOps + 10 {
		if err := c.Grant(ctx(), alice, testEnts[0]); err != nil {
			t.Fatal(err)
		}
	}
	st, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Ops) != MaxPersistedOps || st.Counters[counterKey("grant", "alice@example.com", "engineering")].Calls != MaxPersistedOps+10 {
		t.Fatalf("%d ops persisted; counters %+v", len(st.Ops), st.Counters)
	}
	if len(c.Ops()) != MaxPersistedOps+11 {
		t.Fatalf("in-memory log has %d ops", len(c.Ops()))
	}
}

// TestDocExample builds the connector from the configuration shown in the
// package doc, so the documentation cannot drift from the settings.
func TestDocExample(t *testing.T) {
	text := conntest.DocExample(t, ".")
	text = strings.ReplaceAll(text, "/tmp/demo-app.json", filepath.Join(t.TempDir(), "demo.json"))
	cfg := conntest.LoadDocExample(t, text)
	if len(cfg.Apps) == 0 {
		t.Fatal("no apps in the example")
	}
	for _, name := range cfg.AppNames() {
		if _, err := factory(cfg.Apps[name], connectors.Deps{}); err != nil {
			t.Errorf("app %s from the package doc: %v", name, err)
		}
	}
}

func TestFindByNaturalKeys(t *testing.T) {
	c := New("sim", Options{Accounts: []SeedAccount{
		{UserName: "bob", Email: "bob@example.com", EmployeeID: "E9"},
		{UserName: "alice", Email: "alice@example.com", EmployeeID: "E1"},
	}})
	tests := []struct {
		ref  gatehouse.AccountRef
		want string
	}{
		{gatehouse.AccountRef{UserName: "BOB"}, "bob"},
		{gatehouse.AccountRef{UserName: "bob@example.com"}, "bob"},
		{gatehouse.AccountRef{Email: "Bob@Example.com"}, "bob"},
		{gatehouse.AccountRef{EmployeeID: "E9"}, "bob"},
		// The user name outranks a stale employee id.
		{gatehouse.AccountRef{UserName: "alice", EmployeeID: "E9"}, "alice"},
		{gatehouse.AccountRef{AccountID: "sim-000002", UserName: "bob"}, "alice"},
		{gatehouse.AccountRef{UserName: "carol"}, ""},
	}
	for _, tc := range tests {
		a, ok := c.Find(tc.ref)
		if got := a.UserName; got != tc.want || ok != (tc.want != "") {
			t.Errorf("Find(%+v) = %q, %v; want %q", tc.ref, got, ok, tc.want)
		}
	}
}

// A process killed between writing its temp file and renaming it leaves
// STATE.json.tmpNNN behind; the next start removes every such file and
// nothing else.
func TestOpenRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "app.json")
	c := New("app", Options{StateFile: state})
	if _, err := c.EnsureAccount(context.Background(), gatehouse.AccountRef{UserName: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	stale := []string{state + ".tmp123", state + ".tmp"}
	keep := []string{filepath.Join(dir, "other.json.tmp1"), filepath.Join(dir, "app.json.bak")}
	for _, f := range append(append([]string(nil), stale...), keep...) {
		if err := os.WriteFile(f, []byte("{half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c2, err := Open("app", Options{StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", f, err)
		}
	}
	for _, f := range keep {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
	if _, ok := c2.Find(gatehouse.AccountRef{UserName: "ada@example.com"}); !ok {
		t.Error("state lost")
	}
}

func TestReadAccountAndStuckRevoke(t *testing.T) {
	ctx := context.Background()
	c := New("app", Options{})
	ref := gatehouse.AccountRef{UserName: "ada@example.com", Email: "ada@example.com", Title: "Engineer", Department: "Platform"}
	if _, err := c.ReadAccount(ctx, ref); gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("read of a missing account: %v, want NotFound", err)
	}
	if _, err := c.EnsureAccount(ctx, ref); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"admin", "member"} {
		if err := c.Grant(ctx, ref, gatehouse.Entitlement{Name: e}); err != nil {
			t.Fatal(err)
		}
	}
	c.SetStuck("admin")
	for _, e := range []string{"admin", "member"} {
		if err := c.Revoke(ctx, ref, gatehouse.Entitlement{Name: e}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := c.ReadAccount(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Entitlements) != 1 || a.Entitlements[0] != "admin" || !a.Active {
		t.Errorf("read %+v: want active with the stuck admin only", a)
	}
	if a.Attributes["title"] != "Engineer" || a.Attributes["department"] != "Platform" {
		t.Errorf("attributes %v", a.Attributes)
	}
	if n := len(c.Ops()); n != 5 {
		t.Errorf("%d ops logged, want 5 (reads are not logged)", n)
	}
}
