package rules

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// ResultKind constrains what a standalone expression must return.
type ResultKind int

// Result kinds for CompileExpr.
const (
	ResultAny ResultKind = iota
	ResultBool
	ResultString
)

// Program is a compiled standalone expression, used outside the policy rules
// wherever config carries logic: the declarative HTTP connector (reading
// responses and paging), the generic HR webhook's field mapping. Compiling
// happens once at config load; Eval is safe for concurrent use.
type Program struct {
	src  string
	kind ResultKind
	prog *vm.Program
}

// CompileExpr compiles src against env, a sample environment value: a struct
// (typed checking) or a map[string]any (names known, types dynamic). The
// environment passed to Eval must have the same shape.
func CompileExpr(src string, env any, kind ResultKind) (*Program, error) {
	opts := []expr.Option{expr.Env(env)}
	switch kind {
	case ResultBool:
		opts = append(opts, expr.AsBool())
	case ResultString:
		opts = append(opts, expr.AsKind(reflect.String))
	}
	if _, ok := env.(map[string]any); ok {
		opts = append(opts, expr.AllowUndefinedVariables())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("compile %q: %w", src, err)
	}
	return &Program{src: src, kind: kind, prog: p}, nil
}

// Source returns the expression text.
func (p *Program) Source() string { return p.src }

// Eval runs the program. Runtime errors (nil member access on hostile input,
// wrong types in dynamic data) are returned, never panics.
func (p *Program) Eval(env any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("evaluate %q: %v", p.src, r)
		}
	}()
	out, err = expr.Run(p.prog, env)
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", p.src, err)
	}
	return out, nil
}

// EvalBool runs a boolean program.
func (p *Program) EvalBool(env any) (bool, error) {
	v, err := p.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("evaluate %q: got %T, want bool", p.src, v)
	}
	return b, nil
}

// EvalString runs a program that yields a string; nil yields "".
func (p *Program) EvalString(env any) (string, error) {
	v, err := p.Eval(env)
	if err != nil || v == nil {
		return "", err
	}
	switch s := v.(type) {
	case string:
		return s, nil
	case fmt.Stringer:
		return s.String(), nil
	case float64, int, int64, bool:
		return fmt.Sprint(s), nil
	}
	return "", fmt.Errorf("evaluate %q: got %T, want a string", p.src, v)
}
