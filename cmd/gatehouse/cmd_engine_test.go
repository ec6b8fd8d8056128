package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	gatehouse "github.com/gatehousehq/gatehouse"
)

func TestProgressOutput(t *testing.T) {
	steps := []gatehouse.Step{
		{ID: "disable:okta", Kind: gatehouse.StepDisable, App: "okta", Status: gatehouse.StepSucceeded},
		{ID: "disable:slack", Kind: gatehouse.StepDisable, App: "slack", Status: gatehouse.StepRetrying, LastError: "429"},
		{ID: "evidence", Kind: gatehouse.StepEvidence, Status: gatehouse.StepPending},
	}
	run := gatehouse.Run{ID: "r-1", Status: gatehouse.RunRunning}
	cases := []struct {
		name string
		tty  bool
		want []string
	}{
		{"plain lines per change", false, []string{"disable:okta", "succeeded", "disable:slack", "retrying: 429"}},
		{"redrawn line per app", true, []string{"okta", "✓ disable", "slack", "↻ disable", "\x1b[2K"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgress(&buf, c.tty)
			p.follow("r-1")
			p.RunChanged(context.Background(), run, steps)
			p.RunChanged(context.Background(), run, steps)
			p.RunChanged(context.Background(), gatehouse.Run{ID: "other"}, steps)
			out := buf.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			if !c.tty && strings.Count(out, "disable:okta") != 1 {
				t.Errorf("unchanged steps printed again: %q", out)
			}
			if c.tty && !strings.Contains(out, "\x1b[4A") {
				t.Errorf("second frame does not redraw in place: %q", out)
			}
		})
	}
}
