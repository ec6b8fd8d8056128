package oktatest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// handle serves one validated, authorized request; s.mu is held.
func (s *Server) handle(r *http.Request, op string, p map[string]string, body []byte, a *answer) {
	q := r.URL.Query()
	uid := p["id"]
	if uid == "" {
		uid = p["userId"]
	}
	switch op {
	case "listUsers":
		s.listUsers(r, q, a)
	case "createUser":
		s.createUser(q, body, a)
	case "getUser":
		if u := s.lookup(uid); u != nil {
			a.json(http.StatusOK, s.userJSON(u))
		} else {
			a.notFound(uid)
		}
	case "deleteUser":
		u := s.lookup(uid)
		switch {
		case u == nil:
			a.notFound(uid)
		case u.Status != "DEPROVISIONED":
			// Okta: deleting an open user deactivates it; a second delete removes it.
			s.deactivate(u)
			a.empty(http.StatusNoContent)
		default:
			s.remove(u.ID)
			a.empty(http.StatusNoContent)
		}
	case "activateUser", "deactivateUser", "suspendUser", "unsuspendUser":
		s.lifecycle(op, uid, q, a)
	case "revokeUserSessions":
		u := s.lookup(uid)
		if u == nil {
			a.notFound(uid)
			return
		}
		u.Sessions = 0
		if q.Get("oauthTokens") == "true" {
			u.Tokens = 0
		}
		a.empty(http.StatusNoContent)
	case "listUserGroups":
		u := s.lookup(uid)
		if u == nil {
			a.notFound(uid)
			return
		}
		out := []any{}
		for _, gid := range s.gorder {
			if s.members[gid][u.ID] {
				out = append(out, s.groupJSON(gid))
			}
		}
		a.json(http.StatusOK, out)
	case "listAppLinks":
		u := s.lookup(uid)
		if u == nil {
			a.notFound(uid)
			return
		}
		out := []any{}
		for _, aid := range s.aorder {
			if s.assigned[aid][u.ID] {
				out = append(out, map[string]any{"id": "00ub0oNGTSWTBKOLGLNR", "appAssignmentId": "0ua" + aid[3:], "appInstanceId": aid,
					"appName": "bookmark", "credentialsSetup": false, "hidden": false, "label": s.apps[aid],
					"linkUrl": s.URL + "/home/bookmark/" + aid + "/2", "logoUrl": s.URL + "/img/logos/bookmark.png", "sortOrder": 0})
			}
		}
		a.json(http.StatusOK, out)
	case "listGroups":
		s.listGroups(r, q, a)
	case "listGroupUsers":
		gid := p["groupId"]
		if _, ok := s.groups[gid]; !ok {
			a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+gid+" (UserGroup)")
			return
		}
		var ids []string
		for _, id := range s.order {
			if s.members[gid][id] {
				ids = append(ids, id)
			}
		}
		s.page(r, q, ids, func(id string) any { return s.userJSON(s.users[id]) }, a)
	case "assignUserToGroup", "unassignUserFromGroup":
		gid := p["groupId"]
		u := s.users[uid]
		if _, ok := s.groups[gid]; !ok || u == nil {
			a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+gid+" (UserGroup)")
			return
		}
		if op == "assignUserToGroup" {
			s.members[gid][u.ID] = true
		} else {
			delete(s.members[gid], u.ID)
		}
		a.empty(http.StatusNoContent)
	case "listApplications":
		var ids []string
		prefix := strings.ToLower(q.Get("q"))
		for _, id := range s.aorder {
			if prefix == "" || strings.HasPrefix(strings.ToLower(s.apps[id]), prefix) || strings.HasPrefix("bookmark", prefix) {
				ids = append(ids, id)
			}
		}
		s.page(r, q, ids, s.appJSON, a)
	case "listApplicationUsers":
		aid := p["appId"]
		if _, ok := s.apps[aid]; !ok {
			a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+aid+" (AppInstance)")
			return
		}
		var ids []string
		for _, id := range s.order {
			if s.assigned[aid][id] {
				ids = append(ids, id)
			}
		}
		s.page(r, q, ids, func(id string) any { return s.appUserJSON(aid, s.users[id]) }, a)
	case "assignUserToApplication":
		aid := p["appId"]
		var req struct {
			ID    string `json:"id"`
			Scope string `json:"scope"`
		}
		_ = json.Unmarshal(body, &req)
		u := s.users[req.ID]
		if _, ok := s.apps[aid]; !ok || u == nil {
			a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+aid+" (AppInstance)")
			return
		}
		s.assigned[aid][u.ID] = true
		a.json(http.StatusOK, s.appUserJSON(aid, u))
	case "unassignUserFromApplication":
		aid := p["appId"]
		if _, ok := s.apps[aid]; !ok || !s.assigned[aid][uid] {
			a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+uid+" (AppUser)")
			return
		}
		delete(s.assigned[aid], uid)
		a.empty(http.StatusNoContent)
	case "getApplicationUser":
		aid := p["appId"]
		if !s.assigned[aid][uid] {
			a.oktaError(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+uid+" (AppUser)")
			return
		}
		a.json(http.StatusOK, s.appUserJSON(aid, s.users[uid]))
	default:
		a.oktaError(http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action (the fake does not implement "+op+")")
	}
}

func (s *Server) remove(id string) {
	delete(s.users, id)
	for _, ms := range s.members {
		delete(ms, id)
	}
	for _, us := range s.assigned {
		delete(us, id)
	}
	for i, x := range s.order {
		if x == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

func (s *Server) deactivate(u *User) {
	u.Status, u.Changed = "DEPROVISIONED", time.Now().UTC().Truncate(time.Second)
	u.Sessions, u.Tokens = 0, 0
}

func (s *Server) lifecycle(op, id string, q url.Values, a *answer) {
	u := s.lookup(id)
	if u == nil {
		a.notFound(id)
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	switch op {
	case "suspendUser":
		if u.Status != "ACTIVE" {
			a.oktaError(http.StatusBadRequest, "E0000001", "Api validation failed: suspendUser", "Cannot suspend a user that is not active")
			return
		}
		u.Status, u.Changed, u.Sessions = "SUSPENDED", now, 0
		a.empty(http.StatusOK)
	case "unsuspendUser":
		if u.Status != "SUSPENDED" {
			a.oktaError(http.StatusBadRequest, "E0000001", "Api validation failed: unsuspendUser", "Cannot unsuspend a user that is not suspended")
			return
		}
		u.Status, u.Changed = "ACTIVE", now
		a.empty(http.StatusOK)
	case "deactivateUser":
		if u.Status != "DEPROVISIONED" {
			s.deactivate(u)
		}
		a.empty(http.StatusOK)
	case "activateUser":
		if u.Status != "STAGED" && u.Status != "DEPROVISIONED" {
			a.oktaError(http.StatusForbidden, "E0000016", "Activation failed because the user is already active")
			return
		}
		// No password: the user is PROVISIONED until they complete activation.
		u.Status, u.Changed, u.Activated = "PROVISIONED", now, &now
		if q.Get("sendEmail") == "false" {
			a.json(http.StatusOK, map[string]string{"activationUrl": s.URL + "/welcome/XE6wE17zmphl3KqAPFxO", "activationToken": "XE6wE17zmphl3KqAPFxO"})
		} else {
			a.json(http.StatusOK, map[string]string{})
		}
	}
}

func (s *Server) createUser(q url.Values, body []byte, a *answer) {
	var req struct {
		Profile     map[string]any `json:"profile"`
		Credentials struct {
			Password *struct {
				Value string `json:"value"`
			} `json:"password"`
		} `json:"credentials"`
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Profile == nil {
		a.oktaError(http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
		return
	}
	login, _ := req.Profile["login"].(string)
	var causes []string
	for _, k := range []string{"login", "firstName", "lastName", "email"} {
		if v, _ := req.Profile[k].(string); v == "" {
			causes = append(causes, k+": The field cannot be left blank")
		}
	}
	if login != "" && s.lookup(login) != nil {
		causes = append(causes, "login: An object with this field already exists in the current organization")
	}
	if len(causes) > 0 {
		a.oktaError(http.StatusBadRequest, "E0000001", "Api validation failed: login", causes...)
		return
	}
	status := "STAGED"
	if q.Get("activate") != "false" {
		status = "PROVISIONED"
		if req.Credentials.Password != nil {
			status = "ACTIVE"
		}
	}
	u := s.addUser(status, req.Profile)
	for _, g := range req.GroupIDs {
		if s.members[g] != nil {
			s.members[g][u.ID] = true
		}
	}
	a.json(http.StatusOK, s.userJSON(u))
}

func (s *Server) listUsers(r *http.Request, q url.Values, a *answer) {
	var pred func(*User) bool
	var err error
	switch {
	case q.Get("search") != "":
		pred, err = parseExpr(q.Get("search"), false, userAttr)
	case q.Get("filter") != "":
		pred, err = parseExpr(q.Get("filter"), true, userAttr)
	default:
		// A plain listing omits DEPROVISIONED users.
		pred = func(u *User) bool { return u.Status != "DEPROVISIONED" }
	}
	if err != nil {
		// Okta answers 400 E0000031; the description declares no 400 for
		// listUsers, so the response validation reports it too.
		a.oktaError(http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
		return
	}
	var ids []string
	for _, id := range s.order {
		if pred(s.users[id]) {
			ids = append(ids, id)
		}
	}
	s.page(r, q, ids, func(id string) any { return s.userJSON(s.users[id]) }, a)
}

func (s *Server) listGroups(r *http.Request, q url.Values, a *answer) {
	pred := func(string) bool { return true }
	if e := q.Get("search"); e != "" {
		p, err := parseExpr(e, false, func(gid, attr string) (string, bool) {
			if attr == "profile.name" {
				return s.groups[gid], true
			}
			if attr == "id" {
				return gid, true
			}
			return "", false
		})
		if err != nil {
			a.oktaError(http.StatusBadRequest, "E0000031", "Invalid search criteria.", err.Error())
			return
		}
		pred = p
	} else if prefix := strings.ToLower(q.Get("q")); prefix != "" {
		pred = func(gid string) bool { return strings.HasPrefix(strings.ToLower(s.groups[gid]), prefix) }
	}
	var ids []string
	for _, id := range s.gorder {
		if pred(id) {
			ids = append(ids, id)
		}
	}
	s.page(r, q, ids, s.groupJSON, a)
}

func userAttr(u *User, attr string) (string, bool) {
	switch attr {
	case "id":
		return u.ID, true
	case "status":
		return u.Status, true
	}
	if k, ok := strings.CutPrefix(attr, "profile."); ok {
		v, _ := u.Profile[k].(string)
		return v, true
	}
	return "", false
}

// page answers one page of ids after the cursor, with Link headers.
func (s *Server) page(r *http.Request, q url.Values, ids []string, render func(string) any, a *answer) {
	limit := s.o.PageSize
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(ids)
		for i, id := range ids {
			if id > after { // ids grow monotonically: the cursor survives deletions
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(ids))
	out := make([]any, 0, end-start)
	for _, id := range ids[start:end] {
		out = append(out, render(id))
	}
	self := s.URL + r.URL.Path + "?" + q.Encode()
	a.header.Add("Link", "<"+self+`>; rel="self"`)
	if end < len(ids) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("after", ids[end-1])
		nq.Set("limit", strconv.Itoa(limit))
		a.header.Add("Link", "<"+s.URL+r.URL.Path+"?"+nq.Encode()+`>; rel="next"`)
	}
	a.json(http.StatusOK, out)
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func (s *Server) userJSON(u *User) map[string]any {
	m := map[string]any{
		"id": u.ID, "status": u.Status, "created": ts(u.Created), "activated": tsPtr(u.Activated),
		"statusChanged": ts(u.Changed), "lastLogin": tsPtr(u.LastLogin), "lastUpdated": ts(u.Changed),
		"passwordChanged": nil, "type": map[string]string{"id": "oty1fakeusertype0001"},
		"profile":     u.Profile,
		"credentials": map[string]any{"provider": map[string]string{"type": "OKTA", "name": "OKTA"}},
		"_links":      map[string]any{"self": map[string]string{"href": s.URL + "/api/v1/users/" + u.ID}},
	}
	if u.Status == "DEPROVISIONED" {
		delete(m, "transitioningToStatus")
	}
	return m
}

func (s *Server) groupJSON(gid string) any {
	now := ts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return map[string]any{
		"id": gid, "created": now, "lastUpdated": now, "lastMembershipUpdated": now,
		"objectClass": []string{"okta:user_group"}, "type": "OKTA_GROUP",
		"profile": map[string]string{"name": s.groups[gid], "description": "group " + s.groups[gid]},
		"_links":  map[string]any{"self": map[string]string{"href": s.URL + "/api/v1/groups/" + gid}},
	}
}

func (s *Server) appJSON(aid string) any {
	now := ts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return map[string]any{
		"id": aid, "name": "bookmark", "label": s.apps[aid], "status": "ACTIVE", "signOnMode": "BOOKMARK",
		"created": now, "lastUpdated": now,
		"settings": map[string]any{"app": map[string]any{"url": "https://example.com/" + aid, "requestIntegration": false}},
	}
}

func (s *Server) appUserJSON(aid string, u *User) any {
	now := ts(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	login, _ := u.Profile["login"].(string)
	return map[string]any{
		"id": u.ID, "scope": "USER", "status": "ACTIVE", "created": now, "lastUpdated": now, "statusChanged": now,
		"syncState": "DISABLED", "credentials": map[string]any{"userName": login}, "profile": map[string]any{},
		"_links": map[string]any{"app": map[string]string{"href": s.URL + "/api/v1/apps/" + aid}, "user": map[string]string{"href": s.URL + "/api/v1/users/" + u.ID}},
	}
}
