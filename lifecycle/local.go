package lifecycle

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// executeLocal runs a step that only touches the store: opening an approval
// or a manual task (the step then waits for a person), writing the evidence,
// sending a notification. Each is idempotent on ids derived from the step.
func (e *Engine) executeLocal(w *work) outcome {
	s := w.step
	o := outcome{stepID: s.ID}
	var err error
	switch s.Kind {
	case gatehouse.StepApproval:
		s, err = e.openApproval(w.run, s)
	case gatehouse.StepManualTask:
		s, err = e.openManualTask(w.run, s)
	case gatehouse.StepEvidence:
		return e.writeEvidence(w, s)
	case gatehouse.StepNotify:
		e.notify.Reminder(e.ctx, "owner_expired", w.run.ID)
		return e.afterSuccess(w, s, effect{result: map[string]string{"notified": s.Result[resAssignee]}})
	default:
		return e.afterFailure(e.lanes[localLane], w, s, gatehouse.Permanent(fmt.Errorf("app %s: %w", s.App, errNoConnectorForApp)))
	}
	if err != nil {
		return e.storeTrouble(o, err)
	}
	o.step, o.stored = s, true
	return o
}

// requesterOf is the email of the person who asked for the event, if a person did.
func requesterOf(run gatehouse.Run) string {
	if run.Event.Actor.Kind == gatehouse.ActorPerson && strings.Contains(run.Event.Actor.ID, "@") {
		return strings.ToLower(run.Event.Actor.ID)
	}
	return ""
}

// resolveApprovers turns approver roles into people. Nobody approves their
// own access: the identity and the requester are dropped. With nobody left,
// or fewer than required, IT fills in.
func (e *Engine) resolveApprovers(run gatehouse.Run, roles []string, app string, required int) []string {
	self := strings.ToLower(run.Event.Identity.Email)
	requester := requesterOf(run)
	var out []string
	addOne := func(m string) {
		m = strings.ToLower(strings.TrimSpace(m))
		if m == "" || m == "it" || m == self || m == requester || contains(out, m) {
			return
		}
		out = append(out, m)
	}
	for _, r := range roles {
		switch gatehouse.ApproverRole(strings.TrimSpace(r)) {
		case gatehouse.ApproverManager:
			addOne(run.Event.Identity.ManagerEmail)
		case gatehouse.ApproverAppOwner:
			if a := e.cfg.Apps[app]; a != nil {
				addOne(a.Owner)
			}
		case gatehouse.ApproverIT:
			for _, m := range e.itEmails() {
				addOne(m)
			}
		default:
			addOne(r)
		}
	}
	if len(out) < required || len(out) == 0 {
		for _, m := range e.itEmails() {
			addOne(m)
		}
	}
	return out
}

func approvalID(runID, stepID string) string { return "a-" + runID + "." + stepID }

// openApproval creates the approval request for an approval step and
// schedules its reminder, escalation and expiry; the step then waits.
func (e *Engine) openApproval(run gatehouse.Run, s gatehouse.Step) (gatehouse.Step, error) {
	now := e.clock.Now()
	required, _ := strconv.Atoi(s.Result[resRequired])
	if required < 1 {
		required = 1
	}
	var roles []string
	if r := s.Result[resRoles]; r != "" {
		roles = strings.Split(r, ",")
	}
	item := gatehouse.PlannedGrant{App: s.App, Entitlement: s.Entitlement, Reasons: s.Reasons}
	var conflicts []gatehouse.Conflict
	if run.Plan != nil {
		for _, g := range run.Plan.Grants {
			if g.App == s.App && g.Entitlement == s.Entitlement {
				item = g
			}
		}
		for _, c := range run.Plan.Conflicts {
			for _, r := range c.Entitlements {
				if r.App == s.App && r.Entitlement == s.Entitlement {
					conflicts = append(conflicts, c)
					break
				}
			}
		}
	}
	if item.Risk == 0 {
		item.Risk = e.riskOf(item.App, item.Entitlement)
	}
	pol := e.cfg.Approvals
	a := gatehouse.Approval{
		ID: approvalID(run.ID, s.ID), RunID: run.ID, StepID: s.ID, IdentityKey: run.IdentityKey,
		Requester: requesterOf(run), Items: []gatehouse.PlannedGrant{item}, Conflicts: conflicts,
		Approvers: e.resolveApprovers(run, roles, s.App, required), Required: required,
		Status: gatehouse.ApprovalPending, CreatedAt: now, RemindAt: now.Add(pol.RemindAfter), ExpiresAt: now.Add(pol.ExpireAfter),
	}
	audit := e.auditFor(run, "request_approval", s, "")
	audit.Details = map[string]string{"approval": a.ID, "approvers": strings.Join(a.Approvers, ","), "required": strconv.Itoa(required)}
	stored, err := e.db.PutApproval(a, audit)
	fresh := err == nil
	if errors.Is(err, store.ErrConflict) {
		stored, err = e.db.GetApproval(a.ID)
	}
	if err != nil {
		return s, err
	}
	if s.Result == nil {
		s.Result = map[string]string{}
	}
	s.Result[resApproval] = stored.ID
	switch stored.Status {
	case gatehouse.ApprovalApproved:
		s.Status, s.FinishedAt = gatehouse.StepSucceeded, now
		s.Result[resOutcome] = "approved"
	case gatehouse.ApprovalDenied, gatehouse.ApprovalExpired, gatehouse.ApprovalCancelled:
		s.Status, s.FinishedAt = gatehouse.StepSkipped, now
		s.Result[resOutcome] = outcomeOf(stored.Status)
	default:
		s.Status = gatehouse.StepWaiting
		for _, j := range []struct {
			kind string
			at   time.Time
		}{{jobApprovalRemind, stored.RemindAt}, {jobApprovalEscalate, stored.CreatedAt.Add(pol.EscalateAfter)}, {jobApprovalExpire, stored.ExpiresAt}} {
			if err := e.scheduleJob(j.kind, stored.ID, j.at, stored.ID); err != nil {
				return s, err
			}
		}
	}
	out, err := e.db.UpdateStep(s)
	if err != nil {
		return s, err
	}
	if fresh {
		e.notify.ApprovalRequested(e.ctx, stored)
	}
	return out, nil
}

func outcomeOf(st gatehouse.ApprovalStatus) string {
	switch st {
	case gatehouse.ApprovalApproved:
		return "approved"
	case gatehouse.ApprovalDenied:
		return "denied"
	case gatehouse.ApprovalExpired:
		return "expired"
	}
	return "cancelled"
}

func manualTaskID(runID, stepID string) string { return "t-" + runID + "." + stepID }

// openManualTask opens the task a manual_task step stands for (rotate shared
// credentials, close an account no connector can reach); the step waits.
func (e *Engine) openManualTask(run gatehouse.Run, s gatehouse.Step) (gatehouse.Step, error) {
	now := e.clock.Now()
	t := gatehouse.Task{
		ID: manualTaskID(run.ID, s.ID), RunID: run.ID, StepID: s.ID, IdentityKey: run.IdentityKey, App: s.App,
		Title: s.Result[resTitle], Assignee: s.Result[resAssignee], Status: gatehouse.TaskOpen, CreatedAt: now,
		Instructions: "Mark this task done with evidence (what you changed, where) once it is done.",
	}
	if t.Title == "" {
		t.Title = fmt.Sprintf("%s for %s in %s", s.Kind, run.Event.Identity.Email, s.App)
	}
	if t.Assignee == "" {
		t.Assignee = e.appOwner(s.App)
	}
	a := e.auditFor(run, "open_task", s, t.Title)
	a.Details = map[string]string{"task": t.ID, "assignee": t.Assignee}
	stored, err := e.db.PutTask(t, a)
	fresh := err == nil
	if errors.Is(err, store.ErrConflict) {
		stored, err = e.db.GetTask(t.ID)
	}
	if err != nil {
		return s, err
	}
	if s.Result == nil {
		s.Result = map[string]string{}
	}
	s.Result[resTask] = stored.ID
	switch stored.Status {
	case gatehouse.TaskDone:
		s.Status, s.FinishedAt = gatehouse.StepSucceeded, now
	case gatehouse.TaskCantDo:
		s.Status, s.FinishedAt = gatehouse.StepFailed, now
	case gatehouse.TaskCanceled:
		s.Status, s.FinishedAt = gatehouse.StepCancelled, now
	default:
		s.Status = gatehouse.StepWaiting
	}
	out, err := e.db.UpdateStep(s)
	if err != nil {
		return s, err
	}
	if fresh {
		e.taskOpened(stored)
	}
	return out, nil
}

// matchesIdentity says whether an app account belongs to the identity: same
// email, same employee id, user name equal to the email, the identity's
// username attribute, or — only for accounts that carry no email and no
// employee id that could contradict it — the email's local part.
func matchesIdentity(id gatehouse.Identity, a gatehouse.Account) bool {
	email := strings.ToLower(id.Email)
	switch {
	case a.Email != "" && strings.EqualFold(a.Email, email):
		return true
	case id.EmployeeID != "" && a.EmployeeID == id.EmployeeID:
		return true
	}
	u := strings.ToLower(strings.TrimSpace(a.UserName))
	if u == "" {
		return false
	}
	if u == email || (id.Attr("username") != "" && strings.EqualFold(id.Attr("username"), u)) {
		return true
	}
	local, _, _ := strings.Cut(email, "@")
	return a.Email == "" && a.EmployeeID == "" && !strings.Contains(u, "@") && u == local
}

// discovered turns a discover step's account list into closing steps for
// every account of the leaver that the planned steps do not already cover —
// accounts Gatehouse never granted, or extra accounts under another name.
func (e *Engine) discovered(run gatehouse.Run, s gatehouse.Step, accts []gatehouse.Account, managed bool) (effect, error) {
	eff := effect{result: map[string]string{}}
	id := run.Event.Identity
	p := &planner{e: e, run: run, id: id, index: map[string]int{}}
	var found []string
	for _, a := range accts {
		if strings.TrimSpace(a.ID) == "" && a.UserName == "" && a.Email == "" {
			return eff, gatehouse.Retryable(fmt.Errorf("%s listed an account with no id, user name or email", s.App))
		}
		if !matchesIdentity(id, a) {
			continue
		}
		main := strings.EqualFold(a.Email, id.Email) || strings.EqualFold(a.UserName, id.Email)
		if managed && main {
			continue // the planned steps close this one
		}
		if !a.Active && !(e.cfg.Apps[s.App] != nil && e.cfg.Apps[s.App].Delete) {
			found = append(found, a.ID+" (already inactive)")
			continue
		}
		acctID := a.ID
		if acctID == "" {
			acctID = a.UserName
		}
		found = append(found, acctID)
		eff.found = append(eff.found, gatehouse.Grant{Identity: run.IdentityKey, App: s.App, Entitlement: discoveredEnt(acctID),
			Source: gatehouse.SourceDiscovered, RunID: run.ID, GrantedAt: e.clock.Now()})
		p.closeAccountRef(s.App, nil, []string{s.ID}, true, acctID,
			map[string]string{resAccountID: a.ID, resAccountEmail: a.Email, resAccountUser: a.UserName})
	}
	sort.Strings(found)
	eff.result["found"] = strings.Join(found, ",")
	eff.added = p.steps
	return eff, nil
}
