package spectest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inTree makes a repository-like tree and runs the test from a package
// directory two levels below its root.
func inTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	pkg := filepath.Join(root, "connectors", "vendor")
	spec := filepath.Join(root, ".ci", "specs", "vendor")
	for _, d := range []string{pkg, spec} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, body := range map[string]string{filepath.Join(root, "go.mod"): "module x\n", filepath.Join(spec, "api.json"): "{}"} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(pkg)
	// t.TempDir may sit behind a symlink (macOS /var): compare resolved.
	r, _ := filepath.EvalSymlinks(root)
	return r
}

func TestPath(t *testing.T) {
	tests := []struct {
		name, rel string
		want      string // "": an error wrapping ErrMissing
	}{
		{"file", ".ci/specs/vendor/api.json", ".ci/specs/vendor/api.json"},
		{"dir", ".ci/specs/vendor", ".ci/specs/vendor"},
		{"missing", ".ci/specs/vendor/nope.json", ""},
		{"not installed", ".ci/specs/other", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := inTree(t)
			got, err := Path("the vendor's API description", tt.rel)
			if tt.want == "" {
				if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "the vendor's API description is missing at ") ||
					!strings.HasSuffix(err.Error(), "run bash .ci/install-deps.sh") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ = filepath.EvalSymlinks(got); got != filepath.Join(root, filepath.FromSlash(tt.want)) {
				t.Fatalf("Path = %s, want %s below %s", got, tt.want, root)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	inTree(t)
	if b, err := ReadFile("desc", ".ci/specs/vendor/api.json"); err != nil || string(b) != "{}" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := ReadFile("desc", ".ci/specs/vendor/nope.json"); !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want ErrMissing", err)
	}
}

func TestRepoRootOfThisRepository(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.Contains(string(b), "module github.com/gatehousehq/gatehouse") {
		t.Fatalf("root %s has no gatehouse go.mod: %v", root, err)
	}
}
