package slacktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/gatehousehq/gatehouse/bot/slacktest"
)

// A whole user story against the fake: a slash command arrives over Socket
// Mode, the bot acks it and posts a card, the card's button is clicked and the
// bot edits the card in place.
func Example() {
	srv := slacktest.New(nil, slacktest.Config{ // pass t in a test
		Users:    []slacktest.User{{ID: "U1", Name: "ana", Email: "ana@example.com"}},
		Channels: []slacktest.Channel{{ID: "C1", Name: "it-ops"}},
	})
	defer srv.Close()

	api := srv.NewClient() // slack.New(bot token, OptionAppLevelToken, OptionAPIURL)
	sm := socketmode.New(api)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _ = sm.RunContext(ctx) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				switch evt.Type {
				case socketmode.EventTypeSlashCommand:
					cmd := evt.Data.(slack.SlashCommand)
					_ = sm.Ack(*evt.Request)
					_, _, _ = api.PostMessage(cmd.ChannelID, slack.MsgOptionText("Onboard "+cmd.Text+"?", false),
						slack.MsgOptionBlocks(slack.NewActionBlock("run-1",
							slack.NewButtonBlockElement("approve", "run-1", slack.NewTextBlockObject("plain_text", "Approve", false, false)))))
				case socketmode.EventTypeInteractive:
					cb := evt.Data.(slack.InteractionCallback)
					_ = sm.Ack(*evt.Request)
					_, _, _, _ = api.UpdateMessage(cb.Channel.ID, cb.Container.MessageTs,
						slack.MsgOptionText("Approved by "+cb.User.Name, false), slack.MsgOptionBlocks())
				}
			}
		}
	}()
	if err := srv.WaitConnected(ctx); err != nil {
		panic(err)
	}

	d, _ := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", Text: "di", UserID: "U1", ChannelID: "C1"})
	ack, _ := d.Wait(ctx)
	fmt.Println("acked in time:", !ack.Late)

	card, _ := srv.WaitForMessage(ctx, "C1", nil)
	fmt.Println("card:", card.Text)

	click, _ := srv.SendBlockAction(slacktest.BlockAction{UserID: "U1", Channel: "C1", MessageTS: card.TS, ActionID: "approve", BlockID: "run-1", Value: "run-1"})
	_, _ = click.Wait(ctx)
	edited, _ := srv.WaitForMessage(ctx, "C1", func(m slacktest.Message) bool { return m.Edits > 0 })
	fmt.Println("card now:", edited.Text)
	// Output:
	// acked in time: true
	// card: Onboard di?
	// card now: Approved by ana
}
