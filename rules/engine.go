package rules

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// EventRequest is the event rules see (`event == "request"`) when an ad-hoc
// access request is evaluated by ForRequest.
const EventRequest gatehouse.EventType = "request"

// Input is what a plan is computed from.
type Input struct {
	// Identity is matched as given: normalize it first (ParsePerson and
	// Identity.Normalize do), so that emails and names compare reliably.
	Identity gatehouse.Identity
	// Previous is the identity before a move. When set and Event is empty
	// the event is a mover.
	Previous *gatehouse.Identity
	// Event defaults to joiner (mover when Previous is set).
	Event gatehouse.EventType
	// Now is the evaluation instant; rules see it as `now`. Zero means
	// time.Now(), but callers that want reproducible plans pass it.
	Now time.Time
}

// Engine holds a compiled policy. It is immutable after Compile and safe for
// concurrent use; per-evaluation state lives in pooled scratch values.
type Engine struct {
	cfg      *config.Config
	loc      *time.Location
	ents     []entInfo // ordered by app then entitlement name: index order is output order
	entIndex map[gatehouse.EntitlementRef]int32
	apps     []string
	profs    []profInfo // profiles, then add-ons
	profIdx  map[string]int32
	rules    []ruleInfo
	sod      []sodInfo
	levels   [gatehouse.RiskCritical + 1]levelInfo
	guards   []guardIndex
	pool     sync.Pool
}

// guardIndex maps one guarded field's values to the rules they enable.
type guardIndex struct {
	field   string
	get     func(*Person) string
	byValue map[string][]int32
}

type entInfo struct {
	ent     gatehouse.Entitlement
	tmpl    gatehouse.PlannedGrant // the grant's constant fields, copied into plans
	app     int32
	account int32 // index of the app's account entitlement
}

type profInfo struct {
	name     string
	addOn    bool
	expanded []int32   // this profile then its includes, depth first, once each
	grants   []contrib // every entitlement with the profile that lists it
}

// contrib is one "rule grants entitlement through profile" fact, precomputed
// at Compile so that Plan only copies indexes.
type contrib struct {
	ent  int32
	prof int32 // -1: granted directly by the rule
}

type ruleInfo struct {
	name         string
	label        string // "rule NAME", for approval reasons
	events       uint32 // bit per event; 0 means every event
	when         *vm.Program
	expires      *vm.Program
	expiresAfter time.Duration
	profiles     []int32 // selected profiles and add-ons, expanded, in order
	grants       []contrib
	excludes     []int32
	approvers    []gatehouse.ApproverRole
	fast         func(*Env) bool // native evaluation of `when`, nil when not translatable
	guarded      bool            // skipped unless a guard index enables it
}

type sodInfo struct {
	name, description, action string
	ents                      []int32
}

type levelInfo struct {
	approvers []gatehouse.ApproverRole
	twoPerson bool
	why       []string // {"policy approvals.high"}
}

func eventBit(ev gatehouse.EventType) uint32 {
	for i, e := range gatehouse.EventTypes {
		if e == ev {
			return 1 << uint(i)
		}
	}
	if ev == EventRequest {
		return 1 << 31
	}
	return 0
}

// Compile builds an Engine from a loaded config, compiling every rule's when
// and expires exactly once. It reports every expression error at once as a
// config.ErrorList located at file:line:col. It tolerates a config that
// failed validation (unknown references are skipped, they were reported by
// config.Load) so that `check` can show all problems in one pass.
func Compile(cfg *config.Config) (*Engine, error) {
	if cfg == nil {
		return nil, errors.New("compile rules: no config")
	}
	e := &Engine{cfg: cfg, loc: cfg.Location(), entIndex: map[gatehouse.EntitlementRef]int32{}, profIdx: map[string]int32{}}
	e.indexEntitlements()
	e.indexProfiles()
	for _, r := range gatehouse.Risks {
		lvl := cfg.Approvals.Level(r)
		li := levelInfo{twoPerson: lvl.TwoPerson, why: []string{"policy approvals." + r.String()}}
		for _, a := range lvl.Approvers {
			li.approvers = appendRole(li.approvers, gatehouse.ApproverRole(a))
		}
		e.levels[r] = li
	}
	var errs config.ErrorList
	src := fileLines()
	for i, r := range cfg.Rules {
		if r == nil {
			continue
		}
		ri, rerrs := e.compileRule(r, i, src)
		errs = append(errs, rerrs...)
		e.rules = append(e.rules, ri)
	}
	for _, s := range cfg.SoD {
		if s == nil {
			continue
		}
		si := sodInfo{name: s.Name, description: s.Description, action: s.Action}
		if si.action == "" {
			si.action = "block"
		}
		for _, r := range s.Entitlements {
			if id, ok := e.entIndex[r.EntitlementRef]; ok {
				si.ents = append(si.ents, id)
			}
		}
		e.sod = append(e.sod, si)
	}
	sort.SliceStable(e.sod, func(i, j int) bool { return e.sod[i].name < e.sod[j].name })
	e.pool.New = func() any { return e.newScratch() }
	if len(errs) > 0 {
		errs.Sort()
		return e, errs
	}
	return e, nil
}

func (e *Engine) indexEntitlements() {
	for ai, app := range e.cfg.AppNames() {
		a := e.cfg.Apps[app]
		e.apps = append(e.apps, app)
		names := make([]string, 0, len(a.Entitlements))
		for n := range a.Entitlements {
			names = append(names, n)
		}
		sort.Strings(names)
		first := int32(len(e.ents))
		acct := int32(-1)
		for _, n := range names {
			ref := gatehouse.EntitlementRef{App: app, Entitlement: n}
			ent, ok := e.cfg.Entitlement(ref)
			if !ok {
				ce := a.Entitlements[n]
				ent = gatehouse.Entitlement{App: app, Name: n, Kind: ce.Kind, Risk: ce.Risk}
			}
			if ent.Risk == 0 {
				ent.Risk = gatehouse.RiskLow
			}
			id := int32(len(e.ents))
			e.entIndex[ref] = id
			if n == string(gatehouse.EntAccount) {
				acct = id
			}
			e.ents = append(e.ents, entInfo{ent: ent, app: int32(ai), tmpl: gatehouse.PlannedGrant{
				App: ent.App, Entitlement: ent.Name, Kind: string(ent.Kind), Risk: ent.Risk, MonthlyCost: ent.MonthlyCost,
			}})
		}
		for i := first; i < int32(len(e.ents)); i++ {
			e.ents[i].account = acct
		}
	}
}

func (e *Engine) indexProfiles() {
	type src struct {
		m     map[string]*config.Profile
		addOn bool
	}
	for _, s := range []src{{e.cfg.Profiles, false}, {e.cfg.AddOns, true}} {
		names := make([]string, 0, len(s.m))
		for n := range s.m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if _, dup := e.profIdx[n]; dup {
				continue
			}
			e.profIdx[n] = int32(len(e.profs))
			e.profs = append(e.profs, profInfo{name: n, addOn: s.addOn})
		}
	}
	// Expand includes depth first; the config loader rejects cycles, the
	// seen set keeps a broken config from looping here.
	for i := range e.profs {
		p := &e.profs[i]
		seen := map[int32]bool{}
		var walk func(id int32)
		walk = func(id int32) {
			if seen[id] {
				return
			}
			seen[id] = true
			p.expanded = append(p.expanded, id)
			cp := e.configProfile(id)
			if cp == nil {
				return
			}
			for _, g := range cp.Grants {
				if ent, ok := e.entIndex[g.EntitlementRef]; ok {
					p.grants = append(p.grants, contrib{ent: ent, prof: id})
				}
			}
			for _, inc := range cp.Includes {
				if j, ok := e.profIdx[inc.Value]; ok && e.profs[j].addOn == e.profs[id].addOn {
					walk(j)
				}
			}
		}
		walk(int32(i))
	}
}

func (e *Engine) configProfile(id int32) *config.Profile {
	p := e.profs[id]
	if p.addOn {
		return e.cfg.AddOns[p.name]
	}
	return e.cfg.Profiles[p.name]
}

func (e *Engine) compileRule(r *config.Rule, i int, src func(string) []string) (ruleInfo, config.ErrorList) {
	key := ruleKey(r, i)
	ri := ruleInfo{name: r.Name, expiresAfter: r.ExpiresAfter}
	if ri.name == "" {
		ri.name = fmt.Sprintf("rule-%d", i+1)
	}
	ri.label = "rule " + ri.name
	var errs config.ErrorList
	if !r.When.IsZero() {
		p, err := compileExpr(r.When, key+".when", nil, e.loc, src)
		if err != nil {
			errs = append(errs, *err)
		} else {
			ri.when = p
			ri.fast = translate(p.Node())
			if g := findGuard(p.Node()); g != nil {
				ri.guarded = true
				e.addGuard(g, int32(len(e.rules)))
			}
		}
	}
	if !r.Expires.IsZero() {
		p, err := compileExpr(r.Expires, key+".expires", timeType, e.loc, src)
		if err != nil {
			errs = append(errs, *err)
		} else {
			ri.expires = p
		}
	}
	for _, ev := range r.Events {
		ri.events |= eventBit(ev)
	}
	seen := map[int32]bool{}
	addProfile := func(name string, addOn bool) {
		id, ok := e.profIdx[name]
		if !ok || e.profs[id].addOn != addOn {
			return
		}
		for _, x := range e.profs[id].expanded {
			if !seen[x] {
				seen[x] = true
				ri.profiles = append(ri.profiles, x)
			}
		}
		ri.grants = append(ri.grants, e.profs[id].grants...)
	}
	for _, p := range r.Profiles {
		addProfile(p.Value, false)
	}
	for _, p := range r.AddOns {
		addProfile(p.Value, true)
	}
	for _, g := range r.Grant {
		if id, ok := e.entIndex[g.EntitlementRef]; ok {
			ri.grants = append(ri.grants, contrib{ent: id, prof: -1})
		}
	}
	for _, x := range r.Exclude {
		if id, ok := e.entIndex[x.EntitlementRef]; ok {
			ri.excludes = append(ri.excludes, id)
		}
	}
	for _, a := range r.Approvers {
		ri.approvers = appendRole(ri.approvers, gatehouse.ApproverRole(a))
	}
	return ri, errs
}

func (e *Engine) addGuard(g *guard, rule int32) {
	for i := range e.guards {
		if e.guards[i].field == g.field {
			for _, v := range g.values {
				e.guards[i].byValue[v] = append(e.guards[i].byValue[v], rule)
			}
			return
		}
	}
	gi := guardIndex{field: g.field, get: guardGetter(g.field), byValue: map[string][]int32{}}
	for _, v := range g.values {
		gi.byValue[v] = append(gi.byValue[v], rule)
	}
	e.guards = append(e.guards, gi)
}

func appendRole(list []gatehouse.ApproverRole, r gatehouse.ApproverRole) []gatehouse.ApproverRole {
	for _, x := range list {
		if x == r {
			return list
		}
	}
	return append(list, r)
}

// Config returns the config the engine was compiled from.
func (e *Engine) Config() *config.Config { return e.cfg }

// ---- evaluation ----

// scratch is the per-evaluation working set, pooled so that a plan costs a
// handful of allocations (its output) and no compile.
type scratch struct {
	env     *Env
	vm      vm.VM
	matched []int32     // matched rule indexes, in config order
	ruleExp []time.Time // per rule: expiry when matched (zero: none)
	hits    []hit       // contributions in rule order
	excl    []hit       // exclusions in rule order
	mark    []uint32    // per entitlement: epoch when excluded
	appX    []uint32    // per app: epoch when its account is excluded
	profSel []uint32    // per profile: epoch when selected
	count   []int32     // per entitlement: counting sort
	sorted  []hit
	ids     []int32 // entitlement index of each grant build produced
	direct  []hit
	rkeys   []uint64
	dmark   []uint32 // per entitlement: epoch when a matched rule with approvers lists it
	held    []uint32
	enabled []uint32 // per rule: epoch when its guard holds
	epoch   uint32
}

type hit struct {
	ent     int32
	rule    int32
	prof    int32
	implied bool
}

func (e *Engine) newScratch() *scratch {
	return &scratch{
		env:     newEnv(e.loc),
		ruleExp: make([]time.Time, len(e.rules)),
		mark:    make([]uint32, len(e.ents)),
		appX:    make([]uint32, len(e.apps)),
		profSel: make([]uint32, len(e.profs)),
		count:   make([]int32, len(e.ents)+1),
		held:    make([]uint32, len(e.ents)),
		enabled: make([]uint32, len(e.rules)),
		dmark:   make([]uint32, len(e.ents)),
	}
}

func (s *scratch) reset() {
	s.epoch++
	if s.epoch == 0 { // wrapped: clear the marks once
		clear(s.mark)
		clear(s.appX)
		clear(s.profSel)
		clear(s.held)
		clear(s.enabled)
		clear(s.dmark)
		s.epoch = 1
	}
	s.matched, s.hits, s.excl = s.matched[:0], s.hits[:0], s.excl[:0]
}

// EvalError is a rule that failed at run time (e.g. `previous.team` for a
// joiner, where previous is nil).
type EvalError struct {
	Rule string
	Expr string
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("rule %s: evaluate %q: %v", e.Rule, e.Expr, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// evaluate runs the rules for one identity and fills s.hits and s.excl.
func (e *Engine) evaluate(s *scratch, id *gatehouse.Identity, prev *gatehouse.Identity, ev gatehouse.EventType, now time.Time) (err error) {
	s.reset()
	s.env.set(id, prev, ev, now, e.loc)
	bit := eventBit(ev)
	for gi := range e.guards {
		g := &e.guards[gi]
		for _, ri := range g.byValue[g.get(&s.env.cur)] {
			s.enabled[ri] = s.epoch
		}
	}
	cur := -1
	defer func() {
		// the native evaluator panics on a nil `previous`, like the VM errors
		if r := recover(); r != nil {
			err = &EvalError{Rule: e.rules[cur].name, Expr: e.cfg.Rules[cur].When.Source, Err: fmt.Errorf("%v", r)}
		}
	}()
	for i := range e.rules {
		r := &e.rules[i]
		if (r.events != 0 && r.events&bit == 0) || (r.guarded && s.enabled[i] != s.epoch) {
			continue
		}
		cur = i
		var ok bool
		switch {
		case r.fast != nil:
			ok = r.fast(s.env)
		case r.when != nil:
			out, err := s.vm.Run(r.when, s.env)
			if err != nil {
				return &EvalError{Rule: r.name, Expr: e.cfg.Rules[i].When.Source, Err: err}
			}
			ok, _ = out.(bool)
		}
		if !ok {
			continue
		}
		s.matched = append(s.matched, int32(i))
		s.ruleExp[i] = time.Time{}
		switch {
		case r.expires != nil:
			out, err := s.vm.Run(r.expires, s.env)
			if err != nil {
				return &EvalError{Rule: r.name, Expr: e.cfg.Rules[i].Expires.Source, Err: err}
			}
			if t, ok := out.(time.Time); ok {
				s.ruleExp[i] = t
			}
		case r.expiresAfter > 0:
			s.ruleExp[i] = s.env.Now.Add(r.expiresAfter)
		}
		for _, p := range r.profiles {
			s.profSel[p] = s.epoch
		}
		for _, g := range r.grants {
			s.hits = append(s.hits, hit{ent: g.ent, rule: int32(i), prof: g.prof})
		}
		for _, x := range r.excludes {
			s.excl = append(s.excl, hit{ent: x, rule: int32(i), prof: -1})
		}
	}
	e.applyExclusions(s)
	return nil
}

// applyExclusions drops excluded entitlements (exclusions win over grants;
// excluding app:account excludes the whole app), then adds the account every
// surviving entitlement implies, with the same reasons.
func (e *Engine) applyExclusions(s *scratch) {
	for _, x := range s.excl {
		s.mark[x.ent] = s.epoch
		if e.ents[x.ent].account == x.ent {
			s.appX[e.ents[x.ent].app] = s.epoch
		}
	}
	kept := s.hits[:0]
	for _, h := range s.hits {
		if s.mark[h.ent] == s.epoch || s.appX[e.ents[h.ent].app] == s.epoch {
			continue
		}
		kept = append(kept, h)
	}
	n := len(kept)
	for _, h := range kept[:n] {
		if a := e.ents[h.ent].account; a >= 0 && a != h.ent {
			kept = append(kept, hit{ent: a, rule: h.rule, prof: h.prof, implied: true})
		}
	}
	s.hits = kept
	// Counting sort by entitlement keeps rule order within an entitlement
	// and gives output in entitlement (app, name) order without comparisons.
	clear(s.count)
	for _, h := range s.hits {
		s.count[h.ent+1]++
	}
	for i := 1; i < len(s.count); i++ {
		s.count[i] += s.count[i-1]
	}
	if cap(s.sorted) < len(s.hits) {
		s.sorted = make([]hit, len(s.hits), 2*len(s.hits))
	}
	s.sorted = s.sorted[:len(s.hits)]
	for _, h := range s.hits {
		s.sorted[s.count[h.ent]] = h
		s.count[h.ent]++
	}
}

// identityCap is when all of an identity's access ends regardless of rules:
// a contractor's contract end (end of their end_date in their zone) capped by
// defaults.contractor_max_access; a non-human's expiry date.
func (e *Engine) identityCap(id *gatehouse.Identity, now time.Time) time.Time {
	switch {
	case id.Kind == gatehouse.KindContractor:
		limit := time.Time{}
		if e.cfg.Defaults.ContractorMaxAccess > 0 {
			limit = now.Add(e.cfg.Defaults.ContractorMaxAccess)
		}
		if !id.EndDate.IsZero() {
			end := id.EndDate.In(id.Zone(e.loc)).AddDate(0, 0, 1)
			if limit.IsZero() || end.Before(limit) {
				limit = end
			}
		}
		return limit
	case id.Kind.Valid() && !id.Kind.Human():
		return id.Expiry.In(id.Zone(e.loc))
	}
	return time.Time{}
}

// build turns the sorted contributions into plan grants and exclusions.
func (e *Engine) build(s *scratch, p *gatehouse.Plan, idCap time.Time) {
	hits := s.sorted
	// profiles in the order rules selected them
	np := 0
	for _, pid := range s.profSel {
		if pid == s.epoch {
			np++
		}
	}
	p.Profiles = make([]string, 0, np)
	for _, ri := range s.matched {
		for _, pid := range e.rules[ri].profiles {
			if s.profSel[pid] == s.epoch {
				p.Profiles = append(p.Profiles, e.profs[pid].name)
				s.profSel[pid] = 0
			}
		}
	}
	nEnts := 0
	for i := range hits {
		if i == 0 || hits[i].ent != hits[i-1].ent {
			nEnts++
		}
	}
	p.Grants = make([]gatehouse.PlannedGrant, 0, nEnts)
	anyExp := false
	for _, ri := range s.matched {
		anyExp = anyExp || !s.ruleExp[ri].IsZero()
	}
	s.ids = s.ids[:0]
	reasons := make([]gatehouse.Reason, 0, len(hits))
	for i := 0; i < len(hits); {
		j := i
		for j < len(hits) && hits[j].ent == hits[i].ent {
			j++
		}
		start := len(reasons)
		exp, forever := time.Time{}, false
		// An account granted directly is explained by that; the grants that
		// imply it still count for its expiry.
		direct := false
		for k := i; k < j; k++ {
			direct = direct || !hits[k].implied
		}
		keys := s.rkeys[:0]
		for k := i; k < j; k++ {
			h := hits[k]
			if !anyExp {
				forever = true
			} else if t := s.ruleExp[h.rule]; t.IsZero() {
				forever = true
			} else if t.After(exp) {
				exp = t
			}
			if direct && h.implied {
				continue
			}
			key := uint64(h.rule)<<32 | uint64(uint32(h.prof))
			if slices.Contains(keys, key) {
				continue
			}
			keys = append(keys, key)
			r := gatehouse.Reason{Rule: e.rules[h.rule].name}
			if h.prof >= 0 {
				r.Profile = e.profs[h.prof].name
			}
			reasons = append(reasons, r)
		}
		s.rkeys = keys
		if forever {
			exp = time.Time{}
		}
		if !idCap.IsZero() && (exp.IsZero() || idCap.Before(exp)) {
			exp = idCap
		}
		s.ids = append(s.ids, hits[i].ent)
		s.held[hits[i].ent] = s.epoch
		p.Grants = append(p.Grants, e.ents[hits[i].ent].tmpl)
		g := &p.Grants[len(p.Grants)-1]
		g.Reasons, g.ExpiresAt = reasons[start:len(reasons):len(reasons)], exp
		if !exp.IsZero() && (p.ExpiresAt.IsZero() || exp.Before(p.ExpiresAt)) {
			p.ExpiresAt = exp
		}
		i = j
	}
	if len(s.excl) > 0 {
		ex := append([]hit(nil), s.excl...)
		sort.SliceStable(ex, func(a, b int) bool { return ex[a].ent < ex[b].ent })
		for i := 0; i < len(ex); {
			j := i
			var rs []gatehouse.Reason
			for j < len(ex) && ex[j].ent == ex[i].ent {
				r := gatehouse.Reason{Rule: e.rules[ex[j].rule].name}
				if len(rs) == 0 || rs[len(rs)-1] != r {
					rs = append(rs, r)
				}
				j++
			}
			ent := e.ents[ex[i].ent].ent
			p.Excluded = append(p.Excluded, gatehouse.Exclusion{App: ent.App, Entitlement: ent.Name, Reasons: rs})
			i = j
		}
	}
}

// approvals lists what each grant in gs needs: the policy level for its risk
// plus the approvers of the matched rules that list it (and of matched rules
// that grant nothing themselves, which add sign-off to whatever needs
// approval anyway).
func (e *Engine) approvals(s *scratch, gs []gatehouse.PlannedGrant, ids []int32) []gatehouse.ApprovalRequirement {
	var out []gatehouse.ApprovalRequirement
	var global []int32     // matched approvers-only rules
	direct := s.direct[:0] // (entitlement, rule) for matched rules with approvers
	for _, ri := range s.matched {
		r := &e.rules[ri]
		if len(r.approvers) == 0 {
			continue
		}
		if len(r.grants) == 0 {
			global = append(global, ri)
			continue
		}
		for _, g := range r.grants {
			direct = append(direct, hit{ent: g.ent, rule: ri})
			s.dmark[g.ent] = s.epoch
		}
	}
	s.direct = direct
	// Size the result exactly (policy approvers or a rule's), so appending
	// never regrows it.
	n := 0
	for gi, g := range gs {
		if len(e.levels[g.Risk].approvers) > 0 || s.dmark[ids[gi]] == s.epoch {
			n++
		}
	}
	if n > 0 || len(direct) > 0 {
		out = make([]gatehouse.ApprovalRequirement, 0, n)
	}
	for gi, g := range gs {
		lvl := &e.levels[g.Risk]
		mine := s.dmark[ids[gi]] == s.epoch // does a rule add approvers for this grant?
		if len(lvl.approvers) == 0 && !mine {
			continue
		}
		// The common case, policy approvers only, shares the engine's
		// precomputed slices (capacity-limited, so an append copies).
		roles, why := lvl.approvers[:len(lvl.approvers):len(lvl.approvers)], lvl.why[:len(lvl.why):len(lvl.why)]
		if len(lvl.approvers) == 0 {
			roles, why = nil, nil
		}
		if mine || (len(global) > 0 && len(lvl.approvers) > 0) {
			roles = append(make([]gatehouse.ApproverRole, 0, len(roles)+4), roles...)
			why = append(make([]string, 0, len(why)+4), why...)
		}
		if len(lvl.approvers) > 0 {
			for _, ri := range global {
				for _, a := range e.rules[ri].approvers {
					roles = appendRole(roles, a)
				}
				why = append(why, e.rules[ri].label)
			}
		}
		if mine {
			for _, d := range direct {
				if d.ent != ids[gi] {
					continue
				}
				for _, a := range e.rules[d.rule].approvers {
					roles = appendRole(roles, a)
				}
				why = appendString(why, e.rules[d.rule].label)
			}
		}
		if len(roles) == 0 {
			continue
		}
		req := 1
		if lvl.twoPerson && len(lvl.approvers) > 0 {
			req = 2
		}
		out = append(out, gatehouse.ApprovalRequirement{
			App: g.App, Entitlement: g.Entitlement, Risk: g.Risk, Approvers: roles,
			Required: req, TwoPerson: req == 2, Reasons: why,
		})
	}
	return out
}

func appendString(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (e *Engine) conflicts(held func(int32) bool, involves func(int32) bool) []gatehouse.Conflict {
	var out []gatehouse.Conflict
	for _, c := range e.sod {
		var refs []gatehouse.EntitlementRef
		inv := involves == nil
		for _, id := range c.ents {
			if held(id) {
				refs = append(refs, e.ents[id].ent.Ref())
				if involves != nil && involves(id) {
					inv = true
				}
			}
		}
		if len(refs) >= 2 && inv {
			sort.Slice(refs, func(i, j int) bool { return refs[i].Less(refs[j]) })
			out = append(out, gatehouse.Conflict{Constraint: c.name, Description: c.description, Entitlements: refs, Action: c.action})
		}
	}
	return out
}

func (e *Engine) get() *scratch  { return e.pool.Get().(*scratch) }
func (e *Engine) put(s *scratch) { s.env.Identity, s.env.Previous = nil, nil; e.pool.Put(s) }

// plan computes a standing plan (no diff) into p.
func (e *Engine) plan(s *scratch, id *gatehouse.Identity, prev *gatehouse.Identity, ev gatehouse.EventType, now time.Time, p *gatehouse.Plan) error {
	if err := e.evaluate(s, id, prev, ev, now); err != nil {
		return err
	}
	limit := e.identityCap(id, s.env.Now)
	// A matched rule that grants nothing but sets an expiry caps the whole
	// plan (e.g. "interns: access ends at their end date").
	for _, ri := range s.matched {
		if t := s.ruleExp[ri]; len(e.rules[ri].grants) == 0 && !t.IsZero() && (limit.IsZero() || t.Before(limit)) {
			limit = t
		}
	}
	e.build(s, p, limit)
	return nil
}

// Plan computes the access an identity should have after an event. See
// docs/rules.md for the semantics. The result is sorted and deterministic
// for a given Input (including Now).
func (e *Engine) Plan(in Input) (gatehouse.Plan, error) {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.Event == "" {
		in.Event = gatehouse.EventJoiner
		if in.Previous != nil {
			in.Event = gatehouse.EventMover
		}
	}
	p := gatehouse.Plan{Identity: in.Identity.Key(), Event: in.Event}
	s := e.get()
	defer e.put(s)
	if in.Event.Removes() {
		// Leaving: nothing is granted; what the identity held by policy is
		// removed (the lifecycle engine also removes whatever else it knows).
		base := &in.Identity
		if in.Previous != nil {
			base = in.Previous
		}
		var old gatehouse.Plan
		if err := e.plan(s, base, nil, gatehouse.EventJoiner, in.Now, &old); err != nil {
			return p, err
		}
		p.Remove = old.Grants
		normalize(&p)
		return p, nil
	}
	if err := e.plan(s, &in.Identity, in.Previous, in.Event, in.Now, &p); err != nil {
		return p, err
	}
	p.Conflicts = e.conflicts(func(id int32) bool { return s.held[id] == s.epoch }, nil)
	if in.Previous == nil {
		p.Add = p.Grants
		p.Approvals = e.approvals(s, p.Grants, s.ids)
		normalize(&p)
		return p, nil
	}
	// Mover: what they hold is the same policy applied to the previous
	// identity for the same event; old access
	// is removed, never stacked.
	var add []gatehouse.PlannedGrant
	var addIDs []int32
	prevGrants, err := e.previousGrants(in)
	if err != nil {
		return p, err
	}
	i, j := 0, 0
	for i < len(p.Grants) || j < len(prevGrants) {
		switch {
		case j >= len(prevGrants) || (i < len(p.Grants) && p.Grants[i].Ref().Less(prevGrants[j].Ref())):
			add = append(add, p.Grants[i])
			addIDs = append(addIDs, s.ids[i])
			i++
		case i >= len(p.Grants) || prevGrants[j].Ref().Less(p.Grants[i].Ref()):
			p.Remove = append(p.Remove, prevGrants[j])
			j++
		default:
			p.Keep = append(p.Keep, p.Grants[i])
			i++
			j++
		}
	}
	p.Add = add
	// previousGrants used its own scratch: s still holds this evaluation.
	p.Approvals = e.approvals(s, add, addIDs)
	for _, g := range add {
		if g.Risk >= e.cfg.Defaults.ReviewRisk {
			p.Review = append(p.Review, g)
		}
	}
	normalize(&p)
	return p, nil
}

func (e *Engine) previousGrants(in Input) ([]gatehouse.PlannedGrant, error) {
	s := e.get()
	defer e.put(s)
	var old gatehouse.Plan
	// Rules see the previous identity as both identity and previous: "no
	// change", so mover conditions are false and `previous.x` is safe.
	if err := e.plan(s, in.Previous, in.Previous, in.Event, in.Now, &old); err != nil {
		return nil, fmt.Errorf("previous identity: %w", err)
	}
	return old.Grants, nil
}

// normalize makes the always-present lists non-nil so JSON shows [] rather
// than null.
func normalize(p *gatehouse.Plan) {
	if p.Profiles == nil {
		p.Profiles = []string{}
	}
	if p.Grants == nil {
		p.Grants = []gatehouse.PlannedGrant{}
	}
	if p.Excluded == nil {
		p.Excluded = []gatehouse.Exclusion{}
	}
	if p.Approvals == nil {
		p.Approvals = []gatehouse.ApprovalRequirement{}
	}
	if p.Conflicts == nil {
		p.Conflicts = []gatehouse.Conflict{}
	}
}

// ForRequest evaluates an ad-hoc access request: refs are what is asked for,
// held what the identity already has. The returned plan's Grants are the
// requested entitlements (plus the account of any app where no seat is held),
// Excluded those a matching rule forbids (the request must be refused),
// Approvals who must approve, Conflicts the SoD constraints the request would
// violate, and ExpiresAt the end of the time-bound access (duration capped
// by defaults.request_max_duration; 0 means no end beyond the identity's
// own). Rules see `event == "request"`.
func (e *Engine) ForRequest(id gatehouse.Identity, refs []gatehouse.EntitlementRef, held []gatehouse.EntitlementRef, now time.Time, duration time.Duration) (gatehouse.Plan, error) {
	if now.IsZero() {
		now = time.Now()
	}
	p := gatehouse.Plan{Identity: id.Key(), Event: EventRequest}
	if len(refs) == 0 {
		return p, errors.New("request names no entitlement")
	}
	var errs []error
	heldSet := make([]bool, len(e.ents))
	for _, r := range held {
		if i, ok := e.entIndex[r]; ok {
			heldSet[i] = true
		}
	}
	req := make([]bool, len(e.ents))
	for _, r := range refs {
		i, ok := e.entIndex[r]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown entitlement %s", r))
			continue
		}
		req[i] = true
		if a := e.ents[i].account; a >= 0 && !heldSet[a] {
			req[a] = true
		}
	}
	if len(errs) > 0 {
		return p, errors.Join(errs...)
	}
	s := e.get()
	defer e.put(s)
	if err := e.evaluate(s, &id, nil, EventRequest, now); err != nil {
		return p, err
	}
	excluded := make([]bool, len(e.ents))
	var exclHits []hit
	for _, x := range s.excl {
		for i := range e.ents {
			if req[i] && (int32(i) == x.ent || (e.ents[x.ent].account == x.ent && e.ents[i].app == e.ents[x.ent].app)) {
				excluded[i] = true
				exclHits = append(exclHits, hit{ent: int32(i), rule: x.rule})
			}
		}
	}
	sort.SliceStable(exclHits, func(a, b int) bool { return exclHits[a].ent < exclHits[b].ent })
	for _, x := range exclHits {
		ent := e.ents[x.ent].ent
		r := gatehouse.Reason{Rule: e.rules[x.rule].name}
		if n := len(p.Excluded); n > 0 && p.Excluded[n-1].App == ent.App && p.Excluded[n-1].Entitlement == ent.Name {
			p.Excluded[n-1].Reasons = append(p.Excluded[n-1].Reasons, r)
			continue
		}
		p.Excluded = append(p.Excluded, gatehouse.Exclusion{App: ent.App, Entitlement: ent.Name, Reasons: []gatehouse.Reason{r}})
	}
	exp := time.Time{}
	if duration > 0 {
		if max := e.cfg.Defaults.RequestMaxDuration; max > 0 && duration > max {
			duration = max
		}
		exp = now.Add(duration)
	}
	if c := e.identityCap(&id, now); !c.IsZero() && (exp.IsZero() || c.Before(exp)) {
		exp = c
	}
	p.ExpiresAt = exp
	var ids []int32
	for i := range e.ents {
		if !req[i] || excluded[i] {
			continue
		}
		ent := e.ents[i].ent
		ids = append(ids, int32(i))
		p.Grants = append(p.Grants, gatehouse.PlannedGrant{
			App: ent.App, Entitlement: ent.Name, Kind: string(ent.Kind), Risk: ent.Risk, MonthlyCost: ent.MonthlyCost,
			Reasons: []gatehouse.Reason{{Rule: string(EventRequest)}}, ExpiresAt: exp,
		})
	}
	// Rule approvers apply when a matching rule lists the requested
	// entitlement; approvers-only rules add sign-off as for plans.
	p.Approvals = e.approvals(s, p.Grants, ids)
	p.Add = p.Grants
	p.Conflicts = e.conflicts(func(i int32) bool { return (heldSet[i] || req[i]) && !excluded[i] }, func(i int32) bool { return req[i] })
	normalize(&p)
	return p, nil
}

// Why answers "why does (or doesn't) this identity have APP:ENT": the
// reasons it is granted (rule and profile) and the rules that exclude it,
// evaluating the identity's standing access (event joiner) at now.
func (e *Engine) Why(id gatehouse.Identity, ref gatehouse.EntitlementRef, now time.Time) ([]gatehouse.Reason, []gatehouse.Reason, error) {
	if now.IsZero() {
		now = time.Now()
	}
	target, ok := e.entIndex[ref]
	if !ok {
		return nil, nil, fmt.Errorf("unknown entitlement %s", ref)
	}
	s := e.get()
	defer e.put(s)
	if err := e.evaluate(s, &id, nil, gatehouse.EventJoiner, now); err != nil {
		return nil, nil, err
	}
	var granted, excluded []gatehouse.Reason
	add := func(list []gatehouse.Reason, r gatehouse.Reason) []gatehouse.Reason {
		for _, x := range list {
			if x == r {
				return list
			}
		}
		return append(list, r)
	}
	for _, h := range s.sorted {
		if h.ent == target {
			r := gatehouse.Reason{Rule: e.rules[h.rule].name}
			if h.prof >= 0 {
				r.Profile = e.profs[h.prof].name
			}
			granted = add(granted, r)
		}
	}
	acct := e.ents[target].account
	for _, x := range s.excl {
		if x.ent == target || (x.ent == acct && acct >= 0) {
			excluded = add(excluded, gatehouse.Reason{Rule: e.rules[x.rule].name})
		}
	}
	// What an exclusion suppressed is not in s.sorted: report the rules that
	// would have granted it, so "excluded, although rule X grants it" is
	// answerable.
	if len(excluded) > 0 {
		for _, ri := range s.matched {
			for _, g := range e.rules[ri].grants {
				if g.ent == target {
					r := gatehouse.Reason{Rule: e.rules[ri].name}
					if g.prof >= 0 {
						r.Profile = e.profs[g.prof].name
					}
					granted = add(granted, r)
				}
			}
		}
	}
	return granted, excluded, nil
}
