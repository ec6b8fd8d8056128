// Package awstest is a stateful fake of AWS IAM Identity Center for tests:
// the Identity Store (AWSIdentityStore.*) and SSO Admin
// (SWBExternalService.*) JSON 1.1 APIs on a loopback httptest server.
//
// Every request and every answer is validated against AWS's own service
// models (the aws-sdk npm package's apis/*.min.json, installed by
// .ci/deps.d/aws.sh), and the SigV4 Authorization header is checked to be
// well formed with the right region and service in its credential scope; a
// violation fails the test. Account assignment creation and deletion are
// asynchronous as in AWS: a request stays IN_PROGRESS for Options.PendingPolls
// status polls and only then takes effect.
package awstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fixed ids of the fake's directory.
const (
	IdentityStoreID = "d-1234567890"
	InstanceARN     = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
	AccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	SecretKey       = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// Options configure a Server.
type Options struct {
	Region string // default us-east-1
	// PageSize caps MaxResults (default 2, to force paging).
	PageSize int
	// PendingPolls is how many status polls an assignment request answers
	// IN_PROGRESS before it succeeds (default 0: done on the first poll).
	PendingPolls int
	// Latency delays every answer (benchmarks, timeouts).
	Latency time.Duration
}

// User is an Identity Store user.
type User struct {
	ID, UserName, DisplayName, GivenName, FamilyName, Email, UserType, Title string
}

// Assignment is a permission set assigned to a principal in an account.
type Assignment struct{ AccountID, PermissionSetArn, PrincipalID string }

type membership struct{ ID, GroupID, UserID string }

type request struct {
	id      string
	create  bool
	a       Assignment
	polls   int
	status  string
	failure string
	created time.Time
}

// Fault is an injected error answer.
type Fault struct {
	Status            int
	Code              string // e.g. ThrottlingException
	Message           string
	RetryAfterSeconds int
}

// Entry is one logged request.
type Entry struct {
	Time   time.Time
	Target string // e.g. AWSIdentityStore.CreateUser
}

// Server is the fake.
type Server struct {
	*httptest.Server
	t    testing.TB
	opts Options
	ids  *Model
	sso  *Model

	mu          sync.Mutex
	seq         int
	users       map[string]*User
	groups      map[string]string // id → display name
	memberships map[string]*membership
	permSets    map[string]string // arn → name
	assignments map[Assignment]bool
	requests    map[string]*request
	order       []string // request ids in creation order
	faults      map[string][]Fault
	log         []Entry
	failNext    string
}

// New starts a fake; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.PageSize == 0 {
		opts.PageSize = 2
	}
	dir, err := SpecDir()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadModel(filepath.Join(dir, "identitystore-2020-06-15.min.json"))
	if err != nil {
		t.Fatal(err)
	}
	sso, err := LoadModel(filepath.Join(dir, "sso-admin-2020-07-20.min.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, opts: opts, ids: ids, sso: sso, users: map[string]*User{}, groups: map[string]string{},
		memberships: map[string]*membership{}, permSets: map[string]string{}, assignments: map[Assignment]bool{},
		requests: map[string]*request{}, faults: map[string][]Fault{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// Region is the region the fake expects in credential scopes.
func (s *Server) Region() string { return s.opts.Region }

// SettingsYAML returns connector settings pointing at the fake.
func (s *Server) SettingsYAML() string {
	return fmt.Sprintf("region: %s\nidentity_store_id: %s\ninstance_arn: %s\nendpoint_identitystore: %s\nendpoint_sso: %s\ncredentials:\n  access_key_id: %s\n  secret_access_key: %s\n",
		s.opts.Region, IdentityStoreID, InstanceARN, s.URL, s.URL, AccessKeyID, SecretKey)
}

// AddGroup creates a group and returns its id.
func (s *Server) AddGroup(display string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID("g")
	s.groups[id] = display
	return id
}

// AddPermissionSet creates a permission set and returns its ARN.
func (s *Server) AddPermissionSet(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	arn := fmt.Sprintf("arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-%016x", s.seq)
	s.permSets[arn] = name
	return arn
}

// Fail makes the next n calls of target (e.g. "AWSIdentityStore.CreateUser",
// or "*") answer with f.
func (s *Server) Fail(target string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[target] = append(s.faults[target], f)
	}
}

// FailNextAssignment makes the next assignment request end FAILED with reason.
func (s *Server) FailNextAssignment(reason string) {
	s.mu.Lock()
	s.failNext = reason
	s.mu.Unlock()
}

// SetPendingPolls changes how long new requests stay in progress.
func (s *Server) SetPendingPolls(n int) {
	s.mu.Lock()
	s.opts.PendingPolls = n
	s.mu.Unlock()
}

// UserByName returns a copy of the user with userName n.
func (s *Server) UserByName(n string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.UserName, n) {
			return *u, true
		}
	}
	return User{}, false
}

// UserByID returns a copy of the user.
func (s *Server) UserByID(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		return *u, true
	}
	return User{}, false
}

// AddUser creates a user directly (seeding).
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = s.newID("u")
	s.users[u.ID] = &u
	return u.ID
}

// Groups returns the display names of the groups userID is a member of.
func (s *Server) Groups(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.memberships {
		if m.UserID == userID {
			out = append(out, s.groups[m.GroupID])
		}
	}
	sort.Strings(out)
	return out
}

// Assignments returns the user's assignments as "PermissionSetName@account".
func (s *Server) Assignments(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for a := range s.assignments {
		if a.PrincipalID == userID {
			out = append(out, s.permSets[a.PermissionSetArn]+"@"+a.AccountID)
		}
	}
	sort.Strings(out)
	return out
}

// Log returns the requests received, oldest first.
func (s *Server) Log() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.log...)
}

// Count returns how many requests named target (e.g.
// "SWBExternalService.CreateAccountAssignment") were received.
func (s *Server) Count(target string) int {
	n := 0
	for _, e := range s.Log() {
		if e.Target == target {
			n++
		}
	}
	return n
}

func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%08x-%04x-4000-8000-%012x", s.seq, s.seq, s.seq) // UUID-shaped like AWS ids
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})/([0-9]{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

type awsError struct {
	status int
	code   string
	msg    string
	extra  map[string]any
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	target := r.Header.Get("X-Amz-Target")
	prefix, op, _ := strings.Cut(target, ".")
	var model *Model
	switch prefix {
	case s.ids.Service:
		model = s.ids
	case s.sso.Service:
		model = s.sso
	default:
		s.t.Errorf("awstest: %s %s: unknown X-Amz-Target %q", r.Method, r.URL.Path, target)
		s.fail(w, model, op, awsError{400, "UnknownOperationException", "unknown target", nil})
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.log = append(s.log, Entry{Time: time.Now(), Target: target})
	s.mu.Unlock()
	if reason := s.checkEnvelope(r, model); reason != "" {
		s.t.Errorf("awstest: %s %s %s: %s", r.Method, r.URL.Path, target, reason)
		s.fail(w, model, op, awsError{400, "IncompleteSignature", reason, nil})
		return
	}
	if !model.HasOperation(op) {
		s.t.Errorf("awstest: %s: operation is not in the %s model", target, model.Service)
		s.fail(w, model, op, awsError{400, "UnknownOperationException", "unknown operation", nil})
		return
	}
	if errs := model.ValidateInput(op, body); len(errs) > 0 {
		s.t.Errorf("awstest: POST / %s: request violates the AWS model: %s", target, strings.Join(errs, "; "))
		s.fail(w, model, op, awsError{400, "ValidationException", strings.Join(errs, "; "), nil})
		return
	}
	if f, ok := s.takeFault(target); ok {
		extra := map[string]any{}
		if f.RetryAfterSeconds > 0 {
			extra["RetryAfterSeconds"] = f.RetryAfterSeconds
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterSeconds))
		}
		s.fail(w, model, op, awsError{f.Status, f.Code, f.Message, extra})
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	if in == nil {
		in = map[string]any{}
	}
	s.mu.Lock()
	out, aerr := s.dispatch(prefix, op, in)
	s.mu.Unlock()
	if aerr != nil {
		s.fail(w, model, op, *aerr)
		return
	}
	b, _ := json.Marshal(out)
	if errs := model.ValidateOutput(op, b); len(errs) > 0 {
		s.t.Errorf("awstest: %s: the fake's answer violates the AWS model: %s", target, strings.Join(errs, "; "))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("req-%d", time.Now().UnixNano()))
	_, _ = w.Write(b)
}

// checkEnvelope verifies the protocol envelope and the SigV4 header's form.
func (s *Server) checkEnvelope(r *http.Request, m *Model) string {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "want POST /"
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		return fmt.Sprintf("Content-Type %q, want application/x-amz-json-1.1", ct)
	}
	date := r.Header.Get("X-Amz-Date")
	if _, err := time.Parse("20060102T150405Z", date); err != nil {
		return fmt.Sprintf("X-Amz-Date %q is not an ISO 8601 basic timestamp", date)
	}
	mm := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if mm == nil {
		return "Authorization is not a well-formed AWS4-HMAC-SHA256 header"
	}
	if mm[1] != AccessKeyID {
		return "unknown access key id"
	}
	if mm[2] != date[:8] {
		return fmt.Sprintf("credential scope date %s does not match X-Amz-Date %s", mm[2], date)
	}
	if mm[3] != s.opts.Region {
		return fmt.Sprintf("credential scope region %s, want %s", mm[3], s.opts.Region)
	}
	if mm[4] != m.SigningName {
		return fmt.Sprintf("credential scope service %s, want %s", mm[4], m.SigningName)
	}
	signed := strings.Split(mm[5], ";")
	if !sort.StringsAreSorted(signed) {
		return "SignedHeaders are not sorted"
	}
	for _, h := range []string{"host", "x-amz-date", "x-amz-target", "content-type"} {
		if !contains(signed, h) {
			return "SignedHeaders lack " + h
		}
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !contains(signed, "x-amz-security-token") {
		return "x-amz-security-token is sent but not signed"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) takeFault(target string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{target, "*"} {
		if q := s.faults[k]; len(q) > 0 {
			s.faults[k] = q[1:]
			return q[0], true
		}
	}
	return Fault{}, false
}

// fail writes an AWS JSON error: the code in x-amzn-ErrorType and __type.
func (s *Server) fail(w http.ResponseWriter, m *Model, op string, e awsError) {
	ns := "com.amazonaws.identitystore"
	if m != nil && m == s.sso {
		ns = "com.amazonaws.swbexternalservice"
	}
	body := map[string]any{"__type": ns + "#" + e.code, "Message": e.msg}
	for k, v := range e.extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", e.code+":http://internal.amazon.com/coral/"+ns+"/")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

func notFound(what string) *awsError {
	return &awsError{400, "ResourceNotFoundException", what + " not found", map[string]any{"ResourceType": "USER"}}
}

func str(in map[string]any, k string) string { v, _ := in[k].(string); return v }

// page slices items by NextToken and MaxResults.
func (s *Server) page(in map[string]any, n int) (lo, hi int, next string, err *awsError) {
	size := s.opts.PageSize
	if mr, ok := in["MaxResults"].(float64); ok && int(mr) > 0 && int(mr) < size {
		size = int(mr)
	}
	if tok := str(in, "NextToken"); tok != "" {
		b, derr := base64.RawURLEncoding.DecodeString(tok)
		if derr != nil {
			return 0, 0, "", &awsError{400, "ValidationException", "bad NextToken", nil}
		}
		lo, _ = strconv.Atoi(strings.TrimPrefix(string(b), "off:"))
	}
	lo = min(lo, n)
	hi = min(lo+size, n)
	if hi < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("off:" + strconv.Itoa(hi)))
	}
	return lo, hi, next, nil
}

// pageOf answers a List operation with the page of items that in's
// NextToken and MaxResults select, each rendered by item, under field.
func pageOf[T any](s *Server, in map[string]any, field string, items []T, item func(T) any) (map[string]any, *awsError) {
	lo, hi, next, err := s.page(in, len(items))
	if err != nil {
		return nil, err
	}
	list := []any{}
	for _, it := range items[lo:hi] {
		list = append(list, item(it))
	}
	return paged(map[string]any{field: list}, next), nil
}

func paged(out map[string]any, next string) map[string]any {
	if next != "" {
		out["NextToken"] = next
	}
	return out
}

func (s *Server) userJSON(u *User) map[string]any {
	m := map[string]any{"UserId": u.ID, "IdentityStoreId": IdentityStoreID, "UserName": u.UserName, "DisplayName": u.DisplayName,
		"Name": map[string]any{"GivenName": u.GivenName, "FamilyName": u.FamilyName}}
	if u.Email != "" {
		m["Emails"] = []any{map[string]any{"Value": u.Email, "Type": "work", "Primary": true}}
	}
	if u.UserType != "" {
		m["UserType"] = u.UserType
	}
	if u.Title != "" {
		m["Title"] = u.Title
	}
	return m
}

func (s *Server) dispatch(prefix, op string, in map[string]any) (map[string]any, *awsError) {
	if prefix == s.ids.Service && str(in, "IdentityStoreId") != IdentityStoreID {
		return nil, &awsError{400, "ResourceNotFoundException", "identity store not found", nil}
	}
	if prefix == s.sso.Service && str(in, "InstanceArn") != InstanceARN {
		return nil, &awsError{400, "ResourceNotFoundException", "instance not found", nil}
	}
	switch op {
	case "GetUserId", "GetGroupId":
		alt, _ := in["AlternateIdentifier"].(map[string]any)
		ua, _ := alt["UniqueAttribute"].(map[string]any)
		path, val := str(ua, "AttributePath"), str(ua, "AttributeValue")
		if op == "GetGroupId" {
			if path != "displayName" {
				return nil, &awsError{400, "ValidationException", "unsupported attribute " + path, nil}
			}
			for id, n := range s.groups {
				if n == val {
					return map[string]any{"GroupId": id, "IdentityStoreId": IdentityStoreID}, nil
				}
			}
			return nil, notFound("group")
		}
		for _, u := range s.users {
			if (path == "userName" && strings.EqualFold(u.UserName, val)) || (path == "emails.value" && strings.EqualFold(u.Email, val)) {
				return map[string]any{"UserId": u.ID, "IdentityStoreId": IdentityStoreID}, nil
			}
		}
		if path != "userName" && path != "emails.value" {
			return nil, &awsError{400, "ValidationException", "unsupported attribute " + path, nil}
		}
		return nil, notFound("user")
	case "DescribeUser":
		u, ok := s.users[str(in, "UserId")]
		if !ok {
			return nil, notFound("user")
		}
		return s.userJSON(u), nil
	case "CreateUser":
		un := str(in, "UserName")
		for _, u := range s.users {
			if strings.EqualFold(u.UserName, un) {
				return nil, &awsError{400, "ConflictException", "Duplicate UserName", map[string]any{"Reason": "UNIQUENESS_CONSTRAINT_VIOLATION"}}
			}
		}
		nm, _ := in["Name"].(map[string]any)
		if un == "" || str(in, "DisplayName") == "" || str(nm, "GivenName") == "" || str(nm, "FamilyName") == "" {
			return nil, &awsError{400, "ValidationException", "UserName, DisplayName, Name.GivenName and Name.FamilyName are required", nil}
		}
		u := &User{ID: s.newID("u"), UserName: un, DisplayName: str(in, "DisplayName"), GivenName: str(nm, "GivenName"), FamilyName: str(nm, "FamilyName"), Title: str(in, "Title")}
		if es, ok := in["Emails"].([]any); ok && len(es) > 0 {
			e, _ := es[0].(map[string]any)
			u.Email = str(e, "Value")
		}
		s.users[u.ID] = u
		return map[string]any{"UserId": u.ID, "IdentityStoreId": IdentityStoreID}, nil
	case "UpdateUser":
		u, ok := s.users[str(in, "UserId")]
		if !ok {
			return nil, notFound("user")
		}
		ops, _ := in["Operations"].([]any)
		for _, o := range ops {
			om, _ := o.(map[string]any)
			v, _ := om["AttributeValue"].(string)
			switch str(om, "AttributePath") {
			case "userType":
				u.UserType = v
			case "title":
				u.Title = v
			case "displayName":
				u.DisplayName = v
			default:
				return nil, &awsError{400, "ValidationException", "unsupported attribute path", nil}
			}
		}
		return map[string]any{}, nil
	case "DeleteUser":
		id := str(in, "UserId")
		if _, ok := s.users[id]; !ok {
			return nil, notFound("user")
		}
		delete(s.users, id)
		for mid, m := range s.memberships {
			if m.UserID == id {
				delete(s.memberships, mid)
			}
		}
		return map[string]any{}, nil
	case "ListUsers":
		return pageOf(s, in, "Users", slices.Sorted(maps.Keys(s.users)), func(id string) any { return s.userJSON(s.users[id]) })
	case "ListGroups":
		return pageOf(s, in, "Groups", slices.Sorted(maps.Keys(s.groups)), func(id string) any {
			return map[string]any{"GroupId": id, "DisplayName": s.groups[id], "IdentityStoreId": IdentityStoreID}
		})
	case "CreateGroupMembership":
		gid := str(in, "GroupId")
		mem, _ := in["MemberId"].(map[string]any)
		uid := str(mem, "UserId")
		if _, ok := s.groups[gid]; !ok {
			return nil, notFound("group")
		}
		if _, ok := s.users[uid]; !ok {
			return nil, notFound("user")
		}
		for _, m := range s.memberships {
			if m.GroupID == gid && m.UserID == uid {
				return nil, &awsError{400, "ConflictException", "Member already exists in group", map[string]any{"Reason": "UNIQUENESS_CONSTRAINT_VIOLATION"}}
			}
		}
		m := &membership{ID: s.newID("m"), GroupID: gid, UserID: uid}
		s.memberships[m.ID] = m
		return map[string]any{"MembershipId": m.ID, "IdentityStoreId": IdentityStoreID}, nil
	case "GetGroupMembershipId":
		gid := str(in, "GroupId")
		mem, _ := in["MemberId"].(map[string]any)
		for _, m := range s.memberships {
			if m.GroupID == gid && m.UserID == str(mem, "UserId") {
				return map[string]any{"MembershipId": m.ID, "IdentityStoreId": IdentityStoreID}, nil
			}
		}
		return nil, notFound("membership")
	case "DeleteGroupMembership":
		id := str(in, "MembershipId")
		if _, ok := s.memberships[id]; !ok {
			return nil, notFound("membership")
		}
		delete(s.memberships, id)
		return map[string]any{}, nil
	case "ListGroupMembershipsForMember", "ListGroupMemberships":
		var ms []*membership
		mem, _ := in["MemberId"].(map[string]any)
		for _, m := range s.memberships {
			if (op == "ListGroupMemberships" && m.GroupID == str(in, "GroupId")) || (op == "ListGroupMembershipsForMember" && m.UserID == str(mem, "UserId")) {
				ms = append(ms, m)
			}
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
		return pageOf(s, in, "GroupMemberships", ms, func(m *membership) any {
			return map[string]any{"MembershipId": m.ID, "GroupId": m.GroupID, "IdentityStoreId": IdentityStoreID, "MemberId": map[string]any{"UserId": m.UserID}}
		})

	case "ListPermissionSets":
		return pageOf(s, in, "PermissionSets", slices.Sorted(maps.Keys(s.permSets)), func(arn string) any { return arn })
	case "DescribePermissionSet":
		arn := str(in, "PermissionSetArn")
		n, ok := s.permSets[arn]
		if !ok {
			return nil, notFound("permission set")
		}
		return map[string]any{"PermissionSet": map[string]any{"Name": n, "PermissionSetArn": arn, "SessionDuration": "PT1H", "CreatedDate": 1.7e9}}, nil
	case "CreateAccountAssignment", "DeleteAccountAssignment":
		if str(in, "PrincipalType") != "USER" && str(in, "PrincipalType") != "GROUP" {
			return nil, &awsError{400, "ValidationException", "bad PrincipalType", nil}
		}
		if str(in, "TargetType") != "AWS_ACCOUNT" || !regexp.MustCompile(`^\d{12}$`).MatchString(str(in, "TargetId")) {
			return nil, &awsError{400, "ValidationException", "bad target", nil}
		}
		if _, ok := s.permSets[str(in, "PermissionSetArn")]; !ok {
			return nil, notFound("permission set")
		}
		a := Assignment{AccountID: str(in, "TargetId"), PermissionSetArn: str(in, "PermissionSetArn"), PrincipalID: str(in, "PrincipalId")}
		req := &request{id: s.newID("r"), create: op == "CreateAccountAssignment", a: a, status: "IN_PROGRESS", created: time.Now()}
		if s.failNext != "" {
			req.failure, s.failNext = s.failNext, ""
		}
		s.requests[req.id] = req
		s.order = append(s.order, req.id)
		key := "AccountAssignmentCreationStatus"
		if !req.create {
			key = "AccountAssignmentDeletionStatus"
		}
		return map[string]any{key: s.statusJSON(req)}, nil
	case "DescribeAccountAssignmentCreationStatus", "DescribeAccountAssignmentDeletionStatus":
		create := op == "DescribeAccountAssignmentCreationStatus"
		idKey, key := "AccountAssignmentCreationRequestId", "AccountAssignmentCreationStatus"
		if !create {
			idKey, key = "AccountAssignmentDeletionRequestId", "AccountAssignmentDeletionStatus"
		}
		req, ok := s.requests[str(in, idKey)]
		if !ok || req.create != create {
			return nil, notFound("request")
		}
		if req.status == "IN_PROGRESS" {
			req.polls++
			if req.polls > s.opts.PendingPolls {
				s.finish(req)
			}
		}
		return map[string]any{key: s.statusJSON(req)}, nil
	case "ListAccountAssignmentCreationStatus", "ListAccountAssignmentDeletionStatus":
		create := op == "ListAccountAssignmentCreationStatus"
		filter, _ := in["Filter"].(map[string]any)
		var reqs []*request
		for _, id := range s.order {
			r := s.requests[id]
			if r.create == create && (str(filter, "Status") == "" || str(filter, "Status") == r.status) {
				reqs = append(reqs, r)
			}
		}
		key := "AccountAssignmentsCreationStatus"
		if !create {
			key = "AccountAssignmentsDeletionStatus"
		}
		return pageOf(s, in, key, reqs, func(r *request) any {
			return map[string]any{"RequestId": r.id, "Status": r.status, "CreatedDate": float64(r.created.Unix())}
		})
	case "ListAccountAssignments", "ListAccountAssignmentsForPrincipal":
		var as []Assignment
		for a := range s.assignments {
			if op == "ListAccountAssignments" && a.PermissionSetArn == str(in, "PermissionSetArn") && a.AccountID == str(in, "AccountId") {
				as = append(as, a)
			}
			if op == "ListAccountAssignmentsForPrincipal" && a.PrincipalID == str(in, "PrincipalId") {
				as = append(as, a)
			}
		}
		sort.Slice(as, func(i, j int) bool {
			return as[i].PrincipalID+as[i].PermissionSetArn+as[i].AccountID < as[j].PrincipalID+as[j].PermissionSetArn+as[j].AccountID
		})
		return pageOf(s, in, "AccountAssignments", as, func(a Assignment) any {
			return map[string]any{"AccountId": a.AccountID, "PermissionSetArn": a.PermissionSetArn, "PrincipalId": a.PrincipalID, "PrincipalType": "USER"}
		})
	}
	return nil, &awsError{400, "UnknownOperationException", op + " is not implemented by awstest", nil}
}

func (s *Server) finish(req *request) {
	if req.failure != "" {
		req.status = "FAILED"
		return
	}
	req.status = "SUCCEEDED"
	if req.create {
		s.assignments[req.a] = true
	} else {
		delete(s.assignments, req.a)
	}
}

func (s *Server) statusJSON(r *request) map[string]any {
	m := map[string]any{"RequestId": r.id, "Status": r.status, "PermissionSetArn": r.a.PermissionSetArn, "PrincipalId": r.a.PrincipalID,
		"PrincipalType": "USER", "TargetId": r.a.AccountID, "TargetType": "AWS_ACCOUNT", "CreatedDate": float64(r.created.Unix())}
	if r.failure != "" && r.status == "FAILED" {
		m["FailureReason"] = r.failure
	}
	return m
}
