// Package slack is the connector for a Slack workspace as an app whose
// access Gatehouse manages (connector type "slack"): accounts, channel
// memberships and user-group memberships. It is not the bot in package bot,
// and it speaks Slack's Web API (https://slack.com/api/METHOD) and SCIM v2
// API (https://api.slack.com/scim/v2/) over connectors/httpx; only package
// bot may use slack-go.
//
// What Slack lets an API do depends on the plan, so the settings say what
// the workspace has:
//
//   - scim: true (Business+ and Enterprise Grid, an admin user token):
//     accounts are created, deactivated and reactivated through SCIM.
//   - enterprise_grid: true (a user token with admin.users:write): sessions
//     are reset with admin.users.session.reset.
//
// What the plan cannot do through an API is handed to a person as a manual
// task (connectors.TaskStore, the same mechanism as connector "manual"),
// keyed by the step's operation key: the operation returns
// gatehouse.Pending until the task is done, and the repeated operation then
// checks Slack and succeeds. It never reports a success Slack does not show.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/connectors/manual"
	"github.com/rs/zerolog"
)

// Type is the connector type name.
const Type = "slack"

func init() { connectors.Register(Type, New) }

// Settings are the slack connector's settings block.
type Settings struct {
	// BotToken is the app's bot token (xoxb-…).
	BotToken config.Secret `yaml:"bot_token"`
	// UserToken is an admin's user token (xoxp-…): SCIM, team.accessLogs
	// and the admin.* methods need it.
	UserToken config.Secret `yaml:"user_token"`
	// SCIM says the plan has the SCIM API (Business+, Enterprise Grid).
	SCIM bool `yaml:"scim"`
	// EnterpriseGrid enables admin.users.session.reset and admin.users.invite.
	EnterpriseGrid bool `yaml:"enterprise_grid"`
	// TeamID and InviteChannelIDs let a Grid org without SCIM invite people
	// with admin.users.invite (Slack requires at least one channel).
	TeamID           string   `yaml:"team_id"`
	InviteChannelIDs []string `yaml:"invite_channel_ids"`
	// TaskAssignee receives the manual tasks; default the app's owner.
	TaskAssignee string `yaml:"task_assignee"`
	// APIURL and SCIMURL override Slack's endpoints (tests, proxies).
	APIURL  string `yaml:"api_url"`
	SCIMURL string `yaml:"scim_url"`
	// PageSize is the limit asked per page (default 200); MaxPages bounds
	// a listing (default 1000).
	PageSize int           `yaml:"page_size"`
	MaxPages int           `yaml:"max_pages"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Default endpoints.
const (
	DefaultAPIURL  = "https://slack.com/api"
	DefaultSCIMURL = "https://api.slack.com/scim/v2"
)

// Connector manages one Slack workspace.
type Connector struct {
	name     string
	s        Settings
	bot      *httpx.Client
	user     *httpx.Client // nil without user_token
	scim     *httpx.Client // nil without scim
	tasks    *manual.Connector
	log      zerolog.Logger
	pageSize int
	maxPages int
	// channelEnts and groupEnts map a configured resource (channel name
	// without '#', or id; usergroup handle) to its entitlement name.
	channelEnts map[string]string
	groupEnts   map[string]string

	mu       sync.Mutex
	channels map[string]string // lower(name) → id, and id → id
	groups   map[string]string // handle → id
}

var (
	_ gatehouse.Connector     = (*Connector)(nil)
	_ gatehouse.AccountReader = (*Connector)(nil)
	_ connectors.Checker      = (*Connector)(nil)
)

// Manual task texts for what the plan's API cannot do.
var (
	taskTitles = map[string]string{
		"ensure_account":  `Invite {{.Name}} <{{.Email}}> to Slack ({{.App}})`,
		"enable":          `Reactivate {{.Name}} <{{.Email}}> in Slack ({{.App}})`,
		"disable":         `Deactivate {{.Name}} <{{.Email}}> in Slack ({{.App}}): this plan has no SCIM`,
		"revoke_sessions": `Sign {{.Name}} <{{.Email}}> out of Slack everywhere ({{.App}}): not Enterprise Grid`,
	}
	taskInstructions = map[string]string{
		"ensure_account": `This Slack plan has no SCIM API, so Gatehouse cannot create accounts. In Slack, open` +
			` Admin → Manage members → Invite people and invite {{.Email}}{{if .Title}} ({{.Title}}){{end}}.` +
			` If they were deactivated, reactivate them instead. Mark this task done once their account is active:` +
			` Gatehouse then checks Slack and continues.`,
		"enable": `This Slack plan has no SCIM API. In Slack, open Admin → Manage members, find {{.Email}} and` +
			` choose Activate account. Mark this task done when it is active: Gatehouse checks Slack.`,
		"disable": `This Slack plan has no SCIM API, so Gatehouse cannot deactivate accounts. In Slack, open` +
			` Admin → Manage members, find {{.Email}} and choose Deactivate account (this also signs them out).` +
			` Mark this task done when it is deactivated: Gatehouse checks Slack before reporting it closed.`,
		"revoke_sessions": `Slack only lets Enterprise Grid sign a user out through its API. In Slack, open Admin →` +
			` Manage members, find {{.Email}} and choose Sign out of all sessions (deactivating them also does it).` +
			` Mark this task done when finished.`,
	}
)

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs, _ := app.Settings.Decode(&s).SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if app.Settings.IsZero() {
		pos = app.Pos
	}
	if !s.BotToken.IsSet() {
		errs.Add(pos, key+".bot_token", "bot_token is required (the app's xoxb- token, e.g. ${SLACK_APP_BOT_TOKEN})")
	}
	if s.SCIM && !s.UserToken.IsSet() {
		errs.Add(pos, key+".user_token", "scim: true needs user_token: Slack's SCIM API takes an admin's user token with the admin scope")
	}
	if s.EnterpriseGrid && !s.UserToken.IsSet() {
		errs.Add(pos, key+".user_token", "enterprise_grid: true needs user_token with admin.users:write for admin.users.session.reset")
	}
	if s.PageSize < 0 || s.PageSize > 1000 {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and 1000")
	}
	if s.MaxPages < 0 {
		errs.Add(pos, key+".max_pages", "max_pages must not be negative")
	}
	if len(s.InviteChannelIDs) > 0 && (!s.EnterpriseGrid || s.TeamID == "") {
		errs.Add(pos, key+".invite_channel_ids", "invite_channel_ids is for admin.users.invite, which needs enterprise_grid: true and team_id")
	}
	c := &Connector{name: app.Name, s: s, pageSize: s.PageSize, maxPages: s.MaxPages,
		log:         deps.Logger.With().Str("connector", Type).Str("app", app.Name).Logger(),
		channelEnts: map[string]string{}, groupEnts: map[string]string{}, channels: map[string]string{}, groups: map[string]string{}}
	if c.pageSize == 0 {
		c.pageSize = 200
	}
	if c.maxPages == 0 {
		c.maxPages = 1000
	}
	names := make([]string, 0, len(app.Entitlements))
	for n := range app.Entitlements {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := app.Entitlements[n]
		if e == nil {
			continue
		}
		res := e.Resource
		if res == "" {
			res = n
		}
		switch e.Kind {
		case gatehouse.EntChannel:
			c.channelEnts[channelKey(res)] = n
		case gatehouse.EntGroup:
			c.groupEnts[strings.TrimPrefix(res, "@")] = n
		case gatehouse.EntAccount:
		default:
			errs.Add(e.Pos, "apps."+app.Name+".entitlements."+n+".kind", "the slack connector manages kind channel (#name or id) and kind group (a user group handle), not %s", e.Kind)
		}
	}
	needTasks := !s.SCIM || !s.EnterpriseGrid
	assignee := s.TaskAssignee
	if assignee == "" {
		assignee = app.Owner
	}
	if needTasks {
		titles, instr := map[string]config.Expr{}, map[string]config.Expr{}
		for k, v := range taskTitles {
			titles[k] = config.Expr{Source: v}
		}
		for k, v := range taskInstructions {
			instr[k] = config.Expr{Source: v}
		}
		title := app.Title
		if title == "" {
			title = app.Name
		}
		m, err := manual.New(app.Name, manual.Options{Title: title, Assignee: assignee, Tasks: deps.Tasks, Now: deps.Now,
			Settings: manual.Settings{Operations: []string{"ensure_account", "enable", "disable", "revoke_sessions"}, Titles: titles, Instructions: instr}})
		if err != nil {
			if assignee == "" {
				errs.Add(pos, key+".task_assignee", "without scim and enterprise_grid some Slack changes are manual tasks: set the app's owner or settings.task_assignee")
			} else {
				errs.Add(pos, key, "manual tasks: %v", err)
			}
		}
		c.tasks = m
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	opts := func(base string, tok config.Secret) httpx.Options {
		return httpx.Options{BaseURL: base, App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout,
			Auth: httpx.Auth{Type: "bearer", Token: tok}, Logger: deps.Logger, Debug: deps.Debug, Now: deps.Now}
	}
	apiURL := s.APIURL
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	var err error
	if c.bot, err = httpx.New(opts(apiURL, s.BotToken)); err != nil {
		return nil, fmt.Errorf("slack %s: bot token: %w", app.Name, err)
	}
	if s.UserToken.IsSet() {
		if c.user, err = httpx.New(opts(apiURL, s.UserToken)); err != nil {
			return nil, fmt.Errorf("slack %s: user token: %w", app.Name, err)
		}
	}
	if s.SCIM {
		scimURL := s.SCIMURL
		if scimURL == "" {
			scimURL = DefaultSCIMURL
		}
		o := opts(scimURL, s.UserToken)
		o.Headers = map[string]string{"Accept": "application/scim+json, application/json"}
		if c.scim, err = httpx.New(o); err != nil {
			return nil, fmt.Errorf("slack %s: scim: %w", app.Name, err)
		}
	}
	return c, nil
}

func channelKey(res string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(res), "#"))
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities are the same on every plan; what the plan's API cannot do
// becomes a manual task (see the package doc). Delete is not offered:
// Slack never deletes accounts, it deactivates them.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	return gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapEnable,
		gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapRevokeSessions, gatehouse.CapListAccounts)
}

// user is the part of Slack's User object the connector reads.
type user struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	Deleted  bool   `json:"deleted"`
	IsBot    bool   `json:"is_bot"`
	Profile  struct {
		Email    string `json:"email"`
		RealName string `json:"real_name"`
		Title    string `json:"title"`
	} `json:"profile"`
}

func (u user) account() gatehouse.Account {
	a := gatehouse.Account{ID: u.ID, UserName: u.Name, Email: u.Profile.Email, DisplayName: u.RealName, Active: !u.Deleted}
	if a.DisplayName == "" {
		a.DisplayName = u.Profile.RealName
	}
	if u.IsBot || u.ID == "USLACKBOT" {
		// Bots hold access too (the orphan check wants them): listed, marked.
		a.DisplayName = "bot: " + strings.TrimSpace(a.DisplayName+" ("+u.Name+")")
		a.Attributes = map[string]string{"is_bot": "true"}
	}
	return a
}

// find looks ref's user up: by id when known, else by email.
func (c *Connector) find(ctx context.Context, ref gatehouse.AccountRef) (user, error) {
	var out struct {
		User user `json:"user"`
	}
	if ref.AccountID != "" {
		if _, err := c.call(ctx, c.bot, "users.info", url.Values{"user": {ref.AccountID}}, &out); err != nil {
			return user{}, fmt.Errorf("slack %s: find user %s: %w", c.name, ref.AccountID, err)
		}
		return out.User, nil
	}
	email := ref.Email
	if email == "" {
		email = ref.UserName
	}
	if !strings.Contains(email, "@") {
		return user{}, gatehouse.Permanent(fmt.Errorf("slack %s: account reference %q has no email to look up", c.name, ref.IdentityKey))
	}
	if _, err := c.call(ctx, c.bot, "users.lookupByEmail", url.Values{"email": {email}}, &out); err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound && c.scim != nil {
			// Slack's lookup does not return every deactivated user; SCIM does.
			if u, ok, serr := c.scimFind(ctx, email); serr != nil {
				return user{}, serr
			} else if ok {
				return u, nil
			}
		}
		return user{}, fmt.Errorf("slack %s: find user %s: %w", c.name, email, err)
	}
	return out.User, nil
}

func notFound(err error) bool { return gatehouse.Classify(err) == gatehouse.ClassNotFound }

// EnsureAccount finds the account and reactivates it if deactivated. A
// missing account is created through SCIM, invited with admin.users.invite
// on Grid (InProgress until accepted), or else handed to IT as a task.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.find(ctx, ref)
	switch {
	case err == nil && !u.Deleted:
		return u.account(), nil
	case err == nil: // deactivated
		ref.AccountID = u.ID
		if err := c.Enable(ctx, ref); err != nil {
			return gatehouse.Account{}, err
		}
		u.Deleted = false
		return u.account(), nil
	case !notFound(err):
		return gatehouse.Account{}, err
	}
	if ref.AccountID != "" {
		// The id we were given is gone; look the person up by email.
		ref.AccountID = ""
		return c.EnsureAccount(ctx, ref)
	}
	switch {
	case c.scim != nil:
		id, err := c.scimCreate(ctx, ref)
		if err != nil {
			return gatehouse.Account{}, err
		}
		return gatehouse.Account{ID: id, UserName: ref.UserName, Email: ref.Email, DisplayName: ref.Name, Active: true}, nil
	case c.s.EnterpriseGrid && c.s.TeamID != "" && len(c.s.InviteChannelIDs) > 0:
		args := url.Values{"team_id": {c.s.TeamID}, "email": {ref.Email}, "channel_ids": {strings.Join(c.s.InviteChannelIDs, ",")}}
		if ref.Name != "" {
			args.Set("real_name", ref.Name)
		}
		if _, err := c.call(ctx, c.user, "admin.users.invite", args, nil); err != nil {
			switch CodeOf(err) {
			case "already_invited":
			case "already_in_team", "already_in_team_invited_user":
				return gatehouse.Account{}, gatehouse.Retryable(fmt.Errorf("slack %s: %s is already a member but not found yet: %w", c.name, ref.Email, err))
			default:
				return gatehouse.Account{}, fmt.Errorf("slack %s: invite %s: %w", c.name, ref.Email, err)
			}
		}
		return gatehouse.Account{}, gatehouse.InProgress(time.Hour, fmt.Errorf("slack %s: invited %s; waiting for them to accept", c.name, ref.Email))
	}
	if _, err := c.tasks.EnsureAccount(ctx, ref); err != nil {
		return gatehouse.Account{}, err
	}
	// The person says it is done: believe Slack, not the task.
	u, err = c.find(ctx, ref)
	if err != nil {
		if notFound(err) {
			return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("slack %s: the invitation task is marked done but Slack has no account for %s: %w", c.name, ref.Email, err))
		}
		return gatehouse.Account{}, err
	}
	if u.Deleted {
		return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("slack %s: the invitation task is marked done but %s's account is deactivated", c.name, ref.Email))
	}
	return u.account(), nil
}

// Disable deactivates the account: SCIM active=false, else a manual task
// that is checked against Slack once done. Missing or deactivated is done.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.setActive(ctx, ref, false)
}

// Enable reactivates the account: SCIM active=true, else a manual task.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.setActive(ctx, ref, true)
}

func (c *Connector) setActive(ctx context.Context, ref gatehouse.AccountRef, active bool) error {
	op := "disable"
	if active {
		op = "enable"
	}
	u, err := c.find(ctx, ref)
	if err != nil {
		if notFound(err) && !active {
			return nil
		}
		return err
	}
	if u.Deleted == !active {
		return nil
	}
	ref.AccountID = u.ID
	if c.scim != nil {
		return c.scimSetActive(ctx, u.ID, active)
	}
	var terr error
	if active {
		terr = c.tasks.Enable(ctx, ref)
	} else {
		terr = c.tasks.Disable(ctx, ref)
	}
	if terr != nil {
		return terr
	}
	if u, err = c.find(ctx, ref); err != nil {
		if notFound(err) && !active {
			return nil
		}
		return err
	}
	if u.Deleted == active {
		return gatehouse.Permanent(fmt.Errorf("slack %s: the %s task for %s is marked done but Slack still shows the account %s", c.name, op, ref.Email, map[bool]string{true: "deactivated", false: "active"}[active]))
	}
	return nil
}

// Delete is not offered: Slack deactivates, it never deletes.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	return gatehouse.Permanent(fmt.Errorf("slack %s delete (Slack only deactivates accounts; use disable): %w", c.name, gatehouse.ErrUnsupported))
}

// TransferOwnership is not offered: Slack has no API to move what a
// member owns (files and canvases stay in their channels).
func (c *Connector) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	return gatehouse.Permanent(fmt.Errorf("slack %s transfer_ownership: %w", c.name, gatehouse.ErrUnsupported))
}

// RevokeSessions resets every session on Enterprise Grid
// (admin.users.session.reset); on other plans it is a manual task.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.find(ctx, ref)
	if err != nil {
		return err // NotFound: no account, no sessions
	}
	if c.s.EnterpriseGrid {
		if _, err := c.call(ctx, c.user, "admin.users.session.reset", url.Values{"user_id": {u.ID}}, nil); err != nil {
			return fmt.Errorf("slack %s: reset sessions of %s: %w", c.name, u.ID, err)
		}
		return nil
	}
	ref.AccountID = u.ID
	return c.tasks.RevokeSessions(ctx, ref)
}

// ListAccounts pages users.list, adds the configured channel and group
// memberships, and last activity from team.accessLogs when the user token
// may read it.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	var accts []gatehouse.Account
	idx := map[string]int{}
	err := c.paged(ctx, c.bot, "users.list", url.Values{}, func(body []byte) error {
		var page struct {
			Members []user `json:"members"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return gatehouse.Retryable(fmt.Errorf("users.list: %v", err))
		}
		for _, u := range page.Members {
			if u.ID == "" {
				continue
			}
			if _, dup := idx[u.ID]; dup {
				continue
			}
			idx[u.ID] = len(accts)
			accts = append(accts, u.account())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("slack %s: list users: %w", c.name, err)
	}
	members, err := c.allMemberships(ctx)
	if err != nil {
		return nil, err
	}
	for id, ents := range members {
		if i, ok := idx[id]; ok {
			accts[i].Entitlements = ents
		}
	}
	if last := c.lastActivity(ctx); last != nil {
		for id, t := range last {
			if i, ok := idx[id]; ok {
				accts[i].LastActivity = t
			}
		}
	}
	return accts, nil
}

// lastActivity reads admin.users.list's last_active_ts on Enterprise Grid
// (with team_id), else team.accessLogs' date_last (paid plans, a user token
// with admin). Without either last activity stays zero and the reason is
// logged.
func (c *Connector) lastActivity(ctx context.Context) map[string]time.Time {
	if c.user == nil {
		return nil
	}
	out := map[string]time.Time{}
	if c.s.EnterpriseGrid && c.s.TeamID != "" {
		err := c.paged(ctx, c.user, "admin.users.list", url.Values{"team_id": {c.s.TeamID}}, func(body []byte) error {
			var page struct {
				Users []struct {
					ID         string  `json:"id"`
					LastActive float64 `json:"last_active_ts"`
				} `json:"users"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return gatehouse.Retryable(err)
			}
			for _, u := range page.Users {
				if u.ID != "" && u.LastActive > 0 {
					out[u.ID] = time.Unix(int64(u.LastActive), 0).UTC()
				}
			}
			return nil
		})
		if err == nil {
			return out
		}
		c.log.Warn().Err(err).Msg("admin.users.list unavailable: trying team.accessLogs for last activity")
	}
	err := c.paged(ctx, c.user, "team.accessLogs", url.Values{}, func(body []byte) error {
		var page struct {
			Logins []struct {
				UserID   string  `json:"user_id"`
				DateLast float64 `json:"date_last"`
			} `json:"logins"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return gatehouse.Retryable(err)
		}
		for _, l := range page.Logins {
			t := time.Unix(int64(l.DateLast), 0).UTC()
			if l.UserID != "" && l.DateLast > 0 && t.After(out[l.UserID]) {
				out[l.UserID] = t
			}
		}
		return nil
	})
	if err != nil {
		c.log.Warn().Err(err).Msg("team.accessLogs unavailable: last activity is not reported (needs a paid plan and a user token with admin)")
		return nil
	}
	return out
}

// ReadAccount re-reads one account from Slack: users.info, the user's
// conversations (users.conversations) and the configured user groups.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.find(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, err
	}
	a := u.account()
	if len(c.channelEnts) > 0 {
		err := c.paged(ctx, c.bot, "users.conversations", url.Values{"user": {u.ID}, "types": {"public_channel,private_channel"}}, func(body []byte) error {
			var page struct {
				Channels []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"channels"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return gatehouse.Retryable(err)
			}
			for _, ch := range page.Channels {
				if n, ok := c.channelEnts[channelKey(ch.Name)]; ok {
					a.Entitlements = append(a.Entitlements, n)
				} else if n, ok := c.channelEnts[strings.ToLower(ch.ID)]; ok {
					a.Entitlements = append(a.Entitlements, n)
				}
			}
			return nil
		})
		if err != nil {
			return gatehouse.Account{}, fmt.Errorf("slack %s: conversations of %s: %w", c.name, u.ID, err)
		}
	}
	for _, handle := range sortedKeys(c.groupEnts) {
		ids, err := c.groupUsers(ctx, handle)
		if err != nil {
			return gatehouse.Account{}, err
		}
		for _, id := range ids {
			if id == u.ID {
				a.Entitlements = append(a.Entitlements, c.groupEnts[handle])
				break
			}
		}
	}
	sort.Strings(a.Entitlements)
	return a, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// allMemberships maps user id → entitlement names for every configured
// channel (conversations.members) and group (usergroups.users.list).
func (c *Connector) allMemberships(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for _, res := range sortedKeys(c.channelEnts) {
		id, err := c.channelID(ctx, res)
		if err != nil {
			return nil, err
		}
		err = c.paged(ctx, c.bot, "conversations.members", url.Values{"channel": {id}}, func(body []byte) error {
			var page struct {
				Members []string `json:"members"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return gatehouse.Retryable(err)
			}
			for _, m := range page.Members {
				out[m] = append(out[m], c.channelEnts[res])
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("slack %s: members of #%s: %w", c.name, res, c.channelProblem(res, err))
		}
	}
	for _, handle := range sortedKeys(c.groupEnts) {
		ids, err := c.groupUsers(ctx, handle)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out[id] = append(out[id], c.groupEnts[handle])
		}
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out, nil
}
