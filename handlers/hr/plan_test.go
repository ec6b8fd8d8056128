package hr

import (
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

func d(s string) gatehouse.Date {
	v, err := gatehouse.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestPlanner(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	tokyo := mustZone(t, "Asia/Tokyo")
	now := time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC)
	p := &Planner{Source: "bamboo", Timing: Timing{JoinerLead: 15 * time.Hour, EndOfDay: true, Zone: berlin}}
	active := gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: "ada@example.com", Name: "Ada", EmployeeID: "1", Department: "R&D",
		Title: "Engineer", ManagerEmail: "boss@example.com", Status: gatehouse.StatusActive, TimeZone: "Asia/Tokyo"}
	with := func(f func(*gatehouse.Identity)) *gatehouse.Identity { c := active; f(&c); return &c }
	rec := func(f func(*Record)) Record {
		r := Record{EmployeeID: "1", Email: "ada@example.com", Name: "Ada", Department: "R&D", Title: "Engineer", ManagerEmail: "boss@example.com", Status: StatusActive}
		if f != nil {
			f(&r)
		}
		return r
	}
	cases := []struct {
		name   string
		prev   *gatehouse.Identity
		rec    Record
		types  []gatehouse.EventType
		at     []time.Time
		status gatehouse.IdentityStatus
		fields []string
	}{
		{name: "future joiner runs the day before at 09:00 in the person's zone", rec: rec(func(r *Record) { r.StartDate = d("2026-03-02"); r.Status = StatusPending; r.TimeZone = "Asia/Tokyo" }),
			types: []gatehouse.EventType{gatehouse.EventJoiner}, at: []time.Time{time.Date(2026, 3, 1, 9, 0, 0, 0, tokyo)}, status: gatehouse.StatusPending},
		{name: "joiner whose start passed runs now", rec: rec(func(r *Record) { r.StartDate = d("2026-01-05") }),
			types: []gatehouse.EventType{gatehouse.EventJoiner}, at: []time.Time{now}, status: gatehouse.StatusActive},
		{name: "joiner in default zone", rec: rec(func(r *Record) { r.StartDate = d("2026-03-02") }),
			types: []gatehouse.EventType{gatehouse.EventJoiner}, at: []time.Time{time.Date(2026, 3, 1, 9, 0, 0, 0, berlin)}, status: gatehouse.StatusPending},
		{name: "terminated stranger is ignored", rec: rec(func(r *Record) { r.Status = StatusTerminated })},
		{name: "future termination at end of last day in person's zone", prev: &active, rec: rec(func(r *Record) { r.TerminationDate = d("2026-02-27") }),
			types: []gatehouse.EventType{gatehouse.EventLeaver}, at: []time.Time{time.Date(2026, 2, 28, 0, 0, 0, 0, tokyo)}, status: gatehouse.StatusActive},
		{name: "past termination runs now", prev: &active, rec: rec(func(r *Record) { r.Status = StatusTerminated; r.TerminationDate = d("2026-01-30") }),
			types: []gatehouse.EventType{gatehouse.EventLeaver}, at: []time.Time{now}, status: gatehouse.StatusTerminated},
		{name: "termination already scheduled is not repeated", prev: with(func(i *gatehouse.Identity) { i.Attributes = map[string]string{AttrTerminationDate: "2026-02-27"} }),
			rec: rec(func(r *Record) { r.TerminationDate = d("2026-02-27") }), status: gatehouse.StatusActive},
		{name: "rehire", prev: with(func(i *gatehouse.Identity) { i.Status = gatehouse.StatusTerminated }), rec: rec(func(r *Record) { r.StartDate = d("2026-04-01") }),
			types: []gatehouse.EventType{gatehouse.EventRehire}, at: []time.Time{time.Date(2026, 3, 31, 9, 0, 0, 0, tokyo)}, status: gatehouse.StatusPending},
		{name: "mover on department and manager", prev: &active, rec: rec(func(r *Record) { r.Department = "Sales"; r.ManagerEmail = "new@example.com" }),
			types: []gatehouse.EventType{gatehouse.EventMover}, at: []time.Time{now}, status: gatehouse.StatusActive, fields: []string{"department", "manager_email"}},
		{name: "name change is stored, not a mover", prev: &active, rec: rec(func(r *Record) { r.Name = "Ada King" }), status: gatehouse.StatusActive},
		{name: "leave of absence", prev: &active, rec: rec(func(r *Record) { r.Status = StatusLeave }),
			types: []gatehouse.EventType{gatehouse.EventLeaveOfAbsence}, at: []time.Time{now}, status: gatehouse.StatusSuspended},
		{name: "return", prev: with(func(i *gatehouse.Identity) { i.Status = gatehouse.StatusSuspended }), rec: rec(nil),
			types: []gatehouse.EventType{gatehouse.EventReturn}, at: []time.Time{now}, status: gatehouse.StatusActive},
		{name: "contract end scheduled", prev: &active, rec: rec(func(r *Record) { r.EndDate = d("2026-06-30") }),
			types: []gatehouse.EventType{gatehouse.EventContractEnd}, at: []time.Time{time.Date(2026, 7, 1, 0, 0, 0, 0, tokyo)}, status: gatehouse.StatusActive},
		{name: "unchanged contract end not repeated", prev: with(func(i *gatehouse.Identity) { i.EndDate = d("2026-06-30") }), rec: rec(func(r *Record) { r.EndDate = d("2026-06-30") }), status: gatehouse.StatusActive},
		{name: "contractor joiner gets its contract end", rec: rec(func(r *Record) { r.Kind = gatehouse.KindContractor; r.EndDate = d("2026-12-31") }),
			types: []gatehouse.EventType{gatehouse.EventJoiner, gatehouse.EventContractEnd}, at: []time.Time{now, time.Date(2027, 1, 1, 0, 0, 0, 0, berlin)}, status: gatehouse.StatusActive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := p.Plan(c.prev, c.rec, now)
			if len(ch.Events) != len(c.types) {
				t.Fatalf("events %v, want %v", types(ch.Events), c.types)
			}
			for i, e := range ch.Events {
				if e.Type != c.types[i] {
					t.Fatalf("event %d is %s, want %s", i, e.Type, c.types[i])
				}
				if !e.EffectiveAt.Equal(c.at[i]) {
					t.Errorf("%s effective %s, want %s", e.Type, e.EffectiveAt, c.at[i])
				}
				if e.DedupeKey == "" || e.Source != "hr:bamboo" || e.Actor.Kind != gatehouse.ActorHR {
					t.Errorf("event metadata %+v", e)
				}
				if c.prev != nil && e.Type == gatehouse.EventMover && (e.Previous == nil || e.Previous.Department != c.prev.Department) {
					t.Errorf("mover without Previous = stored identity")
				}
			}
			if c.status != "" && ch.Next.Status != c.status {
				t.Errorf("next status %s, want %s", ch.Next.Status, c.status)
			}
			if len(c.fields) > 0 && !equal(ch.Fields, c.fields) {
				t.Errorf("changed fields %v, want %v", ch.Fields, c.fields)
			}
			// Same input twice: same dedupe keys (one run).
			again := p.Plan(c.prev, c.rec, now.Add(time.Minute))
			for i := range again.Events {
				if again.Events[i].DedupeKey != ch.Events[i].DedupeKey {
					t.Errorf("dedupe key not stable: %s vs %s", again.Events[i].DedupeKey, ch.Events[i].DedupeKey)
				}
			}
		})
	}
}

func types(es []gatehouse.Event) []gatehouse.EventType {
	out := make([]gatehouse.EventType, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type mapLookup struct{ ids []gatehouse.Identity }

func (m mapLookup) byEmployeeID(id string) (*gatehouse.Identity, error) {
	for i := range m.ids {
		if m.ids[i].EmployeeID == id {
			return &m.ids[i], nil
		}
	}
	return nil, nil
}

func (m mapLookup) byEmail(e string) (*gatehouse.Identity, error) {
	for i := range m.ids {
		if m.ids[i].Email == e {
			return &m.ids[i], nil
		}
	}
	return nil, nil
}

func TestMatch(t *testing.T) {
	l := mapLookup{ids: []gatehouse.Identity{
		{Email: "a@example.com", EmployeeID: "1"},
		{Email: "b@example.com", EmployeeID: "2"},
		{Email: "c@example.com"},
	}}
	cases := []struct {
		name      string
		rec       Record
		want      string
		ambiguous bool
	}{
		{"by employee id", Record{EmployeeID: "1", Email: "renamed@example.com"}, "emp:1", false},
		{"by email", Record{Email: "c@example.com", EmployeeID: "3"}, "c@example.com", false},
		{"employee id and email disagree", Record{EmployeeID: "1", Email: "b@example.com"}, "", true},
		{"email owned by another employee id", Record{EmployeeID: "9", Email: "b@example.com"}, "", true},
		{"nobody", Record{EmployeeID: "9", Email: "z@example.com"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, amb, err := match(l, c.rec)
			if err != nil {
				t.Fatal(err)
			}
			if (amb != nil) != c.ambiguous {
				t.Fatalf("ambiguous %v, want %v", amb, c.ambiguous)
			}
			key := ""
			if got != nil {
				key = got.Key()
			}
			if key != c.want {
				t.Fatalf("matched %q, want %q", key, c.want)
			}
		})
	}
}

func TestPlanKeepsTheStoredKey(t *testing.T) {
	p := &Planner{Source: "s", Timing: Timing{JoinerLead: 15 * time.Hour, EndOfDay: true}}
	prev := gatehouse.Identity{Email: "ada@example.com", Name: "Ada", Status: gatehouse.StatusActive, Kind: gatehouse.KindEmployee}
	ch := p.Plan(&prev, Record{EmployeeID: "42", Email: "ada@example.com", Department: "R&D", Status: StatusActive}, time.Now())
	if ch.Next.Key() != "ada@example.com" || ch.Next.EmployeeID != "42" {
		t.Fatalf("key %s, employee id %s", ch.Next.Key(), ch.Next.EmployeeID)
	}
	for _, e := range ch.Events {
		if e.Identity.Key() != "ada@example.com" {
			t.Fatalf("event for %s", e.Identity.Key())
		}
	}
}
