package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Okta user statuses (components.schemas.UserStatus).
const (
	statusActive          = "ACTIVE"
	statusDeprovisioned   = "DEPROVISIONED"
	statusLockedOut       = "LOCKED_OUT"
	statusPasswordExpired = "PASSWORD_EXPIRED"
	statusProvisioned     = "PROVISIONED"
	statusRecovery        = "RECOVERY"
	statusStaged          = "STAGED"
	statusSuspended       = "SUSPENDED"
)

// user is the part of an Okta User object the connector reads.
type user struct {
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	LastLogin *time.Time     `json:"lastLogin"`
	Profile   map[string]any `json:"profile"`
}

// enabled reports whether the account can sign in (or will, once the person
// completes activation): every status but STAGED, SUSPENDED and
// DEPROVISIONED. A locked-out or password-expired user is still an open
// access path.
func (u *user) enabled() bool {
	switch u.Status {
	case statusStaged, statusSuspended, statusDeprovisioned:
		return false
	}
	return true
}

func (u *user) profileString(k string) string {
	switch v := u.Profile[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}

func (u *user) login() string { return u.profileString("login") }
func (u *user) email() string { return u.profileString("email") }

// parseUser decodes one Okta User. It never panics on hostile input and
// rejects a user without id or status, which no real answer lacks.
func parseUser(b []byte) (*user, error) {
	var u user
	if err := decodeJSON(b, &u); err != nil {
		return nil, fmt.Errorf("decode okta user: %w", err)
	}
	if err := u.check(); err != nil {
		return nil, err
	}
	return &u, nil
}

func (u *user) check() error {
	if u.ID == "" {
		return errors.New("okta user without id")
	}
	if u.Status == "" {
		return fmt.Errorf("okta user %s without status", clip(u.ID, 40))
	}
	if u.Profile == nil {
		u.Profile = map[string]any{}
	}
	return nil
}

// parseUsers decodes a page of users.
func parseUsers(b []byte) ([]*user, error) {
	var us []*user
	if err := decodeJSON(b, &us); err != nil {
		return nil, fmt.Errorf("decode okta users: %w", err)
	}
	for i, u := range us {
		if u == nil {
			return nil, fmt.Errorf("okta users: entry %d is null", i)
		}
		if err := u.check(); err != nil {
			return nil, err
		}
	}
	return us, nil
}

// group is the part of an Okta Group the connector reads.
type group struct {
	ID      string `json:"id"`
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
}

func parseGroups(b []byte) ([]group, error) {
	var gs []group
	if err := decodeJSON(b, &gs); err != nil {
		return nil, fmt.Errorf("decode okta groups: %w", err)
	}
	for _, g := range gs {
		if g.ID == "" {
			return nil, errors.New("okta group without id")
		}
	}
	return gs, nil
}

// app is the part of an Okta Application the connector reads.
type app struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// appUser is one assignment from GET /api/v1/apps/{appId}/users.
type appUser struct {
	ID    string `json:"id"`
	Scope string `json:"scope"`
}

// appLink is one entry of GET /api/v1/users/{id}/appLinks.
type appLink struct {
	AppInstanceID string `json:"appInstanceId"`
	Label         string `json:"label"`
}

// apiError is Okta's error body: errorCode (E0000007…), errorSummary, and
// errorCauses with further summaries (which field failed validation).
type apiError struct {
	Code    string `json:"errorCode"`
	Summary string `json:"errorSummary"`
	ID      string `json:"errorId"`
	Causes  []struct {
		Summary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

// parseError decodes an Okta error body; ok is false when b is not one.
func parseError(b []byte) (apiError, bool) {
	var e apiError
	if err := decodeJSON(b, &e); err != nil || (e.Code == "" && e.Summary == "") {
		return apiError{}, false
	}
	e.Code, e.Summary = clip(e.Code, 32), clip(e.Summary, 300)
	if len(e.Causes) > 5 {
		e.Causes = e.Causes[:5]
	}
	for i := range e.Causes {
		e.Causes[i].Summary = clip(e.Causes[i].Summary, 200)
	}
	return e, true
}

func (e apiError) causes() string {
	var parts []string
	for _, c := range e.Causes {
		if c.Summary != "" {
			parts = append(parts, c.Summary)
		}
	}
	return strings.Join(parts, "; ")
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// cursorOf returns the after= cursor of a next link, to detect a server
// that hands out the same page twice.
func cursorOf(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	return u.Query().Get("after")
}

// quote writes s as an Okta filter/search string literal: Okta's
// expression syntax (SCIM-like) puts values in double quotes and escapes a
// quote or backslash inside with a backslash.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
