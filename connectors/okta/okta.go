// Package okta is the native connector for Okta, through Okta's Management
// API (/api/v1): users and their lifecycle (create staged or activated,
// suspend or deactivate, unsuspend or activate, delete), group memberships,
// app assignments, session and token revocation, and listing with lastLogin
// for dormant-access reports.
//
// It authenticates with an SSWS API token or, preferably, as an OAuth 2.0
// service app with a private-key JWT (client_credentials; the access token
// is cached until shortly before it expires). Okta's rate-limit headers are
// honoured: a 429 waits until X-Rate-Limit-Reset, and an exhausted bucket
// (X-Rate-Limit-Remaining: 0) holds further calls to that API family until
// the reset rather than burning a request on a certain 429.
//
// Entitlements: kind group with resource = the group's name, resolved to its
// id once and cached; kinds role and license with resource "app:<appId or
// label>" are app assignments. See docs/connectors/okta.md.
package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

func init() { connectors.Register("okta", New) }

// Settings are the okta connector's settings block.
type Settings struct {
	// OrgURL is the org's base URL, e.g. https://acme.okta.com.
	OrgURL string `yaml:"org_url"`
	Auth   Auth   `yaml:"auth"`
	// Activate creates users activated (default true; Okta sends the
	// activation email) or, when false, STAGED for a later activation.
	Activate *bool `yaml:"activate"`
	// ActivationEmail lets Okta email the activation link when a staged or
	// deactivated user is activated (default true).
	ActivationEmail *bool `yaml:"activation_email"`
	// Disable is suspend (default) or deactivate.
	Disable string `yaml:"disable"`
	// Profile maps Okta profile attributes to account reference fields; it
	// is merged over DefaultProfile, and an empty source drops an attribute.
	Profile map[string]string `yaml:"profile"`
	// Memberships says what ListAccounts reports as entitlements:
	// configured (default: members of each configured group and app, one
	// paged listing per entitlement), all (every group of every user, one
	// request per user) or none.
	Memberships string        `yaml:"memberships"`
	PageSize    int           `yaml:"page_size"`
	MaxPages    int           `yaml:"max_pages"`
	Timeout     time.Duration `yaml:"timeout"`
}

// Auth is the credential: type ssws with token, or type oauth2 with
// client_id and private_key (PEM) of an API service app.
type Auth struct {
	Type       string        `yaml:"type"`
	Token      config.Secret `yaml:"token"`
	ClientID   string        `yaml:"client_id"`
	PrivateKey config.Secret `yaml:"private_key"`
	KeyID      string        `yaml:"key_id"`
	Scopes     []string      `yaml:"scopes"`
	// TokenURL defaults to ORG_URL/oauth2/v1/token (the org authorization
	// server, the only one that issues Management API tokens).
	TokenURL string `yaml:"token_url"`
}

// DefaultProfile is the attribute mapping used unless settings override it:
// Okta profile attribute → account reference field.
var DefaultProfile = map[string]string{
	"login": "user_name", "email": "email", "firstName": "given_name", "lastName": "family_name",
	"employeeNumber": "employee_id", "title": "title", "department": "department", "manager": "manager",
}

var profileSources = []string{"email", "user_name", "name", "given_name", "family_name", "employee_id", "title", "department", "manager", "identity_key"}

// Connector manages one Okta org.
type Connector struct {
	name     string
	del      bool
	s        Settings
	activate bool
	sendMail bool
	profile  map[string]string
	hc       *httpx.Client
	oauth    *tokenSource
	log      zerolog.Logger
	now      func() time.Time
	pageSize int
	maxPages int
	// Configured entitlements by what Okta calls them.
	groupEnt map[string]string // lower(group name) → entitlement name
	groupRes map[string]string // lower(group name) → the name as configured
	appEnt   map[string]string // app reference (id or lower(label)) → entitlement name

	mu       sync.Mutex
	groupIDs map[string]string    // lower(group name) → id
	appIDs   map[string]string    // app reference → app id
	blocked  map[string]time.Time // API family → end of an exhausted rate-limit window
}

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs := app.Settings.Decode(&s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if s.OrgURL == "" {
		errs.Add(pos, key+".org_url", "org_url is required (e.g. https://acme.okta.com)")
	} else if u, err := url.Parse(s.OrgURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || (u.Path != "" && u.Path != "/") {
		errs.Add(pos, key+".org_url", "org_url %q must be the org's base URL, e.g. https://acme.okta.com", s.OrgURL)
	}
	var sg *signer
	var keyErr error
	switch s.Auth.Type {
	case "ssws":
		if !s.Auth.Token.IsSet() {
			errs.Add(pos, key+".auth.token", "ssws auth needs token (an Okta API token)")
		}
	case "oauth2":
		if s.Auth.ClientID == "" {
			errs.Add(pos, key+".auth.client_id", "oauth2 auth needs client_id (the API service app's client id)")
		}
		if !s.Auth.PrivateKey.IsSet() {
			errs.Add(pos, key+".auth.private_key", "oauth2 auth needs private_key (PEM; private_key_file works)")
		} else if v, err := s.Auth.PrivateKey.Value(); err != nil {
			keyErr = err // reported after the settings errors, as config.ErrSecretUnresolved
		} else if sg, err = parsePrivateKey(v, s.Auth.KeyID); err != nil {
			errs.Add(pos, key+".auth.private_key", "%v", err)
		}
		if s.Auth.TokenURL != "" {
			if u, err := url.Parse(s.Auth.TokenURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				errs.Add(pos, key+".auth.token_url", "token_url %q is not an http(s) URL", s.Auth.TokenURL)
			}
		}
	case "":
		errs.Add(pos, key+".auth.type", "auth.type is required: ssws (API token) or oauth2 (service app with a private key)")
	default:
		errs.Add(pos, key+".auth.type", "auth.type %q is not one of ssws, oauth2", s.Auth.Type)
	}
	switch s.Disable {
	case "":
		s.Disable = "suspend"
	case "suspend", "deactivate":
	default:
		errs.Add(pos, key+".disable", "disable must be suspend or deactivate, not %q", s.Disable)
	}
	switch s.Memberships {
	case "":
		s.Memberships = "configured"
	case "configured", "all", "none":
	default:
		errs.Add(pos, key+".memberships", "memberships must be configured, all or none, not %q", s.Memberships)
	}
	if s.PageSize < 0 || s.PageSize > 200 {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and 200 (Okta's maximum for users)")
	}
	if s.MaxPages < 0 {
		errs.Add(pos, key+".max_pages", "max_pages must not be negative")
	}
	profile := map[string]string{}
	for k, v := range DefaultProfile {
		profile[k] = v
	}
	for k, v := range s.Profile {
		if v != "" && !validSource(v) {
			errs.Add(pos, key+".profile."+k, "unknown source %q (one of %s, or attributes.NAME)", v, strings.Join(profileSources, ", "))
		}
		profile[k] = v
	}
	if profile["login"] == "" {
		errs.Add(pos, key+".profile.login", "login cannot be dropped: Okta requires it")
	}
	c := &Connector{name: app.Name, del: app.Delete, s: s, profile: profile, activate: true, sendMail: true,
		log:      deps.Logger.With().Str("connector", "okta").Str("app", app.Name).Logger(),
		groupEnt: map[string]string{}, groupRes: map[string]string{}, appEnt: map[string]string{}, groupIDs: map[string]string{}, appIDs: map[string]string{},
		blocked: map[string]time.Time{}, now: deps.Now, pageSize: s.PageSize, maxPages: s.MaxPages}
	if s.Activate != nil {
		c.activate = *s.Activate
	}
	if s.ActivationEmail != nil {
		c.sendMail = *s.ActivationEmail
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.pageSize == 0 {
		c.pageSize = 200
	}
	if c.maxPages == 0 {
		c.maxPages = 1000
	}
	for _, name := range sortedKeys(app.Entitlements) {
		e := app.Entitlements[name]
		if e == nil {
			continue
		}
		res := e.Resource
		if res == "" {
			res = name
		}
		switch e.Kind {
		case gatehouse.EntAccount:
		case gatehouse.EntGroup:
			c.groupEnt[strings.ToLower(res)] = name
			c.groupRes[strings.ToLower(res)] = res
		case gatehouse.EntRole, gatehouse.EntLicense:
			ref, ok := appRef(res)
			if !ok {
				errs.Add(e.Pos, "apps."+app.Name+".entitlements."+name+".resource", "an okta %s entitlement's resource must be app:<app id or label>, not %q", e.Kind, res)
				continue
			}
			c.appEnt[ref] = name
		default:
			errs.Add(e.Pos, "apps."+app.Name+".entitlements."+name+".kind", "okta entitlements are of kind group, or role/license (app assignments), not %q", e.Kind)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if keyErr != nil {
		return nil, fmt.Errorf("okta %s: private key: %w", app.Name, keyErr)
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	opts := httpx.Options{BaseURL: strings.TrimRight(s.OrgURL, "/"), App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout,
		Logger: deps.Logger, Debug: deps.Debug, Now: deps.Now}
	if s.Auth.Type == "ssws" {
		opts.Auth = httpx.Auth{Type: "api_key", Header: "Authorization", Prefix: "SSWS ", Key: s.Auth.Token}
	}
	var err error
	if c.hc, err = httpx.New(opts); err != nil {
		return nil, fmt.Errorf("okta %s: %w", app.Name, err)
	}
	if s.Auth.Type == "oauth2" {
		tokenURL := s.Auth.TokenURL
		if tokenURL == "" {
			tokenURL = strings.TrimRight(s.OrgURL, "/") + "/oauth2/v1/token"
		}
		// The token client records nothing: its request carries the signed
		// assertion and its answer the access token.
		topts := opts
		topts.BaseURL, topts.Debug = tokenURL, false
		tc, err := httpx.New(topts)
		if err != nil {
			return nil, fmt.Errorf("okta %s: token client: %w", app.Name, err)
		}
		scopes := s.Auth.Scopes
		if len(scopes) == 0 {
			scopes = c.requiredScopes()
		}
		c.oauth = &tokenSource{hc: tc, tokenURL: tokenURL, clientID: s.Auth.ClientID, scopes: scopes, signer: sg, now: c.now}
	}
	return c, nil
}

func validSource(v string) bool {
	if strings.HasPrefix(v, "attributes.") && len(v) > len("attributes.") {
		return true
	}
	for _, s := range profileSources {
		if v == s {
			return true
		}
	}
	return false
}

// appRef parses "app:<id or label>" into the key appEnt and appIDs use.
func appRef(res string) (string, bool) {
	rest, ok := strings.CutPrefix(res, "app:")
	rest = strings.TrimSpace(rest)
	if !ok || rest == "" {
		return "", false
	}
	if looksLikeAppID(rest) {
		return rest, true
	}
	return strings.ToLower(rest), true
}

// looksLikeAppID reports whether s has the shape of an Okta app instance id
// (0oa followed by 17 letters and digits).
func looksLikeAppID(s string) bool {
	if len(s) != 20 || !strings.HasPrefix(s, "0oa") {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities lists what the connector does; delete only with delete: true
// on the app. Okta has no ownership transfer.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapEnable,
		gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapRevokeSessions, gatehouse.CapListAccounts)
	if c.del {
		caps[gatehouse.CapDelete] = true
	}
	return caps
}

// Recording returns the redacted HTTP exchanges kept in debug mode.
func (c *Connector) Recording() []httpx.Exchange { return c.hc.Recording() }

// requiredScopes are the OAuth scopes the configured operations need.
func (c *Connector) requiredScopes() []string {
	s := []string{"okta.users.read", "okta.users.manage"}
	if len(c.groupEnt) > 0 || c.s.Memberships == "all" {
		s = append(s, "okta.groups.read", "okta.groups.manage")
	}
	if len(c.appEnt) > 0 {
		s = append(s, "okta.apps.read", "okta.apps.manage")
	}
	return s
}

// family is the rate-limit bucket a path belongs to. Okta keeps separate
// limits per endpoint group (/api/v1/users, /api/v1/groups, /api/v1/apps…);
// the first three path segments approximate them.
func family(p string) string {
	if u, err := url.Parse(p); err == nil && u.Path != "" {
		p = u.Path
	}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 4)
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return "/" + strings.Join(parts, "/")
}

// do sends one Management API request: with the credential, after the
// rate-limit gate, and with Okta's error body folded into the error.
func (c *Connector) do(ctx context.Context, method, path string, q url.Values, body any) (*httpx.Response, error) {
	fam := family(path)
	c.mu.Lock()
	until := c.blocked[fam]
	c.mu.Unlock()
	if wait := until.Sub(c.now()); wait > 0 {
		return nil, gatehouse.RateLimited(wait, fmt.Errorf("%s %s: okta rate limit for %s exhausted until %s", method, fam, fam, until.UTC().Format(time.RFC3339)))
	}
	for attempt := 0; ; attempt++ {
		req := httpx.Request{Method: method, Path: path, Query: q, Body: body, Header: map[string]string{}}
		if c.oauth != nil {
			tok, _, err := c.oauth.token(ctx)
			if err != nil {
				return nil, err
			}
			req.Header["Authorization"] = "Bearer " + tok
		}
		res, err := c.hc.Do(ctx, req)
		if res != nil {
			c.noteRateLimit(fam, res.Header)
		}
		if err != nil && attempt == 0 && c.oauth != nil && httpx.StatusOf(err) == http.StatusUnauthorized {
			// The cached token was revoked or expired early: renew it once.
			// This renews the credential; it is not a retry of the operation.
			c.oauth.invalidate()
			continue
		}
		if err != nil {
			return res, classify(res, err)
		}
		return res, nil
	}
}

// noteRateLimit closes the gate of a family whose bucket is empty.
func (c *Connector) noteRateLimit(fam string, h http.Header) {
	if h.Get("X-Rate-Limit-Remaining") != "0" {
		return
	}
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64)
	if err != nil || reset <= 0 {
		return
	}
	until := time.Unix(reset, 0)
	if until.Sub(c.now()) > time.Hour { // a bogus reset must not park the app
		return
	}
	c.mu.Lock()
	c.blocked[fam] = until
	c.mu.Unlock()
}

// OktaError is the Okta error of a failed request (errors.As finds it).
type OktaError struct {
	Status  int
	Code    string // E0000007…
	Summary string
	Causes  string
	// Scope is the scope a 403 insufficient_scope answer names, if any.
	Scope string
	err   error
}

func (e *OktaError) Error() string {
	msg := e.err.Error()
	if e.Code != "" {
		msg += " [" + e.Code + "]"
	}
	if e.Causes != "" && !strings.Contains(msg, e.Causes) {
		msg += ": " + e.Causes
	}
	if e.Scope != "" {
		msg += " (missing scope " + e.Scope + ")"
	}
	return msg
}

func (e *OktaError) Unwrap() error { return e.err }

// codeOf returns the Okta error code in err, or "".
func codeOf(err error) string {
	var oe *OktaError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}

// classify folds Okta's error body into err and fixes the class where the
// code says more than the status: E0000007 is "not found" whatever status
// carries it.
func classify(res *httpx.Response, err error) error {
	if res == nil {
		return err
	}
	ae, ok := parseError(res.Body)
	oe := &OktaError{Status: res.Status, err: err}
	if ok {
		oe.Code, oe.Summary, oe.Causes = ae.Code, ae.Summary, ae.causes()
	}
	if wa := res.Header.Get("WWW-Authenticate"); strings.Contains(wa, "insufficient_scope") {
		oe.Scope = authParam(wa, "scope")
		if oe.Code == "" {
			oe.Code = "insufficient_scope"
		}
	}
	if !ok && oe.Scope == "" && oe.Code == "" {
		return err
	}
	cls := gatehouse.Classify(err)
	if oe.Code == "E0000007" {
		cls = gatehouse.ClassNotFound
	}
	if cls == gatehouse.ClassNotFound {
		return gatehouse.NotFound(oe)
	}
	return &gatehouse.ConnectorError{Class: cls, RetryAfter: gatehouse.RetryAfterOf(err), Err: oe}
}

// authParam reads one parameter of a WWW-Authenticate challenge.
func authParam(h, name string) string {
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if i := strings.IndexByte(part, ' '); i >= 0 && !strings.Contains(part[:i], "=") {
			part = strings.TrimSpace(part[i+1:]) // the scheme before the first parameter
		}
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return clip(strings.Trim(strings.TrimSpace(v), `"`), 200)
		}
	}
	return ""
}

// paginate walks a list endpoint through Link rel="next", handing each
// page's body to each. It stops at max_pages and on a repeated cursor.
func (c *Connector) paginate(ctx context.Context, path string, q url.Values, each func([]byte) error) error {
	seen := map[string]bool{}
	next := path
	for page := 0; next != ""; page++ {
		if page >= c.maxPages {
			return gatehouse.Permanent(fmt.Errorf("list %s: more than %d pages; raise max_pages if the org is that large", path, c.maxPages))
		}
		res, err := c.do(ctx, http.MethodGet, next, q, nil)
		if err != nil {
			return err
		}
		if err := each(res.Body); err != nil {
			return gatehouse.Retryable(fmt.Errorf("list %s: %w", path, err))
		}
		link := httpx.NextLink(res.Header)
		if link == "" {
			return nil
		}
		cur := cursorOf(link)
		if seen[cur] {
			return gatehouse.Retryable(fmt.Errorf("list %s: the server repeated page cursor %q", path, clip(cur, 40)))
		}
		seen[cur] = true
		// The next link carries the whole query.
		next, q = link, nil
	}
	return nil
}

func userPath(id string) string { return "/api/v1/users/" + url.PathEscape(id) }

// getUser reads a user by id or login; nil when there is none.
func (c *Connector) getUser(ctx context.Context, idOrLogin string) (*user, error) {
	res, err := c.do(ctx, http.MethodGet, userPath(idOrLogin), nil, nil)
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil, nil
		}
		return nil, err
	}
	u, err := parseUser(res.Body)
	if err != nil {
		return nil, gatehouse.Retryable(err)
	}
	return u, nil
}

// loginFor is the login ref's account has or gets.
func (c *Connector) loginFor(ref gatehouse.AccountRef) string {
	return c.source(c.profile["login"], ref)
}

// source reads one account reference field by its settings name.
func (c *Connector) source(name string, ref gatehouse.AccountRef) string {
	if name == "user_name" && ref.UserName == "" {
		return ref.Email // Okta's login must be set: the email stands in
	}
	if v, ok := ref.Field(name); ok {
		return v
	}
	if k, ok := strings.CutPrefix(name, "attributes."); ok {
		return ref.Attributes[k]
	}
	return ""
}

func (c *Connector) matches(u *user, ref gatehouse.AccountRef) bool {
	if ref.AccountID != "" && u.ID == ref.AccountID {
		return true
	}
	if l := c.loginFor(ref); l != "" && strings.EqualFold(u.login(), l) {
		return true
	}
	return ref.Email != "" && (strings.EqualFold(u.login(), ref.Email) || strings.EqualFold(u.email(), ref.Email))
}

// findUser finds ref's account: by id, else by a search on login and email
// (case-insensitive; it includes deactivated users), else — since search is
// eventually consistent and misses a user created a moment ago — by a
// direct read of the login. nil when there is none.
func (c *Connector) findUser(ctx context.Context, ref gatehouse.AccountRef) (*user, error) {
	if ref.AccountID != "" {
		u, err := c.getUser(ctx, ref.AccountID)
		if err != nil || u != nil {
			return u, err
		}
	}
	login := c.loginFor(ref)
	var terms []string
	if login != "" {
		terms = append(terms, "profile.login eq "+quote(login))
	}
	if ref.Email != "" {
		terms = append(terms, "profile.email eq "+quote(ref.Email))
		if !strings.EqualFold(ref.Email, login) {
			terms = append(terms, "profile.login eq "+quote(ref.Email))
		}
	}
	if len(terms) == 0 {
		return nil, nil
	}
	var found *user
	err := c.paginate(ctx, "/api/v1/users", url.Values{"search": {strings.Join(terms, " or ")}, "limit": {strconv.Itoa(c.pageSize)}}, func(b []byte) error {
		us, err := parseUsers(b)
		if err != nil {
			return err
		}
		for _, u := range us {
			// Prefer the login match over an email match of another user.
			if found == nil || (login != "" && strings.EqualFold(u.login(), login)) {
				if c.matches(u, ref) {
					found = u
				}
			}
		}
		return nil
	})
	if err != nil || found != nil {
		return found, err
	}
	if login != "" && !strings.Contains(login, "/") {
		return c.getUser(ctx, login)
	}
	return nil, nil
}

// account converts u for the engine.
func (c *Connector) account(u *user) gatehouse.Account {
	a := gatehouse.Account{ID: u.ID, UserName: u.login(), Email: u.email(), EmployeeID: u.profileString("employeeNumber"),
		Active: u.enabled(), Attributes: map[string]string{"status": u.Status}}
	a.DisplayName = u.profileString("displayName")
	if a.DisplayName == "" {
		a.DisplayName = strings.TrimSpace(u.profileString("firstName") + " " + u.profileString("lastName"))
	}
	if u.LastLogin != nil {
		a.LastActivity = *u.LastLogin
	}
	for k := range c.profile {
		if v := u.profileString(k); v != "" {
			a.Attributes[k] = v
		}
	}
	return a
}

// createProfile builds the new user's profile from the mapping. Okta's
// default schema requires firstName and lastName, so missing names fall
// back to the login's local part and "-" rather than failing a hire.
func (c *Connector) createProfile(ref gatehouse.AccountRef) map[string]any {
	p := map[string]any{}
	for _, k := range sortedKeys(c.profile) {
		if v := c.source(c.profile[k], ref); v != "" {
			p[k] = v
		}
	}
	login, _ := p["login"].(string)
	if _, ok := p["email"]; !ok && strings.Contains(login, "@") {
		p["email"] = login
	}
	if _, ok := p["firstName"]; !ok {
		local, _, _ := strings.Cut(login, "@")
		p["firstName"] = clip(local, 50)
	}
	if _, ok := p["lastName"]; !ok {
		p["lastName"] = "-"
	}
	return p
}

// EnsureAccount finds or creates ref's account and makes it usable: a
// suspended account is unsuspended and a deactivated one activated (a
// rehire), a staged one activated when activate is on.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	login := c.loginFor(ref)
	if login == "" {
		return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("okta %s: account reference %s has no login", c.name, ref.IdentityKey))
	}
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("okta %s: find user %s: %w", c.name, login, err)
	}
	if u == nil {
		if u, err = c.createUser(ctx, ref, login); err != nil {
			return gatehouse.Account{}, fmt.Errorf("okta %s: create user %s: %w", c.name, login, err)
		}
	}
	switch {
	case u.Status == statusSuspended, u.Status == statusDeprovisioned, u.Status == statusStaged && c.activate:
		if err := c.enable(ctx, u); err != nil {
			return gatehouse.Account{}, fmt.Errorf("okta %s: reactivate user %s: %w", c.name, login, err)
		}
	}
	return c.account(u), nil
}

func (c *Connector) createUser(ctx context.Context, ref gatehouse.AccountRef, login string) (*user, error) {
	body := map[string]any{"profile": c.createProfile(ref)}
	res, err := c.do(ctx, http.MethodPost, "/api/v1/users", url.Values{"activate": {strconv.FormatBool(c.activate)}}, body)
	if err != nil {
		if codeOf(err) == "E0000001" && strings.Contains(strings.ToLower(err.Error()), "already exists") {
			// The login is taken although the search missed it (search is
			// eventually consistent): read it directly.
			if u, gerr := c.getUser(ctx, login); gerr == nil && u != nil {
				return u, nil
			}
		}
		return nil, err
	}
	u, err := parseUser(res.Body)
	if err != nil {
		return nil, gatehouse.Retryable(err)
	}
	return u, nil
}

func (c *Connector) lifecycle(ctx context.Context, u *user, op string, q url.Values) error {
	_, err := c.do(ctx, http.MethodPost, userPath(u.ID)+"/lifecycle/"+op, q, nil)
	return err
}

// enable makes u able to sign in again and updates u.Status.
func (c *Connector) enable(ctx context.Context, u *user) error {
	switch u.Status {
	case statusSuspended:
		if err := c.lifecycle(ctx, u, "unsuspend", nil); err != nil {
			return err
		}
		u.Status = statusActive
	case statusStaged, statusDeprovisioned:
		err := c.lifecycle(ctx, u, "activate", url.Values{"sendEmail": {strconv.FormatBool(c.sendMail)}})
		if err != nil && codeOf(err) != "E0000016" { // already active: done
			return err
		}
		// Without a password the user is PROVISIONED until they finish activation.
		fresh, gerr := c.getUser(ctx, u.ID)
		if gerr != nil {
			return gerr
		}
		if fresh != nil {
			*u = *fresh
		} else {
			u.Status = statusProvisioned
		}
	}
	return nil
}

// Disable stops new sign-ins at once: suspend (default; groups and app
// assignments are kept, unsuspend restores them) or deactivate. Okta only
// suspends ACTIVE users, so an account in another open status
// (PROVISIONED, LOCKED_OUT, PASSWORD_EXPIRED, RECOVERY) is deactivated.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("okta %s: disable %s: %w", c.name, c.loginFor(ref), err)
	}
	if u == nil || !u.enabled() {
		return nil
	}
	op := "deactivate"
	if c.s.Disable == "suspend" && u.Status == statusActive {
		op = "suspend"
	}
	if err := c.lifecycle(ctx, u, op, nil); err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil
		}
		return fmt.Errorf("okta %s: %s %s: %w", c.name, op, u.login(), err)
	}
	return nil
}

// Enable unsuspends or activates ref's account.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("okta %s: enable %s: %w", c.name, c.loginFor(ref), err)
	}
	if u == nil {
		return gatehouse.NotFound(fmt.Errorf("okta %s: enable: no account for %s", c.name, c.loginFor(ref)))
	}
	if err := c.enable(ctx, u); err != nil {
		return fmt.Errorf("okta %s: enable %s: %w", c.name, u.login(), err)
	}
	return nil
}

// Delete removes ref's account, only with delete: true on the app. Okta
// deletes only deactivated users, so an open account is deactivated first.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	if !c.del {
		return gatehouse.Permanent(fmt.Errorf("okta %s: delete: %w (set delete: true on the app to remove accounts; they are suspended otherwise)", c.name, gatehouse.ErrUnsupported))
	}
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("okta %s: delete %s: %w", c.name, c.loginFor(ref), err)
	}
	if u == nil {
		return nil
	}
	if u.Status != statusDeprovisioned {
		if err := c.lifecycle(ctx, u, "deactivate", nil); err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("okta %s: deactivate %s before delete: %w", c.name, u.login(), err)
		}
	}
	if _, err := c.do(ctx, http.MethodDelete, userPath(u.ID), nil, nil); err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return fmt.Errorf("okta %s: delete %s: %w", c.name, u.login(), err)
	}
	return nil
}

// RevokeSessions ends every Okta session of ref's account and revokes the
// OpenID Connect and OAuth tokens Okta issued to it.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("okta %s: revoke sessions of %s: %w", c.name, c.loginFor(ref), err)
	}
	if u == nil {
		return nil
	}
	_, err = c.do(ctx, http.MethodDelete, userPath(u.ID)+"/sessions", url.Values{"oauthTokens": {"true"}}, nil)
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return fmt.Errorf("okta %s: revoke sessions of %s: %w", c.name, u.login(), err)
	}
	return nil
}

// TransferOwnership is not an Okta concept.
func (c *Connector) TransferOwnership(context.Context, gatehouse.AccountRef, gatehouse.AccountRef) error {
	return gatehouse.Permanent(fmt.Errorf("okta %s: transfer ownership: %w", c.name, gatehouse.ErrUnsupported))
}
