package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/store"
)

// CompleteTask closes a manual task as done (with evidence) or as
// impossible. Only the assignee, IT, or the app's owner may close it, and
// never the person the task is about; refusals are audited. Closing moves the
// task's step on: a step handed to a manual connector is checked again, an
// escalated or manual step is done (its grant records updated) or failed.
func (e *Engine) CompleteTask(ctx context.Context, taskID, by string, done bool, evidence string) (gatehouse.Task, error) {
	who := strings.ToLower(strings.TrimSpace(by))
	now := e.clock.Now()
	t, err := e.db.GetTask(taskID)
	if err != nil {
		return gatehouse.Task{}, err
	}
	refuse := func(sentinel error, why string) (gatehouse.Task, error) {
		if _, aerr := e.db.AppendAudit(gatehouse.AuditEntry{Time: now.UTC(), Actor: personActor(who), Action: "refuse",
			IdentityKey: t.IdentityKey, App: t.App, RunID: t.RunID, StepID: t.StepID, Reason: why,
			Details: map[string]string{"task": t.ID}}); aerr != nil {
			e.log.Error().Err(aerr).Msg("audit refusal")
		}
		return t, fmt.Errorf("task %s: %s: %w", t.ID, why, sentinel)
	}
	if t.Status != gatehouse.TaskOpen {
		return refuse(ErrTaskClosed, "already "+string(t.Status))
	}
	if who == "" || who == e.identityEmail(t.IdentityKey, t.RunID) {
		return refuse(ErrSelfApproval, who+" cannot close a task about their own access")
	}
	if !strings.EqualFold(who, t.Assignee) && !containsFold(e.itEmails(), who) && !(t.App != "" && strings.EqualFold(who, e.appOwner(t.App))) {
		return refuse(ErrNotAllowed, who+" is neither the assignee, IT, nor the app owner")
	}
	if done && strings.TrimSpace(evidence) == "" {
		return t, fmt.Errorf("task %s: evidence is required to mark it done", t.ID)
	}
	status, action := gatehouse.TaskDone, "manual_done"
	if !done {
		status, action = gatehouse.TaskCantDo, "manual_cant_do"
	}
	updated, err := e.db.UpdateTask(t.ID, func(x *gatehouse.Task) error {
		if x.Status != gatehouse.TaskOpen {
			return ErrTaskClosed
		}
		x.Status, x.Evidence, x.DoneBy, x.DoneAt = status, evidence, who, now.UTC()
		return nil
	}, gatehouse.AuditEntry{Time: now.UTC(), Actor: personActor(who), Action: action, IdentityKey: t.IdentityKey, App: t.App,
		RunID: t.RunID, StepID: t.StepID, Reason: evidence, Details: map[string]string{"task": t.ID}})
	if err != nil {
		if errors.Is(err, ErrTaskClosed) {
			return refuse(ErrTaskClosed, "closed concurrently")
		}
		return t, err
	}
	e.deleteTaskJobs(updated.ID)
	if err := e.settleTaskStep(updated); err != nil {
		return updated, err
	}
	e.notify.TaskClosed(e.ctx, updated)
	return updated, nil
}

// settleTaskStep moves a closed task's step on.
func (e *Engine) settleTaskStep(t gatehouse.Task) error {
	if t.RunID == "" || t.StepID == "" {
		return nil
	}
	run, err := e.db.GetRun(t.RunID)
	if err != nil {
		return err
	}
	s, err := e.db.GetStep(t.RunID, t.StepID)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	pendingConnector := s.Status == gatehouse.StepWaiting && s.ErrorClass == gatehouse.ClassPending.String()
	switch {
	case s.Status.Done() || s.Status == gatehouse.StepFailed:
		return nil
	case pendingConnector:
		// The manual connector reads the task's outcome: call it again.
		_, err = e.db.UpdateStepFunc(t.RunID, t.StepID, func(st *gatehouse.Step) error {
			if st.Status != gatehouse.StepWaiting {
				return errSkipWrite
			}
			st.Status = gatehouse.StepPending
			return nil
		})
	case t.Status == gatehouse.TaskDone:
		// The person did it: record the change as if the step had.
		w := &work{run: run, step: s}
		if err := e.recordGrants(w, s, effect{}, now); err != nil {
			return err
		}
		// A verify that found access still open, closed by a person: they
		// attest the access is gone now (Retry re-reads instead).
		if (s.Kind == gatehouse.StepManualTask && s.Result["closes_access"] == "true") || s.Kind == gatehouse.StepVerify {
			if err := e.revokeApp(run.IdentityKey, s.App, s.Result[resAccountID], now, "person:"+t.DoneBy); err != nil {
				return err
			}
		}
		a := e.auditFor(run, auditAction(s.Kind), s, "completed by hand: "+t.Evidence)
		a.Actor = personActor(t.DoneBy)
		a.Details = map[string]string{"task": t.ID, "step": s.ID}
		_, err = e.db.UpdateStepFunc(t.RunID, t.StepID, func(st *gatehouse.Step) error {
			if st.Status.Done() {
				return errSkipWrite
			}
			st.Status, st.FinishedAt = gatehouse.StepSucceeded, now
			if st.Result == nil {
				st.Result = map[string]string{}
			}
			st.Result[resOutcome] = "manual"
			st.Result["evidence"] = truncate(t.Evidence, 500)
			return nil
		}, a)
	default:
		_, err = e.db.UpdateStepFunc(t.RunID, t.StepID, func(st *gatehouse.Step) error {
			if st.Status.Done() {
				return errSkipWrite
			}
			st.Status, st.FinishedAt = gatehouse.StepFailed, now
			st.LastError = "marked impossible by " + t.DoneBy + ": " + t.Evidence
			return nil
		})
	}
	if err != nil && !errors.Is(err, errSkipWrite) {
		return err
	}
	if !run.Status.Terminal() {
		if run.Status == gatehouse.RunWaiting || run.Status == gatehouse.RunBlocked {
			_, _ = e.db.UpdateRunFunc(run.ID, func(x *gatehouse.Run) error {
				if x.Status != gatehouse.RunWaiting && x.Status != gatehouse.RunBlocked {
					return errSkipWrite
				}
				x.Status = gatehouse.RunRunning
				return nil
			})
		}
		e.kick(run.ID, run.IdentityKey)
	}
	return nil
}

// Tasks returns the TaskStore the manual connector uses to hand operations to
// people; it is NewTaskStore over the engine's store.
func (e *Engine) Tasks() connectors.TaskStore { return NewTaskStore(e.db) }

// NewTaskStore adapts the store to connectors.TaskStore. Connectors are built
// before the engine, so this needs only the store. Tasks created while a step
// executes are tied to it through the operation key (RUNID/STEPID) on ctx, so
// closing the task re-checks the step.
func NewTaskStore(db *store.DB) connectors.TaskStore { return taskStore{db} }

type taskStore struct{ db *store.DB }

func (s taskStore) EnsureTask(ctx context.Context, t gatehouse.Task) (gatehouse.Task, error) {
	if key := gatehouse.OperationKey(ctx); key != "" && t.RunID == "" {
		if run, step, ok := strings.Cut(key, "/"); ok {
			t.RunID, t.StepID = run, step
			if t.IdentityKey == "" {
				if r, err := s.db.GetRun(run); err == nil {
					t.IdentityKey = r.IdentityKey
				}
			}
		}
	}
	if t.ID != "" {
		if got, err := s.db.GetTask(t.ID); err == nil {
			return got, nil
		}
	}
	stored, err := s.db.PutTask(t)
	if errors.Is(err, store.ErrConflict) {
		return s.db.GetTask(t.ID)
	}
	return stored, err
}

func (s taskStore) GetTask(ctx context.Context, id string) (gatehouse.Task, error) {
	t, err := s.db.GetTask(id)
	if errors.Is(err, store.ErrNotFound) {
		return t, gatehouse.NotFound(err)
	}
	return t, err
}

// taskOpened tells people about a new task and schedules its follow-up: a
// reminder to the assignee every approvals.remind_after while it stays open,
// and after approvals.escalate_after a hand-over to IT (an app owner who does
// not answer must not leave a leaver's access open).
func (e *Engine) taskOpened(t gatehouse.Task) {
	e.notify.TaskOpened(e.ctx, t)
	created := t.CreatedAt
	if created.IsZero() {
		created = e.clock.Now()
	}
	if err := e.scheduleJob(jobTaskRemind, t.ID, created.Add(e.cfg.Approvals.RemindAfter), t.ID); err != nil {
		e.log.Error().Err(err).Str("task", t.ID).Msg("schedule task reminder")
	}
	if !t.Escalated {
		if err := e.scheduleJob(jobTaskEscalate, t.ID, created.Add(e.cfg.Approvals.EscalateAfter), t.ID); err != nil {
			e.log.Error().Err(err).Str("task", t.ID).Msg("schedule task escalation")
		}
	}
}

func (e *Engine) deleteTaskJobs(id string) {
	for _, k := range []string{jobTaskRemind, jobTaskEscalate} {
		_ = e.db.DeleteJob(jobID(k, id))
	}
}

// taskJob handles a task's reminder and escalation. Both are no-ops once the
// task is closed, so a job that survived a crash after CompleteTask is harmless.
func (e *Engine) taskJob(kind, id string) error {
	t, err := e.db.GetTask(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.Status != gatehouse.TaskOpen {
		return nil
	}
	now := e.clock.Now()
	switch kind {
	case jobTaskRemind:
		e.notify.Reminder(e.ctx, "task", t.ID)
		return e.scheduleJob(jobTaskRemind, t.ID, now.Add(e.cfg.Approvals.RemindAfter), t.ID)
	case jobTaskEscalate:
		it := e.itEmail()
		if t.Escalated || strings.EqualFold(t.Assignee, it) {
			return nil
		}
		sys := gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}
		updated, err := e.db.UpdateTask(t.ID, func(x *gatehouse.Task) error {
			if x.Status != gatehouse.TaskOpen || x.Escalated {
				return errSkipWrite
			}
			x.Instructions = strings.TrimSpace(x.Instructions + "\n\nEscalated to IT: " + x.Assignee + " did not complete it within approvals.escalate_after.")
			x.Escalated, x.Assignee = true, it
			return nil
		}, gatehouse.AuditEntry{Time: now.UTC(), Actor: sys, Action: "escalate_task", IdentityKey: t.IdentityKey, App: t.App, RunID: t.RunID, StepID: t.StepID,
			Reason: "not completed within approvals.escalate_after", Details: map[string]string{"task": t.ID, "from": t.Assignee, "to": it}})
		if errors.Is(err, errSkipWrite) {
			return nil
		}
		if err != nil {
			return err
		}
		e.notify.TaskOpened(e.ctx, updated)
	}
	return nil
}
