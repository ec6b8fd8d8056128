package rules

import (
	"testing"

	"github.com/gatehousehq/gatehouse/config"
)

// FuzzCompile: whatever config text loads (with or without errors), Compile
// does not panic, and a compiled engine plans without panicking.
func FuzzCompile(f *testing.F) {
	f.Add(testConfig)
	f.Add("version: 1\nadmins: {it: [U0IT00001]}\napps: {a: {connector: manual, owner: o@example.com}}\nprofiles: {p: {grants: [a], includes: [p]}}\nrules:\n  - {name: r, when: 'matches(identity.name, \"(\")', profiles: [p], exclude: [a]}\n")
	f.Add("rules:\n  - when: |\n      previous.team ==\n    expires: now\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, _ := config.Parse("fuzz.yaml", []byte(text), func(string) (string, bool) { return "", false })
		if cfg == nil {
			return
		}
		e, err := Compile(cfg)
		if err != nil || e == nil {
			return
		}
		_, _ = e.Plan(Input{Identity: person("a@example.com"), Now: testNow})
	})
}
