package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/store"
)

func init() {
	register(command{
		Name:    "backup",
		Summary: "write a consistent copy of the database to a file",
		Usage:   "backup --db FILE --out FILE",
		Run:     runBackup,
	})
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", os.Getenv("GATEHOUSE_DB"), "database `FILE` to back up (default $GATEHOUSE_DB)")
	out := fs.String("out", "", "backup `FILE` to write (replaced atomically, mode 0600)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gatehouse backup --db FILE --out FILE")
		fs.PrintDefaults()
	}
	if _, code, ok := storeParseFlags(fs, args, 0); !ok {
		return code
	}
	if *dbPath == "" || *out == "" {
		fmt.Fprintln(stderr, "gatehouse: backup needs --db FILE and --out FILE")
		return 2
	}
	if same, _ := storeSamePath(*dbPath, *out); same {
		return fail(stderr, "backup: --out must not be the database itself")
	}
	db, err := storeOpenRead(*dbPath)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fail(stderr, "backup: %s; a running server is backed up by itself: set store.backup_every (and backup_dir, backup_keep) in its config", storeErrText(err))
		}
		return fail(stderr, "backup: %s", storeErrText(err))
	}
	start := time.Now()
	n, err := db.BackupFile(*out)
	db.Close()
	if err != nil {
		return fail(stderr, "backup: %v", err)
	}
	// Prove the copy is usable before calling it a backup.
	check, err := store.Open(*out, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fail(stderr, "backup written to %s but it does not open: %s", *out, storeErrText(err))
	}
	check.Close()
	fmt.Fprintf(stdout, "backup of %s written to %s (%d bytes, %v)\n", *dbPath, *out, n, time.Since(start).Round(time.Millisecond))
	return 0
}

// storeParseFlags parses flags and positionals in any order (splitArgs) and
// checks that exactly npos positionals were given (npos < 0: any number).
func storeParseFlags(fs *flag.FlagSet, args []string, npos int) ([]string, int, bool) {
	pos, code, ok := splitArgs(fs, args)
	if !ok {
		return nil, code, false
	}
	if npos >= 0 && len(pos) != npos {
		if npos == 0 {
			fmt.Fprintf(fs.Output(), "gatehouse: %s: unexpected argument %q\n", fs.Name(), pos[0])
		} else {
			fmt.Fprintf(fs.Output(), "gatehouse: %s: want %d argument(s), got %d\n", fs.Name(), npos, len(pos))
		}
		fs.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

// storeOpenRead opens the database read-only with a short lock wait: read
// commands must never migrate or create a file.
func storeOpenRead(path string) (*store.DB, error) {
	return store.Open(path, store.Options{ReadOnly: true, Timeout: time.Second})
}

// storeErrText turns store errors into what an operator should do next.
func storeErrText(err error) string {
	switch {
	case errors.Is(err, store.ErrLocked):
		return err.Error() + " (stop that process, or back it up from within it)"
	case errors.Is(err, os.ErrNotExist):
		return strings.TrimPrefix(err.Error(), "open database ")
	default:
		return err.Error()
	}
}

func storeSamePath(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		aa, _ := filepath.Abs(a)
		bb, _ := filepath.Abs(b)
		return aa == bb, nil
	}
	return os.SameFile(fa, fb), nil
}
