package gatehouse

import "time"

// RunStatus is where a run stands.
type RunStatus string

// Run statuses. Terminal ones are Succeeded, Failed and Cancelled; a run with a
// step escalated to a manual task stays Blocked (open) until the task is done,
// so a leaver is never reported offboarded while an access path remains.
const (
	RunScheduled RunStatus = "scheduled" // waits for its effective time
	RunHeld      RunStatus = "held"      // held by the mass-change guard until IT confirms
	RunPending   RunStatus = "pending"   // ready, not started
	RunRunning   RunStatus = "running"
	RunWaiting   RunStatus = "waiting" // waits on approvals or manual tasks
	RunBlocked   RunStatus = "blocked" // a step exhausted its retries and was escalated
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed" // a step failed permanently and nothing can close it
	RunCancelled RunStatus = "cancelled"
)

// Terminal reports whether the run is finished.
func (s RunStatus) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// Run is the durable execution of one event for one identity.
type Run struct {
	ID          string    `json:"id"`
	IdentityKey string    `json:"identity_key"`
	Event       Event     `json:"event"`
	Plan        *Plan     `json:"plan,omitempty"`
	Status      RunStatus `json:"status"`
	NotBefore   time.Time `json:"not_before,omitzero"` // scheduled runs fire at this instant
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	// Version increases on every write; stores use it for compare-and-swap.
	Version uint64 `json:"version"`
	Summary string `json:"summary,omitempty"`
}

// StepKind is what a step does.
type StepKind string

// Step kinds.
const (
	StepEnsureAccount     StepKind = "ensure_account"
	StepGrant             StepKind = "grant"
	StepRevoke            StepKind = "revoke"
	StepDisable           StepKind = "disable"
	StepEnable            StepKind = "enable"
	StepDelete            StepKind = "delete"
	StepRevokeSessions    StepKind = "revoke_sessions"
	StepTransferOwnership StepKind = "transfer_ownership"
	StepDiscover          StepKind = "discover" // list an app's accounts to find what Gatehouse never granted
	StepApproval          StepKind = "approval"
	StepManualTask        StepKind = "manual_task"
	StepNotify            StepKind = "notify"
	StepEvidence          StepKind = "evidence" // the final summary of what was changed
	// StepVerify re-reads a leaver's account in an app after its other
	// steps (gatehouse.AccountReader) and records what the app shows; grant
	// records are closed only for what the re-read confirms.
	StepVerify StepKind = "verify"
)

// StepStatus is where a step stands.
type StepStatus string

// Step statuses.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running" // recorded before the side effect
	StepRetrying  StepStatus = "retrying"
	StepWaiting   StepStatus = "waiting" // approval or manual task outstanding
	StepSucceeded StepStatus = "succeeded"
	StepSkipped   StepStatus = "skipped"   // e.g. denied approval, unsupported and not required
	StepEscalated StepStatus = "escalated" // retries exhausted: a manual task for IT
	StepFailed    StepStatus = "failed"
	StepCancelled StepStatus = "cancelled"
)

// Done reports whether the step needs nothing more.
func (s StepStatus) Done() bool {
	return s == StepSucceeded || s == StepSkipped || s == StepCancelled
}

// Step is one unit of work in a run.
type Step struct {
	RunID       string            `json:"run_id"`
	ID          string            `json:"id"` // unique within the run, stable across restarts
	Kind        StepKind          `json:"kind"`
	App         string            `json:"app,omitempty"`
	Entitlement string            `json:"entitlement,omitempty"`
	DependsOn   []string          `json:"depends_on,omitempty"` // step ids
	Status      StepStatus        `json:"status"`
	Attempts    int               `json:"attempts"`
	NextAttempt time.Time         `json:"next_attempt,omitzero"`
	LastError   string            `json:"last_error,omitempty"`
	ErrorClass  string            `json:"error_class,omitempty"`
	StartedAt   time.Time         `json:"started_at,omitzero"`
	FinishedAt  time.Time         `json:"finished_at,omitzero"`
	Result      map[string]string `json:"result,omitempty"` // e.g. account_id
	Reasons     []Reason          `json:"reasons,omitempty"`
	Version     uint64            `json:"version"`
}

// ApprovalStatus is where an approval request stands.
type ApprovalStatus string

// Approval statuses.
const (
	ApprovalPending   ApprovalStatus = "pending"
	ApprovalApproved  ApprovalStatus = "approved"
	ApprovalDenied    ApprovalStatus = "denied"
	ApprovalExpired   ApprovalStatus = "expired"
	ApprovalCancelled ApprovalStatus = "cancelled"
)

// Decision is one approver's answer.
type Decision struct {
	By       string    `json:"by"` // approver email
	Approved bool      `json:"approved"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// Approval is a request for someone to approve access before it is granted.
type Approval struct {
	ID          string         `json:"id"`
	RunID       string         `json:"run_id,omitempty"`
	StepID      string         `json:"step_id,omitempty"`
	IdentityKey string         `json:"identity_key"`
	Requester   string         `json:"requester"` // email of who asked (nobody approves their own access)
	Items       []PlannedGrant `json:"items"`
	Conflicts   []Conflict     `json:"conflicts,omitempty"`
	Approvers   []string       `json:"approvers"` // emails of who may decide now
	Required    int            `json:"required"`  // distinct approvals needed (2 under the two-person rule)
	Decisions   []Decision     `json:"decisions,omitempty"`
	Status      ApprovalStatus `json:"status"`
	Escalations int            `json:"escalations"`
	CreatedAt   time.Time      `json:"created_at"`
	RemindAt    time.Time      `json:"remind_at,omitzero"`
	ExpiresAt   time.Time      `json:"expires_at,omitzero"`
	Version     uint64         `json:"version"`
	// Messages records where cards were posted, so they can be edited in place.
	Messages []MessageRef `json:"messages,omitempty"`
}

// MessageRef locates a posted Slack message.
type MessageRef struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// TaskStatus is where a manual task stands.
type TaskStatus string

// Task statuses.
const (
	TaskOpen     TaskStatus = "open"
	TaskDone     TaskStatus = "done"
	TaskCantDo   TaskStatus = "cant_do"
	TaskCanceled TaskStatus = "cancelled"
)

// Task is work a person must do by hand: an app with no API, a step whose
// retries ran out, a shared credential to rotate.
type Task struct {
	ID           string       `json:"id"`
	RunID        string       `json:"run_id,omitempty"`
	StepID       string       `json:"step_id,omitempty"`
	IdentityKey  string       `json:"identity_key"`
	App          string       `json:"app,omitempty"`
	Title        string       `json:"title"`
	Instructions string       `json:"instructions,omitempty"`
	Assignee     string       `json:"assignee"` // email of the app owner or IT
	Escalated    bool         `json:"escalated,omitempty"`
	Status       TaskStatus   `json:"status"`
	Evidence     string       `json:"evidence,omitempty"`
	DoneBy       string       `json:"done_by,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	DoneAt       time.Time    `json:"done_at,omitzero"`
	RemindAt     time.Time    `json:"remind_at,omitzero"`
	Version      uint64       `json:"version"`
	Messages     []MessageRef `json:"messages,omitempty"`
}

// AuditEntry is one append-only, hash-chained record of a decision or a change
// of access. Seq and the hashes are assigned by the store on append.
type AuditEntry struct {
	Seq         uint64            `json:"seq"`
	Time        time.Time         `json:"time"`
	Actor       Actor             `json:"actor"`
	Action      string            `json:"action"` // e.g. grant, revoke, disable, approve, deny, refuse, fail, manual_done, decide
	IdentityKey string            `json:"identity,omitempty"`
	App         string            `json:"app,omitempty"`
	Entitlement string            `json:"entitlement,omitempty"`
	RunID       string            `json:"run_id,omitempty"`
	StepID      string            `json:"step_id,omitempty"`
	Rule        string            `json:"rule,omitempty"` // rule or policy id
	Reason      string            `json:"reason,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	PrevHash    string            `json:"prev_hash"`
	Hash        string            `json:"hash"`
}
