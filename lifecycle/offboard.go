package lifecycle

import (
	"context"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// OffboardPlan is what offboarding an identity will do, for confirmation
// screens (the CLI's prompt, Slack's /offboard modal). It is computed from
// what Gatehouse knows now; discover steps may find more when the run starts.
type OffboardPlan struct {
	Identity gatehouse.Identity
	// Accounts lists every account Gatehouse granted or discovered, per app.
	Accounts []OffboardAccount
	// Discover lists apps that will be searched for accounts Gatehouse never
	// granted (their connectors can list accounts).
	Discover []string
	// TransferTo is the first rung of the transfer ladder (the manager, a
	// non-human's owner, or the configured receiver); who really receives
	// what, per app, is in Receivers.
	TransferTo string
	// Receivers says, per app whose connector transfers ownership, who will
	// receive the leaver's resources — chosen now, before confirmation:
	// the first of manager → app owner → IT that holds an account there —
	// and who is asked next if the app refuses that receiver.
	Receivers []AppReceiver
	// SeatCost is the monthly seat cost that closing the accounts reclaims.
	SeatCost float64
	// RotateCredentials lists apps whose shared credentials must be rotated.
	RotateCredentials []string
	// Steps are the planned steps, in order.
	Steps []gatehouse.Step
}

// OffboardAccount is one app account and what will happen to it.
type OffboardAccount struct {
	App          string
	Title        string
	Entitlements []string
	Sources      []gatehouse.GrantSource
	Action       string // disable, delete, revoke, manual
	SeatCost     float64
	// Revoke lists the entitlements removed one by one before the account
	// is closed (revoke_on_leave).
	Revoke []string
	// Receiver is who receives the leaver's resources in this app; nil
	// when the connector cannot transfer ownership.
	Receiver *Receiver
	// Verify is "re-read" when the app's account is read back after the
	// leaver's steps, "not verified" when the connector cannot re-read it,
	// "" when nothing is closed through the connector.
	Verify string
}

// AppReceiver is the transfer receiver of one app.
type AppReceiver struct {
	App   string
	Title string
	Receiver
}

// PlanOffboard returns the deprovisioning plan for an identity (key, email or
// employee id) without changing anything.
func (e *Engine) PlanOffboard(ctx context.Context, identityKey string) (OffboardPlan, error) {
	id, err := e.lookupIdentity(identityKey)
	if err != nil {
		return OffboardPlan{}, err
	}
	held, err := e.db.Grants(id.Key())
	if err != nil {
		return OffboardPlan{}, err
	}
	run := gatehouse.Run{ID: "plan", IdentityKey: id.Key(), Event: gatehouse.Event{Type: gatehouse.EventLeaver, Identity: id, EffectiveAt: e.clock.Now()}}
	p := &planner{e: e, run: run, id: id, index: map[string]int{}}
	p.leaver(held)
	out := OffboardPlan{Identity: id, TransferTo: e.transferTarget(id), Steps: p.steps}
	receivers := map[string]*Receiver{}
	for _, s := range p.steps {
		if s.Kind != gatehouse.StepTransferOwnership || s.Result[resAccountID] != "" {
			continue
		}
		rc := &Receiver{Rung: Rung{Role: s.Result[resRole], Email: s.Result[resTo]}, Fallbacks: decodeLadder(s.Result[resLadder])}
		rc.HasAccount = p.holdsAccount(rc.Email, s.App)
		receivers[s.App] = rc
		ar := AppReceiver{App: s.App, Receiver: *rc}
		if a := e.cfg.Apps[s.App]; a != nil {
			ar.Title = a.Title
		}
		out.Receivers = append(out.Receivers, ar)
	}
	byApp := groupGrants(held)
	for _, app := range sortedKeys(byApp) {
		acct := OffboardAccount{App: app, Action: "manual"}
		if a := e.cfg.Apps[app]; a != nil {
			acct.Title, acct.SeatCost = a.Title, a.SeatCost
		}
		for _, g := range byApp[app] {
			acct.Entitlements = append(acct.Entitlements, g.Entitlement)
			if !containsSource(acct.Sources, g.Source) {
				acct.Sources = append(acct.Sources, g.Source)
			}
		}
		acct.Receiver = receivers[app]
		for _, s := range p.steps {
			if s.App != app || s.Result[resAccountID] != "" {
				continue
			}
			switch s.Kind {
			case gatehouse.StepVerify:
				acct.Verify = "not verified"
				if _, ok := e.conns[app].(gatehouse.AccountReader); ok {
					acct.Verify = "re-read"
				}
			case gatehouse.StepDelete:
				acct.Action = "delete"
			case gatehouse.StepDisable:
				if acct.Action != "delete" {
					acct.Action = "disable"
				}
			case gatehouse.StepRevoke:
				acct.Revoke = append(acct.Revoke, s.Entitlement)
				if acct.Action == "manual" {
					acct.Action = "revoke"
				}
			}
		}
		out.SeatCost += acct.SeatCost
		out.Accounts = append(out.Accounts, acct)
	}
	for _, s := range p.steps {
		switch {
		case s.Kind == gatehouse.StepDiscover:
			out.Discover = append(out.Discover, s.App)
		case s.Kind == gatehouse.StepManualTask && s.Result["closes_access"] != "true":
			out.RotateCredentials = append(out.RotateCredentials, s.App)
		}
	}
	return out, nil
}

func containsSource(list []gatehouse.GrantSource, s gatehouse.GrantSource) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AccessRequest asks for time-bound access for an identity.
type AccessRequest struct {
	// Identity is the identity's key, email or employee id.
	Identity     string
	Entitlements []gatehouse.EntitlementRef
	// Duration bounds the access (capped by defaults.request_max_duration);
	// 0 means as long as policy allows.
	Duration  time.Duration
	Reason    string
	Requester string // email of who asks (may be the identity)
	Source    string // e.g. "slack:/access"
	// DedupeKey makes the request idempotent (e.g. the Slack view id).
	DedupeKey string
	// RequireApproval makes every requested grant wait for an approval even
	// where policy would not ask (extensions of time-bound access).
	RequireApproval bool
}
