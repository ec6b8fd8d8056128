package cards

import (
	"fmt"
	"strings"

	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/slack-go/slack"
)

// Digest action ids, modal callbacks and snooze choices.
const (
	ActDigestRevoke    = "digest_revoke"     // value: DIGEST|ITEM
	ActDigestKeep      = "digest_keep"       // value: DIGEST|ITEM, opens DigestKeepModal
	ActDigestRevokeApp = "digest_revoke_app" // value: DIGEST|APP, opens DigestRevokeAppModal
	ActDigestDisable   = "digest_disable"    // value: DIGEST|ITEM (an orphaned account)
	ActDigestAssign    = "digest_assign"     // value: DIGEST|ITEM, opens DigestAssignModal

	CallbackDigestKeep      = "digest_keep"
	CallbackDigestRevokeApp = "digest_revoke_app"
	CallbackDigestAssign    = "digest_assign"
)

// SnoozeDays are the snooze lengths a Keep offers.
var SnoozeDays = []int{7, 14, 30, 90, 180}

// digestItemsPerMessage keeps a thread reply under Slack's 50 blocks: two
// blocks a line (text, buttons) plus an app heading and a footer.
const digestItemsPerMessage = 20

// DigestMessage is one message of a posted digest: the summary in the
// channel, or one reply in its thread.
type DigestMessage struct {
	Section string // "summary", "dormant", "orphans", …
	Text    string // notification fallback
	Blocks  []slack.Block
}

// DigestRef joins a digest id and a line (or app) into a button value.
func DigestRef(digestID, item string) string { return digestID + "|" + item }

// ParseDigestRef splits a button value made by DigestRef.
func ParseDigestRef(v string) (digestID, item string, ok bool) {
	digestID, item, ok = strings.Cut(v, "|")
	return digestID, item, ok && digestID != "" && item != ""
}

func money(v float64) string { return fmt.Sprintf("$%.2f", v) }

// Digest renders a digest as a summary message and thread replies, each
// within Slack's block limits. At most maxItems lines of a section are
// posted (0: all); the rest are counted, and `gatehouse digest --dry-run`
// lists every one.
func Digest(d governance.Digest, maxItems int) []DigestMessage {
	out := []DigestMessage{digestSummary(d)}
	out = append(out, dormantMessages(d, maxItems)...)
	out = append(out, orphanMessages(d, maxItems)...)
	lists := []struct {
		section, title string
		lines          []string
	}{
		{"leavers", "Leavers with access still open (should be none)", leaverLines(d)},
		{"stuck", "Runs blocked or waiting longest", runLines2(d)},
		{"tasks", "Manual tasks overdue", taskLines(d)},
		{"sod", "Segregation-of-duties conflicts held now", sodLines(d)},
		{"expiring", "Access expiring soon", expiringLines(d)},
		{"nonhumans", "Service accounts, bots and agents without a living owner or past expiry", nonHumanLines(d)},
		{"licenses", "Licence money reclaimable", licenseLines(d)},
	}
	for _, l := range lists {
		if len(l.lines) == 0 {
			continue
		}
		lines := l.lines
		more := 0
		if maxItems > 0 && len(lines) > maxItems {
			more = len(lines) - maxItems
			lines = lines[:maxItems]
		}
		blocks := []slack.Block{section(l.section+"-title", "*"+l.title+"*")}
		blocks = append(blocks, lineSections(l.section, lines, MaxMessageBlocks-3, "lines")...)
		if more > 0 {
			blocks = append(blocks, contextMD(l.section+"-more", fmt.Sprintf("…and %d more; `gatehouse digest --dry-run` lists every line", more)))
		}
		out = append(out, DigestMessage{Section: l.section, Text: l.title, Blocks: blocks})
	}
	return out
}

func digestSummary(d governance.Digest) DigestMessage {
	blocks := []slack.Block{header("Weekly access digest — " + d.GeneratedAt.Format("2 Jan 2006"))}
	counts := []struct {
		n    int
		what string
	}{
		{len(d.Dormant), "dormant accounts"},
		{len(d.Orphans), "orphaned accounts"},
		{len(d.OpenLeavers), "leavers with access still open"},
		{len(d.StuckRuns), "runs blocked or waiting"},
		{len(d.OverdueTasks), "manual tasks overdue"},
		{len(d.SoD), "SoD conflicts held"},
		{len(d.Expiring), "grants expiring soon"},
		{len(d.NonHumans), "non-humans needing an owner or past expiry"},
	}
	var lines []string
	for _, c := range counts {
		icon := "•"
		if c.n > 0 {
			icon = "⚠️"
		}
		lines = append(lines, fmt.Sprintf("%s *%d* %s", icon, c.n, c.what))
	}
	blocks = append(blocks, section("digest-counts", strings.Join(lines, "\n")))
	seats := 0
	for _, l := range d.Licenses {
		seats += l.Seats
	}
	blocks = append(blocks, section("digest-money", fmt.Sprintf("💰 *%s/month* reclaimable from %d unused or orphaned seats", money(d.Reclaimable), seats)))
	facts := fmt.Sprintf("%d identities · %d grants · %d apps", d.Identities, d.Grants, d.Apps)
	if d.Snoozed > 0 {
		facts += fmt.Sprintf(" · %d kept (snoozed)", d.Snoozed)
	}
	blocks = append(blocks, contextMD("digest-facts", facts, "Details and one-click fixes in the thread"))
	if w := governance.WeekLine(d); w != "" {
		blocks = append(blocks, contextMD("digest-week", "*Last 7 days:* "+esc(w)))
	}
	if len(d.Notes) > 0 {
		blocks = append(blocks, lineSections("digest-notes", prefixAll("ℹ️ ", escAll(d.Notes)), 3, "notes")...)
	}
	return DigestMessage{Section: "summary", Text: fmt.Sprintf("Weekly access digest: %d dormant, %d orphaned, %s/month reclaimable", len(d.Dormant), len(d.Orphans), money(d.Reclaimable)), Blocks: blocks}
}

// actionLine is one digest line with buttons, in a group (an app) that
// gets a heading block when it starts.
type actionLine struct {
	group   string
	head    func(i int) slack.Block
	text    string
	buttons []slack.BlockElement
}

// pageActionLines packs lines (two blocks each: text, buttons) and their
// group headings into thread replies under Slack's 50 blocks, at most
// maxItems lines (0: all), counting the rest in a footer.
func pageActionLines(sect, text string, lines []actionLine, maxItems int, more string) []DigestMessage {
	var out []DigestMessage
	var blocks []slack.Block
	n := 0
	flush := func() {
		if len(blocks) > 0 {
			out = append(out, DigestMessage{Section: sect, Text: text, Blocks: blocks})
			blocks, n = nil, 0
		}
	}
	skipped := 0
	lastGroup := ""
	for i, l := range lines {
		if maxItems > 0 && i >= maxItems {
			skipped = len(lines) - i
			break
		}
		need := 2
		if l.group != lastGroup {
			need++
		}
		// One block is kept free for the "…and N more" footer.
		if n == digestItemsPerMessage || len(blocks)+need > MaxMessageBlocks-1 {
			flush()
		}
		if l.group != lastGroup || len(blocks) == 0 {
			lastGroup = l.group
			blocks = append(blocks, l.head(i))
		}
		blocks = append(blocks, section(fmt.Sprintf("%s-%d", sect, i), l.text),
			slack.NewActionBlock(fmt.Sprintf("%s-act-%d", sect, i), l.buttons...))
		n++
	}
	if skipped > 0 {
		blocks = append(blocks, contextMD(sect+"-more", fmt.Sprintf("…and %d more %s", skipped, more)))
	}
	flush()
	return out
}

func confirm(title, text, ok string) *slack.ConfirmationBlockObject {
	return slack.NewConfirmationBlockObject(plain(title, 100), md(text), plain(ok, 30), plain("Cancel", 30))
}

// groupTotals counts the lines and money of one app.
func groupTotals[T any](items []T, app func(T) string, cost func(T) float64, want string) (int, float64) {
	n, sum := 0, 0.0
	for _, it := range items {
		if app(it) == want {
			n++
			sum += cost(it)
		}
	}
	return n, sum
}

// dormantMessages lists dormant accounts app by app, each line with Revoke
// and Keep, each app with a bulk revoke, paginated into thread replies.
func dormantMessages(d governance.Digest, maxItems int) []DigestMessage {
	lines := make([]actionLine, 0, len(d.Dormant))
	for _, it := range d.Dormant {
		idle := fmt.Sprintf("no activity for %d days", it.IdleDays)
		if it.Never() {
			idle = fmt.Sprintf("never used (held %d days)", it.IdleDays)
		}
		text := fmt.Sprintf("*%s* (%s) — %s · %s/month", esc(nameOr(it.Name, it.Email)), esc(it.Email), idle, money(it.MonthlyCost))
		if len(it.Entitlements) > 0 {
			text += "\n    _also holds " + esc(strings.Join(it.Entitlements, ", ")) + "_"
		}
		if it.Manager != "" {
			text += "\n    _manager " + esc(it.Manager) + "_"
		}
		revoke := button(ActDigestRevoke, DigestRef(d.ID, it.ID), "Revoke", slack.StyleDanger)
		revoke.Confirm = confirm("Revoke access?", fmt.Sprintf("Close %s's %s account and every grant in it.", esc(it.Email), esc(it.AppTitle)), "Revoke")
		app, title := it.App, it.AppTitle
		lines = append(lines, actionLine{group: app, text: text,
			buttons: []slack.BlockElement{revoke, button(ActDigestKeep, DigestRef(d.ID, it.ID), "Keep…", "")},
			head: func(i int) slack.Block {
				cnt, cost := groupTotals(d.Dormant, func(x governance.DormantItem) string { return x.App }, func(x governance.DormantItem) float64 { return x.MonthlyCost }, app)
				return slack.NewSectionBlock(md(fmt.Sprintf("*Dormant in %s* — %d account(s), %s/month", esc(title), cnt, money(cost))), nil,
					slack.NewAccessory(button(ActDigestRevokeApp, DigestRef(d.ID, app), "Revoke all dormant in "+title, slack.StyleDanger)),
					slack.SectionBlockOptionBlockID(fmt.Sprintf("dormant-app-%d", i)))
			}})
	}
	return pageActionLines("dormant", "Dormant accounts", lines, maxItems, "dormant accounts; the app buttons cover them all, `gatehouse digest --dry-run` lists them")
}

// orphanMessages lists orphaned accounts app by app, each with Disable and
// Assign owner.
func orphanMessages(d governance.Digest, maxItems int) []DigestMessage {
	lines := make([]actionLine, 0, len(d.Orphans))
	for _, o := range d.Orphans {
		text := fmt.Sprintf("`%s` (%s) — %s · %s/month", esc(o.Login), esc(o.AccountID), esc(o.Reason), money(o.MonthlyCost))
		if o.DisplayName != "" {
			text = "*" + esc(o.DisplayName) + "* " + text
		}
		disable := button(ActDigestDisable, DigestRef(d.ID, o.ID), "Disable", slack.StyleDanger)
		disable.Confirm = confirm("Disable the account?", fmt.Sprintf("Close %s's account in %s, by its id %s.", esc(o.Login), esc(o.AppTitle), esc(o.AccountID)), "Disable")
		app, title := o.App, o.AppTitle
		lines = append(lines, actionLine{group: app, text: text,
			buttons: []slack.BlockElement{disable, button(ActDigestAssign, DigestRef(d.ID, o.ID), "Assign owner…", "")},
			head: func(i int) slack.Block {
				cnt, cost := groupTotals(d.Orphans, func(x governance.OrphanItem) string { return x.App }, func(x governance.OrphanItem) float64 { return x.MonthlyCost }, app)
				return section(fmt.Sprintf("orphans-app-%d", i), fmt.Sprintf("*Orphaned in %s* — %d account(s), %s/month", esc(title), cnt, money(cost)))
			}})
	}
	return pageActionLines("orphans", "Orphaned accounts", lines, maxItems, "orphaned accounts; `gatehouse digest --dry-run` lists them")
}

func nameOr(name, email string) string {
	if name != "" {
		return name
	}
	return email
}

func escAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = esc(s)
	}
	return out
}

func prefixAll(p string, in []string) []string {
	for i := range in {
		in[i] = p + in[i]
	}
	return in
}

func leaverLines(d governance.Digest) []string {
	var out []string
	for _, l := range d.OpenLeavers {
		out = append(out, fmt.Sprintf("• %s — still open: %s", esc(l.Email), esc(strings.Join(l.Open, ", "))))
	}
	return out
}

func runLines2(d governance.Digest) []string {
	var out []string
	for _, r := range d.StuckRuns {
		out = append(out, fmt.Sprintf("• `%s` %s of %s — %s since %s", esc(r.RunID), esc(string(r.Event)), esc(r.Email), esc(string(r.Status)), when(r.Since)))
	}
	return out
}

func taskLines(d governance.Digest) []string {
	var out []string
	for _, t := range d.OverdueTasks {
		out = append(out, fmt.Sprintf("• %s — %s, open since %s", esc(t.Title), esc(t.Assignee), when(t.Since)))
	}
	return out
}

func sodLines(d governance.Digest) []string {
	var out []string
	for _, s := range d.SoD {
		out = append(out, fmt.Sprintf("• *%s* (%s): %s holds %s", esc(s.Constraint), esc(s.Action), esc(s.Email), esc(strings.Join(s.Entitlements, " + "))))
	}
	return out
}

func expiringLines(d governance.Digest) []string {
	var out []string
	for _, e := range d.Expiring {
		out = append(out, fmt.Sprintf("• %s `%s` — ends %s", esc(e.Email), esc(e.Entitlement), when(e.ExpiresAt)))
	}
	return out
}

func nonHumanLines(d governance.Digest) []string {
	var out []string
	for _, n := range d.NonHumans {
		out = append(out, fmt.Sprintf("• %s (%s) — %s", esc(n.Email), esc(string(n.Kind)), esc(n.Problem)))
	}
	return out
}

func licenseLines(d governance.Digest) []string {
	var out []string
	for _, l := range d.Licenses {
		out = append(out, fmt.Sprintf("• %s — %d seat(s), %s/month", esc(l.AppTitle), l.Seats, money(l.MonthlyCost)))
	}
	if len(out) > 0 {
		out = append(out, fmt.Sprintf("*Total: %s/month*", money(d.Reclaimable)))
	}
	return out
}

// DigestKeepModal asks why a dormant account stays and for how long.
func DigestKeepModal(digestID string, it governance.DormantItem) slack.ModalViewRequest {
	opts := make([]*slack.OptionBlockObject, len(SnoozeDays))
	for i, n := range SnoozeDays {
		opts[i] = option(fmt.Sprint(n), fmt.Sprintf("%d days", n))
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Snooze for", 50), InputAction, opts...)
	sel.InitialOption = opts[2]
	blocks := []slack.Block{
		section("keep-what", fmt.Sprintf("Keep *%s*'s %s account. It stays out of the digest until the snooze ends.", esc(it.Email), esc(it.AppTitle))),
		textInput(sh.FieldKeepReason, "Why does it stay?", "", "e.g. on leave until March", false, true, nil),
		input(sh.FieldKeepDays, "Snooze", sel, false, nil),
	}
	return modal(CallbackDigestKeep, "Keep access", "Keep", DigestRef(digestID, it.ID), blocks)
}

// DigestRevokeAppModal confirms revoking every dormant account of an app.
func DigestRevokeAppModal(d governance.Digest, app string) slack.ModalViewRequest {
	var lines []string
	total, title := 0.0, app
	for _, it := range d.Dormant {
		if it.App != app {
			continue
		}
		title = it.AppTitle
		total += it.MonthlyCost
		lines = append(lines, fmt.Sprintf("• %s — %d days", esc(it.Email), it.IdleDays))
	}
	blocks := []slack.Block{section("revoke-app-what", fmt.Sprintf("Revoke *%d* dormant account(s) in *%s* (%s/month). Each runs as its own audited revocation; lines you may not act on are left alone.", len(lines), esc(title), money(total)))}
	blocks = append(blocks, lineSections("revoke-app-lines", lines, 20, "accounts")...)
	return modal(CallbackDigestRevokeApp, "Revoke dormant", "Revoke all", DigestRef(d.ID, app), blocks)
}

// DigestAssignModal asks who owns an orphaned account.
func DigestAssignModal(digestID string, o governance.OrphanItem) slack.ModalViewRequest {
	blocks := []slack.Block{
		section("assign-what", fmt.Sprintf("Who owns `%s` in *%s*? They answer for it from now on, and their leaving closes it.", esc(o.Login), esc(o.AppTitle))),
		input(sh.FieldOwner, "Owner", userSelect("", "Pick the owner"), false, nil),
	}
	return modal(CallbackDigestAssign, "Assign owner", "Assign", DigestRef(digestID, o.ID), blocks)
}
