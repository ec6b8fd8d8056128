package lifecycle

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/rs/zerolog"
)

type attempt struct {
	app   string
	op    gatehouse.StepKind
	class gatehouse.ErrorClass
	err   bool
	retry bool
}

type observed struct {
	mu       sync.Mutex
	attempts []attempt
	finished []gatehouse.Run
	steps    map[string]int
}

func (o *observed) StepAttempted(app string, op gatehouse.StepKind, _ time.Duration, class gatehouse.ErrorClass, err error, retry bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, attempt{app, op, class, err != nil, retry})
}

func (o *observed) RunFinished(r gatehouse.Run, steps []gatehouse.Step) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, r)
	o.steps[r.ID] = len(steps)
}

// TestObserverSeesAttemptsAndFinishedRuns runs a joiner against an app that
// rate-limits (burst 1, so later calls get 429s and are retried) and checks
// the observer got every connector call, the rate limits and retries, and
// the finished run exactly once with its steps.
func TestObserverSeesAttemptsAndFinishedRuns(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil), withSim(func(app string) simulated.Options {
		if app == "github" {
			return simulated.Options{RatePerSecond: 5, Burst: 1}
		}
		return simulated.Options{}
	}))
	h.eng.Close() // the harness's engine has no observer: replace it
	obs := &observed{steps: map[string]int{}}
	eng, err := New(Options{Store: h.db, Config: h.cfg, Rules: h.rules, Connectors: h.conns, Logger: zerolog.Nop(), Notifier: h.notes, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	deadline := time.Now().Add(5 * time.Second)
	for !eng.SchedulerRunning() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !eng.SchedulerRunning() {
		t.Error("scheduler not reported running after Start")
	}

	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: person("ada@example.com", "Engineering", "Platform", "grace@example.com")}).ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("status %s", r.Status)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	var github, limited, retries int
	for _, a := range obs.attempts {
		if a.app == "github" {
			github++
		}
		if a.err && a.class == gatehouse.ClassRateLimited {
			limited++
		}
		if a.retry {
			retries++
		}
	}
	if calls := len(h.sims["github"].Ops()); github < calls || github == 0 {
		t.Errorf("observer saw %d github calls, the app %d operations", github, calls)
	}
	if limited == 0 || retries < limited {
		t.Errorf("rate limited %d, retries %d: want some, every 429 retried", limited, retries)
	}
	if len(obs.finished) != 1 || obs.finished[0].ID != r.ID || obs.finished[0].Status != gatehouse.RunSucceeded || obs.steps[r.ID] == 0 {
		t.Errorf("finished = %+v (steps %v)", obs.finished, obs.steps)
	}
	eng.Close()
	if eng.SchedulerRunning() {
		t.Error("scheduler reported running after Close")
	}
}
