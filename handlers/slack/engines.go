package slackhandlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"github.com/gatehousehq/gatehouse/rules"
	"github.com/gatehousehq/gatehouse/store"
)

// Lifecycle adapts the lifecycle engine to Engine, mapping its sentinel
// errors onto this package's so callers branch on one set.
type Lifecycle struct{ E *lifecycle.Engine }

var _ Engine = Lifecycle{}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lifecycle.ErrNotApprover):
		return fmt.Errorf("%w: %w", ErrNotApprover, err)
	case errors.Is(err, lifecycle.ErrSelfApproval):
		return fmt.Errorf("%w: %w", ErrSelfApproval, err)
	case errors.Is(err, lifecycle.ErrAlreadyDecided), errors.Is(err, lifecycle.ErrTaskClosed):
		return fmt.Errorf("%w: %w", ErrAlreadyDecided, err)
	case errors.Is(err, lifecycle.ErrExpired):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, lifecycle.ErrRunCancelled):
		return fmt.Errorf("%w: %w", ErrRunCancelled, err)
	case errors.Is(err, lifecycle.ErrUnknownIdentity), errors.Is(err, store.ErrNotFound):
		return &UserError{Err: ErrNotFound, Msg: "Gatehouse does not know that person or record."}
	case errors.Is(err, lifecycle.ErrNotAllowed), errors.Is(err, lifecycle.ErrInvalidEvent):
		// The engine's text names the policy that refused; it is safe to show.
		return &UserError{Err: ErrForbidden, Msg: "Gatehouse refused: " + err.Error()}
	}
	return err
}

// Submit implements Engine.
func (l Lifecycle) Submit(ctx context.Context, ev gatehouse.Event) (gatehouse.Run, error) {
	r, _, err := l.E.Submit(ctx, ev)
	return r, mapErr(err)
}

// Decide implements Engine.
func (l Lifecycle) Decide(ctx context.Context, approvalID, approver string, approve bool, reason string) (gatehouse.Approval, error) {
	a, err := l.E.Decide(ctx, approvalID, approver, approve, reason)
	return a, mapErr(err)
}

// CompleteTask implements Engine.
func (l Lifecycle) CompleteTask(ctx context.Context, taskID, by string, done bool, evidence string) (gatehouse.Task, error) {
	t, err := l.E.CompleteTask(ctx, taskID, by, done, evidence)
	return t, mapErr(err)
}

// RequestAccess implements Engine.
func (l Lifecycle) RequestAccess(ctx context.Context, req GrantRequest) (gatehouse.Run, error) {
	r, err := l.E.RequestAccess(ctx, lifecycle.AccessRequest{
		Identity: req.Identity.Key(), Entitlements: []gatehouse.EntitlementRef{req.Ref}, Duration: req.Duration,
		Reason: req.Justification, Requester: req.Requester, Source: "slack:/access", DedupeKey: req.DedupeKey,
	})
	return r, mapErr(err)
}

// PlanOffboard implements OffboardPlanner with the engine's own plan, which
// also knows the apps it will search for undiscovered accounts.
func (l Lifecycle) PlanOffboard(ctx context.Context, identityKey string) ([]AccountLine, string, error) {
	p, err := l.E.PlanOffboard(ctx, identityKey)
	if err != nil {
		return nil, "", mapErr(err)
	}
	out := make([]AccountLine, 0, len(p.Accounts)+len(p.Discover))
	seen := map[string]bool{}
	receiver := map[string]string{}
	for _, r := range p.Receivers {
		receiver[r.App] = receiverText(r.Receiver)
	}
	for _, a := range p.Accounts {
		l := AccountLine{App: a.App, Title: a.Title, Entitlements: a.Entitlements, Action: a.Action, Discovered: len(a.Sources) > 0, Receiver: receiver[a.App]}
		for _, s := range a.Sources {
			if s != gatehouse.SourceDiscovered {
				l.Discovered = false
			}
		}
		seen[a.App] = true
		out = append(out, l)
	}
	for _, app := range p.Discover {
		if !seen[app] {
			// The title and the action (delete for `delete: true` apps)
			// come from the config: Service.describeLine.
			out = append(out, AccountLine{App: app, Entitlements: []string{"(search for accounts)"}, Action: "disable", Discovered: true, Searched: true, Receiver: receiver[app]})
		}
	}
	return out, p.TransferTo, nil
}

// receiverText says who receives a leaver's resources in one app, as the
// offboard modal shows it before the user confirms: "grace@… (manager)",
// with the next rung when the receiver has no account there.
func receiverText(r lifecycle.Receiver) string {
	if r.Email == "" {
		return ""
	}
	t := r.Email
	if r.Role != "" {
		t += " (" + strings.ReplaceAll(r.Role, "_", " ") + ")"
	}
	if !r.HasAccount {
		if len(r.Fallbacks) > 0 {
			t += ", else " + r.Fallbacks[0].Email
		} else {
			t += ", as a hand-off task if the app refuses"
		}
	}
	return t
}

// OffboardPlanner is implemented by engines that compute the complete
// deprovisioning plan themselves; without one the handlers list the grants
// the store holds.
type OffboardPlanner interface {
	PlanOffboard(ctx context.Context, identityKey string) (accounts []AccountLine, transferTo string, err error)
}

// Rules adapts the compiled rules engine to Planner.
type Rules struct {
	E   *rules.Engine
	Now func() time.Time
}

// Plan implements Planner.
func (r Rules) Plan(ctx context.Context, id gatehouse.Identity, ev gatehouse.EventType) (gatehouse.Plan, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	return r.E.Plan(rules.Input{Identity: id, Event: ev, Now: now})
}

// OnboardAttributes implements AttributeLister: the attributes the compiled
// rules read.
func (r Rules) OnboardAttributes() []AttributeInput {
	var out []AttributeInput
	for _, a := range r.E.Attributes() {
		in := AttributeInput{Name: a.Name}
		if !a.Open && len(a.Values) <= maxOptions {
			in.Options = a.Values
		}
		out = append(out, in)
	}
	return out
}

// maxOptions is Slack's limit of options in a static select.
const maxOptions = 100

// AttributeLister is implemented by planners that know which identity
// attributes their rules read (the /onboard modal asks for them).
type AttributeLister interface {
	OnboardAttributes() []AttributeInput
}

// Release implements Holder.
func (l Lifecycle) Release(ctx context.Context, runID, by string) error {
	return mapErr(l.E.Release(ctx, runID, by))
}

// Discard implements Holder.
func (l Lifecycle) Discard(ctx context.Context, runID, by string) error {
	return mapErr(l.E.Discard(ctx, runID, by))
}
