// Package slacktest is a loopback Slack for tests: an in-process emulator of
// the parts of the Slack platform the Gatehouse bot talks to, written by us on
// net/http and gorilla/websocket and speaking Slack's real wire formats.
//
// Why not slack-go's own slacktest: its /ws endpoint is the old RTM one, it
// does not enforce Block Kit limits, rate limits or trigger expiry, and it
// records nothing we can assert on. Gatehouse's invariants (ack within 3 s,
// dedupe on event_id, edit cards in place, stay inside Block Kit limits) can
// only be tested end to end against a fake that behaves like Slack when the
// bot gets them wrong.
//
// A test starts a Server, points the real slack-go client at it and drives
// user stories through it:
//
//	srv := slacktest.New(t, slacktest.Config{Users: []slacktest.User{{ID: "U1", Name: "ana"}}})
//	api := srv.NewClient() // = slack.New(bot token, OptionAppLevelToken(app token), OptionAPIURL(srv.APIURL()))
//	sm := socketmode.New(api)
//	go sm.RunContext(ctx)
//	srv.WaitConnected(ctx)
//	d, _ := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", UserID: "U1", ChannelID: "C1"})
//	ack, _ := d.Wait(ctx) // ack.Payload, ack.Latency, ack.Late
//	card, _ := srv.WaitForMessage(ctx, "C1", nil)
//
// The package example (example_test.go) runs a whole story.
//
// What it serves:
//   - the Web API under APIURL() (form or JSON bodies, Bearer or token field),
//     with token checks, argument checks, Slack's error names, a record of every
//     call, a per-channel message store, views with trigger expiry and hashes;
//   - Block Kit limit checks on every message and view (ValidateMessageBlocks,
//     ValidateView are exported so golden tests can reuse them);
//   - configurable rate limits answering 429 with Retry-After, and a hook to
//     force 429s;
//   - the Socket Mode websocket: hello, pings, envelopes for slash commands,
//     interactions and events, ack tracking with latency, redelivery,
//     disconnect and dropped connections;
//   - response_url endpoints.
//
// Every goroutine the Server starts is owned by it and stopped by Close.
package slacktest
