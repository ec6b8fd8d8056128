// Package aws is the connector for AWS IAM Identity Center (formerly AWS
// SSO): accounts are Identity Store users, entitlements are permission sets
// assigned in AWS accounts (kind permission_set) and Identity Store group
// memberships (kind group).
//
// It speaks the two JSON 1.1 protocol APIs directly, through httpx, signed
// with its own SigV4 signer: Identity Store (X-Amz-Target
// AWSIdentityStore.<Op>) and SSO Admin (SWBExternalService.<Op>). Account
// assignments are asynchronous: Grant and Revoke poll the request's status a
// few times and then hand back gatehouse.InProgress; a retried step first
// looks for the assignment (or an in-progress request for it) so that
// nothing is issued twice.
//
// Identity Store users have no "disabled" flag in these APIs, so Disable
// removes every account assignment and group membership of the user (no
// permission set can be assumed any more) and marks the user with a
// UserType; sessions already issued in the AWS access portal cannot be
// revoked through any API and end with the permission set's session
// duration.
package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/rs/zerolog"
)

func init() { connectors.Register("aws", New) }

// service is one of the two APIs.
type service struct {
	signing string // SigV4 service name
	prefix  string // X-Amz-Target prefix
	client  *httpx.Client
	base    *url.URL
}

// Connector manages one IAM Identity Center instance.
type Connector struct {
	name    string
	del     bool
	s       Settings
	targets map[string]*target
	ids     *service
	sso     *service
	creds   *credProvider
	now     func() time.Time
	log     zerolog.Logger
	sleep   func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	psARN    map[string]string // permission set name → ARN
	psName   map[string]string // ARN → name
	groupIDs map[string]string // group display name → id
	// pending remembers in-flight assignment requests by operation key, so a
	// retried step polls its own request; after a restart the in-progress
	// request lists find it instead.
	pending map[string]string
}

// New builds the connector for app. It is the registered Factory.
func New(app *config.App, deps connectors.Deps) (gatehouse.Connector, error) {
	var s Settings
	targets, errs := validateSettings(app, &s)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	c := &Connector{name: app.Name, del: app.Delete, s: s, targets: targets, now: now,
		log:   deps.Logger.With().Str("connector", "aws").Str("app", app.Name).Logger(),
		creds: &credProvider{cfg: s.Credentials, now: now, env: os.Getenv},
		sleep: sleepCtx, psARN: map[string]string{}, psName: map[string]string{}, groupIDs: map[string]string{}, pending: map[string]string{}}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = app.RateLimit.Timeout
	}
	mk := func(endpoint, def, signing, prefix string) (*service, error) {
		if endpoint == "" {
			endpoint = def
		}
		u, err := url.Parse(strings.TrimRight(endpoint, "/"))
		if err != nil {
			return nil, err
		}
		cl, err := httpx.New(httpx.Options{BaseURL: u.String(), App: app.Name, UserAgent: deps.UserAgent, Timeout: timeout,
			Logger: deps.Logger, Debug: deps.Debug, Now: deps.Now})
		if err != nil {
			return nil, err
		}
		return &service{signing: signing, prefix: prefix, client: cl, base: u}, nil
	}
	var err error
	if c.ids, err = mk(s.EndpointIdentityStore, "https://identitystore."+s.Region+".amazonaws.com", "identitystore", "AWSIdentityStore"); err != nil {
		return nil, fmt.Errorf("aws %s: identity store: %w", app.Name, err)
	}
	if c.sso, err = mk(s.EndpointSSO, "https://sso."+s.Region+".amazonaws.com", "sso", "SWBExternalService"); err != nil {
		return nil, fmt.Errorf("aws %s: sso admin: %w", app.Name, err)
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Name is the configured app name.
func (c *Connector) Name() string { return c.name }

// Capabilities: no session revocation (AWS has no API for it) and no
// ownership transfer (Identity Center users own nothing).
func (c *Connector) Capabilities() gatehouse.Capabilities {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapDisable, gatehouse.CapEnable,
		gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapListAccounts)
	if c.del {
		caps[gatehouse.CapDelete] = true
	}
	return caps
}

// Recordings returns the redacted exchanges of both APIs (debug mode).
func (c *Connector) Recordings() []httpx.Exchange {
	return append(c.ids.client.Recording(), c.sso.client.Recording()...)
}

// call sends one JSON-protocol operation and decodes its answer into out.
func (c *Connector) call(ctx context.Context, svc *service, op string, in, out any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	creds, err := c.creds.get()
	if err != nil {
		return gatehouse.Permanent(fmt.Errorf("%s: %w", op, err))
	}
	body, err := json.Marshal(in)
	if err != nil {
		return gatehouse.Permanent(fmt.Errorf("%s: encode request: %w", op, err))
	}
	now := c.now()
	h := map[string]string{
		"host":         svc.base.Host,
		"content-type": "application/x-amz-json-1.1",
		"x-amz-date":   now.UTC().Format("20060102T150405Z"),
		"x-amz-target": svc.prefix + "." + op,
	}
	if creds.SessionToken != "" {
		h["x-amz-security-token"] = creds.SessionToken
	}
	u := *svc.base
	u.Path = "/"
	auth := sigV4(creds, c.s.Region, svc.signing, "POST", &u, h, body, now)
	hdr := map[string]string{"Authorization": auth, "Content-Type": h["content-type"], "X-Amz-Date": h["x-amz-date"], "X-Amz-Target": h["x-amz-target"]}
	if creds.SessionToken != "" {
		hdr["X-Amz-Security-Token"] = creds.SessionToken
	}
	resp, err := svc.client.Do(ctx, httpx.Request{Method: "POST", Path: "/", Header: hdr, Body: body})
	if err != nil {
		if resp != nil && resp.Status >= 300 {
			e, retry := parseError(op, resp.Status, resp.Header, resp.Body)
			return classify(e, retry)
		}
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("%s: %w: %w", op, ctx.Err(), err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if out == nil || len(resp.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return gatehouse.Retryable(fmt.Errorf("%s: decode answer: %w", op, err))
	}
	return nil
}

// Wire types: only the members Gatehouse uses.
type (
	email struct {
		Value   string `json:"Value,omitempty"`
		Type    string `json:"Type,omitempty"`
		Primary bool   `json:"Primary,omitempty"`
	}
	name struct {
		Formatted  string `json:"Formatted,omitempty"`
		GivenName  string `json:"GivenName,omitempty"`
		FamilyName string `json:"FamilyName,omitempty"`
	}
	user struct {
		UserID      string  `json:"UserId"`
		UserName    string  `json:"UserName"`
		DisplayName string  `json:"DisplayName"`
		Name        *name   `json:"Name"`
		Emails      []email `json:"Emails"`
		UserType    string  `json:"UserType"`
		Title       string  `json:"Title"`
	}
	assignment struct {
		AccountID        string `json:"AccountId"`
		PermissionSetArn string `json:"PermissionSetArn"`
		PrincipalID      string `json:"PrincipalId"`
		PrincipalType    string `json:"PrincipalType"`
	}
	assignmentStatus struct {
		Status           string `json:"Status"`
		RequestID        string `json:"RequestId"`
		FailureReason    string `json:"FailureReason"`
		PermissionSetArn string `json:"PermissionSetArn"`
		PrincipalID      string `json:"PrincipalId"`
		TargetID         string `json:"TargetId"`
	}
	membership struct {
		MembershipID string            `json:"MembershipId"`
		GroupID      string            `json:"GroupId"`
		MemberID     map[string]string `json:"MemberId"`
	}
)

func (c *Connector) account(u user) gatehouse.Account {
	a := gatehouse.Account{ID: u.UserID, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.UserType != c.s.DisabledUserType}
	for _, e := range u.Emails {
		if a.Email == "" || e.Primary {
			a.Email = e.Value
		}
	}
	if u.Title != "" {
		a.Attributes = map[string]string{"title": u.Title}
	}
	return a
}

// userKey is what find_by looks users up by.
func (c *Connector) userKey(ref gatehouse.AccountRef) string {
	if c.s.FindBy == "emails.value" {
		return ref.Email
	}
	if ref.UserName != "" {
		return ref.UserName
	}
	return ref.Email
}

// findUser returns the user's id: by account id when known, else by the
// unique attribute. A missing user is a NotFound-class error.
func (c *Connector) findUser(ctx context.Context, ref gatehouse.AccountRef) (user, error) {
	if ref.AccountID != "" {
		var u user
		err := c.call(ctx, c.ids, "DescribeUser", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "UserId": ref.AccountID}, &u)
		if err == nil || gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return u, err
		}
	}
	key := c.userKey(ref)
	if key == "" {
		return user{}, gatehouse.NotFound(errors.New("account reference has no user name or email"))
	}
	var out struct{ UserId string }
	err := c.call(ctx, c.ids, "GetUserId", map[string]any{"IdentityStoreId": c.s.IdentityStoreID,
		"AlternateIdentifier": map[string]any{"UniqueAttribute": map[string]any{"AttributePath": c.s.FindBy, "AttributeValue": key}}}, &out)
	if err != nil {
		return user{}, err
	}
	var u user
	err = c.call(ctx, c.ids, "DescribeUser", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "UserId": out.UserId}, &u)
	return u, err
}

// EnsureAccount creates the Identity Store user if missing and clears the
// disabled mark of one Gatehouse disabled.
func (c *Connector) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.findUser(ctx, ref)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		u, err = c.createUser(ctx, ref)
	}
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("ensure aws user %s: %w", c.userKey(ref), err)
	}
	if u.UserType == c.s.DisabledUserType {
		if err := c.setUserType(ctx, u.UserID, ""); err != nil {
			return gatehouse.Account{}, fmt.Errorf("re-enable aws user %s: %w", u.UserID, err)
		}
		u.UserType = ""
	}
	return c.account(u), nil
}

func (c *Connector) createUser(ctx context.Context, ref gatehouse.AccountRef) (user, error) {
	display := ref.Name
	if display == "" {
		display = strings.TrimSpace(ref.GivenName + " " + ref.FamilyName)
	}
	if display == "" {
		display = ref.Email
	}
	given, family := ref.GivenName, ref.FamilyName
	if given == "" {
		given = display
	}
	if family == "" {
		family = "-" // Identity Center requires both names
	}
	userName := ref.UserName
	if userName == "" {
		userName = ref.Email
	}
	in := map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "UserName": userName, "DisplayName": display,
		"Name": name{GivenName: given, FamilyName: family, Formatted: display}}
	if ref.Email != "" {
		in["Emails"] = []email{{Value: ref.Email, Type: "work", Primary: true}}
	}
	if ref.Title != "" {
		in["Title"] = ref.Title
	}
	var out struct{ UserId string }
	err := c.call(ctx, c.ids, "CreateUser", in, &out)
	if codeOf(err) == "ConflictException" {
		// Created meanwhile (a concurrent step, or our own earlier attempt
		// whose answer was lost): find it.
		ref.AccountID = ""
		return c.findUser(ctx, ref)
	}
	if err != nil {
		return user{}, err
	}
	return user{UserID: out.UserId, UserName: userName, DisplayName: display, Emails: []email{{Value: ref.Email, Primary: true}}, Title: ref.Title}, nil
}

func (c *Connector) setUserType(ctx context.Context, id, v string) error {
	op := map[string]any{"AttributePath": "userType"}
	if v != "" {
		op["AttributeValue"] = v
	}
	return c.call(ctx, c.ids, "UpdateUser", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "UserId": id, "Operations": []any{op}}, nil)
}

// Disable removes every group membership and account assignment of the
// user, then marks it disabled. Already-issued portal sessions live on until
// the permission set's session duration ends: AWS offers no revocation.
func (c *Connector) Disable(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.findUser(ctx, ref)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("disable aws user %s: %w", c.userKey(ref), err)
	}
	if err := c.removeAllAccess(ctx, u.UserID); err != nil {
		return fmt.Errorf("disable aws user %s: %w", u.UserID, err)
	}
	if u.UserType != c.s.DisabledUserType {
		if err := c.setUserType(ctx, u.UserID, c.s.DisabledUserType); err != nil {
			return fmt.Errorf("disable aws user %s: mark disabled: %w", u.UserID, err)
		}
	}
	return nil
}

func (c *Connector) removeAllAccess(ctx context.Context, userID string) error {
	ms, err := c.memberships(ctx, userID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := c.call(ctx, c.ids, "DeleteGroupMembership", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "MembershipId": m.MembershipID}, nil)
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("remove membership of group %s: %w", m.GroupID, err)
		}
	}
	as, err := c.assignmentsOf(ctx, userID)
	if err != nil {
		return err
	}
	var inProgress error
	for _, a := range as {
		err := c.deleteAssignment(ctx, userID, a.PermissionSetArn, a.AccountID)
		if gatehouse.Classify(err) == gatehouse.ClassInProgress {
			inProgress = err // start every deletion before waiting again
			continue
		}
		if err != nil {
			return err
		}
	}
	return inProgress
}

// Enable clears the disabled mark. It restores no access: the engine grants
// the identity's entitlements again.
func (c *Connector) Enable(ctx context.Context, ref gatehouse.AccountRef) error {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("enable aws user %s: %w", c.userKey(ref), err)
	}
	if u.UserType == c.s.DisabledUserType {
		if err := c.setUserType(ctx, u.UserID, ""); err != nil {
			return fmt.Errorf("enable aws user %s: %w", u.UserID, err)
		}
	}
	return nil
}

// Delete removes every assignment and membership, then the user: deleting a
// user does not delete its account assignments in AWS, which would linger
// as orphans.
func (c *Connector) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	if !c.del {
		return gatehouse.Permanent(fmt.Errorf("delete aws user: %w (set delete: true on the app)", gatehouse.ErrUnsupported))
	}
	u, err := c.findUser(ctx, ref)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete aws user %s: %w", c.userKey(ref), err)
	}
	if err := c.removeAllAccess(ctx, u.UserID); err != nil {
		return fmt.Errorf("delete aws user %s: %w", u.UserID, err)
	}
	err = c.call(ctx, c.ids, "DeleteUser", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "UserId": u.UserID}, nil)
	if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
		return fmt.Errorf("delete aws user %s: %w", u.UserID, err)
	}
	return nil
}

func (c *Connector) target(ent gatehouse.Entitlement) (*target, error) {
	t, ok := c.targets[ent.Name]
	if !ok {
		return nil, gatehouse.Permanent(fmt.Errorf("entitlement %q is not configured for app %s", ent.Name, c.name))
	}
	return t, nil
}

// Grant adds a group membership or assigns a permission set in each of its
// accounts.
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	t, err := c.target(ent)
	if err != nil {
		return err
	}
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return fmt.Errorf("grant %s: find aws user %s: %w", ent.Name, c.userKey(ref), err)
	}
	if t.kind == gatehouse.EntGroup {
		gid, err := c.groupID(ctx, t.resource)
		if err != nil {
			return fmt.Errorf("grant %s: %w", ent.Name, err)
		}
		err = c.call(ctx, c.ids, "CreateGroupMembership", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "GroupId": gid, "MemberId": map[string]string{"UserId": u.UserID}}, nil)
		if err != nil && codeOf(err) != "ConflictException" { // Conflict: already a member
			return fmt.Errorf("grant %s to aws user %s: %w", ent.Name, u.UserID, err)
		}
		return nil
	}
	arn, err := c.permissionSetARN(ctx, t.resource)
	if err != nil {
		return fmt.Errorf("grant %s: %w", ent.Name, err)
	}
	acct, err := inEachAccount(t.accounts, func(acct string) error { return c.createAssignment(ctx, u.UserID, arn, acct) })
	if acct != "" {
		return fmt.Errorf("grant %s in account %s to aws user %s: %w", ent.Name, acct, u.UserID, err)
	}
	if err != nil {
		return fmt.Errorf("grant %s to aws user %s: %w", ent.Name, u.UserID, err)
	}
	return nil
}

// inEachAccount runs op for each account. An assignment AWS is still
// provisioning (InProgress) does not stop the others: that error comes back
// once all have run, with acct empty. Any other failure stops at once and
// names its account.
func inEachAccount(accounts []string, op func(acct string) error) (acct string, err error) {
	var inProgress error
	for _, a := range accounts {
		err := op(a)
		if gatehouse.Classify(err) == gatehouse.ClassInProgress {
			inProgress = err
			continue
		}
		if err != nil {
			return a, err
		}
	}
	return "", inProgress
}

// Revoke removes the membership or every assignment of the entitlement.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	t, err := c.target(ent)
	if err != nil {
		if _, ok := c.targets[ent.Name]; !ok && ent.Name == "" {
			return nil
		}
		return err
	}
	u, err := c.findUser(ctx, ref)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke %s: find aws user %s: %w", ent.Name, c.userKey(ref), err)
	}
	if t.kind == gatehouse.EntGroup {
		gid, err := c.groupID(ctx, t.resource)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil
		}
		if err != nil {
			return fmt.Errorf("revoke %s: %w", ent.Name, err)
		}
		var out struct{ MembershipId string }
		err = c.call(ctx, c.ids, "GetGroupMembershipId", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "GroupId": gid, "MemberId": map[string]string{"UserId": u.UserID}}, &out)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return nil
		}
		if err == nil {
			err = c.call(ctx, c.ids, "DeleteGroupMembership", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "MembershipId": out.MembershipId}, nil)
		}
		if err != nil && gatehouse.Classify(err) != gatehouse.ClassNotFound {
			return fmt.Errorf("revoke %s from aws user %s: %w", ent.Name, u.UserID, err)
		}
		return nil
	}
	arn, err := c.permissionSetARN(ctx, t.resource)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return nil // the permission set is gone, and its assignments with it
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", ent.Name, err)
	}
	acct, err := inEachAccount(t.accounts, func(acct string) error { return c.deleteAssignment(ctx, u.UserID, arn, acct) })
	if acct != "" {
		return fmt.Errorf("revoke %s in account %s from aws user %s: %w", ent.Name, acct, u.UserID, err)
	}
	if err != nil {
		return fmt.Errorf("revoke %s from aws user %s: %w", ent.Name, u.UserID, err)
	}
	return nil
}

// RevokeSessions is not offered: IAM Identity Center has no API that ends
// access portal sessions or the role sessions issued from them.
func (c *Connector) RevokeSessions(context.Context, gatehouse.AccountRef) error {
	return gatehouse.Permanent(fmt.Errorf("revoke aws sessions: %w (AWS has no API to end issued sessions; they expire with the permission set's session duration)", gatehouse.ErrUnsupported))
}

// TransferOwnership is not offered: Identity Center users own nothing.
func (c *Connector) TransferOwnership(context.Context, gatehouse.AccountRef, gatehouse.AccountRef) error {
	return gatehouse.Permanent(fmt.Errorf("transfer aws ownership: %w", gatehouse.ErrUnsupported))
}

// ListAccounts lists every Identity Store user with the configured
// entitlements each holds. These APIs report no last sign-in, so
// LastActivity stays zero.
func (c *Connector) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	var users []user
	err := c.pages(ctx, c.ids, "ListUsers", map[string]any{"IdentityStoreId": c.s.IdentityStoreID}, func(raw json.RawMessage) error {
		var p struct{ Users []user }
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		users = append(users, p.Users...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list aws users: %w", err)
	}
	held := map[string][]string{} // user id → entitlement names
	for _, n := range c.targetNames() {
		t := c.targets[n]
		members, err := c.holders(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("list aws users: holders of %s: %w", n, err)
		}
		for id := range members {
			held[id] = append(held[id], n)
		}
	}
	out := make([]gatehouse.Account, 0, len(users))
	for _, u := range users {
		a := c.account(u)
		a.Entitlements = held[u.UserID]
		out = append(out, a)
	}
	return out, nil
}

func (c *Connector) targetNames() []string {
	names := make([]string, 0, len(c.targets))
	for n := range c.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// holders returns the user ids holding t (in any of its accounts).
func (c *Connector) holders(ctx context.Context, t *target) (map[string]bool, error) {
	out := map[string]bool{}
	if t.kind == gatehouse.EntGroup {
		gid, err := c.groupID(ctx, t.resource)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		return out, c.pages(ctx, c.ids, "ListGroupMemberships", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "GroupId": gid}, func(raw json.RawMessage) error {
			var p struct{ GroupMemberships []membership }
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
			for _, m := range p.GroupMemberships {
				if id := m.MemberID["UserId"]; id != "" {
					out[id] = true
				}
			}
			return nil
		})
	}
	arn, err := c.permissionSetARN(ctx, t.resource)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, acct := range t.accounts {
		as, err := c.assignments(ctx, arn, acct)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.PrincipalType == "USER" {
				out[a.PrincipalID] = true
			}
		}
	}
	return out, nil
}

// ReadAccount re-reads the user, its group memberships and its direct
// account assignments, mapped back to entitlement names (unconfigured ones
// as "permission-set-name@account" or "group:ID").
func (c *Connector) ReadAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	u, err := c.findUser(ctx, ref)
	if err != nil {
		return gatehouse.Account{}, fmt.Errorf("read aws user %s: %w", c.userKey(ref), err)
	}
	a := c.account(u)
	ms, err := c.memberships(ctx, u.UserID)
	if err != nil {
		return a, fmt.Errorf("read aws user %s: %w", u.UserID, err)
	}
	as, err := c.assignmentsOf(ctx, u.UserID)
	if err != nil {
		return a, fmt.Errorf("read aws user %s: %w", u.UserID, err)
	}
	groupName := map[string]string{} // group id → entitlement
	psHeld := map[string]bool{}      // arn@account
	for _, a := range as {
		psHeld[a.PermissionSetArn+"@"+a.AccountID] = true
	}
	claimed := map[string]bool{}
	for _, n := range c.targetNames() {
		t := c.targets[n]
		if t.kind == gatehouse.EntGroup {
			if gid, err := c.groupID(ctx, t.resource); err == nil {
				groupName[gid] = n
			} else if gatehouse.Classify(err) != gatehouse.ClassNotFound {
				return a, fmt.Errorf("read aws user %s: %w", u.UserID, err)
			}
			continue
		}
		arn, err := c.permissionSetARN(ctx, t.resource)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			continue
		}
		if err != nil {
			return a, fmt.Errorf("read aws user %s: %w", u.UserID, err)
		}
		for _, acct := range t.accounts {
			if psHeld[arn+"@"+acct] {
				if !claimed[n] {
					a.Entitlements = append(a.Entitlements, n)
				}
				claimed[n], claimed[arn+"@"+acct] = true, true
			}
		}
	}
	for _, m := range ms {
		if n, ok := groupName[m.GroupID]; ok {
			a.Entitlements = append(a.Entitlements, n)
		} else {
			a.Entitlements = append(a.Entitlements, "group:"+m.GroupID)
		}
	}
	c.mu.Lock()
	for _, x := range as {
		if claimed[x.PermissionSetArn+"@"+x.AccountID] {
			continue
		}
		n := c.psName[x.PermissionSetArn]
		if n == "" {
			n = x.PermissionSetArn
		}
		a.Entitlements = append(a.Entitlements, n+"@"+x.AccountID)
	}
	c.mu.Unlock()
	return a, nil
}

// pages calls a NextToken-paged list operation until the last page, with a
// guard against a server that repeats a token.
func (c *Connector) pages(ctx context.Context, svc *service, op string, in map[string]any, each func(json.RawMessage) error) error {
	seen := map[string]bool{}
	req := make(map[string]any, len(in)+2)
	for k, v := range in {
		req[k] = v
	}
	req["MaxResults"] = c.s.PageSize
	for page := 0; ; page++ {
		if page >= 10000 {
			return gatehouse.Permanent(fmt.Errorf("%s: more than 10000 pages", op))
		}
		var raw json.RawMessage
		if err := c.call(ctx, svc, op, req, &raw); err != nil {
			return err
		}
		if err := each(raw); err != nil {
			return gatehouse.Retryable(fmt.Errorf("%s: decode page: %w", op, err))
		}
		var p struct{ NextToken *string }
		if err := json.Unmarshal(raw, &p); err != nil {
			return gatehouse.Retryable(fmt.Errorf("%s: decode page: %w", op, err))
		}
		if p.NextToken == nil || *p.NextToken == "" {
			return nil
		}
		if seen[*p.NextToken] {
			return gatehouse.Retryable(fmt.Errorf("%s: the server repeated a NextToken", op))
		}
		seen[*p.NextToken] = true
		req["NextToken"] = *p.NextToken
	}
}

func (c *Connector) memberships(ctx context.Context, userID string) ([]membership, error) {
	var out []membership
	err := c.pages(ctx, c.ids, "ListGroupMembershipsForMember", map[string]any{"IdentityStoreId": c.s.IdentityStoreID, "MemberId": map[string]string{"UserId": userID}}, func(raw json.RawMessage) error {
		var p struct{ GroupMemberships []membership }
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		out = append(out, p.GroupMemberships...)
		return nil
	})
	return out, err
}

// assignmentsOf lists the user's direct account assignments.
func (c *Connector) assignmentsOf(ctx context.Context, userID string) ([]assignment, error) {
	var out []assignment
	err := c.pages(ctx, c.sso, "ListAccountAssignmentsForPrincipal", map[string]any{"InstanceArn": c.s.InstanceARN, "PrincipalId": userID, "PrincipalType": "USER"}, func(raw json.RawMessage) error {
		var p struct{ AccountAssignments []assignment }
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		out = append(out, p.AccountAssignments...)
		return nil
	})
	return out, err
}

// assignments lists who holds a permission set in one account.
func (c *Connector) assignments(ctx context.Context, arn, acct string) ([]assignment, error) {
	var out []assignment
	err := c.pages(ctx, c.sso, "ListAccountAssignments", map[string]any{"InstanceArn": c.s.InstanceARN, "PermissionSetArn": arn, "AccountId": acct}, func(raw json.RawMessage) error {
		var p struct{ AccountAssignments []assignment }
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		out = append(out, p.AccountAssignments...)
		return nil
	})
	return out, err
}

func (c *Connector) hasAssignment(ctx context.Context, userID, arn, acct string) (bool, error) {
	as, err := c.assignments(ctx, arn, acct)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.PrincipalType == "USER" && a.PrincipalID == userID {
			return true, nil
		}
	}
	return false, nil
}

// asyncKind is one direction of an assignment change.
type asyncKind struct {
	create                      bool
	startOp, describeOp, listOp string
	statusKey, idKey, listKey   string
}

var (
	creation = asyncKind{true, "CreateAccountAssignment", "DescribeAccountAssignmentCreationStatus", "ListAccountAssignmentCreationStatus",
		"AccountAssignmentCreationStatus", "AccountAssignmentCreationRequestId", "AccountAssignmentsCreationStatus"}
	deletion = asyncKind{false, "DeleteAccountAssignment", "DescribeAccountAssignmentDeletionStatus", "ListAccountAssignmentDeletionStatus",
		"AccountAssignmentDeletionStatus", "AccountAssignmentDeletionRequestId", "AccountAssignmentsDeletionStatus"}
)

func (c *Connector) createAssignment(ctx context.Context, userID, arn, acct string) error {
	return c.changeAssignment(ctx, creation, userID, arn, acct)
}

func (c *Connector) deleteAssignment(ctx context.Context, userID, arn, acct string) error {
	return c.changeAssignment(ctx, deletion, userID, arn, acct)
}

// changeAssignment makes the assignment (userID, arn, acct) exist (create)
// or not (delete). Before issuing a request it checks the current state and
// any in-progress request for the same assignment — ours from an earlier
// attempt, remembered by operation key, or one found in the service's list
// of in-progress requests after a restart — and polls that instead.
func (c *Connector) changeAssignment(ctx context.Context, k asyncKind, userID, arn, acct string) error {
	memo := gatehouse.OperationKey(ctx) + "|" + k.startOp + "|" + userID + "|" + arn + "|" + acct
	c.mu.Lock()
	reqID := c.pending[memo]
	c.mu.Unlock()
	if reqID == "" {
		has, err := c.hasAssignment(ctx, userID, arn, acct)
		if err != nil {
			return err
		}
		if has == k.create {
			return nil
		}
		if reqID, err = c.findInProgress(ctx, k, userID, arn, acct); err != nil {
			return err
		}
	}
	if reqID == "" {
		var out map[string]assignmentStatus
		err := c.call(ctx, c.sso, k.startOp, map[string]any{"InstanceArn": c.s.InstanceARN, "PermissionSetArn": arn, "PrincipalId": userID,
			"PrincipalType": "USER", "TargetId": acct, "TargetType": "AWS_ACCOUNT"}, &out)
		switch {
		case err != nil && codeOf(err) == "ConflictException":
			// Another request for the same assignment is under way: wait for it.
			return gatehouse.InProgress(c.s.PollInterval, fmt.Errorf("%s: %w", k.startOp, err))
		case err != nil && !k.create && gatehouse.Classify(err) == gatehouse.ClassNotFound:
			return nil
		case err != nil:
			return err
		}
		st := out[k.statusKey]
		if st.Status == "SUCCEEDED" {
			return nil
		}
		if st.Status == "FAILED" {
			return gatehouse.Permanent(fmt.Errorf("%s: failed: %s", k.startOp, st.FailureReason))
		}
		if st.RequestID == "" {
			return gatehouse.Retryable(fmt.Errorf("%s: answer has no RequestId", k.startOp))
		}
		reqID = st.RequestID
		c.mu.Lock()
		c.pending[memo] = reqID
		c.mu.Unlock()
	}
	for i := 0; ; i++ {
		st, err := c.describe(ctx, k, reqID)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			// The request expired from the service's memory: decide by state.
			c.forget(memo)
			return gatehouse.Retryable(fmt.Errorf("%s %s: request no longer known: %w", k.describeOp, reqID, err))
		}
		if err != nil {
			return err
		}
		switch st.Status {
		case "SUCCEEDED":
			c.forget(memo)
			return nil
		case "FAILED":
			c.forget(memo)
			return gatehouse.Permanent(fmt.Errorf("%s %s failed: %s", k.startOp, reqID, st.FailureReason))
		}
		if i+1 >= c.s.PollAttempts {
			return gatehouse.InProgress(c.s.PollInterval, fmt.Errorf("%s %s for account %s is %s", k.startOp, reqID, acct, strings.ToLower(st.Status)))
		}
		if err := c.sleep(ctx, c.s.PollInterval); err != nil {
			return fmt.Errorf("%s %s: %w", k.describeOp, reqID, err)
		}
	}
}

func (c *Connector) forget(memo string) {
	c.mu.Lock()
	delete(c.pending, memo)
	c.mu.Unlock()
}

func (c *Connector) describe(ctx context.Context, k asyncKind, reqID string) (assignmentStatus, error) {
	var out map[string]assignmentStatus
	err := c.call(ctx, c.sso, k.describeOp, map[string]any{"InstanceArn": c.s.InstanceARN, k.idKey: reqID}, &out)
	return out[k.statusKey], err
}

// findInProgress returns the id of an in-progress request for the same
// assignment, or "".
func (c *Connector) findInProgress(ctx context.Context, k asyncKind, userID, arn, acct string) (string, error) {
	var ids []string
	err := c.pages(ctx, c.sso, k.listOp, map[string]any{"InstanceArn": c.s.InstanceARN, "Filter": map[string]string{"Status": "IN_PROGRESS"}}, func(raw json.RawMessage) error {
		var p map[string]json.RawMessage
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		var list []assignmentStatus
		if r, ok := p[k.listKey]; ok {
			if err := json.Unmarshal(r, &list); err != nil {
				return err
			}
		}
		for _, s := range list {
			if s.RequestID != "" {
				ids = append(ids, s.RequestID)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		st, err := c.describe(ctx, k, id)
		if gatehouse.Classify(err) == gatehouse.ClassNotFound {
			continue
		}
		if err != nil {
			return "", err
		}
		// A request listed as in progress may have finished since: one
		// that succeeded is as good as ours (the poll below sees it done).
		if st.Status != "FAILED" && st.PrincipalID == userID && st.PermissionSetArn == arn && st.TargetID == acct {
			return id, nil
		}
	}
	return "", nil
}

// permissionSetARN resolves a permission set name, listing and describing
// the instance's permission sets once and again on a miss.
func (c *Connector) permissionSetARN(ctx context.Context, psName string) (string, error) {
	c.mu.Lock()
	arn, ok := c.psARN[psName]
	c.mu.Unlock()
	if ok {
		return arn, nil
	}
	var arns []string
	err := c.pages(ctx, c.sso, "ListPermissionSets", map[string]any{"InstanceArn": c.s.InstanceARN}, func(raw json.RawMessage) error {
		var p struct{ PermissionSets []string }
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		arns = append(arns, p.PermissionSets...)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("resolve permission set %q: %w", psName, err)
	}
	for _, a := range arns {
		c.mu.Lock()
		_, known := c.psName[a]
		c.mu.Unlock()
		if known {
			continue
		}
		var out struct {
			PermissionSet struct{ Name, PermissionSetArn string }
		}
		if err := c.call(ctx, c.sso, "DescribePermissionSet", map[string]any{"InstanceArn": c.s.InstanceARN, "PermissionSetArn": a}, &out); err != nil {
			if gatehouse.Classify(err) == gatehouse.ClassNotFound {
				continue
			}
			return "", fmt.Errorf("resolve permission set %q: %w", psName, err)
		}
		c.mu.Lock()
		c.psName[a], c.psARN[out.PermissionSet.Name] = out.PermissionSet.Name, a
		c.mu.Unlock()
	}
	c.mu.Lock()
	arn, ok = c.psARN[psName]
	c.mu.Unlock()
	if !ok {
		return "", gatehouse.NotFound(fmt.Errorf("permission set %q does not exist in %s", psName, c.s.InstanceARN))
	}
	return arn, nil
}

// groupID resolves a group display name with GetGroupId, cached.
func (c *Connector) groupID(ctx context.Context, display string) (string, error) {
	c.mu.Lock()
	id, ok := c.groupIDs[display]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var out struct{ GroupId string }
	err := c.call(ctx, c.ids, "GetGroupId", map[string]any{"IdentityStoreId": c.s.IdentityStoreID,
		"AlternateIdentifier": map[string]any{"UniqueAttribute": map[string]any{"AttributePath": "displayName", "AttributeValue": display}}}, &out)
	if err != nil {
		return "", fmt.Errorf("resolve group %q: %w", display, err)
	}
	c.mu.Lock()
	c.groupIDs[display] = out.GroupId
	c.mu.Unlock()
	return out.GroupId, nil
}
