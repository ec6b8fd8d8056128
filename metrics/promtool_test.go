package metrics

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// promtool finds Prometheus's promtool (Debian package prometheus; see
// .ci/install-deps.sh). Missing, it fails under CI=true and skips otherwise.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found: run `sh .ci/install-deps.sh` (installs the Debian package prometheus, which ships /usr/bin/promtool)")
		}
		t.Skip("promtool not installed (apt-get install prometheus, or sh .ci/install-deps.sh); CI=true makes this a failure")
	}
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

func run(t *testing.T, dir string, stdin []byte, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	if err != nil {
		t.Fatalf("%s %v failed: %v\n%s", filepath.Base(name), args, err, out)
	}
}

// TestAlertRulesPassPromtool checks examples/prometheus/alerts.yaml with
// `promtool check rules` and runs its unit tests (alerts_test.yaml), which
// fire each alert on synthetic series named as this package names them.
func TestAlertRulesPassPromtool(t *testing.T) {
	pt := promtool(t)
	dir := filepath.Join(repoRoot(t), "examples", "prometheus")
	run(t, dir, nil, pt, "check", "rules", "alerts.yaml")
	run(t, dir, nil, pt, "test", "rules", "alerts_test.yaml")
}

// TestExpositionPassesPromtoolLint feeds a scrape with every series present
// to `promtool check metrics`, Prometheus's linter for names, units, _total
// suffixes and help texts.
func TestExpositionPassesPromtoolLint(t *testing.T) {
	pt := promtool(t)
	m := New(Options{Apps: []string{"okta"}, State: func() (State, error) { return State{AuditEntries: 1}, nil }})
	m.StepAttempted("okta", gatehouse.StepDisable, time.Millisecond, gatehouse.ClassRateLimited, errors.New("429"), true)
	m.RunFinished(gatehouse.Run{Status: gatehouse.RunSucceeded, FinishedAt: t0.Add(time.Minute), Event: gatehouse.Event{Type: gatehouse.EventJoiner, ReceivedAt: t0}}, nil)
	m.RunFinished(gatehouse.Run{Status: gatehouse.RunSucceeded, Event: gatehouse.Event{Type: gatehouse.EventLeaver, EffectiveAt: t0}},
		[]gatehouse.Step{{Kind: gatehouse.StepDisable, Status: gatehouse.StepSucceeded, FinishedAt: t0.Add(time.Minute)}})
	m.WebhookDelivered("generic", "accepted")
	m.SocketConnected()
	m.Acked(time.Millisecond)
	run(t, ".", []byte(scrape(t, m)), pt, "check", "metrics")
}
