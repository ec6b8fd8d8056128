package hr

import (
	"context"
	"errors"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// Store is what the HR intake needs from the database. *store.DB satisfies
// it; the job queue is the durable inbox of webhook deliveries.
type Store interface {
	ScheduleJob(job store.Job, audit ...gatehouse.AuditEntry) error
	DueJobs(now time.Time, limit int) ([]store.Job, error)
	DeleteJob(id string, audit ...gatehouse.AuditEntry) error
	GetJob(id string) (store.Job, error)
	MarkSeen(key string, ttl time.Duration, audit ...gatehouse.AuditEntry) (bool, error)
	IdentityByEmail(email string) (gatehouse.Identity, error)
	IdentityByEmployeeID(employeeID string) (gatehouse.Identity, error)
	EachIdentity(fn func(gatehouse.Identity) error) error
	PutIdentity(id gatehouse.Identity, audit ...gatehouse.AuditEntry) (gatehouse.Identity, error)
}

var _ Store = (*store.DB)(nil)

// Submitter hands events to the lifecycle engine. holdReason, when not
// empty, asks for the run to be created held (the mass-change guard) until
// IT releases or discards it. created is false when the event's DedupeKey
// already had a run: the same input twice gives one run.
type Submitter interface {
	Submit(ctx context.Context, ev gatehouse.Event, holdReason string) (run gatehouse.Run, created bool, err error)
}

// SubmitFunc adapts a function to Submitter.
type SubmitFunc func(ctx context.Context, ev gatehouse.Event, holdReason string) (gatehouse.Run, bool, error)

// Submit calls f.
func (f SubmitFunc) Submit(ctx context.Context, ev gatehouse.Event, holdReason string) (gatehouse.Run, bool, error) {
	return f(ctx, ev, holdReason)
}

// Notifier tells people what the HR intake did or could not decide. The bot
// implements it (Slack); errors are logged, never retried by the intake,
// because the runs themselves are already recorded.
type Notifier interface {
	// NewHirePlanned tells the manager, before day one, that the new hire's
	// accounts are being prepared.
	NewHirePlanned(ctx context.Context, id gatehouse.Identity, run gatehouse.Run) error
	// TerminationReceived tells the IT channel a termination arrived and
	// when it takes effect (zero: now).
	TerminationReceived(ctx context.Context, id gatehouse.Identity, effectiveAt time.Time) error
	// AmbiguousMatch asks IT to resolve a record Gatehouse would not guess.
	AmbiguousMatch(ctx context.Context, a Ambiguity) error
	// MassChangeHeld asks IT to confirm or discard held runs.
	MassChangeHeld(ctx context.Context, s MassChange) error
}

// MassChange summarizes what the guard held.
type MassChange struct {
	Source     string
	Origin     string // "sync" or "webhook"
	Leavers    int
	Movers     int
	Identities int // how many identities the share was computed against
	InWindow   int // terminations and moves seen within the window, this batch included
	Window     time.Duration
	RunIDs     []string
	Reason     string
}

// NopNotifier drops notifications (tests, CLI runs without Slack).
type NopNotifier struct{}

// NewHirePlanned does nothing.
func (NopNotifier) NewHirePlanned(context.Context, gatehouse.Identity, gatehouse.Run) error {
	return nil
}

// TerminationReceived does nothing.
func (NopNotifier) TerminationReceived(context.Context, gatehouse.Identity, time.Time) error {
	return nil
}

// AmbiguousMatch does nothing.
func (NopNotifier) AmbiguousMatch(context.Context, Ambiguity) error { return nil }

// MassChangeHeld does nothing.
func (NopNotifier) MassChangeHeld(context.Context, MassChange) error { return nil }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// storeLookup looks identities up in the store (webhook processing).
type storeLookup struct{ s Store }

func (l storeLookup) byEmployeeID(id string) (*gatehouse.Identity, error) {
	v, err := l.s.IdentityByEmployeeID(id)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func (l storeLookup) byEmail(email string) (*gatehouse.Identity, error) {
	v, err := l.s.IdentityByEmail(email)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}
