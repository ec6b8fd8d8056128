package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/gatehousehq/gatehouse/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func init() {
	// Every serve in this package's tests listens for metrics on a port of
	// its own, never on the default 9464 another process may hold.
	if _, ok := os.LookupEnv(metricsListenEnv); !ok {
		os.Setenv(metricsListenEnv, "127.0.0.1:0")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeMetricsAndHealth runs the real serve command against the loopback
// Slack with an HR webhook source and scrapes its metrics listener: /readyz
// is not ready while Slack is unreachable and ready once Socket Mode is up;
// a hire and a termination delivered by webhook move the run counters, the
// connector-call, time-to-access, time-to-revoke and tasks-per-hire
// histograms and the webhook counters; no label value is personal.
func TestServeMetricsAndHealth(t *testing.T) {
	srv := slacktest.New(t, slacktest.Config{Users: []slacktest.User{
		{ID: "U0IT", Name: "ida", Email: "it-lead@example.com"},
		{ID: "U0ADA", Name: "ada", Email: "ada@example.com"},
	}, Channels: []slacktest.Channel{{ID: "C0IT", Name: "it"}}, Logf: func(string, ...any) {}})
	t.Setenv("GATEHOUSE_SLACK_API_URL", srv.APIURL())
	t.Setenv("SLACK_APP_TOKEN", srv.AppToken())
	t.Setenv("SLACK_BOT_TOKEN", srv.BotToken())
	t.Setenv("GEN_TOKEN", "hr-token-for-tests")
	metricsAddr, hrAddr := freeAddr(t), freeAddr(t)
	t.Setenv(metricsListenEnv, metricsAddr)

	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("..", "..", "bot", "testdata", "e2e.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	extra := fmt.Sprintf(`hr:
  listen: %s
  sources:
    gen:
      vendor: generic
      token: ${GEN_TOKEN}
      generic:
        auth: token
        delivery_id: body.delivery
        action: 'body.event == "left" ? "terminate" : "upsert"'
        mapping:
          employee_id: string(body.person.id)
          email: body.person.email
          name: body.person.name
          department: body.person.dept
          manager_email: body.person.manager
          termination_date: body.person.last_day
metrics:
  listen: 127.0.0.1:9464 # overridden by %s in tests
`, hrAddr, metricsListenEnv)
	if err := os.WriteFile(cfgPath, append(base, extra...), 0o600); err != nil {
		t.Fatal(err)
	}

	srv.SetUnavailable(true) // Slack down at start: not ready
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out, errb syncBuffer
	go func() {
		done <- runServe(ctx, []string{"--config", cfgPath, "--db", filepath.Join(dir, "db"), "--simulate", "--log-level", "warn"}, &out, &errb)
	}()
	base1 := "http://" + metricsAddr
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		res, err := client.Get(base1 + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
			if ok() {
				return
			}
		}
		_, m := get("/metrics")
		var lines []string
		for _, l := range strings.Split(m, "\n") {
			if strings.HasPrefix(l, "gatehouse_") && !strings.Contains(l, "_bucket") {
				lines = append(lines, l)
			}
		}
		t.Fatalf("timed out waiting for %s (stderr: %s)\nmetrics:\n%s", what, errb.String(), strings.Join(lines, "\n"))
	}
	start := time.Now()
	waitFor("/healthz", 15*time.Second, func() bool { c, _ := get("/healthz"); return c == http.StatusOK })
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready slack: socket mode not connected") || !strings.Contains(body, "ok store") {
		t.Fatalf("readyz with Slack down = %d %q", code, body)
	}
	srv.SetUnavailable(false)
	waitFor("/readyz", 20*time.Second, func() bool { c, _ := get("/readyz"); return c == http.StatusOK })
	if _, body := get("/readyz"); body != "ok store\nok slack\nok scheduler\nready\n" {
		t.Errorf("readyz body %q", body)
	}
	t.Logf("ready after %v", time.Since(start).Round(time.Millisecond))

	post := func(body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+hrAddr+"/hr/gen", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer hr-token-for-tests")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		c, body := get("/metrics")
		if c != http.StatusOK {
			t.Fatalf("/metrics = %d %s", c, body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		return mfs
	}
	// The manager first: a leaver's resources go to the manager, who must
	// have accounts for the transfer to succeed.
	manager := `{"delivery":"d-mgr","event":"hired","person":{"id":1,"email":"it-lead@example.com","name":"Ida Lead","dept":"Engineering"}}`
	if c := post(manager); c != http.StatusAccepted {
		t.Fatalf("manager hire delivery = %d", c)
	}
	waitFor("the manager's joiner run", 20*time.Second, func() bool {
		return value(scrape(), "gatehouse_runs_finished_total", map[string]string{"event": "joiner", "status": "succeeded"}) == 1
	})
	hire := `{"delivery":"d-hire","event":"hired","person":{"id":7,"email":"ada@example.com","name":"Ada Lovelace","dept":"Engineering","manager":"it-lead@example.com"}}`
	if c := post(hire); c != http.StatusAccepted {
		t.Fatalf("hire delivery = %d", c)
	}
	if c := post(hire); c != http.StatusOK {
		t.Fatalf("duplicate hire delivery = %d", c)
	}
	waitFor("the joiner run", 20*time.Second, func() bool {
		return value(scrape(), "gatehouse_runs_finished_total", map[string]string{"event": "joiner", "status": "succeeded"}) == 2
	})
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	leave := `{"delivery":"d-leave","event":"left","person":{"id":7,"email":"ada@example.com","name":"Ada Lovelace","dept":"Engineering","manager":"it-lead@example.com","last_day":"` + yesterday + `"}}`
	if c := post(leave); c != http.StatusAccepted {
		t.Fatalf("leave delivery = %d", c)
	}
	waitFor("the leaver run", 20*time.Second, func() bool {
		return value(scrape(), "gatehouse_runs_finished_total", map[string]string{"event": "leaver", "status": "succeeded"}) == 1
	})
	// One command, for an ack.
	d, err := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "help", UserID: "U0IT", ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if _, err := d.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	waitFor("the ack", 10*time.Second, func() bool { return count(scrape(), "gatehouse_slack_ack_duration_seconds", nil) >= 1 })

	// The state gauges are read from the store at most every few seconds.
	waitFor("the state gauges", 10*time.Second, func() bool { return value(scrape(), "gatehouse_audit_entries_total", nil) >= 5 })
	mfs := scrape()
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"gatehouse_hr_webhook_deliveries_total", map[string]string{"vendor": "generic", "outcome": "accepted"}, 3},
		{"gatehouse_hr_webhook_deliveries_total", map[string]string{"vendor": "generic", "outcome": "duplicate"}, 1},
		{"gatehouse_step_attempts_total", map[string]string{"app": "okta", "operation": "ensure_account", "outcome": "ok"}, 1},
		{"gatehouse_step_attempts_total", map[string]string{"app": "okta", "operation": "disable", "outcome": "ok"}, 1},
		{"gatehouse_slack_socket_connections_total", nil, 1},
		{"gatehouse_slack_socket_connected", nil, 1},
		{"gatehouse_audit_entries_total", nil, 5},
		{"gatehouse_store_size_bytes", nil, 1},
	} {
		if got := value(mfs, c.name, c.labels); got < c.min {
			t.Errorf("%s%v = %v, want ≥ %v", c.name, c.labels, got, c.min)
		}
	}
	for _, h := range []struct {
		name   string
		labels map[string]string
	}{
		{"gatehouse_step_duration_seconds", map[string]string{"app": "github", "operation": "grant"}},
		{"gatehouse_time_to_access_seconds", map[string]string{"event": "joiner"}},
		{"gatehouse_time_to_revoke_seconds", map[string]string{"event": "leaver"}},
		{"gatehouse_manual_tasks_per_hire", nil},
	} {
		if n := count(mfs, h.name, h.labels); n < 1 {
			t.Errorf("histogram %s%v has %d observations", h.name, h.labels, n)
		}
	}
	if v := value(mfs, "gatehouse_leavers_open", nil); v != 0 {
		t.Errorf("leavers open = %v after the leaver finished", v)
	}
	noPersonalLabels(t, mfs)

	// A Slack outage: not ready while it lasts, a reconnect counted after.
	srv.SetUnavailable(true)
	waitFor("/readyz to see the outage", 10*time.Second, func() bool {
		c, body := get("/readyz")
		return c == http.StatusServiceUnavailable && strings.Contains(body, "not ready slack")
	})
	if v := value(scrape(), "gatehouse_slack_socket_connected", nil); v != 0 {
		t.Errorf("socket connected = %v during the outage", v)
	}
	srv.SetUnavailable(false)
	waitFor("the reconnect", 20*time.Second, func() bool {
		c, _ := get("/readyz")
		return c == http.StatusOK && value(scrape(), "gatehouse_slack_socket_reconnects_total", nil) == 1
	})

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if c, _ := get("/healthz"); c != 0 {
		t.Errorf("the metrics listener outlived serve (healthz %d)", c)
	}
}

// noPersonalLabels is the cardinality guard on a real scrape: only the
// allowed label names, and no value that looks like an email or an id.
func noPersonalLabels(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	allowed := map[string]bool{"app": true, "operation": true, "event": true, "status": true, "vendor": true, "outcome": true}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "gatehouse_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !allowed[lp.GetName()] {
					t.Errorf("%s: label %q is not one of app, operation, event, status, vendor, outcome", name, lp.GetName())
				}
				if metrics.LooksPersonal(lp.GetValue()) || strings.Contains(lp.GetValue(), "example.com") {
					t.Errorf("%s{%s=%q} looks like personal data or an id", name, lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

func match(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// value sums the counters or gauges of a family matching labels.
func value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	var v float64
	for _, m := range mfs[name].GetMetric() {
		if match(m, labels) {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
	}
	return v
}

// count sums the observations of a histogram family matching labels.
func count(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	var n uint64
	for _, m := range mfs[name].GetMetric() {
		if match(m, labels) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe to read while serve writes its log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
