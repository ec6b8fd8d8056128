package slackapptest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

// Spec is Slack's own description of its Web API as shipped in the npm
// package @slack/web-api: methods.d.ts names every method with its argument
// and response types, dist/types/request/*.d.ts declares the arguments and
// dist/types/response/*Response.d.ts the answers. LoadSpec parses the small
// subset of TypeScript those files use (interfaces with extends, type
// aliases, unions, intersections, arrays, tuples, string literals and the
// generics Partial, Pick, Omit, Record, Array, Required, OptionalArgument).
type Spec struct {
	Version string
	methods map[string]methodSpec
	files   map[string]*tsFile
	dist    string
}

type methodSpec struct {
	args, resp string
}

// SpecRelPath is where .ci/deps.d/slack.sh installs the package, relative to
// the repository root.
const SpecRelPath = ".ci/specs/slack/node_modules/@slack/web-api"

// FindSpec walks up from the working directory to go.mod and loads the
// package from SpecRelPath. A missing package is an error that says how to
// install it.
func FindSpec() (*Spec, error) {
	m, err := spectest.Path("slackapptest: Slack's API description (@slack/web-api)", SpecRelPath+"/dist/methods.d.ts")
	if err != nil {
		return nil, err
	}
	p := filepath.Dir(filepath.Dir(m))
	return LoadSpec(p)
}

var (
	reMethodLine = regexp.MustCompile(`^\s*(\w+): Method\w*<(\w+), (\w+)>;`)
	reGroupOpen  = regexp.MustCompile(`^\s*(?:readonly\s+)?(\w+): \{\s*$`)
	reGroupClose = regexp.MustCompile(`^\s*\};?\s*$`)
)

// LoadSpec parses the package installed at dir (the @slack/web-api folder).
func LoadSpec(dir string) (*Spec, error) {
	s := &Spec{methods: map[string]methodSpec{}, files: map[string]*tsFile{}, dist: filepath.Join(dir, "dist")}
	if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		var pj struct{ Version string }
		_ = json.Unmarshal(b, &pj)
		s.Version = pj.Version
	}
	src, err := os.ReadFile(filepath.Join(s.dist, "methods.d.ts"))
	if err != nil {
		return nil, err
	}
	var stack []string
	inClass := false
	for _, line := range strings.Split(stripComments(string(src)), "\n") {
		if !inClass {
			inClass = strings.Contains(line, "abstract class Methods")
			continue
		}
		if m := reMethodLine.FindStringSubmatch(line); m != nil {
			s.methods[strings.Join(append(slices.Clone(stack), m[1]), ".")] = methodSpec{args: m[2], resp: m[3]}
		} else if m := reGroupOpen.FindStringSubmatch(line); m != nil {
			stack = append(stack, m[1])
		} else if reGroupClose.MatchString(line) && len(stack) > 0 {
			stack = stack[:len(stack)-1]
		}
	}
	if len(s.methods) < 100 {
		return nil, fmt.Errorf("slackapptest: only %d methods found in %s/methods.d.ts: the package layout changed", len(s.methods), s.dist)
	}
	// Request types live in a handful of files that import each other.
	var reqFiles []string
	for _, pat := range []string{"types/request/*.d.ts", "types/request/admin/*.d.ts"} {
		m, _ := filepath.Glob(filepath.Join(s.dist, pat))
		reqFiles = append(reqFiles, m...)
	}
	for _, f := range reqFiles {
		if _, err := s.file(f); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Methods lists every method name, sorted.
func (s *Spec) Methods() []string {
	out := make([]string, 0, len(s.methods))
	for m := range s.methods {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// HasMethod reports whether Slack describes method.
func (s *Spec) HasMethod(method string) bool { _, ok := s.methods[method]; return ok }

func (s *Spec) file(path string) (*tsFile, error) {
	path = filepath.Clean(path)
	if f, ok := s.files[path]; ok {
		return f, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseTS(path, string(b))
	if err != nil {
		return nil, err
	}
	s.files[path] = f
	return f, nil
}

// lookup resolves a type name as seen from file f: its own declarations,
// then the files it imports.
func (s *Spec) lookup(f *tsFile, name string) (*tsType, *tsFile) {
	if t, ok := f.decls[name]; ok {
		return t, f
	}
	if name == "WebAPICallResult" {
		return webAPICallResult, f
	}
	for _, imp := range f.imports {
		p := filepath.Join(filepath.Dir(f.path), imp)
		if !strings.HasSuffix(p, ".d.ts") {
			p += ".d.ts"
		}
		g, err := s.file(p)
		if err != nil {
			continue
		}
		if t, ok := g.decls[name]; ok {
			return t, g
		}
	}
	return nil, nil
}

// webAPICallResult is WebClient.d.ts's WebAPICallResult, which every
// response type intersects with. WebClient.d.ts is a class file this parser
// does not read, so its one interface is restated here from that file.
var webAPICallResult = &tsType{kind: kObject, fields: map[string]tsField{
	"ok":    {t: &tsType{kind: kPrim, name: "boolean"}},
	"error": {t: &tsType{kind: kPrim, name: "string"}, opt: true},
	"response_metadata": {opt: true, t: &tsType{kind: kObject, fields: map[string]tsField{
		"warnings":       {opt: true, t: &tsType{kind: kArray, elem: &tsType{kind: kPrim, name: "string"}}},
		"next_cursor":    {opt: true, t: &tsType{kind: kPrim, name: "string"}},
		"scopes":         {opt: true, t: &tsType{kind: kArray, elem: &tsType{kind: kPrim, name: "string"}}},
		"acceptedScopes": {opt: true, t: &tsType{kind: kArray, elem: &tsType{kind: kPrim, name: "string"}}},
		"retryAfter":     {opt: true, t: &tsType{kind: kPrim, name: "number"}},
		"messages":       {opt: true, t: &tsType{kind: kArray, elem: &tsType{kind: kPrim, name: "string"}}},
	}}},
}}

// flat is a type reduced to its fields, for argument checks.
type flat struct {
	fields map[string]tsField
	open   bool // index signature, Record or an unresolved type: any field goes
}

// CheckRequest validates the arguments of one call (form or query values,
// already decoded to strings) against the method's argument type: the
// method exists, required arguments are present, no argument is unknown,
// and each value parses as its declared type. token is allowed everywhere
// (TokenOverridable). It returns the problems found.
func (s *Spec) CheckRequest(method string, args map[string]string) []string {
	m, ok := s.methods[method]
	if !ok {
		return []string{fmt.Sprintf("method %q does not exist in @slack/web-api %s", method, s.Version)}
	}
	f, err := s.file(filepath.Join(s.dist, "types/request/index.d.ts"))
	if err != nil {
		return []string{err.Error()}
	}
	t, tf := s.lookup(f, m.args)
	if t == nil {
		return []string{fmt.Sprintf("%s: argument type %s not found", method, m.args)}
	}
	var probs []string
	fl := flat{fields: map[string]tsField{}}
	s.flatten(tf, t, &fl, 0)
	names := make([]string, 0, len(args))
	for k := range args {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fd, ok := fl.fields[k]
		if !ok {
			if !fl.open {
				probs = append(probs, fmt.Sprintf("%s: unknown argument %q (%s declares %s)", method, k, m.args, strings.Join(sortedKeys(fl.fields), ", ")))
			}
			continue
		}
		if why := s.checkFormValue(fd.file, fd.t, args[k], 0); why != "" {
			probs = append(probs, fmt.Sprintf("%s: argument %s=%q: %s", method, k, clip(args[k]), why))
		}
	}
	present := func(k string) bool { _, ok := args[k]; return ok }
	if miss := s.missing(tf, t, present, 0); len(miss) > 0 {
		probs = append(probs, fmt.Sprintf("%s: missing required argument(s) %s", method, strings.Join(miss, ", ")))
	}
	return probs
}

// CheckResponse validates a JSON answer against the method's response type:
// every field sent must be declared, with a value of the declared type.
func (s *Spec) CheckResponse(method string, body []byte) []string {
	m, ok := s.methods[method]
	if !ok {
		return []string{fmt.Sprintf("method %q does not exist", method)}
	}
	f, err := s.file(filepath.Join(s.dist, "types/response", m.resp+".d.ts"))
	if err != nil {
		return []string{fmt.Sprintf("%s: response type %s: %v", method, m.resp, err)}
	}
	t, tf := s.lookup(f, m.resp)
	if t == nil {
		return []string{fmt.Sprintf("%s: response type %s not found", method, m.resp)}
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{fmt.Sprintf("%s: response is not JSON: %v", method, err)}
	}
	var probs []string
	s.checkJSON(tf, t, v, "$", &probs, 0)
	for i := range probs {
		probs[i] = method + ": response " + probs[i]
	}
	return probs
}

const maxDepth = 40

// resolve follows references and the generics that do not change shape.
func (s *Spec) resolve(f *tsFile, t *tsType, depth int) (*tsType, *tsFile) {
	for ; t != nil && t.kind == kRef && depth < maxDepth; depth++ {
		switch t.name {
		case "OptionalArgument", "Required", "Readonly", "NonNullable":
			if len(t.args) == 1 {
				t = t.args[0]
				continue
			}
		case "Array", "ReadonlyArray":
			if len(t.args) == 1 {
				return &tsType{kind: kArray, elem: t.args[0]}, f
			}
		case "Record":
			return &tsType{kind: kPrim, name: "object"}, f
		case "Partial", "Pick", "Omit", "Exclude":
			return t, f // handled by callers
		}
		r, rf := s.lookup(f, t.name)
		if r == nil {
			return &tsType{kind: kPrim, name: "any"}, f
		}
		t, f = r, rf
	}
	return t, f
}

func (s *Spec) flatten(f *tsFile, t *tsType, out *flat, depth int) {
	if depth > maxDepth {
		return
	}
	t, f = s.resolve(f, t, depth)
	if t == nil {
		return
	}
	switch t.kind {
	case kObject:
		for k, fd := range t.fields {
			if _, dup := out.fields[k]; !dup {
				fd.file = f
				out.fields[k] = fd
			}
		}
		if t.index {
			out.open = true
		}
		for _, e := range t.extends {
			s.flatten(f, e, out, depth+1)
		}
	case kUnion, kInter:
		for _, m := range t.members {
			s.flatten(f, m, out, depth+1)
		}
	case kRef: // Partial, Pick, Omit
		if len(t.args) > 0 {
			s.flatten(f, t.args[0], out, depth+1)
		}
	case kPrim:
		if t.name == "any" || t.name == "object" || t.name == "unknown" {
			out.open = true
		}
	}
}

// missing lists required fields absent from a request, honouring unions
// (any member satisfied) and Partial (nothing required).
func (s *Spec) missing(f *tsFile, t *tsType, present func(string) bool, depth int) []string {
	if depth > maxDepth {
		return nil
	}
	t, f = s.resolve(f, t, depth)
	if t == nil {
		return nil
	}
	switch t.kind {
	case kObject:
		var miss []string
		for _, k := range sortedKeys(t.fields) {
			if !t.fields[k].opt && !present(k) {
				miss = append(miss, k)
			}
		}
		for _, e := range t.extends {
			miss = append(miss, s.missing(f, e, present, depth+1)...)
		}
		return miss
	case kInter:
		var miss []string
		for _, m := range t.members {
			miss = append(miss, s.missing(f, m, present, depth+1)...)
		}
		return miss
	case kUnion:
		var best []string
		for i, m := range t.members {
			if m.kind == kPrim && m.name == "undefined" {
				return nil
			}
			miss := s.missing(f, m, present, depth+1)
			if len(miss) == 0 {
				return nil
			}
			if i == 0 || len(miss) < len(best) {
				best = miss
			}
		}
		if len(best) > 0 {
			return []string{"(" + strings.Join(best, ", ") + " or an alternative)"}
		}
	case kRef:
		if (t.name == "Pick" || t.name == "Omit") && len(t.args) > 0 {
			return s.missing(f, t.args[0], present, depth+1)
		}
	}
	return nil
}

// checkFormValue checks a form-encoded value against a declared type.
func (s *Spec) checkFormValue(f *tsFile, t *tsType, v string, depth int) string {
	t, f = s.resolve(f, t, depth)
	if t == nil || depth > maxDepth {
		return ""
	}
	switch t.kind {
	case kPrim:
		switch t.name {
		case "number":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return "not a number"
			}
		case "boolean":
			if v != "true" && v != "false" && v != "1" && v != "0" {
				return "not a boolean"
			}
		case "undefined", "never":
			return "no value allowed"
		}
	case kLiteral:
		if v != t.name {
			return fmt.Sprintf("want %q", t.name)
		}
	case kUnion:
		var whys []string
		for _, m := range t.members {
			why := s.checkFormValue(f, m, v, depth+1)
			if why == "" {
				return ""
			}
			whys = append(whys, why)
		}
		return strings.Join(whys, " or ")
	case kArray:
		// Slack takes arrays as comma-separated lists or JSON arrays.
		if strings.HasPrefix(v, "[") {
			var a []any
			if json.Unmarshal([]byte(v), &a) != nil {
				return "not a JSON array"
			}
		}
	case kObject:
		if !strings.HasPrefix(v, "{") {
			return "not a JSON object"
		}
	}
	return ""
}

// checkJSON checks a decoded JSON value against a declared type.
func (s *Spec) checkJSON(f *tsFile, t *tsType, v any, path string, probs *[]string, depth int) {
	if depth > maxDepth {
		return
	}
	if why := s.jsonMismatch(f, t, v, path, depth); why != nil {
		*probs = append(*probs, why...)
	}
}

func (s *Spec) jsonMismatch(f *tsFile, t *tsType, v any, path string, depth int) []string {
	t, f = s.resolve(f, t, depth)
	if t == nil {
		return nil
	}
	switch t.kind {
	case kPrim:
		ok := true
		switch t.name {
		case "string":
			_, ok = v.(string)
		case "number":
			_, ok = v.(float64)
		case "boolean":
			_, ok = v.(bool)
		case "null":
			ok = v == nil
		case "object":
			_, ok = v.(map[string]any)
		}
		if !ok {
			return []string{fmt.Sprintf("%s: %s where %s is declared", path, jsonKind(v), t.name)}
		}
	case kLiteral:
		if sv, ok := v.(string); !ok || sv != t.name {
			return []string{fmt.Sprintf("%s: %v where %q is declared", path, v, t.name)}
		}
	case kArray:
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s where an array is declared", path, jsonKind(v))}
		}
		var probs []string
		for i, e := range a {
			probs = append(probs, s.jsonMismatch(f, t.elem, e, fmt.Sprintf("%s[%d]", path, i), depth+1)...)
		}
		return probs
	case kUnion:
		var first []string
		for i, m := range t.members {
			p := s.jsonMismatch(f, m, v, path, depth+1)
			if len(p) == 0 {
				return nil
			}
			if i == 0 {
				first = p
			}
		}
		return first
	case kObject, kInter, kRef:
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s where an object is declared", path, jsonKind(v))}
		}
		fl := flat{fields: map[string]tsField{}}
		s.flatten(f, t, &fl, depth+1)
		var probs []string
		for _, k := range sortedKeys(m) {
			fd, ok := fl.fields[k]
			if !ok {
				if !fl.open {
					probs = append(probs, fmt.Sprintf("%s: field %q is not declared", path, k))
				}
				continue
			}
			if m[k] == nil && fd.opt {
				continue
			}
			probs = append(probs, s.jsonMismatch(fd.file, fd.t, m[k], path+"."+k, depth+1)...)
		}
		return probs
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
