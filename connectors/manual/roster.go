package manual

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// Roster columns and the header names accepted for each (case and
// punctuation insensitive), so exports from different apps load unchanged.
var rosterColumns = map[string][]string{
	"id":            {"id", "userid", "accountid", "uid"},
	"user_name":     {"username", "login", "user", "handle"},
	"email":         {"email", "mail", "emailaddress", "primaryemail"},
	"name":          {"name", "displayname", "fullname"},
	"employee_id":   {"employeeid", "employeenumber", "externalid"},
	"active":        {"active", "status", "enabled", "state"},
	"last_activity": {"lastactivity", "lastlogin", "lastseen", "lastsignin", "lastactive", "lastloginat"},
	"entitlements":  {"entitlements", "groups", "roles", "permissions", "teams"},
}

// maxRosterRows bounds a roster: a bigger file is a mistake.
const maxRosterRows = 1_000_000

func normHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ParseRoster reads a CSV export of an app's users. The header row names
// the columns (see rosterColumns); email or user name or id is required.
// Entitlements are separated by ';' or '|'. Active accepts true/false,
// yes/no, 1/0, active/inactive/disabled/suspended/deactivated; empty means
// active. Last activity accepts RFC 3339, "2006-01-02 15:04:05" and dates.
func ParseRoster(r io.Reader) ([]gatehouse.Account, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("roster is empty: want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("roster header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		n := normHeader(h)
		for name, aliases := range rosterColumns {
			for _, a := range aliases {
				if n == a {
					if _, dup := col[name]; !dup {
						col[name] = i
					}
				}
			}
		}
	}
	_, hasID := col["id"]
	_, hasUser := col["user_name"]
	_, hasEmail := col["email"]
	if !hasID && !hasUser && !hasEmail {
		return nil, fmt.Errorf("roster header %q has no id, user name or email column", strings.Join(header, ","))
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []gatehouse.Account
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("roster: %w", err)
		}
		if len(out) >= maxRosterRows {
			return nil, fmt.Errorf("roster has more than %d rows", maxRosterRows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		a := gatehouse.Account{
			ID: get(rec, "id"), UserName: get(rec, "user_name"), Email: get(rec, "email"),
			DisplayName: get(rec, "name"), EmployeeID: get(rec, "employee_id"), Active: true,
		}
		if a.ID == "" {
			a.ID = strings.ToLower(a.Email)
		}
		if a.ID == "" {
			a.ID = strings.ToLower(a.UserName)
		}
		if a.ID == "" {
			return nil, fmt.Errorf("roster line %d: no id, user name or email", line)
		}
		if v := get(rec, "active"); v != "" {
			active, ok := parseActive(v)
			if !ok {
				return nil, fmt.Errorf("roster line %d: cannot tell whether %q means active", line, v)
			}
			a.Active = active
		}
		if v := get(rec, "last_activity"); v != "" {
			t, ok := parseWhen(v)
			if !ok {
				return nil, fmt.Errorf("roster line %d: unreadable last activity %q", line, v)
			}
			a.LastActivity = t
		}
		if v := get(rec, "entitlements"); v != "" {
			seen := map[string]bool{}
			for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == '|' }) {
				if e = strings.TrimSpace(e); e != "" && !seen[e] {
					seen[e] = true
					a.Entitlements = append(a.Entitlements, e)
				}
			}
			sort.Strings(a.Entitlements)
		}
		out = append(out, a)
	}
	return out, nil
}

func parseActive(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "y", "1", "active", "enabled", "on":
		return true, true
	case "false", "no", "n", "0", "inactive", "disabled", "suspended", "deactivated", "off", "locked":
		return false, true
	}
	return false, false
}

func parseWhen(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02", "01/02/2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
