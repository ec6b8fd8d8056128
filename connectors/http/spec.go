package http

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/rules"
)

// Settings describe an app's REST API declaratively.
type Settings struct {
	BaseURL string            `yaml:"base_url"`
	Auth    httpx.Auth        `yaml:"auth"`
	Headers map[string]string `yaml:"headers"`
	Timeout time.Duration     `yaml:"timeout"`
	// RateLimit paces requests client-side (the vendor's documented limit).
	RateLimit struct {
		PerSecond float64 `yaml:"per_second"`
		Burst     int     `yaml:"burst"`
	} `yaml:"rate_limit"`
	Operations Operations `yaml:"operations"`
}

// Operations maps each capability to its HTTP call(s). An operation left out
// is not a capability of the app.
type Operations struct {
	EnsureAccount     *Ensure `yaml:"ensure_account"`
	Disable           *Step   `yaml:"disable"`
	Enable            *Step   `yaml:"enable"`
	Delete            *Step   `yaml:"delete"`
	Grant             *Step   `yaml:"grant"`
	Revoke            *Step   `yaml:"revoke"`
	RevokeSessions    *Step   `yaml:"revoke_sessions"`
	ListAccounts      *Step   `yaml:"list_accounts"`
	TransferOwnership *Step   `yaml:"transfer_ownership"`
}

// Ensure finds the account and creates it when missing.
type Ensure struct {
	Find   *Step `yaml:"find"`
	Create *Step `yaml:"create"`
}

// Step is one HTTP call. Path, query, header and body values are
// text/template; found, id, active and the list fields are expr expressions
// over {status, headers, body, ref, ent, prev, cursor, item}.
type Step struct {
	Method  string                 `yaml:"method"`
	Path    config.Expr            `yaml:"path"`
	Query   map[string]config.Expr `yaml:"query"`
	Headers map[string]config.Expr `yaml:"headers"`
	Body    config.Expr            `yaml:"body"`

	SuccessStatuses     []int `yaml:"success_statuses"`
	AlreadyDoneStatuses []int `yaml:"already_done_statuses"`
	NotFoundStatuses    []int `yaml:"not_found_statuses"`

	// Found (bool) and ID (string) read a find or create result; Active (bool)
	// whether the found account is enabled.
	Found  config.Expr `yaml:"found"`
	ID     config.Expr `yaml:"id"`
	Active config.Expr `yaml:"active"`

	// List only: Items yields the page's accounts; Next the next page's URL
	// (absolute or /path) or cursor (exposed to templates as .Cursor), "" to
	// stop; Fields read each item (as `item`).
	Items    config.Expr `yaml:"items"`
	Next     config.Expr `yaml:"next"`
	Fields   Fields      `yaml:"fields"`
	MaxPages int         `yaml:"max_pages"`
}

// Fields read one listed account.
type Fields struct {
	ID           config.Expr `yaml:"id"`
	UserName     config.Expr `yaml:"user_name"`
	Email        config.Expr `yaml:"email"`
	DisplayName  config.Expr `yaml:"display_name"`
	EmployeeID   config.Expr `yaml:"employee_id"`
	Active       config.Expr `yaml:"active"`
	LastActivity config.Expr `yaml:"last_activity"`
	Entitlements config.Expr `yaml:"entitlements"`
}

// tmplData is what templates see. Field names are Go's, e.g. {{ .Ref.Email }}.
type tmplData struct {
	Ref    gatehouse.AccountRef
	ID     string // the account's id in the app (resolved by find when not known)
	Ent    gatehouse.Entitlement
	From   gatehouse.AccountRef
	To     gatehouse.AccountRef
	FromID string
	ToID   string
	Cursor string
	// Prev is the decoded body of the previous call of the same operation
	// (find before create, the lookup before disable…).
	Prev any
}

var sampleData = tmplData{
	Ref: gatehouse.AccountRef{IdentityKey: "E1", AccountID: "A1", Email: "ada@example.com", UserName: "ada@example.com", Name: "Ada Lovelace",
		GivenName: "Ada", FamilyName: "Lovelace", EmployeeID: "E1", Title: "Engineer", Department: "R&D", Manager: "boss@example.com", Attributes: map[string]string{}},
	ID: "A1", Ent: gatehouse.Entitlement{App: "app", Name: "eng", Kind: gatehouse.EntGroup, Resource: "R1", Level: "member"},
	From: gatehouse.AccountRef{AccountID: "A1", Email: "a@example.com"}, To: gatehouse.AccountRef{AccountID: "A2", Email: "b@example.com"},
	FromID: "A1", ToID: "A2", Cursor: "c1", Prev: map[string]any{},
}

var funcs = template.FuncMap{
	// json encodes a value as JSON (strings get quotes and escapes): use it
	// for every value inside a body template.
	"json": func(v any) (string, error) {
		b, err := httpx.JSONBody(v)
		return string(b), err
	},
	"path":  url.PathEscape,
	"query": url.QueryEscape,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"default": func(def, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
}

// vars is what expressions see. Body, prev and item are of type any, so the
// checker knows every name (a typo is a config error) while the decoded JSON
// inside stays dynamic.
type vars struct {
	Status  int            `expr:"status"`
	Headers map[string]any `expr:"headers"` // lower-cased names, first value
	Body    any            `expr:"body"`
	Ref     map[string]any `expr:"ref"`
	Ent     map[string]any `expr:"ent"`
	Prev    any            `expr:"prev"`
	Cursor  string         `expr:"cursor"`
	Item    any            `expr:"item"`
}

// compiled is a Step ready to run.
type compiled struct {
	name     string
	method   string
	path     *template.Template
	query    map[string]*template.Template
	headers  map[string]*template.Template
	body     *template.Template
	success  map[int]bool
	done     map[int]bool
	notFound map[int]bool

	found, id, active *rules.Program
	items, next       *rules.Program
	fields            map[string]*rules.Program
	maxPages          int
}

type compiler struct {
	errs *config.ErrorList
	pos  config.Pos // settings block, for values without their own position
	key  string
}

func (cp *compiler) where(e config.Expr) config.Pos {
	if e.Pos.Line != 0 {
		return e.Pos
	}
	return cp.pos
}

// tmpl parses a template and renders it once with sample data, so unknown
// fields (.Ref.Emial) and bad JSON bodies are reported at load with their
// position instead of failing a leaver's offboarding later.
func (cp *compiler) tmpl(e config.Expr, key string, isJSON bool) *template.Template {
	if e.IsZero() {
		return nil
	}
	t, err := template.New(key).Funcs(funcs).Option("missingkey=error").Parse(e.Source)
	if err != nil {
		cp.errs.Add(cp.where(e), key, "bad template: %v", err)
		return nil
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, sampleData); err != nil {
		cp.errs.Add(cp.where(e), key, "template fails on a sample account: %v", err)
		return nil
	}
	if isJSON && strings.TrimSpace(buf.String()) != "" && !json.Valid(buf.Bytes()) {
		cp.errs.Add(cp.where(e), key, "body template does not produce JSON for a sample account (quote values with the json function, e.g. {{ json .Ref.Email }}): %s", clip(buf.String(), 200))
		return nil
	}
	return t
}

func (cp *compiler) expr(e config.Expr, key string, kind rules.ResultKind) *rules.Program {
	if e.IsZero() {
		return nil
	}
	p, err := rules.CompileExpr(e.Source, vars{}, kind)
	if err != nil {
		cp.errs.Add(cp.where(e), key, "%v", err)
		return nil
	}
	return p
}

func statusSet(codes []int, key string, cp *compiler) map[int]bool {
	m := map[int]bool{}
	for _, c := range codes {
		if c < 100 || c > 599 {
			cp.errs.Add(cp.pos, key, "%d is not an HTTP status", c)
		}
		m[c] = true
	}
	return m
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// step compiles one Step; list enables the list-only fields.
func (cp *compiler) step(s *Step, name string, list bool) *compiled {
	key := cp.key + ".operations." + name
	c := &compiled{name: name, method: strings.ToUpper(s.Method), query: map[string]*template.Template{}, headers: map[string]*template.Template{}}
	if c.method == "" {
		c.method = "GET"
	}
	if !methods[c.method] {
		cp.errs.Add(cp.where(s.Path), key+".method", "method %q is not one of GET, POST, PUT, PATCH, DELETE", s.Method)
	}
	if s.Path.IsZero() {
		cp.errs.Add(cp.pos, key+".path", "path is required")
	}
	c.path = cp.tmpl(s.Path, key+".path", false)
	for _, k := range sortedKeys(s.Query) {
		c.query[k] = cp.tmpl(s.Query[k], key+".query."+k, false)
	}
	for _, k := range sortedKeys(s.Headers) {
		c.headers[k] = cp.tmpl(s.Headers[k], key+".headers."+k, false)
	}
	c.body = cp.tmpl(s.Body, key+".body", true)
	c.success = statusSet(s.SuccessStatuses, key+".success_statuses", cp)
	c.done = statusSet(s.AlreadyDoneStatuses, key+".already_done_statuses", cp)
	c.notFound = statusSet(s.NotFoundStatuses, key+".not_found_statuses", cp)
	c.found = cp.expr(s.Found, key+".found", rules.ResultAny)
	c.id = cp.expr(s.ID, key+".id", rules.ResultAny)
	c.active = cp.expr(s.Active, key+".active", rules.ResultAny)
	listOnly := map[string]config.Expr{"items": s.Items, "next": s.Next}
	if list {
		if s.Items.IsZero() {
			cp.errs.Add(cp.pos, key+".items", "list_accounts needs items (an expression yielding the page's accounts, e.g. body.users)")
		}
		c.items = cp.expr(s.Items, key+".items", rules.ResultAny)
		c.next = cp.expr(s.Next, key+".next", rules.ResultAny)
		c.fields = map[string]*rules.Program{}
		f := s.Fields
		for fk, fe := range map[string]config.Expr{"id": f.ID, "user_name": f.UserName, "email": f.Email, "display_name": f.DisplayName,
			"employee_id": f.EmployeeID, "active": f.Active, "last_activity": f.LastActivity, "entitlements": f.Entitlements} {
			if p := cp.expr(fe, key+".fields."+fk, rules.ResultAny); p != nil {
				c.fields[fk] = p
			}
		}
		if f.ID.IsZero() {
			cp.errs.Add(cp.pos, key+".fields.id", "list_accounts needs fields.id (e.g. item.id)")
		}
		c.maxPages = s.MaxPages
		if c.maxPages <= 0 {
			c.maxPages = 1000
		}
	} else {
		for k, e := range listOnly {
			if !e.IsZero() {
				cp.errs.Add(cp.where(e), key+"."+k, "%s only applies to list_accounts", k)
			}
		}
		if s.MaxPages != 0 || !s.Fields.ID.IsZero() {
			cp.errs.Add(cp.pos, key, "fields and max_pages only apply to list_accounts")
		}
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// escapedForPath returns d with every string a path template can reach
// path-escaped, so "{{ .Ref.Email }}" or an id with a slash cannot change the
// path's shape.
func escapedForPath(d tmplData) tmplData {
	e := url.PathEscape
	ref := func(r gatehouse.AccountRef) gatehouse.AccountRef {
		r.IdentityKey, r.AccountID, r.Email, r.UserName, r.Name = e(r.IdentityKey), e(r.AccountID), e(r.Email), e(r.UserName), e(r.Name)
		r.GivenName, r.FamilyName, r.EmployeeID, r.Title, r.Department, r.Manager = e(r.GivenName), e(r.FamilyName), e(r.EmployeeID), e(r.Title), e(r.Department), e(r.Manager)
		attrs := make(map[string]string, len(r.Attributes))
		for k, v := range r.Attributes {
			attrs[k] = e(v)
		}
		r.Attributes = attrs
		return r
	}
	d.Ref, d.From, d.To = ref(d.Ref), ref(d.From), ref(d.To)
	d.ID, d.FromID, d.ToID, d.Cursor = e(d.ID), e(d.FromID), e(d.ToID), e(d.Cursor)
	d.Ent.Name, d.Ent.Resource, d.Ent.Level, d.Ent.App = e(d.Ent.Name), e(d.Ent.Resource), e(d.Ent.Level), e(d.Ent.App)
	return d
}

func render(t *template.Template, d tmplData) (string, error) {
	if t == nil {
		return "", nil
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", err
	}
	return buf.String(), nil
}
