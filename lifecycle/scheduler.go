package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// Job kinds kept in the store's scheduled jobs. Jobs survive restarts; the
// handlers are idempotent because a crash between handling and deleting a
// job runs it again.
const (
	jobStartRun         = "start_run"
	jobApprovalRemind   = "approval_remind"
	jobApprovalEscalate = "approval_escalate"
	jobApprovalExpire   = "approval_expire"
	jobGrantExpire      = "grant_expire"
	jobGrantRemind      = "grant_remind"
	jobTaskRemind       = "task_remind"
	jobTaskEscalate     = "task_escalate"
	// jobOwnerAttest (nonhuman.go) asks a non-human's owner to re-attest.
)

func jobID(kind, key string) string { return kind + ":" + key }

// scheduleJob stores a job (replacing one with the same kind and key) and
// wakes the scheduler so it can sleep until the new earliest job.
func (e *Engine) scheduleJob(kind, key string, at time.Time, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s job: %w", kind, err)
	}
	if err := e.db.ScheduleJob(store.Job{ID: jobID(kind, key), Kind: kind, At: at.UTC(), Payload: raw}); err != nil {
		return err
	}
	select {
	case e.schedWake <- struct{}{}:
	default:
	}
	return nil
}

func (e *Engine) scheduleRunStart(r gatehouse.Run) error {
	return e.scheduleJob(jobStartRun, r.ID, r.NotBefore, r.ID)
}

func (e *Engine) deleteApprovalJobs(id string) {
	for _, k := range []string{jobApprovalRemind, jobApprovalEscalate, jobApprovalExpire} {
		_ = e.db.DeleteJob(jobID(k, id))
	}
}

// grantJob identifies a time-bound grant.
type grantJob struct {
	Identity    string    `json:"identity"`
	App         string    `json:"app"`
	Entitlement string    `json:"entitlement"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (g grantJob) key() string { return g.Identity + "|" + g.App + "|" + g.Entitlement }

// scheduleGrantExpiry arms the revocation of a time-bound grant at its
// expiry and a reminder to its holder before that.
func (e *Engine) scheduleGrantExpiry(g gatehouse.Grant) error {
	j := grantJob{Identity: g.Identity, App: g.App, Entitlement: g.Entitlement, ExpiresAt: g.ExpiresAt}
	if err := e.scheduleJob(jobGrantExpire, j.key(), g.ExpiresAt, j); err != nil {
		return err
	}
	remind := g.ExpiresAt.Add(-e.cfg.Defaults.ExpiryReminder)
	if remind.After(e.clock.Now()) {
		return e.scheduleJob(jobGrantRemind, j.key(), remind, j)
	}
	return nil
}

// scheduler fires due jobs. It sleeps until the earliest job (or until a new
// one is scheduled) on the engine's clock.
func (e *Engine) scheduler() {
	for {
		if e.ctx.Err() != nil {
			return
		}
		now := e.clock.Now()
		due, err := e.db.DueJobs(now, 256)
		if err != nil {
			e.log.Error().Err(err).Msg("read due jobs")
		}
		foreign := 0
		for _, j := range due {
			if e.ctx.Err() != nil {
				return
			}
			if !ownJob(j.Kind) {
				foreign++ // another component's job: not ours to run or delete
				continue
			}
			if err := e.runJob(j); err != nil {
				e.log.Error().Err(err).Str("job", j.ID).Msg("scheduled job failed; retrying in a minute")
				j.At = now.Add(time.Minute)
				_ = e.db.ScheduleJob(j)
				continue
			}
			if err := e.db.DeleteJob(j.ID); err != nil {
				e.log.Error().Err(err).Str("job", j.ID).Msg("delete job")
			}
		}
		if len(due) == 256 && foreign < len(due) {
			continue
		}
		var timer <-chan time.Time
		stop := func() bool { return false }
		if foreign > 0 {
			// Due jobs of other components stay at the head of the queue;
			// poll instead of spinning on them.
			timer, stop = after(e.clock, 30*time.Second)
		} else if at, ok, err := e.db.NextJobAt(); err == nil && ok {
			timer, stop = after(e.clock, at.Sub(e.clock.Now()))
		}
		select {
		case <-timer:
		case <-e.schedWake:
		case <-e.ctx.Done():
		}
		stop()
	}
}

func (e *Engine) runJob(j store.Job) error {
	switch j.Kind {
	case jobStartRun:
		var id string
		if err := json.Unmarshal(j.Payload, &id); err != nil {
			return nil // garbage payload: nothing sensible to do, drop it
		}
		r, err := e.db.UpdateRunFunc(id, func(r *gatehouse.Run) error {
			if r.Status != gatehouse.RunScheduled {
				return errSkipWrite
			}
			r.Status = gatehouse.RunPending
			return nil
		}, gatehouse.AuditEntry{Time: e.clock.Now().UTC(), Actor: gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}, Action: "start_scheduled", RunID: id})
		switch {
		case errors.Is(err, errSkipWrite), errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		e.preempt(r)
		e.kick(r.ID, r.IdentityKey)
		e.changed(r.ID)
		return nil
	case jobApprovalRemind, jobApprovalEscalate, jobApprovalExpire:
		var id string
		if err := json.Unmarshal(j.Payload, &id); err != nil {
			return nil
		}
		return e.approvalJob(j.Kind, id)
	case jobGrantExpire:
		var g grantJob
		if err := json.Unmarshal(j.Payload, &g); err != nil {
			return nil
		}
		return e.expireGrant(g)
	case jobGrantRemind:
		e.notify.Reminder(e.ctx, "grant_expiry", j.ID)
		return nil
	case jobOwnerAttest:
		var a attestJob
		if err := json.Unmarshal(j.Payload, &a); err != nil {
			return nil
		}
		return e.attestReminder(a)
	case jobTaskRemind, jobTaskEscalate:
		var id string
		if err := json.Unmarshal(j.Payload, &id); err != nil {
			return nil
		}
		return e.taskJob(j.Kind, id)
	}
	return nil
}

func ownJob(kind string) bool {
	switch kind {
	case jobStartRun, jobApprovalRemind, jobApprovalEscalate, jobApprovalExpire, jobGrantExpire, jobGrantRemind, jobTaskRemind, jobTaskEscalate, jobOwnerAttest:
		return true
	}
	return false
}
