package entratest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

// SchemaRelPath is where .ci/deps.d/entra.sh installs Microsoft's TypeScript
// description of every Microsoft Graph v1.0 entity
// (@microsoft/microsoft-graph-types, pinned there), relative to the
// repository root.
const SchemaRelPath = ".ci/specs/entra/node_modules/@microsoft/microsoft-graph-types/microsoft-graph.d.ts"

// Schema is the part of Microsoft's published Graph v1.0 entity description
// the fake checks traffic against: every top-level interface with its own
// and inherited properties and their TypeScript types, and every
// string-literal union (Graph's enums).
type Schema struct {
	ifaces map[string]*iface
	enums  map[string]map[string]bool
	// query holds the OData query options of the /users paths, from the
	// Kiota users API, by route pattern.
	query map[string]map[string]bool
}

type iface struct {
	bases []string
	props map[string]string // JSON name → TypeScript type expression
}

var (
	ifaceRE = regexp.MustCompile(`^export interface (\w+)(?: extends ([\w., ]+))? \{`)
	propRE  = regexp.MustCompile(`^    ("[^"]+"|[\w@.]+)\??: (.*)$`)
	aliasRE = regexp.MustCompile(`^export type (\w+)(?:<\w+>)? =(.*)$`)
	litRE   = regexp.MustCompile(`^"([^"]*)"$`)
)

// ParseSchema reads the .d.ts text. Only the top-level microsoft.graph
// namespace is read; the nested namespaces (callRecords, security…) are not
// needed by the entities the connector uses.
func ParseSchema(text string) (*Schema, error) {
	s := &Schema{ifaces: map[string]*iface{}, enums: map[string]map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cur *iface
	var pending string // a declaration that continues on the next line
	var pendingKind, pendingName string
	inComment := false
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(line, "export namespace ") {
			break
		}
		if inComment {
			if strings.Contains(trim, "*/") {
				inComment = false
			}
			continue
		}
		if strings.HasPrefix(trim, "/*") {
			inComment = !strings.Contains(trim, "*/")
			continue
		}
		if strings.HasPrefix(trim, "//") || trim == "" {
			continue
		}
		if pending != "" {
			pending += " " + trim
			if !strings.HasSuffix(trim, ";") {
				continue
			}
			s.finish(cur, pendingKind, pendingName, strings.TrimSuffix(pending, ";"))
			pending = ""
			continue
		}
		if cur != nil {
			if line == "}" {
				cur = nil
				continue
			}
			if m := propRE.FindStringSubmatch(line); m != nil {
				name := strings.Trim(m[1], `"`)
				if strings.HasSuffix(m[2], ";") {
					cur.props[name] = strings.TrimSuffix(m[2], ";")
				} else {
					pending, pendingKind, pendingName = m[2], "prop", name
				}
			}
			continue
		}
		if m := ifaceRE.FindStringSubmatch(line); m != nil {
			cur = &iface{props: map[string]string{}}
			if m[2] != "" {
				for _, b := range strings.Split(m[2], ",") {
					cur.bases = append(cur.bases, strings.TrimSpace(b))
				}
			}
			s.ifaces[m[1]] = cur
			if strings.HasSuffix(line, "}") { // an empty interface on one line
				cur = nil
			}
			continue
		}
		if m := aliasRE.FindStringSubmatch(line); m != nil {
			if strings.HasSuffix(m[2], ";") {
				s.finish(nil, "alias", m[1], strings.TrimSuffix(m[2], ";"))
			} else {
				pending, pendingKind, pendingName = m[2], "alias", m[1]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, need := range []string{"Entity", "DirectoryObject", "User", "Group", "PasswordProfile", "SignInActivity", "PublicErrorResponse"} {
		if _, ok := s.ifaces[need]; !ok {
			return nil, fmt.Errorf("graph schema has no interface %s: not the Microsoft Graph types file?", need)
		}
	}
	return s, nil
}

func (s *Schema) finish(cur *iface, kind, name, typ string) {
	typ = strings.TrimSpace(typ)
	switch kind {
	case "prop":
		if cur != nil {
			cur.props[name] = typ
		}
	case "alias":
		lits := map[string]bool{}
		for _, part := range strings.Split(typ, "|") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			m := litRE.FindStringSubmatch(part)
			if m == nil {
				return // not a string enum (NullableOption<T> and the like)
			}
			lits[m[1]] = true
		}
		if len(lits) > 0 {
			s.enums[name] = lits
		}
	}
}

// Props returns the JSON properties of interface name, inherited ones
// included, and false when the schema has no such interface.
func (s *Schema) Props(name string) (map[string]string, bool) {
	if _, ok := s.ifaces[name]; !ok {
		return nil, false
	}
	out := map[string]string{}
	var walk func(n string, depth int)
	walk = func(n string, depth int) {
		f, ok := s.ifaces[n]
		if !ok || depth > 20 {
			return
		}
		for _, b := range f.bases {
			walk(b, depth+1)
		}
		for k, v := range f.props {
			out[k] = v
		}
	}
	walk(name, 0)
	return out, true
}

// HasProp reports whether interface name defines (or inherits) prop.
func (s *Schema) HasProp(name, prop string) bool {
	p, _ := s.Props(name)
	_, ok := p[prop]
	return ok
}

// Validate checks a decoded JSON value (json.Number for numbers) against
// interface name and returns every problem, each with its JSON path. OData
// annotations ("@odata.type", "@odata.context"…) are allowed anywhere; an
// "@odata.type" of "#microsoft.graph.group" switches to interface Group, as
// Graph answers derived types (memberOf lists groups as directoryObjects).
func (s *Schema) Validate(name string, v any) []string {
	var probs []string
	s.check("$", name, v, &probs, 0)
	return probs
}

func (s *Schema) check(path, typ string, v any, probs *[]string, depth int) {
	if depth > 32 {
		return
	}
	typ = strings.TrimSpace(typ)
	bad := func(format string, args ...any) {
		*probs = append(*probs, path+": "+fmt.Sprintf(format, args...))
	}
	if inner, ok := strings.CutPrefix(typ, "NullableOption<"); ok && strings.HasSuffix(inner, ">") {
		if v == nil {
			return
		}
		s.check(path, strings.TrimSuffix(inner, ">"), v, probs, depth+1)
		return
	}
	if elem, ok := strings.CutSuffix(typ, "[]"); ok {
		arr, isArr := v.([]any)
		if !isArr {
			bad("want an array (%s), got %s", typ, jsonKind(v))
			return
		}
		for i, e := range arr {
			s.check(fmt.Sprintf("%s[%d]", path, i), elem, e, probs, depth+1)
		}
		return
	}
	switch typ {
	case "any":
		return
	case "string":
		if _, ok := v.(string); !ok {
			bad("want a string, got %s", jsonKind(v))
		}
		return
	case "number":
		switch v.(type) {
		case json.Number, float64:
		default:
			bad("want a number, got %s", jsonKind(v))
		}
		return
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %s", jsonKind(v))
		}
		return
	}
	if lits, ok := s.enums[typ]; ok {
		str, isStr := v.(string)
		if !isStr {
			bad("want a %s string, got %s", typ, jsonKind(v))
		} else if !lits[str] {
			bad("%q is not a %s value", str, typ)
		}
		return
	}
	if _, ok := s.ifaces[typ]; !ok {
		return // a type outside what the fake reads (nested namespaces): not checked
	}
	obj, ok := v.(map[string]any)
	if !ok {
		bad("want a %s object, got %s", typ, jsonKind(v))
		return
	}
	if ot, ok := obj["@odata.type"].(string); ok {
		if derived := ifaceNameOf(ot); derived != "" {
			if _, known := s.ifaces[derived]; known {
				typ = derived
			} else {
				bad("@odata.type %q names no Graph entity", ot)
			}
		}
	}
	props, _ := s.Props(typ)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
			continue
		}
		pt, ok := props[k]
		if !ok {
			bad("property %q is not defined on %s", k, typ)
			continue
		}
		s.check(path+"."+k, pt, obj[k], probs, depth+1)
	}
}

// ifaceNameOf maps "#microsoft.graph.directoryObject" to "DirectoryObject".
func ifaceNameOf(odataType string) string {
	n, ok := strings.CutPrefix(odataType, "#microsoft.graph.")
	if !ok || n == "" || strings.Contains(n, ".") {
		return ""
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// ErrSchemaMissing says the Graph description is not installed.
var ErrSchemaMissing = errors.New("the Microsoft Graph types are not installed: run bash .ci/install-deps.sh")

var (
	schemaOnce sync.Once
	schemaVal  *Schema
	schemaErr  error
)

// repoRoot is the repository root; without one the schema is missing.
func repoRoot() (string, error) {
	root, err := spectest.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, ErrSchemaMissing)
	}
	return root, nil
}

// LoadSchema finds the installed descriptions from the repository root,
// parses the entity types, checks the route table's /users operations
// against the Kiota users API (keeping their query options), once per
// process.
func LoadSchema() (*Schema, error) {
	schemaOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			schemaErr = err
			return
		}
		path := filepath.Join(root, SchemaRelPath)
		b, err := os.ReadFile(path)
		if err != nil {
			schemaErr = fmt.Errorf("%s: %w (%v)", path, ErrSchemaMissing, err)
			return
		}
		sch, err := ParseSchema(string(b))
		if err != nil {
			schemaErr = err
			return
		}
		if sch.query, err = checkRoutesAgainstKiota(root); err != nil {
			schemaErr = err
			return
		}
		schemaVal = sch
	})
	return schemaVal, schemaErr
}
