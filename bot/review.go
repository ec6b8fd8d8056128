package bot

import (
	"context"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/slack-go/slack"
)

// ReviewNotifier returns what the governance reviews tell people through:
// reviewer DMs and the campaign's progress message in the IT channel.
func (b *Bot) ReviewNotifier() governance.ReviewNotifier { return reviewNotifier{b} }

type reviewNotifier struct{ b *Bot }

// ReviewAssigned DMs the reviewer their lines (several messages when there
// are many), or posts them in the IT channel when they are not on Slack.
func (n reviewNotifier) ReviewAssigned(ctx context.Context, c gatehouse.Campaign, reviewer string, items []gatehouse.ReviewItem, note string) {
	b := n.b
	b.enqueue("review:"+c.ID+":"+reviewer, "review assigned", func(ctx context.Context) {
		ch, inIT := b.recipient(ctx, reviewer)
		if ch == "" {
			return
		}
		for _, m := range cards.Review(c, reviewer, items, note) {
			text, blocks := m.Text, m.Blocks
			if inIT {
				text = "For " + reviewer + ": " + text
				blocks = append([]slack.Block{slack.NewContextBlock("for", slack.NewTextBlockObject(slack.MarkdownType,
					"Reviewer "+reviewer+" is not on Slack; IT can decide these lines.", false, false))}, blocks...)
			}
			if _, err := b.api.post(ctx, ch, text, blocks); err != nil {
				b.log.Warn().Err(err).Str("campaign", c.ID).Str("reviewer", reviewer).Msg("post review card")
				return
			}
		}
	}, nil)
}

// CampaignChanged posts the campaign's progress in the IT channel the
// first time and edits that message afterwards. Updates of one campaign
// run in order on one lane, and each reads the campaign as stored, so a
// burst of clicks ends with the latest counts.
func (n reviewNotifier) CampaignChanged(ctx context.Context, c gatehouse.Campaign) {
	b := n.b
	if b.cfg.Reviews == nil || b.cfg.ITChannel == "" {
		return
	}
	b.enqueue("campaign:"+c.ID, "review progress", func(ctx context.Context) {
		cur, err := b.cfg.Reviews.Gov.Campaign(c.ID)
		if err != nil {
			b.log.Warn().Err(err).Str("campaign", c.ID).Msg("read campaign for progress")
			return
		}
		text, blocks := cards.ReviewProgressText(cur), cards.ReviewProgress(cur)
		if cur.Progress.TS != "" {
			if err := b.api.update(ctx, cur.Progress, text, blocks); err != nil {
				b.log.Warn().Err(err).Str("campaign", c.ID).Msg("update review progress")
			}
			return
		}
		ref, err := b.api.post(ctx, b.cfg.ITChannel, text, blocks)
		if err != nil {
			b.log.Warn().Err(err).Str("campaign", c.ID).Msg("post review progress")
			return
		}
		if err := b.cfg.Reviews.Gov.SetProgress(c.ID, ref); err != nil {
			b.log.Warn().Err(err).Str("campaign", c.ID).Msg("record review progress message")
		}
	}, nil)
}

// onReviewCommand answers "/access review …"; it reports whether the
// command was one.
func (b *Bot) onReviewCommand(ctx context.Context, cmd slack.SlashCommand, actor sh.Actor, reply func(string, []slack.Block)) bool {
	if cmd.Command != "/access" || !sh.IsReviewCommand(cmd.Text) {
		return false
	}
	if b.cfg.Reviews == nil {
		reply("Access reviews are not enabled on this Gatehouse.", nil)
		return true
	}
	msg, err := b.cfg.Reviews.Command(ctx, actor, cmd.Text)
	if err != nil {
		b.logErr(err, "command /access review")
		msg = sh.Message(err)
	}
	reply(msg, cards.Notice(msg))
	return true
}

// onReviewAction handles the review cards' buttons; it reports whether the
// action was one of them.
func (b *Bot) onReviewAction(ctx context.Context, cb slack.InteractionCallback, a slack.BlockAction, actor sh.Actor) bool {
	switch a.ActionID {
	case cards.ActReviewKeep, cards.ActReviewRevoke, cards.ActReviewKeepAll:
	default:
		return false
	}
	if b.cfg.Reviews == nil {
		b.tell(ctx, cb, "Access reviews are not enabled on this Gatehouse.")
		return true
	}
	campaignID, item, ok := cards.ParseReviewRef(a.Value)
	if !ok {
		b.log.Warn().Str("action", a.ActionID).Msg("review click with a malformed value")
		b.tell(ctx, cb, "Gatehouse could not read that button; nothing was changed.")
		return true
	}
	fail := func(err error) {
		b.logErr(err, "review "+a.ActionID)
		b.tell(ctx, cb, sh.Message(err))
	}
	switch a.ActionID {
	case cards.ActReviewKeepAll:
		c, n, err := b.cfg.Reviews.KeepAllForm(actor, campaignID)
		if err != nil {
			fail(err)
			return true
		}
		b.open(ctx, cb.TriggerID, cards.ReviewKeepAllModal(c, n), func(text string, _ []slack.Block) { b.tell(ctx, cb, text) })
	default:
		d := gatehouse.ReviewKeep
		if a.ActionID == cards.ActReviewRevoke {
			d = gatehouse.ReviewRevoke
		}
		it, msg, err := b.cfg.Reviews.Decide(ctx, actor, campaignID, item, d)
		if err != nil {
			fail(err)
			return true
		}
		b.tell(ctx, cb, msg)
		// The card shows the outcome in place of the line's buttons.
		if cb.Message.Timestamp != "" && cb.Channel.ID != "" {
			if blocks, ok := cards.ReviewLineDecided(cb.Message.Blocks.BlockSet, campaignID, it); ok {
				ref := gatehouse.MessageRef{Channel: cb.Channel.ID, TS: cb.Message.Timestamp}
				if err := b.api.update(ctx, ref, cb.Message.Text, blocks); err != nil {
					b.log.Warn().Err(err).Str("campaign", campaignID).Msg("update review card")
				}
			}
		}
	}
	return true
}

// checkReviewSubmission validates the Keep all modal; ok is false for
// other views.
func (b *Bot) checkReviewSubmission(cb slack.InteractionCallback, actor sh.Actor) (payload any, next func(context.Context), ok bool) {
	if cb.View.CallbackID != cards.CallbackReviewKeepAll {
		return nil, nil, false
	}
	campaignID, _, valid := cards.ParseReviewRef(cb.View.PrivateMetadata)
	if !valid || b.cfg.Reviews == nil {
		b.log.Warn().Str("callback", cb.View.CallbackID).Msg("review form without a campaign reference; closing it")
		return nil, nil, true
	}
	reason := strings.TrimSpace(value(cb.View.State, sh.FieldReviewReason))
	if errs := sh.ValidateKeepAll(reason); errs != nil {
		return errorsAck(errs), nil, true
	}
	return nil, func(ctx context.Context) {
		msg, err := b.cfg.Reviews.KeepAll(ctx, actor, campaignID, reason)
		if err != nil {
			b.logErr(err, cb.View.CallbackID)
			msg = sh.Message(err)
		}
		b.dmText(ctx, cb.User.ID, msg)
	}, true
}
