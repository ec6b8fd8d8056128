// Package metrics is Gatehouse's operational telemetry: Prometheus metrics
// and the health endpoints, served on their own listener (metrics.listen).
//
// It is a leaf: the bot, the HR intake and the lifecycle engine feed it
// through small interfaces they define themselves (bot.Metrics, hr.Observer,
// lifecycle.Observer), which *Metrics satisfies using only root types, so
// this package imports nothing of Gatehouse but the root package. State that
// lives in the store (open approvals and tasks, open leavers, audit entries,
// store size) is not counted as it happens but read at scrape time through
// Options.State, so a restart never makes a gauge lie.
//
// Labels are a closed set — app, operation, event, status, vendor, outcome —
// and every value comes from configuration or a fixed enumeration. No email,
// identity or run id is ever a label: values that look like one are folded
// into "other" (see Label).
package metrics

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "gatehouse"

// Buckets, chosen for what each figure is about.
var (
	// Connector calls: 10 ms to about a minute.
	callBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	// Slack wants an ack within 3 s.
	ackBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5}
	// Lifecycle latencies: a minute to a week.
	lifecycleBuckets = []float64{10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400}
	taskBuckets      = []float64{0, 1, 2, 3, 5, 8, 13}
)

// State is what the store holds right now, read at scrape time.
type State struct {
	OpenApprovals []time.Time // creation times of pending approvals
	OpenTasks     []time.Time // creation times of open manual tasks
	// OpenLeavers are the termination times (effective, else received) of
	// unfinished runs that remove access, excluding those scheduled for
	// later: a leaver still open after its termination is the alert.
	OpenLeavers  []time.Time
	AuditEntries uint64 // length of the audit chain
	StoreBytes   int64  // size of the database file
}

// Options configures New.
type Options struct {
	// Apps are the configured app names: the only values of the app label
	// (anything else is reported as "other"). Empty: any value that does
	// not look like an id or an email.
	Apps []string
	// State reads the store's state; nil leaves the state gauges out.
	State func() (State, error)
	// StateEvery is the longest a state reading is reused (default 2 s), so
	// that scrapes in quick succession cost one store read.
	StateEvery time.Duration
	Now        func() time.Time
}

// Metrics records Gatehouse's metrics. Its methods are safe for concurrent
// use and never block on I/O.
type Metrics struct {
	reg  *prometheus.Registry
	apps map[string]bool
	now  func() time.Time

	runs         *prometheus.CounterVec
	stepDuration *prometheus.HistogramVec
	stepAttempts *prometheus.CounterVec
	stepRetries  *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	toAccess     *prometheus.HistogramVec
	toRevoke     *prometheus.HistogramVec
	tasksPerHire prometheus.Histogram
	webhooks     *prometheus.CounterVec
	ack          prometheus.Histogram
	connections  prometheus.Counter
	reconnects   prometheus.Counter
	connectedG   prometheus.Gauge

	connected atomic.Bool
	everUp    atomic.Bool
}

// New builds the metrics on a registry of their own (with the Go runtime
// and process collectors).
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: o.Now}
	if m.now == nil {
		m.now = time.Now
	}
	if len(o.Apps) > 0 {
		m.apps = map[string]bool{}
		for _, a := range o.Apps {
			m.apps[a] = true
		}
	}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "runs_finished_total",
		Help: "Lifecycle runs that reached a final status, by event and status."}, []string{"event", "status"})
	m.stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "step_duration_seconds",
		Help: "Duration of connector calls (one per step attempt), by app and operation.", Buckets: callBuckets}, []string{"app", "operation"})
	m.stepAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "step_attempts_total",
		Help: "Connector calls by app, operation and outcome (ok, or the error class: retryable, rate_limited, permanent, not_found, pending, in_progress, unknown)."},
		[]string{"app", "operation", "outcome"})
	m.stepRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "step_retries_total",
		Help: "Connector calls that were a retry (second attempt or later), by app."}, []string{"app"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rate_limited_total",
		Help: "Connector calls the app answered with a rate limit (HTTP 429 or its equivalent), by app."}, []string{"app"})
	m.toAccess = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "time_to_access_seconds",
		Help: "Time from the HR event (its arrival, or its effective time if later) to the joiner's run granting access.", Buckets: lifecycleBuckets}, []string{"event"})
	m.toRevoke = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "time_to_revoke_seconds",
		Help: "Time from a leaver's termination to the last access path closed.", Buckets: lifecycleBuckets}, []string{"event"})
	m.tasksPerHire = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "manual_tasks_per_hire",
		Help: "Manual tasks (including escalations) a successful joiner run needed.", Buckets: taskBuckets})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "hr_webhook_deliveries_total",
		Help: "HR webhook deliveries by vendor and outcome (accepted, duplicate, ping, unauthorized, invalid, too_large, unavailable, unknown_path, error)."},
		[]string{"vendor", "outcome"})
	m.ack = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "slack_ack_duration_seconds",
		Help: "Time from receiving a Socket Mode envelope to acknowledging it (Slack wants 3 s at most).", Buckets: ackBuckets})
	m.connections = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "slack_socket_connections_total",
		Help: "Socket Mode connections established."})
	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "slack_socket_reconnects_total",
		Help: "Socket Mode connections established after the first one."})
	m.connectedG = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "slack_socket_connected",
		Help: "1 while the Socket Mode connection is up, else 0."})
	for _, c := range []prometheus.Collector{m.runs, m.stepDuration, m.stepAttempts, m.stepRetries, m.rateLimited, m.toAccess, m.toRevoke,
		m.tasksPerHire, m.webhooks, m.ack, m.connections, m.reconnects, m.connectedG,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	if o.State != nil {
		every := o.StateEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		f(&stateCollector{read: o.State, every: every, now: m.now})
	}
	return m
}

// Registry is where the metrics are registered (for tests and extra
// collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Label values that look like record ids: all digits, a UUID or a hex
// digest, or a token of eight or more characters with three digits or more
// (generated run, task and Slack ids).
var (
	allDigits = regexp.MustCompile(`^[0-9]{4,}$`)
	hexLike   = regexp.MustCompile(`^[0-9a-fA-F-]{16,}$`)
	tokenLike = regexp.MustCompile(`^[0-9A-Za-z_.-]{8,}$`)
)

// LooksPersonal reports whether a label value looks like an email, a Slack
// id or a record id rather than a name from the config or an enumeration.
func LooksPersonal(v string) bool {
	switch {
	case strings.Contains(v, "@"), allDigits.MatchString(v), hexLike.MatchString(v):
		return true
	case tokenLike.MatchString(v):
		digits := strings.Count(v, "0") + strings.Count(v, "1") + strings.Count(v, "2") + strings.Count(v, "3") + strings.Count(v, "4") +
			strings.Count(v, "5") + strings.Count(v, "6") + strings.Count(v, "7") + strings.Count(v, "8") + strings.Count(v, "9")
		return digits >= 3 || (digits > 0 && strings.ToUpper(v) == v) // U0123ABCD
	}
	return false
}

// Label returns v, or "other" when it is empty, not allowed, or looks like
// personal data or an id.
func Label(v string, allowed map[string]bool) string {
	switch {
	case v == "":
		return "none"
	case allowed != nil:
		if allowed[v] {
			return v // a name from the config: bounded, chosen by the operator
		}
		return "other"
	case LooksPersonal(v) || len(v) > 64:
		return "other"
	}
	return v
}

func (m *Metrics) app(a string) string { return Label(a, m.apps) }

// StepAttempted implements lifecycle.Observer.
func (m *Metrics) StepAttempted(app string, op gatehouse.StepKind, took time.Duration, class gatehouse.ErrorClass, err error, retry bool) {
	a, o := m.app(app), Label(string(op), nil)
	m.stepDuration.WithLabelValues(a, o).Observe(took.Seconds())
	outcome := "ok"
	if err != nil {
		outcome = class.String()
	}
	m.stepAttempts.WithLabelValues(a, o, outcome).Inc()
	if retry {
		m.stepRetries.WithLabelValues(a).Inc()
	}
	if err != nil && class == gatehouse.ClassRateLimited {
		m.rateLimited.WithLabelValues(a).Inc()
	}
}

// RunFinished implements lifecycle.Observer: it counts the run and, for
// joiners and leavers that succeeded, observes the lifecycle latencies.
func (m *Metrics) RunFinished(r gatehouse.Run, steps []gatehouse.Step) {
	ev := Label(string(r.Event.Type), nil)
	m.runs.WithLabelValues(ev, Label(string(r.Status), nil)).Inc()
	if d, ok := TimeToAccess(r); ok {
		m.toAccess.WithLabelValues(ev).Observe(d.Seconds())
		m.tasksPerHire.Observe(float64(ManualTasks(steps)))
	}
	if d, ok := TimeToRevoke(r, steps); ok {
		m.toRevoke.WithLabelValues(ev).Observe(d.Seconds())
	}
}

// WebhookDelivered implements hr.Observer.
func (m *Metrics) WebhookDelivered(vendor, outcome string) {
	m.webhooks.WithLabelValues(Label(vendor, nil), Label(outcome, nil)).Inc()
}

// SocketConnected implements bot.Metrics.
func (m *Metrics) SocketConnected() {
	m.connections.Inc()
	if m.everUp.Swap(true) {
		m.reconnects.Inc()
	}
	m.connected.Store(true)
	m.connectedG.Set(1)
}

// SocketDisconnected implements bot.Metrics.
func (m *Metrics) SocketDisconnected() {
	m.connected.Store(false)
	m.connectedG.Set(0)
}

// Acked implements bot.Metrics.
func (m *Metrics) Acked(took time.Duration) { m.ack.Observe(took.Seconds()) }

// Connected reports whether Socket Mode is connected now.
func (m *Metrics) Connected() bool { return m.connected.Load() }

// stateCollector reads the store's state at scrape time.
type stateCollector struct {
	read  func() (State, error)
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	at     time.Time
	last   State
	errors float64
}

var (
	descApprovals    = prometheus.NewDesc(namespace+"_approvals_open", "Approvals waiting for a decision.", nil, nil)
	descApprovalAge  = prometheus.NewDesc(namespace+"_approvals_open_oldest_age_seconds", "Age of the oldest approval waiting for a decision (0 when none).", nil, nil)
	descTasks        = prometheus.NewDesc(namespace+"_manual_tasks_open", "Manual tasks not done yet.", nil, nil)
	descTaskAge      = prometheus.NewDesc(namespace+"_manual_tasks_open_oldest_age_seconds", "Age of the oldest open manual task (0 when none).", nil, nil)
	descLeavers      = prometheus.NewDesc(namespace+"_leavers_open", "Runs removing access (leaver, contract end, expiry) past their termination and not finished.", nil, nil)
	descLeaverAge    = prometheus.NewDesc(namespace+"_leavers_open_oldest_age_seconds", "Time since the termination of the oldest leaver run still open (0 when none).", nil, nil)
	descAudit        = prometheus.NewDesc(namespace+"_audit_entries_total", "Entries in the audit chain.", nil, nil)
	descStoreSize    = prometheus.NewDesc(namespace+"_store_size_bytes", "Size of the database file.", nil, nil)
	descStateErrors  = prometheus.NewDesc(namespace+"_state_read_errors_total", "Scrapes that could not read the store's state (the state metrics are then left out).", nil, nil)
	descStateSeconds = prometheus.NewDesc(namespace+"_state_read_timestamp_seconds", "When the store's state reported here was read.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApprovals, descApprovalAge, descTasks, descTaskAge, descLeavers, descLeaverAge, descAudit, descStoreSize, descStateErrors, descStateSeconds} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	now := c.now()
	ok := true
	if c.at.IsZero() || now.Sub(c.at) >= c.every {
		st, err := c.read()
		if err != nil {
			c.errors++
			ok = false
		} else {
			c.last, c.at = st, now
		}
	}
	st, at, errs := c.last, c.at, c.errors
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descStateErrors, prometheus.CounterValue, errs)
	if !ok && at.IsZero() {
		return
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(descApprovals, float64(len(st.OpenApprovals)))
	gauge(descApprovalAge, oldest(now, st.OpenApprovals))
	gauge(descTasks, float64(len(st.OpenTasks)))
	gauge(descTaskAge, oldest(now, st.OpenTasks))
	gauge(descLeavers, float64(len(st.OpenLeavers)))
	gauge(descLeaverAge, oldest(now, st.OpenLeavers))
	ch <- prometheus.MustNewConstMetric(descAudit, prometheus.CounterValue, float64(st.AuditEntries))
	gauge(descStoreSize, float64(st.StoreBytes))
	gauge(descStateSeconds, float64(at.UnixNano())/1e9)
}

func oldest(now time.Time, ts []time.Time) float64 {
	var age time.Duration
	for _, t := range ts {
		if d := now.Sub(t); d > age {
			age = d
		}
	}
	return age.Seconds()
}
