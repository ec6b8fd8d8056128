// Package bot is Gatehouse's Slack transport: the Socket Mode connection,
// the Web API calls, rate limiting and the translation between slack-go
// types and package slackhandlers' requests and models. It is the only
// package (with its sub-packages) that imports slack-go.
//
// The shape follows Teleport's Slack access plugin. Every envelope is acked
// in the receive loop before any work, then the work goes to a bounded
// queue of sharded workers (one key, one worker: events about one person or
// one approval stay in order). Only view submissions do work before their
// ack, because Slack wants inline field errors in the ack itself; that work
// is bounded by a deadline well under Slack's 3 s. Cards are rendered by the
// pure package bot/cards, buttons carry only ids, every click is re-checked
// by slackhandlers against stored state, and cards are edited in place with
// chat.update. Calls to Slack are paced per channel (about one message a
// second) and retried after 429s as Retry-After says.
package bot
