package hr

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

type deliveries struct {
	mu  sync.Mutex
	got []string
}

func (d *deliveries) WebhookDelivered(vendor, outcome string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, vendor+" "+outcome)
}

// TestObserverSeesEveryOutcome posts accepted, duplicate, forged, oversized
// and misrouted deliveries and checks what the observer is told: the
// vendor and a bounded outcome, never an id.
func TestObserverSeesEveryOutcome(t *testing.T) {
	obs := &deliveries{}
	h := newHarness(t, webhookConfig, func(o *Options) { o.Observer = obs })
	now := h.clock.Now()
	gen := []byte(`{"delivery":"d-1","event":"hired","person":{"id":7,"email":"x@example.com","name":"X Y"}}`)
	for _, c := range []struct {
		path    string
		body    []byte
		headers map[string]string
		code    int
	}{
		{"/hr/gen", gen, genericHeaders("generic-secret", gen, now), http.StatusAccepted},
		{"/hr/gen", gen, genericHeaders("generic-secret", gen, now), http.StatusOK},
		{"/hr/gen", gen, genericHeaders("wrong-secret", gen, now), http.StatusUnauthorized},
		{"/hr/gen", []byte(strings.Repeat("x", 5000)), nil, http.StatusRequestEntityTooLarge},
		{"/hr/nowhere", gen, nil, http.StatusNotFound},
	} {
		if got := h.post(t, c.path, c.body, c.headers); got != c.code {
			t.Fatalf("%s: %d, want %d", c.path, got, c.code)
		}
	}
	want := []string{"generic accepted", "generic duplicate", "generic unauthorized", "generic too_large", "unknown unknown_path"}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if strings.Join(obs.got, ",") != strings.Join(want, ",") {
		t.Errorf("observer saw %v, want %v", obs.got, want)
	}
}

func TestOutcomeOf(t *testing.T) {
	for _, c := range []struct {
		code int
		body string
		want string
	}{
		{202, `{"status":"accepted"}`, OutcomeAccepted},
		{200, `{"status":"duplicate"}`, OutcomeDuplicate},
		{200, `{"status":"ok"}`, OutcomePing},
		{401, "", OutcomeUnauthorized},
		{403, "", OutcomeUnauthorized},
		{400, "", OutcomeInvalid},
		{405, "", OutcomeInvalid},
		{413, "", OutcomeTooLarge},
		{503, "", OutcomeUnavailable},
		{404, "", OutcomeUnknownPath},
		{500, "", OutcomeError},
	} {
		if got := outcomeOf(c.code, []byte(c.body)); got != c.want {
			t.Errorf("outcomeOf(%d, %s) = %s, want %s", c.code, c.body, got, c.want)
		}
	}
}
