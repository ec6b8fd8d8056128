package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// SubmitOption changes how Submit creates a run.
type SubmitOption func(*submitOptions)

type submitOptions struct {
	hold string
}

// Hold creates the run held (the mass-change guard): it waits, unplanned and
// unexecuted, until someone Releases or Discards it.
func Hold(reason string) SubmitOption {
	return func(o *submitOptions) {
		o.hold = reason
		if o.hold == "" {
			o.hold = "held"
		}
	}
}

// Submit validates an event, plans it and persists it as a run, returning
// the run and whether it was created (false: the same event was already
// submitted, identified by its dedupe key, and that run is returned). It makes
// no connector calls: the run starts in the background (or at its effective
// time; or on Release when held). The default dedupe key is type, identity
// key and effective date.
func (e *Engine) Submit(ctx context.Context, ev gatehouse.Event, opts ...SubmitOption) (gatehouse.Run, bool, error) {
	var so submitOptions
	for _, o := range opts {
		o(&so)
	}
	if err := ctx.Err(); err != nil {
		return gatehouse.Run{}, false, err
	}
	now := e.clock.Now()
	if _, err := gatehouse.ParseEventType(string(ev.Type)); err != nil {
		return gatehouse.Run{}, false, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	ev.Identity.Normalize()
	var err error
	id, prev, err := e.resolveEventIdentity(ev)
	if err != nil {
		return gatehouse.Run{}, false, err
	}
	ev.Identity, ev.Previous = id, prev
	// A joiner for a person whose last lifecycle ended in a leave is a
	// rehire, and belongs to a new generation: its dedupe key names the
	// leaver run it follows, so it is never folded into the old joiner
	// run, while a redelivery of the same onboarding still is.
	var generation string
	if ev.Type == gatehouse.EventJoiner || ev.Type == gatehouse.EventRehire {
		if generation, err = e.lastRemoval(id); err != nil {
			return gatehouse.Run{}, false, err
		}
		if generation != "" {
			ev.Type = gatehouse.EventRehire
		}
	}
	if ev.EffectiveAt.IsZero() {
		ev.EffectiveAt = e.defaultEffective(ev.Type, id, now)
	}
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = now
	}
	explicitKey := ev.DedupeKey != ""
	baseKey := defaultDedupeKey(ev, e.cfg.Location())
	if generation != "" {
		baseKey += ":after:" + generation
	}
	if !explicitKey {
		ev.DedupeKey = baseKey
	}
	for n := 2; ; n++ {
		r, err := e.db.RunByDedupeKey(ev.DedupeKey)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return gatehouse.Run{}, false, err
		}
		if explicitKey || r.Status != gatehouse.RunCancelled {
			return r, false, nil
		}
		// The same event on the same day after someone cancelled the
		// first run is a deliberate second attempt, not a duplicate.
		ev.DedupeKey = baseKey + "#" + strconv.Itoa(n)
	}
	if ev.ID == "" {
		ev.ID = ev.DedupeKey
	}
	var plan *gatehouse.Plan
	switch ev.Type {
	case gatehouse.EventJoiner, gatehouse.EventRehire, gatehouse.EventMover:
		p, err := e.plan(id, prev, ev, now)
		if err != nil {
			return gatehouse.Run{}, false, fmt.Errorf("plan %s for %s: %w", ev.Type, id.Email, err)
		}
		if ev.Type != gatehouse.EventMover {
			// For joiners Add repeats Grants; storing it once halves the
			// run record, which is read and written on every status change.
			p.Add = nil
		}
		plan = &p
		// A non-human without an owner (or whose owner left) is frozen: its
		// joiner is refused, a mover adds nothing (nonhuman.go).
		if why, err := e.freezeEvent(&ev, plan); err != nil {
			return gatehouse.Run{}, false, err
		} else if why != "" {
			ev.Reason = strings.TrimPrefix(ev.Reason+"; ", "; ") + "additions withheld: " + why
		}
	}
	run := gatehouse.Run{IdentityKey: id.Key(), Event: ev, Plan: plan, Status: gatehouse.RunPending}
	switch {
	case so.hold != "":
		run.Status = gatehouse.RunHeld
		run.Summary = "held: " + so.hold
	case ev.EffectiveAt.After(now):
		run.Status = gatehouse.RunScheduled
		run.NotBefore = ev.EffectiveAt
	}
	if ev.EffectiveAt.After(now) {
		run.NotBefore = ev.EffectiveAt
	}
	// A held run (mass-change guard) changes nothing until IT releases it:
	// a discarded mover must leave the person as they were.
	if so.hold == "" {
		if err := e.recordIdentity(ev); err != nil {
			return gatehouse.Run{}, false, err
		}
	}
	a := e.auditFor(run, "submit", gatehouse.Step{}, "")
	a.Details = map[string]string{"event": string(ev.Type), "source": ev.Source, "dedupe_key": ev.DedupeKey, "status": string(run.Status)}
	if !run.NotBefore.IsZero() {
		a.Details["not_before"] = run.NotBefore.UTC().Format(time.RFC3339)
	}
	var steps []gatehouse.Step
	if ev.Type == gatehouse.EventJoiner {
		// A joiner's steps depend only on its plan: plan them now, so the
		// run is complete in one write and starting it writes nothing more.
		// (Leavers, movers and the rest are planned when they start, from
		// what the identity holds then.)
		if steps, err = e.materialize(run); err != nil {
			return gatehouse.Run{}, false, err
		}
	}
	created, isNew, err := e.db.CreateRun(run, steps, a)
	if err != nil {
		return gatehouse.Run{}, false, err
	}
	if !isNew {
		return created, false, nil
	}
	switch created.Status {
	case gatehouse.RunScheduled:
		if err := e.scheduleRunStart(created); err != nil {
			return created, true, err
		}
	case gatehouse.RunPending:
		e.preempt(created)
		e.kick(created.ID, created.IdentityKey)
	}
	e.notify.RunChanged(e.ctx, created, nil)
	return created, true, nil
}

// lastRemoval returns the id of the newest leaver-like run (leaver,
// contract end, expiry) of the stored identity that was not cancelled or
// is not still waiting for its day, or "" when there is none: the
// identity's lifecycle generation. New identities cost one read.
func (e *Engine) lastRemoval(id gatehouse.Identity) (string, error) {
	stored, err := e.db.GetIdentity(id.Key())
	if errors.Is(err, store.ErrNotFound) && id.Email != "" {
		stored, err = e.db.IdentityByEmail(id.Email)
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	runs, err := e.db.ListRuns(store.RunFilter{IdentityKey: stored.Key()})
	if err != nil {
		return "", err
	}
	for _, r := range runs { // newest first
		if !r.Event.Type.Removes() {
			continue
		}
		switch r.Status {
		case gatehouse.RunCancelled, gatehouse.RunScheduled, gatehouse.RunHeld:
			continue
		}
		return r.ID, nil
	}
	return "", nil
}

// defaultEffective is when an event takes effect when the caller did not
// say: leavers and contract ends at the start of the end date, expiries at
// the expiry date, in the identity's time zone; everything else now.
func (e *Engine) defaultEffective(t gatehouse.EventType, id gatehouse.Identity, now time.Time) time.Time {
	loc := id.Zone(e.cfg.Location())
	switch t {
	case gatehouse.EventLeaver, gatehouse.EventContractEnd:
		if !id.EndDate.IsZero() {
			return id.EndDate.In(loc)
		}
	case gatehouse.EventExpiry:
		if !id.Expiry.IsZero() {
			return id.Expiry.In(loc)
		}
	}
	return now
}

func defaultDedupeKey(ev gatehouse.Event, def *time.Location) string {
	loc := ev.Identity.Zone(def)
	key := string(ev.Type) + ":" + ev.Identity.Key() + ":" + ev.EffectiveAt.In(loc).Format("2006-01-02")
	if ev.Type == gatehouse.EventMover {
		// Two different moves on one day are two events; the same move
		// delivered twice is one. The new attributes tell them apart.
		raw, _ := json.Marshal(ev.Identity)
		sum := sha256.Sum256(raw)
		key += ":" + hex.EncodeToString(sum[:6])
	}
	return key
}

// lookupIdentity finds a stored identity by key, email or employee id.
func (e *Engine) lookupIdentity(keyOrEmail string) (gatehouse.Identity, error) {
	k := strings.TrimSpace(keyOrEmail)
	if k == "" {
		return gatehouse.Identity{}, fmt.Errorf("%w: empty identity", ErrUnknownIdentity)
	}
	if id, err := e.db.GetIdentity(k); err == nil {
		return id, nil
	}
	if id, err := e.db.IdentityByEmail(strings.ToLower(k)); err == nil {
		return id, nil
	}
	if id, err := e.db.IdentityByEmployeeID(strings.TrimPrefix(k, "emp:")); err == nil {
		return id, nil
	}
	return gatehouse.Identity{}, fmt.Errorf("%w: no identity %q is known to gatehouse", ErrUnknownIdentity, k)
}

// resolveEventIdentity returns the identity an event is about: the event's
// own for joiners, rehires and movers (validated), the stored one for
// everything that acts on an existing identity.
func (e *Engine) resolveEventIdentity(ev gatehouse.Event) (gatehouse.Identity, *gatehouse.Identity, error) {
	id := ev.Identity
	switch ev.Type {
	case gatehouse.EventJoiner, gatehouse.EventRehire:
		if err := id.Validate(); err != nil {
			return id, nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		return id, nil, nil
	case gatehouse.EventMover:
		if err := id.Validate(); err != nil {
			return id, nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		prev := ev.Previous
		if prev == nil {
			old, err := e.db.GetIdentity(id.Key())
			if err != nil {
				if old2, err2 := e.db.IdentityByEmail(id.Email); err2 == nil {
					old = old2
				} else {
					return id, nil, fmt.Errorf("%w: a mover needs the previous identity and %s is not known", ErrUnknownIdentity, id.Email)
				}
			}
			prev = &old
		}
		if id.Status == "" {
			id.Status = prev.Status
		}
		return id, prev, nil
	}
	key := id.Key()
	if key == "" {
		key = id.Email
	}
	stored, err := e.lookupIdentity(key)
	if err != nil && id.Email != "" {
		stored, err = e.lookupIdentity(id.Email)
	}
	if err != nil {
		return id, nil, err
	}
	return stored, nil, nil
}

// beginRun records what starting a run means for the identity, and lets a
// leaver supersede the identity's other open runs (a pending joiner grant
// must not land after the account was closed).
func (e *Engine) beginRun(run gatehouse.Run) error {
	t := run.Event.Type
	var status gatehouse.IdentityStatus
	switch {
	case t.Removes():
		status = gatehouse.StatusTerminated
	case t == gatehouse.EventLeaveOfAbsence:
		status = gatehouse.StatusSuspended
	case t == gatehouse.EventReturn || t == gatehouse.EventRehire:
		status = gatehouse.StatusActive
	}
	if status != "" {
		if err := e.setIdentityStatus(run, status); err != nil {
			return err
		}
	}
	if !t.Removes() {
		return nil
	}
	e.handoffNonHumans(run) // a leaving owner's non-humans go to their manager, frozen (nonhuman.go)
	return e.supersede(run)
}

// preempt lets a leaver-like run that is due now supersede the identity's
// other open runs before it queues behind them: a joiner stuck retrying must
// not delay closing access.
func (e *Engine) preempt(r gatehouse.Run) {
	if !r.Event.Type.Removes() {
		return
	}
	if err := e.supersede(r); err != nil {
		e.log.Error().Err(err).Str("run", r.ID).Msg("supersede open runs")
	}
}

// supersede cancels the identity's other open runs when a leaver starts.
func (e *Engine) supersede(run gatehouse.Run) error {
	t := run.Event.Type
	others, err := e.db.ListRuns(store.RunFilter{IdentityKey: run.IdentityKey})
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID == run.ID || o.Status.Terminal() || o.Event.Type.Removes() {
			continue
		}
		if err := e.cancelRun(o.ID, gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "gatehouse"}, "superseded by "+string(t)+" run "+run.ID); err != nil && !errors.Is(err, ErrWrongState) {
			return err
		}
	}
	return nil
}

func (e *Engine) setIdentityStatus(run gatehouse.Run, status gatehouse.IdentityStatus) error {
	id, err := e.db.GetIdentity(run.IdentityKey)
	if errors.Is(err, store.ErrNotFound) {
		id = run.Event.Identity
	} else if err != nil {
		return err
	}
	if id.Status == status {
		return nil
	}
	id.Status = status
	_, err = e.db.PutIdentity(id)
	return err
}

// finished runs once when a run reaches a terminal status.
func (e *Engine) finished(r gatehouse.Run) {
	if r.Status != gatehouse.RunSucceeded {
		return
	}
	switch r.Event.Type {
	case gatehouse.EventJoiner, gatehouse.EventRehire, gatehouse.EventMover, gatehouse.EventReturn:
		if err := e.setIdentityStatus(r, gatehouse.StatusActive); err != nil {
			e.log.Error().Err(err).Str("run", r.ID).Msg("record identity status")
		}
		e.nonHumanJoined(r) // however a non-human joined, its expiry is scheduled (nonhuman.go)
	case EventIdentityExtend: // IT approved a non-human's extension past the owner's cap
		e.identityExtended(r)
	}
}

// skipStep marks a pending step skipped because a step it depends on ended
// in a way that forbids it (denied, expired, failed).
func (e *Engine) skipStep(run gatehouse.Run, s gatehouse.Step, outcome, why string) (gatehouse.Step, error) {
	a := e.auditFor(run, "skip", s, why)
	return e.db.UpdateStepFunc(run.ID, s.ID, func(st *gatehouse.Step) error {
		if st.Status != gatehouse.StepPending {
			return store.ErrConflict
		}
		st.Status = gatehouse.StepSkipped
		st.FinishedAt = e.clock.Now()
		if st.Result == nil {
			st.Result = map[string]string{}
		}
		st.Result[resOutcome] = outcome
		st.LastError = why
		return nil
	}, a)
}

// Release starts a held run (or schedules it, when its time has not come).
func (e *Engine) Release(ctx context.Context, runID, by string) error {
	actor := personActor(by)
	var r gatehouse.Run
	var err error
	r, err = e.db.UpdateRunFunc(runID, func(r *gatehouse.Run) error {
		if r.Status != gatehouse.RunHeld {
			return fmt.Errorf("run %s is %s, not held: %w", runID, r.Status, ErrWrongState)
		}
		r.Status = gatehouse.RunPending
		if r.NotBefore.After(e.clock.Now()) {
			r.Status = gatehouse.RunScheduled
		}
		return nil
	}, gatehouse.AuditEntry{Time: e.clock.Now().UTC(), Actor: actor, Action: "release", RunID: runID})
	if err != nil {
		return e.runErr(runID, err)
	}
	if err := e.recordIdentity(r.Event); err != nil {
		return err
	}
	if r.Status == gatehouse.RunScheduled {
		return e.scheduleRunStart(r)
	}
	e.preempt(r)
	e.kick(r.ID, r.IdentityKey)
	e.changed(r.ID)
	return nil
}

// recordIdentity stores who a joiner, rehire or mover is now, so lookups
// (approvers, offboarding by email) see it before the run starts.
func (e *Engine) recordIdentity(ev gatehouse.Event) error {
	if ev.Type != gatehouse.EventJoiner && ev.Type != gatehouse.EventRehire && ev.Type != gatehouse.EventMover {
		return nil
	}
	stored := ev.Identity
	if old, err := e.db.GetIdentity(stored.Key()); err == nil && old.Status != "" && ev.Type == gatehouse.EventMover {
		stored.Status = old.Status
	} else if stored.Status == "" || ev.Type == gatehouse.EventRehire {
		stored.Status = gatehouse.StatusPending
	}
	if _, err := e.db.PutIdentity(stored); err != nil {
		return fmt.Errorf("record identity %s: %w", stored.Email, err)
	}
	return nil
}

// Discard cancels a held run without executing anything.
func (e *Engine) Discard(ctx context.Context, runID, by string) error {
	r, err := e.getRun(runID)
	if err != nil {
		return err
	}
	if r.Status != gatehouse.RunHeld {
		return fmt.Errorf("run %s is %s, not held: %w", runID, r.Status, ErrWrongState)
	}
	return e.cancelRun(runID, personActor(by), "discarded")
}

func personActor(by string) gatehouse.Actor {
	by = strings.ToLower(strings.TrimSpace(by))
	if by == "" {
		return gatehouse.Actor{Kind: gatehouse.ActorSystem, ID: "gatehouse"}
	}
	return gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: by}
}

func (e *Engine) runErr(runID string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("run %s: %w", runID, ErrRunNotFound)
	}
	return err
}

// Cancel stops a run: steps not yet done are cancelled, open approvals and
// tasks are withdrawn. A step already in flight finishes (and is recorded);
// nothing after it starts.
func (e *Engine) Cancel(ctx context.Context, runID, by string) error {
	return e.cancelRun(runID, personActor(by), "cancelled")
}

func (e *Engine) cancelRun(runID string, actor gatehouse.Actor, why string) error {
	now := e.clock.Now()
	r, err := e.db.UpdateRunFunc(runID, func(r *gatehouse.Run) error {
		if r.Status.Terminal() {
			return fmt.Errorf("run %s is already %s: %w", runID, r.Status, ErrWrongState)
		}
		r.Status = gatehouse.RunCancelled
		if r.Summary == "" || strings.HasPrefix(r.Summary, "held") {
			r.Summary = why
		} else {
			r.Summary += "; " + why
		}
		return nil
	}, gatehouse.AuditEntry{Time: now.UTC(), Actor: actor, Action: "cancel", RunID: runID, Reason: why})
	if err != nil {
		return e.runErr(runID, err)
	}
	steps, err := e.db.Steps(runID)
	if err != nil {
		return err
	}
	for _, s := range steps {
		switch s.Status {
		case gatehouse.StepPending, gatehouse.StepRetrying, gatehouse.StepWaiting, gatehouse.StepEscalated:
			if _, err := e.db.UpdateStepFunc(runID, s.ID, func(st *gatehouse.Step) error {
				if st.Status.Done() || st.Status == gatehouse.StepRunning {
					return errSkipWrite
				}
				st.Status = gatehouse.StepCancelled
				if st.Result == nil {
					st.Result = map[string]string{}
				}
				st.Result[resOutcome] = "cancelled"
				st.FinishedAt = now
				return nil
			}); err != nil && !errors.Is(err, errSkipWrite) {
				return err
			}
		}
	}
	aps, err := e.db.ListApprovals(store.ApprovalFilter{RunID: runID, Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}})
	if err != nil {
		return err
	}
	for _, a := range aps {
		na, err := e.db.UpdateApproval(a.ID, func(x *gatehouse.Approval) error {
			if x.Status != gatehouse.ApprovalPending {
				return errSkipWrite
			}
			x.Status = gatehouse.ApprovalCancelled
			return nil
		})
		if err == nil {
			e.notify.ApprovalDecided(e.ctx, na)
		}
		e.deleteApprovalJobs(a.ID)
	}
	tasks, err := e.db.ListTasks(store.TaskFilter{RunID: runID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil {
		return err
	}
	for _, t := range tasks {
		nt, err := e.db.UpdateTask(t.ID, func(x *gatehouse.Task) error {
			if x.Status != gatehouse.TaskOpen {
				return errSkipWrite
			}
			x.Status = gatehouse.TaskCanceled
			x.DoneAt = now
			return nil
		})
		if err == nil {
			e.notify.TaskClosed(e.ctx, nt)
		}
	}
	_ = e.db.DeleteJob(jobID(jobStartRun, runID))
	e.kick(r.ID, r.IdentityKey)
	e.notify.RunChanged(e.ctx, r, nil)
	e.observeFinished(r, nil)
	e.changed(r.ID)
	return nil
}

// Retry reopens a blocked or failed run: escalated, failed and consequently
// skipped steps start over with a fresh attempt budget, and their open
// escalation tasks are withdrawn.
func (e *Engine) Retry(ctx context.Context, runID, by string) error {
	actor := personActor(by)
	now := e.clock.Now()
	r, err := e.getRun(runID)
	if err != nil {
		return err
	}
	switch r.Status {
	case gatehouse.RunBlocked, gatehouse.RunFailed, gatehouse.RunWaiting:
	default:
		return fmt.Errorf("run %s is %s; only blocked, failed or waiting runs can be retried: %w", runID, r.Status, ErrWrongState)
	}
	steps, err := e.db.Steps(runID)
	if err != nil {
		return err
	}
	for _, s := range steps {
		reset := s.Status == gatehouse.StepEscalated || s.Status == gatehouse.StepFailed ||
			(s.Status == gatehouse.StepSkipped && s.Result[resOutcome] == "blocked") ||
			(s.Status == gatehouse.StepWaiting && s.ErrorClass == gatehouse.ClassPending.String())
		if !reset || s.Kind == gatehouse.StepApproval {
			continue
		}
		if t := s.Result[resTask]; t != "" && s.Status == gatehouse.StepEscalated {
			if _, err := e.db.UpdateTask(t, func(x *gatehouse.Task) error {
				if x.Status != gatehouse.TaskOpen {
					return errSkipWrite
				}
				x.Status, x.DoneAt, x.DoneBy = gatehouse.TaskCanceled, now, actor.ID
				x.Evidence = "withdrawn: the step is being retried"
				return nil
			}); err != nil && !errors.Is(err, errSkipWrite) {
				return err
			}
		}
		if _, err := e.db.UpdateStepFunc(runID, s.ID, func(st *gatehouse.Step) error {
			st.Status = gatehouse.StepPending
			st.Attempts = 0
			st.LastError, st.ErrorClass = "", ""
			st.NextAttempt = time.Time{}
			delete(st.Result, resOutcome)
			if st.Kind != gatehouse.StepManualTask {
				delete(st.Result, resTask)
				if st.Result == nil {
					st.Result = map[string]string{}
				}
				gen, _ := strconv.Atoi(st.Result[resGeneration])
				st.Result[resGeneration] = strconv.Itoa(gen + 1)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	r, err = e.db.UpdateRunFunc(runID, func(x *gatehouse.Run) error {
		if x.Status == gatehouse.RunCancelled || x.Status == gatehouse.RunSucceeded {
			return fmt.Errorf("run %s is %s: %w", runID, x.Status, ErrWrongState)
		}
		x.Status = gatehouse.RunRunning
		x.FinishedAt = time.Time{}
		return nil
	}, gatehouse.AuditEntry{Time: now.UTC(), Actor: actor, Action: "retry", RunID: runID, IdentityKey: r.IdentityKey})
	if err != nil {
		return e.runErr(runID, err)
	}
	e.kick(r.ID, r.IdentityKey)
	e.changed(r.ID)
	return nil
}
