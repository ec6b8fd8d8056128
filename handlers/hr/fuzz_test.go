package hr

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
)

func configHRSource() config.HRSource { return config.HRSource{Name: "fuzz"} }

func fuzzBase(vendor string) *base {
	c := configHRSource()
	c.Vendor = vendor
	return &base{n: "fuzz", c: &c, mapping: vendorMappings[vendor]}
}

// Every parser must return an error or deltas for any input: never panic,
// never hang. Seeds are the vendor-shaped fixtures.

func FuzzBambooHR(f *testing.F) {
	for _, s := range []string{"bamboohr_event_updated.json", "bamboohr_event_created.json", "bamboohr_event_deleted.json", "bamboohr_field_based.json",
		"bamboohr_event_updated.form", "bamboohr_field_based.form"} {
		f.Add(fixture(f, s))
	}
	s := &bambooHR{base: fuzzBase("bamboohr")}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := s.parse("application/json", body)
		if err == nil && len(p.Deltas) == 0 {
			t.Fatal("accepted a delivery with nothing in it")
		}
	})
}

func FuzzHiBob(f *testing.F) {
	for _, s := range []string{"hibob_employee_updated.json", "hibob_employee_left.json", "hibob_table_entry_lifecycle.json"} {
		f.Add(fixture(f, s))
	}
	s := &hiBob{base: fuzzBase("hibob")}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := s.parse("application/json", body)
		if err == nil && !p.Ping && len(p.Deltas) == 0 {
			t.Fatal("accepted a delivery with nothing in it")
		}
	})
}

func FuzzPersonio(f *testing.F) {
	for _, s := range []string{"personio_employment_updated.json", "personio_employment_terminated.json", "personio_person_created.json"} {
		f.Add(fixture(f, s))
	}
	s := &personio{base: fuzzBase("personio")}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := s.parse("application/json", body)
		if err == nil && !p.Ping && len(p.Deltas) == 0 {
			t.Fatal("accepted a delivery with nothing in it")
		}
	})
}

func FuzzRippling(f *testing.F) {
	f.Add(fixture(f, "rippling_employee_updated.form"))
	f.Add([]byte(`{"event_name":"employee.deleted","company_id":"c","id":"w1"}`))
	s := &rippling{base: fuzzBase("rippling")}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = s.parse("application/x-www-form-urlencoded", body)
	})
}

func FuzzGeneric(f *testing.F) {
	f.Add([]byte(`{"delivery":"d-1","event":"left","person":{"id":7,"email":"x@example.com","start":"2026-03-02"}}`))
	f.Add([]byte(`{"person":null}`))
	f.Add([]byte(`[1,2,3]`))
	g := &config.HRGeneric{Auth: "token",
		DeliveryID: config.Expr{Source: "body.delivery"},
		Action:     config.Expr{Source: `body.event == "left" ? "terminate" : "upsert"`},
		Mapping: map[string]config.Expr{
			"employee_id": {Source: "string(body.person.id)"},
			"email":       {Source: "body.person.email"},
			"start_date":  {Source: "body.person.start"},
		}}
	s, errs := compileGeneric(g)
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	s.base = fuzzBase("generic")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = s.parse("application/json", body)
	})
}

func FuzzCSVRoster(f *testing.F) {
	f.Add(fixture(f, "roster.csv"))
	f.Add([]byte("email\n\"unterminated"))
	b := fuzzBase("csv")
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := parseCSVRoster(b, strings.NewReader(string(body)))
		if err == nil {
			for _, r := range recs {
				if r.EmployeeID == "" && r.Email == "" {
					t.Fatal("record that names nobody")
				}
			}
		}
	})
}

func FuzzWorkdayReport(f *testing.F) {
	f.Add(fixture(f, "workday_report.json"))
	f.Add([]byte(`{"Report_Entry":[{"Employee_ID":{"x":[1,2,{"y":null}]}}]}`))
	b := fuzzBase("workday")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseWorkdayReport(b, body)
	})
}

func FuzzBambooHRRoster(f *testing.F) {
	f.Add(fixture(f, "bamboohr_report.json"))
	b := fuzzBase("bamboohr")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseBambooRoster(b, body)
	})
}

func FuzzHiBobPeople(f *testing.F) {
	f.Add(fixture(f, "hibob_people_search.json"))
	b := fuzzBase("hibob")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseBobPeople(b, body)
	})
}
