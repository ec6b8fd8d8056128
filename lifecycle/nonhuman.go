package lifecycle

// Non-human identities (service accounts, bots, AI agents) and time-bound
// access: registration with an accountable owner, owner attestation before
// the expiry, the hand-off of a departed owner's non-humans to their manager
// (access frozen meanwhile), and extensions of time-bound grants, which always
// go through an approval.
//
// State lives in existing buckets only: the identity record carries the
// hand-off markers (attributes owner_left and handoff_to), the job queue the
// attestation reminders, runs the expiry and any approval.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// EventIdentityExtend is the internal run that extends a non-human's expiry
// past the owner's cap: it consists of an approval by IT; the new expiry is
// applied when the run succeeds.
const EventIdentityExtend gatehouse.EventType = "identity_extend"

const (
	jobOwnerAttest = "owner_attest"
	// AttrOwnerLeft marks a non-human whose owner left: its access is
	// frozen until someone accepts ownership. The value is the old owner.
	AttrOwnerLeft = "owner_left"
	// AttrHandoffTo is who was asked to take a frozen non-human over.
	AttrHandoffTo = "handoff_to"
	// AttrRegisteredBy records who registered a non-human.
	AttrRegisteredBy = "registered_by"
)

// Registration asks for a new non-human identity and the access it needs.
type Registration struct {
	Identity  gatehouse.Identity // kind, email, name, owner, purpose, expiry
	Access    []gatehouse.EntitlementRef
	Requester string // email of who registers it
	Source    string // "slack:/identity", "cli"
	DedupeKey string // e.g. the Slack view id
}

// Registered is what a registration created.
type Registered struct {
	Identity gatehouse.Identity
	Joiner   gatehouse.Run
	Request  *gatehouse.Run // the access asked for, when any
	Expiry   gatehouse.Run  // the scheduled expiry (leaver) run
}

// Attested is the outcome of an owner's re-attestation.
type Attested struct {
	Identity gatehouse.Identity
	// Pending is the approval run when the extension goes past the owner's
	// cap (nil: the new expiry is already in force).
	Pending *gatehouse.Run
	Until   gatehouse.Date
}

// RegisterNonHuman creates a non-human identity and submits its joiner run
// (birthright access by rules, approvals as policy says), requests the
// access asked for until the expiry, schedules the expiry run and the
// owner's attestation reminders. The owner must be a known person who has
// not left: no owner, no access.
func (e *Engine) RegisterNonHuman(ctx context.Context, reg Registration) (Registered, error) {
	id := reg.Identity
	id.Normalize()
	if id.Kind.Human() {
		return Registered{}, fmt.Errorf("%w: kind %s is a person; register a service_account, bot or ai_agent", ErrInvalidEvent, id.Kind)
	}
	if err := id.Validate(); err != nil {
		return Registered{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	now := e.clock.Now()
	loc := id.Zone(e.cfg.Location())
	if !id.Expiry.In(loc).After(now) {
		return Registered{}, fmt.Errorf("%w: expiry %s is not in the future", ErrInvalidEvent, id.Expiry)
	}
	if _, err := e.activeOwner(id.Owner); err != nil {
		return Registered{}, err
	}
	if stored, err := e.db.IdentityByEmail(id.Email); err == nil && stored.Status != gatehouse.StatusTerminated {
		if stored.Kind.Human() || !strings.EqualFold(stored.Owner, id.Owner) {
			return Registered{}, fmt.Errorf("%w: %s is already registered (owner %s)", ErrNotAllowed, id.Email, stored.Owner)
		}
	}
	if id.StartDate.IsZero() {
		id.StartDate = gatehouse.DateOf(now.In(loc))
	}
	if id.Attributes == nil {
		id.Attributes = map[string]string{}
	}
	if reg.Requester != "" {
		id.Attributes[AttrRegisteredBy] = strings.ToLower(reg.Requester)
	}
	ev := gatehouse.Event{Type: gatehouse.EventJoiner, Identity: id, Source: reg.Source, Actor: personActor(reg.Requester),
		Reason: "register " + string(id.Kind) + ": " + id.Purpose}
	if reg.DedupeKey != "" {
		ev.DedupeKey = "register:" + reg.DedupeKey
	}
	joiner, _, err := e.Submit(ctx, ev)
	if err != nil {
		return Registered{}, err
	}
	out := Registered{Identity: joiner.Event.Identity, Joiner: joiner}
	if len(reg.Access) > 0 {
		req := AccessRequest{Identity: id.Key(), Entitlements: reg.Access, Duration: id.Expiry.In(loc).Sub(now),
			Reason: id.Purpose, Requester: reg.Requester, Source: reg.Source}
		if reg.DedupeKey != "" {
			req.DedupeKey = "register-access:" + reg.DedupeKey
		}
		r, err := e.RequestAccess(ctx, req)
		if err != nil {
			return out, fmt.Errorf("request the access of %s: %w", id.Email, err)
		}
		out.Request = &r
	}
	exp, err := e.scheduleNonHumanEnd(ctx, out.Identity)
	if err != nil {
		return out, err
	}
	out.Expiry = exp
	return out, nil
}

// activeOwner returns the owner's identity when it is a known person who
// has not left.
func (e *Engine) activeOwner(email string) (gatehouse.Identity, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return gatehouse.Identity{}, fmt.Errorf("%w: a non-human needs an owner (no owner, no access)", ErrNotAllowed)
	}
	o, err := e.db.IdentityByEmail(email)
	if errors.Is(err, store.ErrNotFound) {
		return o, fmt.Errorf("%w: owner %s is not a person Gatehouse knows", ErrNotAllowed, email)
	}
	if err != nil {
		return o, err
	}
	if !o.Kind.Human() {
		return o, fmt.Errorf("%w: owner %s is itself a non-human; owners are people", ErrNotAllowed, email)
	}
	if o.Status == gatehouse.StatusTerminated {
		return o, fmt.Errorf("%w: owner %s has left", ErrNotAllowed, email)
	}
	return o, nil
}

// scheduleNonHumanEnd submits the expiry run at the identity's expiry (the
// EventExpiry path: leaver steps plus a note to the owner) and arms the
// owner's attestation reminders before it.
func (e *Engine) scheduleNonHumanEnd(ctx context.Context, id gatehouse.Identity) (gatehouse.Run, error) {
	at := id.Expiry.In(id.Zone(e.cfg.Location()))
	r, _, err := e.Submit(ctx, gatehouse.Event{Type: gatehouse.EventExpiry, Identity: id, EffectiveAt: at, Source: "schedule",
		Actor: gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}, Reason: "non-human expiry " + id.Expiry.String()})
	if err != nil {
		return r, fmt.Errorf("schedule the expiry of %s: %w", id.Email, err)
	}
	now := e.clock.Now()
	for _, before := range e.cfg.Defaults.AttestBefore {
		when := at.Add(-before)
		if !when.After(now) {
			continue
		}
		j := attestJob{Identity: id.Key(), Expiry: id.Expiry, Before: before}
		if err := e.scheduleJob(jobOwnerAttest, id.Key()+"|"+before.String(), when, j); err != nil {
			return r, err
		}
	}
	return r, nil
}

// nonHumanJoined makes sure a non-human that joined by any path (HR sync,
// `gatehouse onboard`, registration) has its expiry run and its owner's
// attestation reminders. Both are idempotent: the expiry run is deduplicated
// on the (stored, possibly already extended) expiry date, the reminders are
// keyed by identity and offset.
func (e *Engine) nonHumanJoined(r gatehouse.Run) {
	if r.Event.Type != gatehouse.EventJoiner && r.Event.Type != gatehouse.EventRehire {
		return
	}
	id, err := e.db.GetIdentity(r.IdentityKey)
	if err != nil || id.Kind.Human() || !id.Kind.Valid() || id.Expiry.IsZero() || id.Status == gatehouse.StatusTerminated {
		return
	}
	if _, err := e.scheduleNonHumanEnd(e.ctx, id); err != nil {
		e.log.Error().Err(err).Str("identity", id.Key()).Msg("schedule non-human expiry")
	}
}

// attestJob is an owner-attestation reminder for one expiry date.
type attestJob struct {
	Identity string         `json:"identity"`
	Expiry   gatehouse.Date `json:"expiry"`
	Before   time.Duration  `json:"before"`
}

// attestReminder asks the owner to re-attest, unless the expiry moved since
// (a newer job covers it) or the identity is gone or frozen (the hand-off
// card asks instead).
func (e *Engine) attestReminder(j attestJob) error {
	id, err := e.db.GetIdentity(j.Identity)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if id.Expiry != j.Expiry || id.Status == gatehouse.StatusTerminated || id.Attr(AttrOwnerLeft) != "" || id.Owner == "" {
		return nil
	}
	e.notify.Reminder(e.ctx, "owner_attest", id.Key())
	return nil
}

// Frozen reports whether a non-human's access must not grow, and why: it has
// no owner, or its owner left and nobody has accepted ownership yet.
func (e *Engine) Frozen(id gatehouse.Identity) (bool, string) {
	if id.Kind.Human() || !id.Kind.Valid() {
		return false, ""
	}
	if left := id.Attr(AttrOwnerLeft); left != "" {
		return true, fmt.Sprintf("%s's owner %s has left; its access is frozen until someone accepts ownership", id.Email, left)
	}
	if id.Owner == "" {
		return true, fmt.Sprintf("%s has no owner (no owner, no access)", id.Email)
	}
	if o, err := e.db.IdentityByEmail(id.Owner); err == nil && o.Status == gatehouse.StatusTerminated {
		return true, fmt.Sprintf("%s's owner %s has left; its access is frozen until someone accepts ownership", id.Email, id.Owner)
	}
	return false, ""
}

// freezeEvent applies the freeze to a submitted event: a joiner or rehire
// of a frozen non-human is refused; a mover keeps its removals and loses
// every addition. It returns the reason when something was withheld. A
// mover that does not change the owner keeps the hand-off markers (an HR
// feed knows nothing of them), so the hand-off card still works.
func (e *Engine) freezeEvent(ev *gatehouse.Event, plan *gatehouse.Plan) (string, error) {
	if ev.Type == gatehouse.EventMover && ev.Previous != nil && !ev.Identity.Kind.Human() {
		// A move that hands the identity to a new, active owner is how it is
		// owned again; judge the move by its stored state otherwise.
		prev := *ev.Previous
		if strings.EqualFold(prev.Owner, ev.Identity.Owner) || ev.Identity.Owner == "" {
			for _, k := range []string{AttrOwnerLeft, AttrHandoffTo} {
				if v := prev.Attr(k); v != "" && ev.Identity.Attr(k) == "" {
					ev.Identity.Attributes = mergeAttr(ev.Identity.Attributes, k, v)
				}
			}
		} else if _, err := e.activeOwner(ev.Identity.Owner); err == nil {
			return "", nil
		}
	}
	id := ev.Identity
	frozen, why := e.Frozen(id)
	if !frozen {
		return "", nil
	}
	switch ev.Type {
	case gatehouse.EventJoiner, gatehouse.EventRehire:
		return why, fmt.Errorf("%w: %s", ErrNotAllowed, why)
	case gatehouse.EventMover:
		if plan != nil && len(plan.Add) > 0 {
			plan.Add = nil
			plan.Approvals, plan.Review = nil, nil
			return why, nil
		}
	}
	return "", nil
}

func mergeAttr(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// handoffNonHumans runs when a person's leaver-like run starts: every
// non-human they own is frozen and handed to their manager (else IT), who
// gets a card to accept ownership or retire it. Idempotent: an identity
// already handed off is not asked about twice.
func (e *Engine) handoffNonHumans(run gatehouse.Run) {
	leaver := run.Event.Identity
	if !leaver.Kind.Human() || leaver.Email == "" {
		return
	}
	to := strings.ToLower(leaver.ManagerEmail)
	if to == "" {
		to = e.itEmail()
	}
	var owned []gatehouse.Identity
	err := e.db.EachIdentity(func(id gatehouse.Identity) error {
		if !id.Kind.Human() && strings.EqualFold(id.Owner, leaver.Email) && id.Status != gatehouse.StatusTerminated && id.Attr(AttrOwnerLeft) == "" {
			owned = append(owned, id)
		}
		return nil
	})
	if err != nil {
		e.log.Error().Err(err).Str("run", run.ID).Msg("list the leaver's non-humans")
		return
	}
	for _, id := range owned {
		id.Attributes = mergeAttr(id.Attributes, AttrOwnerLeft, strings.ToLower(leaver.Email))
		id.Attributes[AttrHandoffTo] = to
		a := gatehouse.AuditEntry{Time: e.clock.Now().UTC(), Actor: gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "gatehouse"},
			Action: "owner_left", IdentityKey: id.Key(), RunID: run.ID,
			Reason:  "owner " + leaver.Email + " left; access frozen until " + to + " accepts ownership or retires it",
			Details: map[string]string{"owner": leaver.Email, "handoff_to": to}}
		if _, err := e.db.PutIdentity(id, a); err != nil {
			e.log.Error().Err(err).Str("identity", id.Key()).Msg("freeze non-human")
			continue
		}
		e.notify.Reminder(e.ctx, "owner_handoff", id.Key())
	}
}

// nonHuman loads a stored non-human identity.
func (e *Engine) nonHuman(key string) (gatehouse.Identity, error) {
	id, err := e.lookupIdentity(key)
	if err != nil {
		return id, err
	}
	if id.Kind.Human() {
		return id, fmt.Errorf("%w: %s is a person, not a non-human identity", ErrNotAllowed, id.Email)
	}
	if id.Status == gatehouse.StatusTerminated {
		return id, fmt.Errorf("%w: %s is already retired", ErrNotAllowed, id.Email)
	}
	return id, nil
}

func (e *Engine) isIT(email string) bool { return contains(e.itEmails(), strings.ToLower(email)) }

func (e *Engine) refuseNH(id gatehouse.Identity, by, what, why string) error {
	_, _ = e.db.AppendAudit(gatehouse.AuditEntry{Time: e.clock.Now().UTC(), Actor: personActor(by), Action: "refuse",
		IdentityKey: id.Key(), Reason: why, Details: map[string]string{"attempted": what}})
	return fmt.Errorf("%w: %s", ErrNotAllowed, why)
}

// AcceptOwnership makes by the owner of a frozen non-human: the person the
// hand-off was sent to, or IT. Audited; the freeze ends.
func (e *Engine) AcceptOwnership(ctx context.Context, key, by string) (gatehouse.Identity, error) {
	by = strings.ToLower(strings.TrimSpace(by))
	id, err := e.nonHuman(key)
	if err != nil {
		return id, err
	}
	if id.Attr(AttrOwnerLeft) == "" {
		return id, fmt.Errorf("%w: %s is owned by %s; nothing to hand off", ErrNotAllowed, id.Email, id.Owner)
	}
	if by == "" || (by != id.Attr(AttrHandoffTo) && !e.isIT(by)) {
		return id, e.refuseNH(id, by, "accept_ownership", by+" was not asked to take over "+id.Email)
	}
	if _, err := e.activeOwner(by); err != nil {
		return id, err
	}
	old := id.Attr(AttrOwnerLeft)
	attrs := map[string]string{}
	for k, v := range id.Attributes {
		if k != AttrOwnerLeft && k != AttrHandoffTo {
			attrs[k] = v
		}
	}
	id.Attributes, id.Owner = attrs, by
	a := gatehouse.AuditEntry{Time: e.clock.Now().UTC(), Actor: personActor(by), Action: "accept_ownership", IdentityKey: id.Key(),
		Reason: by + " owns " + id.Email + " now (previous owner " + old + " left)", Details: map[string]string{"from": old, "to": by}}
	return e.db.PutIdentity(id, a)
}

// Retire ends a non-human now through the EventExpiry path. The owner, the
// person a hand-off went to, or IT may retire it.
func (e *Engine) Retire(ctx context.Context, key, by, reason string) (gatehouse.Run, error) {
	by = strings.ToLower(strings.TrimSpace(by))
	id, err := e.nonHuman(key)
	if err != nil {
		return gatehouse.Run{}, err
	}
	if by == "" || (by != id.Owner && by != id.Attr(AttrHandoffTo) && !e.isIT(by)) {
		return gatehouse.Run{}, e.refuseNH(id, by, "retire", by+" may not retire "+id.Email)
	}
	e.cancelScheduledExpiry(id.Key(), personActor(by))
	if reason == "" {
		reason = "retired by " + by
	}
	r, _, err := e.Submit(ctx, gatehouse.Event{Type: gatehouse.EventExpiry, Identity: id, EffectiveAt: e.clock.Now(),
		Source: "retire", Actor: personActor(by), Reason: reason})
	return r, err
}

// cancelScheduledExpiry withdraws the identity's expiry runs still waiting
// for their day (the expiry moved, or the identity is retired now).
func (e *Engine) cancelScheduledExpiry(key string, actor gatehouse.Actor) {
	runs, err := e.db.ListRuns(store.RunFilter{IdentityKey: key})
	if err != nil {
		e.log.Error().Err(err).Str("identity", key).Msg("list runs")
		return
	}
	for _, r := range runs {
		if r.Event.Type == gatehouse.EventExpiry && r.Status == gatehouse.RunScheduled {
			if err := e.cancelRun(r.ID, actor, "expiry moved"); err != nil && !errors.Is(err, ErrWrongState) {
				e.log.Error().Err(err).Str("run", r.ID).Msg("cancel scheduled expiry")
			}
		}
	}
}

// ExtensionDate is the date "Still needed" extends a non-human to when
// clicked at now: defaults.attest_extension from today.
func (e *Engine) ExtensionDate(id gatehouse.Identity) gatehouse.Date {
	return gatehouse.DateOf(e.clock.Now().In(id.Zone(e.cfg.Location())).Add(e.cfg.Defaults.AttestExtension))
}

// Attest records the owner's "still needed": the expiry moves to until (zero:
// ExtensionDate), with the expiry run, the attestation reminders and the
// grants capped at the old expiry moving with it. Past the owner's cap
// (defaults.nonhuman_max_lifetime from registration) the extension waits
// for IT's approval instead.
func (e *Engine) Attest(ctx context.Context, key, by string, until gatehouse.Date) (Attested, error) {
	by = strings.ToLower(strings.TrimSpace(by))
	id, err := e.nonHuman(key)
	if err != nil {
		return Attested{}, err
	}
	if frozen, why := e.Frozen(id); frozen {
		return Attested{Identity: id}, fmt.Errorf("%w: %s", ErrNotAllowed, why)
	}
	if by == "" || by != id.Owner {
		return Attested{Identity: id}, e.refuseNH(id, by, "attest", "only the owner "+id.Owner+" can attest "+id.Email)
	}
	if until.IsZero() {
		until = e.ExtensionDate(id)
	}
	if !id.Expiry.Before(until) {
		return Attested{Identity: id}, fmt.Errorf("%w: %s already runs until %s", ErrInvalidEvent, id.Email, id.Expiry)
	}
	loc := id.Zone(e.cfg.Location())
	start := id.StartDate.In(loc)
	if id.StartDate.IsZero() {
		start = e.clock.Now()
	}
	if max := e.cfg.Defaults.NonHumanMaxLifetime; max > 0 && until.In(loc).After(start.Add(max)) {
		key := "extend-identity:" + id.Key() + ":" + until.String()
		ev := gatehouse.Event{ID: key, Type: EventIdentityExtend, Identity: id, EffectiveAt: e.clock.Now(), Source: "attest",
			Actor: personActor(by), DedupeKey: key, ReceivedAt: e.clock.Now(),
			Reason: fmt.Sprintf("extend %s to %s, past the owner's cap of %s from registration", id.Email, until, e.cfg.Defaults.NonHumanMaxLifetime)}
		if r, err := e.db.RunByDedupeKey(key); err == nil {
			return Attested{Identity: id, Pending: &r, Until: until}, nil
		}
		r, err := e.createInternalRun(ev, &gatehouse.Plan{Identity: id.Key(), Event: EventIdentityExtend, ExpiresAt: until.In(loc)})
		if err != nil {
			return Attested{Identity: id}, err
		}
		return Attested{Identity: id, Pending: &r, Until: until}, nil
	}
	nid, err := e.extendIdentity(ctx, id, until, personActor(by), "attest")
	return Attested{Identity: nid, Until: until}, err
}

// extendIdentity moves a non-human's expiry to until: the identity record
// (audited), its grants that ended with the old expiry, the expiry run and
// the attestation reminders.
func (e *Engine) extendIdentity(ctx context.Context, id gatehouse.Identity, until gatehouse.Date, actor gatehouse.Actor, action string) (gatehouse.Identity, error) {
	loc := id.Zone(e.cfg.Location())
	oldEnd, newEnd := id.Expiry.In(loc), until.In(loc)
	old := id.Expiry
	id.Expiry = until
	a := gatehouse.AuditEntry{Time: e.clock.Now().UTC(), Actor: actor, Action: action, IdentityKey: id.Key(),
		Reason: fmt.Sprintf("%s still needed: expiry %s → %s", id.Email, old, until), Details: map[string]string{"from": old.String(), "to": until.String()}}
	stored, err := e.db.PutIdentity(id, a)
	if err != nil {
		return id, err
	}
	gs, err := e.db.Grants(id.Key())
	if err != nil {
		return stored, err
	}
	for _, g := range gs {
		if !g.RevokedAt.IsZero() || !g.ExpiresAt.Equal(oldEnd) {
			continue // a shorter grant keeps its own end
		}
		g.ExpiresAt = newEnd
		if _, err := e.db.PutGrant(g); err != nil {
			return stored, err
		}
		if err := e.scheduleGrantExpiry(g); err != nil {
			return stored, err
		}
	}
	e.cancelScheduledExpiry(id.Key(), actor)
	if _, err := e.scheduleNonHumanEnd(ctx, stored); err != nil {
		return stored, err
	}
	return stored, nil
}

// identityExtended applies an approved identity_extend run.
func (e *Engine) identityExtended(r gatehouse.Run) {
	if r.Plan == nil || r.Plan.ExpiresAt.IsZero() {
		return
	}
	// A run whose approval was denied or expired also ends "succeeded"
	// (its gated steps skipped): apply only what IT approved.
	steps, err := e.db.Steps(r.ID)
	if err != nil {
		e.log.Error().Err(err).Str("run", r.ID).Msg("read extension steps")
		return
	}
	for _, s := range steps {
		if s.Kind == gatehouse.StepApproval && (s.Status != gatehouse.StepSucceeded || s.Result[resOutcome] != "approved") {
			return
		}
	}
	id, err := e.nonHuman(r.IdentityKey)
	if err != nil {
		e.log.Warn().Err(err).Str("run", r.ID).Msg("approved extension of an identity that is gone")
		return
	}
	until := gatehouse.DateOf(r.Plan.ExpiresAt.In(id.Zone(e.cfg.Location())))
	if !id.Expiry.Before(until) {
		return
	}
	if _, err := e.extendIdentity(e.ctx, id, until, gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "gatehouse"}, "extend"); err != nil {
		e.log.Error().Err(err).Str("run", r.ID).Msg("apply approved extension")
	}
}

// planIdentityExtend plans an identity_extend run: IT approves, nothing else
// changes until the run succeeds.
func (p *planner) planIdentityExtend(plan gatehouse.Plan) {
	p.add(gatehouse.Step{ID: stepID("approval", "identity", "expiry"), Kind: gatehouse.StepApproval, App: "identity",
		Entitlement: "expiry until " + gatehouse.DateOf(plan.ExpiresAt.In(p.id.Zone(p.e.cfg.Location()))).String(),
		Result:      map[string]string{resRoles: string(gatehouse.ApproverIT), resRequired: "1"}})
}

// GrantExtension asks to keep a time-bound grant longer.
type GrantExtension struct {
	Identity  string // key or email of the holder
	Ref       gatehouse.EntitlementRef
	Duration  time.Duration // from now
	Reason    string
	Requester string
	DedupeKey string
}

// ExtendGrant asks for a time-bound grant to last Duration more. It is a
// new access request for the same entitlement that always needs an approval
// (even where policy grants the first request without one); when approved,
// the grant's expiry, its revocation and its reminder all move.
func (e *Engine) ExtendGrant(ctx context.Context, x GrantExtension) (gatehouse.Run, error) {
	id, err := e.lookupIdentity(x.Identity)
	if err != nil {
		return gatehouse.Run{}, err
	}
	g, err := e.db.GetGrant(id.Key(), x.Ref.App, x.Ref.Entitlement)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !g.RevokedAt.IsZero()) {
		return gatehouse.Run{}, fmt.Errorf("%w: %s no longer holds %s; request it again", ErrNotAllowed, id.Email, x.Ref)
	}
	if err != nil {
		return gatehouse.Run{}, err
	}
	if g.ExpiresAt.IsZero() {
		return gatehouse.Run{}, fmt.Errorf("%w: %s does not expire", ErrInvalidEvent, x.Ref)
	}
	if isAccount(x.Ref.Entitlement) {
		return gatehouse.Run{}, fmt.Errorf("%w: an app account is not extended on its own; extend the entitlements in %s", ErrInvalidEvent, x.Ref.App)
	}
	if x.Duration <= 0 {
		return gatehouse.Run{}, fmt.Errorf("%w: say how long the extension should last", ErrInvalidEvent)
	}
	key := x.DedupeKey
	if key == "" {
		key = fmt.Sprintf("%s:%s", g.ExpiresAt.UTC().Format(time.RFC3339), x.Duration)
	}
	return e.RequestAccess(ctx, AccessRequest{Identity: id.Key(), Entitlements: []gatehouse.EntitlementRef{x.Ref}, Duration: x.Duration,
		Reason: "extend: " + x.Reason, Requester: x.Requester, Source: "extend", DedupeKey: "extend:" + id.Key() + ":" + x.Ref.String() + ":" + key,
		RequireApproval: true})
}

// requireApproval makes every grant of plan wait for an approval: the
// manager's (IT fills in when there is none), unless policy already asks.
func requireApproval(plan *gatehouse.Plan) {
	for _, g := range plan.Grants {
		found := false
		for _, a := range plan.Approvals {
			if a.App == g.App && a.Entitlement == g.Entitlement {
				found = true
			}
		}
		if !found {
			plan.Approvals = append(plan.Approvals, gatehouse.ApprovalRequirement{App: g.App, Entitlement: g.Entitlement, Risk: g.Risk,
				Approvers: []gatehouse.ApproverRole{gatehouse.ApproverManager}, Required: 1, Reasons: []string{"extension of time-bound access"}})
		}
	}
}

// NonHumans lists the stored non-human identities, of kind when set.
func (e *Engine) NonHumans(kind gatehouse.IdentityKind) ([]gatehouse.Identity, error) {
	var out []gatehouse.Identity
	err := e.db.EachIdentity(func(id gatehouse.Identity) error {
		if !id.Kind.Human() && (kind == "" || id.Kind == kind) {
			out = append(out, id)
		}
		return nil
	})
	return out, err
}
