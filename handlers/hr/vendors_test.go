package hr

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// fakePersonio serves Personio's v2 token, persons (cursor-paginated) and
// employments endpoints from the fixtures, for n extra persons as well.
var personioEmployments atomic.Pointer[[]byte]

func fakePersonio(t *testing.T, extra int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	person := fixture(t, "personio_person.json")
	emps0 := fixture(t, "personio_employments.json")
	personioEmployments.Store(&emps0)
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/auth/token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("client_id") != "cid" || r.FormValue("client_secret") != "api-key" {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":86400}`)
	})
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			if r.Header.Get("Authorization") != "Bearer tok-1" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /v2/persons/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		switch id := r.PathValue("id"); id {
		case "5005":
			w.Write(person)
		case "5001":
			fmt.Fprint(w, `{"id":"5001","email":"boss@example.com","first_name":"Boss","last_name":"Person"}`)
		default:
			if n, err := strconv.Atoi(id); err == nil && n >= 9000 && n < 9000+extra {
				fmt.Fprintf(w, `{"id":"%d","email":"p%d@example.com","first_name":"P","last_name":"%d"}`, n, n, n)
				return
			}
			http.Error(w, `{"errors":[{"title":"Person not found"}]}`, http.StatusNotFound)
		}
	}))
	mux.HandleFunc("GET /v2/persons/{id}/employments", auth(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "5005" {
			w.Write(*personioEmployments.Load())
			return
		}
		fmt.Fprintf(w, `{"_data":[{"id":"e-%s","status":"ACTIVE","start_date":"2024-01-01","position":{"title":"Dev"},"org_units":[{"type":"department","id":"1","name":"Eng"}]}],"_meta":{"links":{}}}`, r.PathValue("id"))
	}))
	mux.HandleFunc("GET /v2/persons", auth(func(w http.ResponseWriter, r *http.Request) {
		// Two per page to exercise the cursor.
		all := []string{string(person), `{"id":"5001","email":"boss@example.com","first_name":"Boss","last_name":"Person"}`}
		for i := 0; i < extra; i++ {
			all = append(all, fmt.Sprintf(`{"id":"%d","email":"p%d@example.com","first_name":"P","last_name":"%d"}`, 9000+i, 9000+i, 9000+i))
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		end := min(start+2, len(all))
		next := ""
		if end < len(all) {
			next = fmt.Sprintf(`,"next":{"href":"https://api.personio.de/v2/persons?cursor=%d&limit=2"}`, end)
		}
		fmt.Fprintf(w, `{"_data":[%s],"_meta":{"links":{"self":{"href":"x"}%s}}}`, strings.Join(all[start:end], ","), next)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestPersonioWebhookFetchesPerson(t *testing.T) {
	api, calls := fakePersonio(t, 0)
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    personio:
      vendor: personio
      token: ${PERSONIO_TOKEN}
      api_url: %s
      api_user: cid
      api_key: ${API_KEY}
      time_zone: Europe/Vienna
`, api.URL))
	body := fixture(t, "personio_employment_updated.json")
	if got := h.post(t, "/hr/personio", body, map[string]string{"Authorization": "personio-token"}); got != http.StatusAccepted {
		t.Fatal(got)
	}
	if calls.Load() != 0 {
		t.Fatal("fetched before answering: processing must be asynchronous")
	}
	h.drain(t)
	evs := h.sub.Events()
	if len(evs) != 1 || evs[0].Type != gatehouse.EventJoiner {
		t.Fatalf("events %+v", evs)
	}
	id := evs[0].Identity
	if id.Email != "hedy@example.com" || id.Department != "Wireless" || id.Team != "Spread Spectrum" || id.Title != "Radio Engineer" ||
		id.Location != "Vienna" || id.ManagerEmail != "boss@example.com" || id.EmployeeID != "5005" {
		t.Fatalf("identity %+v", id)
	}
	// Termination entered: the employment now carries a termination date;
	// the leaver is scheduled for the end of that day in Vienna.
	terminated := bytes.Replace(fixture(t, "personio_employments.json"), []byte(`"termination_date": null`), []byte(`"termination_date": "2026-02-27"`), 1)
	personioEmployments.Store(&terminated)
	body = bytes.Replace(body, []byte("2026-01-31T18:42:00Z"), []byte("2026-02-02T09:00:00Z"), 1)
	if got := h.post(t, "/hr/personio", body, map[string]string{"Authorization": "personio-token"}); got != http.StatusAccepted {
		t.Fatal(got)
	}
	h.drain(t)
	evs = h.sub.Events()
	if len(evs) != 2 || evs[1].Type != gatehouse.EventLeaver {
		t.Fatalf("events %+v", types(evs))
	}
	if want := time.Date(2026, 2, 28, 0, 0, 0, 0, mustZone(t, "Europe/Vienna")); !evs[1].EffectiveAt.Equal(want) {
		t.Fatalf("leaver at %s, want %s", evs[1].EffectiveAt, want)
	}
	if len(h.notes.terms) != 1 {
		t.Fatal("IT not told of the termination")
	}
}

func TestPersonioRosterPaginates(t *testing.T) {
	api, _ := fakePersonio(t, 5)
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    personio:
      vendor: personio
      token: ${PERSONIO_TOKEN}
      api_url: %s
      api_user: cid
      api_key: ${API_KEY}
      roster: api
`, api.URL))
	rep, err := h.svc.Sync(context.Background(), "personio", true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 7 || len(rep.Joiners) != 7 {
		t.Fatalf("records %d joiners %d", rep.Records, len(rep.Joiners))
	}
}

func TestBambooHRWebhookFetchAndReport(t *testing.T) {
	employee := fixture(t, "bamboohr_employee.json")
	report := fixture(t, "bamboohr_report.json")
	mux := http.NewServeMux()
	check := func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "api-key" && p == "x"
	}
	mux.HandleFunc("GET /v1/employees/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !check(r) || !strings.Contains(r.URL.Query().Get("fields"), "workEmail") {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if r.PathValue("id") != "67890" {
			http.NotFound(w, r)
			return
		}
		w.Write(employee)
	})
	mux.HandleFunc("POST /v1/reports/custom", func(w http.ResponseWriter, r *http.Request) {
		if !check(r) || r.URL.Query().Get("format") != "JSON" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write(report)
	})
	api := httptest.NewServer(mux)
	defer api.Close()
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    bamboo:
      vendor: bamboohr
      secret: ${BAMBOO_KEY}
      api_url: %s
      api_key: ${API_KEY}
      roster: report
`, api.URL))
	h.put(t, gatehouse.Identity{Email: "ada@example.com", EmployeeID: "67890", Name: "Ada Lovelace", Department: "Maths", Title: "Engineer", Status: gatehouse.StatusActive, TimeZone: "Europe/London"})
	body := fixture(t, "bamboohr_event_updated.json")
	if got := h.post(t, "/hr/bamboo", body, bambooHeaders("bamboo-secret", body, h.clock.Now())); got != http.StatusAccepted {
		t.Fatal(got)
	}
	h.drain(t)
	evs := h.sub.Events()
	if len(evs) != 1 || evs[0].Type != gatehouse.EventMover || evs[0].Previous == nil || evs[0].Previous.Department != "Maths" || evs[0].Identity.Department != "Research" {
		t.Fatalf("events %+v", evs)
	}
	rep, err := h.svc.Sync(context.Background(), "bamboo", true)
	if err != nil {
		t.Fatal(err)
	}
	// Grace is inactive and unknown: ignored. Ada is already up to date.
	if rep.Records != 2 || len(rep.Joiners)+len(rep.Movers)+len(rep.Leavers) != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestHiBobWebhookTerminationFetches(t *testing.T) {
	people := fixture(t, "hibob_people_search.json")
	var searched atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/people/search", func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		if u != "svc-user" || p != "api-key" || req["showInactive"] != true {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		searched.Add(1)
		// After the termination, Bob reports the person inactive.
		w.Write(bytes.Replace(people, []byte(`"terminationDate": null`), []byte(`"terminationDate": "2026-02-01"`), 1))
	})
	api := httptest.NewServer(mux)
	defer api.Close()
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    bob:
      vendor: hibob
      secret: ${BOB_KEY}
      api_url: %s
      api_user: svc-user
      api_key: ${API_KEY}
`, api.URL))
	h.put(t, gatehouse.Identity{Email: "linus@example.com", EmployeeID: "3332883854254932743", Name: "Linus", Status: gatehouse.StatusActive})
	body := bytes.Replace(fixture(t, "hibob_employee_left.json"), []byte("2025-01-09T00:00:03.120044"), []byte("2026-02-02T09:00:00.000001"), 1)
	if got := h.post(t, "/hr/bob", body, map[string]string{"Bob-Signature": SignHiBob("bob-secret", body)}); got != http.StatusAccepted {
		t.Fatal(got)
	}
	h.drain(t)
	evs := h.sub.Events()
	if len(evs) != 1 || evs[0].Type != gatehouse.EventLeaver || searched.Load() != 1 {
		t.Fatalf("events %+v", evs)
	}
	if len(h.notes.terms) != 1 {
		t.Fatal("IT not told of the termination")
	}
}

func TestWorkdayAndRipplingParsers(t *testing.T) {
	b := &base{n: "wd", c: &configSource, mapping: vendorMappings["workday"]}
	recs, err := parseWorkdayReport(b, fixture(t, "workday_report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Email != "katherine@example.com" || recs[0].Status != StatusActive || recs[0].TimeZone != "America/New_York" ||
		recs[1].Status != StatusTerminated || recs[1].Kind != gatehouse.KindContractor || recs[1].TerminationDate.String() != "2026-01-30" {
		t.Fatalf("workday %+v", recs)
	}
	r := &rippling{base: &base{n: "rp", c: &configSource, mapping: vendorMappings["rippling"]}}
	p, err := r.parse("application/x-www-form-urlencoded", fixture(t, "rippling_employee_updated.form"))
	if err != nil || len(p.Deltas) != 1 || p.Deltas[0].Record.VendorID != "6011a1f2b3c4d5e6f7a8b9c0" || p.Deltas[0].Action != ActionUpsert {
		t.Fatalf("rippling %+v %v", p, err)
	}
	_ = base64.StdEncoding
}

var configSource = configHRSource()

func TestBambooHRFormPost(t *testing.T) {
	s := &bambooHR{base: fuzzBase("bamboohr")}
	p, err := s.parse("application/x-www-form-urlencoded", fixture(t, "bamboohr_event_updated.form"))
	if err != nil || len(p.Deltas) != 1 || p.Deltas[0].Record.VendorID != "67890" || p.Deltas[0].Changed[0] != "firstName" {
		t.Fatalf("event form: %+v %v", p, err)
	}
	p, err = s.parse("application/x-www-form-urlencoded", fixture(t, "bamboohr_field_based.form"))
	if err != nil || len(p.Deltas) != 1 {
		t.Fatalf("field form: %+v %v", p, err)
	}
	r := p.Deltas[0].Record
	if r.VendorID != "12345" || r.Email != "robert@example.com" || len(p.Deltas[0].Changed) != 2 || p.Deltas[0].Changed[1] != "First Name" {
		t.Fatalf("field form record %+v %v", r, p.Deltas[0].Changed)
	}
}

func TestWorkdayRaaSRoster(t *testing.T) {
	report := fixture(t, "workday_report.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		if r.URL.Path != "/ccx/service/customreport2/acme/ISU/Gatehouse_Workers" || r.URL.Query().Get("format") != "json" || u != "ISU_Gatehouse" || p != "api-key" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write(report)
	}))
	defer srv.Close()
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    wd:
      vendor: workday
      roster_url: %s/ccx/service/customreport2/acme/ISU/Gatehouse_Workers
      api_user: ISU_Gatehouse
      api_key: ${API_KEY}
`, srv.URL))
	h.put(t, gatehouse.Identity{Email: "mary@example.com", EmployeeID: "21002", Name: "Mary Jackson", Status: gatehouse.StatusActive, TimeZone: "America/New_York"})
	rep, err := h.svc.Sync(context.Background(), "wd", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Joiners) != 1 || rep.Joiners[0].Next.Email != "katherine@example.com" || len(rep.Leavers) != 1 || rep.Leavers[0].Next.Email != "mary@example.com" {
		t.Fatalf("report %+v", rep)
	}
	if got := h.svc.SyncSources(); len(got) != 1 || got[0] != "wd" {
		t.Fatalf("sync sources %v", got)
	}
}

func TestRipplingWebhookFetchesWorker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer api-key" || r.URL.Path != "/workers/6011a1f2b3c4d5e6f7a8b9c0" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"id":"6011a1f2b3c4d5e6f7a8b9c0","work_email":"rosalind@example.com","display_name":"Rosalind Franklin","title":"Crystallographer","department":{"name":"Biophysics"},"status":"ACTIVE","start_date":"2025-05-05","time_zone":"Europe/London"}`)
	}))
	defer srv.Close()
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    rippling:
      vendor: rippling
      token: ${RIPPLING_TOKEN}
      api_url: %s
      api_key: ${API_KEY}
`, srv.URL))
	hdr := map[string]string{"Authorization": "Bearer rippling-token", "Content-Type": "application/x-www-form-urlencoded"}
	if got := h.post(t, "/hr/rippling", fixture(t, "rippling_employee_updated.form"), hdr); got != http.StatusAccepted {
		t.Fatal(got)
	}
	h.drain(t)
	evs := h.sub.Events()
	if len(evs) != 1 || evs[0].Type != gatehouse.EventJoiner || evs[0].Identity.Department != "Biophysics" || evs[0].Identity.TimeZone != "Europe/London" {
		t.Fatalf("events %+v", evs)
	}
}

func TestVendorOutageRetriesThenParks(t *testing.T) {
	old := apiRetryWait
	apiRetryWait = time.Millisecond
	t.Cleanup(func() { apiRetryWait = old })
	var fail atomic.Bool
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "maintenance", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, `{"id":"w1","work_email":"w1@example.com","status":"ACTIVE"}`)
	}))
	defer srv.Close()
	h := newHarness(t, fmt.Sprintf(`hr:
  sources:
    rippling:
      vendor: rippling
      token: ${RIPPLING_TOKEN}
      api_url: %s
      api_key: ${API_KEY}
`, srv.URL), func(o *Options) { o.HTTPClient = &http.Client{} })
	hdr := map[string]string{"Authorization": "Bearer rippling-token", "Content-Type": "application/x-www-form-urlencoded"}
	post := func(id string) {
		if got := h.post(t, "/hr/rippling", []byte("event_name=employee.updated&company_id=c&id="+id), hdr); got != http.StatusAccepted {
			t.Fatal(got)
		}
	}
	post("w1")
	h.drain(t)
	if len(h.sub.Events()) != 0 || h.inbox(t) != 1 {
		t.Fatal("a failed delivery was dropped or applied")
	}
	jobs, _ := h.db.DueJobs(h.clock.Now(), 0)
	if len(jobs) != 0 {
		t.Fatal("a failed delivery is due again at once (no backoff)")
	}
	fail.Store(false)
	h.clock.Add(6 * time.Second)
	h.drain(t)
	if len(h.sub.Events()) != 1 || h.inbox(t) != 0 {
		t.Fatalf("after recovery: %d events, inbox %d", len(h.sub.Events()), h.inbox(t))
	}
	// A vendor that stays down: parked after maxAttempts, body kept.
	fail.Store(true)
	post("w2")
	for i := 0; i < maxAttempts; i++ {
		h.drain(t)
		h.clock.Add(2 * time.Hour)
	}
	if h.inbox(t) != 0 {
		t.Fatal("still retrying after maxAttempts")
	}
	dead, err := h.db.DueJobs(guardJobAt, 0)
	if err != nil {
		t.Fatal(err)
	}
	parked := 0
	for _, j := range dead {
		if j.Kind == JobDead && bytes.Contains(j.Payload, []byte("last_error")) {
			parked++
		}
	}
	if parked != 1 {
		t.Fatalf("parked %d", parked)
	}
}
