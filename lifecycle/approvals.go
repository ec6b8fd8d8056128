package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// Decide records an approver's decision. Only a designated approver may
// decide, nobody decides on their own access (nor on access they requested),
// a decided, expired or cancelled request cannot be decided again; each such
// refusal is audited (action "refuse") and returned as ErrNotApprover,
// ErrSelfApproval, ErrAlreadyDecided, ErrExpired or ErrRunCancelled. When the
// request is settled (approved by enough distinct people, or denied) the
// gated steps proceed or are skipped.
func (e *Engine) Decide(ctx context.Context, approvalID, approverEmail string, approve bool, reason string) (gatehouse.Approval, error) {
	who := strings.ToLower(strings.TrimSpace(approverEmail))
	now := e.clock.Now()
	a, err := e.db.GetApproval(approvalID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return gatehouse.Approval{}, fmt.Errorf("approval %s: %w", approvalID, err)
		}
		return gatehouse.Approval{}, err
	}
	self := e.identityEmail(a.IdentityKey, a.RunID)
	refuse := func(sentinel error, why string) (gatehouse.Approval, error) {
		_, aerr := e.db.AppendAudit(gatehouse.AuditEntry{
			Time: now.UTC(), Actor: personActor(who), Action: "refuse", IdentityKey: a.IdentityKey,
			RunID: a.RunID, StepID: a.StepID, Reason: why,
			Details: map[string]string{"approval": a.ID, "attempted": decisionWord(approve)},
		})
		if aerr != nil {
			e.log.Error().Err(aerr).Msg("audit refusal")
		}
		return a, fmt.Errorf("approval %s: %s: %w", a.ID, why, sentinel)
	}
	if a.RunID != "" {
		if r, err := e.db.GetRun(a.RunID); err == nil && r.Status == gatehouse.RunCancelled {
			return refuse(ErrRunCancelled, "the run was cancelled")
		}
	}
	switch {
	case a.Status == gatehouse.ApprovalCancelled:
		return refuse(ErrRunCancelled, "the request was withdrawn")
	case a.Status == gatehouse.ApprovalApproved || a.Status == gatehouse.ApprovalDenied:
		return refuse(ErrAlreadyDecided, "already "+string(a.Status))
	case a.Status == gatehouse.ApprovalExpired || (!a.ExpiresAt.IsZero() && now.After(a.ExpiresAt)):
		return refuse(ErrExpired, "the request expired")
	case who == "" || who == self || (a.Requester != "" && who == strings.ToLower(a.Requester)):
		return refuse(ErrSelfApproval, who+" cannot decide on access they hold or requested")
	case !containsFold(a.Approvers, who):
		return refuse(ErrNotApprover, who+" is not an approver")
	}
	for _, d := range a.Decisions {
		if strings.EqualFold(d.By, who) {
			return refuse(ErrAlreadyDecided, who+" already decided")
		}
	}
	audit := gatehouse.AuditEntry{
		Time: now.UTC(), Actor: personActor(who), Action: decisionWord(approve), IdentityKey: a.IdentityKey,
		RunID: a.RunID, StepID: a.StepID, Reason: reason, Details: map[string]string{"approval": a.ID},
	}
	if len(a.Items) > 0 {
		audit.App, audit.Entitlement = a.Items[0].App, a.Items[0].Entitlement
	}
	var conflict error
	updated, err := e.db.UpdateApproval(a.ID, func(x *gatehouse.Approval) error {
		conflict = nil
		if x.Status != gatehouse.ApprovalPending {
			conflict = ErrAlreadyDecided
			return conflict
		}
		for _, d := range x.Decisions {
			if strings.EqualFold(d.By, who) {
				conflict = ErrAlreadyDecided
				return conflict
			}
		}
		x.Decisions = append(x.Decisions, gatehouse.Decision{By: who, Approved: approve, Reason: reason, At: now.UTC()})
		if !approve {
			x.Status = gatehouse.ApprovalDenied
			return nil
		}
		n := 0
		for _, d := range x.Decisions {
			if d.Approved {
				n++
			}
		}
		if n >= max(1, x.Required) {
			x.Status = gatehouse.ApprovalApproved
		}
		return nil
	}, audit)
	if conflict != nil {
		return refuse(conflict, "decided concurrently")
	}
	if err != nil {
		return a, err
	}
	if updated.Status != gatehouse.ApprovalPending {
		e.deleteApprovalJobs(updated.ID)
		if err := e.settleApprovalStep(updated); err != nil {
			return updated, err
		}
		e.notify.ApprovalDecided(e.ctx, updated)
	}
	return updated, nil
}

func decisionWord(approve bool) string {
	if approve {
		return "approve"
	}
	return "deny"
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// identityEmail is the email of the identity an approval is about.
func (e *Engine) identityEmail(key, runID string) string {
	if id, err := e.db.GetIdentity(key); err == nil {
		return strings.ToLower(id.Email)
	}
	if runID != "" {
		if r, err := e.db.GetRun(runID); err == nil {
			return strings.ToLower(r.Event.Identity.Email)
		}
	}
	return ""
}

// settleApprovalStep moves the approval's step on: succeeded when approved,
// skipped (and with it the gated grant) when denied, expired or cancelled.
func (e *Engine) settleApprovalStep(a gatehouse.Approval) error {
	if a.RunID == "" || a.StepID == "" {
		return nil
	}
	now := e.clock.Now()
	_, err := e.db.UpdateStepFunc(a.RunID, a.StepID, func(st *gatehouse.Step) error {
		if st.Status.Done() {
			return errSkipWrite
		}
		if st.Result == nil {
			st.Result = map[string]string{}
		}
		st.Result[resApproval] = a.ID
		st.Result[resOutcome] = outcomeOf(a.Status)
		st.FinishedAt = now
		if a.Status == gatehouse.ApprovalApproved {
			st.Status = gatehouse.StepSucceeded
		} else {
			st.Status = gatehouse.StepSkipped
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSkipWrite) {
		return err
	}
	if r, err := e.db.GetRun(a.RunID); err == nil && !r.Status.Terminal() {
		if r.Status == gatehouse.RunWaiting || r.Status == gatehouse.RunBlocked {
			// Mark it running so Wait callers do not return before the
			// driver has taken the decision into account.
			_, _ = e.db.UpdateRunFunc(r.ID, func(x *gatehouse.Run) error {
				if x.Status != gatehouse.RunWaiting && x.Status != gatehouse.RunBlocked {
					return errSkipWrite
				}
				x.Status = gatehouse.RunRunning
				return nil
			})
		}
		e.kick(r.ID, r.IdentityKey)
	}
	return nil
}

// approvalJob handles an approval's reminder, escalation and expiry.
func (e *Engine) approvalJob(kind, id string) error {
	a, err := e.db.GetApproval(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Status != gatehouse.ApprovalPending {
		return nil
	}
	now := e.clock.Now()
	sys := gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}
	switch kind {
	case jobApprovalRemind:
		e.notify.Reminder(e.ctx, "approval", a.ID)
	case jobApprovalExpire:
		updated, err := e.db.UpdateApproval(id, func(x *gatehouse.Approval) error {
			if x.Status != gatehouse.ApprovalPending {
				return errSkipWrite
			}
			x.Status = gatehouse.ApprovalExpired
			return nil
		}, gatehouse.AuditEntry{Time: now.UTC(), Actor: sys, Action: "expire", IdentityKey: a.IdentityKey, RunID: a.RunID, StepID: a.StepID,
			Reason: "nobody decided within approvals.expire_after", Details: map[string]string{"approval": a.ID}})
		if errors.Is(err, errSkipWrite) {
			return nil
		}
		if err != nil {
			return err
		}
		e.deleteApprovalJobs(id)
		if err := e.settleApprovalStep(updated); err != nil {
			return err
		}
		e.notify.ApprovalDecided(e.ctx, updated)
	case jobApprovalEscalate:
		self := e.identityEmail(a.IdentityKey, a.RunID)
		add := e.escalationTargets(a, self)
		updated, err := e.db.UpdateApproval(id, func(x *gatehouse.Approval) error {
			if x.Status != gatehouse.ApprovalPending {
				return errSkipWrite
			}
			x.Escalations++
			for _, m := range add {
				if !containsFold(x.Approvers, m) {
					x.Approvers = append(x.Approvers, m)
				}
			}
			return nil
		}, gatehouse.AuditEntry{Time: now.UTC(), Actor: sys, Action: "escalate_approval", IdentityKey: a.IdentityKey, RunID: a.RunID, StepID: a.StepID,
			Reason: "no decision within approvals.escalate_after", Details: map[string]string{"approval": a.ID, "added": strings.Join(add, ",")}})
		if errors.Is(err, errSkipWrite) {
			return nil
		}
		if err != nil {
			return err
		}
		if updated.Escalations < 2 {
			if err := e.scheduleJob(jobApprovalEscalate, id, now.Add(e.cfg.Approvals.EscalateAfter), id); err != nil {
				return err
			}
		}
		e.notify.ApprovalRequested(e.ctx, updated)
	}
	return nil
}

// escalationTargets: first the next manager up (the manager's manager, from
// the store), then IT.
func (e *Engine) escalationTargets(a gatehouse.Approval, self string) []string {
	var out []string
	add := func(m string) {
		m = strings.ToLower(strings.TrimSpace(m))
		if m != "" && m != self && !strings.EqualFold(m, a.Requester) && !containsFold(a.Approvers, m) && !contains(out, m) {
			out = append(out, m)
		}
	}
	if a.Escalations == 0 {
		for _, ap := range a.Approvers {
			if mgr, err := e.db.IdentityByEmail(ap); err == nil && mgr.ManagerEmail != "" {
				add(mgr.ManagerEmail)
			}
		}
	}
	if len(out) == 0 {
		for _, m := range e.itEmails() {
			add(m)
		}
	}
	return out
}
