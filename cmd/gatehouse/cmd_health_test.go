package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok"))
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/redirect":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		default:
			http.Error(w, "store closed", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"healthy", []string{"--url", srv.URL + "/healthz"}, 0, "ok: 200"},
		{"unhealthy", []string{"--url", srv.URL + "/readyz"}, 1, "store closed"},
		{"redirect is not health", []string{"--url", srv.URL + "/redirect"}, 1, "302"},
		{"timeout", []string{"--url", srv.URL + "/slow", "--timeout", "100ms"}, 1, "unreachable"},
		{"nobody listening", []string{"--url", "http://127.0.0.1:1/healthz"}, 1, "unreachable"},
		{"not a url", []string{"--url", "ftp://x"}, 1, "want http://"},
		{"bad flag", []string{"--nope"}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runHealth(context.Background(), tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Fatalf("code %d (want %d), out %q, err %q, want %q", code, tc.code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

func TestVersionBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	got := readBuildInfo(bi, true)
	if got.Version != "v1.4.0" || got.Commit != "abc123" || got.BuildDate != "2026-12-01T10:00:00Z" || !got.Modified || got.GoVersion != "go1.26.0" {
		t.Fatalf("from build info: %+v", got)
	}
	version, commit = "v9.9.9", "def456"
	t.Cleanup(func() { version, commit = "", "" })
	got = readBuildInfo(bi, true)
	if got.Version != "v9.9.9" || got.Commit != "def456" || got.BuildDate != "2026-12-01T10:00:00Z" {
		t.Fatalf("ldflags must override: %+v", got)
	}
	if got := readBuildInfo(nil, false); got.Version != "v9.9.9" || got.GoVersion == "" {
		t.Fatalf("without build info: %+v", got)
	}
	var out bytes.Buffer
	if code := runVersion(context.Background(), []string{"--json"}, &out, &out); code != 0 || !strings.Contains(out.String(), `"version": "v9.9.9"`) {
		t.Fatalf("code %d: %s", code, out.String())
	}
}
