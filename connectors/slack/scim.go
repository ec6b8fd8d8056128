package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

const (
	schemaUser    = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

type scimUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Active   *bool  `json:"active"`
	Emails   []struct {
		Value string `json:"value"`
	} `json:"emails"`
	DisplayName string `json:"displayName"`
}

// scimFind finds a user (deactivated ones too) by email through SCIM.
func (c *Connector) scimFind(ctx context.Context, email string) (user, bool, error) {
	q := url.Values{"filter": {fmt.Sprintf("email eq %q", email)}, "count": {"2"}}
	resp, err := c.scim.Do(ctx, httpx.Request{Method: http.MethodGet, Path: "/Users", Query: q})
	if err != nil {
		if httpx.StatusOf(err) == http.StatusBadRequest {
			// The filter is a fallback for deactivated members; a server that
			// refuses it leaves us where users.lookupByEmail did.
			c.log.Warn().Err(err).Msg("SCIM refused the email filter; deactivated members are found by account id only")
			return user{}, false, nil
		}
		return user{}, false, fmt.Errorf("slack %s: scim find %s: %w", c.name, email, err)
	}
	var list struct {
		Resources []scimUser `json:"Resources"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return user{}, false, gatehouse.Retryable(fmt.Errorf("slack %s: scim find: %v", c.name, err))
	}
	for _, r := range list.Resources {
		// Verify the filter client-side: a server may ignore it.
		for _, e := range r.Emails {
			if strings.EqualFold(e.Value, email) {
				u := user{ID: r.ID, Name: r.UserName, RealName: r.DisplayName, Deleted: r.Active != nil && !*r.Active}
				u.Profile.Email = e.Value
				return u, true, nil
			}
		}
	}
	return user{}, false, nil
}

// scimCreate creates the account (POST /Users) and returns its id; a
// uniqueness conflict means it exists already and is looked up instead.
func (c *Connector) scimCreate(ctx context.Context, ref gatehouse.AccountRef) (string, error) {
	userName := ref.UserName
	if i := strings.IndexByte(userName, '@'); i > 0 {
		userName = userName[:i] // Slack user names are not emails
	}
	if userName == "" {
		userName = strings.Split(ref.Email, "@")[0]
	}
	body := map[string]any{
		"schemas":     []string{schemaUser},
		"userName":    userName,
		"displayName": ref.Name,
		"name":        map[string]string{"givenName": ref.GivenName, "familyName": ref.FamilyName},
		"emails":      []map[string]any{{"value": ref.Email, "primary": true}},
		"active":      true,
	}
	if ref.Title != "" {
		body["title"] = ref.Title
	}
	resp, err := c.scim.Do(ctx, httpx.Request{Method: http.MethodPost, Path: "/Users", Body: body})
	if err != nil {
		if httpx.StatusOf(err) == http.StatusConflict {
			if u, ok, ferr := c.scimFind(ctx, ref.Email); ferr == nil && ok {
				if u.Deleted {
					return u.ID, c.scimSetActive(ctx, u.ID, true)
				}
				return u.ID, nil
			}
		}
		return "", fmt.Errorf("slack %s: scim create %s: %w", c.name, ref.Email, err)
	}
	var su scimUser
	if err := json.Unmarshal(resp.Body, &su); err != nil || su.ID == "" {
		return "", gatehouse.Retryable(fmt.Errorf("slack %s: scim create %s: answer has no id", c.name, ref.Email))
	}
	return su.ID, nil
}

// scimSetActive sets active with a PATCH (Slack's SCIM v2 accepts
// PatchOp); deactivation also ends the user's sessions.
func (c *Connector) scimSetActive(ctx context.Context, id string, active bool) error {
	body := map[string]any{
		"schemas":    []string{schemaPatchOp},
		"Operations": []map[string]any{{"op": "replace", "path": "active", "value": active}},
	}
	_, err := c.scim.Do(ctx, httpx.Request{Method: http.MethodPatch, Path: "/Users/" + url.PathEscape(id), Body: body})
	if err != nil {
		if notFound(err) && !active {
			return nil
		}
		return fmt.Errorf("slack %s: scim set active=%v on %s: %w", c.name, active, id, err)
	}
	return nil
}
