package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func (c *Connector) cacheGroup(displayName, id string) {
	if displayName == "" || id == "" {
		return
	}
	c.mu.Lock()
	c.groupIDs[strings.ToLower(displayName)] = id
	c.mu.Unlock()
}

func groupName(ent gatehouse.Entitlement) string {
	if ent.Resource != "" {
		return ent.Resource
	}
	return ent.Name
}

// resolveGroup returns the id of the group named by ent (its resource, else
// its name), by displayName, cached. "" means no such group.
func (c *Connector) resolveGroup(ctx context.Context, ent gatehouse.Entitlement) (string, error) {
	name := groupName(ent)
	if name == "" {
		return "", gatehouse.Permanent(fmt.Errorf("entitlement has no group name"))
	}
	c.mu.Lock()
	id, ok := c.groupIDs[strings.ToLower(name)]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	spc, err := c.serviceConfig(ctx)
	if err != nil {
		return "", err
	}
	find := func(filter string) (string, error) {
		found := ""
		err := c.paginate(ctx, c.groupsC, "/Groups", filter, func(raw []byte) error {
			var g group
			if err := jsonUnmarshal(raw, &g); err != nil {
				return err
			}
			c.cacheGroup(g.DisplayName, string(g.ID))
			if found == "" && strings.EqualFold(g.DisplayName, name) {
				found = string(g.ID)
			}
			return nil
		})
		return found, err
	}
	if spc.filter {
		id, err := find("displayName eq " + filterValue(name))
		if err == nil && id != "" {
			return id, nil
		}
		if err != nil && httpx.StatusOf(err) != http.StatusBadRequest {
			return "", err
		}
	}
	return find("")
}

// memberOf reports whether user id is a member of group gid.
func (c *Connector) memberOf(ctx context.Context, gid, uid string) (bool, error) {
	res, err := c.do(ctx, c.groupsC, http.MethodGet, groupPath(gid), nil, nil, nil)
	if err != nil {
		return false, err
	}
	var g group
	if err := jsonUnmarshal(res.Body, &g); err != nil {
		return false, gatehouse.Retryable(fmt.Errorf("decode group %s: %w", gid, err))
	}
	return g.hasMember(uid), nil
}

// Grant adds ref's account to the entitlement's group. Adding a member who is
// already there is a success: RFC 7644 makes "add" idempotent, and for
// servers that answer 409 or 400 instead we check the membership.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	if !c.d.groups {
		return c.unsupported(gatehouse.CapGrant)
	}
	gname := groupName(ent)
	gid, err := c.resolveGroup(ctx, ent)
	if err != nil {
		return fmt.Errorf("scim %s: grant %s: find group: %w", c.name, gname, err)
	}
	if gid == "" {
		return gatehouse.Permanent(fmt.Errorf("scim %s: grant: group %q does not exist in the app (check the entitlement's resource)", c.name, gname))
	}
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return fmt.Errorf("scim %s: grant %s: find user: %w", c.name, gname, err)
	}
	if u == nil {
		return gatehouse.NotFound(fmt.Errorf("scim %s: grant %s: no account for %s", c.name, gname, c.userNameFor(ref)))
	}
	body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []map[string]any{
		{"op": c.op("add"), "path": "members", "value": []map[string]any{{"value": string(u.ID)}}},
	}}
	_, err = c.do(ctx, c.groupsC, http.MethodPatch, groupPath(gid), nil, body, nil)
	if err != nil {
		if st := httpx.StatusOf(err); st == http.StatusConflict || st == http.StatusBadRequest {
			if in, merr := c.memberOf(ctx, gid, string(u.ID)); merr == nil && in {
				return nil
			}
		}
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			c.forgetGroup(gname) // the group may have been recreated under a new id
		}
		return fmt.Errorf("scim %s: grant %s to %s: %w", c.name, gname, u.UserName, err)
	}
	return nil
}

func (c *Connector) forgetGroup(name string) {
	c.mu.Lock()
	delete(c.groupIDs, strings.ToLower(name))
	c.mu.Unlock()
}

// Revoke removes ref's account from the entitlement's group. A missing
// account, a missing group or a non-member all count as done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	if !c.d.groups {
		return c.unsupported(gatehouse.CapRevoke)
	}
	gname := groupName(ent)
	u, err := c.findUser(ctx, ref, false)
	if err != nil {
		return fmt.Errorf("scim %s: revoke %s: find user: %w", c.name, gname, err)
	}
	if u == nil {
		return nil
	}
	gid, err := c.resolveGroup(ctx, ent)
	if err != nil {
		return fmt.Errorf("scim %s: revoke %s: find group: %w", c.name, gname, err)
	}
	if gid == "" {
		c.log.Warn().Str("group", gname).Msg("revoke: group does not exist in the app; nothing to remove")
		return nil
	}
	var op map[string]any
	if c.d.removeMember == "value" {
		op = map[string]any{"op": c.op("remove"), "path": "members", "value": []map[string]any{{"value": string(u.ID)}}}
	} else {
		op = map[string]any{"op": c.op("remove"), "path": "members[value eq " + filterValue(string(u.ID)) + "]"}
	}
	body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []map[string]any{op}}
	_, err = c.do(ctx, c.groupsC, http.MethodPatch, groupPath(gid), nil, body, nil)
	if err == nil {
		return nil
	}
	switch {
	case gatehouse.Classify(err) == gatehouse.ClassNotFound:
		c.forgetGroup(gname)
		return nil
	case httpx.StatusOf(err) == http.StatusBadRequest || httpx.StatusOf(err) == http.StatusConflict:
		// noTarget and friends: done if the user is indeed not a member.
		if in, merr := c.memberOf(ctx, gid, string(u.ID)); merr == nil && !in {
			return nil
		}
	}
	return fmt.Errorf("scim %s: revoke %s from %s: %w", c.name, gname, u.UserName, err)
}
