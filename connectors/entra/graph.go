package entra

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// graphUser is the part of a Microsoft Graph user the connector reads.
type graphUser struct {
	ID                string  `json:"id"`
	UserPrincipalName string  `json:"userPrincipalName"`
	Mail              *string `json:"mail"`
	DisplayName       *string `json:"displayName"`
	AccountEnabled    *bool   `json:"accountEnabled"`
	EmployeeID        *string `json:"employeeId"`
	JobTitle          *string `json:"jobTitle"`
	Department        *string `json:"department"`
	SignInActivity    *struct {
		LastSignInDateTime               *string `json:"lastSignInDateTime"`
		LastNonInteractiveSignInDateTime *string `json:"lastNonInteractiveSignInDateTime"`
	} `json:"signInActivity"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// enabled reports accountEnabled; an absent value reads as enabled, as
// Graph omits it only when not selected and the connector always selects it.
func (u *graphUser) enabled() bool { return u.AccountEnabled == nil || *u.AccountEnabled }

// lastActivity is the later of the last interactive and non-interactive
// sign-in (a user who only uses a mail client never signs in interactively).
func (u *graphUser) lastActivity() time.Time {
	if u.SignInActivity == nil {
		return time.Time{}
	}
	var last time.Time
	for _, s := range []*string{u.SignInActivity.LastSignInDateTime, u.SignInActivity.LastNonInteractiveSignInDateTime} {
		if s == nil {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, *s); err == nil && t.After(last) && t.Year() > 1 {
			last = t.UTC()
		}
	}
	return last
}

// decodeStrict decodes one JSON value and refuses trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// parseUser decodes a Graph user entity and checks it has an id.
func parseUser(b []byte) (*graphUser, error) {
	var u graphUser
	if err := decodeStrict(b, &u); err != nil {
		return nil, fmt.Errorf("decode graph user: %w", err)
	}
	if strings.TrimSpace(u.ID) == "" {
		return nil, errors.New("graph user without id")
	}
	return &u, nil
}

// graphPage is one page of a Graph collection.
type graphPage struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// parsePage decodes a collection page. A page without a value array is an
// error: Graph always sends one, even when empty.
func parsePage(b []byte) (*graphPage, error) {
	var raw struct {
		Value    *[]json.RawMessage `json:"value"`
		NextLink string             `json:"@odata.nextLink"`
	}
	if err := decodeStrict(b, &raw); err != nil {
		return nil, fmt.Errorf("decode graph collection: %w", err)
	}
	if raw.Value == nil {
		return nil, errors.New("graph collection without a value array")
	}
	return &graphPage{Value: *raw.Value, NextLink: raw.NextLink}, nil
}

// directoryObject is an entry of memberOf or members.
type directoryObject struct {
	Type        string  `json:"@odata.type"`
	ID          string  `json:"id"`
	DisplayName *string `json:"displayName"`
}

func parseDirectoryObject(b []byte) (*directoryObject, error) {
	var o directoryObject
	if err := decodeStrict(b, &o); err != nil {
		return nil, fmt.Errorf("decode graph directory object: %w", err)
	}
	if strings.TrimSpace(o.ID) == "" {
		return nil, errors.New("graph directory object without id")
	}
	return &o, nil
}

// graphError is Graph's error body {"error":{"code","message","innerError"}}.
type graphError struct {
	Code       string
	Message    string
	RequestID  string
	InnerError string
}

// parseGraphError extracts the code and message of a Graph error body; ok
// is false when the body is not one.
func parseGraphError(b []byte) (graphError, bool) {
	var raw struct {
		Error *struct {
			Code       string         `json:"code"`
			Message    string         `json:"message"`
			InnerError map[string]any `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Error == nil || raw.Error.Code == "" {
		return graphError{}, false
	}
	ge := graphError{Code: httpx.Clip(raw.Error.Code, 100), Message: httpx.Clip(raw.Error.Message, 300)}
	if id, ok := raw.Error.InnerError["request-id"].(string); ok {
		ge.RequestID = httpx.Clip(id, 64)
	}
	if code, ok := raw.Error.InnerError["code"].(string); ok {
		ge.InnerError = httpx.Clip(code, 100)
	}
	return ge, true
}

// tokenRoles reads the roles claim of an access token (a JWT). The token
// is not verified: Gatehouse only reads which application permissions the
// tenant consented to, to name what is missing; Graph itself enforces them.
func tokenRoles(tok string) ([]string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("access token payload: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("access token claims: %w", err)
	}
	return claims.Roles, nil
}
