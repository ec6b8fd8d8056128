package gatehouse

import "time"

// ReviewDecision is a reviewer's answer on one review item: the access
// stays (Keep) or goes (Revoke). The zero value is "not decided yet".
type ReviewDecision string

// Review decisions.
const (
	ReviewUndecided ReviewDecision = ""
	ReviewKeep      ReviewDecision = "keep"
	ReviewRevoke    ReviewDecision = "revoke"
)

// Reviewer roles: who reviews an item of a campaign.
const (
	ReviewerManager  = "manager"   // the identity's manager
	ReviewerAppOwner = "app_owner" // the app's owner
)

// Deadline actions: what happens to items still undecided at a campaign's
// deadline.
const (
	OnDeadlineRevoke   = "revoke"
	OnDeadlineKeep     = "keep"
	OnDeadlineEscalate = "escalate"
)

// CampaignStatus is where an access review campaign stands.
type CampaignStatus string

// Campaign statuses. An escalated campaign passed its deadline and its
// undecided items were handed to IT; it closes when IT has decided them.
const (
	CampaignOpen      CampaignStatus = "open"
	CampaignEscalated CampaignStatus = "escalated"
	CampaignClosed    CampaignStatus = "closed"
)

// ReviewScope selects the grants a campaign reviews. Empty fields select
// everything.
type ReviewScope struct {
	Apps       []string `json:"apps,omitempty"`
	MinRisk    Risk     `json:"min_risk,omitempty"`
	Team       string   `json:"team,omitempty"`
	Department string   `json:"department,omitempty"`
}

// Campaign is an access review: a scope of active grants, each put to a
// reviewer who keeps or revokes it before the deadline. The counters are
// kept in step with the items in the same transaction as every decision.
type Campaign struct {
	ID         string         `json:"id"`
	Name       string         `json:"name,omitempty"`
	Scope      ReviewScope    `json:"scope"`
	Reviewers  []string       `json:"reviewers"` // roles, in order of preference
	OnDeadline string         `json:"on_deadline"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	Deadline   time.Time      `json:"deadline"`
	Status     CampaignStatus `json:"status"`
	ClosedAt   time.Time      `json:"closed_at,omitzero"`
	// DeadlineDone records that the deadline action ran (once).
	DeadlineDone bool `json:"deadline_done,omitempty"`
	// Announced records that the reviewers were sent their lines. A
	// campaign started where nobody can be told (the CLI) is announced by
	// the next running Gatehouse.
	Announced bool `json:"announced,omitempty"`

	Items   int `json:"items"`
	Decided int `json:"decided"`
	Kept    int `json:"kept"`
	Revoked int `json:"revoked"`

	// Progress is the IT channel message showing the campaign's counts.
	Progress MessageRef `json:"progress,omitzero"`
}

// Count moves the campaign's counters from an item's state before a change
// to its state after it.
func (c *Campaign) Count(before, after ReviewItem) {
	c.tally(before.Decision, -1)
	c.tally(after.Decision, +1)
}

func (c *Campaign) tally(d ReviewDecision, n int) {
	switch d {
	case ReviewKeep:
		c.Decided += n
		c.Kept += n
	case ReviewRevoke:
		c.Decided += n
		c.Revoked += n
	}
}

// Done reports whether every item is decided.
func (c Campaign) Done() bool { return c.Decided >= c.Items }

// ReviewItem is one active grant put to one reviewer in a campaign.
type ReviewItem struct {
	Campaign    string    `json:"campaign"`
	ID          string    `json:"id"` // unique within the campaign, e.g. "i00042"
	Identity    string    `json:"identity"`
	Email       string    `json:"email"`
	Name        string    `json:"name,omitempty"`
	Manager     string    `json:"manager,omitempty"`
	App         string    `json:"app"`
	Entitlement string    `json:"entitlement"`
	Risk        Risk      `json:"risk,omitzero"`
	GrantedAt   time.Time `json:"granted_at,omitzero"`

	Reviewer     string    `json:"reviewer"`      // email of who must decide now
	ReviewerRole string    `json:"reviewer_role"` // manager, app_owner, manager's manager, it
	AssignedAt   time.Time `json:"assigned_at"`
	RemindedAt   time.Time `json:"reminded_at,omitzero"`
	Escalations  int       `json:"escalations,omitempty"`
	// Previous reviewers, oldest first, when the item was escalated.
	EscalatedFrom []string `json:"escalated_from,omitempty"`

	Decision  ReviewDecision `json:"decision,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	DecidedBy string         `json:"decided_by,omitempty"` // email, or "gatehouse" for a deadline action
	DecidedAt time.Time      `json:"decided_at,omitzero"`
	RunID     string         `json:"run_id,omitempty"` // the access_revoke run a Revoke started
}

// Ref is the item's entitlement.
func (it ReviewItem) Ref() EntitlementRef {
	return EntitlementRef{App: it.App, Entitlement: it.Entitlement}
}

// Pending reports whether the item still waits for a decision.
func (it ReviewItem) Pending() bool { return it.Decision == ReviewUndecided }
