package rules

import (
	"os"
	"reflect"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
)

func TestAttributes(t *testing.T) {
	src := `version: 1
organization: {name: Example, domain: example.com}
admins: {it: [it@example.com]}
apps:
  okta: {connector: simulated, idp: true, owner: it@example.com, entitlements: {eng: {kind: group, risk: low}}}
profiles:
  base: {grants: [okta]}
rules:
  - {name: backend, when: 'identity.department == "Engineering" && attr("discipline") == "backend"', profiles: [base]}
  - {name: frontend, when: 'identity.attributes.discipline == "frontend"', profiles: [base]}
  - {name: senior, when: 'inList(identity.seniority, ["senior", "staff"]) || identity.seniority == "principal"', profiles: [base]}
  - {name: managers, when: 'attr("people_manager") == "true" && identity.title != "CEO"', profiles: [base]}
  - {name: cost, when: 'identity.attributes["cost_center"] startsWith "R&D" || attr("cost_center") == "4711"', profiles: [base]}
  - {name: plain, when: 'identity.team in ["Payments"]', profiles: [base]}
`
	cfg, err := config.Parse("a.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Attribute{
		{Name: "cost_center", Values: []string{"4711"}, Open: true},
		{Name: "discipline", Values: []string{"backend", "frontend"}},
		{Name: "people_manager", Values: []string{"true"}},
		{Name: "seniority", Values: []string{"principal", "senior", "staff"}},
	}
	if got := e.Attributes(); !reflect.DeepEqual(got, want) {
		t.Errorf("Attributes() =\n%+v\nwant\n%+v", got, want)
	}
}

// TestAttributesOfTheExample keeps the example config's policy askable:
// the attributes its rules read are the ones the /onboard modal offers.
func TestAttributesOfTheExample(t *testing.T) {
	raw, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("config.example.yaml", raw, func(string) (string, bool) { return "x", true })
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	e, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, a := range e.Attributes() {
		names[a.Name] = true
	}
	for _, n := range []string{"discipline", "seniority", "people_manager"} {
		if !names[n] {
			t.Errorf("attribute %s not found in %+v", n, e.Attributes())
		}
	}
}
