package governance

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
	"github.com/gatehousehq/gatehouse/store"
)

// fakeRevoker stores a finished access_revoke run per request (deduplicated
// like the engine), so that tests can see what was revoked and exports can
// read the run's status.
type fakeRevoker struct {
	db   *store.DB
	mu   sync.Mutex
	reqs []lifecycle.RevokeRequest
	err  error // answered instead of a run when set
}

func (f *fakeRevoker) RevokeAccess(_ context.Context, req lifecycle.RevokeRequest) (gatehouse.Run, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	fail := f.err
	f.mu.Unlock()
	if fail != nil {
		return gatehouse.Run{}, fail
	}
	run, _, err := f.db.CreateRun(gatehouse.Run{IdentityKey: req.Identity, Status: gatehouse.RunSucceeded,
		Event: gatehouse.Event{Type: lifecycle.EventAccessRevoke, DedupeKey: req.DedupeKey, Reason: req.Reason}}, nil)
	return run, err
}

func (f *fakeRevoker) requests() []lifecycle.RevokeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]lifecycle.RevokeRequest(nil), f.reqs...)
}

type assignment struct {
	reviewer, note string
	items          int
}

type recNotifier struct {
	mu      sync.Mutex
	assigns []assignment
	changes int
}

func (n *recNotifier) ReviewAssigned(_ context.Context, _ gatehouse.Campaign, reviewer string, items []gatehouse.ReviewItem, note string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.assigns = append(n.assigns, assignment{reviewer, note, len(items)})
}

func (n *recNotifier) CampaignChanged(context.Context, gatehouse.Campaign) {
	n.mu.Lock()
	n.changes++
	n.mu.Unlock()
}

func (n *recNotifier) find(reviewer, notePrefix string) (assignment, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.assigns {
		if a.reviewer == reviewer && strings.HasPrefix(a.note, notePrefix) {
			return a, true
		}
	}
	return assignment{}, false
}

var itActor = Actor{Email: "it-lead@example.com", IT: true}

func newReviews(t *testing.T) (*Reviews, *fixture, *fakeRevoker, *recNotifier, *clocktest.Clock) {
	t.Helper()
	f := newFixture(t)
	clk := clocktest.New(now)
	rv := &fakeRevoker{db: f.db}
	n := &recNotifier{}
	return &Reviews{Config: f.cfg, DB: f.db, Engine: rv, Clock: clk, Notify: n}, f, rv, n, clk
}

func TestReviewerSelection(t *testing.T) {
	f := newFixture(t)
	people := map[string]gatehouse.Identity{
		"vp@example.com":   {Email: "vp@example.com", Status: gatehouse.StatusActive},
		"bob@example.com":  {Email: "bob@example.com", ManagerEmail: "vp@example.com", Status: gatehouse.StatusActive},
		"gone@example.com": {Email: "gone@example.com", ManagerEmail: "vp@example.com", Status: gatehouse.StatusTerminated},
		"cto@example.com":  {Email: "cto@example.com", ManagerEmail: "vp@example.com", Status: gatehouse.StatusActive},
	}
	const it = "it@example.com"
	for _, tc := range []struct {
		name      string
		id        gatehouse.Identity
		app       string
		roles     []string
		want, why string
	}{
		{"manager", gatehouse.Identity{Email: "ada@example.com", ManagerEmail: "bob@example.com"}, "github", []string{"manager"}, "bob@example.com", "manager"},
		{"app owner first", gatehouse.Identity{Email: "ada@example.com", ManagerEmail: "bob@example.com"}, "github", []string{"app_owner", "manager"}, "cto@example.com", "app_owner"},
		{"no manager falls to the next role", gatehouse.Identity{Email: "ada@example.com"}, "github", []string{"manager", "app_owner"}, "cto@example.com", "app_owner"},
		{"no manager, no other role: IT", gatehouse.Identity{Email: "ada@example.com"}, "github", []string{"manager"}, it, RoleIT},
		{"the app owner reviewing themself: their manager", gatehouse.Identity{Email: "cto@example.com", ManagerEmail: "vp@example.com"}, "github", []string{"app_owner"}, "vp@example.com", "manager"},
		{"a manager who left: the manager's manager", gatehouse.Identity{Email: "ada@example.com", ManagerEmail: "gone@example.com"}, "github", []string{"manager"}, "vp@example.com", RoleManagersManager},
		{"own manager record pointing at self: the next up", gatehouse.Identity{Email: "bob@example.com", ManagerEmail: "bob@example.com"}, "github", []string{"manager"}, "vp@example.com", RoleManagersManager},
		{"app owner is self, no manager: IT", gatehouse.Identity{Email: "sre@example.com"}, "aws", []string{"app_owner"}, it, RoleIT},
		{"case-insensitive self", gatehouse.Identity{Email: "CTO@example.com"}, "github", []string{"app_owner"}, it, RoleIT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, role := Reviewer(f.cfg, tc.id, tc.app, tc.roles, people, it)
			if got != tc.want || role != tc.why {
				t.Fatalf("reviewer = %s (%s), want %s (%s)", got, role, tc.want, tc.why)
			}
			if strings.EqualFold(got, tc.id.Email) {
				t.Fatalf("%s reviews their own access", got)
			}
		})
	}
}

func TestReviewScope(t *testing.T) {
	f := newFixture(t)
	ids, _ := f.db.ListIdentities()
	grants, _ := f.db.AllGrants()
	for _, tc := range []struct {
		name  string
		scope gatehouse.ReviewScope
		want  []string // email app:ent, sorted by reviewer then person
	}{
		{"high risk aws", gatehouse.ReviewScope{Apps: []string{"aws"}, MinRisk: gatehouse.RiskHigh},
			[]string{"dana@example.com aws:prod-admin", "bob@example.com aws:prod-admin", "bob@example.com aws:security-audit"}},
		{"critical only", gatehouse.ReviewScope{MinRisk: gatehouse.RiskCritical}, []string{"dana@example.com aws:prod-admin", "bob@example.com aws:prod-admin"}},
		{"github without the leaver", gatehouse.ReviewScope{Apps: []string{"github"}},
			[]string{"ada@example.com github:account", "ada@example.com github:backend", "dana@example.com github:account", "bob@example.com github:account"}},
		{"a team nobody is in", gatehouse.ReviewScope{Team: "payments"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := SelectItems(f.cfg, ids, grants, tc.scope, []string{"manager"}, now)
			var got []string
			for _, it := range items {
				got = append(got, it.Email+" "+it.Ref().String())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("items\n %v\nwant\n %v", got, tc.want)
			}
			for _, it := range items {
				if it.Reviewer == it.Email {
					t.Errorf("%s reviews own %s", it.Email, it.Ref())
				}
			}
		})
	}
}

func auditCount(t *testing.T, db *store.DB, action, campaign string) int {
	t.Helper()
	all, err := db.AuditEntries(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range all {
		if a.Action == action && a.Details["campaign"] == campaign {
			n++
		}
	}
	return n
}

func itemOf(t *testing.T, r *Reviews, c gatehouse.Campaign, email, ref string) gatehouse.ReviewItem {
	t.Helper()
	items, err := r.Items(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Email == email && it.Ref().String() == ref {
			return it
		}
	}
	t.Fatalf("no item %s %s in %s", email, ref, c.ID)
	return gatehouse.ReviewItem{}
}

func TestReviewAuthorization(t *testing.T) {
	r, _, rv, _, _ := newReviews(t)
	ctx := context.Background()
	if _, err := r.Start(ctx, StartRequest{Scope: gatehouse.ReviewScope{Apps: []string{"github"}}, By: Actor{Email: "bob@example.com"}}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a manager started a campaign: %v", err)
	}
	c, err := r.Start(ctx, StartRequest{Scope: gatehouse.ReviewScope{Apps: []string{"github"}}, By: itActor})
	if err != nil {
		t.Fatal(err)
	}
	ada := itemOf(t, r, c, "ada@example.com", "github:backend")
	bobOwn := itemOf(t, r, c, "bob@example.com", "github:account")
	for _, tc := range []struct {
		name    string
		item    string
		who     Actor
		wantErr error
	}{
		{"stranger", ada.ID, Actor{Email: "mallory@example.com"}, ErrNotAllowed},
		{"the person reviewed", ada.ID, Actor{Email: "ada@example.com"}, ErrNotAllowed},
		{"IT on its own access", bobOwn.ID, Actor{Email: "bob@example.com", IT: true}, ErrNotAllowed},
		{"forged item id", "i999999", Actor{Email: "bob@example.com"}, ErrUnknownItem},
		{"NUL in the id", "i\x00", Actor{Email: "bob@example.com"}, ErrUnknownItem},
		{"no email", ada.ID, Actor{}, ErrNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, r.DB, "refuse", c.ID)
			_, err := r.Decide(ctx, c.ID, tc.item, tc.who, gatehouse.ReviewRevoke, "")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if after := auditCount(t, r.DB, "refuse", c.ID); after != before+1 {
				t.Fatalf("refusal audited %d times, want once", after-before)
			}
		})
	}
	if len(rv.requests()) != 0 {
		t.Fatalf("a refused click revoked: %+v", rv.requests())
	}
	if _, err := r.Decide(ctx, "c-nope", ada.ID, itActor, gatehouse.ReviewKeep, ""); !errors.Is(err, ErrUnknownItem) {
		t.Fatalf("unknown campaign: %v", err)
	}
	// The reviewer revokes; a double click is one run; changing one's mind
	// afterwards is refused.
	for range 2 {
		it, err := r.Decide(ctx, c.ID, ada.ID, Actor{Email: "BOB@example.com"}, gatehouse.ReviewRevoke, "left the backend team")
		if err != nil || it.Decision != gatehouse.ReviewRevoke || it.RunID == "" || it.DecidedBy != "bob@example.com" {
			t.Fatalf("decide: %+v, %v", it, err)
		}
	}
	if reqs := rv.requests(); len(reqs) != 1 || reqs[0].App != "github" || strings.Join(reqs[0].Entitlements, ",") != "backend" || reqs[0].By != "BOB@example.com" {
		t.Fatalf("revoke requests %+v", reqs)
	}
	if _, err := r.Decide(ctx, c.ID, ada.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewKeep, ""); !errors.Is(err, ErrDecided) {
		t.Fatalf("changed decision: %v", err)
	}
	if n := auditCount(t, r.DB, "review_revoke", c.ID); n != 1 {
		t.Fatalf("%d review_revoke audit entries, want 1", n)
	}
	// IT may decide anyone else's line.
	if _, err := r.Decide(ctx, c.ID, itemOf(t, r, c, "dana@example.com", "github:account").ID, itActor, gatehouse.ReviewKeep, ""); err != nil {
		t.Fatal(err)
	}
	// Keep all needs a reason and keeps only the clicker's own lines.
	if _, err := r.KeepAll(ctx, c.ID, Actor{Email: "bob@example.com"}, " "); !errors.Is(err, ErrNeedReason) {
		t.Fatalf("keep all without reason: %v", err)
	}
	if _, err := r.KeepAll(ctx, c.ID, Actor{Email: "mallory@example.com"}, "fine"); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("keep all by a stranger: %v", err)
	}
	n, err := r.KeepAll(ctx, c.ID, Actor{Email: "bob@example.com"}, "team unchanged")
	if err != nil || n != 1 {
		t.Fatalf("keep all = %d, %v; want ada's account", n, err)
	}
	got, _ := r.Campaign(c.ID)
	if got.Decided != 3 || got.Kept != 2 || got.Revoked != 1 || got.Items != 4 || got.Status != gatehouse.CampaignOpen {
		t.Fatalf("campaign counts %+v", got)
	}
	// The last line (bob's own, IT's to review) closes the campaign.
	if _, err := r.Decide(ctx, c.ID, bobOwn.ID, Actor{Email: "it@example.com"}, gatehouse.ReviewKeep, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ = r.Campaign(c.ID); got.Status != gatehouse.CampaignClosed || !got.Done() {
		t.Fatalf("campaign after the last decision: %+v", got)
	}
	if _, err := r.Decide(ctx, c.ID, ada.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewKeep, ""); !errors.Is(err, ErrCampaignClosed) {
		t.Fatalf("decision on a closed campaign: %v", err)
	}
}

// step advances the fake clock by d in steps of every, waiting after each
// for the runner to finish its pass (it then waits on a new timer).
func step(t *testing.T, clk *clocktest.Clock, d, every time.Duration) {
	t.Helper()
	for moved := time.Duration(0); moved < d; moved += every {
		if !clk.BlockUntil(1, 5*time.Second) {
			t.Fatal("the campaign runner is not waiting on the clock")
		}
		clk.Advance(every)
	}
	if !clk.BlockUntil(1, 5*time.Second) {
		t.Fatal("the campaign runner did not finish its pass")
	}
}

// TestCampaignThroughTime steps a fake clock through a whole campaign:
// a reminder after approvals.remind_after, an escalation after
// approvals.escalate_after, and the deadline action, for each action.
func TestCampaignThroughTime(t *testing.T) {
	for _, action := range []string{gatehouse.OnDeadlineRevoke, gatehouse.OnDeadlineKeep, gatehouse.OnDeadlineEscalate} {
		t.Run(action, func(t *testing.T) {
			r, f, rv, n, clk := newReviews(t)
			// Give bob a manager so that his reports' lines escalate to her.
			bob, _ := f.db.IdentityByEmail("bob@example.com")
			bob.ManagerEmail = "vp@example.com"
			if _, err := f.db.PutIdentity(bob); err != nil {
				t.Fatal(err)
			}
			if _, err := f.db.PutIdentity(gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: "vp@example.com", Name: "VP", Status: gatehouse.StatusActive}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			runner := &Campaigns{Reviews: r, Every: time.Hour, OnError: func(err error) { t.Errorf("tick: %v", err) }}
			runner.Start(ctx)
			defer runner.Close()
			c, err := r.Start(ctx, StartRequest{Scope: gatehouse.ReviewScope{Apps: []string{"github", "wiki"}}, Deadline: days(14), OnDeadline: action, By: itActor})
			if err != nil {
				t.Fatal(err)
			}
			if c.Items != 7 || c.Deadline != now.Add(days(14)) {
				t.Fatalf("campaign %+v", c)
			}
			if a, ok := n.find("bob@example.com", ""); !ok || a.items != 5 {
				t.Fatalf("bob was asked about %+v, want his reports' 5 lines", n.assigns)
			}
			// Bob decides one line at once; it is never reminded.
			decided := itemOf(t, r, c, "dana@example.com", "wiki:account")
			if _, err := r.Decide(ctx, c.ID, decided.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewKeep, "writes the docs"); err != nil {
				t.Fatal(err)
			}
			step(t, clk, 23*time.Hour, time.Hour)
			if _, ok := n.find("bob@example.com", "Reminder"); ok {
				t.Fatal("reminded before approvals.remind_after")
			}
			step(t, clk, time.Hour, time.Hour)
			if a, ok := n.find("bob@example.com", "Reminder"); !ok || a.items != 4 {
				t.Fatalf("reminder to bob: %+v (all: %+v)", a, n.assigns)
			}
			step(t, clk, 24*time.Hour, time.Hour) // 48h: escalate_after
			if a, ok := n.find("vp@example.com", "Escalated"); !ok || a.items != 4 {
				t.Fatalf("escalation to bob's manager: %+v (all: %+v)", a, n.assigns)
			}
			moved := itemOf(t, r, c, "dana@example.com", "github:account")
			if moved.Reviewer != "vp@example.com" || strings.Join(moved.EscalatedFrom, ",") != "bob@example.com" {
				t.Fatalf("escalated item %+v", moved)
			}
			// Bob's own access was the VP's from the start (his manager);
			// she has no manager, so it escalated to IT.
			if bobs := itemOf(t, r, c, "bob@example.com", "github:account"); bobs.Reviewer != "it@example.com" || strings.Join(bobs.EscalatedFrom, ",") != "vp@example.com" {
				t.Fatalf("bob's own line %+v", bobs)
			}
			if _, err := r.Decide(ctx, c.ID, moved.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewKeep, ""); !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("the previous reviewer decided an escalated line: %v", err)
			}
			if auditCount(t, r.DB, "review_escalate", c.ID) != 6 || auditCount(t, r.DB, "review_remind", c.ID) < 1 {
				t.Fatal("reminder or escalation not audited")
			}
			step(t, clk, days(14)-48*time.Hour, 6*time.Hour) // the deadline
			got, _ := r.Campaign(c.ID)
			items, _ := r.Items(c.ID)
			pending := 0
			for _, it := range items {
				if it.Pending() {
					pending++
				}
			}
			switch action {
			case gatehouse.OnDeadlineRevoke:
				// 6 undecided lines of 4 people in 2 apps; ada's github
				// account and bob's lines share runs per identity+app.
				if got.Status != gatehouse.CampaignClosed || got.Revoked != 6 || pending != 0 {
					t.Fatalf("after the deadline: %+v", got)
				}
				reqs := rv.requests()
				if len(reqs) != 5 {
					t.Fatalf("%d revoke runs, want one per identity and app (5): %+v", len(reqs), reqs)
				}
				for _, q := range reqs {
					if q.Reason != "review deadline passed" {
						t.Errorf("revoke reason %q", q.Reason)
					}
				}
				for _, it := range items {
					if it.ID != decided.ID && (it.RunID == "" || it.DecidedBy != "gatehouse") {
						t.Errorf("item %s has no run or is not the deadline's: %+v", it.ID, it)
					}
				}
			case gatehouse.OnDeadlineKeep:
				if got.Status != gatehouse.CampaignClosed || got.Kept != 7 || len(rv.requests()) != 0 {
					t.Fatalf("after the deadline: %+v, revokes %+v", got, rv.requests())
				}
				if it := itemOf(t, r, c, "ada@example.com", "wiki:account"); !strings.HasPrefix(it.Reason, "review deadline passed") {
					t.Fatalf("kept item reason %q", it.Reason)
				}
			case gatehouse.OnDeadlineEscalate:
				if got.Status != gatehouse.CampaignEscalated || pending != 6 || len(rv.requests()) != 0 {
					t.Fatalf("after the deadline: %+v (%d pending)", got, pending)
				}
				if a, ok := n.find("it@example.com", "The review deadline passed"); !ok || a.items != 6 {
					t.Fatalf("IT was not handed the lines: %+v", n.assigns)
				}
				for _, it := range items {
					if it.Pending() && it.Reviewer != "it@example.com" {
						t.Errorf("item %s still with %s", it.ID, it.Reviewer)
					}
				}
			}
			if auditCount(t, r.DB, "review_deadline", c.ID) != 1 {
				t.Fatal("deadline not audited once")
			}
			// Another day changes nothing: the deadline action ran once.
			before := len(rv.requests())
			step(t, clk, 24*time.Hour, time.Hour)
			if len(rv.requests()) != before || auditCount(t, r.DB, "review_deadline", c.ID) != 1 {
				t.Fatal("the deadline action ran twice")
			}
		})
	}
}

func TestReviewExport(t *testing.T) {
	r, _, _, _, _ := newReviews(t)
	ctx := context.Background()
	c, err := r.Start(ctx, StartRequest{Name: "Q4 github", Scope: gatehouse.ReviewScope{Apps: []string{"github"}}, By: itActor})
	if err != nil {
		t.Fatal(err)
	}
	rev := itemOf(t, r, c, "ada@example.com", "github:backend")
	if _, err := r.Decide(ctx, c.ID, rev.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewRevoke, "=HYPERLINK(\"x\")"); err != nil {
		t.Fatal(err)
	}
	keep := itemOf(t, r, c, "dana@example.com", "github:account")
	if _, err := r.Decide(ctx, c.ID, keep.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewKeep, "needs it, on call"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteEvidence(&buf, c.ID, "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || strings.Join(recs[0], ",") != strings.Join(EvidenceColumns, ",") {
		t.Fatalf("csv: %d records, header %v", len(recs), recs[0])
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	byItem := map[string][]string{}
	for _, rec := range recs[1:] {
		byItem[rec[col["item"]]] = rec
	}
	got := byItem[rev.ID]
	if got[col["decision"]] != "revoke" || got[col["decided_by"]] != "bob@example.com" || got[col["run_id"]] == "" ||
		got[col["run_status"]] != string(gatehouse.RunSucceeded) || got[col["risk"]] != "low" || got[col["entitlement"]] != "backend" ||
		got[col["reviewer"]] != "bob@example.com" || got[col["campaign"]] != c.ID || got[col["decided_at"]] != now.Format(time.RFC3339) {
		t.Fatalf("revoked row %v", got)
	}
	if !strings.HasPrefix(got[col["reason"]], "'=") {
		t.Fatalf("a formula in a reason was not defused: %q", got[col["reason"]])
	}
	if p := byItem[itemOf(t, r, c, "bob@example.com", "github:account").ID]; p[col["decision"]] != "pending" || p[col["reviewer"]] != "it@example.com" {
		t.Fatalf("pending row %v", p)
	}

	buf.Reset()
	if err := r.WriteEvidence(&buf, c.ID, "jsonl"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d jsonl lines, want 4", len(lines))
	}
	decisions := map[string]int{}
	for _, l := range lines {
		var row EvidenceRow
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		decisions[row.Decision]++
		if row.Item == keep.ID && (row.Reason != "needs it, on call" || row.RunID != "" || row.CampaignName != "Q4 github") {
			t.Fatalf("kept row %+v", row)
		}
	}
	if fmt.Sprint(decisions) != "map[keep:1 pending:2 revoke:1]" {
		t.Fatalf("decisions %v", decisions)
	}
	if err := r.WriteEvidence(&buf, c.ID, "xml"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("xml export: %v", err)
	}
	if err := r.WriteEvidence(&buf, "c-missing", "csv"); !errors.Is(err, ErrNoCampaign) {
		t.Fatalf("export of an unknown campaign: %v", err)
	}
}

// TestCampaignAnnouncedLater: a campaign started where nobody can be told
// (the CLI) is sent to its reviewers by the next pass of a running
// Gatehouse, once.
func TestCampaignAnnouncedLater(t *testing.T) {
	r, _, _, n, _ := newReviews(t)
	ctx := context.Background()
	r.Notify = nil
	c, err := r.Start(ctx, StartRequest{Scope: gatehouse.ReviewScope{Apps: []string{"github"}}, By: itActor})
	if err != nil || c.Announced {
		t.Fatalf("start: %+v, %v", c, err)
	}
	r.Notify = n
	for range 2 {
		if err := r.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(n.assigns) != 2 || n.changes != 1 {
		t.Fatalf("assignments %+v, %d progress changes; want bob and IT once", n.assigns, n.changes)
	}
	if got, _ := r.Campaign(c.ID); !got.Announced {
		t.Fatal("campaign not marked announced")
	}
}

// TestReviewRaceKeepRevoke: IT's Keep and the manager's Revoke on the same
// line at the same instant leave either a kept line and no run, or a
// revoked line with its run — never a run behind a kept line.
func TestReviewRaceKeepRevoke(t *testing.T) {
	for range 10 {
		r, _, rv, _, _ := newReviews(t)
		ctx := context.Background()
		c, err := r.Start(ctx, StartRequest{Scope: gatehouse.ReviewScope{Apps: []string{"github"}}, By: itActor})
		if err != nil {
			t.Fatal(err)
		}
		it := itemOf(t, r, c, "ada@example.com", "github:backend")
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = r.Decide(ctx, c.ID, it.ID, itActor, gatehouse.ReviewKeep, "") })
		wg.Go(func() { _, _ = r.Decide(ctx, c.ID, it.ID, Actor{Email: "bob@example.com"}, gatehouse.ReviewRevoke, "") })
		wg.Wait()
		got := itemOf(t, r, c, "ada@example.com", "github:backend")
		reqs := len(rv.requests())
		if (got.Decision == gatehouse.ReviewKeep) != (reqs == 0) || (got.Decision == gatehouse.ReviewRevoke && got.RunID == "") {
			t.Fatalf("decision %s with %d revoke run(s), run id %q", got.Decision, reqs, got.RunID)
		}
	}
}

// TestReviewRevokeAlreadyGone: access revoked meanwhile stands as a
// revoke without a run; an engine failure leaves the line undecided.
func TestReviewRevokeAlreadyGone(t *testing.T) {
	r, _, rv, _, _ := newReviews(t)
	ctx := context.Background()
	c, err := r.Start(ctx, StartRequest{Scope: gatehouse.ReviewScope{Apps: []string{"github"}}, By: itActor})
	if err != nil {
		t.Fatal(err)
	}
	bob := Actor{Email: "bob@example.com"}
	it := itemOf(t, r, c, "ada@example.com", "github:backend")
	rv.err = errors.New("store unavailable")
	if _, err := r.Decide(ctx, c.ID, it.ID, bob, gatehouse.ReviewRevoke, ""); err == nil {
		t.Fatal("an engine failure was reported as success")
	}
	if got := itemOf(t, r, c, "ada@example.com", "github:backend"); !got.Pending() {
		t.Fatalf("a failed revoke was recorded: %+v", got)
	}
	rv.err = fmt.Errorf("%w: ada holds none of backend in github", lifecycle.ErrInvalidEvent)
	got, err := r.Decide(ctx, c.ID, it.ID, bob, gatehouse.ReviewRevoke, "")
	if err != nil || got.Decision != gatehouse.ReviewRevoke || got.RunID != "" || !strings.Contains(got.Reason, "already gone") {
		t.Fatalf("already gone: %+v, %v", got, err)
	}
}
