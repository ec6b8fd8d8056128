package hr

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/rs/zerolog"
)

const webhookConfig = `hr:
  body_limit: 4096
  sources:
    bamboo:
      vendor: bamboohr
      secret: ${BAMBOO_KEY}
    bob:
      vendor: hibob
      secret: ${BOB_KEY}
    personio:
      vendor: personio
      token: ${PERSONIO_TOKEN}
    rippling:
      vendor: rippling
      token: ${RIPPLING_TOKEN}
    gen:
      vendor: generic
      secret: ${GENERIC_KEY}
      generic:
        auth: hmac
        signature_header: X-Hub-Signature
        prefix: "sha256="
        timestamp_header: X-Timestamp
        delivery_id: body.delivery
        action: 'body.event == "left" ? "terminate" : "upsert"'
        mapping:
          employee_id: string(body.person.id)
          email: body.person.email
          name: body.person.name
          department: body.person.dept
          title: body.person.title
          manager_email: body.person.manager
          start_date: body.person.start
          termination_date: body.person.last_day
`

func bambooHeaders(key string, body []byte, ts time.Time) map[string]string {
	s := strconv.FormatInt(ts.Unix(), 10)
	return map[string]string{"X-BambooHR-Timestamp": s, "X-BambooHR-Signature": SignBambooHR(key, body, s)}
}

func genericHeaders(key string, body []byte, ts time.Time) map[string]string {
	s := strconv.FormatInt(ts.Unix(), 10)
	return map[string]string{"X-Timestamp": s, "X-Hub-Signature": "sha256=" + hexMAC256(key, body, s)}
}

func hexMAC256(key string, body []byte, ts string) string { return SignBambooHR(key, body, ts) }

func TestWebhookAuthentication(t *testing.T) {
	h := newHarness(t, webhookConfig)
	now := h.clock.Now()
	bamboo := fixture(t, "bamboohr_event_updated.json")
	// Bob bodies are dated; the documented example's date is re-stamped
	// so it is inside dedupe memory.
	bob := bytes.Replace(fixture(t, "hibob_employee_updated.json"), []byte("2025-01-08T13:06:26.915906"), []byte("2026-02-02T09:59:00.000001"), 1)
	personio := fixture(t, "personio_employment_updated.json")
	rippling := fixture(t, "rippling_employee_updated.form")
	gen := []byte(`{"delivery":"d-1","event":"hired","person":{"id":7,"email":"x@example.com","name":"X Y"}}`)
	cases := []struct {
		name string
		path string
		body []byte
		hdr  map[string]string
		want int
	}{
		{"bamboohr valid", "/hr/bamboo", bamboo, bambooHeaders("bamboo-secret", bamboo, now), http.StatusAccepted},
		{"bamboohr wrong key", "/hr/bamboo", bamboo, bambooHeaders("wrong", bamboo, now), http.StatusUnauthorized},
		{"bamboohr expired timestamp", "/hr/bamboo", bamboo, bambooHeaders("bamboo-secret", bamboo, now.Add(-6*time.Minute)), http.StatusUnauthorized},
		{"bamboohr future timestamp", "/hr/bamboo", bamboo, bambooHeaders("bamboo-secret", bamboo, now.Add(6*time.Minute)), http.StatusUnauthorized},
		{"bamboohr missing signature", "/hr/bamboo", bamboo, nil, http.StatusUnauthorized},
		{"bamboohr tampered body", "/hr/bamboo", append(bytes.Clone(bamboo[:len(bamboo)-2]), ' ', '}'), bambooHeaders("bamboo-secret", bamboo, now), http.StatusUnauthorized},
		{"hibob valid", "/hr/bob", bob, map[string]string{"Bob-Signature": SignHiBob("bob-secret", bob)}, http.StatusAccepted},
		{"hibob wrong key", "/hr/bob", bob, map[string]string{"Bob-Signature": SignHiBob("nope", bob)}, http.StatusUnauthorized},
		{"hibob garbage signature", "/hr/bob", bob, map[string]string{"Bob-Signature": "%%%"}, http.StatusUnauthorized},
		{"personio valid", "/hr/personio", personio, map[string]string{"Authorization": "personio-token"}, http.StatusAccepted},
		{"personio bearer prefix", "/hr/personio", fixture(t, "personio_person_created.json"), map[string]string{"Authorization": "Bearer personio-token"}, http.StatusAccepted},
		{"personio wrong token", "/hr/personio", personio, map[string]string{"Authorization": "personio-tokem"}, http.StatusUnauthorized},
		{"rippling valid", "/hr/rippling", rippling, map[string]string{"Authorization": "Bearer rippling-token", "Content-Type": "application/x-www-form-urlencoded"}, http.StatusAccepted},
		{"rippling no token", "/hr/rippling", rippling, nil, http.StatusUnauthorized},
		{"generic valid", "/hr/gen", gen, genericHeaders("generic-secret", gen, now), http.StatusAccepted},
		{"generic wrong key", "/hr/gen", gen, genericHeaders("x", gen, now), http.StatusUnauthorized},
		{"generic stale", "/hr/gen", gen, genericHeaders("generic-secret", gen, now.Add(-time.Hour)), http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := h.post(t, c.path, c.body, c.hdr); got != c.want {
				t.Fatalf("status %d, want %d", got, c.want)
			}
		})
	}
	if n := h.inbox(t); n != 6 {
		t.Fatalf("inbox holds %d deliveries, want the 6 valid ones", n)
	}
}

func TestWebhookRefusals(t *testing.T) {
	h := newHarness(t, webhookConfig)
	now := h.clock.Now()
	big := []byte(`{"type":"employee.updated","data":{"employeeId":"1"},"pad":"` + strings.Repeat("x", 5000) + `"}`)
	notJSON := []byte(`{"type":`)
	wrongShape := []byte(`{"hello":"world"}`)
	oldBob := []byte(`{"companyId":1,"type":"employee.updated","triggeredAt":"2025-01-01T00:00:00","version":"v2","data":{"employeeId":"9"}}`)
	cases := []struct {
		name string
		path string
		body []byte
		hdr  map[string]string
		want int
	}{
		{"over body limit", "/hr/bamboo", big, bambooHeaders("bamboo-secret", big, now), http.StatusRequestEntityTooLarge},
		{"malformed json", "/hr/bamboo", notJSON, bambooHeaders("bamboo-secret", notJSON, now), http.StatusBadRequest},
		{"unknown shape", "/hr/bamboo", wrongShape, bambooHeaders("bamboo-secret", wrongShape, now), http.StatusBadRequest},
		{"personio without person", "/hr/personio", []byte(`{"company_id":"1","event_name":"employment.updated","occurred_at":"2026-02-01T00:00:00Z","payload":{}}`), map[string]string{"Authorization": "personio-token"}, http.StatusBadRequest},
		{"hibob body older than dedupe memory", "/hr/bob", oldBob, map[string]string{"Bob-Signature": SignHiBob("bob-secret", oldBob)}, http.StatusUnauthorized},
		{"unknown path", "/hr/nope", notJSON, nil, http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := h.post(t, c.path, c.body, c.hdr); got != c.want {
				t.Fatalf("status %d, want %d", got, c.want)
			}
		})
	}
	if n := h.inbox(t); n != 0 {
		t.Fatalf("refused deliveries were recorded: %d", n)
	}
}

func TestWebhookReplayAndDuplicate(t *testing.T) {
	h := newHarness(t, webhookConfig)
	body := fixture(t, "bamboohr_event_updated.json")
	hdr := bambooHeaders("bamboo-secret", body, h.clock.Now())
	if got := h.post(t, "/hr/bamboo", body, hdr); got != http.StatusAccepted {
		t.Fatalf("first delivery: %d", got)
	}
	// The same signed request again (a replay inside the window, or the
	// vendor's retry): acknowledged, not recorded twice.
	if got := h.post(t, "/hr/bamboo", body, hdr); got != http.StatusOK {
		t.Fatalf("replayed delivery: %d, want 200 duplicate", got)
	}
	if n := h.inbox(t); n != 1 {
		t.Fatalf("inbox %d, want 1", n)
	}
	// The same request after the window: refused outright.
	h.clock.Add(10 * time.Minute)
	if got := h.post(t, "/hr/bamboo", body, hdr); got != http.StatusUnauthorized {
		t.Fatalf("old replay: %d, want 401", got)
	}
	// Generic: the same delivery id with a fresh signature is a duplicate.
	gen := []byte(`{"delivery":"d-42","event":"hired","person":{"id":7,"email":"x@example.com"}}`)
	if got := h.post(t, "/hr/gen", gen, genericHeaders("generic-secret", gen, h.clock.Now())); got != http.StatusAccepted {
		t.Fatal(got)
	}
	h.clock.Add(time.Second)
	if got := h.post(t, "/hr/gen", gen, genericHeaders("generic-secret", gen, h.clock.Now())); got != http.StatusOK {
		t.Fatalf("same delivery id: %d, want 200 duplicate", got)
	}
}

func TestHiBobPingAnswered(t *testing.T) {
	h := newHarness(t, webhookConfig)
	ping := []byte(`{"companyId":636192,"version":"v2","data":{}}`)
	if got := h.post(t, "/hr/bob", ping, map[string]string{"Bob-Signature": SignHiBob("bob-secret", ping)}); got != http.StatusOK {
		t.Fatalf("ping: %d", got)
	}
	if got := h.post(t, "/hr/bob", ping, map[string]string{"Bob-Signature": SignHiBob("wrong", ping)}); got != http.StatusUnauthorized {
		t.Fatalf("unsigned ping: %d", got)
	}
	if n := h.inbox(t); n != 0 {
		t.Fatalf("ping recorded: %d", n)
	}
}

func TestGenericWebhookEndToEnd(t *testing.T) {
	h := newHarness(t, webhookConfig)
	gen := []byte(`{"delivery":"d-7","event":"hired","person":{"id":7,"email":"New.Hire@Example.com","name":"New Hire","dept":"Sales","title":"AE","manager":"boss@example.com","start":"2026-03-02"}}`)
	if got := h.post(t, "/hr/gen", gen, genericHeaders("generic-secret", gen, h.clock.Now())); got != http.StatusAccepted {
		t.Fatal(got)
	}
	h.drain(t)
	if jobs, _ := h.db.DueJobs(h.clock.Now().Add(time.Hour), 0); len(jobs) > 0 {
		t.Logf("left in inbox: %s", jobs[0].Payload)
	}
	evs := h.sub.Events()
	if len(evs) != 1 || evs[0].Type != gatehouse.EventJoiner {
		t.Fatalf("events %+v", evs)
	}
	e := evs[0]
	if e.Identity.Email != "new.hire@example.com" || e.Identity.EmployeeID != "7" || e.Identity.Department != "Sales" {
		t.Fatalf("identity %+v", e.Identity)
	}
	// Day before the start date, 09:00 in Berlin (the org zone).
	want := time.Date(2026, 3, 1, 9, 0, 0, 0, mustZone(t, "Europe/Berlin"))
	if !e.EffectiveAt.Equal(want) {
		t.Fatalf("effective %s, want %s", e.EffectiveAt, want)
	}
	if len(h.notes.hires) != 1 {
		t.Fatalf("manager not told: %v", h.notes.hires)
	}
	if n := h.inbox(t); n != 0 {
		t.Fatalf("inbox not drained: %d", n)
	}
	stored, err := h.db.IdentityByEmployeeID("7")
	if err != nil || stored.Status != gatehouse.StatusPending || stored.Attr(AttrSource) != "gen" {
		t.Fatalf("stored %+v %v", stored, err)
	}
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestGenericExpressionErrorsAreLocated(t *testing.T) {
	cfg := loadConfig(t, `hr:
  sources:
    gen:
      vendor: generic
      token: ${GENERIC_KEY}
      generic:
        auth: token
        action: 'body.event =='
        mapping:
          email: body.email +* 2
`)
	errs := CheckConfig(cfg)
	if len(errs) != 2 {
		t.Fatalf("errors %v", errs)
	}
	got := errs.Error()
	for _, want := range []string{"test.yaml:24:17: hr.sources.gen.generic.action:", "test.yaml:26:18: hr.sources.gen.generic.mapping.email:"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %s", want, got)
		}
	}
	db := openStore(t, t.TempDir()+"/g.db", true, nil)
	defer db.Close()
	if _, err := New(Options{Config: cfg, Store: db}); err == nil {
		t.Fatal("New accepted expressions that do not compile")
	}
}

// Rippling bodies carry no date or id: the same body later is a new event
// (updated again), not a replay; an immediate resend is a duplicate.
func TestUndatedBodiesAreRememberedBriefly(t *testing.T) {
	h := newHarness(t, webhookConfig)
	body := fixture(t, "rippling_employee_updated.form")
	hdr := map[string]string{"Authorization": "Bearer rippling-token", "Content-Type": "application/x-www-form-urlencoded"}
	if got := h.post(t, "/hr/rippling", body, hdr); got != http.StatusAccepted {
		t.Fatal(got)
	}
	if got := h.post(t, "/hr/rippling", body, hdr); got != http.StatusOK {
		t.Fatalf("immediate resend: %d, want 200 duplicate", got)
	}
	h.clock.Add(11 * time.Minute)
	if got := h.post(t, "/hr/rippling", body, hdr); got != http.StatusAccepted {
		t.Fatalf("same body later: %d, want 202", got)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRefusalsAreLoggedWithoutSecretsOrPII(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, webhookConfig, func(o *Options) { o.Logger = zerolog.New(&logs) })
	gen := []byte(`{"delivery":"p-1","event":"hired","person":{"id":5,"email":"private.person@example.com","name":"Private Person"}}`)
	h.post(t, "/hr/gen", gen, genericHeaders("wrong-key", gen, h.clock.Now()))
	h.post(t, "/hr/personio", fixture(t, "personio_person_created.json"), map[string]string{"Authorization": "personio-tokex"})
	h.post(t, "/hr/gen", gen, genericHeaders("generic-secret", gen, h.clock.Now()))
	h.drain(t)
	out := logs.String()
	for _, want := range []string{`"reason":"bad X-Hub-Signature"`, `"reason":"bad or missing Authorization token"`, `"status":401`, `"event":"joiner"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"generic-secret", "personio-token", "private.person", "Private Person"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
