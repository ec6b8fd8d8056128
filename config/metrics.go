package config

import (
	"net"
	"strconv"
	"strings"
)

// MetricsConfig configures the operational listener serving Prometheus
// metrics (/metrics) and health checks (/healthz, /readyz).
type MetricsConfig struct {
	// Listen is HOST:PORT (default 127.0.0.1:9464: loopback, so nothing is
	// exposed unless asked). An empty value or "off" disables the listener.
	// After validation it is the resolved address, "" when disabled.
	Listen string `yaml:"listen"`
}

// DefaultMetricsListen is where metrics are served when metrics.listen is
// not set: loopback only, Prometheus's conventional exporter port range.
const DefaultMetricsListen = "127.0.0.1:9464"

// Enabled reports whether the metrics listener runs.
func (m MetricsConfig) Enabled() bool { return m.Listen != "" }

func (c *Config) validateMetrics(errs *ErrorList) {
	m := &c.Metrics
	if _, set := c.positions["metrics.listen"]; !set {
		m.Listen = DefaultMetricsListen
		return
	}
	m.Listen = strings.TrimSpace(m.Listen)
	if m.Listen == "" || strings.EqualFold(m.Listen, "off") {
		m.Listen = ""
		return
	}
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil {
		c.add(errs, "metrics.listen", "want HOST:PORT (e.g. %s), or off; got %q (%v)", DefaultMetricsListen, m.Listen, err)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		c.add(errs, "metrics.listen", "port %q is not a number from 0 to 65535", port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		c.add(errs, "metrics.listen", "host %q is not an IP address or localhost", host)
	}
}
