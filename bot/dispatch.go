package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// dedupeTTL is how long an event_id is remembered: Slack retries for
// minutes, not hours.
const dedupeTTL = 2 * time.Hour

// --- slash commands -------------------------------------------------------

func (b *Bot) onCommand(ctx context.Context, cmd slack.SlashCommand) {
	actor := b.dir.actor(ctx, cmd.UserID)
	reply := func(text string, blocks []slack.Block) {
		if err := b.api.respond(ctx, cmd.ResponseURL, text, blocks, false); err != nil {
			b.log.Warn().Err(err).Str("command", cmd.Command).Msg("reply to command failed")
		}
	}
	fail := func(err error) {
		b.logErr(err, "command "+cmd.Command)
		reply(sh.Message(err), nil)
	}
	if b.onIdentityCommand(ctx, cmd, actor, reply) {
		return
	}
	if b.onReviewCommand(ctx, cmd, actor, reply) {
		return
	}
	switch cmd.Command {
	case "/onboard":
		m, err := b.svc.Onboard(ctx, actor, cmd.Text)
		if err != nil {
			fail(err)
			return
		}
		b.open(ctx, cmd.TriggerID, cards.OnboardModal(m), reply)
	case "/offboard":
		m, err := b.svc.Offboard(ctx, actor, cmd.Text)
		if err != nil {
			fail(err)
			return
		}
		b.open(ctx, cmd.TriggerID, cards.OffboardModal(m), reply)
	case "/access":
		r, err := b.svc.Access(ctx, actor, cmd.Text)
		switch {
		case err != nil:
			fail(err)
		case r.Help:
			reply("Gatehouse commands", cards.Help())
		case r.Request != nil:
			b.open(ctx, cmd.TriggerID, cards.RequestModal(*r.Request), reply)
		case r.Why != nil:
			reply("Why "+r.Why.Ref.String(), cards.Why(*r.Why))
		case r.Access != nil:
			reply("Access", cards.Access(*r.Access))
		}
	default:
		reply(fmt.Sprintf("Gatehouse does not know %s.", cmd.Command), cards.Help())
	}
}

func (b *Bot) open(ctx context.Context, trigger string, v slack.ModalViewRequest, reply func(string, []slack.Block)) {
	if _, err := b.api.openView(ctx, trigger, v); err != nil {
		b.log.Warn().Err(err).Str("callback", v.CallbackID).Msg("views.open failed")
		if strings.Contains(err.Error(), "expired_trigger_id") {
			reply("Slack's window to open the form passed (Gatehouse was slow); please run the command again.", nil)
			return
		}
		reply("Gatehouse could not open the form; please try again.", nil)
	}
}

// logErr logs internal errors; user errors are expected and only debug-logged.
func (b *Bot) logErr(err error, what string) {
	var ue *sh.UserError
	var us *sh.UsageError
	var fe sh.FieldErrors
	if errors.As(err, &ue) || errors.As(err, &us) || errors.As(err, &fe) {
		b.log.Debug().Err(err).Str("what", what).Msg("refused")
		return
	}
	b.log.Error().Err(err).Str("what", what).Msg("failed")
}

// --- block actions --------------------------------------------------------

func (b *Bot) onInteraction(cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil {
			continue
		}
		a := *a
		key := cb.User.ID
		if a.Value != "" && (a.ActionID == cards.ActApprove || a.ActionID == cards.ActDeny || a.ActionID == cards.ActTaskDone || a.ActionID == cards.ActTaskCant) {
			key = a.Value // decisions on one record stay in order
		}
		b.enqueue(key, "action "+a.ActionID, func(ctx context.Context) { b.onAction(ctx, cb, a) }, nil)
	}
}

// tell answers the clicking user privately: through the response_url on
// messages, else by DM (Home tab and modal clicks have no response_url).
//
// The answer is posted from the answers lane (sharded by response_url), so
// the click's own lane — where decisions on one record are serialized —
// moves on at once.
func (b *Bot) tell(ctx context.Context, cb slack.InteractionCallback, text string) {
	send := func(ctx context.Context) {
		if cb.ResponseURL != "" {
			if err := b.api.respond(ctx, cb.ResponseURL, text, nil, false); err == nil {
				return
			}
		}
		b.dmText(ctx, cb.User.ID, text)
	}
	key := cb.ResponseURL
	if key == "" {
		key = "dm:" + cb.User.ID
	}
	if err := b.answers.push(job{key: key, name: "answer", fn: send}, 0); err != nil {
		send(ctx) // full or closing: answer from this lane rather than not at all
	}
}

func (b *Bot) dmText(ctx context.Context, user, text string) {
	ch, err := b.api.dm(ctx, user)
	if err == nil {
		_, err = b.api.post(ctx, ch, text, cards.Notice(text))
	}
	if err != nil {
		b.log.Warn().Err(err).Str("user", user).Msg("DM failed")
	}
}

func (b *Bot) onAction(ctx context.Context, cb slack.InteractionCallback, a slack.BlockAction) {
	actor := b.dir.actor(ctx, cb.User.ID)
	fail := func(err error) {
		b.logErr(err, "action "+a.ActionID)
		b.tell(ctx, cb, sh.Message(err))
	}
	reply := func(text string, _ []slack.Block) { b.tell(ctx, cb, text) }
	if b.onDigestAction(ctx, cb, a, actor) {
		return
	}
	if b.onIdentityAction(ctx, cb, a, actor) {
		return
	}
	if b.onReviewAction(ctx, cb, a, actor) {
		return
	}
	switch a.ActionID {
	case cards.ActApprove:
		ap, err := b.svc.Decide(ctx, actor, a.Value, true, "")
		if err != nil {
			fail(err)
			if sh.Stale(err) {
				b.refreshApprovalLater(ap.ID) // make sure the card shows the outcome
			}
			return
		}
		b.refreshApprovalLater(ap.ID)
		if ap.Status == gatehouse.ApprovalPending {
			b.tell(ctx, cb, "Thanks — your approval is recorded; the request waits for a second approver.")
		}
	case cards.ActDeny:
		ap, err := b.svc.PrepareDeny(actor, a.Value)
		if err != nil {
			fail(err)
			return
		}
		b.open(ctx, cb.TriggerID, cards.DenyModal(ap.ID, approvalSummary(ap)), reply)
	case cards.ActTaskDone, cards.ActTaskCant:
		t, err := b.svc.CheckTask(actor, a.Value)
		if err != nil {
			fail(err)
			return
		}
		b.open(ctx, cb.TriggerID, cards.TaskModal(t.ID, a.ActionID == cards.ActTaskDone, t.Title), reply)
	case cards.InputAction:
		if cb.View.CallbackID != cards.CallbackOnboard {
			return
		}
		fallthrough
	case cards.ActPreview:
		form := b.onboardForm(ctx, cb.View.State)
		m := b.svc.PreviewOnboard(ctx, actor, form)
		if err := b.api.updateView(ctx, cards.OnboardModal(m), cb.View.ID, cb.View.Hash); err != nil {
			b.log.Warn().Err(err).Msg("preview views.update failed")
		}
	case cards.ActReleaseHeld, cards.ActDiscardHeld:
		b.onHeld(ctx, cb, actor, a.Value, a.ActionID == cards.ActReleaseHeld)
	case cards.ActHomeRefresh:
		b.publishHome(ctx, actor)
	case cards.ActOpenRequest:
		r, err := b.svc.Access(ctx, actor, "request")
		if err != nil {
			fail(err)
			return
		}
		b.open(ctx, cb.TriggerID, cards.RequestModal(*r.Request), reply)
	}
}

func approvalSummary(a gatehouse.Approval) string {
	refs := make([]string, 0, len(a.Items))
	for _, it := range a.Items {
		refs = append(refs, it.Ref().String())
	}
	return a.IdentityKey + ": " + strings.Join(refs, ", ")
}

// --- view submissions -----------------------------------------------------

// onSubmission validates a modal before acking it, so that errors appear
// inline (response_action: errors), and queues the slow part. The check
// runs off the receive loop, bounded by SubmitBudget.
func (b *Bot) onSubmission(ctx context.Context, sm *socketmode.Client, req *socketmode.Request, cb slack.InteractionCallback) {
	b.syncWG.Add(1)
	go func() {
		defer b.syncWG.Done()
		b.syncSem <- struct{}{}
		defer func() { <-b.syncSem }()
		vctx, cancel := context.WithTimeout(ctx, b.cfg.SubmitBudget)
		defer cancel()
		var payload any
		var next func(context.Context)
		func() {
			defer func() {
				if r := recover(); r != nil {
					b.log.Error().Interface("panic", r).Msg("submission check panicked")
					payload, next = nil, nil
				}
			}()
			payload, next = b.checkSubmission(vctx, cb)
		}()
		b.ack(sm, req, payload)
		if next != nil {
			b.enqueue(cb.User.ID, "submit "+cb.View.CallbackID, next, func() {
				b.dmText(context.Background(), cb.User.ID, "Gatehouse is very busy and dropped your form; please submit it again.")
			})
		}
	}()
}

func errorsAck(errs sh.FieldErrors) any {
	return slack.NewErrorsViewSubmissionResponse(map[string]string(errs))
}

// checkSubmission returns the ack payload (nil closes the modal) and the
// work to queue after the ack.
func (b *Bot) checkSubmission(ctx context.Context, cb slack.InteractionCallback) (any, func(context.Context)) {
	actor := b.dir.actor(ctx, cb.User.ID)
	st := cb.View.State
	report := func(ctx context.Context, err error, what string) {
		b.logErr(err, what)
		var fe sh.FieldErrors
		msg := sh.Message(err)
		if errors.As(err, &fe) {
			msg = "Your form was not accepted: " + fe.Error()
		}
		b.dmText(ctx, cb.User.ID, msg)
	}
	if payload, next, ok := b.checkDigestSubmission(ctx, cb, actor); ok {
		return payload, next
	}
	if payload, next, ok := b.checkIdentitySubmission(ctx, cb, actor); ok {
		return payload, next
	}
	if payload, next, ok := b.checkReviewSubmission(cb, actor); ok {
		return payload, next
	}
	switch cb.View.CallbackID {
	case cards.CallbackOnboard:
		form := b.onboardForm(ctx, st)
		if _, errs := b.svc.ValidateOnboard(form); errs != nil {
			return errorsAck(errs), nil
		}
		return nil, func(ctx context.Context) {
			run, err := b.svc.SubmitOnboard(ctx, actor, form, cb.View.ID)
			if err != nil {
				report(ctx, err, "onboard")
				return
			}
			b.dmText(ctx, cb.User.ID, fmt.Sprintf("Onboarding of %s started (run %s). Progress is posted in the IT channel.", form.Email, run.ID))
			b.startProgress(ctx, run)
		}
	case cards.CallbackOffboard:
		form := b.offboardForm(ctx, cb.View.PrivateMetadata, st)
		if errs := b.svc.ValidateOffboard(form); errs != nil {
			return errorsAck(errs), nil
		}
		return nil, func(ctx context.Context) {
			run, id, err := b.svc.SubmitOffboard(ctx, actor, form, cb.View.ID)
			if err != nil {
				report(ctx, err, "offboard")
				return
			}
			b.dmText(ctx, cb.User.ID, fmt.Sprintf("Offboarding of %s started (run %s). Progress is posted in the IT channel.", id.Email, run.ID))
			b.startProgress(ctx, run)
		}
	case cards.CallbackRequest:
		form := sh.RequestForm{App: value(st, sh.FieldEntitlement), Duration: value(st, sh.FieldDuration), Justification: value(st, sh.FieldJustification)}
		if _, err := b.svc.ValidateRequest(actor, form); err != nil {
			var fe sh.FieldErrors
			if errors.As(err, &fe) {
				return errorsAck(fe), nil
			}
			return errorsAck(sh.FieldErrors{sh.FieldEntitlement: sh.Message(err)}), nil
		}
		return nil, func(ctx context.Context) {
			run, err := b.svc.SubmitRequest(ctx, actor, form, cb.View.ID)
			if err != nil {
				report(ctx, err, "request")
				return
			}
			b.dmText(ctx, cb.User.ID, fmt.Sprintf("Your request for %s is with its approvers (run %s). You will hear back here.", form.App, run.ID))
		}
	case cards.CallbackDeny:
		reason := strings.TrimSpace(value(st, sh.FieldReason))
		if reason == "" {
			return errorsAck(sh.FieldErrors{sh.FieldReason: "Say why, so the requester knows what to do next."}), nil
		}
		id := cb.View.PrivateMetadata
		return nil, func(ctx context.Context) {
			if _, err := b.svc.Decide(ctx, actor, id, false, reason); err != nil {
				report(ctx, err, "deny")
			}
			b.refreshApprovalLater(id)
		}
	case cards.CallbackTask:
		note := strings.TrimSpace(value(st, sh.FieldEvidence))
		if note == "" {
			return errorsAck(sh.FieldErrors{sh.FieldEvidence: "Add a note: what you did, or why it cannot be done."}), nil
		}
		kind, id, _ := strings.Cut(cb.View.PrivateMetadata, ":")
		return nil, func(ctx context.Context) {
			t, err := b.svc.CompleteTask(ctx, actor, id, kind == "done", note)
			if err != nil {
				report(ctx, err, "task")
				return
			}
			b.refreshTask(ctx, t)
		}
	}
	b.log.Warn().Str("callback", cb.View.CallbackID).Msg("submission of an unknown view; closing it")
	return nil, nil
}

// value reads one input's value from a view state, whatever its element.
func value(st *slack.ViewState, block string) string {
	if st == nil {
		return ""
	}
	for _, a := range st.Values[block] {
		switch {
		case a.Value != "":
			return a.Value
		case a.SelectedOption.Value != "":
			return a.SelectedOption.Value
		case a.SelectedUser != "":
			return a.SelectedUser
		case a.SelectedDate != "":
			return a.SelectedDate
		}
	}
	return ""
}

// onboardForm reads the onboard modal, resolving the picked manager to an
// email through the directory.
func (b *Bot) onboardForm(ctx context.Context, st *slack.ViewState) sh.OnboardForm {
	f := sh.OnboardForm{
		Name: value(st, sh.FieldName), Email: value(st, sh.FieldEmail), Title: value(st, sh.FieldTitle),
		Department: value(st, sh.FieldDepartment), Team: value(st, sh.FieldTeam), Location: value(st, sh.FieldLocation),
		StartDate: value(st, sh.FieldStartDate), Kind: value(st, sh.FieldKind), EndDate: value(st, sh.FieldEndDate),
		ManagerUserID: value(st, sh.FieldManager),
	}
	if st != nil {
		for block := range st.Values {
			if name, ok := strings.CutPrefix(block, sh.FieldAttrPrefix); ok && name != "" {
				if f.Attributes == nil {
					f.Attributes = map[string]string{}
				}
				f.Attributes[name] = value(st, block)
			}
		}
	}
	if f.ManagerUserID != "" {
		// users.info through the bot's client (users:read.email): the
		// manager is recorded by email and need not be known to Gatehouse.
		f.ManagerEmail, _ = b.dir.EmailOf(ctx, f.ManagerUserID)
	}
	return f
}

func (b *Bot) offboardForm(ctx context.Context, key string, st *slack.ViewState) sh.OffboardForm {
	f := sh.OffboardForm{IdentityKey: key, TransferToUserID: value(st, sh.FieldTransferTo),
		EffectiveDate: value(st, sh.FieldEffective), Reason: value(st, sh.FieldReason)}
	if f.TransferToUserID != "" {
		f.TransferToEmail, _ = b.dir.EmailOf(ctx, f.TransferToUserID)
	}
	return f
}

// --- Events API -----------------------------------------------------------

func (b *Bot) onEvent(evt socketmode.Event) {
	ev, ok := evt.Data.(slackevents.EventsAPIEvent)
	if !ok {
		return
	}
	if cbe, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok && cbe.EventID != "" {
		if b.seen(cbe.EventID) {
			b.log.Debug().Str("event_id", cbe.EventID).Msg("redelivered event dropped")
			return
		}
	}
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.UserChangeEvent:
		// An email changed or an account was deactivated: rights are
		// decided on emails, so forget what the directory cached.
		b.dir.forget(inner.User.ID)
	case *slackevents.AppHomeOpenedEvent:
		if inner.Tab != "" && inner.Tab != "home" {
			return
		}
		user := inner.User
		b.enqueue(user, "home", func(ctx context.Context) { b.publishHome(ctx, b.dir.actor(ctx, user)) }, nil)
	}
}

// seen dedupes Events API deliveries on event_id: in memory first, then
// durably through the store so a restart between delivery and retry does
// not act twice.
func (b *Bot) seen(eventID string) bool {
	now := b.now()
	if _, loaded := b.dedupe.LoadOrStore(eventID, now); loaded {
		return true
	}
	if b.dedupeN.Add(1)%1024 == 0 {
		// Forget old ids now and then; the store remembers them durably.
		b.dedupe.Range(func(k, v any) bool {
			if now.Sub(v.(time.Time)) > dedupeTTL {
				b.dedupe.Delete(k)
			}
			return true
		})
	}
	if b.store != nil {
		already, err := b.store.MarkSeen("slack:event:"+eventID, dedupeTTL)
		if err != nil {
			b.log.Warn().Err(err).Msg("persist dedupe key failed")
		}
		if already {
			return true
		}
	}
	return false
}

func (b *Bot) publishHome(ctx context.Context, actor sh.Actor) {
	m, err := b.svc.Home(ctx, actor)
	if err != nil {
		b.logErr(err, "home")
		return
	}
	if err := b.api.publishHome(ctx, actor.UserID, cards.Home(m)); err != nil {
		b.log.Warn().Err(err).Msg("views.publish failed")
	}
}
