package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
)

// perChannelInterval is Slack's posting guidance: about one message per
// second per channel. chat.update counts too.
const perChannelInterval = time.Second

// max429Retries bounds how often one call is retried after 429s before the
// caller sees the error.
const max429Retries = 5

// api wraps slack-go's client with per-channel pacing and 429 handling
// (slack-go does not retry unless told to, and then not per our budget).
type api struct {
	c   *slack.Client
	log zerolog.Logger

	mu   sync.Mutex
	next map[string]time.Time // channel -> earliest next post
	dms  map[string]string    // user id -> DM channel id
}

func newAPI(c *slack.Client, log zerolog.Logger) *api {
	return &api{c: c, log: log, next: map[string]time.Time{}, dms: map[string]string{}}
}

// pace waits for channel's next slot. Slots are reserved under the lock so
// concurrent posters queue up one second apart instead of bursting.
func (a *api) pace(ctx context.Context, channel string) error {
	if channel == "" {
		return nil
	}
	a.mu.Lock()
	now := time.Now()
	at := a.next[channel]
	if at.Before(now) {
		at = now
	}
	a.next[channel] = at.Add(perChannelInterval)
	if len(a.next) > 10000 {
		// Forget channels idle for a while so the map stays small.
		for ch, t := range a.next {
			if t.Before(now) {
				delete(a.next, ch)
			}
		}
	}
	a.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// retry runs call, sleeping Retry-After on 429s.
func (a *api) retry(ctx context.Context, what string, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || attempt >= max429Retries {
			if err != nil {
				return fmt.Errorf("slack %s: %w", what, err)
			}
			return nil
		}
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		a.log.Warn().Str("method", what).Dur("retry_after", wait).Int("attempt", attempt+1).Msg("slack rate limited; waiting")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("slack %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// maxMessageBlocks is Slack's per-message limit. Renderers stay under it;
// this is the last guard, so a renderer bug shows a shortened card instead
// of Slack refusing the message (invalid_blocks) and the card going missing.
const maxMessageBlocks = 50

func capMessage(blocks []slack.Block) []slack.Block {
	if len(blocks) <= maxMessageBlocks {
		return blocks
	}
	more := len(blocks) - maxMessageBlocks + 1
	return append(blocks[:maxMessageBlocks-1:maxMessageBlocks-1], slack.NewContextBlock("truncated",
		slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("_…%d more blocks not shown_", more), false, false)))
}

func msgOpts(text string, blocks []slack.Block) []slack.MsgOption {
	blocks = capMessage(blocks)
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	return opts
}

// post sends a message and returns where it landed.
func (a *api) post(ctx context.Context, channel, text string, blocks []slack.Block) (gatehouse.MessageRef, error) {
	if err := a.pace(ctx, channel); err != nil {
		return gatehouse.MessageRef{}, err
	}
	var ch, ts string
	err := a.retry(ctx, "chat.postMessage", func() (err error) {
		ch, ts, err = a.c.PostMessageContext(ctx, channel, msgOpts(text, blocks)...)
		return err
	})
	return gatehouse.MessageRef{Channel: ch, TS: ts}, err
}

// update edits a message in place.
func (a *api) update(ctx context.Context, ref gatehouse.MessageRef, text string, blocks []slack.Block) error {
	if err := a.pace(ctx, ref.Channel); err != nil {
		return err
	}
	return a.retry(ctx, "chat.update", func() error {
		_, _, _, err := a.c.UpdateMessageContext(ctx, ref.Channel, ref.TS, msgOpts(text, blocks)...)
		return err
	})
}

// ephemeral shows a message only to user in channel.
func (a *api) ephemeral(ctx context.Context, channel, user, text string, blocks []slack.Block) error {
	return a.retry(ctx, "chat.postEphemeral", func() error {
		_, err := a.c.PostEphemeralContext(ctx, channel, user, msgOpts(text, blocks)...)
		return err
	})
}

// respond answers through an interaction's response_url (works in DMs and
// channels the bot is not in).
//
// Posts are paced per URL, like chat posts per channel: Slack accepts up
// to five posts on one response_url within 30 minutes, and its limit is per
// URL (and channel), not global, so answers to different clicks never wait
// for each other.
func (a *api) respond(ctx context.Context, url, text string, blocks []slack.Block, replace bool) error {
	if err := a.pace(ctx, "response_url "+url); err != nil {
		return err
	}
	m := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: replace}
	if len(blocks) > 0 {
		m.Blocks = &slack.Blocks{BlockSet: blocks}
	}
	return a.retry(ctx, "response_url", func() error { return slack.PostWebhookContext(ctx, url, m) })
}

// dm returns the DM channel with user, opening it once.
func (a *api) dm(ctx context.Context, user string) (string, error) {
	a.mu.Lock()
	ch, ok := a.dms[user]
	a.mu.Unlock()
	if ok {
		return ch, nil
	}
	err := a.retry(ctx, "conversations.open", func() error {
		c, _, _, err := a.c.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
		if err == nil {
			ch = c.ID
		}
		return err
	})
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.dms[user] = ch
	a.mu.Unlock()
	return ch, nil
}

func (a *api) openView(ctx context.Context, trigger string, v slack.ModalViewRequest) (*slack.ViewResponse, error) {
	var r *slack.ViewResponse
	err := a.retry(ctx, "views.open", func() (err error) {
		r, err = a.c.OpenViewContext(ctx, trigger, v)
		return err
	})
	return r, err
}

func (a *api) updateView(ctx context.Context, v slack.ModalViewRequest, viewID, hash string) error {
	return a.retry(ctx, "views.update", func() error {
		_, err := a.c.UpdateViewContext(ctx, v, "", hash, viewID)
		return err
	})
}

func (a *api) publishHome(ctx context.Context, user string, v slack.HomeTabViewRequest) error {
	return a.retry(ctx, "views.publish", func() error {
		_, err := a.c.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: v})
		return err
	})
}
