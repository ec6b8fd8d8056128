package scim

import "sort"

// dialect captures how one vendor's SCIM server departs from RFC 7643/7644 or
// which of its options it uses. Presets fill it; settings may override parts.
type dialect struct {
	// groups: the server has a /Groups endpoint whose membership we manage.
	groups bool
	// opCase is "lower" (RFC: add, replace, remove) or "title" (Add, Replace,
	// Remove) for servers built against Microsoft Entra's requests.
	opCase string
	// disable is how an account is deactivated: "patch" (active=false, with a
	// PUT fallback when ServiceProviderConfig says PATCH is unsupported),
	// "put", or "delete" (the server deactivates on DELETE).
	disable string
	// noDelete is set when the server has no real deletion (DELETE only
	// deactivates), so delete is never declared.
	noDelete bool
	// canEnable is false when deactivation removes the account outright, so
	// there is nothing left to re-enable (EnsureAccount re-creates instead).
	canEnable bool
	// removeMember is "path" (members[value eq "id"], RFC 7644 3.5.2.2) or
	// "value" (path "members" with a value list, the Entra form).
	removeMember string
	// lookupEmail also searches by emails.value when userName finds nothing,
	// for servers that rewrite the userName we send.
	lookupEmail bool
	// spcPath is where the ServiceProviderConfig lives.
	spcPath string
	// contentType for request bodies.
	contentType string
	// doc is the vendor documentation the facts come from.
	doc string
}

// presets are the dialects Gatehouse knows. Each fact is from the vendor's
// public documentation, cited per entry; entries that say "not documented"
// behave as generic and rely on ServiceProviderConfig discovery.
var presets = map[string]dialect{
	// RFC 7643/7644 as written.
	"generic": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/scim+json",
		doc: "https://datatracker.ietf.org/doc/html/rfc7644"},

	// Slack (Enterprise Grid), base https://api.slack.com/scim/v2: DELETE
	// /Users/<id> "sets a Slack user to deactivated" and PATCH active=true
	// reactivates; groups are user groups with PATCH /Groups/<id>. An email
	// sent as userName is converted to a handle, so we also look users up by
	// email. Sources: https://docs.slack.dev/reference/scim-api and
	// https://slack.dev/python-slack-sdk/scim/index.html
	"slack": {groups: true, opCase: "lower", disable: "delete", noDelete: true, canEnable: true, removeMember: "path", lookupEmail: true, spcPath: "/ServiceProviderConfig", contentType: "application/json",
		doc: "https://docs.slack.dev/reference/scim-api"},

	// Notion (Enterprise): the SCIM API creates and removes workspace members,
	// updates profiles, finds members by email, and manages groups and their
	// members; it documents no deactivation, so disabling removes the member
	// and re-enabling is a re-create (EnsureAccount).
	// Source: https://notion.com/help/provision-users-and-groups-with-scim
	"notion": {groups: true, opCase: "lower", disable: "delete", canEnable: false, removeMember: "path", lookupEmail: true, spcPath: "/ServiceProviderConfig", contentType: "application/json",
		doc: "https://notion.com/help/provision-users-and-groups-with-scim"},

	// Figma (Organization/Enterprise), base https://www.figma.com/scim/v2/<tenant id>:
	// userName is the user's email; active=false deactivates (the user is removed
	// from the organization) and active=true reactivates; Group resources with
	// displayName and members exist.
	// Sources: https://developers.figma.com/docs/rest-api/scim and
	// https://developers.figma.com/docs/rest-api/scim-supported-schemas
	"figma": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/json",
		doc: "https://developers.figma.com/docs/rest-api/scim-supported-schemas"},

	// Linear (Enterprise), base https://api.linear.app/scim/v2 with a bearer
	// token: accounts are created, updated and suspended (active=false); the
	// unique identifier is the email; pushed groups map 1:1 to teams.
	// Source: https://linear.app/docs/scim
	"linear": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/json",
		doc: "https://linear.app/docs/scim"},

	// Atlassian Cloud, base https://api.atlassian.com/scim/directory/<directoryId>
	// with a directory API key as bearer token: users and groups (by id);
	// DELETE removes the SCIM record and deactivates the account and cannot be
	// undone except by re-creating, so Disable uses PATCH active=false. Group
	// displayName is immutable. groups_base_url covers directories whose group
	// endpoints are served from another base.
	// Source: https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/
	"atlassian": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/scim+json",
		doc: "https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/"},

	// Zoom, base https://api.zoom.us/scim2, OAuth (server-to-server app with
	// the scim2 scope): PATCH activates/deactivates, DELETE deletes, groups
	// supported; Accept application/scim+json. Zoom documents a low per-account
	// rate limit, so keep rate_limit.per_second at 1.
	// Sources: https://developers.zoom.us/docs/api/scim2/ and
	// https://marketplace.zoom.us/docs/api-reference/scim-api/
	"zoom": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/scim+json",
		doc: "https://developers.zoom.us/docs/api/scim2/"},

	// 1Password SCIM bridge, self-hosted, base https://<bridge>/scim with the
	// bridge bearer token: standard /Users, /Groups, /ServiceProviderConfig.
	// Source: https://support.1password.com/scim-endpoints
	"1password": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/scim+json",
		doc: "https://support.1password.com/scim-endpoints"},

	// Servers built to Okta's SCIM 2.0 integration guide: userName filter,
	// PATCH active=false to deactivate, group membership by PATCH.
	// Source: https://developer.okta.com/docs/reference/scim/scim-20/
	"okta": {groups: true, opCase: "lower", disable: "patch", canEnable: true, removeMember: "path", spcPath: "/ServiceProviderConfig", contentType: "application/scim+json",
		doc: "https://developer.okta.com/docs/reference/scim/scim-20/"},

	// Servers built to Microsoft Entra's provisioning client, which sends
	// capitalised ops ("Replace", "Add", "Remove") and removes group members
	// with path "members" plus a value list rather than a value filter; such
	// servers often accept only those forms.
	// Sources: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
	// and https://github.com/Captain-P-Goldfish/SCIM-SDK/wiki/Support-for-MS-Azure-requests
	"azure": {groups: true, opCase: "title", disable: "patch", canEnable: true, removeMember: "value", spcPath: "/ServiceProviderConfig", contentType: "application/scim+json",
		doc: "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility"},
}

// PresetNames lists the known presets.
func PresetNames() []string {
	out := make([]string, 0, len(presets))
	for k := range presets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
