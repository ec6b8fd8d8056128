package hr

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/rules"
)

// generic is a JSON webhook described entirely in config: HMAC or token
// auth, and expressions (compiled once, at New) that map {body, headers}
// onto a person.
type generic struct {
	*base
	g          *config.HRGeneric
	deliveryID *rules.Program
	action     *rules.Program
	fields     map[string]*rules.Program
	order      []string
}

// genericEnv is the shape expressions are compiled against: names known,
// types dynamic (the body is arbitrary JSON).
func genericEnv() map[string]any {
	return map[string]any{"body": map[string]any{}, "headers": map[string]any{}}
}

// compileGeneric compiles every expression, reporting each failure at the
// expression's own position.
func compileGeneric(g *config.HRGeneric) (*generic, config.ErrorList) {
	out := &generic{g: g, fields: map[string]*rules.Program{}}
	var errs config.ErrorList
	compile := func(e config.Expr) *rules.Program {
		if e.IsZero() {
			return nil
		}
		p, err := rules.CompileExpr(e.Source, genericEnv(), rules.ResultAny)
		if err != nil {
			errs = append(errs, config.Error{Pos: e.Pos, Key: e.Key, Msg: err.Error()})
			return nil
		}
		return p
	}
	if g == nil {
		return out, nil
	}
	out.deliveryID = compile(g.DeliveryID)
	out.action = compile(g.Action)
	for f, e := range g.Mapping {
		if p := compile(e); p != nil {
			out.fields[f] = p
			out.order = append(out.order, f)
		}
	}
	sort.Strings(out.order)
	return out, errs
}

func (s *generic) authenticate(h http.Header, body []byte, now time.Time) error {
	switch s.g.Auth {
	case "hmac":
		key, err := s.secret()
		if err != nil {
			return err
		}
		hdr := s.g.SignatureHeader
		if hdr == "" {
			hdr = "X-Signature"
		}
		sig := strings.TrimSpace(h.Get(hdr))
		if sig == "" {
			return unauthorized("missing %s", hdr)
		}
		sig = strings.TrimPrefix(sig, s.g.Prefix)
		newHash := func() hash.Hash { return sha256.New() }
		if s.g.Algorithm == "sha512" {
			newHash = sha512.New
		}
		parts := [][]byte{body}
		var ts string
		if s.g.TimestampHeader != "" {
			if ts = h.Get(s.g.TimestampHeader); ts == "" {
				return unauthorized("missing %s", s.g.TimestampHeader)
			}
			parts = append(parts, []byte(ts))
		}
		enc := s.g.Encoding
		if enc == "" {
			enc = "hex"
		}
		if !checkMAC(sig, enc, macOf(newHash, []byte(key), parts...)) {
			return unauthorized("bad %s", hdr)
		}
		if ts != "" {
			t, err := parseTimestamp(ts)
			if err != nil {
				return unauthorized("%s: %v", s.g.TimestampHeader, err)
			}
			return checkWindow(t, now, s.window())
		}
		return nil
	default:
		tok, err := s.token()
		if err != nil {
			return err
		}
		hdr := s.g.TokenHeader
		if hdr == "" {
			hdr = "Authorization"
		}
		if !checkToken(h.Get(hdr), tok) {
			return unauthorized("bad or missing %s token", hdr)
		}
		return nil
	}
}

// parse evaluates the mapping. Headers are not available when a recorded
// delivery is parsed again, so expressions should read the body; headers
// are offered (empty) so that expressions naming them still compile and run.
func (s *generic) parse(_ string, body []byte) (parsed, error) {
	var v any
	if err := decodeJSON(body, &v); err != nil {
		return parsed{}, err
	}
	env := map[string]any{"body": normalizeNumbers(v), "headers": map[string]any{}}
	var p parsed
	if s.deliveryID != nil {
		id, err := s.deliveryID.EvalString(env)
		if err != nil {
			return p, malformed("delivery_id: %v", err)
		}
		p.DeliveryID = strings.TrimSpace(id)
	}
	act := ActionUpsert
	if s.action != nil {
		a, err := s.action.EvalString(env)
		if err != nil {
			return p, malformed("action: %v", err)
		}
		switch Action(lowerAction(a)) {
		case "", ActionUpsert:
		case ActionTerminate, ActionDelete, ActionLeave, ActionReturn, ActionIgnore:
			act = Action(lowerAction(a))
		case "ping":
			p.Ping = true
			return p, nil
		default:
			return p, malformed("action %q is not one of upsert, terminate, delete, leave, return, ignore", a)
		}
	}
	fs := fieldSet{}
	m := Mapping{}
	for _, f := range s.order {
		val, err := s.fields[f].EvalString(env)
		if err != nil {
			return p, malformed("mapping %s: %v", f, err)
		}
		fs[f], m[f] = val, f
	}
	r := mapRecord(s.n, fs, m, s.c.StatusMap)
	if act != ActionIgnore && r.EmployeeID == "" && r.Email == "" {
		return p, malformed("mapping gave neither employee_id nor email")
	}
	p.Deltas = []Delta{{Action: act, Record: r, Partial: true}}
	return p, nil
}

// normalizeNumbers turns json.Number into float64 or string so expressions
// compare numbers naturally.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			x[k] = normalizeNumbers(vv)
		}
		return x
	case []any:
		for i, vv := range x {
			x[i] = normalizeNumbers(vv)
		}
		return x
	case interface{ Float64() (float64, error) }:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return fmt.Sprint(x)
	}
	return v
}
