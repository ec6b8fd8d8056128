package vendore2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

// keeper models a vendor that answers a membership removal with success and
// keeps the membership: after the real removal went over the wire it puts
// the membership back through the vendor's own API, so the fake's state —
// what the re-read sees — really shows it. None of the fakes can be told
// to ignore a removal, hence this.
type keeper struct {
	gatehouse.Connector
	ent  string
	keep atomic.Bool
}

func (k *keeper) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	if err := k.Connector.Revoke(ctx, ref, ent); err != nil || ent.Name != k.ent || !k.keep.Load() {
		return err
	}
	if err := k.Connector.Grant(ctx, ref, ent); err != nil {
		return fmt.Errorf("keeper: put %s back: %w", ent.Name, err)
	}
	return nil
}

func (k *keeper) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	return k.Connector.(gatehouse.AccountReader).ReadAccount(ctx, ref)
}

// Entra keeps ada in the Engineering SG although it said it removed her:
// the re-read catches it, the run is blocked on an escalated task naming
// m365:eng-sg, who-had still lists ada there (and only there), and once the
// membership really goes a retry's re-read lets the run succeed.
func TestLeaverMismatchIsEscalated(t *testing.T) {
	var k *keeper
	e := newEnv(t, envOptions{wrap: func(cs map[string]gatehouse.Connector) {
		k = &keeper{Connector: cs["m365"], ent: "eng-sg"}
		cs["m365"] = k
	}})
	e.onboard()
	k.keep.Store(true)
	awsID := e.awsID()
	lr, _ := e.offboard()
	steps := e.steps(lr.ID)
	v := steps["verify:m365"]
	if lr.Status != gatehouse.RunBlocked || v.Status != gatehouse.StepEscalated {
		t.Fatalf("leaver %s, verify:m365 %s: want blocked on an escalated re-read%s", lr.Status, v.Status, describe(steps))
	}
	if v.Result["verified"] != "mismatch" || v.Result["still_held"] != "eng-sg" {
		t.Errorf("verify:m365 result %v", v.Result)
	}
	// The vendor really shows it: this is not our record talking.
	u, _ := e.f.entra.User(adaEmail)
	if gs := e.f.entra.GroupsOf(u.ID); len(gs) != 1 || gs[0] != "Engineering SG" {
		t.Fatalf("entra groups of ada %v: the fault model did not keep the membership", gs)
	}
	if u.AccountEnabled {
		t.Error("entra account still enabled")
	}
	tasks, err := e.db.ListTasks(store.TaskFilter{RunID: lr.ID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || !tasks[0].Escalated || !strings.Contains(tasks[0].Title, "m365:eng-sg") {
		t.Fatalf("open tasks %+v: want one escalated task naming m365:eng-sg", tasks)
	}
	if !e.whoHad("m365:eng-sg") {
		t.Error("who-had m365:eng-sg does not list ada while Entra still shows her in the group")
	}
	for _, k := range e.held() {
		if k != "m365:eng-sg" && e.whoHad(k) {
			t.Errorf("who-had %s lists ada although its re-read confirmed it gone", k)
		}
	}
	for app, open := range e.f.access(awsID) {
		if app != "m365" && len(open) != 0 {
			t.Errorf("%s still shows %q", app, open)
		}
	}
	if !strings.Contains(lr.Summary, "still open") {
		t.Errorf("summary %q", lr.Summary)
	}
	esc := false
	entries, err := e.db.AuditEntries(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		esc = esc || (a.Action == "escalate" && a.App == "m365" && a.Details["still_held"] == "eng-sg")
	}
	if !esc {
		t.Error("no escalate audit entry carrying what Entra still showed")
	}

	// Entra lets go; IT retries; the re-read confirms.
	k.keep.Store(false)
	if err := k.Revoke(context.Background(), gatehouse.AccountRef{Email: adaEmail, UserName: adaEmail, AccountID: u.ID}, gatehouse.Entitlement{Name: "eng-sg"}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Retry(context.Background(), lr.ID, "it@example.com"); err != nil {
		t.Fatal(err)
	}
	if lr = e.wait(lr.ID); lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("after the retry: %s%s", lr.Status, describe(e.steps(lr.ID)))
	}
	if e.whoHad("m365:eng-sg") {
		t.Error("who-had m365:eng-sg still lists ada after the confirming re-read")
	}
}
