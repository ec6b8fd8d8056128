package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func init() {
	register(command{
		Name:    "version",
		Summary: "print the version and build information",
		Usage:   "version [--json]",
		Run:     runVersion,
	})
}

// version, commit and buildDate are set by the release build:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123 -X main.buildDate=2026-12-04T00:00:00Z"
//
// Left empty, they come from the module and VCS information the Go
// toolchain records (runtime/debug.ReadBuildInfo).
var version, commit, buildDate string

type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	BuildDate string `json:"build_date,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// readBuildInfo merges the ldflags overrides with what the toolchain
// recorded; the overrides win (a Docker build has no .git to read).
func readBuildInfo(bi *debug.BuildInfo, ok bool) buildInfo {
	out := buildInfo{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		if v := bi.Main.Version; v != "" {
			out.Version = v
		}
		out.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				out.Commit = s.Value
			case "vcs.time":
				out.BuildDate = s.Value
			case "vcs.modified":
				out.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		out.Version = version
	}
	if commit != "" {
		out.Commit = commit
	}
	if buildDate != "" {
		out.BuildDate = buildDate
	}
	return out
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	info := readBuildInfo(debug.ReadBuildInfo())
	if *asJSON {
		b, _ := json.MarshalIndent(info, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	fmt.Fprintf(stdout, "gatehouse %s\n", info.Version)
	if info.Commit != "" {
		dirty := ""
		if info.Modified {
			dirty = " (modified)"
		}
		fmt.Fprintf(stdout, "  commit:  %s%s\n", info.Commit, dirty)
	}
	if info.BuildDate != "" {
		fmt.Fprintf(stdout, "  built:   %s\n", info.BuildDate)
	}
	fmt.Fprintf(stdout, "  go:      %s %s\n", info.GoVersion, info.Platform)
	return 0
}
