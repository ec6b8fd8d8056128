// Package http is the declarative HTTP connector (type "http"): an app whose
// REST API is described entirely in YAML settings — base URL, auth, and for
// each operation the method, path, query, headers and JSON body as
// text/template, how to read results as expr expressions, which statuses mean
// success, "already done" or "not found", and how to page through lists. No
// Go code per app.
//
// Everything is compiled when the connector is built: templates are parsed
// and rendered once against a sample account (so a typo in a field name or a
// body that is not JSON is a config error with file:line:col), expressions
// are compiled through rules.CompileExpr. See docs/connectors-http.md.
package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"golang.org/x/time/rate"
)

func init() { connectors.Register("http", New) }

// Connector runs the operations an app's settings describe.
type Connector struct {
	name    string
	client  *httpx.Client
	limiter *rate.Limiter
	ops     map[gatehouse.Capability]*compiled
	find    *compiled
	create  *compiled
	// entByResource maps what the app reports (a team id, a role id) to the
	// configured entitlement name.
	entByResource map[string]string
}

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	errs := app.Settings.Decode(&s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	cp := &compiler{errs: &errs, pos: app.Settings.Pos(), key: key}
	if s.BaseURL == "" {
		errs.Add(cp.pos, key+".base_url", "base_url is required")
	}
	s.Auth.Validate(cp.pos, key+".auth", &errs)
	if s.RateLimit.PerSecond < 0 || s.RateLimit.Burst < 0 {
		errs.Add(cp.pos, key+".rate_limit", "rate_limit values must not be negative")
	}
	c := &Connector{name: app.Name, ops: map[gatehouse.Capability]*compiled{}, entByResource: map[string]string{}}
	o := s.Operations
	if e := o.EnsureAccount; e != nil {
		if e.Find == nil || e.Create == nil {
			errs.Add(cp.pos, key+".operations.ensure_account", "ensure_account needs both find and create, so that ensuring twice never creates twice")
		} else {
			c.find = cp.step(e.Find, "ensure_account.find", false)
			c.create = cp.step(e.Create, "ensure_account.create", false)
			if e.Find.ID.IsZero() {
				errs.Add(cp.pos, key+".operations.ensure_account.find.id", "find needs id (an expression yielding the account's id, e.g. body.users[0].id)")
			}
			c.ops[gatehouse.CapEnsureAccount] = c.create
		}
	}
	for capability, st := range map[gatehouse.Capability]*Step{
		gatehouse.CapDisable: o.Disable, gatehouse.CapEnable: o.Enable, gatehouse.CapDelete: o.Delete,
		gatehouse.CapGrant: o.Grant, gatehouse.CapRevoke: o.Revoke, gatehouse.CapRevokeSessions: o.RevokeSessions,
		gatehouse.CapTransferOwnership: o.TransferOwnership,
	} {
		if st != nil {
			c.ops[capability] = cp.step(st, string(capability), false)
		}
	}
	if o.ListAccounts != nil {
		c.ops[gatehouse.CapListAccounts] = cp.step(o.ListAccounts, "list_accounts", true)
	}
	if len(c.ops) == 0 {
		errs.Add(cp.pos, key+".operations", "no operations described; add at least one of ensure_account, disable, enable, delete, grant, revoke, revoke_sessions, list_accounts, transfer_ownership")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	for name, e := range app.Entitlements {
		if e != nil && e.Resource != "" {
			c.entByResource[e.Resource] = name
		}
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	var err error
	c.client, err = httpx.New(httpx.Options{BaseURL: s.BaseURL, App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout, Auth: s.Auth,
		Headers: s.Headers, Logger: deps.Logger.With().Str("connector", "http").Logger(), Debug: deps.Debug, Now: deps.Now})
	if err != nil {
		return nil, fmt.Errorf("http %s: %w", app.Name, err)
	}
	if s.RateLimit.PerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(s.RateLimit.PerSecond), max(1, s.RateLimit.Burst))
	}
	return c, nil
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities are the operations the settings describe.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.Capabilities{}
	for k := range c.ops {
		caps[k] = true
	}
	return caps
}

// Recording returns the redacted HTTP exchanges kept in debug mode.
func (c *Connector) Recording() []httpx.Exchange { return c.client.Recording() }

// result is what one call produced.
type result struct {
	status int
	done   bool // an already_done status
	body   any
	env    vars
}

// call renders and sends one step and classifies its outcome.
func (c *Connector) call(ctx context.Context, st *compiled, d tmplData) (*result, error) {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", st.name, ctx.Err())
			}
			return nil, gatehouse.Retryable(fmt.Errorf("%s: rate limiter: %w", st.name, err))
		}
	}
	path := ""
	var err error
	if d.Cursor != "" && isURL(d.Cursor) {
		path = d.Cursor // a next-page link; httpx refuses other hosts
	} else if path, err = render(st.path, escapedForPath(d)); err != nil {
		return nil, gatehouse.Permanent(fmt.Errorf("%s: render path: %w", st.name, err))
	}
	q := url.Values{}
	if !isURL(d.Cursor) {
		for k, t := range st.query {
			v, err := render(t, d)
			if err != nil {
				return nil, gatehouse.Permanent(fmt.Errorf("%s: render query %s: %w", st.name, k, err))
			}
			if v != "" { // an empty value means "leave the parameter out"
				q.Set(k, v)
			}
		}
	}
	hdr := map[string]string{}
	for k, t := range st.headers {
		v, err := render(t, d)
		if err != nil {
			return nil, gatehouse.Permanent(fmt.Errorf("%s: render header %s: %w", st.name, k, err))
		}
		hdr[k] = v
	}
	req := httpx.Request{Method: st.method, Path: path, Query: q, Header: hdr, AllowText: true}
	if st.body != nil {
		b, err := render(st.body, d)
		if err != nil {
			return nil, gatehouse.Permanent(fmt.Errorf("%s: render body: %w", st.name, err))
		}
		if strings.TrimSpace(b) != "" {
			if !json.Valid([]byte(b)) {
				return nil, gatehouse.Permanent(fmt.Errorf("%s: body template produced invalid JSON for this account; quote values with the json function", st.name))
			}
			req.Body = []byte(b)
		}
	}
	res, err := c.client.Do(ctx, req)
	status := 0
	if res != nil {
		status = res.Status
	}
	out := &result{status: status}
	if err != nil {
		switch {
		case res == nil:
			return nil, fmt.Errorf("%s: %w", st.name, err)
		case st.done[status]:
			out.done = true
		case st.notFound[status]:
			return nil, gatehouse.NotFound(fmt.Errorf("%s: %w", st.name, err))
		case st.success[status] && httpx.StatusOf(err) != 0 && (status < 200 || status > 299):
			// A status the app documents as success although it is not 2xx.
		default:
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
	} else {
		if len(st.success) > 0 && !st.success[status] && !st.done[status] {
			return nil, gatehouse.Permanent(fmt.Errorf("%s: unexpected status %d (success_statuses %v)", st.name, status, keys(st.success)))
		}
		out.done = st.done[status]
		out.body = normalize(res.JSON)
	}
	out.env = vars{Status: status, Headers: headerMap(res), Body: out.body, Ref: refMap(d.Ref, d.ID), Ent: entMap(d.Ent), Prev: d.Prev, Cursor: d.Cursor}
	return out, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "/")
}

func keys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func headerMap(res *httpx.Response) map[string]any {
	out := map[string]any{}
	if res == nil {
		return out
	}
	for k, v := range res.Header {
		if len(v) > 0 {
			out[strings.ToLower(k)] = v[0]
		}
	}
	return out
}

func refMap(r gatehouse.AccountRef, id string) map[string]any {
	attrs := map[string]any{}
	for k, v := range r.Attributes {
		attrs[k] = v
	}
	return map[string]any{"id": id, "account_id": r.AccountID, "identity_key": r.IdentityKey, "email": r.Email, "user_name": r.UserName,
		"name": r.Name, "given_name": r.GivenName, "family_name": r.FamilyName, "employee_id": r.EmployeeID, "title": r.Title,
		"department": r.Department, "manager": r.Manager, "attributes": attrs}
}

func entMap(e gatehouse.Entitlement) map[string]any {
	return map[string]any{"name": e.Name, "resource": e.Resource, "level": e.Level, "kind": string(e.Kind), "app": e.App}
}

// normalize turns json.Number into int or float64 so expressions compare
// numbers naturally.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}

// evalString runs an id-like expression; a missing value is "".
func evalString(p interface {
	EvalString(any) (string, error)
}, env vars) (string, error) {
	return p.EvalString(env)
}

// truthy interprets an expression result as a boolean, accepting "true"/"false".
func truthy(v any) (bool, error) {
	switch t := v.(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(t) {
		case "true", "1", "yes", "active", "enabled":
			return true, nil
		case "false", "0", "no", "", "inactive", "disabled", "deactivated", "suspended":
			return false, nil
		}
	case int:
		return t != 0, nil
	case float64:
		return t != 0, nil
	}
	return false, fmt.Errorf("want a boolean, got %T", v)
}

// badResult classifies an expression failure on a response: the server sent
// something else than described, which retrying may fix (a partial page) but
// usually is a broken answer; the executor escalates after its attempts.
func badResult(op, what string, err error) error {
	return gatehouse.Retryable(fmt.Errorf("%s: read %s from the response: %w", op, what, err))
}

// lookup runs the find step; ok is false when the account does not exist.
func (c *Connector) lookup(ctx context.Context, ref gatehouse.AccountRef) (id string, active bool, body any, ok bool, err error) {
	r, err := c.call(ctx, c.find, tmplData{Ref: ref, ID: ref.AccountID})
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return "", false, nil, false, nil
		}
		return "", false, nil, false, err
	}
	if r.done {
		return "", false, nil, false, nil
	}
	if c.find.found != nil {
		v, err := c.find.found.Eval(r.env)
		if err != nil {
			return "", false, nil, false, badResult("ensure_account.find", "found", err)
		}
		if found, err := truthy(v); err != nil {
			return "", false, nil, false, badResult("ensure_account.find", "found", err)
		} else if !found {
			return "", false, r.body, false, nil
		}
	}
	id, err = evalString(c.find.id, r.env)
	if err != nil {
		if c.find.found == nil {
			// Without a found expression, an id that cannot be read means
			// "no match" (e.g. indexing an empty list).
			return "", false, r.body, false, nil
		}
		return "", false, nil, false, badResult("ensure_account.find", "id", err)
	}
	if id == "" {
		return "", false, r.body, false, nil
	}
	active = true
	if c.find.active != nil {
		v, err := c.find.active.Eval(r.env)
		if err != nil {
			return "", false, nil, false, badResult("ensure_account.find", "active", err)
		}
		if active, err = truthy(v); err != nil {
			return "", false, nil, false, badResult("ensure_account.find", "active", err)
		}
	}
	return id, active, r.body, true, nil
}

// resolve returns the account id for ref: the known one, or the find
// step's. ok is false when the account does not exist.
func (c *Connector) resolve(ctx context.Context, ref gatehouse.AccountRef) (string, any, bool, error) {
	if ref.AccountID != "" || c.find == nil {
		return ref.AccountID, nil, true, nil
	}
	id, _, body, ok, err := c.lookup(ctx, ref)
	return id, body, ok, err
}

func (c *Connector) unsupported(cap gatehouse.Capability) error {
	return gatehouse.Permanent(fmt.Errorf("http %s: %s is not described in the settings: %w", c.name, cap, gatehouse.ErrUnsupported))
}

// EnsureAccount finds the account, creates it when missing, and enables it
// when found disabled (if enable is described).
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	if c.find == nil {
		return gatehouse.Account{}, c.unsupported(gatehouse.CapEnsureAccount)
	}
	acct := gatehouse.Account{UserName: ref.UserName, Email: ref.Email, DisplayName: ref.Name, EmployeeID: ref.EmployeeID, Active: true}
	id, active, prev, ok, err := c.lookup(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("http %s: find %s: %w", c.name, ref.Email, err)
	}
	if !ok {
		r, err := c.call(ctx, c.create, tmplData{Ref: ref, Prev: prev})
		if err != nil {
			return gatehouse.Account{}, fmt.Errorf("http %s: create %s: %w", c.name, ref.Email, err)
		}
		if !r.done && c.create.id != nil {
			id, err = evalString(c.create.id, r.env)
			if err != nil {
				return gatehouse.Account{}, badResult("ensure_account.create", "id", err)
			}
		}
		if id == "" {
			// Created without an id in the answer, or "already exists": read it back.
			if id, active, _, ok, err = c.lookup(ctx, ref); err != nil {
				return gatehouse.Account{}, fmt.Errorf("http %s: find %s after create: %w", c.name, ref.Email, err)
			} else if !ok {
				return gatehouse.Account{}, gatehouse.Retryable(fmt.Errorf("http %s: created %s but cannot find it yet", c.name, ref.Email))
			}
		} else {
			active = true
		}
	}
	if !active {
		en, has := c.ops[gatehouse.CapEnable]
		if !has {
			return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("http %s: account %s exists but is disabled, and no enable operation is described", c.name, ref.Email))
		}
		if _, err := c.call(ctx, en, tmplData{Ref: ref, ID: id}); err != nil {
			return gatehouse.Account{}, fmt.Errorf("http %s: re-enable %s: %w", c.name, ref.Email, err)
		}
	}
	acct.ID = id
	return acct, nil
}

// simple runs a single-call operation on ref's account. gone says whether a
// missing account counts as done (disable, delete, revoke…).
func (c *Connector) simple(ctx context.Context, capability gatehouse.Capability, ref gatehouse.AccountRef, ent gatehouse.Entitlement, gone bool) error {
	st, has := c.ops[capability]
	if !has {
		return c.unsupported(capability)
	}
	id, prev, ok, err := c.resolve(ctx, ref)
	if err != nil {
		return fmt.Errorf("http %s: %s %s: find account: %w", c.name, capability, ref.Email, err)
	}
	if !ok {
		if gone {
			return nil
		}
		return gatehouse.NotFound(fmt.Errorf("http %s: %s: no account for %s", c.name, capability, ref.Email))
	}
	_, err = c.call(ctx, st, tmplData{Ref: ref, ID: id, Ent: ent, Prev: prev})
	if err != nil {
		if gone && gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil
		}
		return fmt.Errorf("http %s: %s %s: %w", c.name, capability, ref.Email, err)
	}
	return nil
}

// Disable runs the disable operation; a missing account counts as done.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.simple(ctx, gatehouse.CapDisable, ref, gatehouse.Entitlement{}, true)
}

// Enable runs the enable operation.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.simple(ctx, gatehouse.CapEnable, ref, gatehouse.Entitlement{}, false)
}

// Delete runs the delete operation; a missing account counts as done.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.simple(ctx, gatehouse.CapDelete, ref, gatehouse.Entitlement{}, true)
}

// Grant runs the grant operation.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.simple(ctx, gatehouse.CapGrant, ref, ent, false)
}

// Revoke runs the revoke operation; a missing account counts as done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.simple(ctx, gatehouse.CapRevoke, ref, ent, true)
}

// RevokeSessions runs the revoke_sessions operation; a missing account counts as done.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.simple(ctx, gatehouse.CapRevokeSessions, ref, gatehouse.Entitlement{}, true)
}

// TransferOwnership runs the transfer_ownership operation with both accounts.
func (c *Connector) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	st, has := c.ops[gatehouse.CapTransferOwnership]
	if !has {
		return c.unsupported(gatehouse.CapTransferOwnership)
	}
	fromID, _, ok, err := c.resolve(ctx, from)
	if err != nil || !ok {
		if err == nil {
			return nil // nothing owned by an account that does not exist
		}
		return fmt.Errorf("http %s: transfer from %s: %w", c.name, from.Email, err)
	}
	toID, _, ok, err := c.resolve(ctx, to)
	if err != nil {
		return fmt.Errorf("http %s: transfer to %s: %w", c.name, to.Email, err)
	}
	if !ok {
		return gatehouse.NotFound(fmt.Errorf("http %s: transfer: no account for recipient %s", c.name, to.Email))
	}
	if _, err := c.call(ctx, st, tmplData{Ref: from, ID: fromID, From: from, To: to, FromID: fromID, ToID: toID}); err != nil {
		return fmt.Errorf("http %s: transfer %s to %s: %w", c.name, from.Email, to.Email, err)
	}
	return nil
}

// ListAccounts pages through list_accounts.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	st, has := c.ops[gatehouse.CapListAccounts]
	if !has {
		return nil, c.unsupported(gatehouse.CapListAccounts)
	}
	var out []gatehouse.Account
	seenCursor := map[string]bool{}
	seenID := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page >= st.maxPages {
			return nil, gatehouse.Permanent(fmt.Errorf("http %s: list_accounts: more than %d pages; raise max_pages if the app is that large", c.name, st.maxPages))
		}
		r, err := c.call(ctx, st, tmplData{Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("http %s: list accounts: %w", c.name, err)
		}
		accts, err := c.items(st, r.env)
		if err != nil {
			return nil, err
		}
		for _, a := range accts {
			if !seenID[a.ID] {
				seenID[a.ID] = true
				out = append(out, a)
			}
		}
		if st.next == nil || len(accts) == 0 {
			return out, nil
		}
		next, err := evalString(st.next, r.env)
		if err != nil {
			return nil, badResult("list_accounts", "next", err)
		}
		if next == "" {
			return out, nil
		}
		if seenCursor[next] {
			// The server hands out the same page again: stop instead of looping.
			return out, nil
		}
		seenCursor[next] = true
		cursor = next
	}
}

// items reads one page's accounts. It never panics on hostile bodies.
func (c *Connector) items(st *compiled, env vars) ([]gatehouse.Account, error) {
	v, err := st.items.Eval(env)
	if err != nil {
		return nil, badResult("list_accounts", "items", err)
	}
	if v == nil {
		return nil, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, badResult("list_accounts", "items", fmt.Errorf("want a list, got %T", v))
	}
	out := make([]gatehouse.Account, 0, rv.Len())
	for i := 0; i < rv.Len(); i++ {
		ienv := env
		ienv.Item = rv.Index(i).Interface()
		a, err := c.readItem(st, ienv)
		if err != nil {
			return nil, badResult("list_accounts", fmt.Sprintf("item %d", i), err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (c *Connector) readItem(st *compiled, env vars) (gatehouse.Account, error) {
	a := gatehouse.Account{Active: true}
	str := func(k string, dst *string) error {
		if p := st.fields[k]; p != nil {
			s, err := p.EvalString(env)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			*dst = s
		}
		return nil
	}
	for k, dst := range map[string]*string{"id": &a.ID, "user_name": &a.UserName, "email": &a.Email, "display_name": &a.DisplayName, "employee_id": &a.EmployeeID} {
		if err := str(k, dst); err != nil {
			return a, err
		}
	}
	if a.ID == "" {
		return a, errors.New("item has no id")
	}
	if p := st.fields["active"]; p != nil {
		v, err := p.Eval(env)
		if err != nil {
			return a, fmt.Errorf("active: %w", err)
		}
		if a.Active, err = truthy(v); err != nil {
			return a, fmt.Errorf("active: %w", err)
		}
	}
	if p := st.fields["last_activity"]; p != nil {
		v, err := p.Eval(env)
		if err != nil {
			return a, fmt.Errorf("last_activity: %w", err)
		}
		a.LastActivity = toTime(v)
	}
	if p := st.fields["entitlements"]; p != nil {
		v, err := p.Eval(env)
		if err != nil {
			return a, fmt.Errorf("entitlements: %w", err)
		}
		if v != nil {
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
				return a, fmt.Errorf("entitlements: want a list, got %T", v)
			}
			for i := 0; i < rv.Len(); i++ {
				s := fmt.Sprint(rv.Index(i).Interface())
				if name, ok := c.entByResource[s]; ok {
					s = name
				}
				a.Entitlements = append(a.Entitlements, s)
			}
		}
	}
	return a, nil
}

func toTime(v any) time.Time {
	switch t := v.(type) {
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if tm, err := time.Parse(layout, t); err == nil {
				return tm.UTC()
			}
		}
	case int:
		if t > 1e11 {
			return time.UnixMilli(int64(t)).UTC()
		}
		if t > 0 {
			return time.Unix(int64(t), 0).UTC()
		}
	case float64:
		if t > 0 && t < 1e11 {
			return time.Unix(int64(t), 0).UTC()
		}
	case time.Time:
		return t.UTC()
	}
	return time.Time{}
}

// Check proves the base URL and credentials work without changing anything:
// it reads the first page of list_accounts, or runs the find step (when it
// is a GET) for an address that cannot exist.
func (c *Connector) Check(ctx context.Context) error {
	if st, ok := c.ops[gatehouse.CapListAccounts]; ok {
		r, err := c.call(ctx, st, tmplData{})
		if err != nil {
			return fmt.Errorf("http %s: check: %w", c.name, err)
		}
		if _, err := c.items(st, r.env); err != nil {
			return fmt.Errorf("http %s: check: %w", c.name, err)
		}
		return nil
	}
	if c.find != nil && c.find.method == "GET" {
		probe := gatehouse.AccountRef{Email: "gatehouse-check@invalid.example", UserName: "gatehouse-check@invalid.example"}
		if _, _, _, _, err := c.lookup(ctx, probe); err != nil {
			return fmt.Errorf("http %s: check: %w", c.name, err)
		}
		return nil
	}
	return fmt.Errorf("http %s: %w", c.name, connectors.ErrNoProbe)
}

var _ gatehouse.AccountReader = (*Connector)(nil)

// ReadAccount implements gatehouse.AccountReader through list_accounts: the
// spec has no single-account read, so the listing is walked and the account
// matched by id, else email, user name or employee id. A spec whose
// list_accounts does not read entitlements cannot prove a membership gone,
// so it answers ErrUnsupported and the engine's evidence says "not
// verified" rather than claim what it did not see.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	st, has := c.ops[gatehouse.CapListAccounts]
	if !has || st.fields["entitlements"] == nil {
		return gatehouse.Account{}, gatehouse.Permanent(fmt.Errorf("http %s: reading an account needs list_accounts with an entitlements field: %w", c.name, gatehouse.ErrUnsupported))
	}
	accts, err := c.ListAccounts(ctx)
	if err != nil {
		return gatehouse.Account{}, err
	}
	matchers := []func(a gatehouse.Account) bool{
		func(a gatehouse.Account) bool { return ref.AccountID != "" && a.ID == ref.AccountID },
		func(a gatehouse.Account) bool {
			return ref.Email != "" && (strings.EqualFold(a.Email, ref.Email) || strings.EqualFold(a.UserName, ref.Email))
		},
		func(a gatehouse.Account) bool {
			return ref.UserName != "" && strings.EqualFold(a.UserName, ref.UserName)
		},
		func(a gatehouse.Account) bool { return ref.EmployeeID != "" && a.EmployeeID == ref.EmployeeID },
	}
	for _, m := range matchers {
		for _, a := range accts {
			if m(a) {
				return a, nil
			}
		}
	}
	return gatehouse.Account{}, gatehouse.NotFound(fmt.Errorf("http %s: read account %s", c.name, ref.Email))
}
