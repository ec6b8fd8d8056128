package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/slack-go/slack"
)

// onIdentityCommand answers /identity; it reports whether the command was it.
func (b *Bot) onIdentityCommand(ctx context.Context, cmd slack.SlashCommand, actor sh.Actor, reply func(string, []slack.Block)) bool {
	if cmd.Command != "/identity" {
		return false
	}
	r, err := b.svc.Identity(ctx, actor, cmd.Text)
	switch {
	case err != nil:
		b.logErr(err, "command /identity")
		reply(sh.Message(err), nil)
	case r.Register != nil:
		b.open(ctx, cmd.TriggerID, cards.IdentityRegisterModal(*r.Register), reply)
	case r.Help:
		reply("Usage: `/identity register` (a service account, bot or AI agent) or `/identity list [service_account|bot|ai_agent]`.", nil)
	default:
		reply("Non-human identities", cards.IdentityList(r.List))
	}
	return true
}

// onIdentityAction handles the attestation, hand-off and Extend buttons; it
// reports whether the action was one of them. The engine re-checks every
// click against the stored identity or grant.
func (b *Bot) onIdentityAction(ctx context.Context, cb slack.InteractionCallback, a slack.BlockAction, actor sh.Actor) bool {
	var do func() (string, error)
	handoff := false
	switch a.ActionID {
	case cards.ActNHAttest:
		do = func() (string, error) { return b.svc.Attest(ctx, actor, a.Value) }
	case cards.ActNHRetire:
		do = func() (string, error) { return b.svc.Retire(ctx, actor, a.Value) }
	case cards.ActNHAccept:
		handoff = true
		do = func() (string, error) { return b.svc.AcceptOwnership(ctx, actor, a.Value) }
	case cards.ActExtend:
		m, err := b.svc.CheckExtend(actor, a.Value)
		if err != nil {
			b.logErr(err, "extend")
			b.tell(ctx, cb, sh.Message(err))
			return true
		}
		b.open(ctx, cb.TriggerID, cards.ExtendModal(m), func(text string, _ []slack.Block) { b.tell(ctx, cb, text) })
		return true
	default:
		return false
	}
	msg, err := do()
	if err != nil {
		b.logErr(err, "action "+a.ActionID)
		b.tell(ctx, cb, sh.Message(err))
		return true
	}
	// The card keeps its facts and loses its buttons: the question is answered.
	if cb.Channel.ID != "" && cb.Message.Timestamp != "" {
		if m, err := b.svc.NonHumanCard(a.Value, handoff || a.ActionID == cards.ActNHRetire); err == nil {
			m.Handoff, m.Done, m.Note = handoff, true, msg
			_ = b.api.update(ctx, gatehouse.MessageRef{Channel: cb.Channel.ID, TS: cb.Message.Timestamp}, cards.NonHumanText(m), cards.NonHuman(m))
		}
	}
	b.tell(ctx, cb, msg)
	return true
}

// checkIdentitySubmission validates the register and Extend modals; ok is
// false for other views.
func (b *Bot) checkIdentitySubmission(ctx context.Context, cb slack.InteractionCallback, actor sh.Actor) (payload any, next func(context.Context), ok bool) {
	st := cb.View.State
	report := func(ctx context.Context, msg string, err error) {
		if err != nil {
			b.logErr(err, cb.View.CallbackID)
			msg = sh.Message(err)
		}
		b.dmText(ctx, cb.User.ID, msg)
	}
	switch cb.View.CallbackID {
	case cards.CallbackIdentityRegister:
		form := sh.RegisterForm{Kind: value(st, sh.FieldNHKind), Name: value(st, sh.FieldNHName), Email: value(st, sh.FieldNHEmail),
			Purpose: value(st, sh.FieldNHPurpose), Expiry: value(st, sh.FieldNHExpiry), OwnerUserID: value(st, sh.FieldNHOwner),
			Access: multiValues(st, sh.FieldNHAccess)}
		if form.OwnerUserID != "" {
			// The owner is recorded by email, resolved through the directory.
			form.OwnerEmail, _ = b.dir.EmailOf(ctx, form.OwnerUserID)
		}
		if _, errs := b.svc.ValidateRegister(form); errs != nil {
			return errorsAck(errs), nil, true
		}
		return nil, func(ctx context.Context) {
			reg, err := b.svc.SubmitRegister(ctx, actor, form, cb.View.ID)
			if err != nil {
				report(ctx, "", err)
				return
			}
			report(ctx, registeredText(reg), nil)
			b.startProgress(ctx, reg.Joiner)
		}, true
	case cards.CallbackExtend:
		dur, why := value(st, sh.FieldDuration), value(st, sh.FieldJustification)
		if errs, valid := sh.ValidateExtend(dur, why); !valid {
			return errorsAck(errs), nil, true
		}
		ref := cb.View.PrivateMetadata
		return nil, func(ctx context.Context) {
			run, err := b.svc.SubmitExtend(ctx, actor, ref, dur, why, cb.View.ID)
			if err != nil {
				report(ctx, "", err)
				return
			}
			report(ctx, fmt.Sprintf("Your extension is with its approvers (run %s); the access keeps its current end until they agree.", run.ID), nil)
		}, true
	}
	return nil, nil, false
}

func registeredText(reg lifecycle.Registered) string {
	s := fmt.Sprintf("%s is registered (owner %s, expires %s). Its access is being set up (run %s)", reg.Identity.Email, reg.Identity.Owner, reg.Identity.Expiry, reg.Joiner.ID)
	if reg.Request != nil {
		s += fmt.Sprintf("; the access you asked for follows its approvals (run %s)", reg.Request.ID)
	}
	return s + "."
}

// multiValues reads a multi-select (or a comma-separated text input).
func multiValues(st *slack.ViewState, block string) []string {
	if st == nil {
		return nil
	}
	var out []string
	for _, a := range st.Values[block] {
		for _, o := range a.SelectedOptions {
			out = append(out, o.Value)
		}
		if a.Value != "" {
			for _, p := range strings.Split(a.Value, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// remindNonHuman DMs the owner's attestation card ("owner_attest") or the
// hand-off card to the person asked to take over ("owner_handoff").
func (b *Bot) remindNonHuman(ctx context.Context, kind, key string) {
	handoff := kind == "owner_handoff"
	m, err := b.svc.NonHumanCard(key, handoff)
	if err != nil {
		b.log.Warn().Err(err).Str("identity", key).Msg("non-human card")
		return
	}
	to := m.Identity.Owner
	if handoff {
		to = m.Identity.Attr(lifecycle.AttrHandoffTo)
	}
	if to == "" {
		return
	}
	uid, err := b.dir.UserIDOf(ctx, to)
	if err != nil {
		b.log.Warn().Err(err).Str("to", to).Msg("no Slack user for a non-human's owner")
		return
	}
	ch, err := b.api.dm(ctx, uid)
	if err == nil {
		_, err = b.api.post(ctx, ch, cards.NonHumanText(m), cards.NonHuman(m))
	}
	if err != nil {
		b.log.Warn().Err(err).Str("identity", key).Msg("post non-human card")
	}
}
