package gatehouse

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// IdentityKind says what sort of principal an identity is. Humans come from the
// HR system; non-humans (service accounts, bots, AI agents) are registered by a
// human owner and always carry an owner, a purpose and an expiry.
type IdentityKind string

// The identity kinds Gatehouse understands.
const (
	KindEmployee       IdentityKind = "employee"
	KindIntern         IdentityKind = "intern"
	KindContractor     IdentityKind = "contractor"
	KindServiceAccount IdentityKind = "service_account"
	KindBot            IdentityKind = "bot"
	KindAIAgent        IdentityKind = "ai_agent"
)

// IdentityKinds lists every valid kind in a stable order (for help texts).
var IdentityKinds = []IdentityKind{KindEmployee, KindIntern, KindContractor, KindServiceAccount, KindBot, KindAIAgent}

// Valid reports whether k is one of the known kinds.
func (k IdentityKind) Valid() bool {
	for _, v := range IdentityKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Human reports whether the kind is a person.
func (k IdentityKind) Human() bool {
	return k == KindEmployee || k == KindIntern || k == KindContractor
}

// IdentityStatus is where an identity stands in its lifecycle.
type IdentityStatus string

// Identity statuses.
const (
	StatusPending    IdentityStatus = "pending"    // hired, not started
	StatusActive     IdentityStatus = "active"     // working, access provisioned
	StatusSuspended  IdentityStatus = "suspended"  // leave of absence
	StatusTerminated IdentityStatus = "terminated" // left; every access path closed or being closed
)

// Identity is a person or a non-human principal whose access Gatehouse manages.
// The JSON field names are a public contract: person files, HR mappings and the
// audit export all use them.
type Identity struct {
	// ID is Gatehouse's stable key: the employee id when there is one,
	// otherwise the lower-cased email. See Key.
	ID           string            `json:"id,omitempty"`
	Kind         IdentityKind      `json:"kind"`
	Email        string            `json:"email"`
	Name         string            `json:"name"`
	EmployeeID   string            `json:"employee_id,omitempty"`
	Department   string            `json:"department,omitempty"`
	Team         string            `json:"team,omitempty"`
	Title        string            `json:"title,omitempty"`
	Location     string            `json:"location,omitempty"`
	ManagerEmail string            `json:"manager_email,omitempty"`
	SlackUserID  string            `json:"slack_user_id,omitempty"`
	TimeZone     string            `json:"time_zone,omitempty"`
	StartDate    Date              `json:"start_date,omitempty"`
	EndDate      Date              `json:"end_date,omitempty"`
	Status       IdentityStatus    `json:"status,omitempty"`
	Owner        string            `json:"owner,omitempty"`   // non-humans: the accountable human's email
	Purpose      string            `json:"purpose,omitempty"` // non-humans: why it exists
	Expiry       Date              `json:"expiry,omitempty"`  // non-humans: when it stops existing
	Attributes   map[string]string `json:"attributes,omitempty"`
}

// Key returns the stable identifier used to store and serialize runs for this
// identity: the explicit ID, else the employee id, else the lower-cased email.
func (i Identity) Key() string {
	switch {
	case i.ID != "":
		return i.ID
	case i.EmployeeID != "":
		return "emp:" + i.EmployeeID
	default:
		return strings.ToLower(strings.TrimSpace(i.Email))
	}
}

// Zone returns the identity's time zone, falling back to def (and to UTC
// when def is nil or the zone name is unknown).
func (i Identity) Zone(def *time.Location) *time.Location {
	if i.TimeZone != "" {
		if loc, err := time.LoadLocation(i.TimeZone); err == nil {
			return loc
		}
	}
	if def != nil {
		return def
	}
	return time.UTC
}

// Attr returns a free-form attribute, "" when absent.
func (i Identity) Attr(name string) string { return i.Attributes[name] }

// Normalize trims fields and lower-cases emails so that matching is stable.
func (i *Identity) Normalize() {
	trim := func(s *string) { *s = strings.TrimSpace(*s) }
	for _, p := range []*string{&i.ID, &i.Name, &i.EmployeeID, &i.Department, &i.Team, &i.Title, &i.Location, &i.SlackUserID, &i.TimeZone, &i.Purpose} {
		trim(p)
	}
	i.Email = strings.ToLower(strings.TrimSpace(i.Email))
	i.ManagerEmail = strings.ToLower(strings.TrimSpace(i.ManagerEmail))
	i.Owner = strings.ToLower(strings.TrimSpace(i.Owner))
	if i.Kind == "" {
		i.Kind = KindEmployee
	}
}

// Validate returns every problem with the identity at once, joined. It enforces
// "no owner, no access" for non-humans and date ordering for everyone.
func (i Identity) Validate() error {
	var errs []error
	if !i.Kind.Valid() {
		errs = append(errs, fmt.Errorf("kind %q is not one of %v", i.Kind, IdentityKinds))
	}
	if i.Email == "" {
		errs = append(errs, errors.New("email is required"))
	} else if !ValidEmail(i.Email) {
		errs = append(errs, fmt.Errorf("email %q is not a valid address", i.Email))
	}
	if i.ManagerEmail != "" && !ValidEmail(i.ManagerEmail) {
		errs = append(errs, fmt.Errorf("manager_email %q is not a valid address", i.ManagerEmail))
	}
	if i.ManagerEmail != "" && strings.EqualFold(i.ManagerEmail, i.Email) {
		errs = append(errs, errors.New("manager_email must not be the person themselves"))
	}
	if !i.StartDate.IsZero() && !i.EndDate.IsZero() && i.EndDate.Before(i.StartDate) {
		errs = append(errs, fmt.Errorf("end_date %s is before start_date %s", i.EndDate, i.StartDate))
	}
	if i.TimeZone != "" {
		if _, err := time.LoadLocation(i.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("time_zone %q is not an IANA zone", i.TimeZone))
		}
	}
	if i.Kind.Valid() && !i.Kind.Human() {
		if i.Owner == "" {
			errs = append(errs, fmt.Errorf("a %s needs an owner (no owner, no access)", i.Kind))
		} else if !ValidEmail(i.Owner) {
			errs = append(errs, fmt.Errorf("owner %q is not a valid address", i.Owner))
		}
		if i.Purpose == "" {
			errs = append(errs, fmt.Errorf("a %s needs a purpose", i.Kind))
		}
		if i.Expiry.IsZero() {
			errs = append(errs, fmt.Errorf("a %s needs an expiry", i.Kind))
		}
	}
	if i.Kind == KindContractor && i.EndDate.IsZero() {
		errs = append(errs, errors.New("a contractor needs an end_date (contract end)"))
	}
	return errors.Join(errs...)
}

// ValidEmail reports whether s is a bare address such as ada@example.com.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\t\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}
