package oktatest

import (
	"errors"
	"fmt"
	"strings"
)

// parseExpr parses the subset of Okta's filter/search expression language
// the fake understands: ATTR eq|sw|co "VALUE" terms joined by and/or, with
// parentheses. Values are double-quoted with \" and \\ escapes; an
// unescaped quote inside a value or trailing input is an error, as it is
// for Okta. filter compares case-sensitively, search does not.
func parseExpr[T any](expr string, caseSensitive bool, attr func(T, string) (string, bool)) (func(T) bool, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &exprParser[T]{toks: toks, cs: caseSensitive, attr: attr}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i].v)
	}
	return f, nil
}

type token struct {
	v      string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			out = append(out, token{v: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, errors.New("unterminated string")
			}
			out = append(out, token{v: b.String(), quoted: true})
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '"' {
				j++
			}
			out = append(out, token{v: s[i:j]})
			i = j
		}
	}
	return out, nil
}

type exprParser[T any] struct {
	toks []token
	i    int
	cs   bool
	attr func(T, string) (string, bool)
}

func (p *exprParser[T]) peekWord(w string) bool {
	return p.i < len(p.toks) && !p.toks[p.i].quoted && strings.EqualFold(p.toks[p.i].v, w)
}

func (p *exprParser[T]) or() (func(T) bool, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		ll := l
		l = func(x T) bool { return ll(x) || r(x) }
	}
	return l, nil
}

func (p *exprParser[T]) and() (func(T) bool, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.i++
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		ll := l
		l = func(x T) bool { return ll(x) && r(x) }
	}
	return l, nil
}

func (p *exprParser[T]) term() (func(T) bool, error) {
	if p.peekWord("(") {
		p.i++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peekWord(")") {
			return nil, errors.New("missing )")
		}
		p.i++
		return f, nil
	}
	if p.i+3 > len(p.toks) {
		return nil, errors.New("incomplete expression")
	}
	name, op, val := p.toks[p.i], p.toks[p.i+1], p.toks[p.i+2]
	p.i += 3
	if name.quoted || op.quoted || !val.quoted {
		return nil, fmt.Errorf("want ATTR OP \"VALUE\" near %q", name.v)
	}
	var cmp func(a, b string) bool
	switch strings.ToLower(op.v) {
	case "eq":
		cmp = func(a, b string) bool { return a == b }
	case "sw":
		cmp = strings.HasPrefix
	case "co":
		cmp = strings.Contains
	default:
		return nil, fmt.Errorf("unsupported operator %q", op.v)
	}
	want := val.v
	return func(x T) bool {
		got, ok := p.attr(x, name.v)
		if !ok {
			return false
		}
		if !p.cs {
			got, want := strings.ToLower(got), strings.ToLower(want)
			return cmp(got, want)
		}
		return cmp(got, want)
	}, nil
}
