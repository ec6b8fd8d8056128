package slackhandlers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

func TestValidateRegister(t *testing.T) {
	s, _ := newService(t) // today is 2026-11-26, no catalog (Config nil)
	ok := RegisterForm{Kind: "bot", Name: "CI bot", Email: "CI-Bot@example.com", OwnerUserID: "U1", OwnerEmail: "ada@example.com",
		Purpose: "deploys main after review", Expiry: "2027-01-31", Access: []string{"aws:readonly", " "}}
	with := func(f func(*RegisterForm)) RegisterForm { x := ok; f(&x); return x }
	for _, tc := range []struct {
		name string
		form RegisterForm
		bad  []string
	}{
		{"complete", ok, nil},
		{"no owner", with(func(f *RegisterForm) { f.OwnerUserID, f.OwnerEmail = "", "" }), []string{FieldNHOwner}},
		{"owner without an email in Slack", with(func(f *RegisterForm) { f.OwnerEmail = "" }), []string{FieldNHOwner}},
		{"owns itself", with(func(f *RegisterForm) { f.OwnerEmail = "ci-bot@example.com" }), []string{FieldNHOwner}},
		{"a person's kind", with(func(f *RegisterForm) { f.Kind = "employee" }), []string{FieldNHKind}},
		{"expiry today", with(func(f *RegisterForm) { f.Expiry = "2026-11-26" }), []string{FieldNHExpiry}},
		{"no expiry", with(func(f *RegisterForm) { f.Expiry = "" }), []string{FieldNHExpiry}},
		{"short purpose", with(func(f *RegisterForm) { f.Purpose = "ci" }), []string{FieldNHPurpose}},
		{"no access", with(func(f *RegisterForm) { f.Access = nil }), []string{FieldNHAccess}},
		{"bad access", with(func(f *RegisterForm) { f.Access = []string{"aws"} }), []string{FieldNHAccess}},
		{"empty form", RegisterForm{}, []string{FieldNHKind, FieldNHName, FieldNHEmail, FieldNHOwner, FieldNHPurpose, FieldNHExpiry, FieldNHAccess}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, errs := s.ValidateRegister(tc.form)
			if len(tc.bad) == 0 {
				if errs != nil {
					t.Fatal(errs)
				}
				if reg.Identity.Email != "ci-bot@example.com" || reg.Identity.Owner != "ada@example.com" || len(reg.Access) != 1 || reg.Identity.Kind != gatehouse.KindBot {
					t.Fatalf("registration %+v", reg)
				}
				return
			}
			if len(errs) != len(tc.bad) {
				t.Errorf("errors %v, want exactly %v", errs, tc.bad)
			}
			for _, f := range tc.bad {
				if errs[f] == "" {
					t.Errorf("no error on %s: %v", f, errs)
				}
			}
		})
	}
}

func TestNonHumanFlowsNeedTheEngine(t *testing.T) {
	s, _ := newService(t) // the fake engine has no non-human methods
	if _, err := s.Identity(context.Background(), Actor{Email: "ada@example.com"}, "register"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckExtend(t *testing.T) {
	s, _ := newService(t)
	g := gatehouse.Grant{Identity: "ada@example.com", App: "aws", Entitlement: "poweruser", Source: gatehouse.SourceRequest,
		GrantedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if _, err := s.Store.PutGrant(g); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		actor Actor
		value string
		want  error
	}{
		{"holder", Actor{UserID: "U1", Email: "ada@example.com"}, GrantRef(g), nil},
		{"someone else", Actor{UserID: "U9", Email: "grace@example.com"}, GrantRef(g), ErrForbidden},
		{"forged value", Actor{UserID: "U1", Email: "ada@example.com"}, "ada@example.com|aws", ErrInvalid},
		{"gone", Actor{UserID: "U1", Email: "ada@example.com"}, "ada@example.com|aws|admin", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CheckExtend(tc.actor, tc.value)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The refusal is evidence.
	audit, _ := s.Store.AuditEntries(store.AuditFilter{})
	refused := false
	for _, a := range audit {
		refused = refused || (a.Action == "refuse" && a.Actor.ID == "grace@example.com")
	}
	if !refused {
		t.Error("a refused Extend was not audited")
	}
}
