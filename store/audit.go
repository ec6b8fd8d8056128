package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// The audit log is append-only and hash-chained.
//
// Key: Seq as 8 big-endian bytes (1, 2, 3, ...).
//
// Value: one format byte (auditFormat = 1), the 32-byte raw SHA-256 hash, then
// the canonical encoding C of the entry. Hash = SHA-256(C); AuditEntry.Hash is
// its lower-case hex.
//
// Canonical encoding C (all integers big-endian, every string is a uvarint
// byte length followed by the UTF-8 bytes):
//
//	"gha1"                      4-byte domain tag
//	seq                         uint64
//	prev_hash                   32 raw bytes (hex-decoded PrevHash; genesis: 32 zero bytes)
//	time                        int64 unix nanoseconds (UTC)
//	actor.kind, actor.id, action, identity, app, entitlement,
//	run_id, step_id, rule, reason                      10 strings, in this order
//	n                           uvarint number of details
//	n × (key, value)            strings, sorted by key bytes (map order never leaks)
//
// Storing C itself means verification hashes the stored bytes directly (no
// decoding, no allocation), and the same bytes can be rebuilt from an exported
// entry with HashAuditEntry. The meta bucket keeps the head (last seq and raw
// hash) so that deleting entries at the end of the chain is detected too.
const (
	auditFormat  = 1
	auditTag     = "gha1"
	hashLen      = sha256.Size
	auditFixed   = len(auditTag) + 8 + hashLen + 8 // tag, seq, prev, time
	auditMinSize = 1 + hashLen + auditFixed
)

// GenesisHash is the PrevHash of the first audit entry: 64 hex zeros.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// appendString appends a uvarint length and s.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// canonicalAudit appends C for e to b. prev is the raw previous hash.
func canonicalAudit(b []byte, e *gatehouse.AuditEntry, prev []byte) []byte {
	b = append(b, auditTag...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, prev...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range [...]string{string(e.Actor.Kind), e.Actor.ID, e.Action, e.IdentityKey, e.App, e.Entitlement, e.RunID, e.StepID, e.Rule, e.Reason} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Details)))
	if len(e.Details) > 0 {
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, e.Details[k])
		}
	}
	return b
}

// HashAuditEntry recomputes the hash of an entry from its fields (Seq, Time,
// PrevHash and the rest; Hash itself is ignored), e.g. to check an exported
// entry outside Gatehouse. Time is taken at nanosecond precision.
func HashAuditEntry(e gatehouse.AuditEntry) (string, error) {
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil || len(prev) != hashLen {
		return "", fmt.Errorf("prev_hash %q is not %d hex bytes", e.PrevHash, hashLen)
	}
	sum := sha256.Sum256(canonicalAudit(nil, &e, prev))
	return hex.EncodeToString(sum[:]), nil
}

// auditReader walks C without allocating.
type auditReader struct {
	b   []byte
	err bool
}

func (r *auditReader) str() []byte {
	n, k := uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = true
		r.b = nil
		return nil
	}
	s := r.b[k : k+int(n)]
	r.b = r.b[k+int(n):]
	return s
}

// uvarint is binary.Uvarint that also rejects non-minimal encodings, so
// every accepted value has exactly one byte representation.
func uvarint(b []byte) (uint64, int) {
	n, k := binary.Uvarint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, -1
	}
	return n, k
}

// checkAuditValue validates the structure of a stored value without
// allocating and returns its parts (aliasing v).
func checkAuditValue(v []byte) (hash, c []byte, seq uint64, prev []byte, err error) {
	if len(v) < auditMinSize {
		return nil, nil, 0, nil, fmt.Errorf("value has %d bytes, need at least %d", len(v), auditMinSize)
	}
	if v[0] != auditFormat {
		return nil, nil, 0, nil, fmt.Errorf("unknown format byte %d", v[0])
	}
	hash, c = v[1:1+hashLen], v[1+hashLen:]
	if string(c[:len(auditTag)]) != auditTag {
		return nil, nil, 0, nil, errors.New("missing domain tag")
	}
	seq = binary.BigEndian.Uint64(c[4:12])
	prev = c[12 : 12+hashLen]
	r := auditReader{b: c[auditFixed:]}
	for range 10 {
		r.str()
	}
	n, k := uvarint(r.b)
	if r.err || k <= 0 || n > uint64(len(r.b)) {
		return nil, nil, 0, nil, errors.New("truncated fields")
	}
	r.b = r.b[k:]
	var lastKey []byte
	for i := uint64(0); i < n && !r.err; i++ {
		key := r.str()
		r.str()
		if i > 0 && bytes.Compare(lastKey, key) >= 0 {
			return nil, nil, 0, nil, errors.New("details not in canonical (sorted, unique) order")
		}
		lastKey = key
	}
	if r.err || len(r.b) != 0 {
		return nil, nil, 0, nil, errors.New("malformed details")
	}
	return hash, c, seq, prev, nil
}

// decodeAudit decodes a stored value into a fresh entry (all strings copied).
func decodeAudit(v []byte) (gatehouse.AuditEntry, error) {
	hash, c, seq, prev, err := checkAuditValue(v)
	if err != nil {
		return gatehouse.AuditEntry{}, err
	}
	e := gatehouse.AuditEntry{
		Seq:      seq,
		Time:     time.Unix(0, int64(binary.BigEndian.Uint64(c[12+hashLen:]))).UTC(),
		PrevHash: hex.EncodeToString(prev),
		Hash:     hex.EncodeToString(hash),
	}
	r := auditReader{b: c[auditFixed:]}
	for _, p := range [...]*string{(*string)(&e.Actor.Kind), &e.Actor.ID, &e.Action, &e.IdentityKey, &e.App, &e.Entitlement, &e.RunID, &e.StepID, &e.Rule, &e.Reason} {
		*p = string(r.str())
	}
	n, k := binary.Uvarint(r.b)
	r.b = r.b[k:]
	if n > 0 {
		e.Details = make(map[string]string, n)
		for range n {
			key := string(r.str())
			e.Details[key] = string(r.str())
		}
	}
	return e, nil
}

// appendAuditTx appends entries in tx, assigning Seq, Time (if zero), PrevHash
// and Hash, and returns the stored entries. Called by every mutating method so
// evidence commits with the change it describes.
func (db *DB) appendAuditTx(tx *bolt.Tx, entries []gatehouse.AuditEntry) ([]gatehouse.AuditEntry, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	meta, err := bucket(tx, bMeta)
	if err != nil {
		return nil, err
	}
	b, err := bucket(tx, bAudit)
	if err != nil {
		return nil, err
	}
	// Keys only ever grow: pack leaf pages full instead of bbolt's default half.
	b.FillPercent = 0.95
	seq, prev, err := auditHead(meta)
	if err != nil {
		return nil, err
	}
	out := make([]gatehouse.AuditEntry, len(entries))
	now := db.now()
	buf := make([]byte, 0, 512)
	for i, e := range entries {
		seq++
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = now
		}
		// Nanosecond UTC is what the encoding keeps; return exactly that so
		// the caller's copy re-hashes to the same value.
		e.Time = time.Unix(0, e.Time.UnixNano()).UTC()
		if len(e.Details) == 0 {
			e.Details = nil
		} else {
			e.Details = cloneMap(e.Details)
		}
		e.PrevHash = hex.EncodeToString(prev[:])
		buf = append(buf[:0], auditFormat)
		buf = append(buf, make([]byte, hashLen)...)
		buf = canonicalAudit(buf, &e, prev[:])
		sum := sha256.Sum256(buf[1+hashLen:])
		copy(buf[1:], sum[:])
		e.Hash = hex.EncodeToString(sum[:])
		if err := b.Put(u64(seq), bytes.Clone(buf)); err != nil {
			return nil, fmt.Errorf("append audit entry %d: %w", seq, err)
		}
		prev = sum
		out[i] = e
	}
	head := make([]byte, 8+hashLen)
	binary.BigEndian.PutUint64(head, seq)
	copy(head[8:], prev[:])
	if err := meta.Put(kAuditHead, head); err != nil {
		return nil, fmt.Errorf("store audit head: %w", err)
	}
	return out, nil
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func auditHead(meta *bolt.Bucket) (uint64, [hashLen]byte, error) {
	var h [hashLen]byte
	v := meta.Get(kAuditHead)
	if v == nil {
		return 0, h, nil
	}
	if len(v) != 8+hashLen {
		return 0, h, fmt.Errorf("audit head has %d bytes: %w", len(v), ErrCorrupt)
	}
	copy(h[:], v[8:])
	return binary.BigEndian.Uint64(v), h, nil
}

// AppendAudit appends entries to the chain in one transaction and returns them
// as stored (Seq, Time, PrevHash, Hash filled in). Concurrent callers are
// group-committed.
func (db *DB) AppendAudit(entries ...gatehouse.AuditEntry) ([]gatehouse.AuditEntry, error) {
	var out []gatehouse.AuditEntry
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		out, err = db.appendAuditTx(tx, entries)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	return out, nil
}

// AuditHead returns the last sequence number and hash ("" and GenesisHash for
// an empty chain).
func (db *DB) AuditHead() (uint64, string, error) {
	var seq uint64
	var h [hashLen]byte
	err := db.view(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bMeta)
		if err != nil {
			return err
		}
		seq, h, err = auditHead(meta)
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("audit head: %w", err)
	}
	return seq, hex.EncodeToString(h[:]), nil
}

// TamperKind classifies what VerifyAudit found wrong.
type TamperKind string

// What can be wrong with the chain.
const (
	TamperEdited      TamperKind = "edited"      // the entry's content does not match its hash
	TamperMissing     TamperKind = "missing"     // a sequence number is absent (entry deleted)
	TamperReordered   TamperKind = "reordered"   // an entry sits under another entry's sequence number
	TamperChain       TamperKind = "chain"       // prev_hash does not match the previous entry's hash
	TamperUndecodable TamperKind = "undecodable" // the stored bytes are not an audit entry
	TamperTruncated   TamperKind = "truncated"   // entries after the last one present were deleted
)

// AuditError names the first bad entry. It wraps ErrTampered.
type AuditError struct {
	Seq    uint64
	Kind   TamperKind
	Detail string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit entry %d %s: %s", e.Seq, e.Kind, e.Detail)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *AuditError) Unwrap() error { return ErrTampered }

// VerifyReport summarises a verification.
type VerifyReport struct {
	Entries  uint64 // entries checked
	HeadSeq  uint64 // last good sequence number
	HeadHash string // hash of the last good entry (hex)
	OK       bool
	Problem  *AuditError // first problem, nil when OK
}

// progressEvery is how often VerifyAudit reports progress (a variable for tests).
var progressEvery uint64 = 1 << 16

// VerifyAudit walks the whole chain in one read transaction and checks, for each
// entry: that its key is the next sequence number (else missing), that the
// stored bytes decode (else undecodable), that the embedded seq equals the key
// (else reordered), that SHA-256 of the content equals the stored hash (else
// edited), and that prev_hash equals the previous entry's hash (else chain). At
// the end the stored head must equal the last entry (else truncated). The first
// problem is returned both in the report and as an *AuditError (wrapping
// ErrTampered). progress, if not nil, is called every 65,536 entries and at the end.
func (db *DB) VerifyAudit(progress func(n uint64)) (VerifyReport, error) {
	var rep VerifyReport
	err := db.view(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bMeta)
		if err != nil {
			return err
		}
		b, err := bucket(tx, bAudit)
		if err != nil {
			return err
		}
		headSeq, headHash, err := auditHead(meta)
		if err != nil {
			return err
		}
		p, err := verifyCursor(b.Cursor(), headSeq, headHash, &rep, progress)
		rep.Problem = p
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	rep.OK = rep.Problem == nil
	if progress != nil {
		progress(rep.Entries)
	}
	if rep.Problem != nil {
		return rep, rep.Problem
	}
	return rep, nil
}

// kv is the part of a bbolt cursor verifyChain needs (also lets the fuzz test
// drive it with arbitrary bytes).
type kv interface {
	First() ([]byte, []byte)
	Next() ([]byte, []byte)
}

func verifyCursor(c kv, headSeq uint64, headHash [hashLen]byte, rep *VerifyReport, progress func(uint64)) (*AuditError, error) {
	var last [hashLen]byte // genesis: zeros
	defer func() { rep.HeadHash = hex.EncodeToString(last[:]) }()
	expect := uint64(1)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return &AuditError{Seq: expect, Kind: TamperUndecodable, Detail: fmt.Sprintf("key of %d bytes where seq %d was expected", len(k), expect)}, nil
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != expect {
			if seq > expect {
				what := fmt.Sprintf("seq %d", expect)
				if seq-expect > 1 {
					what = fmt.Sprintf("seqs %d..%d", expect, seq-1)
				}
				return &AuditError{Seq: expect, Kind: TamperMissing, Detail: fmt.Sprintf("%s absent, next stored entry is seq %d (deleted)", what, seq)}, nil
			}
			return &AuditError{Seq: seq, Kind: TamperReordered, Detail: fmt.Sprintf("key seq %d out of order, expected %d", seq, expect)}, nil
		}
		hash, content, embedded, prev, err := checkAuditValue(v)
		if err != nil {
			return &AuditError{Seq: seq, Kind: TamperUndecodable, Detail: err.Error()}, nil
		}
		if embedded != seq {
			return &AuditError{Seq: seq, Kind: TamperReordered, Detail: fmt.Sprintf("stored at seq %d but the entry says seq %d (moved or reordered)", seq, embedded)}, nil
		}
		sum := sha256.Sum256(content)
		if !bytes.Equal(sum[:], hash) {
			return &AuditError{Seq: seq, Kind: TamperEdited, Detail: fmt.Sprintf("content hashes to %s but the stored hash is %x (entry edited)", hex.EncodeToString(sum[:6]), hash[:6])}, nil
		}
		if !bytes.Equal(prev, last[:]) {
			return &AuditError{Seq: seq, Kind: TamperChain, Detail: fmt.Sprintf("prev_hash %x does not match the hash %x of seq %d (an entry was rewritten, inserted or reordered)", prev[:6], last[:6], seq-1)}, nil
		}
		last = sum
		rep.Entries++
		rep.HeadSeq = seq
		if progress != nil && rep.Entries%progressEvery == 0 {
			progress(rep.Entries)
		}
		expect++
	}
	if headSeq != rep.HeadSeq {
		return &AuditError{Seq: rep.HeadSeq + 1, Kind: TamperTruncated, Detail: fmt.Sprintf("the head records seq %d but the last entry present is seq %d (entries deleted at the end)", headSeq, rep.HeadSeq)}, nil
	}
	if headHash != last {
		return &AuditError{Seq: rep.HeadSeq, Kind: TamperEdited, Detail: "the recorded head hash does not match the last entry (last entry rewritten)"}, nil
	}
	return nil, nil
}

// AuditFilter selects entries for EachAudit. Zero fields match everything.
type AuditFilter struct {
	Since       time.Time // entries at or after
	Until       time.Time // entries before (zero: no bound)
	IdentityKey string
	App         string
	AfterSeq    uint64 // start after this sequence number
}

// EachAudit calls fn for every entry matching f, in sequence order, inside one
// read transaction. Returning an error from fn stops the walk and is returned.
func (db *DB) EachAudit(f AuditFilter, fn func(gatehouse.AuditEntry) error) error {
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bAudit)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.Seek(u64(f.AfterSeq + 1)); k != nil; k, v = c.Next() {
			e, err := decodeAudit(v)
			if err != nil {
				return fmt.Errorf("audit entry at key %x: %v: %w", k, err, ErrCorrupt)
			}
			if (!f.Since.IsZero() && e.Time.Before(f.Since)) ||
				(!f.Until.IsZero() && !e.Time.Before(f.Until)) ||
				(f.IdentityKey != "" && e.IdentityKey != f.IdentityKey) ||
				(f.App != "" && e.App != f.App) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	return nil
}

// AuditEntries returns the entries matching f (convenience over EachAudit).
func (db *DB) AuditEntries(f AuditFilter) ([]gatehouse.AuditEntry, error) {
	var out []gatehouse.AuditEntry
	err := db.EachAudit(f, func(e gatehouse.AuditEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}
