package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/slack-go/slack"
)

// Notifier is the bot's side of the lifecycle engine's notifications. Every
// method only enqueues work and returns at once, so a slow or rate-limited
// Slack never stalls the engine; the queued job re-reads the record from
// the store, so it renders the latest state even when notifications
// overtake each other.
type Notifier struct{ b *Bot }

// Notifier returns the engine-facing notifier.
func (b *Bot) Notifier() *Notifier { return &Notifier{b: b} }

type runUpdate struct {
	mu     sync.Mutex
	run    gatehouse.Run
	steps  []gatehouse.Step
	queued bool
}

// RunChanged schedules an in-place update of the run's progress card
// (posted in the IT channel on first change). Bursts coalesce: one update
// renders the newest state.
func (n *Notifier) RunChanged(ctx context.Context, run gatehouse.Run, steps []gatehouse.Step) {
	b := n.b
	v, _ := b.pendingRC.LoadOrStore(run.ID, &runUpdate{})
	u := v.(*runUpdate)
	u.mu.Lock()
	if run.Version >= u.run.Version || u.run.ID == "" {
		u.run, u.steps = run, steps
	}
	queued := u.queued
	u.queued = true
	u.mu.Unlock()
	if queued {
		return
	}
	b.enqueueOn(b.cardQueue, "run:"+run.ID, "progress", func(ctx context.Context) {
		u.mu.Lock()
		r, s := u.run, u.steps
		u.queued = false
		u.mu.Unlock()
		b.renderProgress(ctx, r, s)
		if r.Status.Terminal() {
			// Drop the buffered steps of finished runs; a late change
			// simply starts a new buffer.
			b.pendingRC.CompareAndDelete(r.ID, u)
		}
	}, nil)
}

// startProgress posts the progress card of a run started from Slack.
func (b *Bot) startProgress(ctx context.Context, run gatehouse.Run) {
	steps, err := b.svc.Store.Steps(run.ID)
	if err != nil {
		b.log.Warn().Err(err).Str("run", run.ID).Msg("read steps")
	}
	if cur, err := b.svc.Store.GetRun(run.ID); err == nil {
		run = cur
	}
	b.Notifier().RunChanged(ctx, run, steps)
}

func (b *Bot) subject(key string, fallback gatehouse.Identity) gatehouse.Identity {
	if id, err := b.svc.Store.GetIdentity(key); err == nil {
		return id
	}
	if fallback.Email == "" && fallback.ID == "" {
		fallback.ID = key
	}
	return fallback
}

func (b *Bot) renderProgress(ctx context.Context, run gatehouse.Run, steps []gatehouse.Step) {
	if cur, err := b.svc.Store.GetRun(run.ID); err == nil && cur.Version >= run.Version {
		run = cur
		if s, err := b.svc.Store.Steps(run.ID); err == nil {
			steps = s
		}
	}
	tasks, _ := b.svc.Store.ListTasks(store.TaskFilter{RunID: run.ID})
	m := sh.ProgressModel{Run: run, Steps: steps, Subject: b.subject(run.IdentityKey, run.Event.Identity), Tasks: tasks, Now: b.now()}
	blocks, text := cards.Progress(m), cards.ProgressText(m)
	if v, ok := b.progress.Load(run.ID); ok {
		if err := b.api.update(ctx, v.(gatehouse.MessageRef), text, blocks); err != nil {
			b.log.Warn().Err(err).Str("run", run.ID).Msg("update progress card")
			return
		}
		if run.Status.Terminal() && b.cfg.StateFile != "" {
			// The card shows the final evidence: a restart need not
			// remember it (memory still does, for late changes).
			if _, already := b.finished.LoadOrStore(run.ID, true); !already {
				b.saveState()
			}
		}
		return
	}
	if b.cfg.ITChannel == "" || !slices.Contains(gatehouse.EventTypes, run.Event.Type) {
		// Only lifecycle events get an IT-channel card; access requests
		// and expiries are followed in the requester's DMs.
		return
	}
	ref, err := b.api.post(ctx, b.cfg.ITChannel, text, blocks)
	if err != nil {
		b.log.Warn().Err(err).Str("run", run.ID).Msg("post progress card")
		return
	}
	b.progress.Store(run.ID, ref)
	b.saveState()
}

// ProgressCard returns where a run's progress card was posted.
func (b *Bot) ProgressCard(runID string) (gatehouse.MessageRef, bool) {
	v, ok := b.progress.Load(runID)
	if !ok {
		return gatehouse.MessageRef{}, false
	}
	return v.(gatehouse.MessageRef), true
}

// recipient finds where to send a person's card: their DM, or the IT
// channel when Slack does not know them (the card says who it is for).
func (b *Bot) recipient(ctx context.Context, email string) (channel string, inIT bool) {
	uid, err := b.dir.UserIDOf(ctx, email)
	if err == nil {
		if ch, err := b.api.dm(ctx, uid); err == nil {
			return ch, false
		}
	}
	b.log.Warn().Err(err).Str("email", email).Msg("no Slack DM for recipient; using the IT channel")
	return b.cfg.ITChannel, true
}

func (b *Bot) approvalModel(a gatehouse.Approval, note string) sh.ApprovalModel {
	return sh.ApprovalModel{Approval: a, Subject: b.subject(a.IdentityKey, gatehouse.Identity{}), Now: b.now(), Note: note}
}

// ApprovalRequested DMs an approval card to every designated approver who
// has none yet (escalation adds approvers: only they get a new card).
func (n *Notifier) ApprovalRequested(ctx context.Context, a gatehouse.Approval) {
	b := n.b
	b.enqueue(a.ID, "approval requested", func(ctx context.Context) {
		if cur, err := b.svc.Store.GetApproval(a.ID); err == nil {
			a = cur
		}
		if a.Status != gatehouse.ApprovalPending {
			return
		}
		note := ""
		if a.Escalations > 0 {
			note = fmt.Sprintf("Escalated to you (%d×): the first approver did not answer in time.", a.Escalations)
		}
		m := b.approvalModel(a, note)
		blocks, text := cards.Approval(m), cards.ApprovalText(m)
		var refs []gatehouse.MessageRef
		for _, email := range a.Approvers {
			ch, inIT := b.recipient(ctx, email)
			if ch == "" || slices.ContainsFunc(a.Messages, func(r gatehouse.MessageRef) bool { return r.Channel == ch }) ||
				slices.ContainsFunc(refs, func(r gatehouse.MessageRef) bool { return r.Channel == ch }) {
				continue
			}
			t, bl := text, blocks
			if inIT {
				t = "For " + email + ": " + text
				bl = append([]slack.Block{slack.NewContextBlock("for", slack.NewTextBlockObject(slack.MarkdownType, "Approver "+email+" is not on Slack; an IT admin who is a designated approver can act.", false, false))}, blocks...)
			}
			ref, err := b.api.post(ctx, ch, t, bl)
			if err != nil {
				b.log.Warn().Err(err).Str("approval", a.ID).Msg("post approval card")
				continue
			}
			refs = append(refs, ref)
		}
		if a.Escalations > 0 {
			// Cards already out show the escalation too.
			for _, ref := range a.Messages {
				if err := b.api.update(ctx, ref, text, blocks); err != nil {
					b.log.Warn().Err(err).Str("approval", a.ID).Msg("update escalated approval card")
				}
			}
		}
		if len(refs) == 0 {
			return
		}
		if _, err := b.svc.Store.UpdateApproval(a.ID, func(x *gatehouse.Approval) error {
			x.Messages = append(x.Messages, refs...)
			return nil
		}); err != nil {
			b.log.Warn().Err(err).Str("approval", a.ID).Msg("record approval card refs")
		}
	}, nil)
}

// refreshApprovalLater schedules refreshApproval on the card lane. A burst
// of clicks on one card coalesces into one edit per pacing slot (Slack
// allows about one chat.update per second per channel), and the edits
// never delay the answers to the clicks or the decisions behind them.
func (b *Bot) refreshApprovalLater(id string) {
	if _, queued := b.refreshes.LoadOrStore(id, true); queued {
		return
	}
	b.enqueueOn(b.cardQueue, "approval:"+id, "refresh approval", func(ctx context.Context) {
		// Forget the mark before reading: a change after this point
		// queues another refresh, one before it is read below.
		b.refreshes.Delete(id)
		b.refreshApproval(ctx, id)
	}, func() { b.refreshes.Delete(id) })
}

// refreshApproval edits every card of an approval to its stored state.
func (b *Bot) refreshApproval(ctx context.Context, id string) {
	a, err := b.svc.Store.GetApproval(id)
	if err != nil {
		return
	}
	m := b.approvalModel(a, "")
	blocks, text := cards.Approval(m), cards.ApprovalText(m)
	for _, ref := range a.Messages {
		if err := b.api.update(ctx, ref, text, blocks); err != nil {
			b.log.Warn().Err(err).Str("approval", id).Msg("update approval card")
		}
	}
}

// ApprovalDecided edits the cards in place and tells the requester.
func (n *Notifier) ApprovalDecided(ctx context.Context, a gatehouse.Approval) {
	b := n.b
	b.refreshApprovalLater(a.ID)
	b.enqueue("requester:"+a.Requester, "approval decided", func(ctx context.Context) {
		if cur, err := b.svc.Store.GetApproval(a.ID); err == nil {
			a = cur
		}
		if a.Status == gatehouse.ApprovalPending || a.Requester == "" {
			return
		}
		var why string
		if n := len(a.Decisions); n > 0 && a.Decisions[n-1].Reason != "" {
			why = ": “" + a.Decisions[n-1].Reason + "”"
		}
		refs := make([]string, 0, len(a.Items))
		for _, it := range a.Items {
			refs = append(refs, it.Ref().String())
		}
		text := fmt.Sprintf("Your request for %s was %s%s", strings.Join(refs, ", "), a.Status, why)
		if uid, err := b.dir.UserIDOf(ctx, a.Requester); err == nil {
			b.dmText(ctx, uid, text)
		}
	}, nil)
}

// TaskOpened sends a manual-task card to its assignee.
func (n *Notifier) TaskOpened(ctx context.Context, t gatehouse.Task) {
	b := n.b
	b.enqueue(t.ID, "task opened", func(ctx context.Context) {
		if cur, err := b.svc.Store.GetTask(t.ID); err == nil {
			t = cur
		}
		if t.Status != gatehouse.TaskOpen {
			return
		}
		ch, _ := b.recipient(ctx, t.Assignee)
		if ch == "" || slices.ContainsFunc(t.Messages, func(r gatehouse.MessageRef) bool { return r.Channel == ch }) {
			return
		}
		m := sh.TaskModel{Task: t, Subject: b.subject(t.IdentityKey, gatehouse.Identity{})}
		ref, err := b.api.post(ctx, ch, cards.TaskText(m), cards.Task(m))
		if err != nil {
			b.log.Warn().Err(err).Str("task", t.ID).Msg("post task card")
			return
		}
		if _, err := b.svc.Store.UpdateTask(t.ID, func(x *gatehouse.Task) error {
			x.Messages = append(x.Messages, ref)
			return nil
		}); err != nil {
			b.log.Warn().Err(err).Str("task", t.ID).Msg("record task card ref")
		}
	}, nil)
}

// TaskClosed edits the task's cards in place.
func (n *Notifier) TaskClosed(ctx context.Context, t gatehouse.Task) {
	b := n.b
	b.enqueue(t.ID, "task closed", func(ctx context.Context) { b.refreshTask(ctx, t) }, nil)
}

func (b *Bot) refreshTask(ctx context.Context, t gatehouse.Task) {
	if cur, err := b.svc.Store.GetTask(t.ID); err == nil {
		t = cur
	}
	m := sh.TaskModel{Task: t, Subject: b.subject(t.IdentityKey, gatehouse.Identity{})}
	for _, ref := range t.Messages {
		if err := b.api.update(ctx, ref, cards.TaskText(m), cards.Task(m)); err != nil {
			b.log.Warn().Err(err).Str("task", t.ID).Msg("update task card")
		}
	}
}

// Reminder nudges whoever an approval or task waits for: the card is
// edited to say so and a short DM points at it.
func (n *Notifier) Reminder(ctx context.Context, kind, id string) {
	b := n.b
	b.enqueue(id, "reminder", func(ctx context.Context) {
		switch kind {
		case "approval":
			a, err := b.svc.Store.GetApproval(id)
			if err != nil || a.Status != gatehouse.ApprovalPending {
				return
			}
			m := b.approvalModel(a, "Reminder: this request is still waiting for you.")
			for _, ref := range a.Messages {
				_ = b.api.update(ctx, ref, cards.ApprovalText(m), cards.Approval(m))
				_, _ = b.api.post(ctx, ref.Channel, "Reminder: an access request is waiting for your decision (see the card above).", nil)
			}
		case "task":
			t, err := b.svc.Store.GetTask(id)
			if err != nil || t.Status != gatehouse.TaskOpen {
				return
			}
			m := sh.TaskModel{Task: t, Subject: b.subject(t.IdentityKey, gatehouse.Identity{}), Note: "Reminder: this task is still open."}
			for _, ref := range t.Messages {
				_ = b.api.update(ctx, ref, cards.TaskText(m), cards.Task(m))
				_, _ = b.api.post(ctx, ref.Channel, "Reminder: a manual task is waiting for you (see the card above).", nil)
			}
		case "grant_expiry":
			b.remindGrantExpiry(ctx, id)
		case "owner_attest", "owner_handoff":
			b.remindNonHuman(ctx, kind, id) // identity.go
		case "owner_expired":
			run, err := b.svc.Store.GetRun(id)
			if err != nil {
				return
			}
			who := b.subject(run.IdentityKey, run.Event.Identity)
			if who.Owner == "" {
				return
			}
			if uid, err := b.dir.UserIDOf(ctx, who.Owner); err == nil {
				b.dmText(ctx, uid, fmt.Sprintf("%s, which you own, has expired: its access is being removed (run %s). Register it again if it is still needed.", nameOf(who), run.ID))
			}
		default:
			b.log.Info().Str("kind", kind).Str("id", id).Msg("reminder of a kind the bot does not render")
		}
	}, nil)
}

// remindGrantExpiry tells a grant's holder that it ends soon. The job id is
// "grant_remind:IDENTITY|APP|ENTITLEMENT" (lifecycle's scheduler).
func (b *Bot) remindGrantExpiry(ctx context.Context, jobID string) {
	_, key, _ := strings.Cut(jobID, ":")
	parts := strings.Split(key, "|")
	if len(parts) != 3 {
		b.log.Warn().Str("job", jobID).Msg("grant reminder with an unexpected id")
		return
	}
	g, err := b.svc.Store.GetGrant(parts[0], parts[1], parts[2])
	if err != nil || !g.RevokedAt.IsZero() {
		return
	}
	who := b.subject(g.Identity, gatehouse.Identity{})
	to, holder := who.Email, ""
	if !who.Kind.Human() && who.Owner != "" {
		to, holder = who.Owner, who.Email // a bot reads no DMs: its owner decides
	}
	if to == "" {
		return
	}
	uid, err := b.dir.UserIDOf(ctx, to)
	if err != nil {
		return
	}
	// The card offers Extend: a new request that goes through approval again.
	ch, err := b.api.dm(ctx, uid)
	if err == nil {
		_, err = b.api.post(ctx, ch, cards.GrantExpiryText(g), cards.GrantExpiry(g, holder))
	}
	if err != nil {
		b.log.Warn().Err(err).Str("job", jobID).Msg("grant expiry reminder")
	}
}
