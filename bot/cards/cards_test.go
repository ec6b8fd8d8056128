package cards

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/bot/slacktest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current renderers")

// schemaPath finds the shared Block Kit schema: ../shared beside the repo root.
func schemaPath(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "third_party", "slack-block-kit-schema", "slack-block-kit.schema.json")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

type schemas struct{ blocks, modal, home *jsonschema.Schema }

func loadSchemas(t *testing.T) *schemas {
	p := schemaPath(t)
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("parse %s: %v", p, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "file:///slack-block-kit.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s := &schemas{}
	for _, x := range []struct {
		ref string
		dst **jsonschema.Schema
	}{{"", &s.blocks}, {"#/$defs/modal_view", &s.modal}, {"#/$defs/home_view", &s.home}} {
		if *x.dst, err = c.Compile(url + x.ref); err != nil {
			t.Fatalf("compile schema%s: %v", x.ref, err)
		}
	}
	return s
}

func validate(t *testing.T, sc *schemas, s Sample, raw []byte) {
	t.Helper()
	var errs []error
	switch s.Surface {
	case SurfaceMessage:
		var m struct {
			Blocks json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		errs = slacktest.ValidateMessageBlocks(m.Blocks)
		if sc != nil {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Blocks))
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.blocks.Validate(inst); err != nil {
				errs = append(errs, err)
			}
		}
	default:
		errs = slacktest.ValidateView(raw)
		if sc != nil {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			sch := sc.modal
			if s.Surface == SurfaceHome {
				sch = sc.home
			}
			if err := sch.Validate(inst); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, structural(raw)...)
	for _, e := range errs {
		t.Errorf("%s: %v", s.Name, e)
	}
}

// structural checks what neither the schema nor the limit validator does:
// button values carry only an id (no JSON, no spaces), action ids are known.
func structural(raw []byte) []error {
	var errs []error
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "button" {
				val, _ := x["value"].(string)
				if strings.ContainsAny(val, " {}\"\n") {
					errs = append(errs, fmt.Errorf("button value %q is not a bare id", val))
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	walk(v)
	return errs
}

func TestGolden(t *testing.T) {
	sc := loadSchemas(t)
	if sc == nil {
		t.Log("shared Block Kit schema not found; checking limits only")
	}
	seen := map[string]bool{}
	for _, s := range Samples() {
		t.Run(s.Name, func(t *testing.T) {
			if seen[s.Name] {
				t.Fatalf("duplicate sample name %s", s.Name)
			}
			seen[s.Name] = true
			raw, err := s.JSON()
			if err != nil {
				t.Fatal(err)
			}
			validate(t, sc, s, raw)
			golden(t, s.Name, raw)
		})
	}
}

// golden compares raw with testdata/NAME.golden.json, or rewrites the file
// under -update.
func golden(t *testing.T, name string, raw []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot/cards -update)", err)
	}
	if !bytes.Equal(want, raw) {
		t.Errorf("%s differs from %s; run go test ./bot/cards -update and review the diff", name, path)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 3, "abc"}, {"abcd", 3, "ab…"}, {"äöüß", 2, "ä…"}, {"", 1, ""}} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestEscapeNoMentionInjection(t *testing.T) {
	if got := esc("<!channel> & <@U1>"); strings.Contains(got, "<") {
		t.Errorf("esc left a control character: %q", got)
	}
}

// BenchmarkRenderAllSurfaces renders every sample surface (62, including a
// 200-grant approval, a 200-account leaver, a 500-approval Home and every
// message of a weekly digest) and encodes it as Slack would receive it.
func BenchmarkRenderAllSurfaces(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, s := range Samples() {
			if _, err := json.Marshal(s.Value); err != nil {
				b.Fatal(err)
			}
		}
	}
}
