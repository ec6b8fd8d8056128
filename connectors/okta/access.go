package okta

import (
	"context"

	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// target is what an entitlement means in Okta: a group or an app.
type target struct {
	kind string // group or app
	id   string
	name string // the group name or app reference, for messages
}

// resolve finds the Okta object of ent; id is "" when it does not exist.
func (c *Connector) resolve(ctx context.Context, ent gatehouse.Entitlement) (target, error) {
	res := ent.Resource
	if res == "" {
		res = ent.Name
	}
	switch ent.Kind {
	case gatehouse.EntGroup:
		id, err := c.groupID(ctx, res)
		return target{kind: "group", id: id, name: res}, err
	case gatehouse.EntRole, gatehouse.EntLicense:
		ref, ok := appRef(res)
		if !ok {
			return target{}, gatehouse.Permanent(fmt.Errorf("entitlement %s: resource %q is not app:<app id or label>", ent.Name, res))
		}
		id, err := c.appID(ctx, ref)
		return target{kind: "app", id: id, name: res}, err
	}
	return target{}, gatehouse.Permanent(fmt.Errorf("entitlement %s: okta has no %q entitlements: %w", ent.Name, ent.Kind, gatehouse.ErrUnsupported))
}

// groupID resolves a group name with an exact (case-insensitive) match on
// the search result: Okta's q is a prefix match and would also find
// "Engineering Managers" for "Engineering". Found ids are cached.
func (c *Connector) groupID(ctx context.Context, name string) (string, error) {
	key := strings.ToLower(name)
	c.mu.Lock()
	id, ok := c.groupIDs[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var exact, folded string
	err := c.paginate(ctx, "/api/v1/groups", url.Values{"search": {"profile.name eq " + quote(name)}, "limit": {"200"}}, func(b []byte) error {
		gs, err := parseGroups(b)
		if err != nil {
			return err
		}
		for _, g := range gs {
			switch {
			case g.Profile.Name == name && exact == "":
				exact = g.ID
			case strings.EqualFold(g.Profile.Name, name) && folded == "":
				folded = g.ID
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find group %q: %w", name, err)
	}
	if exact == "" {
		exact = folded
	}
	if exact != "" {
		c.mu.Lock()
		c.groupIDs[key] = exact
		c.mu.Unlock()
	}
	return exact, nil
}

// appID resolves an app reference: an app id is used as is; a label is
// looked up with q (a prefix match on label and name) and matched exactly.
func (c *Connector) appID(ctx context.Context, ref string) (string, error) {
	if looksLikeAppID(ref) {
		return ref, nil
	}
	c.mu.Lock()
	id, ok := c.appIDs[ref]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var found []string
	err := c.paginate(ctx, "/api/v1/apps", url.Values{"q": {ref}, "limit": {"200"}}, func(b []byte) error {
		var apps []app
		if err := decodeJSON(b, &apps); err != nil {
			return fmt.Errorf("decode okta apps: %w", err)
		}
		for _, a := range apps {
			if a.ID != "" && strings.EqualFold(a.Label, ref) {
				found = append(found, a.ID)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find app %q: %w", ref, err)
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", gatehouse.Permanent(fmt.Errorf("find app %q: %d apps have that label; use app:<app id>", ref, len(found)))
	}
	c.mu.Lock()
	c.appIDs[ref] = found[0]
	c.mu.Unlock()
	return found[0], nil
}

// Grant adds ref's account to a group (PUT, idempotent) or assigns it to an
// app (POST with the user id; a repeated assignment is accepted by Okta).
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	tg, err := c.resolve(ctx, ent)
	if err != nil {
		return fmt.Errorf("okta %s: grant %s: %w", c.name, ent.Name, err)
	}
	if tg.id == "" {
		return gatehouse.Permanent(fmt.Errorf("okta %s: grant %s: no %s %q in Okta", c.name, ent.Name, tg.kind, tg.name))
	}
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("okta %s: grant %s: find user %s: %w", c.name, ent.Name, c.loginFor(ref), err)
	}
	if u == nil {
		return gatehouse.NotFound(fmt.Errorf("okta %s: grant %s: no account for %s", c.name, ent.Name, c.loginFor(ref)))
	}
	if tg.kind == "group" {
		_, err = c.do(ctx, http.MethodPut, "/api/v1/groups/"+url.PathEscape(tg.id)+"/users/"+url.PathEscape(u.ID), nil, nil)
	} else {
		_, err = c.do(ctx, http.MethodPost, "/api/v1/apps/"+url.PathEscape(tg.id)+"/users", nil, map[string]any{"id": u.ID, "scope": "USER"})
	}
	if err != nil {
		return fmt.Errorf("okta %s: grant %s to %s: %w", c.name, ent.Name, u.login(), err)
	}
	return nil
}

// Revoke removes the membership or assignment; what is gone is done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("okta %s: revoke %s: find user %s: %w", c.name, ent.Name, c.loginFor(ref), err)
	}
	if u == nil {
		return nil
	}
	tg, err := c.resolve(ctx, ent)
	if err != nil {
		return fmt.Errorf("okta %s: revoke %s: %w", c.name, ent.Name, err)
	}
	if tg.id == "" {
		return nil // no such group or app: nobody holds it
	}
	if tg.kind == "group" {
		_, err = c.do(ctx, http.MethodDelete, "/api/v1/groups/"+url.PathEscape(tg.id)+"/users/"+url.PathEscape(u.ID), nil, nil)
	} else {
		_, err = c.do(ctx, http.MethodDelete, "/api/v1/apps/"+url.PathEscape(tg.id)+"/users/"+url.PathEscape(u.ID), nil, nil)
	}
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return fmt.Errorf("okta %s: revoke %s from %s: %w", c.name, ent.Name, u.login(), err)
	}
	return nil
}

// groupEntName maps a group name to its entitlement name, else the name.
func (c *Connector) groupEntName(n string) string {
	if e, ok := c.groupEnt[strings.ToLower(n)]; ok {
		return e
	}
	return n
}

// ReadAccount re-reads ref's account from Okta: status, profile, groups
// (GET /users/{id}/groups) and app links (GET /users/{id}/appLinks), with
// groups and apps mapped back to configured entitlement names.
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("okta %s: read %s: %w", c.name, c.loginFor(ref), err)
	}
	if u == nil {
		return gatehouse.Account{}, gatehouse.NotFound(fmt.Errorf("okta %s: read: no account for %s", c.name, c.loginFor(ref)))
	}
	a := c.account(u)
	var ents []string
	err = c.paginate(ctx, userPath(u.ID)+"/groups", nil, func(b []byte) error {
		gs, err := parseGroups(b)
		for _, g := range gs {
			ents = append(ents, c.groupEntName(g.Profile.Name))
		}
		return err
	})
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("okta %s: read groups of %s: %w", c.name, u.login(), err)
	}
	res, err := c.do(ctx, http.MethodGet, userPath(u.ID)+"/appLinks", nil, nil)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("okta %s: read app links of %s: %w", c.name, u.login(), err)
	}
	var links []appLink
	if err := decodeJSON(res.Body, &links); err != nil {
		return gatehouse.Account{}, gatehouse.Retryable(fmt.Errorf("okta %s: decode app links of %s: %w", c.name, u.login(), err))
	}
	apps, err := c.appEntsByID(ctx)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("okta %s: read %s: %w", c.name, u.login(), err)
	}
	seen := map[string]bool{}
	for _, l := range links {
		if l.AppInstanceID == "" || seen[l.AppInstanceID] {
			continue // an app with several links appears once
		}
		seen[l.AppInstanceID] = true
		if e, ok := apps[l.AppInstanceID]; ok {
			ents = append(ents, e)
		} else {
			ents = append(ents, "app:"+l.Label)
		}
	}
	sort.Strings(ents)
	a.Entitlements = slices.Compact(ents)
	return a, nil
}

// appEntsByID maps resolved app ids to configured entitlement names.
// Unresolvable labels are skipped: nobody can hold an app that is not there.
func (c *Connector) appEntsByID(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range sortedKeys(c.appEnt) {
		id, err := c.appID(ctx, ref)
		if err != nil {
			return nil, err
		}
		if id != "" {
			out[id] = c.appEnt[ref]
		}
	}
	return out, nil
}

// ListAccounts lists every user, including deactivated ones (Okta leaves
// DEPROVISIONED users out of a plain listing, so they are fetched with a
// status filter), with lastLogin as LastActivity and memberships as set by
// the memberships setting.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	var users []*user
	collect := func(b []byte) error {
		us, err := parseUsers(b)
		users = append(users, us...)
		return err
	}
	limit := strconv.Itoa(c.pageSize)
	if err := c.paginate(ctx, "/api/v1/users", url.Values{"limit": {limit}}, collect); err != nil {
		return nil, fmt.Errorf("okta %s: list users: %w", c.name, err)
	}
	if err := c.paginate(ctx, "/api/v1/users", url.Values{"filter": {`status eq "DEPROVISIONED"`}, "limit": {limit}}, collect); err != nil {
		return nil, fmt.Errorf("okta %s: list deactivated users: %w", c.name, err)
	}
	ents := map[string][]string{}
	switch c.s.Memberships {
	case "configured":
		if err := c.configuredMemberships(ctx, ents); err != nil {
			return nil, fmt.Errorf("okta %s: list memberships: %w", c.name, err)
		}
	case "all":
		for _, u := range users {
			err := c.paginate(ctx, userPath(u.ID)+"/groups", nil, func(b []byte) error {
				gs, err := parseGroups(b)
				for _, g := range gs {
					ents[u.ID] = append(ents[u.ID], c.groupEntName(g.Profile.Name))
				}
				return err
			})
			if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
				return nil, fmt.Errorf("okta %s: list groups of %s: %w", c.name, u.login(), err)
			}
		}
	}
	seen := map[string]bool{}
	out := make([]gatehouse.Account, 0, len(users))
	for _, u := range users {
		if seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		a := c.account(u)
		if e := ents[u.ID]; len(e) > 0 {
			sort.Strings(e)
			a.Entitlements = slices.Compact(e)
		}
		out = append(out, a)
	}
	return out, nil
}

// configuredMemberships lists the members of each configured group and the
// users of each configured app: one paged listing per entitlement, however
// many users the org has.
func (c *Connector) configuredMemberships(ctx context.Context, ents map[string][]string) error {
	for _, key := range sortedKeys(c.groupEnt) {
		id, err := c.groupID(ctx, c.groupRes[key])
		if err != nil || id == "" {
			if err != nil {
				return err
			}
			continue
		}
		name := c.groupEnt[key]
		err = c.paginate(ctx, "/api/v1/groups/"+url.PathEscape(id)+"/users", url.Values{"limit": {strconv.Itoa(c.pageSize)}}, func(b []byte) error {
			us, err := parseUsers(b)
			for _, u := range us {
				ents[u.ID] = append(ents[u.ID], name)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	apps, err := c.appEntsByID(ctx)
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(apps) {
		name := apps[id]
		err := c.paginate(ctx, "/api/v1/apps/"+url.PathEscape(id)+"/users", url.Values{"limit": {"500"}}, func(b []byte) error {
			var aus []appUser
			if err := decodeJSON(b, &aus); err != nil {
				return fmt.Errorf("decode okta app users: %w", err)
			}
			for _, au := range aus {
				ents[au.ID] = append(ents[au.ID], name)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Check proves the org URL and credential work with cheap reads, names the
// OAuth scopes the service app was not granted, and checks that every
// configured group and app exists.
func (c *Connector) Check(ctx context.Context) error {
	var missing []string
	if c.oauth != nil {
		_, granted, err := c.oauth.token(ctx)
		if err != nil {
			return fmt.Errorf("okta %s: check: %w (grant the scopes %s to the service app in Okta)", c.name, err, strings.Join(c.oauth.scopes, ", "))
		}
		if len(granted) > 0 {
			for _, s := range c.requiredScopes() {
				if !slices.Contains(granted, s) {
					missing = append(missing, s)
				}
			}
		}
	}
	probes := []struct{ path, scope string }{{"/api/v1/users", "okta.users.read"}}
	if len(c.groupEnt) > 0 {
		probes = append(probes, struct{ path, scope string }{"/api/v1/groups", "okta.groups.read"})
	}
	if len(c.appEnt) > 0 {
		probes = append(probes, struct{ path, scope string }{"/api/v1/apps", "okta.apps.read"})
	}
	for _, p := range probes {
		_, err := c.do(ctx, http.MethodGet, p.path, url.Values{"limit": {"1"}}, nil)
		if err == nil {
			continue
		}
		if httpx.StatusOf(err) == http.StatusForbidden || codeOf(err) == "E0000006" {
			if c.oauth != nil {
				if !slices.Contains(missing, p.scope) {
					missing = append(missing, p.scope)
				}
				continue
			}
			return gatehouse.Permanent(fmt.Errorf("okta %s: check: GET %s forbidden: the API token acts with its creator's admin role, which must be a custom admin role with the user, group and app permissions in docs/connectors/okta.md (or Group/App Administrator): %w", c.name, p.path, err))
		}
		return fmt.Errorf("okta %s: check %s: %w", c.name, p.path, err)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return gatehouse.Permanent(fmt.Errorf("okta %s: check: the service app lacks the scopes %s (grant them under Okta API Scopes and list them in auth.scopes)", c.name, strings.Join(missing, ", ")))
	}
	var absent []string
	for _, key := range sortedKeys(c.groupEnt) {
		res := c.groupRes[key]
		id, err := c.groupID(ctx, res)
		if err != nil {
			return fmt.Errorf("okta %s: check group %s: %w", c.name, res, err)
		}
		if id == "" {
			absent = append(absent, c.groupEnt[key]+" (group "+res+")")
		}
	}
	for _, ref := range sortedKeys(c.appEnt) {
		id, err := c.appID(ctx, ref)
		if err != nil {
			return fmt.Errorf("okta %s: check app %s: %w", c.name, ref, err)
		}
		if id == "" {
			absent = append(absent, c.appEnt[ref]+" (app "+ref+")")
		}
	}
	if len(absent) > 0 {
		return gatehouse.Permanent(fmt.Errorf("okta %s: check: not found in Okta: %s", c.name, strings.Join(absent, ", ")))
	}
	return nil
}
