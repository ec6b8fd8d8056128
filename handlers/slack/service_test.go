package slackhandlers

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

type fakeEngine struct {
	decided []string
	err     error
}

func (f *fakeEngine) Submit(context.Context, gatehouse.Event) (gatehouse.Run, error) {
	return gatehouse.Run{ID: "r1"}, f.err
}
func (f *fakeEngine) Decide(_ context.Context, id, who string, approve bool, reason string) (gatehouse.Approval, error) {
	f.decided = append(f.decided, id+":"+who)
	return gatehouse.Approval{ID: id, Status: gatehouse.ApprovalApproved}, f.err
}
func (f *fakeEngine) CompleteTask(context.Context, string, string, bool, string) (gatehouse.Task, error) {
	return gatehouse.Task{}, f.err
}
func (f *fakeEngine) RequestAccess(context.Context, GrantRequest) (gatehouse.Run, error) {
	return gatehouse.Run{}, f.err
}

func newService(t *testing.T) (*Service, *fakeEngine) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, id := range []gatehouse.Identity{
		{Email: "ada@example.com", Name: "Ada", ManagerEmail: "grace@example.com"},
		{Email: "grace@example.com", Name: "Grace"},
	} {
		id.Normalize()
		if _, err := db.PutIdentity(id); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, a := range []gatehouse.Approval{
		{ID: "pending", IdentityKey: "ada@example.com", Requester: "ida@example.com", Approvers: []string{"grace@example.com", "ada@example.com"}, Required: 1, Status: gatehouse.ApprovalPending},
		{ID: "self-req", IdentityKey: "grace@example.com", Requester: "grace@example.com", Approvers: []string{"grace@example.com"}, Required: 1, Status: gatehouse.ApprovalPending},
		{ID: "decided", IdentityKey: "ada@example.com", Approvers: []string{"grace@example.com"}, Status: gatehouse.ApprovalApproved, Decisions: []gatehouse.Decision{{By: "grace@example.com", Approved: true}}},
		{ID: "expired", IdentityKey: "ada@example.com", Approvers: []string{"grace@example.com"}, Status: gatehouse.ApprovalExpired},
		{ID: "late", IdentityKey: "ada@example.com", Approvers: []string{"grace@example.com"}, Status: gatehouse.ApprovalPending, ExpiresAt: now.Add(-time.Minute)},
		{ID: "two", IdentityKey: "ada@example.com", Approvers: []string{"grace@example.com", "sec@example.com"}, Required: 2, Status: gatehouse.ApprovalPending, Decisions: []gatehouse.Decision{{By: "grace@example.com", Approved: true}}},
	} {
		if _, err := db.PutApproval(a); err != nil {
			t.Fatal(err)
		}
	}
	eng := &fakeEngine{}
	return &Service{Store: db, Engine: eng, Now: func() time.Time { return now }}, eng
}

func TestDecideChecks(t *testing.T) {
	grace := Actor{UserID: "U1", Email: "grace@example.com"}
	for _, tc := range []struct {
		name    string
		actor   Actor
		id      string
		approve bool
		reason  string
		want    error
		audited bool
	}{
		{"approver approves", grace, "pending", true, "", nil, false},
		{"stranger", Actor{UserID: "U9", Email: "mallory@example.com"}, "pending", true, "", ErrNotApprover, true},
		{"no email", Actor{UserID: "U9"}, "pending", true, "", ErrNotApprover, true},
		{"subject listed as approver", Actor{UserID: "U2", Email: "ada@example.com"}, "pending", true, "", ErrSelfApproval, true},
		{"requester approves own", grace, "self-req", true, "", ErrSelfApproval, true},
		{"already decided", grace, "decided", true, "", ErrAlreadyDecided, false},
		{"expired status", grace, "expired", true, "", ErrExpired, false},
		{"past its deadline", grace, "late", true, "", ErrExpired, false},
		{"two-person: same person twice", grace, "two", true, "", ErrAlreadyDecided, false},
		{"two-person: second approver", Actor{UserID: "U3", Email: "sec@example.com"}, "two", true, "", nil, false},
		{"unknown approval", grace, "nope", true, "", ErrNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, eng := newService(t)
			_, err := s.Decide(context.Background(), tc.actor, tc.id, tc.approve, tc.reason)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Decide = %v, want %v", err, tc.want)
			}
			if tc.want != nil && len(eng.decided) > 0 {
				t.Errorf("engine was called despite %v", tc.want)
			}
			entries, _ := s.Store.AuditEntries(store.AuditFilter{})
			refused := false
			for _, e := range entries {
				refused = refused || e.Action == "refuse"
			}
			if refused != tc.audited {
				t.Errorf("audited refusal = %v, want %v", refused, tc.audited)
			}
		})
	}
}

func TestDenyNeedsReason(t *testing.T) {
	s, eng := newService(t)
	_, err := s.Decide(context.Background(), Actor{Email: "grace@example.com"}, "pending", false, "  ")
	var fe FieldErrors
	if !errors.As(err, &fe) || fe[FieldReason] == "" || len(eng.decided) > 0 {
		t.Fatalf("deny without reason: %v", err)
	}
}

func TestAccessAuthorization(t *testing.T) {
	s, _ := newService(t)
	s.Directory = dirFunc(func(uid string) string { return map[string]string{"U0ADA": "ada@example.com"}[uid] })
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		actor Actor
		text  string
		want  error
	}{
		{"self", Actor{Email: "ada@example.com"}, "", nil},
		{"manager", Actor{Email: "grace@example.com"}, "<@U0ADA>", nil},
		{"IT", Actor{Email: "it@example.com", IT: true}, "ada@example.com", nil},
		{"stranger", Actor{Email: "mallory@example.com"}, "<@U0ADA>", ErrForbidden},
		{"unknown person", Actor{Email: "grace@example.com"}, "nobody@example.com", ErrNotFound},
		{"unknown viewer", Actor{Email: "new@example.com"}, "", ErrNotFound},
		{"bad args", Actor{Email: "ada@example.com"}, "why", ErrUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Access(ctx, tc.actor, tc.text)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Access = %v, want %v", err, tc.want)
			}
		})
	}
}

type dirFunc func(string) string

func (d dirFunc) EmailOf(_ context.Context, uid string) (string, error) {
	if e := d(uid); e != "" {
		return e, nil
	}
	return "", ErrNotFound
}
func (d dirFunc) UserIDOf(context.Context, string) (string, error) { return "", ErrNotFound }

// TestValidateOnboardAcceptsAnyManager: on a fresh install no manager is a
// Gatehouse identity yet; a manager picked in Slack (resolved to an email)
// is accepted and recorded. A pick without an email, or the person as
// their own manager, is refused.
func TestValidateOnboardAcceptsAnyManager(t *testing.T) {
	s, _ := newService(t)
	form := OnboardForm{Name: "Linus", Email: "linus@example.com", StartDate: "2026-12-01", Kind: "employee"}
	for _, tc := range []struct {
		userID, manager string
		bad             bool
	}{{"", "", false}, {"U1", "grace@example.com", false}, {"U2", "ghost@example.com", false}, {"U3", "", true}, {"U4", "linus@example.com", true}} {
		form.ManagerUserID, form.ManagerEmail = tc.userID, tc.manager
		id, errs := s.ValidateOnboard(form)
		if (errs[FieldManager] != "") != tc.bad {
			t.Errorf("manager %q: errors %v", tc.manager, errs)
		}
		if !tc.bad && id.ManagerEmail != tc.manager {
			t.Errorf("manager %q recorded as %q", tc.manager, id.ManagerEmail)
		}
	}
}

func TestOffboardPlanFromGrants(t *testing.T) {
	s, _ := newService(t)
	now := s.Now()
	for _, g := range []gatehouse.Grant{
		{Identity: "ada@example.com", App: "okta", Entitlement: "account", Source: gatehouse.SourceBirthright, GrantedAt: now.Add(-time.Hour)},
		{Identity: "ada@example.com", App: "dropbox", Entitlement: "account", Source: gatehouse.SourceDiscovered, GrantedAt: now.Add(-time.Hour)},
		{Identity: "ada@example.com", App: "jira", Entitlement: "account", Source: gatehouse.SourceBirthright, GrantedAt: now.Add(-2 * time.Hour)},
	} {
		if _, err := s.Store.PutGrant(g); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Store.RevokeGrant("ada@example.com", "jira", "account", now.Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	s.Engine = &fakeEngine{} // no OffboardPlanner: the store's grants are listed
	m, err := s.Offboard(context.Background(), Actor{Email: "it@example.com", IT: true}, "ada@example.com now")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Accounts) != 2 || m.Accounts[0].App != "dropbox" || !m.Accounts[0].Discovered || m.Accounts[1].Discovered {
		t.Fatalf("accounts %+v", m.Accounts)
	}
	if m.TransferToEmail != "grace@example.com" {
		t.Errorf("transfer to %q, want the manager", m.TransferToEmail)
	}
	if _, err := s.Offboard(context.Background(), Actor{Email: "ada@example.com", IT: true}, "ada@example.com"); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self offboard: %v", err)
	}
}
