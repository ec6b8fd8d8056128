package config

import (
	"strings"
	"testing"
	"time"
)

func TestShutdownGrace(t *testing.T) {
	base := "version: 1\norganization: {name: X, domain: example.com}\nadmins: {it: [it@example.com]}\n" +
		"apps:\n  okta: {connector: simulated, owner: it@example.com, idp: true, entitlements: {users: {kind: group, risk: low}}}\n" +
		"profiles:\n  base: {grants: [okta:users]}\nrules:\n  - {name: all, when: \"true\", profiles: [base]}\n"
	for _, tc := range []struct {
		name, yaml string
		want       time.Duration
		err        string
	}{
		{"default", "", 10 * time.Second, ""},
		{"set", "engine: {shutdown_grace: 25s}\n", 25 * time.Second, ""},
		{"negative", "engine: {shutdown_grace: -1s}\n", 0, "engine.shutdown_grace"},
		{"too long", "engine: {shutdown_grace: 1h}\n", 0, "engine.shutdown_grace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(base+tc.yaml), func(string) (string, bool) { return "", false })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Engine.ShutdownGrace != tc.want {
				t.Fatalf("grace %v, want %v", cfg.Engine.ShutdownGrace, tc.want)
			}
		})
	}
}
