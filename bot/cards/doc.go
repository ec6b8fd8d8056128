// Package cards renders Gatehouse's Slack surfaces as Block Kit: approval and
// manual-task cards, live run progress cards, the /onboard, /offboard,
// /access request, deny-reason and evidence modals, /access answers and the
// App Home tab.
//
// Rendering is pure: models from package slackhandlers in, slack-go blocks
// or views out, no I/O and no clock (the model carries "now"). Every
// function stays inside Slack's Block Kit limits by construction — text is
// clipped at its limit, long lists are paged into several sections and end
// with "and N more" when a surface's block budget runs out — so a leaver with
// 200 accounts renders as well as one with two. Buttons carry only an id;
// the click is re-checked against stored state before anything happens.
package cards
