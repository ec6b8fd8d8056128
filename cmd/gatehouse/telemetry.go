package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/metrics"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// metricsListenEnv overrides metrics.listen (tests use 127.0.0.1:0 so that
// parallel runs never share a port).
const metricsListenEnv = "GATEHOUSE_METRICS_LISTEN"

// telemetry is serve's metrics and health listener. newTelemetry builds the
// recorders before the bot, the engine and the intake (which take them as
// hooks); start opens the listener once they exist. A nil *telemetry
// (metrics.listen off) hands out nil hooks and starts nothing.
type telemetry struct {
	m    *metrics.Metrics
	addr string
	db   *store.DB
	log  zerolog.Logger
	ln   net.Listener
}

func newTelemetry(cfg *config.Config, db *store.DB, log zerolog.Logger) *telemetry {
	addr := cfg.Metrics.Listen
	if v, ok := os.LookupEnv(metricsListenEnv); ok {
		addr = v
	}
	if addr == "" || addr == "off" {
		return nil
	}
	return &telemetry{addr: addr, db: db, log: log.With().Str("component", "metrics").Logger(),
		m: metrics.New(metrics.Options{Apps: cfg.AppNames(), State: storeState(db)})}
}

// slack, lifecycle and webhooks are the hooks for bot.Config.Metrics,
// lifecycle.Options.Observer and hr.Options.Observer: nil interfaces (not
// typed nils) when telemetry is off.
func (t *telemetry) slack() bot.Metrics {
	if t == nil {
		return nil
	}
	return t.m
}

func (t *telemetry) lifecycle() lifecycle.Observer {
	if t == nil {
		return nil
	}
	return t.m
}

func (t *telemetry) webhooks() hr.Observer {
	if t == nil {
		return nil
	}
	return t.m
}

// start listens on metrics.listen and serves /metrics, /healthz and
// /readyz (store open, Socket Mode connected, scheduler running). stop
// closes the listener and waits for the server.
func (t *telemetry) start(ctx context.Context, engine func() *lifecycle.Engine) (stop func(), err error) {
	if t == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w (set metrics.listen to another address, or off)", t.addr, err)
	}
	t.ln = ln
	checks := []metrics.Check{
		{Name: "store", Probe: func(context.Context) error {
			if _, _, err := t.db.AuditHead(); err != nil {
				return fmt.Errorf("database not readable: %v", err)
			}
			return nil
		}},
		{Name: "slack", Probe: func(context.Context) error {
			if !t.m.Connected() {
				return errors.New("socket mode not connected")
			}
			return nil
		}},
		{Name: "scheduler", Probe: func(context.Context) error {
			if eng := engine(); eng == nil || !eng.SchedulerRunning() {
				return errors.New("lifecycle scheduler not running")
			}
			return nil
		}},
	}
	srv := &http.Server{Handler: t.m.Mux(checks...), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.log.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	t.log.Info().Str("metrics_listen", ln.Addr().String()).Msg("serving /metrics, /healthz and /readyz")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

// storeState reads what the state gauges show. Every listing is of open
// records only (approvals pending, tasks open, runs unfinished), which stay
// few while Gatehouse works; the scrape reuses a reading for 2 s.
func storeState(db *store.DB) func() (metrics.State, error) {
	return func() (metrics.State, error) {
		var st metrics.State
		aps, err := db.ListApprovals(store.ApprovalFilter{Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}})
		if err != nil {
			return st, fmt.Errorf("list approvals: %w", err)
		}
		for _, a := range aps {
			st.OpenApprovals = append(st.OpenApprovals, a.CreatedAt)
		}
		tasks, err := db.ListTasks(store.TaskFilter{Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
		if err != nil {
			return st, fmt.Errorf("list tasks: %w", err)
		}
		for _, t := range tasks {
			st.OpenTasks = append(st.OpenTasks, t.CreatedAt)
		}
		runs, err := db.UnfinishedRuns()
		if err != nil {
			return st, fmt.Errorf("list runs: %w", err)
		}
		now := time.Now()
		for _, r := range runs {
			if !r.Event.Type.Removes() || r.Status == gatehouse.RunScheduled {
				continue
			}
			at := r.Event.EffectiveAt
			if at.IsZero() {
				at = r.Event.ReceivedAt
			}
			if at.IsZero() {
				at = r.CreatedAt
			}
			if at.After(now) {
				continue
			}
			st.OpenLeavers = append(st.OpenLeavers, at)
		}
		seq, _, err := db.AuditHead()
		if err != nil {
			return st, fmt.Errorf("audit head: %w", err)
		}
		st.AuditEntries = seq
		if fi, err := os.Stat(db.Path()); err == nil {
			st.StoreBytes = fi.Size()
		}
		return st, nil
	}
}
