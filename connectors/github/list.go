package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// ListAccounts lists the organization's members (GET /orgs/{org}/members),
// pending invitations (GET /orgs/{org}/invitations; a pending membership of a
// known login is active, an email invitation is not yet) and outside
// collaborators, with the configured entitlements each holds. LastActivity
// comes from Copilot seats' last_activity_at when copilot_activity is set;
// GitHub's REST API has no general last-activity field.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	byLogin := map[string]*gatehouse.Account{}
	var out []*gatehouse.Account
	add := func(a gatehouse.Account) *gatehouse.Account {
		k := strings.ToLower(a.ID)
		if p, ok := byLogin[k]; ok {
			return p
		}
		p := &a
		byLogin[k] = p
		out = append(out, p)
		return p
	}
	admins := map[string]bool{}
	if err := c.list(ctx, c.orgPath("members"), url.Values{"role": {"admin"}}, func(raw json.RawMessage) error {
		u, err := decode[user](raw, "member")
		admins[strings.ToLower(u.Login)] = true
		return err
	}); err != nil {
		return nil, fmt.Errorf("list owners of %s: %w", c.org, err)
	}
	if err := c.list(ctx, c.orgPath("members"), nil, func(raw json.RawMessage) error {
		u, err := decode[user](raw, "member")
		if err != nil {
			return err
		}
		role := "member"
		if admins[strings.ToLower(u.Login)] {
			role = "admin"
		}
		add(gatehouse.Account{ID: u.Login, UserName: u.Login, Email: u.Email, Active: true,
			Attributes: map[string]string{"membership_state": "active", "org_role": role, "github_id": strconv.FormatInt(u.ID, 10)}})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list members of %s: %w", c.org, err)
	}
	if err := c.list(ctx, c.orgPath("invitations"), nil, func(raw json.RawMessage) error {
		inv, err := decode[invitation](raw, "invitation")
		if err != nil {
			return err
		}
		if inv.Login != "" {
			add(gatehouse.Account{ID: inv.Login, UserName: inv.Login, Email: inv.Email, Active: true,
				Attributes: map[string]string{"membership_state": "pending", "invitation_id": strconv.FormatInt(inv.ID, 10)}})
		} else {
			add(gatehouse.Account{ID: "invitation:" + strconv.FormatInt(inv.ID, 10), Email: inv.Email,
				Attributes: map[string]string{"membership_state": "invited", "invitation_id": strconv.FormatInt(inv.ID, 10)}})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list invitations of %s: %w", c.org, err)
	}
	if err := c.list(ctx, c.orgPath("outside_collaborators"), nil, func(raw json.RawMessage) error {
		u, err := decode[user](raw, "outside collaborator")
		if err != nil {
			return err
		}
		a := add(gatehouse.Account{ID: u.Login, UserName: u.Login, Email: u.Email, Active: true,
			Attributes: map[string]string{"membership_state": "outside_collaborator", "github_id": strconv.FormatInt(u.ID, 10)}})
		a.Attributes["outside_collaborator"] = "true"
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list outside collaborators of %s: %w", c.org, err)
	}
	for _, name := range c.sortedEnts() {
		e := c.ents[name]
		res := e.Resource
		if res == "" {
			res = name
		}
		var holders []string
		var err error
		switch e.Kind {
		case gatehouse.EntRole:
			for l := range admins {
				holders = append(holders, l)
			}
		case gatehouse.EntTeam:
			q := url.Values{"role": {"all"}}
			if e.Level == "maintainer" {
				q.Set("role", "maintainer")
			}
			err = c.list(ctx, c.orgPath("teams", res, "members"), q, func(raw json.RawMessage) error {
				u, err := decode[user](raw, "team member")
				holders = append(holders, u.Login)
				return err
			})
		case gatehouse.EntRepoRole:
			want := repoLevels[normalizeRepoLevel(e.Level)]
			err = c.list(ctx, c.repoPath(res, "collaborators"), url.Values{"affiliation": {"direct"}}, func(raw json.RawMessage) error {
				var col struct {
					Login       string          `json:"login"`
					RoleName    string          `json:"role_name"`
					Permissions map[string]bool `json:"permissions"`
				}
				if err := json.Unmarshal(raw, &col); err != nil {
					return gatehouse.Retryable(fmt.Errorf("decode collaborator: %w", err))
				}
				if repoLevels[repoRoleOf(col.RoleName, "")] >= want {
					holders = append(holders, col.Login)
				}
				return nil
			})
		}
		if err != nil {
			if gatehouse.Classify(err) == gatehouse.ClassNotFound {
				c.log.Warn().Str("entitlement", name).Str("resource", res).Msg("configured team or repository not found")
				continue
			}
			return nil, fmt.Errorf("list holders of %s: %w", name, err)
		}
		for _, l := range holders {
			if a, ok := byLogin[strings.ToLower(l)]; ok {
				a.Entitlements = append(a.Entitlements, name)
			}
		}
	}
	if c.s.CopilotActivity {
		if err := c.copilotActivity(ctx, byLogin); err != nil {
			return nil, err
		}
	}
	accts := make([]gatehouse.Account, 0, len(out))
	for _, a := range out {
		accts = append(accts, *a)
	}
	sort.Slice(accts, func(i, j int) bool { return accts[i].ID < accts[j].ID })
	return accts, nil
}

// copilotActivity fills LastActivity from Copilot seats. The seats listing
// is an object with a seats array, not a bare array, so it pages by itself.
func (c *Connector) copilotActivity(ctx context.Context, byLogin map[string]*gatehouse.Account) error {
	for page := 1; page <= c.maxPages; page++ {
		res, err := c.do(ctx, http.MethodGet, c.orgPath("copilot", "billing", "seats"),
			url.Values{"per_page": {strconv.Itoa(c.pageSize)}, "page": {strconv.Itoa(page)}}, nil)
		if err != nil {
			return fmt.Errorf("list copilot seats: %w", err)
		}
		body, err := decode[struct {
			Seats []struct {
				LastActivityAt *time.Time `json:"last_activity_at"`
				Assignee       *user      `json:"assignee"`
			} `json:"seats"`
		}](res.Body, "copilot seats")
		if err != nil {
			return err
		}
		for _, s := range body.Seats {
			if s.Assignee == nil || s.LastActivityAt == nil {
				continue
			}
			if a, ok := byLogin[strings.ToLower(s.Assignee.Login)]; ok && s.LastActivityAt.After(a.LastActivity) {
				a.LastActivity = *s.LastActivityAt
			}
		}
		if NextLink(res.Header.Get("Link")) == "" {
			return nil
		}
	}
	return nil
}

// Check reads the organization and names missing permissions: an App
// installation's permissions come with its access token; a classic token's
// scopes come in X-OAuth-Scopes. A fine-grained token shows neither, so only
// the organization read is checked for it.
func (c *Connector) Check(ctx context.Context) error {
	res, err := c.do(ctx, http.MethodGet, c.orgPath(), nil, nil)
	if err != nil {
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return gatehouse.Permanent(fmt.Errorf("organization %s not found, or not visible to these credentials: %w", c.org, err))
		}
		return fmt.Errorf("read organization %s: %w", c.org, err)
	}
	needRepo := false
	for _, e := range c.ents {
		if e.Kind == gatehouse.EntRepoRole {
			needRepo = true
		}
	}
	var missing []string
	if c.app != nil {
		perms, err := c.app.permissions(ctx)
		if err != nil {
			return err
		}
		if perms["members"] != "write" {
			missing = append(missing, "members: write (organization permission)")
		}
		if needRepo && perms["administration"] != "write" {
			missing = append(missing, "administration: write (repository permission, for collaborators)")
		}
		if perms["organization_administration"] == "" {
			c.log.Info().Msg("organization_administration not granted: optional, not needed for membership or teams")
		}
	} else if hdr, ok := res.Header[http.CanonicalHeaderKey("X-OAuth-Scopes")]; ok {
		scopes := map[string]bool{}
		for _, s := range strings.Split(strings.Join(hdr, ","), ",") {
			scopes[strings.TrimSpace(s)] = true
		}
		if !scopes["admin:org"] {
			missing = append(missing, "admin:org (scope)")
		}
		if needRepo && !scopes["repo"] {
			missing = append(missing, "repo (scope)")
		}
	} else {
		c.log.Info().Msg("token has no X-OAuth-Scopes (fine-grained token): permissions cannot be listed, only the organization read was checked")
	}
	if len(missing) > 0 {
		return gatehouse.Permanent(errors.New("github credentials for " + c.org + " lack: " + strings.Join(missing, ", ")))
	}
	return nil
}
