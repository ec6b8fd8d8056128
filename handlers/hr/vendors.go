package hr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"
)

// ---- BambooHR ----
//
// Webhooks: https://documentation.bamboohr.com/docs/event-based-webhooks and
// https://documentation.bamboohr.com/docs/field-based-webhooks; signature
// https://documentation.bamboohr.com/docs/webhooks. API: employees/{id},
// employees/directory, reports/custom.

type bambooHR struct{ *base }

func (s *bambooHR) authenticate(h http.Header, body []byte, now time.Time) error {
	key, err := s.secret()
	if err != nil {
		return err
	}
	return hmacBambooHR(h, body, key, now, s.window())
}

type bambooEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      *struct {
		CompanyID     json.Number `json:"companyId"`
		EmployeeID    json.Number `json:"employeeId"`
		ChangedFields []string    `json:"changedFields"`
	} `json:"data"`
	Employees []struct {
		Action        string          `json:"action"`
		ChangedFields []string        `json:"changedFields"`
		Fields        json.RawMessage `json:"fields"`
		ID            json.Number     `json:"id"`
		Timestamp     string          `json:"timestamp"`
	} `json:"employees"`
}

func (s *bambooHR) parse(ct string, body []byte) (parsed, error) {
	var e bambooEvent
	if t := strings.TrimSpace(string(body)); t != "" && t[0] != '{' {
		var err error
		if e, err = bambooForm(t); err != nil {
			return parsed{}, err
		}
	} else if err := decodeJSON(body, &e); err != nil {
		return parsed{}, err
	}
	var p parsed
	switch {
	case e.Type != "" && e.Data != nil:
		id := e.Data.EmployeeID.String()
		if id == "" {
			return p, malformed("bamboohr event without data.employeeId")
		}
		act := ActionUpsert
		switch e.Type {
		case "employee.created", "employee.updated":
		case "employee.deleted":
			act = ActionDelete
		default:
			act = ActionIgnore
		}
		p.Deltas = []Delta{{Action: act, FetchID: s.fetchID(id), Partial: true, Changed: e.Data.ChangedFields,
			Record: Record{VendorID: id, EmployeeID: s.employeeIDFromVendorID(id)}}}
		if t, err := parseTimestamp(e.Timestamp); err == nil {
			p.OccurredAt = t
		}
	case len(e.Employees) > 0:
		for _, emp := range e.Employees {
			id := emp.ID.String()
			if id == "" {
				return p, malformed("bamboohr employees[] entry without id")
			}
			fs := fieldSet{}
			if len(emp.Fields) > 0 && string(emp.Fields) != "null" {
				var err error
				if fs, err = flatJSON(emp.Fields); err != nil {
					return p, malformed("bamboohr employees[].fields: %v", err)
				}
			}
			fs["id"] = id
			r := s.mapFields(fs)
			r.VendorID = id
			act := ActionUpsert
			if strings.EqualFold(emp.Action, "Deleted") {
				act = ActionDelete
			}
			p.Deltas = append(p.Deltas, Delta{Action: act, Record: r, Partial: true, FetchID: s.fetchID(id), Changed: emp.ChangedFields})
		}
	default:
		return p, malformed("bamboohr body is neither an event (type, data) nor field-based (employees[])")
	}
	return p, nil
}

// bambooForm reads BambooHR's form-post encoding of both payload styles:
// type=…&data[employeeId]=…&data[changedFields][0]=… (event-based) and
// employees[ID][changedFields][0]=…&employees[ID][Field Name]=… (field-based).
func bambooForm(body string) (bambooEvent, error) {
	var e bambooEvent
	v, err := url.ParseQuery(body)
	if err != nil {
		return e, malformed("bamboohr form body: %v", err)
	}
	if typ := v.Get("type"); typ != "" {
		e.Type, e.Timestamp = typ, v.Get("timestamp")
		e.Data = &struct {
			CompanyID     json.Number `json:"companyId"`
			EmployeeID    json.Number `json:"employeeId"`
			ChangedFields []string    `json:"changedFields"`
		}{CompanyID: json.Number(v.Get("data[companyId]")), EmployeeID: json.Number(v.Get("data[employeeId]"))}
		for i := 0; ; i++ {
			f := v.Get(fmt.Sprintf("data[changedFields][%d]", i))
			if f == "" {
				break
			}
			e.Data.ChangedFields = append(e.Data.ChangedFields, f)
		}
		return e, nil
	}
	type emp struct {
		changed map[int]string
		fields  map[string]string
		action  string
	}
	byID := map[string]*emp{}
	var order []string
	for key, vals := range v {
		rest, ok := strings.CutPrefix(key, "employees[")
		if !ok {
			continue
		}
		id, rest, ok := strings.Cut(rest, "]")
		if !ok || id == "" || !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
			return e, malformed("bamboohr form key %q", key)
		}
		em := byID[id]
		if em == nil {
			em = &emp{changed: map[int]string{}, fields: map[string]string{}}
			byID[id] = em
			order = append(order, id)
		}
		inner := rest[1 : len(rest)-1]
		switch {
		case strings.HasPrefix(inner, "changedFields]["):
			n, err := strconv.Atoi(strings.TrimPrefix(inner, "changedFields]["))
			if err != nil || n < 0 || n > 1000 {
				return e, malformed("bamboohr form key %q", key)
			}
			em.changed[n] = vals[0]
		case inner == "action":
			em.action = vals[0]
		default:
			em.fields[inner] = vals[0]
		}
	}
	sort.Strings(order)
	for _, id := range order {
		em := byID[id]
		raw, err := json.Marshal(em.fields)
		if err != nil {
			return e, malformed("bamboohr form fields: %v", err)
		}
		var changed []string
		for i := 0; i < len(em.changed); i++ {
			changed = append(changed, em.changed[i])
		}
		e.Employees = append(e.Employees, struct {
			Action        string          `json:"action"`
			ChangedFields []string        `json:"changedFields"`
			Fields        json.RawMessage `json:"fields"`
			ID            json.Number     `json:"id"`
			Timestamp     string          `json:"timestamp"`
		}{Action: em.action, ChangedFields: changed, Fields: raw, ID: json.Number(id)})
	}
	return e, nil
}

// employeeIDFromVendorID: the webhook names people by BambooHR's id, which is
// the employee id unless the mapping says otherwise.
func (s *bambooHR) employeeIDFromVendorID(id string) string {
	if s.mapping["employee_id"] == "id" {
		return id
	}
	return ""
}

func (s *bambooHR) fetchID(id string) string {
	if s.api == nil {
		return ""
	}
	return id
}

var bambooFields = []string{"id", "employeeNumber", "firstName", "lastName", "displayName", "preferredName", "workEmail",
	"department", "division", "jobTitle", "location", "supervisorEId", "supervisorEmail", "hireDate", "terminationDate",
	"status", "employmentHistoryStatus"}

func (s *bambooHR) req(ctx context.Context) (*resty.Request, error) {
	if s.api == nil {
		return nil, errNoAPI
	}
	key, err := s.c.APIKey.Value()
	if err != nil {
		return nil, fmt.Errorf("source %s api_key: %w", s.n, err)
	}
	// BambooHR: the API key is the Basic-auth user; the password is ignored.
	return s.api.R().SetContext(ctx).SetBasicAuth(key, "x"), nil
}

func (s *bambooHR) fetch(ctx context.Context, id string) (Record, error) {
	r, err := s.req(ctx)
	if err != nil {
		return Record{}, err
	}
	resp, err := r.SetQueryParam("fields", strings.Join(bambooFields, ",")).SetPathParam("id", id).Get("/v1/employees/{id}")
	if err := apiError("bamboohr employee "+id, resp, err); err != nil {
		return Record{}, err
	}
	fs, err := flatJSON(resp.Body())
	if err != nil {
		return Record{}, fmt.Errorf("bamboohr employee %s: %w", id, err)
	}
	if fs["id"] == "" {
		fs["id"] = id
	}
	rec := s.mapFields(fs)
	rec.VendorID = id
	return rec, nil
}

func (s *bambooHR) roster(ctx context.Context) ([]Record, error) {
	r, err := s.req(ctx)
	if err != nil {
		return nil, err
	}
	var resp *resty.Response
	if s.c.Roster == "directory" {
		resp, err = r.Get("/v1/employees/directory")
	} else {
		resp, err = r.SetQueryParam("format", "JSON").SetQueryParam("onlyCurrent", "false").
			SetBody(map[string]any{"title": "gatehouse", "fields": bambooFields}).Post("/v1/reports/custom")
	}
	if err := apiError("bamboohr roster", resp, err); err != nil {
		return nil, err
	}
	return parseBambooRoster(s.base, resp.Body())
}

// parseBambooRoster reads a directory or custom report: {"employees": [...]}.
func parseBambooRoster(b *base, body []byte) ([]Record, error) {
	var doc struct {
		Employees []json.RawMessage `json:"employees"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("bamboohr roster: %w", err)
	}
	out := make([]Record, 0, len(doc.Employees))
	for _, raw := range doc.Employees {
		fs, err := flatJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("bamboohr roster entry: %w", err)
		}
		r := b.mapFields(fs)
		r.VendorID = fs["id"]
		out = append(out, r)
	}
	return out, nil
}

// ---- HiBob ----
//
// Webhooks v2: https://apidocs.hibob.com/reference/getting-started-webhooks,
// employee events https://apidocs.hibob.com/reference/employee-data-webhooks;
// people search: POST /v1/people/search.

type hiBob struct{ *base }

func (s *hiBob) authenticate(h http.Header, body []byte, _ time.Time) error {
	key, err := s.secret()
	if err != nil {
		return err
	}
	return hmacHiBob(h, body, key)
}

type bobEvent struct {
	CompanyID   json.Number `json:"companyId"`
	Type        string      `json:"type"`
	TriggeredBy string      `json:"triggeredBy"`
	TriggeredAt string      `json:"triggeredAt"`
	Version     string      `json:"version"`
	Data        struct {
		EmployeeID    string   `json:"employeeId"`
		FieldIDs      []string `json:"fieldIds"`
		TableID       string   `json:"tableId"`
		EffectiveDate string   `json:"effectiveDate"`
	} `json:"data"`
}

func (s *hiBob) parse(_ string, body []byte) (parsed, error) {
	var e bobEvent
	if err := decodeJSON(body, &e); err != nil {
		return parsed{}, err
	}
	var p parsed
	t := lowerAction(e.Type)
	if t == "" || strings.Contains(t, "ping") || strings.Contains(t, "test") {
		// Bob sends a test delivery when a webhook is set up.
		p.Ping = true
		return p, nil
	}
	if ts, err := parseTimestamp(e.TriggeredAt); err == nil {
		p.OccurredAt = ts
	}
	if !strings.HasPrefix(t, "employee.") && !strings.HasPrefix(t, "table.entry.") {
		p.Deltas = []Delta{{Action: ActionIgnore}}
		return p, nil
	}
	if e.Data.EmployeeID == "" {
		return p, malformed("hibob %s without data.employeeId", e.Type)
	}
	act := ActionUpsert
	switch t {
	case "employee.left", "employee.terminated", "employee.inactivated":
		act = ActionTerminate
	case "employee.deleted":
		act = ActionDelete
	case "employee.temporaryleave":
		act = ActionLeave
	case "employee.returnedfromleave", "employee.returned":
		act = ActionReturn
	}
	if strings.HasPrefix(t, "table.entry.") && e.Data.TableID != "lifecycle" && e.Data.TableID != "work" && e.Data.TableID != "employment" {
		act = ActionIgnore
	}
	id := e.Data.EmployeeID
	d := Delta{Action: act, Partial: true, Changed: e.Data.FieldIDs, Record: Record{VendorID: id}}
	if s.mapping["employee_id"] == "id" {
		d.Record.EmployeeID = id
	}
	if act == ActionTerminate && e.Data.EffectiveDate != "" {
		d.Record.TerminationDate = dateOf(e.Data.EffectiveDate)
	}
	if s.api != nil {
		d.FetchID = id
	}
	p.Deltas = []Delta{d}
	return p, nil
}

var bobFields = []string{"root.id", "root.email", "root.displayName", "root.firstName", "root.surname", "work.department",
	"work.title", "work.site", "work.reportsTo", "work.startDate", "internal.terminationDate", "internal.status",
	"internal.lifecycleStatus", "payroll.employment.type"}

func (s *hiBob) search(ctx context.Context, filters []map[string]any) ([]Record, error) {
	if s.api == nil {
		return nil, errNoAPI
	}
	key, err := s.c.APIKey.Value()
	if err != nil {
		return nil, fmt.Errorf("source %s api_key: %w", s.n, err)
	}
	body := map[string]any{"fields": bobFields, "showInactive": true, "humanReadable": "REPLACE"}
	if filters != nil {
		body["filters"] = filters
	}
	resp, err := s.api.R().SetContext(ctx).SetBasicAuth(s.c.APIUser, key).SetBody(body).Post("/v1/people/search")
	if err := apiError("hibob people search", resp, err); err != nil {
		return nil, err
	}
	return parseBobPeople(s.base, resp.Body())
}

func parseBobPeople(b *base, body []byte) ([]Record, error) {
	var doc struct {
		Employees []json.RawMessage `json:"employees"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("hibob people: %w", err)
	}
	out := make([]Record, 0, len(doc.Employees))
	for _, raw := range doc.Employees {
		fs, err := flatJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("hibob person: %w", err)
		}
		r := b.mapFields(fs)
		r.VendorID = fs["id"]
		out = append(out, r)
	}
	return out, nil
}

func (s *hiBob) fetch(ctx context.Context, id string) (Record, error) {
	recs, err := s.search(ctx, []map[string]any{{"fieldPath": "root.id", "operator": "equals", "values": []string{id}}})
	if err != nil {
		return Record{}, err
	}
	if len(recs) == 0 {
		return Record{}, fmt.Errorf("hibob person %s: %w", id, errGone)
	}
	return recs[0], nil
}

func (s *hiBob) roster(ctx context.Context) ([]Record, error) { return s.search(ctx, nil) }

// ---- Personio (API v2) ----
//
// Webhooks: https://developer.personio.de/v2.0/reference/webhooks (dataless:
// company_id, event_name, occurred_at, payload, meta). Persons and
// employments: GET /v2/persons/{id}, GET /v2/persons/{id}/employments,
// GET /v2/persons (cursor pagination, _meta.links.next.href). Auth: OAuth2
// client credentials at POST /v2/auth/token.

type personio struct {
	*base
	mu      sync.Mutex
	tok     string
	tokExp  time.Time
	emailOf map[string]string // supervisor person id → email (per roster read)
}

func (s *personio) authenticate(h http.Header, _ []byte, _ time.Time) error {
	tok, err := s.token()
	if err != nil {
		return err
	}
	if !checkToken(h.Get("Authorization"), tok) {
		return unauthorized("bad or missing Authorization token")
	}
	return nil
}

type personioEvent struct {
	CompanyID  string          `json:"company_id"`
	EventName  string          `json:"event_name"`
	OccurredAt string          `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
	Meta       json.RawMessage `json:"meta"`
}

func (s *personio) parse(_ string, body []byte) (parsed, error) {
	var e personioEvent
	if err := decodeJSON(body, &e); err != nil {
		return parsed{}, err
	}
	var p parsed
	name := lowerAction(e.EventName)
	if name == "" {
		return p, malformed("personio delivery without event_name")
	}
	if name == "ping" {
		p.Ping = true
		return p, nil
	}
	if e.OccurredAt == "" || len(e.Payload) == 0 {
		return p, malformed("personio delivery without occurred_at or payload")
	}
	ts, err := parseTimestamp(e.OccurredAt)
	if err != nil {
		return p, malformed("personio occurred_at: %v", err)
	}
	p.OccurredAt = ts
	fs, err := flatJSON(e.Payload)
	if err != nil {
		return p, malformed("personio payload: %v", err)
	}
	personID := firstOf(fs, "person.id", "person_id")
	if strings.HasPrefix(name, "person.") && personID == "" {
		personID = fs["id"]
	}
	if !strings.HasPrefix(name, "person.") && !strings.HasPrefix(name, "employment.") {
		p.Deltas = []Delta{{Action: ActionIgnore}}
		return p, nil
	}
	if personID == "" {
		return p, malformed("personio %s payload names no person", e.EventName)
	}
	act := ActionUpsert
	switch name {
	case "employment.terminated":
		act = ActionTerminate
	case "person.deleted":
		act = ActionDelete
	}
	d := Delta{Action: act, Partial: true, Record: Record{VendorID: personID}}
	if s.mapping["employee_id"] == "id" {
		d.Record.EmployeeID = personID
	}
	if s.api != nil {
		d.FetchID = personID
	}
	p.Deltas = []Delta{d}
	return p, nil
}

func firstOf(fs fieldSet, keys ...string) string {
	for _, k := range keys {
		if v := fs[k]; v != "" {
			return v
		}
	}
	return ""
}

// bearer returns a cached access token, fetching one with the client
// credentials when it is missing or about to expire.
func (s *personio) bearer(ctx context.Context) (string, error) {
	if s.api == nil {
		return "", errNoAPI
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && time.Until(s.tokExp) > 30*time.Second {
		return s.tok, nil
	}
	secret, err := s.c.APIKey.Value()
	if err != nil {
		return "", fmt.Errorf("source %s api_key: %w", s.n, err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	resp, err := s.api.R().SetContext(ctx).SetFormData(map[string]string{
		"grant_type": "client_credentials", "client_id": s.c.APIUser, "client_secret": secret,
	}).Post("/v2/auth/token")
	if err := apiError("personio token", resp, err); err != nil {
		return "", err
	}
	if err := json.Unmarshal(resp.Body(), &out); err != nil {
		return "", fmt.Errorf("personio token: %w", err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("personio token: empty access_token")
	}
	s.tok, s.tokExp = out.AccessToken, time.Now().Add(time.Duration(max(out.ExpiresIn, 60))*time.Second)
	return s.tok, nil
}

func (s *personio) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	tok, err := s.bearer(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.api.R().SetContext(ctx).SetAuthToken(tok).SetQueryParamsFromValues(query).Get(path)
	if err := apiError("personio GET "+path, resp, err); err != nil {
		return nil, err
	}
	return resp.Body(), nil
}

type personioList struct {
	Data []json.RawMessage `json:"_data"`
	Meta struct {
		Links struct {
			Next *struct {
				Href string `json:"href"`
			} `json:"next"`
		} `json:"links"`
	} `json:"_meta"`
}

// list follows cursor pagination. The next link's cursor is re-applied to
// the configured base URL, so a loopback fake and a proxy both work.
func (s *personio) list(ctx context.Context, path string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	q := url.Values{"limit": {"50"}}
	for page := 0; page < 10000; page++ {
		body, err := s.get(ctx, path, q)
		if err != nil {
			return nil, err
		}
		var l personioList
		if err := json.Unmarshal(body, &l); err != nil {
			return nil, fmt.Errorf("personio %s: %w", path, err)
		}
		out = append(out, l.Data...)
		if l.Meta.Links.Next == nil || l.Meta.Links.Next.Href == "" {
			return out, nil
		}
		u, err := url.Parse(l.Meta.Links.Next.Href)
		if err != nil {
			return nil, fmt.Errorf("personio next link: %w", err)
		}
		cur := u.Query().Get("cursor")
		if cur == "" || cur == q.Get("cursor") {
			return out, nil
		}
		q.Set("cursor", cur)
	}
	return nil, fmt.Errorf("personio %s: too many pages", path)
}

// record combines a person with their most recent employment. Org units
// become department/team by their type.
func (s *personio) record(ctx context.Context, person json.RawMessage) (Record, error) {
	fs, err := flatJSON(person)
	if err != nil {
		return Record{}, fmt.Errorf("personio person: %w", err)
	}
	id := fs["id"]
	emps, err := s.list(ctx, "/v2/persons/"+url.PathEscape(id)+"/employments")
	if err != nil {
		return Record{}, err
	}
	if len(emps) > 0 {
		var v any
		if err := json.Unmarshal(emps[0], &v); err == nil {
			flatten("employment", v, fs, 0)
		}
		for i := 0; i < 50; i++ {
			p := fmt.Sprintf("employment.org_units.%d.", i)
			typ := strings.ToLower(fs[p+"type"])
			if typ == "" {
				break
			}
			val := firstOf(fs, p+"name", p+"id")
			if typ == "department" || typ == "team" {
				fs["employment."+typ] = val
			}
		}
	}
	r := s.mapFields(fs)
	r.VendorID = id
	if r.ManagerEmail == "" && r.ManagerID != "" {
		r.ManagerEmail = s.supervisorEmail(ctx, r.ManagerID)
	}
	return r, nil
}

func (s *personio) supervisorEmail(ctx context.Context, id string) string {
	s.mu.Lock()
	if e, ok := s.emailOf[id]; ok {
		s.mu.Unlock()
		return e
	}
	s.mu.Unlock()
	body, err := s.get(ctx, "/v2/persons/"+url.PathEscape(id), nil)
	if err != nil {
		return ""
	}
	var p struct {
		Email string `json:"email"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Email
}

func (s *personio) fetch(ctx context.Context, id string) (Record, error) {
	body, err := s.get(ctx, "/v2/persons/"+url.PathEscape(id), nil)
	if err != nil {
		return Record{}, err
	}
	return s.record(ctx, body)
}

func (s *personio) roster(ctx context.Context) ([]Record, error) {
	persons, err := s.list(ctx, "/v2/persons")
	if err != nil {
		return nil, err
	}
	emails := make(map[string]string, len(persons))
	for _, p := range persons {
		var v struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		}
		if json.Unmarshal(p, &v) == nil {
			emails[v.ID] = v.Email
		}
	}
	s.mu.Lock()
	s.emailOf = emails
	s.mu.Unlock()
	out := make([]Record, 0, len(persons))
	for _, p := range persons {
		r, err := s.record(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ---- Rippling ----
//
// Partner webhooks POST event_name, company_id, company_primary_email and
// the resource id, form-encoded (JSON accepted too), with an optional bearer
// token that Gatehouse requires; events lag about five minutes. Workers are
// read from the REST API (GET /workers/{id}, GET /workers).

type rippling struct{ *base }

func (s *rippling) authenticate(h http.Header, _ []byte, _ time.Time) error {
	tok, err := s.token()
	if err != nil {
		return err
	}
	if !checkToken(h.Get("Authorization"), tok) {
		return unauthorized("bad or missing bearer token")
	}
	return nil
}

func (s *rippling) parse(ct string, body []byte) (parsed, error) {
	fields := map[string]string{}
	if strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
		var m map[string]any
		if err := decodeJSON(body, &m); err != nil {
			return parsed{}, err
		}
		fs := fieldSet{}
		flatten("", m, fs, 0)
		fields = fs
	} else {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return parsed{}, malformed("rippling form body: %v", err)
		}
		for k := range v {
			fields[k] = v.Get(k)
		}
	}
	var p parsed
	name := lowerAction(fields["event_name"])
	if name == "" {
		return p, malformed("rippling delivery without event_name")
	}
	if !strings.Contains(name, "employee") && !strings.Contains(name, "worker") {
		p.Deltas = []Delta{{Action: ActionIgnore}}
		return p, nil
	}
	id := firstOf(fields, "id", "employee_id", "resource_id")
	if id == "" {
		return p, malformed("rippling %s names no employee id", name)
	}
	act := ActionUpsert
	switch {
	case strings.Contains(name, "delet"), strings.Contains(name, "terminat"), strings.Contains(name, "offboard"):
		act = ActionTerminate
	}
	d := Delta{Action: act, Partial: true, Record: Record{VendorID: id}}
	if s.mapping["employee_id"] == "id" {
		d.Record.EmployeeID = id
	}
	if s.api != nil {
		d.FetchID = id
	}
	p.Deltas = []Delta{d}
	return p, nil
}

func (s *rippling) req(ctx context.Context) (*resty.Request, error) {
	if s.api == nil {
		return nil, errNoAPI
	}
	key, err := s.c.APIKey.Value()
	if err != nil {
		return nil, fmt.Errorf("source %s api_key: %w", s.n, err)
	}
	return s.api.R().SetContext(ctx).SetAuthToken(key), nil
}

func (s *rippling) fetch(ctx context.Context, id string) (Record, error) {
	r, err := s.req(ctx)
	if err != nil {
		return Record{}, err
	}
	resp, err := r.SetPathParam("id", id).Get("/workers/{id}")
	if err := apiError("rippling worker "+id, resp, err); err != nil {
		return Record{}, err
	}
	fs, err := flatJSON(resp.Body())
	if err != nil {
		return Record{}, fmt.Errorf("rippling worker: %w", err)
	}
	rec := s.mapFields(fs)
	rec.VendorID = id
	return rec, nil
}

func (s *rippling) roster(ctx context.Context) ([]Record, error) {
	var out []Record
	next := "/workers?limit=100"
	for page := 0; next != "" && page < 10000; page++ {
		r, err := s.req(ctx)
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(next)
		if err != nil {
			return nil, fmt.Errorf("rippling next link: %w", err)
		}
		resp, err := r.SetQueryParamsFromValues(u.Query()).Get(u.Path)
		if err := apiError("rippling workers", resp, err); err != nil {
			return nil, err
		}
		var l struct {
			Results  []json.RawMessage `json:"results"`
			NextLink string            `json:"next_link"`
		}
		if err := json.Unmarshal(resp.Body(), &l); err != nil {
			return nil, fmt.Errorf("rippling workers: %w", err)
		}
		for _, raw := range l.Results {
			fs, err := flatJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("rippling worker: %w", err)
			}
			rec := s.mapFields(fs)
			rec.VendorID = fs["id"]
			out = append(out, rec)
		}
		next = ""
		if l.NextLink != "" {
			if nu, err := url.Parse(l.NextLink); err == nil {
				p := strings.TrimPrefix(nu.Path, strings.TrimRight(s.api.BaseURL, "/"))
				if bu, err := url.Parse(s.api.BaseURL); err == nil {
					p = strings.TrimPrefix(nu.Path, strings.TrimRight(bu.Path, "/"))
				}
				next = p + "?" + nu.RawQuery
			}
		}
	}
	return out, nil
}
