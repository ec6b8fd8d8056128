package gatehouse

import (
	"fmt"
	"time"
)

// EventType is a lifecycle event: what happened to an identity.
type EventType string

// Lifecycle events.
const (
	EventJoiner         EventType = "joiner"
	EventMover          EventType = "mover"
	EventLeaver         EventType = "leaver"
	EventRehire         EventType = "rehire"
	EventLeaveOfAbsence EventType = "leave_of_absence"
	EventReturn         EventType = "return"
	EventContractEnd    EventType = "contract_end"
	EventExpiry         EventType = "expiry" // a non-human identity reached its expiry
)

// EventTypes lists every event type in a stable order.
var EventTypes = []EventType{EventJoiner, EventMover, EventLeaver, EventRehire, EventLeaveOfAbsence, EventReturn, EventContractEnd, EventExpiry}

// ParseEventType validates an event name.
func ParseEventType(s string) (EventType, error) {
	for _, e := range EventTypes {
		if string(e) == s {
			return e, nil
		}
	}
	return "", fmt.Errorf("event %q is not one of %v", s, EventTypes)
}

// Removes reports whether the event closes access paths (leaver-like).
func (e EventType) Removes() bool {
	return e == EventLeaver || e == EventContractEnd || e == EventExpiry
}

// ActorKind says who or what caused something: a person, a rule, the HR system,
// a schedule, or Gatehouse itself.
type ActorKind string

// Actor kinds.
const (
	ActorPerson   ActorKind = "person"
	ActorRule     ActorKind = "rule"
	ActorHR       ActorKind = "hr"
	ActorSchedule ActorKind = "schedule"
	ActorSystem   ActorKind = "system"
)

// Actor names who or what acted, e.g. {person, ada@example.com} or
// {hr, bamboohr}.
type Actor struct {
	Kind ActorKind `json:"kind"`
	ID   string    `json:"id"`
}

func (a Actor) String() string { return string(a.Kind) + ":" + a.ID }

// Event is a lifecycle event for one identity, from whichever door it came in
// (HR webhook, HR sync, slash command, CLI, schedule).
type Event struct {
	ID          string    `json:"id"`
	Type        EventType `json:"type"`
	Identity    Identity  `json:"identity"`
	Previous    *Identity `json:"previous,omitempty"` // movers: the identity before the change
	EffectiveAt time.Time `json:"effective_at,omitzero"`
	Source      string    `json:"source"`     // e.g. "hr:bamboohr", "slack:/offboard", "cli"
	Actor       Actor     `json:"actor"`      // who asked for it
	DedupeKey   string    `json:"dedupe_key"` // the same key twice means the same event: one run
	Reason      string    `json:"reason,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
}
