package hr

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// Attributes Gatehouse keeps on identities it learned from an HR system.
const (
	AttrSource          = "hr.source"           // which source the identity came from
	AttrVendorID        = "hr.vendor_id"        // the vendor's id for the person
	AttrTerminationDate = "hr.termination_date" // a termination already scheduled
)

func parseLayout(layout, s string) (gatehouse.Date, error) {
	t, err := time.Parse(layout, s)
	if err != nil {
		return gatehouse.Date{}, err
	}
	return gatehouse.DateOf(t), nil
}

// Timing turns HR dates into instants. Dates are civil: they become instants
// only in the person's zone.
type Timing struct {
	// JoinerLead is how long before the start date's midnight the joiner
	// runs (15h: the day before at 09:00).
	JoinerLead time.Duration
	// EndOfDay makes a date-only termination effective at the end of that
	// day (the last working day), else at its start.
	EndOfDay bool
	// Zone is the default zone for people without one.
	Zone *time.Location
}

func (t Timing) zone(r Record, prev *gatehouse.Identity) *time.Location {
	for _, z := range []string{r.TimeZone, zoneOf(prev)} {
		if z != "" {
			if loc, err := time.LoadLocation(z); err == nil {
				return loc
			}
		}
	}
	if t.Zone != nil {
		return t.Zone
	}
	return time.UTC
}

func zoneOf(id *gatehouse.Identity) string {
	if id == nil {
		return ""
	}
	return id.TimeZone
}

// joinerAt is when a joiner (or rehire) runs: JoinerLead before the start
// date's midnight in loc, or zero (now) when that moment has passed.
func (t Timing) joinerAt(start gatehouse.Date, loc *time.Location, now time.Time) time.Time {
	if start.IsZero() {
		return now
	}
	return future(start.In(loc).Add(-t.JoinerLead), now)
}

// dayBoundary is the start or (EndOfDay) end of d in loc. The end of day is
// the next day's midnight, computed by date so DST days come out right.
func (t Timing) dayBoundary(d gatehouse.Date, loc *time.Location) time.Time {
	if !t.EndOfDay {
		return d.In(loc)
	}
	return time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, loc)
}

// future returns at when it lies after now, else now. Immediate events
// carry now explicitly: the engine would otherwise default a leaver to the
// identity's contract end date.
func future(at, now time.Time) time.Time {
	if at.After(now) {
		return at
	}
	return now
}

// Change is what a planner decided about one record: the events to submit
// and the identity as it should be stored once they are accepted.
type Change struct {
	Record   Record
	Previous *gatehouse.Identity // the stored identity, nil for a joiner
	Next     gatehouse.Identity
	Events   []gatehouse.Event
	Fields   []string // movers: which fields changed
	// Withdraw lists dedupe keys of scheduled events HR took back (a
	// cancelled termination): their runs are cancelled if not yet started.
	Withdraw []string
	// Store reports whether Next differs from Previous and should be written
	// even when no event resulted (e.g. a name or time-zone correction).
	Store bool
}

// Removes reports whether the change terminates or moves someone: those
// count towards the mass-change guard.
func (c Change) Removes() bool {
	for _, e := range c.Events {
		if e.Type == gatehouse.EventLeaver || e.Type == gatehouse.EventMover {
			return true
		}
	}
	return false
}

// moverFields are the fields whose change makes a mover.
var moverFields = []string{"department", "team", "title", "manager_email", "location"}

// MoverValue returns the value of one of the fields whose change makes a
// mover (department, team, title, manager_email, location), as listed in
// Change.Fields.
func MoverValue(id gatehouse.Identity, f string) string {
	switch f {
	case "department":
		return id.Department
	case "team":
		return id.Team
	case "title":
		return id.Title
	case "manager_email":
		return id.ManagerEmail
	case "location":
		return id.Location
	}
	return ""
}

// effectiveStatus infers a status when the vendor gave none.
func effectiveStatus(r Record, today gatehouse.Date) Status {
	if r.Status != StatusUnknown {
		return r.Status
	}
	if !r.TerminationDate.IsZero() {
		return StatusTerminated
	}
	if !r.StartDate.IsZero() && today.Before(r.StartDate) {
		return StatusPending
	}
	return StatusActive
}

// apply builds the identity the record describes, starting from prev so that
// what the HR system does not know (Slack id, attributes set elsewhere) stays.
// Empty record fields never erase stored ones: partial webhooks stay partial.
func apply(prev *gatehouse.Identity, r Record) gatehouse.Identity {
	var id gatehouse.Identity
	if prev != nil {
		id = *prev
		// Pin the stored key: an identity first known by email that now
		// gets an employee id from HR must stay the same identity.
		if id.ID == "" {
			id.ID = prev.Key()
		}
		attrs := make(map[string]string, len(prev.Attributes)+3)
		for k, v := range prev.Attributes {
			attrs[k] = v
		}
		id.Attributes = attrs
	} else {
		id.Kind = gatehouse.KindEmployee
		id.Attributes = map[string]string{}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&id.EmployeeID, r.EmployeeID)
	set(&id.Email, r.Email)
	set(&id.Name, r.Name)
	set(&id.Department, r.Department)
	set(&id.Team, r.Team)
	set(&id.Title, r.Title)
	set(&id.Location, r.Location)
	set(&id.ManagerEmail, r.ManagerEmail)
	set(&id.TimeZone, r.TimeZone)
	set(&id.SlackUserID, r.SlackUserID)
	if r.Kind != "" {
		id.Kind = r.Kind
	}
	if !r.StartDate.IsZero() {
		id.StartDate = r.StartDate
	}
	if !r.EndDate.IsZero() {
		id.EndDate = r.EndDate
	}
	for k, v := range r.Attributes {
		id.Attributes[k] = v
	}
	if r.Source != "" {
		id.Attributes[AttrSource] = r.Source
	}
	if r.VendorID != "" {
		id.Attributes[AttrVendorID] = r.VendorID
	}
	id.Normalize()
	return id
}

// Planner turns HR records into lifecycle events by comparing them with what
// is stored. It is pure: no I/O, so the sync diff and webhook processing share
// it and it is tested without a store.
type Planner struct {
	Source string
	Timing Timing
}

// Plan decides what one record means given the stored identity (nil when
// none matched). Dedupe keys are derived from the state the event moves to,
// so planning the same record twice gives the same keys.
func (p *Planner) Plan(prev *gatehouse.Identity, r Record, now time.Time) Change {
	loc := p.Timing.zone(r, prev)
	today := gatehouse.DateOf(now.In(loc))
	st := effectiveStatus(r, today)
	// A termination date in the future usually comes with status active
	// (the person still works until then); it is a termination all the same,
	// unless a later start date says it is an old one (rehired since).
	if !r.TerminationDate.IsZero() && st != StatusTerminated && !r.TerminationDate.Before(r.StartDate) {
		st = StatusTerminated
	}
	next := apply(prev, r)
	ch := Change{Record: r, Previous: prev, Next: next}
	key := next.Key()
	ev := func(t gatehouse.EventType, at time.Time, dedupe, reason string) gatehouse.Event {
		e := gatehouse.Event{
			ID:          "hr-" + shortHash(dedupe),
			Type:        t,
			Identity:    next,
			EffectiveAt: at,
			Source:      "hr:" + p.Source,
			Actor:       gatehouse.Actor{Kind: gatehouse.ActorHR, ID: p.Source},
			DedupeKey:   dedupe,
			Reason:      reason,
			ReceivedAt:  now,
		}
		if prev != nil && t != gatehouse.EventJoiner {
			pc := *prev
			e.Previous = &pc
		}
		return e
	}
	joinerStatus := func() gatehouse.IdentityStatus {
		if !r.StartDate.IsZero() && today.Before(r.StartDate) {
			return gatehouse.StatusPending
		}
		return gatehouse.StatusActive
	}
	terminationAt := func() time.Time {
		if r.TerminationDate.IsZero() {
			return now
		}
		return future(p.Timing.dayBoundary(r.TerminationDate, loc), now)
	}
	addContractEnd := func() {
		if r.EndDate.IsZero() || (prev != nil && prev.EndDate == r.EndDate && prev.Status != gatehouse.StatusTerminated) {
			return
		}
		if !r.TerminationDate.IsZero() || st == StatusTerminated {
			return // the leaver covers it
		}
		at := future(p.Timing.dayBoundary(r.EndDate, loc), now)
		ch.Events = append(ch.Events, ev(gatehouse.EventContractEnd, at,
			fmt.Sprintf("hr:contract_end:%s:%s", key, r.EndDate), "contract ends "+r.EndDate.String()))
	}

	if prev == nil {
		switch st {
		case StatusTerminated:
			return ch // never had access through us: nothing to do
		case StatusLeave:
			// Someone on leave we never onboarded: onboard on return, not now.
			return ch
		}
		ch.Next.Status = joinerStatus()
		at := p.Timing.joinerAt(r.StartDate, loc, now)
		ch.Events = append(ch.Events, ev(gatehouse.EventJoiner, at,
			fmt.Sprintf("hr:joiner:%s:%s", key, r.StartDate), "new hire in "+p.Source))
		for i := range ch.Events {
			ch.Events[i].Identity = ch.Next
		}
		addContractEnd()
		ch.Store = true
		return ch
	}

	prevTerminated := prev.Status == gatehouse.StatusTerminated
	switch {
	case st == StatusTerminated:
		if prevTerminated {
			break
		}
		td := r.TerminationDate.String()
		if td != "" && prev.Attr(AttrTerminationDate) == td {
			break // already scheduled for that date
		}
		at := terminationAt()
		if !at.After(now) {
			ch.Next.Status = gatehouse.StatusTerminated
		} else {
			ch.Next.Attributes[AttrTerminationDate] = td
		}
		if td == "" {
			td = "now:" + today.String()
		}
		ch.Events = append(ch.Events, ev(gatehouse.EventLeaver, at,
			fmt.Sprintf("hr:leaver:%s:%s", key, td), "terminated in "+p.Source))
	case prevTerminated:
		// Reappearing active (or pending, or on leave) after termination: rehire.
		ch.Next.Status = joinerStatus()
		delete(ch.Next.Attributes, AttrTerminationDate)
		start := r.StartDate
		if start.IsZero() {
			start = today
		}
		ch.Events = append(ch.Events, ev(gatehouse.EventRehire, p.Timing.joinerAt(r.StartDate, loc, now),
			fmt.Sprintf("hr:rehire:%s:%s", key, start), "rehired in "+p.Source))
	case st == StatusLeave && prev.Status != gatehouse.StatusSuspended:
		ch.Next.Status = gatehouse.StatusSuspended
		ch.Events = append(ch.Events, ev(gatehouse.EventLeaveOfAbsence, now,
			fmt.Sprintf("hr:leave_of_absence:%s:%s", key, today), "leave of absence in "+p.Source))
	case (st == StatusActive || st == StatusPending) && prev.Status == gatehouse.StatusSuspended:
		ch.Next.Status = gatehouse.StatusActive
		ch.Events = append(ch.Events, ev(gatehouse.EventReturn, now,
			fmt.Sprintf("hr:return:%s:%s", key, today), "returned from leave in "+p.Source))
	case st == StatusActive && prev.Status == gatehouse.StatusPending && !today.Before(next.StartDate):
		ch.Next.Status = gatehouse.StatusActive
	}
	// A termination that HR withdrew: forget the date so a later one counts,
	// and cancel the leaver run still waiting for it.
	if st != StatusTerminated && prev.Attr(AttrTerminationDate) != "" && r.TerminationDate.IsZero() && !prevTerminated {
		ch.Withdraw = append(ch.Withdraw, fmt.Sprintf("hr:leaver:%s:%s", key, prev.Attr(AttrTerminationDate)))
		delete(ch.Next.Attributes, AttrTerminationDate)
	}
	if st != StatusTerminated && !prevTerminated {
		var changed []string
		for _, f := range moverFields {
			if !strings.EqualFold(MoverValue(*prev, f), MoverValue(ch.Next, f)) {
				changed = append(changed, f)
			}
		}
		if len(changed) > 0 {
			var b strings.Builder
			for _, f := range changed {
				fmt.Fprintf(&b, "|%s=%s>%s", f, MoverValue(*prev, f), MoverValue(ch.Next, f))
			}
			ch.Fields = changed
			ch.Events = append(ch.Events, ev(gatehouse.EventMover, now,
				fmt.Sprintf("hr:mover:%s:%s:%s", key, shortHash(b.String()), today),
				"changed "+strings.Join(changed, ", ")+" in "+p.Source))
		}
		addContractEnd()
	}
	for i := range ch.Events {
		ch.Events[i].Identity = ch.Next
	}
	ch.Store = len(ch.Events) > 0 || len(ch.Withdraw) > 0 || !sameIdentity(*prev, ch.Next)
	return ch
}

// sameIdentity compares the fields HR owns.
func sameIdentity(a, b gatehouse.Identity) bool {
	if a.Email != b.Email || a.Name != b.Name || a.EmployeeID != b.EmployeeID || a.Department != b.Department ||
		a.Team != b.Team || a.Title != b.Title || a.Location != b.Location || a.ManagerEmail != b.ManagerEmail ||
		a.TimeZone != b.TimeZone || a.SlackUserID != b.SlackUserID || a.Kind != b.Kind || a.Status != b.Status ||
		a.StartDate != b.StartDate || a.EndDate != b.EndDate || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for k, v := range a.Attributes {
		if b.Attributes[k] != v {
			return false
		}
	}
	return true
}

// Ambiguity is a record Gatehouse refused to match: the employee id points at
// one identity and the email at another, or two records share an email. It
// names identities by key and records by employee id: no further PII.
type Ambiguity struct {
	Source     string
	EmployeeID string
	Email      string // needed by IT to resolve it; never logged
	Reason     string
	Candidates []string // identity keys
}

// lookup finds stored identities; the sync uses an in-memory index, webhook
// processing the store itself.
type lookup interface {
	byEmployeeID(id string) (*gatehouse.Identity, error)
	byEmail(email string) (*gatehouse.Identity, error)
}

// match finds the stored identity for r: by employee id, then by email.
// Disagreement is ambiguous and returned as such, never guessed.
func match(l lookup, r Record) (*gatehouse.Identity, *Ambiguity, error) {
	var byEmp, byEmail *gatehouse.Identity
	var err error
	if r.EmployeeID != "" {
		if byEmp, err = l.byEmployeeID(r.EmployeeID); err != nil {
			return nil, nil, err
		}
	}
	if r.Email != "" {
		if byEmail, err = l.byEmail(r.Email); err != nil {
			return nil, nil, err
		}
	}
	amb := func(reason string, ids ...*gatehouse.Identity) *Ambiguity {
		a := &Ambiguity{Source: r.Source, EmployeeID: r.EmployeeID, Email: r.Email, Reason: reason}
		for _, id := range ids {
			a.Candidates = append(a.Candidates, id.Key())
		}
		sort.Strings(a.Candidates)
		return a
	}
	switch {
	case byEmp != nil && byEmail != nil && byEmp.Key() != byEmail.Key():
		return nil, amb("employee id matches one identity and email another", byEmp, byEmail), nil
	case byEmp != nil:
		return byEmp, nil, nil
	case byEmail != nil:
		if byEmail.EmployeeID != "" && r.EmployeeID != "" && byEmail.EmployeeID != r.EmployeeID {
			return nil, amb("email belongs to an identity with a different employee id", byEmail), nil
		}
		return byEmail, nil, nil
	}
	return nil, nil, nil
}
