package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// effect is what a successful step changed, for the records written after it.
type effect struct {
	result map[string]string
	added  []gatehouse.Step  // discover: steps for accounts found
	found  []gatehouse.Grant // discover: accounts Gatehouse never granted
	// confirmed lists the grants (entitlement names) a verify step saw gone
	// from the app, or — for a connector that cannot re-read — the grants
	// its successful closing steps removed.
	confirmed []string
}

// execute runs one attempt of a step: persist it as running, pace, call the
// connector, persist the outcome with its audit entry and the grant records.
func (e *Engine) execute(l *lane, w *work) outcome {
	s := w.step
	o := outcome{stepID: s.ID}
	if e.ctx.Err() != nil {
		return o
	}
	if isLocal(s.Kind) {
		return e.executeLocal(w)
	}
	if l.conn == nil {
		return e.afterFailure(l, w, s, gatehouse.Permanent(fmt.Errorf("app %s: %w", s.App, errNoConnectorForApp)))
	}
	now := e.clock.Now()
	s.Status = gatehouse.StepRunning
	s.Attempts++
	s.StartedAt = now
	s.NextAttempt = time.Time{}
	stored, err := e.db.UpdateStep(s)
	if err != nil {
		return e.storeTrouble(o, err)
	}
	s = stored
	if s.Kind == gatehouse.StepTransferOwnership && s.Result[resTo] == "it" {
		// No IT address to transfer to: a hand-off task for the IT team.
		return e.handoff(w, s, errors.New("no IT email is configured"))
	}
	if _, reads := l.conn.(gatehouse.AccountReader); s.Kind == gatehouse.StepVerify && !reads {
		// Nothing to ask the app: no pacing, no call.
		eff, err := e.verifyAccount(e.ctx, l.conn, w.run, s)
		if err != nil {
			return e.afterFailure(l, w, s, err)
		}
		w.d.results <- outcome{stepID: s.ID, effect: true}
		return e.afterSuccess(w, s, eff)
	}
	release, ok := l.pace()
	if !ok {
		o.step, o.stored = s, true // left "running": the next start runs it again
		return o
	}
	ctx, cancel := context.WithTimeout(e.ctx, l.timeout)
	ctx = gatehouse.WithOperationKey(ctx, w.run.ID+"/"+s.ID)
	began := e.clock.Now()
	eff, callErr := e.call(ctx, l.conn, w.run, s, w.managed)
	cancel()
	release()
	if callErr != nil && e.ctx.Err() != nil {
		// Cut off by shutdown: not the vendor's fault, and not an attempt
		// that should count. Leave it running for the next start.
		o.step, o.stored = s, true
		return o
	}
	e.observeAttempt(s, e.clock.Now().Sub(began), callErr)
	if callErr == nil {
		w.d.results <- outcome{stepID: s.ID, effect: true}
		return e.afterSuccess(w, s, eff)
	}
	if s.Kind == gatehouse.StepVerify {
		return e.afterMismatch(l, w, s, eff, callErr)
	}
	if s.Kind == gatehouse.StepTransferOwnership && errors.Is(callErr, gatehouse.ErrNoTransferTarget) {
		return e.nextReceiver(w, s, callErr)
	}
	if gatehouse.Classify(callErr) == gatehouse.ClassNotFound && removal(s.Kind) {
		// What we wanted gone is not there: done.
		w.d.results <- outcome{stepID: s.ID, effect: true}
		return e.afterSuccess(w, s, effect{result: map[string]string{resOutcome: "not_found"}})
	}
	return e.afterFailure(l, w, s, callErr)
}

func (e *Engine) storeTrouble(o outcome, err error) outcome {
	if !errors.Is(err, store.ErrConflict) && e.ctx.Err() == nil {
		e.log.Error().Err(err).Str("step", o.stepID).Msg("persist step")
	}
	o.reload = true
	return o
}

// removal kinds count NotFound as done: what should be gone is gone (and
// an account that is gone owns nothing left to transfer).
func removal(k gatehouse.StepKind) bool {
	switch k {
	case gatehouse.StepRevoke, gatehouse.StepDisable, gatehouse.StepDelete, gatehouse.StepRevokeSessions, gatehouse.StepTransferOwnership:
		return true
	}
	return false
}

// refFor is the account an operation is about: the identity's, or the
// specific account a discover step found.
func refFor(run gatehouse.Run, s gatehouse.Step) gatehouse.AccountRef {
	ref := gatehouse.RefFor(run.Event.Identity)
	if id := s.Result[resAccountID]; id != "" {
		ref.AccountID = id
		ref.Email = s.Result[resAccountEmail]
		ref.UserName = s.Result[resAccountUser]
		ref.EmployeeID = ""
	}
	return ref
}

func (e *Engine) entitlement(app, name string) gatehouse.Entitlement {
	if ent, ok := e.cfg.Entitlement(gatehouse.EntitlementRef{App: app, Entitlement: name}); ok {
		return ent
	}
	return gatehouse.Entitlement{App: app, Name: name, Kind: gatehouse.EntGroup, Resource: name}
}

// call performs the step's connector operation. A panicking connector is a
// classified (permanent) failure, never a crash of the engine; an answer that
// makes no sense is a retryable failure, never a success.
func (e *Engine) call(ctx context.Context, c gatehouse.Connector, run gatehouse.Run, s gatehouse.Step, managed bool) (eff effect, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = gatehouse.Permanent(fmt.Errorf("connector %s panicked: %v", s.App, r))
		}
	}()
	ref := refFor(run, s)
	eff.result = map[string]string{}
	switch s.Kind {
	case gatehouse.StepEnsureAccount:
		acct, err := c.EnsureAccount(ctx, ref)
		if err != nil {
			return eff, err
		}
		if strings.TrimSpace(acct.ID) == "" {
			return eff, gatehouse.Retryable(fmt.Errorf("%s answered ensure_account without an account id", s.App))
		}
		if acct.Email != "" && ref.Email != "" && !strings.EqualFold(acct.Email, ref.Email) &&
			!strings.EqualFold(acct.UserName, ref.UserName) && (ref.EmployeeID == "" || acct.EmployeeID != ref.EmployeeID) {
			return eff, gatehouse.Retryable(fmt.Errorf("%s answered ensure_account for %s with a different account (%s)", s.App, ref.Email, acct.Email))
		}
		eff.result[resAccountID] = acct.ID
	case gatehouse.StepGrant:
		err = c.Grant(ctx, ref, e.entitlement(s.App, s.Entitlement))
	case gatehouse.StepRevoke:
		err = c.Revoke(ctx, ref, e.entitlement(s.App, s.Entitlement))
	case gatehouse.StepDisable:
		err = c.Disable(ctx, ref)
	case gatehouse.StepEnable:
		err = c.Enable(ctx, ref)
	case gatehouse.StepDelete:
		err = c.Delete(ctx, ref)
	case gatehouse.StepRevokeSessions:
		err = c.RevokeSessions(ctx, ref)
	case gatehouse.StepTransferOwnership:
		to := s.Result[resTo]
		toRef := gatehouse.AccountRef{IdentityKey: to, Email: to, UserName: to}
		if id, lerr := e.db.IdentityByEmail(to); lerr == nil {
			toRef = gatehouse.RefFor(id)
		}
		err = c.TransferOwnership(ctx, ref, toRef)
	case gatehouse.StepVerify:
		return e.verifyAccount(ctx, c, run, s)
	case gatehouse.StepDiscover:
		accts, lerr := c.ListAccounts(ctx)
		if lerr != nil {
			return eff, lerr
		}
		eff, err = e.discovered(run, s, accts, managed)
	default:
		err = gatehouse.Permanent(fmt.Errorf("step kind %q has no connector operation", s.Kind))
	}
	return eff, err
}

// afterSuccess records a successful step: grant records first (idempotent,
// so a crash before the step's own record repeats them harmlessly), then the
// step as succeeded together with its audit entry in one transaction.
func (e *Engine) afterSuccess(w *work, s gatehouse.Step, eff effect) outcome {
	o := outcome{stepID: s.ID}
	run := w.run
	now := e.clock.Now()
	if err := e.recordGrants(w, s, eff, now); err != nil {
		return e.storeTrouble(o, err)
	}
	if len(eff.added) > 0 {
		if _, err := e.db.AddSteps(run.ID, eff.added); err != nil {
			return e.storeTrouble(o, err)
		}
		o.reload = true
	}
	if s.Result == nil {
		s.Result = map[string]string{}
	}
	if s.Result[resOutcome] == "in_progress" {
		// The wait is over: the evidence must not say it is still going on.
		delete(s.Result, resOutcome)
	}
	for k, v := range eff.result {
		s.Result[k] = v
	}
	s.Status = gatehouse.StepSucceeded
	s.FinishedAt = now
	s.LastError, s.ErrorClass = "", ""
	a := e.auditFor(run, auditAction(s.Kind), s, "")
	a.Details = map[string]string{"step": s.ID, "attempts": strconv.Itoa(s.Attempts)}
	for _, k := range []string{resOutcome, resTo, resRole, resAccountID, "found", resOpen, "changed", "seat_cost_reclaimed", "summary",
		resVerified, resObserved, resExists, resActive, resEntitlements, resStillHeld, resConfirmed, resAttributes} {
		if v := s.Result[k]; v != "" {
			a.Details[k] = v
		}
	}
	stored, err := e.db.UpdateStep(s, a)
	if err != nil {
		return e.storeTrouble(o, err)
	}
	o.step, o.stored = stored, true
	return o
}

func auditAction(k gatehouse.StepKind) string {
	switch k {
	case gatehouse.StepEnsureAccount:
		return "provision"
	case gatehouse.StepTransferOwnership:
		return "transfer_ownership"
	}
	return string(k)
}

// recordGrants keeps the grant records in step with what a step changed.
func (e *Engine) recordGrants(w *work, s gatehouse.Step, eff effect, now time.Time) error {
	run := w.run
	key := run.IdentityKey
	by := run.Event.Actor.String()
	switch s.Kind {
	case gatehouse.StepEnsureAccount, gatehouse.StepGrant:
		g := gatehouse.Grant{Identity: key, App: s.App, Entitlement: s.Entitlement, Source: gatehouse.SourceBirthright,
			Reasons: s.Reasons, RunID: run.ID, GrantedAt: now}
		if g.Entitlement == "" {
			g.Entitlement = string(gatehouse.EntAccount)
		}
		if run.Event.Type == EventAccessRequest {
			g.Source = gatehouse.SourceRequest
		}
		if run.Plan != nil {
			for _, pg := range run.Plan.Grants {
				if pg.App == g.App && pg.Entitlement == g.Entitlement {
					g.ExpiresAt = pg.ExpiresAt
				}
			}
		}
		for _, aid := range w.approvals {
			if a, err := e.db.GetApproval(aid); err == nil {
				for _, d := range a.Decisions {
					if d.Approved && !contains(g.ApprovedBy, d.By) {
						g.ApprovedBy = append(g.ApprovedBy, d.By)
					}
				}
			}
		}
		if _, err := e.db.PutGrant(g); err != nil {
			return err
		}
		if !g.ExpiresAt.IsZero() {
			return e.scheduleGrantExpiry(g)
		}
	case gatehouse.StepRevoke:
		if s.Result[resConfirm] != "" {
			return nil // the app's verify step records it, once it saw it gone
		}
		_, err := e.db.RevokeGrant(key, s.App, s.Entitlement, now, by)
		return err
	case gatehouse.StepDisable, gatehouse.StepDelete:
		if s.Result[resKeepGrants] == "true" || s.Result[resConfirm] != "" {
			return nil
		}
		return e.revokeApp(key, s.App, s.Result[resAccountID], now, by)
	case gatehouse.StepVerify:
		return e.revokeEnts(key, s.App, eff.confirmed, now, by)
	case gatehouse.StepDiscover:
		for _, g := range eff.found {
			if _, err := e.db.PutGrant(g); err != nil {
				return err
			}
		}
	}
	return nil
}

// discoveredEnt names the grant recording an account Gatehouse found but
// never granted.
func discoveredEnt(accountID string) string { return "discovered:" + accountID }

// revokeApp records every grant of the identity in app as revoked (the
// account is closed). With accountID set, only that discovered account.
func (e *Engine) revokeApp(key, app, accountID string, now time.Time, by string) error {
	gs, err := e.db.Grants(key)
	if err != nil {
		return err
	}
	var todo []string
	for _, g := range gs {
		if g.App != app {
			continue
		}
		disc := strings.HasPrefix(g.Entitlement, "discovered:")
		if (accountID == "" && disc) || (accountID != "" && g.Entitlement != discoveredEnt(accountID)) {
			continue
		}
		todo = append(todo, g.Entitlement)
	}
	return e.revokeEnts(key, app, todo, now, by)
}

// revokeEnts records the identity's grants ents in app as revoked.
func (e *Engine) revokeEnts(key, app string, todo []string, now time.Time, by string) error {
	// Concurrently, so that the store's group commit makes them one
	// transaction (and one fsync) instead of one each.
	errs := make(chan error, len(todo))
	for _, ent := range todo {
		go func() {
			_, err := e.db.RevokeGrant(key, app, ent, now, by)
			errs <- err
		}()
	}
	var first error
	for range todo {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// afterFailure decides what a failed attempt means: wait for a person
// (pending), retry later with backoff (honouring Retry-After, and pausing the
// whole lane for it), or — when the error is permanent or the attempts are
// used up — escalate to IT as a manual task and block the run.
func (e *Engine) afterFailure(l *lane, w *work, s gatehouse.Step, callErr error) outcome {
	o := outcome{stepID: s.ID}
	now := e.clock.Now()
	class := gatehouse.Classify(callErr)
	s.LastError = truncate(callErr.Error(), 500)
	s.ErrorClass = class.String()
	var audit []gatehouse.AuditEntry
	var task *gatehouse.Task
	switch {
	case class == gatehouse.ClassPending:
		s.Status = gatehouse.StepWaiting
		if t, ok := e.taskOfStep(w.run.ID, s.ID); ok {
			if s.Result == nil {
				s.Result = map[string]string{}
			}
			s.Result[resTask] = t.ID
			task = &t
		}
	case class == gatehouse.ClassInProgress:
		// The app is still carrying the operation out (an async transfer,
		// an assignment being provisioned): ask again later. Waiting is
		// not failing: the attempt is not counted and nothing escalates.
		s.Attempts = max(s.Attempts-1, 0)
		s.Status = gatehouse.StepRetrying
		s.NextAttempt = now.Add(inProgressWait(gatehouse.RetryAfterOf(callErr)))
		if s.Result == nil {
			s.Result = map[string]string{}
		}
		s.Result[resOutcome] = "in_progress"
	case class == gatehouse.ClassPermanent || s.Attempts >= l.maxAttempts:
		t, err := e.escalate(w.run, s, callErr)
		if err != nil {
			return e.storeTrouble(o, err)
		}
		s.Status = gatehouse.StepEscalated
		if s.Result == nil {
			s.Result = map[string]string{}
		}
		s.Result[resTask] = t.ID
		a := e.auditFor(w.run, "escalate", s, s.LastError)
		a.Details = map[string]string{"step": s.ID, "attempts": strconv.Itoa(s.Attempts), "class": s.ErrorClass, "task": t.ID}
		for _, k := range []string{resVerified, resObserved, resExists, resActive, resEntitlements, resStillHeld, resConfirmed, resAttributes} {
			if v := s.Result[k]; v != "" {
				a.Details[k] = v
			}
		}
		audit = append(audit, a)
		task = &t
	default:
		ra := gatehouse.RetryAfterOf(callErr)
		if class == gatehouse.ClassRateLimited && ra > 0 {
			l.pause(now.Add(ra))
		}
		s.Status = gatehouse.StepRetrying
		s.NextAttempt = now.Add(backoff(s.Attempts, e.cfg.Engine.BackoffBase, e.cfg.Engine.BackoffMax, ra))
	}
	stored, err := e.db.UpdateStep(s, audit...)
	if err != nil {
		return e.storeTrouble(o, err)
	}
	if task != nil {
		e.taskOpened(*task)
	}
	o.step, o.stored = stored, true
	return o
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// escalationTaskID names a step's escalation task. It is stable across
// crashes (a process killed between opening the task and recording the step
// reopens the same task) and changes only when Retry starts a new generation.
func escalationTaskID(runID string, s gatehouse.Step) string {
	gen := s.Result[resGeneration]
	if gen == "" {
		gen = "0"
	}
	return fmt.Sprintf("t-%s.%s.%s", runID, s.ID, gen)
}

// escalate opens (idempotently) the IT task for a step that cannot finish by
// itself.
func (e *Engine) escalate(run gatehouse.Run, s gatehouse.Step, cause error) (gatehouse.Task, error) {
	what := string(s.Kind) + " in " + s.App
	if s.Entitlement != "" && s.Kind != gatehouse.StepEnsureAccount {
		what = string(s.Kind) + " " + s.App + ":" + s.Entitlement
	}
	title := fmt.Sprintf("Finish by hand: %s for %s", what, run.Event.Identity.Email)
	instructions := fmt.Sprintf("Gatehouse could not %s for %s after %d attempt(s): %s. Do it in %s by hand, then mark this task done with evidence.",
		what, run.Event.Identity.Email, s.Attempts, truncate(cause.Error(), 300), s.App)
	if s.Kind == gatehouse.StepVerify {
		var mm *verifyMismatch
		if errors.As(cause, &mm) {
			title = fmt.Sprintf("Access still open in %s for %s: %s", s.App, run.Event.Identity.Email, strings.Join(mm.problems, "; "))
			instructions = fmt.Sprintf("After offboarding, %s still shows for %s: %s. Remove it in %s by hand, then mark this task done with evidence (or retry the run to re-read the app).",
				s.App, run.Event.Identity.Email, strings.Join(mm.problems, "; "), s.App)
		}
	}
	t := gatehouse.Task{
		ID:           escalationTaskID(run.ID, s),
		RunID:        run.ID,
		StepID:       s.ID,
		IdentityKey:  run.IdentityKey,
		App:          s.App,
		Title:        title,
		Instructions: instructions,
		Assignee:     e.itEmail(),
		Escalated:    true,
		Status:       gatehouse.TaskOpen,
		CreatedAt:    e.clock.Now(),
	}
	stored, err := e.db.PutTask(t)
	if errors.Is(err, store.ErrConflict) {
		return e.db.GetTask(t.ID)
	}
	return stored, err
}

// taskOfStep finds the task a manual connector opened for a step.
func (e *Engine) taskOfStep(runID, stepID string) (gatehouse.Task, bool) {
	ts, err := e.db.ListTasks(store.TaskFilter{RunID: runID})
	if err != nil {
		return gatehouse.Task{}, false
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].StepID == stepID {
			return ts[i], true
		}
	}
	return gatehouse.Task{}, false
}

// auditFor builds an audit entry about a run (and step): the actor is who
// asked for the event, the reason the event's, the rule the step's first.
func (e *Engine) auditFor(run gatehouse.Run, action string, s gatehouse.Step, reason string) gatehouse.AuditEntry {
	a := gatehouse.AuditEntry{
		Time: e.clock.Now().UTC(), Actor: run.Event.Actor, Action: action, IdentityKey: run.IdentityKey,
		App: s.App, Entitlement: s.Entitlement, RunID: run.ID, StepID: s.ID, Reason: reason,
	}
	if a.Actor.ID == "" {
		a.Actor = gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "gatehouse"}
	}
	if a.Reason == "" {
		a.Reason = string(run.Event.Type)
		if run.Event.Reason != "" {
			a.Reason += ": " + run.Event.Reason
		}
	}
	if len(s.Reasons) > 0 {
		a.Rule = s.Reasons[0].Rule
	}
	return a
}
