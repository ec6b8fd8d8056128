package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehousehq/gatehouse"
)

// TestRevokeAccessWholeApp closes a person's account in one app (a dormant
// account a digest listed) and leaves the other apps alone; a repeated
// decision is the same run.
func TestRevokeAccessWholeApp(t *testing.T) {
	h := newHarness(t, loadConfig(t, "testdata/config.yaml", nil))
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	req := RevokeRequest{Identity: ada.Email, App: "github", By: "it@example.com", Reason: "dormant", Source: "test", DedupeKey: "digest:g-1:d/ada/github"}
	r1, err := h.eng.RevokeAccess(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := h.eng.RevokeAccess(context.Background(), req)
	if err != nil || r2.ID != r1.ID {
		t.Fatalf("a repeated decision made run %s (%v), want %s", r2.ID, err, r1.ID)
	}
	if done := h.wait(r1.ID); done.Status != gatehouse.RunSucceeded {
		t.Fatalf("revoke run ended %s: %s", done.Status, done.Summary)
	}
	if a, ok := h.sims["github"].Find(gatehouse.RefFor(ada)); !ok || a.Active {
		t.Fatalf("github shows %+v, want ada's account disabled", a)
	}
	if a, ok := h.sims["okta"].Find(gatehouse.RefFor(ada)); !ok || !a.Active {
		t.Fatalf("okta shows %+v, want ada's IdP account untouched", a)
	}
	if gs, _ := h.db.Grants(ada.Key()); holds(gs, "github", "member") || holds(gs, "github", "account") {
		t.Fatalf("the store still records github grants: %+v", gs)
	}
	if _, err := h.eng.RevokeAccess(context.Background(), RevokeRequest{Identity: ada.Email, App: "nosuch", By: "it@example.com"}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("an unknown app: %v", err)
	}
}

// TestRevokeAccessClosesAnOrphanByID closes an account nobody owns by the
// id the app listed it under, without touching a same-named identity.
func TestRevokeAccessClosesAnOrphanByID(t *testing.T) {
	h := newHarness(t, loadConfig(t, "testdata/config.yaml", nil))
	ghost := gatehouse.AccountRef{Email: "ghost@agency.example", UserName: "ghost@agency.example", Name: "Ghost"}
	acct, err := h.sims["github"].EnsureAccount(context.Background(), ghost)
	if err != nil {
		t.Fatal(err)
	}
	run, err := h.eng.RevokeAccess(context.Background(), RevokeRequest{App: "github", Account: &acct, By: "eng-owner@example.com", Reason: "orphaned", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if run.IdentityKey != "orphan:github:"+acct.ID {
		t.Fatalf("orphan run filed under %q", run.IdentityKey)
	}
	if done := h.wait(run.ID); done.Status != gatehouse.RunSucceeded {
		t.Fatalf("orphan run ended %s: %s", done.Status, done.Summary)
	}
	if a, ok := h.sims["github"].Find(gatehouse.AccountRef{AccountID: acct.ID}); !ok || a.Active {
		t.Fatalf("github shows the orphan %+v, want it disabled", a)
	}
	if _, err := h.db.GetIdentity(run.IdentityKey); err == nil {
		t.Fatalf("closing an orphan must not invent a stored identity")
	}
}
