package entratest

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
)

// defaultUserProps are what Graph returns for a user without $select.
var defaultUserProps = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// userJSON renders u with the properties selected (Graph's default set
// when sel is empty). Caller holds s.mu.
func (s *Server) userJSON(u *User, sel string) map[string]any {
	full := map[string]any{
		"id": u.ID, "userPrincipalName": u.UserPrincipalName, "mail": nullable(u.Mail), "displayName": nullable(u.DisplayName),
		"givenName": nullable(u.GivenName), "surname": nullable(u.Surname), "mailNickname": nullable(u.MailNickname),
		"employeeId": nullable(u.EmployeeID), "jobTitle": nullable(u.JobTitle), "department": nullable(u.Department),
		"accountEnabled": u.AccountEnabled, "businessPhones": []any{}, "mobilePhone": nil, "officeLocation": nil, "preferredLanguage": nil,
		"createdDateTime": iso(u.Created), "signInSessionsValidFromDateTime": iso(u.SessionsValidFrom),
		"signInActivity": map[string]any{
			"lastSignInDateTime": iso(u.LastSignIn), "lastSignInRequestId": nil,
			"lastNonInteractiveSignInDateTime": iso(u.LastNonInteractive), "lastNonInteractiveSignInRequestId": nil,
		},
	}
	props := defaultUserProps
	if sel != "" {
		props = append(strings.Split(sel, ","), "id")
	}
	out := map[string]any{}
	for _, p := range props {
		if v, ok := full[strings.TrimSpace(p)]; ok {
			out[strings.TrimSpace(p)] = v
		}
	}
	return out
}

func groupJSON(g *Group) map[string]any {
	return map[string]any{"id": g.ID, "displayName": g.DisplayName, "securityEnabled": true, "mailEnabled": false, "groupTypes": []any{}}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, what string) {
	s.graphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '"+what+"' does not exist or one of its queried reference-property objects are not present.")
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rt *route, params map[string]string, body map[string]any, roles []string) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Writing the answer under the lock keeps each request atomic; the
	// answers are small.
	switch rt.doc {
	case "user-list":
		sel := q.Get("$select")
		if strings.Contains(sel, "signInActivity") {
			if !s.premium {
				s.graphError(w, r, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
					"Neither tenant is B2C or tenant doesn't have premium license")
				return
			}
			if !slices.Contains(roles, "AuditLog.Read.All") {
				s.graphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
				return
			}
		}
		var match func(*User) bool
		if f := q.Get("$filter"); f != "" {
			prop, val, ok := parseFilter(f)
			if !ok {
				s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid filter clause: syntax error in '"+clip(f)+"'.")
				return
			}
			get := map[string]func(*User) string{
				"userPrincipalName": func(u *User) string { return u.UserPrincipalName },
				"mail":              func(u *User) string { return u.Mail },
				"employeeId":        func(u *User) string { return u.EmployeeID },
				"id":                func(u *User) string { return u.ID },
			}[prop]
			if get == nil {
				s.graphError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '"+prop+"' of resource 'User'.")
				return
			}
			match = func(u *User) bool { return strings.EqualFold(get(u), val) }
		}
		s.page(w, r, "User", s.usersJSON(match, sel))
	case "user-post-users":
		upn, _ := body["userPrincipalName"].(string)
		if s.findUser(upn) != nil {
			s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists.")
			return
		}
		pp, _ := body["passwordProfile"].(map[string]any)
		pw, _ := pp["password"].(string)
		if !strongPassword(pw) {
			s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password.")
			return
		}
		if strings.ContainsAny(str(body["mailNickname"]), "@()\\[]\";:<>, ") {
			s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'mailNickname' of resource 'User'.")
			return
		}
		force, _ := pp["forceChangePasswordNextSignIn"].(bool)
		enabled, _ := body["accountEnabled"].(bool)
		u := &User{ID: s.newID(), UserPrincipalName: upn, Mail: str(body["mail"]), DisplayName: str(body["displayName"]),
			GivenName: str(body["givenName"]), Surname: str(body["surname"]), MailNickname: str(body["mailNickname"]),
			EmployeeID: str(body["employeeId"]), JobTitle: str(body["jobTitle"]), Department: str(body["department"]),
			AccountEnabled: enabled, Password: pw, ForceChange: force, Created: s.now()}
		s.users[u.ID] = u
		out := s.userJSON(u, "")
		out["accountEnabled"] = u.AccountEnabled
		s.entity(w, r, http.StatusCreated, "User", out)
	case "user-get":
		u := s.findUser(params["id"])
		if u == nil {
			s.notFound(w, r, params["id"])
			return
		}
		s.entity(w, r, http.StatusOK, "User", s.userJSON(u, q.Get("$select")))
	case "user-update":
		u := s.findUser(params["id"])
		if u == nil {
			s.notFound(w, r, params["id"])
			return
		}
		if len(body) == 0 {
			s.violation(r.Method, r.URL.Path, "an update with an empty body")
		}
		if !slices.ContainsFunc([]string{"User.ReadWrite.All", "Directory.ReadWrite.All"}, func(p string) bool { return slices.Contains(roles, p) }) {
			// User.EnableDisableAccount.All allows accountEnabled and nothing else.
			for k := range body {
				if k != "accountEnabled" {
					s.graphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
					return
				}
			}
		}
		for k, v := range body {
			switch k {
			case "accountEnabled":
				u.AccountEnabled, _ = v.(bool)
			case "displayName":
				u.DisplayName = str(v)
			case "jobTitle":
				u.JobTitle = str(v)
			case "department":
				u.Department = str(v)
			case "employeeId":
				u.EmployeeID = str(v)
			case "givenName":
				u.GivenName = str(v)
			case "surname":
				u.Surname = str(v)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case "user-delete":
		u := s.findUser(params["id"])
		if u == nil {
			s.notFound(w, r, params["id"])
			return
		}
		// Entra keeps a deleted user 30 days in directory/deletedItems.
		delete(s.users, u.ID)
		s.deleted[u.ID] = u
		for _, g := range s.groups {
			delete(g.Members, u.ID)
		}
		w.WriteHeader(http.StatusNoContent)
	case "user-revokesigninsessions":
		u := s.findUser(params["id"])
		if u == nil {
			s.notFound(w, r, params["id"])
			return
		}
		u.SessionsValidFrom = s.now().Add(time.Millisecond)
		w.Header().Set("Content-Type", "application/json;odata.metadata=minimal")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean","value":true}` + "\n"))
	case "user-list-memberof":
		u := s.findUser(params["id"])
		if u == nil {
			s.notFound(w, r, params["id"])
			return
		}
		var items []map[string]any
		for _, g := range s.sortedGroups() {
			if g.Members[u.ID] {
				m := groupJSON(g)
				m["@odata.type"] = "#microsoft.graph.group"
				items = append(items, m)
			}
		}
		s.page(w, r, "DirectoryObject", items)
	case "user-list-manager":
		u := s.findUser(params["id"])
		if u == nil {
			s.notFound(w, r, params["id"])
			return
		}
		m := s.users[u.ManagerID]
		if m == nil {
			s.notFound(w, r, "manager")
			return
		}
		out := s.userJSON(m, q.Get("$select"))
		out["@odata.type"] = "#microsoft.graph.user"
		s.entity(w, r, http.StatusOK, "DirectoryObject", out)
	case "group-list":
		var items []map[string]any
		var prop, val string
		if f := q.Get("$filter"); f != "" {
			var ok bool
			if prop, val, ok = parseFilter(f); !ok || prop != "displayName" {
				s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid filter clause: syntax error in '"+clip(f)+"'.")
				return
			}
		}
		for _, g := range s.sortedGroups() {
			if prop == "" || strings.EqualFold(g.DisplayName, val) {
				items = append(items, groupJSON(g))
			}
		}
		s.page(w, r, "Group", items)
	case "group-get":
		g := s.groups[params["id"]]
		if g == nil {
			s.notFound(w, r, params["id"])
			return
		}
		s.entity(w, r, http.StatusOK, "Group", groupJSON(g))
	case "group-list-members":
		g := s.groups[params["id"]]
		if g == nil {
			s.notFound(w, r, params["id"])
			return
		}
		ids := make([]string, 0, len(g.Members))
		for id := range g.Members {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		items := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			items = append(items, map[string]any{"@odata.type": "#microsoft.graph.user", "id": id})
		}
		s.page(w, r, "DirectoryObject", items)
	case "group-post-members":
		g := s.groups[params["id"]]
		if g == nil {
			s.notFound(w, r, params["id"])
			return
		}
		ref := str(body["@odata.id"])
		i := strings.LastIndex(ref, "/")
		if i < 0 || !strings.Contains(ref, "/directoryObjects/") && !strings.Contains(ref, "/users/") {
			s.violation(r.Method, r.URL.Path, "@odata.id %q is not a directoryObjects URL", ref)
			s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest", "Invalid URL format specified in @odata.bind for members")
			return
		}
		member := ref[i+1:]
		if s.users[member] == nil {
			s.notFound(w, r, member)
			return
		}
		if g.Members[member] {
			s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest",
				"One or more added object references already exist for the following modified properties: 'members'.")
			return
		}
		g.Members[member] = true
		w.WriteHeader(http.StatusNoContent)
	case "group-delete-members":
		g := s.groups[params["id"]]
		if g == nil || !g.Members[params["member"]] {
			s.notFound(w, r, params["member"])
			return
		}
		delete(g.Members, params["member"])
		w.WriteHeader(http.StatusNoContent)
	default:
		s.violation(r.Method, r.URL.Path, "route %s has no handler", rt.doc)
		w.WriteHeader(http.StatusNotImplemented)
	}
}

func (s *Server) usersJSON(match func(*User) bool, sel string) []map[string]any {
	us := make([]*User, 0, len(s.users))
	for _, u := range s.users {
		if match == nil || match(u) {
			us = append(us, u)
		}
	}
	sort.Slice(us, func(i, j int) bool { return us[i].ID < us[j].ID })
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		out = append(out, s.userJSON(u, sel))
	}
	return out
}

func (s *Server) sortedGroups() []*Group {
	gs := make([]*Group, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
	return gs
}

func str(v any) string { s, _ := v.(string); return s }

// strongPassword applies Entra's default policy: 8 to 256 characters and
// three of lower case, upper case, digits and symbols.
func strongPassword(p string) bool {
	if len(p) < 8 || len(p) > 256 {
		return false
	}
	var lo, up, dg, sy int
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lo = 1
		case unicode.IsUpper(r):
			up = 1
		case unicode.IsDigit(r):
			dg = 1
		default:
			sy = 1
		}
	}
	return lo+up+dg+sy >= 3
}
