package slackhandlers

import (
	"time"

	"github.com/gatehousehq/gatehouse"
)

// The models below are what the handlers decide and package bot renders.
// They hold domain values only; no Slack ids except where a surface must
// mention someone (UserID fields, resolved by the caller).

// OnboardModel is the /onboard modal: the form (prefilled from HR data when
// the person is known), an optional plan preview and inline errors.
type OnboardModel struct {
	Form    OnboardForm
	Known   bool // prefilled from the HR data Gatehouse holds
	Preview *PlanPreview
	Errors  FieldErrors
	// Attributes are the identity attributes the policy's rules read, in
	// name order: the modal asks for each (its value is Form.Attributes).
	Attributes []AttributeInput
}

// AttributeInput is one attribute the /onboard modal asks for.
type AttributeInput struct {
	Name string
	// Options are the values the rules compare it against; the modal
	// offers them in a select. Empty means a free-text input (the rules
	// read it in ways a fixed list cannot cover).
	Options []string
}

// PlanPreview is the access a submitted form would give, with the reasons.
type PlanPreview struct {
	Identity gatehouse.Identity
	Plan     gatehouse.Plan
	Problem  string // why no plan could be made (the form is incomplete, …)
}

// AccountLine is one app in a leaver's deprovisioning plan.
type AccountLine struct {
	App          string
	Title        string
	Entitlements []string
	Discovered   bool   // found in the app, never granted by Gatehouse
	Action       string // disable, delete, revoke, or manual (no API: a task for the app owner)
	Searched     bool   // no account recorded: the app is searched for one at leave time
	// Receiver is who receives the leaver's files and resources in this
	// app, when the plan says so per app (lifecycle.OffboardPlan's
	// fallback ladder: manager → app owner → IT). "" = the modal's
	// TransferToEmail, or nothing to transfer.
	Receiver string
}

// OffboardModel is the /offboard confirmation modal.
type OffboardModel struct {
	Identity         gatehouse.Identity
	Accounts         []AccountLine
	TransferToEmail  string
	TransferToUserID string
	EffectiveAt      time.Time
	Now              bool
	OpenRuns         int // runs already in flight for this person
}

// AccessModel answers /access and /access @user.
type AccessModel struct {
	Identity gatehouse.Identity
	Self     bool
	Grants   []gatehouse.Grant    // active
	Pending  []gatehouse.Approval // requests waiting for a decision
	At       time.Time
	// Origins maps a grant's ref (APP:ENT) to how it came to be held
	// (GrantOrigin); a missing entry renders the grant's Source.
	Origins map[string]string
}

// WhyModel answers /access why APP[:ENT].
type WhyModel struct {
	Identity gatehouse.Identity
	Ref      gatehouse.EntitlementRef
	Grant    *gatehouse.Grant   // nil when not held
	Reasons  []gatehouse.Reason // from the grant, else from the current plan
	Planned  bool               // the current rules would grant it
}

// EntChoice is one requestable entitlement.
type EntChoice struct {
	Name        string
	Risk        gatehouse.Risk
	Description string
}

// AppChoice is one app with its requestable entitlements.
type AppChoice struct {
	App          string
	Title        string
	Entitlements []EntChoice
}

// RequestModel is the /access request modal.
type RequestModel struct {
	Apps   []AppChoice
	Form   RequestForm
	Errors FieldErrors
}

// ApprovalModel is an approval card.
type ApprovalModel struct {
	Approval gatehouse.Approval
	Subject  gatehouse.Identity // whose access
	// Requester is who asked; "" renders the requester email.
	RequesterName string
	Now           time.Time
	// Note is an extra line, e.g. "Reminder" or "Escalated from …".
	Note string
}

// TaskModel is a manual-task card.
type TaskModel struct {
	Task    gatehouse.Task
	Subject gatehouse.Identity
	Note    string
}

// ProgressModel is the live progress card of a run.
type ProgressModel struct {
	Run     gatehouse.Run
	Steps   []gatehouse.Step
	Subject gatehouse.Identity
	Tasks   []gatehouse.Task
	Now     time.Time
}

// RunLine is a run listed on the Home tab.
type RunLine struct {
	Run     gatehouse.Run
	Subject string // name or email
	Failed  int    // failed or escalated steps
	Total   int
}

// Figures are the IT Home tab's key numbers.
type Figures struct {
	RunsInFlight     int
	RunsFailed       int
	OpenTasks        int
	PendingApprovals int
	Identities       int
	ActiveGrants     int
}

// ITHome is the IT section of the Home tab.
type ITHome struct {
	Runs      []RunLine
	Failures  []RunLine
	Tasks     []gatehouse.Task
	Approvals []gatehouse.Approval
	Figures   Figures
}

// ReportLine is one direct report on a manager's Home tab.
type ReportLine struct {
	Identity gatehouse.Identity
	Grants   []gatehouse.Grant
}

// ManagerHome is the manager section of the Home tab.
type ManagerHome struct {
	Reports   []ReportLine
	Approvals []gatehouse.Approval // waiting for this manager
}

// HomeModel is the whole Home tab for one person.
type HomeModel struct {
	Actor    Actor
	Identity *gatehouse.Identity // nil when Gatehouse does not know the viewer
	IT       *ITHome
	Manager  *ManagerHome
	Grants   []gatehouse.Grant    // own active access
	Requests []gatehouse.Approval // own requests
	ToDecide []gatehouse.Approval // approvals waiting for the viewer (any role)
	Tasks    []gatehouse.Task     // manual tasks assigned to the viewer
	Now      time.Time
	// Names maps identity keys in the lists above to display names.
	Names map[string]string
	// Origins maps the viewer's grants (APP:ENT) to how they came to be
	// held (GrantOrigin); a missing entry renders the grant's Source.
	Origins map[string]string
}

// OriginOf returns the label of g in origins, else its Source.
func OriginOf(origins map[string]string, g gatehouse.Grant) string {
	if o := origins[g.Ref().String()]; o != "" {
		return o
	}
	return string(g.Source)
}

// Name returns the display name of an identity key, or the key.
func (m HomeModel) Name(key string) string {
	if n := m.Names[key]; n != "" {
		return n
	}
	return key
}

// HeldModel is the card asking IT to confirm a mass change the HR guard held.
type HeldModel struct {
	BatchID    string // the first held run's id: the buttons' value
	Source     string
	Origin     string
	Leavers    int
	Movers     int
	Identities int
	InWindow   int
	Window     time.Duration
	Runs       int
	Reason     string
	Outcome    string // "" while waiting; "released by …" / "discarded by …"
}
