package processtest

// Checks of the packaging files CI cannot exercise for real: no Docker
// engine runs on the CI machines, so the Dockerfile is parsed with
// BuildKit's own parser (what `docker build` uses) and its properties
// asserted; the systemd unit is checked with systemd-analyze verify against
// the freshly built binary.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

type dockerInstr struct {
	cmd   string   // lower case
	args  []string // the words after the instruction
	flags []string
	line  int
	orig  string
}

func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: parser warning: %s", path, w.Short)
	}
	var out []dockerInstr
	for _, n := range res.AST.Children {
		in := dockerInstr{cmd: strings.ToLower(n.Value), flags: n.Flags, line: n.StartLine, orig: n.Original}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		out = append(out, in)
	}
	return out
}

// pinnedImage: a digest, or a tag with a full version (1.26.0, 12.8), or
// scratch.
var pinnedImage = regexp.MustCompile(`(@sha256:[0-9a-f]{64}$)|(:[^:/]*\d+\.\d+(\.\d+)?[^:/]*$)`)

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join("..", "..", "..", "Dockerfile"))
	var stages []string
	var final []dockerInstr // instructions of the last stage
	for _, in := range ins {
		switch in.cmd {
		case "from":
			img := in.args[0]
			stages = append(stages, img)
			final = nil
			if img != "scratch" && !pinnedImage.MatchString(img) {
				t.Errorf("line %d: base image %q is not pinned to a version or digest", in.line, img)
			}
			if strings.HasSuffix(img, ":latest") {
				t.Errorf("line %d: :latest", in.line)
			}
		case "add":
			for _, a := range in.args {
				if strings.Contains(a, "://") {
					t.Errorf("line %d: ADD of a remote URL %q (download in a RUN with a checksum, or COPY)", in.line, a)
				}
			}
			t.Errorf("line %d: use COPY, not ADD", in.line)
		}
		final = append(final, in)
	}
	if len(stages) < 2 {
		t.Fatalf("stages %v: want a multi-stage build", stages)
	}
	has := func(cmd string) []dockerInstr {
		var m []dockerInstr
		for _, in := range final {
			if in.cmd == cmd {
				m = append(m, in)
			}
		}
		return m
	}
	users := has("user")
	if len(users) == 0 {
		t.Error("the final stage has no USER: it would run as root")
	} else if u := users[len(users)-1].args[0]; u == "root" || u == "0" || strings.HasPrefix(u, "0:") {
		t.Errorf("final USER is %q", u)
	}
	if v := has("volume"); len(v) == 0 || !strings.Contains(strings.Join(v[0].args, " "), "/var/lib/gatehouse") {
		t.Errorf("no VOLUME /var/lib/gatehouse: %+v", v)
	}
	hc := has("healthcheck")
	if len(hc) != 1 || !strings.Contains(hc[0].orig, "gatehouse") || !strings.Contains(hc[0].orig, "health") {
		t.Errorf("want one HEALTHCHECK running the binary's health command: %+v", hc)
	}
	if ep := has("entrypoint"); len(ep) == 0 || !strings.Contains(ep[0].orig, "gatehouse") {
		t.Error("no ENTRYPOINT running gatehouse")
	}
	var build string
	for _, in := range ins {
		if in.cmd == "run" && strings.Contains(in.orig, "go build") {
			build = in.orig
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "-X main.commit=", "./cmd/gatehouse"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build step lacks %q: %s", want, build)
		}
	}
	// The ldflags name variables that exist.
	for _, v := range []string{"version", "commit", "buildDate"} {
		if !strings.Contains(build, "main."+v+"=") {
			t.Errorf("ldflags do not set main.%s", v)
		}
	}
}

func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/*.db"} {
		if !strings.Contains(string(raw), want+"\n") {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// TestSystemdUnit verifies the unit with systemd-analyze against the
// binary built from this tree, and that the hardening the docs promise is
// there.
func TestSystemdUnit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is Linux only")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "systemd", "gatehouse.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(raw)
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=gatehouse", "ProtectSystem=strict", "ProtectHome=yes",
		"NoNewPrivileges=yes", "PrivateTmp=yes", "RestrictAddressFamilies=", "SystemCallFilter=@system-service",
		"CapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID", "TimeoutStopSec="} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	if m := regexp.MustCompile(`TimeoutStopSec=(\d+)s`).FindStringSubmatch(unit); m == nil || atoi(m[1]) <= 10 {
		t.Errorf("TimeoutStopSec must exceed the 10s default grace: %v", m)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: run bash .ci/install-deps.sh (Debian package systemd)")
	}
	bin := gatehouseBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/gatehouse", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The exposure score, for the record (and a regression guard).
	out, err = exec.Command(analyze, "security", "--offline=yes", path).CombinedOutput()
	if err == nil {
		m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Logf("no exposure level in:\n%s", out)
		} else {
			t.Logf("systemd-analyze security: exposure %s", m[1])
			if v, _ := strconv.ParseFloat(m[1], 64); v > 2.0 {
				t.Errorf("exposure %s: the unit lost hardening", m[1])
			}
		}
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
