package rules

import (
	"strings"
	"testing"
)

func TestParsePerson(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"ok", `{"email":" Ada@Example.com ","name":"Ada","kind":"employee","department":"Eng","start_date":"2026-12-01","attributes":{"seniority":"senior"}}`, ""},
		{"default kind", `{"email":"a@example.com","name":"A"}`, ""},
		{"unknown field", `{"email":"a@example.com","emial":"x"}`, `unknown field "emial"`},
		{"wrong type", `{"email":"a@example.com","employee_id":42}`, "employee_id: want a string, got number"},
		{"bad date", `{"email":"a@example.com","end_date":"31/01/2027"}`, `end_date: invalid date "31/01/2027"`},
		{"bad kind", `{"email":"a@example.com","kind":"robot"}`, `kind "robot" is not one of`},
		{"contractor needs end", `{"email":"a@example.com","kind":"contractor"}`, "needs an end_date"},
		{"bot needs owner", `{"email":"b@example.com","kind":"bot","purpose":"ci","expiry":"2027-01-01"}`, "needs an owner"},
		{"not an object", `[1]`, "want a JSON object"},
		{"trailing", `{"email":"a@example.com"} {}`, "unexpected data"},
		{"empty", ``, "empty"},
		{"syntax", `{"email":`, "person file"},
		{"attributes wrong", `{"email":"a@example.com","attributes":{"a":1}}`, "attributes: want a string"},
		{"too big", `{"email":"a@example.com","name":"` + strings.Repeat("x", MaxPersonSize) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParsePerson([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if id.Email == "" || id.Kind == "" {
					t.Errorf("not normalized: %+v", id)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	id, _ := ParsePerson([]byte(`{"email":" Ada@Example.com "}`))
	if id.Email != "ada@example.com" {
		t.Errorf("email not normalized: %q", id.Email)
	}
}

// FuzzPersonJSON: no input makes ParsePerson panic, and what it accepts
// validates and plans.
func FuzzPersonJSON(f *testing.F) {
	f.Add([]byte(`{"email":"ada@example.com","name":"Ada","kind":"employee","department":"Eng","team":"sre","start_date":"2026-12-01","attributes":{"seniority":"senior"}}`))
	f.Add([]byte(`{"email":"c@example.com","kind":"contractor","end_date":"2027-01-31T00:00:00Z"}`))
	f.Add([]byte(`{"email":"b@example.com","kind":"bot","owner":"o@example.com","purpose":"ci","expiry":"2027-01-01","time_zone":"Europe/Berlin"}`))
	f.Add([]byte(`{"attributes":null,"end_date":null}`))
	f.Add([]byte(`{"email":"a@example.com","start_date":"2027-02-30"}`))
	e := mustEngine(f, testConfig)
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParsePerson(data)
		if err != nil {
			return
		}
		if verr := id.Validate(); verr != nil {
			t.Fatalf("accepted an invalid identity: %v", verr)
		}
		if _, err := e.Plan(Input{Identity: id, Now: testNow}); err != nil {
			t.Fatalf("plan: %v", err)
		}
	})
}
