package vendore2e

import (
	"fmt"
	"strings"
)

// access is what one vendor fake's own state shows of ada: each open access
// path as a short fact. Empty means the vendor shows nothing open.
// awsID is ada's Identity Store user id, read before a leave that deletes
// the user, so that assignments left on a deleted principal still show.
func (f fakes) access(awsID string) map[string][]string {
	out := map[string][]string{}
	add := func(app, format string, args ...any) { out[app] = append(out[app], fmt.Sprintf(format, args...)) }

	if u, ok := f.okta.User(adaEmail); ok {
		if u.Status != "SUSPENDED" && u.Status != "DEPROVISIONED" {
			add("okta", "status %s", u.Status)
		}
		if u.Sessions > 0 || u.Tokens > 0 {
			add("okta", "%d sessions, %d oauth tokens", u.Sessions, u.Tokens)
		}
		for _, g := range f.okta.GroupsOf(u.ID) {
			add("okta", "group %s", g)
		}
	}
	if u, ok := f.google.User(adaEmail); ok {
		if !u.Suspended {
			add("google", "not suspended")
		}
		if u.Sessions > 0 {
			add("google", "%d web sessions", u.Sessions)
		}
		if len(u.Tokens) > 0 || len(u.ASPs) > 0 || len(u.BackupCodes) > 0 {
			add("google", "%d tokens, %d ASPs, %d backup codes", len(u.Tokens), len(u.ASPs), len(u.BackupCodes))
		}
		for _, g := range f.google.GroupsOf(adaEmail) {
			add("google", "group %s", g)
		}
	}
	if u, ok := f.entra.User(adaEmail); ok {
		if u.AccountEnabled {
			add("m365", "accountEnabled")
		}
		if n := f.entra.ActiveSessions(u.ID); n > 0 {
			add("m365", "%d sessions", n)
		}
		for _, g := range f.entra.GroupsOf(u.ID) {
			add("m365", "group %s", g)
		}
	}
	if m := f.github.Membership(githubLogin); m != nil {
		add("github", "org membership %s/%s", m.Role, m.State)
	}
	for team, role := range f.github.Teams(githubLogin) {
		add("github", "team %s (%s)", team, role)
	}
	for _, inv := range f.github.Invitations() {
		if strings.EqualFold(inv.Login, githubLogin) || strings.EqualFold(inv.Email, adaEmail) {
			add("github", "invitation %d", inv.ID)
		}
	}
	if u, ok := f.slack.UserByEmail(adaEmail); ok {
		if !u.Deleted {
			add("slack", "active member %s", u.ID)
		}
		for _, m := range f.slack.Memberships(u.ID) {
			add("slack", "member of %s", m)
		}
	}
	if u, ok := f.aws.UserByName(adaEmail); ok {
		add("aws", "identity store user %s (%s)", u.ID, u.UserType)
		awsID = u.ID
	}
	if awsID != "" {
		for _, a := range f.aws.Assignments(awsID) {
			add("aws", "assignment %s", a)
		}
		for _, g := range f.aws.Groups(awsID) {
			add("aws", "group %s", g)
		}
	}
	return out
}
