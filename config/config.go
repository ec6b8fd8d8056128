// Package config loads and validates Gatehouse's YAML configuration as a whole:
// apps and their entitlements, profiles and add-ons, rules, approval policy,
// segregation-of-duties constraints, admins and defaults.
//
// Loading is strict. Unknown keys, wrong types, dangling references and bad
// values are all collected and reported at once, each with file:line:col and
// the dotted key, so a broken config is fixed in one pass. Expressions are only
// carried here (with their positions); package rules compiles them. Secrets are
// resolved from the environment or files and never printed.
package config

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/gatehousehq/gatehouse"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a config file: anything larger is a mistake or an attack.
const MaxFileSize = 8 << 20

// Config is the whole configuration.
type Config struct {
	Version      int                 `yaml:"version"`
	Organization Organization        `yaml:"organization"`
	Defaults     Defaults            `yaml:"defaults"`
	Admins       Admins              `yaml:"admins"`
	Apps         map[string]*App     `yaml:"apps"`
	Profiles     map[string]*Profile `yaml:"profiles"`
	AddOns       map[string]*Profile `yaml:"addons"`
	Rules        []*Rule             `yaml:"rules"`
	Approvals    ApprovalPolicy      `yaml:"approvals"`
	SoD          []*SoDConstraint    `yaml:"sod"`
	Store        StoreConfig         `yaml:"store"`
	Engine       EngineConfig        `yaml:"engine"`
	Slack        SlackConfig         `yaml:"slack"`
	HR           HRConfig            `yaml:"hr"`
	Governance   GovernanceConfig    `yaml:"governance"`
	Metrics      MetricsConfig       `yaml:"metrics"`
	Tests        []string            `yaml:"tests"` // policy test files, relative to the config
	File         string              `yaml:"-"`
	Warnings     ErrorList           `yaml:"-"`
	entitlements map[gatehouse.EntitlementRef]gatehouse.Entitlement
	positions    map[string]Pos
	location     *time.Location
}

// Organization describes the company.
type Organization struct {
	Name     string `yaml:"name"`
	Domain   string `yaml:"domain"`    // primary email domain, e.g. example.com
	TimeZone string `yaml:"time_zone"` // default zone for people without one
}

// Defaults are policy-wide defaults.
type Defaults struct {
	// TransferOwnershipTo is who receives a leaver's resources: "manager"
	// (default), "it", or an email.
	TransferOwnershipTo string `yaml:"transfer_ownership_to"`
	// ContractorMaxAccess caps a contractor's access when no end date is known.
	ContractorMaxAccess time.Duration `yaml:"contractor_max_access"`
	// RequestMaxDuration caps time-bound access requests.
	RequestMaxDuration time.Duration `yaml:"request_max_duration"`
	// ExpiryReminder is how long before a time-bound grant expires its holder is reminded.
	ExpiryReminder time.Duration `yaml:"expiry_reminder"`
	// AttestBefore is when, before a non-human's expiry, its owner is asked
	// whether it is still needed (default 14d and 3d).
	AttestBefore []time.Duration `yaml:"attest_before"`
	// AttestExtension is how far "Still needed" extends a non-human, from the
	// day of the click (default 90d).
	AttestExtension time.Duration `yaml:"attest_extension"`
	// NonHumanMaxLifetime is how long after its registration an owner alone
	// may keep a non-human alive (default 365d); extending past it needs IT.
	NonHumanMaxLifetime time.Duration `yaml:"nonhuman_max_lifetime"`
	// HighRisk is the lowest risk a mover's manager must review (default high).
	ReviewRisk gatehouse.Risk `yaml:"review_risk"`
}

// Admins lists who may run privileged commands. Entries are Slack user ids
// (U…, W…), Slack user group ids (S…) or emails.
type Admins struct {
	IT        []string `yaml:"it"`
	HR        []string `yaml:"hr"`
	ITChannel string   `yaml:"it_channel"` // where progress cards and digests go
	ITEmail   string   `yaml:"it_email"`   // who receives escalated tasks when no Slack id is known
}

// App configures one app and how to reach it.
type App struct {
	Name         string                  `yaml:"-"`
	Title        string                  `yaml:"title"`
	Connector    string                  `yaml:"connector"`
	Owner        string                  `yaml:"owner"`
	IdP          bool                    `yaml:"idp"`
	SSO          bool                    `yaml:"sso"`
	SeatCost     float64                 `yaml:"seat_cost"`
	DependsOn    []Name                  `yaml:"depends_on"`
	RateLimit    RateLimit               `yaml:"rate_limit"`
	Settings     Settings                `yaml:"settings"`
	Entitlements map[string]*Entitlement `yaml:"entitlements"`
	// Delete removes accounts on leave instead of disabling them.
	Delete bool `yaml:"delete"`
	// DormantAfter is how long an account may go unused before the digest
	// lists it as dormant; 0 takes governance.digest.dormant_after.
	DormantAfter time.Duration `yaml:"dormant_after"`
	// RevokeOnLeave removes each held entitlement explicitly before a
	// leaver's account is disabled. Unset, the connector's documented
	// behaviour decides (see docs/offboarding.md): true unless its
	// deactivation is documented to drop memberships.
	RevokeOnLeave *bool `yaml:"revoke_on_leave"`
	Pos           Pos   `yaml:"-"`
}

func (a *App) setPos(p Pos, name string) {
	a.Pos, a.Name = p, name
	// Connectors locate settings errors with Settings.Pos; an app written
	// without a settings block is located at the app itself.
	if a.Settings.node == nil {
		a.Settings.file, a.Settings.key, a.Settings.fallback = p.File, "apps."+name+".settings", p
	}
}

// Domain returns the app as a domain value.
func (a *App) Domain() gatehouse.App {
	deps := make([]string, len(a.DependsOn))
	for i, d := range a.DependsOn {
		deps[i] = d.Value
	}
	return gatehouse.App{Name: a.Name, Title: a.Title, Connector: a.Connector, Owner: a.Owner, IdP: a.IdP, SSO: a.SSO, MonthlySeatCost: a.SeatCost, DependsOn: deps}
}

// RateLimit bounds how hard Gatehouse drives one app. Zero values take the
// connector's vendor defaults.
type RateLimit struct {
	PerSecond   float64       `yaml:"per_second"`
	Burst       int           `yaml:"burst"`
	Concurrency int           `yaml:"concurrency"`
	Timeout     time.Duration `yaml:"timeout"`      // per operation
	MaxAttempts int           `yaml:"max_attempts"` // before escalating to IT
}

// Entitlement configures one unit of access in an app.
type Entitlement struct {
	Name        string                    `yaml:"-"`
	Kind        gatehouse.EntitlementKind `yaml:"kind"`
	Resource    string                    `yaml:"resource"`
	Level       string                    `yaml:"level"`
	Risk        gatehouse.Risk            `yaml:"risk"`
	Cost        float64                   `yaml:"cost"`
	Description string                    `yaml:"description"`
	Pos         Pos                       `yaml:"-"`
}

func (e *Entitlement) setPos(p Pos, name string) { e.Pos, e.Name = p, name }

// Profile is a named bundle of entitlements (or an add-on).
type Profile struct {
	Name        string `yaml:"-"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	Grants      []Ref  `yaml:"grants"`
	// Includes names other profiles whose grants this one contains too.
	Includes []Name `yaml:"includes"`
	Pos      Pos    `yaml:"-"`
}

func (p *Profile) setPos(pos Pos, name string) { p.Pos, p.Name = pos, name }

// Rule selects access for identities that match its condition.
type Rule struct {
	Name        string                `yaml:"name"`
	Description string                `yaml:"description"`
	When        Expr                  `yaml:"when"`
	Events      []gatehouse.EventType `yaml:"events"` // empty: every event that plans access
	Profiles    []Name                `yaml:"profiles"`
	AddOns      []Name                `yaml:"addons"`
	Grant       []Ref                 `yaml:"grant"`
	Exclude     []Ref                 `yaml:"exclude"`
	// Approvers adds approval requirements for everything this rule grants.
	Approvers []string `yaml:"approvers"`
	// Expires is an expression giving when the access this rule grants ends
	// (e.g. identity.end_date); `expires_after` gives a fixed duration.
	Expires      Expr          `yaml:"expires"`
	ExpiresAfter time.Duration `yaml:"expires_after"`
	Pos          Pos           `yaml:"-"`
}

func (r *Rule) setPos(p Pos, _ string) { r.Pos = p }

// ApprovalPolicy says which risk needs which approvers, and when to remind and
// escalate.
type ApprovalPolicy struct {
	Low           ApprovalLevel `yaml:"low"`
	Medium        ApprovalLevel `yaml:"medium"`
	High          ApprovalLevel `yaml:"high"`
	Critical      ApprovalLevel `yaml:"critical"`
	RemindAfter   time.Duration `yaml:"remind_after"`
	EscalateAfter time.Duration `yaml:"escalate_after"`
	ExpireAfter   time.Duration `yaml:"expire_after"`
}

// Level returns the level configured for a risk.
func (p ApprovalPolicy) Level(r gatehouse.Risk) ApprovalLevel {
	switch r {
	case gatehouse.RiskMedium:
		return p.Medium
	case gatehouse.RiskHigh:
		return p.High
	case gatehouse.RiskCritical:
		return p.Critical
	}
	return p.Low
}

// ApprovalLevel lists approvers (manager, app_owner, it, or emails) and whether
// two distinct people must approve.
type ApprovalLevel struct {
	Approvers []string `yaml:"approvers"`
	TwoPerson bool     `yaml:"two_person"`
}

// SoDConstraint names entitlements no identity may hold together: holding two
// or more of them is a conflict.
type SoDConstraint struct {
	Name         string `yaml:"name"`
	Description  string `yaml:"description"`
	Entitlements []Ref  `yaml:"entitlements"`
	Action       string `yaml:"action"` // block (default) or review
	Pos          Pos    `yaml:"-"`
}

func (s *SoDConstraint) setPos(p Pos, _ string) { s.Pos = p }

// StoreConfig locates the database and its scheduled hot backups.
type StoreConfig struct {
	Path string `yaml:"path"`
	// BackupEvery makes `serve` write a hot backup this often (0: never).
	// A running server holds the database's lock, so this — not `gatehouse
	// backup` — is how it is backed up.
	BackupEvery time.Duration `yaml:"backup_every"`
	// BackupDir receives the backups (default "backups"; a relative path is
	// relative to the database's directory).
	BackupDir string `yaml:"backup_dir"`
	// BackupKeep is how many backups are kept (default 7).
	BackupKeep int `yaml:"backup_keep"`
}

// EngineConfig tunes the executor.
type EngineConfig struct {
	Workers     int           `yaml:"workers"`
	MaxAttempts int           `yaml:"max_attempts"`
	StepTimeout time.Duration `yaml:"step_timeout"`
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// ShutdownGrace bounds how long `serve` takes to stop after SIGTERM
	// (default 10 s): in-flight steps past it are cut off and resumed on the
	// next start, undelivered Slack notices are dropped.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// SlackConfig configures the Slack transport.
type SlackConfig struct {
	AppToken Secret `yaml:"app_token"`
	BotToken Secret `yaml:"bot_token"`
	APIURL   string `yaml:"api_url"`
}

// Load reads, decodes and validates the config at path. On problems it still
// returns the partly filled config (so rules can report their own errors in the
// same pass) together with an ErrorList.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(&limitedReader{r: f, n: MaxFileSize + 1})
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if n > MaxFileSize {
		return nil, fmt.Errorf("config %s is larger than %d bytes", path, MaxFileSize)
	}
	return Parse(path, buf.Bytes(), lookupEnv)
}

func lookupEnv(k string) (string, bool) { return os.LookupEnv(k) }

type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("config file too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// Parse decodes and validates config text; name is used in error positions and
// env resolves ${VAR} secrets.
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	var errs ErrorList
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		errs = append(errs, yamlSyntaxError(name, err))
		return nil, errs
	}
	cfg := &Config{File: name}
	if len(doc.Content) == 0 {
		errs.Add(Pos{File: name, Line: 1, Col: 1}, "", "config is empty")
		return nil, errs
	}
	d := &decoder{file: name, errs: &errs, env: env, positions: map[string]Pos{}}
	d.decode(doc.Content[0], reflectValue(cfg), "")
	cfg.positions = d.positions
	cfg.validate(&errs)
	errs.Sort()
	hard, warns := errs.SplitWarnings()
	cfg.Warnings = warns
	if len(hard) > 0 {
		return cfg, hard
	}
	return cfg, nil
}
