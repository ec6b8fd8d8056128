package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehousehq/gatehouse"
)

var deniedActionRE = regexp.MustCompile(`perform:? ([a-z0-9-]+:[A-Za-z0-9]+)`)

// Check probes one read call per capability Gatehouse needs and names every
// IAM action that is denied (from AWS's AccessDenied message when it says,
// else the probed operation's action). Writes are not probed: they would
// change the directory.
func (c *Connector) Check(ctx context.Context) error {
	probes := []struct {
		action string
		svc    *service
		op     string
		in     map[string]any
	}{
		{"identitystore:ListUsers", c.ids, "ListUsers", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "MaxResults": 1}},
		{"identitystore:ListGroups", c.ids, "ListGroups", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "MaxResults": 1}},
		{"sso:ListPermissionSets", c.sso, "ListPermissionSets", map[string]any{"InstanceArn": c.s.InstanceARN, "MaxResults": 1}},
		{"sso:ListAccountAssignmentCreationStatus", c.sso, "ListAccountAssignmentCreationStatus", map[string]any{"InstanceArn": c.s.InstanceARN, "MaxResults": 1}},
		{"sso:ListAccountAssignmentDeletionStatus", c.sso, "ListAccountAssignmentDeletionStatus", map[string]any{"InstanceArn": c.s.InstanceARN, "MaxResults": 1}},
	}
	var denied []string
	var other error
	for _, p := range probes {
		err := c.call(ctx, p.svc, p.op, p.in, nil)
		if err == nil {
			continue
		}
		if codeOf(err) == "AccessDeniedException" {
			denied = append(denied, deniedAction(err, p.action))
			continue
		}
		if other == nil {
			other = err
		}
	}
	// Resolving the configured permission sets also needs
	// sso:DescribePermissionSet; resolving groups identitystore:GetGroupId.
	if len(denied) == 0 && other == nil {
		for _, n := range c.targetNames() {
			t := c.targets[n]
			var err error
			if t.kind == gatehouse.EntGroup {
				_, err = c.groupID(ctx, t.resource)
			} else {
				_, err = c.permissionSetARN(ctx, t.resource)
			}
			switch {
			case err == nil:
			case codeOf(err) == "AccessDeniedException":
				def := "sso:DescribePermissionSet"
				if t.kind == gatehouse.EntGroup {
					def = "identitystore:GetGroupId"
				}
				denied = append(denied, deniedAction(err, def))
			case gatehouse.Classify(err) == gatehouse.ClassNotFound:
				return gatehouse.Permanent(fmt.Errorf("check aws %s: entitlement %s: %w", c.name, n, err))
			default:
				other = err
			}
		}
	}
	if len(denied) > 0 {
		return gatehouse.Permanent(fmt.Errorf("check aws %s: access denied; the IAM policy lacks %s", c.name, strings.Join(dedupe(denied), ", ")))
	}
	if other != nil {
		return fmt.Errorf("check aws %s: %w", c.name, other)
	}
	return nil
}

func deniedAction(err error, def string) string {
	var e *APIError
	if errors.As(err, &e) {
		if m := deniedActionRE.FindStringSubmatch(e.Message); m != nil {
			return m[1]
		}
	}
	return def
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
