package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// RequestAccess creates a run that grants time-bound access after the
// approvals policy requires; the grant expires by itself (a scheduled
// revocation, with a reminder before). Requests for entitlements a rule
// excludes, or that would violate a blocking SoD constraint, are refused.
func (e *Engine) RequestAccess(ctx context.Context, req AccessRequest) (gatehouse.Run, error) {
	if e.rules == nil {
		return gatehouse.Run{}, errors.New("access requests need the rules engine")
	}
	if len(req.Entitlements) == 0 {
		return gatehouse.Run{}, fmt.Errorf("%w: no entitlements requested", ErrInvalidEvent)
	}
	id, err := e.lookupIdentity(req.Identity)
	if err != nil {
		return gatehouse.Run{}, err
	}
	if id.Status == gatehouse.StatusTerminated || id.Status == gatehouse.StatusSuspended {
		return gatehouse.Run{}, fmt.Errorf("%w: %s is %s", ErrNotAllowed, id.Email, id.Status)
	}
	if frozen, why := e.Frozen(id); frozen {
		return gatehouse.Run{}, fmt.Errorf("%w: %s", ErrNotAllowed, why) // no owner, no new access
	}
	now := e.clock.Now()
	held, err := e.db.Grants(id.Key())
	if err != nil {
		return gatehouse.Run{}, err
	}
	var heldRefs []gatehouse.EntitlementRef
	for _, g := range held {
		heldRefs = append(heldRefs, g.Ref())
	}
	plan, err := e.rules.ForRequest(id, req.Entitlements, heldRefs, now, req.Duration)
	if err != nil {
		return gatehouse.Run{}, fmt.Errorf("evaluate request: %w", err)
	}
	if len(plan.Excluded) > 0 {
		var refs []string
		for _, x := range plan.Excluded {
			refs = append(refs, x.App+":"+x.Entitlement)
		}
		return gatehouse.Run{}, fmt.Errorf("%w: policy excludes %s for %s", ErrNotAllowed, strings.Join(refs, ", "), id.Email)
	}
	for _, c := range plan.Conflicts {
		if c.Action == "block" {
			return gatehouse.Run{}, fmt.Errorf("%w: %s would violate segregation of duties (%s)", ErrNotAllowed, id.Email, c.Constraint)
		}
	}
	for i := range plan.Grants {
		if plan.Grants[i].ExpiresAt.IsZero() {
			plan.Grants[i].ExpiresAt = plan.ExpiresAt
		}
	}
	if req.RequireApproval {
		requireApproval(&plan)
	}
	plan.Add = plan.Grants
	key := req.DedupeKey
	if key == "" {
		refs := make([]string, len(req.Entitlements))
		for i, r := range req.Entitlements {
			refs[i] = r.String()
		}
		sort.Strings(refs)
		key = fmt.Sprintf("request:%s:%s:%s", id.Key(), strings.Join(refs, ","), now.UTC().Format("2006-01-02"))
	}
	if r, err := e.db.RunByDedupeKey(key); err == nil {
		return r, nil
	}
	ev := gatehouse.Event{ID: key, Type: EventAccessRequest, Identity: id, EffectiveAt: now, Source: req.Source,
		Actor: personActor(req.Requester), DedupeKey: key, Reason: req.Reason, ReceivedAt: now}
	return e.createInternalRun(ev, &plan)
}

func (e *Engine) createInternalRun(ev gatehouse.Event, plan *gatehouse.Plan) (gatehouse.Run, error) {
	run := gatehouse.Run{IdentityKey: ev.Identity.Key(), Event: ev, Plan: plan, Status: gatehouse.RunPending}
	a := e.auditFor(run, "submit", gatehouse.Step{}, "")
	a.Details = map[string]string{"event": string(ev.Type), "dedupe_key": ev.DedupeKey}
	r, created, err := e.db.CreateRun(run, nil, a)
	if err != nil {
		return gatehouse.Run{}, err
	}
	if created {
		e.kick(r.ID, r.IdentityKey)
		e.notify.RunChanged(e.ctx, r, nil)
	}
	return r, nil
}

// expireGrant revokes a time-bound grant that reached its end, as its own
// run (deduplicated on the grant and its expiry).
func (e *Engine) expireGrant(g grantJob) error {
	cur, err := e.db.GetGrant(g.Identity, g.App, g.Entitlement)
	if errors.Is(err, store.ErrNotFound) {
		return nil // already gone
	}
	if err != nil {
		return err
	}
	if !cur.ExpiresAt.Equal(g.ExpiresAt) {
		return nil // extended or re-granted since: a newer job covers it
	}
	id, err := e.db.GetIdentity(g.Identity)
	if err != nil {
		id = gatehouse.Identity{ID: g.Identity}
	}
	now := e.clock.Now()
	key := fmt.Sprintf("expire:%s:%s", g.key(), g.ExpiresAt.UTC().Format(time.RFC3339))
	ev := gatehouse.Event{ID: key, Type: EventAccessExpiry, Identity: id, EffectiveAt: now, Source: "schedule",
		Actor: gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}, DedupeKey: key, Reason: "time-bound access expired", ReceivedAt: now}
	plan := &gatehouse.Plan{Identity: g.Identity, Event: EventAccessExpiry,
		Remove: []gatehouse.PlannedGrant{{App: g.App, Entitlement: g.Entitlement, Reasons: cur.Reasons, Risk: e.riskOf(g.App, g.Entitlement)}}}
	_, err = e.createInternalRun(ev, plan)
	return err
}

// riskOf is an entitlement's configured risk; low when it is not configured
// (a zero Risk does not survive a JSON round trip).
func (e *Engine) riskOf(app, ent string) gatehouse.Risk {
	if x, ok := e.cfg.Entitlement(gatehouse.EntitlementRef{App: app, Entitlement: ent}); ok && x.Risk != 0 {
		return x.Risk
	}
	return gatehouse.RiskLow
}
