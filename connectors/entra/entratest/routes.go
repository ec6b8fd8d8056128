package entratest

import "strings"

// route is one Microsoft Graph v1.0 operation the fake serves. The entity
// shapes come from microsoft-graph-types (see Schema). The /users routes are
// checked at load against the Kiota-generated users API
// (@microsoft/msgraph-sdk-users, generated from Graph's OpenAPI description):
// path, method, body and response types, and their query options come from
// it. Microsoft publishes no such package for /groups, so those paths and
// every route's application permissions are transcribed from Microsoft's
// Graph v1.0 REST reference, one page per operation
// (learn.microsoft.com/graph/api/DOC?view=graph-rest-1.0).
type route struct {
	method  string
	pattern string // segments; {x} matches one segment
	doc     string // the reference page name
	// reqType is the entity interface a request body must conform to ("" =
	// no body, "$ref" = a reference body {"@odata.id": URL}).
	reqType string
	// respType is the entity of a 2xx answer; collection says it comes as
	// {"value":[…], "@odata.nextLink"}; "Edm.Boolean" is {"value": bool}.
	respType   string
	collection bool
	// perms lists the application permissions any one of which allows the
	// call, least privileged first (the reference page's permission table).
	perms []string
	// query lists the OData query options the operation documents (the
	// Kiota template's replace it for /users routes).
	query []string
}

var (
	readUsers   = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	readMembers = []string{"GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	listQuery   = []string{"$select", "$filter", "$top", "$count", "$orderby", "$expand", "$search", "$skiptoken"}
)

var routes = []route{
	{method: "GET", pattern: "/users", doc: "user-list", respType: "User", collection: true, perms: readUsers, query: listQuery},
	{method: "POST", pattern: "/users", doc: "user-post-users", reqType: "User", respType: "User",
		perms: []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}},
	{method: "GET", pattern: "/users/{id}", doc: "user-get", respType: "User", perms: readUsers, query: []string{"$select", "$expand"}},
	{method: "PATCH", pattern: "/users/{id}", doc: "user-update", reqType: "User",
		perms: []string{"User.ReadWrite.All", "User.EnableDisableAccount.All", "Directory.ReadWrite.All"}},
	{method: "DELETE", pattern: "/users/{id}", doc: "user-delete", perms: []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}},
	{method: "POST", pattern: "/users/{id}/revokeSignInSessions", doc: "user-revokesigninsessions", respType: "Edm.Boolean",
		perms: []string{"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}},
	{method: "GET", pattern: "/users/{id}/memberOf", doc: "user-list-memberof", respType: "DirectoryObject", collection: true,
		perms: readMembers, query: listQuery},
	{method: "GET", pattern: "/users/{id}/manager", doc: "user-list-manager", respType: "DirectoryObject", perms: readUsers,
		query: []string{"$select", "$expand"}},
	{method: "GET", pattern: "/groups", doc: "group-list", respType: "Group", collection: true,
		perms: readMembers, query: listQuery},
	{method: "GET", pattern: "/groups/{id}", doc: "group-get", respType: "Group",
		perms: readMembers, query: []string{"$select", "$expand"}},
	{method: "GET", pattern: "/groups/{id}/members", doc: "group-list-members", respType: "DirectoryObject", collection: true,
		perms: readMembers, query: listQuery},
	{method: "POST", pattern: "/groups/{id}/members/$ref", doc: "group-post-members", reqType: "$ref",
		perms: []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}},
	{method: "DELETE", pattern: "/groups/{id}/members/{member}/$ref", doc: "group-delete-members",
		perms: []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}},
}

// matchRoute finds the route of method and a path under /v1.0, returning
// the values of its {x} segments. methodKnown reports whether the path
// exists under another method (405 rather than 404).
func matchRoute(method, path string) (r *route, params map[string]string, pathKnown bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range routes {
		rt := &routes[i]
		ps := strings.Split(strings.Trim(rt.pattern, "/"), "/")
		if len(ps) != len(segs) {
			continue
		}
		vals := map[string]string{}
		ok := true
		for j, p := range ps {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				vals[strings.Trim(p, "{}")] = segs[j]
			} else if p != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathKnown = true
		if rt.method == method {
			return rt, vals, true
		}
	}
	return nil, nil, pathKnown
}

// requiredOnCreate are the properties user-post-users says are required.
var requiredOnCreate = []string{"accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"}
