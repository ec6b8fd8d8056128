package cards

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse"
	sh "github.com/gatehousehq/gatehouse/handlers/slack"
)

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
