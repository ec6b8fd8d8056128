package slackhandlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store"
)

// Actor is the person behind a command or click, as package bot resolved
// them: the Slack user id, the email Slack knows for them (authorization is
// decided on emails the engine knows) and their admin roles.
type Actor struct {
	UserID string
	Email  string
	IT     bool
	HR     bool
}

func (a Actor) audit() gatehouse.Actor {
	if a.Email != "" {
		return gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: a.Email}
	}
	return gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "slack:" + a.UserID}
}

// Sentinel errors callers branch on. Engine adapters map the lifecycle
// engine's own sentinels onto these.
var (
	ErrForbidden      = errors.New("forbidden")
	ErrNotFound       = errors.New("not found")
	ErrNotApprover    = errors.New("not a designated approver")
	ErrSelfApproval   = errors.New("self approval")
	ErrAlreadyDecided = errors.New("already decided")
	ErrExpired        = errors.New("expired")
	ErrRunCancelled   = errors.New("run cancelled")
	ErrInvalid        = errors.New("invalid input")
)

// UserError is an error whose Msg may be shown to the person who acted. Err
// is one of the sentinels above.
type UserError struct {
	Err error
	Msg string
}

func (e *UserError) Error() string { return e.Msg }
func (e *UserError) Unwrap() error { return e.Err }

func userErr(err error, format string, args ...any) *UserError {
	return &UserError{Err: err, Msg: fmt.Sprintf(format, args...)}
}

// Message returns what to tell the user about err: the UserError's text,
// a UsageError's text, or a generic apology for internal errors (whose
// details belong in the log, not in Slack).
func Message(err error) string {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Msg
	}
	var us *UsageError
	if errors.As(err, &us) {
		return us.Error()
	}
	return "Something went wrong on Gatehouse's side; IT has the details in the log."
}

// Stale reports whether err means the click came too late (decided,
// expired, cancelled): such clicks are answered politely and change nothing.
func Stale(err error) bool {
	return errors.Is(err, ErrAlreadyDecided) || errors.Is(err, ErrExpired) || errors.Is(err, ErrRunCancelled)
}

// GrantRequest is a time-bound request for one entitlement.
type GrantRequest struct {
	Identity      gatehouse.Identity
	Ref           gatehouse.EntitlementRef
	Duration      time.Duration
	Justification string
	Requester     string // email
	DedupeKey     string // e.g. the Slack view id: a resubmission is one request
}

// Engine is what the handlers need from the lifecycle engine. The real
// engine is adapted to it in cmd/gatehouse (and in tests).
type Engine interface {
	// Submit records an event and starts (or schedules) its run.
	Submit(ctx context.Context, ev gatehouse.Event) (gatehouse.Run, error)
	// Decide records one approver's decision; errors wrap the sentinels.
	Decide(ctx context.Context, approvalID, approver string, approve bool, reason string) (gatehouse.Approval, error)
	// CompleteTask closes a manual task (done, or cannot be done) with evidence.
	CompleteTask(ctx context.Context, taskID, by string, done bool, evidence string) (gatehouse.Task, error)
	// RequestAccess starts a time-bound access request (approval first).
	RequestAccess(ctx context.Context, req GrantRequest) (gatehouse.Run, error)
}

// Planner computes the access an identity should have.
type Planner interface {
	Plan(ctx context.Context, id gatehouse.Identity, ev gatehouse.EventType) (gatehouse.Plan, error)
}

// Directory resolves Slack users to the emails Gatehouse keys people by.
type Directory interface {
	EmailOf(ctx context.Context, userID string) (string, error)
	UserIDOf(ctx context.Context, email string) (string, error)
}

// Service makes the decisions behind every command, click and submission.
type Service struct {
	Store     *store.DB
	Engine    Engine
	Planner   Planner
	Config    *config.Config
	Directory Directory
	Now       func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) zone() *time.Location {
	if s.Config != nil {
		return s.Config.Location()
	}
	return time.UTC
}

func (s *Service) today() gatehouse.Date { return gatehouse.DateOf(s.now().In(s.zone())) }

// refuse records an authorization refusal in the audit chain and returns
// the user-facing error. Refusals are evidence: a forwarded card clicked by
// the wrong person is exactly what an auditor wants to see.
func (s *Service) refuse(actor Actor, sentinel error, what, id, identity, msg string) error {
	e := gatehouse.AuditEntry{
		Time: s.now(), Actor: actor.audit(), Action: "refuse", IdentityKey: identity,
		Reason:  sentinel.Error(),
		Details: map[string]string{"what": what, "id": id, "slack_user": actor.UserID},
	}
	if _, err := s.Store.AppendAudit(e); err != nil {
		return fmt.Errorf("audit refusal of %s %s: %w", what, id, err)
	}
	return userErr(sentinel, "%s", msg)
}

// resolve finds the identity a command names.
func (s *Service) resolve(ctx context.Context, t Target) (gatehouse.Identity, error) {
	email := t.Email
	if t.UserID != "" {
		e, err := s.Directory.EmailOf(ctx, t.UserID)
		if err != nil || e == "" {
			return gatehouse.Identity{}, userErr(ErrNotFound, "I could not find an email for <@%s>; try their email address instead.", t.UserID)
		}
		email = e
	}
	id, err := s.Store.IdentityByEmail(email)
	if errors.Is(err, store.ErrNotFound) {
		return gatehouse.Identity{}, userErr(ErrNotFound, "Gatehouse does not know %s: no HR record or earlier run has that email.", t)
	}
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("look up %s: %w", email, err)
	}
	return id, nil
}

// --- /onboard -------------------------------------------------------------

// Onboard answers /onboard [email]: the modal, prefilled when HR data is known.
func (s *Service) Onboard(ctx context.Context, actor Actor, text string) (OnboardModel, error) {
	if !actor.IT && !actor.HR {
		return OnboardModel{}, s.refuse(actor, ErrForbidden, "command", "/onboard", "", "Only IT and HR can run /onboard. New hires normally arrive from the HR system.")
	}
	args, err := ParseOnboard(text)
	if err != nil {
		return OnboardModel{}, err
	}
	m := OnboardModel{Form: OnboardForm{Email: args.Email, Kind: string(gatehouse.KindEmployee)}, Attributes: s.attributeInputs()}
	if args.Email == "" {
		return m, nil
	}
	id, err := s.Store.IdentityByEmail(args.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return m, nil
	case err != nil:
		return m, fmt.Errorf("look up %s: %w", args.Email, err)
	}
	m.Known = true
	m.Form = OnboardForm{
		Name: id.Name, Email: id.Email, Title: id.Title, Department: id.Department, Team: id.Team,
		ManagerEmail: id.ManagerEmail, Location: id.Location, StartDate: id.StartDate.String(),
		Kind: string(id.Kind), EndDate: id.EndDate.String(), Attributes: map[string]string{},
	}
	for _, a := range m.Attributes {
		if v := id.Attributes[a.Name]; v != "" {
			m.Form.Attributes[a.Name] = v
		}
	}
	if id.ManagerEmail != "" && s.Directory != nil {
		m.Form.ManagerUserID, _ = s.Directory.UserIDOf(ctx, id.ManagerEmail)
	}
	return m, nil
}

// ValidateOnboard checks a submitted form's fields. It is fast (no network,
// no engine) so package bot can run it before acking the submission and
// answer with inline errors.
//
// The manager need not be known to Gatehouse yet: on a fresh install nobody
// is, and the first people are onboarded from Slack. Package bot resolved
// the picked Slack user to their email (users.info); that email is recorded
// as the manager, and approvals addressed to the manager reach that Slack
// user (users.lookupByEmail finds them by the same email).
func (s *Service) ValidateOnboard(form OnboardForm) (gatehouse.Identity, FieldErrors) {
	id, errs := form.Identity(s.today())
	if errs == nil {
		errs = FieldErrors{}
	}
	for _, a := range s.attributeInputs() {
		v := id.Attributes[a.Name]
		if v != "" && len(a.Options) > 0 && !slices.Contains(a.Options, v) && errs[AttrField(a.Name)] == "" {
			errs[AttrField(a.Name)] = fmt.Sprintf("Pick one of %s.", strings.Join(a.Options, ", "))
		}
	}
	if len(errs) == 0 {
		return id, nil
	}
	return id, errs
}

// attributeInputs lists the attributes the rules read, when the planner
// can say.
func (s *Service) attributeInputs() []AttributeInput {
	if l, ok := s.Planner.(AttributeLister); ok {
		return l.OnboardAttributes()
	}
	return nil
}

// PreviewOnboard plans the access a form would give, for the modal's
// "Preview plan" button. Incomplete forms get a hint instead of a plan.
func (s *Service) PreviewOnboard(ctx context.Context, actor Actor, form OnboardForm) OnboardModel {
	m := OnboardModel{Form: form, Attributes: s.attributeInputs()}
	id, errs := s.ValidateOnboard(form)
	if errs != nil {
		m.Preview = &PlanPreview{Identity: id, Problem: "Fill in " + strings.Join(errs.Keys(), ", ") + " to see the plan."}
		return m
	}
	p, err := s.Planner.Plan(ctx, id, gatehouse.EventJoiner)
	if err != nil {
		m.Preview = &PlanPreview{Identity: id, Problem: "The rules could not plan this person: " + err.Error()}
		return m
	}
	m.Preview = &PlanPreview{Identity: id, Plan: p}
	return m
}

// SubmitOnboard creates the joiner run. Errors are inline field errors
// (FieldErrors) or user-facing.
func (s *Service) SubmitOnboard(ctx context.Context, actor Actor, form OnboardForm, dedupe string) (gatehouse.Run, error) {
	if !actor.IT && !actor.HR {
		return gatehouse.Run{}, s.refuse(actor, ErrForbidden, "submit", "onboard", "", "Only IT and HR can onboard people.")
	}
	id, errs := s.ValidateOnboard(form)
	if errs != nil {
		return gatehouse.Run{}, errs
	}
	if old, err := s.Store.IdentityByEmail(id.Email); err == nil {
		id.ID, id.EmployeeID, id.SlackUserID, id.TimeZone = old.ID, old.EmployeeID, old.SlackUserID, old.TimeZone
		// Attributes the form asked for are the form's; others (from HR)
		// are kept.
		attrs := maps.Clone(old.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		for _, a := range s.attributeInputs() {
			delete(attrs, a.Name)
		}
		maps.Copy(attrs, id.Attributes)
		if len(attrs) == 0 {
			attrs = nil
		}
		id.Attributes = attrs
	}
	now := s.now()
	ev := gatehouse.Event{
		Type: gatehouse.EventJoiner, Identity: id, Source: "slack:/onboard", Actor: actor.audit(),
		EffectiveAt: id.StartDate.In(id.Zone(s.zone())), DedupeKey: "slack:onboard:" + dedupe, ReceivedAt: now,
	}
	if ev.EffectiveAt.Before(now) {
		ev.EffectiveAt = now
	}
	run, err := s.Engine.Submit(ctx, ev)
	if err != nil {
		return gatehouse.Run{}, fmt.Errorf("submit joiner %s: %w", id.Email, err)
	}
	return run, nil
}

// --- /offboard ------------------------------------------------------------

// Offboard answers /offboard: the confirmation modal with the complete plan.
func (s *Service) Offboard(ctx context.Context, actor Actor, text string) (OffboardModel, error) {
	if !actor.IT && !actor.HR {
		return OffboardModel{}, s.refuse(actor, ErrForbidden, "command", "/offboard", "", "Only IT and HR can run /offboard.")
	}
	args, err := ParseOffboard(text, s.today())
	if err != nil {
		return OffboardModel{}, err
	}
	id, err := s.resolve(ctx, args.Target)
	if err != nil {
		return OffboardModel{}, err
	}
	if actor.Email != "" && strings.EqualFold(actor.Email, id.Email) {
		return OffboardModel{}, s.refuse(actor, ErrSelfApproval, "command", "/offboard", id.Key(), "You cannot offboard yourself; ask IT or HR.")
	}
	if id.Status == gatehouse.StatusTerminated {
		return OffboardModel{}, userErr(ErrInvalid, "%s is already offboarded.", id.Email)
	}
	return s.OffboardPlan(ctx, id, args.EffectiveAt(s.now(), id.Zone(s.zone())), args.Now)
}

// OffboardPlan lists everything a leaver holds: every active grant,
// including accounts discovered in apps, grouped per app with the action
// that closes it, plus the ownership-transfer target (the manager by default).
func (s *Service) OffboardPlan(ctx context.Context, id gatehouse.Identity, at time.Time, now bool) (OffboardModel, error) {
	if op, ok := s.Engine.(OffboardPlanner); ok {
		accounts, to, err := op.PlanOffboard(ctx, id.Key())
		if err != nil {
			return OffboardModel{}, err
		}
		for i := range accounts {
			s.describeLine(&accounts[i])
		}
		return s.finishOffboard(ctx, OffboardModel{Identity: id, EffectiveAt: at, Now: now, Accounts: accounts, TransferToEmail: to})
	}
	grants, err := s.Store.Grants(id.Key())
	if err != nil {
		return OffboardModel{}, fmt.Errorf("grants of %s: %w", id.Key(), err)
	}
	byApp := map[string]*AccountLine{}
	t := s.now()
	for _, g := range grants {
		if !g.Active(t) {
			continue
		}
		l := byApp[g.App]
		if l == nil {
			l = &AccountLine{App: g.App, Title: g.App, Action: "disable", Discovered: true}
			if s.Config != nil {
				if app, ok := s.Config.Apps[g.App]; ok {
					if app.Title != "" {
						l.Title = app.Title
					}
					switch {
					case app.Connector == "manual":
						l.Action = "manual"
					case app.Delete:
						l.Action = "delete"
					}
				}
			}
			byApp[g.App] = l
		}
		l.Entitlements = append(l.Entitlements, g.Entitlement)
		if g.Source != gatehouse.SourceDiscovered {
			l.Discovered = false
		}
	}
	m := OffboardModel{Identity: id, EffectiveAt: at, Now: now}
	for _, l := range byApp {
		sort.Strings(l.Entitlements)
		m.Accounts = append(m.Accounts, *l)
	}
	sort.Slice(m.Accounts, func(i, j int) bool { return m.Accounts[i].App < m.Accounts[j].App })
	m.TransferToEmail = id.ManagerEmail
	return s.finishOffboard(ctx, m)
}

// describeLine gives an account line its app's configured title (every
// line, discovered or granted, is listed by title) and, for apps the
// engine only searches (no recorded grant yet), the action leaving takes
// there: delete for `delete: true` apps, a manual task for manual ones
// (for recorded accounts the engine's own plan already says).
func (s *Service) describeLine(l *AccountLine) {
	if l.Title == "" || l.Title == l.App {
		l.Title = appTitle(s.Config, l.App)
	}
	if s.Config == nil {
		return
	}
	app, ok := s.Config.Apps[l.App]
	if !ok {
		return
	}
	switch {
	case l.Action == "":
		l.Action = "disable"
		fallthrough
	case l.Action == "disable" && l.Searched:
		switch {
		case app.Connector == "manual":
			l.Action = "manual"
		case app.Delete:
			l.Action = "delete"
		}
	}
}

func (s *Service) finishOffboard(ctx context.Context, m OffboardModel) (OffboardModel, error) {
	id := m.Identity
	if s.Config != nil && m.TransferToEmail == id.ManagerEmail {
		switch to := s.Config.Defaults.TransferOwnershipTo; {
		case to == "it":
			m.TransferToEmail = s.Config.Admins.ITEmail
		case gatehouse.ValidEmail(to):
			m.TransferToEmail = to
		}
	}
	if m.TransferToEmail != "" && s.Directory != nil {
		m.TransferToUserID, _ = s.Directory.UserIDOf(ctx, m.TransferToEmail)
	}
	runs, err := s.Store.ListRuns(store.RunFilter{IdentityKey: id.Key()})
	if err != nil {
		return OffboardModel{}, fmt.Errorf("runs of %s: %w", id.Key(), err)
	}
	for _, r := range runs {
		if !r.Status.Terminal() {
			m.OpenRuns++
		}
	}
	return m, nil
}

// SubmitOffboard creates the leaver run after the confirmation modal.
func (s *Service) SubmitOffboard(ctx context.Context, actor Actor, form OffboardForm, dedupe string) (gatehouse.Run, gatehouse.Identity, error) {
	if !actor.IT && !actor.HR {
		return gatehouse.Run{}, gatehouse.Identity{}, s.refuse(actor, ErrForbidden, "submit", "offboard", form.IdentityKey, "Only IT and HR can offboard people.")
	}
	id, err := s.Store.GetIdentity(form.IdentityKey)
	if err != nil {
		return gatehouse.Run{}, id, userErr(ErrNotFound, "That person is no longer known to Gatehouse.")
	}
	at, errs := s.checkOffboard(id, form)
	if errs != nil {
		return gatehouse.Run{}, id, errs
	}
	attrs := map[string]string{}
	for k, v := range id.Attributes {
		attrs[k] = v
	}
	if form.TransferToEmail != "" {
		attrs["transfer_to"] = strings.ToLower(form.TransferToEmail)
	}
	id.Attributes = attrs
	ev := gatehouse.Event{
		Type: gatehouse.EventLeaver, Identity: id, Source: "slack:/offboard", Actor: actor.audit(),
		EffectiveAt: at, DedupeKey: "slack:offboard:" + dedupe, ReceivedAt: s.now(), Reason: strings.TrimSpace(form.Reason),
	}
	run, err := s.Engine.Submit(ctx, ev)
	if err != nil {
		return gatehouse.Run{}, id, fmt.Errorf("submit leaver %s: %w", id.Email, err)
	}
	return run, id, nil
}

// ValidateOffboard checks the confirmation modal's fields (store reads
// only), for inline errors in the submission's ack.
func (s *Service) ValidateOffboard(form OffboardForm) FieldErrors {
	id, err := s.Store.GetIdentity(form.IdentityKey)
	if err != nil {
		return nil // reported by SubmitOffboard
	}
	_, errs := s.checkOffboard(id, form)
	return errs
}

func (s *Service) checkOffboard(id gatehouse.Identity, form OffboardForm) (time.Time, FieldErrors) {
	errs := FieldErrors{}
	if form.TransferToUserID != "" && form.TransferToEmail == "" {
		errs[FieldTransferTo] = "Gatehouse cannot find this person's email."
	}
	if form.TransferToEmail != "" && strings.EqualFold(form.TransferToEmail, id.Email) {
		errs[FieldTransferTo] = "Pick someone other than the leaver."
	}
	at := s.now()
	if form.EffectiveDate != "" {
		d, err := gatehouse.ParseDate(form.EffectiveDate)
		switch {
		case err != nil:
			errs[FieldEffective] = "Not a date."
		case d.Before(s.today()):
			errs[FieldEffective] = "That date is in the past."
		case d != s.today():
			at = d.In(id.Zone(s.zone()))
		}
	}
	if len(errs) > 0 {
		return at, errs
	}
	return at, nil
}

// --- /access --------------------------------------------------------------

// AccessResult is the answer to /access: one of the models, or a modal.
type AccessResult struct {
	Access  *AccessModel
	Why     *WhyModel
	Request *RequestModel
	Help    bool
}

// Access answers /access in its four forms.
func (s *Service) Access(ctx context.Context, actor Actor, text string) (AccessResult, error) {
	args, err := ParseAccess(text)
	if err != nil {
		return AccessResult{}, err
	}
	switch args.Verb {
	case AccessHelp:
		return AccessResult{Help: true}, nil
	case AccessRequest:
		if _, err := s.self(actor); err != nil {
			return AccessResult{}, err
		}
		m := s.RequestModel(RequestForm{}, nil)
		return AccessResult{Request: &m}, nil
	}
	var id gatehouse.Identity
	self := args.Target.IsZero()
	if self {
		id, err = s.self(actor)
	} else {
		id, err = s.resolve(ctx, args.Target)
		if err == nil && !strings.EqualFold(id.Email, actor.Email) {
			self = false
			if !actor.IT && !strings.EqualFold(id.ManagerEmail, actor.Email) {
				return AccessResult{}, s.refuse(actor, ErrForbidden, "command", "/access", id.Key(), "Only IT and a person's manager can see their access.")
			}
		} else if err == nil {
			self = true
		}
	}
	if err != nil {
		return AccessResult{}, err
	}
	if args.Verb == AccessWhy {
		if err := s.checkWhyRef(id, args.Ref); err != nil {
			return AccessResult{}, err
		}
		w, err := s.Why(ctx, id, args.Ref)
		if err != nil {
			return AccessResult{}, err
		}
		return AccessResult{Why: &w}, nil
	}
	grants, err := s.activeGrants(id.Key())
	if err != nil {
		return AccessResult{}, err
	}
	pending, err := s.Store.ListApprovals(store.ApprovalFilter{IdentityKey: id.Key(), Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}})
	if err != nil {
		return AccessResult{}, fmt.Errorf("pending approvals of %s: %w", id.Key(), err)
	}
	return AccessResult{Access: &AccessModel{Identity: id, Self: self, Grants: grants, Pending: pending, At: s.now(), Origins: s.origins(grants)}}, nil
}

func (s *Service) self(actor Actor) (gatehouse.Identity, error) {
	if actor.Email == "" {
		return gatehouse.Identity{}, userErr(ErrNotFound, "Slack has no email for you, so Gatehouse cannot tell who you are.")
	}
	id, err := s.Store.IdentityByEmail(actor.Email)
	if errors.Is(err, store.ErrNotFound) {
		return id, userErr(ErrNotFound, "Gatehouse has no record for %s yet.", actor.Email)
	}
	if err != nil {
		return id, fmt.Errorf("look up %s: %w", actor.Email, err)
	}
	return id, nil
}

// origins labels each grant with how it came to be held.
func (s *Service) origins(gs []gatehouse.Grant) map[string]string {
	out := make(map[string]string, len(gs))
	for _, g := range gs {
		out[g.Ref().String()] = GrantOrigin(g, s.Config)
	}
	return out
}

func (s *Service) activeGrants(key string) ([]gatehouse.Grant, error) {
	all, err := s.Store.Grants(key)
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", key, err)
	}
	now := s.now()
	out := all[:0:0]
	for _, g := range all {
		if g.Active(now) {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref().Less(out[j].Ref()) })
	return out, nil
}

// checkWhyRef refuses a ref the configuration does not know (a typo gets
// a did-you-mean), unless the person holds it (a discovered account in an
// app or entitlement that is not configured is still worth explaining).
func (s *Service) checkWhyRef(id gatehouse.Identity, ref gatehouse.EntitlementRef) error {
	err := unknownRef(s.Config, ref)
	if err == nil {
		return nil
	}
	grants, gerr := s.activeGrants(id.Key())
	if gerr != nil {
		return gerr
	}
	for _, g := range grants {
		if g.App == ref.App && g.Entitlement == ref.Entitlement {
			return nil
		}
	}
	return err
}

// Why explains one entitlement: the stored grant's reasons, else what the
// current rules would say.
func (s *Service) Why(ctx context.Context, id gatehouse.Identity, ref gatehouse.EntitlementRef) (WhyModel, error) {
	w := WhyModel{Identity: id, Ref: ref}
	grants, err := s.activeGrants(id.Key())
	if err != nil {
		return w, err
	}
	for _, g := range grants {
		if g.App == ref.App && g.Entitlement == ref.Entitlement {
			g := g
			w.Grant, w.Reasons = &g, g.Reasons
		}
	}
	if s.Planner != nil {
		if p, err := s.Planner.Plan(ctx, id, gatehouse.EventJoiner); err == nil {
			for _, pg := range p.Grants {
				if pg.App == ref.App && pg.Entitlement == ref.Entitlement {
					w.Planned = true
					if len(w.Reasons) == 0 {
						w.Reasons = pg.Reasons
					}
				}
			}
		}
	}
	return w, nil
}

// RequestModel builds the request modal from the catalog.
func (s *Service) RequestModel(form RequestForm, errs FieldErrors) RequestModel {
	m := RequestModel{Form: form, Errors: errs}
	if s.Config == nil {
		return m
	}
	for _, name := range s.Config.AppNames() {
		app := s.Config.Apps[name]
		c := AppChoice{App: name, Title: app.Title}
		if c.Title == "" {
			c.Title = name
		}
		ents := make([]string, 0, len(app.Entitlements))
		for e := range app.Entitlements {
			ents = append(ents, e)
		}
		sort.Strings(ents)
		for _, e := range ents {
			ent := app.Entitlements[e]
			c.Entitlements = append(c.Entitlements, EntChoice{Name: e, Risk: ent.Risk, Description: ent.Description})
		}
		m.Apps = append(m.Apps, c)
	}
	return m
}

// ValidateRequest checks a request form; it is fast (no engine call) so
// package bot can answer with inline errors in the submission's ack.
func (s *Service) ValidateRequest(actor Actor, form RequestForm) (GrantRequest, error) {
	id, err := s.self(actor)
	if err != nil {
		return GrantRequest{}, err
	}
	errs := FieldErrors{}
	ref := gatehouse.EntitlementRef{App: form.App, Entitlement: form.Entitlement}
	if form.Entitlement == "" {
		// The entitlement select carries "app:entitlement" values so one
		// select can list every app's entitlements in option groups.
		if r, err := gatehouse.ParseEntitlementRef(form.App); err == nil && strings.Contains(form.App, ":") {
			ref = r
		} else {
			ref = gatehouse.EntitlementRef{}
		}
	}
	if ref.App == "" {
		errs[FieldEntitlement] = "Pick the access you need."
	} else if s.Config != nil {
		if _, ok := s.Config.Entitlement(ref); !ok {
			errs[FieldEntitlement] = fmt.Sprintf("%s is not in Gatehouse's catalog.", ref)
		}
	}
	d, ok := ParseDuration(form.Duration)
	if !ok {
		errs[FieldDuration] = "Pick how long you need it."
	} else if s.Config != nil && s.Config.Defaults.RequestMaxDuration > 0 && d > s.Config.Defaults.RequestMaxDuration {
		errs[FieldDuration] = fmt.Sprintf("At most %s.", s.Config.Defaults.RequestMaxDuration)
	}
	just := strings.TrimSpace(form.Justification)
	switch {
	case len([]rune(just)) < 10:
		errs[FieldJustification] = "Say in a sentence why you need it (at least 10 characters)."
	case len([]rune(just)) > maxField:
		errs[FieldJustification] = fmt.Sprintf("At most %d characters.", maxField)
	}
	if len(errs) > 0 {
		return GrantRequest{}, errs
	}
	return GrantRequest{Identity: id, Ref: ref, Duration: d, Justification: just, Requester: actor.Email}, nil
}

// SubmitRequest starts a time-bound access request.
func (s *Service) SubmitRequest(ctx context.Context, actor Actor, form RequestForm, dedupe string) (gatehouse.Run, error) {
	req, err := s.ValidateRequest(actor, form)
	if err != nil {
		return gatehouse.Run{}, err
	}
	req.DedupeKey = "slack:request:" + dedupe
	run, err := s.Engine.RequestAccess(ctx, req)
	if err != nil {
		var ue *UserError
		if errors.As(err, &ue) {
			return gatehouse.Run{}, err
		}
		return gatehouse.Run{}, fmt.Errorf("request %s for %s: %w", req.Ref, req.Identity.Email, err)
	}
	return run, nil
}

// --- approvals ------------------------------------------------------------

// CheckApprover re-checks a click against the stored approval: it must still
// be pending, and the actor must be a designated approver who is neither the
// requester nor the subject, and has not decided already. Refusals of people
// who are not approvers are audited.
func (s *Service) CheckApprover(actor Actor, a gatehouse.Approval) error {
	switch a.Status {
	case gatehouse.ApprovalPending:
	case gatehouse.ApprovalExpired:
		return userErr(ErrExpired, "This request expired before anyone decided; nothing was changed.")
	case gatehouse.ApprovalCancelled:
		return userErr(ErrRunCancelled, "This request was cancelled; nothing was changed.")
	default:
		by := ""
		if n := len(a.Decisions); n > 0 {
			by = " by " + a.Decisions[n-1].By
		}
		return userErr(ErrAlreadyDecided, "This request was already %s%s; nothing was changed.", a.Status, by)
	}
	if !a.ExpiresAt.IsZero() && !s.now().Before(a.ExpiresAt) {
		return userErr(ErrExpired, "This request expired before anyone decided; nothing was changed.")
	}
	if a.RunID != "" {
		if r, err := s.Store.GetRun(a.RunID); err == nil && r.Status == gatehouse.RunCancelled {
			return userErr(ErrRunCancelled, "The run behind this request was cancelled; nothing was changed.")
		}
	}
	email := strings.ToLower(actor.Email)
	if email != "" {
		subject := ""
		if id, err := s.Store.GetIdentity(a.IdentityKey); err == nil {
			subject = id.Email
		}
		switch {
		case strings.EqualFold(email, subject) || strings.EqualFold(email, a.IdentityKey):
			return s.refuse(actor, ErrSelfApproval, "approval", a.ID, a.IdentityKey, "You cannot approve your own access; the request stays with its approvers.")
		case strings.EqualFold(email, a.Requester):
			// Four eyes: whoever asked for someone else's access is not
			// the one who approves it.
			return s.refuse(actor, ErrSelfApproval, "approval", a.ID, a.IdentityKey, "You cannot approve a request you made; the request stays with its other approvers.")
		}
	}
	if email == "" || !slices.ContainsFunc(a.Approvers, func(x string) bool { return strings.EqualFold(x, email) }) {
		return s.refuse(actor, ErrNotApprover, "approval", a.ID, a.IdentityKey, "You are not an approver of this request, so your click changed nothing. The attempt was recorded.")
	}
	for _, d := range a.Decisions {
		if strings.EqualFold(d.By, email) {
			return userErr(ErrAlreadyDecided, "You already decided on this request; it waits for another approver.")
		}
	}
	return nil
}

// PrepareDeny checks that actor may deny before the reason modal opens, so
// a forwarded card's Deny button refuses at once.
func (s *Service) PrepareDeny(actor Actor, approvalID string) (gatehouse.Approval, error) {
	a, err := s.Store.GetApproval(approvalID)
	if errors.Is(err, store.ErrNotFound) {
		return a, userErr(ErrNotFound, "This request no longer exists.")
	}
	if err != nil {
		return a, fmt.Errorf("get approval %s: %w", approvalID, err)
	}
	return a, s.CheckApprover(actor, a)
}

// Decide approves or denies. Denials need a reason.
func (s *Service) Decide(ctx context.Context, actor Actor, approvalID string, approve bool, reason string) (gatehouse.Approval, error) {
	a, err := s.PrepareDeny(actor, approvalID)
	if err != nil {
		return a, err
	}
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return a, FieldErrors{FieldReason: "Say why, so the requester knows what to do next."}
	}
	if len([]rune(reason)) > maxField {
		return a, FieldErrors{FieldReason: fmt.Sprintf("At most %d characters.", maxField)}
	}
	out, err := s.Engine.Decide(ctx, approvalID, strings.ToLower(actor.Email), approve, reason)
	if err != nil {
		switch {
		case errors.Is(err, ErrNotApprover):
			return a, s.refuse(actor, ErrNotApprover, "approval", a.ID, a.IdentityKey, "You are not an approver of this request; nothing was changed.")
		case errors.Is(err, ErrSelfApproval):
			msg := "You cannot approve your own access."
			if strings.EqualFold(actor.Email, a.Requester) && !strings.EqualFold(actor.Email, a.IdentityKey) {
				msg = "You cannot approve a request you made."
			}
			return a, s.refuse(actor, ErrSelfApproval, "approval", a.ID, a.IdentityKey, msg)
		case errors.Is(err, ErrAlreadyDecided):
			return a, userErr(ErrAlreadyDecided, "This request was already decided; nothing was changed.")
		case errors.Is(err, ErrExpired):
			return a, userErr(ErrExpired, "This request expired; nothing was changed.")
		case errors.Is(err, ErrRunCancelled):
			return a, userErr(ErrRunCancelled, "The run behind this request was cancelled; nothing was changed.")
		}
		return a, fmt.Errorf("decide %s: %w", approvalID, err)
	}
	return out, nil
}

// --- manual tasks ---------------------------------------------------------

// CheckTask re-checks a task click: open, and assigned to the actor (IT may
// close any task, since escalations land with IT).
func (s *Service) CheckTask(actor Actor, taskID string) (gatehouse.Task, error) {
	t, err := s.Store.GetTask(taskID)
	if errors.Is(err, store.ErrNotFound) {
		return t, userErr(ErrNotFound, "This task no longer exists.")
	}
	if err != nil {
		return t, fmt.Errorf("get task %s: %w", taskID, err)
	}
	if t.Status != gatehouse.TaskOpen {
		return t, userErr(ErrAlreadyDecided, "This task is already %s; nothing was changed.", strings.ReplaceAll(string(t.Status), "_", " "))
	}
	if !actor.IT && !strings.EqualFold(actor.Email, t.Assignee) {
		return t, s.refuse(actor, ErrForbidden, "task", t.ID, t.IdentityKey, "This task is assigned to someone else; nothing was changed. The attempt was recorded.")
	}
	return t, nil
}

// CompleteTask closes a manual task with an evidence note.
func (s *Service) CompleteTask(ctx context.Context, actor Actor, taskID string, done bool, evidence string) (gatehouse.Task, error) {
	t, err := s.CheckTask(actor, taskID)
	if err != nil {
		return t, err
	}
	evidence = strings.TrimSpace(evidence)
	switch {
	case evidence == "":
		return t, FieldErrors{FieldEvidence: "Add a note: what you did, or why it cannot be done."}
	case len([]rune(evidence)) > maxField:
		return t, FieldErrors{FieldEvidence: fmt.Sprintf("At most %d characters.", maxField)}
	}
	out, err := s.Engine.CompleteTask(ctx, taskID, strings.ToLower(actor.Email), done, evidence)
	if err != nil {
		if Stale(err) {
			return t, userErr(ErrAlreadyDecided, "This task was already closed; nothing was changed.")
		}
		return t, fmt.Errorf("complete task %s: %w", taskID, err)
	}
	return out, nil
}

// --- Home -----------------------------------------------------------------

// homeListLimit bounds each Home list; the renderer says "and N more".
const homeListLimit = 500

// Home builds the Home tab for actor: IT's operations view, a manager's
// reports, and everyone's own access and requests.
func (s *Service) Home(ctx context.Context, actor Actor) (HomeModel, error) {
	m := HomeModel{Actor: actor, Now: s.now()}
	email := strings.ToLower(actor.Email)
	if email != "" {
		if id, err := s.Store.IdentityByEmail(email); err == nil {
			m.Identity = &id
			if m.Grants, err = s.activeGrants(id.Key()); err != nil {
				return m, err
			}
			m.Origins = s.origins(m.Grants)
			all, err := s.Store.ListApprovals(store.ApprovalFilter{IdentityKey: id.Key(), Limit: 20})
			if err != nil {
				return m, fmt.Errorf("requests of %s: %w", email, err)
			}
			m.Requests = all
		}
		var err error
		if m.ToDecide, err = s.Store.ListApprovals(store.ApprovalFilter{Approver: email, Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}, Limit: homeListLimit}); err != nil {
			return m, fmt.Errorf("approvals for %s: %w", email, err)
		}
		if m.Tasks, err = s.Store.ListTasks(store.TaskFilter{Assignee: email, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}, Limit: homeListLimit}); err != nil {
			return m, fmt.Errorf("tasks for %s: %w", email, err)
		}
		var reports []ReportLine
		err = s.Store.EachIdentity(func(id gatehouse.Identity) error {
			if strings.EqualFold(id.ManagerEmail, email) && id.Status != gatehouse.StatusTerminated {
				reports = append(reports, ReportLine{Identity: id})
			}
			return nil
		})
		if err != nil {
			return m, fmt.Errorf("reports of %s: %w", email, err)
		}
		if len(reports) > 0 {
			for i := range reports {
				if reports[i].Grants, err = s.activeGrants(reports[i].Identity.Key()); err != nil {
					return m, err
				}
			}
			sort.Slice(reports, func(i, j int) bool { return reports[i].Identity.Name < reports[j].Identity.Name })
			m.Manager = &ManagerHome{Reports: reports, Approvals: m.ToDecide}
		}
	}
	if actor.IT {
		it, err := s.itHome()
		if err != nil {
			return m, err
		}
		m.IT = it
	}
	m.Names = map[string]string{}
	name := func(key string) {
		if _, ok := m.Names[key]; ok || key == "" {
			return
		}
		m.Names[key] = key
		if id, err := s.Store.GetIdentity(key); err == nil && (id.Name != "" || id.Email != "") {
			m.Names[key] = id.Name
			if id.Name == "" {
				m.Names[key] = id.Email
			}
		}
	}
	for _, list := range [][]gatehouse.Approval{m.ToDecide, m.Requests} {
		for _, a := range list {
			name(a.IdentityKey)
		}
	}
	if m.IT != nil {
		for _, a := range m.IT.Approvals {
			name(a.IdentityKey)
		}
	}
	return m, nil
}

func (s *Service) itHome() (*ITHome, error) {
	it := &ITHome{}
	runs, err := s.Store.ListRuns(store.RunFilter{Limit: 2000})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	names := map[string]string{}
	subject := func(key string) string {
		if n, ok := names[key]; ok {
			return n
		}
		n := key
		if id, err := s.Store.GetIdentity(key); err == nil {
			n = id.Name
			if n == "" {
				n = id.Email
			}
		}
		names[key] = n
		return n
	}
	for _, r := range runs {
		switch {
		case r.Status == gatehouse.RunFailed || r.Status == gatehouse.RunBlocked:
			it.Figures.RunsFailed++
			if len(it.Failures) < homeListLimit {
				it.Failures = append(it.Failures, RunLine{Run: r, Subject: subject(r.IdentityKey)})
			}
		case !r.Status.Terminal():
			it.Figures.RunsInFlight++
			if len(it.Runs) < homeListLimit {
				it.Runs = append(it.Runs, RunLine{Run: r, Subject: subject(r.IdentityKey)})
			}
		}
	}
	if it.Tasks, err = s.Store.ListTasks(store.TaskFilter{Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}}); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	it.Figures.OpenTasks = len(it.Tasks)
	if it.Approvals, err = s.Store.ListApprovals(store.ApprovalFilter{Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}}); err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	it.Figures.PendingApprovals = len(it.Approvals)
	now := s.now()
	err = s.Store.EachIdentity(func(gatehouse.Identity) error { it.Figures.Identities++; return nil })
	if err != nil {
		return nil, fmt.Errorf("count identities: %w", err)
	}
	err = s.Store.EachGrant(func(g gatehouse.Grant) error {
		if g.Active(now) {
			it.Figures.ActiveGrants++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count grants: %w", err)
	}
	return it, nil
}

// Holder is implemented by engines that hold runs for confirmation (the
// HR mass-change guard).
type Holder interface {
	Release(ctx context.Context, runID, by string) error
	Discard(ctx context.Context, runID, by string) error
}

// DecideHeld releases or discards held runs: the listed ones, or every held
// run when the list is unknown (after a restart). IT only.
func (s *Service) DecideHeld(ctx context.Context, actor Actor, runIDs []string, release bool) (int, error) {
	if !actor.IT {
		return 0, s.refuse(actor, ErrForbidden, "held", strings.Join(runIDs, ","), "", "Only IT can release or discard held changes.")
	}
	h, ok := s.Engine.(Holder)
	if !ok {
		return 0, errors.New("the engine cannot release held runs")
	}
	if len(runIDs) == 0 {
		runs, err := s.Store.ListRuns(store.RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunHeld}})
		if err != nil {
			return 0, fmt.Errorf("list held runs: %w", err)
		}
		for _, r := range runs {
			runIDs = append(runIDs, r.ID)
		}
	}
	n := 0
	for _, id := range runIDs {
		r, err := s.Store.GetRun(id)
		if err != nil || r.Status != gatehouse.RunHeld {
			continue
		}
		if release {
			err = h.Release(ctx, id, actor.Email)
		} else {
			err = h.Discard(ctx, id, actor.Email)
		}
		if err != nil {
			return n, fmt.Errorf("run %s: %w", id, err)
		}
		n++
	}
	if n == 0 {
		return 0, userErr(ErrAlreadyDecided, "These changes were already released or discarded; nothing was changed.")
	}
	return n, nil
}
