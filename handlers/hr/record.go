package hr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// Status is where a person stands according to the HR system, normalized
// across vendors.
type Status string

// HR statuses.
const (
	StatusUnknown    Status = ""
	StatusPending    Status = "pending" // hired, not started (onboarding)
	StatusActive     Status = "active"
	StatusLeave      Status = "leave" // leave of absence
	StatusTerminated Status = "terminated"
)

// Record is one person as an HR system reports them, mapped onto Gatehouse's
// field names. It carries no vendor types: parsers and roster readers produce
// it, the planner consumes it.
type Record struct {
	Source          string
	VendorID        string // the vendor's own id (used to fetch the person again)
	EmployeeID      string
	Email           string
	Name            string
	Department      string
	Team            string
	Title           string
	Location        string
	ManagerEmail    string
	ManagerID       string // the manager's vendor id, resolved to ManagerEmail where possible
	TimeZone        string
	SlackUserID     string
	Kind            gatehouse.IdentityKind
	Status          Status
	StartDate       gatehouse.Date
	EndDate         gatehouse.Date // contract end
	TerminationDate gatehouse.Date
	Attributes      map[string]string
}

// MatchKey is what the record is known by in logs: the employee id, else a
// short hash of the email (never the email itself: logs carry no PII).
func (r Record) MatchKey() string {
	if r.EmployeeID != "" {
		return "emp:" + r.EmployeeID
	}
	return "email-sha256:" + shortHash(strings.ToLower(r.Email))
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// normalize trims and lower-cases what must be compared.
func (r *Record) normalize() {
	for _, p := range []*string{&r.EmployeeID, &r.Name, &r.Department, &r.Team, &r.Title, &r.Location, &r.ManagerID, &r.TimeZone, &r.SlackUserID, &r.VendorID} {
		*p = strings.TrimSpace(*p)
	}
	r.Email = strings.ToLower(strings.TrimSpace(r.Email))
	r.ManagerEmail = strings.ToLower(strings.TrimSpace(r.ManagerEmail))
}

// fieldSet is a flat view of a vendor record: vendor field name → value.
// Nested JSON objects are flattened with dots ("work.department").
type fieldSet map[string]string

// flatten turns decoded JSON into a fieldSet. Arrays of scalars are joined
// with commas; deeper structures are flattened by index.
func flatten(prefix string, v any, out fieldSet, depth int) {
	if depth > 8 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, vv, out, depth+1)
		}
	case []any:
		for i, vv := range x {
			flatten(prefix+"."+strconv.Itoa(i), vv, out, depth+1)
		}
	case string:
		out[prefix] = x
	case float64:
		out[prefix] = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		out[prefix] = strconv.FormatBool(x)
	case nil:
		// absent
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

// Mapping says which vendor field feeds each Gatehouse field. Vendors have
// defaults; config overrides them per source.
type Mapping map[string]string

func (m Mapping) with(overrides map[string]string) Mapping {
	out := make(Mapping, len(m)+len(overrides))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}

// statusWords maps vendor status values (lower-cased) to Status.
var statusWords = map[string]Status{
	"active": StatusActive, "employed": StatusActive, "enabled": StatusActive, "true": StatusActive, "1": StatusActive,
	"onboarding": StatusPending, "pending": StatusPending, "hired": StatusPending, "not started": StatusPending, "garden leave": StatusTerminated,
	"leave": StatusLeave, "on leave": StatusLeave, "leave of absence": StatusLeave, "temporaryleave": StatusLeave, "suspended": StatusLeave,
	"inactive": StatusTerminated, "terminated": StatusTerminated, "false": StatusTerminated, "0": StatusTerminated, "left": StatusTerminated,
	"disabled": StatusTerminated,
}

// parseStatus maps a vendor status, consulting the source's own map first.
func parseStatus(s string, custom map[string]string) Status {
	k := strings.ToLower(strings.TrimSpace(s))
	if k == "" {
		return StatusUnknown
	}
	if v, ok := custom[k]; ok {
		return Status(v)
	}
	if v, ok := statusWords[k]; ok {
		return v
	}
	return StatusUnknown
}

// parseKind maps a vendor employment type onto an identity kind.
func parseKind(s string) gatehouse.IdentityKind {
	k := strings.ToLower(strings.TrimSpace(s))
	switch {
	case k == "":
		return ""
	case strings.Contains(k, "contract") || strings.Contains(k, "freelanc") || strings.Contains(k, "contingent") || k == "external":
		return gatehouse.KindContractor
	case strings.Contains(k, "intern") || strings.Contains(k, "working student") || strings.Contains(k, "trainee"):
		return gatehouse.KindIntern
	}
	return gatehouse.KindEmployee
}

// dateOf parses the date formats HR systems use; "0000-00-00" (BambooHR's
// empty date) and garbage are the zero date.
func dateOf(s string) gatehouse.Date {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000") {
		return gatehouse.Date{}
	}
	if d, err := gatehouse.ParseDate(s); err == nil {
		return d
	}
	if len(s) >= 10 {
		if d, err := gatehouse.ParseDate(s[:10]); err == nil {
			return d
		}
	}
	for _, layout := range []string{"01/02/2006", "2006/01/02", "02.01.2006"} {
		if d, err := parseLayout(layout, s); err == nil {
			return d
		}
	}
	return gatehouse.Date{}
}

// mapRecord builds a Record from a flat vendor view with a mapping.
func mapRecord(source string, fs fieldSet, m Mapping, statusMap map[string]string) Record {
	get := func(f string) string {
		// A mapping may list alternatives, "workEmail|Work Email": the
		// first non-empty one wins (API and webhook names differ).
		for _, name := range strings.Split(m[f], "|") {
			if v := strings.TrimSpace(fs[strings.TrimSpace(name)]); name != "" && v != "" {
				return v
			}
		}
		return ""
	}
	r := Record{
		Source:       source,
		EmployeeID:   get("employee_id"),
		Email:        get("email"),
		Name:         get("name"),
		Department:   get("department"),
		Team:         get("team"),
		Title:        get("title"),
		Location:     get("location"),
		ManagerEmail: get("manager_email"),
		ManagerID:    get("manager_id"),
		TimeZone:     get("time_zone"),
		SlackUserID:  get("slack_user_id"),
		Kind:         parseKind(get("kind")),
		Status:       parseStatus(get("status"), statusMap),
		StartDate:    dateOf(get("start_date")),
		EndDate:      dateOf(get("end_date")),
	}
	r.TerminationDate = dateOf(get("termination_date"))
	if r.Name == "" {
		r.Name = strings.TrimSpace(get("first_name") + " " + get("last_name"))
	}
	r.normalize()
	return r
}
