package lifecycle

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle/clocktest"
	"github.com/gatehousehq/gatehouse/store"
)

// timeBoundConfig is the test config plus a rule whose birthright grants
// expire (team "Temp": five days of the engineer profile).
func timeBoundConfig(t *testing.T) *config.Config {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.Replace(string(b), "rules:\n", "rules:\n  - name: temp-staff\n    when: identity.team == \"Temp\"\n    profiles: [engineer]\n    expires_after: 120h\n", 1)
	cfg, err := config.Parse(cfgPath, []byte(raw), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.reminders {
		if strings.HasPrefix(x, prefix) {
			n++
		}
	}
	return n
}

func held(h *harness, key, app, ent string) bool {
	g, err := h.db.GetGrant(key, app, ent)
	return err == nil && g.RevokedAt.IsZero()
}

// settleSleep gives the engine's goroutines real time to act on a clock
// change, so that "nothing happened yet" is a meaningful assertion.
func settleSleep() { time.Sleep(100 * time.Millisecond) }

// TestTimeBoundAccessEverySource drives the scheduler with a fake clock:
// whatever made a grant time-bound (a request, a contractor's end date, a
// rule's expiry), the holder is reminded exactly expiry_reminder before the
// end and the grant is revoked exactly at it — not a second earlier.
func TestTimeBoundAccessEverySource(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cases := []struct {
		name   string
		who    gatehouse.Identity
		app    string
		ent    string
		setup  func(h *harness, id gatehouse.Identity)
		expiry time.Time
	}{
		{
			name: "request", who: person("ada@example.com", "Engineering", "Platform", "grace@example.com"),
			app: "aws", ent: "poweruser", expiry: t0.Add(7 * 24 * time.Hour),
			setup: func(h *harness, id gatehouse.Identity) {
				r, err := h.eng.RequestAccess(context.Background(), AccessRequest{Identity: id.Email, Requester: id.Email, Reason: "incident",
					Entitlements: []gatehouse.EntitlementRef{{App: "aws", Entitlement: "poweruser"}}, Duration: 7 * 24 * time.Hour})
				if err != nil {
					h.t.Fatal(err)
				}
				if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
					h.t.Fatalf("request %s", r.Status)
				}
			},
		},
		{
			name: "contractor end date",
			who: func() gatehouse.Identity {
				c := person("cora@example.com", "Engineering", "Platform", "grace@example.com")
				c.Kind, c.EndDate = gatehouse.KindContractor, gatehouse.Date{Year: 2026, Month: 3, Day: 20}
				return c
			}(),
			// Access ends at the end of the last contract day, in the org's zone.
			app: "github", ent: "member", expiry: time.Date(2026, 3, 21, 0, 0, 0, 0, berlin),
		},
		{
			name: "birthright rule expiry", who: person("tim@example.com", "Sales", "Temp", "grace@example.com"),
			app: "aws", ent: "readonly", expiry: t0.Add(120 * time.Hour),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(t0)
			h := newHarness(t, timeBoundConfig(t), withClock(clk))
			if r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: tc.who}).ID); r.Status != gatehouse.RunSucceeded {
				t.Fatalf("joiner %s: %+v", r.Status, h.steps(r.ID))
			}
			if tc.setup != nil {
				tc.setup(h, tc.who)
			}
			key := tc.who.Key()
			g, err := h.db.GetGrant(key, tc.app, tc.ent)
			if err != nil || !g.ExpiresAt.Equal(tc.expiry) {
				t.Fatalf("grant %+v (%v): want expiry %s", g, err, tc.expiry)
			}
			remind := "grant_expiry:grant_remind:" + key + "|" + tc.app + "|" + tc.ent
			reminderAt := tc.expiry.Add(-h.cfg.Defaults.ExpiryReminder)
			clk.Set(reminderAt.Add(-time.Second))
			settleSleep()
			if n := h.notes.count(remind); n != 0 {
				t.Fatalf("reminded %d times a second before expiry − expiry_reminder", n)
			}
			clk.Set(reminderAt)
			eventually(t, "the reminder at expiry − expiry_reminder", func() bool { return h.notes.count(remind) == 1 })
			clk.Set(tc.expiry.Add(-time.Second))
			settleSleep()
			if !held(h, key, tc.app, tc.ent) {
				t.Fatal("revoked before its expiry")
			}
			clk.Set(tc.expiry)
			eventually(t, "the revocation at the expiry instant", func() bool { return !held(h, key, tc.app, tc.ent) })
			eventually(t, "the app to lose it", func() bool { return h.sims[tc.app].Effects("revoke", tc.who.Email, tc.ent) == 1 })
		})
	}
}

// TestExtensionNeedsApprovalAndMovesBoth: Extend is a new request that waits
// for an approval even where the first one did not; once approved, the
// revocation and the reminder both move to the new end.
func TestExtensionNeedsApprovalAndMovesBoth(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	ctx := context.Background()
	ada := person("ada@example.com", "Engineering", "Platform", "grace@example.com")
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: ada}).ID)
	ref := gatehouse.EntitlementRef{App: "aws", Entitlement: "poweruser"}
	r, err := h.eng.RequestAccess(ctx, AccessRequest{Identity: ada.Email, Entitlements: []gatehouse.EntitlementRef{ref}, Duration: 7 * 24 * time.Hour, Requester: ada.Email})
	if err != nil {
		t.Fatal(err)
	}
	if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("first request needs no approval here; got %s", r.Status)
	}
	oldEnd := t0.Add(7 * 24 * time.Hour)
	clk.Advance(5 * 24 * time.Hour) // after the first reminder
	eventually(t, "first reminder", func() bool { return h.notes.count("grant_expiry:") == 1 })
	x, err := h.eng.ExtendGrant(ctx, GrantExtension{Identity: ada.Email, Ref: ref, Duration: 10 * 24 * time.Hour, Reason: "incident still open", Requester: ada.Email})
	if err != nil {
		t.Fatal(err)
	}
	if x = h.wait(x.ID); x.Status != gatehouse.RunWaiting {
		t.Fatalf("extension %s, want waiting for an approval", x.Status)
	}
	aps, _ := h.db.ListApprovals(store.ApprovalFilter{RunID: x.ID})
	if len(aps) != 1 || !contains(aps[0].Approvers, "grace@example.com") {
		t.Fatalf("approvals %+v", aps)
	}
	if _, err := h.eng.Decide(ctx, aps[0].ID, ada.Email, true, ""); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self approval: %v", err)
	}
	if g, _ := h.db.GetGrant(ada.Key(), "aws", "poweruser"); !g.ExpiresAt.Equal(oldEnd) {
		t.Fatalf("expiry moved before the approval: %s", g.ExpiresAt)
	}
	if _, err := h.eng.Decide(ctx, aps[0].ID, "grace@example.com", true, "ok"); err != nil {
		t.Fatal(err)
	}
	if x = h.wait(x.ID); x.Status != gatehouse.RunSucceeded {
		t.Fatalf("extension after approval %s", x.Status)
	}
	newEnd := clk.Now().Add(10 * 24 * time.Hour)
	if g, _ := h.db.GetGrant(ada.Key(), "aws", "poweruser"); !g.ExpiresAt.Equal(newEnd) {
		t.Fatalf("expiry %s, want %s", g.ExpiresAt, newEnd)
	}
	clk.Set(oldEnd.Add(time.Hour))
	settleSleep()
	if !held(h, ada.Key(), "aws", "poweruser") {
		t.Fatal("revoked at the old expiry")
	}
	clk.Set(newEnd.Add(-h.cfg.Defaults.ExpiryReminder))
	eventually(t, "the reminder before the new end", func() bool { return h.notes.count("grant_expiry:") == 2 })
	clk.Set(newEnd.Add(-time.Second))
	settleSleep()
	if !held(h, ada.Key(), "aws", "poweruser") {
		t.Fatal("revoked before the new end")
	}
	clk.Set(newEnd)
	eventually(t, "revocation at the new end", func() bool { return !held(h, ada.Key(), "aws", "poweruser") })
}

func owner(t *testing.T, h *harness, email, manager string) gatehouse.Identity {
	t.Helper()
	p := person(email, "Engineering", "Platform", manager)
	if r := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: p}).ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("owner joiner %s", r.Status)
	}
	return p
}

func ciBot(ownerEmail string, expiry gatehouse.Date) gatehouse.Identity {
	return gatehouse.Identity{Kind: gatehouse.KindBot, Email: "ci-bot@example.com", Name: "CI bot", Owner: ownerEmail,
		Purpose: "deploys main", Expiry: expiry, Department: "Sales"}
}

func TestRegisterNonHumanRefusals(t *testing.T) {
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	ada := owner(t, h, "ada@example.com", "grace@example.com")
	later := gatehouse.Date{Year: 2026, Month: 6, Day: 1}
	cases := []struct {
		name string
		id   gatehouse.Identity
		want error
	}{
		{"no owner", ciBot("", later), ErrInvalidEvent},
		{"unknown owner", ciBot("ghost@example.com", later), ErrNotAllowed},
		{"no purpose", func() gatehouse.Identity { b := ciBot(ada.Email, later); b.Purpose = ""; return b }(), ErrInvalidEvent},
		{"no expiry", ciBot(ada.Email, gatehouse.Date{}), ErrInvalidEvent},
		{"expiry in the past", ciBot(ada.Email, gatehouse.Date{Year: 2026, Month: 1, Day: 1}), ErrInvalidEvent},
		{"a person", func() gatehouse.Identity { b := ciBot(ada.Email, later); b.Kind = gatehouse.KindEmployee; return b }(), ErrInvalidEvent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.eng.RegisterNonHuman(context.Background(), Registration{Identity: tc.id, Requester: ada.Email})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := h.db.IdentityByEmail("ci-bot@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused registration stored the identity: %v", err)
	}
}

// TestNonHumanAttestation: registration creates the identity, its joiner,
// its requested access and the scheduled expiry; the owner is asked at
// expiry − 14d and − 3d; "still needed" moves the expiry (and the grants
// that ended with it); past the cap IT must approve; without attestation the
// expiry run closes everything.
func TestNonHumanAttestation(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, func(c *config.Config) { c.Defaults.NonHumanMaxLifetime = 120 * 24 * time.Hour }), withClock(clk))
	ctx := context.Background()
	ada := owner(t, h, "ada@example.com", "grace@example.com")
	exp := gatehouse.Date{Year: 2026, Month: 4, Day: 1}
	reg, err := h.eng.RegisterNonHuman(ctx, Registration{Identity: ciBot(ada.Email, exp), Requester: ada.Email, Source: "test",
		Access: []gatehouse.EntitlementRef{{App: "aws", Entitlement: "readonly"}}})
	if err != nil {
		t.Fatal(err)
	}
	key := reg.Identity.Key()
	if r := h.wait(reg.Joiner.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("joiner %s", r.Status)
	}
	if r := h.wait(reg.Request.ID); r.Status != gatehouse.RunSucceeded {
		t.Fatalf("request %s %+v", r.Status, h.steps(r.ID))
	}
	if reg.Expiry.Status != gatehouse.RunScheduled || !reg.Expiry.NotBefore.Equal(exp.In(berlin)) {
		t.Fatalf("expiry run %s at %s", reg.Expiry.Status, reg.Expiry.NotBefore)
	}
	if g, _ := h.db.GetGrant(key, "aws", "readonly"); !g.ExpiresAt.Equal(exp.In(berlin)) {
		t.Fatalf("requested grant ends %s, want the identity's expiry", g.ExpiresAt)
	}
	// The owner is asked 14 days before, and again 3 days before.
	attest := "owner_attest:" + key
	clk.Set(exp.In(berlin).Add(-14*24*time.Hour - time.Second))
	settleSleep()
	if h.notes.count(attest) != 0 {
		t.Fatal("asked too early")
	}
	clk.Set(exp.In(berlin).Add(-14 * 24 * time.Hour))
	eventually(t, "attestation at −14d", func() bool { return h.notes.count(attest) == 1 })
	// Only the owner attests.
	if _, err := h.eng.Attest(ctx, key, "grace@example.com", gatehouse.Date{}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("attest by a non-owner: %v", err)
	}
	res, err := h.eng.Attest(ctx, key, ada.Email, gatehouse.Date{})
	if err != nil || res.Pending != nil {
		t.Fatalf("attest: %+v %v", res, err)
	}
	newExp := res.Until
	if got, _ := h.db.GetIdentity(key); got.Expiry != newExp {
		t.Fatalf("identity expiry %s, want %s", got.Expiry, newExp)
	}
	if g, _ := h.db.GetGrant(key, "aws", "readonly"); !g.ExpiresAt.Equal(newExp.In(berlin)) {
		t.Fatalf("grant ends %s, want %s with the identity", g.ExpiresAt, newExp)
	}
	if r, _ := h.db.GetRun(reg.Expiry.ID); r.Status != gatehouse.RunCancelled {
		t.Fatalf("old expiry run %s", r.Status)
	}
	// Nothing happens at the old expiry.
	clk.Set(exp.In(berlin).Add(time.Hour))
	settleSleep()
	if h.notes.count(attest) != 1 || !held(h, key, "aws", "readonly") {
		t.Fatalf("old reminders or revocations fired: %d reminders", h.notes.count(attest))
	}
	// Past the cap (120 days from registration), IT must approve.
	far := gatehouse.Date{Year: 2026, Month: 12, Day: 1}
	res, err = h.eng.Attest(ctx, key, ada.Email, far)
	if err != nil || res.Pending == nil {
		t.Fatalf("attest past the cap: %+v %v", res, err)
	}
	if r := h.wait(res.Pending.ID); r.Status != gatehouse.RunWaiting {
		t.Fatalf("extension run %s", r.Status)
	}
	if got, _ := h.db.GetIdentity(key); got.Expiry != newExp {
		t.Fatal("extended past the cap without approval")
	}
	aps, _ := h.db.ListApprovals(store.ApprovalFilter{RunID: res.Pending.ID})
	if len(aps) != 1 || !contains(aps[0].Approvers, "it-lead@example.com") {
		t.Fatalf("approvals %+v", aps)
	}
	if _, err := h.eng.Decide(ctx, aps[0].ID, "it-lead@example.com", false, "rotate it instead"); err != nil {
		t.Fatal(err)
	}
	h.wait(res.Pending.ID)
	if got, _ := h.db.GetIdentity(key); got.Expiry != newExp {
		t.Fatal("a denied extension applied")
	}
	// Asked again and approved, the extension applies.
	far = gatehouse.Date{Year: 2026, Month: 11, Day: 1}
	if res, err = h.eng.Attest(ctx, key, ada.Email, far); err != nil || res.Pending == nil {
		t.Fatalf("second attest past the cap: %+v %v", res, err)
	}
	h.wait(res.Pending.ID)
	aps, _ = h.db.ListApprovals(store.ApprovalFilter{RunID: res.Pending.ID})
	if _, err := h.eng.Decide(ctx, aps[0].ID, "it-lead@example.com", true, "still in use"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "approved extension applied", func() bool { got, _ := h.db.GetIdentity(key); return got.Expiry == far })
	newExp = far
	// Without another attestation the expiry run closes everything.
	clk.Set(newExp.In(berlin))
	eventually(t, "expiry run", func() bool {
		id, _ := h.db.GetIdentity(key)
		return id.Status == gatehouse.StatusTerminated && !held(h, key, "aws", "readonly")
	})
	eventually(t, "the owner told", func() bool { return h.notes.count("owner_expired:") == 1 })
	eventually(t, "account closed", func() bool {
		a, ok := h.sims["slack"].Find(gatehouse.AccountRef{Email: "ci-bot@example.com"})
		return ok && !a.Active
	})
	h.verifyAudit()
}

// TestOwnerLeavesFreezesAndHandsOff: the owner's leaver run freezes their
// bot and asks their manager; a mover adds nothing and requests are
// refused until the manager accepts ownership (audited).
func TestOwnerLeavesFreezesAndHandsOff(t *testing.T) {
	for _, retire := range []bool{false, true} {
		name := map[bool]string{false: "accept", true: "retire"}[retire]
		t.Run(name, func(t *testing.T) {
			clk := clocktest.New(t0)
			h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
			ctx := context.Background()
			ada := owner(t, h, "ada@example.com", "grace@example.com")
			owner(t, h, "grace@example.com", "")
			reg, err := h.eng.RegisterNonHuman(ctx, Registration{Identity: ciBot(ada.Email, gatehouse.Date{Year: 2026, Month: 9, Day: 1}), Requester: ada.Email})
			if err != nil {
				t.Fatal(err)
			}
			key := reg.Identity.Key()
			h.wait(reg.Joiner.ID)
			lv := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventLeaver, Identity: ada, EffectiveAt: t0}).ID)
			if lv.Status != gatehouse.RunSucceeded {
				t.Fatalf("leaver %s", lv.Status)
			}
			eventually(t, "hand-off card", func() bool { return h.notes.count("owner_handoff:"+key) == 1 })
			bot, _ := h.db.GetIdentity(key)
			if bot.Attr(AttrOwnerLeft) != ada.Email || bot.Attr(AttrHandoffTo) != "grace@example.com" || bot.Status == gatehouse.StatusTerminated {
				t.Fatalf("bot after the owner left: %+v", bot)
			}
			// Frozen: a mover into Engineering would add the engineer profile.
			moved := bot
			moved.Department = "Engineering"
			moved.Attributes = nil // as an HR feed would send it
			mv := h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventMover, Identity: moved}).ID)
			for _, s := range h.steps(mv.ID) {
				if s.Kind == gatehouse.StepGrant || s.Kind == gatehouse.StepEnsureAccount || s.Kind == gatehouse.StepApproval {
					t.Errorf("frozen mover planned %s", s.ID)
				}
			}
			if held(h, key, "github", "member") || h.sims["github"].Effects("grant", "ci-bot@example.com", "member") != 0 {
				t.Error("a frozen bot gained access")
			}
			if !strings.Contains(mv.Event.Reason, "frozen") {
				t.Errorf("mover reason %q does not say why", mv.Event.Reason)
			}
			if b, _ := h.db.GetIdentity(key); b.Attr(AttrHandoffTo) != "grace@example.com" {
				t.Fatalf("the mover dropped the hand-off markers: %+v", b.Attributes)
			}
			if _, err := h.eng.RequestAccess(ctx, AccessRequest{Identity: key, Requester: "grace@example.com",
				Entitlements: []gatehouse.EntitlementRef{{App: "aws", Entitlement: "readonly"}}}); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "frozen") {
				t.Fatalf("request for a frozen bot: %v", err)
			}
			if _, err := h.eng.AcceptOwnership(ctx, key, "mallory@example.com"); !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("a stranger accepted: %v", err)
			}
			if retire {
				r, err := h.eng.Retire(ctx, key, "grace@example.com", "")
				if err != nil {
					t.Fatal(err)
				}
				// Google's delete waits for the hand-over of its files; the
				// accounts are closed already.
				if r = h.wait(r.ID); r.Status == gatehouse.RunFailed || r.Event.Type != gatehouse.EventExpiry {
					t.Fatalf("retire %s %s %+v", r.Event.Type, r.Status, h.steps(r.ID))
				}
				if a, ok := h.sims["slack"].Find(gatehouse.AccountRef{Email: "ci-bot@example.com"}); !ok || a.Active {
					t.Fatalf("slack account after retire: %+v", a)
				}
				if r, _ := h.db.GetRun(reg.Expiry.ID); r.Status != gatehouse.RunCancelled {
					t.Errorf("scheduled expiry %s after retire", r.Status)
				}
				return
			}
			got, err := h.eng.AcceptOwnership(ctx, key, "grace@example.com")
			if err != nil || got.Owner != "grace@example.com" || got.Attr(AttrOwnerLeft) != "" {
				t.Fatalf("accept: %+v %v", got, err)
			}
			if len(h.audit("accept_ownership")) != 1 {
				t.Error("ownership change not audited")
			}
			if frozen, _ := h.eng.Frozen(got); frozen {
				t.Fatal("still frozen after accepting")
			}
			r, err := h.eng.RequestAccess(ctx, AccessRequest{Identity: key, Requester: "grace@example.com",
				Entitlements: []gatehouse.EntitlementRef{{App: "aws", Entitlement: "readonly"}}})
			if err != nil {
				t.Fatal(err)
			}
			if r = h.wait(r.ID); r.Status != gatehouse.RunSucceeded {
				t.Fatalf("request after accepting %s", r.Status)
			}
			h.verifyAudit()
		})
	}
}

// TestNonHumanJoinedByHRGetsItsExpiry: a bot that arrives as a plain joiner
// (HR sync, `gatehouse onboard`) gets the same scheduled expiry and
// attestation reminders as a registered one.
func TestNonHumanJoinedByHRGetsItsExpiry(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clk := clocktest.New(t0)
	h := newHarness(t, loadConfig(t, cfgPath, nil), withClock(clk))
	ada := owner(t, h, "ada@example.com", "grace@example.com")
	exp := gatehouse.Date{Year: 2026, Month: 5, Day: 1}
	bot := ciBot(ada.Email, exp)
	h.wait(h.submit(gatehouse.Event{Type: gatehouse.EventJoiner, Identity: bot}).ID)
	var expiry gatehouse.Run
	eventually(t, "a scheduled expiry run", func() bool {
		runs, _ := h.db.ListRuns(store.RunFilter{IdentityKey: bot.Key()})
		for _, r := range runs {
			if r.Event.Type == gatehouse.EventExpiry && r.Status == gatehouse.RunScheduled {
				expiry = r
				return true
			}
		}
		return false
	})
	if !expiry.NotBefore.Equal(exp.In(berlin)) {
		t.Fatalf("expiry run at %s", expiry.NotBefore)
	}
	clk.Set(exp.In(berlin).Add(-3 * 24 * time.Hour))
	eventually(t, "both attestation reminders", func() bool { return h.notes.count("owner_attest:"+bot.Key()) == 2 })
}
