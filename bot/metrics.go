package bot

import (
	"time"

	"github.com/slack-go/slack/socketmode"
)

// Metrics receives the transport's operational measurements
// (Config.Metrics; nil records nothing). Calls must return quickly: they
// are made from the Socket Mode receive loop.
type Metrics interface {
	// SocketConnected reports an established Socket Mode connection
	// (the first one, then every reconnect).
	SocketConnected()
	// SocketDisconnected reports that the connection is gone (a failed
	// attempt, a drop, Slack asking to reconnect, or the end of Run).
	SocketDisconnected()
	// Acked reports the time from receiving an envelope to acknowledging it.
	Acked(took time.Duration)
}

// received notes when an envelope arrived, so that ack can report the
// latency, including a view submission's synchronous checks.
func (b *Bot) received(evt socketmode.Event) {
	if b.cfg.Metrics != nil && evt.Request != nil && evt.Request.EnvelopeID != "" {
		b.ackStart.Store(evt.Request.EnvelopeID, time.Now())
	}
}

func (b *Bot) acked(envelopeID string) {
	if b.cfg.Metrics == nil {
		return
	}
	if v, ok := b.ackStart.LoadAndDelete(envelopeID); ok {
		b.cfg.Metrics.Acked(time.Since(v.(time.Time)))
	}
}

func (b *Bot) socketUp() {
	if b.cfg.Metrics != nil {
		b.cfg.Metrics.SocketConnected()
	}
}

func (b *Bot) socketDown() {
	if b.cfg.Metrics != nil {
		b.cfg.Metrics.SocketDisconnected()
	}
}
