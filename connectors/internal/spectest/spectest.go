// Package spectest is test support shared by the vendor fakes
// (connectors/VENDOR/VENDORtest): it finds the repository root and the
// vendor API descriptions that .ci/install-deps.sh installs below
// .ci/specs. A missing description is an error that says how to install
// it, so a fake fails loudly instead of validating against nothing.
package spectest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrMissing is wrapped by the errors of Path and ReadFile when the file is
// not installed.
var ErrMissing = errors.New("run bash .ci/install-deps.sh")

// RepoRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path returns the absolute path of rel (slash-separated, from the
// repository root) after checking that it exists. what names the
// description in the error, e.g. "Slack's API description (@slack/web-api)".
func Path(what, rel string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is missing at %s: %w", what, p, ErrMissing)
	}
	return p, nil
}

// ReadFile reads rel below the repository root, with Path's errors.
func ReadFile(what, rel string) ([]byte, error) {
	p, err := Path(what, rel)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}
