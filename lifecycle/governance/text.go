package governance

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints every line of the digest for a terminal (`gatehouse
// digest --dry-run`): the same sections as the Slack message, uncapped.
func (d Digest) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("Access digest — %s\n", d.GeneratedAt.Format("Mon 2 Jan 2006 15:04 MST"))
	p("%d identities, %d grants, %d apps; $%.2f/month reclaimable", d.Identities, d.Grants, d.Apps, d.Reclaimable)
	if d.Snoozed > 0 {
		p("; %d kept (snoozed)", d.Snoozed)
	}
	p("\n")
	if w := WeekLine(d); w != "" {
		p("last 7 days: %s\n", w)
	}
	for _, n := range d.Notes {
		p("note: %s\n", n)
	}
	section := func(title string, n int) bool {
		p("\n== %s (%d)\n", title, n)
		if n == 0 {
			p("  none\n")
		}
		return n > 0
	}
	if section("Dormant accounts", len(d.Dormant)) {
		p("  APP\tPERSON\tIDLE\tMONTHLY\tALSO HOLDS\tMANAGER\n")
		for _, it := range d.Dormant {
			idle := fmt.Sprintf("%dd", it.IdleDays)
			if it.Never() {
				idle = fmt.Sprintf("never (%dd)", it.IdleDays)
			}
			p("  %s\t%s\t%s\t$%.2f\t%s\t%s\n", it.App, it.Email, idle, it.MonthlyCost, dash(strings.Join(it.Entitlements, ",")), dash(it.Manager))
		}
	}
	if section("Orphaned accounts", len(d.Orphans)) {
		for _, o := range d.Orphans {
			p("  %s\t%s\t%s\t%s\n", o.App, o.Login, o.AccountID, o.Reason)
		}
	}
	if section("Leavers with access still open", len(d.OpenLeavers)) {
		for _, l := range d.OpenLeavers {
			p("  %s\t%s\n", l.Email, strings.Join(l.Open, ", "))
		}
	}
	if section("Runs blocked or waiting", len(d.StuckRuns)) {
		for _, r := range d.StuckRuns {
			p("  %s\t%s\t%s\t%s since %s\n", r.RunID, r.Event, r.Email, r.Status, r.Since.Format(time.DateTime))
		}
	}
	if section("Manual tasks overdue", len(d.OverdueTasks)) {
		for _, t := range d.OverdueTasks {
			p("  %s\t%s\t%s\topen since %s\n", t.TaskID, t.Assignee, t.Title, t.Since.Format(time.DateTime))
		}
	}
	if section("SoD conflicts held", len(d.SoD)) {
		for _, s := range d.SoD {
			p("  %s (%s)\t%s\t%s\n", s.Constraint, s.Action, s.Email, strings.Join(s.Entitlements, " + "))
		}
	}
	if section("Access expiring soon", len(d.Expiring)) {
		for _, e := range d.Expiring {
			p("  %s\t%s\t%s\n", e.Email, e.Entitlement, e.ExpiresAt.Format(time.DateTime))
		}
	}
	if section("Non-humans needing attention", len(d.NonHumans)) {
		for _, n := range d.NonHumans {
			p("  %s\t%s\t%s\n", n.Email, n.Kind, n.Problem)
		}
	}
	if section("Licence money reclaimable", len(d.Licenses)) {
		for _, l := range d.Licenses {
			p("  %s\t%d seat(s)\t$%.2f/month\n", l.AppTitle, l.Seats, l.MonthlyCost)
		}
		p("  total\t\t$%.2f/month\n", d.Reclaimable)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WeekLine says how the lifecycle did over the digest's last 7 days, in one
// line ("" when nothing finished): hires and their time to access, leavers
// and their time to revoke, manual tasks per hire, approvals waited on.
func WeekLine(d Digest) string {
	w := d.Week
	var parts []string
	if w.TimeToAccess.Count > 0 {
		parts = append(parts, fmt.Sprintf("%d joiner(s), time to access median %s (p90 %s)", w.TimeToAccess.Count, short(w.TimeToAccess.Median), short(w.TimeToAccess.P90)))
	}
	if w.TimeToRevoke.Count > 0 {
		parts = append(parts, fmt.Sprintf("%d leaver(s), time to revoke median %s (p90 %s)", w.TimeToRevoke.Count, short(w.TimeToRevoke.Median), short(w.TimeToRevoke.P90)))
	}
	if w.Hires > 0 {
		parts = append(parts, fmt.Sprintf("%.1f manual task(s) per hire", w.TasksPerHire))
	}
	if w.Approvals.Decided > 0 {
		parts = append(parts, fmt.Sprintf("approvals answered in %s (median)", short(w.Approvals.Wait.Median)))
	}
	return strings.Join(parts, "; ")
}

// short rounds a duration for people: 42s, 3m, 2h5m, 3d4h.
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 24*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%dh", days, (d-days*24*time.Hour)/time.Hour)
}
