package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	elim "github.com/elimity-com/scim"
	elimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// memResource is one stored SCIM resource.
type memResource struct {
	id       string
	external string
	attrs    elim.ResourceAttributes
	version  int
	created  time.Time
	modified time.Time
}

// scimStore is the storage behind an elimity-com/scim server: elimity parses
// requests, filters and pagination; storage and PATCH application are ours,
// and so is If-Match (elimity sets ETag from Meta.Version but never checks it).
type scimStore struct {
	mu     sync.Mutex
	seq    int
	users  map[string]*memResource
	groups map[string]*memResource
	// usersShowGroups adds the read-only "groups" attribute to users.
	usersShowGroups bool
	// bumpOnce changes the next PATCHed or PUT resource behind the client's
	// back, so its If-Match fails once with 412.
	bumpOnce bool
	patches  int
	puts     int
}

func newStore() *scimStore {
	return &scimStore{users: map[string]*memResource{}, groups: map[string]*memResource{}}
}

type resHandler struct {
	s     *scimStore
	group bool
}

func (h resHandler) table() map[string]*memResource {
	if h.group {
		return h.s.groups
	}
	return h.s.users
}

func (h resHandler) key() string {
	if h.group {
		return "displayName"
	}
	return "userName"
}

func etag(v int) string { return fmt.Sprintf(`W/"%d"`, v) }

func (h resHandler) toResource(m *memResource) elim.Resource {
	attrs := elim.ResourceAttributes{}
	for k, v := range m.attrs {
		attrs[k] = v
	}
	if !h.group && h.s.usersShowGroups {
		var gs []any
		ids := make([]string, 0, len(h.s.groups))
		for id := range h.s.groups {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, gid := range ids {
			g := h.s.groups[gid]
			for _, mv := range members(g) {
				if mv == m.id {
					gs = append(gs, map[string]any{"value": gid, "display": g.attrs["displayName"]})
				}
			}
		}
		if gs != nil {
			attrs["groups"] = gs
		}
	}
	created, modified := m.created, m.modified
	r := elim.Resource{ID: m.id, Attributes: attrs, Meta: elim.Meta{Created: &created, LastModified: &modified, Version: etag(m.version)}}
	if m.external != "" {
		r.ExternalID = optional.NewString(m.external)
	}
	return r
}

func members(g *memResource) []string {
	var out []string
	list, _ := g.attrs["members"].([]any)
	for _, e := range list {
		if mm, ok := e.(map[string]any); ok {
			if v, ok := mm["value"].(string); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func (h resHandler) unique(attrs elim.ResourceAttributes, except string) error {
	name, _ := attrs[h.key()].(string)
	for id, r := range h.table() {
		if other, _ := r.attrs[h.key()].(string); id != except && strings.EqualFold(other, name) {
			return elimerr.ScimErrorUniqueness
		}
	}
	return nil
}

func (h resHandler) Create(r *http.Request, attrs elim.ResourceAttributes) (elim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if err := h.unique(attrs, ""); err != nil {
		return elim.Resource{}, err
	}
	h.s.seq++
	now := time.Now().UTC().Truncate(time.Second)
	m := &memResource{id: "r" + strconv.Itoa(h.s.seq), attrs: attrs, version: 1, created: now, modified: now}
	if ext, ok := attrs["externalId"].(string); ok {
		m.external = ext
		delete(attrs, "externalId")
	}
	h.table()[m.id] = m
	return h.toResource(m), nil
}

func (h resHandler) Get(r *http.Request, id string) (elim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	m, ok := h.table()[id]
	if !ok {
		return elim.Resource{}, elimerr.ScimErrorResourceNotFound(id)
	}
	return h.toResource(m), nil
}

func (h resHandler) GetAll(r *http.Request, p elim.ListRequestParams) (elim.Page, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	ids := make([]string, 0, len(h.table()))
	for id := range h.table() {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.Atoi(ids[i][1:])
		b, _ := strconv.Atoi(ids[j][1:])
		return a < b
	})
	var match []elim.Resource
	for _, id := range ids {
		res := h.toResource(h.table()[id])
		if p.FilterValidator != nil {
			flat := map[string]any{"id": res.ID}
			for k, v := range res.Attributes {
				flat[k] = v
			}
			if res.ExternalID.Present() {
				flat["externalId"] = res.ExternalID.Value()
			}
			if p.FilterValidator.PassesFilter(flat) != nil {
				continue
			}
		}
		match = append(match, res)
	}
	start := max(p.StartIndex, 1) - 1
	end := min(start+p.Count, len(match))
	page := elim.Page{TotalResults: len(match), Resources: []elim.Resource{}}
	if start < len(match) {
		page.Resources = match[start:end]
	}
	return page, nil
}

func (h resHandler) checkVersion(r *http.Request, m *memResource) error {
	if h.s.bumpOnce {
		h.s.bumpOnce = false
		m.version++
	}
	if im := r.Header.Get("If-Match"); im != "" && im != "*" && im != etag(m.version) {
		return elimerr.ScimError{Status: http.StatusPreconditionFailed, Detail: "version mismatch"}
	}
	return nil
}

func (h resHandler) Replace(r *http.Request, id string, attrs elim.ResourceAttributes) (elim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.puts++
	m, ok := h.table()[id]
	if !ok {
		return elim.Resource{}, elimerr.ScimErrorResourceNotFound(id)
	}
	if err := h.checkVersion(r, m); err != nil {
		return elim.Resource{}, err
	}
	if err := h.unique(attrs, id); err != nil {
		return elim.Resource{}, err
	}
	if ext, ok := attrs["externalId"].(string); ok {
		m.external = ext
		delete(attrs, "externalId")
	}
	m.attrs, m.version, m.modified = attrs, m.version+1, time.Now().UTC().Truncate(time.Second)
	return h.toResource(m), nil
}

func (h resHandler) Delete(r *http.Request, id string) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if _, ok := h.table()[id]; !ok {
		return elimerr.ScimErrorResourceNotFound(id)
	}
	delete(h.table(), id)
	if !h.group {
		for _, g := range h.s.groups {
			removeMember(g, id)
		}
	}
	return nil
}

func removeMember(g *memResource, id string) bool {
	list, _ := g.attrs["members"].([]any)
	var keep []any
	removed := false
	for _, e := range list {
		if mm, ok := e.(map[string]any); ok && mm["value"] == id {
			removed = true
			continue
		}
		keep = append(keep, e)
	}
	g.attrs["members"] = keep
	return removed
}

// Patch applies RFC 7644 section 3.5.2 operations for the paths Gatehouse
// and IdPs use; it answers 204 when nothing changed, as some servers do.
func (h resHandler) Patch(r *http.Request, id string, ops []elim.PatchOperation) (elim.Resource, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.patches++
	m, ok := h.table()[id]
	if !ok {
		return elim.Resource{}, elimerr.ScimErrorResourceNotFound(id)
	}
	if err := h.checkVersion(r, m); err != nil {
		return elim.Resource{}, err
	}
	before, _ := json.Marshal(m.attrs)
	for _, op := range ops {
		if op.Path == nil {
			vals, _ := op.Value.(map[string]any)
			for k, v := range vals {
				m.attrs[k] = v
			}
			continue
		}
		attr := op.Path.AttributePath.AttributeName
		switch {
		case attr == "members" && op.Path.ValueExpression != nil:
			ae, ok := op.Path.ValueExpression.(*fp.AttributeExpression)
			if !ok || op.Op != "remove" {
				return elim.Resource{}, elimerr.ScimErrorInvalidPath
			}
			if !removeMember(m, fmt.Sprint(ae.CompareValue)) {
				return elim.Resource{}, elimerr.ScimErrorNoTarget
			}
		case attr == "members":
			vals, _ := op.Value.([]any)
			for _, v := range vals {
				mv, _ := v.(map[string]any)
				vid, _ := mv["value"].(string)
				if op.Op == "remove" {
					removeMember(m, vid)
					continue
				}
				present := false
				for _, x := range members(m) {
					present = present || x == vid
				}
				if !present {
					list, _ := m.attrs["members"].([]any)
					m.attrs["members"] = append(list, map[string]any{"value": vid})
				}
			}
		default:
			if op.Op == "remove" {
				delete(m.attrs, attr)
			} else {
				m.attrs[attr] = op.Value
			}
		}
	}
	after, _ := json.Marshal(m.attrs)
	if bytes.Equal(before, after) {
		return elim.Resource{}, nil // 204
	}
	m.version++
	m.modified = time.Now().UTC().Truncate(time.Second)
	return h.toResource(m), nil
}

// scimPeer is a running elimity SCIM server on loopback.
type scimPeer struct {
	*httptest.Server
	store *scimStore
	etag  bool
	// wrap lets a test replace answers (fault injection) before elimity sees the request.
	wrap func(w http.ResponseWriter, r *http.Request) bool
	mu   sync.Mutex
	log  []string
}

func (p *scimPeer) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func newSCIMPeer(t *testing.T, etagSupported bool) *scimPeer {
	t.Helper()
	st := newStore()
	srv, err := elim.NewServer(&elim.ServerArgs{
		ServiceProviderConfig: &elim.ServiceProviderConfig{SupportFiltering: true, SupportPatch: true, MaxResults: 50},
		ResourceTypes: []elim.ResourceType{
			{ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
				SchemaExtensions: []elim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}}, Handler: resHandler{s: st}},
			{ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(), Handler: resHandler{s: st, group: true}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &scimPeer{store: st, etag: etagSupported}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer scim-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		p.log = append(p.log, r.Method+" "+r.URL.RequestURI())
		wrap := p.wrap
		p.mu.Unlock()
		if wrap != nil && wrap(w, r) {
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/scim/v2")
		if r.URL.Path == "/ServiceProviderConfig" && p.etag {
			// elimity always reports etag unsupported; this peer checks If-Match.
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
			var m map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &m)
			m["etag"] = map[string]any{"supported": true}
			w.Header().Set("Content-Type", "application/scim+json")
			_ = json.NewEncoder(w).Encode(m)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// addGroup creates a group directly in storage.
func (p *scimPeer) addGroup(name string) string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.seq++
	id := "g" + strconv.Itoa(p.store.seq)
	now := time.Now().UTC()
	p.store.groups[id] = &memResource{id: id, attrs: elim.ResourceAttributes{"displayName": name, "members": []any{}}, version: 1, created: now, modified: now}
	return id
}

func (p *scimPeer) groupMembers(id string) []string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return members(p.store.groups[id])
}

func readAll(r io.Reader) string { b, _ := io.ReadAll(r); return string(b) }
