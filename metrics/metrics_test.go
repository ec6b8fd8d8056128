package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestDerivedLatencies(t *testing.T) {
	step := func(k gatehouse.StepKind, st gatehouse.StepStatus, fin time.Time, res map[string]string) gatehouse.Step {
		return gatehouse.Step{Kind: k, Status: st, FinishedAt: fin, Result: res}
	}
	joiner := func(recv, eff, fin time.Time, st gatehouse.RunStatus) gatehouse.Run {
		return gatehouse.Run{Status: st, FinishedAt: fin, Event: gatehouse.Event{Type: gatehouse.EventJoiner, ReceivedAt: recv, EffectiveAt: eff}}
	}
	for _, tc := range []struct {
		name string
		run  gatehouse.Run
		want time.Duration
		ok   bool
	}{
		{"from arrival", joiner(t0, time.Time{}, t0.Add(90*time.Second), gatehouse.RunSucceeded), 90 * time.Second, true},
		{"from a later start date", joiner(t0, t0.Add(time.Hour), t0.Add(time.Hour+time.Minute), gatehouse.RunSucceeded), time.Minute, true},
		{"earlier effective date ignored", joiner(t0, t0.Add(-48*time.Hour), t0.Add(time.Minute), gatehouse.RunSucceeded), time.Minute, true},
		{"failed run", joiner(t0, time.Time{}, t0.Add(time.Minute), gatehouse.RunFailed), 0, false},
		{"leaver is not a joiner", gatehouse.Run{Status: gatehouse.RunSucceeded, FinishedAt: t0, Event: gatehouse.Event{Type: gatehouse.EventLeaver}}, 0, false},
	} {
		t.Run("access/"+tc.name, func(t *testing.T) {
			got, ok := TimeToAccess(tc.run)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	leaver := gatehouse.Run{Status: gatehouse.RunSucceeded, Event: gatehouse.Event{Type: gatehouse.EventLeaver, EffectiveAt: t0, ReceivedAt: t0.Add(-time.Hour)}}
	steps := []gatehouse.Step{
		step(gatehouse.StepDisable, gatehouse.StepSucceeded, t0.Add(2*time.Minute), nil),
		step(gatehouse.StepManualTask, gatehouse.StepSucceeded, t0.Add(3*time.Hour), map[string]string{"closes_access": "true", "task_id": "t1"}),
		step(gatehouse.StepEvidence, gatehouse.StepSucceeded, t0.Add(4*time.Hour), nil), // not a closing step
		step(gatehouse.StepRevoke, gatehouse.StepSkipped, t0.Add(5*time.Hour), nil),     // closed nothing
	}
	if got, ok := TimeToRevoke(leaver, steps); !ok || got != 3*time.Hour {
		t.Errorf("revoke = %v %v, want 3h", got, ok)
	}
	if _, ok := TimeToRevoke(leaver, steps[2:]); ok {
		t.Error("a leaver that closed nothing has a time to revoke")
	}
	blocked := leaver
	blocked.Status = gatehouse.RunBlocked
	if _, ok := TimeToRevoke(blocked, steps); ok {
		t.Error("an open leaver has a time to revoke")
	}
	esc := append(steps, gatehouse.Step{Kind: gatehouse.StepGrant, Status: gatehouse.StepEscalated},
		gatehouse.Step{Kind: gatehouse.StepApproval, Status: gatehouse.StepSucceeded, Result: map[string]string{"approval_id": "a1"}})
	if n := ManualTasks(esc); n != 2 {
		t.Errorf("manual tasks = %d, want 2", n)
	}
}

func TestRecordersMoveTheirSeries(t *testing.T) {
	m := New(Options{Apps: []string{"okta", "github"}})
	m.StepAttempted("okta", gatehouse.StepDisable, 40*time.Millisecond, gatehouse.ClassUnknown, nil, false)
	m.StepAttempted("okta", gatehouse.StepDisable, time.Second, gatehouse.ClassRateLimited, errors.New("429"), true)
	m.StepAttempted("ada@example.com", gatehouse.StepGrant, time.Millisecond, gatehouse.ClassPermanent, errors.New("no"), false)
	if got := testutil.ToFloat64(m.stepAttempts.WithLabelValues("okta", "disable", "ok")); got != 1 {
		t.Errorf("ok attempts = %v", got)
	}
	if got := testutil.ToFloat64(m.rateLimited.WithLabelValues("okta")); got != 1 {
		t.Errorf("429s = %v", got)
	}
	if got := testutil.ToFloat64(m.stepRetries.WithLabelValues("okta")); got != 1 {
		t.Errorf("retries = %v", got)
	}
	if got := testutil.ToFloat64(m.stepAttempts.WithLabelValues("other", "grant", "permanent")); got != 1 {
		t.Errorf("an unknown app was not folded into other: %v", got)
	}
	m.SocketConnected()
	m.SocketDisconnected()
	m.SocketConnected()
	if r, c := testutil.ToFloat64(m.reconnects), testutil.ToFloat64(m.connections); r != 1 || c != 2 || !m.Connected() {
		t.Errorf("reconnects %v connections %v connected %v", r, c, m.Connected())
	}
	m.WebhookDelivered("bamboohr", "accepted")
	m.RunFinished(gatehouse.Run{Status: gatehouse.RunSucceeded, FinishedAt: t0.Add(time.Minute), Event: gatehouse.Event{Type: gatehouse.EventJoiner, ReceivedAt: t0}},
		[]gatehouse.Step{{Kind: gatehouse.StepManualTask, Status: gatehouse.StepSucceeded}})
	if got := testutil.CollectAndCount(m.toAccess); got != 1 {
		t.Errorf("time to access series = %d", got)
	}
	assertNoPersonalLabels(t, m)
}

// assertNoPersonalLabels is the cardinality guard: no label value in what
// the registry exposes looks like an email or an id.
func assertNoPersonalLabels(t *testing.T, m *Metrics) {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowedNames := map[string]bool{"app": true, "operation": true, "event": true, "status": true, "vendor": true, "outcome": true}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), namespace+"_") {
			continue // the Go runtime and process collectors
		}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if !allowedNames[lp.GetName()] {
					t.Errorf("%s has label %q, not one of app, operation, event, status, vendor, outcome", mf.GetName(), lp.GetName())
				}
				if LooksPersonal(lp.GetValue()) {
					t.Errorf("%s{%s=%q} looks like an email or an id", mf.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func TestLooksPersonal(t *testing.T) {
	for _, v := range []string{"ada@example.com", "U0123ABCD", "r01JH2K3M4N5P6Q7", "123456", "3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b", "emp-00042-x9"} {
		if !LooksPersonal(v) {
			t.Errorf("%q not caught", v)
		}
	}
	for _, v := range []string{"okta", "google_workspace", "revoke_sessions", "rate_limited", "contract_end", "bamboohr", "unknown_path", "aws-prod-1"} {
		if LooksPersonal(v) {
			t.Errorf("%q refused", v)
		}
	}
}

func TestStateCollectorIsReadAtScrapeTimeAndCached(t *testing.T) {
	now := t0
	reads := 0
	fail := false
	m := New(Options{Now: func() time.Time { return now }, State: func() (State, error) {
		reads++
		if fail {
			return State{}, errors.New("store closed")
		}
		return State{OpenApprovals: []time.Time{t0.Add(-time.Hour), t0.Add(-time.Minute)}, OpenTasks: []time.Time{t0.Add(-2 * time.Hour)},
			AuditEntries: 42, StoreBytes: 1 << 20}, nil
	}})
	body := scrape(t, m)
	for _, want := range []string{"gatehouse_approvals_open 2", "gatehouse_approvals_open_oldest_age_seconds 3600", "gatehouse_manual_tasks_open 1",
		"gatehouse_manual_tasks_open_oldest_age_seconds 7200", "gatehouse_audit_entries_total 42", "gatehouse_store_size_bytes 1.048576e+06", "gatehouse_leavers_open 0"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no %q in\n%s", want, grep(body, "gatehouse_"))
		}
	}
	scrape(t, m)
	if reads != 1 {
		t.Errorf("two quick scrapes read the store %d times", reads)
	}
	now, fail = now.Add(time.Minute), true
	body = scrape(t, m)
	if !strings.Contains(body, "gatehouse_state_read_errors_total 1\n") {
		t.Errorf("read error not counted:\n%s", grep(body, "gatehouse_state"))
	}
}

func TestReadyz(t *testing.T) {
	m := New(Options{})
	up := false
	srv := httptest.NewServer(m.Mux(Check{Name: "slack", Probe: func(context.Context) error {
		if !up {
			return errors.New("socket mode not connected")
		}
		return nil
	}}))
	defer srv.Close()
	get := func(path string) (int, string) {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "not ready slack: socket mode not connected") {
		t.Errorf("readyz %d %q", code, body)
	}
	up = true
	if code, body := get("/readyz"); code != 200 || body != "ok slack\nready\n" {
		t.Errorf("readyz %d %q", code, body)
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
