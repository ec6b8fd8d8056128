package slackhandlers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle/governance"
)

// ReviewUsage is the /access review command line.
const ReviewUsage = "/access review start [--apps a,b] [--min-risk high] [--team T] [--department D] [--deadline 14d] [--reviewers manager,app_owner] [--on-deadline revoke|keep|escalate] [--name N] | /access review status ID"

// FieldReviewReason is the Keep all modal's reason field.
const FieldReviewReason = "review_reason"

// Reviews answers access review commands and clicks. Authorization and
// audit are the governance service's: every click is checked against the
// stored item and who reviews it.
type Reviews struct {
	Gov *governance.Reviews
}

// reviewErr turns a governance error into what the clicker is told.
func reviewErr(err error) error {
	switch {
	case errors.Is(err, governance.ErrNotAllowed):
		return userErr(ErrForbidden, "Only the line's reviewer or IT can decide it, and nobody reviews their own access. Your click was recorded.")
	case errors.Is(err, governance.ErrUnknownItem), errors.Is(err, governance.ErrNoCampaign):
		return userErr(ErrNotFound, "Gatehouse does not know this access review line. Nothing was changed.")
	case errors.Is(err, governance.ErrDecided):
		return userErr(ErrAlreadyDecided, "This line was already decided; the decision stands.")
	case errors.Is(err, governance.ErrCampaignClosed):
		return userErr(ErrAlreadyDecided, "This access review is closed.")
	case errors.Is(err, governance.ErrNeedReason):
		return userErr(ErrInvalid, "Say why the access stays, for the audit trail.")
	case errors.Is(err, governance.ErrEmptyCampaign):
		return userErr(ErrInvalid, "No active access matches that scope; no review was started.")
	case errors.Is(err, governance.ErrBadRequest):
		return &UsageError{"/access review", err.Error(), ReviewUsage}
	}
	return err
}

// IsReviewCommand reports whether /access text is a review command.
func IsReviewCommand(text string) bool {
	f := strings.Fields(text)
	return len(f) > 0 && strings.EqualFold(f[0], "review")
}

// ParseReviewCommand parses "review start --flag value …" (also
// --flag=value) or "review status ID".
func ParseReviewCommand(text string) (verb string, opts governance.StartOptions, id string, err error) {
	if _, err := fields(text); err != nil {
		return "", opts, "", &UsageError{"/access review", err.Error(), ReviewUsage}
	}
	f, err := quotedFields(text)
	if err != nil {
		return "", opts, "", &UsageError{"/access review", err.Error(), ReviewUsage}
	}
	if len(f) < 2 || !strings.EqualFold(f[0], "review") {
		return "", opts, "", &UsageError{"/access review", "say `start` or `status ID`", ReviewUsage}
	}
	switch verb = strings.ToLower(f[1]); verb {
	case "status":
		if len(f) != 3 {
			return "", opts, "", &UsageError{"/access review", "`status` takes the review's id", ReviewUsage}
		}
		return verb, opts, f[2], nil
	case "start":
	default:
		return "", opts, "", &UsageError{"/access review", fmt.Sprintf("%q is not start or status", f[1]), ReviewUsage}
	}
	dest := map[string]*string{"apps": &opts.Apps, "min-risk": &opts.MinRisk, "team": &opts.Team, "department": &opts.Department,
		"deadline": &opts.Deadline, "reviewers": &opts.Reviewers, "on-deadline": &opts.OnDeadline, "name": &opts.Name}
	rest := f[2:]
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		if !strings.HasPrefix(tok, "--") {
			return "", opts, "", &UsageError{"/access review", fmt.Sprintf("%q is not a --flag", tok), ReviewUsage}
		}
		key, val, hasVal := strings.Cut(strings.TrimPrefix(tok, "--"), "=")
		p, ok := dest[strings.ToLower(key)]
		if !ok {
			return "", opts, "", &UsageError{"/access review", fmt.Sprintf("unknown flag --%s", key), ReviewUsage}
		}
		if !hasVal {
			if i+1 >= len(rest) {
				return "", opts, "", &UsageError{"/access review", fmt.Sprintf("--%s needs a value", key), ReviewUsage}
			}
			i++
			val = rest[i]
		}
		*p = val
	}
	return verb, opts, "", nil
}

// quotedFields splits on spaces, keeping "double-quoted text" (Slack may
// send typographic quotes) together, also inside --flag="a b".
func quotedFields(text string) ([]string, error) {
	text = strings.NewReplacer("\u201c", `"`, "\u201d", `"`).Replace(text)
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range text {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		return nil, errors.New("a quote is not closed")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

// Command runs /access review: start (IT only) or status.
func (r *Reviews) Command(ctx context.Context, actor Actor, text string) (string, error) {
	verb, opts, id, err := ParseReviewCommand(text)
	if err != nil {
		return "", err
	}
	who := actor.governance()
	if !actor.IT {
		_, err := r.Gov.Start(ctx, governance.StartRequest{By: who}) // refused and audited
		if errors.Is(err, governance.ErrNotAllowed) {
			return "", userErr(ErrForbidden, "Only IT can start or follow access reviews.")
		}
		return "", reviewErr(err)
	}
	if verb == "status" {
		c, per, err := r.Gov.Progress(id)
		if err != nil {
			return "", reviewErr(err)
		}
		return StatusText(c, per), nil
	}
	req, err := opts.Request(who)
	if err != nil {
		return "", reviewErr(err)
	}
	c, err := r.Gov.Start(ctx, req)
	if err != nil {
		return "", reviewErr(err)
	}
	return fmt.Sprintf("Access review %s started: %d line(s) (%s), deadline %s, then %s. Reviewers get a DM; progress is posted in the IT channel.",
		c.ID, c.Items, governance.ScopeText(c.Scope), c.Deadline.Format("2 Jan 2006"), c.OnDeadline), nil
}

// StatusText is a campaign's progress in a line or a few.
func StatusText(c gatehouse.Campaign, per []governance.ReviewerProgress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Access review %s (%s): %s — %d/%d decided, %d kept, %d revoked; deadline %s (then %s).",
		c.ID, governance.ScopeText(c.Scope), c.Status, c.Decided, c.Items, c.Kept, c.Revoked, c.Deadline.Format("2 Jan 2006 15:04 MST"), c.OnDeadline)
	shown := 0
	for _, p := range per {
		if p.Pending == 0 || shown == 10 {
			continue
		}
		shown++
		fmt.Fprintf(&b, "\n• %s: %d of %d undecided", p.Reviewer, p.Pending, p.Total)
	}
	return b.String()
}

// Decide records a Keep or Revoke click on one line, and returns the line
// as decided and what to tell the clicker.
func (r *Reviews) Decide(ctx context.Context, actor Actor, campaignID, item string, d gatehouse.ReviewDecision) (gatehouse.ReviewItem, string, error) {
	it, err := r.Gov.Decide(ctx, campaignID, item, actor.governance(), d, "")
	if err != nil {
		return it, "", reviewErr(err)
	}
	if it.Decision == gatehouse.ReviewRevoke {
		if it.RunID == "" {
			return it, fmt.Sprintf("Recorded: revoke %s's %s (it was already gone).", it.Email, it.Ref()), nil
		}
		return it, fmt.Sprintf("Revoking %s's %s — run %s; its evidence lands in the audit log.", it.Email, it.Ref(), it.RunID), nil
	}
	return it, fmt.Sprintf("Kept %s's %s.", it.Email, it.Ref()), nil
}

// KeepAllForm checks that actor has undecided lines to keep before the
// modal opens, and returns how many.
func (r *Reviews) KeepAllForm(actor Actor, campaignID string) (gatehouse.Campaign, int, error) {
	c, err := r.Gov.Campaign(campaignID)
	if err != nil {
		return c, 0, reviewErr(err)
	}
	mine, err := r.Gov.Pending(campaignID, actor.governance().Email)
	if err != nil {
		return c, 0, err
	}
	n := 0
	for _, it := range mine {
		if governance.MayReview(it, actor.governance()) {
			n++
		}
	}
	if n == 0 {
		return c, 0, userErr(ErrInvalid, "You have no undecided line left in this review.")
	}
	return c, n, nil
}

// ValidateKeepAll checks the Keep all modal.
func ValidateKeepAll(reason string) FieldErrors {
	if strings.TrimSpace(reason) == "" {
		return FieldErrors{FieldReviewReason: "Say why the access stays, for the audit trail."}
	}
	return nil
}

// KeepAll keeps every undecided line of actor's in the campaign.
func (r *Reviews) KeepAll(ctx context.Context, actor Actor, campaignID, reason string) (string, error) {
	n, err := r.Gov.KeepAll(ctx, campaignID, actor.governance(), reason)
	if err != nil {
		return "", reviewErr(err)
	}
	return fmt.Sprintf("Kept %d line(s) with your reason. Thank you for reviewing.", n), nil
}
