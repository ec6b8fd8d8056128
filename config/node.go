package config

import (
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"go.yaml.in/yaml/v3"
)

// Expr is an expr-lang expression as written in the config, with its position
// so that compile errors in package rules point at the file, line and column.
type Expr struct {
	Source string
	Pos    Pos
	Key    string
}

// IsZero reports whether no expression was written.
func (e Expr) IsZero() bool { return strings.TrimSpace(e.Source) == "" }

func (e *Expr) decodeNode(d *decoder, n *yaml.Node, key string) {
	e.Pos, e.Key = d.pos(n), key
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, key, "want an expression, got %s", kindName(n))
		return
	}
	e.Source = n.Value
	// Block scalars (`when: |`) start on the next line; point at the text.
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		e.Pos.Line++
	}
}

// Ref is an "app:entitlement" reference with the position it was written at.
type Ref struct {
	gatehouse.EntitlementRef
	Pos Pos
}

func (r *Ref) decodeNode(d *decoder, n *yaml.Node, key string) {
	r.Pos = d.pos(n)
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "want APP:ENTITLEMENT, got %s", kindName(n))
		return
	}
	ref, err := gatehouse.ParseEntitlementRef(n.Value)
	if err != nil {
		d.fail(n, key, "%v", err)
		return
	}
	r.EntitlementRef = ref
}

// Name is a string with the position it was written at, used for references
// (profile names, app names) so dangling ones can be located.
type Name struct {
	Value string
	Pos   Pos
}

func (nm *Name) decodeNode(d *decoder, n *yaml.Node, key string) {
	nm.Pos = d.pos(n)
	if n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
		d.fail(n, key, "want a name, got %s", kindName(n))
		return
	}
	nm.Value = strings.TrimSpace(n.Value)
}

func (nm Name) String() string { return nm.Value }

// Settings holds a connector's own settings block undecoded: each connector
// decodes it into its typed settings with Decode, strictly and with positions,
// so the config package needs no knowledge of connectors.
type Settings struct {
	node *yaml.Node
	file string
	key  string
	env  func(string) (string, bool)
	// fallback locates an absent settings block (at its app).
	fallback Pos
}

func (s *Settings) decodeNode(d *decoder, n *yaml.Node, key string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "want a mapping of connector settings, got %s", kindName(n))
		return
	}
	s.node, s.file, s.key, s.env = n, d.file, key, d.env
}

// IsZero reports whether no settings were written.
func (s Settings) IsZero() bool { return s.node == nil }

// Pos is where the settings block starts.
func (s Settings) Pos() Pos {
	if s.node == nil {
		if s.fallback.File != "" {
			return s.fallback
		}
		return Pos{File: s.file}
	}
	return Pos{File: s.file, Line: s.node.Line, Col: s.node.Column}
}

// Decode reads the settings into out (a pointer to a struct with yaml tags),
// rejecting unknown keys. Secret fields accept ${ENV} and the KEY_file form.
// Warnings (e.g. literal secrets) are returned with the errors but do not make
// the result fail; use SplitWarnings to tell them apart.
func (s Settings) Decode(out any) ErrorList {
	var errs ErrorList
	if s.node == nil {
		return nil
	}
	d := &decoder{file: s.file, errs: &errs, env: s.env}
	d.decodeValue(s.node, out, s.key)
	return errs
}

// NewSettings parses a YAML snippet into Settings, for tests and for
// connectors built programmatically.
func NewSettings(yamlText string) (Settings, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(yamlText), &doc); err != nil {
		return Settings{}, fmt.Errorf("parse settings: %w", err)
	}
	if len(doc.Content) == 0 {
		return Settings{}, nil
	}
	n := resolve(doc.Content[0])
	if n.Kind != yaml.MappingNode {
		return Settings{}, fmt.Errorf("settings must be a mapping")
	}
	return Settings{node: n, file: "<settings>", key: "settings", env: lookupEnv}, nil
}
