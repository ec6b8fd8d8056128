package governance

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/store"
)

const testConfig = `version: 1
organization: {name: Example, domain: example.com, time_zone: Europe/Berlin}
admins:
  it: [it-lead@example.com]
  it_email: it@example.com
  it_channel: C0IT
apps:
  okta:
    connector: simulated
    idp: true
    owner: it@example.com
    seat_cost: 6
  github:
    title: GitHub
    connector: simulated
    owner: cto@example.com
    seat_cost: 21
    dormant_after: 30d
    entitlements:
      backend: {kind: team, risk: low, cost: 4}
  wiki:
    connector: simulated
    owner: it@example.com
    seat_cost: 3
  aws:
    connector: simulated
    owner: sre@example.com
    entitlements:
      prod-admin: {kind: permission_set, risk: critical}
      security-audit: {kind: permission_set, risk: high}
profiles:
  base:
    grants: [okta, github]
rules:
  - name: everyone
    when: "true"
    profiles: [base]
sod:
  - name: prod-admin-vs-audit
    entitlements: [aws:prod-admin, aws:security-audit]
    action: block
governance:
  digest:
    schedule: "0 9 * * MON"
    dormant_after: 45d
`

var now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

type fixture struct {
	cfg   *config.Config
	db    *store.DB
	conns map[string]gatehouse.Connector
	gh    *simulated.Connector
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(testConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "g.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	people := []gatehouse.Identity{
		{Kind: gatehouse.KindEmployee, Email: "ada@example.com", Name: "Ada", ManagerEmail: "bob@example.com", Status: gatehouse.StatusActive},
		{Kind: gatehouse.KindEmployee, Email: "bob@example.com", Name: "Bob", Status: gatehouse.StatusActive},
		{Kind: gatehouse.KindEmployee, Email: "carl@example.com", Name: "Carl", Status: gatehouse.StatusTerminated},
		{Kind: gatehouse.KindEmployee, Email: "dana@example.com", Name: "Dana", ManagerEmail: "bob@example.com", Status: gatehouse.StatusActive},
		{Kind: gatehouse.KindServiceAccount, Email: "ci-bot@example.com", Name: "CI bot", Owner: "carl@example.com", Purpose: "deploys",
			Expiry: gatehouse.DateOf(now.Add(days(200))), Status: gatehouse.StatusActive},
		{Kind: gatehouse.KindAIAgent, Email: "agent@example.com", Name: "Agent", Owner: "bob@example.com", Purpose: "triage",
			Expiry: gatehouse.DateOf(now.Add(-days(2))), Status: gatehouse.StatusActive},
	}
	for _, p := range people {
		if _, err := db.PutIdentity(p); err != nil {
			t.Fatal(err)
		}
	}
	grant := func(who, app, ent string, at time.Time, exp time.Time) {
		t.Helper()
		if _, err := db.PutGrant(gatehouse.Grant{Identity: who, App: app, Entitlement: ent, Source: gatehouse.SourceBirthright, GrantedAt: at, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	long := now.Add(-days(400))
	for _, who := range []string{"ada@example.com", "bob@example.com", "dana@example.com"} {
		grant(who, "github", "account", long, time.Time{})
		grant(who, "wiki", "account", long, time.Time{})
	}
	grant("ada@example.com", "github", "backend", long, time.Time{})
	grant("carl@example.com", "github", "account", long, time.Time{}) // a leaver whose grant is still open
	grant("bob@example.com", "aws", "prod-admin", long, time.Time{})
	grant("bob@example.com", "aws", "security-audit", long, time.Time{})
	grant("dana@example.com", "aws", "prod-admin", long, now.Add(days(3)))

	ts := func(t time.Time) simulated.Timestamp { return simulated.Timestamp{At: t} }
	gh := simulated.New("github", simulated.Options{Now: func() time.Time { return now }, Accounts: []simulated.SeedAccount{
		{UserName: "ada@example.com", Email: "ada@example.com", Entitlements: []string{"backend"}, LastActivity: ts(now.Add(-days(60)))},
		{UserName: "bob@example.com", Email: "bob@example.com", LastActivity: ts(now.Add(-days(2)))},
		{UserName: "carl@example.com", Email: "carl@example.com", LastActivity: ts(now.Add(-days(20)))},
		{UserName: "dana@example.com", Email: "dana@example.com"}, // never used
		{UserName: "ghost", Email: "ghost@elsewhere.example", LastActivity: ts(now.Add(-days(1)))},
		{UserName: "old@example.com", Email: "old@example.com", Disabled: true}, // disabled: neither dormant nor orphan
	}})
	// The wiki reports no activity for anybody: nobody may be called dormant there.
	wiki := simulated.New("wiki", simulated.Options{Now: func() time.Time { return now }, Accounts: []simulated.SeedAccount{
		{UserName: "ada@example.com", Email: "ada@example.com"}, {UserName: "bob@example.com", Email: "bob@example.com"},
	}})
	return &fixture{cfg: cfg, db: db, gh: gh, conns: map[string]gatehouse.Connector{"github": gh, "wiki": wiki, "okta": simulated.New("okta", simulated.Options{})}}
}

func (f *fixture) compute(t *testing.T, at time.Time) Digest {
	t.Helper()
	d, err := Compute(context.Background(), Sources{Config: f.cfg, DB: f.db, Conns: f.conns, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestComputeSections(t *testing.T) {
	f := newFixture(t)
	d := f.compute(t, now)

	var dormant []string
	for _, it := range d.Dormant {
		dormant = append(dormant, it.App+"/"+it.Email)
	}
	if got, want := strings.Join(dormant, ","), "github/dana@example.com,github/ada@example.com"; got != want {
		t.Fatalf("dormant %s, want %s", got, want)
	}
	ada := d.Dormant[1]
	if ada.IdleDays != 60 || ada.Never() || ada.MonthlyCost != 25 || strings.Join(ada.Entitlements, ",") != "backend" || ada.Manager != "bob@example.com" {
		t.Errorf("ada's line %+v", ada)
	}
	if dana := d.Dormant[0]; !dana.Never() || dana.IdleDays != 400 {
		t.Errorf("dana's line %+v, want never used for 400 days", dana)
	}

	var orphans []string
	for _, o := range d.Orphans {
		orphans = append(orphans, o.Login+"="+o.Reason)
	}
	if got := strings.Join(orphans, ";"); got != "carl@example.com=belongs to carl@example.com, who has left;ghost@elsewhere.example=matches no identity Gatehouse knows" {
		t.Errorf("orphans %s", got)
	}
	if len(d.OpenLeavers) != 1 || d.OpenLeavers[0].Email != "carl@example.com" || d.OpenLeavers[0].Open[0] != "github:account" {
		t.Errorf("open leavers %+v", d.OpenLeavers)
	}
	if len(d.SoD) != 1 || d.SoD[0].Email != "bob@example.com" || d.SoD[0].Constraint != "prod-admin-vs-audit" {
		t.Errorf("SoD %+v", d.SoD)
	}
	if len(d.Expiring) != 1 || d.Expiring[0].Entitlement != "aws:prod-admin" || d.Expiring[0].Email != "dana@example.com" {
		t.Errorf("expiring %+v", d.Expiring)
	}
	problems := map[string]string{}
	for _, n := range d.NonHumans {
		problems[n.Email] = n.Problem
	}
	if problems["ci-bot@example.com"] != "owner carl@example.com has left" || !strings.HasPrefix(problems["agent@example.com"], "past its expiry") {
		t.Errorf("non-humans %+v", d.NonHumans)
	}
	// GitHub: ada (21+4), dana (21), carl and ghost (21 each).
	if len(d.Licenses) != 1 || d.Licenses[0].App != "github" || d.Licenses[0].Seats != 4 || d.Licenses[0].MonthlyCost != 88 || d.Reclaimable != 88 {
		t.Errorf("licenses %+v total %.2f", d.Licenses, d.Reclaimable)
	}
	if !containsText(d.Notes, "wiki reports no last activity") {
		t.Errorf("notes %v should say the wiki reports no activity", d.Notes)
	}
}

func TestComputeThresholdPerApp(t *testing.T) {
	f := newFixture(t)
	// Ada idles 60 days; GitHub's own threshold is 30d. 31 days earlier she
	// had idled 29 days: not dormant yet.
	d := f.compute(t, now.Add(-days(31)))
	for _, it := range d.Dormant {
		if it.Email == "ada@example.com" {
			t.Fatalf("ada listed dormant after 29 idle days with a 30d threshold: %+v", it)
		}
	}
}

func TestComputeUnreachableAppIsSaid(t *testing.T) {
	f := newFixture(t)
	f.gh.SetFailNext(1, gatehouse.ClassPermanent)
	d := f.compute(t, now)
	if len(d.Dormant) != 0 || len(d.Orphans) != 0 {
		t.Fatalf("a failed listing must not produce lines: %+v %+v", d.Dormant, d.Orphans)
	}
	if !containsText(d.Notes, "GitHub: accounts could not be listed") {
		t.Fatalf("notes %v do not say GitHub could not be listed", d.Notes)
	}
}

func containsText(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

type recordingRevoker struct {
	mu   sync.Mutex
	reqs []lifecycle.RevokeRequest
}

func (r *recordingRevoker) RevokeAccess(_ context.Context, req lifecycle.RevokeRequest) (gatehouse.Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return gatehouse.Run{ID: "r-" + req.DedupeKey}, nil
}

func TestDecisionsAreAuthorizedAndAudited(t *testing.T) {
	f := newFixture(t)
	rev := &recordingRevoker{}
	clock := now
	svc := &Service{Config: f.cfg, DB: f.db, Engine: rev, Now: func() time.Time { return clock }}
	d, err := svc.Save(f.compute(t, now))
	if err != nil {
		t.Fatal(err)
	}
	adaLine := "d/ada@example.com/github"
	tests := []struct {
		name    string
		who     Actor
		item    string
		wantErr error
	}{
		{"stranger refused", Actor{Email: "eve@example.com"}, adaLine, ErrNotAllowed},
		{"the person themselves refused", Actor{Email: "ada@example.com"}, adaLine, ErrNotAllowed},
		{"forged line refused", Actor{Email: "it-lead@example.com", IT: true}, "d/bob@example.com/github", ErrUnknownItem},
		{"manager may", Actor{Email: "BOB@example.com"}, adaLine, nil},
		{"app owner may", Actor{Email: "cto@example.com"}, "d/dana@example.com/github", nil},
		{"IT may", Actor{Email: "it-lead@example.com", IT: true}, adaLine, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Revoke(context.Background(), d.ID, tc.item, tc.who)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Revoke: %v, want %v", err, tc.wantErr)
			}
		})
	}
	// Three allowed clicks, two of them on Ada's line: the same dedupe key.
	if len(rev.reqs) != 3 || rev.reqs[0].DedupeKey != rev.reqs[2].DedupeKey || rev.reqs[0].App != "github" || rev.reqs[0].Identity != "ada@example.com" {
		t.Fatalf("revoke requests %+v", rev.reqs)
	}
	refusals := auditOf(t, f.db, "refuse")
	if len(refusals) != 3 {
		t.Fatalf("%d refusals audited, want 3: %+v", len(refusals), refusals)
	}
	if _, err := svc.Revoke(context.Background(), "g-nosuchdigest", adaLine, Actor{Email: "it-lead@example.com", IT: true}); !errors.Is(err, ErrUnknownItem) {
		t.Fatalf("unknown digest: %v", err)
	}
}

func TestKeepSnoozesUntilItEnds(t *testing.T) {
	f := newFixture(t)
	svc := &Service{Config: f.cfg, DB: f.db, Engine: &recordingRevoker{}, Now: func() time.Time { return now }}
	d, err := svc.Save(f.compute(t, now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Keep(d.ID, "d/ada@example.com/github", Actor{Email: "bob@example.com"}, "", 14); !errors.Is(err, ErrBadKeep) {
		t.Fatalf("keep without reason: %v", err)
	}
	if _, err := svc.Keep(d.ID, "d/ada@example.com/github", Actor{Email: "eve@example.com"}, "x", 14); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("keep by a stranger: %v", err)
	}
	k, err := svc.Keep(d.ID, "d/ada@example.com/github", Actor{Email: "bob@example.com"}, "on parental leave, back in two weeks", 14)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Until.Equal(now.Add(days(14))) {
		t.Fatalf("keep until %s", k.Until)
	}
	for _, tc := range []struct {
		at     time.Time
		listed bool
	}{{now.Add(days(7)), false}, {now.Add(days(13)), false}, {now.Add(days(14)), true}, {now.Add(days(21)), true}} {
		d := f.compute(t, tc.at)
		_, listed := d.DormantByID("d/ada@example.com/github")
		if listed != tc.listed {
			t.Errorf("at %s ada listed=%v, want %v (snoozed %d)", tc.at.Format(time.DateOnly), listed, tc.listed, d.Snoozed)
		}
	}
	keeps := auditOf(t, f.db, "keep")
	if len(keeps) != 1 || keeps[0].Actor.ID != "bob@example.com" || keeps[0].Reason == "" {
		t.Fatalf("keep audit %+v", keeps)
	}
	// A snooze longer than max_snooze is capped.
	k, err = svc.Keep(d.ID, "d/dana@example.com/github", Actor{Email: "it-lead@example.com", IT: true}, "seasonal", 1000)
	if err != nil || !k.Until.Equal(now.Add(f.cfg.Governance.Digest.MaxSnooze)) {
		t.Fatalf("capped keep %+v %v", k, err)
	}
}

func TestRevokeAppOnlyWhatTheClickerMay(t *testing.T) {
	f := newFixture(t)
	rev := &recordingRevoker{}
	svc := &Service{Config: f.cfg, DB: f.db, Engine: rev, Now: func() time.Time { return now }}
	d, err := svc.Save(f.compute(t, now))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.RevokeApp(context.Background(), d.ID, "github", Actor{Email: "eve@example.com"}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("stranger bulk revoke: %v", err)
	}
	runs, refused, err := svc.RevokeApp(context.Background(), d.ID, "github", Actor{Email: "cto@example.com"})
	if err != nil || len(runs) != 2 || refused != 0 {
		t.Fatalf("owner bulk revoke: %d runs, %d refused, %v", len(runs), refused, err)
	}
}

func auditOf(t *testing.T, db *store.DB, action string) []gatehouse.AuditEntry {
	t.Helper()
	all, err := db.AuditEntries(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []gatehouse.AuditEntry
	for _, a := range all {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

func TestOrphanDecisions(t *testing.T) {
	f := newFixture(t)
	rev := &recordingRevoker{}
	svc := &Service{Config: f.cfg, DB: f.db, Engine: rev, Now: func() time.Time { return now }}
	d, err := svc.Save(f.compute(t, now))
	if err != nil {
		t.Fatal(err)
	}
	var ghost, carl OrphanItem
	for _, o := range d.Orphans {
		switch o.Login {
		case "ghost@elsewhere.example":
			ghost = o
		case "carl@example.com":
			carl = o
		}
	}
	// The person's manager answers for dormant access, not for orphans.
	for _, who := range []Actor{{Email: "bob@example.com"}, {Email: "eve@example.com"}} {
		if _, err := svc.DisableOrphan(context.Background(), d.ID, ghost.ID, who); !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("DisableOrphan by %s: %v", who.Email, err)
		}
	}
	if _, err := svc.DisableOrphan(context.Background(), d.ID, ghost.ID, Actor{Email: "cto@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DisableOrphan(context.Background(), d.ID, carl.ID, Actor{Email: "it-lead@example.com", IT: true}); err != nil {
		t.Fatal(err)
	}
	if len(rev.reqs) != 2 {
		t.Fatalf("revoke requests %+v", rev.reqs)
	}
	g, l := rev.reqs[0], rev.reqs[1]
	if g.Identity != "" || g.Account == nil || g.Account.ID != ghost.AccountID || g.Account.Email != "ghost@elsewhere.example" || g.App != "github" {
		t.Errorf("orphan disable request %+v (account %+v)", g, g.Account)
	}
	if l.Identity != "carl@example.com" || l.Account == nil || l.Account.ID != carl.AccountID {
		t.Errorf("a leaver's orphan must be filed under the leaver: %+v", l)
	}

	if _, err := svc.AssignOwner(d.ID, ghost.ID, Actor{Email: "cto@example.com"}, "nobody@example.com"); !errors.Is(err, ErrUnknownOwner) {
		t.Fatalf("assign to an unknown owner: %v", err)
	}
	if _, err := svc.AssignOwner(d.ID, ghost.ID, Actor{Email: "cto@example.com"}, "carl@example.com"); !errors.Is(err, ErrUnknownOwner) {
		t.Fatalf("assign to a leaver: %v", err)
	}
	if _, err := svc.AssignOwner(d.ID, ghost.ID, Actor{Email: "cto@example.com"}, "Bob@example.com"); err != nil {
		t.Fatal(err)
	}
	next := f.compute(t, now)
	for _, o := range next.Orphans {
		if o.AccountID == ghost.AccountID {
			t.Fatalf("the account given an owner is still orphaned: %+v", o)
		}
	}
	if a := auditOf(t, f.db, "assign_owner"); len(a) != 1 || a[0].IdentityKey != "bob@example.com" {
		t.Fatalf("assign_owner audit %+v", a)
	}
}
