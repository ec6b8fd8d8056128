package governance

// Access review campaigns. A campaign takes the active grants in a scope
// (apps, a minimum risk, a team or department), puts each to a reviewer
// (the identity's manager or the app's owner — never the identity itself)
// and records Keep or Revoke per item before a deadline. Revokes are normal
// access_revoke runs of the engine. Reminders and escalations reuse the
// approval policy's timings; at the deadline undecided items follow
// governance.reviews.on_deadline. Every decision is re-authorized against
// the stored item and audited, refusals included.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/store"
)

// Review errors callers branch on; their text is fit to show a person.
var (
	ErrNoCampaign     = errors.New("this access review is not known to Gatehouse")
	ErrCampaignClosed = errors.New("this access review is closed")
	ErrDecided        = errors.New("this line was already decided")
	ErrNeedReason     = errors.New("say why the access stays")
	ErrEmptyCampaign  = errors.New("nothing in scope: no active grant matches the review's scope")
	ErrBadRequest     = errors.New("invalid access review")
)

// Reviewer roles beyond the configured ones, as recorded on an item.
const (
	RoleManagersManager = "managers_manager"
	RoleIT              = "it"
)

// ReviewNotifier shows campaigns to people: the bot DMs reviewer cards and
// keeps a progress message in the IT channel. Calls must return quickly.
type ReviewNotifier interface {
	// ReviewAssigned asks reviewer to decide items (all of the campaign's
	// items currently theirs, or the ones just handed to them); note says
	// why now ("" for the first request, a reminder, an escalation).
	ReviewAssigned(ctx context.Context, c gatehouse.Campaign, reviewer string, items []gatehouse.ReviewItem, note string)
	// CampaignChanged reports new counts or status.
	CampaignChanged(ctx context.Context, c gatehouse.Campaign)
}

// Reviews runs access review campaigns.
type Reviews struct {
	Config *config.Config
	DB     *store.DB
	Engine Revoker
	Clock  lifecycle.Clock // nil: the wall clock
	Notify ReviewNotifier  // nil: nobody is told

	mu sync.Mutex // one deadline/escalation pass at a time
	// dmu makes "still undecided? revoke, then record" one step: without
	// it a Keep by IT and a Revoke by the manager at the same instant
	// could leave a revoke run behind an item recorded as kept.
	dmu sync.Mutex
}

func (r *Reviews) now() time.Time {
	if r.Clock != nil {
		return r.Clock.Now()
	}
	return time.Now()
}

func (r *Reviews) assigned(ctx context.Context, c gatehouse.Campaign, reviewer string, items []gatehouse.ReviewItem, note string) {
	if r.Notify != nil && len(items) > 0 {
		r.Notify.ReviewAssigned(ctx, c, reviewer, items, note)
	}
}

func (r *Reviews) changed(ctx context.Context, c gatehouse.Campaign) {
	if r.Notify != nil {
		r.Notify.CampaignChanged(ctx, c)
	}
}

// StartRequest asks for a campaign. Zero fields take governance.reviews'
// defaults.
type StartRequest struct {
	Name       string
	Scope      gatehouse.ReviewScope
	Deadline   time.Duration
	Reviewers  []string
	OnDeadline string
	By         Actor
}

// itReviewer is who reviews when nobody else can: admins.it_email, else the
// first IT admin given as an email.
func itReviewer(cfg *config.Config) string {
	if cfg.Admins.ITEmail != "" {
		return strings.ToLower(cfg.Admins.ITEmail)
	}
	for _, a := range cfg.Admins.IT {
		if strings.Contains(a, "@") {
			return strings.ToLower(a)
		}
	}
	return "it"
}

func (r *Reviews) normalize(req *StartRequest) error {
	d := r.Config.Governance.Reviews
	if req.Deadline == 0 {
		req.Deadline = d.Deadline
	}
	if req.Deadline < config.Day {
		return fmt.Errorf("%w: the deadline must be at least 1d", ErrBadRequest)
	}
	if req.OnDeadline == "" {
		req.OnDeadline = d.OnDeadline
	}
	if !containsStr(config.ReviewDeadlineActions, req.OnDeadline) {
		return fmt.Errorf("%w: on_deadline %q is not one of %s", ErrBadRequest, req.OnDeadline, strings.Join(config.ReviewDeadlineActions, ", "))
	}
	if len(req.Reviewers) == 0 {
		req.Reviewers = d.Reviewers
	}
	for _, role := range req.Reviewers {
		if !containsStr(config.ReviewerRoles, role) {
			return fmt.Errorf("%w: reviewer %q is not one of %s", ErrBadRequest, role, strings.Join(config.ReviewerRoles, ", "))
		}
	}
	for _, app := range req.Scope.Apps {
		if r.Config.Apps[app] == nil {
			return fmt.Errorf("%w: app %q is not configured", ErrBadRequest, app)
		}
	}
	return nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Start creates a campaign over the active grants in scope, stores it with
// its items (in large batches) and asks every reviewer. Only IT may start.
func (r *Reviews) Start(ctx context.Context, req StartRequest) (gatehouse.Campaign, error) {
	if !req.By.IT {
		_ = r.refuse(req.By, "", "", "only IT may start an access review")
		return gatehouse.Campaign{}, ErrNotAllowed
	}
	if err := r.normalize(&req); err != nil {
		return gatehouse.Campaign{}, err
	}
	ids, err := r.DB.ListIdentities()
	if err != nil {
		return gatehouse.Campaign{}, err
	}
	now := r.now().UTC()
	sel := newSelector(r.Config, ids, req.Scope, req.Reviewers, now)
	if err := r.DB.EachGrantBrief(func(g store.GrantBrief) error { sel.add(g); return nil }); err != nil {
		return gatehouse.Campaign{}, err
	}
	items := sel.items()
	if len(items) == 0 {
		return gatehouse.Campaign{}, ErrEmptyCampaign
	}
	c := gatehouse.Campaign{Name: req.Name, Scope: req.Scope, Reviewers: req.Reviewers, OnDeadline: req.OnDeadline,
		CreatedBy: strings.ToLower(req.By.Email), CreatedAt: now, Deadline: now.Add(req.Deadline), Status: gatehouse.CampaignOpen, Announced: r.Notify != nil}
	a := gatehouse.AuditEntry{Time: now, Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: req.By.Email}, Action: "review_start",
		Reason: "access review", Details: map[string]string{"items": fmt.Sprint(len(items)), "deadline": c.Deadline.Format(time.RFC3339),
			"on_deadline": c.OnDeadline, "reviewers": strings.Join(c.Reviewers, ","), "scope": scopeText(c.Scope)}}
	c, err = r.DB.CreateCampaign(c, items, a)
	if err != nil {
		return c, err
	}
	for i := range items {
		items[i].Campaign = c.ID
	}
	for _, g := range byReviewer(items) {
		r.assigned(ctx, c, g.reviewer, g.items, "")
	}
	r.changed(ctx, c)
	return c, nil
}

func scopeText(s gatehouse.ReviewScope) string {
	var parts []string
	if len(s.Apps) > 0 {
		parts = append(parts, "apps "+strings.Join(s.Apps, ","))
	}
	if s.MinRisk != 0 {
		parts = append(parts, "risk ≥ "+s.MinRisk.String())
	}
	if s.Team != "" {
		parts = append(parts, "team "+s.Team)
	}
	if s.Department != "" {
		parts = append(parts, "department "+s.Department)
	}
	if len(parts) == 0 {
		return "all active access"
	}
	return strings.Join(parts, "; ")
}

// ScopeText describes a scope for people.
func ScopeText(s gatehouse.ReviewScope) string { return scopeText(s) }

type reviewerGroup struct {
	reviewer string
	items    []gatehouse.ReviewItem
}

// byReviewer groups items per reviewer, in first-seen order.
func byReviewer(items []gatehouse.ReviewItem) []reviewerGroup {
	var out []reviewerGroup
	at := map[string]int{}
	for _, it := range items {
		i, ok := at[it.Reviewer]
		if !ok {
			i = len(out)
			at[it.Reviewer] = i
			out = append(out, reviewerGroup{reviewer: it.Reviewer})
		}
		out[i].items = append(out[i].items, it)
	}
	return out
}

// SelectItems picks the active grants in scope at now and assigns each a
// reviewer from roles (see Reviewer). Items are ordered by reviewer, then
// person, app and entitlement, and numbered in that order.
func SelectItems(cfg *config.Config, ids []gatehouse.Identity, grants []gatehouse.Grant, scope gatehouse.ReviewScope, roles []string, now time.Time) []gatehouse.ReviewItem {
	s := newSelector(cfg, ids, scope, roles, now)
	for _, g := range grants {
		if !g.Active(now) {
			continue
		}
		s.add(store.GrantBrief{Identity: g.Identity, App: g.App, Entitlement: g.Entitlement, Source: g.Source, GrantedAt: g.GrantedAt, ExpiresAt: g.ExpiresAt})
	}
	return s.items()
}

// selector builds a campaign's items grant by grant, so that Start can
// stream the grants bucket instead of copying 80,000 grants first.
type selector struct {
	cfg     *config.Config
	scope   gatehouse.ReviewScope
	roles   []string
	now     time.Time
	it      string
	byKey   map[string]gatehouse.Identity
	byEmail map[string]gatehouse.Identity
	apps    map[string]bool
	// reviewers caches Reviewer per identity and app (the answer depends
	// on nothing else), and out holds pointers so that sorting moves
	// 8 bytes, not a whole item.
	reviewers map[[2]string][2]string
	out       []*gatehouse.ReviewItem
}

func newSelector(cfg *config.Config, ids []gatehouse.Identity, scope gatehouse.ReviewScope, roles []string, now time.Time) *selector {
	s := &selector{cfg: cfg, scope: scope, roles: roles, now: now, it: itReviewer(cfg), apps: map[string]bool{},
		byKey: make(map[string]gatehouse.Identity, len(ids)), byEmail: make(map[string]gatehouse.Identity, len(ids)), reviewers: map[[2]string][2]string{}}
	for _, id := range ids {
		s.byKey[id.Key()] = id
		if id.Email != "" {
			s.byEmail[strings.ToLower(id.Email)] = id
		}
	}
	for _, a := range scope.Apps {
		s.apps[a] = true
	}
	return s
}

func (s *selector) add(g store.GrantBrief) {
	// Active grants only (the store's current grants have no revocation):
	// one granted in the future is not held yet.
	if g.GrantedAt.After(s.now) || (len(s.apps) > 0 && !s.apps[g.App]) || s.cfg.Apps[g.App] == nil {
		return
	}
	id, ok := s.byKey[g.Identity]
	if !ok || id.Status == gatehouse.StatusTerminated {
		return // a leaver's access is the offboarding's, not a review's
	}
	if s.scope.Team != "" && !strings.EqualFold(id.Team, s.scope.Team) {
		return
	}
	if s.scope.Department != "" && !strings.EqualFold(id.Department, s.scope.Department) {
		return
	}
	risk := gatehouse.RiskLow
	if e, ok := s.cfg.Entitlement(g.Ref()); ok && e.Risk != 0 {
		risk = e.Risk
	}
	if risk < s.scope.MinRisk {
		return
	}
	k := [2]string{g.Identity, g.App}
	rv, ok := s.reviewers[k]
	if !ok {
		who, role := Reviewer(s.cfg, id, g.App, s.roles, s.byEmail, s.it)
		rv = [2]string{who, role}
		s.reviewers[k] = rv
	}
	s.out = append(s.out, &gatehouse.ReviewItem{Identity: id.Key(), Email: strings.ToLower(id.Email), Name: id.Name, Manager: strings.ToLower(id.ManagerEmail),
		App: g.App, Entitlement: g.Entitlement, Risk: risk, GrantedAt: g.GrantedAt, Reviewer: rv[0], ReviewerRole: rv[1], AssignedAt: s.now})
}

func (s *selector) items() []gatehouse.ReviewItem {
	// Group per reviewer first: sorting a few hundred reviewers and then
	// each one's few hundred lines is far cheaper than one 80,000-way sort.
	at := map[string]int{}
	var groups [][]*gatehouse.ReviewItem
	var names []string
	for _, p := range s.out {
		i, ok := at[p.Reviewer]
		if !ok {
			i = len(groups)
			at[p.Reviewer] = i
			groups = append(groups, nil)
			names = append(names, p.Reviewer)
		}
		groups[i] = append(groups[i], p)
	}
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return names[order[i]] < names[order[j]] })
	out := make([]gatehouse.ReviewItem, 0, len(s.out))
	for _, gi := range order {
		g := groups[gi]
		sort.SliceStable(g, func(i, j int) bool {
			a, b := g[i], g[j]
			if a.Email != b.Email {
				return a.Email < b.Email
			}
			if a.App != b.App {
				return a.App < b.App
			}
			return a.Entitlement < b.Entitlement
		})
		for _, p := range g {
			it := *p
			it.ID = fmt.Sprintf("i%06d", len(out)+1)
			out = append(out, it)
		}
	}
	return out
}

// Reviewer chooses who reviews id's access in app: the first role in roles
// that names somebody other than id (the manager, the app's owner); when
// the only candidates are id themselves, the next manager up; else IT.
// People who have left never review.
func Reviewer(cfg *config.Config, id gatehouse.Identity, app string, roles []string, byEmail map[string]gatehouse.Identity, it string) (email, role string) {
	self := strings.ToLower(id.Email)
	usable := func(e string) bool {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" || e == self {
			return false
		}
		if p, ok := byEmail[e]; ok && p.Status == gatehouse.StatusTerminated {
			return false
		}
		return true
	}
	var selfRole []string
	for _, r := range roles {
		var cand string
		switch r {
		case gatehouse.ReviewerManager:
			cand = id.ManagerEmail
		case gatehouse.ReviewerAppOwner:
			if a := cfg.Apps[app]; a != nil {
				cand = a.Owner
			}
		}
		if usable(cand) {
			return strings.ToLower(cand), r
		}
		if strings.EqualFold(cand, self) {
			selfRole = append(selfRole, r)
		}
	}
	// Nobody reviews their own access: the next one up is their manager's
	// manager (or, for an app owner reviewing themself, their manager).
	up := id.ManagerEmail
	if m, ok := byEmail[strings.ToLower(id.ManagerEmail)]; ok && m.ManagerEmail != "" {
		up = m.ManagerEmail
	}
	if len(selfRole) > 0 && containsStr(selfRole, gatehouse.ReviewerAppOwner) && usable(id.ManagerEmail) {
		return strings.ToLower(id.ManagerEmail), gatehouse.ReviewerManager
	}
	if usable(up) && !strings.EqualFold(up, id.ManagerEmail) {
		return strings.ToLower(up), RoleManagersManager
	}
	return it, RoleIT
}

// --- decisions -------------------------------------------------------------

func (r *Reviews) refuse(who Actor, campaignID, itemID, why string) error {
	a := gatehouse.AuditEntry{Time: r.now().UTC(), Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: who.Email}, Action: "refuse",
		Reason: why, Details: map[string]string{"campaign": campaignID, "item": itemID}}
	if _, err := r.DB.AppendAudit(a); err != nil {
		return fmt.Errorf("audit refusal: %w", err)
	}
	return ErrNotAllowed
}

// MayReview says whether who may decide it: its current reviewer or IT,
// and never the person whose access it is.
func MayReview(it gatehouse.ReviewItem, who Actor) bool {
	email := strings.ToLower(strings.TrimSpace(who.Email))
	if email == "" || email == it.Email {
		return false
	}
	return who.IT || email == it.Reviewer
}

// Campaign returns a stored campaign.
func (r *Reviews) Campaign(id string) (gatehouse.Campaign, error) {
	if !validID(id) {
		return gatehouse.Campaign{}, ErrNoCampaign
	}
	c, err := r.DB.GetCampaign(id)
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrNoCampaign
	}
	return c, err
}

// validID: ids come back from Slack clicks; keys never hold NUL.
func validID(s string) bool { return s != "" && len(s) <= 64 && !strings.ContainsRune(s, 0) }

// Items returns a campaign's items.
func (r *Reviews) Items(id string) ([]gatehouse.ReviewItem, error) { return r.DB.ReviewItems(id) }

// Pending returns the undecided items reviewer (an email) may decide.
func (r *Reviews) Pending(campaignID, reviewer string) ([]gatehouse.ReviewItem, error) {
	all, err := r.DB.ReviewItems(campaignID)
	if err != nil {
		return nil, err
	}
	var out []gatehouse.ReviewItem
	for _, it := range all {
		if it.Pending() && strings.EqualFold(it.Reviewer, reviewer) {
			out = append(out, it)
		}
	}
	return out, nil
}

// item loads and authorizes the item a click names; a refusal is audited.
func (r *Reviews) item(campaignID, itemID string, who Actor) (gatehouse.Campaign, gatehouse.ReviewItem, error) {
	c, err := r.Campaign(campaignID)
	if errors.Is(err, ErrNoCampaign) {
		_ = r.refuse(who, campaignID, itemID, "the click names no stored access review")
		return c, gatehouse.ReviewItem{}, ErrUnknownItem
	}
	if err != nil {
		return c, gatehouse.ReviewItem{}, err
	}
	if !validID(itemID) {
		_ = r.refuse(who, campaignID, "", "the click names no item of the access review")
		return c, gatehouse.ReviewItem{}, ErrUnknownItem
	}
	it, err := r.DB.GetReviewItem(campaignID, itemID)
	if errors.Is(err, store.ErrNotFound) {
		_ = r.refuse(who, campaignID, itemID, "the click names no item of the access review")
		return c, it, ErrUnknownItem
	}
	if err != nil {
		return c, it, err
	}
	if !MayReview(it, who) {
		why := fmt.Sprintf("%s is not IT or the reviewer (%s) of %s's %s", who.Email, it.Reviewer, it.Email, it.Ref())
		if strings.EqualFold(who.Email, it.Email) {
			why = fmt.Sprintf("%s may not review their own access (%s)", who.Email, it.Ref())
		}
		return c, it, r.refuse(who, campaignID, itemID, why)
	}
	if c.Status == gatehouse.CampaignClosed {
		return c, it, ErrCampaignClosed
	}
	return c, it, nil
}

// Decide records who's Keep or Revoke on one item. A Revoke starts (or, on
// a repeated click, finds) the engine's access_revoke run for the item. The
// same decision twice is answered with the item as it stands.
func (r *Reviews) Decide(ctx context.Context, campaignID, itemID string, who Actor, d gatehouse.ReviewDecision, reason string) (gatehouse.ReviewItem, error) {
	if d != gatehouse.ReviewKeep && d != gatehouse.ReviewRevoke {
		return gatehouse.ReviewItem{}, fmt.Errorf("%w: decision %q", ErrBadRequest, d)
	}
	_, it, err := r.item(campaignID, itemID, who)
	if err != nil {
		return it, err
	}
	r.dmu.Lock()
	defer r.dmu.Unlock()
	if cur, err := r.DB.GetReviewItem(campaignID, itemID); err == nil {
		it = cur // as decided meanwhile, if it was
	}
	if !it.Pending() {
		if it.Decision == d {
			return it, nil
		}
		return it, ErrDecided
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "access review: " + string(d) + " by the reviewer"
	}
	var runID string
	if d == gatehouse.ReviewRevoke {
		run, note, err := r.revoke(ctx, campaignID, "item:"+it.ID, []gatehouse.ReviewItem{it}, who.Email, reason)
		if err != nil {
			return it, err
		}
		runID = run.ID
		if note != "" {
			reason += " (" + note + ")"
		}
	}
	items, err := r.decide(ctx, campaignID, []string{it.ID}, d, reason, strings.ToLower(who.Email), gatehouse.ActorPerson, map[string]string{it.ID: runID})
	if err != nil {
		return it, err
	}
	if len(items) == 0 {
		// Decided meanwhile by somebody else.
		cur, err := r.DB.GetReviewItem(campaignID, itemID)
		if err != nil {
			return it, err
		}
		if cur.Decision == d {
			return cur, nil
		}
		return cur, ErrDecided
	}
	return items[0], nil
}

// revoke takes away what items name — all of one identity in one app — in
// one access_revoke run. When the identity holds none of it any more the
// decision stands without a run, and note says so.
func (r *Reviews) revoke(ctx context.Context, campaignID, key string, items []gatehouse.ReviewItem, by, reason string) (gatehouse.Run, string, error) {
	first := items[0]
	ents := make([]string, len(items))
	for i, it := range items {
		ents[i] = it.Entitlement
	}
	run, err := r.Engine.RevokeAccess(ctx, lifecycle.RevokeRequest{Identity: first.Identity, App: first.App, Entitlements: ents, By: by,
		Reason: reason, Source: "review:" + campaignID, DedupeKey: "review:" + campaignID + ":" + key})
	if errors.Is(err, lifecycle.ErrInvalidEvent) || errors.Is(err, lifecycle.ErrUnknownIdentity) {
		// Nothing left to take away (revoked meanwhile, or the identity is
		// gone): the decision stands; retrying would fail forever.
		return gatehouse.Run{}, "already gone: " + err.Error(), nil
	}
	if err != nil {
		return run, "", fmt.Errorf("revoke %s in %s: %w", first.Email, first.App, err)
	}
	return run, "", nil
}

// decide records d on the named pending items (runs: item id → run id) and
// closes the campaign when nothing is left undecided.
func (r *Reviews) decide(ctx context.Context, campaignID string, ids []string, d gatehouse.ReviewDecision, reason, by string, kind gatehouse.ActorKind, runs map[string]string) ([]gatehouse.ReviewItem, error) {
	now := r.now().UTC()
	c, changed, err := r.DB.UpdateReviewItems(campaignID, ids, func(c *gatehouse.Campaign, it *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error) {
		if !it.Pending() {
			return nil, store.ErrSkipItem
		}
		it.Decision, it.Reason, it.DecidedBy, it.DecidedAt, it.RunID = d, reason, by, now, runs[it.ID]
		return []gatehouse.AuditEntry{{Time: now, Actor: gatehouse.Actor{Kind: kind, ID: by}, Action: "review_" + string(d),
			IdentityKey: it.Identity, App: it.App, Entitlement: it.Entitlement, RunID: it.RunID, Reason: reason,
			Details: map[string]string{"campaign": campaignID, "item": it.ID, "reviewer": it.Reviewer}}}, nil
	})
	if err != nil {
		return nil, err
	}
	if c.Done() && c.Status != gatehouse.CampaignClosed {
		c, err = r.close(campaignID, "every item decided")
		if err != nil {
			return changed, err
		}
	}
	if len(changed) > 0 {
		r.changed(ctx, c)
	}
	return changed, nil
}

func (r *Reviews) close(campaignID, why string) (gatehouse.Campaign, error) {
	now := r.now().UTC()
	c, err := r.DB.UpdateCampaign(campaignID, func(c *gatehouse.Campaign) error {
		if c.Status == gatehouse.CampaignClosed {
			return store.ErrSkipItem
		}
		c.Status, c.ClosedAt = gatehouse.CampaignClosed, now
		return nil
	}, gatehouse.AuditEntry{Time: now, Actor: gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}, Action: "review_close", Reason: why,
		Details: map[string]string{"campaign": campaignID}})
	if errors.Is(err, store.ErrSkipItem) {
		return r.DB.GetCampaign(campaignID)
	}
	return c, err
}

// KeepAll keeps every undecided item of the campaign that is who's to
// review, with one reason. It returns how many were kept.
func (r *Reviews) KeepAll(ctx context.Context, campaignID string, who Actor, reason string) (int, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return 0, ErrNeedReason
	}
	c, err := r.Campaign(campaignID)
	if errors.Is(err, ErrNoCampaign) {
		_ = r.refuse(who, campaignID, "all", "the click names no stored access review")
		return 0, ErrUnknownItem
	}
	if err != nil {
		return 0, err
	}
	mine, err := r.Pending(campaignID, who.Email)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, it := range mine {
		if MayReview(it, who) {
			ids = append(ids, it.ID)
		}
	}
	if len(ids) == 0 {
		return 0, r.refuse(who, campaignID, "all", fmt.Sprintf("%s has no undecided item to review in %s", who.Email, campaignID))
	}
	if c.Status == gatehouse.CampaignClosed {
		return 0, ErrCampaignClosed
	}
	r.dmu.Lock()
	defer r.dmu.Unlock()
	kept, err := r.decide(ctx, campaignID, ids, gatehouse.ReviewKeep, reason, strings.ToLower(who.Email), gatehouse.ActorPerson, nil)
	return len(kept), err
}

// SetProgress records where the campaign's progress message is.
func (r *Reviews) SetProgress(campaignID string, ref gatehouse.MessageRef) error {
	_, err := r.DB.UpdateCampaign(campaignID, func(c *gatehouse.Campaign) error {
		c.Progress = ref
		return nil
	})
	return err
}

// --- time: reminders, escalations, deadlines ---------------------------------

// Tick does what is due at the clock's now in every open campaign: the
// deadline action, else reminders (approvals.remind_after after an item
// was assigned) and escalations (approvals.escalate_after: to the
// reviewer's manager, then to IT).
func (r *Reviews) Tick(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs, err := r.DB.Campaigns()
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if c.Status == gatehouse.CampaignClosed {
			continue
		}
		if err := r.tick(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("access review %s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Reviews) tick(ctx context.Context, c gatehouse.Campaign) error {
	now := r.now().UTC()
	if !c.Announced && r.Notify != nil {
		if err := r.announce(ctx, c); err != nil {
			return err
		}
	}
	if !c.DeadlineDone && !now.Before(c.Deadline) {
		return r.deadline(ctx, c)
	}
	items, err := r.DB.ReviewItems(c.ID)
	if err != nil {
		return err
	}
	ids, err := r.DB.ListIdentities()
	if err != nil {
		return err
	}
	byEmail := make(map[string]gatehouse.Identity, len(ids))
	for _, id := range ids {
		byEmail[strings.ToLower(id.Email)] = id
	}
	it := itReviewer(r.Config)
	remindAfter, escalateAfter := r.Config.Approvals.RemindAfter, r.Config.Approvals.EscalateAfter
	var remind, escalate []string
	to := map[string]string{}
	for _, x := range items {
		if !x.Pending() {
			continue
		}
		waited := now.Sub(x.AssignedAt)
		switch {
		case escalateAfter > 0 && waited >= escalateAfter && x.Reviewer != it && x.Escalations < 2:
			escalate = append(escalate, x.ID)
			to[x.ID] = escalationTarget(x, byEmail, it)
		case remindAfter > 0 && waited >= remindAfter && x.RemindedAt.IsZero():
			remind = append(remind, x.ID)
		}
	}
	sys := gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}
	if len(remind) > 0 {
		c2, reminded, err := r.DB.UpdateReviewItems(c.ID, remind, func(_ *gatehouse.Campaign, x *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error) {
			if !x.Pending() || !x.RemindedAt.IsZero() {
				return nil, store.ErrSkipItem
			}
			x.RemindedAt = now
			return nil, nil
		})
		if err != nil {
			return err
		}
		if len(reminded) > 0 {
			if _, err := r.DB.AppendAudit(gatehouse.AuditEntry{Time: now, Actor: sys, Action: "review_remind", Reason: "no decision within approvals.remind_after",
				Details: map[string]string{"campaign": c.ID, "items": fmt.Sprint(len(reminded))}}); err != nil {
				return err
			}
		}
		for _, g := range byReviewer(reminded) {
			r.assigned(ctx, c2, g.reviewer, g.items, fmt.Sprintf("Reminder: %d line(s) still wait for your decision; the review closes %s.", len(g.items), c2.Deadline.Format("2 Jan 2006 15:04 MST")))
		}
	}
	if len(escalate) > 0 {
		c2, moved, err := r.DB.UpdateReviewItems(c.ID, escalate, func(_ *gatehouse.Campaign, x *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error) {
			if !x.Pending() {
				return nil, store.ErrSkipItem
			}
			next := to[x.ID]
			from := x.Reviewer
			x.EscalatedFrom = append(x.EscalatedFrom, from)
			x.Reviewer, x.AssignedAt, x.RemindedAt = next, now, time.Time{}
			x.Escalations++
			if next == it {
				x.ReviewerRole = RoleIT
			} else {
				x.ReviewerRole = RoleManagersManager
			}
			return []gatehouse.AuditEntry{{Time: now, Actor: sys, Action: "review_escalate", IdentityKey: x.Identity, App: x.App, Entitlement: x.Entitlement,
				Reason: "no decision within approvals.escalate_after", Details: map[string]string{"campaign": c.ID, "item": x.ID, "from": from, "to": next}}}, nil
		})
		if err != nil {
			return err
		}
		for _, g := range byReviewer(moved) {
			r.assigned(ctx, c2, g.reviewer, g.items, fmt.Sprintf("Escalated to you: %d line(s) were not reviewed in time by %s.", len(g.items), strings.Join(prevReviewers(g.items), ", ")))
		}
	}
	return nil
}

// announce sends every reviewer their undecided lines of a campaign that
// was started where nobody could be told.
func (r *Reviews) announce(ctx context.Context, c gatehouse.Campaign) error {
	items, err := r.DB.ReviewItems(c.ID)
	if err != nil {
		return err
	}
	var pending []gatehouse.ReviewItem
	for _, it := range items {
		if it.Pending() {
			pending = append(pending, it)
		}
	}
	c, err = r.DB.UpdateCampaign(c.ID, func(x *gatehouse.Campaign) error {
		x.Announced = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, g := range byReviewer(pending) {
		r.assigned(ctx, c, g.reviewer, g.items, "")
	}
	r.changed(ctx, c)
	return nil
}

func prevReviewers(items []gatehouse.ReviewItem) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		if n := len(it.EscalatedFrom); n > 0 && !seen[it.EscalatedFrom[n-1]] {
			seen[it.EscalatedFrom[n-1]] = true
			out = append(out, it.EscalatedFrom[n-1])
		}
	}
	sort.Strings(out)
	return out
}

// escalationTarget is the reviewer's own manager when that is somebody
// other than the person reviewed (and still here), else IT.
func escalationTarget(x gatehouse.ReviewItem, byEmail map[string]gatehouse.Identity, it string) string {
	if rv, ok := byEmail[x.Reviewer]; ok {
		m := strings.ToLower(rv.ManagerEmail)
		if p, known := byEmail[m]; m != "" && m != x.Email && m != x.Reviewer && !(known && p.Status == gatehouse.StatusTerminated) {
			return m
		}
	}
	return it
}

// deadline applies on_deadline to every undecided item, once.
func (r *Reviews) deadline(ctx context.Context, c gatehouse.Campaign) error {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	now := r.now().UTC()
	items, err := r.DB.ReviewItems(c.ID)
	if err != nil {
		return err
	}
	var pending []gatehouse.ReviewItem
	for _, it := range items {
		if it.Pending() {
			pending = append(pending, it)
		}
	}
	const why = "review deadline passed"
	var errs []error
	switch c.OnDeadline {
	case gatehouse.OnDeadlineKeep:
		ids := make([]string, len(pending))
		for i, it := range pending {
			ids[i] = it.ID
		}
		if len(ids) > 0 {
			if _, err := r.decide(ctx, c.ID, ids, gatehouse.ReviewKeep, why+": kept as governance.reviews.on_deadline says", "gatehouse", gatehouse.ActorSchedule, nil); err != nil {
				return err
			}
		}
	case gatehouse.OnDeadlineRevoke:
		// One run per identity and app, covering all its undecided items.
		groups := map[string][]gatehouse.ReviewItem{}
		var order []string
		for _, it := range pending {
			k := it.Identity + "\x00" + it.App
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], it)
		}
		for _, k := range order {
			g := groups[k]
			run, note, err := r.revoke(ctx, c.ID, "deadline:"+g[0].Identity+":"+g[0].App, g, "", why)
			if err != nil {
				errs = append(errs, err)
				continue // left undecided, and the deadline stays due: the next tick retries
			}
			reason := why
			if note != "" {
				reason += " (" + note + ")"
			}
			ids := make([]string, len(g))
			runs := map[string]string{}
			for i, it := range g {
				ids[i] = it.ID
				runs[it.ID] = run.ID
			}
			if _, err := r.decide(ctx, c.ID, ids, gatehouse.ReviewRevoke, reason, "gatehouse", gatehouse.ActorSchedule, runs); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	case gatehouse.OnDeadlineEscalate:
		it := itReviewer(r.Config)
		ids := make([]string, len(pending))
		for i, x := range pending {
			ids[i] = x.ID
		}
		if len(ids) > 0 {
			c2, moved, err := r.DB.UpdateReviewItems(c.ID, ids, func(_ *gatehouse.Campaign, x *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error) {
				if !x.Pending() {
					return nil, store.ErrSkipItem
				}
				if x.Reviewer != it {
					x.EscalatedFrom = append(x.EscalatedFrom, x.Reviewer)
				}
				x.Reviewer, x.ReviewerRole, x.AssignedAt, x.RemindedAt = it, RoleIT, now, time.Time{}
				x.Escalations++
				return nil, nil
			})
			if err != nil {
				return err
			}
			c = c2
			defer r.assigned(ctx, c2, it, moved, fmt.Sprintf("The review deadline passed: %d undecided line(s) are now IT's to decide.", len(moved)))
		}
	}
	c, err = r.DB.UpdateCampaign(c.ID, func(x *gatehouse.Campaign) error {
		x.DeadlineDone = true
		if x.Status == gatehouse.CampaignOpen && !x.Done() {
			x.Status = gatehouse.CampaignEscalated
		}
		return nil
	}, gatehouse.AuditEntry{Time: now, Actor: gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}, Action: "review_deadline", Reason: why,
		Details: map[string]string{"campaign": c.ID, "on_deadline": c.OnDeadline, "undecided": fmt.Sprint(len(pending))}})
	if err != nil {
		return err
	}
	r.changed(ctx, c)
	return nil
}

// --- the runner ----------------------------------------------------------------

// Campaigns checks due reminders, escalations and deadlines every Every
// (default 15 minutes) on a lifecycle.Clock, so that tests can step a fake
// clock through a whole campaign.
type Campaigns struct {
	Reviews *Reviews
	Every   time.Duration
	// OnError is told about a failed pass (nil: ignored; the next pass
	// retries what is still due).
	OnError func(error)

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// Start runs the loop until ctx ends or Close.
func (c *Campaigns) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	every := c.Every
	if every <= 0 {
		every = 15 * time.Minute
	}
	clock := c.Reviews.Clock
	if clock == nil {
		clock = lifecycle.SystemClock{}
	}
	c.wg.Go(func() {
		// A first pass at once: after a restart, what fell due while
		// Gatehouse was down is done now, not a period later.
		if err := c.Reviews.Tick(ctx); err != nil && c.OnError != nil {
			c.OnError(err)
		}
		for {
			t := clock.NewTimer(every)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			if err := c.Reviews.Tick(ctx); err != nil && c.OnError != nil {
				c.OnError(err)
			}
		}
	})
}

// Close stops the loop and waits for a running pass.
func (c *Campaigns) Close() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}
