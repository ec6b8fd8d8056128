package gatehouse

import (
	"fmt"
	"strings"
	"time"
)

// Risk grades an entitlement. It drives approvals (which risk needs which
// approvers) and review: high-risk changes for movers are held for a manager.
type Risk int

// Risk levels, ordered: a higher value is riskier.
const (
	RiskLow Risk = iota + 1
	RiskMedium
	RiskHigh
	RiskCritical
)

var riskNames = map[Risk]string{RiskLow: "low", RiskMedium: "medium", RiskHigh: "high", RiskCritical: "critical"}

// Risks lists the levels from lowest to highest.
var Risks = []Risk{RiskLow, RiskMedium, RiskHigh, RiskCritical}

func (r Risk) String() string {
	if s, ok := riskNames[r]; ok {
		return s
	}
	return fmt.Sprintf("risk(%d)", int(r))
}

// ParseRisk maps "low", "medium", "high", "critical" to a Risk.
func ParseRisk(s string) (Risk, error) {
	for r, n := range riskNames {
		if strings.EqualFold(s, n) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("risk %q is not one of low, medium, high, critical", s)
}

// MarshalText writes the risk's name.
func (r Risk) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a risk's name.
func (r *Risk) UnmarshalText(b []byte) error {
	v, err := ParseRisk(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// EntitlementKind says what sort of access unit an entitlement is inside its app.
type EntitlementKind string

// Entitlement kinds. Account is special: it is the seat itself, and every other
// entitlement of the same app implies it.
const (
	EntAccount       EntitlementKind = "account"
	EntGroup         EntitlementKind = "group"
	EntTeam          EntitlementKind = "team"
	EntRole          EntitlementKind = "role"
	EntRepoRole      EntitlementKind = "repo_role"
	EntChannel       EntitlementKind = "channel"
	EntPermissionSet EntitlementKind = "permission_set"
	EntLicense       EntitlementKind = "license"
)

// EntitlementKinds lists the valid kinds.
var EntitlementKinds = []EntitlementKind{EntAccount, EntGroup, EntTeam, EntRole, EntRepoRole, EntChannel, EntPermissionSet, EntLicense}

// Valid reports whether k is a known kind.
func (k EntitlementKind) Valid() bool {
	for _, v := range EntitlementKinds {
		if k == v {
			return true
		}
	}
	return false
}

// App is a system access lives in, reached through a connector.
type App struct {
	Name            string   `json:"name"`
	Title           string   `json:"title,omitempty"` // human-readable name, e.g. "Google Workspace"
	Connector       string   `json:"connector"`       // connector type: okta, scim, ldap, http, manual, simulated…
	Owner           string   `json:"owner,omitempty"` // app owner's email: approves high-risk grants, does manual tasks
	IdP             bool     `json:"idp,omitempty"`   // the identity provider: created first on join, disabled first on leave
	SSO             bool     `json:"sso,omitempty"`   // access flows through the IdP (still deprovisioned directly on leave)
	MonthlySeatCost float64  `json:"monthly_seat_cost,omitempty"`
	DependsOn       []string `json:"depends_on,omitempty"` // apps whose account must exist first
}

// Entitlement is one unit of access inside an app.
type Entitlement struct {
	App         string          `json:"app"`
	Name        string          `json:"name"` // key within the app, e.g. "engineering"
	Kind        EntitlementKind `json:"kind"`
	Resource    string          `json:"resource,omitempty"` // what the app calls it: a group name, repo, permission set ARN…
	Level       string          `json:"level,omitempty"`    // e.g. read, write, admin
	Risk        Risk            `json:"risk"`
	MonthlyCost float64         `json:"monthly_cost,omitempty"`
	Description string          `json:"description,omitempty"`
}

// Ref returns the entitlement's reference.
func (e Entitlement) Ref() EntitlementRef { return EntitlementRef{App: e.App, Entitlement: e.Name} }

// EntitlementRef names an entitlement as "app:entitlement".
type EntitlementRef struct {
	App         string `json:"app"`
	Entitlement string `json:"entitlement"`
}

// ParseEntitlementRef parses "app:entitlement". A bare "app" means the app's
// account entitlement.
func ParseEntitlementRef(s string) (EntitlementRef, error) {
	s = strings.TrimSpace(s)
	app, ent, found := strings.Cut(s, ":")
	if app == "" || (found && ent == "") || strings.ContainsAny(s, " \t\n") || strings.Count(s, ":") > 1 {
		return EntitlementRef{}, fmt.Errorf("entitlement reference %q: want APP or APP:ENTITLEMENT", s)
	}
	if !found {
		ent = string(EntAccount)
	}
	return EntitlementRef{App: app, Entitlement: ent}, nil
}

func (r EntitlementRef) String() string { return r.App + ":" + r.Entitlement }

// Less orders references by app then entitlement, for deterministic output.
func (r EntitlementRef) Less(o EntitlementRef) bool {
	if r.App != o.App {
		return r.App < o.App
	}
	return r.Entitlement < o.Entitlement
}

// Profile is a named bundle of entitlements. Add-ons are profiles that rules
// attach on top of a base profile (e.g. "Engineering Manager").
type Profile struct {
	Name         string           `json:"name"`
	Description  string           `json:"description,omitempty"`
	AddOn        bool             `json:"add_on,omitempty"`
	Entitlements []EntitlementRef `json:"entitlements"`
}

// GrantSource says how an identity came to hold an entitlement.
type GrantSource string

// Grant sources.
const (
	SourceBirthright GrantSource = "birthright" // chosen by rules from HR data
	SourceRequest    GrantSource = "request"    // asked for and approved
	SourceDiscovered GrantSource = "discovered" // found in the app, never granted by Gatehouse
)

// Grant is an entitlement held (or once held) by an identity.
type Grant struct {
	Identity    string      `json:"identity"` // Identity.Key()
	App         string      `json:"app"`
	Entitlement string      `json:"entitlement"`
	Source      GrantSource `json:"source"`
	Reasons     []Reason    `json:"reasons,omitempty"`
	ApprovedBy  []string    `json:"approved_by,omitempty"`
	RunID       string      `json:"run_id,omitempty"`
	GrantedAt   time.Time   `json:"granted_at"`
	ExpiresAt   time.Time   `json:"expires_at,omitzero"`
	LastUsedAt  time.Time   `json:"last_used_at,omitzero"`
	RevokedAt   time.Time   `json:"revoked_at,omitzero"`
	RevokedBy   string      `json:"revoked_by,omitempty"`
}

// Ref returns the granted entitlement's reference.
func (g Grant) Ref() EntitlementRef { return EntitlementRef{App: g.App, Entitlement: g.Entitlement} }

// Active reports whether the grant is held at t.
func (g Grant) Active(t time.Time) bool {
	if g.GrantedAt.After(t) {
		return false
	}
	if !g.RevokedAt.IsZero() && !g.RevokedAt.After(t) {
		return false
	}
	return true
}
