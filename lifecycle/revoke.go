package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// EventAccessRevoke is a decision to take access away now (a digest's
// Revoke, a review's Revoke): an internal run, like access requests.
const EventAccessRevoke gatehouse.EventType = "access_revoke"

// RevokeRequest asks to take an identity's access away now.
type RevokeRequest struct {
	Identity string // key or email
	App      string
	// Entitlements to revoke; empty means the whole account in App: every
	// grant there, then the account disabled (or deleted when configured).
	Entitlements []string
	By           string // email of the person who decided
	Reason       string
	Source       string // e.g. "slack:digest"
	// DedupeKey makes a repeated decision (a double click, a redelivered
	// interaction) one run; empty derives one from the request.
	DedupeKey string
	// Account targets one specific account in App (an orphaned account the
	// app listed) instead of the identity's own: it is closed by its id.
	// With Identity empty the run is filed under "orphan:APP:ID".
	Account *gatehouse.Account
}

// Attributes of a run's copy of the identity that name one account to close.
const (
	attrCloseID    = "gatehouse.close_account_id"
	attrCloseEmail = "gatehouse.close_account_email"
	attrCloseUser  = "gatehouse.close_account_user"
)

// orphanKey files a run that closes an account nobody owns.
func orphanKey(app, accountID string) string { return "orphan:" + app + ":" + accountID }

// RevokeAccess creates a run that removes what req names. Removing access
// needs no approval; who may ask is the caller's to check.
func (e *Engine) RevokeAccess(ctx context.Context, req RevokeRequest) (gatehouse.Run, error) {
	if e.cfg.Apps[req.App] == nil {
		return gatehouse.Run{}, fmt.Errorf("%w: app %q is not configured", ErrInvalidEvent, req.App)
	}
	if req.Account != nil {
		return e.closeAccountByID(req)
	}
	id, err := e.lookupIdentity(req.Identity)
	if err != nil {
		return gatehouse.Run{}, err
	}
	held, err := e.db.Grants(id.Key())
	if err != nil {
		return gatehouse.Run{}, err
	}
	whole := len(req.Entitlements) == 0
	want := map[string]bool{}
	for _, ent := range req.Entitlements {
		want[ent] = true
		if isAccount(ent) {
			whole = true
		}
	}
	var remove []gatehouse.PlannedGrant
	for _, g := range held {
		if g.App != req.App || !(whole || want[g.Entitlement]) {
			continue
		}
		remove = append(remove, gatehouse.PlannedGrant{App: g.App, Entitlement: g.Entitlement, Reasons: g.Reasons, Risk: e.riskOf(g.App, g.Entitlement)})
	}
	if whole && !holds(held, req.App, string(gatehouse.EntAccount)) {
		// The account exists in the app even when Gatehouse never recorded
		// granting it (a dormant account the app listed): close it anyway.
		remove = append(remove, gatehouse.PlannedGrant{App: req.App, Entitlement: string(gatehouse.EntAccount), Risk: gatehouse.RiskLow})
	}
	if len(remove) == 0 {
		return gatehouse.Run{}, fmt.Errorf("%w: %s holds none of %s in %s", ErrInvalidEvent, id.Email, strings.Join(req.Entitlements, ", "), req.App)
	}
	sort.Slice(remove, func(i, j int) bool { return remove[i].Entitlement < remove[j].Entitlement })
	now := e.clock.Now()
	key := req.DedupeKey
	if key == "" {
		ents := make([]string, len(remove))
		for i, g := range remove {
			ents[i] = g.Entitlement
		}
		key = fmt.Sprintf("revoke:%s:%s:%s:%s", id.Key(), req.App, strings.Join(ents, ","), now.UTC().Format("2006-01-02"))
	}
	if r, err := e.db.RunByDedupeKey(key); err == nil {
		return r, nil
	}
	ev := gatehouse.Event{ID: key, Type: EventAccessRevoke, Identity: id, EffectiveAt: now, Source: req.Source,
		Actor: personActor(req.By), DedupeKey: key, Reason: req.Reason, ReceivedAt: now}
	plan := &gatehouse.Plan{Identity: id.Key(), Event: EventAccessRevoke, Remove: remove}
	return e.createInternalRun(ev, plan)
}

// closeAccountByID plans closing one account the app listed, by its id:
// the identity's (when known) or nobody's.
func (e *Engine) closeAccountByID(req RevokeRequest) (gatehouse.Run, error) {
	a := *req.Account
	if strings.TrimSpace(a.ID) == "" {
		return gatehouse.Run{}, fmt.Errorf("%w: the account to close has no id", ErrInvalidEvent)
	}
	id := gatehouse.Identity{ID: orphanKey(req.App, a.ID), Kind: gatehouse.KindServiceAccount, Email: a.Email, Name: a.DisplayName}
	if req.Identity != "" {
		known, err := e.lookupIdentity(req.Identity)
		if err != nil {
			return gatehouse.Run{}, err
		}
		id = known
	}
	// The run's own copy of the identity names the account to close; the
	// stored identity is not changed.
	attrs := map[string]string{}
	for k, v := range id.Attributes {
		attrs[k] = v
	}
	attrs[attrCloseID], attrs[attrCloseEmail], attrs[attrCloseUser] = a.ID, a.Email, a.UserName
	id.Attributes = attrs
	now := e.clock.Now()
	key := req.DedupeKey
	if key == "" {
		key = fmt.Sprintf("close:%s:%s:%s", req.App, a.ID, now.UTC().Format("2006-01-02"))
	}
	if r, err := e.db.RunByDedupeKey(key); err == nil {
		return r, nil
	}
	ev := gatehouse.Event{ID: key, Type: EventAccessRevoke, Identity: id, EffectiveAt: now, Source: req.Source,
		Actor: personActor(req.By), DedupeKey: key, Reason: req.Reason, ReceivedAt: now}
	plan := &gatehouse.Plan{Identity: id.Key(), Event: EventAccessRevoke, Remove: []gatehouse.PlannedGrant{{App: req.App, Entitlement: discoveredEnt(a.ID), Risk: gatehouse.RiskLow}}}
	return e.createInternalRun(ev, plan)
}

// revokePlanned plans an access_revoke run: a whole account is closed the
// way a mover's emptied app is (disable or delete); single entitlements are
// revoked one by one.
func (p *planner) revokePlanned(plan gatehouse.Plan, held []gatehouse.Grant) {
	byApp := map[string][]gatehouse.PlannedGrant{}
	for _, g := range plan.Remove {
		byApp[g.App] = append(byApp[g.App], g)
	}
	for _, app := range sortedKeys(byApp) {
		whole := false
		for _, g := range byApp[app] {
			whole = whole || isAccount(g.Entitlement)
			if acctID, ok := strings.CutPrefix(g.Entitlement, "discovered:"); ok && p.id.Attr(attrCloseID) == acctID {
				// One specific account, by its id (an orphan the app listed).
				p.closeAccountRef(app, nil, nil, false, acctID, map[string]string{resAccountID: acctID,
					resAccountEmail: p.id.Attr(attrCloseEmail), resAccountUser: p.id.Attr(attrCloseUser)})
			}
		}
		if whole {
			var inApp []gatehouse.Grant
			for _, g := range held {
				if g.App == app {
					inApp = append(inApp, g)
				}
			}
			p.closeAccount(app, inApp, nil, false)
			continue
		}
		for _, g := range byApp[app] {
			if strings.HasPrefix(g.Entitlement, "discovered:") {
				continue
			}
			p.add(gatehouse.Step{ID: stepID("revoke", g.App, g.Entitlement), Kind: gatehouse.StepRevoke, App: g.App, Entitlement: g.Entitlement, Reasons: g.Reasons})
		}
	}
}
