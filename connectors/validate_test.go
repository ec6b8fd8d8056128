package connectors_test

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	_ "github.com/gatehousehq/gatehouse/connectors/all"
)

func TestValidate(t *testing.T) {
	src := `version: 1
admins: {it: [U01]}
apps:
  okta: {connector: okta, owner: o@example.com}
  wiki:
    connector: scim
    owner: o@example.com
    settings:
      preset: generic
      auth: {type: bearer, token: "${UNSET_FOR_TEST}"}
  crm:
    connector: scim
    owner: o@example.com
    settings:
      base_url: https://crm.example.com/scim/v2
      auth: {type: bearer, token: "${UNSET_FOR_TEST}"}
  payroll:
    connector: manual
    owner: o@example.com
    settings: {colour: blue}
profiles:
  p: {grants: [okta]}
rules:
  - {name: r, when: 'true', profiles: [p]}
`
	cfg, err := config.Parse("v.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	errs, warns := connectors.Validate(cfg).SplitWarnings()
	wantErr := []string{"apps.wiki.settings", "base_url is required", "v.yaml:20:16: apps.payroll.settings.colour: unknown key"}
	for _, w := range wantErr {
		if !strings.Contains(errs.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, errs)
		}
	}
	// Every connector type the config accepts is built into this binary, so
	// okta's own factory reports its missing settings.
	wantErr = []string{"apps.okta.settings.org_url: org_url is required"}
	for _, w := range wantErr {
		if !strings.Contains(errs.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, errs)
		}
	}
	wantWarn := []string{"UNSET_FOR_TEST is not set"}
	for _, w := range wantWarn {
		if !strings.Contains(warns.Error(), w) {
			t.Errorf("warnings lack %q:\n%v", w, warns)
		}
	}
	if strings.Contains(errs.Error(), "UNSET_FOR_TEST") {
		t.Errorf("an unresolved secret must be a warning, not an error:\n%v", errs)
	}
}
