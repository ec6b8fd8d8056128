package cards

// Action ids of interactive elements and callback ids of modals. Package
// bot dispatches on them; button values carry only a record id.
const (
	ActApprove     = "approval_approve"
	ActDeny        = "approval_deny"
	ActTaskDone    = "task_done"
	ActTaskCant    = "task_cant"
	ActPreview     = "onboard_preview"
	ActKind        = "onboard_kind"
	ActHomeRefresh = "home_refresh"
	ActOpenRequest = "access_request_open"
	ActReleaseHeld = "held_release"
	ActDiscardHeld = "held_discard"

	CallbackOnboard  = "onboard"
	CallbackOffboard = "offboard"
	CallbackRequest  = "access_request"
	CallbackDeny     = "approval_deny"
	CallbackTask     = "task_evidence"
)

// InputAction is the action_id of the single element inside a form's input
// block; the block_id is the slackhandlers field key.
const InputAction = "v"
