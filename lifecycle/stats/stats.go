// Package stats computes Gatehouse's headline figures for a period from the
// store: how long joiners wait for their access and leavers keep theirs,
// how many manual tasks a hire needs, and how long approvals are waited on.
// `gatehouse stats` prints them; the live equivalents are the Prometheus
// histograms, derived from runs by the same functions (package metrics).
package stats

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/metrics"
	"github.com/gatehousehq/gatehouse/store"
)

// Latency summarizes durations: how many, their median and 90th percentile
// (nearest rank: always one of the observed values).
type Latency struct {
	Count  int           `json:"count"`
	Median time.Duration `json:"median_ns"`
	P90    time.Duration `json:"p90_ns"`
}

// Approvals summarizes the approvals requested in the period.
type Approvals struct {
	Requested int `json:"requested"`
	Decided   int `json:"decided"` // approved or denied
	Pending   int `json:"pending"` // still waiting now
	// Wait is from the request to the deciding answer, over decided ones.
	Wait Latency `json:"wait"`
}

// Report is the figures for runs finished (and approvals requested) in
// [Since, Until).
type Report struct {
	Since        time.Time `json:"since"`
	Until        time.Time `json:"until"`
	TimeToAccess Latency   `json:"time_to_access"` // successful joiner and rehire runs
	TimeToRevoke Latency   `json:"time_to_revoke"` // successful leaver, contract-end and expiry runs
	Hires        int       `json:"hires"`
	ManualTasks  int       `json:"manual_tasks"` // over those hires
	TasksPerHire float64   `json:"manual_tasks_per_hire"`
	Approvals    Approvals `json:"approvals"`
}

// Reader is what Compute reads; *store.DB implements it.
type Reader interface {
	ListRuns(store.RunFilter) ([]gatehouse.Run, error)
	Steps(runID string) ([]gatehouse.Step, error)
	ListApprovals(store.ApprovalFilter) ([]gatehouse.Approval, error)
}

// Compute reads the succeeded runs finished in [since, until) and the
// approvals created in it. Steps are read only for the runs in the period.
func Compute(db Reader, since, until time.Time) (Report, error) {
	rep := Report{Since: since, Until: until}
	in := func(t time.Time) bool { return !t.Before(since) && t.Before(until) }
	runs, err := db.ListRuns(store.RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunSucceeded}})
	if err != nil {
		return rep, fmt.Errorf("list runs: %w", err)
	}
	var access, revoke []time.Duration
	for _, r := range runs {
		if !in(r.FinishedAt) {
			continue
		}
		joiner, leaver := metrics.Joiner(r.Event.Type), r.Event.Type.Removes()
		if !joiner && !leaver {
			continue
		}
		steps, err := db.Steps(r.ID)
		if err != nil {
			return rep, fmt.Errorf("steps of run %s: %w", r.ID, err)
		}
		if d, ok := metrics.TimeToAccess(r); ok {
			access = append(access, d)
			rep.Hires++
			rep.ManualTasks += metrics.ManualTasks(steps)
		}
		if d, ok := metrics.TimeToRevoke(r, steps); ok {
			revoke = append(revoke, d)
		}
	}
	rep.TimeToAccess, rep.TimeToRevoke = summarize(access), summarize(revoke)
	if rep.Hires > 0 {
		rep.TasksPerHire = float64(rep.ManualTasks) / float64(rep.Hires)
	}
	aps, err := db.ListApprovals(store.ApprovalFilter{})
	if err != nil {
		return rep, fmt.Errorf("list approvals: %w", err)
	}
	var waits []time.Duration
	for _, a := range aps {
		if !in(a.CreatedAt) {
			continue
		}
		rep.Approvals.Requested++
		switch a.Status {
		case gatehouse.ApprovalPending:
			rep.Approvals.Pending++
		case gatehouse.ApprovalApproved, gatehouse.ApprovalDenied:
			rep.Approvals.Decided++
			var last time.Time
			for _, d := range a.Decisions {
				if d.At.After(last) {
					last = d.At
				}
			}
			if !last.IsZero() {
				waits = append(waits, max(last.Sub(a.CreatedAt), 0))
			}
		}
	}
	rep.Approvals.Wait = summarize(waits)
	return rep, nil
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{Count: len(ds), Median: rank(ds, 0.5), P90: rank(ds, 0.9)}
}

// rank is the nearest-rank percentile of sorted ds.
func rank(ds []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
