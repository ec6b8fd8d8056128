package cards

import (
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/slack-go/slack"
)

// Access review action ids and modal callbacks. Button values carry only
// CAMPAIGN|ITEM (or CAMPAIGN|all): every click is re-checked against the
// stored item.
const (
	ActReviewKeep    = "review_keep"     // value: CAMPAIGN|ITEM
	ActReviewRevoke  = "review_revoke"   // value: CAMPAIGN|ITEM
	ActReviewKeepAll = "review_keep_all" // value: CAMPAIGN|all, opens ReviewKeepAllModal

	CallbackReviewKeepAll = "review_keep_all"
)

// reviewLinesPerMessage keeps a DM under Slack's 50 blocks: two blocks a
// line (text, buttons), a heading per person, the intro and the footer.
const reviewLinesPerMessage = 15

// MaxReviewMessages caps the DMs one request sends; the lines beyond are
// sent again, with the reminder, once these are decided.
const MaxReviewMessages = 10

// ReviewRef joins a campaign id and an item id into a button value.
func ReviewRef(campaignID, item string) string { return campaignID + "|" + item }

// ParseReviewRef splits a button value made by ReviewRef.
func ParseReviewRef(v string) (campaignID, item string, ok bool) { return ParseDigestRef(v) }

// ReviewMessage is one DM of a reviewer's request.
type ReviewMessage struct {
	Text   string
	Blocks []slack.Block
}

// Review renders a reviewer's lines as DMs: each line with Keep and Revoke,
// a heading per person, and "Keep all" on the last message. note (a
// reminder, an escalation) leads the first message.
func Review(c gatehouse.Campaign, reviewer string, items []gatehouse.ReviewItem, note string) []ReviewMessage {
	var out []ReviewMessage
	var blocks []slack.Block
	lines, lastPerson := 0, ""
	shown := 0
	flush := func() {
		if len(blocks) > 0 {
			out = append(out, ReviewMessage{Blocks: blocks})
			blocks, lines, lastPerson = nil, 0, ""
		}
	}
	intro := func() {
		title := "Access review"
		if c.Name != "" {
			title += ": " + c.Name
		}
		blocks = append(blocks, header(title))
		if note != "" {
			blocks = append(blocks, contextMD("review-note", "⏰ "+esc(note)))
		}
		blocks = append(blocks, section("review-intro", fmt.Sprintf("Please review *%d* line(s) of access (%s) by *%s*. Keep what is still needed, Revoke what is not; revokes run at once, as audited runs.",
			len(items), esc(governance.ScopeText(c.Scope)), c.Deadline.Format("2 Jan 2006"))))
	}
	intro()
	for i, it := range items {
		if len(out) == MaxReviewMessages-1 && lines == reviewLinesPerMessage {
			break
		}
		need := 2
		if it.Email != lastPerson {
			need++
		}
		if lines == reviewLinesPerMessage || len(blocks)+need > MaxMessageBlocks-3 {
			flush()
		}
		if it.Email != lastPerson {
			lastPerson = it.Email
			blocks = append(blocks, section(fmt.Sprintf("review-person-%d", i), fmt.Sprintf("*%s* (%s)", esc(nameOr(it.Name, it.Email)), esc(it.Email))))
		}
		text := fmt.Sprintf("`%s` %s", esc(it.Ref().String()), riskBadge(it.Risk))
		if !it.GrantedAt.IsZero() {
			text += " · held since " + it.GrantedAt.Format("Jan 2006")
		}
		if n := len(it.EscalatedFrom); n > 0 {
			text += "\n    _escalated from " + esc(it.EscalatedFrom[n-1]) + "_"
		}
		revoke := button(ActReviewRevoke, ReviewRef(c.ID, it.ID), "Revoke", slack.StyleDanger)
		revoke.Confirm = slack.NewConfirmationBlockObject(plain("Revoke access?", 100),
			md(fmt.Sprintf("Take %s's `%s` away now.", esc(it.Email), esc(it.Ref().String()))), plain("Revoke", 30), plain("Cancel", 30))
		blocks = append(blocks, section(fmt.Sprintf("review-line-%d", i), text),
			slack.NewActionBlock(fmt.Sprintf("review-act-%d", i), button(ActReviewKeep, ReviewRef(c.ID, it.ID), "Keep", slack.StylePrimary), revoke))
		lines++
		shown++
	}
	if more := len(items) - shown; more > 0 {
		blocks = append(blocks, contextMD("review-more", fmt.Sprintf("…and %d more line(s): they come with the next reminder once these are decided, or use Keep all.", more)))
	}
	blocks = append(blocks, slack.NewActionBlock("review-keep-all", button(ActReviewKeepAll, ReviewRef(c.ID, "all"), "Keep all…", "")))
	flush()
	for i := range out {
		out[i].Text = fmt.Sprintf("Access review: %d line(s) to review by %s", len(items), c.Deadline.Format("2 Jan 2006"))
		if len(out) > 1 {
			out[i].Text += fmt.Sprintf(" (%d/%d)", i+1, len(out))
			out[i].Blocks = append(out[i].Blocks, contextMD("review-page", fmt.Sprintf("Part %d of %d · review %s · for %s", i+1, len(out), esc(c.ID), esc(reviewer))))
		} else {
			out[i].Blocks = append(out[i].Blocks, contextMD("review-page", fmt.Sprintf("Review %s · for %s", esc(c.ID), esc(reviewer))))
		}
	}
	return out
}

// ReviewProgress is the campaign's progress message in the IT channel.
func ReviewProgress(c gatehouse.Campaign) []slack.Block {
	title := "Access review " + c.ID
	if c.Name != "" {
		title = "Access review: " + c.Name
	}
	icon := map[gatehouse.CampaignStatus]string{gatehouse.CampaignOpen: "🔎", gatehouse.CampaignEscalated: "⚠️", gatehouse.CampaignClosed: "✅"}[c.Status]
	pct := 0
	if c.Items > 0 {
		pct = c.Decided * 100 / c.Items
	}
	bar := strings.Repeat("▰", pct/10) + strings.Repeat("▱", 10-pct/10)
	return []slack.Block{
		header(title),
		section("review-progress", fmt.Sprintf("%s *%s* · %s %d%%\n*%d/%d* decided · *%d* kept · *%d* revoked",
			icon, c.Status, bar, pct, c.Decided, c.Items, c.Kept, c.Revoked)),
		contextMD("review-facts", esc(governance.ScopeText(c.Scope)), fmt.Sprintf("deadline %s, then %s", c.Deadline.Format("2 Jan 2006 15:04 MST"), c.OnDeadline),
			"started by "+esc(c.CreatedBy), "`gatehouse review export "+esc(c.ID)+"` for the evidence"),
	}
}

// ReviewProgressText is the progress message's notification text.
func ReviewProgressText(c gatehouse.Campaign) string {
	return fmt.Sprintf("Access review %s: %d/%d decided, %d kept, %d revoked (%s)", c.ID, c.Decided, c.Items, c.Kept, c.Revoked, c.Status)
}

// ReviewKeepAllModal asks why every undecided line stays.
func ReviewKeepAllModal(c gatehouse.Campaign, n int) slack.ModalViewRequest {
	blocks := []slack.Block{
		section("keep-all-what", fmt.Sprintf("Keep all *%d* undecided line(s) you review in this access review. The reason is recorded on each line for the auditors.", n)),
		textInput(sh.FieldReviewReason, "Why does this access stay?", "", "e.g. team and duties unchanged this quarter", false, true, nil),
	}
	return modal(CallbackReviewKeepAll, "Keep all", "Keep all", ReviewRef(c.ID, "all"), blocks)
}

// ReviewLineDecided returns a reviewer's DM with the buttons of the decided
// line replaced by its outcome, so the card shows what is left to do. ok is
// false when the message holds no such line (nothing to edit).
func ReviewLineDecided(blocks []slack.Block, campaignID string, it gatehouse.ReviewItem) (out []slack.Block, ok bool) {
	ref := ReviewRef(campaignID, it.ID)
	out = make([]slack.Block, len(blocks))
	copy(out, blocks)
	for i, b := range out {
		ab, isAction := b.(*slack.ActionBlock)
		if !isAction || ab.Elements == nil {
			continue
		}
		for _, el := range ab.Elements.ElementSet {
			btn, isButton := el.(*slack.ButtonBlockElement)
			if !isButton || btn.Value != ref || (btn.ActionID != ActReviewKeep && btn.ActionID != ActReviewRevoke) {
				continue
			}
			what := "✅ Kept by " + esc(it.DecidedBy)
			if it.Decision == gatehouse.ReviewRevoke {
				what = "🚫 Revoked by " + esc(it.DecidedBy)
				if it.RunID != "" {
					what += " · run `" + esc(it.RunID) + "`"
				}
			}
			out[i] = contextMD(ab.BlockID, what)
			return out, true
		}
	}
	return blocks, false
}
