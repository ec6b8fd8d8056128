package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
)

const auditUsage = `audit verify --db FILE
       gatehouse audit export --db FILE [--format jsonl|csv] [--since TIME] [--until TIME] [--identity EMAIL] [--app APP] [--out FILE]
       gatehouse audit who-had APP[:ENTITLEMENT] [--at TIME] --db FILE
       gatehouse audit history EMAIL --db FILE

TIME is RFC 3339 (2026-03-01T09:00:00Z) or a date (2026-03-01, meaning 00:00 UTC).
Read commands open the database read-only.`

func init() {
	register(command{
		Name:    "audit",
		Summary: "verify, export and query the hash-chained audit log and grant history",
		Usage:   auditUsage,
		Run:     runAudit,
	})
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", auditUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "verify":
		return auditVerify(ctx, rest, stdout, stderr)
	case "export":
		return auditExport(ctx, rest, stdout, stderr)
	case "who-had":
		return auditWhoHad(ctx, rest, stdout, stderr)
	case "history":
		return auditHistory(ctx, rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "gatehouse: audit: unknown subcommand %q (want verify, export, who-had or history)\n", sub)
		return 2
	}
}

// auditFlags is the flag set every audit subcommand starts from.
func auditFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", os.Getenv("GATEHOUSE_DB"), "database `FILE` (default $GATEHOUSE_DB)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gatehouse audit "+usage)
		fs.PrintDefaults()
	}
	return fs, db
}

// openAuditDB checks --db and opens it read-only; on failure it has printed
// the error and returns the exit status.
func openAuditDB(stderr io.Writer, name, path string) (*store.DB, int) {
	if path == "" {
		fmt.Fprintf(stderr, "gatehouse: audit %s needs --db FILE\n", name)
		return nil, 2
	}
	db, err := storeOpenRead(path)
	if err != nil {
		return nil, fail(stderr, "audit %s: %s", name, storeErrText(err))
	}
	return db, 0
}

func auditVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath := auditFlags("verify", "verify --db FILE", stderr)
	if _, code, ok := storeParseFlags(fs, args, 0); !ok {
		return code
	}
	db, code := openAuditDB(stderr, "verify", *dbPath)
	if db == nil {
		return code
	}
	defer db.Close()
	rep, err := db.VerifyAudit(nil)
	var ae *store.AuditError
	if errors.As(err, &ae) {
		return fail(stderr, "audit chain BROKEN at entry %d (%s): %s; %d entries before it verify", ae.Seq, ae.Kind, ae.Detail, rep.Entries)
	}
	if err != nil {
		return fail(stderr, "audit verify: %v", err)
	}
	fmt.Fprintf(stdout, "audit chain OK: %d entries, head %s\n", rep.Entries, rep.HeadHash)
	return 0
}

// parseAuditTime accepts RFC 3339 or YYYY-MM-DD (midnight UTC).
func parseAuditTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-03-01T09:00:00Z) or a date (2026-03-01)", s)
}

// auditTimeFlag is a flag.Value for TIME arguments.
type auditTimeFlag struct{ t time.Time }

func (f *auditTimeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *auditTimeFlag) Set(s string) error {
	t, err := parseAuditTime(s)
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

// auditIdentityKey resolves an email to the identity key grants and audit
// entries use (an identity with an employee id is keyed "emp:ID"), falling
// back to the lower-cased email, which is the key of an identity without one.
func auditIdentityKey(db *store.DB, email string) (string, *gatehouse.Identity, error) {
	id, err := db.IdentityByEmail(email)
	switch {
	case err == nil:
		return id.Key(), &id, nil
	case errors.Is(err, store.ErrNotFound):
		return strings.ToLower(strings.TrimSpace(email)), nil, nil
	default:
		return "", nil, err
	}
}

// auditSecretDetail matches detail keys that must never leave the database even
// if someone put them there by mistake (invariant 8: secrets are never
// exported). A redacted entry no longer re-hashes, which is the lesser evil.
var auditSecretDetail = regexp.MustCompile(`(?i)(secret|token|password|passwd|credential|api[_-]?key|private[_-]?key)`)

func auditRedact(e *gatehouse.AuditEntry) {
	for k := range e.Details {
		if auditSecretDetail.MatchString(k) {
			e.Details[k] = "[redacted]"
		}
	}
}

func auditExport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath := auditFlags("export", "export --db FILE [--format jsonl|csv] [--since TIME] [--until TIME] [--identity EMAIL] [--app APP] [--out FILE]", stderr)
	format := fs.String("format", "jsonl", "output `format`: jsonl or csv")
	var since, until auditTimeFlag
	fs.Var(&since, "since", "only entries at or after `TIME`")
	fs.Var(&until, "until", "only entries before `TIME`")
	email := fs.String("identity", "", "only entries about the identity with this `EMAIL`")
	app := fs.String("app", "", "only entries about this `APP`")
	out := fs.String("out", "", "write to `FILE` (atomically, mode 0600) instead of stdout")
	if _, code, ok := storeParseFlags(fs, args, 0); !ok {
		return code
	}
	if *format != "jsonl" && *format != "csv" {
		fmt.Fprintf(stderr, "gatehouse: audit export: --format %q: want jsonl or csv\n", *format)
		return 2
	}
	db, code := openAuditDB(stderr, "export", *dbPath)
	if db == nil {
		return code
	}
	defer db.Close()
	filter := store.AuditFilter{Since: since.t, Until: until.t, App: *app}
	if *email != "" {
		key, _, err := auditIdentityKey(db, *email)
		if err != nil {
			return fail(stderr, "audit export: %v", err)
		}
		filter.IdentityKey = key
	}

	var w io.Writer = stdout
	var file *os.File
	if *out != "" {
		f, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".tmp-*")
		if err != nil {
			return fail(stderr, "audit export: %v", err)
		}
		defer os.Remove(f.Name()) // no-op after the rename
		defer f.Close()
		if err := f.Chmod(0o600); err != nil {
			return fail(stderr, "audit export: %v", err)
		}
		file, w = f, f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	n, err := writeAudit(db, filter, *format, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fail(stderr, "audit export: %v", err)
	}
	if file != nil {
		if err := file.Sync(); err != nil {
			return fail(stderr, "audit export: %v", err)
		}
		if err := file.Close(); err != nil {
			return fail(stderr, "audit export: %v", err)
		}
		if err := os.Rename(file.Name(), *out); err != nil {
			return fail(stderr, "audit export: %v", err)
		}
		fmt.Fprintf(stderr, "exported %d audit entries to %s\n", n, *out)
	}
	return 0
}

var auditCSVHeader = []string{"seq", "time", "actor_kind", "actor_id", "action", "identity", "app", "entitlement", "run_id", "step_id", "rule", "reason", "details", "prev_hash", "hash"}

func writeAudit(db *store.DB, f store.AuditFilter, format string, w io.Writer) (int, error) {
	n := 0
	if format == "csv" {
		cw := csv.NewWriter(w)
		if err := cw.Write(auditCSVHeader); err != nil {
			return 0, err
		}
		err := db.EachAudit(f, func(e gatehouse.AuditEntry) error {
			auditRedact(&e)
			details := ""
			if len(e.Details) > 0 {
				b, err := json.Marshal(e.Details) // map keys sorted: stable output
				if err != nil {
					return err
				}
				details = string(b)
			}
			n++
			return cw.Write([]string{strconv.FormatUint(e.Seq, 10), e.Time.Format(time.RFC3339Nano), string(e.Actor.Kind), e.Actor.ID,
				e.Action, e.IdentityKey, e.App, e.Entitlement, e.RunID, e.StepID, e.Rule, e.Reason, details, e.PrevHash, e.Hash})
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		return n, err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err := db.EachAudit(f, func(e gatehouse.AuditEntry) error {
		auditRedact(&e)
		n++
		return enc.Encode(e)
	})
	return n, err
}

const auditTimeLayout = "2006-01-02 15:04:05Z07:00"

func auditFmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(auditTimeLayout)
}

func auditOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditWhoHad(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath := auditFlags("who-had", "who-had APP[:ENTITLEMENT] [--at TIME] --db FILE", stderr)
	var at auditTimeFlag
	fs.Var(&at, "at", "the instant to ask about, `TIME` (default now)")
	pos, code, ok := storeParseFlags(fs, args, 1)
	if !ok {
		return code
	}
	ref := pos[0]
	app, ent, found := strings.Cut(ref, ":")
	if app == "" || (found && ent == "") || strings.Contains(ent, ":") {
		fmt.Fprintf(stderr, "gatehouse: audit who-had: %q: want APP or APP:ENTITLEMENT\n", ref)
		return 2
	}
	when := at.t
	if when.IsZero() {
		when = time.Now()
	}
	db, code := openAuditDB(stderr, "who-had", *dbPath)
	if db == nil {
		return code
	}
	defer db.Close()
	grants, err := db.WhoHad(app, ent, when)
	if err != nil {
		return fail(stderr, "audit who-had: %v", err)
	}
	if len(grants) == 0 {
		fmt.Fprintf(stdout, "nobody held %s at %s\n", ref, auditFmtTime(when))
		return 0
	}
	emails := map[string]string{}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tENTITLEMENT\tGRANTED AT\tREVOKED AT\tSOURCE\tAPPROVED BY")
	for _, g := range grants {
		who, ok := emails[g.Identity]
		if !ok {
			who = g.Identity
			if id, err := db.GetIdentity(g.Identity); err == nil && id.Email != "" {
				who = id.Email
			}
			emails[g.Identity] = who
		}
		fmt.Fprintf(tw, "%s\t%s:%s\t%s\t%s\t%s\t%s\n", who, g.App, g.Entitlement, auditFmtTime(g.GrantedAt), auditFmtTime(g.RevokedAt),
			auditOrDash(string(g.Source)), auditOrDash(strings.Join(g.ApprovedBy, ", ")))
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, "audit who-had: %v", err)
	}
	return 0
}

type auditHistoryRow struct {
	at                     time.Time
	event, ent, by, detail string
	seq                    uint64 // audit rows: keeps same-instant rows in chain order
}

func auditHistory(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath := auditFlags("history", "history EMAIL --db FILE", stderr)
	pos, code, ok := storeParseFlags(fs, args, 1)
	if !ok {
		return code
	}
	email := pos[0]
	db, code := openAuditDB(stderr, "history", *dbPath)
	if db == nil {
		return code
	}
	defer db.Close()
	key, _, err := auditIdentityKey(db, email)
	if err != nil {
		return fail(stderr, "audit history: %v", err)
	}
	hist, err := db.GrantHistory(key)
	if err != nil {
		return fail(stderr, "audit history: %v", err)
	}
	var rows []auditHistoryRow
	for _, g := range hist {
		by := strings.Join(g.ApprovedBy, ", ")
		detail := "source " + auditOrDash(string(g.Source))
		if g.RunID != "" {
			detail += ", run " + g.RunID
		}
		rows = append(rows, auditHistoryRow{at: g.GrantedAt, event: "granted", ent: g.App + ":" + g.Entitlement, by: by, detail: detail})
		if !g.RevokedAt.IsZero() {
			rows = append(rows, auditHistoryRow{at: g.RevokedAt, event: "revoked", ent: g.App + ":" + g.Entitlement, by: g.RevokedBy})
		}
	}
	err = db.EachAudit(store.AuditFilter{IdentityKey: key}, func(e gatehouse.AuditEntry) error {
		ent := ""
		if e.App != "" {
			ent = e.App
			if e.Entitlement != "" {
				ent += ":" + e.Entitlement
			}
		}
		detail := e.Reason
		if e.Rule != "" {
			detail = strings.TrimPrefix(detail+"; rule "+e.Rule, "; ")
		}
		detail = strings.TrimPrefix(detail+fmt.Sprintf("; audit #%d", e.Seq), "; ")
		rows = append(rows, auditHistoryRow{at: e.Time, event: e.Action, ent: ent, by: e.Actor.String(), detail: detail, seq: e.Seq})
		return nil
	})
	if err != nil {
		return fail(stderr, "audit history: %v", err)
	}
	if len(rows) == 0 {
		fmt.Fprintf(stdout, "no history for %s\n", email)
		return 0
	}
	slices.SortStableFunc(rows, func(a, b auditHistoryRow) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tENTITLEMENT\tBY\tDETAIL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", auditFmtTime(r.at), r.event, auditOrDash(r.ent), auditOrDash(r.by), auditOrDash(r.detail))
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, "audit history: %v", err)
	}
	return 0
}
