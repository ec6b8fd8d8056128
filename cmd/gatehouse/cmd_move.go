package main

import (
	"context"
	"io"

	gatehouse "github.com/gatehousehq/gatehouse"
)

const moveUsage = "move --person FILE [--config FILE] [--db FILE] [--simulate] [--wait=false] [--reason TEXT]"

// runMove applies a mover: the person file holds the identity after the
// change; the stored identity is the one before.
func runMove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPersonEvent(ctx, "move", moveUsage, gatehouse.EventMover, args, stdout, stderr)
}
