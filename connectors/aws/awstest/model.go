package awstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
)

// Model is one AWS JSON service model (the apis/*.min.json files of AWS's
// JavaScript SDK v2), used to validate what goes over the wire.
type Model struct {
	Service      string // the X-Amz-Target prefix, e.g. AWSIdentityStore
	SigningName  string
	operations   map[string]rawOp
	shapes       map[string]map[string]any
	patternCache map[string]*regexp.Regexp
}

type rawOp struct {
	Input  map[string]any `json:"input"`
	Output map[string]any `json:"output"`
}

// LoadModel reads a model file.
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Metadata struct {
			TargetPrefix string `json:"targetPrefix"`
			SigningName  string `json:"signingName"`
			Protocol     string `json:"protocol"`
		} `json:"metadata"`
		Operations map[string]rawOp          `json:"operations"`
		Shapes     map[string]map[string]any `json:"shapes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if raw.Metadata.Protocol != "json" || raw.Metadata.TargetPrefix == "" || len(raw.Operations) == 0 {
		return nil, fmt.Errorf("%s: not a JSON-protocol service model", path)
	}
	return &Model{Service: raw.Metadata.TargetPrefix, SigningName: raw.Metadata.SigningName, operations: raw.Operations,
		shapes: raw.Shapes, patternCache: map[string]*regexp.Regexp{}}, nil
}

// SpecDir finds .ci/specs/aws/node_modules/aws-sdk/apis by walking up from
// the working directory to go.mod.
func SpecDir() (string, error) {
	p, err := spectest.Path("AWS service models (aws-sdk)", ".ci/specs/aws/node_modules/aws-sdk/apis/identitystore-2020-06-15.min.json")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// HasOperation reports whether op exists.
func (m *Model) HasOperation(op string) bool { _, ok := m.operations[op]; return ok }

// ValidateInput checks a request body against op's input shape.
func (m *Model) ValidateInput(op string, body []byte) []string {
	o, ok := m.operations[op]
	if !ok {
		return []string{fmt.Sprintf("operation %s.%s is not in the service model", m.Service, op)}
	}
	return m.validateJSON(o.Input, body, "input")
}

// ValidateOutput checks a response body against op's output shape.
func (m *Model) ValidateOutput(op string, body []byte) []string {
	o, ok := m.operations[op]
	if !ok {
		return []string{fmt.Sprintf("operation %s.%s is not in the service model", m.Service, op)}
	}
	return m.validateJSON(o.Output, body, "output")
}

func (m *Model) validateJSON(shape map[string]any, body []byte, where string) []string {
	var v any
	if len(bytes.TrimSpace(body)) == 0 {
		v = map[string]any{}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return []string{where + ": invalid JSON: " + err.Error()}
		}
	}
	if shape == nil {
		shape = map[string]any{"type": "structure", "members": map[string]any{}}
	}
	var errs []string
	m.check(shape, v, where, &errs, 0)
	return errs
}

// resolve follows a member's shape reference; an empty member is a string.
func (m *Model) resolve(s map[string]any) map[string]any {
	for i := 0; i < 10; i++ {
		ref, ok := s["shape"].(string)
		if !ok {
			break
		}
		target, ok := m.shapes[ref]
		if !ok {
			return map[string]any{"type": "unknown-shape " + ref}
		}
		s = target
	}
	return s
}

func (m *Model) check(s map[string]any, v any, path string, errs *[]string, depth int) {
	if depth > 40 {
		*errs = append(*errs, path+": nesting too deep")
		return
	}
	s = m.resolve(s)
	typ, _ := s["type"].(string)
	if typ == "" {
		typ = "string"
	}
	bad := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if doc, _ := s["document"].(bool); doc {
		return // a document is any JSON value
	}
	switch typ {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want an object (structure), got %s", kind(v))
			return
		}
		members, _ := s["members"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if name, _ := r.(string); name != "" {
					if x, present := obj[name]; !present || x == nil {
						bad("required member %s is missing", name)
					}
				}
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		set := 0
		for _, k := range keys {
			ms, ok := members[k].(map[string]any)
			if !ok {
				bad("unknown member %s", k)
				continue
			}
			if obj[k] == nil {
				continue
			}
			set++
			m.check(ms, obj[k], path+"."+k, errs, depth+1)
		}
		if union, _ := s["union"].(bool); union && set != 1 {
			bad("union must have exactly one member set, has %d", set)
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			bad("want an array (list), got %s", kind(v))
			return
		}
		m.checkLen(s, len(arr), bad)
		ms, _ := s["member"].(map[string]any)
		for i, x := range arr {
			m.check(ms, x, fmt.Sprintf("%s[%d]", path, i), errs, depth+1)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want an object (map), got %s", kind(v))
			return
		}
		ks, _ := s["key"].(map[string]any)
		vs, _ := s["value"].(map[string]any)
		for k, x := range obj {
			m.check(ks, k, path+"{key}", errs, depth+1)
			m.check(vs, x, path+"."+k, errs, depth+1)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %s", kind(v))
			return
		}
		m.checkLen(s, len([]rune(str)), bad)
		if enum, ok := s["enum"].([]any); ok {
			found := false
			for _, e := range enum {
				if e == str {
					found = true
				}
			}
			if !found {
				bad("%q is not one of the enum values %v", str, enum)
			}
		}
		if p, ok := s["pattern"].(string); ok {
			re, cached := m.patternCache[p]
			if !cached {
				re, _ = regexp.Compile(p)
				m.patternCache[p] = re
			}
			if re != nil && !re.MatchString(str) {
				bad("%q does not match the pattern %s", str, p)
			}
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			bad("want an integer, got %s", kind(v))
			return
		}
		i, err := n.Int64()
		if err != nil {
			bad("want an integer, got %s", n)
			return
		}
		if mn, ok := s["min"].(float64); ok && float64(i) < mn {
			bad("%d is below the minimum %v", i, mn)
		}
		if mx, ok := s["max"].(float64); ok && float64(i) > mx {
			bad("%d is above the maximum %v", i, mx)
		}
	case "float", "double":
		if _, ok := v.(json.Number); !ok {
			bad("want a number, got %s", kind(v))
		}
	case "timestamp":
		// The JSON protocol sends timestamps as epoch seconds (a number).
		n, ok := v.(json.Number)
		if !ok {
			bad("want a timestamp (epoch seconds), got %s", kind(v))
			return
		}
		if f, err := n.Float64(); err != nil || f < 0 || math.IsInf(f, 0) {
			bad("bad timestamp %s", n)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %s", kind(v))
		}
	case "blob":
		if _, ok := v.(string); !ok {
			bad("want a base64 string (blob), got %s", kind(v))
		}
	default:
		bad("unsupported shape type %s", strings.TrimSpace(typ))
	}
}

func (m *Model) checkLen(s map[string]any, n int, bad func(string, ...any)) {
	if mn, ok := s["min"].(float64); ok && float64(n) < mn {
		bad("length %d is below the minimum %v", n, mn)
	}
	if mx, ok := s["max"].(float64); ok && float64(n) > mx {
		bad("length %d is above the maximum %v", n, mx)
	}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}
