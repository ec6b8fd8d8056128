package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// The 1M-entry database for BenchmarkAuditVerify1M is built once per test
// binary (the benchmark function is called several times while b.N ramps up)
// and removed by TestMain.
var verify1M struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if verify1M.dir != "" {
		os.RemoveAll(verify1M.dir)
	}
	os.Exit(code)
}

func benchEntry(i int) gatehouse.AuditEntry {
	return gatehouse.AuditEntry{
		Actor:  gatehouse.Actor{Kind: gatehouse.ActorRule, ID: "engineering-birthright"},
		Action: "grant", IdentityKey: fmt.Sprintf("emp:%06d", i%5000), App: "github", Entitlement: "engineering",
		RunID: "r-01jq3v9xk20003", StepID: "s4", Rule: "engineering", Reason: "birthright for department engineering",
		Details: map[string]string{"team": "payments", "level": "write"},
	}
}

// BenchmarkAuditAppend measures durable (fsync on) appends of one entry per
// call from many goroutines: the committer coalesces them into group commits.
func BenchmarkAuditAppend(b *testing.B) {
	for _, par := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", par*2), func(b *testing.B) { // RunParallel: par × GOMAXPROCS
			db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			e := benchEntry(1)
			b.SetParallelism(par)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := db.AppendAudit(e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}

func build1M(b *testing.B) string {
	verify1M.once.Do(func() {
		verify1M.dir, verify1M.err = os.MkdirTemp("", "gatehouse-verify1m-")
		if verify1M.err != nil {
			return
		}
		verify1M.path = filepath.Join(verify1M.dir, "audit.db")
		start := time.Now()
		db, err := Open(verify1M.path, Options{NoSync: true})
		if err != nil {
			verify1M.err = err
			return
		}
		defer db.Close()
		const total, chunk = 1_000_000, 50_000
		batch := make([]gatehouse.AuditEntry, chunk)
		for n := 0; n < total; n += chunk {
			for i := range batch {
				batch[i] = benchEntry(n + i)
			}
			if _, err := db.AppendAudit(batch...); err != nil {
				verify1M.err = err
				return
			}
		}
		fi, _ := os.Stat(verify1M.path)
		b.Logf("built 1M-entry audit log in %v (%d MiB)", time.Since(start).Round(time.Millisecond), fi.Size()>>20)
	})
	if verify1M.err != nil {
		b.Fatal(verify1M.err)
	}
	return verify1M.path
}

// BenchmarkAuditVerify1M times a full verification of a 1,000,000-entry chain.
func BenchmarkAuditVerify1M(b *testing.B) {
	path := build1M(b)
	db, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := db.VerifyAudit(nil)
		if err != nil || rep.Entries != 1_000_000 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/verify")
}

// BenchmarkUnfinishedRuns: 1,000 unfinished runs among 100,000; the
// runs_unfinished index makes resume cost proportional to the former.
// The scan-all sub-benchmark is the baseline the index avoids.
func BenchmarkUnfinishedRuns(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "runs.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const total, unfinished = 100_000, 1_000
	for n := 0; n < total; n += 10_000 {
		err := db.update(func(tx *bolt.Tx) error {
			for i := n; i < n+10_000; i++ {
				r := newRun(fmt.Sprint("dk", i), fmt.Sprintf("emp:%05d", i%7000))
				r.ID = fmt.Sprintf("r-%08d", i)
				r.Version = 1
				r.Status = gatehouse.RunSucceeded
				if i%(total/unfinished) == 0 {
					r.Status = gatehouse.RunWaiting
				}
				if err := putRunTx(tx, nil, &r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("index", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			runs, err := db.UnfinishedRuns()
			if err != nil || len(runs) != unfinished {
				b.Fatalf("%v %d", err, len(runs))
			}
		}
	})
	b.Run("scan-all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			runs, err := db.ListRuns(RunFilter{Status: []gatehouse.RunStatus{gatehouse.RunWaiting}})
			if err != nil || len(runs) != unfinished {
				b.Fatalf("%v %d", err, len(runs))
			}
		}
	})
}
