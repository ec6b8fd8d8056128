package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/handlers/hr"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
)

// HRNotifier is the bot's side of the HR intake's notifications: the new
// hire's manager hears that accounts are being prepared, the IT channel
// hears about terminations and ambiguous records, and held mass changes
// get a card with Release / Discard.
type HRNotifier struct {
	b       *Bot
	channel string
}

var _ hr.Notifier = (*HRNotifier)(nil)

// HRNotifier returns the notifier for the HR intake; channel is where IT
// notifications go (hr.notify_channel, default the IT channel).
func (b *Bot) HRNotifier(channel string) *HRNotifier {
	if channel == "" {
		channel = b.cfg.ITChannel
	}
	return &HRNotifier{b: b, channel: channel}
}

func (n *HRNotifier) post(key, text string, blocks []slack.Block) {
	b := n.b
	if n.channel == "" {
		return
	}
	b.enqueueOn(b.cardQueue, key, "hr notice", func(ctx context.Context) {
		if _, err := b.api.post(ctx, n.channel, text, blocks); err != nil {
			b.log.Warn().Err(err).Msg("post HR notice")
		}
	}, nil)
}

// NewHirePlanned implements hr.Notifier.
func (n *HRNotifier) NewHirePlanned(ctx context.Context, id gatehouse.Identity, run gatehouse.Run) error {
	b := n.b
	if id.ManagerEmail == "" {
		return nil
	}
	b.enqueue("hr:"+id.Key(), "new hire", func(ctx context.Context) {
		uid, err := b.dir.UserIDOf(ctx, id.ManagerEmail)
		if err != nil {
			return
		}
		when := "on their start date"
		if !run.NotBefore.IsZero() {
			when = "from " + run.NotBefore.UTC().Format("2006-01-02 15:04 UTC")
		}
		b.dmText(ctx, uid, fmt.Sprintf("%s starts soon: Gatehouse prepares their accounts %s (run %s). You may get approval requests for sensitive access.", nameOf(id), when, run.ID))
	}, nil)
	return nil
}

// TerminationReceived implements hr.Notifier.
func (n *HRNotifier) TerminationReceived(ctx context.Context, id gatehouse.Identity, at time.Time) error {
	when := "now"
	if !at.IsZero() {
		when = at.UTC().Format("2006-01-02 15:04 UTC")
	}
	text := fmt.Sprintf("HR reported %s (%s) as leaving; access closes %s. A progress card follows when the run starts.", nameOf(id), id.Email, when)
	n.post("hr:"+id.Key(), text, cards.Notice(text))
	return nil
}

// AmbiguousMatch implements hr.Notifier.
func (n *HRNotifier) AmbiguousMatch(ctx context.Context, a hr.Ambiguity) error {
	text := fmt.Sprintf("HR source %s sent a record Gatehouse would not guess about (employee id %s, %s): %s. Candidates: %v. Resolve it in the HR system or with the CLI.",
		a.Source, a.EmployeeID, a.Email, a.Reason, a.Candidates)
	n.post("hr:ambiguous", text, cards.Notice(text))
	return nil
}

// MassChangeHeld implements hr.Notifier.
func (n *HRNotifier) MassChangeHeld(ctx context.Context, s hr.MassChange) error {
	if len(s.RunIDs) == 0 {
		return nil
	}
	m := sh.HeldModel{BatchID: s.RunIDs[0], Source: s.Source, Origin: s.Origin, Leavers: s.Leavers, Movers: s.Movers,
		Identities: s.Identities, InWindow: s.InWindow, Window: s.Window, Runs: len(s.RunIDs), Reason: s.Reason}
	n.b.held.Store(m.BatchID, heldBatch{model: m, runs: append([]string(nil), s.RunIDs...)})
	n.post("hr:held", fmt.Sprintf("%d HR changes held for confirmation", len(s.RunIDs)), cards.Held(m))
	return nil
}

type heldBatch struct {
	model sh.HeldModel
	runs  []string
}

func nameOf(id gatehouse.Identity) string {
	if id.Name != "" {
		return id.Name
	}
	return id.Email
}

// onHeld releases or discards a held batch and edits the card.
func (b *Bot) onHeld(ctx context.Context, cb slack.InteractionCallback, actor sh.Actor, batch string, release bool) {
	var runs []string
	m := sh.HeldModel{BatchID: batch}
	if v, ok := b.held.Load(batch); ok {
		hb := v.(heldBatch)
		runs, m = hb.runs, hb.model
	}
	n, err := b.svc.DecideHeld(ctx, actor, runs, release)
	if err != nil {
		b.logErr(err, "held")
		b.tell(ctx, cb, sh.Message(err))
		return
	}
	verb := "discarded"
	if release {
		verb = "released"
	}
	m.Outcome = fmt.Sprintf("%s by %s (%d runs)", verb, actor.Email, n)
	if cb.Channel.ID != "" && cb.Message.Timestamp != "" {
		ref := gatehouse.MessageRef{Channel: cb.Channel.ID, TS: cb.Message.Timestamp}
		if err := b.api.update(ctx, ref, "HR changes "+verb, cards.Held(m)); err != nil {
			b.log.Warn().Err(err).Msg("update held card")
		}
	}
}
