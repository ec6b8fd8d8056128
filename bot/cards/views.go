package cards

import (
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
)

func modal(callback, titleText, submit, meta string, blocks []slack.Block) slack.ModalViewRequest {
	v := slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: callback, Title: plain(titleText, MaxModalTitle),
		Close: plain("Cancel", MaxModalTitle), Blocks: slack.Blocks{BlockSet: capBlocks(blocks, MaxViewBlocks)},
		PrivateMetadata: clip(meta, MaxMetadata),
	}
	if submit != "" {
		v.Submit = plain(submit, MaxModalTitle)
	}
	return v
}

// capBlocks keeps a surface inside its block budget, replacing the tail by
// a note (a renderer bug should degrade, not make Slack refuse the view).
func capBlocks(b []slack.Block, max int) []slack.Block {
	if len(b) <= max {
		return b
	}
	out := append([]slack.Block(nil), b[:max-1]...)
	return append(out, contextMD("truncated", fmt.Sprintf("_…%d more blocks not shown_", len(b)-max+1)))
}

func textInput(field, label, initial, placeholder string, optional, multiline bool, errs sh.FieldErrors) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(nil, InputAction)
	if placeholder != "" {
		el.Placeholder = plain(placeholder, MaxPlaceholder)
	}
	el.InitialValue = clip(initial, 3000)
	el.Multiline = multiline
	return input(field, label, el, optional, errs)
}

func input(field, label string, el slack.BlockElement, optional bool, errs sh.FieldErrors) *slack.InputBlock {
	var hint *slack.TextBlockObject
	if msg := errs[field]; msg != "" {
		// response_action errors show inline; a re-rendered view (after
		// Preview) carries them in the hint so they survive the update.
		hint = plain("⚠️ "+msg, MaxLabel)
	}
	b := slack.NewInputBlock(field, plain(label, MaxLabel), hint, el)
	b.Optional = optional
	return b
}

// dispatch makes a selection refresh the plan preview at once
// (block_actions with the view's state), without waiting for "Preview plan".
func dispatch(b *slack.InputBlock) *slack.InputBlock {
	b.DispatchAction = true
	return b
}

func userSelect(initial, placeholder string) *slack.SelectBlockElement {
	el := slack.NewOptionsSelectBlockElement(slack.OptTypeUser, plain(placeholder, MaxPlaceholder), InputAction)
	el.InitialUser = initial
	return el
}

func datePicker(initial string) *slack.DatePickerBlockElement {
	el := slack.NewDatePickerBlockElement(InputAction)
	el.InitialDate = initial
	return el
}

func option(value, text string) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject(clip(value, MaxOptionValue), plain(text, MaxOptionText), nil)
}

// OnboardModal renders the /onboard form. The plan preview (profiles,
// grants and the rules behind them) appears below the form once the
// "Preview plan" button has been clicked, before anything is submitted.
func OnboardModal(m sh.OnboardModel) slack.ModalViewRequest {
	f := m.Form
	var blocks []slack.Block
	if m.Known {
		blocks = append(blocks, contextMD("known", "Prefilled from the HR data Gatehouse holds for "+esc(f.Email)+". Check it before submitting."))
	}
	blocks = append(blocks,
		textInput(sh.FieldName, "Full name", f.Name, "Ada Lovelace", false, false, m.Errors),
		textInput(sh.FieldEmail, "Work email", f.Email, "ada@example.com", false, false, m.Errors),
		textInput(sh.FieldTitle, "Job title", f.Title, "Backend Engineer", true, false, m.Errors),
		textInput(sh.FieldDepartment, "Department", f.Department, "Engineering", true, false, m.Errors),
		textInput(sh.FieldTeam, "Team", f.Team, "Payments", true, false, m.Errors),
		dispatch(input(sh.FieldManager, "Manager", userSelect(f.ManagerUserID, "Pick their manager"), true, m.Errors)),
		textInput(sh.FieldLocation, "Location", f.Location, "Berlin", true, false, m.Errors),
		input(sh.FieldStartDate, "Start date", datePicker(f.StartDate), false, m.Errors),
	)
	var opts []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, k := range sh.EmploymentKinds {
		o := option(string(k), title(string(k)))
		opts = append(opts, o)
		if string(k) == f.Kind {
			initial = o
		}
	}
	kind := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Employment type", MaxPlaceholder), InputAction, opts...)
	kind.InitialOption = initial
	blocks = append(blocks,
		dispatch(input(sh.FieldKind, "Employment type", kind, false, m.Errors)),
		input(sh.FieldEndDate, "Contract end (contractors)", datePicker(f.EndDate), true, m.Errors),
	)
	blocks = append(blocks, attributeInputs(m)...)
	blocks = append(blocks, slack.NewActionBlock("preview_actions", button(ActPreview, "preview", "Preview plan", "")))
	if p := m.Preview; p != nil {
		blocks = append(blocks, slack.NewDividerBlock())
		blocks = append(blocks, planBlocks(p, MaxViewBlocks-len(blocks)-1)...)
	}
	return modal(CallbackOnboard, "Onboard someone", "Start onboarding", "", blocks)
}

// maxAttributeInputs bounds the attribute inputs so the modal stays within
// its 100 blocks with the form and a preview.
const maxAttributeInputs = 20

// attributeInputs asks for the identity attributes the policy's rules
// read: a select of the values the rules compare against, else a text
// input. All are optional (a person without the attribute matches no rule
// that needs it), and a selection refreshes the preview.
func attributeInputs(m sh.OnboardModel) []slack.Block {
	if len(m.Attributes) == 0 {
		return nil
	}
	out := []slack.Block{contextMD("attributes", "Attributes your policy's rules read (from HR data when it arrives that way):")}
	for i, a := range m.Attributes {
		if i == maxAttributeInputs {
			out = append(out, contextMD("attributes_more", fmt.Sprintf("_%d more attributes are not asked here; set them in the HR system._", len(m.Attributes)-i)))
			break
		}
		field, label, cur := sh.AttrField(a.Name), attrLabel(a.Name), m.Form.Attributes[a.Name]
		if len(a.Options) == 0 {
			out = append(out, textInput(field, label, cur, "", true, false, m.Errors))
			continue
		}
		opts := make([]*slack.OptionBlockObject, 0, len(a.Options))
		var initial *slack.OptionBlockObject
		for _, v := range a.Options {
			o := option(v, v)
			opts = append(opts, o)
			if v == cur {
				initial = o
			}
		}
		el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick "+strings.ToLower(label), MaxPlaceholder), InputAction, opts...)
		el.InitialOption = initial
		out = append(out, dispatch(input(field, label, el, true, m.Errors)))
	}
	return out
}

// attrLabel turns an attribute name into a label: people_manager →
// "People manager".
func attrLabel(name string) string {
	return title(strings.NewReplacer("_", " ", "-", " ").Replace(name))
}

// planBlocks renders a plan preview within budget blocks.
func planBlocks(p *sh.PlanPreview, budget int) []slack.Block {
	if p.Problem != "" {
		return []slack.Block{section("plan_problem", ":information_source: "+esc(p.Problem))}
	}
	pl := p.Plan
	profiles := "_none_"
	if len(pl.Profiles) > 0 {
		profiles = esc(strings.Join(pl.Profiles, ", "))
	}
	out := []slack.Block{section("plan_head", fmt.Sprintf("*Plan for %s*\n*Profiles:* %s\n*Grants:* %d · *Approvals needed:* %d",
		esc(p.Identity.Name), profiles, len(pl.Grants), len(pl.Approvals)))}
	lines := make([]string, 0, len(pl.Grants))
	for _, g := range pl.Grants {
		l := fmt.Sprintf("• `%s` — %s", esc(g.Ref().String()), riskBadge(g.Risk))
		if r := reasons(g.Reasons); r != "" {
			l += " — _" + r + "_"
		}
		lines = append(lines, l)
	}
	var extra []string
	for _, a := range pl.Approvals {
		roles := make([]string, 0, len(a.Approvers))
		for _, r := range a.Approvers {
			roles = append(roles, string(r))
		}
		extra = append(extra, fmt.Sprintf(":lock: `%s:%s` needs approval by %s", esc(a.App), esc(a.Entitlement), esc(strings.Join(roles, " + "))))
	}
	for _, c := range pl.Conflicts {
		extra = append(extra, fmt.Sprintf(":warning: SoD %s: %s", esc(c.Constraint), esc(c.Action)))
	}
	out = append(out, lineSections("plan_grants", lines, budget-len(out)-2, "grants")...)
	out = append(out, lineSections("plan_extra", extra, budget-len(out), "notes")...)
	return out
}

// OffboardModal renders the /offboard confirmation: every account
// Gatehouse knows or discovered with the action that closes it, whom the
// leaver's resources go to (the manager by default) and when.
func OffboardModal(m sh.OffboardModel) slack.ModalViewRequest {
	id := m.Identity
	at := "now"
	if !m.Now {
		at = when(m.EffectiveAt)
	}
	blocks := []slack.Block{
		section("who", fmt.Sprintf("*Offboard %s*\n%s\n*Effective:* %s · *Accounts:* %d",
			person(id), esc(strings.Trim(id.Title+" · "+id.Department, " ·")), at, len(m.Accounts))),
	}
	if m.OpenRuns > 0 {
		blocks = append(blocks, contextMD("open_runs", fmt.Sprintf(":warning: %d run(s) for this person are still in flight; they will be cancelled.", m.OpenRuns)))
	}
	lines := make([]string, 0, len(m.Accounts))
	for _, a := range m.Accounts {
		icon := map[string]string{"disable": ":no_entry_sign: disable", "delete": ":wastebasket: delete", "manual": ":memo: manual task", "revoke": ":scissors: revoke"}[a.Action]
		if icon == "" {
			icon = esc(a.Action)
		}
		l := fmt.Sprintf("• *%s* — %s — %s", esc(a.Title), icon, esc(clip(strings.Join(a.Entitlements, ", "), 400)))
		if a.Discovered && !a.Searched {
			l += " _(discovered)_"
		}
		// Who receives what: filled per app once lifecycle.OffboardPlan
		// names a receiver per app (manager → app owner → IT).
		if a.Receiver != "" {
			l += " — resources to " + esc(a.Receiver)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		lines = []string{"_Gatehouse knows no accounts for this person; the IdP account and sessions are still closed._"}
	}
	blocks = append(blocks, lineSections("accounts", lines, 30, "accounts")...)
	blocks = append(blocks, slack.NewDividerBlock(),
		input(sh.FieldTransferTo, "Transfer ownership of files and resources to", userSelect(m.TransferToUserID, "Defaults to the manager"), true, nil))
	eff := ""
	if !m.Now {
		eff = gatehouse.DateOf(m.EffectiveAt).String()
	}
	blocks = append(blocks,
		input(sh.FieldEffective, "Effective date (empty = now)", datePicker(eff), true, nil),
		textInput(sh.FieldReason, "Note for the audit trail", "", "e.g. resignation, last day Friday", true, true, nil),
		contextMD("warn", "Sessions are revoked and every listed account is closed. Apps without an API become manual tasks for their owners; the run stays open until they are done."),
	)
	return modal(CallbackOffboard, "Offboard", "Offboard", id.Key(), blocks)
}

// RequestModal renders the /access request form.
func RequestModal(m sh.RequestModel) slack.ModalViewRequest {
	groups := entitlementGroups(m.Apps)
	var ent slack.BlockElement
	if len(groups) > 0 {
		ent = slack.NewOptionsGroupSelectBlockElement(slack.OptTypeStatic, plain("Pick an app and entitlement", MaxPlaceholder), InputAction, groups...)
	} else {
		ent = slack.NewPlainTextInputBlockElement(plain("app:entitlement", MaxPlaceholder), InputAction)
	}
	var durs []*slack.OptionBlockObject
	for _, d := range sh.Durations {
		durs = append(durs, option(d.Value, d.Label))
	}
	dur := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("How long", MaxPlaceholder), InputAction, durs...)
	blocks := []slack.Block{
		section("intro", "Access you request is time-bound: it is removed by itself when the time is up, and you get a reminder before."),
		input(sh.FieldEntitlement, "Access", ent, false, m.Errors),
		input(sh.FieldDuration, "For how long", dur, false, m.Errors),
		textInput(sh.FieldJustification, "Why do you need it?", m.Form.Justification, "What you will do with it", false, true, m.Errors),
	}
	return modal(CallbackRequest, "Request access", "Request", "", blocks)
}

// DenyModal asks an approver why they deny; the approval id travels in
// private_metadata and is re-checked on submit.
func DenyModal(approvalID, summary string) slack.ModalViewRequest {
	return modal(CallbackDeny, "Deny access", "Deny", approvalID, []slack.Block{
		section("summary", esc(summary)),
		textInput(sh.FieldReason, "Reason (sent to the requester)", "", "e.g. use the read-only role instead", false, true, nil),
	})
}

// TaskModal asks for the evidence note closing a manual task.
func TaskModal(taskID string, done bool, taskTitle string) slack.ModalViewRequest {
	label, t := "What did you do? (evidence for the audit)", "Task done"
	if !done {
		label, t = "Why can't it be done?", "Can't do task"
	}
	meta := "cant:" + taskID
	if done {
		meta = "done:" + taskID
	}
	return modal(CallbackTask, t, "Submit", meta, []slack.Block{
		section("summary", "*"+esc(taskTitle)+"*"),
		textInput(sh.FieldEvidence, label, "", "", false, true, nil),
	})
}

// Home renders the App Home tab within 100 blocks: IT's operations view,
// a manager's reports and decisions, and the viewer's own access.
func Home(m sh.HomeModel) slack.HomeTabViewRequest {
	var b []slack.Block
	name := m.Actor.Email
	if m.Identity != nil && m.Identity.Name != "" {
		name = m.Identity.Name
	}
	b = append(b, header("Gatehouse"), contextMD("who", "Hello "+esc(name)+" · updated "+when(m.Now)),
		slack.NewActionBlock("home_actions", button(ActHomeRefresh, "refresh", "Refresh", ""), button(ActOpenRequest, "request", "Request access", slack.StylePrimary)))

	if len(m.ToDecide) > 0 || len(m.Tasks) > 0 {
		b = append(b, header("Waiting for you"))
		var l []string
		for _, a := range m.ToDecide {
			l = append(l, approvalLine(a, m.Name(a.IdentityKey)))
		}
		for _, t := range m.Tasks {
			l = append(l, fmt.Sprintf("• :memo: %s (%s)", esc(t.Title), esc(t.ID)))
		}
		b = append(b, lineSections("todo", l, 8, "items")...)
	}
	if it := m.IT; it != nil {
		f := it.Figures
		b = append(b, header("IT operations"), section("figures", fmt.Sprintf(
			"*Runs in flight:* %d   *Failed/blocked:* %d   *Open tasks:* %d   *Pending approvals:* %d\n*Identities:* %d   *Active grants:* %d",
			f.RunsInFlight, f.RunsFailed, f.OpenTasks, f.PendingApprovals, f.Identities, f.ActiveGrants)))
		if len(it.Failures) > 0 {
			b = append(b, section("failures_head", "*Needs action*"))
			b = append(b, lineSections("failures", runLines(it.Failures), 8, "runs")...)
		}
		if len(it.Runs) > 0 {
			b = append(b, section("runs_head", "*In flight*"))
			b = append(b, lineSections("runs", runLines(it.Runs), 8, "runs")...)
		}
		if len(it.Tasks) > 0 {
			var l []string
			for _, t := range it.Tasks {
				l = append(l, fmt.Sprintf("• :memo: %s — %s", esc(t.Title), esc(t.Assignee)))
			}
			b = append(b, section("tasks_head", "*Manual tasks*"))
			b = append(b, lineSections("tasks", l, 6, "tasks")...)
		}
		if len(it.Approvals) > 0 {
			var l []string
			for _, a := range it.Approvals {
				l = append(l, approvalLine(a, m.Name(a.IdentityKey)))
			}
			b = append(b, section("approvals_head", "*Pending approvals*"))
			b = append(b, lineSections("approvals", l, 8, "approvals")...)
		}
	}
	if mg := m.Manager; mg != nil {
		b = append(b, header("Your team"))
		var l []string
		for _, r := range mg.Reports {
			refs := make([]string, 0, len(r.Grants))
			for _, g := range r.Grants {
				refs = append(refs, g.Ref().String())
			}
			l = append(l, fmt.Sprintf("• %s — %d grants: %s", person(r.Identity), len(r.Grants), esc(clip(strings.Join(refs, ", "), 300))))
		}
		b = append(b, lineSections("reports", l, 10, "people")...)
	}
	b = append(b, header("Your access"))
	if len(m.Grants) == 0 {
		b = append(b, section("mine_none", "_No access recorded for you yet._"))
	} else {
		var l []string
		for _, g := range m.Grants {
			s := fmt.Sprintf("• `%s` — %s", esc(g.Ref().String()), esc(sh.OriginOf(m.Origins, g)))
			if !g.ExpiresAt.IsZero() {
				s += ", until " + when(g.ExpiresAt)
			}
			l = append(l, s)
		}
		b = append(b, lineSections("mine", l, 10, "grants")...)
	}
	if len(m.Requests) > 0 {
		var l []string
		for _, a := range m.Requests {
			l = append(l, approvalLine(a, m.Name(a.IdentityKey)))
		}
		b = append(b, section("requests_head", "*Your requests*"))
		b = append(b, lineSections("requests", l, 5, "requests")...)
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: capBlocks(b, MaxViewBlocks)}}
}

func approvalLine(a gatehouse.Approval, who string) string {
	refs := make([]string, 0, len(a.Items))
	for i, it := range a.Items {
		if i == 5 {
			refs = append(refs, fmt.Sprintf("+%d", len(a.Items)-5))
			break
		}
		refs = append(refs, it.Ref().String())
	}
	return fmt.Sprintf("• %s `%s` for %s — %s", statusIcon(a.Status), esc(strings.Join(refs, ", ")), esc(who), esc(string(a.Status)))
}

func statusIcon(s gatehouse.ApprovalStatus) string {
	switch s {
	case gatehouse.ApprovalApproved:
		return "✅"
	case gatehouse.ApprovalDenied:
		return "⛔"
	case gatehouse.ApprovalExpired:
		return "⌛"
	}
	return ":hourglass_flowing_sand:"
}

func runLines(rs []sh.RunLine) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmt.Sprintf("• %s %s — %s (%s)", esc(title(string(r.Run.Event.Type))), esc(r.Subject), esc(string(r.Run.Status)), esc(r.Run.ID)))
	}
	return out
}

// entitlementGroups offers the catalog's entitlements grouped by app, at most
// MaxOptions of them (Slack's limit for one select).
func entitlementGroups(apps []sh.AppChoice) []*slack.OptionGroupBlockObject {
	var groups []*slack.OptionGroupBlockObject
	n := 0
	for _, app := range apps {
		var opts []*slack.OptionBlockObject
		for _, e := range app.Entitlements {
			if n == MaxOptions {
				break
			}
			opts = append(opts, option(app.App+":"+e.Name, e.Name+" ("+e.Risk.String()+")"))
			n++
		}
		if len(opts) > 0 {
			groups = append(groups, slack.NewOptionGroupBlockElement(plain(app.Title, MaxOptionText), opts...))
		}
	}
	return groups
}
