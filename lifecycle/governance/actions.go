package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/store"
)

// Errors callers branch on; their text is fit to show the person who clicked.
var (
	ErrNotAllowed  = errors.New("you may not act on this line")
	ErrUnknownItem = errors.New("this digest line is no longer known to Gatehouse")
	ErrBadKeep     = errors.New("a keep needs a reason and a snooze of 1 day or more")
)

// Revoker is the part of the lifecycle engine that takes access away.
type Revoker interface {
	RevokeAccess(ctx context.Context, req lifecycle.RevokeRequest) (gatehouse.Run, error)
}

// Actor is who clicked: their email and whether they are in IT.
type Actor struct {
	Email string
	IT    bool
}

// Service stores digests and carries out what people decide on them. Every
// decision is checked against the stored digest (the line must have been
// shown) and against who may decide, and is audited either way.
type Service struct {
	Config *config.Config
	DB     *store.DB
	Engine Revoker
	Now    func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Produce computes a digest now from conns and stores it, ready to post.
func (s *Service) Produce(ctx context.Context, conns map[string]gatehouse.Connector) (Digest, error) {
	d, err := Compute(ctx, Sources{Config: s.Config, DB: s.DB, Conns: conns, Now: s.now()})
	if err != nil {
		return d, err
	}
	return s.Save(d)
}

// Posted records where a stored digest was posted.
func (s *Service) Posted(d Digest, refs []gatehouse.MessageRef) error {
	return s.DB.SetDigestPosted(d.ID, refs)
}

// Save stores d and returns it with its id set.
func (s *Service) Save(d Digest) (Digest, error) {
	payload, err := json.Marshal(d)
	if err != nil {
		return d, fmt.Errorf("encode digest: %w", err)
	}
	a := gatehouse.AuditEntry{Time: s.now().UTC(), Actor: gatehouse.Actor{Kind: gatehouse.ActorSchedule, ID: "gatehouse"}, Action: "digest",
		Reason: "governance digest", Details: map[string]string{
			"dormant": fmt.Sprint(len(d.Dormant)), "orphans": fmt.Sprint(len(d.Orphans)), "reclaimable_monthly": fmt.Sprintf("%.2f", d.Reclaimable)}}
	rec, err := s.DB.CreateDigest(store.Digest{CreatedAt: d.GeneratedAt, Payload: payload}, a)
	if err != nil {
		return d, err
	}
	d.ID = rec.ID
	return d, nil
}

// Load returns a stored digest.
func (s *Service) Load(id string) (Digest, error) {
	rec, err := s.DB.GetDigest(id)
	if errors.Is(err, store.ErrNotFound) {
		return Digest{}, ErrUnknownItem
	}
	if err != nil {
		return Digest{}, err
	}
	var d Digest
	if err := json.Unmarshal(rec.Payload, &d); err != nil {
		return Digest{}, fmt.Errorf("decode digest %s: %w", id, err)
	}
	d.ID = rec.ID
	return d, nil
}

// DormantByID finds a dormant line.
func (d Digest) DormantByID(id string) (DormantItem, bool) {
	for _, it := range d.Dormant {
		if it.ID == id {
			return it, true
		}
	}
	return DormantItem{}, false
}

// OrphanByID finds an orphaned-account line.
func (d Digest) OrphanByID(id string) (OrphanItem, bool) {
	for _, it := range d.Orphans {
		if it.ID == id {
			return it, true
		}
	}
	return OrphanItem{}, false
}

// MayDecideOrphan says whether who may disable an orphaned account or give
// it an owner: IT, and the app's owner (nobody else answers for it).
func MayDecideOrphan(cfg *config.Config, it OrphanItem, who Actor) bool {
	if who.IT {
		return true
	}
	a := cfg.Apps[it.App]
	return a != nil && who.Email != "" && strings.EqualFold(a.Owner, strings.TrimSpace(who.Email))
}

// orphan loads the digest and the orphan line a click names, and checks who
// may act on it; a refusal is audited.
func (s *Service) orphan(digestID, itemID string, who Actor) (OrphanItem, error) {
	d, err := s.Load(digestID)
	if err != nil {
		if errors.Is(err, ErrUnknownItem) {
			return OrphanItem{}, s.refuseUnknown(who, digestID, itemID)
		}
		return OrphanItem{}, err
	}
	it, ok := d.OrphanByID(itemID)
	if !ok {
		return OrphanItem{}, s.refuseUnknown(who, digestID, itemID)
	}
	if !MayDecideOrphan(s.Config, it, who) {
		return it, s.refuse(who, digestID, itemID, fmt.Sprintf("%s is not IT or the owner of %s", who.Email, it.App))
	}
	return it, nil
}

// CheckOrphan checks that who may act on an orphan line (before a modal opens).
func (s *Service) CheckOrphan(digestID, itemID string, who Actor) (OrphanItem, error) {
	return s.orphan(digestID, itemID, who)
}

// DisableOrphan closes an orphaned account by the id the app listed it
// under, through the engine; a leaver's account is filed under the leaver.
func (s *Service) DisableOrphan(ctx context.Context, digestID, itemID string, who Actor) (gatehouse.Run, error) {
	it, err := s.orphan(digestID, itemID, who)
	if err != nil {
		return gatehouse.Run{}, err
	}
	acct := gatehouse.Account{ID: it.AccountID, DisplayName: it.DisplayName}
	if strings.Contains(it.Login, "@") {
		acct.Email = it.Login
	}
	acct.UserName = it.Login
	run, err := s.Engine.RevokeAccess(ctx, lifecycle.RevokeRequest{Identity: it.Leaver, App: it.App, Account: &acct, By: who.Email,
		Reason: "orphaned account: " + it.Reason, Source: "slack:digest", DedupeKey: "digest:" + digestID + ":" + it.ID})
	if err != nil {
		return run, fmt.Errorf("disable orphaned %s account %s: %w", it.App, it.AccountID, err)
	}
	return run, nil
}

// ErrUnknownOwner says an Assign owner named somebody Gatehouse does not know.
var ErrUnknownOwner = errors.New("the new owner is not a known, active identity")

// AssignOwner records who an orphaned account belongs to: a discovered
// grant of that identity, so that the digest stops calling it orphaned and
// the owner's leaver run closes it like every other account of theirs.
func (s *Service) AssignOwner(digestID, itemID string, who Actor, ownerEmail string) (gatehouse.Grant, error) {
	it, err := s.orphan(digestID, itemID, who)
	if err != nil {
		return gatehouse.Grant{}, err
	}
	owner, err := s.DB.IdentityByEmail(strings.ToLower(strings.TrimSpace(ownerEmail)))
	if err != nil || owner.Status == gatehouse.StatusTerminated {
		return gatehouse.Grant{}, ErrUnknownOwner
	}
	now := s.now().UTC()
	g := gatehouse.Grant{Identity: owner.Key(), App: it.App, Entitlement: DiscoveredEnt(it.AccountID), Source: gatehouse.SourceDiscovered, GrantedAt: now,
		Reasons: []gatehouse.Reason{{Rule: "digest:assign_owner"}}, ApprovedBy: []string{strings.ToLower(who.Email)}}
	a := gatehouse.AuditEntry{Time: now, Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: who.Email}, Action: "assign_owner",
		IdentityKey: owner.Key(), App: it.App, Entitlement: g.Entitlement, Reason: "owner of an orphaned account",
		Details: map[string]string{"digest": digestID, "item": itemID, "account": it.Login}}
	return s.DB.PutGrant(g, a)
}

// DiscoveredEnt names the grant recording an account Gatehouse found but
// never granted (the engine's own convention for discovered accounts).
func DiscoveredEnt(accountID string) string { return "discovered:" + accountID }

// MayDecide says whether who may revoke or keep a dormant line: IT always,
// the app's owner, and the person's manager.
func MayDecide(cfg *config.Config, it DormantItem, who Actor) bool {
	if who.IT {
		return true
	}
	email := strings.ToLower(strings.TrimSpace(who.Email))
	if email == "" {
		return false
	}
	if a := cfg.Apps[it.App]; a != nil && strings.EqualFold(a.Owner, email) {
		return true
	}
	return it.Manager != "" && strings.EqualFold(it.Manager, email) && !strings.EqualFold(it.Email, email)
}

func (s *Service) refuse(who Actor, digestID, itemID, why string) error {
	a := gatehouse.AuditEntry{Time: s.now().UTC(), Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: who.Email}, Action: "refuse",
		Reason: why, Details: map[string]string{"digest": digestID, "item": itemID}}
	if _, err := s.DB.AppendAudit(a); err != nil {
		return fmt.Errorf("audit refusal: %w", err)
	}
	return ErrNotAllowed
}

// line loads the digest and the dormant line a click names, and checks who
// may act on it; a refusal is audited.
func (s *Service) line(digestID, itemID string, who Actor) (DormantItem, error) {
	d, err := s.Load(digestID)
	if err != nil {
		if errors.Is(err, ErrUnknownItem) {
			return DormantItem{}, s.refuseUnknown(who, digestID, itemID)
		}
		return DormantItem{}, err
	}
	it, ok := d.DormantByID(itemID)
	if !ok {
		return DormantItem{}, s.refuseUnknown(who, digestID, itemID)
	}
	if !MayDecide(s.Config, it, who) {
		return it, s.refuse(who, digestID, itemID, fmt.Sprintf("%s is not IT, the owner of %s, or %s's manager", who.Email, it.App, it.Email))
	}
	return it, nil
}

func (s *Service) refuseUnknown(who Actor, digestID, itemID string) error {
	_ = s.refuse(who, digestID, itemID, "the click names no line of a stored digest")
	return ErrUnknownItem
}

// Revoke closes a dormant account through the engine, once per digest line
// however often it is clicked.
func (s *Service) Revoke(ctx context.Context, digestID, itemID string, who Actor) (gatehouse.Run, error) {
	it, err := s.line(digestID, itemID, who)
	if err != nil {
		return gatehouse.Run{}, err
	}
	return s.revoke(ctx, digestID, it, who)
}

func (s *Service) revoke(ctx context.Context, digestID string, it DormantItem, who Actor) (gatehouse.Run, error) {
	why := fmt.Sprintf("dormant: no activity in %s", it.AppTitle)
	if it.Never() {
		why += " since it was granted"
	} else {
		why += fmt.Sprintf(" for %d days", it.IdleDays)
	}
	req := lifecycle.RevokeRequest{Identity: it.Identity, App: it.App, By: who.Email, Reason: why,
		Source: "slack:digest", DedupeKey: "digest:" + digestID + ":" + it.ID}
	if it.Extra {
		req.Account = &gatehouse.Account{ID: it.AccountID}
	}
	run, err := s.Engine.RevokeAccess(ctx, req)
	if err != nil {
		return run, fmt.Errorf("revoke %s in %s: %w", it.Email, it.App, err)
	}
	return run, nil
}

// RevokeApp revokes every dormant line of app in the digest that who may
// act on, and says how many were left because who may not.
func (s *Service) RevokeApp(ctx context.Context, digestID, app string, who Actor) (runs []gatehouse.Run, refused int, err error) {
	d, err := s.Load(digestID)
	if err != nil {
		if errors.Is(err, ErrUnknownItem) {
			return nil, 0, s.refuseUnknown(who, digestID, "app:"+app)
		}
		return nil, 0, err
	}
	var errs []error
	for _, it := range d.Dormant {
		if it.App != app {
			continue
		}
		if !MayDecide(s.Config, it, who) {
			refused++
			continue
		}
		run, err := s.revoke(ctx, digestID, it, who)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		runs = append(runs, run)
	}
	if len(runs) == 0 && refused > 0 {
		return nil, refused, s.refuse(who, digestID, "app:"+app, fmt.Sprintf("%s may act on none of the dormant lines of %s", who.Email, app))
	}
	return runs, refused, errors.Join(errs...)
}

// Keep records that a dormant line stays, hiding it for days (capped by
// governance.digest.max_snooze).
func (s *Service) Keep(digestID, itemID string, who Actor, reason string, days int) (gatehouse.Keep, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || days < 1 {
		return gatehouse.Keep{}, ErrBadKeep
	}
	it, err := s.line(digestID, itemID, who)
	if err != nil {
		return gatehouse.Keep{}, err
	}
	now := s.now()
	snooze := time.Duration(days) * config.Day
	if max := s.Config.Governance.Digest.MaxSnooze; max > 0 && snooze > max {
		snooze = max
	}
	k := gatehouse.Keep{Identity: it.Identity, App: it.App, By: strings.ToLower(who.Email), Reason: reason, At: now.UTC(), Until: now.Add(snooze).UTC()}
	a := gatehouse.AuditEntry{Time: now.UTC(), Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: who.Email}, Action: "keep",
		IdentityKey: it.Identity, App: it.App, Entitlement: string(gatehouse.EntAccount), Reason: reason,
		Details: map[string]string{"digest": digestID, "item": itemID, "until": k.Until.Format(time.RFC3339)}}
	if err := s.DB.PutKeep(k, a); err != nil {
		return k, err
	}
	return k, nil
}
