package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func init() {
	register(command{
		Name:    "health",
		Summary: "probe a health endpoint (for HEALTHCHECK and monitors): exit 0 when it answers 2xx",
		Usage:   "health [--url URL] [--timeout 3s]",
		Run:     runHealth,
	})
}

// runHealth GETs a URL and exits 0 on a 2xx answer, 1 otherwise. It exists
// so that a distroless / scratch image needs no curl for its HEALTHCHECK.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:9464/healthz", "endpoint to GET")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	if !strings.HasPrefix(*url, "http://") && !strings.HasPrefix(*url, "https://") {
		return fail(stderr, "health: --url %q: want http:// or https://", *url)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fail(stderr, "health: %v", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fail(stderr, "health: %s unreachable: %v", *url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	line := strings.TrimSpace(string(body))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(stderr, "health: %s answered %s: %s", *url, resp.Status, line)
	}
	fmt.Fprintf(stdout, "ok: %s %s\n", resp.Status, line)
	return 0
}
