package rules

import (
	"maps"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Attribute is an identity attribute the rules read (identity.attributes.X,
// attr("X"), identity.seniority), with the literal values they compare it
// against. Intake surfaces (the /onboard modal) ask for exactly these, so a
// person entered by hand can reach every profile an HR record can.
type Attribute struct {
	Name string
	// Values are the literals the rules compare the attribute with
	// (== "x", != "x", in ["x", "y"]), sorted.
	Values []string
	// Open means some rule also reads it another way (matches, startsWith,
	// a comparison with a non-literal): any value may matter, so a fixed
	// list of Values is not enough.
	Open bool
}

// Attributes lists the attributes the compiled rules' `when` conditions
// read, by name. It walks the type-checked trees expr produced at Compile
// (the same ones the native evaluator and the guard index use).
func (e *Engine) Attributes() []Attribute {
	byName := map[string]*Attribute{}
	get := func(name string) *Attribute {
		a := byName[name]
		if a == nil {
			a = &Attribute{Name: name}
			byName[name] = a
		}
		return a
	}
	for _, r := range e.rules {
		if r.when == nil {
			continue
		}
		root := r.when.Node()
		// First the literal comparisons, remembering their operands; then
		// every other read of an attribute makes it open-ended.
		compared := map[ast.Node]bool{}
		ast.Walk(&root, visitor(func(n ast.Node) {
			b, ok := n.(*ast.BinaryNode)
			if !ok {
				return
			}
			for _, side := range [][2]ast.Node{{b.Left, b.Right}, {b.Right, b.Left}} {
				name := attributeRead(side[0])
				if name == "" {
					continue
				}
				if vals, ok := literals(b.Operator, side[1]); ok {
					a := get(name)
					for _, v := range vals {
						if !slices.Contains(a.Values, v) {
							a.Values = append(a.Values, v)
						}
					}
					compared[side[0]] = true
				}
			}
		}))
		ast.Walk(&root, visitor(func(n ast.Node) {
			if name := attributeRead(n); name != "" && !compared[n] {
				get(name).Open = true
			}
		}))
	}
	out := make([]Attribute, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		a := byName[name]
		slices.Sort(a.Values)
		out = append(out, *a)
	}
	return out
}

type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }

// attributeRead names the attribute n reads from `identity`, or "".
func attributeRead(n ast.Node) string {
	f := guardOperand(n)
	if name, ok := strings.CutPrefix(f, "attr:"); ok {
		return name
	}
	if f == "seniority" { // identity.seniority is attributes["seniority"]
		return f
	}
	return ""
}

// literals returns the string constants of a comparison's other side.
func literals(op string, n ast.Node) ([]string, bool) {
	switch op {
	case "==", "!=":
		if s, ok := n.(*ast.StringNode); ok {
			return []string{s.Value}, true
		}
	case "in", "not in":
		switch c := n.(type) {
		case *ast.ConstantNode:
			if set, ok := c.Value.(map[string]struct{}); ok {
				return slices.Collect(maps.Keys(set)), true
			}
			if list, ok := c.Value.([]any); ok {
				var out []string
				for _, x := range list {
					s, ok := x.(string)
					if !ok {
						return nil, false
					}
					out = append(out, s)
				}
				return out, true
			}
		case *ast.ArrayNode:
			var out []string
			for _, x := range c.Nodes {
				s, ok := x.(*ast.StringNode)
				if !ok {
					return nil, false
				}
				out = append(out, s.Value)
			}
			return out, true
		}
	}
	return nil, false
}
