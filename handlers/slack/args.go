package slackhandlers

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// ErrUsage marks a slash command typed with wrong arguments. Its message is
// user-facing: it says what was wrong and how to type the command.
var ErrUsage = errors.New("usage")

// UsageError is a user-facing explanation of a badly typed command.
type UsageError struct {
	Command string
	Problem string
	Usage   string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s — usage: `%s`", e.Problem, e.Usage)
}

// Unwrap lets callers test errors.Is(err, ErrUsage).
func (e *UsageError) Unwrap() error { return ErrUsage }

// Usage lines, shown in help and errors.
const (
	OnboardUsage  = "/onboard [email]"
	OffboardUsage = "/offboard @user|email [now|YYYY-MM-DD]"
	AccessUsage   = "/access [@user | why APP[:ENTITLEMENT] | request | review start --apps a,b --min-risk high --deadline 14d | review status ID]"
)

// maxArgText bounds what we parse: Slack caps command text far below this,
// and a parser fed megabytes by a fuzzer (or a forged envelope) must not
// spend time on it.
const maxArgText = 4000

// Target names a person in a command: a Slack mention or an email.
type Target struct {
	UserID string // from <@U123|name>
	Email  string
}

// IsZero reports whether no person was named.
func (t Target) IsZero() bool { return t.UserID == "" && t.Email == "" }

func (t Target) String() string {
	if t.UserID != "" {
		return "<@" + t.UserID + ">"
	}
	return t.Email
}

// Slack escapes a mention as <@U123> or <@U123|name>; user ids start with U
// or W (Enterprise Grid).
var mentionRe = regexp.MustCompile(`^<@([UW][A-Z0-9]{2,20})(\|[^>]*)?>$`)

// Slack escapes a typed email as <mailto:a@b.c|a@b.c>.
var mailtoRe = regexp.MustCompile(`^<mailto:([^|>]+)(\|[^>]*)?>$`)

// ParseTarget parses one argument naming a person.
func ParseTarget(arg string) (Target, error) {
	arg = strings.TrimSpace(arg)
	if m := mentionRe.FindStringSubmatch(arg); m != nil {
		return Target{UserID: m[1]}, nil
	}
	if m := mailtoRe.FindStringSubmatch(arg); m != nil {
		arg = m[1]
	}
	email := strings.ToLower(arg)
	if gatehouse.ValidEmail(email) {
		return Target{Email: email}, nil
	}
	if strings.HasPrefix(arg, "@") {
		return Target{}, fmt.Errorf("%q is not a mention Slack resolved; pick the person from the @ menu or type their email", arg)
	}
	return Target{}, fmt.Errorf("%q is neither an @mention nor an email address", arg)
}

func fields(text string) ([]string, error) {
	if len(text) > maxArgText {
		return nil, fmt.Errorf("the command text is too long (%d characters)", len(text))
	}
	return strings.Fields(text), nil
}

// OnboardArgs is a parsed /onboard.
type OnboardArgs struct {
	Email string // optional: prefill from HR data when known
}

// ParseOnboard parses "/onboard [email]".
func ParseOnboard(text string) (OnboardArgs, error) {
	f, err := fields(text)
	if err != nil {
		return OnboardArgs{}, &UsageError{"/onboard", err.Error(), OnboardUsage}
	}
	switch len(f) {
	case 0:
		return OnboardArgs{}, nil
	case 1:
		t, err := ParseTarget(f[0])
		if err != nil || t.Email == "" {
			return OnboardArgs{}, &UsageError{"/onboard", fmt.Sprintf("%q is not an email address", f[0]), OnboardUsage}
		}
		return OnboardArgs{Email: t.Email}, nil
	}
	return OnboardArgs{}, &UsageError{"/onboard", "too many arguments", OnboardUsage}
}

// OffboardArgs is a parsed /offboard.
type OffboardArgs struct {
	Target Target
	Now    bool           // "now" (or nothing): effective immediately
	Date   gatehouse.Date // a later effective date, midnight in the person's zone
}

// ParseOffboard parses "/offboard @user|email [now|YYYY-MM-DD]". today is
// the caller's date, so a date in the past is refused.
func ParseOffboard(text string, today gatehouse.Date) (OffboardArgs, error) {
	f, err := fields(text)
	if err != nil {
		return OffboardArgs{}, &UsageError{"/offboard", err.Error(), OffboardUsage}
	}
	if len(f) == 0 {
		return OffboardArgs{}, &UsageError{"/offboard", "say who is leaving", OffboardUsage}
	}
	if len(f) > 2 {
		return OffboardArgs{}, &UsageError{"/offboard", "too many arguments", OffboardUsage}
	}
	t, err := ParseTarget(f[0])
	if err != nil {
		return OffboardArgs{}, &UsageError{"/offboard", err.Error(), OffboardUsage}
	}
	a := OffboardArgs{Target: t, Now: true}
	if len(f) == 2 && !strings.EqualFold(f[1], "now") {
		d, err := gatehouse.ParseDate(f[1])
		if err != nil || d.IsZero() {
			return OffboardArgs{}, &UsageError{"/offboard", fmt.Sprintf("%q is neither `now` nor a date like 2026-12-01", f[1]), OffboardUsage}
		}
		if !today.IsZero() && d.Before(today) {
			return OffboardArgs{}, &UsageError{"/offboard", fmt.Sprintf("%s is in the past; use `now`", d), OffboardUsage}
		}
		a.Now, a.Date = false, d
		if d == today {
			a.Now, a.Date = true, gatehouse.Date{}
		}
	}
	return a, nil
}

// AccessVerb is what /access was asked to do.
type AccessVerb string

// /access verbs.
const (
	AccessSelf    AccessVerb = "self"
	AccessUser    AccessVerb = "user"
	AccessWhy     AccessVerb = "why"
	AccessRequest AccessVerb = "request"
	AccessHelp    AccessVerb = "help"
)

// AccessArgs is a parsed /access.
type AccessArgs struct {
	Verb   AccessVerb
	Target Target                   // AccessUser; AccessWhy optionally (whose access)
	Ref    gatehouse.EntitlementRef // AccessWhy
}

// ParseAccess parses "/access", "/access @user", "/access why APP[:ENT] [@user]",
// "/access request" and "/access help".
func ParseAccess(text string) (AccessArgs, error) {
	f, err := fields(text)
	if err != nil {
		return AccessArgs{}, &UsageError{"/access", err.Error(), AccessUsage}
	}
	if len(f) == 0 {
		return AccessArgs{Verb: AccessSelf}, nil
	}
	switch strings.ToLower(f[0]) {
	case "help":
		return AccessArgs{Verb: AccessHelp}, nil
	case "request":
		if len(f) > 1 {
			return AccessArgs{}, &UsageError{"/access", "`/access request` takes no arguments: the form asks for the rest", AccessUsage}
		}
		return AccessArgs{Verb: AccessRequest}, nil
	case "why":
		if len(f) < 2 || len(f) > 3 {
			return AccessArgs{}, &UsageError{"/access", "say which access, e.g. `/access why github:engineering`", AccessUsage}
		}
		ref, err := gatehouse.ParseEntitlementRef(f[1])
		if err != nil {
			return AccessArgs{}, &UsageError{"/access", fmt.Sprintf("%q is not APP or APP:ENTITLEMENT", f[1]), AccessUsage}
		}
		a := AccessArgs{Verb: AccessWhy, Ref: ref}
		if len(f) == 3 {
			t, err := ParseTarget(f[2])
			if err != nil {
				return AccessArgs{}, &UsageError{"/access", err.Error(), AccessUsage}
			}
			a.Target = t
		}
		return a, nil
	}
	if len(f) > 1 {
		return AccessArgs{}, &UsageError{"/access", "too many arguments", AccessUsage}
	}
	t, err := ParseTarget(f[0])
	if err != nil {
		return AccessArgs{}, &UsageError{"/access", err.Error(), AccessUsage}
	}
	return AccessArgs{Verb: AccessUser, Target: t}, nil
}

// EffectiveAt turns parsed offboard timing into an instant: now, or midnight
// at the start of the date in the person's zone.
func (a OffboardArgs) EffectiveAt(now time.Time, zone *time.Location) time.Time {
	if a.Now || a.Date.IsZero() {
		return now
	}
	return a.Date.In(zone)
}
