package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

func statMode(path string) (os.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}

func fillAudit(t testing.TB, db *DB, n int) []gatehouse.AuditEntry {
	t.Helper()
	in := make([]gatehouse.AuditEntry, n)
	for i := range in {
		in[i] = gatehouse.AuditEntry{
			Actor: gatehouse.Actor{Kind: gatehouse.ActorPerson, ID: "boss@example.com"}, Action: "approve",
			IdentityKey: fmt.Sprint("id", i%3), App: []string{"github", "okta"}[i%2], Entitlement: "admin",
			Reason: "needed for on-call", Details: map[string]string{"ticket": fmt.Sprint("T-", i), "b": "2", "a": "1"},
		}
	}
	out, err := db.AppendAudit(in...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuditChain(t *testing.T) {
	db, clk := openTest(t)
	out := fillAudit(t, db, 5)
	if out[0].Seq != 1 || out[0].PrevHash != GenesisHash || !out[0].Time.Equal(t0) {
		t.Fatalf("first entry: %+v", out[0])
	}
	for i := 1; i < len(out); i++ {
		if out[i].Seq != out[i-1].Seq+1 || out[i].PrevHash != out[i-1].Hash {
			t.Fatalf("entry %d not chained", i)
		}
	}
	// Hash is reproducible from the entry, with map order irrelevant.
	for _, e := range out {
		h, err := HashAuditEntry(e)
		if err != nil || h != e.Hash {
			t.Fatalf("rehash seq %d: %s %v, want %s", e.Seq, h, err, e.Hash)
		}
	}
	stored, _ := db.AuditEntries(AuditFilter{})
	for i := range stored {
		if fmt.Sprint(stored[i]) != fmt.Sprint(out[i]) {
			t.Fatalf("stored != returned:\n%+v\n%+v", stored[i], out[i])
		}
	}
	// A caller-supplied time is kept, and caller-supplied chain fields are ignored.
	when := time.Date(2025, 12, 24, 18, 0, 0, 123, time.FixedZone("X", 3600))
	e, _ := db.AppendAudit(gatehouse.AuditEntry{Time: when, Action: "x", Seq: 77, Hash: "bogus", PrevHash: "bogus"})
	if e[0].Seq != 6 || !e[0].Time.Equal(when) || e[0].PrevHash != out[4].Hash {
		t.Fatalf("caller fields: %+v", e[0])
	}
	clk.Add(time.Hour)
	rep, err := db.VerifyAudit(nil)
	if err != nil || !rep.OK || rep.Entries != 6 || rep.HeadSeq != 6 || rep.HeadHash != e[0].Hash {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	seq, head, _ := db.AuditHead()
	if seq != 6 || head != e[0].Hash {
		t.Fatalf("head %d %s", seq, head)
	}
}

func TestGenesisHash(t *testing.T) {
	if GenesisHash != hex.EncodeToString(make([]byte, hashLen)) {
		t.Fatal("GenesisHash is not 32 zero bytes in hex")
	}
}

func TestAuditEmptyVerify(t *testing.T) {
	db, _ := openTest(t)
	rep, err := db.VerifyAudit(nil)
	if err != nil || rep.Entries != 0 || rep.HeadHash != GenesisHash {
		t.Fatalf("%v %+v", err, rep)
	}
}

func TestAuditFilter(t *testing.T) {
	db, clk := openTest(t)
	fillAudit(t, db, 6)
	clk.Add(time.Hour)
	fillAudit(t, db, 6)
	for _, tc := range []struct {
		f    AuditFilter
		want int
	}{
		{AuditFilter{}, 12},
		{AuditFilter{Since: t0.Add(time.Minute)}, 6},
		{AuditFilter{Until: t0.Add(time.Minute)}, 6},
		{AuditFilter{IdentityKey: "id1"}, 4},
		{AuditFilter{App: "okta"}, 6},
		{AuditFilter{App: "okta", IdentityKey: "id1", Since: t0.Add(time.Minute)}, 1},
		{AuditFilter{AfterSeq: 10}, 2},
	} {
		got, err := db.AuditEntries(tc.f)
		if err != nil || len(got) != tc.want {
			t.Errorf("filter %+v: %d entries (%v), want %d", tc.f, len(got), err, tc.want)
		}
	}
}

// TestAuditTamper edits the file directly and checks that verification names
// the first bad entry and the kind of damage.
func TestAuditTamper(t *testing.T) {
	get := func(tx *bolt.Tx, seq uint64) []byte { return bytes.Clone(tx.Bucket(bAudit).Get(u64(seq))) }
	put := func(tx *bolt.Tx, seq uint64, v []byte) error { return tx.Bucket(bAudit).Put(u64(seq), v) }
	// editReason flips one byte of the reason "needed for on-call" in place.
	editReason := func(v []byte) []byte {
		i := bytes.Index(v, []byte("needed"))
		v[i] = 'N'
		return v
	}
	tests := []struct {
		name    string
		tamper  func(tx *bolt.Tx) error
		seq     uint64
		kind    TamperKind
		mention string
	}{
		{"edit", func(tx *bolt.Tx) error { return put(tx, 5, editReason(get(tx, 5))) }, 5, TamperEdited, "edited"},
		{"edit and rehash", func(tx *bolt.Tx) error {
			// A smarter forger recomputes the entry's own hash: the next
			// entry's prev_hash still gives it away.
			v := editReason(get(tx, 5))
			e, err := decodeAudit(v)
			if err != nil {
				return err
			}
			h, _ := HashAuditEntry(e)
			raw, _ := hex.DecodeString(h)
			copy(v[1:], raw)
			return put(tx, 5, v)
		}, 6, TamperChain, "prev_hash"},
		{"delete middle", func(tx *bolt.Tx) error { return tx.Bucket(bAudit).Delete(u64(4)) }, 4, TamperMissing, "deleted"},
		{"delete range", func(tx *bolt.Tx) error {
			tx.Bucket(bAudit).Delete(u64(3))
			return tx.Bucket(bAudit).Delete(u64(4))
		}, 3, TamperMissing, "3..4"},
		{"delete first", func(tx *bolt.Tx) error { return tx.Bucket(bAudit).Delete(u64(1)) }, 1, TamperMissing, "seq 1"},
		{"delete last", func(tx *bolt.Tx) error { return tx.Bucket(bAudit).Delete(u64(10)) }, 10, TamperTruncated, "deleted at the end"},
		{"reorder", func(tx *bolt.Tx) error {
			a, b := get(tx, 6), get(tx, 7)
			if err := put(tx, 6, b); err != nil {
				return err
			}
			return put(tx, 7, a)
		}, 6, TamperReordered, "reordered"},
		{"garbage", func(tx *bolt.Tx) error { return put(tx, 2, []byte("garbage")) }, 2, TamperUndecodable, "bytes"},
		{"bad key", func(tx *bolt.Tx) error { return tx.Bucket(bAudit).Put([]byte("zz"), get(tx, 1)) }, 11, TamperUndecodable, "key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openTest(t)
			fillAudit(t, db, 10)
			rawUpdate(t, db, tc.tamper)
			rep, err := db.VerifyAudit(nil)
			var ae *AuditError
			if !errors.As(err, &ae) || !errors.Is(err, ErrTampered) {
				t.Fatalf("err = %v, want *AuditError", err)
			}
			if rep.OK || rep.Problem != ae {
				t.Fatalf("report does not carry the problem: %+v", rep)
			}
			if ae.Seq != tc.seq || ae.Kind != tc.kind || !bytes.Contains([]byte(ae.Error()), []byte(tc.mention)) {
				t.Fatalf("got %q (seq %d kind %s), want seq %d kind %s mentioning %q", ae, ae.Seq, ae.Kind, tc.seq, tc.kind, tc.mention)
			}
		})
	}
}

func TestAuditProgress(t *testing.T) {
	saved := progressEvery
	progressEvery = 100
	t.Cleanup(func() { progressEvery = saved })
	db, _ := openTest(t)
	fillAudit(t, db, int(progressEvery)+10)
	var calls []uint64
	if _, err := db.VerifyAudit(func(n uint64) { calls = append(calls, n) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(calls) != fmt.Sprint([]uint64{progressEvery, progressEvery + 10}) {
		t.Fatalf("progress calls %v", calls)
	}
}

// TestAuditWithState: state and evidence commit together or not at all.
func TestAuditWithState(t *testing.T) {
	db, _ := openTest(t)
	r, _, _ := db.CreateRun(newRun("k", "ada"), []gatehouse.Step{{ID: "a"}})
	s, _ := db.GetStep(r.ID, "a")
	s.Status = gatehouse.StepSucceeded
	if _, err := db.UpdateStep(s, gatehouse.AuditEntry{Action: "grant", StepID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateStep(s, gatehouse.AuditEntry{Action: "grant", StepID: "a"}); !errors.Is(err, ErrConflict) {
		t.Fatal(err)
	}
	got, _ := db.AuditEntries(AuditFilter{})
	if len(got) != 1 || got[0].RunID != r.ID {
		t.Fatalf("audit after one success and one conflict: %+v", got)
	}
}

func TestAuditConcurrentAppend(t *testing.T) {
	db, _ := openTest(t)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := db.AppendAudit(auditEntry("x")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rep, err := db.VerifyAudit(nil)
	if err != nil || rep.Entries != 1600 {
		t.Fatalf("%v %+v", err, rep)
	}
}

// fakeCursor feeds verifyCursor arbitrary pairs.
type fakeCursor struct {
	kvs [][2][]byte
	i   int
}

func (c *fakeCursor) First() ([]byte, []byte) { c.i = 0; return c.cur() }
func (c *fakeCursor) Next() ([]byte, []byte)  { c.i++; return c.cur() }
func (c *fakeCursor) cur() ([]byte, []byte) {
	if c.i >= len(c.kvs) {
		return nil, nil
	}
	return c.kvs[c.i][0], c.kvs[c.i][1]
}

func FuzzDecodeAudit(f *testing.F) {
	db, _ := openTest(f)
	for _, e := range fillAudit(f, db, 3) {
		_ = e
	}
	_ = db.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bAudit).ForEach(func(k, v []byte) error {
			f.Add(bytes.Clone(k), bytes.Clone(v))
			return nil
		})
	})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte{1})
	f.Add([]byte{}, []byte("gha1"))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := decodeAudit(v)
		if err == nil {
			// Whatever decodes must re-encode to the same bytes.
			prev, _ := hex.DecodeString(e.PrevHash)
			again := canonicalAudit(nil, &e, prev)
			if !bytes.Equal(again, v[1+hashLen:]) {
				t.Fatalf("decode/encode mismatch")
			}
		}
		var rep VerifyReport
		_, _ = verifyCursor(&fakeCursor{kvs: [][2][]byte{{k, v}, {u64(2), v}}}, 2, [32]byte{}, &rep, nil)
		var run gatehouse.Run
		_ = decodeJSON(v, &run)
	})
}
