package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle/stats"
)

const statsUsage = "stats [--since 30d] [--json] [--config FILE] [--db FILE]"

func init() {
	register(command{Name: "stats", Summary: "time to access and to revoke, manual tasks per hire and approval waits for a period", Usage: statsUsage, Run: runStats})
}

// statsJSON is the --json shape: durations in seconds, for scripts.
type statsJSON struct {
	Since              time.Time   `json:"since"`
	Until              time.Time   `json:"until"`
	TimeToAccess       latencyJSON `json:"time_to_access"`
	TimeToRevoke       latencyJSON `json:"time_to_revoke"`
	Hires              int         `json:"hires"`
	ManualTasks        int         `json:"manual_tasks"`
	ManualTasksPerHire float64     `json:"manual_tasks_per_hire"`
	Approvals          struct {
		Requested int         `json:"requested"`
		Decided   int         `json:"decided"`
		Pending   int         `json:"pending"`
		Wait      latencyJSON `json:"wait"`
	} `json:"approvals"`
}

type latencyJSON struct {
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"median_seconds"`
	P90Seconds    float64 `json:"p90_seconds"`
}

func toLatencyJSON(l stats.Latency) latencyJSON {
	return latencyJSON{Count: l.Count, MedianSeconds: l.Median.Seconds(), P90Seconds: l.P90.Seconds()}
}

func runStats(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("stats", statsUsage, stderr)
	f := addEngineFlags(fs, false)
	sinceText := fs.String("since", "30d", "the period: runs finished and approvals requested this long ago or later (e.g. 7d, 36h)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	since, err := config.ParseDuration(*sinceText)
	if err != nil || since <= 0 {
		return fail(stderr, "--since %q: want a positive duration such as 30d or 12h", *sinceText)
	}
	env, code := openLifecycle(f, stderr, openOpts{mustExist: true, readOnly: true})
	if env == nil {
		return code
	}
	defer env.close()
	now := time.Now()
	rep, err := stats.Compute(env.db, now.Add(-since), now)
	if err != nil {
		return fail(stderr, "stats: %v", err)
	}
	if *asJSON {
		var j statsJSON
		j.Since, j.Until = rep.Since.UTC(), rep.Until.UTC()
		j.TimeToAccess, j.TimeToRevoke = toLatencyJSON(rep.TimeToAccess), toLatencyJSON(rep.TimeToRevoke)
		j.Hires, j.ManualTasks, j.ManualTasksPerHire = rep.Hires, rep.ManualTasks, rep.TasksPerHire
		j.Approvals.Requested, j.Approvals.Decided, j.Approvals.Pending = rep.Approvals.Requested, rep.Approvals.Decided, rep.Approvals.Pending
		j.Approvals.Wait = toLatencyJSON(rep.Approvals.Wait)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(j); err != nil {
			return fail(stderr, "stats: %v", err)
		}
		return 0
	}
	writeStatsTable(stdout, rep, *sinceText)
	return 0
}

func writeStatsTable(w io.Writer, rep stats.Report, period string) {
	fmt.Fprintf(w, "Gatehouse figures for the last %s (%s → %s)\n\n", period, rep.Since.UTC().Format("2006-01-02 15:04"), rep.Until.UTC().Format("2006-01-02 15:04 MST"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tCOUNT\tMEDIAN\tP90")
	lat := func(name string, l stats.Latency) {
		if l.Count == 0 {
			fmt.Fprintf(tw, "%s\t0\t-\t-\n", name)
			return
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", name, l.Count, human(l.Median), human(l.P90))
	}
	lat("time to access (HR event → access granted)", rep.TimeToAccess)
	lat("time to revoke (termination → last access closed)", rep.TimeToRevoke)
	lat("approval wait (request → decision)", rep.Approvals.Wait)
	tw.Flush()
	fmt.Fprintf(w, "\nmanual tasks per hire: %.2f (%d tasks over %d hires)\n", rep.TasksPerHire, rep.ManualTasks, rep.Hires)
	fmt.Fprintf(w, "approvals waited on: %d requested, %d decided, %d still pending\n", rep.Approvals.Requested, rep.Approvals.Decided, rep.Approvals.Pending)
}

// human rounds a duration for reading: seconds under a minute, minutes
// under an hour, then hours and days.
func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%s", days, (d - days*24*time.Hour).Round(time.Hour))
}
