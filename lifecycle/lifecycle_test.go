package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

const cfgPath = "testdata/config.yaml"

func TestJoinerProvisionsIdPFirstThenApps(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	r := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada})
	r = h.wait(r.ID)
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("status %s, steps %+v", r.Status, h.steps(r.ID))
	}
	for _, app := range []string{"okta", "google", "github", "aws", "slack"} {
		if n := h.sims[app].Effects("ensure_account", ada.Email, ""); n != 1 {
			t.Errorf("%s: %d account creations, want 1", app, n)
		}
	}
	if n := h.sims["github"].Effects("grant", ada.Email, "member"); n != 1 {
		t.Errorf("github member granted %d times", n)
	}
	// The IdP account exists before any other app's account is created.
	idpAt := h.sims["okta"].Ops()[0].Time
	for _, app := range []string{"google", "github", "aws", "slack"} {
		if at := h.sims[app].Ops()[0].Time; at.Before(idpAt) {
			t.Errorf("%s account created at %v, before the IdP account (%v)", app, at, idpAt)
		}
	}
	grants, err := h.db.Grants(ada.Key())
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 8 { // 5 accounts + okta:engineering + github:member + aws:readonly
		t.Errorf("%d grants recorded, want 8: %+v", len(grants), grants)
	}
	id, err := h.db.GetIdentity(ada.Key())
	if err != nil || id.Status != gatehouse.StatusActive {
		t.Errorf("identity status %q (%v), want active", id.Status, err)
	}
	h.verifyAudit()
}

func TestDuplicateEventsMakeOneRun(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := person("ada@example.com", "Sales", "", "grace@example.com")
	type res struct {
		run     gatehouse.Run
		created bool
		err     error
	}
	out := make(chan res, 10)
	for range 10 {
		go func() {
			r, c, err := h.eng.Submit(context.Background(), gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada, Actor: gatehouse.Actor{Kind: gatehouse.ActorHR, ID: "x"}})
			out <- res{r, c, err}
		}()
	}
	ids := map[string]bool{}
	created := 0
	for range 10 {
		x := <-out
		if x.err != nil {
			t.Fatal(x.err)
		}
		ids[x.run.ID] = true
		if x.created {
			created++
		}
	}
	if len(ids) != 1 || created != 1 {
		t.Fatalf("%d runs, %d created; want one", len(ids), created)
	}
	for id := range ids {
		h.wait(id)
	}
	if n := h.sims["okta"].Effects("ensure_account", ada.Email, ""); n != 1 {
		t.Errorf("okta account created %d times", n)
	}
	// An explicit dedupe key (say a webhook delivery id) works the same way.
	for range 3 {
		h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}, DedupeKey: "delivery-42"})
	}
	runs, err := h.db.ListRuns(store.RunFilter{IdentityKey: ada.Key()})
	if err != nil || len(runs) != 2 {
		t.Fatalf("%d runs (%v), want 2", len(runs), err)
	}
}

func TestTwoPersonApprovalGatesCriticalGrant(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
	r := h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada, Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "hr@example.com"}})
	r = h.wait(r.ID)
	if r.Status != gatehouse.RunWaiting {
		t.Fatalf("status %s, want waiting on approval", r.Status)
	}
	steps := h.steps(r.ID)
	ap := steps["approval:github:admin"]
	if ap.Status != gatehouse.StepWaiting {
		t.Fatalf("approval step %+v", ap)
	}
	if steps["grant:github:admin"].Status != gatehouse.StepPending {
		t.Fatalf("gated grant ran: %+v", steps["grant:github:admin"])
	}
	if steps["grant:github:member"].Status != gatehouse.StepSucceeded {
		t.Fatalf("ungated grant did not run: %+v", steps["grant:github:member"])
	}
	aid := ap.Result[resApproval]
	a, err := h.db.GetApproval(aid)
	if err != nil {
		t.Fatal(err)
	}
	if a.Required != 2 || !containsFold(a.Approvers, "grace@example.com") || !containsFold(a.Approvers, "eng-owner@example.com") {
		t.Fatalf("approval %+v", a)
	}
	ctx := context.Background()
	refusals := []struct {
		who  string
		want error
	}{
		{"ada@example.com", ErrSelfApproval},
		{"hr@example.com", ErrSelfApproval}, // the requester
		{"mallory@example.com", ErrNotApprover},
	}
	for _, c := range refusals {
		if _, err := h.eng.Decide(ctx, aid, c.who, true, ""); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.who, err, c.want)
		}
	}
	if _, err := h.eng.Decide(ctx, aid, "grace@example.com", true, "ok"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Decide(ctx, aid, "grace@example.com", true, "again"); !errors.Is(err, ErrAlreadyDecided) {
		t.Errorf("second decision by the same person: %v", err)
	}
	if s, _ := h.db.GetStep(r.ID, "grant:github:admin"); s.Status != gatehouse.StepPending {
		t.Fatalf("one approval of two released the grant: %+v", s)
	}
	if _, err := h.eng.Decide(ctx, aid, "eng-owner@example.com", true, "ok"); err != nil {
		t.Fatal(err)
	}
	r = h.wait(r.ID)
	// aws:poweruser is high, not critical: no approval needed by this policy.
	if r.Status != gatehouse.RunSucceeded {
		t.Fatalf("status %s after approval: %+v", r.Status, h.steps(r.ID))
	}
	g, err := h.db.GetGrant(ada.Key(), "github", "admin")
	if err != nil || len(g.ApprovedBy) != 2 {
		t.Fatalf("grant %+v (%v): want approved by two", g, err)
	}
	if n := len(h.audit("refuse")); n != 4 {
		t.Errorf("%d refusals audited, want 4", n)
	}
	h.verifyAudit()
}

func TestDeniedApprovalSkipsGrant(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	aid := h.steps(r.ID)["approval:github:admin"].Result[resApproval]
	if _, err := h.eng.Decide(context.Background(), aid, "grace@example.com", false, "not needed"); err != nil {
		t.Fatal(err)
	}
	r = h.wait(r.ID)
	s := h.steps(r.ID)["grant:github:admin"]
	if r.Status != gatehouse.RunSucceeded || s.Status != gatehouse.StepSkipped || s.Result[resOutcome] != "blocked" {
		t.Fatalf("run %s, grant step %+v", r.Status, s)
	}
	if n := h.sims["github"].Effects("grant", ada.Email, "admin"); n != 0 {
		t.Errorf("denied grant applied %d times", n)
	}
	if len(h.audit("deny")) != 1 || len(h.audit("skip")) != 1 {
		t.Errorf("deny/skip not audited")
	}
}

func TestLeaverClosesEverythingAndEndsWithEvidence(t *testing.T) {
	h := newHarness(t, loadConfig(t, cfgPath, nil))
	ctx := context.Background()
	grace := person("grace@example.com", "Engineering", "", "ceo@example.com")
	ada := person("ada@example.com", "Engineering", "SRE", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: grace}).ID)
	r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	aid := h.steps(r.ID)["approval:github:admin"].Result[resApproval]
	for _, who := range []string{"grace@example.com", "eng-owner@example.com"} {
		if _, err := h.eng.Decide(ctx, aid, who, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	h.wait(r.ID)
	// An account nobody granted: a Slack workspace account under ada's
	// employee id but another name.
	if _, err := h.sims["slack"].EnsureAccount(ctx, gatehouse.AccountRef{UserName: "ada-old", Email: "ada.old@example.com", EmployeeID: ada.EmployeeID}); err != nil {
		t.Fatal(err)
	}
	plan, err := h.eng.PlanOffboard(ctx, ada.Email)
	if err != nil {
		t.Fatal(err)
	}
	if plan.TransferTo != "grace@example.com" || len(plan.Accounts) != 5 || len(plan.RotateCredentials) != 2 {
		t.Fatalf("offboard plan %+v", plan)
	}

	lr := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: gatehouse.Identity{Email: ada.Email}}).ID)
	if lr.Status != gatehouse.RunWaiting {
		t.Fatalf("leaver status %s, want waiting on credential rotation: %+v", lr.Status, h.steps(lr.ID))
	}
	for _, app := range []string{"okta", "github", "aws", "slack"} {
		acct, ok := h.sims[app].Find(gatehouse.AccountRef{Email: ada.Email, UserName: ada.Email})
		if !ok || acct.Active {
			t.Errorf("%s account still active: %+v", app, acct)
		}
		if acct.Sessions != 0 {
			t.Errorf("%s sessions not revoked", app)
		}
	}
	if _, ok := h.sims["google"].Find(gatehouse.AccountRef{Email: ada.Email, UserName: ada.Email}); ok {
		t.Errorf("google account not deleted (delete: true)")
	}
	if n := h.sims["google"].Calls("transfer_ownership", ada.Email, "grace@example.com"); n != 1 {
		t.Errorf("google ownership transferred %d times", n)
	}
	if old, _ := h.sims["slack"].Find(gatehouse.AccountRef{UserName: "ada-old"}); old.Active {
		t.Errorf("discovered account left active")
	}
	// Rotation tasks for github (critical) and aws (high), by their owners.
	tasks, err := h.db.ListTasks(store.TaskFilter{RunID: lr.ID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil || len(tasks) != 2 {
		t.Fatalf("%d open tasks (%v), want 2", len(tasks), err)
	}
	if ev := h.steps(lr.ID)[evidenceStep]; ev.Result[resOpen] != "2" || !strings.Contains(lr.Summary, "still open") {
		t.Errorf("evidence before tasks close: %+v / %q", ev.Result, lr.Summary)
	}
	for _, tk := range tasks {
		if _, err := h.eng.CompleteTask(ctx, tk.ID, "ada@example.com", true, "done"); !errors.Is(err, ErrSelfApproval) {
			t.Errorf("leaver closed own task: %v", err)
		}
		if _, err := h.eng.CompleteTask(ctx, tk.ID, tk.Assignee, true, "rotated the deploy keys"); err != nil {
			t.Fatal(err)
		}
	}
	lr = h.wait(lr.ID)
	if lr.Status != gatehouse.RunSucceeded {
		t.Fatalf("leaver status %s after tasks: %+v", lr.Status, h.steps(lr.ID))
	}
	ev := h.steps(lr.ID)[evidenceStep]
	if ev.Result[resOpen] != "0" || ev.Result["seat_cost_reclaimed"] != "30.00" {
		t.Errorf("evidence %+v", ev.Result)
	}
	if g, _ := h.db.Grants(ada.Key()); len(g) != 0 {
		t.Errorf("grants still recorded after leaving: %+v", g)
	}
	if id, _ := h.db.GetIdentity(ada.Key()); id.Status != gatehouse.StatusTerminated {
		t.Errorf("identity status %s", id.Status)
	}
	h.verifyAudit()
}
