package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// MaxPersonSize bounds a person file: an identity is a few hundred bytes.
const MaxPersonSize = 64 << 10

// ParsePerson reads a person file: one JSON object with the Identity field
// names (email, name, employee_id, kind, department, team, title, location,
// manager_email, start_date, end_date, attributes, and for non-humans owner,
// purpose, expiry). Unknown fields, trailing data and oversized input are
// rejected; the identity is normalized and validated, and every error names
// the field it is about.
func ParsePerson(data []byte) (gatehouse.Identity, error) {
	var id gatehouse.Identity
	if len(data) > MaxPersonSize {
		return id, fmt.Errorf("person file is larger than %d bytes", MaxPersonSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&id); err != nil {
		return gatehouse.Identity{}, personJSONError(err, data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return gatehouse.Identity{}, errors.New("person file: unexpected data after the JSON object")
	}
	id.Normalize()
	for k := range id.Attributes {
		if strings.TrimSpace(k) == "" {
			return gatehouse.Identity{}, errors.New("person file: attributes: empty attribute name")
		}
	}
	if err := id.Validate(); err != nil {
		return gatehouse.Identity{}, fmt.Errorf("person file: %w", err)
	}
	return id, nil
}

func personJSONError(err error, data []byte) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Errorf("person file: want a JSON object, got %s", te.Value)
		}
		return fmt.Errorf("person file: %s: want %s, got %s", field, jsonType(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("person file: invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF):
		return errors.New("person file is empty")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("person file: unknown field %s (known: email, name, employee_id, kind, department, team, title, location, manager_email, start_date, end_date, attributes, owner, purpose, expiry, status, time_zone, slack_user_id)", f)
	}
	// Date fields report their own message ("invalid date ..."); the json
	// package does not say which field, so find it.
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) == nil {
		for _, k := range []string{"start_date", "end_date", "expiry"} {
			var d gatehouse.Date
			if v, ok := raw[k]; ok {
				if derr := d.UnmarshalJSON(v); derr != nil {
					return fmt.Errorf("person file: %s: %v", k, derr)
				}
			}
		}
	}
	return fmt.Errorf("person file: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonType(kind string) string {
	switch kind {
	case "map":
		return "an object"
	case "slice":
		return "a list"
	case "int", "float64":
		return "a number"
	}
	return "a " + kind
}
