package main

import (
	"context"
	"io"

	gatehouse "github.com/gatehousehq/gatehouse"
)

const onboardUsage = "onboard --person FILE [--config FILE] [--db FILE] [--simulate] [--wait=false] [--reason TEXT]"

func init() {
	register(command{Name: "onboard", Summary: "provision a joiner from a person file (the same engine as Slack's /onboard)", Usage: onboardUsage, Run: runOnboard})
	register(command{Name: "move", Summary: "apply a mover: add the new profile's access, remove the old", Usage: moveUsage, Run: runMove})
}

func runOnboard(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPersonEvent(ctx, "onboard", onboardUsage, gatehouse.EventJoiner, args, stdout, stderr)
}

// runPersonEvent submits an event about the person in --person FILE.
func runPersonEvent(ctx context.Context, name, usage string, typ gatehouse.EventType, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, usage, stderr)
	f := addEngineFlags(fs, true)
	personPath := fs.String("person", "", "person file (JSON with the identity's fields)")
	reason := fs.String("reason", "", "why, for the audit log")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	if *personPath == "" {
		fs.Usage()
		return 2
	}
	// Read and validate the input before touching the database: bad input
	// must write nothing.
	id, err := readPerson(*personPath)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	env, code := openLifecycle(f, stderr, openOpts{stdout: stdout, mustExist: typ == gatehouse.EventMover})
	if env == nil {
		return code
	}
	defer env.close()
	ev := gatehouse.Event{Type: typ, Identity: id, Source: "cli", Actor: cliActor(), Reason: *reason}
	run, created, err := env.eng.Submit(ctx, ev)
	if err != nil {
		return fail(stderr, "%s", lifecycleErr(err))
	}
	if !created {
		stdout.Write([]byte("the same event was already submitted; following run " + run.ID + "\n"))
	}
	return env.execute(ctx, f, run, stdout, stderr)
}
