package slackapptest

import (
	"fmt"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// SCIM checks: RFC 7644's filter and path grammar as
// github.com/scim2/filter-parser parses it, and RFC 7643 section 4.1's core
// User attributes restated below (Slack publishes no machine-readable SCIM
// description; the SCIM server library with encoded schemas is reserved for
// connectors/scim by the import rules).

type scimAttr struct {
	typ   string // string, boolean, complex
	multi bool
	subs  map[string]string // sub-attribute → type, for complex
}

var multiSubs = map[string]string{"value": "string", "display": "string", "type": "string", "primary": "boolean", "$ref": "string"}

// coreUserAttrs are RFC 7643 section 4.1's User attributes (lower-cased, as
// attribute names are case-insensitive), plus section 3.1's common ones.
var coreUserAttrs = map[string]scimAttr{
	"schemas": {typ: "string", multi: true}, "id": {typ: "string"}, "externalid": {typ: "string"},
	"meta":     {typ: "complex", subs: map[string]string{"resourcetype": "string", "created": "string", "lastmodified": "string", "location": "string", "version": "string"}},
	"username": {typ: "string"}, "displayname": {typ: "string"}, "nickname": {typ: "string"}, "profileurl": {typ: "string"},
	"title": {typ: "string"}, "usertype": {typ: "string"}, "preferredlanguage": {typ: "string"}, "locale": {typ: "string"},
	"timezone": {typ: "string"}, "active": {typ: "boolean"}, "password": {typ: "string"},
	"name": {typ: "complex", subs: map[string]string{"formatted": "string", "familyname": "string", "givenname": "string",
		"middlename": "string", "honorificprefix": "string", "honorificsuffix": "string"}},
	"emails": {typ: "complex", multi: true, subs: multiSubs}, "phonenumbers": {typ: "complex", multi: true, subs: multiSubs},
	"ims": {typ: "complex", multi: true, subs: multiSubs}, "photos": {typ: "complex", multi: true, subs: multiSubs},
	"groups": {typ: "complex", multi: true, subs: multiSubs}, "entitlements": {typ: "complex", multi: true, subs: multiSubs},
	"roles": {typ: "complex", multi: true, subs: multiSubs}, "x509certificates": {typ: "complex", multi: true, subs: multiSubs},
	"addresses": {typ: "complex", multi: true, subs: map[string]string{"formatted": "string", "streetaddress": "string", "locality": "string",
		"region": "string", "postalcode": "string", "country": "string", "type": "string", "primary": "boolean"}},
}

func scimTypeOK(typ string, v any) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	}
	return true
}

// checkSCIMUser validates a User resource sent or received (decoded JSON).
func checkSCIMUser(v map[string]any) []string {
	var probs []string
	if un, ok := v["userName"].(string); !ok || un == "" {
		probs = append(probs, "userName is required and must be a string (RFC 7643 section 4.1.1)")
	}
	for k, val := range v {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "urn:") {
			continue // schema extensions (enterprise, Slack's own)
		}
		a, ok := coreUserAttrs[lk]
		if !ok {
			probs = append(probs, fmt.Sprintf("attribute %q is not in the core User schema", k))
			continue
		}
		probs = append(probs, checkSCIMAttr(k, a, val)...)
	}
	return probs
}

func checkSCIMAttr(name string, a scimAttr, v any) []string {
	if v == nil {
		return nil
	}
	vals := []any{v}
	if a.multi {
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s must be a multi-valued array", name)}
		}
		vals = arr
	}
	var probs []string
	for _, e := range vals {
		if a.typ != "complex" {
			if !scimTypeOK(a.typ, e) {
				probs = append(probs, fmt.Sprintf("%s must be of type %s, got %v", name, a.typ, e))
			}
			continue
		}
		m, ok := e.(map[string]any)
		if !ok {
			probs = append(probs, fmt.Sprintf("%s must be a complex attribute (an object)", name))
			continue
		}
		for sk, sv := range m {
			typ, ok := a.subs[strings.ToLower(sk)]
			if !ok {
				probs = append(probs, fmt.Sprintf("%s.%s is not a sub-attribute of %s", name, sk, name))
			} else if !scimTypeOK(typ, sv) {
				probs = append(probs, fmt.Sprintf("%s.%s must be of type %s", name, sk, typ))
			}
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
	var probs []string
	for k, v := range val {
		attr := strings.ToLower(k)
		if i := strings.IndexAny(attr, ".["); i > 0 {
			attr = attr[:i]
		}
		a, ok := coreUserAttrs[attr]
		if !ok || attr == "id" || attr == "meta" || attr == "schemas" {
			probs = append(probs, fmt.Sprintf("%s %s: not a modifiable core User attribute", op, k))
			continue
		}
		if op != "remove" && !strings.ContainsAny(k, ".[") {
			probs = append(probs, checkSCIMAttr(k, a, v)...)
		}
	}
	return probs
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
