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
