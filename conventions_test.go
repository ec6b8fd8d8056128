package gatehouse_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// importRule says which module-relative directories may import a path prefix.
type importRule struct {
	prefix  string
	allowed []string // directory prefixes relative to the module root; "" never matches
	why     string
}

// The layering rules from the design: one package per dependency, so a
// dependency can be replaced by touching one package.
var importRules = []importRule{
	{"go.etcd.io/bbolt", []string{"store"}, "only store talks to the database"},
	{"github.com/slack-go/slack", []string{"bot"}, "only bot knows Slack's types"},
	{"github.com/expr-lang/expr", []string{"rules"}, "only rules compiles expressions"},
	{"github.com/go-ldap/ldap", []string{"connectors/ldap"}, "LDAP stays in its connector"},
	{"github.com/elimity-com/scim", []string{"connectors/scim"}, "the SCIM server library is a test peer"},
}

type goFile struct {
	dir, path string
	imports   []string
	pkg       string
	hasDoc    bool
	test      bool
}

func moduleFiles(t *testing.T) []goFile {
	t.Helper()
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		gf := goFile{dir: filepath.ToSlash(filepath.Dir(path)), path: path, pkg: f.Name.Name, hasDoc: f.Doc != nil, test: strings.HasSuffix(path, "_test.go")}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			gf.imports = append(gf.imports, p)
		}
		out = append(out, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func allowedIn(dir string, prefixes []string) bool {
	for _, p := range prefixes {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

func TestImportLayering(t *testing.T) {
	for _, f := range moduleFiles(t) {
		for _, im := range f.imports {
			for _, r := range importRules {
				if strings.HasPrefix(im, r.prefix) && !allowedIn(f.dir, r.allowed) {
					t.Errorf("%s imports %s: %s", f.path, im, r.why)
				}
			}
			// The root package is the shared vocabulary: standard library only.
			if f.dir == "." && !f.test && strings.Contains(strings.SplitN(im, "/", 2)[0], ".") {
				t.Errorf("%s imports %s: the root package uses the standard library only", f.path, im)
			}
			// handlers knows no Slack types (bot translates them).
			if allowedIn(f.dir, []string{"handlers"}) && strings.HasPrefix(im, "github.com/gatehousehq/gatehouse/bot") {
				t.Errorf("%s imports %s: handlers must not depend on the Slack transport", f.path, im)
			}
			if im == "github.com/gatehousehq/gatehouse/cmd/gatehouse" {
				t.Errorf("%s imports the command package", f.path)
			}
		}
	}
}

func TestEveryPackageHasADocComment(t *testing.T) {
	docs := map[string]bool{}
	for _, f := range moduleFiles(t) {
		if f.test {
			continue
		}
		if _, ok := docs[f.dir]; !ok {
			docs[f.dir] = false
		}
		if f.hasDoc {
			docs[f.dir] = true
		}
	}
	for dir, ok := range docs {
		if !ok {
			t.Errorf("package in %s has no package doc comment (// Package name …)", dir)
		}
	}
}

func TestNoPlaceholderPackages(t *testing.T) {
	counts := map[string]int{}
	for _, f := range moduleFiles(t) {
		if !f.test {
			counts[f.dir]++
		}
	}
	for dir, n := range counts {
		if n == 0 {
			t.Errorf("%s holds only tests", dir)
		}
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal("run from the module root")
	}
}
