package slackhandlers

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse"
)

// Field keys of the forms. Package bot uses them as the input blocks'
// block_id, so FieldErrors map straight onto Slack's response_action errors.
const (
	FieldName          = "name"
	FieldEmail         = "email"
	FieldTitle         = "title"
	FieldDepartment    = "department"
	FieldTeam          = "team"
	FieldManager       = "manager"
	FieldLocation      = "location"
	FieldStartDate     = "start_date"
	FieldKind          = "employment_type"
	FieldEndDate       = "end_date"
	FieldTransferTo    = "transfer_to"
	FieldEffective     = "effective"
	FieldApp           = "app"
	FieldEntitlement   = "entitlement"
	FieldDuration      = "duration"
	FieldJustification = "justification"
	FieldReason        = "reason"
	FieldEvidence      = "evidence"
	// FieldAttrPrefix + NAME is the field of identity attribute NAME in
	// the /onboard modal (the attributes the rules read).
	FieldAttrPrefix = "attr_"
)

// AttrField is the field key of identity attribute name.
func AttrField(name string) string { return FieldAttrPrefix + name }

// maxAttr bounds an attribute value typed into the modal.
const maxAttr = 200

// FieldErrors maps a field key to a user-facing message. Empty means valid.
type FieldErrors map[string]string

// Keys returns the field keys in order, for stable messages.
func (e FieldErrors) Keys() []string {
	out := make([]string, 0, len(e))
	for k := range e {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e FieldErrors) Error() string {
	var b strings.Builder
	for i, k := range e.Keys() {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + ": " + e[k])
	}
	return b.String()
}

// maxField bounds free-text fields: Slack's plain_text_input caps them at
// 3000, and our cards must be able to show them.
const maxField = 3000

// OnboardForm is what the /onboard modal collects. Manager is resolved by
// the caller from the user picker to an email (ManagerEmail) or left blank
// with ManagerUserID set when the picked user has no known email.
type OnboardForm struct {
	Name          string
	Email         string
	Title         string
	Department    string
	Team          string
	ManagerUserID string
	ManagerEmail  string
	Location      string
	StartDate     string // YYYY-MM-DD as the date picker sends it
	Kind          string // employee | intern | contractor
	EndDate       string // contract end, required for contractors
	// Attributes are the identity attributes the rules read (name ->
	// value, "" = not set), as the modal's attribute inputs carry them.
	Attributes map[string]string
}

// EmploymentKinds are the kinds /onboard offers (non-humans are registered
// elsewhere: they need an owner, a purpose and an expiry).
var EmploymentKinds = []gatehouse.IdentityKind{gatehouse.KindEmployee, gatehouse.KindIntern, gatehouse.KindContractor}

// Identity validates the form and returns the identity it describes, or
// inline errors keyed by field. today is the date in the organization's zone.
func (f OnboardForm) Identity(today gatehouse.Date) (gatehouse.Identity, FieldErrors) {
	errs := FieldErrors{}
	text := func(key, v string, required bool) string {
		v = strings.TrimSpace(v)
		switch {
		case v == "" && required:
			errs[key] = "Required."
		case utf8.RuneCountInString(v) > maxField:
			errs[key] = fmt.Sprintf("At most %d characters.", maxField)
		case strings.ContainsAny(v, "\x00\r\n"):
			errs[key] = "One line, please."
		}
		return v
	}
	id := gatehouse.Identity{
		Name:       text(FieldName, f.Name, true),
		Title:      text(FieldTitle, f.Title, false),
		Department: text(FieldDepartment, f.Department, false),
		Team:       text(FieldTeam, f.Team, false),
		Location:   text(FieldLocation, f.Location, false),
		Status:     gatehouse.StatusPending,
	}
	email := strings.ToLower(strings.TrimSpace(f.Email))
	switch {
	case email == "":
		errs[FieldEmail] = "Required."
	case !gatehouse.ValidEmail(email):
		errs[FieldEmail] = "Not an email address, e.g. ada@example.com."
	}
	id.Email = email
	switch {
	case f.ManagerUserID != "" && f.ManagerEmail == "":
		errs[FieldManager] = "Gatehouse does not know this person's email; pick someone with a work email."
	case f.ManagerEmail != "" && strings.EqualFold(f.ManagerEmail, email):
		errs[FieldManager] = "A person cannot be their own manager."
	}
	id.ManagerEmail = strings.ToLower(f.ManagerEmail)
	kind := gatehouse.IdentityKind(f.Kind)
	if kind == "" {
		kind = gatehouse.KindEmployee
	}
	if !kind.Valid() || !kind.Human() {
		errs[FieldKind] = "Pick employee, intern or contractor."
	}
	id.Kind = kind
	start, err := gatehouse.ParseDate(f.StartDate)
	switch {
	case err != nil:
		errs[FieldStartDate] = "Not a date."
	case start.IsZero():
		errs[FieldStartDate] = "Required."
	case !today.IsZero() && start.Before(addDays(today, -30)):
		errs[FieldStartDate] = "More than 30 days ago: use the HR system for back-dated hires."
	}
	id.StartDate = start
	end, err := gatehouse.ParseDate(f.EndDate)
	switch {
	case err != nil:
		errs[FieldEndDate] = "Not a date."
	case !end.IsZero() && !start.IsZero() && end.Before(start):
		errs[FieldEndDate] = "The contract ends before it starts."
	case end.IsZero() && kind == gatehouse.KindContractor:
		errs[FieldEndDate] = "Contractors need a contract end date."
	}
	id.EndDate = end
	for name, v := range f.Attributes {
		v = strings.TrimSpace(v)
		switch {
		case v == "":
			continue
		case utf8.RuneCountInString(v) > maxAttr:
			errs[AttrField(name)] = fmt.Sprintf("At most %d characters.", maxAttr)
		case strings.ContainsAny(v, "\x00\r\n"):
			errs[AttrField(name)] = "One line, please."
		}
		if id.Attributes == nil {
			id.Attributes = map[string]string{}
		}
		id.Attributes[name] = v
	}
	id.Normalize()
	if len(errs) > 0 {
		return id, errs
	}
	return id, nil
}

func addDays(d gatehouse.Date, n int) gatehouse.Date {
	return gatehouse.DateOf(d.In(time.UTC).AddDate(0, 0, n))
}

// OffboardForm is what the /offboard confirmation modal submits.
type OffboardForm struct {
	IdentityKey      string
	TransferToUserID string
	TransferToEmail  string // resolved by the caller from the picker
	EffectiveDate    string // "" = now
	Reason           string
}

// RequestForm is what the /access request modal submits.
type RequestForm struct {
	App           string
	Entitlement   string
	Duration      string // e.g. "7d", "24h"; from a static select
	Justification string
}

// Durations are the choices the request modal offers.
var Durations = []struct {
	Value string
	Label string
	D     time.Duration
}{
	{"4h", "4 hours", 4 * time.Hour},
	{"1d", "1 day", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"90d", "90 days", 90 * 24 * time.Hour},
}

// ParseDuration maps a duration choice to its length.
func ParseDuration(v string) (time.Duration, bool) {
	for _, d := range Durations {
		if d.Value == v {
			return d.D, true
		}
	}
	return 0, false
}
