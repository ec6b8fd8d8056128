// Package governance computes Gatehouse's continuous-governance views — the
// weekly digest of dormant access, orphaned accounts, leavers with anything
// still open, stuck runs and overdue tasks, segregation-of-duties conflicts
// held now, expiring access, non-humans without a living owner, and the
// licence money that could be reclaimed — and carries out what people decide
// on them (revoke, keep for a while).
//
// The digest reads the store and every app's own account listing: dormancy
// comes from the app's last-activity data, never from Gatehouse's records, so
// an account is called unused only when the app says so. Computing it is pure
// apart from those reads; rendering lives in bot/cards, posting in bot.
package governance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle/stats"
	"github.com/gatehousehq/gatehouse/store"
)

// Digest is one computed governance digest. Items carry stable ids so that a
// click on a posted digest names exactly one line of it.
type Digest struct {
	ID          string    `json:"id,omitempty"` // set once stored
	GeneratedAt time.Time `json:"generated_at"`
	Identities  int       `json:"identities"`
	Grants      int       `json:"grants"`
	Apps        int       `json:"apps"`

	Dormant      []DormantItem  `json:"dormant"`
	Orphans      []OrphanItem   `json:"orphans"`
	OpenLeavers  []LeaverItem   `json:"open_leavers"`
	StuckRuns    []RunItem      `json:"stuck_runs"`
	OverdueTasks []TaskItem     `json:"overdue_tasks"`
	SoD          []SoDItem      `json:"sod"`
	Expiring     []ExpiringItem `json:"expiring"`
	NonHumans    []NonHumanItem `json:"non_humans"`
	Licenses     []LicenseLine  `json:"licenses"`
	// Reclaimable is the monthly money of every line in Licenses.
	Reclaimable float64 `json:"reclaimable"`
	// Snoozed counts dormant accounts hidden by a Keep.
	Snoozed int `json:"snoozed"`
	// Notes say what the digest could not see: apps whose listing failed,
	// apps that report no last activity.
	Notes []string `json:"notes,omitempty"`
	// Week is how the lifecycle did over the last 7 days: time from the HR
	// event to access, from termination to the last access closed, manual
	// tasks per hire, approvals waited on.
	Week stats.Report `json:"week"`
}

// DormantItem is an account its app reports unused for longer than the
// app's threshold (or never used since it was granted).
type DormantItem struct {
	ID           string    `json:"id"` // "d/IDENTITY/APP"
	Identity     string    `json:"identity"`
	Email        string    `json:"email"`
	Name         string    `json:"name,omitempty"`
	Manager      string    `json:"manager,omitempty"`
	App          string    `json:"app"`
	AppTitle     string    `json:"app_title"`
	AccountID    string    `json:"account_id"`
	LastActivity time.Time `json:"last_activity,omitzero"` // zero: never used
	Since        time.Time `json:"since,omitzero"`         // held since (never-used lines)
	IdleDays     int       `json:"idle_days"`
	Entitlements []string  `json:"entitlements,omitempty"` // configured names held in the app
	MonthlyCost  float64   `json:"monthly_cost"`
	// Extra is set for an account the person was recorded as owning besides
	// their own (an orphan given an owner): the line closes that account, by
	// its id, and its id is "d/IDENTITY/APP/ACCOUNT".
	Extra bool `json:"extra,omitempty"`
}

// Never reports whether the app has no record of the account being used.
func (d DormantItem) Never() bool { return d.LastActivity.IsZero() }

// OrphanItem is an active account that belongs to nobody Gatehouse knows, or
// to someone who has left.
type OrphanItem struct {
	ID          string `json:"id"` // "o/APP/ACCOUNT"
	App         string `json:"app"`
	AppTitle    string `json:"app_title"`
	AccountID   string `json:"account_id"`
	Login       string `json:"login"` // email or user name as the app shows it
	DisplayName string `json:"display_name,omitempty"`
	// Leaver is set when the account belongs to a terminated identity.
	Leaver      string  `json:"leaver,omitempty"`
	Reason      string  `json:"reason"`
	MonthlyCost float64 `json:"monthly_cost"`
}

// LeaverItem is a terminated identity with access still recorded or a
// leaver run not finished: it should never exist.
type LeaverItem struct {
	Identity string   `json:"identity"`
	Email    string   `json:"email"`
	Open     []string `json:"open"` // APP:ENT still held, and runs not finished
}

// RunItem is an unfinished run that waits or is blocked.
type RunItem struct {
	RunID    string              `json:"run_id"`
	Identity string              `json:"identity"`
	Email    string              `json:"email"`
	Event    gatehouse.EventType `json:"event"`
	Status   gatehouse.RunStatus `json:"status"`
	Since    time.Time           `json:"since"`
	Summary  string              `json:"summary,omitempty"`
}

// TaskItem is a manual task open for longer than the overdue threshold.
type TaskItem struct {
	TaskID   string    `json:"task_id"`
	Title    string    `json:"title"`
	Assignee string    `json:"assignee"`
	App      string    `json:"app,omitempty"`
	Since    time.Time `json:"since"`
}

// SoDItem is a segregation-of-duties conflict somebody holds right now.
type SoDItem struct {
	Constraint   string   `json:"constraint"`
	Description  string   `json:"description,omitempty"`
	Action       string   `json:"action"`
	Identity     string   `json:"identity"`
	Email        string   `json:"email"`
	Entitlements []string `json:"entitlements"`
}

// ExpiringItem is a time-bound grant that ends within the window.
type ExpiringItem struct {
	Identity    string    `json:"identity"`
	Email       string    `json:"email"`
	Entitlement string    `json:"entitlement"` // APP:ENT
	ExpiresAt   time.Time `json:"expires_at"`
}

// NonHumanItem is a service account, bot or AI agent whose owner is missing
// or gone, or that is past (or near) its expiry.
type NonHumanItem struct {
	Identity string                 `json:"identity"`
	Email    string                 `json:"email"`
	Kind     gatehouse.IdentityKind `json:"kind"`
	Owner    string                 `json:"owner,omitempty"`
	Problem  string                 `json:"problem"`
	Expiry   gatehouse.Date         `json:"expiry,omitzero"`
}

// LicenseLine is the money one app could save: dormant and orphaned seats.
type LicenseLine struct {
	App         string  `json:"app"`
	AppTitle    string  `json:"app_title"`
	Seats       int     `json:"seats"`
	MonthlyCost float64 `json:"monthly_cost"`
}

// Sources are what a digest reads.
type Sources struct {
	Config *config.Config
	DB     *store.DB
	Conns  map[string]gatehouse.Connector
	Now    time.Time
	// ListTimeout bounds one app's account listing (default 2 minutes).
	ListTimeout time.Duration
	// Parallel apps listed at once (default 4).
	Parallel int
}

// listing is one app's account listing.
type listing struct {
	app   string
	accts []gatehouse.Account
	err   error
}

// Compute builds the digest. An app whose listing fails is named in Notes
// and skipped, never reported as clean.
func Compute(ctx context.Context, src Sources) (Digest, error) {
	cfg := src.Config
	now := src.Now
	if now.IsZero() {
		now = time.Now()
	}
	d := Digest{GeneratedAt: now.UTC(), Apps: len(cfg.Apps)}
	// The apps' listings (network-bound in production, CPU-bound against
	// the simulated apps) run while the store is read: on 2 cores that is
	// most of a 2,000 × 40 digest's wall time saved.
	listed := make(chan []listing, 1)
	go func() { listed <- listAll(ctx, src) }()
	received := false
	defer func() {
		if !received { // an early error return still waits for the listings
			<-listed
		}
	}()
	ids, err := src.DB.ListIdentities()
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	keeps, err := src.DB.Keeps()
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	d.Identities = len(ids)
	for i := range ids {
		ids[i].ID = ids[i].Key() // Key() builds "emp:…" each call: once is enough
	}
	ix := newIndex(ids)
	// One streaming pass over the grants (80,000 at 2,000 people × 40 apps):
	// collecting them in a slice first cost more than the rest of the digest.
	held := make(map[string]map[string][]store.GrantBrief, len(ids)) // identity → app → grants
	// Accounts somebody was recorded as owning (a leaver's discovered
	// account, an orphan given an owner): app NUL account id → identity.
	owned := map[string]string{}
	within := cfg.Governance.Digest.ExpiringWithin
	err = src.DB.EachGrantBrief(func(g store.GrantBrief) error {
		d.Grants++
		if acctID, ok := strings.CutPrefix(g.Entitlement, "discovered:"); ok {
			owned[g.App+"\x00"+acctID] = g.Identity
		}
		m := held[g.Identity]
		if m == nil {
			m = map[string][]store.GrantBrief{}
			held[g.Identity] = m
		}
		m[g.App] = append(m[g.App], g)
		if !g.ExpiresAt.IsZero() && !g.ExpiresAt.Before(now) && g.ExpiresAt.Sub(now) <= within {
			email := g.Identity
			if id, ok := ix.byKey[g.Identity]; ok {
				email = id.Email
			}
			d.Expiring = append(d.Expiring, ExpiringItem{Identity: g.Identity, Email: email, Entitlement: g.App + ":" + g.Entitlement, ExpiresAt: g.ExpiresAt})
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	kept := map[string]bool{}
	for _, k := range keeps {
		if k.Active(now) {
			kept[k.Identity+"\x00"+k.App] = true
		}
	}

	listings := <-listed
	received = true
	money := map[string]*LicenseLine{}
	addMoney := func(app string, seats int, cost float64) {
		l := money[app]
		if l == nil {
			l = &LicenseLine{App: app, AppTitle: appTitle(cfg, app)}
			money[app] = l
		}
		l.Seats += seats
		l.MonthlyCost += cost
	}
	for _, l := range listings {
		if l.err != nil {
			d.Notes = append(d.Notes, fmt.Sprintf("%s: accounts could not be listed (%v); its dormant and orphaned accounts are not in this digest", appTitle(cfg, l.app), l.err))
			continue
		}
		reportsActivity := false
		for _, a := range l.accts {
			if !a.LastActivity.IsZero() {
				reportsActivity = true
				break
			}
		}
		if !reportsActivity && len(l.accts) > 0 {
			d.Notes = append(d.Notes, fmt.Sprintf("%s reports no last activity for any account, so none is called dormant", appTitle(cfg, l.app)))
		}
		threshold := cfg.DormantAfter(l.app)
		seat := seatCost(cfg, l.app)
		for _, a := range l.accts {
			if !a.Active {
				continue
			}
			id, ok := ix.match(a)
			if key, rec := owned[l.app+"\x00"+a.ID]; rec && !ok {
				id, ok = ix.byKey[key]
			}
			switch {
			case !ok:
				d.Orphans = append(d.Orphans, OrphanItem{ID: "o/" + l.app + "/" + a.ID, App: l.app, AppTitle: appTitle(cfg, l.app), AccountID: a.ID,
					Login: login(a), DisplayName: a.DisplayName, Reason: "matches no identity Gatehouse knows", MonthlyCost: seat})
				addMoney(l.app, 1, seat)
			case id.Status == gatehouse.StatusTerminated:
				d.Orphans = append(d.Orphans, OrphanItem{ID: "o/" + l.app + "/" + a.ID, App: l.app, AppTitle: appTitle(cfg, l.app), AccountID: a.ID,
					Login: login(a), DisplayName: a.DisplayName, Leaver: id.Email, Reason: "belongs to " + id.Email + ", who has left", MonthlyCost: seat})
				addMoney(l.app, 1, seat)
			case reportsActivity && id.Status != gatehouse.StatusSuspended:
				item, dormant := dormancy(cfg, id, a, grantsOf(held[id.Key()][l.app], a.ID), l.app, threshold, now)
				if !dormant {
					continue
				}
				if kept[id.Key()+"\x00"+l.app] {
					d.Snoozed++
					continue
				}
				d.Dormant = append(d.Dormant, item)
				addMoney(l.app, 1, item.MonthlyCost)
			}
		}
	}
	d.OpenLeavers, err = openLeavers(src.DB, ids, held)
	if err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	if d.StuckRuns, err = stuckRuns(src.DB, ix); err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	if d.OverdueTasks, err = overdueTasks(src.DB, now, cfg.Governance.Digest.TaskOverdueAfter); err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	d.SoD = heldConflicts(cfg, ix, held)
	if d.Week, err = stats.Compute(src.DB, now.Add(-7*config.Day), now); err != nil {
		return d, fmt.Errorf("digest: %w", err)
	}
	sortExpiring(d.Expiring)
	d.NonHumans = nonHumans(ids, ix, now, cfg)

	for _, l := range money {
		d.Licenses = append(d.Licenses, *l)
		d.Reclaimable += l.MonthlyCost
	}
	sort.Slice(d.Licenses, func(i, j int) bool {
		if d.Licenses[i].MonthlyCost != d.Licenses[j].MonthlyCost {
			return d.Licenses[i].MonthlyCost > d.Licenses[j].MonthlyCost
		}
		return d.Licenses[i].App < d.Licenses[j].App
	})
	sort.Slice(d.Dormant, func(i, j int) bool {
		a, b := d.Dormant[i], d.Dormant[j]
		if a.App != b.App {
			return a.App < b.App
		}
		if a.IdleDays != b.IdleDays {
			return a.IdleDays > b.IdleDays
		}
		return a.Email < b.Email
	})
	sort.Slice(d.Orphans, func(i, j int) bool {
		if d.Orphans[i].App != d.Orphans[j].App {
			return d.Orphans[i].App < d.Orphans[j].App
		}
		return d.Orphans[i].Login < d.Orphans[j].Login
	})
	sort.Strings(d.Notes)
	return d, nil
}

// listAll lists every app that can, a few at a time, each bounded in time.
func listAll(ctx context.Context, src Sources) []listing {
	timeout := src.ListTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	par := src.Parallel
	if par <= 0 {
		par = 4
	}
	var apps []string
	for _, name := range src.Config.AppNames() {
		if c := src.Conns[name]; c != nil && c.Capabilities().Has(gatehouse.CapListAccounts) {
			apps = append(apps, name)
		}
	}
	out := make([]listing, len(apps))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out[i] = listing{app: app}
			func() {
				defer func() {
					if r := recover(); r != nil {
						out[i].err = fmt.Errorf("connector panicked: %v", r)
					}
				}()
				out[i].accts, out[i].err = src.Conns[app].ListAccounts(lctx)
			}()
		})
	}
	wg.Wait()
	return out
}

// grantsOf are the grants that concern one account of an identity in an
// app: the discovered grant recording that very account when there is one,
// else the identity's own grants there (not its other discovered accounts).
func grantsOf(gs []store.GrantBrief, accountID string) []store.GrantBrief {
	discovered := false
	for i, g := range gs {
		if e, ok := strings.CutPrefix(g.Entitlement, "discovered:"); ok {
			if e == accountID {
				return gs[i : i+1]
			}
			discovered = true
		}
	}
	if !discovered {
		return gs // the common case: nothing to filter, nothing to allocate
	}
	out := make([]store.GrantBrief, 0, len(gs))
	for _, g := range gs {
		if !strings.HasPrefix(g.Entitlement, "discovered:") {
			out = append(out, g)
		}
	}
	return out
}

// dormancy decides whether an identity's account in app is dormant.
func dormancy(cfg *config.Config, id gatehouse.Identity, a gatehouse.Account, gs []store.GrantBrief, app string, threshold time.Duration, now time.Time) (DormantItem, bool) {
	// Decide first, cheaply: most accounts are in use, and building a line
	// costs allocations a 80,000-account digest does not want to spend.
	since := time.Time{}
	for _, g := range gs {
		if since.IsZero() || g.GrantedAt.Before(since) {
			since = g.GrantedAt
		}
	}
	idleSince := a.LastActivity
	if idleSince.IsZero() {
		// Never used: dormant once it has been held for the threshold. An
		// account Gatehouse never granted counts from the person's start.
		if since.IsZero() && !id.StartDate.IsZero() {
			since = id.StartDate.In(id.Zone(cfg.Location()))
		}
		idleSince = since
	}
	if idleSince.IsZero() || now.Sub(idleSince) < threshold {
		return DormantItem{}, false
	}
	key := id.Key()
	item := DormantItem{ID: "d/" + key + "/" + app, Identity: key, Email: id.Email, Name: id.Name, Manager: id.ManagerEmail,
		App: app, AppTitle: appTitle(cfg, app), AccountID: a.ID, LastActivity: a.LastActivity, IdleDays: int(now.Sub(idleSince) / config.Day)}
	if a.LastActivity.IsZero() {
		item.Since = since
	}
	if len(gs) == 1 && gs[0].Entitlement == DiscoveredEnt(a.ID) {
		item.ID, item.Extra = item.ID+"/"+a.ID, true
	}
	cost := seatCost(cfg, app)
	for _, g := range gs {
		if g.Entitlement != string(gatehouse.EntAccount) && !strings.HasPrefix(g.Entitlement, "discovered:") {
			item.Entitlements = append(item.Entitlements, g.Entitlement)
		}
		// The account entitlement's cost is the seat, counted once above.
		if e, ok := cfg.Entitlement(g.Ref()); ok && !isAccount(g.Entitlement) {
			cost += e.MonthlyCost
		}
	}
	sort.Strings(item.Entitlements)
	item.MonthlyCost = cost
	return item, true
}

func openLeavers(db *store.DB, ids []gatehouse.Identity, held map[string]map[string][]store.GrantBrief) ([]LeaverItem, error) {
	open, err := db.UnfinishedRuns()
	if err != nil {
		return nil, err
	}
	runsOf := map[string][]gatehouse.Run{}
	for _, r := range open {
		if r.Event.Type.Removes() {
			runsOf[r.IdentityKey] = append(runsOf[r.IdentityKey], r)
		}
	}
	var out []LeaverItem
	for _, id := range ids {
		if id.Status != gatehouse.StatusTerminated {
			continue
		}
		var items []string
		for app, gs := range held[id.Key()] {
			for _, g := range gs {
				items = append(items, app+":"+g.Entitlement)
			}
		}
		sort.Strings(items)
		for _, r := range runsOf[id.Key()] {
			items = append(items, fmt.Sprintf("run %s %s", r.ID, r.Status))
		}
		if len(items) > 0 {
			out = append(out, LeaverItem{Identity: id.Key(), Email: id.Email, Open: items})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out, nil
}

func stuckRuns(db *store.DB, ix *index) ([]RunItem, error) {
	runs, err := db.UnfinishedRuns()
	if err != nil {
		return nil, err
	}
	var out []RunItem
	for _, r := range runs {
		if r.Status != gatehouse.RunBlocked && r.Status != gatehouse.RunWaiting {
			continue
		}
		email := r.Event.Identity.Email
		if id, ok := ix.byKey[r.IdentityKey]; ok {
			email = id.Email
		}
		out = append(out, RunItem{RunID: r.ID, Identity: r.IdentityKey, Email: email, Event: r.Event.Type, Status: r.Status, Since: r.UpdatedAt, Summary: r.Summary})
	}
	// Waiting longest first: the oldest untouched run is the one to chase.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].RunID < out[j].RunID
	})
	return out, nil
}

func overdueTasks(db *store.DB, now time.Time, after time.Duration) ([]TaskItem, error) {
	ts, err := db.ListTasks(store.TaskFilter{Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
	if err != nil {
		return nil, err
	}
	var out []TaskItem
	for _, t := range ts {
		if now.Sub(t.CreatedAt) < after {
			continue
		}
		out = append(out, TaskItem{TaskID: t.ID, Title: t.Title, Assignee: t.Assignee, App: t.App, Since: t.CreatedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// heldConflicts finds SoD constraints broken by what people hold now: two
// or more of a constraint's entitlements, however they were obtained.
func heldConflicts(cfg *config.Config, ix *index, held map[string]map[string][]store.GrantBrief) []SoDItem {
	var out []SoDItem
	for _, c := range cfg.SoD {
		for key, apps := range held {
			var hit []string
			for _, r := range c.Entitlements {
				for _, g := range apps[r.App] {
					if g.Entitlement == r.Entitlement {
						hit = append(hit, r.App+":"+r.Entitlement)
						break
					}
				}
			}
			if len(hit) < 2 {
				continue
			}
			email := key
			if id, ok := ix.byKey[key]; ok {
				email = id.Email
			}
			action := c.Action
			if action == "" {
				action = "block"
			}
			out = append(out, SoDItem{Constraint: c.Name, Description: c.Description, Action: action, Identity: key, Email: email, Entitlements: hit})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Constraint != out[j].Constraint {
			return out[i].Constraint < out[j].Constraint
		}
		return out[i].Email < out[j].Email
	})
	return out
}

func sortExpiring(out []ExpiringItem) {
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ExpiresAt.Equal(out[j].ExpiresAt) {
			return out[i].ExpiresAt.Before(out[j].ExpiresAt)
		}
		return out[i].Email+out[i].Entitlement < out[j].Email+out[j].Entitlement
	})
}

// nonHumans lists service accounts, bots and agents that break "no owner, no
// access": no owner, an owner Gatehouse does not know or who has left, past
// expiry, or expiring within the window.
func nonHumans(ids []gatehouse.Identity, ix *index, now time.Time, cfg *config.Config) []NonHumanItem {
	var out []NonHumanItem
	within := cfg.Governance.Digest.ExpiringWithin
	for _, id := range ids {
		if id.Kind.Human() || id.Status == gatehouse.StatusTerminated {
			continue
		}
		item := NonHumanItem{Identity: id.Key(), Email: id.Email, Kind: id.Kind, Owner: id.Owner, Expiry: id.Expiry}
		owner, known := ix.byEmail[strings.ToLower(id.Owner)]
		zone := id.Zone(cfg.Location())
		switch {
		case id.Owner == "":
			item.Problem = "has no owner"
		case !known:
			item.Problem = "owner " + id.Owner + " is not a known identity"
		case owner.Status == gatehouse.StatusTerminated:
			item.Problem = "owner " + id.Owner + " has left"
		case !id.Expiry.IsZero() && !id.Expiry.In(zone).After(now):
			item.Problem = "past its expiry " + id.Expiry.String()
		case !id.Expiry.IsZero() && id.Expiry.In(zone).Sub(now) <= within:
			item.Problem = "expires " + id.Expiry.String()
		default:
			continue
		}
		out = append(out, item)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

func appTitle(cfg *config.Config, app string) string {
	if a := cfg.Apps[app]; a != nil && a.Title != "" {
		return a.Title
	}
	return app
}

func seatCost(cfg *config.Config, app string) float64 {
	if a := cfg.Apps[app]; a != nil {
		return a.SeatCost
	}
	return 0
}

func isAccount(ent string) bool { return ent == string(gatehouse.EntAccount) }

func login(a gatehouse.Account) string {
	if a.Email != "" {
		return a.Email
	}
	if a.UserName != "" {
		return a.UserName
	}
	return a.ID
}
