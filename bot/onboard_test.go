package bot_test

import (
	"context"
	"encoding/json"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
	"github.com/gatehousehq/gatehouse/store"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/bot/cards"
	"github.com/gatehousehq/gatehouse/bot/slacktest"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
)

// TestFirstOnboardingOnAFreshInstall: with nobody in the store, IT onboards
// a person from Slack, picking a manager Gatehouse has never heard of. The
// modal asks for the attributes the rules read (selects of the values they
// compare against); the submitted person gets exactly the plan a
// file-based onboarding (`gatehouse onboard --person FILE`) computes for the
// same person; and the approval the plan needs reaches the manager's DM,
// found by the Slack user picked.
func TestFirstOnboardingOnAFreshInstall(t *testing.T) {
	h := newHarnessWith(t, "onboard.yaml", nil)
	today := time.Now().UTC().Format("2006-01-02")

	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", UserID: "U0IT", ChannelID: "C0IT"}))
	v := h.waitView("U0IT", cards.CallbackOnboard)
	wantSelects := map[string][]string{
		"discipline": {"backend", "frontend"}, "people_manager": {"true"}, "seniority": {"senior", "staff"},
	}
	for name, want := range wantSelects {
		if got := selectOptions(t, v.JSON, sh.AttrField(name)); !reflect.DeepEqual(got, want) {
			t.Errorf("modal asks %s with options %v, want %v", name, got, want)
		}
	}

	vals := onboardValues("ada@example.com", today, "")
	vals[sh.FieldManager] = map[string]slacktest.InputValue{cards.InputAction: {Type: "users_select", SelectedUser: "U0VP"}}
	for name, val := range map[string]string{"discipline": "backend", "seniority": "senior", "people_manager": "true"} {
		vals[sh.AttrField(name)] = map[string]slacktest.InputValue{cards.InputAction: {Type: "static_select", SelectedOption: val}}
	}
	// A value no rule compares against is refused inline (a select cannot
	// send one; a forged submission can).
	bad := map[string]map[string]slacktest.InputValue{}
	for k, x := range vals {
		bad[k] = x
	}
	bad[sh.AttrField("seniority")] = map[string]slacktest.InputValue{cards.InputAction: {Type: "static_select", SelectedOption: "galactic"}}
	if ack := h.acked(h.srv.SendViewSubmission("U0IT", v.ID, bad)); !strings.Contains(string(ack.Payload), sh.AttrField("seniority")) {
		t.Errorf("an attribute value outside the rules' list was not refused inline: %s", ack.Payload)
	}

	ack := h.acked(h.srv.SendViewSubmission("U0IT", v.ID, vals))
	if len(ack.Payload) != 0 {
		t.Fatalf("submission with a manager unknown to Gatehouse refused: %s", ack.Payload)
	}
	run := h.waitRun("ada@example.com", gatehouse.EventJoiner)
	got := run.Event.Identity
	if got.ManagerEmail != "vp@example.com" {
		t.Errorf("manager recorded as %q, want vp@example.com (users.info of U0VP)", got.ManagerEmail)
	}

	// The same person as a file-based onboarding reads them.
	var file gatehouse.Identity
	if err := json.Unmarshal([]byte(`{"email": "ada@example.com", "name": "Ada Lovelace", "title": "Backend Engineer",
		"department": "Engineering", "team": "Payments", "location": "Berlin", "manager_email": "vp@example.com",
		"kind": "employee", "status": "pending", "start_date": "`+today+`",
		"attributes": {"discipline": "backend", "seniority": "senior", "people_manager": "true"}}`), &file); err != nil {
		t.Fatal(err)
	}
	file.Normalize()
	ctx := context.Background()
	want, err := h.svc.Planner.Plan(ctx, file, gatehouse.EventJoiner)
	if err != nil {
		t.Fatal(err)
	}
	have, err := h.svc.Planner.Plan(ctx, got, gatehouse.EventJoiner)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("Slack onboarding plans\n%+v\nthe file-based one plans\n%+v", have, want)
	}
	for _, p := range []string{"backend-engineer", "production", "people-lead"} {
		if !strings.Contains(strings.Join(have.Profiles, ","), p) {
			t.Errorf("profile %s not reached from Slack: %v", p, have.Profiles)
		}
	}

	// aws:prod is high risk: the manager approves, in their own DM.
	card := h.waitMessage("DU0VP", "Access approval needed", "aws")
	h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0VP", Channel: card.Channel, MessageTS: card.TS, ActionID: cards.ActApprove, Value: approvalID(t, card)}))
	if s := h.settle(run.ID).Status; s != gatehouse.RunSucceeded {
		t.Fatalf("joiner ended %s, want succeeded", s)
	}

	// Offboard from Slack: every account closed in the apps themselves,
	// and who-had agrees with them.
	ada := got
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/offboard", Text: "ada@example.com now", UserID: "U0IT", ChannelID: "C0IT"}))
	ov := h.waitView("U0IT", cards.CallbackOffboard)
	h.acked(h.srv.SendViewSubmission("U0IT", ov.ID, map[string]map[string]slacktest.InputValue{}))
	leaver := h.waitRun(ada.Key(), gatehouse.EventLeaver)
	h.finishTasks(leaver.ID)
	if s := h.settle(leaver.ID).Status; s != gatehouse.RunSucceeded {
		t.Fatalf("leaver ended %s, want succeeded", s)
	}
	for _, name := range sortedKeys(h.conns) {
		accts, err := h.conns[name].ListAccounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accts {
			if a.Active && strings.EqualFold(a.Email, ada.Email) {
				t.Errorf("after the leaver %s still shows ada's account active", name)
			}
		}
	}
	for _, p := range have.Grants {
		if who, _ := h.db.WhoHad(p.App, p.Entitlement, time.Now()); len(who) != 0 {
			t.Errorf("who-had %s:%s now = %v after the leaver", p.App, p.Entitlement, who)
		}
	}

	// Onboarding her again the same day is a rehire, not the old joiner run:
	// the accounts are active again in the apps.
	h.acked(h.srv.SendSlashCommand(slacktest.SlashCommand{Command: "/onboard", UserID: "U0IT", ChannelID: "C0IT"}))
	rv := h.waitView("U0IT", cards.CallbackOnboard)
	h.acked(h.srv.SendViewSubmission("U0IT", rv.ID, vals))
	rehire := h.waitRun(ada.Key(), gatehouse.EventRehire)
	if rehire.ID == run.ID {
		t.Fatalf("the rehire was deduplicated into the old joiner run %s", run.ID)
	}
	for i := 0; i < 3; i++ {
		if approvals, _ := h.db.ListApprovals(store.ApprovalFilter{RunID: rehire.ID, Status: []gatehouse.ApprovalStatus{gatehouse.ApprovalPending}}); len(approvals) > 0 {
			card := h.waitMessage("DU0VP", "Access approval needed", approvals[0].ID)
			h.acked(h.srv.SendBlockAction(slacktest.BlockAction{UserID: "U0VP", Channel: card.Channel, MessageTS: card.TS, ActionID: cards.ActApprove, Value: approvals[0].ID}))
		}
		if r, _ := h.db.GetRun(rehire.ID); r.Status.Terminal() {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := h.settle(rehire.ID).Status; s != gatehouse.RunSucceeded {
		t.Fatalf("rehire ended %s, want succeeded", s)
	}
	if approvals, _ := h.db.ListApprovals(store.ApprovalFilter{RunID: rehire.ID}); len(approvals) == 0 {
		t.Errorf("the rehire re-used the old approvals instead of asking again")
	}
	active := 0
	for _, name := range sortedKeys(h.conns) {
		if sim, ok := h.conns[name].(*simulated.Connector); ok {
			if a, found := sim.Find(gatehouse.RefFor(ada)); found && a.Active {
				active++
			}
		}
	}
	if active == 0 {
		t.Fatalf("after the rehire no app shows ada's account active")
	}
}

// finishTasks completes, as their assignees, the manual tasks a run opens
// (credential rotations, hand-offs), the way people do from their cards.
func (h *harness) finishTasks(runID string) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r, _ := h.db.GetRun(runID)
		if r.Status.Terminal() {
			return
		}
		tasks, _ := h.db.ListTasks(store.TaskFilter{RunID: runID, Status: []gatehouse.TaskStatus{gatehouse.TaskOpen}})
		for _, task := range tasks {
			if _, err := h.eng.CompleteTask(h.ctx, task.ID, task.Assignee, true, "done by hand"); err != nil {
				h.t.Logf("complete %s: %v", task.ID, err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// selectOptions returns the option values of the static select in block
// blockID of a view, nil when the block is missing or not a select.
func selectOptions(t *testing.T, view json.RawMessage, blockID string) []string {
	t.Helper()
	var v struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Element struct {
				Type    string `json:"type"`
				Options []struct {
					Value string `json:"value"`
				} `json:"options"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(view, &v); err != nil {
		t.Fatal(err)
	}
	for _, b := range v.Blocks {
		if b.BlockID == blockID && b.Element.Type == "static_select" {
			var out []string
			for _, o := range b.Element.Options {
				out = append(out, o.Value)
			}
			return out
		}
	}
	return nil
}
