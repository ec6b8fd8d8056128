package slackhandlers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

const uxConfig = `version: 1
organization: {name: Example, domain: example.com, time_zone: UTC}
admins: {it: [U0IT], it_channel: C0IT, it_email: it@example.com}
apps:
  okta: {connector: simulated, idp: true, title: Okta, owner: it@example.com, entitlements: {engineering: {kind: group, risk: low}}}
  pagerduty: {connector: simulated, title: PagerDuty, owner: it@example.com, delete: true, entitlements: {oncall: {kind: team, risk: low}}}
  figma: {connector: manual, title: Figma, owner: it@example.com}
  aws: {connector: simulated, title: AWS, owner: it@example.com, entitlements: {poweruser: {kind: permission_set, risk: high}}}
profiles:
  base: {grants: [okta]}
addons:
  payments: {grants: ["aws:poweruser"]}
rules:
  - {name: everyone, when: "true", profiles: [base]}
  - {name: payments, when: 'identity.team == "Payments"', addons: [payments]}
`

func uxCfg(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("ux.yaml", []byte(uxConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRequesterApprovingIsToldWhy(t *testing.T) {
	s, _ := newService(t)
	// Ida asked for Ada's access and is (wrongly) listed as an approver.
	a := gatehouse.Approval{ID: "asked", IdentityKey: "ada@example.com", Requester: "ida@example.com",
		Approvers: []string{"ida@example.com", "grace@example.com"}, Required: 1, Status: gatehouse.ApprovalPending}
	if _, err := s.Store.PutApproval(a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, email, want, notWant string
	}{
		{"requester of someone else's access", "asked", "ida@example.com", "a request you made", "your own access"},
		{"subject", "pending", "ada@example.com", "your own access", "a request you made"},
		{"requester who is the subject", "self-req", "grace@example.com", "your own access", "a request you made"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Decide(context.Background(), Actor{UserID: "U1", Email: tc.email}, tc.id, true, "")
			if !errors.Is(err, ErrSelfApproval) {
				t.Fatalf("err = %v, want the self-approval refusal", err)
			}
			msg := Message(err)
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.notWant) {
				t.Errorf("message %q: want %q, not %q", msg, tc.want, tc.notWant)
			}
		})
	}
}

func TestGrantOrigin(t *testing.T) {
	cfg := uxCfg(t)
	for _, tc := range []struct {
		name string
		g    gatehouse.Grant
		want string
	}{
		{"base profile", gatehouse.Grant{Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "everyone", Profile: "base"}}}, "birthright"},
		{"add-on", gatehouse.Grant{Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "payments", Profile: "payments"}}}, "add-on profile payments"},
		{"add-on and base", gatehouse.Grant{Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "payments", Profile: "payments"}, {Rule: "everyone", Profile: "base"}}}, "birthright"},
		{"request source", gatehouse.Grant{Source: gatehouse.SourceRequest}, "request"},
		{"request reason", gatehouse.Grant{Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "request"}}}, "request"},
		{"discovered", gatehouse.Grant{Source: gatehouse.SourceDiscovered}, "discovered"},
		{"direct rule grant", gatehouse.Grant{Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "x"}}}, "birthright"},
	} {
		if got := GrantOrigin(tc.g, cfg); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHomeShowsGrantOrigins(t *testing.T) {
	s, _ := newService(t)
	s.Config = uxCfg(t)
	now := s.now()
	for _, g := range []gatehouse.Grant{
		{Identity: "ada@example.com", App: "okta", Entitlement: "account", Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "everyone", Profile: "base"}}, GrantedAt: now.Add(-1)},
		{Identity: "ada@example.com", App: "aws", Entitlement: "poweruser", Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "payments", Profile: "payments"}}, GrantedAt: now.Add(-1)},
	} {
		if _, err := s.Store.PutGrant(g); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.Home(context.Background(), Actor{UserID: "U1", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Grants) != 2 {
		t.Fatalf("grants %+v", m.Grants)
	}
	for _, g := range m.Grants {
		want := map[string]string{"okta:account": "birthright", "aws:poweruser": "add-on profile payments"}[g.Ref().String()]
		if got := OriginOf(m.Origins, g); got != want {
			t.Errorf("%s: %q, want %q", g.Ref(), got, want)
		}
	}
}

func TestWhyUnknownRef(t *testing.T) {
	s, _ := newService(t)
	s.Config = uxCfg(t)
	ada := Actor{UserID: "U1", Email: "ada@example.com"}
	if _, err := s.Store.PutGrant(gatehouse.Grant{Identity: "ada@example.com", App: "okta", Entitlement: "legacy", Source: gatehouse.SourceDiscovered, GrantedAt: s.now().Add(-1)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text, want string
	}{
		{"why pagerduti:oncall", `no app "pagerduti" (did you mean "pagerduty"?)`},
		{"why pagerduty:oncal", `PagerDuty has no entitlement "oncal" (did you mean "oncall"?)`},
		{"why zzzzzzzz", `no app "zzzzzzzz"`},
	} {
		_, err := s.Access(context.Background(), ada, tc.text)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(Message(err), tc.want) {
			t.Errorf("%s: %v, want %q", tc.text, err, tc.want)
		}
	}
	for _, text := range []string{"why pagerduty:oncall", "why okta", "why okta:legacy"} {
		r, err := s.Access(context.Background(), ada, text)
		if err != nil || r.Why == nil {
			t.Errorf("%s: %v, want an explanation", text, err)
		}
	}
}

type planEngine struct {
	fakeEngine
	accounts []AccountLine
}

func (p *planEngine) PlanOffboard(context.Context, string) ([]AccountLine, string, error) {
	return append([]AccountLine(nil), p.accounts...), "", nil
}

func TestOffboardLinesUseTitlesAndConfiguredAction(t *testing.T) {
	s, _ := newService(t)
	s.Config = uxCfg(t)
	// What the Lifecycle adapter produces: held accounts with the engine's
	// actions, and apps that are only searched, listed by key.
	s.Engine = &planEngine{accounts: []AccountLine{
		{App: "okta", Title: "Okta", Entitlements: []string{"account"}, Action: "disable"},
		{App: "aws", Entitlements: []string{"poweruser"}, Action: "disable", Discovered: true},
		{App: "pagerduty", Entitlements: []string{"(search for accounts)"}, Action: "disable", Discovered: true, Searched: true},
		{App: "figma", Entitlements: []string{"(search for accounts)"}, Action: "disable", Discovered: true, Searched: true},
		{App: "gone", Entitlements: []string{"account"}, Action: "manual"},
	}}
	m, err := s.Offboard(context.Background(), Actor{UserID: "U0IT", Email: "it@example.com", IT: true}, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"okta": {"Okta", "disable"}, "aws": {"AWS", "disable"}, "pagerduty": {"PagerDuty", "delete"},
		"figma": {"Figma", "manual"}, "gone": {"gone", "manual"},
	}
	for _, l := range m.Accounts {
		if w := want[l.App]; l.Title != w[0] || l.Action != w[1] {
			t.Errorf("%s: title %q action %q, want %q %q", l.App, l.Title, l.Action, w[0], w[1])
		}
	}
}

type attrPlanner struct{ inputs []AttributeInput }

func (attrPlanner) Plan(_ context.Context, id gatehouse.Identity, ev gatehouse.EventType) (gatehouse.Plan, error) {
	return gatehouse.Plan{Identity: id.Key(), Event: ev}, nil
}
func (p attrPlanner) OnboardAttributes() []AttributeInput { return p.inputs }

type submitEngine struct {
	fakeEngine
	events []gatehouse.Event
}

func (e *submitEngine) Submit(_ context.Context, ev gatehouse.Event) (gatehouse.Run, error) {
	e.events = append(e.events, ev)
	return gatehouse.Run{ID: "r1"}, nil
}

// TestOnboardAttributes: the modal asks for the attributes the planner's
// rules read, prefilled for a known person; a resubmission keeps the HR
// attributes the form does not ask for, and the form's answers (a cleared
// one included) win over the stored ones.
func TestOnboardAttributes(t *testing.T) {
	s, _ := newService(t)
	eng := &submitEngine{}
	s.Engine = eng
	s.Planner = attrPlanner{inputs: []AttributeInput{{Name: "discipline", Options: []string{"backend", "frontend"}}, {Name: "seniority"}, {Name: "team_lead"}}}
	ada, err := s.Store.IdentityByEmail("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ada.Attributes = map[string]string{"cost_center": "4711", "seniority": "junior", "team_lead": "true"}
	if _, err := s.Store.PutIdentity(ada); err != nil {
		t.Fatal(err)
	}
	it := Actor{UserID: "U0IT", Email: "it@example.com", IT: true}
	m, err := s.Onboard(context.Background(), it, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attributes) != 3 || m.Form.Attributes["seniority"] != "junior" || m.Form.Attributes["cost_center"] != "" {
		t.Errorf("modal attributes %+v, form %+v", m.Attributes, m.Form.Attributes)
	}
	form := m.Form
	form.StartDate = "2026-12-01"
	form.Attributes = map[string]string{"discipline": "backend", "seniority": "senior", "team_lead": ""}
	if _, err := s.SubmitOnboard(context.Background(), it, form, "v1"); err != nil {
		t.Fatal(err)
	}
	got := eng.events[0].Identity.Attributes
	want := map[string]string{"cost_center": "4711", "discipline": "backend", "seniority": "senior"}
	if len(got) != len(want) {
		t.Errorf("attributes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attributes %v, want %v", got, want)
		}
	}
	form.Attributes["discipline"] = "sales"
	if _, errs := s.ValidateOnboard(form); errs[AttrField("discipline")] == "" {
		t.Errorf("a value outside the select's options was accepted: %v", errs)
	}
}
