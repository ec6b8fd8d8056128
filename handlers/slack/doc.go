// Package slackhandlers holds the decisions behind Gatehouse's Slack surface:
// parsing slash-command arguments, validating modal forms, deciding who may do
// what (IT, HR, managers, approvers, task assignees) and calling into the
// lifecycle engine, the rules engine and the store.
//
// It knows no slack-go types. Package bot translates Slack payloads into the
// small request structs defined here (Actor, OnboardForm, ...) and renders the
// models returned here (OnboardModel, HomeModel, ...) into Block Kit. Keeping
// the decisions here makes them testable without a websocket and keeps the
// security checks (only the designated approver decides, nobody approves their
// own access, every refusal audited) in one place.
package slackhandlers
