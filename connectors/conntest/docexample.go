package conntest

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/config"
)

// DocExample returns the YAML example in the package doc of the Go files in
// dir: the tab-indented block that starts with "apps:". Connector packages
// use it to test that the configuration they document actually loads.
func DocExample(t testing.TB, dir string) string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc == nil {
			continue
		}
		var block []string
		in := false
		for _, line := range strings.Split(f.Doc.Text(), "\n") {
			switch {
			case strings.HasPrefix(line, "\tapps:"):
				in = true
				block = append(block, "apps:")
			case in && strings.HasPrefix(line, "\t"):
				block = append(block, line[1:])
			case in:
				return strings.Join(block, "\n") + "\n"
			}
		}
		if in {
			return strings.Join(block, "\n") + "\n"
		}
	}
	t.Fatalf("no apps: example in the package doc of %s", dir)
	return ""
}

// LoadDocExample wraps a documented apps block into a minimal valid config
// and loads it, failing t on any error.
func LoadDocExample(t testing.TB, apps string) *config.Config {
	t.Helper()
	text := "version: 1\norganization: {name: Example, domain: example.com}\nadmins: {it: [it@example.com]}\n" + apps
	cfg, err := config.Parse("doc-example.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		var el config.ErrorList
		// The example needs no rules; a config does. Anything else is real.
		if errors.As(err, &el) {
			var rest config.ErrorList
			for _, e := range el {
				if e.Key != "rules" {
					rest = append(rest, e)
				}
			}
			if len(rest) == 0 {
				return cfg
			}
			err = rest
		}
		t.Fatalf("documented example does not load:\n%v\n---\n%s", err, text)
	}
	return cfg
}
