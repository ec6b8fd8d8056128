package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/gatehousehq/gatehouse/config"
)

func TestSlackTokenMessages(t *testing.T) {
	env := map[string]string{"GOOD_APP": "xapp-1-abc", "BAD_APP": "xoxb-oops"}
	parse := func(yaml string) *config.Config {
		cfg, _ := config.Parse("t.yaml", []byte("version: 1\nslack:\n"+yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if cfg == nil {
			t.Fatalf("config did not parse: %s", yaml)
		}
		return cfg
	}
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unset variable", "  app_token: ${SLACK_APP_TOKEN}\n", "set SLACK_APP_TOKEN (xapp-…) — slack.app_token is ${SLACK_APP_TOKEN}"},
		{"wrong kind of token", "  app_token: ${BAD_APP}\n", "does not start with xapp-"},
		{"good", "  app_token: ${GOOD_APP}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(tc.yaml)
			_, err := slackToken(cfg.Slack.AppToken, "app_token", "SLACK_APP_TOKEN", "xapp-", "app-level token")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestServeMissingTokenNamesTheVariable(t *testing.T) {
	t.Setenv("SLACK_APP_TOKEN", "")
	t.Setenv("SLACK_BOT_TOKEN", "")
	dir := t.TempDir()
	cfgPath := filepath.Join("..", "..", "bot", "testdata", "e2e.yaml")
	var out, errb bytes.Buffer
	code := runServe(context.Background(), []string{"--config", cfgPath, "--db", filepath.Join(dir, "db")}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "SLACK_APP_TOKEN") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "db")); err == nil {
		t.Error("serve created the database before checking tokens")
	}
}

func TestCardsWritesEverySurface(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := runCards(context.Background(), []string{"--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 30 {
		t.Fatalf("wrote %d files", len(files))
	}
	for _, kind := range []string{"message", "modal", "home"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*."+kind+".json"))
		if len(m) == 0 {
			t.Errorf("no %s surfaces", kind)
		}
	}
}

// TestServeAgainstLoopbackSlack wires the real serve command to the loopback
// Slack through GATEHOUSE_SLACK_API_URL: it connects, answers a command, and
// stops cleanly; a wrong bot token stops it with a clear message.
func TestServeAgainstLoopbackSlack(t *testing.T) {
	srv := slacktest.New(t, slacktest.Config{Users: []slacktest.User{{ID: "U0IT", Name: "ida", Email: "it-lead@example.com"}}, Logf: func(string, ...any) {}})
	cfgPath := filepath.Join("..", "..", "bot", "testdata", "e2e.yaml")
	t.Setenv("GATEHOUSE_SLACK_API_URL", srv.APIURL())
	t.Setenv("SLACK_APP_TOKEN", srv.AppToken())

	t.Run("wrong token", func(t *testing.T) {
		t.Setenv("SLACK_BOT_TOKEN", "xoxb-not-the-right-one")
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code := runServe(ctx, []string{"--config", cfgPath, "--db", filepath.Join(t.TempDir(), "db"), "--simulate"}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "invalid_auth") {
			t.Fatalf("code %d, stderr %q", code, errb.String())
		}
	})

	t.Run("serves", func(t *testing.T) {
		t.Setenv("SLACK_BOT_TOKEN", srv.BotToken())
		// The same config with scheduled hot backups.
		dir := t.TempDir()
		base, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		backups := filepath.Join(dir, "backups")
		withBackups := filepath.Join(dir, "gatehouse.yaml")
		if err := os.WriteFile(withBackups, append(base, []byte("store:\n  backup_every: 1h\n  backup_dir: "+backups+"\n  backup_keep: 2\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		var out, errb bytes.Buffer
		go func() {
			done <- runServe(ctx, []string{"--config", withBackups, "--db", filepath.Join(dir, "db"), "--simulate", "--log-level", "warn"}, &out, &errb)
		}()
		wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer wcancel()
		if err := srv.WaitConnected(wctx); err != nil {
			cancel()
			t.Fatalf("serve did not connect: %v (stderr %s)", err, errb.String())
		}
		d, err := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/access", Text: "help", UserID: "U0IT", ChannelID: "C1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Wait(wctx); err != nil {
			t.Fatal(err)
		}
		// A hot backup was written at start, while serve held the lock.
		var names []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && len(names) == 0; time.Sleep(20 * time.Millisecond) {
			names, _ = filepath.Glob(filepath.Join(backups, "gatehouse-*.db"))
		}
		if len(names) != 1 {
			t.Errorf("backups = %v, want one written at start", names)
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("serve exited %d: %s", code, errb.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
		}
	})
}
