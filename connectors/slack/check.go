package slack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// BotScopes are the bot token scopes the connector needs.
var BotScopes = []string{"users:read", "users:read.email", "channels:read", "groups:read", "channels:manage", "groups:write", "usergroups:read", "usergroups:write"}

// Check calls auth.test and team.info with the bot token (and auth.test
// with the user token, and SCIM, when configured), compares the granted
// scopes (X-OAuth-Scopes) with what the settings need, and names every
// missing scope and every plan mismatch.
func (c *Connector) Check(ctx context.Context) error {
	var problems []string
	h, err := c.call(ctx, c.bot, "auth.test", url.Values{}, nil)
	if err != nil {
		return fmt.Errorf("slack %s check: bot token: %w", c.name, err)
	}
	if miss := missingScopes(h, BotScopes); len(miss) > 0 {
		problems = append(problems, "the bot token lacks scopes "+strings.Join(miss, ", "))
	}
	var team struct {
		Team struct {
			ID           string `json:"id"`
			EnterpriseID string `json:"enterprise_id"`
		} `json:"team"`
	}
	_, err = c.call(ctx, c.bot, "team.info", url.Values{}, &team)
	switch {
	case CodeOf(err) == "missing_scope":
		// team:read is only for this plan check; the operations do not need it.
		problems = append(problems, "the bot token lacks scope team:read, which apps check uses to detect Enterprise Grid")
	case err != nil:
		return fmt.Errorf("slack %s check: team.info: %w", c.name, err)
	}
	grid := team.Team.EnterpriseID != ""
	if c.s.EnterpriseGrid && !grid {
		problems = append(problems, "enterprise_grid is true but team.info shows no enterprise: this workspace is not on Enterprise Grid")
	}
	if !c.s.EnterpriseGrid && grid {
		c.log.Info().Msg("the workspace is on Enterprise Grid: set enterprise_grid: true to reset sessions through the API")
	}
	if c.user != nil {
		h, err := c.call(ctx, c.user, "auth.test", url.Values{}, nil)
		if err != nil {
			return fmt.Errorf("slack %s check: user token: %w", c.name, err)
		}
		var need []string
		if c.s.SCIM {
			need = append(need, "admin")
		}
		if c.s.EnterpriseGrid {
			need = append(need, "admin.users:write")
			if c.s.TeamID != "" {
				need = append(need, "admin.users:read") // admin.users.list for last activity
			}
		}
		if miss := missingScopes(h, need); len(miss) > 0 {
			problems = append(problems, "the user token lacks scopes "+strings.Join(miss, ", "))
		}
	}
	if c.scim != nil {
		if _, err := c.scim.Do(ctx, httpx.Request{Method: http.MethodGet, Path: "/Users", Query: url.Values{"count": {"1"}}}); err != nil {
			if gatehouse.Classify(err) != gatehouse.ClassPermanent && gatehouse.Classify(err) != gatehouse.ClassNotFound {
				return fmt.Errorf("slack %s check: scim: %w", c.name, err)
			}
			problems = append(problems, fmt.Sprintf("scim is true but the SCIM API refused (%v): it needs Business+ or Enterprise Grid and a user token with admin", err))
		}
	}
	if len(problems) > 0 {
		return gatehouse.Permanent(fmt.Errorf("slack %s check: %s", c.name, strings.Join(problems, "; ")))
	}
	c.log.Info().Strs("how", c.Abilities()).Msg("slack check passed")
	return nil
}

// Abilities says how each operation is carried out with these settings, by
// name: the API call, or a manual task and why.
func (c *Connector) Abilities() []string {
	acct := "manual task (no SCIM on this plan)"
	if c.scim != nil {
		acct = "SCIM /Users"
	} else if c.s.EnterpriseGrid && c.s.TeamID != "" && len(c.s.InviteChannelIDs) > 0 {
		acct = "admin.users.invite (deactivate and reactivate: manual task, no SCIM)"
	}
	sess := "manual task (admin.users.session.reset needs Enterprise Grid)"
	if c.s.EnterpriseGrid {
		sess = "admin.users.session.reset"
	}
	last := "not reported (needs a user token with admin on a paid plan)"
	switch {
	case c.user != nil && c.s.EnterpriseGrid && c.s.TeamID != "":
		last = "admin.users.list last_active_ts"
	case c.user != nil:
		last = "team.accessLogs date_last (paid plans)"
	}
	return []string{
		"accounts: " + acct,
		"sessions: " + sess,
		"channels: conversations.invite / conversations.kick",
		"user groups: usergroups.users.update",
		"last activity: " + last,
	}
}

func missingScopes(h http.Header, need []string) []string {
	have := map[string]bool{}
	for _, s := range strings.Split(h.Get("X-OAuth-Scopes"), ",") {
		have[strings.TrimSpace(s)] = true
	}
	var miss []string
	for _, n := range need {
		if !have[n] {
			miss = append(miss, n)
		}
	}
	return miss
}
