package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// engineEnv is the real engine over a bbolt file, an IdP (simulated) and
// one SCIM app served by the third-party elimity server, whose deactivation
// (PATCH active=false) keeps group memberships, as most SCIM servers do.
type engineEnv struct {
	t    *testing.T
	peer *scimPeer
	db   *store.DB
	eng  *lifecycle.Engine
	idp  *simulated.Connector
	gids map[string]string // display name → group id
}

func newEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	p := newSCIMPeer(t, false)
	env := &engineEnv{t: t, peer: p, gids: map[string]string{}}
	for _, g := range []string{"Sales", "Admins"} {
		env.gids[g] = p.addGroup(g)
	}
	y := fmt.Sprintf(`version: 1
organization: {name: Example, domain: example.com, time_zone: UTC}
admins: {it: [it@example.com], it_email: it@example.com}
engine: {backoff_base: 5ms, backoff_max: 20ms, max_attempts: 2}
apps:
  okta:
    connector: simulated
    idp: true
    owner: it@example.com
  crm:
    connector: scim
    owner: it@example.com
    rate_limit: {per_second: 1000, burst: 100}
    settings:
      base_url: %s/scim/v2
      enterprise_extension: true
      auth: {type: bearer, token: scim-token}
    entitlements:
      sales: {kind: group, resource: Sales, risk: low}
      admins: {kind: group, resource: Admins, risk: low}
profiles:
  base: {grants: [okta, crm, "crm:sales", "crm:admins"]}
rules:
  - {name: everyone, when: "true", profiles: [base]}
`, p.URL)
	cfg, err := config.Parse("gatehouse.yaml", []byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	crm, err := New(cfg.Apps["crm"], connectors.Deps{Logger: zerolog.Nop(), UserAgent: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	env.idp = simulated.New("okta", simulated.Options{})
	db, err := store.Open(filepath.Join(t.TempDir(), "gatehouse.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	env.db = db
	eng, err := lifecycle.New(lifecycle.Options{Store: db, Config: cfg, Rules: r, Logger: zerolog.Nop(),
		Connectors: map[string]gatehouse.Connector{"okta": env.idp, "crm": crm}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	env.eng = eng
	t.Cleanup(func() { eng.Close(); db.Close() })
	return env
}

func (env *engineEnv) run(ev gatehouse.Event) gatehouse.Run {
	env.t.Helper()
	ev.Actor = gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "test"}
	r, _, err := env.eng.Submit(context.Background(), ev)
	if err != nil {
		env.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if r, err = env.eng.Wait(ctx, r.ID); err != nil {
		env.t.Fatal(err)
	}
	return r
}

// serverUser returns the elimity server's own record of the user: whether
// it exists, is active, and which groups list it as a member.
func (env *engineEnv) serverUser(userName string) (exists, active bool, groups []string) {
	st := env.peer.store
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, u := range st.users {
		if un, _ := u.attrs["userName"].(string); !strings.EqualFold(un, userName) {
			continue
		}
		active, _ = u.attrs["active"].(bool)
		for _, g := range st.groups {
			for _, m := range members(g) {
				if m == u.id {
					groups = append(groups, g.attrs["displayName"].(string))
				}
			}
		}
		return true, active, groups
	}
	return false, false, nil
}

func (env *engineEnv) whoHad(ent, key string) bool {
	env.t.Helper()
	gs, err := env.db.WhoHad("crm", ent, time.Now().Add(time.Second))
	if err != nil {
		env.t.Fatal(err)
	}
	for _, g := range gs {
		if g.Identity == key {
			return true
		}
	}
	return false
}

var ada = gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: "ada@example.com", Name: "Ada Lovelace", EmployeeID: "E-1",
	Department: "Sales", Title: "Account Executive"}

// The leaver's memberships really go from the third-party server, the user
// is inactive there, and who-had, the grant history and the audit say the
// same as the server.
func TestLeaverAgainstElimityServer(t *testing.T) {
	env := newEngineEnv(t)
	if r := env.run(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("joiner %s: %s", r.Status, r.Summary)
	}
	if _, active, groups := env.serverUser(ada.Email); !active || len(groups) != 2 {
		t.Fatalf("after the joiner the server shows active=%v groups=%v", active, groups)
	}
	lr := env.run(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}})
	if lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver %s: %s", lr.Status, lr.Summary)
	}
	exists, active, groups := env.serverUser(ada.Email)
	if !exists || active || len(groups) != 0 {
		t.Fatalf("the server shows exists=%v active=%v groups=%v: want an inactive user in no group", exists, active, groups)
	}
	for _, ent := range []string{"sales", "admins", "account"} {
		if env.whoHad(ent, ada.Key()) {
			t.Errorf("who-had crm:%s lists ada; the server shows nothing", ent)
		}
	}
	hist, err := env.db.GrantHistory(ada.Key())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range hist {
		if g.App == "crm" && g.RevokedAt.IsZero() {
			t.Errorf("grant history: crm:%s still open", g.Entitlement)
		}
	}
	audit, err := env.db.AuditEntries(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var verify *gatehouse.AuditEntry
	for i, a := range audit {
		if a.Action == "verify" && a.App == "crm" && a.RunID == lr.ID {
			verify = &audit[i]
		}
	}
	if verify == nil || verify.Details["verified"] != "true" || verify.Details["active"] != "false" || verify.Details["entitlements"] != "" ||
		!strings.Contains(verify.Details["attributes"], "department=Sales") {
		t.Fatalf("verify audit entry %+v: want the observed state (inactive, no groups, the enterprise attributes)", verify)
	}
	// Rehire the same day: a new run that reactivates the user on the
	// server and puts it back in its groups.
	rr := env.run(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada})
	if rr.Event.Type != gatehouse.EventRehire || rr.Status != gatehouse.RunSucceeded {
		t.Fatalf("onboarding after the leave: %s run %s (%s)", rr.Event.Type, rr.Status, rr.Summary)
	}
	if _, active, groups := env.serverUser(ada.Email); !active || len(groups) != 2 {
		t.Fatalf("after the rehire the server shows active=%v groups=%v", active, groups)
	}
	if a, _ := env.idp.Find(gatehouse.AccountRef{Email: ada.Email, UserName: ada.Email}); !a.Active {
		t.Error("IdP account not re-enabled by the rehire")
	}
	if !env.whoHad("admins", ada.Key()) {
		t.Error("who-had crm:admins does not list ada after the rehire")
	}
}

// The server answers the removal of one membership with success but keeps
// it: the re-read catches it, the run stays blocked with an escalated task
// naming the entitlement, and who-had still lists the person.
func TestLeaverServerKeepsOneMembership(t *testing.T) {
	env := newEngineEnv(t)
	env.run(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada})
	admins := env.gids["Admins"]
	env.peer.mu.Lock()
	env.peer.wrap = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch || !strings.HasSuffix(r.URL.Path, "/Groups/"+admins) {
			return false
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.WriteHeader(http.StatusNoContent) // "done" — and nothing done
		return true
	}
	env.peer.mu.Unlock()
	lr := env.run(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}})
	if lr.Status != gatehouse.RunBlocked {
		t.Fatalf("leaver %s (%s), want blocked", lr.Status, lr.Summary)
	}
	if _, active, groups := env.serverUser(ada.Email); active || len(groups) != 1 || groups[0] != "Admins" {
		t.Fatalf("server shows active=%v groups=%v", active, groups)
	}
	tasks, err := env.db.ListTasks(store.TaskFilter{RunID: lr.ID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || !tasks[0].Escalated || !strings.Contains(tasks[0].Title, "crm:admins") {
		t.Fatalf("open tasks %+v: want one escalated task naming crm:admins", tasks)
	}
	if !env.whoHad("admins", ada.Key()) {
		t.Error("who-had crm:admins no longer lists ada although the server still has her in Admins")
	}
	if env.whoHad("sales", ada.Key()) {
		t.Error("who-had crm:sales lists ada although the server dropped her")
	}
}

// Only a dialect whose deactivation removes the account (Notion) defaults
// to relying on it for memberships; the others get explicit removals.
func TestDeactivationDropsEntitlementsPerPreset(t *testing.T) {
	for _, name := range PresetNames() {
		c := newConn(t, "https://scim.example.com", "preset: "+name+"\n", false)
		if got, want := c.DeactivationDropsEntitlements(), name == "notion"; got != want {
			t.Errorf("preset %s: DeactivationDropsEntitlements() = %v, want %v", name, got, want)
		}
	}
}
