package manual

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
)

// fakeTasks is an in-memory TaskStore that honours EnsureTask's contract:
// a task with an existing id is returned as stored, never replaced.
type fakeTasks struct {
	mu      sync.Mutex
	tasks   map[string]gatehouse.Task
	ensures int
}

func newFakeTasks() *fakeTasks { return &fakeTasks{tasks: map[string]gatehouse.Task{}} }

func (f *fakeTasks) EnsureTask(ctx context.Context, t gatehouse.Task) (gatehouse.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensures++
	if old, ok := f.tasks[t.ID]; ok {
		return old, nil
	}
	t.Version = 1
	f.tasks[t.ID] = t
	return t, nil
}

func (f *fakeTasks) GetTask(ctx context.Context, id string) (gatehouse.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok {
		return gatehouse.Task{}, gatehouse.ErrNotFound
	}
	return t, nil
}

func (f *fakeTasks) set(id string, status gatehouse.TaskStatus, by, note string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[id]
	t.Status, t.DoneBy, t.Evidence = status, by, note
	f.tasks[id] = t
}

func (f *fakeTasks) completeOpen() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, t := range f.tasks {
		if t.Status == gatehouse.TaskOpen {
			t.Status, t.DoneBy = gatehouse.TaskDone, "owner@example.com"
			f.tasks[id] = t
		}
	}
}

func (f *fakeTasks) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tasks)
}

var ents = []gatehouse.Entitlement{
	{App: "payroll", Name: "admins", Kind: gatehouse.EntRole, Resource: "Payroll Admin", Level: "admin"},
	{App: "payroll", Name: "viewers", Kind: gatehouse.EntRole, Resource: "Viewer"},
}

func TestContract(t *testing.T) {
	store := newFakeTasks()
	conntest.Run(t, conntest.Harness{
		New: func(t *testing.T) gatehouse.Connector {
			c, err := New("payroll", Options{Title: "Payroll", Assignee: "owner@example.com", Tasks: store})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Entitlements: ents,
		// The app owner does every task as soon as it appears.
		CompletePending: func(t *testing.T, err error) { store.completeOpen() },
	})
}

func TestContractWithRoster(t *testing.T) {
	// A roster makes list_accounts available; the suite's own accounts are
	// not in this static export, so only the capability paths are checked.
	roster := writeRoster(t, "email,name\nx@example.com,X\n")
	store := newFakeTasks()
	c, err := New("payroll", Options{Assignee: "owner@example.com", Tasks: store, Settings: Settings{RosterFile: roster, Operations: []string{"grant", "revoke"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Capabilities().List()
	if fmt.Sprint(got) != "[grant list_accounts revoke]" {
		t.Fatalf("capabilities = %v", got)
	}
	if err := c.Disable(gatehouse.WithOperationKey(context.Background(), "r/s"), gatehouse.AccountRef{Email: "a@x"}); !errors.Is(err, gatehouse.ErrUnsupported) || gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("disable not in operations: %v", err)
	}
}

var bob = gatehouse.AccountRef{IdentityKey: "E7", Email: "bob@example.com", UserName: "bob@example.com", Name: "Bob Jones", Title: "Accountant", Department: "Finance"}

func TestTaskLifecycle(t *testing.T) {
	store := newFakeTasks()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c, err := New("payroll", Options{Title: "Payroll", Assignee: "owner@example.com", Tasks: store, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := gatehouse.WithOperationKey(context.Background(), "run-1/step-3")
	// Pending while open, however often the step is retried or resumed.
	var id string
	for range 3 {
		err := c.Grant(ctx, bob, ents[0])
		if gatehouse.Classify(err) != gatehouse.ClassPending {
			t.Fatalf("want pending, got %v", err)
		}
		if id == "" {
			id = TaskID("payroll", "run-1/step-3", gatehouse.CapGrant)
		}
		if !strings.Contains(err.Error(), id) {
			t.Fatalf("pending error %q does not name task %s", err, id)
		}
	}
	if store.count() != 1 {
		t.Fatalf("%d tasks for one step, want 1", store.count())
	}
	task, _ := store.GetTask(ctx, id)
	want := gatehouse.Task{
		ID: id, RunID: "run-1", StepID: "step-3", IdentityKey: "E7", App: "payroll",
		Title:        "Give Bob Jones admins in Payroll",
		Instructions: "In Payroll, give Bob Jones <bob@example.com> admins (Payroll Admin, admin).\n\nMark this task done when finished, or \"can't do\" with a note saying why.",
		Assignee:     "owner@example.com", Status: gatehouse.TaskOpen, CreatedAt: now, Version: 1,
	}
	if fmt.Sprintf("%+v", task) != fmt.Sprintf("%+v", want) {
		t.Fatalf("task\n got %+v\nwant %+v", task, want)
	}
	// A different operation of the same step is a different task.
	if err := c.Revoke(ctx, bob, ents[0]); gatehouse.Classify(err) != gatehouse.ClassPending || store.count() != 2 {
		t.Fatalf("revoke: %v, %d tasks", err, store.count())
	}

	tests := []struct {
		status  gatehouse.TaskStatus
		by      string
		note    string
		class   gatehouse.ErrorClass
		wantMsg string
	}{
		{gatehouse.TaskDone, "owner@example.com", "", gatehouse.ClassUnknown, ""},
		{gatehouse.TaskCantDo, "owner@example.com", "Payroll has no admin role for contractors", gatehouse.ClassPermanent, "owner@example.com could not do task " + id + ": Payroll has no admin role for contractors"},
		{gatehouse.TaskCantDo, "", "", gatehouse.ClassPermanent, "the assignee could not do task " + id + ": no reason given"},
		{gatehouse.TaskCanceled, "", "", gatehouse.ClassPermanent, "was cancelled"},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			store.set(id, tc.status, tc.by, tc.note)
			err := c.Grant(ctx, bob, ents[0])
			if tc.class == gatehouse.ClassUnknown {
				if err != nil {
					t.Fatalf("done task: %v", err)
				}
				return
			}
			if gatehouse.Classify(err) != tc.class || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %v (%s), want %s containing %q", err, gatehouse.Classify(err), tc.class, tc.wantMsg)
			}
		})
	}
}

func TestNoOperationKeyIsPermanent(t *testing.T) {
	store := newFakeTasks()
	c, err := New("payroll", Options{Assignee: "owner@example.com", Tasks: store})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Disable(context.Background(), bob)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "operation key") {
		t.Fatalf("got %v", err)
	}
	if store.count() != 0 {
		t.Fatal("a task was created without an operation key")
	}
}

func TestEnsureAccountAndTransfer(t *testing.T) {
	store := newFakeTasks()
	c, _ := New("payroll", Options{Title: "Payroll", Assignee: "owner@example.com", Tasks: store})
	ctx := gatehouse.WithOperationKey(context.Background(), "run-2/ensure")
	if _, err := c.EnsureAccount(ctx, bob); gatehouse.Classify(err) != gatehouse.ClassPending {
		t.Fatal(err)
	}
	store.completeOpen()
	a, err := c.EnsureAccount(ctx, bob)
	if err != nil || a.ID != "bob@example.com" || !a.Active || a.DisplayName != "Bob Jones" {
		t.Fatalf("%v %+v", err, a)
	}
	ctx = gatehouse.WithOperationKey(context.Background(), "run-2/transfer")
	_ = c.TransferOwnership(ctx, bob, gatehouse.AccountRef{Email: "carol@example.com", Name: "Carol King"})
	task, _ := store.GetTask(ctx, TaskID("payroll", "run-2/transfer", gatehouse.CapTransferOwnership))
	if task.Title != "Transfer what Bob Jones owns in Payroll to Carol King" || !strings.Contains(task.Instructions, "Carol King <carol@example.com>") {
		t.Fatalf("task = %+v", task)
	}
}

func TestTemplatesFromSettings(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		owner   string
		wantErr []string
		check   func(t *testing.T, c *Connector, store *fakeTasks)
	}{
		{
			name:  "custom",
			owner: "it@example.com",
			yaml: `
instructions:
  disable: "Open {{.App}} → Users → {{.Email}} → Suspend. Employee {{.EmployeeID}}{{with index .Attributes \"site\"}} at {{.}}{{end}}."
titles:
  disable: "Suspend {{.UserName}}"
`,
			check: func(t *testing.T, c *Connector, store *fakeTasks) {
				ref := bob
				ref.EmployeeID, ref.Attributes = "E7", map[string]string{"site": "Berlin"}
				ctx := gatehouse.WithOperationKey(context.Background(), "r/s")
				_ = c.Disable(ctx, ref)
				task, _ := store.GetTask(ctx, TaskID("payroll", "r/s", gatehouse.CapDisable))
				if task.Title != "Suspend bob@example.com" || task.Instructions != "Open Payroll App → Users → bob@example.com → Suspend. Employee E7 at Berlin." || task.Assignee != "it@example.com" {
					t.Fatalf("task = %+v", task)
				}
			},
		},
		{
			name:  "bad",
			owner: "",
			yaml: `
instructions:
  disable: "{{.Nmae}}"
  grant: "{{if}}"
  promote: "x"
titles:
  revoke: "{{.Entitlement"
operations: [grant, fly, list_accounts]
roster: x.csv
`,
			wantErr: []string{
				`settings.roster: unknown key`,
				`<settings>:4:10: apps.payroll.settings.instructions.grant: bad template`,
				"assignee: the manual connector needs someone",
				"instructions.disable: bad template",
				"can't evaluate field Nmae",
				"instructions.grant: bad template",
				`instructions.promote: unknown operation "promote"`,
				"titles.revoke: bad template",
				`operations[1]: unknown operation "fly"`,
				"list_accounts needs roster_file",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := config.NewSettings(tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			store := newFakeTasks()
			app := &config.App{Name: "payroll", Title: "Payroll App", Connector: "manual", Owner: tc.owner, Settings: st}
			c, err := factory(app, connectors.Deps{Tasks: store})
			if tc.wantErr != nil {
				var el config.ErrorList
				if !errors.As(err, &el) {
					t.Fatalf("want config.ErrorList, got %T %v", err, err)
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
			tc.check(t, c.(*Connector), store)
		})
	}
}

func writeRoster(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "roster.csv")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoster(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    string
		wantErr string
	}{
		{
			name: "typical export",
			csv:  "\ufeffUser ID,Email Address,Display Name,Status,Last Login,Groups\n42,Ann@Example.com,Ann,Active,2026-01-02 10:00:00,admins; viewers|admins\n,bob@example.com,\"Jones, Bob\",suspended,2026-02-03,\n",
			want: "42 Ann@Example.com Ann true 2026-01-02T10:00:00Z [admins viewers]\nbob@example.com bob@example.com Jones, Bob false 2026-02-03T00:00:00Z []\n",
		},
		{name: "username only", csv: "login\nann\n\n", want: "ann   true 0001-01-01T00:00:00Z []\n"},
		{name: "no key column", csv: "name,status\nAnn,active\n", wantErr: "no id, user name or email column"},
		{name: "bad status", csv: "email,active\na@x,maybe\n", wantErr: `line 2: cannot tell whether "maybe" means active`},
		{name: "bad date", csv: "email,last_login\na@x,last tuesday\n", wantErr: "line 2: unreadable last activity"},
		{name: "empty", csv: "", wantErr: "roster is empty"},
		{name: "row without key", csv: "email,name\n,Ann\n", wantErr: "line 2: no id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			accts, err := ParseRoster(strings.NewReader(tc.csv))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, a := range accts {
				fmt.Fprintf(&b, "%s %s %s %v %s %v\n", a.ID, a.Email, a.DisplayName, a.Active, a.LastActivity.Format(time.RFC3339), a.Entitlements)
			}
			if b.String() != tc.want {
				t.Fatalf("got\n%swant\n%s", b.String(), tc.want)
			}
		})
	}
	c, _ := New("payroll", Options{Assignee: "o@x", Settings: Settings{RosterFile: writeRoster(t, "email\na@x\n")}})
	if accts, err := c.ListAccounts(context.Background()); err != nil || len(accts) != 1 {
		t.Fatalf("%v %v", accts, err)
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	missing, _ := New("payroll", Options{Assignee: "o@x", Settings: Settings{RosterFile: "/nonexistent/roster.csv"}})
	if err := missing.Check(context.Background()); gatehouse.Classify(err) != gatehouse.ClassPermanent {
		t.Fatalf("missing roster: %v", err)
	}
}

// FuzzParseRoster: any file an app exports must load or fail, never panic.
func FuzzParseRoster(f *testing.F) {
	f.Add("email,name,active,last_login,groups\na@x,A,yes,2026-01-01,g1;g2\n")
	f.Add("\ufeffid\n\"unterminated\n")
	f.Add("login,status\n,\n,,,,\n")
	f.Fuzz(func(t *testing.T, s string) {
		accts, err := ParseRoster(strings.NewReader(s))
		if err == nil {
			for _, a := range accts {
				if a.ID == "" {
					t.Fatalf("account without id from %q", s)
				}
			}
		}
	})
}

func TestErrorsPointAtTheAppWithoutSettings(t *testing.T) {
	app := &config.App{Name: "payroll", Connector: "manual", Pos: config.Pos{File: "gatehouse.yaml", Line: 7, Col: 3}}
	_, err := factory(app, connectors.Deps{})
	if err == nil || !strings.Contains(err.Error(), "gatehouse.yaml:7:3: apps.payroll.settings.assignee") {
		t.Fatalf("got %v", err)
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
