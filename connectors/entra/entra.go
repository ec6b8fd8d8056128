// Package entra is the connector for Microsoft Entra ID (formerly Azure
// Active Directory) through Microsoft Graph v1.0: accounts are Entra users,
// entitlements are security-group memberships.
//
// It authenticates as an app registration with the OAuth 2.0 client
// credentials grant (a client secret) against the tenant's v2.0 token
// endpoint with the scope https://graph.microsoft.com/.default, so what it
// may do is exactly the application permissions an administrator consented
// to; Check decodes the roles claim of the access token to name the
// permissions the configured capabilities still lack.
//
// Graph is eventually consistent: a user just created may not yet be
// visible to the next call, so a group add that finds no user is retried
// rather than failed, and a create answered "already exists" is followed
// by a lookup. Throttling (429, 503 with Retry-After) is classified with
// the wait Graph asks for; the executor owns the retries.
package entra

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

func init() { connectors.Register("entra", New) }

// Defaults.
const (
	DefaultGraphURL = "https://graph.microsoft.com/v1.0"
	graphScope      = "https://graph.microsoft.com/.default"
	defaultPageSize = 100
	maxPageSize     = 999 // Graph's largest $top for users
)

// Settings are the entra connector's settings block.
type Settings struct {
	// TenantID is the directory (tenant) id or a verified domain.
	TenantID string `yaml:"tenant_id"`
	// ClientID is the app registration's application (client) id.
	ClientID string `yaml:"client_id"`
	// ClientSecret is one of the app registration's client secrets.
	ClientSecret config.Secret `yaml:"client_secret"`
	// ClientCertificate (PEM) and ClientKey (its PEM RSA private key)
	// replace the secret with a signed client assertion.
	ClientCertificate config.Secret `yaml:"client_certificate"`
	ClientKey         config.Secret `yaml:"client_key"`
	// GraphURL is the Graph v1.0 root (default https://graph.microsoft.com/v1.0;
	// national clouds and tests override it).
	GraphURL string `yaml:"graph_url"`
	// TokenURL defaults to https://login.microsoftonline.com/TENANT/oauth2/v2.0/token.
	TokenURL string `yaml:"token_url"`
	// UPNFrom picks the reference field used as userPrincipalName: email
	// (default) or user_name.
	UPNFrom string `yaml:"upn_from"`
	// UPNDomain replaces the domain of the userPrincipalName (e.g. a
	// contoso.onmicrosoft.com tenant for people whose mail is contoso.com).
	UPNDomain string `yaml:"upn_domain"`
	// SignInActivity is auto (default: read signInActivity for LastActivity,
	// fall back without it when Graph refuses), required (a refusal is an
	// error) or off.
	SignInActivity string `yaml:"sign_in_activity"`
	// ReadManager reads /users/{id}/manager in ReadAccount.
	ReadManager bool `yaml:"read_manager"`
	// PageSize is $top for listings (default 100, at most 999).
	PageSize int `yaml:"page_size"`
	// MaxPages bounds a listing (default 1000 pages).
	MaxPages int           `yaml:"max_pages"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Connector manages one Entra tenant.
type Connector struct {
	name     string
	del      bool
	s        Settings
	graph    *httpx.Client
	tokenC   *httpx.Client
	tokenURL *url.URL
	log      zerolog.Logger
	secret   string
	cert     *certCredential
	certTok  *certTokens
	now      func() time.Time
	pageSize int
	maxPages int
	// groupEnts are the configured group entitlements: name → resource.
	groupEnts map[string]string

	noSignIn atomic.Bool // Graph refused signInActivity; list without it
	warnOnce sync.Once

	mu       sync.Mutex
	groupIDs map[string]string // lower(resource) → group id
	groupNam map[string]string // group id → entitlement name
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs := app.Settings.Decode(&s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if s.TenantID == "" {
		errs.Add(pos, key+".tenant_id", "tenant_id is required (the directory id, or a verified domain such as contoso.onmicrosoft.com)")
	} else if strings.ContainsAny(s.TenantID, "/?#% ") {
		errs.Add(pos, key+".tenant_id", "tenant_id %q is not a tenant id or domain", s.TenantID)
	}
	if s.ClientID == "" {
		errs.Add(pos, key+".client_id", "client_id is required (the app registration's application id)")
	}
	useCert := s.ClientCertificate.IsSet() || s.ClientKey.IsSet()
	switch {
	case useCert && s.ClientSecret.IsSet():
		errs.Add(pos, key+".client_secret", "set client_secret or client_certificate with client_key, not both")
	case useCert && !s.ClientCertificate.IsSet():
		errs.Add(pos, key+".client_certificate", "client_key needs client_certificate (PEM; use client_certificate_file)")
	case useCert && !s.ClientKey.IsSet():
		errs.Add(pos, key+".client_key", "client_certificate needs client_key (PEM; use client_key_file)")
	case !useCert && !s.ClientSecret.IsSet():
		errs.Add(pos, key+".client_secret", "client_secret is required (use ${ENV} or client_secret_file), or client_certificate with client_key")
	}
	if s.GraphURL == "" {
		s.GraphURL = DefaultGraphURL
	}
	if s.TokenURL == "" && s.TenantID != "" {
		s.TokenURL = "https://login.microsoftonline.com/" + url.PathEscape(s.TenantID) + "/oauth2/v2.0/token"
	}
	httpURL := func(v, field string) *url.URL {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs.Add(pos, key+"."+field, "%s %q is not an http(s) URL", field, v)
			return nil
		}
		return u
	}
	httpURL(s.GraphURL, "graph_url")
	var tokenURL *url.URL
	if s.TokenURL != "" {
		tokenURL = httpURL(s.TokenURL, "token_url")
	}
	switch s.UPNFrom {
	case "", "email", "user_name":
	default:
		errs.Add(pos, key+".upn_from", "upn_from must be email or user_name, not %q", s.UPNFrom)
	}
	if s.UPNDomain != "" && (strings.ContainsAny(s.UPNDomain, "@/ ") || !strings.Contains(s.UPNDomain, ".")) {
		errs.Add(pos, key+".upn_domain", "upn_domain %q is not a domain", s.UPNDomain)
	}
	switch s.SignInActivity {
	case "":
		s.SignInActivity = "auto"
	case "auto", "required", "off":
	default:
		errs.Add(pos, key+".sign_in_activity", "sign_in_activity must be auto, required or off, not %q", s.SignInActivity)
	}
	if s.PageSize < 0 || s.PageSize > maxPageSize {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and %d", maxPageSize)
	}
	if s.MaxPages < 0 {
		errs.Add(pos, key+".max_pages", "max_pages must not be negative")
	}
	c := &Connector{name: app.Name, del: app.Delete, s: s, tokenURL: tokenURL, pageSize: s.PageSize, maxPages: s.MaxPages,
		log:       deps.Logger.With().Str("connector", "entra").Str("app", app.Name).Logger(),
		groupEnts: map[string]string{}, groupIDs: map[string]string{}, groupNam: map[string]string{}}
	for name, e := range app.Entitlements {
		if e == nil || e.Kind == gatehouse.EntAccount {
			continue
		}
		if e.Kind != gatehouse.EntGroup {
			errs.Add(e.Pos, "apps."+app.Name+".entitlements."+name+".kind", "entra entitlements are groups (kind group), not %q", e.Kind)
			continue
		}
		res := e.Resource
		if res == "" {
			res = name
		}
		c.groupEnts[name] = res
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if c.pageSize == 0 {
		c.pageSize = defaultPageSize
	}
	if c.maxPages == 0 {
		c.maxPages = 1000
	}
	c.now = deps.Now
	if c.now == nil {
		c.now = time.Now
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := httpx.Options{BaseURL: s.GraphURL, App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout,
		Logger: deps.Logger, Debug: deps.Debug, Now: deps.Now}
	var err error
	if useCert {
		certPEM, err := s.ClientCertificate.Value()
		if err != nil {
			return nil, fmt.Errorf("entra %s: client_certificate: %w", app.Name, err)
		}
		keyPEM, err := s.ClientKey.Value()
		if err != nil {
			return nil, fmt.Errorf("entra %s: client_key: %w", app.Name, err)
		}
		if c.cert, err = parseCertCredential(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf("entra %s: %w", app.Name, err)
		}
		c.certTok = &certTokens{c: c}
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		base := &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: dialer.DialContext, TLSHandshakeTimeout: 10 * time.Second,
			ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
		opts.Transport = &bearerTransport{base: base, tokens: c.certTok}
	} else {
		if c.secret, err = s.ClientSecret.Value(); err != nil {
			return nil, fmt.Errorf("entra %s: client_secret: %w", app.Name, err)
		}
		opts.Auth = httpx.Auth{Type: "oauth2", TokenURL: s.TokenURL, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			Scopes: []string{graphScope}, ClientAuth: "body"}
	}
	if c.graph, err = httpx.New(opts); err != nil {
		return nil, fmt.Errorf("entra %s: %w", app.Name, err)
	}
	// The token client serves Check (httpx keeps the token of its OAuth2
	// support to itself, and Check reads the token's roles claim) and the
	// certificate flow. It never records bodies: a client assertion is a
	// credential httpx's redaction does not know by name.
	topts := opts
	topts.Auth, topts.Transport, topts.Debug = httpx.Auth{}, nil, false
	topts.BaseURL = tokenURL.Scheme + "://" + tokenURL.Host
	if c.tokenC, err = httpx.New(topts); err != nil {
		return nil, fmt.Errorf("entra %s: token client: %w", app.Name, err)
	}
	return c, nil
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities lists what the connector does; delete only when the app
// is configured to delete leavers. Ownership transfer (OneDrive files) is
// not offered: Graph has no transfer call, so it is a manual task.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapEnable,
		gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapRevokeSessions, gatehouse.CapListAccounts)
	if c.del {
		caps[gatehouse.CapDelete] = true
	}
	return caps
}

// Recording returns the redacted HTTP exchanges kept in debug mode.
func (c *Connector) Recording() []httpx.Exchange {
	return append(c.tokenC.Recording(), c.graph.Recording()...)
}

// Application permissions, least privileged first: any one of a list
// allows the operation (Graph v1.0 reference, permission tables).
var (
	permReadUsers   = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permWriteUsers  = []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	permEnable      = []string{"User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permRevoke      = []string{"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permReadGroups  = []string{"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permWriteGroups = []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	permSignIn      = []string{"AuditLog.Read.All"}
)

// do sends one Graph request and turns Graph's error body into the error
// text (code and message) and class: Request_ResourceNotFound is NotFound
// whatever the status, Authorization_RequestDenied is Permanent and names
// the application permissions the operation needs.
func (c *Connector) do(ctx context.Context, op string, perms []string, req httpx.Request) (*httpx.Response, error) {
	if c.certTok != nil {
		// Get the token here, not in the transport, so that a refused
		// certificate keeps its permanent class.
		if _, err := c.certTok.get(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	res, err := c.graph.Do(ctx, req)
	if err == nil {
		return res, nil
	}
	return res, c.classify(op, perms, res, err)
}

func (c *Connector) classify(op string, perms []string, res *httpx.Response, err error) error {
	if res == nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ge, ok := parseGraphError(res.Body)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	what := ge.Code
	if ge.RequestID != "" {
		what += " (request-id " + ge.RequestID + ")"
	}
	wrapped := fmt.Errorf("%s: graph %s: %w", op, what, err)
	switch ge.Code {
	case "Request_ResourceNotFound", "ResourceNotFound", "ErrorItemNotFound":
		return gatehouse.NotFound(wrapped)
	case "Authorization_RequestDenied", "Authorization_IdentityNotFound", "Forbidden", "accessDenied":
		if len(perms) > 0 {
			wrapped = fmt.Errorf("%w; the app registration needs the application permission %s (or one of %s) with admin consent",
				wrapped, perms[0], strings.Join(perms[1:], ", "))
		}
		return gatehouse.Permanent(wrapped)
	}
	return fmt.Errorf("%s: graph %s: %w", op, what, err)
}

// userSelect is what every user read selects.
const userSelect = "id,userPrincipalName,mail,displayName,accountEnabled,employeeId,jobTitle,department"

// odataQuote quotes s as an OData string literal: single quotes doubled.
func odataQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// upnFor is the userPrincipalName Gatehouse gives ref's account.
func (c *Connector) upnFor(ref gatehouse.AccountRef) string {
	upn := ref.Email
	if c.s.UPNFrom == "user_name" && ref.UserName != "" {
		upn = ref.UserName
	}
	if upn == "" {
		upn = ref.UserName
	}
	upn = strings.ToLower(strings.TrimSpace(upn))
	if c.s.UPNDomain != "" {
		if i := strings.LastIndexByte(upn, '@'); i > 0 {
			upn = upn[:i+1] + strings.ToLower(c.s.UPNDomain)
		}
	}
	return upn
}

func userPath(id string) string { return "/users/" + url.PathEscape(id) }

// getUser reads one user by id; NotFound when there is none.
func (c *Connector) getUser(ctx context.Context, op, id string) (*graphUser, error) {
	res, err := c.do(ctx, op, permReadUsers, httpx.Request{Method: http.MethodGet, Path: userPath(id), Query: url.Values{"$select": {userSelect}}})
	if err != nil {
		return nil, err
	}
	u, err := parseUser(res.Body)
	if err != nil {
		return nil, gatehouse.Retryable(fmt.Errorf("%s: %w", op, err))
	}
	return u, nil
}

// filterUsers lists the users with prop equal to value.
func (c *Connector) filterUsers(ctx context.Context, op, prop, value string) ([]*graphUser, error) {
	q := url.Values{"$filter": {prop + " eq " + odataQuote(value)}, "$select": {userSelect}}
	var out []*graphUser
	err := c.paginate(ctx, op, permReadUsers, "/users", q, func(raw []byte) error {
		u, err := parseUser(raw)
		if err == nil {
			out = append(out, u)
		}
		return err
	})
	return out, err
}

// find locates ref's user: by account id when known, else by
// userPrincipalName, else by mail. NotFound when none matches.
func (c *Connector) find(ctx context.Context, op string, ref gatehouse.AccountRef) (*graphUser, error) {
	if ref.AccountID != "" {
		u, err := c.getUser(ctx, op, ref.AccountID)
		if err == nil || gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return u, err
		}
		// The id is stale (the user was deleted, maybe re-created): look
		// the person up by natural key.
	}
	upn := c.upnFor(ref)
	if upn != "" {
		us, err := c.filterUsers(ctx, op, "userPrincipalName", upn)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			if strings.EqualFold(u.UserPrincipalName, upn) {
				return u, nil
			}
		}
	}
	if ref.Email != "" {
		us, err := c.filterUsers(ctx, op, "mail", ref.Email)
		if err != nil {
			return nil, err
		}
		if len(us) > 1 {
			return nil, gatehouse.Permanent(fmt.Errorf("%s: %d users have mail %s; set the account id", op, len(us), ref.Email))
		}
		if len(us) == 1 {
			return us[0], nil
		}
	}
	return nil, gatehouse.NotFound(fmt.Errorf("%s: no entra user with userPrincipalName %q or mail %q", op, upn, ref.Email))
}

// paginate walks a Graph collection through @odata.nextLink, which is an
// absolute URL on the Graph host (httpx refuses any other host), guarding
// against a link that repeats and against endless listings (max_pages).
func (c *Connector) paginate(ctx context.Context, op string, perms []string, path string, q url.Values, each func([]byte) error) error {
	seen := map[string]bool{}
	req := httpx.Request{Method: http.MethodGet, Path: path, Query: q}
	for page := 0; ; page++ {
		if page >= c.maxPages {
			return gatehouse.Permanent(fmt.Errorf("%s: more than %d pages; raise max_pages if the tenant is that large", op, c.maxPages))
		}
		res, err := c.do(ctx, op, perms, req)
		if err != nil {
			return err
		}
		p, err := parsePage(res.Body)
		if err != nil {
			return gatehouse.Retryable(fmt.Errorf("%s: %w", op, err))
		}
		for _, raw := range p.Value {
			if err := each(raw); err != nil {
				return gatehouse.Retryable(fmt.Errorf("%s: %w", op, err))
			}
		}
		if p.NextLink == "" {
			return nil
		}
		if seen[p.NextLink] {
			return gatehouse.Retryable(fmt.Errorf("%s: graph repeated a next-page link", op))
		}
		seen[p.NextLink] = true
		// The link carries every query option already.
		req = httpx.Request{Method: http.MethodGet, Path: p.NextLink}
	}
}

func (c *Connector) account(u *graphUser) gatehouse.Account {
	return gatehouse.Account{ID: u.ID, UserName: u.UserPrincipalName, Email: deref(u.Mail), DisplayName: deref(u.DisplayName),
		EmployeeID: deref(u.EmployeeID), Active: u.enabled(), LastActivity: u.lastActivity()}
}

// EnsureAccount finds ref's user, re-enabling it when disabled, or creates
// it with a random strong password the person must change at first sign-in
// (they normally sign in through a temporary access pass or SSPR; the
// password is never logged or returned).
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	op := "ensure entra user " + c.upnFor(ref)
	u, err := c.find(ctx, op, ref)
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return gatehouse.Account{}, err
	}
	if err != nil {
		if u, err = c.create(ctx, op, ref); err != nil {
			return gatehouse.Account{}, err
		}
	}
	if !u.enabled() {
		if err := c.setEnabled(ctx, op, u.ID, true); err != nil {
			return gatehouse.Account{}, err
		}
		t := true
		u.AccountEnabled = &t
	}
	return c.account(u), nil
}

func (c *Connector) create(ctx context.Context, op string, ref gatehouse.AccountRef) (*graphUser, error) {
	upn := c.upnFor(ref)
	if upn == "" || !strings.Contains(upn, "@") {
		return nil, gatehouse.Permanent(fmt.Errorf("%s: no email or user name to build a userPrincipalName from", op))
	}
	pw, err := randomPassword()
	if err != nil {
		return nil, gatehouse.Retryable(fmt.Errorf("%s: %w", op, err))
	}
	display := strings.TrimSpace(ref.Name)
	if display == "" {
		display = upn
	}
	body := map[string]any{
		"accountEnabled":    true,
		"displayName":       display,
		"mailNickname":      mailNickname(upn),
		"userPrincipalName": upn,
		"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": true, "password": pw},
	}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			body[k] = v
		}
	}
	set("givenName", ref.GivenName)
	set("surname", ref.FamilyName)
	// mail is set only on the UPN's own domain, which the tenant has
	// verified (the UPN would be refused otherwise); another domain may not be.
	if email := strings.ToLower(strings.TrimSpace(ref.Email)); domainOf(email) != "" && domainOf(email) == domainOf(upn) {
		body["mail"] = email
	}
	set("employeeId", ref.EmployeeID)
	set("jobTitle", ref.Title)
	set("department", ref.Department)
	res, err := c.do(ctx, op, permWriteUsers, httpx.Request{Method: http.MethodPost, Path: "/users", Body: body})
	if err != nil {
		if httpx.StatusOf(err) == http.StatusBadRequest && strings.Contains(err.Error(), "already exists") {
			// Created by an earlier attempt whose answer was lost, or not
			// yet visible to the filter: look again.
			u, ferr := c.find(ctx, op, ref)
			if ferr == nil {
				return u, nil
			}
			if gatehouse.Classify(ferr) == gatehouse.ClassNotFound {
				return nil, gatehouse.Retryable(fmt.Errorf("%s: graph says the user exists but it is not visible yet: %w", op, err))
			}
			return nil, ferr
		}
		return nil, err
	}
	u, err := parseUser(res.Body)
	if err != nil {
		return nil, gatehouse.Retryable(fmt.Errorf("%s: %w", op, err))
	}
	return u, nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

var nickRE = regexp.MustCompile(`[^A-Za-z0-9._'-]`)

// mailNickname derives the mail alias from the UPN's local part, without
// the characters Graph refuses there.
func mailNickname(upn string) string {
	local := upn
	if i := strings.IndexByte(upn, '@'); i >= 0 {
		local = upn[:i]
	}
	n := nickRE.ReplaceAllString(local, "")
	if n == "" {
		n = "user"
	}
	return httpx.Clip(n, 64)
}

// randomPassword returns 24 characters from crypto/rand with every class
// Entra's complexity rule counts, so the default policy always accepts it.
func randomPassword() (string, error) {
	classes := []string{"abcdefghijkmnopqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "!#$%&*+-=?@^_"}
	all := strings.Join(classes, "")
	pick := func(set string) (byte, error) {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[n.Int64()], nil
	}
	out := make([]byte, 24)
	for i := range out {
		set := all
		if i < len(classes) {
			set = classes[i]
		}
		b, err := pick(set)
		if err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		out[i] = b
	}
	// Shuffle so the class-guaranteeing characters are not always first.
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

func (c *Connector) setEnabled(ctx context.Context, op, id string, on bool) error {
	_, err := c.do(ctx, op, permEnable, httpx.Request{Method: http.MethodPatch, Path: userPath(id), Body: map[string]any{"accountEnabled": on}})
	return err
}

// Disable sets accountEnabled false, which blocks new sign-ins; combine it
// with RevokeSessions to end the existing ones.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.ensureEnabled(ctx, "disable", ref, false)
}

// Enable sets accountEnabled true.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.ensureEnabled(ctx, "enable", ref, true)
}

// ensureEnabled finds the user and sets accountEnabled to on unless it
// already is: disabling the disabled (enabling the enabled) is a success.
func (c *Connector) ensureEnabled(ctx context.Context, verb string, ref gatehouse.AccountRef, on bool) error {
	op := verb + " entra user " + c.upnFor(ref)
	u, err := c.find(ctx, op, ref)
	if err != nil {
		return err
	}
	if u.enabled() == on {
		return nil
	}
	return c.setEnabled(ctx, op, u.ID, on)
}

// Delete deletes the user. Entra keeps it 30 days in directory/deletedItems,
// from where an administrator can restore it; after that it is gone.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	if !c.del {
		return c.unsupported(gatehouse.CapDelete)
	}
	op := "delete entra user " + c.upnFor(ref)
	u, err := c.find(ctx, op, ref)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, op, permWriteUsers, httpx.Request{Method: http.MethodDelete, Path: userPath(u.ID)})
	return err
}

// RevokeSessions calls revokeSignInSessions, which sets the user's
// signInSessionsValidFromDateTime to now: refresh tokens and session
// cookies issued before are refused (access tokens live on until they
// expire, up to about an hour).
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	op := "revoke entra sessions of " + c.upnFor(ref)
	u, err := c.find(ctx, op, ref)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, op, permRevoke, httpx.Request{Method: http.MethodPost, Path: userPath(u.ID) + "/revokeSignInSessions"})
	return err
}

func (c *Connector) unsupported(cap gatehouse.Capability) error {
	return gatehouse.Permanent(fmt.Errorf("entra %s: %s: %w", c.name, cap, gatehouse.ErrUnsupported))
}

// TransferOwnership is not supported: Graph has no call to hand a leaver's
// OneDrive to someone else; that is a manual task (OneDrive access delegation
// in the Microsoft 365 admin center).
func (c *Connector) TransferOwnership(context.Context, gatehouse.AccountRef, gatehouse.AccountRef) error {
	return c.unsupported(gatehouse.CapTransferOwnership)
}

// resolveGroup returns the id of an entitlement's group: the resource when
// it is a group id (checked to exist), else the one group with that
// displayName. Results are cached for the connector's life.
func (c *Connector) resolveGroup(ctx context.Context, op string, ent gatehouse.Entitlement) (string, error) {
	res := ent.Resource
	if res == "" {
		res = c.groupEnts[ent.Name]
	}
	if res == "" {
		res = ent.Name
	}
	k := strings.ToLower(res)
	c.mu.Lock()
	id, ok := c.groupIDs[k]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	if guidRE.MatchString(res) {
		r, err := c.do(ctx, op, permReadGroups, httpx.Request{Method: http.MethodGet, Path: "/groups/" + url.PathEscape(res), Query: url.Values{"$select": {"id,displayName"}}})
		if err != nil {
			if gatehouse.Classify(err) == gatehouse.ClassNotFound {
				return "", gatehouse.Permanent(fmt.Errorf("%s: no group with id %s: %w", op, res, err))
			}
			return "", err
		}
		o, err := parseDirectoryObject(r.Body)
		if err != nil {
			return "", gatehouse.Retryable(fmt.Errorf("%s: %w", op, err))
		}
		id = o.ID
	} else {
		var found []string
		q := url.Values{"$filter": {"displayName eq " + odataQuote(res)}, "$select": {"id,displayName"}}
		err := c.paginate(ctx, op, permReadGroups, "/groups", q, func(raw []byte) error {
			o, err := parseDirectoryObject(raw)
			if err == nil && strings.EqualFold(deref(o.DisplayName), res) {
				found = append(found, o.ID)
			}
			return err
		})
		if err != nil {
			return "", err
		}
		switch len(found) {
		case 0:
			return "", gatehouse.Permanent(fmt.Errorf("%s: no entra group named %q", op, res))
		case 1:
			id = found[0]
		default:
			return "", gatehouse.Permanent(fmt.Errorf("%s: %d entra groups are named %q; use the group id as the resource", op, len(found), res))
		}
	}
	c.mu.Lock()
	c.groupIDs[k] = id
	if ent.Name != "" {
		c.groupNam[id] = ent.Name
	}
	c.mu.Unlock()
	return id, nil
}

// Grant adds the user to the entitlement's group; already a member is success.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	if ent.Kind == gatehouse.EntAccount {
		_, err := c.EnsureAccount(ctx, ref)
		return err
	}
	op := fmt.Sprintf("add entra user %s to group %s", c.upnFor(ref), ent.Name)
	if ent.Kind != "" && ent.Kind != gatehouse.EntGroup {
		return gatehouse.Permanent(fmt.Errorf("%s: entitlement kind %q is not a group", op, ent.Kind))
	}
	u, err := c.find(ctx, op, ref)
	if err != nil {
		return err
	}
	gid, err := c.resolveGroup(ctx, op, ent)
	if err != nil {
		return err
	}
	body := map[string]any{"@odata.id": strings.TrimRight(c.s.GraphURL, "/") + "/directoryObjects/" + url.PathEscape(u.ID)}
	_, err = c.do(ctx, op, permWriteGroups, httpx.Request{Method: http.MethodPost, Path: "/groups/" + url.PathEscape(gid) + "/members/$ref", Body: body})
	switch {
	case err == nil:
		return nil
	case httpx.StatusOf(err) == http.StatusBadRequest && strings.Contains(err.Error(), "added object references already exist"):
		return nil
	case gatehouse.Classify(err) == gatehouse.ClassNotFound:
		// The user and group were just found: a user created moments ago
		// that the group's replica does not know yet.
		return gatehouse.Retryable(fmt.Errorf("%s: not visible to the group yet: %w", op, err))
	}
	return err
}

// Revoke removes the user from the entitlement's group; not a member (404)
// is done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	op := fmt.Sprintf("remove entra user %s from group %s", c.upnFor(ref), ent.Name)
	if ent.Kind == gatehouse.EntAccount {
		return gatehouse.Permanent(fmt.Errorf("%s: revoke of the account entitlement: use disable or delete", op))
	}
	u, err := c.find(ctx, op, ref)
	if err != nil {
		return err
	}
	gid, err := c.resolveGroup(ctx, op, ent)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, op, permWriteGroups, httpx.Request{Method: http.MethodDelete,
		Path: "/groups/" + url.PathEscape(gid) + "/members/" + url.PathEscape(u.ID) + "/$ref"})
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil
	}
	return err
}

// ListAccounts lists every user with its last sign-in (when the tenant
// allows signInActivity) and its configured group memberships.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	op := "list entra users"
	var users []*graphUser
	collect := func(raw []byte) error {
		u, err := parseUser(raw)
		if err == nil {
			users = append(users, u)
		}
		return err
	}
	q := url.Values{"$top": {strconv.Itoa(c.pageSize)}}
	withSignIn := c.s.SignInActivity != "off" && !c.noSignIn.Load()
	if withSignIn {
		q.Set("$select", userSelect+",signInActivity")
		err := c.paginate(ctx, op, permSignIn, "/users", q, collect)
		if err == nil || c.s.SignInActivity == "required" || httpx.StatusOf(err) != http.StatusForbidden {
			if err != nil {
				return nil, err
			}
			return c.withMemberships(ctx, users)
		}
		// No Entra ID P1/P2 licence (Authentication_RequestFromNonPremiumTenantOrB2CTenant)
		// or no AuditLog.Read.All: list without last activity from now on.
		c.noSignIn.Store(true)
		c.warnOnce.Do(func() {
			c.log.Warn().Str("reason", httpx.Clip(err.Error(), 300)).
				Msg("graph refused signInActivity (it needs AuditLog.Read.All and an Entra ID P1/P2 licence); listing users without last activity")
		})
		users = nil
	}
	q.Set("$select", userSelect)
	if err := c.paginate(ctx, op, permReadUsers, "/users", q, collect); err != nil {
		return nil, err
	}
	return c.withMemberships(ctx, users)
}

func (c *Connector) withMemberships(ctx context.Context, users []*graphUser) ([]gatehouse.Account, error) {
	held := map[string][]string{}
	names := make([]string, 0, len(c.groupEnts))
	for n := range c.groupEnts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		op := "list members of entra group " + name
		gid, err := c.resolveGroup(ctx, op, gatehouse.Entitlement{Name: name, Kind: gatehouse.EntGroup, Resource: c.groupEnts[name]})
		if err != nil {
			return nil, err
		}
		q := url.Values{"$select": {"id"}, "$top": {strconv.Itoa(c.pageSize)}}
		err = c.paginate(ctx, op, permReadGroups, "/groups/"+url.PathEscape(gid)+"/members", q, func(raw []byte) error {
			o, err := parseDirectoryObject(raw)
			if err == nil {
				held[o.ID] = append(held[o.ID], name)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]gatehouse.Account, 0, len(users))
	for _, u := range users {
		a := c.account(u)
		a.Entitlements = held[u.ID]
		out = append(out, a)
	}
	return out, nil
}

// ReadAccount re-reads ref's user: enabled flag, group memberships
// (transitive ones excluded, as Gatehouse grants direct membership) mapped
// to entitlement names, and the attributes Gatehouse sets.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	op := "read entra user " + c.upnFor(ref)
	u, err := c.find(ctx, op, ref)
	if err != nil {
		return gatehouse.Account{}, err
	}
	a := c.account(u)
	a.Attributes = map[string]string{}
	for k, v := range map[string]*string{"title": u.JobTitle, "department": u.Department, "employee_id": u.EmployeeID} {
		if v != nil && *v != "" {
			a.Attributes[k] = *v
		}
	}
	byName := map[string]string{}
	for n, res := range c.groupEnts {
		byName[strings.ToLower(res)] = n
	}
	q := url.Values{"$select": {"id,displayName"}, "$top": {strconv.Itoa(c.pageSize)}}
	err = c.paginate(ctx, op, permReadGroups, userPath(u.ID)+"/memberOf", q, func(raw []byte) error {
		o, err := parseDirectoryObject(raw)
		if err != nil {
			return err
		}
		if o.Type != "" && o.Type != "#microsoft.graph.group" {
			return nil // directory roles and administrative units are not entitlements here
		}
		c.mu.Lock()
		name := c.groupNam[o.ID]
		c.mu.Unlock()
		if name == "" {
			name = byName[strings.ToLower(o.ID)]
		}
		if name == "" {
			name = byName[strings.ToLower(deref(o.DisplayName))]
		}
		if name == "" {
			name = deref(o.DisplayName)
		}
		if name == "" {
			name = o.ID
		}
		a.Entitlements = append(a.Entitlements, name)
		return nil
	})
	if err != nil {
		return gatehouse.Account{}, err
	}
	sort.Strings(a.Entitlements)
	if c.s.ReadManager {
		res, err := c.do(ctx, op+": manager", permReadUsers, httpx.Request{Method: http.MethodGet, Path: userPath(u.ID) + "/manager",
			Query: url.Values{"$select": {"id,userPrincipalName,mail"}}})
		switch {
		case err == nil:
			if m, perr := parseUser(res.Body); perr == nil {
				if mail := deref(m.Mail); mail != "" {
					a.Attributes["manager"] = mail
				} else {
					a.Attributes["manager"] = m.UserPrincipalName
				}
			}
		case gatehouse.Classify(err) == gatehouse.ClassNotFound:
			// No manager set.
		default:
			return gatehouse.Account{}, err
		}
	}
	return a, nil
}

// ErrMissingPermissions says the access token lacks application permissions
// the configured capabilities need.
var ErrMissingPermissions = errors.New("missing application permissions")
