package rules

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
)

// The native evaluator. expr's VM costs a few hundred nanoseconds per rule
// (reflection to read struct fields, boxing strings into interfaces); with
// hundreds of rules that is most of a plan. Most conditions are comparisons
// of identity fields with literals joined by && and ||, so after expr has
// parsed, type-checked and optimized an expression, translate turns its
// typed AST into Go closures over *Env. Anything outside the supported subset
// makes translate return nil and the rule runs on the VM. The language, the
// type checking and the error messages are expr's either way; a differential
// test (TestNativeMatchesVM) keeps the two evaluators in agreement.

// val is a translated sub-expression: exactly one of the functions is set,
// by the expression's type.
type val struct {
	b   func(*Env) bool
	s   func(*Env) string
	i   func(*Env) int
	t   func(*Env) time.Time
	p   func(*Env) *Person
	m   func(*Env) map[string]string
	set map[string]struct{} // a constant string set (`x in ["a", "b"]`)
	nil bool                // the literal nil
	// constant string, for regexes
	isConst bool
	cs      string
	// pf reads a string field of `identity` (never nil), so comparisons
	// with constants need one indirect call instead of a chain
	pf func(*Person) string
}

// translate returns a native evaluator for a boolean expression, or nil.
func translate(n ast.Node) func(*Env) bool {
	v, ok := tr(n)
	if !ok || v.b == nil {
		return nil
	}
	return v.b
}

func fetchErr(field, from string) string {
	return fmt.Sprintf("cannot fetch %s from %s: it is nil (use `%s != nil && …`)", field, from, from)
}

func tr(n ast.Node) (val, bool) {
	switch n := n.(type) {
	case *ast.BoolNode:
		c := n.Value
		return val{b: func(*Env) bool { return c }}, true
	case *ast.StringNode:
		c := n.Value
		return val{s: func(*Env) string { return c }, isConst: true, cs: c}, true
	case *ast.IntegerNode:
		c := n.Value
		return val{i: func(*Env) int { return c }}, true
	case *ast.NilNode:
		return val{nil: true}, true
	case *ast.ConstantNode:
		switch c := n.Value.(type) {
		case map[string]struct{}:
			return val{set: c}, true
		case string:
			return val{s: func(*Env) string { return c }, isConst: true, cs: c}, true
		case bool:
			return val{b: func(*Env) bool { return c }}, true
		case int:
			return val{i: func(*Env) int { return c }}, true
		}
	case *ast.IdentifierNode:
		switch n.Value {
		case "identity":
			return val{p: func(e *Env) *Person { return e.Identity }}, true
		case "previous":
			return val{p: func(e *Env) *Person { return e.Previous }}, true
		case "event":
			return val{s: func(e *Env) string { return e.Event }}, true
		case "now":
			return val{t: func(e *Env) time.Time { return e.Now }}, true
		}
	case *ast.MemberNode:
		return trMember(n)
	case *ast.UnaryNode:
		x, ok := tr(n.Node)
		if !ok {
			break
		}
		switch {
		case (n.Operator == "!" || n.Operator == "not") && x.b != nil:
			f := x.b
			return val{b: func(e *Env) bool { return !f(e) }}, true
		case n.Operator == "-" && x.i != nil:
			f := x.i
			return val{i: func(e *Env) int { return -f(e) }}, true
		}
	case *ast.BinaryNode:
		return trBinary(n)
	case *ast.CallNode:
		return trCall(n)
	case *ast.BuiltinNode:
		if len(n.Arguments) == 1 {
			return trFunc(n.Name, n.Arguments[0])
		}
	case *ast.ConditionalNode:
		c, ok1 := tr(n.Cond)
		a, ok2 := tr(n.Exp1)
		b, ok3 := tr(n.Exp2)
		if !ok1 || !ok2 || !ok3 || c.b == nil {
			break
		}
		cf := c.b
		switch {
		case a.b != nil && b.b != nil:
			x, y := a.b, b.b
			return val{b: func(e *Env) bool {
				if cf(e) {
					return x(e)
				}
				return y(e)
			}}, true
		case a.s != nil && b.s != nil:
			x, y := a.s, b.s
			return val{s: func(e *Env) string {
				if cf(e) {
					return x(e)
				}
				return y(e)
			}}, true
		}
	}
	return val{}, false
}

func trMember(n *ast.MemberNode) (val, bool) {
	if n.Optional || n.Method {
		return val{}, false
	}
	base, ok := tr(n.Node)
	if !ok {
		return val{}, false
	}
	prop, ok := tr(n.Property)
	if !ok || prop.s == nil {
		return val{}, false
	}
	if base.m != nil {
		// identity.attributes["x"] / .x: a missing key reads as "".
		m, k := base.m, prop.s
		return val{s: func(e *Env) string { return m(e)[k(e)] }}, true
	}
	if base.p == nil || !prop.isConst {
		return val{}, false
	}
	get, name := base.p, prop.cs
	from := "identity"
	if id, ok := n.Node.(*ast.IdentifierNode); ok {
		from = id.Value
	}
	person := func(e *Env) *Person {
		p := get(e)
		if p == nil {
			panic(fetchErr(name, from))
		}
		return p
	}
	str := func(f func(*Person) string) (val, bool) {
		if from == "identity" {
			return val{s: func(e *Env) string { return f(e.Identity) }, pf: f}, true
		}
		return val{s: func(e *Env) string { return f(person(e)) }}, true
	}
	tm := func(f func(*Person) time.Time) (val, bool) {
		return val{t: func(e *Env) time.Time { return f(person(e)) }}, true
	}
	switch name {
	case "kind":
		return str(func(p *Person) string { return p.Kind })
	case "email":
		return str(func(p *Person) string { return p.Email })
	case "name":
		return str(func(p *Person) string { return p.Name })
	case "employee_id":
		return str(func(p *Person) string { return p.EmployeeID })
	case "department":
		return str(func(p *Person) string { return p.Department })
	case "team":
		return str(func(p *Person) string { return p.Team })
	case "title":
		return str(func(p *Person) string { return p.Title })
	case "location":
		return str(func(p *Person) string { return p.Location })
	case "manager_email":
		return str(func(p *Person) string { return p.ManagerEmail })
	case "status":
		return str(func(p *Person) string { return p.Status })
	case "owner":
		return str(func(p *Person) string { return p.Owner })
	case "purpose":
		return str(func(p *Person) string { return p.Purpose })
	case "seniority":
		return str(func(p *Person) string { return p.Seniority })
	case "start_date":
		return tm(func(p *Person) time.Time { return p.StartDate })
	case "end_date":
		return tm(func(p *Person) time.Time { return p.EndDate })
	case "expiry":
		return tm(func(p *Person) time.Time { return p.Expiry })
	case "is_human":
		return val{b: func(e *Env) bool { return person(e).IsHuman }}, true
	case "attributes":
		return val{m: func(e *Env) map[string]string { return person(e).Attributes }}, true
	}
	return val{}, false
}

func trBinary(n *ast.BinaryNode) (val, bool) {
	l, ok1 := tr(n.Left)
	r, ok2 := tr(n.Right)
	if !ok1 || !ok2 {
		return val{}, false
	}
	op := n.Operator
	switch op {
	case "&&", "and":
		if l.b != nil && r.b != nil {
			a, b := l.b, r.b
			return val{b: func(e *Env) bool { return a(e) && b(e) }}, true
		}
	case "||", "or":
		if l.b != nil && r.b != nil {
			a, b := l.b, r.b
			return val{b: func(e *Env) bool { return a(e) || b(e) }}, true
		}
	case "==", "!=":
		var eq func(*Env) bool
		switch {
		case l.s != nil && r.s != nil:
			a, b := l.s, r.s
			if r.isConst && l.pf != nil {
				c, f := r.cs, l.pf
				eq = func(e *Env) bool { return f(e.Identity) == c }
			} else if r.isConst {
				c := r.cs
				eq = func(e *Env) bool { return a(e) == c }
			} else {
				eq = func(e *Env) bool { return a(e) == b(e) }
			}
		case l.b != nil && r.b != nil:
			a, b := l.b, r.b
			eq = func(e *Env) bool { return a(e) == b(e) }
		case l.i != nil && r.i != nil:
			a, b := l.i, r.i
			eq = func(e *Env) bool { return a(e) == b(e) }
		case l.t != nil && r.t != nil:
			a, b := l.t, r.t
			eq = func(e *Env) bool { return a(e).Equal(b(e)) }
		case l.p != nil && r.nil:
			a := l.p
			eq = func(e *Env) bool { return a(e) == nil }
		case l.nil && r.p != nil:
			a := r.p
			eq = func(e *Env) bool { return a(e) == nil }
		}
		if eq == nil {
			return val{}, false
		}
		if op == "!=" {
			return val{b: func(e *Env) bool { return !eq(e) }}, true
		}
		return val{b: eq}, true
	case "<", ">", "<=", ">=":
		var cmp func(*Env) int
		switch {
		case l.i != nil && r.i != nil:
			a, b := l.i, r.i
			cmp = func(e *Env) int { x, y := a(e), b(e); return compare(x < y, x > y) }
		case l.s != nil && r.s != nil:
			a, b := l.s, r.s
			cmp = func(e *Env) int { return strings.Compare(a(e), b(e)) }
		case l.t != nil && r.t != nil:
			a, b := l.t, r.t
			cmp = func(e *Env) int { return a(e).Compare(b(e)) }
		default:
			return val{}, false
		}
		switch op {
		case "<":
			return val{b: func(e *Env) bool { return cmp(e) < 0 }}, true
		case ">":
			return val{b: func(e *Env) bool { return cmp(e) > 0 }}, true
		case "<=":
			return val{b: func(e *Env) bool { return cmp(e) <= 0 }}, true
		default:
			return val{b: func(e *Env) bool { return cmp(e) >= 0 }}, true
		}
	case "in":
		switch {
		case l.pf != nil && r.set != nil:
			f, set := l.pf, r.set
			return val{b: func(e *Env) bool { _, ok := set[f(e.Identity)]; return ok }}, true
		case l.s != nil && r.set != nil:
			a, set := l.s, r.set
			return val{b: func(e *Env) bool { _, ok := set[a(e)]; return ok }}, true
		case l.s != nil && r.m != nil:
			a, m := l.s, r.m
			return val{b: func(e *Env) bool { _, ok := m(e)[a(e)]; return ok }}, true
		}
	case "matches":
		if l.s != nil && r.isConst {
			re, err := regexp.Compile(r.cs)
			if err != nil {
				return val{}, false
			}
			a := l.s
			return val{b: func(e *Env) bool { return re.MatchString(a(e)) }}, true
		}
	case "contains", "startsWith", "endsWith":
		if l.s != nil && r.s != nil {
			a, b := l.s, r.s
			f := strings.Contains
			if op == "startsWith" {
				f = strings.HasPrefix
			} else if op == "endsWith" {
				f = strings.HasSuffix
			}
			return val{b: func(e *Env) bool { return f(a(e), b(e)) }}, true
		}
	}
	return val{}, false
}

func compare(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

func trCall(n *ast.CallNode) (val, bool) {
	if m, ok := n.Callee.(*ast.MemberNode); ok && len(n.Arguments) == 0 {
		// time methods used in rules: identity.end_date.IsZero()
		prop, ok := m.Property.(*ast.StringNode)
		if !ok || prop.Value != "IsZero" || m.Optional {
			return val{}, false
		}
		base, ok := tr(m.Node)
		if !ok || base.t == nil {
			return val{}, false
		}
		f := base.t
		return val{b: func(e *Env) bool { return f(e).IsZero() }}, true
	}
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || len(n.Arguments) != 1 {
		return val{}, false
	}
	return trFunc(id.Value, n.Arguments[0])
}

func trFunc(name string, argNode ast.Node) (val, bool) {
	arg, ok := tr(argNode)
	if !ok {
		return val{}, false
	}
	switch {
	case name == "hasAttr" && arg.s != nil:
		k := arg.s
		return val{b: func(e *Env) bool { _, ok := e.Identity.Attributes[k(e)]; return ok }}, true
	case name == "attr" && arg.s != nil:
		k := arg.s
		return val{s: func(e *Env) string { return e.Identity.Attributes[k(e)] }}, true
	case name == "daysUntil" && arg.t != nil:
		t := arg.t
		return val{i: func(e *Env) int { return e.DaysUntil(t(e)) }}, true
	case name == "lower" && arg.s != nil:
		f := arg.s
		return val{s: func(e *Env) string { return strings.ToLower(f(e)) }}, true
	case name == "upper" && arg.s != nil:
		f := arg.s
		return val{s: func(e *Env) string { return strings.ToUpper(f(e)) }}, true
	case name == "trim" && arg.s != nil:
		f := arg.s
		return val{s: func(e *Env) string { return strings.TrimSpace(f(e)) }}, true
	}
	return val{}, false
}

// A guard is a condition every match of a rule needs, found at the left end
// of its && chain: `identity.department == "Sales" && …`. Rules with guards
// are indexed by the guarded value, so Plan skips them with one map lookup
// per field instead of evaluating each. Only the leftmost conjunct is used:
// expr evaluates left to right and stops at the first false, so skipping on
// it never hides a runtime error the rule would have raised.
type guard struct {
	field  string // identity field, or "attr:" + attribute name
	values []string
}

var guardFields = map[string]func(*Person) string{
	"kind":          func(p *Person) string { return p.Kind },
	"email":         func(p *Person) string { return p.Email },
	"employee_id":   func(p *Person) string { return p.EmployeeID },
	"department":    func(p *Person) string { return p.Department },
	"team":          func(p *Person) string { return p.Team },
	"title":         func(p *Person) string { return p.Title },
	"location":      func(p *Person) string { return p.Location },
	"manager_email": func(p *Person) string { return p.ManagerEmail },
	"status":        func(p *Person) string { return p.Status },
	"owner":         func(p *Person) string { return p.Owner },
	"seniority":     func(p *Person) string { return p.Seniority },
}

func guardGetter(field string) func(*Person) string {
	if k, ok := strings.CutPrefix(field, "attr:"); ok {
		return func(p *Person) string { return p.Attributes[k] }
	}
	return guardFields[field]
}

func findGuard(n ast.Node) *guard {
	for {
		b, ok := n.(*ast.BinaryNode)
		if !ok || (b.Operator != "&&" && b.Operator != "and") {
			break
		}
		n = b.Left
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil
	}
	field := guardOperand(b.Left)
	switch b.Operator {
	case "==":
		if s, ok := b.Right.(*ast.StringNode); ok && field != "" {
			return &guard{field: field, values: []string{s.Value}}
		}
	case "in":
		if c, ok := b.Right.(*ast.ConstantNode); ok && field != "" {
			if set, ok := c.Value.(map[string]struct{}); ok {
				g := &guard{field: field}
				for v := range set {
					g.values = append(g.values, v)
				}
				return g
			}
		}
	}
	return nil
}

// guardOperand names identity.F or attr("x") / identity.attributes["x"].
func guardOperand(n ast.Node) string {
	switch n := n.(type) {
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Optional {
			return ""
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "identity" {
			if _, ok := guardFields[prop.Value]; ok {
				return prop.Value
			}
		}
		if m, ok := n.Node.(*ast.MemberNode); ok && !m.Optional {
			if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "identity" {
				if p, ok := m.Property.(*ast.StringNode); ok && p.Value == "attributes" {
					return "attr:" + prop.Value
				}
			}
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "attr" && len(n.Arguments) == 1 {
			if s, ok := n.Arguments[0].(*ast.StringNode); ok {
				return "attr:" + s.Value
			}
		}
	}
	return ""
}
