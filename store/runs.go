package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Runs live in "runs" keyed by id. Three index buckets keep the hot questions
// cheap: runs_by_dedupe_key (same event twice → one run), runs_unfinished (ids of
// non-terminal runs, so resuming after a crash reads only those) and
// runs_by_identity (identity NUL run id).
//
// Steps live in "steps" keyed run id NUL insertion order (uint64), so Steps(run)
// is one prefix scan in plan order; steps_by_id maps run id NUL step id to that
// key for updates.

// CreateRun stores a new run with its initial steps. It is idempotent on
// run.Event.DedupeKey: if a run with that key exists it is returned with
// created=false and nothing (not even the audit entries) is written. An empty
// ID gets a time-ordered one ("r-..."); an empty Status becomes pending;
// CreatedAt/UpdatedAt default to now; Version starts at 1. Steps get RunID set,
// Version 1, Status pending if empty and, if their ID is empty, "s<n>". Audit
// entries with an empty RunID get the run's id.
func (db *DB) CreateRun(run gatehouse.Run, steps []gatehouse.Step, audit ...gatehouse.AuditEntry) (gatehouse.Run, bool, error) {
	var out gatehouse.Run
	var created bool
	err := db.update(func(tx *bolt.Tx) error {
		out, created = gatehouse.Run{}, false
		runs, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		dedupe, err := bucket(tx, bRunsByDedupe)
		if err != nil {
			return err
		}
		if dk := run.Event.DedupeKey; dk != "" {
			if id := dedupe.Get([]byte(dk)); id != nil {
				return getJSON(runs, id, &out)
			}
		}
		r := run
		now := db.now().UTC()
		if r.ID == "" {
			if r.ID, err = newID("r-", now, runs); err != nil {
				return err
			}
		}
		if err := checkKeyPart("run id", r.ID); err != nil {
			return err
		}
		if runs.Get([]byte(r.ID)) != nil {
			return fmt.Errorf("run %s already exists: %w", r.ID, ErrConflict)
		}
		if r.Status == "" {
			r.Status = gatehouse.RunPending
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if r.UpdatedAt.IsZero() {
			r.UpdatedAt = r.CreatedAt
		}
		r.Version = 1
		if err := putRunTx(tx, nil, &r); err != nil {
			return err
		}
		if len(steps) > 0 {
			if _, err := addStepsTx(tx, r.ID, steps, false); err != nil {
				return err
			}
		}
		if _, err := db.appendAuditTx(tx, withRunID(audit, r.ID)); err != nil {
			return err
		}
		out, created = r, true
		return nil
	})
	if err != nil {
		return gatehouse.Run{}, false, fmt.Errorf("create run: %w", err)
	}
	return out, created, nil
}

func withRunID(audit []gatehouse.AuditEntry, id string) []gatehouse.AuditEntry {
	if len(audit) == 0 {
		return nil
	}
	out := slices.Clone(audit)
	for i := range out {
		if out[i].RunID == "" {
			out[i].RunID = id
		}
	}
	return out
}

// putRunTx writes r and keeps the three run indexes in step with it. old is
// the previously stored run (nil on create).
func putRunTx(tx *bolt.Tx, old, r *gatehouse.Run) error {
	runs, err := bucket(tx, bRuns)
	if err != nil {
		return err
	}
	dedupe, _ := bucket(tx, bRunsByDedupe)
	open, _ := bucket(tx, bRunsOpen)
	byIdent, _ := bucket(tx, bRunsByIdent)
	if dedupe == nil || open == nil || byIdent == nil {
		return fmt.Errorf("run index buckets missing: %w", ErrCorrupt)
	}
	id := []byte(r.ID)
	if old != nil {
		if old.Event.DedupeKey != "" && old.Event.DedupeKey != r.Event.DedupeKey {
			if err := dedupe.Delete([]byte(old.Event.DedupeKey)); err != nil {
				return err
			}
		}
		if old.IdentityKey != r.IdentityKey {
			if err := byIdent.Delete(joinKey(old.IdentityKey, r.ID)); err != nil {
				return err
			}
		}
	}
	if dk := r.Event.DedupeKey; dk != "" {
		if other := dedupe.Get([]byte(dk)); other != nil && string(other) != r.ID {
			return fmt.Errorf("dedupe key %q already belongs to run %s: %w", dk, other, ErrConflict)
		}
		if err := dedupe.Put([]byte(dk), id); err != nil {
			return err
		}
	}
	if r.Status.Terminal() {
		err = open.Delete(id)
	} else {
		err = open.Put(id, nil)
	}
	if err != nil {
		return err
	}
	if err := byIdent.Put(joinKey(r.IdentityKey, r.ID), nil); err != nil {
		return err
	}
	return putJSON(runs, id, r)
}

// GetRun returns the run with id, or ErrNotFound.
func (db *DB) GetRun(id string) (gatehouse.Run, error) {
	var r gatehouse.Run
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		return getJSON(b, []byte(id), &r)
	})
	if err != nil {
		return gatehouse.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// RunByDedupeKey returns the run created for an event dedupe key, or ErrNotFound.
func (db *DB) RunByDedupeKey(key string) (gatehouse.Run, error) {
	var r gatehouse.Run
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bRunsByDedupe)
		if err != nil {
			return err
		}
		id := b.Get([]byte(key))
		if id == nil {
			return ErrNotFound
		}
		runs, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		return getJSON(runs, id, &r)
	})
	if err != nil {
		return gatehouse.Run{}, fmt.Errorf("get run by dedupe key %q: %w", key, err)
	}
	return r, nil
}

// UpdateRun is compare-and-swap: it stores r only if the stored version equals
// r.Version, then returns it with Version+1 and UpdatedAt now (FinishedAt is set
// when r becomes terminal without one). ErrConflict when the version moved on,
// ErrNotFound when there is no such run.
func (db *DB) UpdateRun(r gatehouse.Run, audit ...gatehouse.AuditEntry) (gatehouse.Run, error) {
	out, err := db.modifyRun(r.ID, func(stored *gatehouse.Run) error {
		if stored.Version != r.Version {
			return fmt.Errorf("stored version %d, caller had %d: %w", stored.Version, r.Version, ErrConflict)
		}
		*stored = r
		return nil
	}, audit)
	if err != nil {
		return gatehouse.Run{}, fmt.Errorf("update run %s: %w", r.ID, err)
	}
	return out, nil
}

// UpdateRunFunc reads the run, lets fn change it and writes it back in one
// transaction (fn may run more than once; see the package doc). An error from
// fn aborts the write and is returned wrapped.
func (db *DB) UpdateRunFunc(id string, fn func(*gatehouse.Run) error, audit ...gatehouse.AuditEntry) (gatehouse.Run, error) {
	out, err := db.modifyRun(id, fn, audit)
	if err != nil {
		return gatehouse.Run{}, fmt.Errorf("update run %s: %w", id, err)
	}
	return out, nil
}

func (db *DB) modifyRun(id string, fn func(*gatehouse.Run) error, audit []gatehouse.AuditEntry) (gatehouse.Run, error) {
	var out gatehouse.Run
	err := db.update(func(tx *bolt.Tx) error {
		runs, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		var old gatehouse.Run
		if err := getJSON(runs, []byte(id), &old); err != nil {
			return err
		}
		var r gatehouse.Run
		if err := getJSON(runs, []byte(id), &r); err != nil { // a separate copy for fn
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		r.ID = id
		r.Version = old.Version + 1
		r.UpdatedAt = db.now().UTC()
		if r.Status.Terminal() && r.FinishedAt.IsZero() {
			r.FinishedAt = r.UpdatedAt
		}
		if err := putRunTx(tx, &old, &r); err != nil {
			return err
		}
		if _, err := db.appendAuditTx(tx, withRunID(audit, id)); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// RunFilter selects runs for ListRuns. Zero fields match everything.
type RunFilter struct {
	Status      []gatehouse.RunStatus
	IdentityKey string
	Since       time.Time // CreatedAt at or after
	Limit       int       // 0: no limit
}

// ListRuns returns matching runs, newest id first (generated ids are
// time-ordered).
func (db *DB) ListRuns(f RunFilter) ([]gatehouse.Run, error) {
	var out []gatehouse.Run
	err := db.view(func(tx *bolt.Tx) error {
		runs, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		match := func(r *gatehouse.Run) bool {
			return (len(f.Status) == 0 || slices.Contains(f.Status, r.Status)) &&
				(f.IdentityKey == "" || r.IdentityKey == f.IdentityKey) &&
				(f.Since.IsZero() || !r.CreatedAt.Before(f.Since))
		}
		visit := func(v []byte) (bool, error) {
			var r gatehouse.Run
			if err := decodeJSON(v, &r); err != nil {
				return false, err
			}
			if match(&r) {
				out = append(out, r)
			}
			return f.Limit > 0 && len(out) >= f.Limit, nil
		}
		if f.IdentityKey != "" {
			idx, err := bucket(tx, bRunsByIdent)
			if err != nil {
				return err
			}
			prefix := prefixKey(f.IdentityKey)
			c := idx.Cursor()
			// Seek past the prefix and walk backwards for newest first.
			k, _ := c.Seek(append(prefixKey(f.IdentityKey), 0xff))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
			for ; k != nil && hasPrefix(k, prefix); k, _ = c.Prev() {
				v := runs.Get(k[len(prefix):])
				if v == nil {
					continue
				}
				if stop, err := visit(v); err != nil || stop {
					return err
				}
			}
			return nil
		}
		c := runs.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if stop, err := visit(v); err != nil || stop {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// UnfinishedRuns returns every non-terminal run, oldest id first. It reads
// only the runs_unfinished index and those runs, so it costs O(unfinished),
// not O(all runs).
func (db *DB) UnfinishedRuns() ([]gatehouse.Run, error) {
	var out []gatehouse.Run
	err := db.view(func(tx *bolt.Tx) error {
		runs, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		open, err := bucket(tx, bRunsOpen)
		if err != nil {
			return err
		}
		return open.ForEach(func(k, _ []byte) error {
			v := runs.Get(k)
			if v == nil {
				return nil // index ahead of data cannot happen in one tx; tolerate anyway
			}
			var r gatehouse.Run
			if err := decodeJSON(v, &r); err != nil {
				return fmt.Errorf("run %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("unfinished runs: %w", err)
	}
	return out, nil
}

// ---- steps ----

func stepKey(runID string, n uint64) []byte {
	k := prefixKey(runID)
	return binary.BigEndian.AppendUint64(k, n)
}

// addStepsTx appends steps to a run. With skipExisting, a step whose id is
// already stored is left alone and the stored one returned (so re-adding steps
// after a crash is harmless); otherwise a duplicate id is ErrConflict.
func addStepsTx(tx *bolt.Tx, runID string, steps []gatehouse.Step, skipExisting bool) ([]gatehouse.Step, error) {
	sb, err := bucket(tx, bSteps)
	if err != nil {
		return nil, err
	}
	idx, err := bucket(tx, bStepIndex)
	if err != nil {
		return nil, err
	}
	// Next insertion number: one past the run's last step key.
	prefix := prefixKey(runID)
	var n uint64
	c := sb.Cursor()
	k, _ := c.Seek(append(prefixKey(runID), 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k != nil && hasPrefix(k, prefix) && len(k) == len(prefix)+8 {
		n = binary.BigEndian.Uint64(k[len(prefix):])
	}
	out := make([]gatehouse.Step, 0, len(steps))
	for i, s := range steps {
		s.RunID = runID
		if s.ID == "" {
			// "s<n>" after the insertion number, skipping ids callers chose.
			for i := n + 1; ; i++ {
				s.ID = fmt.Sprintf("s%d", i)
				if idx.Get(joinKey(runID, s.ID)) == nil {
					break
				}
			}
		}
		if err := checkKeyPart("step id", s.ID); err != nil {
			return nil, err
		}
		ik := joinKey(runID, s.ID)
		if existing := idx.Get(ik); existing != nil {
			if !skipExisting {
				return nil, fmt.Errorf("step %s/%s (#%d in the list) already exists: %w", runID, s.ID, i+1, ErrConflict)
			}
			var st gatehouse.Step
			if err := getJSON(sb, existing, &st); err != nil {
				return nil, err
			}
			out = append(out, st)
			continue
		}
		if s.Status == "" {
			s.Status = gatehouse.StepPending
		}
		s.Version = 1
		n++
		key := stepKey(runID, n)
		if err := putJSON(sb, key, &s); err != nil {
			return nil, err
		}
		if err := idx.Put(ik, key); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// AddSteps appends steps discovered mid-run, after the existing ones. It is
// idempotent per step id: a step already stored is returned as stored.
func (db *DB) AddSteps(runID string, steps []gatehouse.Step, audit ...gatehouse.AuditEntry) ([]gatehouse.Step, error) {
	var out []gatehouse.Step
	err := db.update(func(tx *bolt.Tx) error {
		runs, err := bucket(tx, bRuns)
		if err != nil {
			return err
		}
		if runs.Get([]byte(runID)) == nil {
			return fmt.Errorf("run %s: %w", runID, ErrNotFound)
		}
		if out, err = addStepsTx(tx, runID, steps, true); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, withRunID(audit, runID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("add steps to run %s: %w", runID, err)
	}
	return out, nil
}

// Steps returns a run's steps in insertion order (empty, not an error, for a
// run without steps).
func (db *DB) Steps(runID string) ([]gatehouse.Step, error) {
	var out []gatehouse.Step
	err := db.view(func(tx *bolt.Tx) error {
		sb, err := bucket(tx, bSteps)
		if err != nil {
			return err
		}
		prefix := prefixKey(runID)
		c := sb.Cursor()
		for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
			var s gatehouse.Step
			if err := decodeJSON(v, &s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("steps of run %s: %w", runID, err)
	}
	return out, nil
}

// GetStep returns one step, or ErrNotFound.
func (db *DB) GetStep(runID, stepID string) (gatehouse.Step, error) {
	var s gatehouse.Step
	err := db.view(func(tx *bolt.Tx) error {
		sb, err := bucket(tx, bSteps)
		if err != nil {
			return err
		}
		idx, err := bucket(tx, bStepIndex)
		if err != nil {
			return err
		}
		key := idx.Get(joinKey(runID, stepID))
		if key == nil {
			return ErrNotFound
		}
		return getJSON(sb, key, &s)
	})
	if err != nil {
		return gatehouse.Step{}, fmt.Errorf("get step %s/%s: %w", runID, stepID, err)
	}
	return s, nil
}

// UpdateStep is compare-and-swap on step.Version (see UpdateRun). The step is
// found by RunID and ID; it returns the stored step with Version+1.
func (db *DB) UpdateStep(step gatehouse.Step, audit ...gatehouse.AuditEntry) (gatehouse.Step, error) {
	out, err := db.modifyStep(step.RunID, step.ID, func(stored *gatehouse.Step) error {
		if stored.Version != step.Version {
			return fmt.Errorf("stored version %d, caller had %d: %w", stored.Version, step.Version, ErrConflict)
		}
		*stored = step
		return nil
	}, audit)
	if err != nil {
		return gatehouse.Step{}, fmt.Errorf("update step %s/%s: %w", step.RunID, step.ID, err)
	}
	return out, nil
}

// UpdateStepFunc is the read-modify-write form of UpdateStep.
func (db *DB) UpdateStepFunc(runID, stepID string, fn func(*gatehouse.Step) error, audit ...gatehouse.AuditEntry) (gatehouse.Step, error) {
	out, err := db.modifyStep(runID, stepID, fn, audit)
	if err != nil {
		return gatehouse.Step{}, fmt.Errorf("update step %s/%s: %w", runID, stepID, err)
	}
	return out, nil
}

func (db *DB) modifyStep(runID, stepID string, fn func(*gatehouse.Step) error, audit []gatehouse.AuditEntry) (gatehouse.Step, error) {
	var out gatehouse.Step
	err := db.update(func(tx *bolt.Tx) error {
		sb, err := bucket(tx, bSteps)
		if err != nil {
			return err
		}
		idx, err := bucket(tx, bStepIndex)
		if err != nil {
			return err
		}
		key := idx.Get(joinKey(runID, stepID))
		if key == nil {
			return ErrNotFound
		}
		key = slices.Clone(key) // used after Put; never keep mmap memory across writes
		var s gatehouse.Step
		if err := getJSON(sb, key, &s); err != nil {
			return err
		}
		version := s.Version
		if err := fn(&s); err != nil {
			return err
		}
		s.RunID, s.ID, s.Version = runID, stepID, version+1
		if err := putJSON(sb, key, &s); err != nil {
			return err
		}
		if _, err := db.appendAuditTx(tx, withRunID(audit, runID)); err != nil {
			return err
		}
		out = s
		return nil
	})
	return out, err
}
