package slackhandlers

// The /identity command (register and list non-human identities), the owner
// attestation and hand-off clicks, and Extend on a time-bound grant. Every
// click is re-checked against the stored identity or grant by the engine;
// this file turns forms into engine calls and engine refusals into words.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
)

// Fields of the /identity register and the Extend modals.
const (
	FieldNHKind    = "nh_kind"
	FieldNHName    = "nh_name"
	FieldNHEmail   = "nh_email"
	FieldNHOwner   = "nh_owner"
	FieldNHPurpose = "nh_purpose"
	FieldNHExpiry  = "nh_expiry"
	FieldNHAccess  = "nh_access"
)

// NonHumanEngine is what the non-human flows need from the lifecycle engine;
// Lifecycle implements it.
type NonHumanEngine interface {
	RegisterNonHuman(ctx context.Context, reg lifecycle.Registration) (lifecycle.Registered, error)
	Attest(ctx context.Context, key, by string, until gatehouse.Date) (lifecycle.Attested, error)
	Retire(ctx context.Context, key, by, reason string) (gatehouse.Run, error)
	AcceptOwnership(ctx context.Context, key, by string) (gatehouse.Identity, error)
	ExtendGrant(ctx context.Context, x lifecycle.GrantExtension) (gatehouse.Run, error)
	ExtensionDate(id gatehouse.Identity) gatehouse.Date
	NonHumans(kind gatehouse.IdentityKind) ([]gatehouse.Identity, error)
}

// RegisterNonHuman implements NonHumanEngine.
func (l Lifecycle) RegisterNonHuman(ctx context.Context, reg lifecycle.Registration) (lifecycle.Registered, error) {
	r, err := l.E.RegisterNonHuman(ctx, reg)
	return r, mapErr(err)
}

// Attest implements NonHumanEngine.
func (l Lifecycle) Attest(ctx context.Context, key, by string, until gatehouse.Date) (lifecycle.Attested, error) {
	r, err := l.E.Attest(ctx, key, by, until)
	return r, mapErr(err)
}

// Retire implements NonHumanEngine.
func (l Lifecycle) Retire(ctx context.Context, key, by, reason string) (gatehouse.Run, error) {
	r, err := l.E.Retire(ctx, key, by, reason)
	return r, mapErr(err)
}

// AcceptOwnership implements NonHumanEngine.
func (l Lifecycle) AcceptOwnership(ctx context.Context, key, by string) (gatehouse.Identity, error) {
	r, err := l.E.AcceptOwnership(ctx, key, by)
	return r, mapErr(err)
}

// ExtendGrant implements NonHumanEngine.
func (l Lifecycle) ExtendGrant(ctx context.Context, x lifecycle.GrantExtension) (gatehouse.Run, error) {
	r, err := l.E.ExtendGrant(ctx, x)
	return r, mapErr(err)
}

// ExtensionDate implements NonHumanEngine.
func (l Lifecycle) ExtensionDate(id gatehouse.Identity) gatehouse.Date { return l.E.ExtensionDate(id) }

// NonHumans implements NonHumanEngine.
func (l Lifecycle) NonHumans(kind gatehouse.IdentityKind) ([]gatehouse.Identity, error) {
	return l.E.NonHumans(kind)
}

func (s *Service) nonHumans() (NonHumanEngine, error) {
	if nh, ok := s.Engine.(NonHumanEngine); ok {
		return nh, nil
	}
	return nil, userErr(ErrInvalid, "Non-human identities are not available on this Gatehouse.")
}

// NonHumanKinds are the kinds the register form offers.
var NonHumanKinds = []gatehouse.IdentityKind{gatehouse.KindServiceAccount, gatehouse.KindBot, gatehouse.KindAIAgent}

// RegisterForm is the /identity register modal (or a CLI file) as typed.
type RegisterForm struct {
	Kind, Name, Email, Purpose, Expiry string
	OwnerUserID, OwnerEmail            string   // the picked user, resolved to an email by the bot
	Access                             []string // "app:entitlement"
}

// RegisterModel is the register modal.
type RegisterModel struct {
	Apps   []AppChoice
	Form   RegisterForm
	Errors FieldErrors
}

// IdentityResult answers /identity: a form to open, or a list to show.
type IdentityResult struct {
	Register *RegisterModel
	List     []gatehouse.Identity
	Help     bool
}

// Identity answers /identity [register | list [KIND]].
func (s *Service) Identity(ctx context.Context, actor Actor, text string) (IdentityResult, error) {
	if _, err := s.nonHumans(); err != nil {
		return IdentityResult{}, err
	}
	f := strings.Fields(strings.ToLower(text))
	switch {
	case len(f) == 0 || f[0] == "register":
		m := s.RequestModel(RequestForm{}, nil)
		return IdentityResult{Register: &RegisterModel{Apps: m.Apps}}, nil
	case f[0] == "list":
		var kind gatehouse.IdentityKind
		if len(f) > 1 {
			kind = gatehouse.IdentityKind(f[1])
			if kind.Human() || !kind.Valid() {
				return IdentityResult{}, userErr(ErrInvalid, "Kinds are %s.", kindList())
			}
		}
		l, err := s.ListNonHumans(actor, kind)
		return IdentityResult{List: l}, err
	}
	return IdentityResult{Help: true}, nil
}

func kindList() string {
	var out []string
	for _, k := range NonHumanKinds {
		out = append(out, string(k))
	}
	return strings.Join(out, ", ")
}

// ListNonHumans lists non-humans: all of them for IT, the ones they own
// (or were asked to take over) for everyone else.
func (s *Service) ListNonHumans(actor Actor, kind gatehouse.IdentityKind) ([]gatehouse.Identity, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return nil, err
	}
	all, err := nh.NonHumans(kind)
	if err != nil {
		return nil, err
	}
	var out []gatehouse.Identity
	for _, id := range all {
		if actor.IT || strings.EqualFold(id.Owner, actor.Email) || strings.EqualFold(id.Attr(lifecycle.AttrHandoffTo), actor.Email) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out, nil
}

// ValidateRegister checks the register form: every field is required (no
// owner, no access), the expiry is a future date, the access is in the
// catalog. It makes no engine call.
func (s *Service) ValidateRegister(form RegisterForm) (lifecycle.Registration, FieldErrors) {
	errs := FieldErrors{}
	kind := gatehouse.IdentityKind(strings.TrimSpace(form.Kind))
	if !kind.Valid() || kind.Human() {
		errs[FieldNHKind] = "Pick what it is: " + kindList() + "."
	}
	name := strings.TrimSpace(form.Name)
	if name == "" || len([]rune(name)) > maxField {
		errs[FieldNHName] = "Give it a name."
	}
	email := strings.ToLower(strings.TrimSpace(form.Email))
	if !gatehouse.ValidEmail(email) {
		errs[FieldNHEmail] = "Its address, e.g. ci-bot@example.com."
	}
	owner := strings.ToLower(strings.TrimSpace(form.OwnerEmail))
	switch {
	case owner == "" && form.OwnerUserID != "":
		errs[FieldNHOwner] = "Slack did not tell Gatehouse this person's email; pick someone else or ask IT."
	case owner == "":
		errs[FieldNHOwner] = "Pick its owner: no owner, no access."
	case !gatehouse.ValidEmail(owner):
		errs[FieldNHOwner] = "The owner's address is not valid."
	case owner == email:
		errs[FieldNHOwner] = "A non-human cannot own itself."
	}
	purpose := strings.TrimSpace(form.Purpose)
	if l := len([]rune(purpose)); l < 10 || l > maxField {
		errs[FieldNHPurpose] = "Say in a sentence what it is for (at least 10 characters)."
	}
	exp, err := gatehouse.ParseDate(strings.TrimSpace(form.Expiry))
	if err != nil || exp.IsZero() {
		errs[FieldNHExpiry] = "Pick the date it stops being needed."
	} else if !s.today().Before(exp) {
		errs[FieldNHExpiry] = "The expiry must be after today."
	}
	var refs []gatehouse.EntitlementRef
	for _, a := range form.Access {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		r, err := gatehouse.ParseEntitlementRef(a)
		if err != nil || !strings.Contains(a, ":") {
			errs[FieldNHAccess] = fmt.Sprintf("%q is not app:entitlement.", a)
			break
		}
		if s.Config != nil {
			if _, ok := s.Config.Entitlement(r); !ok {
				errs[FieldNHAccess] = fmt.Sprintf("%s is not in Gatehouse's catalog.", r)
				break
			}
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 && errs[FieldNHAccess] == "" {
		errs[FieldNHAccess] = "Pick the access it needs."
	}
	if len(errs) > 0 {
		return lifecycle.Registration{}, errs
	}
	id := gatehouse.Identity{Kind: kind, Name: name, Email: email, Owner: owner, Purpose: purpose, Expiry: exp}
	return lifecycle.Registration{Identity: id, Access: refs}, nil
}

// SubmitRegister registers the non-human and submits its runs.
func (s *Service) SubmitRegister(ctx context.Context, actor Actor, form RegisterForm, dedupe string) (lifecycle.Registered, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return lifecycle.Registered{}, err
	}
	reg, errs := s.ValidateRegister(form)
	if errs != nil {
		return lifecycle.Registered{}, errs
	}
	if actor.Email == "" {
		return lifecycle.Registered{}, userErr(ErrForbidden, "Gatehouse does not know your email, so it cannot record who registered this.")
	}
	reg.Requester, reg.Source = actor.Email, "slack:/identity"
	if dedupe != "" {
		reg.DedupeKey = "slack:" + dedupe
	}
	out, err := nh.RegisterNonHuman(ctx, reg)
	if err != nil {
		var ue *UserError
		if errors.As(err, &ue) {
			return out, err
		}
		return out, fmt.Errorf("register %s: %w", reg.Identity.Email, err)
	}
	return out, nil
}

// AttestModel is the owner's attestation card (and the manager's hand-off
// card, when Handoff is set).
type AttestModel struct {
	Identity gatehouse.Identity
	ExtendTo gatehouse.Date
	Handoff  bool   // the owner left: accept ownership or retire
	Note     string // shown under the card once acted on
	Done     bool   // no more buttons
}

// NonHumanCard loads what the attestation or hand-off card shows.
func (s *Service) NonHumanCard(key string, handoff bool) (AttestModel, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return AttestModel{}, err
	}
	id, err := s.Store.GetIdentity(key)
	if err != nil {
		return AttestModel{}, err
	}
	return AttestModel{Identity: id, ExtendTo: nh.ExtensionDate(id), Handoff: handoff}, nil
}

// Attest is the owner's "still needed" click.
func (s *Service) Attest(ctx context.Context, actor Actor, key string) (string, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return "", err
	}
	res, err := nh.Attest(ctx, key, actor.Email, gatehouse.Date{})
	if err != nil {
		return "", err
	}
	if res.Pending != nil {
		return fmt.Sprintf("Extending %s to %s goes past what an owner may decide alone; IT has been asked to approve (run %s).", res.Identity.Email, res.Until, res.Pending.ID), nil
	}
	return fmt.Sprintf("Thanks — %s now runs until %s. You will be asked again before then.", res.Identity.Email, res.Until), nil
}

// Retire is "Retire now" (owner, hand-off receiver or IT).
func (s *Service) Retire(ctx context.Context, actor Actor, key string) (string, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return "", err
	}
	r, err := nh.Retire(ctx, key, actor.Email, "")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s is being retired: its access is closed by run %s.", r.Event.Identity.Email, r.ID), nil
}

// AcceptOwnership is the hand-off card's "Accept ownership".
func (s *Service) AcceptOwnership(ctx context.Context, actor Actor, key string) (string, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return "", err
	}
	id, err := nh.AcceptOwnership(ctx, key, actor.Email)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("You own %s now; its access is no longer frozen. It expires %s.", id.Email, id.Expiry), nil
}

// GrantRef names a time-bound grant in a button value: IDENTITY|APP|ENT.
func GrantRef(g gatehouse.Grant) string { return g.Identity + "|" + g.App + "|" + g.Entitlement }

// ParseGrantRef reads a GrantRef.
func ParseGrantRef(v string) (key string, ref gatehouse.EntitlementRef, ok bool) {
	p := strings.Split(v, "|")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return "", ref, false
	}
	return p[0], gatehouse.EntitlementRef{App: p[1], Entitlement: p[2]}, true
}

// ExtendModel is the Extend modal.
type ExtendModel struct {
	Grant  gatehouse.Grant
	Errors FieldErrors
}

// CheckExtend re-checks an Extend click: the grant is still held and the
// clicker is its holder (or, for a non-human, its owner).
func (s *Service) CheckExtend(actor Actor, value string) (ExtendModel, error) {
	key, ref, ok := ParseGrantRef(value)
	if !ok {
		return ExtendModel{}, userErr(ErrInvalid, "Gatehouse could not read that button; nothing was changed.")
	}
	g, err := s.Store.GetGrant(key, ref.App, ref.Entitlement)
	if err != nil || !g.RevokedAt.IsZero() {
		return ExtendModel{}, userErr(ErrNotFound, "That access has already ended; request it again with `/access request`.")
	}
	id, err := s.Store.GetIdentity(key)
	if err != nil {
		return ExtendModel{}, userErr(ErrNotFound, "Gatehouse no longer knows who holds that access.")
	}
	who := strings.ToLower(actor.Email)
	if who == "" || (who != id.Email && who != id.Owner) {
		return ExtendModel{}, s.refuse(actor, ErrForbidden, "extend", GrantRef(g), key, "Only the holder of this access (or a bot's owner) can ask to extend it.")
	}
	return ExtendModel{Grant: g}, nil
}

// ValidateExtend checks the Extend modal.
func ValidateExtend(duration, justification string) (FieldErrors, bool) {
	errs := FieldErrors{}
	if _, ok := ParseDuration(duration); !ok {
		errs[FieldDuration] = "Pick how much longer you need it."
	}
	if l := len([]rune(strings.TrimSpace(justification))); l < 10 || l > maxField {
		errs[FieldJustification] = "Say in a sentence why you still need it (at least 10 characters)."
	}
	return errs, len(errs) == 0
}

// SubmitExtend asks for the extension; it goes through approval again.
func (s *Service) SubmitExtend(ctx context.Context, actor Actor, value, duration, justification, dedupe string) (gatehouse.Run, error) {
	nh, err := s.nonHumans()
	if err != nil {
		return gatehouse.Run{}, err
	}
	m, err := s.CheckExtend(actor, value)
	if err != nil {
		return gatehouse.Run{}, err
	}
	if errs, ok := ValidateExtend(duration, justification); !ok {
		return gatehouse.Run{}, errs
	}
	d, _ := ParseDuration(duration)
	return nh.ExtendGrant(ctx, lifecycle.GrantExtension{Identity: m.Grant.Identity, Ref: m.Grant.Ref(), Duration: d,
		Reason: strings.TrimSpace(justification), Requester: actor.Email, DedupeKey: dedupe})
}
