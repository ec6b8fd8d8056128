package lifecycle

import (
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// Receiver roles of the ownership-transfer ladder.
const (
	RoleManager    = "manager"    // the leaver's manager
	RoleOwner      = "owner"      // a non-human identity's owner
	RoleConfigured = "configured" // defaults.transfer_ownership_to names a person
	RoleAppOwner   = "app_owner"  // the app's owner
	RoleIT         = "it"         // IT: always the last rung
)

// Rung is one candidate receiver of a leaver's resources in an app.
type Rung struct {
	Role  string // manager, owner, configured, app_owner, it
	Email string
}

// Receiver is who receives a leaver's resources in one app, chosen at plan
// time, and who is asked next when the app says that receiver has no
// account there (gatehouse.ErrNoTransferTarget).
type Receiver struct {
	Rung
	// HasAccount says the store records an account of the receiver in the
	// app; false for IT without one (the transfer may end as a manual
	// hand-off task for IT).
	HasAccount bool
	Fallbacks  []Rung
}

// ladder is the fallback ladder of receivers for an identity: its primary
// receiver (the manager, a non-human's owner, or the configured person),
// then the app's owner, then IT. The leaver never receives their own
// resources; duplicates are dropped.
func (e *Engine) ladder(id gatehouse.Identity, app string) []Rung {
	var out []Rung
	add := func(role, email string) {
		email = strings.ToLower(strings.TrimSpace(email))
		if email == "" || strings.EqualFold(email, id.Email) {
			return
		}
		for _, r := range out {
			if r.Email == email {
				return
			}
		}
		out = append(out, Rung{Role: role, Email: email})
	}
	it := e.itEmail()
	switch t := e.cfg.Defaults.TransferOwnershipTo; {
	case !id.Kind.Human() && id.Owner != "":
		add(RoleOwner, id.Owner)
	case t == "" || t == "manager":
		add(RoleManager, id.ManagerEmail)
	case t == "it":
	default:
		add(RoleConfigured, t)
	}
	if e.cfg.Defaults.TransferOwnershipTo != "it" {
		// An app owned by IT is IT's rung, the last one.
		if a := e.cfg.Apps[app]; a != nil && !strings.EqualFold(strings.TrimSpace(a.Owner), it) {
			add(RoleAppOwner, a.Owner)
		}
	}
	// IT is always the last rung, even without an email ("it": a hand-off
	// task for the IT team).
	add(RoleIT, it)
	return out
}

// receiver picks, at plan time, the first rung of the ladder that the store
// says holds an account in app, else IT.
func (p *planner) receiver(app string) Receiver {
	rungs := p.e.ladder(p.id, app)
	for i, r := range rungs {
		last := i == len(rungs)-1
		has := p.holdsAccount(r.Email, app)
		if has || last {
			return Receiver{Rung: r, HasAccount: has, Fallbacks: rungs[i+1:]}
		}
	}
	return Receiver{}
}

// holdsAccount reports whether the store records any grant of the person
// with email in app; it caches per planner (one read per person).
func (p *planner) holdsAccount(email, app string) bool {
	if p.accounts == nil {
		p.accounts = map[string]map[string]bool{}
	}
	apps, ok := p.accounts[email]
	if !ok {
		apps = map[string]bool{}
		if id, err := p.e.db.IdentityByEmail(email); err == nil {
			if gs, err := p.e.db.Grants(id.Key()); err == nil {
				for _, g := range gs {
					apps[g.App] = true
				}
			}
		}
		p.accounts[email] = apps
	}
	return apps[app]
}

// encodeLadder writes rungs as "role=email,…" for a step's Result.
func encodeLadder(rs []Rung) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Role + "=" + r.Email
	}
	return strings.Join(parts, ",")
}

func decodeLadder(s string) []Rung {
	var out []Rung
	for _, part := range strings.Split(s, ",") {
		role, email, ok := strings.Cut(part, "=")
		if ok && email != "" {
			out = append(out, Rung{Role: role, Email: email})
		}
	}
	return out
}
