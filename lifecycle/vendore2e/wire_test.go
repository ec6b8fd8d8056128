package vendore2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// wireEntry is one request as a vendor fake logged it.
type wireEntry struct {
	Vendor string    // the app name: okta, google, m365, github, slack, aws
	Time   time.Time // when the fake received it
	End    time.Time // when it answered (Time plus the fake's latency)
	Method string
	Path   string // for AWS the X-Amz-Target, for Slack the path (API method or scim)
	Query  string
}

func (w wireEntry) String() string {
	return fmt.Sprintf("%s %s %s %s?%s", w.Time.Format("15:04:05.000000"), w.Vendor, w.Method, w.Path, w.Query)
}

// afterLatency are the fakes that log a request once its latency has
// passed (githubtest, slackapptest, awstest); the others log on receipt.
var afterLatency = map[string]bool{"github": true, "slack": true, "aws": true}

// wire merges every fake's request log from since on, oldest first, with
// receipt and answer times made comparable across fakes.
func (f fakes) wire(since time.Time) []wireEntry {
	var out []wireEntry
	add := func(w wireEntry) {
		l := f.lat[w.Vendor]
		if afterLatency[w.Vendor] {
			w.Time = w.Time.Add(-l)
		}
		w.End = w.Time.Add(l)
		if !w.Time.Before(since) {
			out = append(out, w)
		}
	}
	for _, r := range f.okta.Log() {
		add(wireEntry{"okta", r.Time, time.Time{}, r.Method, r.Path, r.Query.Encode()})
	}
	for _, r := range f.google.Requests() {
		add(wireEntry{"google", r.Time, time.Time{}, r.Method, r.Path, r.Query.Encode()})
	}
	for _, r := range f.entra.Requests() {
		add(wireEntry{"m365", r.Time, time.Time{}, r.Method, r.Path, r.Query.Encode()})
	}
	for _, r := range f.github.Requests() {
		add(wireEntry{"github", r.Time, time.Time{}, r.Method, r.Path, r.Query.Encode()})
	}
	for _, r := range f.slack.Requests() {
		add(wireEntry{"slack", r.Time, time.Time{}, r.Method, r.Path, r.API})
	}
	for _, r := range f.aws.Log() {
		add(wireEntry{"aws", r.Time, time.Time{}, "POST", r.Target, ""})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func isOktaSuspend(w wireEntry) bool {
	return w.Vendor == "okta" && w.Method == "POST" && strings.HasSuffix(w.Path, "/lifecycle/suspend")
}

func isOktaSessionRevoke(w wireEntry) bool {
	return w.Vendor == "okta" && w.Method == "DELETE" && strings.HasSuffix(w.Path, "/sessions")
}

// checkOffboardOrder is issue #9's security property, on the wire: the
// IdP's suspend is answered before its session revoke is sent, and both
// before any downstream vendor receives anything. Fakes log a request when
// they receive it, so "answered before" is approximated by "received
// before, in a strictly earlier instant", and, where the answer time is
// known, "answered before the next was received".
func checkOffboardOrder(log []wireEntry) error {
	log = slices.Clone(log)
	sort.SliceStable(log, func(i, j int) bool { return log[i].Time.Before(log[j].Time) })
	var suspend, sessions *wireEntry
	for i := range log {
		w := &log[i]
		switch {
		case isOktaSuspend(*w) && suspend == nil:
			suspend = w
		case isOktaSessionRevoke(*w) && sessions == nil:
			sessions = w
		}
	}
	if suspend == nil || sessions == nil {
		return fmt.Errorf("okta suspend %v, session revoke %v: both must be on the wire", suspend, sessions)
	}
	// End is known for logs from fakes (zero in hand-made ones): then the
	// next step must not have been sent before the previous one was answered.
	if !suspend.Time.Before(sessions.Time) || (!suspend.End.IsZero() && sessions.Time.Before(suspend.End)) {
		return fmt.Errorf("okta sessions revoked at %s, not after the suspend at %s (answered %s)", sessions.Time, suspend.Time, suspend.End)
	}
	for _, w := range log {
		if w.Vendor == "okta" {
			continue
		}
		if !w.Time.After(sessions.Time) || (!sessions.End.IsZero() && w.Time.Before(sessions.End)) {
			return fmt.Errorf("%s reached %s before the IdP's session revoke (%s)", w, w.Vendor, sessions.Time.Format("15:04:05.000000"))
		}
		return nil // the first downstream request is after both
	}
	return fmt.Errorf("no downstream vendor received any request")
}

// chainStats is one vendor's share of a run, read off the wire.
type chainStats struct {
	span time.Duration // first request received → last answer sent
	busy time.Duration // union of the requests' [received, answered] intervals and the vendor's asked-for waits
	n    int
}

// criticalPath is the least time any engine could take to offboard, read
// off one run's wire: the IdP's chain up to its session revoke's answer
// (finding the user, suspend, revoke — strictly sequential by issue #9), plus
// the slowest downstream chain. A downstream vendor's own chain is the time
// it spent answering us (the union of its requests' intervals: requests the
// engine sent in parallel count once) plus the waits the vendor itself asked
// for (wait, per app: e.g. Google's transfer poll), so idle gaps the engine
// left between requests are not part of it. Okta's own revokes and re-read
// after the session revoke are a downstream chain too. It names that chain.
func criticalPath(log []wireEntry, wait func(app string, chain []wireEntry) []wireEntry) (idp, slowest time.Duration, slowestApp string, stats map[string]chainStats, err error) {
	if err := checkOffboardOrder(log); err != nil {
		return 0, 0, "", nil, err
	}
	log = slices.Clone(log)
	sort.SliceStable(log, func(i, j int) bool { return log[i].Time.Before(log[j].Time) })
	var idpStart, sessionsEnd time.Time
	chains := map[string][]wireEntry{}
	for _, w := range log {
		app := w.Vendor
		if app == "okta" && idpStart.IsZero() {
			idpStart = w.Time
		}
		if isOktaSessionRevoke(w) && sessionsEnd.IsZero() {
			sessionsEnd = w.End
			continue
		}
		if app == "okta" && sessionsEnd.IsZero() {
			continue // still on the IdP's chain
		}
		if app == "okta" {
			app = "okta (after sessions)"
		}
		chains[app] = append(chains[app], w)
	}
	stats = map[string]chainStats{}
	for app, ws := range chains {
		st := chainStats{n: len(ws)}
		var last time.Time
		for _, w := range ws {
			if w.End.After(last) {
				last = w.End
			}
		}
		st.span = last.Sub(ws[0].Time)
		if wait != nil {
			// A wait the vendor asked for is time the chain needs even when
			// nothing is on the wire; it overlaps other requests only once.
			ws = append(slices.Clone(ws), wait(app, ws)...)
			sort.SliceStable(ws, func(i, j int) bool { return ws[i].Time.Before(ws[j].Time) })
		}
		var cur time.Time
		for _, w := range ws { // sorted by receipt
			switch {
			case w.Time.After(cur):
				cur = w.End
				st.busy += w.End.Sub(w.Time)
			case w.End.After(cur):
				st.busy += w.End.Sub(cur)
				cur = w.End
			}
		}
		stats[app] = st
		if st.busy > slowest || (st.busy == slowest && app < slowestApp) {
			slowest, slowestApp = st.busy, app
		}
	}
	return sessionsEnd.Sub(idpStart), slowest, slowestApp, stats, nil
}
