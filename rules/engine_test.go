package rules

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

const testConfig = `version: 1
organization: {name: T, domain: example.com, time_zone: Europe/Berlin}
defaults: {contractor_max_access: 2160h, review_risk: high, request_max_duration: 720h}
admins: {it: [U0IT00001]}
apps:
  okta: {connector: okta, idp: true, owner: it@example.com}
  gh:
    connector: github
    owner: gh@example.com
    entitlements:
      eng: {kind: team, risk: low}
      admin: {kind: role, risk: critical}
      read: {kind: team, risk: low}
  aws:
    connector: aws
    owner: aws@example.com
    entitlements:
      dev: {kind: permission_set, risk: medium}
      prod: {kind: permission_set, risk: high}
      audit: {kind: permission_set, risk: high}
  vault:
    connector: manual
    owner: sec@example.com
    entitlements:
      secrets: {kind: group, risk: high}
profiles:
  base: {grants: [okta]}
  eng: {includes: [base], grants: [gh:eng, aws:dev]}
  sre: {includes: [eng], grants: [aws:prod, gh:admin]}
  bot: {grants: [gh:read]}
addons:
  mgr: {grants: [aws:audit]}
rules:
  - name: everyone
    when: identity.is_human
    profiles: [base]
  - name: engineers
    when: identity.department == "Eng"
    profiles: [eng]
  - name: sre
    when: identity.team == "sre"
    profiles: [sre]
    approvers: [it]
  - name: managers
    when: attr("manager") == "true"
    addons: [mgr]
  - name: no-prod-for-contractors
    when: identity.kind == "contractor"
    exclude: [aws:prod, vault]
  - name: vault-for-eng
    when: identity.department == "Eng"
    grant: [vault:secrets]
  - name: joiner-only
    events: [joiner]
    when: 'true'
    grant: [gh:read]
    expires_after: 240h
  - name: bots
    when: '!identity.is_human'
    profiles: [bot]
  - name: junior
    when: identity.seniority == "junior"
    approvers: [sec@example.com]
  - name: interns
    when: identity.kind == "intern"
    expires: identity.end_date
approvals:
  high: {approvers: [manager]}
  critical: {approvers: [manager, app_owner], two_person: true}
sod:
  - name: prod-vs-audit
    entitlements: [aws:prod, aws:audit]
    action: block
`

var testNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func loadText(t testing.TB, text string) (*config.Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(p)
}

func mustEngine(t testing.TB, text string) *Engine {
	t.Helper()
	cfg, err := loadText(t, text)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	e, err := Compile(cfg)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return e
}

func person(email string, mods ...func(*gatehouse.Identity)) gatehouse.Identity {
	id := gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: email, Name: email, Department: "Eng", Team: "backend", Location: "Berlin", ManagerEmail: "boss@example.com"}
	for _, m := range mods {
		m(&id)
	}
	id.Normalize()
	return id
}

func refs(gs []gatehouse.PlannedGrant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.App+":"+g.Entitlement)
	}
	return out
}

func grant(p gatehouse.Plan, ref string) *gatehouse.PlannedGrant {
	for i, g := range p.Grants {
		if g.App+":"+g.Entitlement == ref {
			return &p.Grants[i]
		}
	}
	return nil
}

func approval(p gatehouse.Plan, ref string) *gatehouse.ApprovalRequirement {
	for i, a := range p.Approvals {
		if a.App+":"+a.Entitlement == ref {
			return &p.Approvals[i]
		}
	}
	return nil
}

func TestPlanSemantics(t *testing.T) {
	e := mustEngine(t, testConfig)
	tests := []struct {
		name  string
		in    Input
		check func(t *testing.T, p gatehouse.Plan)
	}{
		{"engineer joiner: includes, account implication, reasons in rule order", Input{Identity: person("ada@example.com")}, func(t *testing.T, p gatehouse.Plan) {
			wantRefs := []string{"aws:account", "aws:dev", "gh:account", "gh:eng", "gh:read", "okta:account", "vault:account", "vault:secrets"}
			if got := refs(p.Grants); !slices.Equal(got, wantRefs) {
				t.Errorf("grants = %v, want %v", got, wantRefs)
			}
			if !slices.Equal(p.Profiles, []string{"base", "eng"}) {
				t.Errorf("profiles = %v", p.Profiles)
			}
			want := []gatehouse.Reason{{Rule: "everyone", Profile: "base"}, {Rule: "engineers", Profile: "base"}}
			if g := grant(p, "okta:account"); !reflect.DeepEqual(g.Reasons, want) {
				t.Errorf("okta reasons = %v, want %v", g.Reasons, want)
			}
			if g := grant(p, "gh:account"); !reflect.DeepEqual(g.Reasons, []gatehouse.Reason{{Rule: "engineers", Profile: "eng"}, {Rule: "joiner-only"}}) {
				t.Errorf("implied account reasons = %v", g.Reasons)
			}
			if a := approval(p, "vault:secrets"); a == nil || !slices.Equal(a.Approvers, []gatehouse.ApproverRole{"manager"}) || a.Required != 1 {
				t.Errorf("vault approval = %+v", a)
			}
			if approval(p, "gh:eng") != nil {
				t.Error("low risk needs no approval")
			}
			if len(p.Add) != len(p.Grants) || len(p.Remove) != 0 {
				t.Errorf("joiner add/remove = %d/%d", len(p.Add), len(p.Remove))
			}
			if g := grant(p, "gh:read"); !g.ExpiresAt.Equal(testNow.Add(240 * time.Hour)) {
				t.Errorf("expires_after: %v", g.ExpiresAt)
			}
			if g := grant(p, "gh:account"); !g.ExpiresAt.IsZero() {
				t.Errorf("an account also granted without expiry must not expire: %v", g.ExpiresAt)
			}
			if !p.ExpiresAt.Equal(testNow.Add(240 * time.Hour)) {
				t.Errorf("plan expiry = %v", p.ExpiresAt)
			}
		}},
		{"events filter", Input{Identity: person("ada@example.com"), Event: gatehouse.EventRehire}, func(t *testing.T, p gatehouse.Plan) {
			if grant(p, "gh:read") != nil {
				t.Error("joiner-only rule applied to a rehire")
			}
		}},
		{"exclusion wins; excluding the account excludes the app; contractor expiry", Input{Identity: person("c@example.com", func(i *gatehouse.Identity) {
			i.Kind, i.Team, i.EndDate = gatehouse.KindContractor, "sre", gatehouse.Date{Year: 2027, Month: 1, Day: 31}
		})}, func(t *testing.T, p gatehouse.Plan) {
			for _, r := range []string{"aws:prod", "vault:secrets", "vault:account"} {
				if grant(p, r) != nil {
					t.Errorf("%s granted despite exclusion", r)
				}
			}
			if grant(p, "gh:admin") == nil {
				t.Error("gh:admin should still be granted")
			}
			var ex []string
			for _, x := range p.Excluded {
				ex = append(ex, x.App+":"+x.Entitlement+"="+x.Reasons[0].Rule)
			}
			if !slices.Equal(ex, []string{"aws:prod=no-prod-for-contractors", "vault:account=no-prod-for-contractors"}) {
				t.Errorf("excluded = %v", ex)
			}
			berlin, _ := time.LoadLocation("Europe/Berlin")
			end := time.Date(2027, 2, 1, 0, 0, 0, 0, berlin)
			for _, g := range p.Grants {
				if !g.ExpiresAt.Equal(end) && !g.ExpiresAt.Equal(testNow.Add(240*time.Hour)) {
					t.Errorf("%s expires %v, want contract end %v", g.Ref(), g.ExpiresAt, end)
				}
			}
		}},
		{"contractor capped by contractor_max_access", Input{Identity: person("c@example.com", func(i *gatehouse.Identity) {
			i.Kind, i.EndDate = gatehouse.KindContractor, gatehouse.Date{Year: 2028, Month: 1, Day: 31}
		})}, func(t *testing.T, p gatehouse.Plan) {
			if g := grant(p, "aws:dev"); !g.ExpiresAt.Equal(testNow.Add(2160 * time.Hour)) {
				t.Errorf("expires %v, want now+90d", g.ExpiresAt)
			}
		}},
		{"SoD conflict, two-person approvals merged with rule approvers", Input{Identity: person("s@example.com", func(i *gatehouse.Identity) {
			i.Team, i.Attributes = "sre", map[string]string{"manager": "true"}
		})}, func(t *testing.T, p gatehouse.Plan) {
			if len(p.Conflicts) != 1 || p.Conflicts[0].Constraint != "prod-vs-audit" || p.Conflicts[0].Action != "block" {
				t.Errorf("conflicts = %+v", p.Conflicts)
			}
			a := approval(p, "gh:admin")
			if a == nil || !slices.Equal(a.Approvers, []gatehouse.ApproverRole{"manager", "app_owner", "it"}) || a.Required != 2 || !a.TwoPerson {
				t.Errorf("gh:admin approval = %+v", a)
			}
			if a := approval(p, "aws:prod"); a == nil || !slices.Equal(a.Approvers, []gatehouse.ApproverRole{"manager", "it"}) || a.Required != 1 {
				t.Errorf("aws:prod approval = %+v", a)
			}
			if a := approval(p, "aws:dev"); a == nil || !slices.Equal(a.Approvers, []gatehouse.ApproverRole{"it"}) {
				t.Errorf("rule approvers apply to medium risk too: %+v", a)
			}
			if !slices.Contains(p.Profiles, "mgr") || !slices.Contains(p.Profiles, "sre") {
				t.Errorf("profiles = %v", p.Profiles)
			}
		}},
		{"approvers-only rule adds sign-off where approval is needed", Input{Identity: person("j@example.com", func(i *gatehouse.Identity) {
			i.Attributes = map[string]string{"seniority": "junior"}
		})}, func(t *testing.T, p gatehouse.Plan) {
			a := approval(p, "vault:secrets")
			if a == nil || !slices.Equal(a.Approvers, []gatehouse.ApproverRole{"manager", "sec@example.com"}) || !slices.Contains(a.Reasons, "rule junior") {
				t.Errorf("vault approval = %+v", a)
			}
			if approval(p, "gh:eng") != nil {
				t.Error("approvers-only rule must not add approvals to low-risk grants")
			}
		}},
		{"non-human ends at expiry", Input{Identity: person("bot@example.com", func(i *gatehouse.Identity) {
			i.Kind, i.Department, i.Owner, i.Purpose, i.Expiry = gatehouse.KindBot, "", "o@example.com", "ci", gatehouse.Date{Year: 2027, Month: 3, Day: 1}
		})}, func(t *testing.T, p gatehouse.Plan) {
			berlin, _ := time.LoadLocation("Europe/Berlin")
			if !slices.Equal(refs(p.Grants), []string{"gh:account", "gh:read"}) {
				t.Errorf("grants = %v", refs(p.Grants))
			}
			if g := grant(p, "gh:account"); !g.ExpiresAt.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, berlin)) {
				t.Errorf("expires %v", g.ExpiresAt)
			}
		}},
		{"expires expression caps the plan", Input{Identity: person("i@example.com", func(i *gatehouse.Identity) {
			i.Kind, i.EndDate = gatehouse.KindIntern, gatehouse.Date{Year: 2026, Month: 12, Day: 5}
		})}, func(t *testing.T, p gatehouse.Plan) {
			berlin, _ := time.LoadLocation("Europe/Berlin")
			if g := grant(p, "aws:dev"); !g.ExpiresAt.Equal(time.Date(2026, 12, 5, 0, 0, 0, 0, berlin)) {
				t.Errorf("expires %v", g.ExpiresAt)
			}
		}},
		{"mover diff: removed not stacked, high risk flagged", Input{Identity: person("m@example.com", func(i *gatehouse.Identity) { i.Team = "sre" }), Previous: ptr(person("m@example.com"))}, func(t *testing.T, p gatehouse.Plan) {
			if p.Event != gatehouse.EventMover {
				t.Errorf("event = %s", p.Event)
			}
			if got := refs(p.Add); !slices.Equal(got, []string{"aws:prod", "gh:admin"}) {
				t.Errorf("add = %v", got)
			}
			if got := refs(p.Review); !slices.Equal(got, []string{"aws:prod", "gh:admin"}) {
				t.Errorf("review = %v", got)
			}
			if len(p.Remove) != 0 || len(p.Keep) != 7 {
				t.Errorf("remove = %v keep = %v", refs(p.Remove), refs(p.Keep))
			}
			for _, a := range p.Approvals {
				if a.App+":"+a.Entitlement == "vault:secrets" {
					t.Error("kept access must not need approval again")
				}
			}
		}},
		{"mover back: old access removed", Input{Identity: person("m@example.com"), Previous: ptr(person("m@example.com", func(i *gatehouse.Identity) { i.Team = "sre" }))}, func(t *testing.T, p gatehouse.Plan) {
			if got := refs(p.Remove); !slices.Equal(got, []string{"aws:prod", "gh:admin"}) {
				t.Errorf("remove = %v", got)
			}
			if len(p.Add) != 0 || len(p.Review) != 0 {
				t.Errorf("add = %v review = %v", refs(p.Add), refs(p.Review))
			}
		}},
		{"leaver: nothing granted, everything removed", Input{Identity: person("l@example.com"), Event: gatehouse.EventLeaver}, func(t *testing.T, p gatehouse.Plan) {
			if len(p.Grants) != 0 || len(p.Remove) != 8 {
				t.Errorf("grants = %v remove = %v", refs(p.Grants), refs(p.Remove))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = testNow
			p, err := e.Plan(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestPlanDeterministicAndNoCompiles(t *testing.T) {
	e := mustEngine(t, testConfig)
	in := Input{Identity: person("s@example.com", func(i *gatehouse.Identity) {
		i.Team, i.Attributes = "sre", map[string]string{"manager": "true"}
	}), Previous: ptr(person("s@example.com")), Now: testNow}
	first, err := e.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(first)
	before := Compiles()
	for range 50 {
		p, err := e.Plan(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(p); string(got) != string(want) {
			t.Fatalf("plan changed between runs:\n%s\n%s", got, want)
		}
	}
	if n := Compiles() - before; n != 0 {
		t.Errorf("%d compiles during evaluation", n)
	}
	// The same config compiled again gives the same plan (map order in the
	// config must not leak into the result).
	e2 := mustEngine(t, testConfig)
	p2, _ := e2.Plan(in)
	if got, _ := json.Marshal(p2); string(got) != string(want) {
		t.Errorf("recompiled engine plans differently")
	}
}

func TestForRequestAndWhy(t *testing.T) {
	e := mustEngine(t, testConfig)
	contractor := person("c@example.com", func(i *gatehouse.Identity) {
		i.Kind, i.EndDate = gatehouse.KindContractor, gatehouse.Date{Year: 2027, Month: 1, Day: 31}
	})
	p, err := e.ForRequest(contractor, []gatehouse.EntitlementRef{{App: "aws", Entitlement: "prod"}}, nil, testNow, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Excluded) != 1 || p.Excluded[0].Reasons[0].Rule != "no-prod-for-contractors" || p.Has(gatehouse.EntitlementRef{App: "aws", Entitlement: "prod"}) {
		t.Errorf("excluded request = %+v", p)
	}
	eng := person("a@example.com", func(i *gatehouse.Identity) { i.Team = "sre" })
	p, err = e.ForRequest(eng, []gatehouse.EntitlementRef{{App: "aws", Entitlement: "audit"}}, []gatehouse.EntitlementRef{{App: "aws", Entitlement: "prod"}, {App: "aws", Entitlement: "account"}}, testNow, 60*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Constraint != "prod-vs-audit" {
		t.Errorf("conflicts = %+v", p.Conflicts)
	}
	if a := approval(p, "aws:audit"); a == nil || a.Approvers[0] != "manager" {
		t.Errorf("approval = %+v", p.Approvals)
	}
	if !p.ExpiresAt.Equal(testNow.Add(720 * time.Hour)) {
		t.Errorf("request expiry not capped: %v", p.ExpiresAt)
	}
	if refs(p.Grants)[0] != "aws:audit" || len(p.Grants) != 1 {
		t.Errorf("grants = %v (account already held)", refs(p.Grants))
	}
	if _, err := e.ForRequest(eng, []gatehouse.EntitlementRef{{App: "nope", Entitlement: "x"}}, nil, testNow, 0); err == nil {
		t.Error("unknown entitlement accepted")
	}

	granted, excluded, err := e.Why(eng, gatehouse.EntitlementRef{App: "okta", Entitlement: "account"}, testNow)
	if err != nil || len(excluded) != 0 || !reflect.DeepEqual(granted, []gatehouse.Reason{{Rule: "everyone", Profile: "base"}, {Rule: "engineers", Profile: "base"}, {Rule: "sre", Profile: "base"}}) {
		t.Errorf("why okta = %v %v %v", granted, excluded, err)
	}
	granted, excluded, err = e.Why(contractor, gatehouse.EntitlementRef{App: "vault", Entitlement: "secrets"}, testNow)
	if err != nil || len(excluded) != 1 || len(granted) != 1 || granted[0].Rule != "vault-for-eng" {
		t.Errorf("why vault = %v %v %v", granted, excluded, err)
	}
}

func TestCompileErrorsLocated(t *testing.T) {
	text := `version: 1
admins: {it: [U0IT00001]}
apps:
  okta: {connector: okta, owner: it@example.com}
profiles:
  p: {grants: [okta]}
rules:
  - name: not-bool
    when: identity.department
    profiles: [p]
  - name: typo
    when: "identity.departmnt == 'x'"
    profiles: [p]
  - name: block
    when: |
      identity.kind == "employee" &&
        identity.tem == "x"
    profiles: [p]
  - name: bad-regex
    when: matches(identity.title, "a(")
    profiles: [p]
  - name: not-a-time
    when: 'true'
    expires: identity.name
    profiles: [p]
  - name: ok
    when: identity.kind == "employee"
    profiles: [p]
`
	cfg, err := loadText(t, text)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	_, err = Compile(cfg)
	var el config.ErrorList
	if !errors.As(err, &el) {
		t.Fatalf("want ErrorList, got %v", err)
	}
	want := []string{
		":9:11: rules.not-bool.when: must be boolean, got string",
		":12:21: rules.typo.when: unknown field departmnt (did you mean department?)",
		":17:18: rules.block.when: unknown field tem (did you mean team?)",
		":20:11: rules.bad-regex.when: error parsing regexp",
		":24:14: rules.not-a-time.expires: must be a time",
	}
	if len(el) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(el), len(want), err)
	}
	for i, w := range want {
		if i >= len(el) || !strings.Contains(el[i].Error(), w) {
			t.Errorf("error %d: want %q in\n%v", i, w, err)
		}
	}
}

func TestRuntimeErrorNamesRule(t *testing.T) {
	text := strings.Replace(testConfig, "rules:\n", "rules:\n  - {name: mover-only, when: 'previous.team == \"x\"', grant: [gh:read]}\n", 1)
	e := mustEngine(t, text)
	_, err := e.Plan(Input{Identity: person("a@example.com"), Now: testNow})
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Rule != "mover-only" {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.Plan(Input{Identity: person("a@example.com"), Previous: ptr(person("a@example.com")), Now: testNow}); err != nil {
		t.Errorf("with previous: %v", err)
	}
}

func TestLint(t *testing.T) {
	text := strings.Replace(testConfig, "rules:\n", "rules:\n  - {name: mover-only, when: 'previous.team == \"x\"', grant: [gh:read]}\n  - {name: safe-mover, when: 'previous != nil && previous.team == \"x\"', grant: [gh:read]}\n", 1)
	e := mustEngine(t, text)
	warns := e.Lint()
	if len(warns) != 1 || !strings.Contains(warns[0].Error(), "rules.mover-only.when: fails for a joiner (employee, previous is nil)") || !warns[0].Warning {
		t.Errorf("lint = %v", warns)
	}
	if w := mustEngine(t, testConfig).Lint(); len(w) != 0 {
		t.Errorf("clean config linted: %v", w)
	}
}
