package vendore2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// benchLatency is a realistic per-request latency for each vendor's API,
// between 50 and 150 ms.
var benchLatency = map[string]time.Duration{
	"okta": 80 * time.Millisecond, "google": 120 * time.Millisecond, "m365": 100 * time.Millisecond,
	"github": 60 * time.Millisecond, "slack": 150 * time.Millisecond, "aws": 50 * time.Millisecond,
}

// BenchmarkOffboardAllVendors offboards one person across the six vendor
// fakes at realistic latency (Google's transfer completes after one poll,
// AWS's assignment deletions after one status poll) and reports the wall
// time against the critical path read off the same run's request logs:
// IdP suspend + IdP session revoke + the slowest downstream chain.
// vendorWaits are the waits the vendors asked for: after every transfer
// request but the last Google answered inProgress and the connector comes
// back after transfer_poll; after every AWS assignment status poll but the
// last, poll_interval (10ms in newEnv).
func vendorWaits(app string, chain []wireEntry) []wireEntry {
	var polls []wireEntry
	for _, w := range chain {
		if (app == "google" && strings.Contains(w.Path, "datatransfer/v1/transfers")) ||
			(app == "aws" && strings.Contains(w.Path, "Status")) {
			polls = append(polls, w)
		}
	}
	if len(polls) < 2 {
		return nil
	}
	d := 10 * time.Millisecond
	if app == "google" {
		d = benchTransferPoll
	}
	var out []wireEntry
	for _, p := range polls[:len(polls)-1] {
		out = append(out, wireEntry{Vendor: app, Time: p.End, End: p.End.Add(d)})
	}
	return out
}

const benchTransferPoll = 300 * time.Millisecond

// Only the offboarding is timed; building the fakes and the joiners is not.
func BenchmarkOffboardAllVendors(b *testing.B) {
	var wall, crit, idp, span time.Duration
	slowest := map[string]int{}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, envOptions{latency: benchLatency, transferPolls: 1, transferPoll: benchTransferPoll, awsPolls: 1})
		e.onboard()
		b.StartTimer()
		start := time.Now()
		lr, since := e.offboard()
		w := time.Since(start)
		b.StopTimer()
		if lr.Status != gatehouse.RunSucceeded {
			b.Fatalf("leaver %s: %s%s", lr.Status, lr.Summary, describe(e.steps(lr.ID)))
		}
		log := e.f.wire(since)
		ip, slow, app, st, err := criticalPath(log, vendorWaits)
		if err != nil {
			b.Fatal(err)
		}
		wall, crit, idp = wall+w, crit+ip+slow, idp+ip
		span = max(span, st[app].span)
		slowest[app]++
		if i == 0 {
			for a, s := range st {
				b.Logf("%-22s %3d requests, busy+waits %s, span %s", a, s.n, s.busy.Round(time.Millisecond), s.span.Round(time.Millisecond))
			}
		}
		b.StartTimer()
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64(wall)/float64(crit), "x_critical_path")
	b.ReportMetric(float64(wall/n)/1e6, "wall_ms")
	b.ReportMetric(float64(crit/n)/1e6, "critical_ms")
	b.ReportMetric(float64(idp/n)/1e6, "idp_ms")
	b.Logf("slowest downstream chain per run: %v (its span at most %s)", slowest, span.Round(time.Millisecond))
}
