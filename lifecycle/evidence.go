package lifecycle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// Evidence is the summary a run ends with: what was closed (or opened)
// where, the seat cost reclaimed, and anything still open. It is stored as
// the evidence step's result, in the run's Summary and in the audit log.
type Evidence struct {
	Changed []string // "disable okta", "revoke github:admin", …
	Open    []string // steps and tasks not done, with who holds them
	Failed  []string
	// Verified lists, per app re-read after a leaver's steps, what the app
	// showed ("github: account inactive, no entitlements", or "not verified
	// (connector cannot re-read)").
	Verified []string
	// Transfers names who received what per app ("google → grace@example.com (manager)").
	Transfers         []string
	SeatCostReclaimed float64 // per month
	Apps              int     // apps touched
}

// Summary renders the evidence in one paragraph.
func (ev Evidence) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d change(s) in %d app(s)", len(ev.Changed), ev.Apps)
	if ev.SeatCostReclaimed > 0 {
		fmt.Fprintf(&b, "; seat cost reclaimed %.2f/month", ev.SeatCostReclaimed)
	}
	if len(ev.Transfers) > 0 {
		fmt.Fprintf(&b, "; transferred: %s", strings.Join(ev.Transfers, ", "))
	}
	if len(ev.Verified) > 0 {
		fmt.Fprintf(&b, "; re-read: %s", strings.Join(ev.Verified, ", "))
	}
	if len(ev.Failed) > 0 {
		fmt.Fprintf(&b, "; failed: %s", strings.Join(ev.Failed, ", "))
	}
	if len(ev.Open) > 0 {
		fmt.Fprintf(&b, "; still open: %s", strings.Join(ev.Open, ", "))
	} else {
		b.WriteString("; nothing left open")
	}
	return b.String()
}

func (e *Engine) evidence(run gatehouse.Run, steps []gatehouse.Step) Evidence {
	var ev Evidence
	apps := map[string]bool{}
	seatApps := map[string]bool{}
	for _, s := range steps {
		if s.Kind == gatehouse.StepEvidence {
			continue
		}
		label := string(s.Kind) + " " + s.App
		if s.Entitlement != "" && s.Kind != gatehouse.StepEnsureAccount {
			label += ":" + s.Entitlement
		}
		if id := s.Result[resAccountID]; id != "" && s.Kind != gatehouse.StepEnsureAccount {
			label += " (account " + id + ")"
		}
		switch s.Status {
		case gatehouse.StepSucceeded:
			switch s.Kind {
			case gatehouse.StepApproval, gatehouse.StepDiscover, gatehouse.StepNotify:
				continue
			case gatehouse.StepVerify:
				ev.Verified = append(ev.Verified, s.App+": "+s.Result[resObserved])
				continue
			case gatehouse.StepTransferOwnership:
				if to := s.Result[resTo]; to != "" && s.Result[resOutcome] != "not_found" {
					ev.Transfers = append(ev.Transfers, s.App+" → "+to+" ("+s.Result[resRole]+")")
				}
			}
			if s.Result[resOutcome] == "not_found" {
				label += " (already gone)"
			}
			ev.Changed = append(ev.Changed, label)
			if s.App != "" {
				apps[s.App] = true
			}
			closes := (s.Kind == gatehouse.StepDisable || s.Kind == gatehouse.StepDelete) && s.Result[resKeepGrants] != "true" ||
				(s.Kind == gatehouse.StepManualTask && s.Result["closes_access"] == "true")
			if closes && !seatApps[s.App] {
				if a := e.cfg.Apps[s.App]; a != nil && s.Result[resAccountID] == "" {
					ev.SeatCostReclaimed += a.SeatCost
					seatApps[s.App] = true
				}
			}
			if s.Kind == gatehouse.StepRevoke {
				if ent, ok := e.cfg.Entitlement(gatehouse.EntitlementRef{App: s.App, Entitlement: s.Entitlement}); ok {
					ev.SeatCostReclaimed += ent.MonthlyCost
				}
			}
		case gatehouse.StepSkipped, gatehouse.StepCancelled:
		case gatehouse.StepFailed:
			ev.Failed = append(ev.Failed, label)
		default:
			who := ""
			if t := s.Result[resTask]; t != "" {
				who = " task " + t
			} else if a := s.Result[resApproval]; a != "" {
				who = " approval " + a
			}
			ev.Open = append(ev.Open, label+" ("+string(s.Status)+who+")")
		}
	}
	if tasks, err := e.db.ListTasks(store.TaskFilter{RunID: run.ID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}}); err == nil {
		for _, t := range tasks {
			dup := false
			for _, o := range ev.Open {
				if strings.Contains(o, t.ID) {
					dup = true
				}
			}
			if !dup {
				ev.Open = append(ev.Open, fmt.Sprintf("task %s (%s, %s)", t.ID, t.Title, t.Assignee))
			}
		}
	}
	sort.Strings(ev.Open)
	ev.Apps = len(apps)
	return ev
}

// writeEvidence records the run's evidence summary as the final step (and,
// through the driver, as the run's Summary).
func (e *Engine) writeEvidence(w *work, s gatehouse.Step) outcome {
	o := outcome{stepID: s.ID}
	// The driver dispatches the evidence only once every other step's final
	// record is in, and hands over its (stored) copies: no need to read
	// them back.
	steps := w.steps
	if steps == nil {
		var err error
		if steps, err = e.db.Steps(w.run.ID); err != nil {
			return e.storeTrouble(o, err)
		}
	}
	ev := e.evidence(w.run, steps)
	// The run's Summary is written by the driver together with the status
	// change this step causes: one write fewer on every run's critical path.
	sum := ev.Summary()
	res := map[string]string{
		resOpen:               strconv.Itoa(len(ev.Open)),
		"changed":             strconv.Itoa(len(ev.Changed)),
		"seat_cost_reclaimed": strconv.FormatFloat(ev.SeatCostReclaimed, 'f', 2, 64),
		"summary":             truncate(sum, 4000),
	}
	if s.Result == nil {
		s.Result = map[string]string{}
	}
	for k, v := range res {
		s.Result[k] = v
	}
	return e.afterSuccess(w, s, effect{result: res})
}
