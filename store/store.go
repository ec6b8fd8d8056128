// Package store is Gatehouse's durable state: identities, grants and their
// history, runs and steps, approvals, manual tasks, scheduled jobs, dedupe keys
// and the hash-chained audit log, all in one bbolt file. It is the only package
// that imports go.etcd.io/bbolt.
//
// Design rules, in the order they matter:
//
//   - A state change and its evidence never diverge: every mutating method takes
//     optional audit entries and appends them in the same bbolt transaction.
//   - Writers never overwrite each other blindly. Runs, steps, approvals and tasks
//     carry a Version; Update<T>(value) / Replace<T>(value) are compare-and-swap
//     (ErrConflict when the stored version moved on) and Update<T>Func /
//     UpdateApproval / UpdateTask are read-modify-write closures run inside one
//     transaction.
//   - All writes go through one committer goroutine that coalesces whatever is
//     queued into a single transaction (group commit), so many concurrent small
//     writes cost one fsync. A closure passed to a write method may therefore run
//     more than once (when another write in the same batch fails and the batch is
//     retried without it); it must only mutate its argument, and must never call
//     back into the store.
//   - Values are JSON (the domain types' JSON is a public contract anyway) except
//     audit entries, which use a compact binary canonical encoding that is also
//     what gets hashed, so verification needs no decoding and no allocation.
//   - Nothing returned aliases bbolt's memory-mapped pages: every value is decoded
//     (copied) before its transaction ends.
//   - Callbacks of Each* methods run inside a read transaction; they must not call
//     write methods of the same DB (a write that grows the file waits for every
//     reader to finish).
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors callers branch on. Errors returned by the store wrap them with
// context, so test them with errors.Is.
var (
	// ErrNotFound: the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap lost (the stored version moved on) or a
	// uniqueness constraint (id, email, employee id) would be violated.
	ErrConflict = errors.New("conflict")
	// ErrLocked: another process holds the database file.
	ErrLocked = errors.New("database is locked")
	// ErrSchemaTooNew: the file was written by a newer Gatehouse.
	ErrSchemaTooNew = errors.New("schema too new")
	// ErrNeedsMigration: a read-only open found an older schema that only a
	// read-write open may migrate.
	ErrNeedsMigration = errors.New("schema needs migration")
	// ErrCorrupt: the file is not a bbolt database or its contents cannot be decoded.
	ErrCorrupt = errors.New("database is corrupt")
	// ErrTampered: the audit chain does not verify (see AuditError for details).
	ErrTampered = errors.New("audit chain broken")
	// ErrReadOnly: a write on a DB opened with Options.ReadOnly.
	ErrReadOnly = errors.New("database is open read-only")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("database is closed")
)

// DefaultLockTimeout is how long Open waits for another process to release the file.
const DefaultLockTimeout = time.Second

// maxBatch bounds how many queued writes one transaction coalesces, so a burst
// cannot make a single transaction (and its latency) unbounded.
const maxBatch = 2048

// Options tune Open. The zero value is a sensible production default.
type Options struct {
	// Timeout is how long to wait for the file lock (default 1s). Negative
	// means try once.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock and refuses writes. A
	// read-only open never migrates and never creates the file.
	ReadOnly bool
	// NoSync skips fsync on commit. Only for tests and bulk loads: a crash may
	// lose or corrupt recent writes.
	NoSync bool
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
}

// DB is an open Gatehouse store. It is safe for concurrent use.
type DB struct {
	bolt     *bolt.DB
	path     string
	readOnly bool
	now      func() time.Time

	mu      sync.RWMutex // guards closed against in-flight sends on writes
	closed  bool
	writes  chan *writeReq
	writerD chan struct{}
}

type writeReq struct {
	fn  func(tx *bolt.Tx) error
	err chan error
}

// Open opens (creating if needed, unless read-only) the database at path,
// migrates it to the current schema and starts the committer goroutine that
// Close stops.
func Open(path string, opts Options) (*DB, error) {
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultLockTimeout
	case timeout < 0:
		timeout = time.Nanosecond // bbolt: 0 would mean wait forever
	}
	if opts.ReadOnly {
		// bbolt would happily create nothing but then fail obscurely; say it plainly.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 && opts.ReadOnly {
		// bbolt would try to initialise it, which a read-only open cannot.
		return nil, fmt.Errorf("database %s is empty, not a gatehouse database: %w", path, ErrCorrupt)
	} else if err == nil && fi.Size() > 0 {
		// Check the header ourselves before bbolt sees the file: bbolt may
		// write (freelist flush) on a read-write open, and a non-bbolt file
		// must stay untouched.
		if err := checkHeader(path); err != nil {
			return nil, err
		}
	}
	bdb, err := openBolt(path, &bolt.Options{
		Timeout:        timeout,
		ReadOnly:       opts.ReadOnly,
		NoSync:         opts.NoSync,
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	db := &DB{bolt: bdb, path: path, readOnly: opts.ReadOnly, now: opts.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.migrate(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if !db.readOnly {
		db.writes = make(chan *writeReq, maxBatch)
		db.writerD = make(chan struct{})
		go db.committer()
	}
	return db, nil
}

// openBolt maps bbolt's errors (and panics on mangled pages) to the store's.
func openBolt(path string, o *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("database %s is not a usable gatehouse database (%v): %w", path, r, ErrCorrupt)
		}
	}()
	db, err = bolt.Open(path, 0o600, o)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("database %s is in use by another gatehouse process: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("database %s is not a gatehouse database or is corrupt (%v): %w", path, err, ErrCorrupt)
	default:
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
}

// checkHeader validates that at least one of the two bbolt meta pages carries
// the bbolt magic and version. Layout (bbolt 1.x): page header of 16 bytes, then
// meta{magic uint32, version uint32, pageSize uint32, ...} in native (little)
// endianness; the second meta page starts at pageSize.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 16+12)
	valid := func(off int64) (uint32, bool) {
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, false
		}
		magic := binary.LittleEndian.Uint32(buf[16:])
		version := binary.LittleEndian.Uint32(buf[20:])
		return binary.LittleEndian.Uint32(buf[24:]), magic == 0xED0CDAED && version == 2
	}
	if _, ok := valid(0); ok {
		return nil
	}
	for _, ps := range []int64{4096, 8192, 16384, 32768, 65536} {
		if _, ok := valid(ps); ok {
			return nil
		}
	}
	return fmt.Errorf("database %s is not a gatehouse database or is corrupt (no valid bbolt header): %w", path, ErrCorrupt)
}

// Path returns the file the DB was opened from.
func (db *DB) Path() string { return db.path }

// Close stops the committer after it has finished every queued write, then
// closes the file. It is safe to call more than once.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	if db.writes != nil {
		close(db.writes)
		<-db.writerD
	}
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// update runs fn in a write transaction, possibly together with other queued
// writes (group commit). fn may run more than once; see the package doc.
func (db *DB) update(fn func(tx *bolt.Tx) error) error {
	if db.readOnly {
		return ErrReadOnly
	}
	req := &writeReq{fn: fn, err: make(chan error, 1)}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	db.writes <- req
	db.mu.RUnlock()
	return <-req.err
}

// committer is the single writer. It takes one request, then whatever else is
// already queued, and commits them in one transaction: while one fsync is in
// flight the next batch accumulates, so throughput grows with concurrency and
// a lone writer pays no artificial delay.
func (db *DB) committer() {
	defer close(db.writerD)
	batch := make([]*writeReq, 0, maxBatch)
	for req := range db.writes {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-db.writes:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		db.runBatch(batch)
	}
}

// runBatch commits the batch in one transaction. When one function fails, the
// whole transaction is rolled back, that function gets its error, and the
// rest run again without it, so a failed write never leaves partial changes.
func (db *DB) runBatch(batch []*writeReq) {
	for len(batch) > 0 {
		failed := -1
		var failErr error
		err := db.commit(func(tx *bolt.Tx) error {
			for i, r := range batch {
				if err := safeCall(r.fn, tx); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, r := range batch {
				r.err <- err
			}
			return
		}
		batch[failed].err <- failErr
		batch = append(batch[:failed], batch[failed+1:]...)
	}
}

// commit is bolt.Update that turns a panic in bbolt itself (say, a mangled
// page met while rebalancing) into an error for every waiting writer instead
// of killing the committer; Update's deferred rollback has already run.
func (db *DB) commit(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("commit to %s: panic (%v): %w", db.path, r, ErrCorrupt)
		}
	}()
	return db.bolt.Update(fn)
}

func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write transaction: %v", r)
		}
	}()
	return fn(tx)
}

// view runs fn in a read transaction. A panic inside (bbolt walking a mangled
// page, or a decoder meeting garbage) becomes ErrCorrupt instead of killing the
// process; View's deferred rollback releases the transaction.
func (db *DB) view(fn func(tx *bolt.Tx) error) (err error) {
	db.mu.RLock()
	closed := db.closed
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read %s: panic (%v): %w", db.path, r, ErrCorrupt)
		}
	}()
	return db.bolt.View(fn)
}

// ---- buckets and schema ----

var (
	bMeta          = []byte("meta")
	bIdentities    = []byte("identities")
	bIdxEmail      = []byte("identities_by_email")
	bIdxEmployee   = []byte("identities_by_employee_id")
	bGrants        = []byte("grants")
	bGrantHistory  = []byte("grant_history")
	bGrantHistIdx  = []byte("grant_history_by_identity")
	bRuns          = []byte("runs")
	bRunsByDedupe  = []byte("runs_by_dedupe_key")
	bRunsOpen      = []byte("runs_unfinished")
	bRunsByIdent   = []byte("runs_by_identity")
	bSteps         = []byte("steps")
	bStepIndex     = []byte("steps_by_id")
	bApprovals     = []byte("approvals")
	bTasks         = []byte("tasks")
	bJobs          = []byte("jobs")
	bJobsByID      = []byte("jobs_by_id")
	bDedupe        = []byte("dedupe")
	bDedupeExpiry  = []byte("dedupe_by_expiry")
	bAudit         = []byte("audit")
	kSchema        = []byte("schema_version")
	kAuditHead     = []byte("audit_head")
	allBucketsV1   = [][]byte{bMeta, bIdentities, bIdxEmail, bIdxEmployee, bGrants, bGrantHistory, bGrantHistIdx, bRuns, bRunsByDedupe, bRunsOpen, bRunsByIdent, bSteps, bStepIndex, bApprovals, bTasks, bJobs, bJobsByID, bDedupe, bDedupeExpiry, bAudit}
	errNoBucket    = errors.New("bucket missing")
	errBadKeyChars = errors.New("must not be empty or contain NUL")
)

// migration moves the schema from version-1 to version. Migrations run in
// order, each in its own transaction together with the version bump, so a
// crash leaves the file at a well-defined version.
type migration struct {
	version uint64
	name    string
	up      func(tx *bolt.Tx) error
}

// migrations is the ordered schema history. Append only; never edit a released
// migration. (A variable so tests can exercise the framework with an extra step.)
var migrations = []migration{
	{version: 1, name: "create buckets", up: func(tx *bolt.Tx) error {
		for _, b := range allBucketsV1 {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{version: 2, name: "governance bucket (keep decisions, digests)", up: func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bGovernance)
		return err
	}},
}

// SchemaVersion is the schema this build writes.
func SchemaVersion() uint64 { return migrations[len(migrations)-1].version }

// readSchema returns the file's schema version (0 for a fresh file).
func readSchema(tx *bolt.Tx) (uint64, error) {
	m := tx.Bucket(bMeta)
	if m == nil {
		return 0, nil
	}
	v := m.Get(kSchema)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("schema version has %d bytes: %w", len(v), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

func (db *DB) migrate() error {
	var have uint64
	if err := db.view(func(tx *bolt.Tx) error {
		var err error
		have, err = readSchema(tx)
		return err
	}); err != nil {
		return fmt.Errorf("read schema of %s: %w", db.path, err)
	}
	want := SchemaVersion()
	if have > want {
		return fmt.Errorf("database %s has schema version %d but this gatehouse supports up to %d; upgrade gatehouse: %w", db.path, have, want, ErrSchemaTooNew)
	}
	if have == want {
		return nil
	}
	if db.readOnly {
		return fmt.Errorf("database %s has schema version %d, needs %d; open it read-write once (e.g. gatehouse serve) to migrate: %w", db.path, have, want, ErrNeedsMigration)
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			if err := m.up(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists(bMeta)
			if err != nil {
				return err
			}
			return meta.Put(kSchema, u64(m.version))
		})
		if err != nil {
			return fmt.Errorf("migrate %s to schema %d (%s): %w", db.path, m.version, m.name, err)
		}
	}
	return nil
}

// ---- small codec helpers ----

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// bucket returns a top-level bucket or an ErrCorrupt-wrapped error: after
// migration every bucket exists, so a missing one means the file was mangled.
func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("%w %s: %w", errNoBucket, name, ErrCorrupt)
	}
	return b, nil
}

// getJSON decodes the value at key into v; ErrNotFound if absent. Decoding
// copies, so v never aliases the mmap.
func getJSON(b *bolt.Bucket, key []byte, v any) error {
	raw := b.Get(key)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %q: %v: %w", key, err, ErrCorrupt)
	}
	return nil
}

// decodeJSON decodes a stored value; garbage is ErrCorrupt.
func decodeJSON(v []byte, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("decode: %v: %w", err, ErrCorrupt)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return b.Put(key, raw)
}

// joinKey builds a composite key from parts separated by NUL, which the parts
// themselves may not contain (checked), so prefixes are unambiguous.
func joinKey(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

func prefixKey(parts ...string) []byte { return append(joinKey(parts...), 0) }

func checkKeyPart(what, s string) error {
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %q %w", what, s, errBadKeyChars)
	}
	return nil
}

// timeKey encodes t as 8 big-endian bytes of unix nanoseconds so byte order is
// time order. Instants before 1970 sort as 1970 (nothing Gatehouse schedules).
func timeKey(t time.Time) []byte {
	n := t.UnixNano()
	if t.IsZero() || n < 0 {
		n = 0
	}
	return u64(uint64(n))
}

func hasPrefix(k, p []byte) bool { return bytes.HasPrefix(k, p) }

// crockford is Crockford's base32 alphabet in lower case: sortable, no i l o u.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// newID returns prefix + 10 base32 digits of unix milliseconds + 4 base32
// digits of the bucket's sequence, e.g. "r-01jq3v9xk20003": ids sort by
// creation time and stay unique within a millisecond.
func newID(prefix string, now time.Time, b *bolt.Bucket) (string, error) {
	seq, err := b.NextSequence()
	if err != nil {
		return "", err
	}
	var buf [14]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		buf[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 13; i >= 10; i-- {
		buf[i] = crockford[seq&31]
		seq >>= 5
	}
	return prefix + string(buf[:]), nil
}
