// Command gatehouse is the Gatehouse binary: the Slack bot and HR intake
// (serve), the policy tools (check, plan, test), the headless lifecycle CLI
// (onboard, offboard, move, runs), and the evidence tools (audit, backup).
//
// Each subcommand lives in its own cmd_*.go file and registers itself here, so
// subcommands stay independent and are testable by calling their Run function.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. Run returns the process exit status: 0 success,
// 1 the command failed (e.g. invalid config), 2 bad usage.
type command struct {
	Name    string
	Summary string
	Usage   string
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// register adds a subcommand; called from init functions of cmd_*.go files.
func register(c command) {
	if _, dup := commands[c.Name]; dup {
		panic("duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintf(stdout, "usage: gatehouse %s\n\n%s\n", c.Usage, c.Summary)
				return 0
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gatehouse: unknown command %q (run 'gatehouse help' for the list)\n", args[0])
		return 2
	}
	return c.Run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Gatehouse automates joiner / mover / leaver access from Slack.")
	fmt.Fprintln(w, "\nusage: gatehouse COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun 'gatehouse help COMMAND' or 'gatehouse COMMAND -h' for a command's flags.")
}

// splitArgs parses flags and positional arguments in any order
// ("who-had github:admin --at 2026-01-01" as well as the reverse), which the
// standard flag package alone does not, and returns the positionals. On
// failure it returns the exit status (0 for -h, 2 for bad usage), ok=false.
func splitArgs(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// fail prints a one-line error in the house style and returns exit status 1.
func fail(stderr io.Writer, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(stderr, "gatehouse: "+strings.TrimSpace(msg))
	return 1
}
