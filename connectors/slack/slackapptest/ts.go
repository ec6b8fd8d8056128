package slackapptest

import (
	"fmt"
	"strings"
	"unicode"
)

// The declaration-file subset @slack/web-api's types use, parsed into a
// small type model.

type tsKind int

const (
	kPrim    tsKind = iota // string, number, boolean, any, unknown, null, undefined, object
	kLiteral               // 'a string literal' (name holds it); numbers and true/false become kPrim
	kRef                   // a named type, maybe with type arguments
	kObject                // an interface or object literal
	kArray
	kUnion
	kInter
)

type tsType struct {
	kind    tsKind
	name    string
	args    []*tsType
	fields  map[string]tsField
	index   bool      // has an index signature: any further field is allowed
	extends []*tsType // interface heritage
	members []*tsType // union and intersection members
	elem    *tsType   // array element
}

type tsField struct {
	t    *tsType
	opt  bool
	file *tsFile // where t's names resolve (set when flattened)
}

type tsFile struct {
	path    string
	decls   map[string]*tsType
	imports []string
}

// stripComments removes // and /* */ comments (string literals in these
// files never contain comment markers outside JSDoc).
func stripComments(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		switch {
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
		case strings.HasPrefix(src[i:], "//"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				return b.String()
			}
			i += end - 1
		case src[i] == '\'' || src[i] == '"' || src[i] == '`':
			q := src[i]
			j := i + 1
			for j < len(src) && src[j] != q && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				j = len(src) - 1
			}
			b.WriteString(src[i : j+1])
			i = j
		default:
			b.WriteByte(src[i])
		}
	}
	return b.String()
}

type tok struct {
	s   string
	str bool // a string literal (s is its content)
}

func tokenize(src string) []tok {
	var out []tok
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			out = append(out, tok{s: src[i+1 : min(j, len(src))], str: true})
			i = j + 1
		case strings.HasPrefix(src[i:], "=>") || strings.HasPrefix(src[i:], "..."):
			n := 2
			if c == '.' {
				n = 3
			}
			out = append(out, tok{s: src[i : i+n]})
			i += n
		case c == '_' || c == '$' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || c == '-' && i+1 < len(src) && unicode.IsDigit(rune(src[i+1])):
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] == '$' || src[j] == '.' && j+1 < len(src) && unicode.IsDigit(rune(src[j+1])) || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			out = append(out, tok{s: src[i:j]})
			i = j
		default:
			out = append(out, tok{s: string(c)})
			i++
		}
	}
	return out
}

type tsParser struct {
	toks []tok
	pos  int
	path string
}

func (p *tsParser) peek() tok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return tok{s: "\x00"}
}

func (p *tsParser) next() tok {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *tsParser) is(s string) bool { t := p.peek(); return !t.str && t.s == s }

func (p *tsParser) accept(s string) bool {
	if p.is(s) {
		p.pos++
		return true
	}
	return false
}

func (p *tsParser) expect(s string) error {
	if !p.accept(s) {
		return fmt.Errorf("%s: want %q at token %d, got %q", p.path, s, p.pos, p.peek().s)
	}
	return nil
}

// skipStatement skips to the ';' ending the current statement at depth 0.
func (p *tsParser) skipStatement() {
	depth := 0
	for p.pos < len(p.toks) {
		t := p.next()
		if t.str {
			continue
		}
		switch t.s {
		case "{", "(", "[":
			depth++
		case "}", ")", "]":
			depth--
		case ";":
			if depth <= 0 {
				return
			}
		}
	}
}

// parseTS parses one .d.ts file's interfaces, type aliases and imports.
func parseTS(path, src string) (*tsFile, error) {
	f := &tsFile{path: path, decls: map[string]*tsType{}}
	p := &tsParser{toks: tokenize(stripComments(src)), path: path}
	for p.pos < len(p.toks) {
		for p.accept("export") || p.accept("declare") {
		}
		switch {
		case p.is("type") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].s != "{" && !p.toks[p.pos+1].str:
			p.next()
			name := p.next().s
			p.skipGenericParams()
			if err := p.expect("="); err != nil {
				return nil, err
			}
			t, err := p.parseType()
			if err != nil {
				return nil, fmt.Errorf("type %s: %w", name, err)
			}
			p.accept(";")
			f.decls[name] = t
		case p.accept("interface"):
			name := p.next().s
			p.skipGenericParams()
			obj := &tsType{kind: kObject}
			if p.accept("extends") {
				for {
					t, err := p.parsePostfix()
					if err != nil {
						return nil, err
					}
					obj.extends = append(obj.extends, t)
					if !p.accept(",") {
						break
					}
				}
			}
			body, err := p.parseObject()
			if err != nil {
				return nil, fmt.Errorf("interface %s: %w", name, err)
			}
			obj.fields, obj.index = body.fields, body.index
			f.decls[name] = obj
		case p.accept("import") || p.is("type") || p.is("{") || p.is("*"):
			// Imports and re-exports ("export type { X } from './x'") both
			// make the named file's declarations visible here.
			start := p.pos
			p.skipStatement()
			for i := start; i < p.pos; i++ {
				if !p.toks[i].str && p.toks[i].s == "from" && i+1 < len(p.toks) && p.toks[i+1].str {
					f.imports = append(f.imports, p.toks[i+1].s)
				}
			}
		default:
			p.skipStatement()
		}
	}
	return f, nil
}

func (p *tsParser) skipGenericParams() {
	if !p.is("<") {
		return
	}
	depth := 0
	for p.pos < len(p.toks) {
		t := p.next()
		if t.s == "<" && !t.str {
			depth++
		} else if t.s == ">" && !t.str {
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

func (p *tsParser) parseType() (*tsType, error) {
	p.accept("|")
	var members []*tsType
	for {
		t, err := p.parseInter()
		if err != nil {
			return nil, err
		}
		members = append(members, t)
		if !p.accept("|") {
			break
		}
	}
	if len(members) == 1 {
		return members[0], nil
	}
	return &tsType{kind: kUnion, members: members}, nil
}

func (p *tsParser) parseInter() (*tsType, error) {
	p.accept("&")
	var members []*tsType
	for {
		t, err := p.parsePostfix()
		if err != nil {
			return nil, err
		}
		members = append(members, t)
		if !p.accept("&") {
			break
		}
	}
	if len(members) == 1 {
		return members[0], nil
	}
	return &tsType{kind: kInter, members: members}, nil
}

func (p *tsParser) parsePostfix() (*tsType, error) {
	t, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for p.is("[") && p.pos+1 < len(p.toks) {
		if p.toks[p.pos+1].s == "]" && !p.toks[p.pos+1].str {
			p.pos += 2
			t = &tsType{kind: kArray, elem: t}
			continue
		}
		// An indexed access type, X['field']: opaque.
		p.next()
		p.skipBalanced("[", "]")
		t = &tsType{kind: kPrim, name: "any"}
	}
	return t, nil
}

var prims = map[string]bool{"string": true, "number": true, "boolean": true, "any": true, "unknown": true, "null": true,
	"undefined": true, "object": true, "never": true, "void": true, "bigint": true}

func (p *tsParser) parsePrimary() (*tsType, error) {
	t := p.peek()
	if t.str {
		p.next()
		return &tsType{kind: kLiteral, name: t.s}, nil
	}
	switch {
	case t.s == "(":
		p.next()
		// A function type "(a: T) => U" is opaque to us.
		start := p.pos
		inner, err := p.parseType()
		if err != nil || !p.is(")") {
			p.pos = start
			p.skipBalanced("(", ")")
			if p.accept("=>") {
				if _, err := p.parseType(); err != nil {
					return nil, err
				}
			}
			return &tsType{kind: kPrim, name: "any"}, nil
		}
		p.next()
		if p.accept("=>") {
			if _, err := p.parseType(); err != nil {
				return nil, err
			}
			return &tsType{kind: kPrim, name: "any"}, nil
		}
		return inner, nil
	case t.s == "{":
		return p.parseObject()
	case t.s == "[":
		p.next()
		var elem *tsType
		for !p.is("]") {
			p.accept("...")
			e, err := p.parseType()
			if err != nil {
				return nil, err
			}
			if elem == nil {
				elem = e
			}
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		if elem == nil {
			elem = &tsType{kind: kPrim, name: "any"}
		}
		return &tsType{kind: kArray, elem: elem}, nil
	case t.s == "true" || t.s == "false":
		p.next()
		return &tsType{kind: kPrim, name: "boolean"}, nil
	case t.s == "typeof" || t.s == "keyof":
		p.next()
		if _, err := p.parsePrimary(); err != nil {
			return nil, err
		}
		return &tsType{kind: kPrim, name: "any"}, nil
	case len(t.s) > 0 && (unicode.IsDigit(rune(t.s[0])) || t.s[0] == '-'):
		p.next()
		return &tsType{kind: kPrim, name: "number"}, nil
	case prims[t.s]:
		p.next()
		return &tsType{kind: kPrim, name: t.s}, nil
	case len(t.s) > 0 && (t.s[0] == '_' || t.s[0] == '$' || unicode.IsLetter(rune(t.s[0]))):
		p.next()
		name := t.s
		for p.accept(".") {
			name += "." + p.next().s
		}
		ref := &tsType{kind: kRef, name: name}
		if p.accept("<") {
			for !p.is(">") {
				a, err := p.parseType()
				if err != nil {
					return nil, err
				}
				ref.args = append(ref.args, a)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect(">"); err != nil {
				return nil, err
			}
		}
		return ref, nil
	}
	return nil, fmt.Errorf("%s: unexpected token %q at %d", p.path, t.s, p.pos)
}

func (p *tsParser) skipBalanced(open, close string) {
	depth := 1
	for p.pos < len(p.toks) && depth > 0 {
		t := p.next()
		if t.str {
			continue
		}
		if t.s == open {
			depth++
		} else if t.s == close {
			depth--
		}
	}
}

func (p *tsParser) parseObject() (*tsType, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	obj := &tsType{kind: kObject, fields: map[string]tsField{}}
	for !p.is("}") {
		if p.pos >= len(p.toks) {
			return nil, fmt.Errorf("%s: unterminated object", p.path)
		}
		p.accept("readonly")
		if p.accept("[") { // index signature [key: string]: T
			p.skipBalanced("[", "]")
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if _, err := p.parseType(); err != nil {
				return nil, err
			}
			obj.index = true
		} else {
			name := p.next().s
			opt := p.accept("?")
			switch {
			case p.accept(":"):
				t, err := p.parseType()
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", name, err)
				}
				obj.fields[name] = tsField{t: t, opt: opt}
			case p.is("(") || p.is("<"): // a method signature
				p.skipGenericParams()
				p.next()
				p.skipBalanced("(", ")")
				if p.accept(":") {
					if _, err := p.parseType(); err != nil {
						return nil, err
					}
				}
			default:
				return nil, fmt.Errorf("%s: bad member %q", p.path, name)
			}
		}
		if !p.accept(";") && !p.accept(",") && !p.is("}") {
			return nil, fmt.Errorf("%s: want ; or } after member, got %q", p.path, p.peek().s)
		}
	}
	p.next()
	return obj, nil
}
