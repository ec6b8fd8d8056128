package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// ConnectorTypes lists the connector types a config may name. Validation only
// checks the name; whether a type is built into this binary is decided when
// connectors are constructed (`--simulate` replaces every app with a simulated one).
var ConnectorTypes = []string{"simulated", "scim", "ldap", "http", "manual", "okta", "google", "entra", "github", "slack", "aws"}

var (
	nameRe      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	slackUserRe = regexp.MustCompile(`^[UWS][A-Z0-9]{2,}$`)
	channelRe   = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$|^#[a-z0-9_-]+$`)
	lineRe      = regexp.MustCompile(`line (\d+)`)
)

func reflectValue(cfg *Config) reflect.Value { return reflect.ValueOf(cfg).Elem() }

func yamlSyntaxError(name string, err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return Error{Pos: Pos{File: name, Line: line, Col: 1}, Msg: "YAML syntax: " + msg}
}

// add reports a problem at the position recorded for key (its value as
// written), falling back to the nearest enclosing key that was written.
func (c *Config) add(errs *ErrorList, key, format string, args ...any) {
	errs.Add(c.posOf(key), key, format, args...)
}

func (c *Config) posOf(key string) Pos {
	for k := key; ; {
		if p, ok := c.positions[k]; ok {
			return p
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			return Pos{File: c.File, Line: 1, Col: 1}
		}
		k = k[:i]
	}
}

// aliasPositions lets errors name list items by their name ("rules.eng")
// while positions were recorded by index ("rules[3]").
func (c *Config) aliasPositions(indexKey, nameKey string) {
	for k, p := range c.positions {
		if rest, ok := strings.CutPrefix(k, indexKey); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			if _, exists := c.positions[nameKey+rest]; !exists {
				c.positions[nameKey+rest] = p
			}
		}
	}
}

func (c *Config) validate(errs *ErrorList) {
	if c.positions == nil {
		c.positions = map[string]Pos{}
	}
	for i, r := range c.Rules {
		if r != nil && r.Name != "" {
			c.aliasPositions(fmt.Sprintf("rules[%d]", i), "rules."+r.Name)
		}
	}
	for i, s := range c.SoD {
		if s != nil && s.Name != "" {
			c.aliasPositions(fmt.Sprintf("sod[%d]", i), "sod."+s.Name)
		}
	}
	top := Pos{File: c.File, Line: 1, Col: 1}
	if c.Version != 1 {
		c.add(errs, "version", "must be 1 (got %d)", c.Version)
	}
	c.location = time.UTC
	if c.Organization.TimeZone != "" {
		loc, err := time.LoadLocation(c.Organization.TimeZone)
		if err != nil {
			c.add(errs, "organization.time_zone", "%q is not an IANA time zone", c.Organization.TimeZone)
		} else {
			c.location = loc
		}
	}
	c.applyDefaults()
	c.validateAdmins(errs, top)
	c.validateApps(errs, top)
	c.validateProfiles(errs, "profiles", c.Profiles)
	c.validateProfiles(errs, "addons", c.AddOns)
	for name := range c.AddOns {
		if _, clash := c.Profiles[name]; clash {
			c.add(errs, "addons."+name, "an add-on and a profile share the name %q", name)
		}
	}
	c.validateRules(errs, top)
	c.validateApprovals(errs, top)
	c.validateSoD(errs)
	c.validateGovernance(errs)
	c.validateMetrics(errs)
	if c.Store.BackupEvery != 0 && c.Store.BackupEvery < time.Minute {
		c.add(errs, "store.backup_every", "must be at least 1m (or 0 for no scheduled backups)")
	}
	if c.Store.BackupKeep < 0 {
		c.add(errs, "store.backup_keep", "must not be negative")
	}
	if c.Engine.Workers < 0 || c.Engine.MaxAttempts < 0 {
		c.add(errs, "engine", "workers and max_attempts must not be negative")
	}
	if c.Engine.ShutdownGrace < 0 || c.Engine.ShutdownGrace > 10*time.Minute {
		c.add(errs, "engine.shutdown_grace", "must be between 0 (default 10s) and 10m")
	}
}

func (c *Config) applyDefaults() {
	if c.Defaults.TransferOwnershipTo == "" {
		c.Defaults.TransferOwnershipTo = "manager"
	}
	if c.Defaults.ReviewRisk == 0 {
		c.Defaults.ReviewRisk = gatehouse.RiskHigh
	}
	if c.Defaults.ContractorMaxAccess == 0 {
		c.Defaults.ContractorMaxAccess = 180 * 24 * time.Hour
	}
	if c.Defaults.RequestMaxDuration == 0 {
		c.Defaults.RequestMaxDuration = 90 * 24 * time.Hour
	}
	if c.Defaults.ExpiryReminder == 0 {
		c.Defaults.ExpiryReminder = 72 * time.Hour
	}
	if len(c.Defaults.AttestBefore) == 0 {
		c.Defaults.AttestBefore = []time.Duration{14 * 24 * time.Hour, 3 * 24 * time.Hour}
	}
	if c.Defaults.AttestExtension == 0 {
		c.Defaults.AttestExtension = 90 * 24 * time.Hour
	}
	if c.Defaults.NonHumanMaxLifetime == 0 {
		c.Defaults.NonHumanMaxLifetime = 365 * 24 * time.Hour
	}
	if c.Approvals.RemindAfter == 0 {
		c.Approvals.RemindAfter = 24 * time.Hour
	}
	if c.Approvals.EscalateAfter == 0 {
		c.Approvals.EscalateAfter = 48 * time.Hour
	}
	if c.Approvals.ExpireAfter == 0 {
		c.Approvals.ExpireAfter = 7 * 24 * time.Hour
	}
	if c.Store.Path == "" {
		c.Store.Path = "gatehouse.db"
	}
	if c.Store.BackupKeep == 0 {
		c.Store.BackupKeep = 7
	}
	if c.Engine.Workers == 0 {
		c.Engine.Workers = 16
	}
	if c.Engine.MaxAttempts == 0 {
		c.Engine.MaxAttempts = 8
	}
	if c.Engine.StepTimeout == 0 {
		c.Engine.StepTimeout = 30 * time.Second
	}
	if c.Engine.BackoffBase == 0 {
		c.Engine.BackoffBase = time.Second
	}
	if c.Engine.BackoffMax == 0 {
		c.Engine.BackoffMax = 5 * time.Minute
	}
	if c.Engine.ShutdownGrace == 0 {
		c.Engine.ShutdownGrace = 10 * time.Second
	}
}

func (c *Config) validateAdmins(errs *ErrorList, top Pos) {
	for _, group := range []struct {
		key string
		ids []string
	}{{"admins.it", c.Admins.IT}, {"admins.hr", c.Admins.HR}} {
		for i, id := range group.ids {
			if !slackUserRe.MatchString(id) && !gatehouse.ValidEmail(id) {
				c.add(errs, fmt.Sprintf("%s[%d]", group.key, i), "%q is neither a Slack user or user group id (U…, W…, S…) nor an email", id)
			}
		}
	}
	if len(c.Admins.IT) == 0 {
		c.add(errs, "admins.it", "name at least one IT admin (a Slack user id, user group id or email)")
	}
	if c.Admins.ITChannel != "" && !channelRe.MatchString(c.Admins.ITChannel) {
		c.add(errs, "admins.it_channel", "%q is not a Slack channel id (C…) or #name", c.Admins.ITChannel)
	}
	if c.Admins.ITEmail == "" {
		hasEmail := false
		for _, id := range c.Admins.IT {
			hasEmail = hasEmail || gatehouse.ValidEmail(id)
		}
		if !hasEmail {
			// The engine decides on emails: an IT team known only by Slack
			// ids cannot receive escalated tasks or IT approvals.
			*errs = append(*errs, Error{Pos: c.posOf("admins"), Key: "admins.it_email", Warning: true,
				Msg: "set it (or list an IT admin by email): escalated tasks and IT approvals are addressed by email"})
		}
	}
	if c.Admins.ITEmail != "" && !gatehouse.ValidEmail(c.Admins.ITEmail) {
		c.add(errs, "admins.it_email", "%q is not an email", c.Admins.ITEmail)
	}
	to := c.Defaults.TransferOwnershipTo
	if to != "manager" && to != "it" && !gatehouse.ValidEmail(to) {
		c.add(errs, "defaults.transfer_ownership_to", "want manager, it or an email, got %q", to)
	}
}

func (c *Config) validateApps(errs *ErrorList, top Pos) {
	if len(c.Apps) == 0 {
		c.add(errs, "apps", "configure at least one app")
	}
	c.entitlements = map[gatehouse.EntitlementRef]gatehouse.Entitlement{}
	idps := []string{}
	for _, name := range sortedKeys(c.Apps) {
		a := c.Apps[name]
		key := "apps." + name
		if !nameRe.MatchString(name) {
			c.add(errs, key, "app names are lower-case letters, digits, - and _")
		}
		if a.Connector == "" {
			c.add(errs, key+".connector", "required: one of %s", strings.Join(ConnectorTypes, ", "))
		} else if !contains(ConnectorTypes, a.Connector) {
			c.add(errs, key+".connector", "unknown connector %q: want one of %s", a.Connector, strings.Join(ConnectorTypes, ", "))
		}
		if a.Owner == "" {
			c.add(errs, key+".owner", "required: the app owner's email (approves high-risk grants, does manual tasks)")
		} else if !gatehouse.ValidEmail(a.Owner) {
			c.add(errs, key+".owner", "%q is not an email", a.Owner)
		}
		if a.SeatCost < 0 {
			c.add(errs, key+".seat_cost", "must not be negative")
		}
		if a.IdP {
			idps = append(idps, name)
		}
		if a.RateLimit.PerSecond < 0 || a.RateLimit.Burst < 0 || a.RateLimit.Concurrency < 0 || a.RateLimit.MaxAttempts < 0 {
			c.add(errs, key+".rate_limit", "values must not be negative")
		}
		for _, dep := range a.DependsOn {
			if _, ok := c.Apps[dep.Value]; !ok {
				errs.Add(dep.Pos, key+".depends_on", "unknown app %q", dep.Value)
			} else if dep.Value == name {
				errs.Add(dep.Pos, key+".depends_on", "an app cannot depend on itself")
			}
		}
		if a.Entitlements == nil {
			a.Entitlements = map[string]*Entitlement{}
		}
		// Every app has an account: the seat itself. Declaring it is optional.
		if _, ok := a.Entitlements[string(gatehouse.EntAccount)]; !ok {
			a.Entitlements[string(gatehouse.EntAccount)] = &Entitlement{Name: "account", Kind: gatehouse.EntAccount, Risk: gatehouse.RiskLow, Pos: a.Pos}
		}
		for _, en := range sortedKeys(a.Entitlements) {
			e := a.Entitlements[en]
			ek := key + ".entitlements." + en
			if !nameRe.MatchString(en) {
				c.add(errs, ek, "entitlement names are lower-case letters, digits, - and _")
			}
			if e.Kind == "" {
				if en == string(gatehouse.EntAccount) {
					e.Kind = gatehouse.EntAccount
				} else {
					c.add(errs, ek+".kind", "required: one of %v", gatehouse.EntitlementKinds)
				}
			} else if !e.Kind.Valid() {
				c.add(errs, ek+".kind", "unknown kind %q: want one of %v", e.Kind, gatehouse.EntitlementKinds)
			}
			if _, written := c.positions[ek+".risk"]; e.Risk == 0 && !written {
				c.add(errs, ek+".risk", "required: low, medium, high or critical")
			}
			if e.Cost < 0 {
				c.add(errs, ek+".cost", "must not be negative")
			}
			cost := e.Cost
			if e.Kind == gatehouse.EntAccount && cost == 0 {
				cost = a.SeatCost
			}
			c.entitlements[gatehouse.EntitlementRef{App: name, Entitlement: en}] = gatehouse.Entitlement{
				App: name, Name: en, Kind: e.Kind, Resource: e.Resource, Level: e.Level, Risk: e.Risk, MonthlyCost: cost, Description: e.Description,
			}
		}
	}
	if len(idps) > 1 {
		c.add(errs, "apps", "only one app can be the identity provider (idp: true); found %s", strings.Join(idps, ", "))
	}
	c.checkDependencyCycles(errs)
}

func (c *Config) checkDependencyCycles(errs *ErrorList) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) bool
	visit = func(name string, path []string) bool {
		switch state[name] {
		case visiting:
			c.add(errs, "apps."+name+".depends_on", "dependency cycle: %s", strings.Join(append(path, name), " → "))
			return false
		case done:
			return true
		}
		state[name] = visiting
		for _, d := range c.Apps[name].DependsOn {
			if _, ok := c.Apps[d.Value]; ok && d.Value != name && !visit(d.Value, append(path, name)) {
				return false
			}
		}
		state[name] = done
		return true
	}
	for _, name := range sortedKeys(c.Apps) {
		if state[name] == unvisited {
			visit(name, nil)
		}
	}
}

func (c *Config) checkRef(errs *ErrorList, key string, r Ref) {
	if r.App == "" {
		return // already reported by the decoder
	}
	if _, ok := c.Apps[r.App]; !ok {
		errs.Add(r.Pos, key, "unknown app %q%s", r.App, suggest(r.App, sortedKeys(c.Apps)))
		return
	}
	if _, ok := c.entitlements[r.EntitlementRef]; !ok {
		errs.Add(r.Pos, key, "app %q has no entitlement %q%s", r.App, r.Entitlement, suggest(r.Entitlement, sortedKeys(c.Apps[r.App].Entitlements)))
	}
}

func (c *Config) validateProfiles(errs *ErrorList, section string, m map[string]*Profile) {
	for _, name := range sortedKeys(m) {
		p := m[name]
		key := section + "." + name
		if !nameRe.MatchString(name) {
			c.add(errs, key, "names are lower-case letters, digits, - and _")
		}
		if len(p.Grants) == 0 && len(p.Includes) == 0 {
			c.add(errs, key+".grants", "a profile must grant something")
		}
		for i, r := range p.Grants {
			c.checkRef(errs, fmt.Sprintf("%s.grants[%d]", key, i), r)
		}
		for _, inc := range p.Includes {
			if _, ok := m[inc.Value]; !ok {
				errs.Add(inc.Pos, key+".includes", "unknown %s %q", strings.TrimSuffix(section, "s"), inc.Value)
			}
		}
	}
	// Includes must not loop.
	for _, name := range sortedKeys(m) {
		seen := map[string]bool{}
		var walk func(n string) bool
		walk = func(n string) bool {
			if seen[n] {
				return false
			}
			seen[n] = true
			p, ok := m[n]
			if !ok {
				return true
			}
			for _, inc := range p.Includes {
				if inc.Value == name || !walk(inc.Value) {
					return false
				}
			}
			return true
		}
		if !walk(name) {
			c.add(errs, section+"."+name+".includes", "includes form a cycle")
		}
	}
}

func (c *Config) validateRules(errs *ErrorList, top Pos) {
	if len(c.Rules) == 0 {
		c.add(errs, "rules", "configure at least one rule")
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if r.Name == "" {
			c.add(errs, key+".name", "required")
		} else {
			key = "rules." + r.Name
			if !nameRe.MatchString(r.Name) {
				c.add(errs, key+".name", "rule names are lower-case letters, digits, - and _")
			}
			if names[r.Name] {
				errs.Add(c.posOf(fmt.Sprintf("rules[%d].name", i)), key+".name", "duplicate rule name")
			}
			names[r.Name] = true
		}
		if r.When.IsZero() {
			c.add(errs, key+".when", "required: a boolean expression (use `true` for everyone)")
		}
		if len(r.Profiles)+len(r.AddOns)+len(r.Grant)+len(r.Exclude)+len(r.Approvers) == 0 && r.Expires.IsZero() && r.ExpiresAfter == 0 {
			c.add(errs, key, "the rule selects nothing: give profiles, addons, grant, exclude, approvers or expires")
		}
		for _, e := range r.Events {
			if _, err := gatehouse.ParseEventType(string(e)); err != nil {
				c.add(errs, key+".events", "%v", err)
			}
		}
		for _, p := range r.Profiles {
			if _, ok := c.Profiles[p.Value]; !ok {
				hint := suggest(p.Value, sortedKeys(c.Profiles))
				if _, isAddon := c.AddOns[p.Value]; isAddon {
					hint = " (it is an add-on: list it under addons)"
				}
				errs.Add(p.Pos, key+".profiles", "unknown profile %q%s", p.Value, hint)
			}
		}
		for _, p := range r.AddOns {
			if _, ok := c.AddOns[p.Value]; !ok {
				errs.Add(p.Pos, key+".addons", "unknown add-on %q%s", p.Value, suggest(p.Value, sortedKeys(c.AddOns)))
			}
		}
		for j, g := range r.Grant {
			c.checkRef(errs, fmt.Sprintf("%s.grant[%d]", key, j), g)
		}
		for j, g := range r.Exclude {
			c.checkRef(errs, fmt.Sprintf("%s.exclude[%d]", key, j), g)
		}
		for j, a := range r.Approvers {
			if !validApprover(a) {
				c.add(errs, fmt.Sprintf("%s.approvers[%d]", key, j), "%q: want manager, app_owner, it or an email", a)
			}
		}
		if !r.Expires.IsZero() && r.ExpiresAfter != 0 {
			c.add(errs, key, "give expires or expires_after, not both")
		}
	}
}

func validApprover(a string) bool {
	switch gatehouse.ApproverRole(a) {
	case gatehouse.ApproverManager, gatehouse.ApproverAppOwner, gatehouse.ApproverIT:
		return true
	}
	return gatehouse.ValidEmail(a)
}

func (c *Config) validateApprovals(errs *ErrorList, top Pos) {
	for _, r := range gatehouse.Risks {
		lvl := c.Approvals.Level(r)
		key := "approvals." + r.String()
		for j, a := range lvl.Approvers {
			if !validApprover(a) {
				c.add(errs, fmt.Sprintf("%s.approvers[%d]", key, j), "%q: want manager, app_owner, it or an email", a)
			}
		}
		if lvl.TwoPerson && len(lvl.Approvers) == 0 {
			c.add(errs, key+".two_person", "the two-person rule needs approvers")
		}
	}
	if c.Approvals.EscalateAfter < c.Approvals.RemindAfter {
		c.add(errs, "approvals.escalate_after", "must not be shorter than remind_after")
	}
}

func (c *Config) validateSoD(errs *ErrorList) {
	names := map[string]bool{}
	for i, s := range c.SoD {
		key := fmt.Sprintf("sod[%d]", i)
		if s.Name == "" {
			c.add(errs, key+".name", "required")
		} else {
			key = "sod." + s.Name
			if names[s.Name] {
				errs.Add(c.posOf(fmt.Sprintf("sod[%d].name", i)), key+".name", "duplicate constraint name")
			}
			names[s.Name] = true
		}
		if len(s.Entitlements) < 2 {
			c.add(errs, key+".entitlements", "list at least two entitlements that must not be held together")
		}
		seen := map[gatehouse.EntitlementRef]bool{}
		for j, r := range s.Entitlements {
			c.checkRef(errs, fmt.Sprintf("%s.entitlements[%d]", key, j), r)
			if seen[r.EntitlementRef] {
				errs.Add(r.Pos, key+".entitlements", "%s is listed twice", r.EntitlementRef)
			}
			seen[r.EntitlementRef] = true
		}
		switch s.Action {
		case "":
			s.Action = "block"
		case "block", "review":
		default:
			c.add(errs, key+".action", "want block or review, got %q", s.Action)
		}
	}
}

// Entitlement returns the configured entitlement for ref.
func (c *Config) Entitlement(ref gatehouse.EntitlementRef) (gatehouse.Entitlement, bool) {
	e, ok := c.entitlements[ref]
	return e, ok
}

// Location is the organization's default time zone.
func (c *Config) Location() *time.Location {
	if c.location == nil {
		return time.UTC
	}
	return c.location
}

// AppNames returns the configured apps' names, sorted.
func (c *Config) AppNames() []string { return sortedKeys(c.Apps) }

// IdP returns the identity-provider app, or nil.
func (c *Config) IdP() *App {
	for _, n := range sortedKeys(c.Apps) {
		if c.Apps[n].IdP {
			return c.Apps[n]
		}
	}
	return nil
}

// Secrets lists every secret in the config with the key it is under, for
// `check` to report unresolved ones (by source, never value).
func (c *Config) Secrets() map[string]Secret {
	out := map[string]Secret{}
	if c.Slack.AppToken.IsSet() {
		out["slack.app_token"] = c.Slack.AppToken
	}
	if c.Slack.BotToken.IsSet() {
		out["slack.bot_token"] = c.Slack.BotToken
	}
	for k, s := range c.extraSecrets() {
		out[k] = s
	}
	return out
}

// extraSecrets walks sections that other packages extend (HR sources) for
// Secret fields, so new sections are covered without listing them here.
func (c *Config) extraSecrets() map[string]Secret {
	out := map[string]Secret{}
	var walk func(v reflect.Value, key string)
	walk = func(v reflect.Value, key string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), key)
			}
		case reflect.Struct:
			if v.Type() == secretType {
				if s := v.Interface().(Secret); s.IsSet() {
					out[key] = s
				}
				return
			}
			t := v.Type()
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if !f.IsExported() || tag == "-" || tag == "" {
					continue
				}
				walk(v.Field(i), join(key, tag))
			}
		case reflect.Map:
			keys := v.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				walk(v.MapIndex(k), join(key, k.String()))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", key, i))
			}
		}
	}
	walk(reflect.ValueOf(c.HR), "hr")
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
