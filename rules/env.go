package rules

import (
	"time"

	"github.com/gatehousehq/gatehouse"
)

// Env is the typed environment every rule expression is compiled against and
// evaluated in. Its shape is the policy language's public surface (see
// docs/rules.md): field names are the `expr` tags.
//
// Helpers that need the identity or `now` (hasAttr, attr, daysUntil) are
// function-valued fields bound once to a pooled Env, so calling them costs no
// allocation and no compile; pure helpers (inList, matches) are rewritten into
// expr's own `in` and `matches` operators at compile time, which precompiles
// literal regular expressions.
type Env struct {
	Identity *Person   `expr:"identity"`
	Previous *Person   `expr:"previous"` // nil unless the identity is a mover (Input.Previous set)
	Event    string    `expr:"event"`
	Now      time.Time `expr:"now"`

	DaysUntil func(time.Time) int `expr:"daysUntil"`
	HasAttr   func(string) bool   `expr:"hasAttr"`
	Attr      func(string) string `expr:"attr"`

	// storage so that filling an Env allocates nothing
	cur, prev Person
}

// Person is an identity as rules see it. Dates are time.Time at midnight in
// the organization's time zone (zero when unset), so they compare with `now`
// and with each other using <, >, ==.
type Person struct {
	Kind         string            `expr:"kind"`
	Email        string            `expr:"email"`
	Name         string            `expr:"name"`
	EmployeeID   string            `expr:"employee_id"`
	Department   string            `expr:"department"`
	Team         string            `expr:"team"`
	Title        string            `expr:"title"`
	Location     string            `expr:"location"`
	ManagerEmail string            `expr:"manager_email"`
	StartDate    time.Time         `expr:"start_date"`
	EndDate      time.Time         `expr:"end_date"`
	Status       string            `expr:"status"`
	Owner        string            `expr:"owner"`
	Purpose      string            `expr:"purpose"`
	Expiry       time.Time         `expr:"expiry"`
	Attributes   map[string]string `expr:"attributes"`
	Seniority    string            `expr:"seniority"` // attributes["seniority"]
	IsHuman      bool              `expr:"is_human"`
}

func (p *Person) fill(id *gatehouse.Identity, loc *time.Location) {
	*p = Person{
		Kind: string(id.Kind), Email: id.Email, Name: id.Name, EmployeeID: id.EmployeeID,
		Department: id.Department, Team: id.Team, Title: id.Title, Location: id.Location,
		ManagerEmail: id.ManagerEmail, StartDate: id.StartDate.In(loc), EndDate: id.EndDate.In(loc),
		Status: string(id.Status), Owner: id.Owner, Purpose: id.Purpose, Expiry: id.Expiry.In(loc),
		Attributes: id.Attributes, Seniority: id.Attributes["seniority"], IsHuman: id.Kind.Human(),
	}
}

// newEnv returns an Env whose helper functions are bound to itself.
func newEnv(loc *time.Location) *Env {
	e := &Env{}
	e.HasAttr = func(name string) bool {
		_, ok := e.Identity.Attributes[name]
		return ok
	}
	e.Attr = func(name string) string { return e.Identity.Attributes[name] }
	e.DaysUntil = func(t time.Time) int { return daysBetween(e.Now, t, loc) }
	return e
}

// set points the env at an input. now is converted to the org zone so that
// date arithmetic is in calendar days where the company is.
func (e *Env) set(id *gatehouse.Identity, prev *gatehouse.Identity, ev gatehouse.EventType, now time.Time, loc *time.Location) {
	e.cur.fill(id, loc)
	e.Identity = &e.cur
	e.Previous = nil
	if prev != nil {
		e.prev.fill(prev, loc)
		e.Previous = &e.prev
	}
	e.Event = string(ev)
	e.Now = now.In(loc)
}

// daysBetween counts calendar days from a's date to b's date in loc:
// tomorrow is 1, yesterday -1, whatever the time of day.
func daysBetween(a, b time.Time, loc *time.Location) int {
	if b.IsZero() {
		return 0
	}
	ay, am, ad := a.In(loc).Date()
	by, bm, bd := b.In(loc).Date()
	da := time.Date(ay, am, ad, 12, 0, 0, 0, time.UTC)
	db := time.Date(by, bm, bd, 12, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}
