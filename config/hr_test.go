package config

import (
	"os"
	"strings"
	"testing"
)

func TestHRConfigErrorsAreLocated(t *testing.T) {
	base, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hr := `hr:
  listen: localhost
  termination_at: noon
  guard: {max_share: 5}
  sync:
    schedule: "every hour"
    sources: [bamboo, nope]
  sources:
    bamboo:
      vendor: bamboohr
      fields: {emial: workEmail}
      status_map: {sabbatical: away}
    bob:
      vendor: hibob
    gen:
      vendor: generic
      token: ${GEN_TOKEN}
      generic:
        auth: token
        mapping: {department: body.dept}
    odd:
      vendor: peoplesoft
`
	_, err = Parse("c.yaml", append(append([]byte{}, base...), hr...), env(map[string]string{"SLACK_BOT_TOKEN": "x", "GEN_TOKEN": "t"}))
	if err == nil {
		t.Fatal("no errors")
	}
	got := err.Error()
	lines := strings.Count(string(base), "\n")
	for _, want := range []string{
		sprintf("c.yaml:%d:11: hr.listen: want HOST:PORT", lines+2),
		sprintf("c.yaml:%d:19: hr.termination_at: want end_of_day or start_of_day", lines+3),
		sprintf("c.yaml:%d:22: hr.guard.max_share: want a share between 0 and 1", lines+4),
		sprintf("c.yaml:%d:15: hr.sync.schedule: invalid cron spec", lines+6),
		"hr.sync.sources[1]: no source named \"nope\"",
		"hr.sources.bamboo: a bamboohr source needs secret",
		sprintf("c.yaml:%d:23: hr.sources.bamboo.fields.emial: unknown field (did you mean \"email\"?)", lines+11),
		"hr.sources.bamboo.status_map.sabbatical: want active, pending, leave or terminated",
		"hr.sources.bob: a hibob source needs secret",
		"hr.sources.gen.generic.mapping: map at least employee_id or email",
		"hr.sources.odd.vendor: want one of bamboohr, hibob, personio, rippling, workday, csv, generic",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestHRConfigDefaultsAndSecrets(t *testing.T) {
	base, _ := os.ReadFile("testdata/small.yaml")
	hr := `hr:
  listen: 127.0.0.1:0
  sync: {schedule: "@hourly"}
  sources:
    bamboo:
      vendor: bamboohr
      secret: ${BAMBOO_KEY}
      api_key_file: /nonexistent/key
      roster: report
`
	cfg, err := Parse("c.yaml", append(append([]byte{}, base...), hr...), env(map[string]string{"SLACK_BOT_TOKEN": "x", "BAMBOO_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HR.WithDefaults()
	if h.BodyLimit != DefaultHRBodyLimit || h.TimestampWindow != DefaultHRTimestampWindow || h.Guard.MaxPeople != 10 || h.Guard.MaxShare != 0.05 || h.TerminationAt != "end_of_day" {
		t.Fatalf("defaults %+v", h)
	}
	secrets := cfg.Secrets()
	if s := secrets["hr.sources.bamboo.secret"]; s.Source() != "env:BAMBOO_KEY" {
		t.Fatalf("secret %v", s.Source())
	}
	if s := secrets["hr.sources.bamboo.api_key"]; s.Problem() == "" {
		t.Fatal("unreadable api_key_file not reported")
	}
	if p := cfg.HR.Sources["bamboo"].WebhookPath(); p != "/hr/bamboo" {
		t.Fatal(p)
	}
	if strings.Contains(mustJSON(t, cfg.HR), "k\"") {
		t.Fatal("secret value serialized")
	}
}
