package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole database to w from a read
// transaction, so writers keep going while it runs (hot backup). A write that
// must grow the file waits for the backup to finish (bbolt remaps only with no
// reader open), so stream to fast storage.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", db.path, err)
	}
	return n, nil
}

// BackupFile writes a hot backup to path atomically: into a 0600 temporary
// file in the same directory, fsynced, then renamed over path, so a crash
// never leaves a half-written backup under the final name.
func (db *DB) BackupFile(path string) (int64, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	n, err := db.Backup(f)
	if err != nil {
		return n, err
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("backup to %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("backup to %s: close: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return n, fmt.Errorf("backup to %s: %w", path, err)
	}
	ok = true
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return n, nil
}

// BackupPrefix and BackupSuffix frame the names RotateBackups writes:
// gatehouse-20261126T231500Z.db. The timestamp sorts lexically.
const (
	BackupPrefix = "gatehouse-"
	BackupSuffix = ".db"
)

// RotateBackups writes a timestamped hot backup into dir (created 0700 if
// missing) and removes the oldest ones beyond keep (keep < 1 keeps one). It is
// how a running server, which holds the database's lock, is backed up: a
// second process cannot open the file while `serve` runs.
func (db *DB) RotateBackups(dir string, keep int, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("backup directory %s: %w", dir, err)
	}
	name := filepath.Join(dir, BackupPrefix+now.UTC().Format("20060102T150405Z")+BackupSuffix)
	if _, err := db.BackupFile(name); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return name, fmt.Errorf("list backups in %s: %w", dir, err)
	}
	var backups []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasPrefix(n, BackupPrefix) && strings.HasSuffix(n, BackupSuffix) {
			backups = append(backups, n)
		}
	}
	sort.Strings(backups)
	if keep < 1 {
		keep = 1
	}
	for len(backups) > keep {
		if err := os.Remove(filepath.Join(dir, backups[0])); err != nil {
			return name, fmt.Errorf("remove old backup: %w", err)
		}
		backups = backups[1:]
	}
	return name, nil
}
