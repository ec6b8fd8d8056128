package http

import (
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
)

// fakeUser is an account in one of the fake vendor APIs.
type fakeUser struct {
	id, email, name, title string
	disabled               bool
	modified               time.Time
	groups                 map[string]bool // team or role ids
}

type fakeStore struct {
	mu     sync.Mutex
	seq    int
	users  map[string]*fakeUser
	groups map[string]string // id → name
	reqs   []string
}

func newFakeStore(groups map[string]string) *fakeStore {
	return &fakeStore{users: map[string]*fakeUser{}, groups: groups}
}

func (s *fakeStore) sorted() []*fakeUser {
	out := make([]*fakeUser, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (s *fakeStore) byEmail(email string) *fakeUser {
	for _, u := range s.users {
		if strings.EqualFold(u.email, email) {
			return u
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, ctype string, status int, v any) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// newPagerDuty serves the slice of PagerDuty's REST API v2 the example uses,
// shaped like its documented responses: {"users": […], "limit", "offset",
// "more", "total"} lists, {"user": {…}} objects, {"error": {"message",
// "code", "errors"}} failures, Token auth and the From header on writes.
func newPagerDuty(t *testing.T, st *fakeStore) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const ct = "application/json; charset=utf-8"
		st.mu.Lock()
		defer st.mu.Unlock()
		st.reqs = append(st.reqs, r.Method+" "+r.URL.RequestURI())
		fail := func(status, code int, msg string, errs ...string) {
			writeJSON(w, ct, status, map[string]any{"error": map[string]any{"message": msg, "code": code, "errors": errs}})
		}
		if r.Header.Get("Authorization") != "Token token=pd-key" {
			fail(401, 2006, "Unauthorized")
			return
		}
		if r.Header.Get("Accept") != "application/vnd.pagerduty+json;version=2" {
			fail(406, 2000, "Not Acceptable")
			return
		}
		if r.Method != http.MethodGet && r.Header.Get("From") == "" {
			fail(400, 2001, "Invalid Input Provided", "From header is required")
			return
		}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		userJSON := func(u *fakeUser) map[string]any {
			teams := []any{}
			for _, gid := range sortedKeys(u.groups) {
				teams = append(teams, map[string]any{"id": gid, "type": "team_reference", "summary": st.groups[gid]})
			}
			return map[string]any{"id": u.id, "type": "user", "name": u.name, "email": u.email, "job_title": u.title, "role": "user", "teams": teams}
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/users":
			q := strings.ToLower(r.URL.Query().Get("query"))
			limit, offset := atoi(r.URL.Query().Get("limit"), 25), atoi(r.URL.Query().Get("offset"), 0)
			var match []any
			for _, u := range st.sorted() {
				if q == "" || strings.Contains(strings.ToLower(u.email), q) || strings.Contains(strings.ToLower(u.name), q) {
					match = append(match, userJSON(u))
				}
			}
			end := min(offset+limit, len(match))
			page := []any{}
			if offset < len(match) {
				page = match[offset:end]
			}
			writeJSON(w, ct, 200, map[string]any{"users": page, "limit": limit, "offset": offset, "more": end < len(match), "total": nil})
		case r.Method == http.MethodPost && r.URL.Path == "/users":
			var body struct {
				User struct{ Type, Name, Email, Role, JobTitle string } `json:"user"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.User.Email == "" || body.User.Type != "user" {
				fail(400, 2001, "Invalid Input Provided", "user.email is required")
				return
			}
			if st.byEmail(body.User.Email) != nil {
				fail(400, 2001, "Invalid Input Provided", "Email has already been taken.")
				return
			}
			st.seq++
			u := &fakeUser{id: fmt.Sprintf("PU%04d", st.seq), email: body.User.Email, name: body.User.Name, groups: map[string]bool{}}
			st.users[u.id] = u
			writeJSON(w, ct, 201, map[string]any{"user": userJSON(u)})
		case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "users":
			if _, ok := st.users[parts[1]]; !ok {
				fail(404, 2100, "Not Found")
				return
			}
			delete(st.users, parts[1])
			w.WriteHeader(204)
		case len(parts) == 4 && parts[0] == "teams" && parts[2] == "users":
			u, ok := st.users[parts[3]]
			if _, tok := st.groups[parts[1]]; !tok || !ok {
				fail(404, 2100, "Not Found")
				return
			}
			if r.Method == http.MethodPut {
				u.groups[parts[1]] = true
				w.WriteHeader(204)
				return
			}
			if !u.groups[parts[1]] {
				fail(404, 2100, "Not Found")
				return
			}
			delete(u.groups, parts[1])
			w.WriteHeader(204)
		default:
			fail(404, 2100, "Not Found")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// newDatadog serves the slice of Datadog's API v2 the example uses, shaped
// like its documented JSON:API responses: {"data": […], "meta": {"page":
// {"total_count"…}}}, users with attributes and relationships.roles,
// {"errors": […]} failures, DD-API-KEY and DD-APPLICATION-KEY headers.
func newDatadog(t *testing.T, st *fakeStore) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const ct = "application/json"
		st.mu.Lock()
		defer st.mu.Unlock()
		st.reqs = append(st.reqs, r.Method+" "+r.URL.RequestURI())
		fail := func(status int, errs ...string) { writeJSON(w, ct, status, map[string]any{"errors": errs}) }
		if r.Header.Get("DD-API-KEY") != "dd-api" || r.Header.Get("DD-APPLICATION-KEY") != "dd-app" {
			fail(403, "Forbidden")
			return
		}
		userJSON := func(u *fakeUser) map[string]any {
			roles := []any{}
			for _, gid := range sortedKeys(u.groups) {
				roles = append(roles, map[string]any{"id": gid, "type": "roles"})
			}
			status := "Active"
			if u.disabled {
				status = "Disabled"
			}
			return map[string]any{"type": "users", "id": u.id, "attributes": map[string]any{
				"email": u.email, "handle": u.email, "name": u.name, "title": u.title, "disabled": u.disabled, "status": status,
				"modified_at": u.modified.Format(time.RFC3339Nano)},
				"relationships": map[string]any{"roles": map[string]any{"data": roles}}}
		}
		var body struct {
			Data struct {
				Type, ID   string
				Attributes map[string]any
			} `json:"data"`
		}
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			if len(b) > 0 {
				if err := json.Unmarshal(b, &body); err != nil {
					fail(400, "Invalid JSON")
					return
				}
			}
		}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/users":
			q := strings.ToLower(r.URL.Query().Get("filter"))
			size, number := atoi(r.URL.Query().Get("page[size]"), 10), atoi(r.URL.Query().Get("page[number]"), 0)
			var match []any
			for _, u := range st.sorted() {
				if q == "" || strings.Contains(strings.ToLower(u.email), q) || strings.Contains(strings.ToLower(u.name), q) {
					match = append(match, userJSON(u))
				}
			}
			start := min(number*size, len(match))
			page := append([]any{}, match[start:min(start+size, len(match))]...)
			writeJSON(w, ct, 200, map[string]any{"data": page, "meta": map[string]any{"page": map[string]any{"total_count": len(st.users), "total_filtered_count": len(match)}}})
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/users":
			email, _ := body.Data.Attributes["email"].(string)
			if body.Data.Type != "users" || email == "" {
				fail(400, "Invalid user")
				return
			}
			if st.byEmail(email) != nil {
				fail(409, "User already exists")
				return
			}
			st.seq++
			name, _ := body.Data.Attributes["name"].(string)
			title, _ := body.Data.Attributes["title"].(string)
			u := &fakeUser{id: fmt.Sprintf("00000000-0000-4000-8000-%012d", st.seq), email: email, name: name, title: title, modified: time.Now().UTC(), groups: map[string]bool{}}
			st.users[u.id] = u
			writeJSON(w, ct, 201, map[string]any{"data": userJSON(u)})
		case len(parts) == 4 && parts[2] == "users":
			u, ok := st.users[parts[3]]
			if !ok {
				fail(404, "Not found")
				return
			}
			switch r.Method {
			case http.MethodDelete:
				u.disabled, u.modified = true, time.Now().UTC()
				w.WriteHeader(204)
			case http.MethodPatch:
				if d, ok := body.Data.Attributes["disabled"].(bool); ok {
					u.disabled = d
				}
				u.modified = time.Now().UTC()
				writeJSON(w, ct, 200, map[string]any{"data": userJSON(u)})
			default:
				fail(405, "Method not allowed")
			}
		case len(parts) == 5 && parts[2] == "roles" && parts[4] == "users":
			rid := parts[3]
			u, ok := st.users[body.Data.ID]
			if _, rok := st.groups[rid]; !rok || !ok {
				fail(404, "Not found")
				return
			}
			switch r.Method {
			case http.MethodPost:
				u.groups[rid] = true
			case http.MethodDelete:
				if !u.groups[rid] {
					fail(404, "User is not in role")
					return
				}
				delete(u.groups, rid)
			}
			var members []any
			for _, x := range st.sorted() {
				if x.groups[rid] {
					members = append(members, userJSON(x))
				}
			}
			writeJSON(w, ct, 200, map[string]any{"data": members, "meta": map[string]any{"page": map[string]any{"total_count": len(members)}}})
		default:
			fail(404, "Not found")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
