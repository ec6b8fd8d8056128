package oktatest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specRel is where Okta's OpenAPI description lives, relative to the
// directory holding the repository (CI checks shared/ out beside the clone).
var specRel = filepath.Join("..", "shared", "third_party", "okta-management-openapi", "management-minimal.yaml")

// Spec is Okta's Management API description, loaded once per process: the
// document has ~89k lines and takes a noticeable time to parse and resolve.
type Spec struct {
	Doc      *openapi3.T
	Router   routers.Router
	Path     string
	LoadTime time.Duration
}

var (
	specOnce sync.Once
	spec     *Spec
	specErr  error
)

// SpecPath finds management-minimal.yaml: $OKTA_OPENAPI_SPEC when set, else
// ../shared/third_party/... beside the repository root (the directory
// holding go.mod, found by walking up from the working directory).
func SpecPath() (string, error) {
	if p := os.Getenv("OKTA_OPENAPI_SPEC"); p != "" {
		return p, nil
	}
	dir, err := spectest.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("okta OpenAPI description: %w", err)
	}
	p := filepath.Join(dir, specRel)
	// A git worktree under wt/NAME has shared/ two levels up.
	for _, cand := range []string{p, filepath.Join(dir, "..", specRel)} {
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
	}
	return "", fmt.Errorf("okta OpenAPI description not found at %s (shared/ must sit beside the repository clone, or set OKTA_OPENAPI_SPEC)", p)
}

// LoadSpec loads and validates the description once per process.
func LoadSpec() (*Spec, error) {
	specOnce.Do(func() {
		start := time.Now()
		p, err := SpecPath()
		if err != nil {
			specErr = err
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(p)
		if err != nil {
			specErr = fmt.Errorf("load %s: %w", p, err)
			return
		}
		// Routes are matched on path only: the fake listens on 127.0.0.1,
		// not on the {yourOktaDomain} server of the description.
		doc.Servers = nil
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			specErr = fmt.Errorf("route %s: %w", p, err)
			return
		}
		spec = &Spec{Doc: doc, Router: r, Path: p, LoadTime: time.Since(start)}
	})
	return spec, specErr
}
