// Package simulated is an in-memory app for demos, tests and benchmarks: the
// "simulated" connector type. It implements every capability, and can be made
// to behave like a real vendor API: latency with jitter, a failure rate of
// retryable 503-style errors (deterministic for a seed), a token-bucket rate
// limit that answers excess requests with RateLimited and counts them, and
// injected faults (SetFailNext, SetFailNextAfterApply).
//
// Every applied operation is logged with counters per (operation, account,
// entitlement), so tests can assert that retries and restarts never applied an
// effect twice: Effects("ensure_account", "alice@example.com", "") must be 1
// however often the step ran.
//
// With a state file the app's state (accounts, log, counters) is written
// atomically and fsynced after every mutation and loaded on construction, so
// a process killed mid-run and restarted sees the effects the first one had.
// Processes sharing a state file serialise their operations with a lock
// file (STATE.lock, flock) and reload the state when another process
// changed it, so they see one app. The file keeps the last
// MaxPersistedOps entries of the operation log; counters are complete.
//
// The simulated connector is never chosen implicitly for a real app: an app
// uses it when its config says `connector: simulated`, or when every app is
// simulated with --simulate. In the latter case the app's own settings belong
// to its real connector and are ignored; each simulated app keeps a state
// file DIR/APP.json in GATEHOUSE_SIMULATE_STATE_DIR, else in
// connectors.Deps.SimulateStateDir (the CLI puts it beside the database), so
// that one command's effects are visible to the next.
//
//	apps:
//	  demo:
//	    connector: simulated
//	    owner: it@example.com
//	    settings:
//	      latency: 40ms
//	      jitter: 20ms
//	      failure_rate: 0.05        # retryable 503s
//	      seed: 42
//	      rate_per_second: 10
//	      burst: 5
//	      state_file: /tmp/demo-app.json
//	      accounts:                 # present before Gatehouse does anything
//	        - {user_name: old.admin@example.com, email: old.admin@example.com, entitlements: [admin], last_activity: 200d ago}
package simulated

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/rs/zerolog"
)

// Type is the connector type name.
const Type = "simulated"

// StateDirEnv names the environment variable that gives --simulate runs a
// directory of state files, one per app.
const StateDirEnv = "GATEHOUSE_SIMULATE_STATE_DIR"

func init() { connectors.Register(Type, factory) }

// Options configure a simulated app. The zero value is a fast, reliable,
// unlimited, in-memory app.
type Options struct {
	// Latency is added to every operation; Jitter adds a uniformly random
	// extra in [0, Jitter).
	Latency time.Duration
	Jitter  time.Duration
	// FailureRate is the fraction (0..1) of operations that fail with a
	// retryable 503-style error before applying anything.
	FailureRate float64
	// Seed makes jitter and failures reproducible; 0 means seed 1.
	Seed uint64
	// RatePerSecond and Burst describe a token bucket; requests beyond it fail
	// with a RateLimited error carrying a retry-after, and are counted as
	// violations. RatePerSecond 0 means unlimited; Burst 0 means 1.
	RatePerSecond float64
	Burst         int
	// StateFile, when set, persists the state after every mutation and loads
	// it on construction.
	StateFile string
	// Accounts are present before Gatehouse does anything (ignored when a
	// state file already exists: the saved state wins).
	Accounts []SeedAccount
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger zerolog.Logger
}

// SeedAccount is an account the app has from the start, e.g. one Gatehouse
// never granted, for discovery and dormant-access tests.
type SeedAccount struct {
	UserName     string    `yaml:"user_name" json:"user_name"`
	Email        string    `yaml:"email" json:"email"`
	Name         string    `yaml:"name" json:"name"`
	EmployeeID   string    `yaml:"employee_id" json:"employee_id"`
	Disabled     bool      `yaml:"disabled" json:"disabled"`
	Entitlements []string  `yaml:"entitlements" json:"entitlements"`
	Owns         []string  `yaml:"owns" json:"owns"`
	Sessions     int       `yaml:"sessions" json:"sessions"`
	LastActivity Timestamp `yaml:"last_activity" json:"last_activity"`
}

// AccountState is everything the simulated app knows about one account.
type AccountState struct {
	ID           string   `json:"id"`
	UserName     string   `json:"user_name"`
	Email        string   `json:"email"`
	DisplayName  string   `json:"display_name,omitempty"`
	EmployeeID   string   `json:"employee_id,omitempty"`
	Active       bool     `json:"active"`
	Entitlements []string `json:"entitlements,omitempty"` // sorted entitlement names
	Owns         []string `json:"owns,omitempty"`         // resources owned, moved by TransferOwnership
	Sessions     int      `json:"sessions,omitempty"`     // live sessions, cleared by RevokeSessions
	// Attributes are what EnsureAccount was told about the person (title,
	// department, manager), read back by ReadAccount.
	Attributes   map[string]string `json:"attributes,omitempty"`
	CreatedAt    time.Time         `json:"created_at,omitzero"`
	LastActivity time.Time         `json:"last_activity,omitzero"`
}

// Account returns the account as the Connector interface reports it.
func (a AccountState) Account() gatehouse.Account {
	return gatehouse.Account{
		ID: a.ID, UserName: a.UserName, Email: a.Email, DisplayName: a.DisplayName, EmployeeID: a.EmployeeID,
		Active: a.Active, LastActivity: a.LastActivity, Entitlements: append([]string(nil), a.Entitlements...),
		Attributes: maps.Clone(a.Attributes),
	}
}

// Op is one applied (successful, or applied-then-failed) operation.
type Op struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Op is the capability name: ensure_account, grant, revoke, disable,
	// enable, delete, revoke_sessions, list_accounts, transfer_ownership.
	Op string `json:"op"`
	// Account is the account's user name in lower case (the stable key tests
	// know before any id exists); AccountID its id.
	Account   string `json:"account,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	// Entitlement is the entitlement name (grant, revoke) or the target
	// account (transfer_ownership).
	Entitlement string `json:"entitlement,omitempty"`
	// Effect says what changed: created, enabled, granted, revoked, disabled,
	// deleted, sessions_revoked, transferred; "" for an idempotent no-op.
	Effect       string `json:"effect,omitempty"`
	OperationKey string `json:"operation_key,omitempty"`
}

// Counter counts calls and effects of one (op, account, entitlement).
type Counter struct {
	Calls   int `json:"calls"`
	Effects int `json:"effects"`
}

// State is the persisted form of the app.
type State struct {
	Version    int                      `json:"version"`
	NextID     int                      `json:"next_id"`
	Accounts   map[string]*AccountState `json:"accounts"` // by id
	Ops        []Op                     `json:"ops"`
	Counters   map[string]*Counter      `json:"counters"` // by counterKey
	Violations int64                    `json:"violations"`
}

// maxOps bounds the in-memory log; counters are kept regardless.
const maxOps = 200_000

// MaxPersistedOps is how much of the operation log a state file keeps, so
// that writing it after every operation stays cheap.
const MaxPersistedOps = 200

func counterKey(op, account, ent string) string { return op + "|" + account + "|" + ent }

// LoadState reads a state file written by a simulated connector, for tests
// that check an app's state from outside the process that changed it.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulated: read state: %w", err)
	}
	st := &State{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("simulated: parse state %s: %w", path, err)
	}
	st.init()
	return st, nil
}

func (st *State) init() {
	if st.Accounts == nil {
		st.Accounts = map[string]*AccountState{}
	}
	if st.Counters == nil {
		st.Counters = map[string]*Counter{}
	}
	if st.Version == 0 {
		st.Version = 1
	}
}

// Effects returns how many times op changed the app for (account, entitlement).
func (st *State) Effects(op, account, ent string) int {
	if c := st.Counters[counterKey(op, strings.ToLower(account), ent)]; c != nil {
		return c.Effects
	}
	return 0
}

// Connector is a simulated app.
type Connector struct {
	name string
	opts Options
	now  func() time.Time
	log  zerolog.Logger

	mu       sync.Mutex
	st       *State
	rng      *rand.Rand
	tokens   float64
	last     time.Time
	failNext []failure
	failLost int
	// stuck entitlements answer Revoke with success without removing
	// anything, like a server that refuses to drop a membership silently.
	stuck map[string]bool
	// lastFile identifies the state file as this process last read or
	// wrote it; a different file means another process changed the state.
	lastFile os.FileInfo
}

type failure struct{ class gatehouse.ErrorClass }

var (
	_ gatehouse.Connector     = (*Connector)(nil)
	_ gatehouse.AccountReader = (*Connector)(nil)
)

// capReadAccount names ReadAccount in the operation log's read-only class
// (reads are paced and can fail like any operation, but are not logged).
const capReadAccount gatehouse.Capability = "read_account"

// New builds a simulated app. It panics if a state file is set and cannot be
// loaded or written; use Open to get the error instead.
func New(name string, opts Options) *Connector {
	c, err := Open(name, opts)
	if err != nil {
		panic(err)
	}
	return c
}

// Open builds a simulated app, loading opts.StateFile if it exists.
func Open(name string, opts Options) (*Connector, error) {
	if opts.FailureRate < 0 || opts.FailureRate > 1 {
		return nil, fmt.Errorf("simulated %s: failure rate %v is not within 0..1", name, opts.FailureRate)
	}
	c := &Connector{name: name, opts: opts, now: opts.Now, log: opts.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	c.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c.tokens = float64(c.burst())
	c.last = c.now()
	if opts.StateFile != "" {
		unlock, err := lockState(opts.StateFile)
		if err != nil {
			return nil, fmt.Errorf("simulated %s: %w", name, err)
		}
		defer unlock()
		removeStaleTemps(opts.StateFile, c.log)
		st, err := LoadState(opts.StateFile)
		switch {
		case err == nil:
			c.st = st
			c.lastFile, _ = os.Stat(opts.StateFile)
			return c, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	c.st = &State{}
	c.st.init()
	now := c.now()
	for i, s := range opts.Accounts {
		user := s.UserName
		if user == "" {
			user = s.Email
		}
		if user == "" {
			return nil, fmt.Errorf("simulated %s: seed account %d has neither user_name nor email", name, i)
		}
		if c.findLocked(gatehouse.AccountRef{UserName: user, Email: s.Email}) != nil {
			return nil, fmt.Errorf("simulated %s: seed account %q is listed twice", name, user)
		}
		a := c.newAccountLocked(user, s.Email, s.Name, s.EmployeeID, now)
		a.Active = !s.Disabled
		a.Entitlements = sortedSet(s.Entitlements)
		a.Owns = append([]string(nil), s.Owns...)
		a.Sessions = s.Sessions
		a.LastActivity = s.LastActivity.resolve(now)
	}
	if err := c.persistLocked(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Connector) burst() int {
	if c.opts.Burst <= 0 {
		return 1
	}
	return c.opts.Burst
}

// Name implements gatehouse.Connector.
func (c *Connector) Name() string { return c.name }

// Capabilities implements gatehouse.Connector: everything.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	return gatehouse.NewCapabilities(gatehouse.AllCapabilities...)
}

// SetFailNext makes the next n operations fail with an error of class,
// before applying anything (ClassUnknown gives an unclassified error).
func (c *Connector) SetFailNext(n int, class gatehouse.ErrorClass) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext = c.failNext[:0]
	for range n {
		c.failNext = append(c.failNext, failure{class})
	}
}

// SetFailNextAfterApply makes the next n mutating operations apply their
// effect and then fail with a retryable error, as when a response is lost:
// the caller must retry and the retry must not apply the effect again.
func (c *Connector) SetFailNextAfterApply(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLost = n
}

// SetStuck makes Revoke of the named entitlement answer success without
// removing it (a vendor that silently keeps a membership), so tests can
// prove the engine's re-read catches what the answer hid. No names clears it.
func (c *Connector) SetStuck(ents ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stuck = map[string]bool{}
	for _, e := range ents {
		c.stuck[e] = true
	}
}

// ReadAccount implements gatehouse.AccountReader: the account's state as
// stored, found like every other operation finds it.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	var out gatehouse.Account
	err := c.apply(ctx, capReadAccount, func() (Op, error) {
		a := c.findLocked(ref)
		if a == nil {
			return Op{}, gatehouse.NotFound(fmt.Errorf("simulated %s: read account %s", c.name, refName(ref)))
		}
		out = a.Account()
		return Op{}, nil
	})
	return out, err
}

// Accounts returns every account, sorted by id.
func (c *Connector) Accounts() []gatehouse.Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	out := make([]gatehouse.Account, 0, len(c.st.Accounts))
	for _, a := range c.sortedLocked() {
		out = append(out, a.Account())
	}
	return out
}

// Find returns the full state of the account ref names.
func (c *Connector) Find(ref gatehouse.AccountRef) (AccountState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	a := c.findLocked(ref)
	if a == nil {
		return AccountState{}, false
	}
	return clone(a), true
}

// Ops returns the operation log, oldest first.
func (c *Connector) Ops() []Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return append([]Op(nil), c.st.Ops...)
}

// Effects returns how many times op changed the app for (account,
// entitlement); account is the user name, case-insensitive.
func (c *Connector) Effects(op, account, ent string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return c.st.Effects(op, account, ent)
}

// Calls returns how many operations op succeeded for (account, entitlement),
// whether or not they changed anything.
func (c *Connector) Calls(op, account, ent string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	if n := c.st.Counters[counterKey(op, strings.ToLower(account), ent)]; n != nil {
		return n.Calls
	}
	return 0
}

// Violations returns how many requests exceeded the rate limit.
func (c *Connector) Violations() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return c.st.Violations
}

// Touch records activity of the account at t (for dormant-access tests).
func (c *Connector) Touch(ref gatehouse.AccountRef, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.lockLocked()
	if err != nil {
		return err
	}
	defer unlock()
	a := c.findLocked(ref)
	if a == nil {
		return gatehouse.NotFound(fmt.Errorf("simulated %s: account %s", c.name, refName(ref)))
	}
	a.LastActivity = t
	return c.persistLocked()
}

// Snapshot returns a deep copy of the whole state.
func (c *Connector) Snapshot() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	b, _ := json.Marshal(c.st)
	st := &State{}
	_ = json.Unmarshal(b, st)
	st.init()
	return st
}

// EnsureAccount implements gatehouse.Connector.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	var out gatehouse.Account
	err := c.apply(ctx, gatehouse.CapEnsureAccount, func() (Op, error) {
		a := c.findLocked(ref)
		effect := ""
		if a == nil {
			if ref.AccountID != "" && ref.UserName == "" && ref.Email == "" {
				return Op{}, gatehouse.NotFound(fmt.Errorf("simulated %s: account id %s", c.name, ref.AccountID))
			}
			user := ref.UserName
			if user == "" {
				user = ref.Email
			}
			if user == "" {
				return Op{}, gatehouse.Permanent(fmt.Errorf("simulated %s: ensure account: reference has no user name or email", c.name))
			}
			a = c.newAccountLocked(user, ref.Email, ref.Name, ref.EmployeeID, c.now())
			a.Attributes = refAttributes(ref)
			effect = "created"
		} else if !a.Active {
			a.Active = true
			effect = "enabled"
		}
		out = a.Account()
		return Op{Account: a.key(), AccountID: a.ID, Effect: effect}, nil
	})
	return out, err
}

// Disable implements gatehouse.Connector. A missing account is NotFound
// (done, for the executor).
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.mutate(ctx, gatehouse.CapDisable, ref, func(a *AccountState) string {
		if !a.Active {
			return ""
		}
		a.Active = false
		return "disabled"
	})
}

// Enable implements gatehouse.Connector.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.mutate(ctx, gatehouse.CapEnable, ref, func(a *AccountState) string {
		if a.Active {
			return ""
		}
		a.Active = true
		return "enabled"
	})
}

// Delete implements gatehouse.Connector; deleting a missing account succeeds.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.apply(ctx, gatehouse.CapDelete, func() (Op, error) {
		a := c.findLocked(ref)
		if a == nil {
			return Op{Account: refName(ref)}, nil
		}
		delete(c.st.Accounts, a.ID)
		return Op{Account: a.key(), AccountID: a.ID, Effect: "deleted"}, nil
	})
}

// Grant implements gatehouse.Connector. The entitlement is stored by name.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	if ent.Name == "" {
		return gatehouse.Permanent(fmt.Errorf("simulated %s: grant: entitlement has no name", c.name))
	}
	return c.mutateEnt(ctx, gatehouse.CapGrant, ref, ent.Name, func(a *AccountState) string {
		if contains(a.Entitlements, ent.Name) {
			return ""
		}
		a.Entitlements = sortedSet(append(a.Entitlements, ent.Name))
		return "granted"
	})
}

// Revoke implements gatehouse.Connector; revoking from a missing account
// succeeds.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.apply(ctx, gatehouse.CapRevoke, func() (Op, error) {
		a := c.findLocked(ref)
		if a == nil {
			return Op{Account: refName(ref), Entitlement: ent.Name}, nil
		}
		op := Op{Account: a.key(), AccountID: a.ID, Entitlement: ent.Name}
		if i := indexOf(a.Entitlements, ent.Name); i >= 0 && !c.stuck[ent.Name] {
			a.Entitlements = append(a.Entitlements[:i:i], a.Entitlements[i+1:]...)
			op.Effect = "revoked"
		}
		return op, nil
	})
}

// RevokeSessions implements gatehouse.Connector.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.mutate(ctx, gatehouse.CapRevokeSessions, ref, func(a *AccountState) string {
		if a.Sessions == 0 {
			return ""
		}
		a.Sessions = 0
		return "sessions_revoked"
	})
}

// ListAccounts implements gatehouse.Connector, sorted by id.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	var out []gatehouse.Account
	err := c.apply(ctx, gatehouse.CapListAccounts, func() (Op, error) {
		for _, a := range c.sortedLocked() {
			out = append(out, a.Account())
		}
		return Op{}, nil
	})
	return out, err
}

// TransferOwnership implements gatehouse.Connector: what from owns moves to
// to. A missing source is NotFound (nothing to transfer); a missing target
// is Permanent, since dropping the resources would lose data.
func (c *Connector) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	return c.apply(ctx, gatehouse.CapTransferOwnership, func() (Op, error) {
		src := c.findLocked(from)
		if src == nil {
			return Op{}, gatehouse.NotFound(fmt.Errorf("simulated %s: transfer from %s", c.name, refName(from)))
		}
		dst := c.findLocked(to)
		if dst == nil {
			return Op{}, gatehouse.Permanent(fmt.Errorf("simulated %s: transfer to %s: %w", c.name, refName(to), gatehouse.ErrNoTransferTarget))
		}
		op := Op{Account: src.key(), AccountID: src.ID, Entitlement: dst.key()}
		if len(src.Owns) > 0 && src.ID != dst.ID {
			dst.Owns = append(dst.Owns, src.Owns...)
			src.Owns = nil
			op.Effect = "transferred"
		}
		return op, nil
	})
}

// mutate applies f to the account ref names; a missing account is NotFound.
func (c *Connector) mutate(ctx context.Context, capability gatehouse.Capability, ref gatehouse.AccountRef, f func(*AccountState) string) error {
	return c.mutateEnt(ctx, capability, ref, "", f)
}

func (c *Connector) mutateEnt(ctx context.Context, capability gatehouse.Capability, ref gatehouse.AccountRef, ent string, f func(*AccountState) string) error {
	return c.apply(ctx, capability, func() (Op, error) {
		a := c.findLocked(ref)
		if a == nil {
			return Op{}, gatehouse.NotFound(fmt.Errorf("simulated %s: %s: account %s", c.name, capability, refName(ref)))
		}
		return Op{Account: a.key(), AccountID: a.ID, Entitlement: ent, Effect: f(a)}, nil
	})
}

// apply runs one operation the way a remote API would: latency, then the
// rate limit, then injected and random failures, then the change (under the
// lock, persisted before returning).
func (c *Connector) apply(ctx context.Context, capability gatehouse.Capability, f func() (Op, error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simulated %s %s: %w", c.name, capability, err)
	}
	c.mu.Lock()
	delay := c.opts.Latency
	if c.opts.Jitter > 0 {
		delay += time.Duration(c.rng.Int64N(int64(c.opts.Jitter)))
	}
	c.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("simulated %s %s: %w", c.name, capability, ctx.Err())
		case <-t.C:
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.lockLocked()
	if err != nil {
		return gatehouse.Retryable(err)
	}
	defer unlock()
	if err := c.takeTokenLocked(); err != nil {
		return err
	}
	if len(c.failNext) > 0 {
		f := c.failNext[0]
		c.failNext = c.failNext[1:]
		return c.injected(capability, f.class)
	}
	if c.opts.FailureRate > 0 && c.rng.Float64() < c.opts.FailureRate {
		return gatehouse.Retryable(fmt.Errorf("simulated %s %s: 503 service unavailable", c.name, capability))
	}
	op, ferr := f()
	if ferr != nil {
		return ferr
	}
	if capability == gatehouse.CapListAccounts || capability == capReadAccount {
		return nil // reads are not logged: the log is for effects
	}
	c.recordLocked(capability, op, gatehouse.OperationKey(ctx))
	if err := c.persistLocked(); err != nil {
		return gatehouse.Retryable(err)
	}
	if c.failLost > 0 {
		c.failLost--
		return gatehouse.Retryable(fmt.Errorf("simulated %s %s: connection reset after the change was applied", c.name, capability))
	}
	return nil
}

func (c *Connector) injected(capability gatehouse.Capability, class gatehouse.ErrorClass) error {
	base := fmt.Errorf("simulated %s %s: injected %s failure", c.name, capability, class)
	switch class {
	case gatehouse.ClassRetryable:
		return gatehouse.Retryable(fmt.Errorf("%w (503 service unavailable)", base))
	case gatehouse.ClassRateLimited:
		return gatehouse.RateLimited(time.Second, base)
	case gatehouse.ClassPermanent:
		return gatehouse.Permanent(fmt.Errorf("%w (403 forbidden)", base))
	case gatehouse.ClassNotFound:
		return gatehouse.NotFound(base)
	case gatehouse.ClassPending:
		return gatehouse.Pending("simulated-" + c.name)
	}
	return base
}

// takeTokenLocked is a token bucket refilled at RatePerSecond up to Burst.
func (c *Connector) takeTokenLocked() error {
	if c.opts.RatePerSecond <= 0 {
		return nil
	}
	now := c.now()
	if el := now.Sub(c.last); el > 0 {
		c.tokens = min(float64(c.burst()), c.tokens+el.Seconds()*c.opts.RatePerSecond)
	}
	c.last = now
	if c.tokens >= 1 {
		c.tokens--
		return nil
	}
	c.st.Violations++
	wait := time.Duration((1 - c.tokens) / c.opts.RatePerSecond * float64(time.Second))
	// Like most vendors, round Retry-After up to whole milliseconds so a
	// client that waits exactly that long gets a token.
	wait = (wait + time.Millisecond - 1).Truncate(time.Millisecond)
	// Violations change state worth keeping; a failed write is not the
	// caller's problem here, it is reported on the next mutation.
	_ = c.persistLocked()
	return gatehouse.RateLimited(wait, fmt.Errorf("simulated %s: 429 too many requests", c.name))
}

func (c *Connector) recordLocked(capability gatehouse.Capability, op Op, key string) {
	op.Op = string(capability)
	op.Account = strings.ToLower(op.Account)
	op.Time = c.now()
	op.OperationKey = key
	n := int64(1)
	if len(c.st.Ops) > 0 {
		n = c.st.Ops[len(c.st.Ops)-1].Seq + 1
	}
	op.Seq = n
	c.st.Ops = append(c.st.Ops, op)
	if len(c.st.Ops) > maxOps {
		c.st.Ops = append([]Op(nil), c.st.Ops[len(c.st.Ops)-maxOps:]...)
	}
	k := counterKey(op.Op, op.Account, op.Entitlement)
	ctr := c.st.Counters[k]
	if ctr == nil {
		ctr = &Counter{}
		c.st.Counters[k] = ctr
	}
	ctr.Calls++
	if op.Effect != "" {
		ctr.Effects++
	}
	c.log.Debug().Str("app", c.name).Str("op", op.Op).Str("account", op.Account).Str("entitlement", op.Entitlement).Str("effect", op.Effect).Msg("simulated operation")
}

// persistLocked writes the state atomically: a temp file in the same
// directory, fsynced, renamed over the old one, and the directory fsynced, so
// a SIGKILL at any point leaves either the old or the new state.
func (c *Connector) persistLocked() error {
	path := c.opts.StateFile
	if path == "" {
		return nil
	}
	st := *c.st
	if len(st.Ops) > MaxPersistedOps {
		st.Ops = st.Ops[len(st.Ops)-MaxPersistedOps:]
	}
	var buf bytes.Buffer
	// Compact: the file is rewritten after every operation.
	if err := json.NewEncoder(&buf).Encode(&st); err != nil {
		return fmt.Errorf("simulated %s: encode state: %w", c.name, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("simulated %s: state dir: %w", c.name, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("simulated %s: write state: %w", c.name, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("simulated %s: write state: %w", c.name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("simulated %s: sync state: %w", c.name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("simulated %s: write state: %w", c.name, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("simulated %s: replace state: %w", c.name, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every filesystem syncs directories
		d.Close()
	}
	c.lastFile, _ = os.Stat(path)
	return nil
}

// refAttributes are the attributes a created account keeps from its
// reference, the way a directory stores title, department and manager.
func refAttributes(ref gatehouse.AccountRef) map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{"title": ref.Title, "department": ref.Department, "manager": ref.Manager, "employee_id": ref.EmployeeID} {
		if v != "" {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// removeStaleTemps deletes the temp files a process killed between
// creating and renaming its state write left beside path. The caller holds
// the state's lock, so no other process is writing one right now.
func removeStaleTemps(path string, log zerolog.Logger) {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(filepath.Base(path))+".tmp*"))
	if err != nil {
		return
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn().Err(err).Str("file", m).Msg("simulated: remove stale temp file")
		}
	}
}

// globEscape quotes the glob metacharacters of a file name.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lockLocked takes the cross-process lock of the state file and reloads the
// state if another process changed it; the caller holds c.mu and must call
// the returned unlock. Without a state file it does nothing.
func (c *Connector) lockLocked() (func(), error) {
	path := c.opts.StateFile
	if path == "" {
		return func() {}, nil
	}
	unlock, err := lockState(path)
	if err != nil {
		return nil, fmt.Errorf("simulated %s: %w", c.name, err)
	}
	if err := c.reloadIfChangedLocked(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

func (c *Connector) reloadIfChangedLocked() error {
	path := c.opts.StateFile
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed under us: keep what we have; the next write restores it
	}
	if err != nil {
		return fmt.Errorf("simulated %s: stat state: %w", c.name, err)
	}
	if c.lastFile != nil && os.SameFile(fi, c.lastFile) && fi.ModTime().Equal(c.lastFile.ModTime()) && fi.Size() == c.lastFile.Size() {
		return nil
	}
	st, err := LoadState(path)
	if err != nil {
		return err
	}
	c.st, c.lastFile = st, fi
	return nil
}

// syncLocked refreshes the state for readers; a failure leaves the last
// known state, which is the best a reader can do.
func (c *Connector) syncLocked() {
	if unlock, err := c.lockLocked(); err == nil {
		unlock()
	}
}

func (c *Connector) newAccountLocked(user, email, name, employeeID string, now time.Time) *AccountState {
	c.st.NextID++
	a := &AccountState{
		ID: fmt.Sprintf("sim-%06d", c.st.NextID), UserName: user, Email: email, DisplayName: name,
		EmployeeID: employeeID, Active: true, CreatedAt: now,
	}
	c.st.Accounts[a.ID] = a
	return a
}

// findLocked matches on the account id when given, else on the natural
// keys in order of strength: user name, email, employee id (all but the
// last case-insensitive), as a real app's lookups would.
func (c *Connector) findLocked(ref gatehouse.AccountRef) *AccountState {
	if ref.AccountID != "" {
		if a := c.st.Accounts[ref.AccountID]; a != nil {
			return a
		}
	}
	accts := c.sortedLocked()
	keys := []func(a *AccountState) bool{
		func(a *AccountState) bool { return ref.UserName != "" && strings.EqualFold(a.UserName, ref.UserName) },
		func(a *AccountState) bool {
			return ref.Email != "" && (strings.EqualFold(a.Email, ref.Email) || strings.EqualFold(a.UserName, ref.Email))
		},
		func(a *AccountState) bool {
			return ref.UserName != "" && a.Email != "" && strings.EqualFold(a.Email, ref.UserName)
		},
		func(a *AccountState) bool { return ref.EmployeeID != "" && a.EmployeeID == ref.EmployeeID },
	}
	for _, match := range keys {
		for _, a := range accts {
			if match(a) {
				return a
			}
		}
	}
	return nil
}

func (c *Connector) sortedLocked() []*AccountState {
	out := make([]*AccountState, 0, len(c.st.Accounts))
	for _, a := range c.st.Accounts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (a *AccountState) key() string { return strings.ToLower(a.UserName) }

func refName(ref gatehouse.AccountRef) string {
	switch {
	case ref.UserName != "":
		return strings.ToLower(ref.UserName)
	case ref.Email != "":
		return strings.ToLower(ref.Email)
	}
	return ref.AccountID
}

func clone(a *AccountState) AccountState {
	b := *a
	b.Entitlements = append([]string(nil), a.Entitlements...)
	b.Owns = append([]string(nil), a.Owns...)
	b.Attributes = maps.Clone(a.Attributes)
	return b
}

func sortedSet(in []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

// settings are the simulated connector's config block.
type settings struct {
	Latency       time.Duration `yaml:"latency"`
	Jitter        time.Duration `yaml:"jitter"`
	FailureRate   float64       `yaml:"failure_rate"`
	Seed          int           `yaml:"seed"`
	RatePerSecond float64       `yaml:"rate_per_second"`
	Burst         int           `yaml:"burst"`
	StateFile     string        `yaml:"state_file"`
	Accounts      []SeedAccount `yaml:"accounts"`
	// LastActivity sets seeded accounts' last activity by user name or email,
	// as an alternative to last_activity on each account.
	LastActivity map[string]Timestamp `yaml:"last_activity"`
}

func factory(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	opts := Options{Now: deps.Now, Logger: deps.Logger}
	if app.Connector != Type {
		// --simulate: the settings belong to the app's real connector.
		dir := os.Getenv(StateDirEnv)
		if dir == "" {
			dir = deps.SimulateStateDir
		}
		if dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("simulated state directory: %w", err)
			}
			opts.StateFile = filepath.Join(dir, app.Name+".json")
		}
		return Open(app.Name, opts)
	}
	var s settings
	errs := app.Settings.Decode(&s)
	key := "apps." + app.Name + ".settings"
	pos := settingsPos(app)
	if s.FailureRate < 0 || s.FailureRate > 1 {
		errs.Add(pos, key+".failure_rate", "want a fraction between 0 and 1, got %v", s.FailureRate)
	}
	if s.RatePerSecond < 0 {
		errs.Add(pos, key+".rate_per_second", "must not be negative")
	}
	if s.Burst < 0 {
		errs.Add(pos, key+".burst", "must not be negative")
	}
	if s.Seed < 0 {
		errs.Add(pos, key+".seed", "must not be negative")
	}
	seen := map[string]bool{}
	for i, a := range s.Accounts {
		id := strings.ToLower(a.UserName)
		if id == "" {
			id = strings.ToLower(a.Email)
		}
		switch {
		case id == "":
			errs.Add(pos, fmt.Sprintf("%s.accounts[%d]", key, i), "needs user_name or email")
		case seen[id]:
			errs.Add(pos, fmt.Sprintf("%s.accounts[%d]", key, i), "account %q is listed twice", id)
		}
		seen[id] = true
	}
	for _, who := range sortedKeys(s.LastActivity) {
		ts := s.LastActivity[who]
		found := false
		for i := range s.Accounts {
			a := &s.Accounts[i]
			if strings.EqualFold(a.UserName, who) || strings.EqualFold(a.Email, who) {
				a.LastActivity, found = ts, true
			}
		}
		if !found {
			errs.Add(pos, key+".last_activity."+who, "no seeded account %q (list it under accounts)", who)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	opts.Latency, opts.Jitter, opts.FailureRate = s.Latency, s.Jitter, s.FailureRate
	opts.Seed, opts.RatePerSecond, opts.Burst = uint64(s.Seed), s.RatePerSecond, s.Burst
	opts.StateFile, opts.Accounts = s.StateFile, s.Accounts
	return Open(app.Name, opts)
}

// settingsPos is where errors about the settings block point: the block
// itself, or the app when it has none (so errors still name a file:line).
func settingsPos(app *config.App) config.Pos {
	if app.Settings.IsZero() {
		return app.Pos
	}
	return app.Settings.Pos()
}
