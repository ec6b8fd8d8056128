package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Check is one readiness condition: Probe returns nil when it holds, else
// the reason it does not (shown in /readyz's body).
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// Mux serves /metrics, /healthz (the process is up and answering) and
// /readyz (every check holds: 200, else 503; one line per check with the
// reason).
func (m *Metrics) Mux(checks ...Check) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body, ready := Ready(ctx, checks)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, body)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "gatehouse: /metrics /healthz /readyz")
	})
	return mux
}

// Ready runs the checks and describes them, one line each: "ok NAME" or
// "not ready NAME: reason", then a final "ready" or "not ready" line.
func Ready(ctx context.Context, checks []Check) (string, bool) {
	var b strings.Builder
	ready := true
	for _, c := range checks {
		if err := c.Probe(ctx); err != nil {
			ready = false
			fmt.Fprintf(&b, "not ready %s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(&b, "ok %s\n", c.Name)
	}
	if ready {
		b.WriteString("ready\n")
	} else {
		b.WriteString("not ready\n")
	}
	return b.String(), ready
}
