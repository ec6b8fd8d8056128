package slackhandlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehousehq/gatehouse/lifecycle/governance"
)

// Digest form fields (the keep modal's input block ids).
const (
	FieldKeepReason = "reason"
	FieldKeepDays   = "days"
	FieldOwner      = "owner" // the assign-owner modal's users_select
)

// Digests answers clicks on a posted governance digest: Revoke and Keep per
// line, Revoke all dormant in an app. Authorization and audit are the
// governance service's: every click is checked against the stored digest
// and who may act on that line.
type Digests struct {
	Gov *governance.Service
}

func (a Actor) governance() governance.Actor {
	email := a.Email
	if email == "" {
		email = "slack:" + a.UserID
	}
	return governance.Actor{Email: email, IT: a.IT}
}

// digestErr turns a governance error into what the clicker is told.
func digestErr(err error) error {
	switch {
	case errors.Is(err, governance.ErrNotAllowed):
		return userErr(ErrForbidden, "Only IT, the app's owner or the person's manager can act on this line. Your click was recorded.")
	case errors.Is(err, governance.ErrUnknownItem):
		return userErr(ErrNotFound, "Gatehouse does not know this digest line (the digest may have been removed). Nothing was changed.")
	case errors.Is(err, governance.ErrBadKeep):
		return userErr(ErrInvalid, "Say why the access stays and for how many days.")
	}
	return err
}

// Revoke closes the dormant account a line names.
func (d *Digests) Revoke(ctx context.Context, actor Actor, digestID, item string) (string, error) {
	run, err := d.Gov.Revoke(ctx, digestID, item, actor.governance())
	if err != nil {
		return "", digestErr(err)
	}
	return fmt.Sprintf("Revoking — run %s closes the account; its evidence lands in the audit log.", run.ID), nil
}

// RevokeAppForm checks that actor may act on some dormant line of app
// before the confirmation modal opens, and returns the digest to show.
func (d *Digests) RevokeAppForm(actor Actor, digestID, app string) (governance.Digest, error) {
	dg, err := d.Gov.Load(digestID)
	if err != nil {
		return dg, digestErr(err)
	}
	for _, it := range dg.Dormant {
		if it.App == app && governance.MayDecide(d.Gov.Config, it, actor.governance()) {
			return dg, nil
		}
	}
	return dg, digestErr(governance.ErrNotAllowed)
}

// RevokeApp revokes every dormant line of app that actor may act on.
func (d *Digests) RevokeApp(ctx context.Context, actor Actor, digestID, app string) (string, error) {
	runs, refused, err := d.Gov.RevokeApp(ctx, digestID, app, actor.governance())
	if err != nil && len(runs) == 0 {
		return "", digestErr(err)
	}
	msg := fmt.Sprintf("Revoking %d dormant account(s) in %s, each as its own run.", len(runs), app)
	if refused > 0 {
		msg += fmt.Sprintf(" %d line(s) were left alone: you may not act on them.", refused)
	}
	if err != nil {
		msg += " Some could not be started; IT has the details in the log."
	}
	return msg, err
}

// KeepForm checks that actor may keep the line before the modal opens.
func (d *Digests) KeepForm(actor Actor, digestID, item string) (governance.DormantItem, error) {
	dg, err := d.Gov.Load(digestID)
	if err != nil {
		return governance.DormantItem{}, digestErr(err)
	}
	it, ok := dg.DormantByID(item)
	if !ok {
		return it, digestErr(governance.ErrUnknownItem)
	}
	if !governance.MayDecide(d.Gov.Config, it, actor.governance()) {
		return it, digestErr(governance.ErrNotAllowed)
	}
	return it, nil
}

// ValidateKeep checks the keep modal's fields.
func ValidateKeep(reason, days string) (int, FieldErrors) {
	errs := FieldErrors{}
	if strings.TrimSpace(reason) == "" {
		errs[FieldKeepReason] = "Say why the access stays, for the audit trail."
	}
	n, err := strconv.Atoi(strings.TrimSpace(days))
	if err != nil || n < 1 || n > 3650 {
		errs[FieldKeepDays] = "Pick how many days to snooze."
	}
	if len(errs) > 0 {
		return 0, errs
	}
	return n, nil
}

// Keep records the decision to keep a dormant line for days.
func (d *Digests) Keep(actor Actor, digestID, item, reason string, days int) (string, error) {
	k, err := d.Gov.Keep(digestID, item, actor.governance(), reason, days)
	if err != nil {
		return "", digestErr(err)
	}
	return fmt.Sprintf("Kept. It stays out of the digest until %s.", k.Until.Format("2 Jan 2006")), nil
}

// Disable closes an orphaned account a line names.
func (d *Digests) Disable(ctx context.Context, actor Actor, digestID, item string) (string, error) {
	run, err := d.Gov.DisableOrphan(ctx, digestID, item, actor.governance())
	if err != nil {
		return "", digestErr(err)
	}
	return fmt.Sprintf("Disabling — run %s closes the account by its id; its evidence lands in the audit log.", run.ID), nil
}

// AssignForm checks that actor may give an orphan line an owner before the
// modal opens.
func (d *Digests) AssignForm(actor Actor, digestID, item string) (governance.OrphanItem, error) {
	o, err := d.Gov.CheckOrphan(digestID, item, actor.governance())
	if err != nil {
		return o, digestErr(err)
	}
	return o, nil
}

// Assign records ownerEmail as the owner of an orphaned account.
func (d *Digests) Assign(actor Actor, digestID, item, ownerEmail string) (string, error) {
	if _, err := d.Gov.AssignOwner(digestID, item, actor.governance(), ownerEmail); err != nil {
		if errors.Is(err, governance.ErrUnknownOwner) {
			return "", userErr(ErrNotFound, "%s is not an active person Gatehouse knows; pick someone with an HR record.", ownerEmail)
		}
		return "", digestErr(err)
	}
	return fmt.Sprintf("Recorded: the account belongs to %s. It leaves the orphan list, and their leaving closes it.", ownerEmail), nil
}
