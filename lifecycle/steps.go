package lifecycle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// Internal event types: access requests and their expiry are runs too, but
// not HR lifecycle events.
const (
	EventAccessRequest gatehouse.EventType = "access_request"
	EventAccessExpiry  gatehouse.EventType = "access_expiry"
)

// Step ids are stable and readable ("disable:okta", "grant:github:admin") so
// that re-planning after a crash, AddSteps and audit entries all agree.
func stepID(kind string, parts ...string) string {
	return kind + ":" + strings.Join(parts, ":")
}

const evidenceStep = "evidence"

// Keys of Step.Result set when a step is planned (inputs), as opposed to the
// outputs the executor adds.
const (
	resAccountID    = "account_id"    // target a specific (discovered) account
	resAccountEmail = "account_email" // its email
	resAccountUser  = "account_user"  // its user name
	resTo           = "to"            // transfer_ownership target email
	resRoles        = "roles"         // approval: approver roles, comma-separated
	resRequired     = "required"      // approval: distinct approvals needed
	resApproval     = "approval_id"   // approval step: the Approval record
	resTask         = "task_id"       // manual task / escalation record
	resOutcome      = "outcome"       // approved, denied, expired, cancelled, blocked, not_found
	resTitle        = "title"         // manual task title
	resAssignee     = "assignee"      // manual task assignee
	resKeepGrants   = "keep_grants"   // disable without revoking recorded grants (leave of absence)
	resOpen         = "open"          // evidence: steps and tasks still open
	resGeneration   = "generation"    // escalated step: how often Retry restarted it
	resConfirm      = "confirm_by"    // leaver step: grant records wait for the app's verify step
	resExpect       = "expect"        // verify: inactive or deleted
	resRole         = "receiver_role" // transfer_ownership: manager, owner, app_owner, it, configured
	resLadder       = "fallbacks"     // transfer_ownership: the next receivers, role=email,…
)

// planner builds a run's steps. It reads the store (what the identity holds)
// but never calls connectors.
type planner struct {
	e     *Engine
	run   gatehouse.Run
	id    gatehouse.Identity
	steps []gatehouse.Step
	index map[string]int
	// accounts caches, per receiver email, the apps the store records them
	// holding (the transfer ladder's plan-time choice).
	accounts map[string]map[string]bool
}

func (p *planner) add(s gatehouse.Step) string {
	if i, ok := p.index[s.ID]; ok {
		// The same step planned twice (e.g. an account needed by two
		// reasons): merge dependencies.
		for _, d := range s.DependsOn {
			if !contains(p.steps[i].DependsOn, d) {
				p.steps[i].DependsOn = append(p.steps[i].DependsOn, d)
			}
		}
		return s.ID
	}
	p.index[s.ID] = len(p.steps)
	p.steps = append(p.steps, s)
	return s.ID
}

func (p *planner) has(id string) bool { _, ok := p.index[id]; return ok }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *Engine) caps(app string) gatehouse.Capabilities {
	if c := e.conns[app]; c != nil {
		return c.Capabilities()
	}
	return gatehouse.Capabilities{}
}

// idpName returns the identity provider's app name when it has a connector.
func (e *Engine) idpName() string {
	if a := e.cfg.IdP(); a != nil && e.conns[a.Name] != nil {
		return a.Name
	}
	return ""
}

// materialize plans the steps of a run from its event, its plan and what the
// store says the identity holds now. Leaver-like runs are planned when they
// start, not when they are submitted, so a leaver scheduled weeks ahead
// removes what is held on the day.
func (e *Engine) materialize(run gatehouse.Run) ([]gatehouse.Step, error) {
	p := &planner{e: e, run: run, id: run.Event.Identity, index: map[string]int{}}
	var plan gatehouse.Plan
	if run.Plan != nil {
		plan = *run.Plan
	}
	held, err := e.db.Grants(run.IdentityKey)
	if err != nil {
		return nil, fmt.Errorf("plan run %s: %w", run.ID, err)
	}
	switch t := run.Event.Type; {
	case t == gatehouse.EventJoiner:
		p.provision(plan, addsOf(plan), held, "")
	case t == gatehouse.EventRehire:
		first := ""
		if idp := e.idpName(); idp != "" && e.caps(idp).Has(gatehouse.CapEnable) {
			first = p.add(gatehouse.Step{ID: stepID("enable", idp), Kind: gatehouse.StepEnable, App: idp})
		}
		p.provision(plan, addsOf(plan), nil, first)
	case t == gatehouse.EventMover:
		p.mover(plan, held)
	case t.Removes():
		p.leaver(held)
		if t == gatehouse.EventExpiry {
			// Tell the owner right away: the bot stops working now, whether
			// or not every app is closed yet.
			p.add(gatehouse.Step{ID: "notify:owner", Kind: gatehouse.StepNotify,
				Result: map[string]string{resAssignee: run.Event.Identity.Owner}})
		}
	case t == gatehouse.EventLeaveOfAbsence:
		p.suspend(held)
	case t == gatehouse.EventReturn:
		p.resume(held)
	case t == EventAccessRequest:
		p.provision(plan, addsOf(plan), held, "")
	case t == EventAccessRevoke:
		p.revokePlanned(plan, held)
	case t == EventIdentityExtend: // nonhuman.go: an approval, then the new expiry applies
		p.planIdentityExtend(plan)
	case t == EventAccessExpiry:
		for _, g := range plan.Remove {
			p.add(gatehouse.Step{ID: stepID("revoke", g.App, g.Entitlement), Kind: gatehouse.StepRevoke, App: g.App, Entitlement: g.Entitlement, Reasons: g.Reasons})
		}
	default:
		return nil, fmt.Errorf("plan run %s: event %q: %w", run.ID, t, ErrInvalidEvent)
	}
	p.add(gatehouse.Step{ID: evidenceStep, Kind: gatehouse.StepEvidence})
	return p.steps, nil
}

func addsOf(plan gatehouse.Plan) []gatehouse.PlannedGrant {
	if len(plan.Add) > 0 {
		return plan.Add
	}
	return plan.Grants
}

func isAccount(ent string) bool { return ent == string(gatehouse.EntAccount) }

func holds(held []gatehouse.Grant, app, ent string) bool {
	for _, g := range held {
		if g.App == app && g.Entitlement == ent {
			return true
		}
	}
	return false
}

// provision plans a joiner-style addition of grants: the IdP account first,
// then each app's account after the apps it depends on, then its grants;
// approvals gate what they cover. Accounts already held are not re-created.
// first, when set, is a step everything waits for (rehire: enable).
func (p *planner) provision(plan gatehouse.Plan, grants []gatehouse.PlannedGrant, held []gatehouse.Grant, first string) {
	e := p.e
	gates := p.approvalGates(plan, grants)
	byApp := map[string][]gatehouse.PlannedGrant{}
	var apps []string
	for _, g := range grants {
		if _, ok := byApp[g.App]; !ok {
			apps = append(apps, g.App)
		}
		byApp[g.App] = append(byApp[g.App], g)
	}
	idp := e.idpName()
	if idp != "" && p.run.Event.Type != EventAccessRequest {
		if _, ok := byApp[idp]; !ok {
			byApp[idp] = nil
			apps = append(apps, idp)
		}
	}
	sort.Strings(apps)
	accountStep := func(app string) string {
		if holds(held, app, string(gatehouse.EntAccount)) {
			return ""
		}
		return stepID("account", app)
	}
	base := func(app string) []string {
		var deps []string
		if first != "" {
			deps = append(deps, first)
		}
		if app != idp && idp != "" {
			if a := accountStep(idp); a != "" {
				deps = append(deps, a)
			}
		}
		if ca := e.cfg.Apps[app]; ca != nil {
			for _, d := range ca.DependsOn {
				if _, planned := byApp[d.Value]; planned && d.Value != idp {
					if a := accountStep(d.Value); a != "" {
						deps = append(deps, a)
					}
				}
			}
		}
		return deps
	}
	for _, app := range apps {
		acct := accountStep(app)
		var acctReasons []gatehouse.Reason
		for _, g := range byApp[app] {
			if isAccount(g.Entitlement) {
				acctReasons = g.Reasons
			}
		}
		if acct != "" {
			deps := base(app)
			deps = append(deps, gates[gatehouse.EntitlementRef{App: app, Entitlement: string(gatehouse.EntAccount)}]...)
			p.add(gatehouse.Step{ID: acct, Kind: gatehouse.StepEnsureAccount, App: app, Entitlement: string(gatehouse.EntAccount), DependsOn: deps, Reasons: acctReasons})
		}
		for _, g := range byApp[app] {
			if isAccount(g.Entitlement) {
				continue
			}
			var deps []string
			if acct != "" {
				deps = append(deps, acct)
			} else {
				deps = append(deps, base(app)...)
			}
			deps = append(deps, gates[g.Ref()]...)
			p.add(gatehouse.Step{ID: stepID("grant", g.App, g.Entitlement), Kind: gatehouse.StepGrant, App: g.App, Entitlement: g.Entitlement, DependsOn: deps, Reasons: g.Reasons})
		}
	}
}

// approvalGates plans approval steps for plan.Approvals and (movers)
// plan.Review and returns, per entitlement, the steps its grant must wait for.
func (p *planner) approvalGates(plan gatehouse.Plan, grants []gatehouse.PlannedGrant) map[gatehouse.EntitlementRef][]string {
	gates := map[gatehouse.EntitlementRef][]string{}
	planned := map[gatehouse.EntitlementRef]bool{}
	for _, g := range grants {
		planned[g.Ref()] = true
	}
	for _, req := range plan.Approvals {
		ref := gatehouse.EntitlementRef{App: req.App, Entitlement: req.Entitlement}
		if !planned[ref] {
			continue
		}
		roles := make([]string, len(req.Approvers))
		for i, r := range req.Approvers {
			roles[i] = string(r)
		}
		required := req.Required
		if required < 1 {
			required = 1
		}
		if req.TwoPerson && required < 2 {
			required = 2
		}
		id := p.add(gatehouse.Step{ID: stepID("approval", req.App, req.Entitlement), Kind: gatehouse.StepApproval, App: req.App, Entitlement: req.Entitlement,
			Result: map[string]string{resRoles: strings.Join(roles, ","), resRequired: strconv.Itoa(required)}})
		gates[ref] = append(gates[ref], id)
	}
	for _, g := range plan.Review {
		if !planned[g.Ref()] {
			continue
		}
		// A change that already needs an approval is reviewed by it: the
		// manager joins that approval's approvers instead of being asked
		// twice about the same entitlement.
		if ids := gates[g.Ref()]; len(ids) > 0 {
			step := &p.steps[p.index[ids[0]]]
			roles := strings.Split(step.Result[resRoles], ",")
			if !contains(roles, string(gatehouse.ApproverManager)) {
				step.Result[resRoles] = strings.Join(append(roles, string(gatehouse.ApproverManager)), ",")
			}
			continue
		}
		id := p.add(gatehouse.Step{ID: stepID("review", g.App, g.Entitlement), Kind: gatehouse.StepApproval, App: g.App, Entitlement: g.Entitlement, Reasons: g.Reasons,
			Result: map[string]string{resRoles: string(gatehouse.ApproverManager), resRequired: "1"}})
		gates[g.Ref()] = append(gates[g.Ref()], id)
	}
	p.sodGates(plan, planned, gates)
	return gates
}

// sodGates holds what a run would add in breach of segregation of duties.
// A "block" constraint needs an exception from IT: its own approval step,
// never folded into another approval (a manager alone must not waive it). A
// "review" constraint needs the manager: folded into an existing approval of
// the entitlement, else an approval step of its own. Access already held is
// not gated — only this run's additions create the conflict.
func (p *planner) sodGates(plan gatehouse.Plan, planned map[gatehouse.EntitlementRef]bool, gates map[gatehouse.EntitlementRef][]string) {
	for _, c := range plan.Conflicts {
		for _, ref := range c.Entitlements {
			if !planned[ref] {
				continue
			}
			if c.Action != "block" {
				if ids := gates[ref]; len(ids) > 0 {
					step := &p.steps[p.index[ids[0]]]
					roles := strings.Split(step.Result[resRoles], ",")
					if !contains(roles, string(gatehouse.ApproverManager)) {
						step.Result[resRoles] = strings.Join(append(roles, string(gatehouse.ApproverManager)), ",")
					}
					continue
				}
			}
			role := gatehouse.ApproverManager
			if c.Action == "block" {
				role = gatehouse.ApproverIT
			}
			id := p.add(gatehouse.Step{ID: stepID("sod", ref.App, ref.Entitlement), Kind: gatehouse.StepApproval, App: ref.App, Entitlement: ref.Entitlement,
				Reasons: []gatehouse.Reason{{Rule: "sod:" + c.Constraint}},
				Result:  map[string]string{resRoles: string(role), resRequired: "1"}})
			if !contains(gates[ref], id) {
				gates[ref] = append(gates[ref], id)
			}
		}
	}
}

// mover adds the new profile's access and removes the old, never stacking:
// an app left with nothing is disabled (or deleted) to reclaim the seat.
// Removals do not wait for the additions or their reviews: taking access away
// never needs an approval.
func (p *planner) mover(plan gatehouse.Plan, held []gatehouse.Grant) {
	p.provision(plan, plan.Add, held, "")
	remaining := map[string]bool{}
	for _, g := range plan.Keep {
		remaining[g.App] = true
	}
	for _, g := range plan.Add {
		remaining[g.App] = true
	}
	for _, g := range held {
		if g.Source == gatehouse.SourceRequest && !isAccount(g.Entitlement) {
			remaining[g.App] = true // requested access is not the profile's to take
		}
	}
	removeApp := map[string][]gatehouse.PlannedGrant{}
	var apps []string
	for _, g := range plan.Remove {
		if _, ok := removeApp[g.App]; !ok {
			apps = append(apps, g.App)
		}
		removeApp[g.App] = append(removeApp[g.App], g)
	}
	sort.Strings(apps)
	for _, app := range apps {
		if !remaining[app] && app != p.e.idpName() {
			p.closeAccount(app, nil, nil, false)
			continue
		}
		for _, g := range removeApp[app] {
			if isAccount(g.Entitlement) {
				continue
			}
			p.add(gatehouse.Step{ID: stepID("revoke", g.App, g.Entitlement), Kind: gatehouse.StepRevoke, App: g.App, Entitlement: g.Entitlement, Reasons: g.Reasons})
		}
	}
}

// transferTarget is who receives a leaver's resources: defaults
// transfer_ownership_to (manager, it, or an email); a non-human's owner.
func (e *Engine) transferTarget(id gatehouse.Identity) string {
	if !id.Kind.Human() && id.Owner != "" {
		return id.Owner
	}
	switch t := e.cfg.Defaults.TransferOwnershipTo; t {
	case "", "manager":
		if id.ManagerEmail != "" {
			return id.ManagerEmail
		}
		return e.itEmail()
	case "it":
		return e.itEmail()
	default:
		return strings.ToLower(t)
	}
}

// itEmails are the IT team's addresses: admins.it_email and every email among
// admins.it (Slack ids cannot receive mail or approve by email).
func (e *Engine) itEmails() []string {
	var out []string
	if m := strings.ToLower(strings.TrimSpace(e.cfg.Admins.ITEmail)); m != "" {
		out = append(out, m)
	}
	for _, a := range e.cfg.Admins.IT {
		a = strings.ToLower(strings.TrimSpace(a))
		if strings.Contains(a, "@") && !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func (e *Engine) itEmail() string {
	if l := e.itEmails(); len(l) > 0 {
		return l[0]
	}
	return "it"
}

// appOwner is who does manual work for an app: its owner, else IT.
func (e *Engine) appOwner(app string) string {
	if a := e.cfg.Apps[app]; a != nil && a.Owner != "" {
		return strings.ToLower(a.Owner)
	}
	return e.itEmail()
}

// leaver: suspend the IdP account first and revoke its sessions second (so
// no new session can start in between), and only when both are done, in
// parallel for every app: discover accounts Gatehouse never granted,
// transfer ownership, remove held entitlements, disable or delete the
// account, revoke sessions, then re-read the account (verify); then manual
// tasks to rotate shared credentials the leaver could see. The order is a
// security property (issue #9): every downstream step depends on both IdP
// steps, not only on the suspension.
func (p *planner) leaver(held []gatehouse.Grant) {
	e := p.e
	byApp := groupGrants(held)
	idp := e.idpName()
	var base []string
	if idp != "" {
		c := e.caps(idp)
		var suspend string
		switch {
		case c.Has(gatehouse.CapDisable):
			suspend = p.add(gatehouse.Step{ID: stepID("disable", idp), Kind: gatehouse.StepDisable, App: idp, Result: p.confirmInput(idp, nil)})
		case c.Has(gatehouse.CapDelete):
			suspend = p.add(gatehouse.Step{ID: stepID("delete", idp), Kind: gatehouse.StepDelete, App: idp, Result: p.confirmInput(idp, nil)})
		}
		if suspend != "" {
			base = append(base, suspend)
		}
		if c.Has(gatehouse.CapRevokeSessions) {
			base = append(base, p.add(gatehouse.Step{ID: stepID("sessions", idp), Kind: gatehouse.StepRevokeSessions, App: idp, DependsOn: append([]string(nil), base...)}))
		}
	}
	for _, app := range e.cfg.AppNames() {
		if app == idp {
			continue
		}
		if e.caps(app).Has(gatehouse.CapListAccounts) {
			p.add(gatehouse.Step{ID: stepID("discover", app), Kind: gatehouse.StepDiscover, App: app, DependsOn: base})
		}
		if len(byApp[app]) > 0 {
			p.closeAccount(app, byApp[app], base, true)
		}
	}
	// Grants in apps that are no longer configured (or have no connector)
	// are still access paths: a person must close them.
	for _, app := range sortedKeys(byApp) {
		if e.conns[app] == nil && app != idp {
			p.manual(app, fmt.Sprintf("Remove %s's access to %s", p.id.Email, app), base)
		}
	}
	var idpSteps []string
	if idp != "" && len(byApp[idp]) > 0 && e.revokeOnLeave(idp) && e.caps(idp).Has(gatehouse.CapRevoke) {
		// Groups inside the IdP: removed one by one after the suspension
		// (the account is already locked out) unless the IdP drops them
		// itself; the verify step below confirms either way.
		for _, g := range byApp[idp] {
			if isAccount(g.Entitlement) || strings.HasPrefix(g.Entitlement, "discovered:") {
				continue
			}
			idpSteps = append(idpSteps, p.add(gatehouse.Step{ID: stepID("revoke", idp, g.Entitlement), Kind: gatehouse.StepRevoke, App: idp, Entitlement: g.Entitlement,
				DependsOn: base, Result: p.confirmInput(idp, nil)}))
		}
	}
	// Shared credentials: any app where the leaver held a high or critical
	// entitlement gets a rotation task for its owner.
	for _, app := range sortedKeys(byApp) {
		if p.e.highRisk(byApp[app]) {
			p.add(gatehouse.Step{ID: stepID("rotate", app), Kind: gatehouse.StepManualTask, App: app, DependsOn: base,
				Result: map[string]string{resTitle: fmt.Sprintf("Rotate shared credentials of %s that %s could see", app, p.id.Email), resAssignee: e.appOwner(app)}})
		}
	}
	if idp != "" && e.cfg.Apps[idp].Delete && e.caps(idp).Has(gatehouse.CapDelete) && !p.has(stepID("delete", idp)) {
		// Delete the IdP account last: apps may still need it to resolve
		// the leaver while their own accounts are closed.
		var all []string
		for _, s := range p.steps {
			if s.Kind != gatehouse.StepManualTask && s.Kind != gatehouse.StepVerify {
				all = append(all, s.ID)
			}
		}
		p.add(gatehouse.Step{ID: stepID("delete", idp), Kind: gatehouse.StepDelete, App: idp, DependsOn: all, Result: p.confirmInput(idp, nil)})
		idpSteps = append(idpSteps, stepID("delete", idp))
	}
	if idp != "" && (p.has(stepID("disable", idp)) || p.has(stepID("delete", idp))) {
		deps := append(append([]string(nil), base...), idpSteps...)
		p.verify(idp, "", nil, deps, p.has(stepID("delete", idp)) && e.cfg.Apps[idp].Delete || !e.caps(idp).Has(gatehouse.CapDisable))
	}
}

// revokeOnLeave reports whether a leaver's entitlements in app are removed
// one by one before the account is closed: the app's revoke_on_leave when
// set, else false only for connectors documented to drop memberships on
// deactivation (they say so through DeactivationDropsEntitlements), else
// true. Apps configured delete: true never need it: memberships die with
// the account. The verify step checks what the app shows either way.
func (e *Engine) revokeOnLeave(app string) bool {
	ca := e.cfg.Apps[app]
	if ca != nil && ca.RevokeOnLeave != nil {
		return *ca.RevokeOnLeave
	}
	if d, ok := e.conns[app].(membershipDropper); ok && d.DeactivationDropsEntitlements() {
		return false
	}
	return true
}

// membershipDropper is implemented by connectors whose vendor documents that
// deactivating (Disable) an account removes its memberships, so a leaver's
// entitlements need no explicit revoke steps by default.
type membershipDropper interface {
	DeactivationDropsEntitlements() bool
}

// confirmInput marks a leaver's closing step whose grant records wait for
// the app's verify step: the grant history says "revoked" only once the
// re-read shows it (see recordGrants).
func (p *planner) confirmInput(app string, acct map[string]string) map[string]string {
	m := map[string]string{resConfirm: "verify"}
	for k, v := range acct {
		m[k] = v
	}
	return m
}

// verify plans the re-read of app's account after deps; gone says the
// account is expected to be deleted rather than disabled.
func (p *planner) verify(app, suffix string, acct map[string]string, deps []string, gone bool) {
	id := stepID("verify", app)
	if suffix != "" {
		id = stepID("verify", app, suffix)
	}
	r := map[string]string{resExpect: "inactive"}
	if gone {
		r[resExpect] = "deleted"
	}
	for k, v := range acct {
		r[k] = v
	}
	p.add(gatehouse.Step{ID: id, Kind: gatehouse.StepVerify, App: app, DependsOn: deps, Result: r})
}

func (e *Engine) highRisk(gs []gatehouse.Grant) bool {
	for _, g := range gs {
		if ent, ok := e.cfg.Entitlement(g.Ref()); ok && ent.Risk >= gatehouse.RiskHigh {
			return true
		}
	}
	return false
}

func groupGrants(gs []gatehouse.Grant) map[string][]gatehouse.Grant {
	m := map[string][]gatehouse.Grant{}
	for _, g := range gs {
		m[g.App] = append(m[g.App], g)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// closeAccount plans closing one app account: transfer ownership first when
// the account will be deleted (in parallel when it is only disabled), disable
// or delete per the app's config, revoke sessions in parallel, or revoke
// entitlements one by one when the connector cannot disable, or a manual
// task when it can do neither. extra names a specific (discovered) account.
func (p *planner) closeAccount(app string, held []gatehouse.Grant, base []string, leaving bool) {
	p.closeAccountRef(app, held, base, leaving, "", nil)
}

func (p *planner) closeAccountRef(app string, held []gatehouse.Grant, base []string, leaving bool, suffix string, acct map[string]string) {
	e := p.e
	c := e.caps(app)
	ca := e.cfg.Apps[app]
	if e.conns[app] == nil || ca == nil {
		p.manual(app, fmt.Sprintf("Remove %s's account from %s", p.id.Email, app), base)
		return
	}
	id := func(kind string) string {
		if suffix != "" {
			return stepID(kind, app, suffix)
		}
		return stepID(kind, app)
	}
	del := leaving && ca.Delete && c.Has(gatehouse.CapDelete)
	removesAccount := del || (!c.Has(gatehouse.CapDisable) && c.Has(gatehouse.CapDelete) && leaving)
	// A leaver's account that is disabled or deleted is re-read afterwards;
	// its closing steps then leave the grant records to that verify step.
	willVerify := leaving && (removesAccount || c.Has(gatehouse.CapDisable))
	input := func() map[string]string {
		if willVerify {
			return p.confirmInput(app, acct)
		}
		m := map[string]string{}
		for k, v := range acct {
			m[k] = v
		}
		return m
	}
	var transfer string
	if leaving && c.Has(gatehouse.CapTransferOwnership) {
		if rc := p.receiver(app); rc.Email != "" {
			r := map[string]string{}
			for k, v := range acct {
				r[k] = v
			}
			r[resTo], r[resRole], r[resLadder] = rc.Email, rc.Role, encodeLadder(rc.Fallbacks)
			transfer = p.add(gatehouse.Step{ID: id("transfer"), Kind: gatehouse.StepTransferOwnership, App: app, DependsOn: base, Result: r})
		}
	}
	// This app's closing steps, for the verify step. Not the transfer: it
	// may wait on a person (a hand-off), and proving the access gone must
	// not (a delete waits for it anyway).
	var mine []string
	// A leaver's entitlements go explicitly, before the account is closed
	// (so the connector can still address it), unless the account is
	// deleted or the app drops memberships itself.
	var revokes []string
	if leaving && suffix == "" && !removesAccount && c.Has(gatehouse.CapDisable) && c.Has(gatehouse.CapRevoke) && e.revokeOnLeave(app) {
		for _, g := range held {
			if isAccount(g.Entitlement) || strings.HasPrefix(g.Entitlement, "discovered:") {
				continue
			}
			revokes = append(revokes, p.add(gatehouse.Step{ID: stepID("revoke", app, g.Entitlement), Kind: gatehouse.StepRevoke, App: app, Entitlement: g.Entitlement,
				DependsOn: base, Result: input()}))
		}
		mine = append(mine, revokes...)
	}
	closing := ""
	switch {
	case removesAccount:
		deps := append([]string(nil), base...)
		if transfer != "" {
			deps = append(deps, transfer)
		}
		closing = p.add(gatehouse.Step{ID: id("delete"), Kind: gatehouse.StepDelete, App: app, DependsOn: deps, Result: input()})
	case c.Has(gatehouse.CapDisable):
		deps := append(append([]string(nil), base...), revokes...)
		closing = p.add(gatehouse.Step{ID: id("disable"), Kind: gatehouse.StepDisable, App: app, DependsOn: deps, Result: input()})
	case c.Has(gatehouse.CapRevoke) && suffix == "":
		hasAccount := false
		for _, g := range held {
			if isAccount(g.Entitlement) {
				hasAccount = true
				continue
			}
			p.add(gatehouse.Step{ID: stepID("revoke", app, g.Entitlement), Kind: gatehouse.StepRevoke, App: app, Entitlement: g.Entitlement, DependsOn: base})
		}
		if hasAccount {
			p.manual(app, fmt.Sprintf("Disable %s's account in %s (the connector cannot)", p.id.Email, app), base)
		}
	default:
		p.manual(app, fmt.Sprintf("Remove %s's account from %s", p.id.Email, app), base)
	}
	if closing != "" {
		mine = append(mine, closing)
	}
	if c.Has(gatehouse.CapRevokeSessions) {
		mine = append(mine, p.add(gatehouse.Step{ID: id("sessions"), Kind: gatehouse.StepRevokeSessions, App: app, DependsOn: base, Result: input()}))
	}
	if willVerify && closing != "" {
		p.verify(app, suffix, acct, mine, removesAccount)
	}
}

// manual plans a task for the app's owner. Its completion closes the app's
// recorded grants (the owner attests the access is gone).
func (p *planner) manual(app, title string, deps []string) {
	p.add(gatehouse.Step{ID: stepID("manual", app), Kind: gatehouse.StepManualTask, App: app, DependsOn: deps,
		Result: map[string]string{resTitle: title, resAssignee: p.e.appOwner(app), "closes_access": "true"}})
}

// suspend (leave of absence): disable and sign out everywhere, keeping the
// grants recorded so that return restores them.
func (p *planner) suspend(held []gatehouse.Grant) {
	e := p.e
	byApp := groupGrants(held)
	idp := e.idpName()
	var base []string
	if idp != "" {
		if e.caps(idp).Has(gatehouse.CapDisable) {
			base = append(base, p.add(gatehouse.Step{ID: stepID("disable", idp), Kind: gatehouse.StepDisable, App: idp, Result: map[string]string{resKeepGrants: "true"}}))
		}
		if e.caps(idp).Has(gatehouse.CapRevokeSessions) {
			p.add(gatehouse.Step{ID: stepID("sessions", idp), Kind: gatehouse.StepRevokeSessions, App: idp, DependsOn: base})
		}
	}
	for _, app := range sortedKeys(byApp) {
		if app == idp || e.conns[app] == nil {
			continue
		}
		c := e.caps(app)
		if c.Has(gatehouse.CapDisable) {
			p.add(gatehouse.Step{ID: stepID("disable", app), Kind: gatehouse.StepDisable, App: app, DependsOn: base, Result: map[string]string{resKeepGrants: "true"}})
		}
		if c.Has(gatehouse.CapRevokeSessions) {
			p.add(gatehouse.Step{ID: stepID("sessions", app), Kind: gatehouse.StepRevokeSessions, App: app, DependsOn: base})
		}
	}
}

// resume (return from leave): enable the IdP account, then every app
// account the identity still holds.
func (p *planner) resume(held []gatehouse.Grant) {
	e := p.e
	idp := e.idpName()
	var base []string
	if idp != "" && e.caps(idp).Has(gatehouse.CapEnable) {
		base = append(base, p.add(gatehouse.Step{ID: stepID("enable", idp), Kind: gatehouse.StepEnable, App: idp}))
	}
	for _, app := range sortedKeys(groupGrants(held)) {
		if app == idp || e.conns[app] == nil || !e.caps(app).Has(gatehouse.CapEnable) {
			continue
		}
		p.add(gatehouse.Step{ID: stepID("enable", app), Kind: gatehouse.StepEnable, App: app, DependsOn: base})
	}
}

// appConfig returns the configured app or nil.
func (e *Engine) appConfig(name string) *config.App { return e.cfg.Apps[name] }
