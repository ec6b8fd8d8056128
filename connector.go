package gatehouse

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Capability is an operation a connector can perform.
type Capability string

// Connector capabilities.
const (
	CapEnsureAccount     Capability = "ensure_account"
	CapDisable           Capability = "disable"
	CapEnable            Capability = "enable"
	CapDelete            Capability = "delete"
	CapGrant             Capability = "grant"
	CapRevoke            Capability = "revoke"
	CapRevokeSessions    Capability = "revoke_sessions"
	CapListAccounts      Capability = "list_accounts"
	CapTransferOwnership Capability = "transfer_ownership"
)

// AllCapabilities lists every capability in a stable order.
var AllCapabilities = []Capability{CapEnsureAccount, CapDisable, CapEnable, CapDelete, CapGrant, CapRevoke, CapRevokeSessions, CapListAccounts, CapTransferOwnership}

// Capabilities is the set of operations a connector supports.
type Capabilities map[Capability]bool

// NewCapabilities builds a set.
func NewCapabilities(cs ...Capability) Capabilities {
	s := make(Capabilities, len(cs))
	for _, c := range cs {
		s[c] = true
	}
	return s
}

// Has reports whether c is supported.
func (s Capabilities) Has(c Capability) bool { return s[c] }

// List returns the supported capabilities sorted.
func (s Capabilities) List() []Capability {
	out := make([]Capability, 0, len(s))
	for c, ok := range s {
		if ok {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// AccountRef tells a connector whose account an operation is about. Connectors
// match on AccountID when they returned one earlier, else on their own natural
// key (userName, email, externalId = employee id).
type AccountRef struct {
	IdentityKey string            `json:"identity_key"`
	AccountID   string            `json:"account_id,omitempty"` // the app's id, once known
	Email       string            `json:"email"`
	UserName    string            `json:"user_name,omitempty"`
	Name        string            `json:"name,omitempty"`
	GivenName   string            `json:"given_name,omitempty"`
	FamilyName  string            `json:"family_name,omitempty"`
	EmployeeID  string            `json:"employee_id,omitempty"`
	Title       string            `json:"title,omitempty"`
	Department  string            `json:"department,omitempty"`
	Manager     string            `json:"manager,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// RefFor builds the account reference of an identity.
func RefFor(id Identity) AccountRef {
	given, family := splitName(id.Name)
	return AccountRef{
		IdentityKey: id.Key(), Email: id.Email, UserName: id.Email, Name: id.Name,
		GivenName: given, FamilyName: family, EmployeeID: id.EmployeeID, Title: id.Title,
		Department: id.Department, Manager: id.ManagerEmail, Attributes: id.Attributes,
	}
}

// Field returns one of the reference's fields by the name connector
// settings use for it (email, user_name, name, given_name, family_name,
// employee_id, title, department, manager, identity_key); ok is false for
// any other name, so each connector can add its own (attributes, uid…).
func (r AccountRef) Field(name string) (v string, ok bool) {
	switch name {
	case "email":
		return r.Email, true
	case "user_name":
		return r.UserName, true
	case "name":
		return r.Name, true
	case "given_name":
		return r.GivenName, true
	case "family_name":
		return r.FamilyName, true
	case "employee_id":
		return r.EmployeeID, true
	case "title":
		return r.Title, true
	case "department":
		return r.Department, true
	case "manager":
		return r.Manager, true
	case "identity_key":
		return r.IdentityKey, true
	}
	return "", false
}

func splitName(n string) (string, string) {
	n = strings.TrimSpace(n)
	if i := strings.LastIndexByte(n, ' '); i > 0 {
		return n[:i], n[i+1:]
	}
	return n, ""
}

// Account is an account as an app reports it.
type Account struct {
	ID           string    `json:"id"`
	UserName     string    `json:"user_name,omitempty"`
	Email        string    `json:"email,omitempty"`
	DisplayName  string    `json:"display_name,omitempty"`
	EmployeeID   string    `json:"employee_id,omitempty"`
	Active       bool      `json:"active"`
	LastActivity time.Time `json:"last_activity,omitzero"`
	// Entitlements the account holds, by entitlement name where the connector
	// can map them back to configured entitlements, else by the app's resource name.
	Entitlements []string `json:"entitlements,omitempty"`
	// Attributes are attributes Gatehouse sets or reads back (title,
	// department, manager, SCIM enterprise fields…), as the app reports them.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// AccountReader is implemented by connectors that can read one account back
// from the app. After a leaver's steps the engine re-reads every account the
// run closed and records what the app shows as the evidence: an entitlement
// is recorded as revoked only when the re-read confirms it is gone, and a
// mismatch becomes an escalated task. Evidence never says what the app does
// not show.
type AccountReader interface {
	// ReadAccount returns the app's current view of ref's account: Active,
	// Entitlements (entitlement names where the connector maps them back,
	// else the app's resource names) and Attributes. An account that does
	// not exist returns an error that classifies as NotFound.
	ReadAccount(ctx context.Context, ref AccountRef) (Account, error)
}

// Connector is how Gatehouse changes access inside one app. Every operation is
// idempotent: ensuring an account that exists, granting what is held, revoking
// what is gone, disabling what is disabled are all successes. Operations a
// connector cannot do return an error wrapping ErrUnsupported; callers consult
// Capabilities first. Errors are classified with the helpers below so the
// executor knows whether to retry, wait, or escalate.
type Connector interface {
	// Name is the configured app name this connector serves.
	Name() string
	Capabilities() Capabilities
	// EnsureAccount creates the account if missing (and re-enables it if it was
	// disabled), returning the app's view of it.
	EnsureAccount(ctx context.Context, ref AccountRef) (Account, error)
	Disable(ctx context.Context, ref AccountRef) error
	Enable(ctx context.Context, ref AccountRef) error
	Delete(ctx context.Context, ref AccountRef) error
	Grant(ctx context.Context, ref AccountRef, ent Entitlement) error
	Revoke(ctx context.Context, ref AccountRef, ent Entitlement) error
	// RevokeSessions signs the account out everywhere and revokes its tokens.
	RevokeSessions(ctx context.Context, ref AccountRef) error
	// ListAccounts returns every account in the app, for reconciliation and
	// dormant-access detection.
	ListAccounts(ctx context.Context) ([]Account, error)
	// TransferOwnership moves what from owns (files, repos, dashboards) to to.
	TransferOwnership(ctx context.Context, from, to AccountRef) error
}

// ErrorClass tells the executor what to do with a failed operation.
type ErrorClass int

// Error classes. NotFound counts as done for revoke, disable and delete.
const (
	ClassUnknown ErrorClass = iota // unclassified: treated as retryable
	ClassRetryable
	ClassRateLimited
	ClassPermanent
	ClassNotFound
	// ClassPending means the operation was handed to a person (a manual task)
	// and is not done yet: the step waits, it does not retry or fail.
	ClassPending
	// ClassInProgress means the app accepted the operation and carries it
	// out asynchronously (Google's Data Transfer, an export job): the step
	// asks again after RetryAfter, and the wait does not count as an attempt.
	ClassInProgress
)

func (c ErrorClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "unknown"
	}
	return classNames[c]
}

var classNames = [...]string{"unknown", "retryable", "rate_limited", "permanent", "not_found", "pending", "in_progress"}

// Sentinel errors callers branch on.
var (
	ErrUnsupported = errors.New("operation not supported by this connector")
	ErrNotFound    = errors.New("not found")
	ErrPending     = errors.New("waiting for a person to complete a manual task")
	// ErrNoTransferTarget says the receiver of an ownership transfer has no
	// account in the app; the engine moves to the next receiver of the
	// fallback ladder (manager → app owner → IT). Connectors wrap it in
	// Permanent: it must never read as NotFound, which means "nothing to
	// transfer".
	ErrNoTransferTarget = errors.New("the transfer's receiver has no account in this app")
)

// ConnectorError carries a classification and, for rate limits, how long to wait.
type ConnectorError struct {
	Class      ErrorClass
	RetryAfter time.Duration
	Err        error
}

func (e *ConnectorError) Error() string {
	if e.Class == ClassRateLimited && e.RetryAfter > 0 {
		return fmt.Sprintf("%s (rate limited, retry after %s)", e.Err, e.RetryAfter)
	}
	return e.Err.Error()
}

func (e *ConnectorError) Unwrap() error { return e.Err }

// Retryable marks err as transient (timeouts, 5xx, connection resets).
func Retryable(err error) error { return &ConnectorError{Class: ClassRetryable, Err: err} }

// Permanent marks err as not worth retrying (bad request, forbidden, bad config).
func Permanent(err error) error { return &ConnectorError{Class: ClassPermanent, Err: err} }

// RateLimited marks err as a rate limit; after is the server's Retry-After (0 if none).
func RateLimited(after time.Duration, err error) error {
	return &ConnectorError{Class: ClassRateLimited, RetryAfter: after, Err: err}
}

// NotFound marks err as "the thing is not there". It also matches ErrNotFound.
func NotFound(err error) error {
	return &ConnectorError{Class: ClassNotFound, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
}

// InProgress marks an operation the app is still carrying out; the engine
// asks again after after (a sensible default when 0).
func InProgress(after time.Duration, err error) error {
	return &ConnectorError{Class: ClassInProgress, RetryAfter: after, Err: err}
}

// Pending marks an operation as handed to a person; taskID names the task.
func Pending(taskID string) error {
	return &ConnectorError{Class: ClassPending, Err: fmt.Errorf("%w (task %s)", ErrPending, taskID)}
}

// Classify returns err's class: from a ConnectorError in its chain, ErrNotFound,
// ErrUnsupported (permanent), context cancellation (retryable, since the step
// did not finish), else ClassUnknown. nil is ClassUnknown too; check err first.
func Classify(err error) ErrorClass {
	var ce *ConnectorError
	switch {
	case err == nil:
		return ClassUnknown
	case errors.As(err, &ce):
		return ce.Class
	case errors.Is(err, ErrNotFound):
		return ClassNotFound
	case errors.Is(err, ErrPending):
		return ClassPending
	case errors.Is(err, ErrUnsupported):
		return ClassPermanent
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ClassRetryable
	}
	return ClassUnknown
}

// RetryAfterOf returns the wait a rate-limited error asked for, or 0.
func RetryAfterOf(err error) time.Duration {
	var ce *ConnectorError
	if errors.As(err, &ce) {
		return ce.RetryAfter
	}
	return 0
}

type opKeyCtx struct{}

// WithOperationKey attaches the executing step's idempotency key (stable across
// retries and restarts, e.g. "RUNID/STEPID") to ctx. Connectors that create
// things which cannot be matched by a natural key (manual tasks, requests to
// APIs that accept an idempotency header) use it to avoid doing work twice.
func WithOperationKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, opKeyCtx{}, key)
}

// OperationKey returns the key set by WithOperationKey, or "".
func OperationKey(ctx context.Context) string {
	s, _ := ctx.Value(opKeyCtx{}).(string)
	return s
}
