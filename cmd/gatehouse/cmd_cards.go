package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gatehousehq/gatehouse/bot/cards"
)

func init() {
	register(command{
		Name:    "cards",
		Summary: "write the Block Kit JSON of every Slack surface, for review in Block Kit Builder",
		Usage:   "cards --out DIR",
		Run:     runCards,
	})
}

func runCards(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cards", "cards --out DIR", stderr)
	out := fs.String("out", "", "directory to write one JSON file per surface into (created if missing)")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "gatehouse cards: --out DIR is required")
		fs.Usage()
		return 2
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fail(stderr, "create %s: %v", *out, err)
	}
	samples := cards.Samples()
	for _, s := range samples {
		b, err := s.JSON()
		if err != nil {
			return fail(stderr, "%v", err)
		}
		name := fmt.Sprintf("%s.%s.json", s.Name, s.Surface)
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			return fail(stderr, "write %s: %v", name, err)
		}
	}
	fmt.Fprintf(stdout, "wrote %d surfaces to %s (messages: paste the file into Block Kit Builder; modals and Home: switch the Builder's surface first)\n", len(samples), *out)
	return 0
}
