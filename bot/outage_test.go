package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/bot"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/rs/zerolog"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// entries returns the logged lines whose message contains msg.
func (l *logBuf) entries(t *testing.T, msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if s, _ := m["message"].(string); strings.Contains(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// TestSlackOutageIsLoggedOnce: while the loopback Slack is down, the bot
// keeps retrying with backoff but says once what is wrong, then summary
// lines at growing intervals (not one line per attempt), and once that it
// recovered; then it serves again.
func TestSlackOutageIsLoggedOnce(t *testing.T) {
	srv := slacktest.New(t, slacktest.Config{Logf: func(string, ...any) {}})
	var logs logBuf
	b, err := bot.New(bot.Config{AppToken: srv.AppToken(), BotToken: srv.BotToken(), APIURL: srv.APIURL(),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 160 * time.Millisecond, OutageSummary: 300 * time.Millisecond,
		Log: zerolog.New(&logs).Level(zerolog.InfoLevel)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Run(rctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if err := srv.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}

	srv.SetUnavailable(true)
	time.Sleep(2 * time.Second)
	srv.SetUnavailable(false)
	if err := srv.WaitConnectCount(ctx, 2); err != nil {
		t.Fatalf("no reconnect after the outage: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.entries(t, "reachable again")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	if n := len(logs.entries(t, "slack unreachable")); n != 1 {
		t.Errorf("%d 'slack unreachable' lines, want 1", n)
	}
	if n := len(logs.entries(t, "connection error")); n != 0 {
		t.Errorf("%d per-attempt 'connection error' lines, want none", n)
	}
	// Summaries at 0.3 s, then 0.6 s and 1.2 s later: at most three in 2 s.
	if n := len(logs.entries(t, "still unreachable")); n < 1 || n > 3 {
		t.Errorf("%d summary lines in a 2 s outage, want 1 to 3 (growing intervals)", n)
	}
	back := logs.entries(t, "reachable again")
	if len(back) != 1 {
		t.Fatalf("%d 'reachable again' lines, want 1", len(back))
	}
	// It kept trying (backoff from 20 ms, capped at 160 ms, jittered), but
	// not at slack-go's own pace of every attempt logged.
	if n, _ := back[0]["failed_attempts"].(float64); n < 4 || n > 40 {
		t.Errorf("%v failed attempts in a 2 s outage, want a backoff's worth (4 to 40)", back[0]["failed_attempts"])
	}
}
