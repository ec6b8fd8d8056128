package config

import (
	"os"
	"strings"
	"testing"
)

func TestMetricsListen(t *testing.T) {
	base, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yaml, want, err string
	}{
		{"absent: loopback default", "", DefaultMetricsListen, ""},
		{"empty disables", "metrics:\n  listen: \"\"\n", "", ""},
		{"off disables", "metrics:\n  listen: off\n", "", ""},
		{"explicit", "metrics:\n  listen: 0.0.0.0:9100\n", "0.0.0.0:9100", ""},
		{"any port", "metrics:\n  listen: 127.0.0.1:0\n", "127.0.0.1:0", ""},
		{"no port", "metrics:\n  listen: 127.0.0.1\n", "", "want HOST:PORT"},
		{"bad port", "metrics:\n  listen: 127.0.0.1:http\n", "", "is not a number"},
		{"bad host", "metrics:\n  listen: metrics.example.com:9464\n", "", "not an IP address"},
		{"unknown key", "metrics:\n  path: /m\n", "", "path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", append(append([]byte(nil), base...), tc.yaml...), env(map[string]string{"SLACK_BOT_TOKEN": "xoxb-x"}))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if !strings.Contains(err.Error(), "metrics") {
					t.Errorf("error does not name the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Metrics.Listen != tc.want || cfg.Metrics.Enabled() != (tc.want != "") {
				t.Fatalf("listen %q enabled %v, want %q", cfg.Metrics.Listen, cfg.Metrics.Enabled(), tc.want)
			}
		})
	}
}
