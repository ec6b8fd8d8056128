package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// Lint evaluates every rule against sample identities (each kind, as a joiner
// and as a mover) and reports rules that fail at run time, typically
// `previous.x` without `previous != nil`, which would make every such plan
// fail. The findings are warnings located at the rule's expression: whether
// they bite depends on real data.
func (e *Engine) Lint() config.ErrorList {
	var out config.ErrorList
	seen := map[string]bool{}
	src := fileLines()
	now := time.Date(2026, 1, 15, 9, 0, 0, 0, e.loc)
	for _, kind := range gatehouse.IdentityKinds {
		id := gatehouse.Identity{Kind: kind, Email: "lint@example.com", Name: "Lint", Attributes: map[string]string{}}
		if !kind.Human() {
			id.Owner, id.Purpose, id.Expiry = "owner@example.com", "lint", gatehouse.Date{Year: 2027, Month: 1, Day: 1}
		}
		if kind == gatehouse.KindContractor {
			id.EndDate = gatehouse.Date{Year: 2026, Month: 6, Day: 30}
		}
		for _, c := range []struct {
			prev  *gatehouse.Identity
			ev    gatehouse.EventType
			label string
		}{{nil, gatehouse.EventJoiner, "a joiner (%s, previous is nil)"}, {&id, gatehouse.EventMover, "a mover (%s)"}} {
			for i := range e.rules {
				if seen[e.rules[i].name] {
					continue
				}
				if err := e.evalOne(i, &id, c.prev, c.ev, now); err != nil {
					seen[e.rules[i].name] = true
					r := e.cfg.Rules[i]
					out = append(out, config.Error{
						Pos: exprPos(r.When, 0, 0, src), Key: ruleKey(r, i) + ".when", Warning: true,
						Msg: fmt.Sprintf("fails for "+c.label+": %v", kind, unwrapEval(err)),
					})
				}
			}
		}
	}
	out.Sort()
	return out
}

func unwrapEval(err error) error {
	var ee *EvalError
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// evalOne evaluates one rule's condition (and expiry when it matches),
// ignoring events filters and guards.
func (e *Engine) evalOne(i int, id, prev *gatehouse.Identity, ev gatehouse.EventType, now time.Time) (err error) {
	s := e.get()
	defer e.put(s)
	s.env.set(id, prev, ev, now, e.loc)
	r := &e.rules[i]
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%v", x)
		}
	}()
	ok := false
	switch {
	case r.fast != nil:
		ok = r.fast(s.env)
	case r.when != nil:
		out, err := s.vm.Run(r.when, s.env)
		if err != nil {
			return err
		}
		ok, _ = out.(bool)
	}
	if ok && r.expires != nil {
		if _, err := s.vm.Run(r.expires, s.env); err != nil {
			return err
		}
	}
	return nil
}
