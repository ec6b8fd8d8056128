package config

import (
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// HRConfig configures the HR-system intake: the HTTP listener for webhooks, the
// scheduled directory sync, the mass-change guard and where HR notifications go.
// Every HR system is a named source under `sources`; the generic webhook's
// field mapping is carried as expressions that package handlers/hr compiles
// (through rules.CompileExpr) when the intake is built, with their positions.
type HRConfig struct {
	// Listen is the address of the HTTP intake, e.g. 127.0.0.1:8080. Empty
	// means no webhook listener (syncs still run).
	Listen string `yaml:"listen"`
	// BodyLimit caps a webhook body in bytes (default 1 MiB); larger is 413.
	BodyLimit int64 `yaml:"body_limit"`
	// TimestampWindow is how far a signed delivery's timestamp may be from
	// now before it is refused as stale or replayed (default 5m).
	TimestampWindow time.Duration `yaml:"timestamp_window"`
	// DedupeTTL is how long a delivery id or content hash is remembered
	// (default 96h: longer than Personio's 3-day retry horizon).
	DedupeTTL time.Duration `yaml:"dedupe_ttl"`
	// NotifyChannel is the Slack channel for HR notifications to IT
	// (terminations, ambiguous matches, held mass changes). Default:
	// admins.it_channel.
	NotifyChannel string `yaml:"notify_channel"`
	// TerminationAt says when a date-only termination takes effect in the
	// person's zone: end_of_day (default: the termination date is the last
	// working day) or start_of_day.
	TerminationAt string `yaml:"termination_at"`
	// JoinerLeadTime says how long before the start date's midnight (in the
	// person's zone) a future joiner's run is scheduled. Default 15h, i.e.
	// the day before at 09:00, so accounts are ready on day one.
	JoinerLeadTime time.Duration `yaml:"joiner_lead_time"`
	Guard          HRGuard       `yaml:"guard"`
	Sync           HRSync        `yaml:"sync"`
	// Sources are the HR systems, by name. The name is the webhook path
	// (/hr/NAME unless `path` says otherwise) and the value of --source.
	Sources map[string]*HRSource `yaml:"sources"`
}

// HRGuard is the mass-change guard: when terminations and moves within Window
// exceed MaxPeople or MaxShare of all identities, further ones are held until
// IT confirms or discards them in Slack.
type HRGuard struct {
	Disabled  bool    `yaml:"disabled"`
	MaxShare  float64 `yaml:"max_share"`  // default 0.05
	MaxPeople int     `yaml:"max_people"` // default 10
	// MinPeople keeps the share rule from tripping on tiny counts in small
	// organisations: it applies only from this many changes (default 3).
	MinPeople int           `yaml:"min_people"`
	Window    time.Duration `yaml:"window"` // default 1h
}

// HRSync schedules the directory sync.
type HRSync struct {
	// Schedule is a cron spec (5 fields, or descriptors like @hourly). Empty
	// disables the scheduled sync; `gatehouse sync` still works.
	Schedule string `yaml:"schedule"`
	// Sources limits which sources the scheduled sync reads (default: every
	// source that has a roster).
	Sources []string `yaml:"sources"`
}

// HR vendors.
const (
	VendorBambooHR = "bamboohr"
	VendorHiBob    = "hibob"
	VendorPersonio = "personio"
	VendorRippling = "rippling"
	VendorWorkday  = "workday"
	VendorCSV      = "csv"
	VendorGeneric  = "generic"
)

// HRVendors lists the vendors a source can name.
var HRVendors = []string{VendorBambooHR, VendorHiBob, VendorPersonio, VendorRippling, VendorWorkday, VendorCSV, VendorGeneric}

// HRFields are the Gatehouse-side names a field mapping may assign.
var HRFields = []string{
	"employee_id", "email", "name", "first_name", "last_name", "department", "team", "title", "location",
	"manager_email", "manager_id", "time_zone", "start_date", "end_date", "termination_date", "status",
	"kind", "slack_user_id",
}

// HRSource is one HR system: how its webhooks are verified, how its API and
// roster are read, and how its fields map onto an identity.
type HRSource struct {
	Name   string `yaml:"-"`
	Vendor string `yaml:"vendor"`
	// Path is the webhook path (default /hr/NAME).
	Path string `yaml:"path"`
	// Secret is the webhook signing key (BambooHR private key, HiBob secret,
	// generic HMAC key).
	Secret Secret `yaml:"secret"`
	// Token is the webhook token (Personio Authorization, Rippling bearer,
	// generic token auth).
	Token Secret `yaml:"token"`
	// APIURL is the vendor API's base URL (configurable so tests use a fake).
	APIURL string `yaml:"api_url"`
	// APIUser is the API user: BambooHR unused, HiBob service-user id,
	// Personio client id, Workday integration user.
	APIUser string `yaml:"api_user"`
	// APIKey is the API credential: BambooHR API key, HiBob service-user
	// token, Personio client secret, Rippling bearer token, Workday password.
	APIKey Secret `yaml:"api_key"`
	// Roster says where the sync reads the full roster: "api" (the vendor's
	// list endpoint; BambooHR: "directory" or "report"), "file" (CSV) or ""
	// for no roster.
	Roster string `yaml:"roster"`
	// RosterURL is the Workday RaaS report URL (without ?format=json).
	RosterURL string `yaml:"roster_url"`
	// File is a CSV roster (header row names the columns).
	File string `yaml:"file"`
	// TimeZone is the zone for people the source gives none (default:
	// organization.time_zone).
	TimeZone string `yaml:"time_zone"`
	// Fields maps Gatehouse fields (see HRFields) to the vendor's field names,
	// overriding the vendor defaults.
	Fields map[string]string `yaml:"fields"`
	// StatusMap maps the vendor's status values (lower-cased) to active,
	// pending, leave or terminated, on top of the built-in ones.
	StatusMap map[string]string `yaml:"status_map"`
	// Generic configures the generic JSON webhook.
	Generic *HRGeneric `yaml:"generic"`
	Pos     Pos        `yaml:"-"`
}

func (s *HRSource) setPos(p Pos, name string) { s.Pos, s.Name = p, name }

// WebhookPath returns where the source's webhooks are served.
func (s *HRSource) WebhookPath() string {
	if s.Path != "" {
		return s.Path
	}
	return "/hr/" + s.Name
}

// HRGeneric is a generic JSON webhook: how it is authenticated and how its
// body maps onto a person, as expressions over {body, headers}.
type HRGeneric struct {
	// Auth is hmac or token.
	Auth string `yaml:"auth"`
	// SignatureHeader carries the HMAC (default X-Signature).
	SignatureHeader string `yaml:"signature_header"`
	// Algorithm is sha256 (default) or sha512.
	Algorithm string `yaml:"algorithm"`
	// Encoding is hex (default) or base64.
	Encoding string `yaml:"encoding"`
	// Prefix is stripped from the signature header, e.g. "sha256=".
	Prefix string `yaml:"prefix"`
	// TimestampHeader, when set, is appended to the body before signing (as
	// BambooHR does) and must lie within hr.timestamp_window.
	TimestampHeader string `yaml:"timestamp_header"`
	// TokenHeader carries the token (default Authorization; "Bearer " is
	// accepted as a prefix).
	TokenHeader string `yaml:"token_header"`
	// DeliveryID is an expression giving the delivery's unique id (optional;
	// a content hash is used when absent or empty).
	DeliveryID Expr `yaml:"delivery_id"`
	// Action is an expression giving what happened: upsert (default),
	// terminate, leave, return, delete or ignore.
	Action Expr `yaml:"action"`
	// Mapping gives one expression per Gatehouse field (see HRFields).
	Mapping map[string]Expr `yaml:"mapping"`
}

// decodeNode decodes the hr section and validates it in place, so its errors
// carry positions without the top-level validator knowing the section.
func (h *HRConfig) decodeNode(d *decoder, n *yaml.Node, key string) {
	type plain HRConfig // no methods: avoids recursing into decodeNode
	var p plain
	d.decodeStruct(n, reflect.ValueOf(&p).Elem(), key)
	*h = HRConfig(p)
	h.validate(d, n, key)
}

func (h *HRConfig) validate(d *decoder, n *yaml.Node, key string) {
	at := func(sub string) Pos {
		for k := join(key, sub); ; {
			if p, ok := d.positions[k]; ok {
				return p
			}
			i := strings.LastIndexAny(k, ".[")
			if i < 0 {
				return d.pos(n)
			}
			k = k[:i]
		}
	}
	bad := func(sub, format string, args ...any) {
		d.errs.Add(at(sub), join(key, sub), format, args...)
	}
	if h.Listen != "" {
		if _, _, err := net.SplitHostPort(h.Listen); err != nil {
			bad("listen", "want HOST:PORT, e.g. 127.0.0.1:8080 (%v)", err)
		}
	}
	if h.BodyLimit < 0 {
		bad("body_limit", "must not be negative")
	}
	switch h.TerminationAt {
	case "", "end_of_day", "start_of_day":
	default:
		bad("termination_at", "want end_of_day or start_of_day, got %q", h.TerminationAt)
	}
	if h.Guard.MaxShare < 0 || h.Guard.MaxShare > 1 {
		bad("guard.max_share", "want a share between 0 and 1 (0.05 is 5 %%), got %v", h.Guard.MaxShare)
	}
	if h.Guard.MaxPeople < 0 {
		bad("guard.max_people", "must not be negative")
	}
	names := make([]string, 0, len(h.Sources))
	for name := range h.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	paths := map[string]string{}
	for _, name := range names {
		s := h.Sources[name]
		sk := "sources." + name
		if strings.ContainsAny(name, "/ \t?#") {
			bad(sk, "source names are used in URLs: no /, spaces, ? or #")
		}
		if !contains(HRVendors, s.Vendor) {
			bad(sk+".vendor", "want one of %s, got %q", strings.Join(HRVendors, ", "), s.Vendor)
			continue
		}
		p := s.WebhookPath()
		if !strings.HasPrefix(p, "/") {
			bad(sk+".path", "must start with /")
		}
		if other, dup := paths[p]; dup {
			bad(sk+".path", "path %s is also used by source %s", p, other)
		}
		paths[p] = name
		for f := range s.Fields {
			if !contains(HRFields, f) {
				bad(sk+".fields."+f, "unknown field%s; known: %s", suggest(f, HRFields), strings.Join(HRFields, ", "))
			}
		}
		for v, st := range s.StatusMap {
			switch st {
			case "active", "pending", "leave", "terminated":
			default:
				bad(sk+".status_map."+v, "want active, pending, leave or terminated, got %q", st)
			}
		}
		if s.TimeZone != "" {
			if _, err := time.LoadLocation(s.TimeZone); err != nil {
				bad(sk+".time_zone", "%q is not an IANA time zone", s.TimeZone)
			}
		}
		switch s.Roster {
		case "", "api", "file", "directory", "report":
		default:
			bad(sk+".roster", "want api, file, directory or report, got %q", s.Roster)
		}
		if (s.Roster == "directory" || s.Roster == "report") && s.Vendor != VendorBambooHR {
			bad(sk+".roster", "%s is a BambooHR roster; use api", s.Roster)
		}
		switch s.Vendor {
		case VendorBambooHR, VendorHiBob:
			if !s.Secret.IsSet() {
				bad(sk, "a %s source needs secret (the webhook signing key)", s.Vendor)
			}
		case VendorPersonio:
			if !s.Token.IsSet() {
				bad(sk, "a personio source needs token (the webhook Authorization value)")
			}
		case VendorRippling:
			// Rippling allows unauthenticated webhooks; Gatehouse does not.
			if !s.Token.IsSet() {
				bad(sk, "a rippling source needs token (the webhook bearer token)")
			}
		case VendorWorkday:
			if s.RosterURL == "" {
				bad(sk, "a workday source needs roster_url (the RaaS report URL)")
			}
		case VendorCSV:
			if s.File == "" {
				bad(sk, "a csv source needs file")
			} else if !filepath.IsAbs(s.File) {
				// Relative to the config file, like policy tests: the
				// config works whatever directory serve starts in.
				s.File = filepath.Join(filepath.Dir(d.file), s.File)
			}
		case VendorGeneric:
			h.validateGeneric(s, sk, bad)
		}
		if s.Vendor != VendorGeneric && s.Generic != nil {
			bad(sk+".generic", "only a generic source takes a generic block")
		}
	}
	if h.Sync.Schedule != "" {
		if _, err := cron.ParseStandard(h.Sync.Schedule); err != nil {
			bad("sync.schedule", "invalid cron spec %q: %v (want 5 fields like \"0 */4 * * *\" or @hourly)", h.Sync.Schedule, err)
		}
	}
	for i, name := range h.Sync.Sources {
		if _, ok := h.Sources[name]; !ok {
			bad(fmt.Sprintf("sync.sources[%d]", i), "no source named %q", name)
		}
	}
}

func (h *HRConfig) validateGeneric(s *HRSource, sk string, bad func(string, string, ...any)) {
	g := s.Generic
	if g == nil {
		bad(sk, "a generic source needs a generic block (auth and mapping)")
		return
	}
	switch g.Auth {
	case "hmac":
		if !s.Secret.IsSet() {
			bad(sk, "generic hmac auth needs secret")
		}
	case "token":
		if !s.Token.IsSet() {
			bad(sk, "generic token auth needs token")
		}
	default:
		bad(sk+".generic.auth", "want hmac or token, got %q", g.Auth)
	}
	switch g.Algorithm {
	case "", "sha256", "sha512":
	default:
		bad(sk+".generic.algorithm", "want sha256 or sha512, got %q", g.Algorithm)
	}
	switch g.Encoding {
	case "", "hex", "base64":
	default:
		bad(sk+".generic.encoding", "want hex or base64, got %q", g.Encoding)
	}
	if len(g.Mapping) == 0 {
		bad(sk+".generic.mapping", "map at least employee_id or email")
	}
	_, hasEmail := g.Mapping["email"]
	_, hasID := g.Mapping["employee_id"]
	if len(g.Mapping) > 0 && !hasEmail && !hasID {
		bad(sk+".generic.mapping", "map at least employee_id or email")
	}
	for f := range g.Mapping {
		if !contains(HRFields, f) {
			bad(sk+".generic.mapping."+f, "unknown field%s; known: %s", suggest(f, HRFields), strings.Join(HRFields, ", "))
		}
	}
}

// Defaults for the HR section; WithDefaults applies them.
const (
	DefaultHRBodyLimit       = 1 << 20
	DefaultHRTimestampWindow = 5 * time.Minute
	DefaultHRDedupeTTL       = 96 * time.Hour
	DefaultHRJoinerLeadTime  = 15 * time.Hour
	DefaultHRGuardShare      = 0.05
	DefaultHRGuardPeople     = 10
	DefaultHRGuardWindow     = time.Hour
)

// WithDefaults returns a copy with every unset knob at its default. The
// sources map is shared, not copied.
func (h HRConfig) WithDefaults() HRConfig {
	if h.BodyLimit == 0 {
		h.BodyLimit = DefaultHRBodyLimit
	}
	if h.TimestampWindow == 0 {
		h.TimestampWindow = DefaultHRTimestampWindow
	}
	if h.DedupeTTL == 0 {
		h.DedupeTTL = DefaultHRDedupeTTL
	}
	if h.JoinerLeadTime == 0 {
		h.JoinerLeadTime = DefaultHRJoinerLeadTime
	}
	if h.TerminationAt == "" {
		h.TerminationAt = "end_of_day"
	}
	if h.Guard.MaxShare == 0 {
		h.Guard.MaxShare = DefaultHRGuardShare
	}
	if h.Guard.MaxPeople == 0 {
		h.Guard.MaxPeople = DefaultHRGuardPeople
	}
	if h.Guard.MinPeople == 0 {
		h.Guard.MinPeople = 3
	}
	if h.Guard.Window == 0 {
		h.Guard.Window = DefaultHRGuardWindow
	}
	return h
}

// SourceNames returns the configured source names, sorted.
func (h HRConfig) SourceNames() []string { return sortedKeys(h.Sources) }
