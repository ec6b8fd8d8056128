package lifecycle

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"context"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// Keys of a verify step's Result (and its audit entry's Details): what the
// app showed when it was re-read after the leaver's steps.
const (
	resVerified     = "verified"          // true, mismatch, or false (the connector cannot re-read)
	resObserved     = "observed"          // one line for people
	resExists       = "exists"            // true / false
	resActive       = "active"            // true / false
	resEntitlements = "entitlements"      // what the account still shows, comma-separated
	resStillHeld    = "still_held"        // recorded grants the app still shows
	resConfirmed    = "confirmed_revoked" // grants recorded as revoked on the strength of the re-read
	resAttributes   = "attributes"        // k=v; … as the app reports them
	notVerified     = "not verified (connector cannot re-read)"
)

// Grant confirmation (issue #11). A leaver's closing steps (revoke,
// disable, delete) carry confirm_by=verify and do not touch the grant
// records when they succeed; the app's verify step, which depends on all of
// them, re-reads the account and revokes in the grant history exactly the
// grants the app no longer shows. So `audit who-had APP:ENT --at T` is
// truthful at every instant: until the re-read, the person is still listed
// (the app may still honour the access), and afterwards only what the app
// still shows stays listed — with an escalated task naming it. A connector
// that cannot re-read gets the old, provisional behaviour (its successful
// closing steps count as evidence) and the evidence says "not verified".
// Re-reading is idempotent and the grant writes are too, so a crash at any
// point repeats the step harmlessly.

// verifyMismatch is what a re-read found still open.
type verifyMismatch struct{ problems []string }

func (m *verifyMismatch) Error() string {
	return "the app still shows: " + strings.Join(m.problems, "; ")
}

// verifyAccount re-reads the leaver's account in s.App.
func (e *Engine) verifyAccount(ctx context.Context, c gatehouse.Connector, run gatehouse.Run, s gatehouse.Step) (effect, error) {
	eff := effect{result: map[string]string{}}
	todo, err := e.appGrants(run.IdentityKey, s.App, s.Result[resAccountID])
	if err != nil {
		return eff, gatehouse.Retryable(err)
	}
	unverified := func() (effect, error) {
		eff.result[resVerified], eff.result[resObserved] = "false", notVerified
		eff.confirmed = todo
		eff.result[resConfirmed] = strings.Join(todo, ",")
		return eff, nil
	}
	r, ok := c.(gatehouse.AccountReader)
	if !ok {
		return unverified()
	}
	acct, err := r.ReadAccount(ctx, refFor(run, s))
	if errors.Is(err, gatehouse.ErrUnsupported) {
		// The connector reads some accounts but not this app's (e.g. a
		// declarative spec without a readable listing).
		return unverified()
	}
	if err != nil {
		if gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return eff, fmt.Errorf("verify %s account of %s: %w", s.App, run.Event.Identity.Email, err)
		}
		eff.result[resVerified], eff.result[resExists], eff.result[resObserved] = "true", "false", "account not found"
		eff.confirmed = todo
		eff.result[resConfirmed] = strings.Join(todo, ",")
		return eff, nil
	}
	ents := append([]string(nil), acct.Entitlements...)
	sort.Strings(ents)
	eff.result[resExists] = "true"
	eff.result[resActive] = strconv.FormatBool(acct.Active)
	eff.result[resEntitlements] = truncate(strings.Join(ents, ","), 1000)
	if len(acct.Attributes) > 0 {
		var kv []string
		for _, k := range sortedKeys(acct.Attributes) {
			kv = append(kv, k+"="+acct.Attributes[k])
		}
		eff.result[resAttributes] = truncate(strings.Join(kv, "; "), 1000)
	}
	var problems, still []string
	if acct.Active {
		problems = append(problems, "the account is still active")
	}
	for _, ent := range todo {
		switch {
		case isAccount(ent) || strings.HasPrefix(ent, "discovered:"):
			if acct.Active {
				still = append(still, ent)
				continue
			}
		case e.showsEntitlement(s.App, ent, acct.Entitlements):
			still = append(still, ent)
			problems = append(problems, s.App+":"+ent+" is still held")
			continue
		}
		eff.confirmed = append(eff.confirmed, ent)
	}
	eff.result[resConfirmed] = strings.Join(eff.confirmed, ",")
	if len(problems) > 0 {
		eff.result[resVerified] = "mismatch"
		eff.result[resStillHeld] = strings.Join(still, ",")
		eff.result[resObserved] = strings.Join(problems, "; ")
		// Retryable: some apps apply changes with a delay; a mismatch that
		// outlasts the attempts is escalated to IT by afterFailure.
		return eff, gatehouse.Retryable(&verifyMismatch{problems: problems})
	}
	eff.result[resVerified] = "true"
	eff.result[resObserved] = "account inactive"
	if len(ents) == 0 {
		eff.result[resObserved] += ", no entitlements"
	} else {
		eff.result[resObserved] += ", still listed in " + truncate(strings.Join(ents, ","), 200) + " (none recorded for this person)"
	}
	return eff, nil
}

// appGrants lists the identity's grants in app the way revokeApp closes
// them: every grant but discovered accounts, or, with accountID set, that
// discovered account only.
func (e *Engine) appGrants(key, app, accountID string) ([]string, error) {
	gs, err := e.db.Grants(key)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range gs {
		if g.App != app {
			continue
		}
		disc := strings.HasPrefix(g.Entitlement, "discovered:")
		if (accountID == "" && disc) || (accountID != "" && g.Entitlement != discoveredEnt(accountID)) {
			continue
		}
		out = append(out, g.Entitlement)
	}
	sort.Strings(out)
	return out, nil
}

// showsEntitlement reports whether an account's entitlements (entitlement
// names, or the app's resource names where the connector cannot map them
// back) include ent.
func (e *Engine) showsEntitlement(app, ent string, shown []string) bool {
	res := ""
	if c, ok := e.cfg.Entitlement(gatehouse.EntitlementRef{App: app, Entitlement: ent}); ok {
		res = c.Resource
	}
	for _, x := range shown {
		if strings.EqualFold(x, ent) || (res != "" && strings.EqualFold(x, res)) {
			return true
		}
	}
	return false
}

// afterMismatch records what a failed verify confirmed anyway (grants the
// app no longer shows), keeps the observation on the step, and lets
// afterFailure retry or escalate.
func (e *Engine) afterMismatch(l *lane, w *work, s gatehouse.Step, eff effect, callErr error) outcome {
	var mm *verifyMismatch
	if !errors.As(callErr, &mm) {
		return e.afterFailure(l, w, s, callErr)
	}
	if err := e.recordGrants(w, s, eff, e.clock.Now()); err != nil {
		return e.storeTrouble(outcome{stepID: s.ID}, err)
	}
	if s.Result == nil {
		s.Result = map[string]string{}
	}
	for k, v := range eff.result {
		s.Result[k] = v
	}
	return e.afterFailure(l, w, s, callErr)
}

// nextReceiver moves a transfer whose receiver has no account in the app to
// the next rung of its ladder, without counting the attempt; past the last
// rung it becomes a hand-off task for IT.
func (e *Engine) nextReceiver(w *work, s gatehouse.Step, cause error) outcome {
	o := outcome{stepID: s.ID}
	rest := decodeLadder(s.Result[resLadder])
	if len(rest) == 0 {
		return e.handoff(w, s, cause)
	}
	prev := s.Result[resTo]
	next := rest[0]
	s.Result[resTo], s.Result[resRole], s.Result[resLadder] = next.Email, next.Role, encodeLadder(rest[1:])
	s.Attempts = max(s.Attempts-1, 0)
	s.Status = gatehouse.StepRetrying
	s.NextAttempt = e.clock.Now()
	s.LastError, s.ErrorClass = truncate(prev+" has no account in "+s.App+"; trying "+next.Role+" "+next.Email, 500), ""
	a := e.auditFor(w.run, "transfer_fallback", s, truncate(cause.Error(), 300))
	a.Details = map[string]string{"step": s.ID, "from_receiver": prev, "to": next.Email, resRole: next.Role}
	if next.Email == "it" {
		return e.handoff(w, s, cause)
	}
	stored, err := e.db.UpdateStep(s, a)
	if err != nil {
		return e.storeTrouble(o, err)
	}
	o.step, o.stored = stored, true
	return o
}

// handoff turns a transfer that no connector call can complete into a
// manual task for IT: the step waits (the run is not blocked by an error,
// it waits on a person) until the task is done.
func (e *Engine) handoff(w *work, s gatehouse.Step, cause error) outcome {
	o := outcome{stepID: s.ID}
	run := w.run
	to := s.Result[resTo]
	t := gatehouse.Task{
		ID: escalationTaskID(run.ID, s), RunID: run.ID, StepID: s.ID, IdentityKey: run.IdentityKey, App: s.App,
		Title: fmt.Sprintf("Hand over %s's resources in %s to %s", run.Event.Identity.Email, s.App, to),
		Instructions: fmt.Sprintf("Gatehouse could not transfer what %s owns in %s to anyone on the ladder (%s). Move it to %s (or another owner) by hand, then mark this task done with evidence.",
			run.Event.Identity.Email, s.App, truncate(cause.Error(), 300), to),
		Assignee: e.itEmail(), Status: gatehouse.TaskOpen, CreatedAt: e.clock.Now(),
	}
	stored, err := e.db.PutTask(t)
	if errors.Is(err, store.ErrConflict) {
		stored, err = e.db.GetTask(t.ID)
	}
	if err != nil {
		return e.storeTrouble(o, err)
	}
	if s.Result == nil {
		s.Result = map[string]string{}
	}
	s.Status = gatehouse.StepWaiting
	s.ErrorClass, s.LastError = "", truncate(cause.Error(), 500)
	s.Result[resTask], s.Result[resOutcome] = stored.ID, "handoff"
	a := e.auditFor(run, "handoff", s, "manual hand-off to "+to)
	a.Details = map[string]string{"step": s.ID, "task": stored.ID, resTo: to, resRole: s.Result[resRole]}
	st, err := e.db.UpdateStep(s, a)
	if err != nil {
		return e.storeTrouble(o, err)
	}
	e.taskOpened(stored)
	o.step, o.stored = st, true
	return o
}

// In-progress waits: the app's Retry-After, else a default, capped so a
// vendor asking for hours does not park a leaver that long between checks.
const (
	defaultInProgressWait = 30 * time.Second
	maxInProgressWait     = 10 * time.Minute
)

func inProgressWait(ra time.Duration) time.Duration {
	switch {
	case ra <= 0:
		return defaultInProgressWait
	case ra > maxInProgressWait:
		return maxInProgressWait
	}
	return ra
}
