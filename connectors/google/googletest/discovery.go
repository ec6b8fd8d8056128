package googletest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The module whose discovery documents describe the APIs the fake serves.
// It is in go.mod (the connector's tests import its googleapi package), so
// `go list -m` finds it in the module cache at the pinned version.
const apiModule = "google.golang.org/api"

// Discovery is one parsed Google API discovery document, able to validate
// requests and responses against its methods and schemas.
type Discovery struct {
	ID          string // e.g. admin:directory_v1
	Name        string
	ServicePath string // relative to the root URL, e.g. "" (paths carry admin/directory/v1)
	params      map[string]*Param
	schemas     map[string]*Schema
	methods     []*Method
}

// Method is one API method of a discovery document.
type Method struct {
	ID         string
	HTTPMethod string
	Path       string
	Params     map[string]*Param
	Request    string // schema id of the body, "" when none
	Response   string // schema id of the answer, "" when empty
	Scopes     []string
	segs       []string
}

// Param is a path or query parameter.
type Param struct {
	Type     string   `json:"type"`
	Format   string   `json:"format"`
	Location string   `json:"location"`
	Required bool     `json:"required"`
	Repeated bool     `json:"repeated"`
	Enum     []string `json:"enum"`
	Minimum  string   `json:"minimum"`
	Maximum  string   `json:"maximum"`
}

// Schema is the subset of JSON Schema that discovery documents use.
type Schema struct {
	ID                   string             `json:"id"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Ref                  string             `json:"$ref"`
	Properties           map[string]*Schema `json:"properties"`
	AdditionalProperties *Schema            `json:"additionalProperties"`
	Items                *Schema            `json:"items"`
	Enum                 []string           `json:"enum"`
	ReadOnly             bool               `json:"readOnly"`
	Annotations          struct {
		Required []string `json:"required"`
	} `json:"annotations"`
}

type rawMethod struct {
	ID         string            `json:"id"`
	HTTPMethod string            `json:"httpMethod"`
	Path       string            `json:"path"`
	Parameters map[string]*Param `json:"parameters"`
	Request    *struct {
		Ref string `json:"$ref"`
	} `json:"request"`
	Response *struct {
		Ref string `json:"$ref"`
	} `json:"response"`
	Scopes []string `json:"scopes"`
}

type rawResource struct {
	Methods   map[string]rawMethod   `json:"methods"`
	Resources map[string]rawResource `json:"resources"`
}

type rawDoc struct {
	ID          string                 `json:"id"`
	Name        string                 `json:"name"`
	ServicePath string                 `json:"servicePath"`
	Parameters  map[string]*Param      `json:"parameters"`
	Schemas     map[string]*Schema     `json:"schemas"`
	Resources   map[string]rawResource `json:"resources"`
}

// ParseDiscovery reads a discovery document.
func ParseDiscovery(data []byte) (*Discovery, error) {
	var raw rawDoc
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse discovery document: %w", err)
	}
	if len(raw.Resources) == 0 || len(raw.Schemas) == 0 {
		return nil, errors.New("discovery document has no resources or schemas")
	}
	d := &Discovery{ID: raw.ID, Name: raw.Name, ServicePath: raw.ServicePath, params: raw.Parameters, schemas: raw.Schemas}
	var walk func(map[string]rawResource)
	walk = func(rs map[string]rawResource) {
		for _, r := range rs {
			for _, m := range r.Methods {
				mm := &Method{ID: m.ID, HTTPMethod: m.HTTPMethod, Path: m.Path, Params: m.Parameters, Scopes: m.Scopes,
					segs: strings.Split(raw.ServicePath+m.Path, "/")}
				if m.Request != nil {
					mm.Request = m.Request.Ref
				}
				if m.Response != nil {
					mm.Response = m.Response.Ref
				}
				d.methods = append(d.methods, mm)
			}
			walk(r.Resources)
		}
	}
	walk(raw.Resources)
	sort.Slice(d.methods, func(i, j int) bool { return d.methods[i].ID < d.methods[j].ID })
	return d, nil
}

var (
	dirOnce sync.Once
	dirPath string
	dirErr  error
	cache   sync.Map // relative path → *Discovery
)

// moduleDir locates google.golang.org/api in the module cache.
func moduleDir() (string, error) {
	dirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", apiModule).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
			}
			dirErr = fmt.Errorf("locate %s (run `go mod download %s`): %w", apiModule, apiModule, err)
			return
		}
		dirPath = strings.TrimSpace(string(out))
		if dirPath != "" {
			return
		}
		// In go.mod but not yet in the module cache (a fresh CI machine
		// that has not built a package of it): fetch it through the proxy.
		out, err = exec.Command("go", "mod", "download", "-json", apiModule).Output()
		var dl struct{ Dir, Error string }
		if err == nil {
			err = json.Unmarshal(out, &dl)
		}
		if err != nil || dl.Dir == "" {
			dirErr = fmt.Errorf("%s is not in the module cache and `go mod download %s` failed: %v %s", apiModule, apiModule, err, dl.Error)
			return
		}
		dirPath = dl.Dir
	})
	return dirPath, dirErr
}

// LoadDiscovery loads a discovery document shipped in google.golang.org/api,
// e.g. "admin/directory/v1/admin-api.json".
func LoadDiscovery(rel string) (*Discovery, error) {
	if d, ok := cache.Load(rel); ok {
		return d.(*Discovery), nil
	}
	dir, err := moduleDir()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("read discovery document: %w", err)
	}
	d, err := ParseDiscovery(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	cache.Store(rel, d)
	return d, nil
}

// Match finds the method serving httpMethod on path (relative to the root
// URL, without a leading slash) and returns the decoded path parameters.
// Literal segments win over parameters (users/watch before users/{userKey}).
func (d *Discovery) Match(httpMethod, path string) (*Method, map[string]string, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var best *Method
	var bestParams map[string]string
	bestLit := -1
	for _, m := range d.methods {
		if m.HTTPMethod != httpMethod || len(m.segs) != len(segs) {
			continue
		}
		params, lit, ok := matchSegs(m.segs, segs)
		if ok && lit > bestLit {
			best, bestParams, bestLit = m, params, lit
		}
	}
	return best, bestParams, best != nil
}

func matchSegs(tmpl, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	lit := 0
	for i, t := range tmpl {
		raw := segs[i]
		// A template segment may mix a parameter and a literal suffix
		// ("users:createGuest" is all literal; "{userKey}" all parameter).
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			v, err := url.PathUnescape(raw)
			if err != nil || v == "" {
				return nil, 0, false
			}
			params[strings.TrimPrefix(strings.Trim(t, "{}"), "+")] = v
			continue
		}
		if t != raw {
			return nil, 0, false
		}
		lit++
	}
	return params, lit, true
}

// ValidateRequest checks one request: a known method and path template,
// path and query parameters (presence, type, enum, range, no unknown ones),
// and the body against the method's request schema. It returns the method
// (nil when none matches) and every problem found.
func (d *Discovery) ValidateRequest(httpMethod, escapedPath string, query url.Values, body []byte) (*Method, []string) {
	m, pathParams, ok := d.Match(httpMethod, escapedPath)
	if !ok {
		return nil, []string{fmt.Sprintf("no method of %s matches %s %s", d.ID, httpMethod, escapedPath)}
	}
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, m.ID+": "+fmt.Sprintf(f, a...)) }
	for name, p := range m.Params {
		var vals []string
		switch p.Location {
		case "path":
			if v, ok := pathParams[name]; ok {
				vals = []string{v}
			}
		case "query":
			vals = query[name]
		}
		if len(vals) == 0 {
			if p.Required {
				add("required %s parameter %s is missing", p.Location, name)
			}
			continue
		}
		if len(vals) > 1 && !p.Repeated {
			add("parameter %s given %d times but is not repeated", name, len(vals))
		}
		for _, v := range vals {
			if msg := checkParam(p, v); msg != "" {
				add("parameter %s=%q: %s", name, v, msg)
			}
		}
	}
	for name, vals := range query {
		if _, ok := m.Params[name]; ok {
			continue
		}
		if p, ok := d.params[name]; ok {
			for _, v := range vals {
				if msg := checkParam(p, v); msg != "" {
					add("parameter %s=%q: %s", name, v, msg)
				}
			}
			continue
		}
		add("unknown query parameter %q", name)
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case m.Request == "" && len(trimmed) > 0:
		add("method takes no request body but got %d bytes", len(trimmed))
	case m.Request != "" && len(trimmed) == 0:
		add("method needs a %s request body", m.Request)
	case m.Request != "":
		v, err := decodeJSON(trimmed)
		if err != nil {
			add("request body: %v", err)
			break
		}
		for _, p := range d.validate(&Schema{Ref: m.Request}, v, "request", true, m.ID) {
			add("%s", p)
		}
	}
	return m, probs
}

// ValidateResponse checks a successful answer's body against the method's
// response schema (an empty body when the method has none), and an error
// answer against Google's JSON error format.
func (d *Discovery) ValidateResponse(m *Method, status int, body []byte) []string {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, m.ID+": "+fmt.Sprintf(f, a...)) }
	trimmed := bytes.TrimSpace(body)
	if status >= 400 {
		if msg := CheckErrorBody(status, trimmed); msg != "" {
			add("error response: %s", msg)
		}
		return probs
	}
	if m.Response == "" {
		if len(trimmed) > 0 {
			add("method has no response body but %d bytes were sent", len(trimmed))
		}
		return probs
	}
	v, err := decodeJSON(trimmed)
	if err != nil {
		add("response body: %v", err)
		return probs
	}
	for _, p := range d.validate(&Schema{Ref: m.Response}, v, "response", false, m.ID) {
		add("%s", p)
	}
	return probs
}

// ValidateValue checks v (decoded with UseNumber) against the named schema.
func (d *Discovery) ValidateValue(schema string, v any, request bool) []string {
	return d.validate(&Schema{Ref: schema}, v, schema, request, "")
}

// CheckErrorBody checks Google's error format:
// {"error":{"code":N,"message":"…","errors":[{"reason","message","domain"}],"status"}}.
func CheckErrorBody(status int, body []byte) string {
	var e struct {
		Error *struct {
			Code    *int   `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Errors  []struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
				Domain  string `json:"domain"`
			} `json:"errors"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return "not a Google error body: " + err.Error()
	}
	switch {
	case e.Error == nil:
		return `no "error" object`
	case e.Error.Code == nil || *e.Error.Code != status:
		return fmt.Sprintf("error.code does not repeat the HTTP status %d", status)
	case e.Error.Message == "":
		return "error.message is empty"
	}
	return ""
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func checkParam(p *Param, v string) string {
	switch p.Type {
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "not an integer"
		}
		if p.Minimum != "" {
			if lo, err := strconv.ParseInt(p.Minimum, 10, 64); err == nil && n < lo {
				return "below the minimum " + p.Minimum
			}
		}
		if p.Maximum != "" {
			if hi, err := strconv.ParseInt(p.Maximum, 10, 64); err == nil && n > hi {
				return "above the maximum " + p.Maximum
			}
		}
	case "boolean":
		if v != "true" && v != "false" {
			return "not a boolean"
		}
	case "string":
		if msg := checkFormat(p.Format, v); msg != "" {
			return msg
		}
	}
	if len(p.Enum) > 0 && !contains(p.Enum, v) {
		return "not one of " + strings.Join(p.Enum, ", ")
	}
	return ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func checkFormat(format, v string) string {
	switch format {
	case "int64":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "not an int64 string"
		}
	case "uint64":
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return "not a uint64 string"
		}
	case "date-time", "google-datetime":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return "not an RFC 3339 date-time"
		}
	case "byte":
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			if _, err := base64.URLEncoding.DecodeString(v); err != nil {
				return "not base64"
			}
		}
	}
	return ""
}

// validate checks v against s; request marks a request body, where read-only
// fields are flagged and the method's required fields (annotations) enforced.
func (d *Discovery) validate(s *Schema, v any, at string, request bool, methodID string) []string {
	var probs []string
	d.walk(s, v, at, request, methodID, &probs, 0)
	return probs
}

func (d *Discovery) walk(s *Schema, v any, at string, request bool, methodID string, probs *[]string, depth int) {
	add := func(f string, a ...any) { *probs = append(*probs, at+": "+fmt.Sprintf(f, a...)) }
	if depth > 32 {
		add("nesting too deep")
		return
	}
	if s.Ref != "" {
		rs, ok := d.schemas[s.Ref]
		if !ok {
			add("unknown schema %q", s.Ref)
			return
		}
		s = rs
	}
	if v == nil {
		return // JSON null: Google omits rather than nulls, but clients may clear with null
	}
	if s.Type == "any" || (s.Type == "" && s.Properties == nil && s.Items == nil) {
		return
	}
	switch s.Type {
	case "object", "":
		obj, ok := v.(map[string]any)
		if !ok {
			add("want an object, got %s", kind(v))
			return
		}
		if request && methodID != "" {
			for name, p := range s.Properties {
				if contains(p.Annotations.Required, methodID) {
					if _, ok := obj[name]; !ok {
						add("required field %q is missing", name)
					}
				}
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := s.Properties[k]; ok {
				if request && p.ReadOnly {
					add("field %q is read-only and must not be sent", k)
				}
				d.walk(p, obj[k], at+"."+k, request, methodID, probs, depth+1)
				continue
			}
			if s.AdditionalProperties != nil {
				d.walk(s.AdditionalProperties, obj[k], at+"."+k, request, methodID, probs, depth+1)
				continue
			}
			add("unknown field %q", k)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			add("want an array, got %s", kind(v))
			return
		}
		if s.Items != nil {
			for i, e := range arr {
				d.walk(s.Items, e, fmt.Sprintf("%s[%d]", at, i), request, methodID, probs, depth+1)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			add("want a string, got %s", kind(v))
			return
		}
		if msg := checkFormat(s.Format, str); msg != "" {
			add("%q is %s", str, msg)
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			add("%q is not one of %s", str, strings.Join(s.Enum, ", "))
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			add("want an integer, got %s", kind(v))
			return
		}
		bits := 64
		if s.Format == "int32" || s.Format == "uint32" {
			bits = 32
		}
		if _, err := strconv.ParseInt(n.String(), 10, bits); err != nil {
			add("%s is not an %s", n, s.Format)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			add("want a number, got %s", kind(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			add("want a boolean, got %s", kind(v))
		}
	default:
		add("schema type %q is not understood by the validator", s.Type)
	}
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
