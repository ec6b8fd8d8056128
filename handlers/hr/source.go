package hr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/go-resty/resty/v2"
	"github.com/rs/zerolog"
)

// Action is what a webhook says happened to a person.
type Action string

// Webhook actions.
const (
	ActionUpsert    Action = "upsert" // created or updated: compare with what is stored
	ActionTerminate Action = "terminate"
	ActionDelete    Action = "delete" // removed from the HR system: treated as a termination
	ActionLeave     Action = "leave"
	ActionReturn    Action = "return"
	ActionIgnore    Action = "ignore"
)

// Delta is one person-level change a webhook announces.
type Delta struct {
	Action Action
	// Record carries what the payload says (possibly little: an id).
	Record Record
	// Partial marks a record holding only the fields the payload carried.
	Partial bool
	// FetchID is the vendor id to read the full person by API, when the
	// source has an API; "" when the payload is complete.
	FetchID string
	// Changed lists the fields the vendor says changed (for logs).
	Changed []string
}

// parsed is a delivery's parse result.
type parsed struct {
	Deltas     []Delta
	DeliveryID string    // vendor's delivery id, "" for none (a content hash is used)
	OccurredAt time.Time // when the vendor says the event happened (replay check)
	Ping       bool      // a setup/test delivery: answer 200, record nothing
}

var (
	errNoAPI    = errors.New("source has no API configured")
	errNoRoster = errors.New("source has no roster")
	errGone     = errors.New("person not found in the HR system")
)

// source is one configured HR system.
type source interface {
	name() string
	cfg() *config.HRSource
	webhooks() bool
	authenticate(h http.Header, body []byte, now time.Time) error
	parse(contentType string, body []byte) (parsed, error)
	fetch(ctx context.Context, vendorID string) (Record, error)
	roster(ctx context.Context) ([]Record, error)
}

// base holds what every source shares.
type base struct {
	n       string
	c       *config.HRSource
	svc     *Service
	mapping Mapping
	api     *resty.Client // nil without api_url
}

func (b *base) name() string          { return b.n }
func (b *base) cfg() *config.HRSource { return b.c }
func (b *base) webhooks() bool        { return true }

func (b *base) fetch(context.Context, string) (Record, error) { return Record{}, errNoAPI }

func (b *base) roster(context.Context) ([]Record, error) { return nil, errNoRoster }

func (b *base) window() time.Duration { return b.svc.hr.TimestampWindow }

func (b *base) secret() (string, error) {
	v, err := b.c.Secret.Value()
	if err != nil {
		return "", fmt.Errorf("source %s secret: %w", b.n, err)
	}
	return v, nil
}

func (b *base) token() (string, error) {
	v, err := b.c.Token.Value()
	if err != nil {
		return "", fmt.Errorf("source %s token: %w", b.n, err)
	}
	return v, nil
}

// mapFields maps a flat vendor record with the source's mapping.
func (b *base) mapFields(fs fieldSet) Record {
	r := mapRecord(b.n, fs, b.mapping, b.c.StatusMap)
	return r
}

// apiRetryWait is the first pause before retrying a vendor API call that
// failed transiently (tests shorten it).
var apiRetryWait = 300 * time.Millisecond

// restyLog sends resty's own messages to zerolog (never request bodies).
type restyLog struct{ l zerolog.Logger }

func (r restyLog) Errorf(format string, v ...any) { r.l.Debug().Msgf("resty: "+format, v...) }
func (r restyLog) Warnf(format string, v ...any)  { r.l.Debug().Msgf("resty: "+format, v...) }
func (r restyLog) Debugf(format string, v ...any) { r.l.Debug().Msgf("resty: "+format, v...) }

// newSource builds the source for a config entry.
func newSource(name string, c *config.HRSource, svc *Service, client *http.Client) (source, config.ErrorList) {
	b := &base{n: name, c: c, svc: svc}
	if c.APIURL != "" {
		b.api = resty.NewWithClient(client).SetBaseURL(strings.TrimRight(c.APIURL, "/")).
			SetHeader("Accept", "application/json").SetHeader("User-Agent", "gatehouse-hr").SetDisableWarn(true).SetLogger(restyLog{svc.log}).
			SetRetryCount(2).SetRetryWaitTime(apiRetryWait).SetRetryMaxWaitTime(10 * apiRetryWait).
			AddRetryCondition(func(r *resty.Response, err error) bool {
				return err != nil || r.StatusCode() == http.StatusTooManyRequests || r.StatusCode() >= 500
			})
	}
	defaults := vendorMappings[c.Vendor]
	b.mapping = defaults.with(c.Fields)
	switch c.Vendor {
	case config.VendorBambooHR:
		return &bambooHR{base: b}, nil
	case config.VendorHiBob:
		return &hiBob{base: b}, nil
	case config.VendorPersonio:
		return &personio{base: b}, nil
	case config.VendorRippling:
		return &rippling{base: b}, nil
	case config.VendorWorkday:
		return &workday{base: b, client: client}, nil
	case config.VendorCSV:
		return &csvSource{base: b}, nil
	case config.VendorGeneric:
		g, errs := compileGeneric(c.Generic)
		if len(errs) > 0 {
			return nil, errs
		}
		g.base = b
		return g, nil
	}
	return nil, config.ErrorList{{Pos: c.Pos, Key: "hr.sources." + name + ".vendor", Msg: "unknown vendor " + c.Vendor}}
}

// vendorMappings are the default field mappings. Alternatives separated by
// "|" cover the API's names and the webhook's display names.
var vendorMappings = map[string]Mapping{
	config.VendorBambooHR: {
		"employee_id": "id", "email": "workEmail|Work Email", "first_name": "firstName|First Name",
		"last_name": "lastName|Last Name", "name": "displayName|preferredName", "department": "department|Department",
		"team": "division|Division", "title": "jobTitle|Job Title", "location": "location|Location",
		"manager_email": "supervisorEmail|Supervisor Email", "manager_id": "supervisorEId", "start_date": "hireDate|Hire Date",
		"termination_date": "terminationDate|Termination Date", "status": "status|Status|employmentHistoryStatus|Employment Status",
		"kind": "employmentHistoryStatus|Employment Status",
	},
	config.VendorHiBob: {
		"employee_id": "id", "email": "email", "name": "displayName", "first_name": "firstName", "last_name": "surname",
		"department": "work.department", "team": "work.custom.team|work.team", "title": "work.title", "location": "work.site",
		"manager_email": "work.reportsTo.email", "manager_id": "work.reportsTo.id", "start_date": "work.startDate",
		"termination_date": "internal.terminationDate", "status": "internal.lifecycleStatus|internal.status",
		"kind": "payroll.employment.type", "time_zone": "work.siteTimezone",
	},
	config.VendorPersonio: {
		"employee_id": "id", "email": "email", "first_name": "preferred_name|first_name", "last_name": "last_name",
		"department": "employment.department", "team": "employment.team", "title": "employment.position.title",
		"location": "employment.office.name|employment.office.id", "manager_id": "employment.supervisor.id",
		"start_date": "employment.start_date", "termination_date": "employment.termination.termination_date",
		"status": "employment.status", "kind": "employment.type",
	},
	config.VendorRippling: {
		"employee_id": "id", "email": "work_email", "name": "display_name|name", "first_name": "first_name",
		"last_name": "last_name", "department": "department.name|department_id", "team": "teams.0.name",
		"title": "title", "location": "location.name|location.type", "manager_id": "manager_id",
		"manager_email": "manager.work_email", "start_date": "start_date", "termination_date": "termination_date|end_date",
		"status": "status", "kind": "employment_type.type|employment_type", "time_zone": "time_zone",
	},
	config.VendorWorkday: {
		"employee_id": "Employee_ID", "email": "Email_-_Work|Work_Email|Email", "name": "Worker|Legal_Name|Name",
		"department": "Supervisory_Organization|Department", "team": "Team|Cost_Center", "title": "Business_Title|Job_Title",
		"location": "Location", "manager_email": "Manager_Email|Manager_-_Email", "start_date": "Hire_Date",
		"end_date": "Contract_End_Date", "termination_date": "Termination_Date", "status": "Active_Status|Worker_Status",
		"kind": "Worker_Type", "time_zone": "Time_Zone",
	},
	config.VendorCSV: identityMapping(),
}

// identityMapping maps Gatehouse field names to themselves (CSV headers).
func identityMapping() Mapping {
	m := Mapping{}
	for _, f := range config.HRFields {
		m[f] = f
	}
	return m
}

// decodeJSON decodes a body strictly enough for webhooks: one JSON value.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return malformed("invalid JSON: %v", err)
	}
	if dec.More() {
		return malformed("trailing data after the JSON body")
	}
	return nil
}

// flatJSON decodes a JSON object into a fieldSet.
func flatJSON(raw json.RawMessage) (fieldSet, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	fs := fieldSet{}
	flatten("", v, fs, 0)
	return fs, nil
}

// apiError turns a failed vendor API response into an error; 404 is errGone.
func apiError(what string, r *resty.Response, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r.StatusCode() == http.StatusNotFound {
		return fmt.Errorf("%s: %w", what, errGone)
	}
	if r.IsError() {
		return fmt.Errorf("%s: HTTP %d", what, r.StatusCode())
	}
	return nil
}

func lowerAction(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
