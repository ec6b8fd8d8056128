// Package ldap is the connector for LDAP directories (OpenLDAP, 389 DS and
// friends): connector type "ldap". Accounts are user entries created under
// users_dn; entitlements are group memberships, where an entitlement's
// resource is a group's cn (searched under groups_dn) or its full DN.
//
// Semantics worth knowing:
//   - Account ids are entryUUID by default, so they survive disable-by-move;
//     accounts are found by id, else by the RDN attribute (uid) or mail.
//   - groupOfNames groups hold user DNs in member, posixGroup groups hold
//     uids in memberUid. "Already a member" and "not a member" are success.
//   - groupOfNames must keep at least one member. Revoking the last real
//     member replaces it with the placeholder empty_group_member (default
//     cn=nobody,BASE_DN) in one modify; the next grant removes the
//     placeholder. With empty_group_member set to "" such a revoke fails
//     permanently instead, saying why.
//   - Disable adds an attribute value (default employeeType: disabled; or
//     pwdAccountLockedTime with ppolicy), moves the entry under disabled_dn,
//     or deletes it. LDAP has no sessions: revoke_sessions is unsupported
//     (a ppolicy lock refuses new binds, which is the closest thing).
//   - Deleting an account first removes it from every group under
//     groups_dn, so no dangling members remain even without refint.
//   - Every DN value is escaped with EscapeDN and every filter value with
//     EscapeFilter.
//   - An entry found by uid whose mail names someone else (and whose
//     employeeNumber does not match) is refused rather than taken over.
//
// A typical configuration (see Settings for every key):
//
//	apps:
//	  directory:
//	    connector: ldap
//	    owner: it@example.com
//	    settings:
//	      url: ldap://ldap.internal:389
//	      start_tls: true
//	      ca_file: /etc/gatehouse/ldap-ca.pem
//	      bind_dn: cn=gatehouse,ou=services,dc=example,dc=com
//	      bind_password: ${LDAP_BIND_PASSWORD}
//	      base_dn: dc=example,dc=com
//	      users_dn: ou=people,dc=example,dc=com
//	      groups_dn: ou=groups,dc=example,dc=com
//	      group_type: groupOfNames          # or posixGroup
//	      disable_method: move              # attribute (default), move or delete
//	      disabled_dn: ou=disabled,dc=example,dc=com
//	      last_activity_attribute: authTimestamp
//	    entitlements:
//	      engineering: {kind: group, resource: engineering, risk: low}
//	      vpn: {kind: group, resource: "cn=vpn,ou=network,dc=example,dc=com", risk: medium}
//
// The bind account needs read access under base_dn and write access to
// users_dn (add, modify, delete, and modrdn to disabled_dn) and to the
// member attribute of the groups. `gatehouse apps check` binds and reads;
// it cannot prove write access without changing something.
package ldap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	goldap "github.com/go-ldap/ldap/v3"
	"github.com/rs/zerolog"
)

// Type is the connector type name.
const Type = "ldap"

func init() { connectors.Register(Type, factory) }

// Connector talks to one LDAP directory.
type Connector struct {
	name     string
	s        Settings
	log      zerolog.Logger
	entByRes map[string]string // lower(cn) or normalised DN → entitlement name
	m        mapping

	mu  sync.Mutex
	cur *goldap.Conn

	gmu    sync.Mutex
	groups map[string]string // resource → group DN, positive results only
}

var _ gatehouse.Connector = (*Connector)(nil)

func factory(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	decodeErrs, _ := app.Settings.Decode(&s).SplitWarnings()
	ents := make([]gatehouse.Entitlement, 0, len(app.Entitlements))
	for name, e := range app.Entitlements {
		ents = append(ents, gatehouse.Entitlement{App: app.Name, Name: name, Kind: e.Kind, Resource: e.Resource})
	}
	c, err := newConnector(app.Name, s, ents, deps.Logger, settingsPos(app), "apps."+app.Name+".settings")
	if len(decodeErrs) > 0 {
		// Report decoding and validation problems in one pass.
		var el config.ErrorList
		if errors.As(err, &el) {
			decodeErrs = append(decodeErrs, el...)
		}
		decodeErrs.Sort()
		return nil, decodeErrs
	}
	return c, err
}

// New builds a connector from settings (defaults applied, validated) and
// the app's entitlements, used to report memberships by entitlement name.
// It does not connect: the first operation does.
func New(name string, s Settings, ents []gatehouse.Entitlement, log zerolog.Logger) (*Connector, error) {
	return newConnector(name, s, ents, log, config.Pos{File: "<ldap>"}, "settings")
}

func newConnector(name string, s Settings, ents []gatehouse.Entitlement, log zerolog.Logger, pos config.Pos, key string) (*Connector, error) {
	if errs := s.normalize(pos, key); len(errs) > 0 {
		return nil, errs
	}
	if s.InsecureSkipVerify {
		log.Warn().Str("app", name).Msg("ldap: insecure_skip_verify is set: the server's certificate is not checked")
	}
	c := &Connector{name: name, s: s, log: log, entByRes: map[string]string{}, groups: map[string]string{}}
	for _, e := range ents {
		if e.Kind == gatehouse.EntAccount {
			continue
		}
		res := e.Resource
		if res == "" {
			res = e.Name
		}
		if strings.Contains(res, "=") {
			c.entByRes[normDN(res)] = e.Name
		} else {
			c.entByRes[strings.ToLower(res)] = e.Name
		}
	}
	c.m = c.mapping()
	return c, nil
}

// Name implements gatehouse.Connector.
func (c *Connector) Name() string { return c.name }

// Capabilities implements gatehouse.Connector.
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapDelete,
		gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapListAccounts)
	if c.s.DisableMethod != DisableDelete {
		caps[gatehouse.CapEnable] = true
	}
	return caps
}

func (c *Connector) unsupported(op gatehouse.Capability, why string) error {
	return gatehouse.Permanent(fmt.Errorf("ldap %s %s (%s): %w", c.name, op, why, gatehouse.ErrUnsupported))
}

// userAttrs are requested for every user entry: all user attributes plus
// the operational ones the mapping reads.
func (c *Connector) userAttrs() []string {
	attrs := []string{"*"}
	if !strings.EqualFold(c.s.IDAttribute, "dn") {
		attrs = append(attrs, c.s.IDAttribute)
	}
	attrs = append(attrs, c.s.LastActivityAttribute)
	if c.s.DisableMethod == DisableAttribute {
		attrs = append(attrs, c.s.DisableAttribute)
	}
	return attrs
}

// uidFor returns the RDN value for ref.
func (c *Connector) uidFor(ref gatehouse.AccountRef) string {
	local := func(s string) string {
		if i := strings.LastIndexByte(s, '@'); i > 0 {
			return s[:i]
		}
		return s
	}
	switch c.s.UIDFrom {
	case "user_name":
		if ref.UserName != "" {
			return ref.UserName
		}
		return ref.Email
	case "email":
		if ref.Email != "" {
			return strings.ToLower(ref.Email)
		}
		return ref.UserName
	}
	if ref.Email != "" {
		return strings.ToLower(local(ref.Email))
	}
	return strings.ToLower(local(ref.UserName))
}

func (c *Connector) userDN(uid string) string {
	return c.s.UserRDNAttr + "=" + goldap.EscapeDN(uid) + "," + c.s.UsersDN
}

// find returns ref's entry, or nil when there is none.
func (c *Connector) find(ctx context.Context, ref gatehouse.AccountRef) (*goldap.Entry, error) {
	if ref.AccountID != "" {
		e, err := c.findByID(ctx, ref.AccountID)
		if err != nil || e != nil {
			return e, err
		}
		// A stale id (entry recreated out of band) falls back to natural keys.
	}
	var alts []string
	if uid := c.uidFor(ref); uid != "" {
		alts = append(alts, "("+c.s.UserRDNAttr+"="+goldap.EscapeFilter(uid)+")")
	}
	if ref.Email != "" && c.m.mailAttr != "" {
		alts = append(alts, "("+c.m.mailAttr+"="+goldap.EscapeFilter(ref.Email)+")")
	}
	if len(alts) == 0 {
		if ref.AccountID != "" {
			return nil, nil // known only by an id that matches nothing
		}
		return nil, gatehouse.Permanent(fmt.Errorf("ldap %s: account reference has no id, user name or email", c.name))
	}
	filter := "(&" + c.userClassFilter() + "(|" + strings.Join(alts, "") + "))"
	entries, err := c.search(ctx, c.s.BaseDN, goldap.ScopeWholeSubtree, filter, c.userAttrs(), 3)
	if err != nil {
		return nil, err
	}
	// The email is the stronger key: with jane@a.com and jane@b.com both
	// deriving uid "jane", the entry with the right mail is the person's.
	if ref.Email != "" && len(entries) > 1 {
		var byMail []*goldap.Entry
		for _, e := range entries {
			if strings.EqualFold(e.GetEqualFoldAttributeValue(c.m.mailAttr), ref.Email) {
				byMail = append(byMail, e)
			}
		}
		if len(byMail) == 1 {
			return byMail[0], nil
		}
	}
	switch len(entries) {
	case 0:
		return nil, nil
	case 1:
		if err := c.samePerson(entries[0], ref); err != nil {
			return nil, err
		}
		return entries[0], nil
	}
	return nil, gatehouse.Permanent(fmt.Errorf("ldap %s: %d entries match %s (%s and %s); refusing to guess", c.name, len(entries), filter, entries[0].DN, entries[1].DN))
}

// samePerson refuses an entry found by uid that belongs to someone else:
// a different mail, and no matching employee number to prove a renamed
// address. Taking it would hand one person's account to another.
func (c *Connector) samePerson(e *goldap.Entry, ref gatehouse.AccountRef) error {
	mail := e.GetEqualFoldAttributeValue(c.m.mailAttr)
	if ref.Email == "" || mail == "" || strings.EqualFold(mail, ref.Email) {
		return nil
	}
	if emp := e.GetEqualFoldAttributeValue(c.m.employeeAttr); ref.EmployeeID != "" && emp == ref.EmployeeID {
		return nil
	}
	return gatehouse.Permanent(fmt.Errorf("ldap %s: %s is taken by %s, not %s; give this person a distinct %s (uid_from, or create the entry by hand)",
		c.name, e.DN, mail, ref.Email, c.s.UserRDNAttr))
}

func (c *Connector) findByID(ctx context.Context, id string) (*goldap.Entry, error) {
	if strings.EqualFold(c.s.IDAttribute, "dn") {
		if _, err := goldap.ParseDN(id); err != nil {
			return nil, nil
		}
		entries, err := c.search(ctx, id, goldap.ScopeBaseObject, c.userClassFilter(), c.userAttrs(), 1)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil, nil
		}
		if err != nil || len(entries) == 0 {
			return nil, err
		}
		return entries[0], nil
	}
	filter := "(&" + c.userClassFilter() + "(" + c.s.IDAttribute + "=" + goldap.EscapeFilter(id) + "))"
	entries, err := c.search(ctx, c.s.BaseDN, goldap.ScopeWholeSubtree, filter, c.userAttrs(), 1)
	// A malformed value for the id's syntax (e.g. not a UUID) is "no match".
	if isCode(err, goldap.LDAPResultInvalidAttributeSyntax, goldap.LDAPResultInappropriateMatching) {
		return nil, nil
	}
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	return entries[0], nil
}

func isCode(err error, codes ...uint16) bool { return goldap.IsErrorAnyOf(err, codes...) }

func (c *Connector) userClassFilter() string {
	return "(objectClass=" + goldap.EscapeFilter(c.s.UserObjectClasses[0]) + ")"
}

// search runs a search, paging with the SimplePaging control when limit is
// 0 (everything), and checks ctx between pages.
func (c *Connector) search(ctx context.Context, base string, scope int, filter string, attrs []string, limit int) ([]*goldap.Entry, error) {
	var out []*goldap.Entry
	var paging *goldap.ControlPaging
	req := goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, limit, 0, false, filter, attrs, nil)
	if limit == 0 {
		paging = goldap.NewControlPaging(uint32(c.s.PageSize))
		req.Controls = []goldap.Control{paging}
	}
	for {
		var res *goldap.SearchResult
		err := c.do(ctx, "search "+base, func(l *goldap.Conn) error {
			var err error
			res, err = l.Search(req)
			return err
		})
		if err != nil {
			if isCode(err, goldap.LDAPResultSizeLimitExceeded) && limit > 0 && res != nil {
				return append(out, res.Entries...), nil
			}
			return nil, c.classify(fmt.Sprintf("search %s %s", base, filter), err)
		}
		out = append(out, res.Entries...)
		if paging == nil {
			return out, nil
		}
		ctrl, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if !ok || len(ctrl.Cookie) == 0 {
			return out, nil
		}
		paging.SetCookie(ctrl.Cookie)
	}
}

func (c *Connector) modify(ctx context.Context, req *goldap.ModifyRequest) error {
	return c.do(ctx, "modify "+req.DN, func(l *goldap.Conn) error { return l.Modify(req) })
}

// EnsureAccount implements gatehouse.Connector: it adds the entry if no
// entry matches ref and re-enables a disabled one.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	e, err := c.find(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, err
	}
	if e == nil {
		dn, err := c.add(ctx, ref)
		if err != nil {
			return gatehouse.Account{}, err
		}
		entries, err := c.search(ctx, dn, goldap.ScopeBaseObject, "(objectClass=*)", c.userAttrs(), 1)
		if err != nil {
			return gatehouse.Account{}, err
		}
		if len(entries) == 0 {
			return gatehouse.Account{}, gatehouse.Retryable(fmt.Errorf("ldap %s: entry %s vanished right after it was added", c.name, dn))
		}
		e = entries[0]
	}
	if !c.m.active(e) {
		if err := c.enable(ctx, e); err != nil {
			return gatehouse.Account{}, err
		}
		if e, err = c.find(ctx, gatehouse.AccountRef{AccountID: c.m.entryToAccount(e).ID, Email: ref.Email, UserName: ref.UserName}); err != nil || e == nil {
			return gatehouse.Account{}, errors.Join(err, gatehouse.Retryable(fmt.Errorf("ldap %s: account vanished while enabling it", c.name)))
		}
	}
	return c.m.entryToAccount(e), nil
}

// add creates ref's entry and returns its DN. An entry already at that DN
// that is a user counts as created (a lost response to an earlier add).
func (c *Connector) add(ctx context.Context, ref gatehouse.AccountRef) (string, error) {
	uid := c.uidFor(ref)
	if uid == "" {
		return "", gatehouse.Permanent(fmt.Errorf("ldap %s: cannot derive %s for %s", c.name, c.s.UserRDNAttr, ref.IdentityKey))
	}
	dn := c.userDN(uid)
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", c.s.UserObjectClasses)
	vals := c.attributesFor(ref, uid)
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Attribute(k, []string{vals[k]})
	}
	err := c.do(ctx, "add "+dn, func(l *goldap.Conn) error { return l.Add(req) })
	if isCode(err, goldap.LDAPResultEntryAlreadyExists) {
		return dn, nil
	}
	if err != nil {
		return "", c.classify("add "+dn, err)
	}
	c.log.Info().Str("app", c.name).Str("dn", dn).Msg("ldap: account created")
	return dn, nil
}

// attributesFor computes a new entry's attributes from the mapping. cn and
// sn are required by person-derived classes, so they fall back to the uid.
func (c *Connector) attributesFor(ref gatehouse.AccountRef, uid string) map[string]string {
	field := func(f string) string {
		if f == "uid" {
			return uid
		}
		if v, ok := ref.Field(f); ok && f != "identity_key" {
			return v
		}
		if k, ok := strings.CutPrefix(f, "attr."); ok {
			return ref.Attributes[k]
		}
		return ""
	}
	out := map[string]string{}
	for k, v := range c.s.StaticAttributes {
		out[k] = v
	}
	for attr, f := range c.s.Attributes {
		if v := strings.TrimSpace(field(f)); v != "" {
			out[attr] = v
		}
	}
	for _, must := range []string{"cn", "sn"} {
		if _, ok := out[must]; !ok {
			out[must] = uid
		}
	}
	out[c.s.UserRDNAttr] = uid
	return out
}

// Disable implements gatehouse.Connector. A missing account is NotFound.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	e, err := c.find(ctx, ref)
	if err != nil {
		return err
	}
	if e == nil {
		if c.s.DisableMethod == DisableDelete {
			return nil
		}
		return gatehouse.NotFound(fmt.Errorf("ldap %s: disable %s", c.name, refString(ref)))
	}
	switch c.s.DisableMethod {
	case DisableDelete:
		return c.deleteEntry(ctx, e)
	case DisableMove:
		if !c.m.active(e) {
			return nil
		}
		return c.move(ctx, e, c.s.DisabledDN)
	}
	if !c.m.active(e) {
		return nil
	}
	req := goldap.NewModifyRequest(e.DN, nil)
	req.Add(c.s.DisableAttribute, []string{c.s.DisableValue})
	err = c.modify(ctx, req)
	if isCode(err, goldap.LDAPResultConstraintViolation) {
		// A single-valued attribute already holding another value.
		req = goldap.NewModifyRequest(e.DN, nil)
		req.Replace(c.s.DisableAttribute, []string{c.s.DisableValue})
		err = c.modify(ctx, req)
	}
	if isCode(err, goldap.LDAPResultAttributeOrValueExists) {
		return nil
	}
	return c.classify("disable "+e.DN, err)
}

// Enable implements gatehouse.Connector.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	if c.s.DisableMethod == DisableDelete {
		return c.unsupported(gatehouse.CapEnable, "disable_method delete removes the entry; EnsureAccount recreates it")
	}
	e, err := c.find(ctx, ref)
	if err != nil {
		return err
	}
	if e == nil {
		return gatehouse.NotFound(fmt.Errorf("ldap %s: enable %s", c.name, refString(ref)))
	}
	return c.enable(ctx, e)
}

func (c *Connector) enable(ctx context.Context, e *goldap.Entry) error {
	if c.m.active(e) {
		return nil
	}
	if c.s.DisableMethod == DisableMove {
		return c.move(ctx, e, c.s.UsersDN)
	}
	req := goldap.NewModifyRequest(e.DN, nil)
	req.Delete(c.s.DisableAttribute, []string{c.s.DisableValue})
	err := c.modify(ctx, req)
	if isCode(err, goldap.LDAPResultNoSuchAttribute) {
		return nil
	}
	return c.classify("enable "+e.DN, err)
}

// move renames e to the same RDN under parent.
func (c *Connector) move(ctx context.Context, e *goldap.Entry, parent string) error {
	d, err := goldap.ParseDN(e.DN)
	if err != nil || len(d.RDNs) == 0 {
		return gatehouse.Permanent(fmt.Errorf("ldap %s: cannot parse DN %q: %v", c.name, e.DN, err))
	}
	rdn := d.RDNs[0].String()
	req := goldap.NewModifyDNRequest(e.DN, rdn, true, parent)
	err = c.do(ctx, "move "+e.DN, func(l *goldap.Conn) error { return l.ModifyDN(req) })
	if err != nil {
		return c.classify(fmt.Sprintf("move %s under %s", e.DN, parent), err)
	}
	return nil
}

// Delete implements gatehouse.Connector; a missing account is success.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	e, err := c.find(ctx, ref)
	if err != nil || e == nil {
		return err
	}
	return c.deleteEntry(ctx, e)
}

func (c *Connector) deleteEntry(ctx context.Context, e *goldap.Entry) error {
	// Leave no dangling memberships: without refint they would linger, and
	// a later account with the same uid would inherit them.
	groups, err := c.groupsOf(ctx, e)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := c.removeMember(ctx, g, e); err != nil {
			return err
		}
	}
	err = c.do(ctx, "delete "+e.DN, func(l *goldap.Conn) error { return l.Del(goldap.NewDelRequest(e.DN, nil)) })
	if isCode(err, goldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		return c.classify("delete "+e.DN, err)
	}
	c.log.Info().Str("app", c.name).Str("dn", e.DN).Msg("ldap: account deleted")
	return nil
}

func (c *Connector) memberAttr() string {
	if c.s.GroupType == PosixGroup {
		return "memberUid"
	}
	return "member"
}

// memberValue is what a group stores for e.
func (c *Connector) memberValue(e *goldap.Entry) string {
	if c.s.GroupType == PosixGroup {
		if uid := e.GetEqualFoldAttributeValue(c.s.UserRDNAttr); uid != "" {
			return uid
		}
		return rdnValue(e.DN, c.s.UserRDNAttr)
	}
	return e.DN
}

func (c *Connector) groupClassFilter() string {
	return "(objectClass=" + c.s.GroupType + ")"
}

// groupsOf returns the DNs of the groups under groups_dn that hold e.
func (c *Connector) groupsOf(ctx context.Context, e *goldap.Entry) ([]string, error) {
	filter := "(&" + c.groupClassFilter() + "(" + c.memberAttr() + "=" + goldap.EscapeFilter(c.memberValue(e)) + "))"
	entries, err := c.search(ctx, c.s.GroupsDN, goldap.ScopeWholeSubtree, filter, []string{"cn"}, 0)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(entries))
	for i, g := range entries {
		out[i] = g.DN
	}
	return out, nil
}

// groupDN resolves an entitlement to its group's DN: a resource containing
// "=" is a DN; otherwise it (or the entitlement name) is a cn searched under
// groups_dn. A missing group is NotFound.
func (c *Connector) groupDN(ctx context.Context, ent gatehouse.Entitlement) (string, error) {
	res := strings.TrimSpace(ent.Resource)
	if res == "" {
		res = ent.Name
	}
	if res == "" {
		return "", gatehouse.Permanent(fmt.Errorf("ldap %s: entitlement has no resource or name", c.name))
	}
	if strings.Contains(res, "=") {
		if _, err := goldap.ParseDN(res); err != nil {
			return "", gatehouse.Permanent(fmt.Errorf("ldap %s: entitlement %s: resource %q is not a valid DN: %w", c.name, ent.Name, res, err))
		}
		return res, nil
	}
	c.gmu.Lock()
	dn, ok := c.groups[strings.ToLower(res)]
	c.gmu.Unlock()
	if ok {
		return dn, nil
	}
	filter := "(&" + c.groupClassFilter() + "(cn=" + goldap.EscapeFilter(res) + "))"
	entries, err := c.search(ctx, c.s.GroupsDN, goldap.ScopeWholeSubtree, filter, []string{"cn"}, 2)
	if err != nil {
		return "", err
	}
	switch len(entries) {
	case 0:
		return "", gatehouse.NotFound(fmt.Errorf("ldap %s: no %s with cn %q under %s", c.name, c.s.GroupType, res, c.s.GroupsDN))
	case 1:
		c.gmu.Lock()
		c.groups[strings.ToLower(res)] = entries[0].DN
		c.gmu.Unlock()
		return entries[0].DN, nil
	}
	return "", gatehouse.Permanent(fmt.Errorf("ldap %s: several groups have cn %q (%s, %s); use the DN as the resource", c.name, res, entries[0].DN, entries[1].DN))
}

// Grant implements gatehouse.Connector. A missing account is NotFound; a
// missing group is Permanent (a config error).
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	g, err := c.groupDN(ctx, ent)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return gatehouse.Permanent(err)
	}
	if err != nil {
		return err
	}
	e, err := c.find(ctx, ref)
	if err != nil {
		return err
	}
	if e == nil {
		return gatehouse.NotFound(fmt.Errorf("ldap %s: grant %s: account %s", c.name, ent.Name, refString(ref)))
	}
	req := goldap.NewModifyRequest(g, nil)
	req.Add(c.memberAttr(), []string{c.memberValue(e)})
	err = c.modify(ctx, req)
	if err != nil && !isCode(err, goldap.LDAPResultAttributeOrValueExists) {
		return c.classify(fmt.Sprintf("add %s to %s", e.DN, g), err)
	}
	if p := *c.s.EmptyGroupMember; p != "" && c.s.GroupType == GroupOfNames {
		// The group may hold the placeholder from when it was emptied.
		req := goldap.NewModifyRequest(g, nil)
		req.Delete("member", []string{p})
		if err := c.modify(ctx, req); err != nil && !isCode(err, goldap.LDAPResultNoSuchAttribute, goldap.LDAPResultObjectClassViolation) {
			return c.classify(fmt.Sprintf("remove placeholder from %s", g), err)
		}
	}
	return nil
}

// Revoke implements gatehouse.Connector: a missing group, a missing account
// or a non-member are all success.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	g, err := c.groupDN(ctx, ent)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	e, err := c.find(ctx, ref)
	if err != nil || e == nil {
		return err
	}
	return c.removeMember(ctx, g, e)
}

func (c *Connector) removeMember(ctx context.Context, g string, e *goldap.Entry) error {
	v := c.memberValue(e)
	req := goldap.NewModifyRequest(g, nil)
	req.Delete(c.memberAttr(), []string{v})
	err := c.modify(ctx, req)
	switch {
	case err == nil, isCode(err, goldap.LDAPResultNoSuchAttribute), isCode(err, goldap.LDAPResultNoSuchObject):
		return nil
	case isCode(err, goldap.LDAPResultObjectClassViolation) && c.s.GroupType == GroupOfNames:
		p := *c.s.EmptyGroupMember
		if p == "" {
			return gatehouse.Permanent(fmt.Errorf("ldap %s: %s is the last member of %s, and groupOfNames needs one; set empty_group_member to a placeholder DN to allow this", c.name, e.DN, g))
		}
		req := goldap.NewModifyRequest(g, nil)
		req.Delete("member", []string{v})
		req.Add("member", []string{p})
		err = c.modify(ctx, req)
		if err == nil || isCode(err, goldap.LDAPResultNoSuchAttribute) {
			return nil
		}
	}
	return c.classify(fmt.Sprintf("remove %s from %s", v, g), err)
}

// RevokeSessions implements gatehouse.Connector: unsupported.
func (c *Connector) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	return c.unsupported(gatehouse.CapRevokeSessions, "LDAP has no sessions")
}

// TransferOwnership implements gatehouse.Connector: unsupported.
func (c *Connector) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	return c.unsupported(gatehouse.CapTransferOwnership, "a directory owns no resources")
}

// ListAccounts implements gatehouse.Connector: every user entry under
// users_dn (and disabled_dn), with the groups under groups_dn that hold it.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	bases := []string{c.s.UsersDN}
	if c.s.DisableMethod == DisableMove && !under(c.s.DisabledDN, c.s.UsersDN) {
		bases = append(bases, c.s.DisabledDN)
	}
	var users []*goldap.Entry
	for _, b := range bases {
		es, err := c.search(ctx, b, goldap.ScopeWholeSubtree, c.userClassFilter(), c.userAttrs(), 0)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound && b != c.s.UsersDN {
			continue // the disabled OU may not exist yet
		}
		if err != nil {
			return nil, err
		}
		users = append(users, es...)
	}
	groups, err := c.search(ctx, c.s.GroupsDN, goldap.ScopeWholeSubtree, c.groupClassFilter(), []string{"cn", c.memberAttr()}, 0)
	if err != nil {
		return nil, err
	}
	member := map[string][]string{} // member value (normalised) → entitlement names
	for _, g := range groups {
		name := c.groupName(g.DN, g.GetAttributeValue("cn"))
		for _, v := range g.GetEqualFoldAttributeValues(c.memberAttr()) {
			k := strings.ToLower(v)
			if c.s.GroupType == GroupOfNames {
				k = normDN(v)
			}
			member[k] = append(member[k], name)
		}
	}
	out := make([]gatehouse.Account, 0, len(users))
	for _, u := range users {
		a := c.m.entryToAccount(u)
		k := strings.ToLower(c.memberValue(u))
		if c.s.GroupType == GroupOfNames {
			k = normDN(u.DN)
		}
		if ents := member[k]; len(ents) > 0 {
			a.Entitlements = sortedUnique(append([]string(nil), ents...))
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserName < out[j].UserName })
	return out, nil
}

// Check probes the directory cheaply: connect, bind, read the base entry and
// one user, so `gatehouse apps check` reports credentials and rights
// without listing everything.
func (c *Connector) Check(ctx context.Context) error {
	if _, err := c.search(ctx, c.s.BaseDN, goldap.ScopeBaseObject, "(objectClass=*)", []string{"1.1"}, 1); err != nil {
		return err
	}
	if _, err := c.search(ctx, c.s.UsersDN, goldap.ScopeWholeSubtree, c.userClassFilter(), []string{"1.1"}, 1); err != nil {
		return err
	}
	_, err := c.search(ctx, c.s.GroupsDN, goldap.ScopeWholeSubtree, c.groupClassFilter(), []string{"1.1"}, 1)
	return err
}

func refString(ref gatehouse.AccountRef) string {
	switch {
	case ref.Email != "":
		return ref.Email
	case ref.UserName != "":
		return ref.UserName
	}
	return ref.AccountID
}

// settingsPos is where errors about the settings block point: the block
// itself, or the app when it has none (so errors still name a file:line).
func settingsPos(app *config.App) config.Pos {
	if app.Settings.IsZero() {
		return app.Pos
	}
	return app.Settings.Pos()
}

var _ gatehouse.AccountReader = (*Connector)(nil)

// ReadAccount implements gatehouse.AccountReader: the entry (found by id,
// else its natural keys, wherever disable moved it), whether it is active
// under the disable method, the groups under groups_dn that hold it (by
// entitlement name where configured), and the mapped attributes as the
// directory stores them (the ones Gatehouse writes: `attributes`).
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	e, err := c.find(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, err
	}
	if e == nil {
		return gatehouse.Account{}, gatehouse.NotFound(fmt.Errorf("ldap %s: read account %s", c.name, refString(ref)))
	}
	a := c.m.entryToAccount(e)
	filter := "(&" + c.groupClassFilter() + "(" + c.memberAttr() + "=" + goldap.EscapeFilter(c.memberValue(e)) + "))"
	groups, err := c.search(ctx, c.s.GroupsDN, goldap.ScopeWholeSubtree, filter, []string{"cn"}, 0)
	if err != nil {
		return gatehouse.Account{}, err
	}
	for _, g := range groups {
		a.Entitlements = append(a.Entitlements, c.groupName(g.DN, g.GetAttributeValue("cn")))
	}
	a.Entitlements = sortedUnique(a.Entitlements)
	for attr := range c.s.Attributes {
		if v := e.GetEqualFoldAttributeValue(attr); v != "" {
			if a.Attributes == nil {
				a.Attributes = map[string]string{}
			}
			a.Attributes[attr] = v
		}
	}
	return a, nil
}
