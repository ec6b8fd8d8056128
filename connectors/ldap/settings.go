package ldap

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	goldap "github.com/go-ldap/ldap/v3"
)

// Disable methods.
const (
	// DisableAttribute adds disable_value to disable_attribute (default
	// employeeType: disabled); enabling removes that value again. With
	// disable_attribute pwdAccountLockedTime (ppolicy overlay) the default
	// value is 000001010000Z, a permanent lock that refuses binds (OpenLDAP
	// enforces it only where the password policy has pwdLockout: TRUE).
	DisableAttribute = "attribute"
	// DisableMove moves the entry under disabled_dn (modrdn, same RDN) and
	// back. Group members are DNs, so the server should run the refint
	// overlay to rewrite them on the move.
	DisableMove = "move"
	// DisableDelete deletes the entry; there is no enable, and a later
	// EnsureAccount creates a new entry.
	DisableDelete = "delete"
)

// Group types.
const (
	GroupOfNames = "groupOfNames" // members are user DNs in `member`
	PosixGroup   = "posixGroup"   // members are uids in `memberUid`
)

// Settings are the ldap connector's settings block.
type Settings struct {
	// URL is ldap://host:port or ldaps://host:port.
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool `yaml:"start_tls"`
	// InsecureSkipVerify disables certificate checks (logged as a warning).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM bundle trusted for the server's certificate.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName   string        `yaml:"server_name"`
	BindDN       string        `yaml:"bind_dn"`
	BindPassword config.Secret `yaml:"bind_password"`
	// BaseDN bounds every search; UsersDN (default BaseDN) is where accounts
	// are created and listed; GroupsDN (default BaseDN) is searched for groups
	// named by cn.
	BaseDN   string `yaml:"base_dn"`
	UsersDN  string `yaml:"users_dn"`
	GroupsDN string `yaml:"groups_dn"`
	// UserObjectClasses are set on new entries (default inetOrgPerson); the
	// first one identifies user entries in searches.
	UserObjectClasses []string `yaml:"user_object_classes"`
	// UserRDNAttr names new entries (default uid).
	UserRDNAttr string `yaml:"user_rdn_attr"`
	// UIDFrom chooses the RDN value: email_local (default: the local part of
	// the email), user_name, or email.
	UIDFrom string `yaml:"uid_from"`
	// Attributes maps LDAP attributes to identity fields, on top of the
	// defaults (cn: name, sn: family_name, givenName: given_name, mail:
	// email, employeeNumber: employee_id, title: title, departmentNumber:
	// department). Fields: uid, email, user_name, name, given_name,
	// family_name, employee_id, title, department, manager, or attr.KEY for an
	// identity attribute. An empty field removes a default mapping.
	Attributes map[string]string `yaml:"attributes"`
	// StaticAttributes are written as-is on new entries (e.g. loginShell).
	StaticAttributes map[string]string `yaml:"static_attributes"`
	// GroupType is groupOfNames (default) or posixGroup.
	GroupType string `yaml:"group_type"`
	// EmptyGroupMember is the placeholder member a groupOfNames keeps when
	// its last real member is revoked, since the schema requires at least
	// one; default cn=nobody,BASE_DN. Set to "" to fail such revokes instead.
	EmptyGroupMember *string `yaml:"empty_group_member"`
	// DisableMethod is attribute (default), move or delete.
	DisableMethod    string `yaml:"disable_method"`
	DisableAttribute string `yaml:"disable_attribute"`
	DisableValue     string `yaml:"disable_value"`
	DisabledDN       string `yaml:"disabled_dn"`
	// IDAttribute gives account ids: entryUUID (default; stable across
	// moves) or dn.
	IDAttribute string `yaml:"id_attribute"`
	// LastActivityAttribute is read as the last activity (default
	// authTimestamp from the lastbind overlay; e.g. modifyTimestamp, or
	// lastLogonTimestamp on Active Directory). Missing means unknown.
	LastActivityAttribute string `yaml:"last_activity_attribute"`
	// PageSize for listing (default 500).
	PageSize int `yaml:"page_size"`
	// Timeout per LDAP request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

var defaultAttributes = map[string]string{
	"cn": "name", "sn": "family_name", "givenName": "given_name", "mail": "email",
	"employeeNumber": "employee_id", "title": "title", "departmentNumber": "department",
}

var knownFields = []string{"uid", "email", "user_name", "name", "given_name", "family_name", "employee_id", "title", "department", "manager"}

// normalize applies defaults and validates, reporting every problem at pos
// under key (the settings block's dotted key).
func (s *Settings) normalize(pos config.Pos, key string) config.ErrorList {
	var errs config.ErrorList
	bad := func(k, format string, args ...any) { errs.Add(pos, key+"."+k, format, args...) }
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		bad("url", "required: ldap://HOST:PORT or ldaps://HOST:PORT")
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
		bad("url", "want ldap://HOST:PORT or ldaps://HOST:PORT, got %q", s.URL)
	case u.Scheme == "ldaps" && s.StartTLS:
		bad("start_tls", "ldaps:// is already TLS; start_tls is for ldap:// URLs")
	}
	// ca_file is read when connecting, like secrets: a config must load on a
	// laptop that lacks production files; `apps check` reports it missing.
	checkDN := func(k, dn string, required bool) {
		if dn == "" {
			if required {
				bad(k, "required")
			}
			return
		}
		if _, err := goldap.ParseDN(dn); err != nil {
			bad(k, "invalid DN %q: %v", dn, err)
		}
	}
	checkDN("base_dn", s.BaseDN, true)
	checkDN("bind_dn", s.BindDN, false)
	if s.UsersDN == "" {
		s.UsersDN = s.BaseDN
	}
	if s.GroupsDN == "" {
		s.GroupsDN = s.BaseDN
	}
	checkDN("users_dn", s.UsersDN, false)
	checkDN("groups_dn", s.GroupsDN, false)
	if s.BindDN != "" && !s.BindPassword.IsSet() {
		bad("bind_password", "required with bind_dn (use ${ENV_VAR} or bind_password_file)")
	}
	for k, dn := range map[string]string{"users_dn": s.UsersDN, "groups_dn": s.GroupsDN, "disabled_dn": s.DisabledDN} {
		if dn != "" && s.BaseDN != "" && !under(dn, s.BaseDN) {
			bad(k, "%q is not within base_dn %q", dn, s.BaseDN)
		}
	}
	if len(s.UserObjectClasses) == 0 {
		s.UserObjectClasses = []string{"inetOrgPerson"}
	}
	if s.UserRDNAttr == "" {
		s.UserRDNAttr = "uid"
	}
	switch s.UIDFrom {
	case "":
		s.UIDFrom = "email_local"
	case "email_local", "user_name", "email":
	default:
		bad("uid_from", "want email_local, user_name or email, got %q", s.UIDFrom)
	}
	attrs := map[string]string{}
	for k, v := range defaultAttributes {
		attrs[k] = v
	}
	for k, v := range s.Attributes {
		if v == "" {
			delete(attrs, k)
			continue
		}
		if !slices.Contains(knownFields, v) && !strings.HasPrefix(v, "attr.") {
			bad("attributes."+k, "unknown field %q: want one of %s or attr.KEY", v, strings.Join(knownFields, ", "))
		}
		attrs[k] = v
	}
	s.Attributes = attrs
	switch s.GroupType {
	case "":
		s.GroupType = GroupOfNames
	case GroupOfNames, PosixGroup:
	default:
		bad("group_type", "want groupOfNames or posixGroup, got %q", s.GroupType)
	}
	if s.EmptyGroupMember == nil {
		p := ""
		if s.BaseDN != "" {
			p = "cn=nobody," + s.BaseDN
		}
		s.EmptyGroupMember = &p
	} else {
		checkDN("empty_group_member", *s.EmptyGroupMember, false)
	}
	switch s.DisableMethod {
	case "", DisableAttribute:
		s.DisableMethod = DisableAttribute
		if s.DisableAttribute == "" {
			s.DisableAttribute = "employeeType"
		}
		if s.DisableValue == "" {
			s.DisableValue = "disabled"
			if strings.EqualFold(s.DisableAttribute, "pwdAccountLockedTime") {
				s.DisableValue = "000001010000Z"
			}
		}
	case DisableMove:
		if s.DisabledDN == "" {
			bad("disabled_dn", "required with disable_method move")
		}
		checkDN("disabled_dn", s.DisabledDN, false)
		if s.DisabledDN != "" && s.UsersDN != "" && under(s.DisabledDN, s.UsersDN) {
			// Accounts are listed under users_dn; a disabled OU below it is
			// fine, but must not be users_dn itself.
			if strings.EqualFold(normDN(s.DisabledDN), normDN(s.UsersDN)) {
				bad("disabled_dn", "must differ from users_dn")
			}
		}
	case DisableDelete:
	default:
		bad("disable_method", "want attribute, move or delete, got %q", s.DisableMethod)
	}
	if s.DisableMethod != DisableAttribute && (s.DisableAttribute != "" || s.DisableValue != "") {
		bad("disable_attribute", "only used with disable_method attribute")
	}
	if s.DisableMethod != DisableMove && s.DisabledDN != "" {
		bad("disabled_dn", "only used with disable_method move")
	}
	if s.IDAttribute == "" {
		s.IDAttribute = "entryUUID"
	}
	if s.LastActivityAttribute == "" {
		s.LastActivityAttribute = "authTimestamp"
	}
	if s.PageSize == 0 {
		s.PageSize = 500
	}
	if s.PageSize < 0 {
		bad("page_size", "must be positive")
	}
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Second
	}
	return errs
}

// under reports whether dn is base or below it (case-insensitive).
func under(dn, base string) bool {
	d, err1 := goldap.ParseDN(dn)
	b, err2 := goldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return false
	}
	return d.EqualFold(b) || b.AncestorOfFold(d)
}

// normDN returns a comparable form of dn (parsed and re-serialised).
func normDN(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(d.String())
}

func (s *Settings) describe() string {
	return fmt.Sprintf("%s (base %s)", s.URL, s.BaseDN)
}
