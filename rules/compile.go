package rules

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/gatehousehq/gatehouse/config"
)

// compiles counts expr compilations, so tests and benchmarks can assert that
// evaluation never compiles.
var compiles atomic.Int64

// Compiles returns how many expressions this process has compiled.
func Compiles() int64 { return compiles.Load() }

var timeType = reflect.TypeOf(time.Time{})

// helperPatch rewrites the pure helpers into expr's operators: inList(s, l)
// becomes `s in l` and matches(s, re) becomes `s matches re`, so that expr
// turns literal lists into sets and precompiles literal regexes (and rejects a
// bad literal regex at load, with its position).
type helperPatch struct{}

func (helperPatch) Visit(n *ast.Node) {
	c, ok := (*n).(*ast.CallNode)
	if !ok || len(c.Arguments) != 2 {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch id.Value {
	case "inList":
		ast.Patch(n, &ast.BinaryNode{Operator: "in", Left: c.Arguments[0], Right: c.Arguments[1]})
	case "matchesRe":
		ast.Patch(n, &ast.BinaryNode{Operator: "matches", Left: c.Arguments[0], Right: c.Arguments[1]})
	}
}

// renameMatches lets rules write matches(s, re): `matches` is an operator
// keyword to expr's parser, so a call spelt that way is renamed to the
// matchesRe helper before parsing (outside string literals). locate undoes
// the rename in error columns and messages.
func renameMatches(src string) string {
	if !strings.Contains(src, "matches") {
		return src
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		if quote != 0 {
			b.WriteByte(c)
			if c == '\\' && quote != '`' && i+1 < len(src) {
				i++
				b.WriteByte(src[i])
			} else if c == quote {
				quote = 0
			}
			continue
		}
		if c == '"' || c == '\'' || c == '`' {
			quote = c
			b.WriteByte(c)
			continue
		}
		if strings.HasPrefix(src[i:], "matches") && (i == 0 || !isIdentByte(src[i-1]) && src[i-1] != '.') {
			rest := strings.TrimLeft(src[i+len("matches"):], " \t")
			if strings.HasPrefix(rest, "(") {
				b.WriteString("matchesRe")
				i += len("matches") - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// personFields lists Person's expr names for error messages.
var personFields = func() string {
	t := reflect.TypeOf(Person{})
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Tag.Get("expr")
	}
	return strings.Join(names, ", ")
}()

// suggestField proposes a field one or two edits away from a typo.
func suggestField(f string) string {
	if best := config.Closest(f, strings.Split(personFields, ", ")); best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func exprOptions(loc *time.Location, out reflect.Type) []expr.Option {
	opts := []expr.Option{
		expr.Env(&Env{}),
		expr.Patch(helperPatch{}),
		// now() and friends would read the wall clock: rules see `now`,
		// fixed per evaluation, so that plans are reproducible.
		expr.DisableBuiltin("now"),
		expr.Timezone(loc.String()),
	}
	if out == nil {
		opts = append(opts, expr.AsBool())
	}
	return opts
}

// compileExpr compiles one rule expression. want is bool (when) or time.Time
// (expires). Errors are located in the config file.
func compileExpr(e config.Expr, key string, want reflect.Type, loc *time.Location, src func(string) []string) (*vm.Program, *config.Error) {
	compiles.Add(1)
	text := renameMatches(e.Source)
	var opts []expr.Option
	if want == timeType {
		opts = exprOptions(loc, timeType)
	} else {
		opts = exprOptions(loc, nil)
	}
	p, err := expr.Compile(text, opts...)
	if err != nil {
		return nil, locate(e, key, err, text, src)
	}
	got := p.Node().Type()
	if want == timeType && got != nil && got != timeType && got.Kind() != reflect.Interface {
		ce := &config.Error{Pos: exprPos(e, 0, 0, src), Key: key, Msg: "must be a time (e.g. identity.end_date), got " + typeName(got)}
		return nil, ce
	}
	return p, nil
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64:
		return "int"
	case reflect.Float64:
		return "float"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map:
		return "map"
	}
	if t == timeType {
		return "time"
	}
	return t.String()
}

// locate maps an expr error into the config file.
func locate(e config.Expr, key string, err error, text string, src func(string) []string) *config.Error {
	var fe *file.Error
	msg := err.Error()
	line, col := 0, 0
	if errors.As(err, &fe) {
		msg = fe.Message
		if fe.Line > 0 {
			line, col = fe.Line-1, fe.Column
			// undo the matches→matchesRe rename on this line
			lines := strings.Split(text, "\n")
			if line < len(lines) {
				before := lines[line][:min(col, len(lines[line]))]
				col -= 2 * strings.Count(before, "matchesRe")
			}
		}
	}
	msg = strings.ReplaceAll(msg, "matchesRe", "matches")
	if f, ok := strings.CutPrefix(msg, "type rules.Person has no field "); ok {
		if hint := suggestField(f); hint != "" {
			msg = "unknown field " + f + hint
		} else {
			msg = "unknown field " + f + " (a person has " + personFields + ")"
		}
	}
	msg = strings.ReplaceAll(msg, "rules.Env", "the rule environment")
	if rest, ok := strings.CutPrefix(msg, "expected bool, but got "); ok {
		msg = "must be boolean, got " + rest
		line, col = 0, 0
	}
	return &config.Error{Pos: exprPos(e, line, col, src), Key: key, Msg: msg}
}

// exprPos converts a position inside an expression (0-based line and column)
// into a file position. Config positions point at the scalar as written
// (the opening quote for quoted scalars); block scalars (`when: |`) start on
// the line after the indicator, at an indentation we read from the file.
func exprPos(e config.Expr, line, col int, src func(string) []string) config.Pos {
	p := e.Pos
	if p.Line == 0 {
		return p
	}
	var lines []string
	if src != nil {
		lines = src(p.File)
	}
	at := func(l, c int) byte { // 1-based
		if l < 1 || l > len(lines) || c < 1 || c > len(lines[l-1]) {
			return 0
		}
		return lines[l-1][c-1]
	}
	block := at(p.Line-1, p.Col) == '|' || at(p.Line-1, p.Col) == '>'
	switch {
	case block:
		// the scalar's indentation is that of its first line
		base := 0
		if p.Line <= len(lines) {
			base = indent(lines[p.Line-1])
		}
		p.Line += line
		p.Col = 1 + base + col
	case line > 0:
		p.Line += line
		p.Col = 1 + col
		if p.Line <= len(lines) {
			p.Col += indent(lines[p.Line-1])
		}
	default:
		if q := at(p.Line, p.Col); q == '"' || q == '\'' {
			p.Col++
		}
		p.Col += col
	}
	return p
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " \t")) }

// fileLines reads a config file's lines once, on the error path only.
func fileLines() func(string) []string {
	cache := map[string][]string{}
	return func(name string) []string {
		if l, ok := cache[name]; ok {
			return l
		}
		var lines []string
		if data, err := os.ReadFile(name); err == nil && len(data) <= config.MaxFileSize {
			lines = strings.Split(string(data), "\n")
		}
		cache[name] = lines
		return lines
	}
}

func ruleKey(r *config.Rule, i int) string {
	if r.Name != "" {
		return "rules." + r.Name
	}
	return fmt.Sprintf("rules[%d]", i)
}
