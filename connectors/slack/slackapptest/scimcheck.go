package slackapptest

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// SCIM checks use RFC 7643's core User schema as github.com/elimity-com/scim
// encodes it (attribute types, required userName, canonical shapes) and
// RFC 7644's filter grammar as github.com/scim2/filter-parser parses it:
// Slack publishes no machine-readable SCIM description of its own.

var coreUser = schema.CoreUserSchema()

// commonAttrs are RFC 7643 section 3.1's attributes every resource may carry.
var commonAttrs = map[string]bool{"schemas": true, "id": true, "externalid": true, "meta": true}

// checkSCIMUser validates a User resource sent or received.
func checkSCIMUser(v map[string]any) []string {
	var probs []string
	if _, err := coreUser.Validate(v); err != nil {
		probs = append(probs, fmt.Sprintf("User does not match RFC 7643's core User schema: %s", err.Detail))
	}
	known := map[string]bool{}
	for _, a := range coreUser.Attributes {
		known[strings.ToLower(a.Name())] = true
	}
	for k := range v {
		if !known[strings.ToLower(k)] && !commonAttrs[strings.ToLower(k)] {
			probs = append(probs, fmt.Sprintf("attribute %q is not in the core User schema", k))
		}
	}
	return probs
}

// checkSCIMPatch validates one PatchOp operation (RFC 7644 section 3.5.2).
func checkSCIMPatch(op, path string, value any) []string {
	op = strings.ToLower(op)
	val := map[string]any{}
	switch {
	case path != "":
		if _, err := filter.ParsePath([]byte(path)); err != nil {
			return []string{fmt.Sprintf("path %q is not an RFC 7644 attribute path: %v", path, err)}
		}
		val[path] = value
	default:
		m, ok := value.(map[string]any)
		if !ok {
			return []string{"an operation without path needs an object value"}
		}
		val = m
	}
	if err := coreUser.ValidatePatchOperation(op, val, false); err != nil {
		return []string{fmt.Sprintf("%s %s: %s", op, path, err.Detail)}
	}
	return nil
}

// parseSCIMFilter parses an RFC 7644 filter; the fake evaluates the one
// shape Slack documents for users, `email eq "…"` (and userName eq).
func parseSCIMFilter(f string) (attr, value string, err error) {
	exp, err := filter.ParseAttrExp([]byte(f))
	if err != nil {
		return "", "", fmt.Errorf("filter %q is not an RFC 7644 attribute expression: %v", f, err)
	}
	if exp.Operator != filter.EQ {
		return "", "", fmt.Errorf("filter %q: the fake supports eq only", f)
	}
	s, ok := exp.CompareValue.(string)
	if !ok {
		return "", "", fmt.Errorf("filter %q: compare value is not a string", f)
	}
	return strings.ToLower(exp.AttributePath.String()), s, nil
}
