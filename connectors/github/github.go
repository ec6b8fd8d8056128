// Package github is the connector for a GitHub organization (github.com,
// GitHub Enterprise Cloud or Server) through the REST API.
//
// GitHub accounts belong to people, not to the organization, so the
// connector never creates or deletes an account: it manages the person's
// membership of the organization. A person is mapped to a login by the
// github_login attribute of the account reference (or the login an earlier
// step returned as the account id); without one, EnsureAccount sends an
// organization invitation by email and reports the step in progress until the
// invitee accepts. Entitlements are team memberships, repository roles and
// the organization owner role. Removing a person from the organization is the
// connector's Delete: GitHub has no suspended state for members, so Disable
// is not declared (see docs/connectors/github.md for why).
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

func init() { connectors.Register("github", New) }

const (
	apiVersion = "2022-11-28"
	mediaType  = "application/vnd.github+json"
	// DefaultLoginAttribute is the AccountRef attribute holding a GitHub login.
	DefaultLoginAttribute = "github_login"
	// invitationWait is how long an EnsureAccount waiting for an invitee asks
	// the engine to wait before asking again.
	invitationWait = 30 * time.Minute
)

// Settings are the github connector's settings block.
type Settings struct {
	// Org is the organization login.
	Org string `yaml:"org"`
	// APIURL is the REST base (default https://api.github.com; GHES:
	// https://HOST/api/v3).
	APIURL  string        `yaml:"api_url"`
	Auth    AuthSettings  `yaml:"auth"`
	Timeout time.Duration `yaml:"timeout"`
	// PageSize is per_page for listings (default 100, GitHub's maximum).
	PageSize int `yaml:"page_size"`
	// MaxPages bounds one listing (default 1000 pages).
	MaxPages int `yaml:"max_pages"`
	// LoginAttribute names the AccountRef attribute with the GitHub login
	// (default github_login).
	LoginAttribute string `yaml:"login_attribute"`
	// CopilotActivity reads last_activity_at of Copilot seats for
	// ListAccounts' LastActivity (needs the Copilot business permission).
	CopilotActivity bool `yaml:"copilot_activity"`
}

// AuthSettings choose a GitHub App installation or a token.
type AuthSettings struct {
	// Type is app or token.
	Type string `yaml:"type"`
	// AppID is the App ID (or the app's client ID, which GitHub also accepts as issuer).
	AppID          string        `yaml:"app_id"`
	InstallationID int64         `yaml:"installation_id"`
	PrivateKey     config.Secret `yaml:"private_key"`
	// Token is a fine-grained or classic personal access token.
	Token config.Secret `yaml:"token"`
}

// Connector manages one GitHub organization.
type Connector struct {
	name      string
	org       string
	s         Settings
	http      *httpx.Client
	app       *appTokens
	log       zerolog.Logger
	now       func() time.Time
	loginAttr string
	pageSize  int
	maxPages  int
	ents      map[string]*config.Entitlement // entitlement name → definition (not kind account)
}

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs := app.Settings.Decode(&s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if s.Org == "" {
		errs.Add(pos, key+".org", "org is required (the organization login, as in github.com/ORG)")
	} else if !validLogin(s.Org) {
		errs.Add(pos, key+".org", "org %q is not a GitHub organization login", s.Org)
	}
	if s.APIURL == "" {
		s.APIURL = "https://api.github.com"
	}
	if u, err := url.Parse(s.APIURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs.Add(pos, key+".api_url", "api_url %q is not an http(s) URL", s.APIURL)
	}
	switch s.Auth.Type {
	case "app":
		if s.Auth.AppID == "" {
			errs.Add(pos, key+".auth.app_id", "a GitHub App needs app_id")
		}
		if s.Auth.InstallationID <= 0 {
			errs.Add(pos, key+".auth.installation_id", "a GitHub App needs installation_id (the number in the installation's settings URL)")
		}
		if !s.Auth.PrivateKey.IsSet() {
			errs.Add(pos, key+".auth.private_key", "a GitHub App needs private_key (use private_key_file: /path/app.pem or ${ENV})")
		}
	case "token":
		if !s.Auth.Token.IsSet() {
			errs.Add(pos, key+".auth.token", "token auth needs a token")
		}
	default:
		errs.Add(pos, key+".auth.type", "auth type %q is not app or token", s.Auth.Type)
	}
	if s.PageSize < 0 || s.PageSize > 100 {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and 100")
	}
	if s.MaxPages < 0 {
		errs.Add(pos, key+".max_pages", "max_pages must not be negative")
	}
	ents := map[string]*config.Entitlement{}
	for name, e := range app.Entitlements {
		if e == nil || e.Kind == gatehouse.EntAccount {
			continue
		}
		epos := e.Pos
		ek := "apps." + app.Name + ".entitlements." + name
		res := e.Resource
		if res == "" {
			res = name
		}
		switch e.Kind {
		case gatehouse.EntTeam:
			if e.Level != "" && e.Level != "member" && e.Level != "maintainer" {
				// Configs often write the team's repository access (read,
				// write) here; the membership itself is member or maintainer.
				deps.Logger.Warn().Str("app", app.Name).Str("entitlement", name).Str("level", e.Level).
					Msg("github team level is member or maintainer; other levels describe the team's repository access and add the person as member")
			}
		case gatehouse.EntRepoRole:
			if repoLevels[normalizeRepoLevel(e.Level)] == 0 {
				errs.Add(epos, ek+".level", "repo level must be pull, triage, push, maintain, admin (or read, write), not %q", e.Level)
			}
			if owner, repo, ok := strings.Cut(res, "/"); ok && (owner == "" || repo == "" || strings.Contains(repo, "/")) {
				errs.Add(epos, ek+".resource", "repo %q is not NAME or OWNER/NAME", res)
			}
		case gatehouse.EntRole:
			if r := strings.ToLower(res); r != "owner" && r != "admin" {
				errs.Add(epos, ek+".resource", "the only organization role Gatehouse grants is owner (admin), not %q", res)
			}
		default:
			errs.Add(epos, ek+".kind", "github entitlements are team, repo_role or role, not %q", e.Kind)
		}
		ents[name] = e
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	c := &Connector{name: app.Name, org: s.Org, s: s, now: now, ents: ents, pageSize: s.PageSize, maxPages: s.MaxPages,
		loginAttr: s.LoginAttribute, log: deps.Logger.With().Str("connector", "github").Str("app", app.Name).Logger()}
	if c.pageSize == 0 {
		c.pageSize = 100
	}
	if c.maxPages == 0 {
		c.maxPages = 1000
	}
	if c.loginAttr == "" {
		c.loginAttr = DefaultLoginAttribute
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	opts := httpx.Options{BaseURL: s.APIURL, App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout,
		Headers: map[string]string{"Accept": mediaType, "X-GitHub-Api-Version": apiVersion},
		Logger:  deps.Logger, Debug: deps.Debug, Now: deps.Now}
	if s.Auth.Type == "token" {
		opts.Auth = httpx.Auth{Type: "bearer", Token: s.Auth.Token}
	}
	var err error
	if c.http, err = httpx.New(opts); err != nil {
		return nil, fmt.Errorf("github %s: %w", app.Name, err)
	}
	if s.Auth.Type == "app" {
		pemText, err := s.Auth.PrivateKey.Value()
		if err != nil {
			return nil, fmt.Errorf("github %s: private key: %w", app.Name, err)
		}
		k, err := ParsePrivateKey([]byte(pemText))
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", app.Name, err)
		}
		c.app = &appTokens{cl: c.http, key: k, appID: s.Auth.AppID, instID: s.Auth.InstallationID, now: now}
	}
	return c, nil
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities: Disable and Enable are not declared, because GitHub cannot
// suspend an organization member (removal loses the team memberships a
// return from leave would need), and TransferOwnership is not, because
// organization repositories belong to the organization, not to the leaver.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	return gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDelete, gatehouse.CapGrant,
		gatehouse.CapRevoke, gatehouse.CapRevokeSessions, gatehouse.CapListAccounts)
}

// Recording returns the redacted HTTP exchanges kept in debug mode.
func (c *Connector) Recording() []httpx.Exchange { return c.http.Recording() }

func (c *Connector) do(ctx context.Context, method, path string, q url.Values, body any) (*httpx.Response, error) {
	req := httpx.Request{Method: method, Path: path, Query: q, Body: body}
	if c.app != nil {
		tok, err := c.app.token(ctx)
		if err != nil {
			return nil, err
		}
		req.Header = map[string]string{"Authorization": "Bearer " + tok}
	}
	res, err := c.http.Do(ctx, req)
	return res, classify(res, err, c.now())
}

// list reads every page of a listing, following Link rel="next".
func (c *Connector) list(ctx context.Context, path string, q url.Values, each func(json.RawMessage) error) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("per_page", strconv.Itoa(c.pageSize))
	next, seen := path, map[string]bool{}
	for page := 0; next != ""; page++ {
		if page >= c.maxPages {
			return gatehouse.Permanent(fmt.Errorf("list %s: more than %d pages (raise max_pages)", path, c.maxPages))
		}
		if seen[next] {
			return gatehouse.Retryable(fmt.Errorf("list %s: the server's next link repeats %s", path, httpx.Clip(next, 200)))
		}
		seen[next] = true
		res, err := c.do(ctx, http.MethodGet, next, q, nil)
		if err != nil {
			return err
		}
		q = nil // the next link carries the query
		var items []json.RawMessage
		if len(res.Body) > 0 {
			if err := json.Unmarshal(res.Body, &items); err != nil {
				return gatehouse.Retryable(fmt.Errorf("list %s: not a JSON array: %w", path, err))
			}
		}
		for _, it := range items {
			if err := each(it); err != nil {
				return err
			}
		}
		next = NextLink(res.Header.Get("Link"))
	}
	return nil
}

// --- wire types (only the fields the connector reads) ---

type user struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type membership struct {
	State string `json:"state"` // active, pending
	Role  string `json:"role"`  // admin, member, billing_manager
	User  *user  `json:"user"`
}

type invitation struct {
	ID        int64     `json:"id"`
	Login     string    `json:"login"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func decode[T any](b []byte, what string) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, gatehouse.Retryable(fmt.Errorf("decode %s: %w", what, err))
	}
	return v, nil
}

func (c *Connector) orgPath(parts ...string) string {
	p := "/orgs/" + url.PathEscape(c.org)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// loginOf returns ref's GitHub login when it is known, validated.
func (c *Connector) loginOf(ref gatehouse.AccountRef) (string, error) {
	l := strings.TrimSpace(ref.Attributes[c.loginAttr])
	if l == "" && ref.AccountID != "" && !strings.HasPrefix(ref.AccountID, "invitation:") {
		l = ref.AccountID
	}
	if l != "" && !validLogin(l) {
		return "", gatehouse.Permanent(fmt.Errorf("%q is not a GitHub login (attribute %s)", httpx.Clip(l, 60), c.loginAttr))
	}
	return l, nil
}

func (c *Connector) getMembership(ctx context.Context, login string) (*membership, error) {
	res, err := c.do(ctx, http.MethodGet, c.orgPath("memberships", login), nil, nil)
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil, nil
		}
		return nil, err
	}
	m, err := decode[membership](res.Body, "membership")
	return &m, err
}

func (c *Connector) account(login string, m *membership, ref gatehouse.AccountRef) gatehouse.Account {
	a := gatehouse.Account{ID: login, UserName: login, Email: ref.Email, Active: true,
		Attributes: map[string]string{"membership_state": m.State, "org_role": m.Role}}
	if m.User != nil {
		a.Attributes["github_id"] = strconv.FormatInt(m.User.ID, 10)
		if a.Email == "" {
			a.Email = m.User.Email
		}
	}
	return a
}

// pendingInvitation finds a pending invitation for email (or login).
func (c *Connector) pendingInvitation(ctx context.Context, email, login string) (*invitation, error) {
	var found *invitation
	err := c.list(ctx, c.orgPath("invitations"), nil, func(raw json.RawMessage) error {
		inv, err := decode[invitation](raw, "invitation")
		if err != nil {
			return err
		}
		if found == nil && ((email != "" && strings.EqualFold(inv.Email, email)) || (login != "" && strings.EqualFold(inv.Login, login))) {
			found = &inv
		}
		return nil
	})
	return found, err
}

// memberByEmail scans the members for one whose public email is email: the
// only email GitHub's REST API shows an organization.
func (c *Connector) memberByEmail(ctx context.Context, email string) (string, error) {
	var login string
	err := c.list(ctx, c.orgPath("members"), nil, func(raw json.RawMessage) error {
		u, err := decode[user](raw, "member")
		if err == nil && login == "" && u.Email != "" && strings.EqualFold(u.Email, email) {
			login = u.Login
		}
		return err
	})
	return login, err
}

// resolve finds ref's login: the known login, else a member with ref's
// public email. A pending email invitation answers InProgress; nothing at
// all answers NotFound.
func (c *Connector) resolve(ctx context.Context, ref gatehouse.AccountRef) (string, error) {
	login, err := c.loginOf(ref)
	if err != nil || login != "" {
		return login, err
	}
	if ref.Email == "" {
		return "", gatehouse.NotFound(errors.New("no github login and no email"))
	}
	if login, err = c.memberByEmail(ctx, ref.Email); err != nil || login != "" {
		return login, err
	}
	inv, err := c.pendingInvitation(ctx, ref.Email, "")
	if err != nil {
		return "", err
	}
	if inv != nil {
		return "", c.waiting(inv)
	}
	return "", gatehouse.NotFound(fmt.Errorf("no member of %s has the public email %s and no %s attribute names a login", c.org, ref.Email, c.loginAttr))
}

func (c *Connector) waiting(inv *invitation) error {
	return gatehouse.InProgress(invitationWait, fmt.Errorf("invitation %d to %s is waiting for the invitee to accept (sent %s); membership of %s starts when they do",
		inv.ID, inv.Email, inv.CreatedAt.Format(time.RFC3339), c.org))
}

// EnsureAccount makes ref a member of the organization. With a known login
// it reads the membership and, when there is none, adds it with PUT
// /orgs/{org}/memberships/{username} (role member; GitHub makes it pending
// until the user accepts, and a pending membership already counts). Without
// a login it sends one email invitation and answers InProgress until the
// invitee has accepted; a pending invitation is never sent twice.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	login, err := c.loginOf(ref)
	if err != nil {
		return gatehouse.Account{}, err
	}
	if login != "" {
		m, err := c.getMembership(ctx, login)
		if err != nil {
			return gatehouse.Account{}, fmt.Errorf("read membership of %s: %w", login, err)
		}
		if m == nil {
			res, err := c.do(ctx, http.MethodPut, c.orgPath("memberships", login), nil, map[string]string{"role": "member"})
			if err != nil {
				return gatehouse.Account{}, fmt.Errorf("add %s to %s: %w", login, c.org, err)
			}
			mm, err := decode[membership](res.Body, "membership")
			if err != nil {
				return gatehouse.Account{}, err
			}
			m = &mm
		}
		return c.account(login, m, ref), nil
	}
	if ref.Email == "" {
		return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("cannot invite to %s: no %s attribute and no email", c.org, c.loginAttr))
	}
	inv, err := c.pendingInvitation(ctx, ref.Email, "")
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("list invitations: %w", err)
	}
	if inv != nil {
		return gatehouse.Account{}, c.waiting(inv)
	}
	if login, err = c.memberByEmail(ctx, ref.Email); err != nil {
		return gatehouse.Account{}, fmt.Errorf("find member %s: %w", ref.Email, err)
	}
	if login != "" {
		m, err := c.getMembership(ctx, login)
		if err != nil {
			return gatehouse.Account{}, err
		}
		if m != nil {
			return c.account(login, m, ref), nil
		}
	}
	res, err := c.do(ctx, http.MethodPost, c.orgPath("invitations"), nil, map[string]string{"email": ref.Email, "role": "direct_member"})
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("invite %s to %s: %w", ref.Email, c.org, err)
	}
	sent, err := decode[invitation](res.Body, "invitation")
	if err != nil {
		return gatehouse.Account{}, err
	}
	return gatehouse.Account{}, c.waiting(&sent)
}

// Delete removes ref from the organization: the membership (which ends every
// team membership), a pending invitation, and outside-collaborator access to
// the organization's repositories. A person who is none of these is done.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	login, err := c.loginOf(ref)
	if err != nil {
		return err
	}
	if login == "" && ref.Email != "" {
		if login, err = c.memberByEmail(ctx, ref.Email); err != nil {
			return err
		}
	}
	if login != "" {
		_, err := c.do(ctx, http.MethodDelete, c.orgPath("memberships", login), nil, nil)
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("remove %s from %s: %w", login, c.org, err)
		}
	}
	inv, err := c.pendingInvitation(ctx, ref.Email, login)
	if err != nil {
		return fmt.Errorf("list invitations: %w", err)
	}
	if inv != nil {
		_, err := c.do(ctx, http.MethodDelete, c.orgPath("invitations", strconv.FormatInt(inv.ID, 10)), nil, nil)
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("cancel invitation %d: %w", inv.ID, err)
		}
	}
	if login == "" {
		return nil
	}
	outside := false
	err = c.list(ctx, c.orgPath("outside_collaborators"), nil, func(raw json.RawMessage) error {
		u, err := decode[user](raw, "outside collaborator")
		if err == nil && strings.EqualFold(u.Login, login) {
			outside = true
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("list outside collaborators: %w", err)
	}
	if outside {
		_, err := c.do(ctx, http.MethodDelete, c.orgPath("outside_collaborators", login), nil, nil)
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("remove outside collaborator %s: %w", login, err)
		}
	}
	return nil
}

// Disable is not supported: GitHub has no suspended organization member.
func (c *Connector) Disable(context.Context, gatehouse.AccountRef) error {
	return fmt.Errorf("github: disable (GitHub cannot suspend an org member; removal is delete): %w", gatehouse.ErrUnsupported)
}

// Enable is not supported; a returning person is invited again by EnsureAccount.
func (c *Connector) Enable(context.Context, gatehouse.AccountRef) error {
	return fmt.Errorf("github: enable (re-invite with ensure_account): %w", gatehouse.ErrUnsupported)
}

// TransferOwnership is not supported: organization repositories belong to the organization.
func (c *Connector) TransferOwnership(context.Context, gatehouse.AccountRef, gatehouse.AccountRef) error {
	return fmt.Errorf("github: transfer ownership: %w", gatehouse.ErrUnsupported)
}

// entDef returns ent's definition, preferring the configured one.
func (c *Connector) entDef(ent gatehouse.Entitlement) (kind gatehouse.EntitlementKind, resource, level string) {
	kind, resource, level = ent.Kind, ent.Resource, ent.Level
	if d, ok := c.ents[ent.Name]; ok {
		kind, resource, level = d.Kind, d.Resource, d.Level
	}
	if resource == "" {
		resource = ent.Name
	}
	return kind, resource, level
}

// teamRole is the team membership role for an entitlement level.
func teamRole(level string) string {
	if level == "maintainer" {
		return "maintainer"
	}
	return "member"
}

func (c *Connector) repoPath(resource string, rest ...string) string {
	owner, repo, ok := strings.Cut(resource, "/")
	if !ok {
		owner, repo = c.org, resource
	}
	p := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
	for _, s := range rest {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// Grant gives ref one team membership, repository role or the owner role.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	kind, res, level := c.entDef(ent)
	if kind == gatehouse.EntAccount {
		_, err := c.EnsureAccount(ctx, ref)
		return err
	}
	login, err := c.resolve(ctx, ref)
	if err != nil {
		return fmt.Errorf("grant %s: %w", ent.Name, err)
	}
	switch kind {
	case gatehouse.EntTeam:
		_, err = c.do(ctx, http.MethodPut, c.orgPath("teams", res, "memberships", login), nil, map[string]string{"role": teamRole(level)})
	case gatehouse.EntRepoRole:
		_, err = c.do(ctx, http.MethodPut, c.repoPath(res, "collaborators", login), nil, map[string]string{"permission": normalizeRepoLevel(level)})
	case gatehouse.EntRole:
		var m *membership
		if m, err = c.getMembership(ctx, login); err == nil {
			if m != nil && m.Role == "admin" {
				return nil
			}
			_, err = c.do(ctx, http.MethodPut, c.orgPath("memberships", login), nil, map[string]string{"role": "admin"})
		}
	default:
		return gatehouse.Permanent(fmt.Errorf("grant %s: github cannot grant kind %q", ent.Name, kind))
	}
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", ent.Name, login, err)
	}
	return nil
}

// Revoke removes one entitlement; what is not held is done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	kind, res, _ := c.entDef(ent)
	if kind == gatehouse.EntAccount {
		return c.Delete(ctx, ref)
	}
	login, err := c.resolve(ctx, ref)
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassInProgress {
			return nil // an invitee holds nothing yet
		}
		return fmt.Errorf("revoke %s: %w", ent.Name, err)
	}
	switch kind {
	case gatehouse.EntTeam:
		_, err = c.do(ctx, http.MethodDelete, c.orgPath("teams", res, "memberships", login), nil, nil)
	case gatehouse.EntRepoRole:
		_, err = c.do(ctx, http.MethodDelete, c.repoPath(res, "collaborators", login), nil, nil)
	case gatehouse.EntRole:
		var m *membership
		if m, err = c.getMembership(ctx, login); err == nil {
			if m == nil || m.Role != "admin" {
				return nil
			}
			_, err = c.do(ctx, http.MethodPut, c.orgPath("memberships", login), nil, map[string]string{"role": "member"})
		}
	default:
		return gatehouse.Permanent(fmt.Errorf("revoke %s: github cannot revoke kind %q", ent.Name, kind))
	}
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return fmt.Errorf("revoke %s from %s: %w", ent.Name, login, err)
	}
	return nil
}

// RevokeSessions revokes the SAML SSO credential authorizations (personal
// access tokens and SSH keys authorized for the organization) of ref's login.
// An organization without SAML SSO has no organization-scoped session or
// token authorization to revoke: GitHub answers 404 there, and that is
// logged and reported as done, not as a revocation.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	login, err := c.resolve(ctx, ref)
	if err != nil {
		switch gatehouse.Classify(err) {
		case gatehouse.ClassNotFound, gatehouse.ClassInProgress:
			return nil // no member, nothing authorized
		}
		return fmt.Errorf("revoke sessions: %w", err)
	}
	var creds []int64
	err = c.list(ctx, c.orgPath("credential-authorizations"), url.Values{"login": {login}}, func(raw json.RawMessage) error {
		var ca struct {
			Login        string `json:"login"`
			CredentialID int64  `json:"credential_id"`
		}
		if err := json.Unmarshal(raw, &ca); err != nil {
			return gatehouse.Retryable(fmt.Errorf("decode credential authorization: %w", err))
		}
		// The login filter is the server's; check it rather than revoke another person's credential.
		if strings.EqualFold(ca.Login, login) {
			creds = append(creds, ca.CredentialID)
		}
		return nil
	})
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound || strings.Contains(strings.ToLower(err.Error()), "saml") {
			c.log.Info().Str("login", login).Msg("organization has no SAML SSO: GitHub keeps no organization-scoped session or credential authorization to revoke")
			return nil
		}
		return fmt.Errorf("list credential authorizations of %s: %w", login, err)
	}
	for _, id := range creds {
		_, err := c.do(ctx, http.MethodDelete, c.orgPath("credential-authorizations", strconv.FormatInt(id, 10)), nil, nil)
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("revoke credential authorization %d of %s: %w", id, login, err)
		}
	}
	c.log.Info().Str("login", login).Int("credentials", len(creds)).Msg("revoked SAML SSO credential authorizations")
	return nil
}

// sortedEnts returns configured entitlement names in a stable order.
func (c *Connector) sortedEnts() []string {
	names := make([]string, 0, len(c.ents))
	for n := range c.ents {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadAccount re-reads ref's access from GitHub: the organization membership
// (active or pending counts as active), each configured team's membership,
// each configured repository's direct collaborator role, and the owner role.
// A person with no membership is NotFound unless a configured repository
// still has them as an outside collaborator, which is reported inactive with
// that repository entitlement, so leaver evidence never misses it.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	login, err := c.resolve(ctx, ref)
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassInProgress {
			// Invited, not yet a member: no access to read back.
			inv, ierr := c.pendingInvitation(ctx, ref.Email, "")
			if ierr != nil || inv == nil {
				return gatehouse.Account{}, err
			}
			id := strconv.FormatInt(inv.ID, 10)
			return gatehouse.Account{ID: "invitation:" + id, Email: ref.Email,
				Attributes: map[string]string{"membership_state": "invited", "invitation_id": id}}, nil
		}
		return gatehouse.Account{}, err
	}
	m, err := c.getMembership(ctx, login)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("read membership of %s: %w", login, err)
	}
	var a gatehouse.Account
	if m != nil {
		a = c.account(login, m, ref)
	} else {
		a = gatehouse.Account{ID: login, UserName: login, Email: ref.Email, Attributes: map[string]string{"membership_state": "none"}}
	}
	for _, name := range c.sortedEnts() {
		e := c.ents[name]
		held, err := c.holds(ctx, login, m, e, name)
		if err != nil {
			return gatehouse.Account{}, fmt.Errorf("read %s of %s: %w", name, login, err)
		}
		if held {
			a.Entitlements = append(a.Entitlements, name)
		}
	}
	if m == nil && len(a.Entitlements) == 0 {
		return gatehouse.Account{}, gatehouse.NotFound(fmt.Errorf("%s is not a member of %s", login, c.org))
	}
	return a, nil
}

func (c *Connector) holds(ctx context.Context, login string, m *membership, e *config.Entitlement, name string) (bool, error) {
	res := e.Resource
	if res == "" {
		res = name
	}
	switch e.Kind {
	case gatehouse.EntRole:
		return m != nil && m.Role == "admin", nil
	case gatehouse.EntTeam:
		if m == nil {
			return false, nil
		}
		r, err := c.do(ctx, http.MethodGet, c.orgPath("teams", res, "memberships", login), nil, nil)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		tm, err := decode[struct{ Role, State string }](r.Body, "team membership")
		want := e.Level
		// A maintainer holds a member entitlement too; pending counts, since
		// it becomes access the moment the invitee accepts.
		return err == nil && (want != "maintainer" || tm.Role == "maintainer"), err
	case gatehouse.EntRepoRole:
		_, err := c.do(ctx, http.MethodGet, c.repoPath(res, "collaborators", login), nil, nil)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		r, err := c.do(ctx, http.MethodGet, c.repoPath(res, "collaborators", login, "permission"), nil, nil)
		if err != nil {
			return false, err
		}
		p, err := decode[struct {
			Permission string `json:"permission"`
			RoleName   string `json:"role_name"`
		}](r.Body, "collaborator permission")
		return err == nil && repoLevels[repoRoleOf(p.RoleName, p.Permission)] >= repoLevels[normalizeRepoLevel(e.Level)], err
	}
	return false, nil
}
