package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SCIM schema URNs (RFC 7643 section 8.7, RFC 7644 section 3.5.2).
const (
	schemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// flexBool reads true/false and the strings "true"/"False" that some servers
// (and Entra-shaped ones) send.
type flexBool struct {
	V, Set bool
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"`)
	switch strings.ToLower(s) {
	case "true":
		b.V, b.Set = true, true
	case "false":
		b.V, b.Set = false, true
	case "null", "":
	default:
		return fmt.Errorf("want a boolean, got %s", clip(string(data), 40))
	}
	return nil
}

// flexString reads a string or a number (some servers use numeric ids).
type flexString string

func (s *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	if string(data) == "null" {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("want a string, got %s", clip(string(data), 40))
	}
	*s = flexString(n.String())
	return nil
}

// flexInt reads an integer or a numeric string.
type flexInt int

func (i *flexInt) UnmarshalJSON(data []byte) error {
	s := strings.Trim(strings.TrimSpace(string(data)), `"`)
	if s == "null" || s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<31 {
		return fmt.Errorf("want a count, got %s", clip(string(data), 40))
	}
	*i = flexInt(n)
	return nil
}

type multiValue struct {
	Value   flexString `json:"value"`
	Display string     `json:"display"`
	Primary flexBool   `json:"primary"`
	Type    string     `json:"type"`
}

// user is the part of a SCIM User resource Gatehouse reads.
type user struct {
	ID          flexString   `json:"id"`
	ExternalID  string       `json:"externalId"`
	UserName    string       `json:"userName"`
	DisplayName string       `json:"displayName"`
	Active      flexBool     `json:"active"`
	Emails      []multiValue `json:"emails"`
	Groups      []multiValue `json:"groups"`
	Meta        struct {
		LastModified string `json:"lastModified"`
		Version      string `json:"version"`
		Location     string `json:"location"`
	} `json:"meta"`
	raw map[string]any
}

// active treats an absent attribute as active: the RFC makes it optional
// and servers without it have no notion of disabled accounts.
func (u *user) active() bool { return !u.Active.Set || u.Active.V }

func (u *user) email() string {
	for _, e := range u.Emails {
		if e.Primary.V {
			return string(e.Value)
		}
	}
	if len(u.Emails) > 0 {
		return string(u.Emails[0].Value)
	}
	return ""
}

func (u *user) hasEmail(addr string) bool {
	for _, e := range u.Emails {
		if strings.EqualFold(string(e.Value), addr) {
			return true
		}
	}
	return false
}

func parseUser(data []byte) (*user, error) {
	var u user
	if err := json.Unmarshal(data, &u); err != nil {
		return nil, fmt.Errorf("decode user: %w", err)
	}
	if err := json.Unmarshal(data, &u.raw); err != nil {
		return nil, fmt.Errorf("decode user: %w", err)
	}
	if u.ID == "" {
		return nil, errors.New("decode user: resource has no id")
	}
	return &u, nil
}

// group is the part of a SCIM Group resource Gatehouse reads.
type group struct {
	ID          flexString   `json:"id"`
	DisplayName string       `json:"displayName"`
	Members     []multiValue `json:"members"`
	Meta        struct {
		Version string `json:"version"`
	} `json:"meta"`
}

func (g *group) hasMember(id string) bool {
	for _, m := range g.Members {
		if string(m.Value) == id {
			return true
		}
	}
	return false
}

// listResponse is a ListResponse (RFC 7644 section 3.4.2). encoding/json
// matches field names case-insensitively, which also covers servers that
// send "resources".
type listResponse struct {
	TotalResults flexInt           `json:"totalResults"`
	ItemsPerPage flexInt           `json:"itemsPerPage"`
	StartIndex   flexInt           `json:"startIndex"`
	Resources    []json.RawMessage `json:"Resources"`
}

// maxListResources bounds one page: no server should send more, and a
// hostile one must not make us allocate without limit.
const maxListResources = 10000

// parseListResponse decodes one page of a list. It never panics; it is fuzzed.
func parseListResponse(body []byte) (*listResponse, error) {
	var lr listResponse
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("list response is not a JSON object")
	}
	if err := json.Unmarshal(trimmed, &lr); err != nil {
		return nil, fmt.Errorf("decode list response: %w", err)
	}
	if len(lr.Resources) > maxListResources {
		return nil, fmt.Errorf("list response has %d resources, more than the %d accepted", len(lr.Resources), maxListResources)
	}
	for i, r := range lr.Resources {
		r = bytes.TrimSpace(r)
		if len(r) == 0 || r[0] != '{' {
			return nil, fmt.Errorf("list response resource %d is not an object", i)
		}
	}
	return &lr, nil
}

// attrString reads a possibly dotted attribute, also under a schema URN
// ("urn:…:User:lastLogin" or "urn:…:User.lastLogin").
func attrString(raw map[string]any, path string) string {
	if raw == nil || path == "" {
		return ""
	}
	if v, ok := raw[path].(string); ok {
		return v
	}
	if i := strings.LastIndexByte(path, ':'); i > 0 && strings.HasPrefix(path, "urn:") {
		if ext, ok := raw[path[:i]].(map[string]any); ok {
			return attrString(ext, path[i+1:])
		}
	}
	head, rest, ok := strings.Cut(path, ".")
	if !ok {
		return ""
	}
	sub, _ := raw[head].(map[string]any)
	return attrString(sub, rest)
}

func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1e13 {
		if n > 1e11 {
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}

// filterValue quotes s for a SCIM filter (RFC 7644 section 3.4.2.2: JSON string rules).
func filterValue(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
