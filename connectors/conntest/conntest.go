// Package conntest is the contract every Gatehouse connector must meet, as a
// test suite. Each connector sub-package calls Run from its own tests with a
// Harness that builds a fresh connector against a real or fake peer:
//
//	func TestContract(t *testing.T) {
//		conntest.Run(t, conntest.Harness{
//			New:          func(t *testing.T) gatehouse.Connector { return newConnector(t) },
//			Entitlements: []gatehouse.Entitlement{eng, ops},
//		})
//	}
//
// The contract is the one documented on gatehouse.Connector: every operation
// is idempotent (ensuring what exists, granting what is held, revoking what is
// gone, disabling what is disabled all succeed), removal of what is already
// gone counts as done (nil or a NotFound-class error), unsupported operations
// return an error wrapping gatehouse.ErrUnsupported that classifies as
// Permanent, and a cancelled context stops an operation. Subtests for
// capabilities the connector does not declare are skipped; the unsupported
// ones are checked to fail properly instead.
package conntest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// Harness adapts the suite to one connector type.
type Harness struct {
	// New returns a connector to test. It is called once per subtest; the
	// connector may share a peer with earlier ones (the suite uses a distinct
	// account per subtest) but must not depend on their in-memory state.
	New func(t *testing.T) gatehouse.Connector

	// Entitlements are one or more grantable entitlements of the app (not of
	// kind account); the suite uses the first two. Required when the connector
	// declares grant or revoke.
	Entitlements []gatehouse.Entitlement

	// Ref returns the account reference for the n-th account a subtest uses
	// (n counts from 0; unique per call). Optional: the default builds
	// "conntest-<id>@example.com" style references with names and an employee
	// id, unique per suite run.
	Ref func(t *testing.T, n int) gatehouse.AccountRef

	// Inspect reports an account's state out of band (bypassing the
	// connector): whether it exists, whether it is active, and the entitlement
	// names or resources it holds. Optional: when nil the suite relies on what
	// the connector itself reports (EnsureAccount and ListAccounts).
	Inspect func(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (exists, active bool, ents []string)

	// CompletePending is called when an operation returns a Pending-class
	// error (a manual task was created). It must complete the task(s) so that
	// repeating the same operation with the same operation key succeeds. When
	// nil, a Pending result fails the test.
	CompletePending func(t *testing.T, err error)

	// Timeout bounds each operation; 0 means 15 seconds.
	Timeout time.Duration

	// SkipCancel skips the context-cancellation subtest, for connectors whose
	// operations cannot observe a context at all. Say why where it is set.
	SkipCancel bool
}

var runSeq atomic.Int64

// suite is one Run's state.
type suite struct {
	h     Harness
	runID string
	refs  atomic.Int64
	ops   atomic.Int64
}

// Run runs the contract against the connectors h builds.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conntest: Harness.New is required")
	}
	s := &suite{h: h, runID: fmt.Sprintf("%x%d", time.Now().UnixNano()&0xffffff, runSeq.Add(1))}
	probe := h.New(t)
	caps := probe.Capabilities()
	if caps == nil {
		t.Fatal("conntest: Capabilities() returned nil; return an empty set instead")
	}
	if probe.Name() == "" {
		t.Error("conntest: Name() is empty; it must be the configured app name")
	}
	if (caps.Has(gatehouse.CapGrant) || caps.Has(gatehouse.CapRevoke)) && len(h.Entitlements) == 0 {
		t.Fatal("conntest: the connector grants or revokes but Harness.Entitlements is empty")
	}

	tests := []struct {
		name  string
		needs []gatehouse.Capability
		run   func(t *testing.T, s *suite, c gatehouse.Connector)
	}{
		{"EnsureAccountTwice", caps1(gatehouse.CapEnsureAccount), testEnsureTwice},
		{"GrantTwice", caps1(gatehouse.CapEnsureAccount, gatehouse.CapGrant), testGrantTwice},
		{"RevokeTwice", caps1(gatehouse.CapEnsureAccount, gatehouse.CapGrant, gatehouse.CapRevoke), testRevokeTwice},
		{"RevokeNeverGranted", caps1(gatehouse.CapEnsureAccount, gatehouse.CapRevoke), testRevokeNeverGranted},
		{"RevokeMissingAccount", caps1(gatehouse.CapRevoke), testRevokeMissingAccount},
		{"DisableTwiceEnable", caps1(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapEnable), testDisableEnable},
		{"DisableMissingAccount", caps1(gatehouse.CapDisable), testDisableMissing},
		{"EnsureReenables", caps1(gatehouse.CapEnsureAccount, gatehouse.CapDisable), testEnsureReenables},
		{"ListAccounts", caps1(gatehouse.CapEnsureAccount, gatehouse.CapListAccounts), testList},
		{"DeleteTwice", caps1(gatehouse.CapEnsureAccount, gatehouse.CapDelete), testDeleteTwice},
		{"DeleteMissingAccount", caps1(gatehouse.CapDelete), testDeleteMissing},
		{"RevokeSessions", caps1(gatehouse.CapEnsureAccount, gatehouse.CapRevokeSessions), testRevokeSessions},
		{"TransferOwnership", caps1(gatehouse.CapEnsureAccount, gatehouse.CapTransferOwnership), testTransfer},
		{"ConcurrentAccounts", caps1(gatehouse.CapEnsureAccount), testConcurrent},
		{"ContextCancelled", nil, testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range tc.needs {
				if !caps.Has(c) {
					t.Skipf("connector does not declare %s", c)
				}
			}
			tc.run(t, s, h.New(t))
		})
	}
	t.Run("ReadAccount", func(t *testing.T) {
		c := h.New(t)
		r, ok := c.(gatehouse.AccountReader)
		if !ok {
			t.Skip("connector does not implement gatehouse.AccountReader")
		}
		if !c.Capabilities().Has(gatehouse.CapEnsureAccount) {
			t.Skip("connector does not declare ensure_account")
		}
		testReadAccount(t, s, c, r)
	})
	t.Run("Unsupported", func(t *testing.T) {
		for _, c := range gatehouse.AllCapabilities {
			if caps.Has(c) {
				continue
			}
			t.Run(string(c), func(t *testing.T) { testUnsupported(t, s, h.New(t), c) })
		}
	})
}

func caps1(cs ...gatehouse.Capability) []gatehouse.Capability { return cs }

// ref returns a fresh account reference.
func (s *suite) ref(t *testing.T) gatehouse.AccountRef {
	n := int(s.refs.Add(1)) - 1
	if s.h.Ref != nil {
		return s.h.Ref(t, n)
	}
	user := fmt.Sprintf("conntest.%s.%d", s.runID, n)
	email := user + "@example.com"
	return gatehouse.AccountRef{
		IdentityKey: fmt.Sprintf("E%s%03d", s.runID, n),
		Email:       email,
		UserName:    email,
		Name:        fmt.Sprintf("Contract Tester%d", n),
		GivenName:   "Contract",
		FamilyName:  fmt.Sprintf("Tester%d", n),
		EmployeeID:  fmt.Sprintf("E%s%03d", s.runID, n),
		Title:       "Engineer",
		Department:  "Engineering",
	}
}

// do runs one logical operation the way the executor does: with its own
// operation key and a timeout. A Pending result is completed through the
// harness and the operation repeated with the same key, as a resumed step is.
func (s *suite) do(t *testing.T, op string, f func(ctx context.Context) error) error {
	t.Helper()
	key := fmt.Sprintf("conntest-%s/%s/%d-%s", s.runID, t.Name(), s.ops.Add(1), op)
	timeout := s.h.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(gatehouse.WithOperationKey(context.Background(), key), timeout)
	defer cancel()
	err := f(ctx)
	for i := 0; i < 3 && err != nil && gatehouse.Classify(err) == gatehouse.ClassPending; i++ {
		if s.h.CompletePending == nil {
			return fmt.Errorf("%s returned pending and Harness.CompletePending is nil: %w", op, err)
		}
		s.h.CompletePending(t, err)
		err = f(ctx)
	}
	return err
}

func (s *suite) ensure(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) gatehouse.Account {
	t.Helper()
	var acct gatehouse.Account
	err := s.do(t, "ensure", func(ctx context.Context) error {
		var err error
		acct, err = c.EnsureAccount(ctx, ref)
		return err
	})
	if err != nil {
		t.Fatalf("EnsureAccount(%s): %v (class %s)", ref.Email, err, gatehouse.Classify(err))
	}
	if acct.ID == "" {
		t.Fatalf("EnsureAccount(%s) returned an account without an ID", ref.Email)
	}
	return acct
}

// created ensures a fresh account and returns its reference with the
// account id filled in, as the executor passes it on later steps.
func (s *suite) created(t *testing.T, c gatehouse.Connector) gatehouse.AccountRef {
	t.Helper()
	ref := s.ref(t)
	ref.AccountID = s.ensure(t, c, ref).ID
	return ref
}

func (s *suite) mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v (class %s)", what, err, gatehouse.Classify(err))
	}
}

// mustDone accepts nil or a NotFound-class error: removing what is not there
// counts as done.
func (s *suite) mustDone(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("%s: want success or not-found, got %v (class %s)", what, err, gatehouse.Classify(err))
	}
}

// state returns the account's state from Inspect, or from ListAccounts when
// Inspect is nil and the connector lists; ok is false when neither is available.
func (s *suite) state(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (exists, active bool, ents []string, ok bool) {
	t.Helper()
	if s.h.Inspect != nil {
		exists, active, ents = s.h.Inspect(t, c, ref)
		return exists, active, ents, true
	}
	if !c.Capabilities().Has(gatehouse.CapListAccounts) {
		return false, false, nil, false
	}
	acct, found := s.find(t, c, ref)
	return found, acct.Active, acct.Entitlements, true
}

func (s *suite) find(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (gatehouse.Account, bool) {
	t.Helper()
	var accts []gatehouse.Account
	err := s.do(t, "list", func(ctx context.Context) error {
		var err error
		accts, err = c.ListAccounts(ctx)
		return err
	})
	s.mustOK(t, "ListAccounts", err)
	for _, a := range accts {
		if matches(a, ref) {
			return a, true
		}
	}
	return gatehouse.Account{}, false
}

func matches(a gatehouse.Account, ref gatehouse.AccountRef) bool {
	if ref.AccountID != "" && a.ID == ref.AccountID {
		return true
	}
	return (ref.Email != "" && strings.EqualFold(a.Email, ref.Email)) ||
		(ref.UserName != "" && strings.EqualFold(a.UserName, ref.UserName))
}

// holds counts how often ents names e (by name or resource).
func holds(ents []string, e gatehouse.Entitlement) int {
	n := 0
	for _, x := range ents {
		if x == e.Name || (e.Resource != "" && strings.EqualFold(x, e.Resource)) {
			n++
		}
	}
	return n
}

func (s *suite) expectState(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef, wantExists, wantActive bool) []string {
	t.Helper()
	exists, active, ents, ok := s.state(t, c, ref)
	if !ok {
		return nil
	}
	if exists != wantExists {
		t.Fatalf("account %s exists=%v, want %v", ref.Email, exists, wantExists)
	}
	if exists && active != wantActive {
		t.Fatalf("account %s active=%v, want %v", ref.Email, active, wantActive)
	}
	return ents
}

func testEnsureTwice(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.ref(t)
	a1 := s.ensure(t, c, ref)
	// The second call comes without the id, as after a crash before the first
	// result was recorded: the connector must find the account by natural key.
	a2 := s.ensure(t, c, ref)
	if a1.ID != a2.ID {
		t.Fatalf("EnsureAccount twice returned different ids %q and %q: a second account was created", a1.ID, a2.ID)
	}
	if !a2.Active {
		t.Errorf("EnsureAccount returned an inactive account")
	}
	withID := ref
	withID.AccountID = a1.ID
	if a3 := s.ensure(t, c, withID); a3.ID != a1.ID {
		t.Fatalf("EnsureAccount with the account id returned id %q, want %q", a3.ID, a1.ID)
	}
	s.expectState(t, c, withID, true, true)
	if c.Capabilities().Has(gatehouse.CapListAccounts) {
		n := 0
		var accts []gatehouse.Account
		s.mustOK(t, "ListAccounts", s.do(t, "list", func(ctx context.Context) (err error) {
			accts, err = c.ListAccounts(ctx)
			return err
		}))
		for _, a := range accts {
			if matches(a, ref) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("ListAccounts shows %d accounts for %s after ensuring it three times, want 1", n, ref.Email)
		}
	}
}

func testGrantTwice(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	ent := s.h.Entitlements[0]
	for i := range 2 {
		s.mustOK(t, fmt.Sprintf("Grant #%d", i+1), s.do(t, "grant", func(ctx context.Context) error { return c.Grant(ctx, ref, ent) }))
	}
	if _, _, ents, ok := s.state(t, c, ref); ok {
		if n := holds(ents, ent); n != 1 {
			t.Fatalf("after granting %s twice the account holds it %d times (entitlements %v), want 1", ent.Name, n, ents)
		}
	}
	// A grant by natural key (no account id) must reach the same account.
	noID := ref
	noID.AccountID = ""
	s.mustOK(t, "Grant without account id", s.do(t, "grant", func(ctx context.Context) error { return c.Grant(ctx, noID, ent) }))
}

func testRevokeTwice(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	ents := s.h.Entitlements
	for _, e := range ents[:min(2, len(ents))] {
		s.mustOK(t, "Grant "+e.Name, s.do(t, "grant", func(ctx context.Context) error { return c.Grant(ctx, ref, e) }))
	}
	ent := ents[0]
	for i := range 2 {
		s.mustDone(t, fmt.Sprintf("Revoke #%d", i+1), s.do(t, "revoke", func(ctx context.Context) error { return c.Revoke(ctx, ref, ent) }))
	}
	if _, _, held, ok := s.state(t, c, ref); ok {
		if holds(held, ent) != 0 {
			t.Fatalf("after revoking %s the account still holds it (entitlements %v)", ent.Name, held)
		}
		if len(ents) > 1 && holds(held, ents[1]) != 1 {
			t.Fatalf("revoking %s also removed %s (entitlements %v)", ent.Name, ents[1].Name, held)
		}
	}
}

func testRevokeNeverGranted(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	ent := s.h.Entitlements[len(s.h.Entitlements)-1]
	s.mustDone(t, "Revoke of an entitlement never granted", s.do(t, "revoke", func(ctx context.Context) error { return c.Revoke(ctx, ref, ent) }))
}

func testRevokeMissingAccount(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.ref(t) // never created
	var ent gatehouse.Entitlement
	if len(s.h.Entitlements) > 0 {
		ent = s.h.Entitlements[0]
	}
	s.mustDone(t, "Revoke on a missing account", s.do(t, "revoke", func(ctx context.Context) error { return c.Revoke(ctx, ref, ent) }))
}

func testDisableEnable(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	for i := range 2 {
		s.mustOK(t, fmt.Sprintf("Disable #%d", i+1), s.do(t, "disable", func(ctx context.Context) error { return c.Disable(ctx, ref) }))
	}
	s.expectState(t, c, ref, true, false)
	for i := range 2 {
		s.mustOK(t, fmt.Sprintf("Enable #%d", i+1), s.do(t, "enable", func(ctx context.Context) error { return c.Enable(ctx, ref) }))
	}
	s.expectState(t, c, ref, true, true)
}

func testDisableMissing(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.ref(t)
	s.mustDone(t, "Disable of a missing account", s.do(t, "disable", func(ctx context.Context) error { return c.Disable(ctx, ref) }))
}

func testEnsureReenables(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	s.mustOK(t, "Disable", s.do(t, "disable", func(ctx context.Context) error { return c.Disable(ctx, ref) }))
	a := s.ensure(t, c, ref)
	if a.ID != ref.AccountID {
		t.Fatalf("EnsureAccount of a disabled account returned id %q, want %q", a.ID, ref.AccountID)
	}
	s.expectState(t, c, ref, true, true)
}

func testList(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	caps := c.Capabilities()
	var ent gatehouse.Entitlement
	if caps.Has(gatehouse.CapGrant) {
		ent = s.h.Entitlements[0]
		s.mustOK(t, "Grant", s.do(t, "grant", func(ctx context.Context) error { return c.Grant(ctx, ref, ent) }))
	}
	a, ok := s.find(t, c, ref)
	if !ok {
		t.Fatalf("ListAccounts does not include %s (id %s)", ref.Email, ref.AccountID)
	}
	if a.ID != ref.AccountID {
		t.Errorf("ListAccounts id %q, EnsureAccount id %q", a.ID, ref.AccountID)
	}
	if !a.Active {
		t.Errorf("ListAccounts reports the new account inactive")
	}
	if ent.Name != "" && holds(a.Entitlements, ent) != 1 {
		t.Errorf("ListAccounts entitlements %v, want %s (or its resource %q) once", a.Entitlements, ent.Name, ent.Resource)
	}
	if caps.Has(gatehouse.CapDisable) {
		s.mustOK(t, "Disable", s.do(t, "disable", func(ctx context.Context) error { return c.Disable(ctx, ref) }))
		if a, ok := s.find(t, c, ref); !ok || a.Active {
			t.Errorf("after Disable ListAccounts shows found=%v active=%v, want a listed inactive account", ok, a.Active)
		}
	}
}

func testDeleteTwice(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	s.mustOK(t, "Delete", s.do(t, "delete", func(ctx context.Context) error { return c.Delete(ctx, ref) }))
	s.expectState(t, c, ref, false, false)
	s.mustDone(t, "Delete again", s.do(t, "delete", func(ctx context.Context) error { return c.Delete(ctx, ref) }))
	if c.Capabilities().Has(gatehouse.CapListAccounts) {
		if _, ok := s.find(t, c, ref); ok {
			t.Fatalf("ListAccounts still includes deleted account %s", ref.Email)
		}
	}
}

func testDeleteMissing(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.ref(t)
	s.mustDone(t, "Delete of a missing account", s.do(t, "delete", func(ctx context.Context) error { return c.Delete(ctx, ref) }))
}

func testRevokeSessions(t *testing.T, s *suite, c gatehouse.Connector) {
	ref := s.created(t, c)
	for i := range 2 {
		s.mustOK(t, fmt.Sprintf("RevokeSessions #%d", i+1), s.do(t, "revoke_sessions", func(ctx context.Context) error { return c.RevokeSessions(ctx, ref) }))
	}
	missing := s.ref(t)
	s.mustDone(t, "RevokeSessions of a missing account", s.do(t, "revoke_sessions", func(ctx context.Context) error { return c.RevokeSessions(ctx, missing) }))
}

func testTransfer(t *testing.T, s *suite, c gatehouse.Connector) {
	from, to := s.created(t, c), s.created(t, c)
	for i := range 2 {
		s.mustOK(t, fmt.Sprintf("TransferOwnership #%d", i+1), s.do(t, "transfer", func(ctx context.Context) error { return c.TransferOwnership(ctx, from, to) }))
	}
}

// read re-reads ref's account through the connector under test.
func (s *suite) read(t *testing.T, r gatehouse.AccountReader, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	t.Helper()
	var acct gatehouse.Account
	err := s.do(t, "read", func(ctx context.Context) (err error) {
		acct, err = r.ReadAccount(ctx, ref)
		return err
	})
	return acct, err
}

// testReadAccount checks that ReadAccount reports what the app holds, since
// the engine's leaver evidence is built from it: the entitlements granted and
// revoked, the account's active flag, and NotFound for an account that is not
// there — by account id and by natural key alike.
func testReadAccount(t *testing.T, s *suite, c gatehouse.Connector, r gatehouse.AccountReader) {
	caps := c.Capabilities()
	ref := s.created(t, c)
	a, err := s.read(t, r, ref)
	s.mustOK(t, "ReadAccount of a new account", err)
	if a.ID != ref.AccountID {
		t.Fatalf("ReadAccount id %q, EnsureAccount id %q", a.ID, ref.AccountID)
	}
	if !a.Active {
		t.Fatalf("ReadAccount reports a new account inactive")
	}
	if caps.Has(gatehouse.CapGrant) {
		ents := s.h.Entitlements[:min(2, len(s.h.Entitlements))]
		for _, e := range ents {
			s.mustOK(t, "Grant "+e.Name, s.do(t, "grant", func(ctx context.Context) error { return c.Grant(ctx, ref, e) }))
		}
		a, err = s.read(t, r, ref)
		s.mustOK(t, "ReadAccount after grants", err)
		for _, e := range ents {
			if holds(a.Entitlements, e) != 1 {
				t.Fatalf("ReadAccount after granting %s shows entitlements %v", e.Name, a.Entitlements)
			}
		}
		if caps.Has(gatehouse.CapRevoke) {
			s.mustDone(t, "Revoke", s.do(t, "revoke", func(ctx context.Context) error { return c.Revoke(ctx, ref, ents[0]) }))
			a, err = s.read(t, r, ref)
			s.mustOK(t, "ReadAccount after revoke", err)
			if holds(a.Entitlements, ents[0]) != 0 {
				t.Fatalf("ReadAccount after revoking %s still shows it (entitlements %v)", ents[0].Name, a.Entitlements)
			}
			if len(ents) > 1 && holds(a.Entitlements, ents[1]) != 1 {
				t.Fatalf("ReadAccount after revoking %s lost %s (entitlements %v)", ents[0].Name, ents[1].Name, a.Entitlements)
			}
		}
	}
	noID := ref
	noID.AccountID = ""
	if b, err := s.read(t, r, noID); err != nil || b.ID != ref.AccountID {
		t.Fatalf("ReadAccount by natural key: id %q, err %v; want id %q", b.ID, err, ref.AccountID)
	}
	if caps.Has(gatehouse.CapDisable) {
		s.mustOK(t, "Disable", s.do(t, "disable", func(ctx context.Context) error { return c.Disable(ctx, ref) }))
		a, err = s.read(t, r, ref)
		s.mustOK(t, "ReadAccount after disable", err)
		if a.Active {
			t.Fatalf("ReadAccount after Disable reports the account active")
		}
	}
	if caps.Has(gatehouse.CapDelete) {
		s.mustOK(t, "Delete", s.do(t, "delete", func(ctx context.Context) error { return c.Delete(ctx, ref) }))
		if _, err := s.read(t, r, ref); gatehouse.Classify(err) != gatehouse.ClassNotFound {
			t.Fatalf("ReadAccount of a deleted account: %v (class %s), want not_found", err, gatehouse.Classify(err))
		}
	}
	missing := s.ref(t)
	if _, err := s.read(t, r, missing); gatehouse.Classify(err) != gatehouse.ClassNotFound {
		t.Fatalf("ReadAccount of an account never created: %v (class %s), want not_found", err, gatehouse.Classify(err))
	}
}

// testConcurrent runs operations on distinct accounts at once, as the
// executor's workers do; run with -race it also finds data races.
func testConcurrent(t *testing.T, s *suite, c gatehouse.Connector) {
	const n = 4
	refs := make([]gatehouse.AccountRef, n)
	for i := range refs {
		refs[i] = s.ref(t)
	}
	canGrant := c.Capabilities().Has(gatehouse.CapGrant)
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Go(func() {
			var acct gatehouse.Account
			if err := s.do(t, "ensure", func(ctx context.Context) (err error) {
				acct, err = c.EnsureAccount(ctx, ref)
				return err
			}); err != nil {
				errs <- fmt.Errorf("EnsureAccount(%s): %w", ref.Email, err)
				return
			}
			if canGrant {
				ref.AccountID = acct.ID
				if err := s.do(t, "grant", func(ctx context.Context) error { return c.Grant(ctx, ref, s.h.Entitlements[0]) }); err != nil {
					errs <- fmt.Errorf("Grant(%s): %w", ref.Email, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent: %v (class %s)", err, gatehouse.Classify(err))
	}
	for _, ref := range refs {
		if exists, _, ents, ok := s.state(t, c, ref); ok {
			if !exists {
				t.Errorf("concurrent: account %s missing", ref.Email)
			} else if canGrant && holds(ents, s.h.Entitlements[0]) != 1 {
				t.Errorf("concurrent: account %s holds %v", ref.Email, ents)
			}
		}
	}
}

// testCancelled checks that an operation on a cancelled context fails with
// an error that says so, instead of doing the work or hanging; the executor
// relies on this to stop promptly on shutdown.
func testCancelled(t *testing.T, s *suite, c gatehouse.Connector) {
	if s.h.SkipCancel {
		t.Skip("harness says the connector cannot observe contexts")
	}
	ref := s.ref(t)
	ctx, cancel := context.WithCancel(gatehouse.WithOperationKey(context.Background(), "conntest-"+s.runID+"/cancelled"))
	cancel()
	caps := c.Capabilities()
	type call struct {
		cap gatehouse.Capability
		f   func() error
	}
	var ent gatehouse.Entitlement
	if len(s.h.Entitlements) > 0 {
		ent = s.h.Entitlements[0]
	}
	calls := []call{
		{gatehouse.CapEnsureAccount, func() error { _, err := c.EnsureAccount(ctx, ref); return err }},
		{gatehouse.CapGrant, func() error { return c.Grant(ctx, ref, ent) }},
		{gatehouse.CapListAccounts, func() error { _, err := c.ListAccounts(ctx); return err }},
	}
	ran := false
	for _, cl := range calls {
		if !caps.Has(cl.cap) {
			continue
		}
		ran = true
		done := make(chan error, 1)
		go func() { done <- cl.f() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s on a cancelled context succeeded; it must return the context's error", cl.cap)
			} else if !errors.Is(err, context.Canceled) {
				t.Errorf("%s on a cancelled context: %v does not wrap context.Canceled", cl.cap, err)
			} else if cls := gatehouse.Classify(err); cls == gatehouse.ClassPermanent || cls == gatehouse.ClassNotFound {
				t.Errorf("%s on a cancelled context classifies as %s; the step did not finish, it must stay retryable", cl.cap, cls)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s on a cancelled context did not return within 5s", cl.cap)
		}
	}
	if !ran {
		t.Skip("no ensure, grant or list capability to try")
	}
	if caps.Has(gatehouse.CapEnsureAccount) {
		if exists, _, _, ok := s.state(t, c, ref); ok && exists {
			t.Errorf("EnsureAccount on a cancelled context created the account anyway")
		}
	}
}

func testUnsupported(t *testing.T, s *suite, c gatehouse.Connector, capability gatehouse.Capability) {
	ref := s.ref(t)
	ref.AccountID = "conntest-unsupported"
	var ent gatehouse.Entitlement
	if len(s.h.Entitlements) > 0 {
		ent = s.h.Entitlements[0]
	}
	ctx := gatehouse.WithOperationKey(context.Background(), "conntest-"+s.runID+"/unsupported/"+string(capability))
	var err error
	switch capability {
	case gatehouse.CapEnsureAccount:
		_, err = c.EnsureAccount(ctx, ref)
	case gatehouse.CapDisable:
		err = c.Disable(ctx, ref)
	case gatehouse.CapEnable:
		err = c.Enable(ctx, ref)
	case gatehouse.CapDelete:
		err = c.Delete(ctx, ref)
	case gatehouse.CapGrant:
		err = c.Grant(ctx, ref, ent)
	case gatehouse.CapRevoke:
		err = c.Revoke(ctx, ref, ent)
	case gatehouse.CapRevokeSessions:
		err = c.RevokeSessions(ctx, ref)
	case gatehouse.CapListAccounts:
		_, err = c.ListAccounts(ctx)
	case gatehouse.CapTransferOwnership:
		to := s.ref(t)
		err = c.TransferOwnership(ctx, ref, to)
	default:
		t.Skipf("unknown capability %s", capability)
	}
	if !errors.Is(err, gatehouse.ErrUnsupported) {
		t.Fatalf("%s is not declared, so it must return an error wrapping gatehouse.ErrUnsupported; got %v", capability, err)
	}
	if cls := gatehouse.Classify(err); cls != gatehouse.ClassPermanent {
		t.Fatalf("unsupported %s classifies as %s, want permanent", capability, cls)
	}
}

// Missing lists every capability a connector does not declare, in the
// stable order of gatehouse.AllCapabilities; handy in connector tests.
func Missing(c gatehouse.Capabilities) []gatehouse.Capability {
	var out []gatehouse.Capability
	for _, x := range gatehouse.AllCapabilities {
		if !c.Has(x) {
			out = append(out, x)
		}
	}
	return slices.Clip(out)
}
