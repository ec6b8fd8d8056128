package ldap

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	goldap "github.com/go-ldap/ldap/v3"
)

// mapping is what turning a server's entries into Accounts needs to know.
type mapping struct {
	idAttr, rdnAttr, lastActivityAttr string
	mailAttr, nameAttr, employeeAttr  string
	disableMethod                     string
	disableAttr, disableValue         string
	disabledDN                        *goldap.DN
}

func (c *Connector) mapping() mapping {
	m := mapping{
		idAttr: c.s.IDAttribute, rdnAttr: c.s.UserRDNAttr, lastActivityAttr: c.s.LastActivityAttribute,
		disableMethod: c.s.DisableMethod, disableAttr: c.s.DisableAttribute, disableValue: c.s.DisableValue,
		mailAttr: "mail", nameAttr: "cn", employeeAttr: "employeeNumber",
	}
	for attr, field := range c.s.Attributes {
		switch field {
		case "email":
			m.mailAttr = attr
		case "name":
			m.nameAttr = attr
		case "employee_id":
			m.employeeAttr = attr
		}
	}
	if c.s.DisabledDN != "" {
		m.disabledDN, _ = goldap.ParseDN(c.s.DisabledDN)
	}
	return m
}

// entryToAccount converts a user entry as the server returned it. It never
// fails: a malformed value leaves its field empty, since one odd entry must
// not stop a whole listing.
func (m mapping) entryToAccount(e *goldap.Entry) gatehouse.Account {
	a := gatehouse.Account{
		ID:          e.DN,
		UserName:    e.GetEqualFoldAttributeValue(m.rdnAttr),
		Email:       e.GetEqualFoldAttributeValue(m.mailAttr),
		DisplayName: e.GetEqualFoldAttributeValue(m.nameAttr),
		EmployeeID:  e.GetEqualFoldAttributeValue(m.employeeAttr),
		Active:      m.active(e),
	}
	if !strings.EqualFold(m.idAttr, "dn") {
		if id := e.GetEqualFoldAttributeValue(m.idAttr); id != "" {
			a.ID = id
		}
	}
	if a.UserName == "" {
		a.UserName = rdnValue(e.DN, m.rdnAttr)
	}
	if m.lastActivityAttr != "" {
		for _, v := range e.GetEqualFoldAttributeValues(m.lastActivityAttr) {
			if t, ok := parseTime(v); ok && t.After(a.LastActivity) {
				a.LastActivity = t
			}
		}
	}
	return a
}

// active reports whether the entry is enabled under the disable method.
func (m mapping) active(e *goldap.Entry) bool {
	switch m.disableMethod {
	case DisableAttribute:
		for _, v := range e.GetEqualFoldAttributeValues(m.disableAttr) {
			if strings.EqualFold(v, m.disableValue) {
				return false
			}
		}
	case DisableMove:
		if m.disabledDN == nil {
			return true
		}
		d, err := goldap.ParseDN(e.DN)
		if err != nil {
			return true
		}
		return !m.disabledDN.AncestorOfFold(d)
	}
	return true
}

// rdnValue returns the value of attr in dn's first RDN, or "".
func rdnValue(dn, attr string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return ""
	}
	for _, tv := range d.RDNs[0].Attributes {
		if strings.EqualFold(tv.Type, attr) {
			return tv.Value
		}
	}
	return ""
}

// parseTime reads LDAP GeneralizedTime ("20260102150405Z", with optional
// fraction and offset) and Active Directory's 100-ns FILETIME integers
// (lastLogonTimestamp).
func parseTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return time.Time{}, false
	}
	if isDigits(v) && len(v) >= 17 {
		ft, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ft <= 0 {
			return time.Time{}, false
		}
		// FILETIME counts from 1601-01-01.
		const epochDiff = 116444736000000000
		if ft < epochDiff {
			return time.Time{}, false
		}
		ft -= epochDiff
		return time.Unix(ft/10_000_000, (ft%10_000_000)*100).UTC(), true
	}
	// A fraction may use ',' (X.680 allows it); Go wants '.'.
	v = strings.Replace(v, ",", ".", 1)
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999999Z0700", "200601021504Z0700", "2006010215Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// groupNames maps the groups an account is in to entitlement names: the
// configured entitlement whose resource is the group's cn or DN, else the
// group's cn, so unconfigured (discovered) access still shows.
func (c *Connector) groupName(dn, cn string) string {
	if name, ok := c.entByRes[normDN(dn)]; ok {
		return name
	}
	if name, ok := c.entByRes[strings.ToLower(cn)]; ok {
		return name
	}
	if cn != "" {
		return cn
	}
	return dn
}

func sortedUnique(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
