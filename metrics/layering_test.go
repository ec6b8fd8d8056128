package metrics

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLeafPackage keeps metrics a leaf (it imports the root package,
// client_golang and the standard library only) and keeps client_golang in
// it: the rest of Gatehouse reports through its own small interfaces.
func TestLeafPackage(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != ".." && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			inMetrics := dir == "../metrics"
			if strings.HasPrefix(p, "github.com/prometheus/") && !inMetrics {
				t.Errorf("%s imports %s: only package metrics uses Prometheus's libraries", path, p)
			}
			if inMetrics && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") &&
				p != "github.com/gatehousehq/gatehouse" && !strings.HasPrefix(p, "github.com/prometheus/client_golang/") {
				t.Errorf("%s imports %s: metrics imports only the root package and client_golang", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
