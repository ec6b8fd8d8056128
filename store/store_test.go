package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// clock is a fake, settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func openTest(t testing.TB) (*DB, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	db, err := Open(filepath.Join(t.TempDir(), "gatehouse.db"), Options{Now: clk.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, clk
}

// rawUpdate edits the file behind the store's back (tampering, corruption).
func rawUpdate(t testing.TB, db *DB, fn func(tx *bolt.Tx) error) {
	t.Helper()
	if err := db.bolt.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreatesSchema(t *testing.T) {
	db, _ := openTest(t)
	err := db.view(func(tx *bolt.Tx) error {
		v, err := readSchema(tx)
		if err != nil {
			return err
		}
		if v != SchemaVersion() {
			return fmt.Errorf("schema %d, want %d", v, SchemaVersion())
		}
		for _, b := range allBucketsV1 {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %s missing", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, db, func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, u64(99)) })
	db.Close()
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"99", fmt.Sprint(SchemaVersion())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name version %s", err, want)
		}
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	saved := migrations
	base := SchemaVersion() // the test's migrations come after the real ones
	t.Cleanup(func() { migrations = saved })
	ran := 0
	migrations = append(append([]migration(nil), saved...), migration{version: base + 1, name: "add widgets", up: func(tx *bolt.Tx) error {
		ran++
		_, err := tx.CreateBucketIfNotExists([]byte("widgets"))
		return err
	}})

	// A read-only open must not migrate.
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsMigration) {
		t.Fatalf("read-only open of old schema: err = %v, want ErrNeedsMigration", err)
	}
	for i := 0; i < 2; i++ { // second open: nothing to do
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = db.view(func(tx *bolt.Tx) error {
			if v, _ := readSchema(tx); v != base+1 {
				return fmt.Errorf("schema %d, want %d", v, base+1)
			}
			if tx.Bucket([]byte("widgets")) == nil {
				return errors.New("the widgets migration did not run")
			}
			return nil
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if ran != 1 {
		t.Fatalf("migration ran %d times, want 1", ran)
	}

	// A failing migration leaves the file at the last good version.
	migrations = append(migrations, migration{version: base + 2, name: "boom", up: func(tx *bolt.Tx) error { return errors.New("boom") }})
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema %d (boom)", base+2)) {
		t.Fatalf("err = %v", err)
	}
	migrations = migrations[:len(saved)+1]
	db, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("after failed migration: %v", err)
	}
	db.Close()
}

func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"text":  []byte("this is not a database\n"),
		"short": []byte("x"),
		"zeros": make([]byte, 64<<10),
		"json":  []byte(`{"runs":[]}`),
		"empty": {},
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				if name == "empty" && !ro {
					continue // an empty file is a new database for a read-write open
				}
				_, err := Open(path, Options{ReadOnly: ro})
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("readonly=%v: err = %v, want ErrCorrupt", ro, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
			}
			got, _ := os.ReadFile(path)
			if string(got) != string(content) {
				t.Fatal("a corrupt file was modified")
			}
		})
	}
}

func TestCorruptValue(t *testing.T) {
	db, _ := openTest(t)
	rawUpdate(t, db, func(tx *bolt.Tx) error { return tx.Bucket(bRuns).Put([]byte("r-bad"), []byte("{garbage")) })
	if _, err := db.GetRun("r-bad"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if _, err := db.ListRuns(RunFilter{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestLockedSameProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err = Open(path, Options{Timeout: 50 * time.Millisecond, ReadOnly: ro})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("readonly=%v: err = %v, want ErrLocked", ro, err)
		}
		if !strings.Contains(err.Error(), "in use by another gatehouse process") || !strings.Contains(err.Error(), path) {
			t.Errorf("unclear error: %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("lock timeout not honoured: %v", time.Since(start))
		}
	}
	// Two read-only opens share the lock.
	db.Close()
	a, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, Options{ReadOnly: true, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("second read-only open: %v", err)
	}
	b.Close()
	if _, err := a.AppendAudit(auditEntry("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write on read-only: %v", err)
	}
}

// TestLockedOtherProcess re-runs the test binary as a child that holds the
// lock, the situation ErrLocked exists for.
func TestLockedOtherProcess(t *testing.T) {
	if path := os.Getenv("GATEHOUSE_STORE_HOLD_LOCK"); path != "" {
		db, err := Open(path, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until the parent closes stdin
		db.Close()
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("subprocess test")
	}
	path := filepath.Join(t.TempDir(), "g.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedOtherProcess$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_STORE_HOLD_LOCK="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("child said %q", line)
	}
	_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}

func TestClosed(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := db.AppendAudit(auditEntry("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := db.GetRun("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

func TestNewIDSortable(t *testing.T) {
	db, clk := openTest(t)
	var prev string
	err := db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRuns)
		for i := 0; i < 100; i++ {
			id, err := newID("r-", clk.Now(), b)
			if err != nil {
				return err
			}
			if id <= prev {
				return fmt.Errorf("%s not after %s", id, prev)
			}
			prev = id
			if i%10 == 0 {
				clk.Add(time.Millisecond)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A failing write in a batch must not take the others down nor leave partial
// writes behind.
func TestBatchIsolation(t *testing.T) {
	db, _ := openTest(t)
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = db.update(func(tx *bolt.Tx) error {
				if err := tx.Bucket(bTasks).Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v")); err != nil {
					return err
				}
				if i%7 == 0 {
					return errors.New("fail after a partial write")
				}
				if i%13 == 0 {
					panic("boom")
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	err := db.view(func(tx *bolt.Tx) error {
		for i, e := range errs {
			has := tx.Bucket(bTasks).Get([]byte(fmt.Sprintf("k%03d", i))) != nil
			wantFail := i%7 == 0 || i%13 == 0
			if wantFail != (e != nil) || has == wantFail {
				return fmt.Errorf("write %d: err=%v stored=%v", i, e, has)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.db")
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a read-only open created the file")
	}
}

// Close drains the queue: every write that reported success is on disk.
func TestCloseDrainsWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var ok sync.WaitGroup
	var mu sync.Mutex
	succeeded := 0
	for i := 0; i < 50; i++ {
		ok.Add(1)
		go func() {
			defer ok.Done()
			if _, err := db.AppendAudit(auditEntry("x")); err == nil {
				mu.Lock()
				succeeded++
				mu.Unlock()
			} else if !errors.Is(err, ErrClosed) {
				t.Error(err)
			}
		}()
	}
	db.Close()
	ok.Wait()
	db, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := db.VerifyAudit(nil)
	if err != nil || rep.Entries != uint64(succeeded) {
		t.Fatalf("%d entries on disk, %d appends succeeded (%v)", rep.Entries, succeeded, err)
	}
}

func TestRotateBackupsKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(filepath.Join(dir, "g.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.AppendAudit(gatehouse.AuditEntry{Action: "probe"}); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(dir, "backups")
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var last string
	for i := 0; i < 5; i++ {
		if last, err = db.RotateBackups(bdir, 3, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(bdir)
	if len(entries) != 3 || entries[0].Name() != "gatehouse-20261126T120000Z.db" || filepath.Base(last) != "gatehouse-20261126T140000Z.db" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("backups = %v, last %s", names, last)
	}
	// The newest backup is a usable database with the audit chain intact,
	// taken while db stayed open (a hot backup).
	b, err := Open(last, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if rep, err := b.VerifyAudit(nil); err != nil || rep.Entries != 1 {
		t.Fatalf("verify backup: %+v, %v", rep, err)
	}
}
