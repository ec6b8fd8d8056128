package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/lifecycle"
)

// The offboard confirmation names, per app, who receives the leaver's
// resources before anyone types yes.
func TestPrintOffboardPlanNamesReceivers(t *testing.T) {
	it := lifecycle.Rung{Role: lifecycle.RoleIT, Email: "it@example.com"}
	p := lifecycle.OffboardPlan{
		Identity:   gatehouse.Identity{Name: "Ada", Email: "ada@example.com"},
		TransferTo: "grace@example.com",
		Accounts: []lifecycle.OffboardAccount{{App: "github", Action: "disable", Entitlements: []string{"account", "member"},
			Sources: []gatehouse.GrantSource{gatehouse.SourceBirthright}, Revoke: []string{"member"}, Verify: "re-read"}},
		Receivers: []lifecycle.AppReceiver{
			{App: "google", Receiver: lifecycle.Receiver{Rung: lifecycle.Rung{Role: lifecycle.RoleManager, Email: "grace@example.com"}, HasAccount: true, Fallbacks: []lifecycle.Rung{it}}},
			{App: "aws", Receiver: lifecycle.Receiver{Rung: it}},
		},
	}
	var b bytes.Buffer
	printOffboardPlan(&b, p, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	out := b.String()
	for _, want := range []string{
		"removes member first; re-read",
		"google       grace@example.com (manager); then it@example.com (it)",
		"aws          it@example.com (it, no account there: a hand-off task if the app refuses)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Resources transfer to") {
		t.Errorf("per-app receivers and the old single line both printed:\n%s", out)
	}
}
