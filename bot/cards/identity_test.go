package cards

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
)

func identitySamples() []Sample {
	bot := gatehouse.Identity{ID: "ci-bot@example.com", Kind: gatehouse.KindBot, Email: "ci-bot@example.com", Name: "CI bot", Owner: "ada@example.com",
		Purpose: "Deploys main to production after review", Expiry: gatehouse.Date{Year: 2026, Month: 12, Day: 10}, Status: gatehouse.StatusActive}
	left := bot
	left.Attributes = map[string]string{"owner_left": "ada@example.com", "handoff_to": "grace@example.com"}
	g := gatehouse.Grant{Identity: "emp:1001", App: "aws", Entitlement: "poweruser", Source: gatehouse.SourceRequest, ExpiresAt: SampleNow.Add(72 * time.Hour)}
	apps := []sh.AppChoice{{App: "aws", Title: "AWS", Entitlements: []sh.EntChoice{{Name: "readonly", Risk: gatehouse.RiskLow}, {Name: "poweruser", Risk: gatehouse.RiskHigh}}},
		{App: "github", Title: "GitHub", Entitlements: []sh.EntChoice{{Name: "member", Risk: gatehouse.RiskLow}}}}
	return []Sample{
		{Name: "modal_identity_register", Surface: SurfaceModal, Value: IdentityRegisterModal(sh.RegisterModel{Apps: apps})},
		{Name: "modal_identity_register_errors", Surface: SurfaceModal, Value: IdentityRegisterModal(sh.RegisterModel{Apps: apps,
			Form: sh.RegisterForm{Name: "CI bot", Email: "ci-bot@example.com"}, Errors: sh.FieldErrors{sh.FieldNHOwner: "Pick its owner: no owner, no access."}})},
		{Name: "nonhuman_attest", Surface: SurfaceMessage, Value: msg{NonHuman(sh.AttestModel{Identity: bot, ExtendTo: gatehouse.Date{Year: 2027, Month: 2, Day: 24}})}},
		{Name: "nonhuman_attested", Surface: SurfaceMessage, Value: msg{NonHuman(sh.AttestModel{Identity: bot, Done: true, Note: "Extended to 2027-02-24 by ada@example.com"})}},
		{Name: "nonhuman_handoff", Surface: SurfaceMessage, Value: msg{NonHuman(sh.AttestModel{Identity: left, Handoff: true})}},
		{Name: "grant_expiry", Surface: SurfaceMessage, Value: msg{GrantExpiry(g, "")}},
		{Name: "grant_expiry_owner", Surface: SurfaceMessage, Value: msg{GrantExpiry(g, "ci-bot@example.com")}},
		{Name: "modal_extend", Surface: SurfaceModal, Value: ExtendModal(sh.ExtendModel{Grant: g})},
		{Name: "identity_list", Surface: SurfaceMessage, Value: msg{IdentityList([]gatehouse.Identity{bot, left})}},
	}
}

func TestIdentityGolden(t *testing.T) {
	sc := loadSchemas(t)
	for _, s := range identitySamples() {
		t.Run(s.Name, func(t *testing.T) {
			raw, err := s.JSON()
			if err != nil {
				t.Fatal(err)
			}
			validate(t, sc, s, raw)
			golden(t, s.Name, raw)
		})
	}
}

func TestNonHumanCardButtons(t *testing.T) {
	bot := gatehouse.Identity{ID: "k", Kind: gatehouse.KindAIAgent, Email: "agent@example.com", Expiry: gatehouse.Date{Year: 2026, Month: 1, Day: 2}}
	for _, tc := range []struct {
		m    sh.AttestModel
		want []string
		not  []string
	}{
		{sh.AttestModel{Identity: bot, ExtendTo: gatehouse.Date{Year: 2026, Month: 4, Day: 1}}, []string{ActNHAttest, ActNHRetire, "2026-04-01"}, []string{ActNHAccept}},
		{sh.AttestModel{Identity: bot, Handoff: true}, []string{ActNHAccept, ActNHRetire, "frozen"}, []string{ActNHAttest}},
		{sh.AttestModel{Identity: bot, Done: true}, nil, []string{ActNHAccept, ActNHRetire, ActNHAttest}},
	} {
		raw, _ := Sample{Value: msg{NonHuman(tc.m)}}.JSON()
		for _, w := range tc.want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("%+v: missing %s", tc.m, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(string(raw), w) {
				t.Errorf("%+v: has %s", tc.m, w)
			}
		}
	}
}
