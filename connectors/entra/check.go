package entra

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// need is one permission requirement: any of perms satisfies it.
type need struct {
	what  string
	perms []string
}

// needs lists what the connector's capabilities require of the tenant's
// consent, each with its alternatives, least privileged first.
func (c *Connector) needs() []need {
	caps := c.Capabilities()
	out := []need{{"reading users", permReadUsers}}
	if caps.Has(gatehouse.CapEnsureAccount) {
		out = append(out, need{"creating users", permWriteUsers})
	}
	if caps.Has(gatehouse.CapDisable) || caps.Has(gatehouse.CapEnable) {
		out = append(out, need{"disabling and enabling users", permEnable})
	}
	if caps.Has(gatehouse.CapDelete) {
		out = append(out, need{"deleting users", permWriteUsers})
	}
	if caps.Has(gatehouse.CapRevokeSessions) {
		out = append(out, need{"revoking sign-in sessions", permRevoke})
	}
	if caps.Has(gatehouse.CapGrant) || caps.Has(gatehouse.CapRevoke) {
		out = append(out, need{"changing group memberships", permWriteGroups})
	}
	if c.s.SignInActivity == "required" {
		out = append(out, need{"reading last sign-in (signInActivity)", permSignIn})
	}
	return out
}

// missing returns, for the roles a token carries, the least-privileged
// permission of every unmet need, deduplicated and sorted.
func (c *Connector) missing(roles []string) []string {
	set := map[string]bool{}
	for _, n := range c.needs() {
		if !slices.ContainsFunc(n.perms, func(p string) bool { return slices.Contains(roles, p) }) {
			set[n.perms[0]+" ("+n.what+")"] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Check proves the credentials work (a token and a one-user read), names
// the application permissions the configured capabilities lack by reading
// the token's roles claim, checks every configured group exists, and says
// whether signInActivity (last activity) is readable.
func (c *Connector) Check(ctx context.Context) error {
	fail := func(err error) error { return fmt.Errorf("entra %s: check: %w", c.name, err) }
	tok, _, err := c.requestToken(ctx)
	if err != nil {
		return fail(err)
	}
	roles, err := tokenRoles(tok)
	if err != nil {
		return fail(gatehouse.Permanent(err))
	}
	if miss := c.missing(roles); len(miss) > 0 {
		granted := "none"
		if len(roles) > 0 {
			granted = strings.Join(roles, ", ")
		}
		return fail(gatehouse.Permanent(fmt.Errorf("%w: grant the application permission(s) %s to the app registration and give admin consent (granted: %s)",
			ErrMissingPermissions, strings.Join(miss, ", "), granted)))
	}
	if _, err := c.do(ctx, "read one user", permReadUsers, httpx.Request{Method: http.MethodGet, Path: "/users",
		Query: url.Values{"$top": {"1"}, "$select": {"id"}}}); err != nil {
		return fail(err)
	}
	names := make([]string, 0, len(c.groupEnts))
	for n := range c.groupEnts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := c.resolveGroup(ctx, "find group of entitlement "+n, gatehouse.Entitlement{Name: n, Kind: gatehouse.EntGroup, Resource: c.groupEnts[n]}); err != nil {
			return fail(err)
		}
	}
	if c.s.SignInActivity != "off" {
		_, err := c.do(ctx, "read signInActivity", permSignIn, httpx.Request{Method: http.MethodGet, Path: "/users",
			Query: url.Values{"$top": {"1"}, "$select": {"id,signInActivity"}}})
		switch {
		case err == nil:
		case httpx.StatusOf(err) == http.StatusForbidden && c.s.SignInActivity == "auto":
			c.log.Warn().Str("reason", httpx.Clip(err.Error(), 300)).Msg("signInActivity is not readable (needs AuditLog.Read.All and an Entra ID P1/P2 licence): accounts will be listed without last activity")
		default:
			return fail(err)
		}
	}
	return nil
}
