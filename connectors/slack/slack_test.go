package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/slack/slackapptest"
	"github.com/rs/zerolog"
)

// memTasks is a TaskStore honouring EnsureTask's contract: a task with an
// existing id is returned as stored, never replaced.
type memTasks struct {
	mu    sync.Mutex
	tasks map[string]gatehouse.Task
}

func newMemTasks() *memTasks { return &memTasks{tasks: map[string]gatehouse.Task{}} }

func (m *memTasks) EnsureTask(ctx context.Context, t gatehouse.Task) (gatehouse.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.tasks[t.ID]; ok {
		return old, nil
	}
	t.Version = 1
	m.tasks[t.ID] = t
	return t, nil
}

func (m *memTasks) GetTask(ctx context.Context, id string) (gatehouse.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[id]
	if !ok {
		return gatehouse.Task{}, gatehouse.ErrNotFound
	}
	return t, nil
}

func (m *memTasks) done(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tasks[id]
	t.Status, t.DoneBy = gatehouse.TaskDone, "it@example.com"
	m.tasks[id] = t
}

func (m *memTasks) list() []gatehouse.Task {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []gatehouse.Task
	for _, t := range m.tasks {
		out = append(out, t)
	}
	return out
}

// workspace seeds a fake with channels and a user group.
func workspace(t *testing.T, plan slackapptest.Plan) *slackapptest.Server {
	t.Helper()
	f := slackapptest.New(t, plan)
	seed := f.AddUser(slackapptest.User{Name: "seed", Email: "seed@example.com", RealName: "Seed Person"})
	f.AddChannel(slackapptest.Channel{ID: "C0ENG", Name: "eng", BotMember: true, Members: []string{seed}})
	f.AddChannel(slackapptest.Channel{ID: "C0SECRET", Name: "secret", Private: true, BotMember: true})
	f.AddChannel(slackapptest.Channel{ID: "C0HIDDEN", Name: "hidden", Private: true})
	f.AddChannel(slackapptest.Channel{ID: "C0LOBBY", Name: "lobby"}) // public, the bot is not a member
	f.AddUsergroup(slackapptest.Usergroup{ID: "S0ONCALL", Handle: "oncall", Users: []string{seed}})
	return f
}

var (
	entEng    = gatehouse.Entitlement{App: "slack", Name: "eng", Kind: gatehouse.EntChannel, Resource: "#eng"}
	entSecret = gatehouse.Entitlement{App: "slack", Name: "secret", Kind: gatehouse.EntChannel, Resource: "C0SECRET"}
	entOncall = gatehouse.Entitlement{App: "slack", Name: "oncall", Kind: gatehouse.EntGroup, Resource: "oncall"}
	entHidden = gatehouse.Entitlement{App: "slack", Name: "hidden", Kind: gatehouse.EntChannel, Resource: "#hidden"}
	entLobby  = gatehouse.Entitlement{App: "slack", Name: "lobby", Kind: gatehouse.EntChannel, Resource: "#lobby"}
)

func build(t *testing.T, settings string, tasks connectors.TaskStore) *Connector {
	t.Helper()
	s, err := config.NewSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	ents := map[string]*config.Entitlement{}
	for _, e := range []gatehouse.Entitlement{entEng, entSecret, entOncall} {
		ents[e.Name] = &config.Entitlement{Name: e.Name, Kind: e.Kind, Resource: e.Resource}
	}
	app := &config.App{Name: "slack", Title: "Slack", Connector: Type, Owner: "it@example.com", Settings: s, Entitlements: ents}
	c, err := New(app, connectors.Deps{Logger: zerolog.Nop(), Tasks: tasks, Debug: true, UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func opCtx(key string) context.Context {
	return gatehouse.WithOperationKey(context.Background(), key)
}

func TestContract(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true, PaidLogs: true})
	names := map[string]string{"#eng": "eng", "#secret": "secret", "@oncall": "oncall"}
	conntest.Run(t, conntest.Harness{
		New:          func(t *testing.T) gatehouse.Connector { return build(t, f.SettingsYAML(), nil) },
		Entitlements: []gatehouse.Entitlement{entEng, entOncall, entSecret},
		Inspect: func(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
			u, ok := f.UserByID(ref.AccountID)
			if ref.AccountID == "" || !ok {
				if u, ok = f.UserByEmail(ref.Email); !ok {
					return false, false, nil
				}
			}
			var ents []string
			for _, m := range f.Memberships(u.ID) {
				ents = append(ents, names[m])
			}
			return true, !u.Deleted, ents
		},
	})
}

func TestPlans(t *testing.T) {
	t.Run("no SCIM: manual tasks, checked against Slack", func(t *testing.T) {
		f := workspace(t, slackapptest.Plan{})
		tasks := newMemTasks()
		c := build(t, f.SettingsYAML(), tasks)
		ref := gatehouse.AccountRef{IdentityKey: "E1", Email: "new@example.com", UserName: "new@example.com", Name: "New Hire"}
		ctx := opCtx("run1/ensure")
		for range 2 {
			_, err := c.EnsureAccount(ctx, ref)
			if gatehouse.Classify(err) != gatehouse.ClassPending {
				t.Fatalf("EnsureAccount without SCIM: %v (class %s), want pending", err, gatehouse.Classify(err))
			}
		}
		ts := tasks.list()
		if len(ts) != 1 || !strings.Contains(ts[0].Title, "Invite New Hire") || ts[0].Assignee != "it@example.com" {
			t.Fatalf("tasks after two attempts: %+v, want one invitation task for IT", ts)
		}
		// Done without the invitation having happened: Slack is believed.
		tasks.done(ts[0].ID)
		if _, err := c.EnsureAccount(ctx, ref); gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "no account") {
			t.Fatalf("EnsureAccount after a task done but no account: %v, want a permanent error saying so", err)
		}
		id := f.AddUser(slackapptest.User{Name: "new", Email: "new@example.com", RealName: "New Hire"})
		a, err := c.EnsureAccount(ctx, ref)
		if err != nil || a.ID != id {
			t.Fatalf("EnsureAccount after invitation: %+v, %v; want id %s", a, err, id)
		}
		ref.AccountID = id
		dctx := opCtx("run2/disable")
		if err := c.Disable(dctx, ref); gatehouse.Classify(err) != gatehouse.ClassPending {
			t.Fatalf("Disable without SCIM: %v, want pending", err)
		}
		var dtask gatehouse.Task
		for _, x := range tasks.list() {
			if strings.Contains(x.Title, "Deactivate") {
				dtask = x
			}
		}
		if !strings.Contains(dtask.Title, "no SCIM") {
			t.Fatalf("disable task %+v, want one saying the plan has no SCIM", dtask)
		}
		f.SetDeleted(id, true)
		tasks.done(dtask.ID)
		if err := c.Disable(dctx, ref); err != nil {
			t.Fatalf("Disable after the task is done: %v", err)
		}
		if u, _ := f.UserByID(id); !u.Deleted {
			t.Fatal("the fake shows the user active")
		}
		// Disabling what is disabled creates no task.
		before := len(tasks.list())
		if err := c.Disable(opCtx("run3/disable"), ref); err != nil || len(tasks.list()) != before {
			t.Fatalf("Disable of a deactivated account: %v, tasks %d → %d", err, before, len(tasks.list()))
		}
	})
	t.Run("not Grid: RevokeSessions is a task, never a success", func(t *testing.T) {
		f := workspace(t, slackapptest.Plan{SCIM: true})
		tasks := newMemTasks()
		s := f.SettingsYAML()
		c := build(t, s, tasks)
		seed, _ := f.UserByEmail("seed@example.com")
		ref := gatehouse.AccountRef{IdentityKey: "E2", Email: seed.Email, AccountID: seed.ID, Name: "Seed Person"}
		err := c.RevokeSessions(opCtx("run4/sessions"), ref)
		if gatehouse.Classify(err) != gatehouse.ClassPending {
			t.Fatalf("RevokeSessions off Grid: %v, want pending", err)
		}
		if ts := tasks.list(); len(ts) != 1 || !strings.Contains(ts[0].Title, "Sign Seed Person") {
			t.Fatalf("tasks %+v", ts)
		}
		if f.Calls("admin.users.session.reset") != 0 {
			t.Fatal("admin.users.session.reset was called off Grid")
		}
	})
	t.Run("Grid: session reset observed", func(t *testing.T) {
		f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
		c := build(t, f.SettingsYAML(), nil)
		seed, _ := f.UserByEmail("seed@example.com")
		if err := c.RevokeSessions(opCtx("k"), gatehouse.AccountRef{Email: seed.Email}); err != nil {
			t.Fatal(err)
		}
		if n := f.SessionResets(seed.ID); n != 1 {
			t.Fatalf("session resets %d, want 1", n)
		}
	})
	t.Run("Grid without SCIM: admin.users.invite then in progress", func(t *testing.T) {
		f := workspace(t, slackapptest.Plan{Grid: true})
		c := build(t, f.SettingsYAML()+"team_id: T0FAKE\ninvite_channel_ids: [C0ENG]\n", newMemTasks())
		_, err := c.EnsureAccount(opCtx("k"), gatehouse.AccountRef{Email: "grid@example.com", Name: "Grid Hire"})
		if gatehouse.Classify(err) != gatehouse.ClassInProgress || f.Calls("admin.users.invite") != 1 {
			t.Fatalf("EnsureAccount: %v (class %s), invites %d; want in_progress after one invite", err, gatehouse.Classify(err), f.Calls("admin.users.invite"))
		}
	})
	t.Run("SCIM refusing the email filter still creates", func(t *testing.T) {
		f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
		c := build(t, f.SettingsYAML(), nil)
		f.Fail("scim", slackapptest.Fault{Status: http.StatusBadRequest})
		a, err := c.EnsureAccount(opCtx("k"), gatehouse.AccountRef{Email: "filter@example.com", UserName: "filter@example.com", Name: "F Ilter"})
		if u, ok := f.UserByEmail("filter@example.com"); err != nil || !ok || u.ID != a.ID || u.Name != "filter" {
			t.Fatalf("EnsureAccount: %+v, %v; fake has %+v", a, err, u)
		}
	})
	t.Run("SCIM: delete of the account is unsupported", func(t *testing.T) {
		f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
		c := build(t, f.SettingsYAML(), nil)
		if err := c.Delete(opCtx("k"), gatehouse.AccountRef{Email: "x@example.com"}); !errors.Is(err, gatehouse.ErrUnsupported) {
			t.Fatalf("Delete: %v", err)
		}
	})
}

func TestClassification(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
	c := build(t, f.SettingsYAML(), nil)
	seed, _ := f.UserByEmail("seed@example.com")
	ref := gatehouse.AccountRef{AccountID: seed.ID, Email: seed.Email}
	tests := []struct {
		fault slackapptest.Fault
		class gatehouse.ErrorClass
		wait  time.Duration
	}{
		{slackapptest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7}, gatehouse.ClassRateLimited, 7 * time.Second},
		{slackapptest.Fault{Code: "ratelimited"}, gatehouse.ClassRateLimited, 0},
		{slackapptest.Fault{Code: "user_not_found"}, gatehouse.ClassNotFound, 0},
		{slackapptest.Fault{Code: "invalid_auth"}, gatehouse.ClassPermanent, 0},
		{slackapptest.Fault{Code: "not_authed"}, gatehouse.ClassPermanent, 0},
		{slackapptest.Fault{Code: "account_inactive"}, gatehouse.ClassPermanent, 0},
		{slackapptest.Fault{Code: "missing_scope"}, gatehouse.ClassPermanent, 0},
		{slackapptest.Fault{Code: "internal_error"}, gatehouse.ClassRetryable, 0},
		{slackapptest.Fault{Code: "fatal_error"}, gatehouse.ClassRetryable, 0},
		{slackapptest.Fault{Code: "service_unavailable"}, gatehouse.ClassRetryable, 0},
		{slackapptest.Fault{Status: http.StatusInternalServerError}, gatehouse.ClassRetryable, 0},
		{slackapptest.Fault{Status: http.StatusBadGateway}, gatehouse.ClassRetryable, 0},
	}
	for _, tc := range tests {
		name := tc.fault.Code
		if name == "" {
			name = fmt.Sprintf("http_%d", tc.fault.Status)
		}
		t.Run(name, func(t *testing.T) {
			f.Fail("users.info", tc.fault)
			_, err := c.ReadAccount(opCtx("k"), ref)
			if got := gatehouse.Classify(err); got != tc.class {
				t.Fatalf("class %s (%v), want %s", got, err, tc.class)
			}
			if got := gatehouse.RetryAfterOf(err); got != tc.wait {
				t.Fatalf("retry after %s, want %s", got, tc.wait)
			}
			if tc.fault.Code != "" && CodeOf(err) != tc.fault.Code {
				t.Fatalf("CodeOf = %q, want %q", CodeOf(err), tc.fault.Code)
			}
		})
	}
	t.Run("missing scope names it", func(t *testing.T) {
		f.SetScopes([]string{"users:read"}, nil)
		defer f.SetScopes(append(append([]string{}, BotScopes...), "team:read"), []string{"admin", "admin.users:read", "admin.users:write"})
		_, err := c.ReadAccount(opCtx("k"), gatehouse.AccountRef{Email: seed.Email})
		if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), `needs scope "users:read.email"`) {
			t.Fatalf("ReadAccount with no users:read.email: %v", err)
		}
	})
}

func TestChannelProblems(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
	c := build(t, f.SettingsYAML(), nil)
	seed, _ := f.UserByEmail("seed@example.com")
	ref := gatehouse.AccountRef{AccountID: seed.ID, Email: seed.Email}
	err := c.Grant(opCtx("k"), ref, entHidden)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "invite the app into the private channel") {
		t.Fatalf("Grant of a private channel the bot is not in: %v", err)
	}
	err = c.Grant(opCtx("k"), ref, entLobby)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "/invite @app") {
		t.Fatalf("Grant where the bot is not a member: %v", err)
	}
	// Kick's not_in_channel is ambiguous: here the user is in, the bot is not.
	f.AddChannel(slackapptest.Channel{ID: "C0OPEN", Name: "open", Members: []string{seed.ID}})
	open := gatehouse.Entitlement{Name: "open", Kind: gatehouse.EntChannel, Resource: "#open"}
	err = c.Revoke(opCtx("k"), ref, open)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound || err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("Revoke where the bot is not a member: %v; it must not read as done", err)
	}
	if got := f.Memberships(seed.ID); !strings.Contains(strings.Join(got, ","), "#open") {
		t.Fatalf("memberships %v", got)
	}
}

func TestUsergroupReadModifyWrite(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
	c := build(t, f.SettingsYAML(), nil)
	seed, _ := f.UserByEmail("seed@example.com")
	id := f.AddUser(slackapptest.User{Name: "g", Email: "g@example.com"})
	ref := gatehouse.AccountRef{AccountID: id, Email: "g@example.com"}
	if err := c.Grant(opCtx("k"), ref, entOncall); err != nil {
		t.Fatal(err)
	}
	if got := f.Memberships(seed.ID); len(got) == 0 || !strings.Contains(strings.Join(got, ","), "@oncall") {
		t.Fatalf("granting another member dropped the seed from @oncall: %v", got)
	}
	// On the wire: the member list is read before it is replaced.
	var apis []string
	for _, r := range f.Requests() {
		if strings.HasPrefix(r.API, "usergroups.") {
			apis = append(apis, r.API)
		}
	}
	if want := "usergroups.list,usergroups.users.list,usergroups.users.update"; strings.Join(apis, ",") != want {
		t.Fatalf("calls %v, want %s", apis, want)
	}
	if err := c.Revoke(opCtx("k"), ref, entOncall); err != nil {
		t.Fatal(err)
	}
	if got := f.Memberships(id); len(got) != 0 {
		t.Fatalf("after revoke %v", got)
	}
	before := f.Calls("usergroups.users.update")
	if err := c.Revoke(opCtx("k"), ref, entOncall); err != nil || f.Calls("usergroups.users.update") != before {
		t.Fatalf("second revoke: %v, and it wrote %d times", err, f.Calls("usergroups.users.update")-before)
	}
	err := c.Revoke(opCtx("k"), gatehouse.AccountRef{AccountID: seed.ID}, entOncall)
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("removing the last member: %v, want a permanent error saying Slack refuses an empty group", err)
	}
}

func TestListAccountsPaging(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true, PaidLogs: true})
	var ids []string
	for i := range 5 {
		ids = append(ids, f.AddUser(slackapptest.User{Name: fmt.Sprintf("p%d", i), Email: fmt.Sprintf("p%d@example.com", i), RealName: fmt.Sprintf("P %d", i)}))
	}
	f.SetDeleted(ids[4], true)
	login := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f.SetLogin(ids[0], login)
	c := build(t, f.SettingsYAML(), nil)
	if err := c.Grant(opCtx("k"), gatehouse.AccountRef{AccountID: ids[1]}, entEng); err != nil {
		t.Fatal(err)
	}
	accts, err := c.ListAccounts(opCtx("k"))
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("users.list"); n < 3 {
		t.Fatalf("users.list called %d times, want ≥3 pages", n)
	}
	by := map[string]gatehouse.Account{}
	for _, a := range accts {
		by[a.ID] = a
	}
	if len(accts) != 8 || len(by) != 8 {
		t.Fatalf("%d accounts (%d distinct), want 8 (2 bots, seed, 5 people)", len(accts), len(by))
	}
	if a := by["UBOTGATE"]; a.Attributes["is_bot"] != "true" || !strings.HasPrefix(a.DisplayName, "bot: ") {
		t.Fatalf("bot account %+v, want it marked", a)
	}
	if by[ids[4]].Active || !by[ids[3]].Active {
		t.Fatal("deleted flag not mapped to Active")
	}
	if !by[ids[0]].LastActivity.Equal(login) || !by[ids[2]].LastActivity.IsZero() {
		t.Fatalf("last activity %v / %v, want %v / zero", by[ids[0]].LastActivity, by[ids[2]].LastActivity, login)
	}
	if e := by[ids[1]].Entitlements; len(e) != 1 || e[0] != "eng" {
		t.Fatalf("entitlements %v, want [eng]", e)
	}
}

func TestLastActivityOnGrid(t *testing.T) {
	tests := []struct {
		name     string
		plan     slackapptest.Plan
		extra    string
		api      string
		wantSeen bool
	}{
		{"grid admin.users.list", slackapptest.Plan{SCIM: true, Grid: true}, "team_id: T0FAKE\n", "admin.users.list", true},
		{"paid plan team.accessLogs", slackapptest.Plan{SCIM: true, PaidLogs: true}, "", "team.accessLogs", true},
		{"free plan: none, zero time", slackapptest.Plan{SCIM: true}, "", "team.accessLogs", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := workspace(t, tc.plan)
			seed, _ := f.UserByEmail("seed@example.com")
			at := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
			f.SetLogin(seed.ID, at)
			c := build(t, f.SettingsYAML()+tc.extra, newMemTasks())
			accts, err := c.ListAccounts(opCtx("k"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Calls(tc.api) == 0 {
				t.Fatalf("%s not called", tc.api)
			}
			for _, a := range accts {
				if a.ID == seed.ID && a.LastActivity.Equal(at) != tc.wantSeen {
					t.Fatalf("last activity %v, want seen=%v", a.LastActivity, tc.wantSeen)
				}
			}
		})
	}
}

// TestSlowAnswerHonoursContext checks a slow Slack cannot hold a step past
// its deadline, and that the timeout stays retryable.
func TestSlowAnswerHonoursContext(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
	c := build(t, f.SettingsYAML(), nil)
	f.SetLatency(600 * time.Millisecond)
	ctx, cancel := context.WithTimeout(opCtx("k"), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ReadAccount(ctx, gatehouse.AccountRef{Email: "seed@example.com"})
	if err == nil || gatehouse.Classify(err) != gatehouse.ClassRetryable || time.Since(start) > 450*time.Millisecond {
		t.Fatalf("slow answer: %v (class %s) after %s", err, gatehouse.Classify(err), time.Since(start))
	}
}

func TestCheck(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
	c := build(t, f.SettingsYAML(), nil)
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check with every scope: %v", err)
	}
	if got := strings.Join(c.Abilities(), "; "); !strings.Contains(got, "SCIM /Users") || !strings.Contains(got, "admin.users.session.reset") {
		t.Fatalf("abilities on Grid with SCIM: %s", got)
	}
	f.SetScopes([]string{"users:read", "channels:read"}, []string{"admin"})
	err := c.Check(context.Background())
	for _, want := range []string{"users:read.email", "usergroups:write", "admin.users:write", "team:read"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Check: %v, want it to name %s", err, want)
		}
	}
	free := workspace(t, slackapptest.Plan{})
	c = build(t, free.SettingsYAML(), newMemTasks())
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check on a free plan with manual tasks: %v", err)
	}
	if got := strings.Join(c.Abilities(), "; "); !strings.Contains(got, "manual task (no SCIM") || !strings.Contains(got, "needs Enterprise Grid") {
		t.Fatalf("abilities on a free plan: %s", got)
	}
	g := workspace(t, slackapptest.Plan{SCIM: true})
	c = build(t, g.SettingsYAML()+"enterprise_grid: true\n", nil)
	if err := c.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "not on Enterprise Grid") {
		t.Fatalf("Check of a Grid setting on a non-Grid workspace: %v", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	f := workspace(t, slackapptest.Plan{SCIM: true, Grid: true})
	c := build(t, f.SettingsYAML(), nil)
	f.Fail("users.lookupByEmail", slackapptest.Fault{Code: "invalid_auth"})
	_, err := c.EnsureAccount(opCtx("k"), gatehouse.AccountRef{Email: "s@example.com", Name: "S"})
	if _, err := c.EnsureAccount(opCtx("k"), gatehouse.AccountRef{Email: "s@example.com", Name: "S"}); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	fmt.Fprintf(&all, "%v %+v %#v", err, c.s, c.s)
	for _, ex := range append(append(c.bot.Recording(), c.user.Recording()...), c.scim.Recording()...) {
		fmt.Fprintf(&all, "%v %s %s %s %v", ex.RequestHeader, ex.URL, ex.RequestBody, ex.ResponseBody, ex.ResponseHeader)
	}
	if all.Len() < 200 {
		t.Fatal("nothing recorded")
	}
	for _, secret := range []string{slackapptest.BotToken, slackapptest.UserToken} {
		if strings.Contains(all.String(), secret) {
			t.Fatalf("a token leaked into errors, settings or recordings")
		}
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct{ yaml, owner, want string }{
		{"scim: true\n", "it@example.com", "bot_token is required"},
		{"bot_token: x\nscim: true\n", "it@example.com", "scim: true needs user_token"},
		{"bot_token: x\nenterprise_grid: true\n", "it@example.com", "enterprise_grid: true needs user_token"},
		{"bot_token: x\n", "", "task_assignee"},
		{"bot_token: x\nbogus: 1\n", "it@example.com", "bogus"},
		{"bot_token: x\ninvite_channel_ids: [C1]\n", "it@example.com", "invite_channel_ids"},
	}
	for _, tc := range tests {
		s, err := config.NewSettings(tc.yaml)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(&config.App{Name: "slack", Owner: tc.owner, Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("settings %q: %v, want an error mentioning %q", tc.yaml, err, tc.want)
		}
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{`{"ok":true}`, `{"ok":false,"error":"ratelimited"}`, `{"ok":false,"error":"missing_scope","needed":"users:read","provided":"bot"}`,
		`{"ok":false}`, `{}`, `[]`, `null`, `{"ok":"yes"}`, `<html>`, `{"ok":true,"response_metadata":{"next_cursor":"x"}}`, ``} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope("m", http.Header{"Retry-After": {"3"}}, body)
		if err == nil && (env.OK == nil || !*env.OK) {
			t.Fatalf("success without ok:true for %q", body)
		}
		if err != nil && gatehouse.Classify(err) == gatehouse.ClassUnknown {
			t.Fatalf("unclassified error %v for %q", err, body)
		}
	})
}
