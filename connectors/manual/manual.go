// Package manual is the connector for apps with neither an API nor SCIM:
// connector type "manual". Every operation becomes a task for the app's
// owner, created through connectors.TaskStore, and the operation reports
// gatehouse.Pending until the person marks the task done.
//
// A task's ID is derived from the step's operation key
// (gatehouse.OperationKey) and the operation, so a retried or resumed step
// finds its task instead of creating a second one; an operation without an
// operation key is a programming error and fails permanently. A task
// marked "can't do" fails the operation permanently with the person's note.
//
// Titles and instructions are text/template templates per operation,
// overridable in settings and checked when the connector is built. With a
// roster_file (a CSV export of the app's users) the connector can list
// accounts for reconciliation and dormant-access reviews.
//
//	apps:
//	  payroll:
//	    connector: manual
//	    owner: payroll-admin@example.com     # receives the tasks
//	    settings:
//	      roster_file: /var/lib/gatehouse/payroll-users.csv
//	      instructions:
//	        disable: |
//	          Open Payroll → Settings → Users, find {{.Email}} and click Deactivate.
//	    entitlements:
//	      approver: {kind: role, resource: Approver, risk: high}
//
// Template fields are those of TemplateData (.Name, .Email, .App,
// .Entitlement, .Resource, .Level, .ToName, .Attributes…).
package manual

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
)

// Type is the connector type name.
const Type = "manual"

func init() { connectors.Register(Type, factory) }

// TemplateData is what title and instruction templates see.
type TemplateData struct {
	Op          string // ensure_account, grant, revoke, …
	App         string // the app's title, or its name
	AppName     string
	Name        string
	Email       string
	UserName    string
	EmployeeID  string
	Title       string // the person's job title
	Department  string
	Manager     string
	AccountID   string
	Entitlement string // the entitlement's name (grant, revoke)
	Kind        string
	Resource    string // what the app calls it
	Level       string
	Description string
	ToName      string // transfer_ownership target
	ToEmail     string
	Attributes  map[string]string

	identityKey string
}

var defaultTitles = map[gatehouse.Capability]string{
	gatehouse.CapEnsureAccount:     `Create an account for {{.Name}} in {{.App}}`,
	gatehouse.CapGrant:             `Give {{.Name}} {{.Entitlement}} in {{.App}}`,
	gatehouse.CapRevoke:            `Remove {{.Entitlement}} from {{.Name}} in {{.App}}`,
	gatehouse.CapDisable:           `Disable {{.Name}}'s account in {{.App}}`,
	gatehouse.CapEnable:            `Re-enable {{.Name}}'s account in {{.App}}`,
	gatehouse.CapDelete:            `Delete {{.Name}}'s account in {{.App}}`,
	gatehouse.CapRevokeSessions:    `Sign {{.Name}} out of {{.App}} everywhere`,
	gatehouse.CapTransferOwnership: `Transfer what {{.Name}} owns in {{.App}} to {{.ToName}}`,
}

const doneHint = "\n\nMark this task done when finished, or \"can't do\" with a note saying why."

var defaultInstructions = map[gatehouse.Capability]string{
	gatehouse.CapEnsureAccount: `In {{.App}}, create an account for {{.Name}} <{{.Email}}>` +
		`{{if .Title}}, {{.Title}}{{end}}{{if .Department}} in {{.Department}}{{end}}.` +
		` If one already exists, make sure it is active.` + doneHint,
	gatehouse.CapGrant: `In {{.App}}, give {{.Name}} <{{.Email}}> {{.Entitlement}}` +
		`{{if .Resource}} ({{.Resource}}{{if .Level}}, {{.Level}}{{end}}){{end}}.` + doneHint,
	gatehouse.CapRevoke: `In {{.App}}, remove {{.Entitlement}}{{if .Resource}} ({{.Resource}}){{end}}` +
		` from {{.Name}} <{{.Email}}>. If they do not have it, there is nothing to do.` + doneHint,
	gatehouse.CapDisable: `In {{.App}}, disable (suspend) the account of {{.Name}} <{{.Email}}> so they can no longer sign in.` +
		` If there is no such account, there is nothing to do.` + doneHint,
	gatehouse.CapEnable: `In {{.App}}, re-enable the account of {{.Name}} <{{.Email}}>.` + doneHint,
	gatehouse.CapDelete: `In {{.App}}, delete the account of {{.Name}} <{{.Email}}>.` +
		` If there is no such account, there is nothing to do.` + doneHint,
	gatehouse.CapRevokeSessions: `In {{.App}}, sign {{.Name}} <{{.Email}}> out of every session and revoke their API tokens.` + doneHint,
	gatehouse.CapTransferOwnership: `In {{.App}}, transfer everything {{.Name}} <{{.Email}}> owns` +
		` (documents, projects, dashboards) to {{.ToName}} <{{.ToEmail}}>.` + doneHint,
}

var taskOps = []gatehouse.Capability{
	gatehouse.CapEnsureAccount, gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapDisable, gatehouse.CapEnable,
	gatehouse.CapDelete, gatehouse.CapRevokeSessions, gatehouse.CapTransferOwnership,
}

// Settings are the manual connector's settings block.
type Settings struct {
	// Assignee receives the tasks; default the app's owner.
	Assignee string `yaml:"assignee"`
	// Operations limits what the connector offers (default: every
	// operation but list_accounts, which needs roster_file).
	Operations []string `yaml:"operations"`
	// Titles and Instructions override the templates per operation. They
	// are read as config.Expr only to keep each template's position for
	// error messages; they are text/template source, not expr-lang.
	Titles       map[string]config.Expr `yaml:"titles"`
	Instructions map[string]config.Expr `yaml:"instructions"`
	// RosterFile is a CSV export of the app's users (header row with id,
	// user_name, email, name, employee_id, active, last_activity,
	// entitlements columns; see roster.go), read on every ListAccounts.
	RosterFile string `yaml:"roster_file"`
}

// Connector hands every operation to a person.
type Connector struct {
	name, title string
	assignee    string
	tasks       connectors.TaskStore
	now         func() time.Time
	caps        gatehouse.Capabilities
	titles      map[gatehouse.Capability]*template.Template
	instr       map[gatehouse.Capability]*template.Template
	roster      string
}

var _ gatehouse.Connector = (*Connector)(nil)

// Options build a connector programmatically.
type Options struct {
	Title    string // the app's human-readable name for task texts
	Assignee string
	Settings Settings
	Tasks    connectors.TaskStore
	Now      func() time.Time
}

func factory(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs, _ := app.Settings.Decode(&s).SplitWarnings()
	assignee := s.Assignee
	if assignee == "" {
		assignee = app.Owner
	}
	c, err := build(app.Name, Options{Title: app.Title, Assignee: assignee, Settings: s, Tasks: deps.Tasks, Now: deps.Now},
		settingsPos(app), "apps."+app.Name+".settings")
	var el config.ErrorList
	if errors.As(err, &el) {
		errs = append(errs, el...)
	} else if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return c, nil
}

// New builds a manual connector; errors are a config.ErrorList.
func New(name string, o Options) (*Connector, error) {
	return build(name, o, config.Pos{File: "<manual>"}, "settings")
}

func build(name string, o Options, pos config.Pos, key string) (*Connector, error) {
	var errs config.ErrorList
	c := &Connector{
		name: name, title: o.Title, assignee: o.Assignee, tasks: o.Tasks, now: o.Now, roster: o.Settings.RosterFile,
		titles: map[gatehouse.Capability]*template.Template{}, instr: map[gatehouse.Capability]*template.Template{},
	}
	if c.title == "" {
		c.title = name
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.assignee == "" {
		errs.Add(pos, key+".assignee", "the manual connector needs someone to hand tasks to: set the app's owner or settings.assignee")
	}
	c.caps = gatehouse.NewCapabilities(taskOps...)
	if len(o.Settings.Operations) > 0 {
		c.caps = gatehouse.Capabilities{}
		for i, op := range o.Settings.Operations {
			capability := gatehouse.Capability(op)
			if !slices.Contains(taskOps, capability) && capability != gatehouse.CapListAccounts {
				errs.Add(pos, fmt.Sprintf("%s.operations[%d]", key, i), "unknown operation %q: want one of %s", op, opNames())
				continue
			}
			c.caps[capability] = true
		}
	}
	if c.roster != "" {
		c.caps[gatehouse.CapListAccounts] = true
	} else if c.caps.Has(gatehouse.CapListAccounts) {
		errs.Add(pos, key+".operations", "list_accounts needs roster_file")
		delete(c.caps, gatehouse.CapListAccounts)
	}
	sample := TemplateData{Op: "grant", App: c.title, AppName: name, Name: "Ada Lovelace", Email: "ada@example.com",
		UserName: "ada", Entitlement: "admins", Resource: "Admins", Level: "admin", ToName: "Grace Hopper", ToEmail: "grace@example.com",
		Attributes: map[string]string{}}
	compile := func(kind string, defaults map[gatehouse.Capability]string, over map[string]config.Expr, into map[gatehouse.Capability]*template.Template) {
		for op, e := range over {
			if !slices.Contains(taskOps, gatehouse.Capability(op)) {
				errs.Add(posOr(e.Pos, pos), key+"."+kind+"."+op, "unknown operation %q: want one of %s", op, opNames())
			}
		}
		for _, op := range taskOps {
			src, at := defaults[op], pos
			if e, ok := over[string(op)]; ok {
				src, at = e.Source, posOr(e.Pos, pos)
			}
			t, err := template.New(string(op)).Option("missingkey=zero").Parse(src)
			if err == nil {
				// Executing against sample data catches unknown fields
				// (.Nmae) now rather than when a leaver is being processed.
				err = t.Execute(new(strings.Builder), sample)
			}
			if err != nil {
				errs.Add(at, key+"."+kind+"."+string(op), "bad template: %v", err)
				continue
			}
			into[op] = t
		}
	}
	compile("titles", defaultTitles, o.Settings.Titles, c.titles)
	compile("instructions", defaultInstructions, o.Settings.Instructions, c.instr)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func posOr(p, def config.Pos) config.Pos {
	if p.Line == 0 {
		return def
	}
	return p
}

func opNames() string {
	names := make([]string, 0, len(taskOps)+1)
	for _, op := range taskOps {
		names = append(names, string(op))
	}
	return strings.Join(append(names, string(gatehouse.CapListAccounts)), ", ")
}

// Name implements gatehouse.Connector.
func (c *Connector) Name() string { return c.name }

// Capabilities implements gatehouse.Connector.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	out := make(gatehouse.Capabilities, len(c.caps))
	for k, v := range c.caps {
		out[k] = v
	}
	return out
}

// TaskID returns the id of the task for op under operation key opKey.
// It is a pure function of (app, key, op): the same step always maps to
// the same task.
func TaskID(app, opKey string, op gatehouse.Capability) string {
	sum := sha256.Sum256([]byte(app + "\x00" + opKey + "\x00" + string(op)))
	return "manual-" + hex.EncodeToString(sum[:12])
}

// run hands op to a person: it ensures the task and maps its status to the
// operation's result.
func (c *Connector) run(ctx context.Context, op gatehouse.Capability, data TemplateData) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("manual %s %s: %w", c.name, op, err)
	}
	if !c.caps.Has(op) {
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: %w", c.name, op, gatehouse.ErrUnsupported))
	}
	key := gatehouse.OperationKey(ctx)
	if key == "" {
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: no operation key in the context: the executor must set one so a retried step does not create a second task", c.name, op))
	}
	if c.tasks == nil {
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: no task store configured", c.name, op))
	}
	data.Op, data.App, data.AppName = string(op), c.title, c.name
	if data.Attributes == nil {
		data.Attributes = map[string]string{}
	}
	var title, instr strings.Builder
	if err := c.titles[op].Execute(&title, data); err != nil {
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: title: %w", c.name, op, err))
	}
	if err := c.instr[op].Execute(&instr, data); err != nil {
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: instructions: %w", c.name, op, err))
	}
	t := gatehouse.Task{
		ID: TaskID(c.name, key, op), IdentityKey: data.identityKey, App: c.name,
		Title: strings.TrimSpace(title.String()), Instructions: strings.TrimSpace(instr.String()),
		Assignee: c.assignee, Status: gatehouse.TaskOpen, CreatedAt: c.now(),
	}
	// Operation keys are "RUNID/STEPID" by convention; link the task back.
	if run, step, ok := strings.Cut(key, "/"); ok && run != "" && step != "" && !strings.Contains(step, "/") {
		t.RunID, t.StepID = run, step
	}
	got, err := c.tasks.EnsureTask(ctx, t)
	if err != nil {
		return gatehouse.Retryable(fmt.Errorf("manual %s %s: ensure task %s: %w", c.name, op, t.ID, err))
	}
	switch got.Status {
	case gatehouse.TaskDone:
		return nil
	case gatehouse.TaskCantDo:
		note := got.Evidence
		if note == "" {
			note = "no reason given"
		}
		who := got.DoneBy
		if who == "" {
			who = "the assignee"
		}
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: %s could not do task %s: %s", c.name, op, who, got.ID, note))
	case gatehouse.TaskCanceled:
		return gatehouse.Permanent(fmt.Errorf("manual %s %s: task %s was cancelled", c.name, op, got.ID))
	}
	return gatehouse.Pending(got.ID)
}

func dataFor(ref gatehouse.AccountRef) TemplateData {
	return TemplateData{
		Name: ref.Name, Email: ref.Email, UserName: ref.UserName, EmployeeID: ref.EmployeeID, Title: ref.Title,
		Department: ref.Department, Manager: ref.Manager, AccountID: ref.AccountID, Attributes: ref.Attributes,
		identityKey: ref.IdentityKey,
	}
}

// accountID is the id a manual app's account goes by: the one Gatehouse
// was given, else the email or user name (lower case).
func accountID(ref gatehouse.AccountRef) string {
	switch {
	case ref.AccountID != "":
		return ref.AccountID
	case ref.Email != "":
		return strings.ToLower(ref.Email)
	}
	return strings.ToLower(ref.UserName)
}

// EnsureAccount implements gatehouse.Connector.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	if err := c.run(ctx, gatehouse.CapEnsureAccount, dataFor(ref)); err != nil {
		return gatehouse.Account{}, err
	}
	return gatehouse.Account{ID: accountID(ref), UserName: ref.UserName, Email: ref.Email, DisplayName: ref.Name, EmployeeID: ref.EmployeeID, Active: true}, nil
}

// Disable implements gatehouse.Connector.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.run(ctx, gatehouse.CapDisable, dataFor(ref))
}

// Enable implements gatehouse.Connector.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.run(ctx, gatehouse.CapEnable, dataFor(ref))
}

// Delete implements gatehouse.Connector.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.run(ctx, gatehouse.CapDelete, dataFor(ref))
}

func withEnt(d TemplateData, e gatehouse.Entitlement) TemplateData {
	d.Entitlement, d.Kind, d.Resource, d.Level, d.Description = e.Name, string(e.Kind), e.Resource, e.Level, e.Description
	return d
}

// Grant implements gatehouse.Connector.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.run(ctx, gatehouse.CapGrant, withEnt(dataFor(ref), ent))
}

// Revoke implements gatehouse.Connector.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.run(ctx, gatehouse.CapRevoke, withEnt(dataFor(ref), ent))
}

// RevokeSessions implements gatehouse.Connector.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.run(ctx, gatehouse.CapRevokeSessions, dataFor(ref))
}

// TransferOwnership implements gatehouse.Connector.
func (c *Connector) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	d := dataFor(from)
	d.ToName, d.ToEmail = to.Name, to.Email
	if d.ToName == "" {
		d.ToName = to.Email
	}
	return c.run(ctx, gatehouse.CapTransferOwnership, d)
}

// ListAccounts implements gatehouse.Connector from the roster file.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("manual %s list_accounts: %w", c.name, err)
	}
	if c.roster == "" {
		return nil, gatehouse.Permanent(fmt.Errorf("manual %s list_accounts (no roster_file): %w", c.name, gatehouse.ErrUnsupported))
	}
	f, err := os.Open(c.roster)
	if err != nil {
		return nil, gatehouse.Permanent(fmt.Errorf("manual %s: open roster: %w", c.name, err))
	}
	defer f.Close()
	accts, err := ParseRoster(f)
	if err != nil {
		return nil, gatehouse.Permanent(fmt.Errorf("manual %s: roster %s: %w", c.name, c.roster, err))
	}
	return accts, nil
}

// Check reports whether the roster can be read; templates were checked
// when the connector was built. Without a roster there is nothing to probe
// (connectors.ErrNoProbe): people, not an API, do the work.
func (c *Connector) Check(ctx context.Context) error {
	if c.roster == "" {
		return fmt.Errorf("manual %s: people do its operations; set roster_file to let Gatehouse read its accounts: %w", c.name, connectors.ErrNoProbe)
	}
	_, err := c.ListAccounts(ctx)
	return err
}

// settingsPos is where errors about the settings block point: the block
// itself, or the app when it has none (so errors still name a file:line).
func settingsPos(app *config.App) config.Pos {
	if app.Settings.IsZero() {
		return app.Pos
	}
	return app.Settings.Pos()
}
