// Package scim is the connector for apps that speak SCIM 2.0 (RFC 7643 and
// RFC 7644): accounts are SCIM Users, entitlements are Group memberships.
//
// Real servers differ from the RFCs and from each other, so the connector
// reads /ServiceProviderConfig once (PATCH, filter, ETag support, maxResults)
// and takes a dialect preset (settings.preset) for documented vendor quirks.
// Beyond that it is defensive: it verifies filter results client-side (some
// servers ignore filters or compare case-sensitively), treats 409 on create as
// "find the existing account", accepts 201 without Location and PATCH answered
// with 204, pages with guards against servers that ignore count or loop, and
// retries a write once after 412 Precondition Failed when ETags are in use.
package scim

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

func init() { connectors.Register("scim", New) }

// Settings are the scim connector's settings block.
type Settings struct {
	// BaseURL is the SCIM base, e.g. https://api.slack.com/scim/v2.
	BaseURL string `yaml:"base_url"`
	// GroupsBaseURL serves /Groups when it differs from BaseURL.
	GroupsBaseURL string `yaml:"groups_base_url"`
	// Preset selects a vendor dialect (see PresetNames); default generic.
	Preset  string            `yaml:"preset"`
	Auth    httpx.Auth        `yaml:"auth"`
	Headers map[string]string `yaml:"headers"`
	Timeout time.Duration     `yaml:"timeout"`
	// UserNameFrom picks the account reference field sent as userName:
	// user_name (default; the identity's email), email or employee_id.
	UserNameFrom string `yaml:"user_name_from"`
	// MatchExternalID also finds accounts by externalId = employee id.
	MatchExternalID bool `yaml:"match_external_id"`
	// Enterprise sends the enterprise extension (department, employeeNumber, manager).
	Enterprise bool `yaml:"enterprise_extension"`
	// PageSize is the count asked per list page (default 100, capped by maxResults).
	PageSize int `yaml:"page_size"`
	// MaxPages bounds a listing (default 1000 pages).
	MaxPages int `yaml:"max_pages"`
	// LastActivityAttribute names the attribute holding last activity
	// (e.g. "urn:ietf:params:scim:schemas:extension:acme:2.0:User:lastLogin");
	// default meta.lastModified.
	LastActivityAttribute string `yaml:"last_activity_attribute"`
	// Overrides of the preset's dialect.
	Groups       *bool  `yaml:"groups"`
	DisableVia   string `yaml:"disable_via"`   // patch, put, delete
	PatchOpCase  string `yaml:"patch_op_case"` // lower, title
	RemoveMember string `yaml:"remove_member"` // path, value
}

// Connector manages one SCIM app.
type Connector struct {
	name     string
	del      bool
	s        Settings
	d        dialect
	users    *httpx.Client
	groupsC  *httpx.Client
	log      zerolog.Logger
	pageSize int
	maxPages int
	// entByResource maps a group's display name (lower-cased) to the
	// configured entitlement name, to report memberships by entitlement.
	entByResource map[string]string

	mu       sync.Mutex
	spc      *spcInfo
	groupIDs map[string]string // lower(displayName) → id
}

type spcInfo struct {
	patch, filter, etag bool
	maxResults          int
}

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs := app.Settings.Decode(&s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if s.BaseURL == "" {
		errs.Add(pos, key+".base_url", "base_url is required (the SCIM base, e.g. https://api.example.com/scim/v2)")
	}
	if s.Preset == "" {
		s.Preset = "generic"
	}
	d, ok := presets[s.Preset]
	if !ok {
		errs.Add(pos, key+".preset", "unknown preset %q (known: %s)", s.Preset, strings.Join(PresetNames(), ", "))
	}
	if s.Groups != nil {
		d.groups = *s.Groups
	}
	check := func(v, field string, allowed ...string) string {
		if v == "" {
			return ""
		}
		for _, a := range allowed {
			if v == a {
				return v
			}
		}
		errs.Add(pos, key+"."+field, "%q is not one of %s", v, strings.Join(allowed, ", "))
		return ""
	}
	if v := check(s.DisableVia, "disable_via", "patch", "put", "delete"); v != "" {
		d.disable = v
	}
	if v := check(s.PatchOpCase, "patch_op_case", "lower", "title"); v != "" {
		d.opCase = v
	}
	if v := check(s.RemoveMember, "remove_member", "path", "value"); v != "" {
		d.removeMember = v
	}
	check(s.UserNameFrom, "user_name_from", "user_name", "email", "employee_id")
	if s.PageSize < 0 || s.PageSize > 1000 {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and 1000")
	}
	if s.MaxPages < 0 {
		errs.Add(pos, key+".max_pages", "max_pages must not be negative")
	}
	s.Auth.Validate(pos, key+".auth", &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	c := &Connector{name: app.Name, del: app.Delete, s: s, d: d, log: deps.Logger.With().Str("connector", "scim").Str("app", app.Name).Logger(),
		pageSize: s.PageSize, maxPages: s.MaxPages, entByResource: map[string]string{}, groupIDs: map[string]string{}}
	if c.pageSize == 0 {
		c.pageSize = 100
	}
	if c.maxPages == 0 {
		c.maxPages = 1000
	}
	for name, e := range app.Entitlements {
		if e == nil || e.Kind == gatehouse.EntAccount {
			continue
		}
		res := e.Resource
		if res == "" {
			res = name
		}
		c.entByResource[strings.ToLower(res)] = name
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	headers := map[string]string{"Accept": "application/scim+json, application/json"}
	for k, v := range s.Headers {
		headers[k] = v
	}
	opts := httpx.Options{BaseURL: s.BaseURL, App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout, Auth: s.Auth,
		Headers: headers, Logger: deps.Logger, Debug: deps.Debug, Now: deps.Now}
	var err error
	if c.users, err = httpx.New(opts); err != nil {
		return nil, fmt.Errorf("scim %s: %w", app.Name, err)
	}
	c.groupsC = c.users
	if s.GroupsBaseURL != "" {
		opts.BaseURL = s.GroupsBaseURL
		if c.groupsC, err = httpx.New(opts); err != nil {
			return nil, fmt.Errorf("scim %s: groups: %w", app.Name, err)
		}
	}
	return c, nil
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities lists what the dialect allows.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapListAccounts)
	if c.del && !c.d.noDelete {
		caps[gatehouse.CapDelete] = true
	}
	if c.d.canEnable {
		caps[gatehouse.CapEnable] = true
	}
	if c.d.groups {
		caps[gatehouse.CapGrant] = true
		caps[gatehouse.CapRevoke] = true
	}
	return caps
}

// Recording returns the redacted HTTP exchanges kept in debug mode.
func (c *Connector) Recording() []httpx.Exchange { return c.users.Recording() }

func (c *Connector) op(s string) string {
	if c.d.opCase == "title" {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func (c *Connector) do(ctx context.Context, cl *httpx.Client, method, path string, q url.Values, body any, hdr map[string]string) (*httpx.Response, error) {
	h := map[string]string{}
	if body != nil {
		h["Content-Type"] = c.d.contentType
	}
	for k, v := range hdr {
		h[k] = v
	}
	return cl.Do(ctx, httpx.Request{Method: method, Path: path, Query: q, Body: body, Header: h})
}

// serviceConfig reads /ServiceProviderConfig once. A server without one (404,
// 501) is assumed to do what the RFC requires: PATCH and filters.
func (c *Connector) serviceConfig(ctx context.Context) (spcInfo, error) {
	c.mu.Lock()
	if c.spc != nil {
		defer c.mu.Unlock()
		return *c.spc, nil
	}
	c.mu.Unlock()
	info := spcInfo{patch: true, filter: true}
	res, err := c.do(ctx, c.users, http.MethodGet, c.d.spcPath, nil, nil, nil)
	switch {
	case err == nil:
		var raw struct {
			Patch  struct{ Supported flexBool } `json:"patch"`
			Filter struct {
				Supported  flexBool
				MaxResults flexInt `json:"maxResults"`
			} `json:"filter"`
			Etag struct{ Supported flexBool } `json:"etag"`
		}
		if jerr := jsonUnmarshal(res.Body, &raw); jerr == nil {
			info.patch = !raw.Patch.Supported.Set || raw.Patch.Supported.V
			info.filter = !raw.Filter.Supported.Set || raw.Filter.Supported.V
			info.etag = raw.Etag.Supported.V
			info.maxResults = int(raw.Filter.MaxResults)
		} else {
			c.log.Warn().Err(jerr).Msg("unreadable ServiceProviderConfig; assuming RFC defaults")
		}
	case gatehouse.Classify(err) == gatehouse.ClassNotFound || httpx.StatusOf(err) == http.StatusNotImplemented ||
		httpx.StatusOf(err) == http.StatusForbidden:
		// Some servers do not serve it, or not to a provisioning token; a
		// real credential problem shows on the next request anyway.
		c.log.Debug().Err(err).Msg("no ServiceProviderConfig; assuming RFC defaults")
	default:
		return spcInfo{}, fmt.Errorf("read ServiceProviderConfig: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spc = &info
	return info, nil
}

func (c *Connector) userNameFor(ref gatehouse.AccountRef) string {
	switch c.s.UserNameFrom {
	case "email":
		return ref.Email
	case "employee_id":
		return ref.EmployeeID
	}
	if ref.UserName != "" {
		return ref.UserName
	}
	return ref.Email
}

func userPath(id string) string  { return "/Users/" + url.PathEscape(id) }
func groupPath(id string) string { return "/Groups/" + url.PathEscape(id) }

// getUser reads a user by id; nil when it does not exist.
func (c *Connector) getUser(ctx context.Context, id string) (*user, error) {
	res, err := c.do(ctx, c.users, http.MethodGet, userPath(id), nil, nil, nil)
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
	if u.Meta.Version == "" {
		u.Meta.Version = res.Header.Get("ETag")
	}
	return u, nil
}

// matchRef reports whether u is the account ref describes.
func (c *Connector) matchRef(u *user, ref gatehouse.AccountRef) bool {
	if ref.AccountID != "" && string(u.ID) == ref.AccountID {
		return true
	}
	if un := c.userNameFor(ref); un != "" && strings.EqualFold(u.UserName, un) {
		return true
	}
	if c.s.MatchExternalID && ref.EmployeeID != "" && u.ExternalID == ref.EmployeeID {
		return true
	}
	if c.d.lookupEmail && ref.Email != "" && (u.hasEmail(ref.Email) || strings.EqualFold(u.UserName, ref.Email)) {
		return true
	}
	return false
}

// findUser finds ref's account: by id, then by filters on its natural keys,
// verifying every candidate because some servers ignore or mis-apply filters.
// With thorough set (after a 409 on create) it also lists every user, for
// servers whose filters compare case-sensitively or do not work at all.
func (c *Connector) findUser(ctx context.Context, ref gatehouse.AccountRef, thorough bool) (*user, error) {
	if ref.AccountID != "" {
		u, err := c.getUser(ctx, ref.AccountID)
		if err != nil || u != nil {
			return u, err
		}
	}
	spc, err := c.serviceConfig(ctx)
	if err != nil {
		return nil, err
	}
	var filters []string
	if c.s.MatchExternalID && ref.EmployeeID != "" {
		filters = append(filters, "externalId eq "+filterValue(ref.EmployeeID))
	}
	if un := c.userNameFor(ref); un != "" {
		filters = append(filters, "userName eq "+filterValue(un))
		if lower := strings.ToLower(un); lower != un {
			filters = append(filters, "userName eq "+filterValue(lower))
		}
	}
	if c.d.lookupEmail && ref.Email != "" {
		filters = append(filters, "emails.value eq "+filterValue(ref.Email))
	}
	if spc.filter {
		for _, f := range filters {
			users, err := c.listUsers(ctx, f)
			if err != nil {
				if httpx.StatusOf(err) == http.StatusBadRequest || httpx.StatusOf(err) == http.StatusNotImplemented {
					// This server cannot evaluate that filter; try the next
					// and fall back to a scan.
					thorough = true
					continue
				}
				return nil, err
			}
			for _, u := range users {
				if c.matchRef(u, ref) {
					return u, nil
				}
			}
		}
	}
	if !spc.filter || thorough {
		users, err := c.listUsers(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if c.matchRef(u, ref) {
				return u, nil
			}
		}
	}
	return nil, nil
}

func (c *Connector) listUsers(ctx context.Context, filter string) ([]*user, error) {
	var out []*user
	err := c.paginate(ctx, c.users, "/Users", filter, func(raw []byte) error {
		u, err := parseUser(raw)
		if err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// paginate walks a list endpoint (RFC 7644 section 3.4.2.4), guarding
// against servers that ignore count (we advance by what we got), ignore
// startIndex (a page of only already-seen ids ends the walk) or never stop
// (max_pages).
func (c *Connector) paginate(ctx context.Context, cl *httpx.Client, path, filter string, each func([]byte) error) error {
	spc, err := c.serviceConfig(ctx)
	if err != nil {
		return err
	}
	count := c.pageSize
	if spc.maxResults > 0 && spc.maxResults < count {
		count = spc.maxResults
	}
	seen := map[string]bool{}
	start := 1
	for page := 0; ; page++ {
		if page >= c.maxPages {
			return gatehouse.Permanent(fmt.Errorf("list %s: more than %d pages; raise max_pages if the app is that large", path, c.maxPages))
		}
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(count)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		res, err := c.do(ctx, cl, http.MethodGet, path, q, nil, nil)
		if err != nil {
			if filter != "" && gatehouse.Classify(err) == gatehouse.ClassNotFound {
				return nil // some servers answer an empty search with 404
			}
			return err
		}
		lr, err := parseListResponse(res.Body)
		if err != nil {
			return gatehouse.Retryable(fmt.Errorf("list %s: %w", path, err))
		}
		fresh := 0
		for _, r := range lr.Resources {
			var id struct {
				ID flexString `json:"id"`
			}
			if err := jsonUnmarshal(r, &id); err != nil || id.ID == "" {
				return gatehouse.Retryable(fmt.Errorf("list %s: resource without id", path))
			}
			if seen[string(id.ID)] {
				continue
			}
			seen[string(id.ID)] = true
			fresh++
			if err := each(r); err != nil {
				return gatehouse.Retryable(fmt.Errorf("list %s: %w", path, err))
			}
		}
		n := len(lr.Resources)
		total := int(lr.TotalResults)
		switch {
		case n == 0, fresh == 0:
			return nil
		case total > 0 && start+n > total:
			return nil
		case total == 0 && n < count:
			return nil
		}
		start += n
	}
}

func (c *Connector) account(u *user, groups map[string][]string) gatehouse.Account {
	a := gatehouse.Account{ID: string(u.ID), UserName: u.UserName, Email: u.email(), DisplayName: u.DisplayName,
		EmployeeID: u.ExternalID, Active: u.active()}
	if a.Email == "" && strings.Contains(u.UserName, "@") {
		a.Email = u.UserName
	}
	if c.s.LastActivityAttribute != "" {
		a.LastActivity = parseTime(attrString(u.raw, c.s.LastActivityAttribute))
	} else {
		a.LastActivity = parseTime(u.Meta.LastModified)
	}
	names := groups[string(u.ID)]
	if names == nil {
		for _, g := range u.Groups {
			names = append(names, g.Display)
		}
	}
	for _, n := range names {
		if ent, ok := c.entByResource[strings.ToLower(n)]; ok {
			a.Entitlements = append(a.Entitlements, ent)
		} else if n != "" {
			a.Entitlements = append(a.Entitlements, n)
		}
	}
	return a
}

// EnsureAccount finds or creates ref's account and makes it active.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	userName := c.userNameFor(ref)
	if userName == "" {
		return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("scim %s: account reference %s has no user name", c.name, ref.IdentityKey))
	}
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("scim %s: find user %s: %w", c.name, userName, err)
	}
	if u == nil {
		if u, err = c.createUser(ctx, ref, userName); err != nil {
			return gatehouse.Account{}, fmt.Errorf("scim %s: create user %s: %w", c.name, userName, err)
		}
	}
	if !u.active() {
		if err := c.setActive(ctx, u, true); err != nil {
			return gatehouse.Account{}, fmt.Errorf("scim %s: reactivate user %s: %w", c.name, userName, err)
		}
		u.Active = flexBool{V: true, Set: true}
	}
	return c.account(u, nil), nil
}

func (c *Connector) createUser(ctx context.Context, ref gatehouse.AccountRef, userName string) (*user, error) {
	body := map[string]any{
		"schemas":  []string{schemaUser},
		"userName": userName,
		"active":   true,
	}
	name := map[string]any{}
	if ref.GivenName != "" {
		name["givenName"] = ref.GivenName
	}
	if ref.FamilyName != "" {
		name["familyName"] = ref.FamilyName
	}
	if ref.Name != "" {
		name["formatted"] = ref.Name
		body["displayName"] = ref.Name
	}
	if len(name) > 0 {
		body["name"] = name
	}
	if ref.Email != "" {
		body["emails"] = []map[string]any{{"value": ref.Email, "primary": true, "type": "work"}}
	}
	if ref.EmployeeID != "" {
		body["externalId"] = ref.EmployeeID
	}
	if ref.Title != "" {
		body["title"] = ref.Title
	}
	if c.s.Enterprise {
		ext := map[string]any{}
		if ref.Department != "" {
			ext["department"] = ref.Department
		}
		if ref.EmployeeID != "" {
			ext["employeeNumber"] = ref.EmployeeID
		}
		if ref.Manager != "" {
			// The manager attribute holds the manager's SCIM id; an unknown
			// manager is left out rather than failing the hire.
			if m, err := c.findUser(ctx, gatehouse.AccountRef{UserName: ref.Manager, Email: ref.Manager}, false); err == nil && m != nil {
				ext["manager"] = map[string]any{"value": string(m.ID)}
			}
		}
		body["schemas"] = []string{schemaUser, schemaEnterprise}
		body[schemaEnterprise] = ext
	}
	res, err := c.do(ctx, c.users, http.MethodPost, "/Users", nil, body, nil)
	if err != nil {
		if httpx.StatusOf(err) == http.StatusConflict || httpx.ScimTypeOf(err) == "uniqueness" {
			// It exists although our search missed it (a case-sensitive or
			// lagging filter): find it the slow way.
			u, ferr := c.findUser(ctx, ref, true)
			if ferr != nil {
				return nil, fmt.Errorf("%w; then: %w", err, ferr)
			}
			if u != nil {
				return u, nil
			}
		}
		return nil, err
	}
	if u, perr := parseUser(res.Body); perr == nil {
		return u, nil
	}
	// 201 without a body: read it back from Location, or search again.
	if loc := res.Header.Get("Location"); loc != "" {
		if i := strings.LastIndex(loc, "/Users/"); i >= 0 {
			if id, uerr := url.PathUnescape(loc[i+len("/Users/"):]); uerr == nil {
				if u, gerr := c.getUser(ctx, id); gerr == nil && u != nil {
					return u, nil
				}
			}
		}
	}
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, gatehouse.Retryable(errors.New("created, but the server does not return the new user yet"))
	}
	return u, nil
}

// setActive changes u's active flag the way the dialect and the server's
// ServiceProviderConfig allow.
func (c *Connector) setActive(ctx context.Context, u *user, active bool) error {
	if u.active() == active && u.Active.Set {
		return nil
	}
	if !active && c.d.disable == "delete" {
		_, err := c.do(ctx, c.users, http.MethodDelete, userPath(string(u.ID)), nil, nil, nil)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil
		}
		return err
	}
	spc, err := c.serviceConfig(ctx)
	if err != nil {
		return err
	}
	usePatch := spc.patch && c.d.disable != "put"
	for attempt := 0; ; attempt++ {
		var hdr map[string]string
		if spc.etag && u.Meta.Version != "" {
			hdr = map[string]string{"If-Match": u.Meta.Version}
		}
		if usePatch {
			body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []map[string]any{{"op": c.op("replace"), "path": "active", "value": active}}}
			_, err = c.do(ctx, c.users, http.MethodPatch, userPath(string(u.ID)), nil, body, hdr)
		} else {
			full := map[string]any{}
			for k, v := range u.raw {
				full[k] = v
			}
			delete(full, "meta")
			full["active"] = active
			_, err = c.do(ctx, c.users, http.MethodPut, userPath(string(u.ID)), nil, full, hdr)
		}
		if err == nil || attempt > 0 || httpx.StatusOf(err) != http.StatusPreconditionFailed {
			return err
		}
		// Someone changed the user since we read it: read again and retry once.
		fresh, gerr := c.getUser(ctx, string(u.ID))
		if gerr != nil {
			return gerr
		}
		if fresh == nil {
			return gatehouse.NotFound(fmt.Errorf("user %s vanished", u.ID))
		}
		*u = *fresh
		if u.active() == active && u.Active.Set {
			return nil
		}
	}
}

// Disable deactivates ref's account; a missing account counts as done.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return fmt.Errorf("scim %s: disable %s: %w", c.name, c.userNameFor(ref), err)
	}
	if u == nil {
		return nil
	}
	if err := c.setActive(ctx, u, false); err != nil {
		return fmt.Errorf("scim %s: disable %s: %w", c.name, u.UserName, err)
	}
	return nil
}

// Enable reactivates ref's account.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	if !c.d.canEnable {
		return c.unsupported(gatehouse.CapEnable)
	}
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return fmt.Errorf("scim %s: enable %s: %w", c.name, c.userNameFor(ref), err)
	}
	if u == nil {
		return gatehouse.NotFound(fmt.Errorf("scim %s: enable: no account for %s", c.name, c.userNameFor(ref)))
	}
	if err := c.setActive(ctx, u, true); err != nil {
		return fmt.Errorf("scim %s: enable %s: %w", c.name, u.UserName, err)
	}
	return nil
}

// Delete removes ref's account. It is a capability only when the app is
// configured with delete: true (and the server can delete at all; Slack's
// DELETE only deactivates): otherwise accounts are never destroyed, the
// planner disables them instead, and Delete reports unsupported rather than
// quietly disabling under a "deleted" audit entry.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	if !c.del || c.d.noDelete {
		return gatehouse.Permanent(fmt.Errorf("scim %s: delete: %w (set delete: true on the app to remove accounts; they are disabled otherwise)", c.name, gatehouse.ErrUnsupported))
	}
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return fmt.Errorf("scim %s: delete %s: %w", c.name, c.userNameFor(ref), err)
	}
	if u == nil {
		return nil
	}
	_, err = c.do(ctx, c.users, http.MethodDelete, userPath(string(u.ID)), nil, nil, nil)
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return fmt.Errorf("scim %s: delete %s: %w", c.name, u.UserName, err)
	}
	return nil
}

func (c *Connector) unsupported(cap gatehouse.Capability) error {
	return gatehouse.Permanent(fmt.Errorf("scim %s (preset %s): %s: %w", c.name, c.s.Preset, cap, gatehouse.ErrUnsupported))
}

// RevokeSessions is not part of SCIM.
func (c *Connector) RevokeSessions(context.Context, gatehouse.AccountRef) error {
	return c.unsupported(gatehouse.CapRevokeSessions)
}

// TransferOwnership is not part of SCIM.
func (c *Connector) TransferOwnership(context.Context, gatehouse.AccountRef, gatehouse.AccountRef) error {
	return c.unsupported(gatehouse.CapTransferOwnership)
}

// ListAccounts lists every user with its group memberships.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	users, err := c.listUsers(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("scim %s: list users: %w", c.name, err)
	}
	var memberships map[string][]string
	if c.d.groups {
		// Many servers omit the read-only "groups" attribute of users; read
		// memberships from the groups then.
		hasGroups := false
		for _, u := range users {
			if _, ok := u.raw["groups"]; ok {
				hasGroups = true
				break
			}
		}
		if !hasGroups {
			if memberships, err = c.memberships(ctx); err != nil {
				return nil, fmt.Errorf("scim %s: list groups: %w", c.name, err)
			}
			if memberships == nil {
				memberships = map[string][]string{}
			}
		}
	}
	out := make([]gatehouse.Account, 0, len(users))
	for _, u := range users {
		var ms map[string][]string
		if memberships != nil {
			ms = map[string][]string{string(u.ID): memberships[string(u.ID)]}
			if ms[string(u.ID)] == nil {
				ms[string(u.ID)] = []string{}
			}
		}
		out = append(out, c.account(u, ms))
	}
	return out, nil
}

func (c *Connector) memberships(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := c.paginate(ctx, c.groupsC, "/Groups", "", func(raw []byte) error {
		var g group
		if err := jsonUnmarshal(raw, &g); err != nil {
			return err
		}
		c.cacheGroup(g.DisplayName, string(g.ID))
		for _, m := range g.Members {
			out[string(m.Value)] = append(out[string(m.Value)], g.DisplayName)
		}
		return nil
	})
	return out, err
}

// Check proves the base URL and credentials work with one single-user list
// request, and that every configured group exists (a typo in an
// entitlement's resource would otherwise surface only on the first grant).
func (c *Connector) Check(ctx context.Context) error {
	res, err := c.do(ctx, c.users, http.MethodGet, "/Users", url.Values{"startIndex": {"1"}, "count": {"1"}}, nil, nil)
	if err != nil {
		return fmt.Errorf("scim %s: check: %w", c.name, err)
	}
	if _, err := parseListResponse(res.Body); err != nil {
		return gatehouse.Retryable(fmt.Errorf("scim %s: check: %w", c.name, err))
	}
	if !c.d.groups {
		return nil
	}
	var missing []string
	for res, name := range c.entByResource {
		id, err := c.resolveGroup(ctx, gatehouse.Entitlement{Name: name, Resource: res})
		if err != nil {
			return fmt.Errorf("scim %s: check group %s: %w", c.name, res, err)
		}
		if id == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return gatehouse.Permanent(fmt.Errorf("scim %s: check: no group in the app for entitlements %s", c.name, strings.Join(missing, ", ")))
	}
	return nil
}

var _ gatehouse.AccountReader = (*Connector)(nil)

// ReadAccount implements gatehouse.AccountReader: the user by id (GET
// /Users/{id}) or by its natural keys, with its memberships — from the
// user's own groups attribute when the server returns it, else from
// /Groups?filter=members[value eq "id"] (each answer checked, since some
// servers ignore filters), else, on servers that cannot filter on members,
// from every group — and the attributes Gatehouse sent (title, externalId
// and the enterprise extension's department, employeeNumber and manager).
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("scim %s: read user %s: %w", c.name, c.userNameFor(ref), err)
	}
	if u == nil {
		return gatehouse.Account{}, gatehouse.NotFound(fmt.Errorf("scim %s: user %s", c.name, c.userNameFor(ref)))
	}
	var groups map[string][]string
	if _, ok := u.raw["groups"]; c.d.groups && !ok {
		names, err := c.groupsOf(ctx, string(u.ID))
		if err != nil {
			return gatehouse.Account{}, fmt.Errorf("scim %s: read groups of %s: %w", c.name, u.ID, err)
		}
		groups = map[string][]string{string(u.ID): append([]string{}, names...)}
	}
	a := c.account(u, groups)
	a.Attributes = userAttributes(u)
	return a, nil
}

// groupsOf returns the display names of the groups uid is a member of.
func (c *Connector) groupsOf(ctx context.Context, uid string) ([]string, error) {
	spc, err := c.serviceConfig(ctx)
	if err != nil {
		return nil, err
	}
	if spc.filter {
		var out []string
		err := c.paginate(ctx, c.groupsC, "/Groups", "members[value eq "+filterValue(uid)+"]", func(raw []byte) error {
			var g group
			if err := jsonUnmarshal(raw, &g); err != nil {
				return err
			}
			c.cacheGroup(g.DisplayName, string(g.ID))
			// A server that left members out matched the filter; one that
			// lists them (or ignored the filter) is checked.
			if len(g.Members) == 0 || g.hasMember(uid) {
				out = append(out, g.DisplayName)
			}
			return nil
		})
		if err == nil {
			return out, nil
		}
		if st := httpx.StatusOf(err); st != http.StatusBadRequest && st != http.StatusNotImplemented && st != http.StatusForbidden {
			return nil, err
		}
	}
	all, err := c.memberships(ctx)
	if err != nil {
		return nil, err
	}
	return all[uid], nil
}

// userAttributes are the attributes of u that Gatehouse sets, as the
// server reports them back.
func userAttributes(u *user) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("userName", u.UserName)
	set("displayName", u.DisplayName)
	set("externalId", u.ExternalID)
	set("title", attrString(u.raw, "title"))
	for _, f := range []string{"department", "employeeNumber", "manager.value"} {
		set(schemaEnterprise+":"+f, attrString(u.raw, schemaEnterprise+":"+f))
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// DeactivationDropsEntitlements tells the engine whether a leaver's groups
// need explicit removal before Disable (the app's revoke_on_leave default):
// only dialects whose deactivation removes the account outright — Notion's
// SCIM API removes the workspace member, and with it its group memberships
// (https://notion.com/help/provision-users-and-groups-with-scim) — drop
// them. Everywhere else (RFC 7644 says nothing of memberships on
// active=false, and servers keep them) each group is removed first.
func (c *Connector) DeactivationDropsEntitlements() bool {
	return c.d.disable == "delete" && !c.d.canEnable
}
