package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var secretType = reflect.TypeOf(Secret{})

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// Secret is a credential read from the environment (`key: ${ENV_VAR}`) or from
// a file (`key_file: /run/secrets/x`). Its value never appears in output: every
// formatting path (String, GoString, JSON, YAML, %v) prints a redaction, and
// only Value hands the plain text to the code that needs it.
//
// A secret that cannot be resolved at load time (variable unset, file missing)
// is not a load error, because `gatehouse check` and `--simulate` runs must work
// on a laptop without production credentials. Value then returns an error that
// names what to set, and commands that talk to real systems call Require first.
type Secret struct {
	value   string
	source  string // "env:NAME", "file:PATH" or "literal" — safe to print
	problem string // why it could not be resolved; "" when resolved
	pos     Pos
}

// NewSecret builds a resolved secret, for tests and programmatic configs.
func NewSecret(value, source string) Secret { return Secret{value: value, source: source} }

// IsSet reports whether the config mentioned the secret at all.
func (s Secret) IsSet() bool { return s.source != "" }

// Source says where the secret comes from, e.g. "env:OKTA_TOKEN". Safe to log.
func (s Secret) Source() string { return s.source }

// ErrSecretUnresolved is matched (errors.Is) by the error Value returns for a
// secret whose variable is unset or whose file is unreadable, so that
// validation can tell "fill this in before going live" from a broken config.
var ErrSecretUnresolved = errors.New("secret not resolved")

type unresolvedError struct{ msg string }

func (e unresolvedError) Error() string        { return e.msg }
func (e unresolvedError) Is(target error) bool { return target == ErrSecretUnresolved }

// Value returns the secret, or an error naming what to set.
func (s Secret) Value() (string, error) {
	if s.problem != "" {
		return "", unresolvedError{msg: s.pos.String() + ": " + s.problem}
	}
	return s.value, nil
}

// Problem is why the secret is unresolved, or "".
func (s Secret) Problem() string { return s.problem }

// Pos is where the secret was written.
func (s Secret) Pos() Pos { return s.pos }

const redacted = "[redacted]"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// MarshalJSON never writes the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalYAML never writes the value.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalText never writes the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

func (s *Secret) decodeNode(d *decoder, n *yaml.Node, key string) {
	s.pos = d.pos(n)
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "want a secret like ${ENV_VAR}, got %s", kindName(n))
		return
	}
	v := strings.TrimSpace(n.Value)
	if m := envRef.FindStringSubmatch(v); m != nil {
		s.source = "env:" + m[1]
		val, ok := d.env(m[1])
		switch {
		case !ok:
			s.problem = fmt.Sprintf("environment variable %s is not set (used by %s)", m[1], key)
		case val == "":
			s.problem = fmt.Sprintf("environment variable %s is empty (used by %s)", m[1], key)
		default:
			s.value = val
		}
		return
	}
	if strings.Contains(v, "${") {
		d.fail(n, key, "a secret reference must be exactly ${NAME} with letters, digits and _")
		return
	}
	if v == "" {
		d.fail(n, key, "secret is empty; use ${ENV_VAR} or %s_file", lastKey(key))
		return
	}
	// A literal secret in a config file works (handy for loopback tests) but is
	// flagged so nobody ships one by accident.
	s.source, s.value = "literal", v
	d.warn(n, key, "secret written literally in the config; prefer ${ENV_VAR} or %s_file", lastKey(key))
}

func (s *Secret) decodeFile(d *decoder, n *yaml.Node, key string) {
	s.pos = d.pos(n)
	if n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
		d.fail(n, key, "want a file path")
		return
	}
	path := strings.TrimSpace(n.Value)
	s.source = "file:" + path
	b, err := os.ReadFile(path)
	if err != nil {
		s.problem = fmt.Sprintf("cannot read secret file %s (used by %s): %v", path, key, err)
		return
	}
	s.value = strings.TrimRight(string(b), "\r\n")
	if s.value == "" {
		s.problem = fmt.Sprintf("secret file %s is empty (used by %s)", path, key)
	}
}

func lastKey(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}
