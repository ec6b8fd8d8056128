package cards

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
)

// maxItemsShown bounds the grants listed on an approval card; the card says
// how many more there are.
const maxItemsShown = 40

// Approval renders an approval card for an approver's DM: who, what (each
// grant with its risk and why), SoD conflicts, expiry, and Approve / Deny
// while pending. Decided, expired and cancelled cards keep the facts and
// show the outcome instead of buttons.
func Approval(m sh.ApprovalModel) []slack.Block {
	a := m.Approval
	var head string
	switch a.Status {
	case gatehouse.ApprovalApproved:
		head = "✅ Access approved"
	case gatehouse.ApprovalDenied:
		head = "⛔ Access denied"
	case gatehouse.ApprovalExpired:
		head = "⌛ Approval expired"
	case gatehouse.ApprovalCancelled:
		head = "Approval cancelled"
	default:
		head = "Access approval needed"
	}
	blocks := []slack.Block{header(head)}
	if m.Note != "" {
		blocks = append(blocks, contextMD("note", esc(m.Note)))
	}
	who := person(m.Subject)
	var facts []string
	if m.Subject.Title != "" || m.Subject.Department != "" {
		facts = append(facts, esc(strings.Trim(m.Subject.Title+" · "+m.Subject.Department, " ·")))
	}
	if m.Subject.Kind != "" && m.Subject.Kind != gatehouse.KindEmployee {
		facts = append(facts, string(m.Subject.Kind))
	}
	requester := esc(a.Requester)
	if m.RequesterName != "" {
		requester = esc(m.RequesterName)
	}
	text := fmt.Sprintf("*For:* %s", who)
	if len(facts) > 0 {
		text += "\n" + strings.Join(facts, " · ")
	}
	text += "\n*Requested by:* " + requester
	blocks = append(blocks, section("who", text))

	lines := make([]string, 0, len(a.Items))
	for _, it := range a.Items {
		l := fmt.Sprintf("• `%s` — %s", esc(it.Ref().String()), riskBadge(it.Risk))
		if !it.ExpiresAt.IsZero() {
			l += " — until " + when(it.ExpiresAt)
		}
		if r := reasons(it.Reasons); r != "" {
			l += "\n    _" + r + "_"
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		lines = append(lines, "_No entitlements listed._")
	}
	lines[0] = "*Access:*\n" + lines[0]
	if len(lines) > maxItemsShown {
		more := len(lines) - maxItemsShown
		lines = append(lines[:maxItemsShown:maxItemsShown], fmt.Sprintf("_…and %d more_", more))
	}
	blocks = append(blocks, lineSections("items", lines, 6, "grants")...)

	if len(a.Conflicts) > 0 {
		var cl []string
		for i, c := range a.Conflicts {
			if i == 10 {
				cl = append(cl, fmt.Sprintf("_…and %d more conflicts_", len(a.Conflicts)-10))
				break
			}
			refs := make([]string, 0, len(c.Entitlements))
			for _, r := range c.Entitlements {
				refs = append(refs, "`"+esc(r.String())+"`")
			}
			d := c.Description
			if d == "" {
				d = c.Constraint
			}
			cl = append(cl, fmt.Sprintf(":warning: *Segregation of duties (%s):* %s — %s", esc(c.Action), esc(d), strings.Join(refs, " + ")))
		}
		blocks = append(blocks, lineSections("sod", cl, 2, "conflicts")...)
	}

	need := a.Required
	if need < 1 {
		need = 1
	}
	approvals := 0
	for _, d := range a.Decisions {
		if d.Approved {
			approvals++
		}
	}
	ctx := []string{fmt.Sprintf("Approvals: %d of %d", approvals, need)}
	if need > 1 {
		ctx = append(ctx, "Two-person rule: two different approvers must approve")
	}
	if !a.ExpiresAt.IsZero() {
		ctx = append(ctx, "Expires "+when(a.ExpiresAt))
	}
	if a.Escalations > 0 {
		ctx = append(ctx, fmt.Sprintf("Escalated %d×", a.Escalations))
	}
	ctx = append(ctx, "Request "+esc(a.ID))
	blocks = append(blocks, contextMD("meta", ctx...))

	if len(a.Decisions) > 0 {
		var dl []string
		for _, d := range a.Decisions {
			verb := "approved"
			if !d.Approved {
				verb = "denied"
			}
			l := fmt.Sprintf("%s %s %s", esc(d.By), verb, when(d.At))
			if d.Reason != "" {
				l += ": “" + esc(clip(d.Reason, 500)) + "”"
			}
			dl = append(dl, l)
		}
		blocks = append(blocks, lineSections("decisions", dl, 2, "decisions")...)
	}
	if a.Status == gatehouse.ApprovalPending || a.Status == "" {
		blocks = append(blocks, slack.NewActionBlock("approval_actions",
			button(ActApprove, a.ID, "Approve", slack.StylePrimary),
			button(ActDeny, a.ID, "Deny", slack.StyleDanger),
		))
	}
	return blocks
}

// ApprovalText is the notification text of an approval card.
func ApprovalText(m sh.ApprovalModel) string {
	n := m.Subject.Name
	if n == "" {
		n = m.Subject.Email
	}
	switch m.Approval.Status {
	case gatehouse.ApprovalApproved:
		return clip("Approved: access for "+n, MaxFallbackText)
	case gatehouse.ApprovalDenied:
		return clip("Denied: access for "+n, MaxFallbackText)
	}
	return clip(fmt.Sprintf("Approval needed: %d grant(s) for %s", len(m.Approval.Items), n), MaxFallbackText)
}

// Task renders a manual-task card for the app owner (or IT).
func Task(m sh.TaskModel) []slack.Block {
	t := m.Task
	head := "Manual task"
	switch t.Status {
	case gatehouse.TaskDone:
		head = "✅ Manual task done"
	case gatehouse.TaskCantDo:
		head = "⚠️ Manual task could not be done"
	case gatehouse.TaskCanceled:
		head = "Manual task cancelled"
	}
	if t.Escalated && t.Status == gatehouse.TaskOpen {
		head = "Manual task (escalated)"
	}
	blocks := []slack.Block{header(head)}
	if m.Note != "" {
		blocks = append(blocks, contextMD("note", esc(m.Note)))
	}
	text := fmt.Sprintf("*%s*\n*For:* %s", esc(t.Title), person(m.Subject))
	if t.App != "" {
		text += "\n*App:* " + esc(t.App)
	}
	blocks = append(blocks, section("task", text))
	if t.Instructions != "" {
		blocks = append(blocks, section("instructions", "*What to do:*\n"+esc(t.Instructions)))
	}
	ctx := []string{"Assigned to " + esc(t.Assignee), "Task " + esc(t.ID)}
	if t.RunID != "" {
		ctx = append(ctx, "Run "+esc(t.RunID))
	}
	blocks = append(blocks, contextMD("meta", ctx...))
	if t.Status == gatehouse.TaskOpen {
		blocks = append(blocks, slack.NewActionBlock("task_actions",
			button(ActTaskDone, t.ID, "Done", slack.StylePrimary),
			button(ActTaskCant, t.ID, "Can't do", slack.StyleDanger),
		))
	} else if t.DoneBy != "" || t.Evidence != "" {
		blocks = append(blocks, section("evidence", fmt.Sprintf("*%s* %s: %s", esc(t.DoneBy), when(t.DoneAt), esc(clip(t.Evidence, 2000)))))
	}
	return blocks
}

// TaskText is the notification text of a task card.
func TaskText(m sh.TaskModel) string {
	return clip("Manual task: "+m.Task.Title, MaxFallbackText)
}

func stepIcon(s gatehouse.StepStatus) string {
	switch s {
	case gatehouse.StepSucceeded:
		return "✅"
	case gatehouse.StepRetrying:
		return "🔁"
	case gatehouse.StepFailed:
		return "❌"
	case gatehouse.StepEscalated, gatehouse.StepWaiting:
		return "📝"
	case gatehouse.StepSkipped, gatehouse.StepCancelled:
		return "➖"
	case gatehouse.StepRunning:
		return "⏳"
	}
	return "▫️"
}

// appProgress summarises one app's steps: the worst status wins.
type appProgress struct {
	app     string
	steps   []gatehouse.Step
	worst   gatehouse.StepStatus
	lastErr string
	task    *gatehouse.Task
}

var severity = map[gatehouse.StepStatus]int{
	gatehouse.StepSucceeded: 0, gatehouse.StepSkipped: 0, gatehouse.StepCancelled: 0,
	gatehouse.StepPending: 1, gatehouse.StepRunning: 2, gatehouse.StepWaiting: 3,
	gatehouse.StepRetrying: 4, gatehouse.StepEscalated: 5, gatehouse.StepFailed: 6,
}

// Progress renders the live progress card of a run: one line per app with
// its status (done, running, retrying with the last error, failed, manual
// task), and when the run is finished the evidence summary.
func Progress(m sh.ProgressModel) []slack.Block {
	r := m.Run
	verb := map[gatehouse.EventType]string{
		gatehouse.EventJoiner: "Onboarding", gatehouse.EventLeaver: "Offboarding", gatehouse.EventMover: "Moving",
		gatehouse.EventContractEnd: "Contract end for", gatehouse.EventRehire: "Rehiring",
	}[r.Event.Type]
	if verb == "" {
		verb = title(string(r.Event.Type)) + ":"
	}
	name := m.Subject.Name
	if name == "" {
		name = m.Subject.Email
	}
	if name == "" {
		name = r.IdentityKey
	}
	blocks := []slack.Block{header(verb + " " + name)}

	byApp := map[string]*appProgress{}
	var order []string
	var counts = map[gatehouse.StepStatus]int{}
	for _, s := range m.Steps {
		if s.Kind == gatehouse.StepEvidence || s.Kind == gatehouse.StepNotify {
			continue
		}
		counts[s.Status]++
		app := s.App
		if app == "" {
			app = title(string(s.Kind))
		}
		p := byApp[app]
		if p == nil {
			p = &appProgress{app: app, worst: gatehouse.StepSucceeded}
			byApp[app] = p
			order = append(order, app)
		}
		p.steps = append(p.steps, s)
		if severity[s.Status] >= severity[p.worst] {
			p.worst = s.Status
			if s.LastError != "" {
				p.lastErr = s.LastError
			}
		}
	}
	for i := range m.Tasks {
		t := m.Tasks[i]
		if p := byApp[t.App]; p != nil {
			p.task = &t
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		return severity[byApp[order[i]].worst] > severity[byApp[order[j]].worst]
	})
	done := counts[gatehouse.StepSucceeded] + counts[gatehouse.StepSkipped] + counts[gatehouse.StepCancelled]
	total := 0
	for _, n := range counts {
		total += n
	}
	status := fmt.Sprintf("*Status:* %s · %d of %d steps done", title(string(r.Status)), done, total)
	if n := counts[gatehouse.StepFailed] + counts[gatehouse.StepEscalated]; n > 0 {
		status += fmt.Sprintf(" · %d need attention", n)
	}
	if !r.Event.EffectiveAt.IsZero() {
		status += "\n*Effective:* " + when(r.Event.EffectiveAt)
	}
	if r.Event.Actor.ID != "" {
		status += "\n*Started by:* " + esc(r.Event.Actor.ID)
	}
	blocks = append(blocks, section("status", status))

	lines := make([]string, 0, len(order))
	for _, app := range order {
		p := byApp[app]
		label := map[gatehouse.StepStatus]string{
			gatehouse.StepSucceeded: "done", gatehouse.StepSkipped: "skipped", gatehouse.StepCancelled: "cancelled",
			gatehouse.StepPending: "pending", gatehouse.StepRunning: "running", gatehouse.StepWaiting: "waiting",
			gatehouse.StepRetrying: "retrying", gatehouse.StepEscalated: "manual task", gatehouse.StepFailed: "failed",
		}[p.worst]
		l := fmt.Sprintf("%s *%s* — %s", stepIcon(p.worst), esc(app), label)
		if len(p.steps) > 1 {
			l += fmt.Sprintf(" (%d steps)", len(p.steps))
		}
		if p.worst == gatehouse.StepRetrying || p.worst == gatehouse.StepFailed || p.worst == gatehouse.StepEscalated {
			if p.lastErr != "" {
				l += ": _" + esc(clip(p.lastErr, 200)) + "_"
			}
		}
		if p.task != nil && p.task.Status == gatehouse.TaskOpen {
			l += " — task with " + esc(p.task.Assignee)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		lines = append(lines, "_No steps yet._")
	}
	blocks = append(blocks, lineSections("apps", lines, 20, "apps")...)

	if r.Status.Terminal() || r.Status == gatehouse.RunBlocked {
		// The change count comes from one place: the run's evidence
		// record (its summary), which the audit log and `runs show` print
		// too. Counting succeeded steps here would also count approvals
		// and discoveries, and disagree with it.
		ev := "*Evidence:* "
		if sum := evidenceSummary(r, m.Steps); sum != "" {
			ev += esc(clip(sum, 1500)) + "."
		} else {
			ev += "_not recorded yet_."
		}
		ev += fmt.Sprintf("\n*Steps:* %d skipped, %d failed, %d manual.",
			counts[gatehouse.StepSkipped]+counts[gatehouse.StepCancelled], counts[gatehouse.StepFailed], counts[gatehouse.StepEscalated])
		if !r.FinishedAt.IsZero() {
			ev += " Finished " + when(r.FinishedAt) + "."
		}
		if r.Status == gatehouse.RunBlocked {
			ev += "\n:warning: Not complete: open manual tasks keep this person's access paths visible until done."
		}
		blocks = append(blocks, section("evidence", ev))
	}
	blocks = append(blocks, contextMD("meta", "Run "+esc(r.ID), "Updated "+when(m.Now), "Audit: `gatehouse audit --run "+esc(r.ID)+"`"))
	return blocks
}

// evidenceSummary is the run's evidence as the engine recorded it: the
// run's Summary, else the evidence step's result.
func evidenceSummary(r gatehouse.Run, steps []gatehouse.Step) string {
	if r.Summary != "" {
		return r.Summary
	}
	for _, s := range steps {
		if s.Kind == gatehouse.StepEvidence && s.Result["summary"] != "" {
			return s.Result["summary"]
		}
	}
	return ""
}

// ProgressText is the notification text of a progress card.
func ProgressText(m sh.ProgressModel) string {
	name := m.Subject.Name
	if name == "" {
		name = m.Run.IdentityKey
	}
	return clip(fmt.Sprintf("%s %s: %s", title(string(m.Run.Event.Type)), name, m.Run.Status), MaxFallbackText)
}

// Access renders the answer to /access or /access @user.
func Access(m sh.AccessModel) []slack.Block {
	whose := "Your access"
	if !m.Self {
		whose = "Access of " + m.Identity.Name
		if m.Identity.Name == "" {
			whose = "Access of " + m.Identity.Email
		}
	}
	blocks := []slack.Block{header(whose)}
	lines := make([]string, 0, len(m.Grants))
	for _, g := range m.Grants {
		l := fmt.Sprintf("• `%s` — %s", esc(g.Ref().String()), esc(sh.OriginOf(m.Origins, g)))
		if !g.ExpiresAt.IsZero() {
			l += ", until " + when(g.ExpiresAt)
		}
		if r := reasons(g.Reasons); r != "" {
			l += " — _" + r + "_"
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		blocks = append(blocks, section("none", "_No access recorded yet._"))
	} else {
		blocks = append(blocks, lineSections("grants", lines, MaxMessageBlocks-6, "grants")...)
	}
	if len(m.Pending) > 0 {
		var pl []string
		for _, a := range m.Pending {
			refs := make([]string, 0, len(a.Items))
			for _, it := range a.Items {
				refs = append(refs, "`"+esc(it.Ref().String())+"`")
			}
			pl = append(pl, fmt.Sprintf("• %s — waiting for %s", strings.Join(refs, ", "), esc(strings.Join(a.Approvers, ", "))))
		}
		pl[0] = "*Waiting for approval:*\n" + pl[0]
		blocks = append(blocks, lineSections("pending", pl, 2, "requests")...)
	}
	blocks = append(blocks, contextMD("meta", fmt.Sprintf("%d active grants · `/access why APP:ENT` explains one · `/access request` asks for more", len(m.Grants))))
	return blocks
}

// Why renders /access why.
func Why(m sh.WhyModel) []slack.Block {
	ref := "`" + esc(m.Ref.String()) + "`"
	var text string
	switch {
	case m.Grant != nil && len(m.Reasons) > 0:
		text = fmt.Sprintf("%s holds %s because of %s.", person(m.Identity), ref, reasons(m.Reasons))
	case m.Grant != nil && m.Grant.Source == gatehouse.SourceDiscovered:
		text = fmt.Sprintf("%s holds %s, but Gatehouse never granted it: it was discovered in the app. No rule asks for it, so IT should review it.", person(m.Identity), ref)
	case m.Grant != nil:
		text = fmt.Sprintf("%s holds %s (%s).", person(m.Identity), ref, esc(string(m.Grant.Source)))
		if len(m.Grant.ApprovedBy) > 0 {
			text += " Approved by " + esc(strings.Join(m.Grant.ApprovedBy, ", ")) + "."
		}
	case m.Planned:
		text = fmt.Sprintf("%s does not hold %s yet, but the rules grant it: %s.", person(m.Identity), ref, reasons(m.Reasons))
	default:
		text = fmt.Sprintf("%s does not hold %s and no rule grants it. Use `/access request` to ask for it.", person(m.Identity), ref)
	}
	blocks := []slack.Block{section("why", text)}
	if m.Grant != nil && !m.Grant.ExpiresAt.IsZero() {
		blocks = append(blocks, contextMD("meta", "Expires "+when(m.Grant.ExpiresAt)))
	}
	return blocks
}

// Help renders the /access help text.
func Help() []slack.Block {
	return []slack.Block{section("help", "*Gatehouse commands*\n"+
		"• `/access` — your access\n• `/access @user` — someone's access (IT, or their manager)\n"+
		"• `/access why APP[:ENTITLEMENT]` — which rule granted it\n• `/access request` — ask for time-bound access\n"+
		"• `"+sh.OnboardUsage+"` — onboard someone (IT, HR)\n• `"+sh.OffboardUsage+"` — offboard someone (IT, HR)")}
}

// Notice renders a one-paragraph message (confirmations, refusals).
func Notice(text string) []slack.Block {
	return []slack.Block{section("notice", text)}
}

// Held renders the mass-change card: what the HR guard held and Release /
// Discard buttons for IT.
func Held(m sh.HeldModel) []slack.Block {
	head := "⏸️ HR changes held for confirmation"
	if m.Outcome != "" {
		head = "HR changes " + m.Outcome
	}
	text := fmt.Sprintf("*%d leavers and %d movers* from *%s* (%s) were held: %d changes within %s, out of %d people.\n%s",
		m.Leavers, m.Movers, esc(m.Source), esc(m.Origin), m.InWindow, m.Window, m.Identities, esc(m.Reason))
	blocks := []slack.Block{header(head), section("held", text), contextMD("meta", fmt.Sprintf("%d runs held · batch %s", m.Runs, esc(m.BatchID)))}
	if m.Outcome == "" {
		blocks = append(blocks, slack.NewActionBlock("held_actions",
			button(ActReleaseHeld, m.BatchID, "Release all", slack.StylePrimary),
			button(ActDiscardHeld, m.BatchID, "Discard all", slack.StyleDanger)))
	}
	return blocks
}
