package slackhandlers

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/lifecycle/governance"
)

func TestParseReviewCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		verb string
		opts governance.StartOptions
		id   string
		bad  bool
	}{
		{in: "review start", verb: "start"},
		{in: "review start --apps aws,github --min-risk high --team Payments --deadline 14d --reviewers manager,app_owner", verb: "start",
			opts: governance.StartOptions{Apps: "aws,github", MinRisk: "high", Team: "Payments", Deadline: "14d", Reviewers: "manager,app_owner"}},
		{in: `REVIEW Start --name="Q4 prod" --on-deadline=revoke --department Sales`, verb: "start",
			opts: governance.StartOptions{Name: "Q4 prod", OnDeadline: "revoke", Department: "Sales"}},
		{in: "review status c-01abc", verb: "status", id: "c-01abc"},
		{in: "review", bad: true},
		{in: "review stop", bad: true},
		{in: "review status", bad: true},
		{in: "review start --apps", bad: true},
		{in: "review start aws", bad: true},
		{in: "review start --owner me", bad: true},
		{in: "why github", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			verb, opts, id, err := ParseReviewCommand(tc.in)
			if tc.bad {
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || verb != tc.verb || opts != tc.opts || id != tc.id {
				t.Fatalf("= %q %+v %q %v", verb, opts, id, err)
			}
		})
	}
	if !IsReviewCommand(" review start") || IsReviewCommand("reviewer") || IsReviewCommand("") {
		t.Fatal("IsReviewCommand")
	}
}

// FuzzParseReviewCommand: command text is typed by anyone in Slack.
func FuzzParseReviewCommand(f *testing.F) {
	for _, s := range []string{"review start --apps a,b --min-risk high", "review status c-1", `review start --name="x y"`, "review start --", "review \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		verb, opts, _, err := ParseReviewCommand(s)
		if err == nil && verb == "start" {
			if _, err := opts.Request(governance.Actor{Email: "it@example.com", IT: true}); err != nil && !errors.Is(err, governance.ErrBadRequest) {
				t.Fatalf("Request: %v", err)
			}
		}
	})
}

func TestQuotedFields(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a "b c" d`, "a|b c|d"},
		{`--name="Q4 prod" x`, "--name=Q4 prod|x"},
		{"“Q4 prod”", "Q4 prod"},
		{`  `, ""},
		{`""`, ""},
	} {
		got, err := quotedFields(tc.in)
		if err != nil || strings.Join(got, "|") != tc.want {
			t.Errorf("quotedFields(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := quotedFields(`"open`); err == nil {
		t.Error("an open quote was accepted")
	}
}
