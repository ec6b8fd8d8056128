package bot

import (
	"context"
	"fmt"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
	"github.com/slack-go/slack"
)

// PostDigest posts a governance digest to channel: the summary, then every
// section as replies in its thread, paced like every channel post (about one
// a second per channel, 429s honoured). It returns where each message went,
// summary first; a failure part-way returns what was posted and the error.
func (b *Bot) PostDigest(ctx context.Context, channel string, d governance.Digest, maxItems int) ([]gatehouse.MessageRef, error) {
	msgs := cards.Digest(d, maxItems)
	var refs []gatehouse.MessageRef
	for i, m := range msgs {
		var ref gatehouse.MessageRef
		var err error
		if i == 0 {
			ref, err = b.api.post(ctx, channel, m.Text, m.Blocks)
		} else {
			ref, err = b.api.postInThread(ctx, refs[0], m.Text, m.Blocks)
		}
		if err != nil {
			return refs, fmt.Errorf("post digest %s (%s, message %d of %d): %w", d.ID, m.Section, i+1, len(msgs), err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// postInThread replies in the thread of parent.
func (a *api) postInThread(ctx context.Context, parent gatehouse.MessageRef, text string, blocks []slack.Block) (gatehouse.MessageRef, error) {
	if err := a.pace(ctx, parent.Channel); err != nil {
		return gatehouse.MessageRef{}, err
	}
	var ch, ts string
	err := a.retry(ctx, "chat.postMessage", func() (err error) {
		ch, ts, err = a.c.PostMessageContext(ctx, parent.Channel, append(msgOpts(text, blocks), slack.MsgOptionTS(parent.TS))...)
		return err
	})
	return gatehouse.MessageRef{Channel: ch, TS: ts}, err
}

// onDigestAction handles the digest's buttons; it reports whether the
// action was one of them.
func (b *Bot) onDigestAction(ctx context.Context, cb slack.InteractionCallback, a slack.BlockAction, actor sh.Actor) bool {
	switch a.ActionID {
	case cards.ActDigestRevoke, cards.ActDigestKeep, cards.ActDigestRevokeApp, cards.ActDigestDisable, cards.ActDigestAssign:
	default:
		return false
	}
	fail := func(err error) {
		b.logErr(err, "digest "+a.ActionID)
		b.tell(ctx, cb, sh.Message(err))
	}
	reply := func(text string, _ []slack.Block) { b.tell(ctx, cb, text) }
	if b.cfg.Digests == nil {
		b.tell(ctx, cb, "The governance digest is not enabled on this Gatehouse.")
		return true
	}
	digestID, item, ok := cards.ParseDigestRef(a.Value)
	if !ok {
		b.log.Warn().Str("action", a.ActionID).Msg("digest click with a malformed value")
		b.tell(ctx, cb, "Gatehouse could not read that button; nothing was changed.")
		return true
	}
	switch a.ActionID {
	case cards.ActDigestRevoke:
		msg, err := b.cfg.Digests.Revoke(ctx, actor, digestID, item)
		if err != nil {
			fail(err)
			return true
		}
		b.tell(ctx, cb, msg)
	case cards.ActDigestKeep:
		it, err := b.cfg.Digests.KeepForm(actor, digestID, item)
		if err != nil {
			fail(err)
			return true
		}
		b.open(ctx, cb.TriggerID, cards.DigestKeepModal(digestID, it), reply)
	case cards.ActDigestRevokeApp:
		d, err := b.cfg.Digests.RevokeAppForm(actor, digestID, item)
		if err != nil {
			fail(err)
			return true
		}
		b.open(ctx, cb.TriggerID, cards.DigestRevokeAppModal(d, item), reply)
	case cards.ActDigestDisable:
		msg, err := b.cfg.Digests.Disable(ctx, actor, digestID, item)
		if err != nil {
			fail(err)
			return true
		}
		b.tell(ctx, cb, msg)
	case cards.ActDigestAssign:
		o, err := b.cfg.Digests.AssignForm(actor, digestID, item)
		if err != nil {
			fail(err)
			return true
		}
		b.open(ctx, cb.TriggerID, cards.DigestAssignModal(digestID, o), reply)
	}
	return true
}

// checkDigestSubmission validates the digest's modals; ok is false for
// other views.
func (b *Bot) checkDigestSubmission(ctx context.Context, cb slack.InteractionCallback, actor sh.Actor) (payload any, next func(context.Context), ok bool) {
	switch cb.View.CallbackID {
	case cards.CallbackDigestKeep, cards.CallbackDigestRevokeApp, cards.CallbackDigestAssign:
	default:
		return nil, nil, false
	}
	digestID, item, valid := cards.ParseDigestRef(cb.View.PrivateMetadata)
	if !valid || b.cfg.Digests == nil {
		b.log.Warn().Str("callback", cb.View.CallbackID).Msg("digest form without a digest reference; closing it")
		return nil, nil, true
	}
	report := func(ctx context.Context, msg string, err error) {
		if err != nil {
			b.logErr(err, cb.View.CallbackID)
			msg = sh.Message(err)
		}
		b.dmText(ctx, cb.User.ID, msg)
	}
	if cb.View.CallbackID == cards.CallbackDigestAssign {
		uid := value(cb.View.State, sh.FieldOwner)
		email, err := b.dir.EmailOf(ctx, uid)
		if uid == "" || err != nil || email == "" {
			return errorsAck(sh.FieldErrors{sh.FieldOwner: "Pick the person who owns this account (Gatehouse could not find their email)."}), nil, true
		}
		return nil, func(ctx context.Context) {
			msg, err := b.cfg.Digests.Assign(actor, digestID, item, email)
			report(ctx, msg, err)
		}, true
	}
	if cb.View.CallbackID == cards.CallbackDigestKeep {
		reason := value(cb.View.State, sh.FieldKeepReason)
		days, errs := sh.ValidateKeep(reason, value(cb.View.State, sh.FieldKeepDays))
		if errs != nil {
			return errorsAck(errs), nil, true
		}
		return nil, func(ctx context.Context) {
			msg, err := b.cfg.Digests.Keep(actor, digestID, item, reason, days)
			report(ctx, msg, err)
		}, true
	}
	return nil, func(ctx context.Context) {
		msg, err := b.cfg.Digests.RevokeApp(ctx, actor, digestID, item)
		report(ctx, msg, err)
	}, true
}
