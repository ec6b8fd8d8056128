package cards

import (
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
)

// Action and callback ids of the non-human and time-bound access surfaces.
// Button values carry only an identity key or a grant reference.
const (
	ActNHAttest = "nh_attest"
	ActNHRetire = "nh_retire"
	ActNHAccept = "nh_accept"
	ActExtend   = "grant_extend"

	CallbackIdentityRegister = "identity_register"
	CallbackExtend           = "grant_extend"
)

var kindTitles = map[gatehouse.IdentityKind]string{
	gatehouse.KindServiceAccount: "Service account", gatehouse.KindBot: "Bot", gatehouse.KindAIAgent: "AI agent",
}

// IdentityRegisterModal renders /identity register: every field is
// required (no owner, no access).
func IdentityRegisterModal(m sh.RegisterModel) slack.ModalViewRequest {
	var kinds []*slack.OptionBlockObject
	for _, k := range sh.NonHumanKinds {
		kinds = append(kinds, option(string(k), kindTitles[k]))
	}
	kind := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("What is it?", MaxPlaceholder), InputAction, kinds...)
	groups := entitlementGroups(m.Apps)
	var access slack.BlockElement
	if len(groups) > 0 {
		ms := slack.NewOptionsGroupMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Pick the access it needs", MaxPlaceholder), InputAction, groups...)
		access = ms
	} else {
		access = slack.NewPlainTextInputBlockElement(plain("app:entitlement, app:entitlement", MaxPlaceholder), InputAction)
	}
	blocks := []slack.Block{
		section("intro", "A service account, bot or AI agent always has an *owner* (a person accountable for it), a *purpose* and an *expiry*. "+
			"The owner is asked before the expiry whether it is still needed; when the owner leaves, their manager decides."),
		input(sh.FieldNHKind, "Kind", kind, false, m.Errors),
		textInput(sh.FieldNHName, "Name", m.Form.Name, "e.g. Deploy bot", false, false, m.Errors),
		textInput(sh.FieldNHEmail, "Its address", m.Form.Email, "e.g. deploy-bot@example.com", false, false, m.Errors),
		input(sh.FieldNHOwner, "Owner", userSelect(m.Form.OwnerUserID, "Who is accountable for it"), false, m.Errors),
		textInput(sh.FieldNHPurpose, "Purpose", m.Form.Purpose, "What it does and why it needs access", false, true, m.Errors),
		input(sh.FieldNHExpiry, "Expires on", datePicker(m.Form.Expiry), false, m.Errors),
		input(sh.FieldNHAccess, "Access", access, false, m.Errors),
	}
	return modal(CallbackIdentityRegister, "Register identity", "Register", "", blocks)
}

// NonHumanText is the notification text of an attestation or hand-off card.
func NonHumanText(m sh.AttestModel) string {
	if m.Handoff {
		return fmt.Sprintf("%s's owner %s has left: accept ownership or retire it.", m.Identity.Email, m.Identity.Attr("owner_left"))
	}
	return fmt.Sprintf("%s, which you own, expires %s. Is it still needed?", m.Identity.Email, m.Identity.Expiry)
}

// NonHuman renders the owner's attestation card or, with Handoff, the card
// asking a departed owner's manager to take over.
func NonHuman(m sh.AttestModel) []slack.Block {
	id := m.Identity
	kind := kindTitles[id.Kind]
	if kind == "" {
		kind = string(id.Kind)
	}
	name := id.Name
	if name == "" {
		name = id.Email
	}
	var blocks []slack.Block
	facts := fmt.Sprintf("*%s* · %s\n*Purpose:* %s\n*Expires:* %s", esc(name), esc(id.Email), esc(clip(id.Purpose, 500)), id.Expiry)
	if m.Handoff {
		blocks = append(blocks, header(clip(kind+" needs a new owner", MaxHeaderText)),
			section("nh_facts", fmt.Sprintf("%s\n*Previous owner:* %s (has left)\nIts access is *frozen* — nothing is added — until someone owns it.",
				facts, esc(id.Attr("owner_left")))))
	} else {
		blocks = append(blocks, header(clip(kind+" expires "+id.Expiry.String(), MaxHeaderText)),
			section("nh_facts", facts+"\nYou own it. If nobody confirms it is still needed, its access is removed on the expiry date."))
	}
	if m.Note != "" {
		blocks = append(blocks, contextMD("nh_note", esc(m.Note)))
	}
	if m.Done {
		return blocks
	}
	var els []slack.BlockElement
	if m.Handoff {
		els = append(els, button(ActNHAccept, id.Key(), "Accept ownership", slack.StylePrimary))
	} else {
		els = append(els, button(ActNHAttest, id.Key(), clip("Still needed (extend to "+m.ExtendTo.String()+")", MaxButtonText), slack.StylePrimary))
	}
	els = append(els, button(ActNHRetire, id.Key(), "Retire now", slack.StyleDanger))
	return append(blocks, slack.NewActionBlock("nh_actions", els...))
}

// GrantExpiryText is the notification text of the grant-expiry reminder.
func GrantExpiryText(g gatehouse.Grant) string {
	return fmt.Sprintf("Your access to %s ends %s.", g.Ref(), g.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
}

// GrantExpiry renders the reminder before a time-bound grant ends, with
// Extend (a new request that goes through approval again). holder names
// whose access it is when the reader is a non-human's owner.
func GrantExpiry(g gatehouse.Grant, holder string) []slack.Block {
	whose := "Your access"
	if holder != "" {
		whose = esc(holder) + "'s access"
	}
	text := fmt.Sprintf("⏳ %s to *%s* ends %s.\nExtend asks for more time; it goes to the approvers again, and nothing changes until they agree.",
		whose, esc(g.Ref().String()), when(g.ExpiresAt))
	return []slack.Block{
		section("grant_expiry", text),
		slack.NewActionBlock("grant_actions", button(ActExtend, sh.GrantRef(g), "Extend…", slack.StylePrimary)),
	}
}

// ExtendModal asks for how much longer and why.
func ExtendModal(m sh.ExtendModel) slack.ModalViewRequest {
	var durs []*slack.OptionBlockObject
	for _, d := range sh.Durations {
		durs = append(durs, option(d.Value, d.Label))
	}
	dur := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("How much longer", MaxPlaceholder), InputAction, durs...)
	return modal(CallbackExtend, "Extend access", "Ask", sh.GrantRef(m.Grant), []slack.Block{
		section("extend_intro", fmt.Sprintf("*%s* ends %s. The extension is a new request: it needs an approval before anything changes.",
			esc(m.Grant.Ref().String()), when(m.Grant.ExpiresAt))),
		input(sh.FieldDuration, "New duration (from now)", dur, false, m.Errors),
		textInput(sh.FieldJustification, "Why is it still needed?", "", "What you still need it for", false, true, m.Errors),
	})
}

// IdentityList renders `/identity list`.
func IdentityList(ids []gatehouse.Identity) []slack.Block {
	if len(ids) == 0 {
		return []slack.Block{section("nh_none", "No service accounts, bots or AI agents to show.")}
	}
	lines := make([]string, 0, len(ids))
	for _, id := range ids {
		state := string(id.Status)
		if left := id.Attr("owner_left"); left != "" {
			state = "frozen: owner " + left + " left"
		}
		lines = append(lines, fmt.Sprintf("• *%s* (%s) · owner %s · expires %s · %s", esc(id.Email), id.Kind, esc(id.Owner), id.Expiry, esc(strings.TrimSpace(state))))
	}
	return append([]slack.Block{header("Non-human identities")}, lineSections("nh_list", lines, MaxMessageBlocks-1, "identities")...)
}
