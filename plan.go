package gatehouse

import "time"

// Reason explains why a plan item exists: the rule that matched and the
// profile (or direct grant) it contributed through.
type Reason struct {
	Rule    string `json:"rule"`
	Profile string `json:"profile,omitempty"` // empty when the rule granted the entitlement directly
}

func (r Reason) String() string {
	if r.Profile == "" {
		return "rule " + r.Rule
	}
	return "rule " + r.Rule + " → profile " + r.Profile
}

// PlannedGrant is one entitlement a plan wants an identity to hold.
type PlannedGrant struct {
	App         string    `json:"app"`
	Entitlement string    `json:"entitlement"`
	Kind        string    `json:"kind,omitempty"`
	Risk        Risk      `json:"risk"`
	MonthlyCost float64   `json:"monthly_cost,omitempty"`
	Reasons     []Reason  `json:"reasons"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

// Ref returns the planned entitlement's reference.
func (p PlannedGrant) Ref() EntitlementRef {
	return EntitlementRef{App: p.App, Entitlement: p.Entitlement}
}

// ApproverRole names who must approve: the identity's manager, the app's owner,
// the IT team, or a specific person by email.
type ApproverRole string

// Approver roles. A specific person is written as their email.
const (
	ApproverManager  ApproverRole = "manager"
	ApproverAppOwner ApproverRole = "app_owner"
	ApproverIT       ApproverRole = "it"
)

// ApprovalRequirement says that a grant needs approval, by whom, and how many
// distinct people must approve (2 under the two-person rule).
type ApprovalRequirement struct {
	App         string         `json:"app"`
	Entitlement string         `json:"entitlement"`
	Risk        Risk           `json:"risk"`
	Approvers   []ApproverRole `json:"approvers"`
	Required    int            `json:"required"`
	TwoPerson   bool           `json:"two_person,omitempty"`
	Reasons     []string       `json:"reasons"` // which policy or rule asked for it
}

// Conflict is a segregation-of-duties violation: entitlements no identity may
// hold together.
type Conflict struct {
	Constraint   string           `json:"constraint"`
	Description  string           `json:"description,omitempty"`
	Entitlements []EntitlementRef `json:"entitlements"`
	Action       string           `json:"action"` // "block" or "review"
}

// Exclusion records a grant that a rule explicitly excluded; exclusions win
// over grants and are reported so that "why not" is answerable too.
type Exclusion struct {
	App         string   `json:"app"`
	Entitlement string   `json:"entitlement"`
	Reasons     []Reason `json:"reasons"`
}

// Plan is the access an identity should have after an event, with the reasons.
// For movers (Previous set) Add, Remove and Keep hold the diff; for joiners Add
// equals Grants. Everything is sorted so the same input gives the same plan.
type Plan struct {
	Identity  string                `json:"identity"`
	Event     EventType             `json:"event"`
	Profiles  []string              `json:"profiles"`
	Grants    []PlannedGrant        `json:"grants"`
	Excluded  []Exclusion           `json:"excluded"`
	Approvals []ApprovalRequirement `json:"approvals"`
	Conflicts []Conflict            `json:"conflicts"`
	ExpiresAt time.Time             `json:"expires_at,omitzero"`
	Add       []PlannedGrant        `json:"add,omitempty"`
	Remove    []PlannedGrant        `json:"remove,omitempty"`
	Keep      []PlannedGrant        `json:"keep,omitempty"`
	// Review lists high-risk changes a mover's manager must confirm before they
	// are applied.
	Review []PlannedGrant `json:"review,omitempty"`
}

// Has reports whether the plan grants ref.
func (p Plan) Has(ref EntitlementRef) bool {
	for _, g := range p.Grants {
		if g.App == ref.App && g.Entitlement == ref.Entitlement {
			return true
		}
	}
	return false
}
