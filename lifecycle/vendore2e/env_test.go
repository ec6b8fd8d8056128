package vendore2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	_ "github.com/gatehousehq/gatehouse/connectors/aws"
	"github.com/gatehousehq/gatehouse/connectors/aws/awstest"
	_ "github.com/gatehousehq/gatehouse/connectors/entra"
	"github.com/gatehousehq/gatehouse/connectors/entra/entratest"
	_ "github.com/gatehousehq/gatehouse/connectors/github"
	"github.com/gatehousehq/gatehouse/connectors/github/githubtest"
	_ "github.com/gatehousehq/gatehouse/connectors/google"
	"github.com/gatehousehq/gatehouse/connectors/google/googletest"
	_ "github.com/gatehousehq/gatehouse/connectors/okta"
	"github.com/gatehousehq/gatehouse/connectors/okta/oktatest"
	_ "github.com/gatehousehq/gatehouse/connectors/slack"
	"github.com/gatehousehq/gatehouse/connectors/slack/slackapptest"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

const (
	awsAccount  = "111122223333"
	githubLogin = "ada-gh"
	adaEmail    = "ada@example.com"
	graceEmail  = "grace@example.com"
)

// fakes are the six vendors' loopback servers.
type fakes struct {
	okta   *oktatest.Server
	google *googletest.Server
	entra  *entratest.Server
	github *githubtest.Server
	slack  *slackapptest.Server
	aws    *awstest.Server
	// lat is each vendor's per-request latency (by app name).
	lat map[string]time.Duration
}

type envOptions struct {
	latency       map[string]time.Duration // per request, by app name
	transferPolls int                      // Google transfer reads answering inProgress
	transferPoll  time.Duration            // the google connector's transfer_poll (default 20ms)
	awsPolls      int                      // AWS assignment status polls answering IN_PROGRESS
	// wrap replaces connectors before the engine starts (fault models
	// that need more than the fakes offer).
	wrap func(map[string]gatehouse.Connector)
}

// env is the real engine over a bbolt file with a connector per vendor fake.
type env struct {
	t     testing.TB
	f     fakes
	cfg   *config.Config
	db    *store.DB
	eng   *lifecycle.Engine
	conns map[string]gatehouse.Connector
}

func indent(s, pad string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	lat := o.latency
	if lat == nil {
		lat = map[string]time.Duration{}
	}
	f := fakes{
		okta:   oktatest.New(t, oktatest.Options{Latency: lat["okta"]}),
		google: googletest.New(t, googletest.Options{TransferPolls: o.transferPolls}),
		entra:  entratest.New(t),
		github: githubtest.New(t, githubtest.Options{Token: "ghp_fake_token_for_e2e_tests_0123456789", Latency: lat["github"]}),
		slack:  slackapptest.New(t, slackapptest.Plan{SCIM: true, Grid: true}),
		aws:    awstest.New(t, awstest.Options{PendingPolls: o.awsPolls, Latency: lat["aws"]}),
		lat:    lat,
	}
	f.google.SetLatency(lat["google"])
	f.entra.SetLatency(lat["m365"])
	f.slack.SetLatency(lat["slack"])
	if o.transferPoll == 0 {
		o.transferPoll = 20 * time.Millisecond
	}
	// What exists in each vendor before anyone is hired.
	f.okta.AddGroup("Engineering")
	f.google.AddGroup("eng@example.com")
	f.entra.AddGroup("Engineering SG")
	f.github.AddTeam("platform")
	f.github.AddUser(githubLogin, "")
	f.slack.AddChannel(slackapptest.Channel{Name: "engineering", BotMember: true})
	// Slack refuses to empty a user group: someone else is on call too.
	bob := f.slack.AddUser(slackapptest.User{Name: "bob", Email: "bob@example.com", RealName: "Bob"})
	f.slack.AddUsergroup(slackapptest.Usergroup{Handle: "oncall", Users: []string{bob}})
	f.aws.AddPermissionSet("ReadOnly")
	f.aws.AddGroup("Platform Engineers")

	y := fmt.Sprintf(`version: 1
organization: {name: Example, domain: example.com, time_zone: UTC}
admins: {it: [it@example.com], it_email: it@example.com}
defaults: {transfer_ownership_to: manager}
engine: {backoff_base: 5ms, backoff_max: 40ms, max_attempts: 4}
apps:
  okta:
    connector: okta
    idp: true
    owner: it@example.com
    rate_limit: {per_second: 1000, burst: 100}
    settings:
%s
    entitlements:
      engineering: {kind: group, resource: Engineering, risk: low}
  google:
    connector: google
    owner: it@example.com
    depends_on: [okta]
    rate_limit: {per_second: 1000, burst: 100}
    settings:
%s
      transfer_poll: %s
    entitlements:
      eng-list: {kind: group, resource: eng@example.com, risk: low}
  m365:
    connector: entra
    owner: it@example.com
    depends_on: [okta]
    rate_limit: {per_second: 1000, burst: 100}
    settings:
%s
    entitlements:
      eng-sg: {kind: group, resource: Engineering SG, risk: low}
  github:
    connector: github
    owner: it@example.com
    depends_on: [okta]
    rate_limit: {per_second: 1000, burst: 100}
    settings:
%s
    entitlements:
      platform: {kind: team, resource: platform, risk: low}
  slack:
    connector: slack
    owner: it@example.com
    depends_on: [okta]
    rate_limit: {per_second: 1000, burst: 100}
    settings:
%s
    entitlements:
      eng-channel: {kind: channel, resource: "#engineering", risk: low}
      oncall: {kind: group, resource: oncall, risk: low}
  aws:
    connector: aws
    owner: it@example.com
    delete: true
    depends_on: [okta]
    rate_limit: {per_second: 1000, burst: 100}
    settings:
%s
      poll_interval: 10ms
      poll_attempts: 3
      accounts: {ReadOnly: ["%s"]}
    entitlements:
      readonly: {kind: permission_set, resource: ReadOnly, risk: medium}
      platform: {kind: group, resource: Platform Engineers, risk: low}
profiles:
  base:
    grants: [okta, google, slack]
  engineer:
    grants: [okta:engineering, google:eng-list, m365, m365:eng-sg, github, github:platform, slack:eng-channel, slack:oncall, aws, aws:readonly, aws:platform]
rules:
  - {name: everyone, when: "true", profiles: [base]}
  - {name: engineers, when: identity.department == "Engineering", profiles: [engineer]}
approvals:
  medium: {approvers: [manager]}
`, indent(f.okta.SettingsYAML(""), "      "), indent(f.google.SettingsYAML(), "      "), o.transferPoll,
		indent(f.entra.Settings(""), "      "), indent(f.github.SettingsYAML(), "      "),
		indent(f.slack.SettingsYAML(), "      "), indent(f.aws.SettingsYAML(), "      "), awsAccount)
	cfg, err := config.Parse("gatehouse.yaml", []byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, y)
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "gatehouse.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	conns, err := connectors.Build(cfg, connectors.Deps{Logger: zerolog.Nop(), Tasks: lifecycle.NewTaskStore(db), UserAgent: "gatehouse/e2e"}, false)
	if err != nil {
		db.Close()
		t.Fatalf("connectors: %v", err)
	}
	if o.wrap != nil {
		o.wrap(conns)
	}
	eng, err := lifecycle.New(lifecycle.Options{Store: db, Config: cfg, Rules: r, Connectors: conns, Logger: zerolog.Nop()})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		db.Close()
		t.Fatal(err)
	}
	e := &env{t: t, f: f, cfg: cfg, db: db, eng: eng, conns: conns}
	t.Cleanup(func() { eng.Close(); db.Close() })
	return e
}

func (e *env) submit(ev gatehouse.Event) gatehouse.Run {
	e.t.Helper()
	if ev.Actor.ID == "" {
		ev.Actor = gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "hr-system"}
	}
	r, _, err := e.eng.Submit(context.Background(), ev)
	if err != nil {
		e.t.Fatalf("submit %s: %v", ev.Type, err)
	}
	return r
}

func (e *env) wait(id string) gatehouse.Run {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := e.eng.Wait(ctx, id)
	if err != nil {
		e.t.Fatalf("wait %s: %v (status %s)%s", id, err, r.Status, describe(e.steps(id)))
	}
	return r
}

func (e *env) steps(id string) map[string]gatehouse.Step {
	e.t.Helper()
	ss, err := e.db.Steps(id)
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]gatehouse.Step{}
	for _, s := range ss {
		m[s.ID] = s
	}
	return m
}

func describe(steps map[string]gatehouse.Step) string {
	var b strings.Builder
	for id, s := range steps {
		fmt.Fprintf(&b, "\n  %s: %s (attempts %d, next %s) %s %v", id, s.Status, s.Attempts, s.NextAttempt.Format(time.StampMilli), s.LastError, s.Result)
	}
	return b.String()
}

var (
	grace = gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: graceEmail, Name: "Grace Hopper", EmployeeID: "E-100",
		Department: "Sales", Title: "VP Sales"}
	ada = gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: adaEmail, Name: "Ada Lovelace", EmployeeID: "E-101",
		Department: "Engineering", Team: "Platform", Title: "Engineer", ManagerEmail: graceEmail,
		Attributes: map[string]string{"github_login": githubLogin}}
)

// onboard hires grace (the manager) and ada (the engineer), deciding ada's
// approvals as grace through the engine, then has ada sign in everywhere so
// she holds sessions and tokens to revoke.
func (e *env) onboard() {
	e.t.Helper()
	ctx := context.Background()
	if r := e.wait(e.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: grace}).ID); r.Status != gatehouse.RunSucceeded {
		e.t.Fatalf("joiner grace: %s %s%s", r.Status, r.Summary, describe(e.steps(r.ID)))
	}
	r := e.wait(e.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	decided := 0
	for r.Status == gatehouse.RunWaiting && decided < 5 {
		aps, err := e.db.ListApprovals(store.ApprovalFilter{RunID: r.ID})
		if err != nil {
			e.t.Fatal(err)
		}
		n := 0
		for _, a := range aps {
			if a.Status != gatehouse.ApprovalPending {
				continue
			}
			if _, err := e.eng.Decide(ctx, a.ID, graceEmail, true, "needed for the platform team"); err != nil {
				e.t.Fatalf("decide %s: %v", a.ID, err)
			}
			n++
		}
		if n == 0 {
			break
		}
		decided += n
		r = e.wait(r.ID)
	}
	if r.Status != gatehouse.RunSucceeded || decided == 0 {
		e.t.Fatalf("joiner ada: %s after %d approvals: %s%s", r.Status, decided, r.Summary, describe(e.steps(r.ID)))
	}
	e.signIn()
}

// signIn gives ada what a working person has in each vendor: sessions and
// OAuth tokens (Okta, Entra), tokens, application-specific passwords and
// backup codes (Google), an accepted GitHub membership, a Slack login.
func (e *env) signIn() {
	e.t.Helper()
	now := time.Now()
	u, ok := e.f.okta.User(adaEmail)
	if !ok {
		e.t.Fatal("okta has no user for ada after the joiner")
	}
	e.f.okta.Login(u.ID, now)
	g, ok := e.f.google.User(adaEmail)
	if !ok {
		e.t.Fatal("google has no user for ada after the joiner")
	}
	g.Tokens = []googletest.Token{{ClientID: "1234.apps.googleusercontent.com", DisplayText: "Some CLI"}}
	g.ASPs = []googletest.ASP{{CodeID: 7, Name: "Thunderbird"}}
	g.BackupCodes = []string{"11112222", "33334444"}
	g.Sessions = 2
	e.f.google.AddUser(g)
	m, ok := e.f.entra.User(adaEmail)
	if !ok {
		e.t.Fatal("entra has no user for ada after the joiner")
	}
	e.f.entra.SignIn(m.ID, now, true)
	e.f.github.Accept(githubLogin, githubLogin, false)
	if s, ok := e.f.slack.UserByEmail(adaEmail); ok {
		e.f.slack.SetLogin(s.ID, now)
	} else {
		e.t.Fatal("slack has no user for ada after the joiner")
	}
}
