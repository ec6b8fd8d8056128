package cards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
)

// Surface says which Block Kit payload a sample is.
type Surface string

// Surfaces.
const (
	SurfaceMessage Surface = "message"
	SurfaceModal   Surface = "modal"
	SurfaceHome    Surface = "home"
)

// Sample is one rendered surface in one state, for golden tests and for
// `gatehouse cards --out DIR` (review in Slack's Block Kit Builder).
type Sample struct {
	Name    string
	Surface Surface
	Value   any // {"blocks": …} for messages, the view for modals and Home
}

// JSON returns the sample's payload, indented.
func (s Sample) JSON() ([]byte, error) {
	// Unescaped <, > and & keep Slack's <!date…> and mentions readable in
	// Block Kit Builder; the JSON means the same either way.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.Value); err != nil {
		return nil, fmt.Errorf("encode sample %s: %w", s.Name, err)
	}
	return buf.Bytes(), nil
}

type msg struct {
	Blocks []slack.Block `json:"blocks"`
}

// SampleNow is the fixed instant samples are rendered at.
var SampleNow = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

// Samples renders every surface in each of its states from fixed sample
// data: pending, approved, denied, expired, failed, long lists.
func Samples() []Sample {
	now := SampleNow
	ada := gatehouse.Identity{ID: "emp:1001", Kind: gatehouse.KindEmployee, Email: "ada@example.com", Name: "Ada Lovelace",
		Title: "Backend Engineer", Department: "Engineering", Team: "Payments", ManagerEmail: "grace@example.com",
		Location: "Berlin", StartDate: gatehouse.Date{Year: 2026, Month: 12, Day: 1}}
	cont := gatehouse.Identity{ID: "emp:1002", Kind: gatehouse.KindContractor, Email: "linus@contractor.example", Name: "Linus T.",
		Title: "Consultant", Department: "Engineering", ManagerEmail: "grace@example.com", EndDate: gatehouse.Date{Year: 2027, Month: 3, Day: 31}}
	rs := []gatehouse.Reason{{Rule: "engineers", Profile: "backend-engineer"}}
	items := []gatehouse.PlannedGrant{
		{App: "github", Entitlement: "payments-admin", Risk: gatehouse.RiskHigh, Reasons: rs},
		{App: "aws", Entitlement: "prod-readonly", Risk: gatehouse.RiskMedium, Reasons: []gatehouse.Reason{{Rule: "payments-oncall"}}, ExpiresAt: now.Add(30 * 24 * time.Hour)},
	}
	pending := gatehouse.Approval{ID: "apr_01JD0001", RunID: "run_01JD0001", IdentityKey: ada.Key(), Requester: "it-bot@example.com",
		Items: items, Approvers: []string{"grace@example.com"}, Required: 1, Status: gatehouse.ApprovalPending,
		CreatedAt: now, ExpiresAt: now.Add(72 * time.Hour)}
	approved := pending
	approved.Status = gatehouse.ApprovalApproved
	approved.Decisions = []gatehouse.Decision{{By: "grace@example.com", Approved: true, At: now.Add(time.Hour)}}
	denied := pending
	denied.Status = gatehouse.ApprovalDenied
	denied.Decisions = []gatehouse.Decision{{By: "grace@example.com", Approved: false, Reason: "Use the read-only role until the on-call training is done.", At: now.Add(time.Hour)}}
	expired := pending
	expired.Status = gatehouse.ApprovalExpired
	twoPerson := pending
	twoPerson.ID, twoPerson.Required = "apr_01JD0002", 2
	twoPerson.Approvers = []string{"grace@example.com", "security@example.com"}
	twoPerson.Items = []gatehouse.PlannedGrant{{App: "aws", Entitlement: "prod-admin", Risk: gatehouse.RiskCritical, Reasons: []gatehouse.Reason{{Rule: "request"}}}}
	twoPerson.Conflicts = []gatehouse.Conflict{{Constraint: "deploy-and-approve", Description: "Whoever deploys to prod must not approve payments", Action: "review",
		Entitlements: []gatehouse.EntitlementRef{{App: "aws", Entitlement: "prod-admin"}, {App: "netsuite", Entitlement: "payment-approver"}}}}
	twoPerson.Decisions = []gatehouse.Decision{{By: "grace@example.com", Approved: true, At: now}}
	twoPerson.Escalations = 1
	long := pending
	long.ID = "apr_01JD0003"
	long.Items = nil
	for i := 0; i < 200; i++ {
		long.Items = append(long.Items, gatehouse.PlannedGrant{App: fmt.Sprintf("app%03d", i), Entitlement: "member", Risk: gatehouse.Risks[i%4], Reasons: rs})
	}

	task := gatehouse.Task{ID: "tsk_01JD0001", RunID: "run_01JD0009", IdentityKey: ada.Key(), App: "figma", Title: "Remove Ada Lovelace from Figma",
		Instructions: "Figma has no API on our plan: open Admin → Members, remove ada@example.com and transfer her files to grace@example.com.",
		Assignee:     "design-lead@example.com", Status: gatehouse.TaskOpen, CreatedAt: now}
	taskDone := task
	taskDone.Status, taskDone.DoneBy, taskDone.DoneAt, taskDone.Evidence = gatehouse.TaskDone, "design-lead@example.com", now.Add(2*time.Hour), "Removed; 14 files transferred to Grace."
	taskCant := task
	taskCant.Status, taskCant.DoneBy, taskCant.DoneAt, taskCant.Evidence = gatehouse.TaskCantDo, "design-lead@example.com", now.Add(2*time.Hour), "I am not a Figma admin any more."

	leaver := gatehouse.Run{ID: "run_01JD0009", IdentityKey: ada.Key(), Status: gatehouse.RunRunning, CreatedAt: now,
		Event: gatehouse.Event{Type: gatehouse.EventLeaver, Identity: ada, EffectiveAt: now, Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "it-admin@example.com"}}}
	st := func(app string, k gatehouse.StepKind, s gatehouse.StepStatus, e string) gatehouse.Step {
		return gatehouse.Step{RunID: leaver.ID, ID: app + "-" + string(k), Kind: k, App: app, Status: s, LastError: e}
	}
	running := []gatehouse.Step{
		st("okta", gatehouse.StepDisable, gatehouse.StepSucceeded, ""), st("okta", gatehouse.StepRevokeSessions, gatehouse.StepSucceeded, ""),
		st("google", gatehouse.StepTransferOwnership, gatehouse.StepRunning, ""), st("github", gatehouse.StepRevoke, gatehouse.StepRetrying, "429 Too Many Requests, retrying in 30s"),
		st("figma", gatehouse.StepManualTask, gatehouse.StepWaiting, ""), st("slack", gatehouse.StepDisable, gatehouse.StepPending, ""),
	}
	failedSteps := append([]gatehouse.Step(nil), running...)
	failedSteps[3] = st("github", gatehouse.StepRevoke, gatehouse.StepEscalated, "403 Resource not accessible by integration")
	failedSteps[2].Status = gatehouse.StepSucceeded
	failedSteps[5].Status = gatehouse.StepFailed
	failedSteps[5].LastError = "account_inactive"
	blocked := leaver
	blocked.Status = gatehouse.RunBlocked
	doneRun := leaver
	doneRun.Status, doneRun.FinishedAt, doneRun.Summary = gatehouse.RunSucceeded, now.Add(10*time.Minute), "6 change(s) in 5 app(s); seat cost reclaimed 42.00/month; nothing left open"
	doneSteps := append([]gatehouse.Step(nil), running...)
	for i := range doneSteps {
		doneSteps[i].Status = gatehouse.StepSucceeded
	}
	var manySteps []gatehouse.Step
	for i := 0; i < 200; i++ {
		s := gatehouse.StepSucceeded
		if i%17 == 0 {
			s = gatehouse.StepFailed
		}
		manySteps = append(manySteps, st(fmt.Sprintf("app%03d", i), gatehouse.StepDisable, s, "timeout"))
	}
	joiner := leaver
	joiner.ID, joiner.Event.Type, joiner.Status = "run_01JD0010", gatehouse.EventJoiner, gatehouse.RunWaiting

	grants := []gatehouse.Grant{
		{Identity: ada.Key(), App: "github", Entitlement: "engineering", Source: gatehouse.SourceBirthright, Reasons: rs, GrantedAt: now},
		{Identity: ada.Key(), App: "okta", Entitlement: "account", Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "everyone"}}, GrantedAt: now},
		{Identity: ada.Key(), App: "aws", Entitlement: "prod-readonly", Source: gatehouse.SourceRequest, ApprovedBy: []string{"grace@example.com"}, GrantedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)},
		{Identity: ada.Key(), App: "dropbox", Entitlement: "account", Source: gatehouse.SourceDiscovered, GrantedAt: now},
		{Identity: ada.Key(), App: "aws", Entitlement: "payments-poweruser", Source: gatehouse.SourceBirthright, Reasons: []gatehouse.Reason{{Rule: "payments", Profile: "payments"}}, GrantedAt: now},
	}
	origins := map[string]string{"github:engineering": sh.OriginBirthright, "okta:account": sh.OriginBirthright, "aws:prod-readonly": sh.OriginRequest,
		"dropbox:account": sh.OriginDiscovered, "aws:payments-poweruser": sh.OriginAddOn + " payments"}
	var manyGrants []gatehouse.Grant
	var accounts []sh.AccountLine
	for i := 0; i < 200; i++ {
		manyGrants = append(manyGrants, gatehouse.Grant{Identity: ada.Key(), App: fmt.Sprintf("app%03d", i), Entitlement: "member", Source: gatehouse.SourceBirthright, Reasons: rs, GrantedAt: now})
		accounts = append(accounts, sh.AccountLine{App: fmt.Sprintf("app%03d", i), Title: fmt.Sprintf("App %03d", i), Entitlements: []string{"account", "member"}, Action: []string{"disable", "delete", "manual"}[i%3], Discovered: i%10 == 0})
	}
	plan := gatehouse.Plan{Identity: ada.Key(), Event: gatehouse.EventJoiner, Profiles: []string{"backend-engineer", "payments"},
		Grants:    append(items, gatehouse.PlannedGrant{App: "okta", Entitlement: "account", Risk: gatehouse.RiskLow, Reasons: []gatehouse.Reason{{Rule: "everyone"}}}),
		Approvals: []gatehouse.ApprovalRequirement{{App: "github", Entitlement: "payments-admin", Risk: gatehouse.RiskHigh, Approvers: []gatehouse.ApproverRole{gatehouse.ApproverManager}, Required: 1}}}
	form := sh.OnboardForm{Name: ada.Name, Email: ada.Email, Title: ada.Title, Department: ada.Department, Team: ada.Team,
		ManagerUserID: "U0GRACE", ManagerEmail: "grace@example.com", Location: "Berlin", StartDate: "2026-12-01", Kind: "employee",
		Attributes: map[string]string{"discipline": "backend", "seniority": "senior", "cost_center": "R&D 4711"}}
	attrs := []sh.AttributeInput{{Name: "cost_center"}, {Name: "discipline", Options: []string{"backend", "data", "frontend"}},
		{Name: "people_manager", Options: []string{"true"}}, {Name: "seniority", Options: []string{"junior", "principal", "senior", "staff"}}}
	reqApps := []sh.AppChoice{
		{App: "aws", Title: "AWS", Entitlements: []sh.EntChoice{{Name: "prod-readonly", Risk: gatehouse.RiskMedium}, {Name: "prod-admin", Risk: gatehouse.RiskCritical}}},
		{App: "github", Title: "GitHub", Entitlements: []sh.EntChoice{{Name: "engineering", Risk: gatehouse.RiskLow}, {Name: "payments-admin", Risk: gatehouse.RiskHigh}}},
	}
	var manyApprovals []gatehouse.Approval
	for i := 0; i < 500; i++ {
		a := pending
		a.ID = fmt.Sprintf("apr_%05d", i)
		manyApprovals = append(manyApprovals, a)
	}
	itHome := &sh.ITHome{
		Runs:      []sh.RunLine{{Run: leaver, Subject: ada.Name}, {Run: joiner, Subject: cont.Name}},
		Failures:  []sh.RunLine{{Run: blocked, Subject: ada.Name}},
		Tasks:     []gatehouse.Task{task},
		Approvals: []gatehouse.Approval{pending, twoPerson},
		Figures:   sh.Figures{RunsInFlight: 2, RunsFailed: 1, OpenTasks: 1, PendingApprovals: 2, Identities: 412, ActiveGrants: 5120},
	}
	itBig := *itHome
	itBig.Approvals = manyApprovals
	itBig.Figures.PendingApprovals = 500

	names := map[string]string{ada.Key(): ada.Name, cont.Key(): cont.Name}
	am := func(a gatehouse.Approval, subj gatehouse.Identity, note string) sh.ApprovalModel {
		return sh.ApprovalModel{Approval: a, Subject: subj, RequesterName: "Ida (IT)", Now: now, Note: note}
	}
	pm := func(r gatehouse.Run, steps []gatehouse.Step, tasks ...gatehouse.Task) sh.ProgressModel {
		return sh.ProgressModel{Run: r, Steps: steps, Subject: ada, Tasks: tasks, Now: now}
	}
	m := func(name string, b []slack.Block) Sample { return Sample{name, SurfaceMessage, msg{b}} }
	v := func(name string, x slack.ModalViewRequest) Sample { return Sample{name, SurfaceModal, x} }
	h := func(name string, x slack.HomeTabViewRequest) Sample { return Sample{name, SurfaceHome, x} }
	return append([]Sample{
		m("approval_pending", Approval(am(pending, ada, ""))),
		m("approval_reminder", Approval(am(pending, ada, "Reminder: this has waited 24 hours."))),
		m("approval_approved", Approval(am(approved, ada, ""))),
		m("approval_denied", Approval(am(denied, ada, ""))),
		m("approval_expired", Approval(am(expired, ada, ""))),
		m("approval_two_person_sod", Approval(am(twoPerson, cont, "Escalated from grace@example.com"))),
		m("approval_long", Approval(am(long, ada, ""))),
		m("task_open", Task(sh.TaskModel{Task: task, Subject: ada})),
		m("task_done", Task(sh.TaskModel{Task: taskDone, Subject: ada})),
		m("task_cant_do", Task(sh.TaskModel{Task: taskCant, Subject: ada})),
		m("progress_running", Progress(pm(leaver, running, task))),
		m("progress_failed", Progress(pm(blocked, failedSteps, task))),
		m("progress_succeeded", Progress(pm(doneRun, doneSteps))),
		m("progress_joiner_waiting", Progress(pm(joiner, running[:2]))),
		m("progress_long", Progress(pm(blocked, manySteps))),
		m("access_self", Access(sh.AccessModel{Identity: ada, Self: true, Grants: grants, Pending: []gatehouse.Approval{pending}, At: now, Origins: origins})),
		m("access_other_long", Access(sh.AccessModel{Identity: ada, Grants: manyGrants, At: now})),
		m("why_rule", Why(sh.WhyModel{Identity: ada, Ref: grants[0].Ref(), Grant: &grants[0], Reasons: rs, Planned: true})),
		m("why_request", Why(sh.WhyModel{Identity: ada, Ref: grants[2].Ref(), Grant: &grants[2]})),
		m("why_discovered", Why(sh.WhyModel{Identity: ada, Ref: grants[3].Ref(), Grant: &grants[3]})),
		m("why_none", Why(sh.WhyModel{Identity: ada, Ref: gatehouse.EntitlementRef{App: "aws", Entitlement: "prod-admin"}})),
		m("help", Help()),
		m("held_mass_change", Held(sh.HeldModel{BatchID: "r-01JD0100", Source: "bamboohr", Origin: "sync", Leavers: 14, Movers: 2, Identities: 120, InWindow: 16, Window: 24 * time.Hour, Runs: 16, Reason: "more than 10 people in 24h"})),
		m("held_released", Held(sh.HeldModel{BatchID: "r-01JD0100", Source: "bamboohr", Origin: "sync", Leavers: 14, Movers: 2, Identities: 120, InWindow: 16, Window: 24 * time.Hour, Runs: 16, Outcome: "released by it-admin@example.com"})),
		v("modal_onboard_empty", OnboardModal(sh.OnboardModel{Form: sh.OnboardForm{Kind: "employee"}})),
		v("modal_onboard_preview", OnboardModal(sh.OnboardModel{Form: form, Known: true, Preview: &sh.PlanPreview{Identity: ada, Plan: plan}, Attributes: attrs})),
		v("modal_onboard_errors", OnboardModal(sh.OnboardModel{Form: sh.OnboardForm{Name: "Linus", Kind: "contractor", StartDate: "2026-12-01", EndDate: "2026-11-01"},
			Errors:  sh.FieldErrors{sh.FieldEmail: "Required.", sh.FieldEndDate: "The contract ends before it starts."},
			Preview: &sh.PlanPreview{Problem: "Fill in email, end_date to see the plan."}})),
		v("modal_offboard", OffboardModal(sh.OffboardModel{Identity: ada, Now: true, EffectiveAt: now, TransferToEmail: "grace@example.com", TransferToUserID: "U0GRACE",
			Accounts: []sh.AccountLine{{App: "okta", Title: "Okta", Entitlements: []string{"account"}, Action: "disable"}, {App: "github", Title: "GitHub", Entitlements: []string{"engineering"}, Action: "delete"},
				{App: "figma", Title: "Figma", Entitlements: []string{"account"}, Action: "manual"}, {App: "dropbox", Title: "Dropbox", Entitlements: []string{"account"}, Action: "disable", Discovered: true},
				{App: "pagerduty", Title: "PagerDuty", Entitlements: []string{"(search for accounts)"}, Action: "delete", Discovered: true, Searched: true}}})),
		v("modal_offboard_200_accounts", OffboardModal(sh.OffboardModel{Identity: ada, EffectiveAt: now.Add(72 * time.Hour), Accounts: accounts, OpenRuns: 1})),
		v("modal_request", RequestModal(sh.RequestModel{Apps: reqApps})),
		v("modal_deny", DenyModal(pending.ID, "Ada Lovelace: github:payments-admin, aws:prod-readonly")),
		v("modal_task_done", TaskModal(task.ID, true, task.Title)),
		v("modal_task_cant_do", TaskModal(task.ID, false, task.Title)),
		h("home_employee", Home(sh.HomeModel{Actor: sh.Actor{UserID: "U0ADA", Email: ada.Email}, Identity: &ada, Grants: grants, Requests: []gatehouse.Approval{pending, denied}, Now: now, Names: names, Origins: origins})),
		h("home_manager", Home(sh.HomeModel{Actor: sh.Actor{UserID: "U0GRACE", Email: "grace@example.com"}, ToDecide: []gatehouse.Approval{pending},
			Manager: &sh.ManagerHome{Reports: []sh.ReportLine{{Identity: ada, Grants: grants}, {Identity: cont}}, Approvals: []gatehouse.Approval{pending}}, Now: now, Names: names})),
		h("home_it", Home(sh.HomeModel{Actor: sh.Actor{UserID: "U0IT", Email: "it-admin@example.com", IT: true}, IT: itHome, Tasks: []gatehouse.Task{task}, Now: now, Names: names})),
		h("home_it_500_approvals", Home(sh.HomeModel{Actor: sh.Actor{UserID: "U0IT", Email: "it-admin@example.com", IT: true}, IT: &itBig, ToDecide: manyApprovals, Grants: manyGrants, Now: now})),
	}, governanceSamples()...)
}
