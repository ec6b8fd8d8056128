// Package google is the Google Workspace connector (connector type google):
// accounts are Workspace users, entitlements of kind group are Google Groups
// memberships, and ownership transfer moves Drive and Calendar data with the
// Data Transfer API.
//
// It authenticates as a service account with domain-wide delegation,
// impersonating an admin (settings.subject): a JWT signed with the key
// (RS256) is exchanged at the key's token_uri for an access token, cached
// until it nearly expires. Every call goes through connectors/httpx, so
// answers are classified and credentials redacted the same way as for the
// other HTTP connectors; Google's error body (reasons rateLimitExceeded,
// insufficientPermissions, backendError…) refines the class.
//
// The connector is hand-written over the REST API instead of using
// google.golang.org/api: the dozen calls it makes are small, and the SDK's
// transport would bypass httpx's classification, redaction and recording.
// The SDK module still provides, in tests, the discovery documents the fake
// (googletest) validates every request and response against.
//
// Configuration (docs/connectors/google.md explains the service account,
// the delegated scopes and the subject's admin roles):
//
//	apps:
//	  google:
//	    title: Google Workspace
//	    connector: google
//	    owner: it@example.com
//	    idp: true
//	    settings:
//	      credentials_file: /etc/gatehouse/google-sa.json
//	      subject: gatehouse-admin@example.com
//	      customer: my_customer
//	      domain: example.com
//	      org_unit_path: /Staff
//	      transfer_poll: 2m
//	    entitlements:
//	      engineering:
//	        kind: group
//	        resource: engineering@example.com
//	        risk: medium
//	      all-staff:
//	        kind: group
//	        resource: all-staff
//	        risk: low
package google

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

func init() { connectors.Register("google", New) }

// Settings are the google connector's settings block.
type Settings struct {
	// Credentials is the service account's JSON key (credentials_file: PATH
	// or credentials: ${ENV}).
	Credentials config.Secret `yaml:"credentials"`
	// Subject is the admin user the service account impersonates.
	Subject string `yaml:"subject"`
	// Customer is the customer id (default my_customer, the subject's own).
	Customer string `yaml:"customer"`
	// Domain is the primary domain; group entitlements written without @
	// get it appended, and listings are restricted to it when Customer is
	// not set explicitly.
	Domain string `yaml:"domain"`
	// OrgUnitPath is where new users are created (default /).
	OrgUnitPath string `yaml:"org_unit_path"`
	// BaseURL overrides https://admin.googleapis.com (tests, proxies).
	BaseURL string `yaml:"base_url"`
	// TokenURL overrides the key's token_uri.
	TokenURL string        `yaml:"token_url"`
	Timeout  time.Duration `yaml:"timeout"`
	// PageSize is maxResults per list page (default 500, the maximum).
	PageSize int `yaml:"page_size"`
	// MaxPages bounds a listing (default 1000).
	MaxPages int `yaml:"max_pages"`
	// TransferPoll is how soon the engine asks again about a running Data
	// Transfer (default 2m).
	TransferPoll time.Duration `yaml:"transfer_poll"`
	// TransferCalendar also transfers Calendar data (default true).
	TransferCalendar *bool `yaml:"transfer_calendar"`
}

// DefaultBaseURL is Google's Admin SDK endpoint.
const DefaultBaseURL = "https://admin.googleapis.com"

const (
	dirPath = "admin/directory/v1/"
	dtPath  = "admin/datatransfer/v1/"
)

// Connector manages one Google Workspace.
type Connector struct {
	name     string
	del      bool
	s        Settings
	sa       *serviceAccount
	api      *httpx.Client
	tokens   *tokenSource
	log      zerolog.Logger
	pageSize int
	maxPages int
	poll     time.Duration
	// entByGroup maps a group email (lower-cased) to its entitlement name.
	entByGroup map[string]string

	mu   sync.Mutex
	apps []transferApp // resolved Data Transfer application ids
}

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs := app.Settings.Decode(&s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if !s.Credentials.IsSet() {
		errs.Add(pos, key+".credentials", "credentials (or credentials_file) is required: the service account's JSON key")
	}
	if s.Subject == "" || !strings.Contains(s.Subject, "@") {
		errs.Add(pos, key+".subject", "subject is required: the email of the admin user the service account impersonates")
	}
	for field, u := range map[string]string{"base_url": s.BaseURL, "token_url": s.TokenURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
			errs.Add(pos, key+"."+field, "%s %q is not an http(s) URL", field, u)
		}
	}
	if s.PageSize < 0 || s.PageSize > 500 {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and 500")
	}
	if s.MaxPages < 0 {
		errs.Add(pos, key+".max_pages", "max_pages must not be negative")
	}
	if s.TransferPoll < 0 {
		errs.Add(pos, key+".transfer_poll", "transfer_poll must not be negative")
	}
	if s.OrgUnitPath != "" && !strings.HasPrefix(s.OrgUnitPath, "/") {
		errs.Add(pos, key+".org_unit_path", "org_unit_path must start with / (e.g. /Staff)")
	}
	c := &Connector{name: app.Name, del: app.Delete, s: s, pageSize: s.PageSize, maxPages: s.MaxPages, poll: s.TransferPoll,
		entByGroup: map[string]string{}, log: deps.Logger.With().Str("connector", "google").Str("app", app.Name).Logger()}
	for name, e := range app.Entitlements {
		if e == nil || e.Kind == gatehouse.EntAccount {
			continue
		}
		if e.Kind != "" && e.Kind != gatehouse.EntGroup {
			errs.Add(e.Pos, "apps."+app.Name+".entitlements."+name+".kind", "the google connector grants group memberships only, not %s", e.Kind)
			continue
		}
		c.entByGroup[strings.ToLower(c.groupEmail(gatehouse.Entitlement{Name: name, Resource: e.Resource}))] = name
	}
	var unresolved error
	if s.Credentials.IsSet() {
		raw, err := s.Credentials.Value()
		switch {
		case errors.Is(err, config.ErrSecretUnresolved):
			// Credentials are filled in per environment: a missing key is
			// the caller's to report (a warning in check, an error in serve).
			unresolved = fmt.Errorf("google %s: service-account key: %w", app.Name, err)
		case err != nil:
			errs.Add(s.Credentials.Pos(), key+".credentials", "%v", err)
		default:
			if c.sa, err = parseServiceAccount([]byte(raw)); err != nil {
				errs.Add(s.Credentials.Pos(), key+".credentials", "%v", err)
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if unresolved != nil {
		return nil, unresolved
	}
	if c.pageSize == 0 {
		c.pageSize = 500
	}
	if c.maxPages == 0 {
		c.maxPages = 1000
	}
	if c.poll == 0 {
		c.poll = 2 * time.Minute
	}
	if c.s.Customer == "" {
		c.s.Customer = "my_customer"
	}
	if c.s.OrgUnitPath == "" {
		c.s.OrgUnitPath = "/"
	}
	base := s.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	tokenURL := s.TokenURL
	if tokenURL == "" {
		tokenURL = c.sa.TokenURI
	}
	if tokenURL == "" {
		tokenURL = "https://oauth2.googleapis.com/token"
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	opts := httpx.Options{BaseURL: base, App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout, Logger: deps.Logger, Debug: deps.Debug, Now: deps.Now}
	var err error
	if c.api, err = httpx.New(opts); err != nil {
		return nil, fmt.Errorf("google %s: %w", app.Name, err)
	}
	// The token client never records bodies: the form carries the signed
	// assertion, a credential for an hour.
	topts := opts
	topts.BaseURL, topts.Debug = tokenURL, false
	tc, err := httpx.New(topts)
	if err != nil {
		return nil, fmt.Errorf("google %s: token_url: %w", app.Name, err)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	c.tokens = &tokenSource{sa: c.sa, subject: s.Subject, tokenURL: tokenURL, http: tc, now: now, cache: map[string]cachedToken{}}
	return c, nil
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities lists what the connector does; delete only when the app is
// configured to delete on leave.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapEnable,
		gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapRevokeSessions, gatehouse.CapListAccounts, gatehouse.CapTransferOwnership)
	if c.del {
		caps[gatehouse.CapDelete] = true
	}
	return caps
}

// Recording returns the redacted exchanges kept in debug mode.
func (c *Connector) Recording() []httpx.Exchange { return c.api.Recording() }

// call sends one API request with a delegated access token and decodes a
// JSON answer into out (when non-nil).
func (c *Connector) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	return c.callScopes(ctx, Scopes, method, path, q, body, out)
}

func (c *Connector) callScopes(ctx context.Context, scopes []string, method, path string, q url.Values, body, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var resp *httpx.Response
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var tok string
		if tok, err = c.tokens.token(ctx, scopes); err != nil {
			return err
		}
		resp, err = c.api.Do(ctx, httpx.Request{Method: method, Path: path, Query: q, Body: body,
			Header: map[string]string{"Authorization": "Bearer " + tok}})
		if err != nil && resp != nil && resp.Status == http.StatusUnauthorized && attempt == 0 {
			// The token was revoked or expired early: renew once.
			c.tokens.invalidate(scopes)
			continue
		}
		break
	}
	if err != nil {
		return classify(method, "/"+path, resp, err)
	}
	if out != nil && len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return gatehouse.Retryable(fmt.Errorf("%s /%s: decode answer: %w", method, path, err))
		}
	}
	return nil
}

// user is the part of a Directory user the connector reads.
type user struct {
	ID            string `json:"id"`
	PrimaryEmail  string `json:"primaryEmail"`
	Suspended     bool   `json:"suspended"`
	OrgUnitPath   string `json:"orgUnitPath"`
	LastLoginTime string `json:"lastLoginTime"`
	Name          struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
		FullName   string `json:"fullName"`
	} `json:"name"`
	// organizations, relations and externalIds are typed "any" in the
	// discovery document; decode leniently so one odd entry cannot break a read.
	Organizations json.RawMessage `json:"organizations"`
	Relations     json.RawMessage `json:"relations"`
	ExternalIDs   json.RawMessage `json:"externalIds"`
}

// ParseUser decodes a Directory user, rejecting one without id or email.
func ParseUser(b []byte) (user, error) {
	var u user
	if err := json.Unmarshal(b, &u); err != nil {
		return user{}, fmt.Errorf("decode google user: %w", err)
	}
	if u.ID == "" || u.PrimaryEmail == "" {
		return user{}, errors.New("google user without id or primaryEmail")
	}
	return u, nil
}

func (u user) lastLogin() time.Time {
	t, err := time.Parse(time.RFC3339Nano, u.LastLoginTime)
	// The epoch is Google's "never logged in".
	if err != nil || t.Unix() <= 0 {
		return time.Time{}
	}
	return t
}

func (u user) attributes() map[string]string {
	attrs := map[string]string{}
	if u.OrgUnitPath != "" {
		attrs["orgUnitPath"] = u.OrgUnitPath
	}
	var orgs []struct {
		Title, Department string
		Primary           bool
	}
	if json.Unmarshal(u.Organizations, &orgs) == nil && len(orgs) > 0 {
		o := orgs[0]
		for _, x := range orgs {
			if x.Primary {
				o = x
				break
			}
		}
		if o.Title != "" {
			attrs["title"] = o.Title
		}
		if o.Department != "" {
			attrs["department"] = o.Department
		}
	}
	var rels []struct{ Value, Type string }
	if json.Unmarshal(u.Relations, &rels) == nil {
		for _, r := range rels {
			if r.Type == "manager" && r.Value != "" {
				attrs["manager"] = r.Value
			}
		}
	}
	return attrs
}

func (u user) employeeID() string {
	var ids []struct{ Value, Type string }
	if json.Unmarshal(u.ExternalIDs, &ids) == nil {
		for _, x := range ids {
			if x.Type == "organization" {
				return x.Value
			}
		}
	}
	return ""
}

func (u user) account() gatehouse.Account {
	name := u.Name.FullName
	if name == "" {
		name = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
	}
	return gatehouse.Account{ID: u.ID, UserName: u.PrimaryEmail, Email: u.PrimaryEmail, DisplayName: name,
		EmployeeID: u.employeeID(), Active: !u.Suspended, LastActivity: u.lastLogin(), Attributes: u.attributes()}
}

// userKeys are the keys ref can be found by: the id first, then the email.
func userKeys(ref gatehouse.AccountRef) []string {
	var keys []string
	for _, k := range []string{ref.AccountID, ref.Email, ref.UserName} {
		if k != "" && (k == ref.AccountID || strings.Contains(k, "@")) && !containsFold(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func userPath(key string) string { return dirPath + "users/" + url.PathEscape(key) }

// getUser finds ref's user by id, then by email. A user matched by id whose
// email is not ref's is still ref's (renames keep the id).
func (c *Connector) getUser(ctx context.Context, ref gatehouse.AccountRef) (user, error) {
	keys := userKeys(ref)
	if len(keys) == 0 {
		return user{}, gatehouse.Permanent(errors.New("account reference has neither an account id nor an email"))
	}
	var last error
	for _, k := range keys {
		var raw json.RawMessage
		err := c.call(ctx, "GET", userPath(k), nil, nil, &raw)
		if err == nil {
			u, perr := ParseUser(raw)
			if perr != nil {
				return user{}, gatehouse.Retryable(perr)
			}
			return u, nil
		}
		if gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return user{}, fmt.Errorf("get google user %s: %w", k, err)
		}
		last = err
	}
	return user{}, fmt.Errorf("google user %s: %w", keys[len(keys)-1], last)
}

// EnsureAccount creates the user (random password, change at next login)
// or un-suspends an existing one.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.getUser(ctx, ref)
	if err == nil {
		return c.unsuspend(ctx, u)
	}
	if gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return gatehouse.Account{}, err
	}
	if ref.Email == "" {
		return gatehouse.Account{}, gatehouse.Permanent(errors.New("create google user: the identity has no email"))
	}
	pw, err := randomPassword()
	if err != nil {
		return gatehouse.Account{}, gatehouse.Retryable(err)
	}
	given, family := ref.GivenName, ref.FamilyName
	if given == "" && family == "" {
		given, family, _ = strings.Cut(strings.TrimSpace(ref.Name), " ")
	}
	if given == "" {
		given, _, _ = strings.Cut(ref.Email, "@")
	}
	if family == "" {
		// Google requires both names; a single-word name is common.
		family = given
	}
	body := map[string]any{
		"primaryEmail": ref.Email, "name": map[string]string{"givenName": given, "familyName": family},
		"password": pw, "changePasswordAtNextLogin": true, "orgUnitPath": c.s.OrgUnitPath,
	}
	if ref.Title != "" || ref.Department != "" {
		body["organizations"] = []map[string]any{{"title": ref.Title, "department": ref.Department, "primary": true}}
	}
	if ref.Manager != "" {
		body["relations"] = []map[string]string{{"type": "manager", "value": ref.Manager}}
	}
	if ref.EmployeeID != "" {
		body["externalIds"] = []map[string]string{{"type": "organization", "value": ref.EmployeeID}}
	}
	var raw json.RawMessage
	err = c.call(ctx, "POST", dirPath+"users", nil, body, &raw)
	if isConflict(err) {
		// Created concurrently (or by a run that crashed before recording it).
		u, gerr := c.getUser(ctx, gatehouse.AccountRef{Email: ref.Email})
		if gerr != nil {
			return gatehouse.Account{}, gerr
		}
		return c.unsuspend(ctx, u)
	}
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("create google user %s: %w", ref.Email, err)
	}
	nu, err := ParseUser(raw)
	if err != nil {
		return gatehouse.Account{}, gatehouse.Retryable(err)
	}
	return nu.account(), nil
}

func (c *Connector) unsuspend(ctx context.Context, u user) (gatehouse.Account, error) {
	if u.Suspended {
		if err := c.setSuspended(ctx, u.ID, false); err != nil {
			return gatehouse.Account{}, err
		}
		u.Suspended = false
	}
	return u.account(), nil
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	// 32 characters of base64url plus a class mix for picky password policies.
	return base64.RawURLEncoding.EncodeToString(b) + "aA1!", nil
}

func (c *Connector) setSuspended(ctx context.Context, key string, suspended bool) error {
	err := c.call(ctx, "PATCH", userPath(key), nil, map[string]bool{"suspended": suspended}, nil)
	if err != nil {
		verb := "suspend"
		if !suspended {
			verb = "unsuspend"
		}
		return fmt.Errorf("%s google user %s: %w", verb, key, err)
	}
	return nil
}

// Disable suspends the user; a missing user is NotFound (done).
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.onUser(ctx, ref, func(key string) error { return c.setSuspended(ctx, key, true) })
}

// Enable lifts the suspension.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.onUser(ctx, ref, func(key string) error { return c.setSuspended(ctx, key, false) })
}

// Delete deletes the user (Google keeps it restorable for 20 days).
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	if !c.del {
		return fmt.Errorf("delete google user: %w (set delete: true on the app)", gatehouse.ErrUnsupported)
	}
	return c.onUser(ctx, ref, func(key string) error {
		if err := c.call(ctx, "DELETE", userPath(key), nil, nil, nil); err != nil {
			return fmt.Errorf("delete google user %s: %w", key, err)
		}
		return nil
	})
}

// onUser runs f with each of ref's keys until one is not NotFound.
func (c *Connector) onUser(ctx context.Context, ref gatehouse.AccountRef, f func(key string) error) error {
	keys := userKeys(ref)
	if len(keys) == 0 {
		return gatehouse.Permanent(errors.New("account reference has neither an account id nor an email"))
	}
	var err error
	for _, k := range keys {
		if err = f(k); err == nil || gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return err
		}
	}
	return err
}

// RevokeSessions signs the user out of every web and device session, revokes
// every OAuth token, deletes application-specific passwords and invalidates
// backup verification codes. Each part is idempotent.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.getUser(ctx, ref)
	if err != nil {
		return err
	}
	up := userPath(u.ID)
	if err := c.call(ctx, "POST", up+"/signOut", nil, nil, nil); err != nil {
		return fmt.Errorf("sign out google user %s: %w", u.PrimaryEmail, err)
	}
	var toks struct {
		Items []struct {
			ClientID string `json:"clientId"`
		} `json:"items"`
	}
	if err := c.call(ctx, "GET", up+"/tokens", nil, nil, &toks); err != nil {
		return fmt.Errorf("list oauth tokens of %s: %w", u.PrimaryEmail, err)
	}
	for _, t := range toks.Items {
		if t.ClientID == "" {
			continue
		}
		if err := c.call(ctx, "DELETE", up+"/tokens/"+url.PathEscape(t.ClientID), nil, nil, nil); err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("revoke oauth token of %s for client %s: %w", u.PrimaryEmail, t.ClientID, err)
		}
	}
	var asps struct {
		Items []struct {
			CodeID json.Number `json:"codeId"`
		} `json:"items"`
	}
	if err := c.call(ctx, "GET", up+"/asps", nil, nil, &asps); err != nil {
		return fmt.Errorf("list app passwords of %s: %w", u.PrimaryEmail, err)
	}
	for _, a := range asps.Items {
		if _, err := a.CodeID.Int64(); err != nil {
			continue
		}
		if err := c.call(ctx, "DELETE", up+"/asps/"+a.CodeID.String(), nil, nil, nil); err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("delete app password %s of %s: %w", a.CodeID, u.PrimaryEmail, err)
		}
	}
	if err := c.call(ctx, "POST", up+"/verificationCodes/invalidate", nil, nil, nil); err != nil {
		return fmt.Errorf("invalidate backup codes of %s: %w", u.PrimaryEmail, err)
	}
	return nil
}

// groupEmail is the group an entitlement names: its resource, else its
// name, with the domain appended when written without one.
func (c *Connector) groupEmail(e gatehouse.Entitlement) string {
	g := e.Resource
	if g == "" {
		g = e.Name
	}
	if !strings.Contains(g, "@") && c.s.Domain != "" {
		g += "@" + c.s.Domain
	}
	return g
}

func (c *Connector) checkEnt(e gatehouse.Entitlement) error {
	if e.Kind != "" && e.Kind != gatehouse.EntGroup {
		return gatehouse.Permanent(fmt.Errorf("google grants group memberships, not %s: %w", e.Kind, gatehouse.ErrUnsupported))
	}
	if c.groupEmail(e) == "" {
		return gatehouse.Permanent(errors.New("entitlement names no group"))
	}
	return nil
}

// memberKey is the user's email when known (no lookup), else its id.
func memberKey(ref gatehouse.AccountRef) string {
	if ref.Email != "" {
		return ref.Email
	}
	return ref.AccountID
}

// Grant adds the user to the group; already a member is success.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, e gatehouse.Entitlement) error {
	if err := c.checkEnt(e); err != nil {
		return err
	}
	g := c.groupEmail(e)
	mk := memberKey(ref)
	if mk == "" {
		return gatehouse.Permanent(errors.New("account reference has neither an account id nor an email"))
	}
	body := map[string]string{"email": mk, "role": "MEMBER"}
	if ref.Email == "" {
		body = map[string]string{"id": mk, "role": "MEMBER"}
	}
	err := c.call(ctx, "POST", dirPath+"groups/"+url.PathEscape(g)+"/members", nil, body, nil)
	switch {
	case err == nil, isConflict(err):
		return nil
	case gatehouse.Classify(err) == gatehouse.ClassNotFound:
		// The group or the user is missing: not "done" for a grant.
		return gatehouse.Permanent(fmt.Errorf("add %s to google group %s: %w", mk, g, err))
	}
	return fmt.Errorf("add %s to google group %s: %w", mk, g, err)
}

// Revoke removes the user from the group; not a member is done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, e gatehouse.Entitlement) error {
	if err := c.checkEnt(e); err != nil {
		return err
	}
	g := c.groupEmail(e)
	mk := memberKey(ref)
	if mk == "" {
		return gatehouse.Permanent(errors.New("account reference has neither an account id nor an email"))
	}
	err := c.call(ctx, "DELETE", dirPath+"groups/"+url.PathEscape(g)+"/members/"+url.PathEscape(mk), nil, nil, nil)
	if err == nil || gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil
	}
	return fmt.Errorf("remove %s from google group %s: %w", mk, g, err)
}

// pages calls a list endpoint until no nextPageToken, bounded by maxPages
// and guarded against a server that repeats a token.
func (c *Connector) pages(ctx context.Context, path string, q url.Values, each func(raw []byte) (next string, err error)) error {
	seen := map[string]bool{}
	tok := ""
	for page := 0; ; page++ {
		if page >= c.maxPages {
			return gatehouse.Permanent(fmt.Errorf("list /%s: more than %d pages (raise max_pages)", path, c.maxPages))
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		if tok != "" {
			pq.Set("pageToken", tok)
		}
		var raw json.RawMessage
		if err := c.call(ctx, "GET", path, pq, nil, &raw); err != nil {
			return err
		}
		next, err := each(raw)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if seen[next] {
			return gatehouse.Retryable(fmt.Errorf("list /%s: the server repeated page token", path))
		}
		seen[next] = true
		tok = next
	}
}

func (c *Connector) listQuery() url.Values {
	q := url.Values{"maxResults": {fmt.Sprint(c.pageSize)}}
	if c.s.Customer == "my_customer" && c.s.Domain != "" {
		q.Set("domain", c.s.Domain)
	} else {
		q.Set("customer", c.s.Customer)
	}
	return q
}

// ListAccounts lists every user (with last login) and the configured
// groups' members as entitlements.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	var out []gatehouse.Account
	byEmail := map[string]int{}
	err := c.pages(ctx, dirPath+"users", c.listQuery(), func(raw []byte) (string, error) {
		var p struct {
			Users         []json.RawMessage `json:"users"`
			NextPageToken string            `json:"nextPageToken"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", gatehouse.Retryable(fmt.Errorf("decode google user list: %w", err))
		}
		for _, r := range p.Users {
			u, err := ParseUser(r)
			if err != nil {
				c.log.Warn().Err(err).Msg("skipping a malformed google user")
				continue
			}
			byEmail[strings.ToLower(u.PrimaryEmail)] = len(out)
			out = append(out, u.account())
		}
		return p.NextPageToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list google users: %w", err)
	}
	for g, ent := range c.entByGroup {
		q := url.Values{"maxResults": {"200"}}
		err := c.pages(ctx, dirPath+"groups/"+url.PathEscape(g)+"/members", q, func(raw []byte) (string, error) {
			var p struct {
				Members []struct {
					Email string `json:"email"`
				} `json:"members"`
				NextPageToken string `json:"nextPageToken"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				return "", gatehouse.Retryable(fmt.Errorf("decode google member list: %w", err))
			}
			for _, m := range p.Members {
				if i, ok := byEmail[strings.ToLower(m.Email)]; ok {
					out[i].Entitlements = append(out[i].Entitlements, ent)
				}
			}
			return p.NextPageToken, nil
		})
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			c.log.Warn().Str("group", g).Str("entitlement", ent).Msg("configured google group does not exist")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list members of google group %s: %w", g, err)
		}
	}
	return out, nil
}

// ReadAccount re-reads the user, its groups and attributes.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.getUser(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, err
	}
	a := u.account()
	q := url.Values{"userKey": {u.ID}, "maxResults": {"200"}}
	err = c.pages(ctx, dirPath+"groups", q, func(raw []byte) (string, error) {
		var p struct {
			Groups []struct {
				Email string `json:"email"`
			} `json:"groups"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", gatehouse.Retryable(fmt.Errorf("decode google group list: %w", err))
		}
		for _, g := range p.Groups {
			if name, ok := c.entByGroup[strings.ToLower(g.Email)]; ok {
				a.Entitlements = append(a.Entitlements, name)
			} else if g.Email != "" {
				a.Entitlements = append(a.Entitlements, g.Email)
			}
		}
		return p.NextPageToken, nil
	})
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("list google groups of %s: %w", u.PrimaryEmail, err)
	}
	return a, nil
}

// Check proves the key, the delegation of each scope and the subject's
// right to read users. Scopes are tried one token each, because the token
// endpoint refuses a whole request (unauthorized_client) when any one scope
// is not delegated and never says which.
func (c *Connector) Check(ctx context.Context) error {
	var missing []string
	for _, sc := range Scopes {
		_, err := c.tokens.token(ctx, []string{sc})
		if err == nil {
			continue
		}
		var te *tokenError
		if errors.As(err, &te) && te.Code == "unauthorized_client" {
			missing = append(missing, sc)
			continue
		}
		return fmt.Errorf("google token for %s: %w", sc, err)
	}
	if len(missing) > 0 {
		return gatehouse.Permanent(fmt.Errorf("domain-wide delegation of client id %s is missing the scopes %s (Admin console → Security → API controls → Domain-wide delegation)",
			c.sa.ClientID, strings.Join(missing, ",")))
	}
	q := c.listQuery()
	q.Set("maxResults", "1")
	if err := c.callScopes(ctx, []string{ScopeUser}, "GET", dirPath+"users", q, nil, nil); err != nil {
		return fmt.Errorf("list google users as %s: %w", c.s.Subject, err)
	}
	// Proves the subject holds the Data Transfer privilege before a leaver needs it.
	if _, err := c.transferApps(ctx); err != nil {
		return fmt.Errorf("data transfer applications as %s: %w", c.s.Subject, err)
	}
	return nil
}
