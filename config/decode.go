package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The strict decoder walks a yaml.Node tree into Go values. The standard
// yaml.v3 decoder stops short of what Gatehouse promises: it reports unknown
// keys without columns, cannot tell us every error at once with the dotted key,
// and has no notion of secrets. Walking the node tree ourselves gives each
// error file:line:col and the offending key, and lets every field type decide
// how it is read.

// decoder carries the file name and collects errors.
type decoder struct {
	file string
	errs *ErrorList
	env  func(string) (string, bool)
	// positions records where every key's value was written, so validation
	// can point at the exact value it rejects.
	positions map[string]Pos
	depth     int
	nodes     int
	aborted   bool
}

// Limits against hostile YAML: aliases can build cycles and exponential
// expansions ("billion laughs") out of a few bytes.
const (
	maxDepth = 48
	maxNodes = 200_000
)

func (d *decoder) warn(n *yaml.Node, key, format string, args ...any) {
	*d.errs = append(*d.errs, Error{Pos: d.pos(n), Key: key, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// decodeValue decodes into the value out points to.
func (d *decoder) decodeValue(n *yaml.Node, out any, key string) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		d.fail(n, key, "internal: decode target must be a non-nil pointer")
		return
	}
	d.decode(n, rv.Elem(), key)
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	d.errs.Add(d.pos(n), key, format, args...)
}

// nodeDecoder is implemented by types that read themselves from a node with
// access to the decoder (positions, secrets).
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, key string)
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	nodeDecoderType = reflect.TypeOf((*nodeDecoder)(nil)).Elem()
)

func join(key, sub string) string {
	if key == "" {
		return sub
	}
	return key + "." + sub
}

// resolve follows aliases so anchors can be used for repeated blocks.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

// decode reads n into v (addressable), reporting problems under key.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	n = resolve(n)
	if n == nil || d.aborted {
		return
	}
	d.nodes++
	if d.depth >= maxDepth || d.nodes > maxNodes {
		d.fail(n, key, "structure too deep or too large (alias loop?); giving up on this file")
		d.aborted = true
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.positions != nil {
		d.positions[key] = d.pos(n)
	}
	// Pointers are always allocated, even for null, so validation never meets
	// a nil App or Rule from a hostile `apps: {a: ~}`.
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), key)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, key)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null leaves the zero value
	}
	if v.Type() == durationType {
		d.scalar(n, key, func(s string) error {
			dur, err := ParseDuration(s)
			if err != nil {
				return fmt.Errorf("invalid duration %q (want e.g. 30s, 15m, 48h, 45d)", s)
			}
			if dur < 0 {
				return fmt.Errorf("duration %q must not be negative", s)
			}
			v.SetInt(int64(dur))
			return nil
		})
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		d.scalar(n, key, func(s string) error {
			return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
		})
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, key)
	case reflect.Map:
		d.decodeMap(n, v, key)
	case reflect.Slice:
		d.decodeSlice(n, v, key)
	case reflect.String:
		d.scalar(n, key, func(s string) error { v.SetString(s); return nil })
	case reflect.Bool:
		d.scalar(n, key, func(s string) error {
			b, err := strconv.ParseBool(s)
			if err != nil || n.Tag != "!!bool" {
				return fmt.Errorf("want true or false, got %q", s)
			}
			v.SetBool(b)
			return nil
		})
	case reflect.Int, reflect.Int64, reflect.Int32:
		d.scalar(n, key, func(s string) error {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n.Tag != "!!int" {
				return fmt.Errorf("want a whole number, got %q", s)
			}
			if v.OverflowInt(i) {
				return fmt.Errorf("number %s is out of range", s)
			}
			v.SetInt(i)
			return nil
		})
	case reflect.Float64:
		d.scalar(n, key, func(s string) error {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || (n.Tag != "!!int" && n.Tag != "!!float") || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("want a number, got %q", s)
			}
			v.SetFloat(f)
			return nil
		})
	default:
		d.fail(n, key, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) scalar(n *yaml.Node, key string, set func(string) error) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "want a single value, got %s", kindName(n))
		return
	}
	if err := set(n.Value); err != nil {
		d.fail(n, key, "%v", err)
	}
}

type fieldInfo struct{ index int }

// fieldsOf maps yaml keys to struct fields. Fields tagged `yaml:"-"` are
// internal (filled by validation) and cannot be set from a file.
func fieldsOf(t reflect.Type) map[string]fieldInfo {
	m := map[string]fieldInfo{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = fieldInfo{index: i}
	}
	return m
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "want a mapping, got %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := kn.Value
		sub := join(key, k)
		if seen[k] {
			d.fail(kn, sub, "duplicate key")
			continue
		}
		seen[k] = true
		if f, ok := fields[k]; ok {
			d.decode(vn, v.Field(f.index), sub)
			continue
		}
		// `token_file: PATH` is the file form of the secret field `token`.
		if base, ok := strings.CutSuffix(k, "_file"); ok {
			if f, ok := fields[base]; ok && v.Field(f.index).Type() == secretType {
				if seen[base] {
					d.fail(kn, sub, "set either %s or %s, not both", base, k)
					continue
				}
				seen[base] = true
				v.Field(f.index).Addr().Interface().(*Secret).decodeFile(d, vn, sub)
				continue
			}
		}
		d.fail(kn, sub, "unknown key%s", suggest(k, keysOf(fields)))
	}
}

func keysOf(m map[string]fieldInfo) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "want a mapping, got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.fail(n, key, "internal: map key must be a string")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		sub := join(key, kn.Value)
		if kn.Kind != yaml.ScalarNode || kn.Value == "" {
			d.fail(kn, key, "keys must be non-empty names")
			continue
		}
		mk := reflect.ValueOf(kn.Value).Convert(v.Type().Key())
		if v.MapIndex(mk).IsValid() {
			d.fail(kn, sub, "duplicate key")
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(vn, elem, sub)
		setPos(elem, d.pos(kn), kn.Value)
		v.SetMapIndex(mk, elem)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, key, "want a list, got %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, en := range n.Content {
		elem := out.Index(i)
		d.decode(en, elem, fmt.Sprintf("%s[%d]", key, i))
		setPos(elem, d.pos(resolve(en)), "")
	}
	v.Set(out)
}

// setPos tells map and list elements (App, Rule…) their name and where they
// were written.
func setPos(elem reflect.Value, p Pos, name string) {
	target := elem
	if elem.Kind() != reflect.Pointer {
		target = elem.Addr()
	}
	if target.IsNil() {
		return
	}
	if sp, ok := target.Interface().(interface{ setPos(Pos, string) }); ok {
		sp.setPos(p, name)
	}
}

// suggest proposes the closest known key for a typo.
func suggest(k string, known []string) string {
	best := Closest(k, known)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Closest returns the candidate at most two edits away from word (the
// nearest one), or "" — for "did you mean" hints wherever names are typed.
func Closest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
