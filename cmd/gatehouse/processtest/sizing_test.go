package processtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// TestSizing measures a real serve: resident memory and database size with
// N identities, each onboarded (HR roster sync → joiner run → 3 apps), and
// with none. It is how the figures in docs/operations.md and BENCHMARKS.md
// were taken; it runs only when asked:
//
//	GATEHOUSE_SIZING=1000 go test -run TestSizing -v ./cmd/gatehouse/
func TestSizing(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATEHOUSE_SIZING"))
	if n <= 0 {
		t.Skip("set GATEHOUSE_SIZING=N (identities) to measure")
	}
	measure := func(n int) (rssKB, hwmKB int, dbBytes, compact int64, took time.Duration) {
		e := newProcEnv(t)
		var rows []string
		for i := range n {
			rows = append(rows, fmt.Sprintf("%d,p%05d@example.com,Person %d,Dept %d,Title,it-lead@example.com,active", i+1, i, i, i%7))
		}
		e.writeRoster(rows...)
		e.writeConfig("0s", everyoneProfile+fmt.Sprintf(`hr:
  listen: 127.0.0.1:0
  guard: {disabled: true}
  sync: {schedule: "@every 2s"}
  sources:
    people: {vendor: csv, roster: file, file: %s}
`, filepath.Join(e.dir, "roster.csv")))
		start := time.Now()
		p := e.start("--log-level", "warn")
		if n > 0 {
			e.waitEffect(p, "okta", "ensure_account", fmt.Sprintf("p%05d@example.com", n-1), "", 10*time.Minute)
			for _, app := range []string{"okta", "github", "aws"} {
				e.waitEffect(p, app, "grant", fmt.Sprintf("p%05d@example.com", n-1), "users", 10*time.Minute)
			}
		}
		took = time.Since(start)
		time.Sleep(5 * time.Second) // settle: the last runs' verifications, a GC cycle
		rssKB, hwmKB = procStatus(t, p.cmd.Process.Pid)
		runs := e.stopWhenDone(p)
		done := 0
		for _, r := range runs {
			if r.Status == gatehouse.RunSucceeded {
				done++
			}
		}
		if done != n {
			t.Errorf("%d of %d runs succeeded", done, n)
		}
		st, err := os.Stat(e.db)
		if err != nil {
			t.Fatal(err)
		}
		// A backup is the compact size (bbolt's file keeps free pages
		// and grows its file ahead of the data).
		_, db := e.runs()
		compact, err = db.Backup(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return rssKB, hwmKB, st.Size(), compact, took
	}
	r0, h0, d0, c0, _ := measure(0)
	r1, h1, d1, c1, took := measure(n)
	t.Logf("0 identities: RSS %d KiB (peak %d), database file %d KiB (backup %d KiB)", r0, h0, d0/1024, c0/1024)
	t.Logf("%d identities: RSS %d KiB (peak %d), database file %d KiB (backup %d KiB), onboarded in %v", n, r1, h1, d1/1024, c1/1024, took.Round(time.Second))
	per := float64(1000) / float64(n)
	t.Logf("per 1000 identities: RSS +%.1f MiB (peak +%.1f MiB), database file +%.1f MiB, backup +%.1f MiB",
		float64(r1-r0)*per/1024, float64(h1-h0)*per/1024, float64(d1-d0)*per/1024/1024, float64(c1-c0)*per/1024/1024)
}

// procStatus reads VmRSS and VmHWM (KiB) of a process.
func procStatus(t *testing.T, pid int) (rss, hwm int) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		}
	}
	return rss, hwm
}
