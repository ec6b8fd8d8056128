package gatehouse

import (
	"embed"
	"io/fs"
)

// The example configuration and sample people ship inside the binary so that
// `gatehouse demo` (and `plan` without --config) work on a fresh machine with no
// files, tokens or network: the "embedded default" of the README.
//
//go:embed config.example.yaml examples/people/*.json
var examples embed.FS

// ExampleConfig returns the text of config.example.yaml.
func ExampleConfig() []byte {
	b, err := examples.ReadFile("config.example.yaml")
	if err != nil {
		panic("gatehouse: example config missing from the binary: " + err.Error())
	}
	return b
}

// ExamplePeople returns the sample person files, by base name
// (e.g. "ada-backend.json").
func ExamplePeople() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(examples, "examples/people")
	for _, e := range entries {
		if b, err := examples.ReadFile("examples/people/" + e.Name()); err == nil {
			out[e.Name()] = b
		}
	}
	return out
}
