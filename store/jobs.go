package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Job is work scheduled for a time: a run's NotBefore, an approval reminder, a
// non-human identity's expiry. Jobs live in "jobs" keyed by due time (8-byte
// big-endian unix nanos) + id, so the due ones are a prefix of the bucket;
// "jobs_by_id" maps id → that key so rescheduling can find the old slot.
type Job struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"`
	At      time.Time       `json:"at"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

var errLimit = errors.New("limit reached")

func jobKey(at time.Time, id string) []byte { return append(timeKey(at), id...) }

// ScheduleJob stores job, idempotent on ID: scheduling an existing id again
// replaces it and moves it to its new time. Payload must be valid JSON (or
// empty).
func (db *DB) ScheduleJob(job Job, audit ...gatehouse.AuditEntry) error {
	if err := checkKeyPart("job id", job.ID); err != nil {
		return fmt.Errorf("schedule job: %w", err)
	}
	err := db.update(func(tx *bolt.Tx) error {
		jobs, err := bucket(tx, bJobs)
		if err != nil {
			return err
		}
		byID, err := bucket(tx, bJobsByID)
		if err != nil {
			return err
		}
		if old := byID.Get([]byte(job.ID)); old != nil {
			if err := jobs.Delete(bytes.Clone(old)); err != nil {
				return err
			}
		}
		k := jobKey(job.At, job.ID)
		if err := putJSON(jobs, k, &job); err != nil {
			return err
		}
		if err := byID.Put([]byte(job.ID), k); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return fmt.Errorf("schedule job %s: %w", job.ID, err)
	}
	return nil
}

// DueJobs returns jobs due at or before now, earliest first, at most limit (0:
// no limit). They stay scheduled until DeleteJob, so a crash between running
// and deleting a job runs it again: job handlers must be idempotent.
func (db *DB) DueJobs(now time.Time, limit int) ([]Job, error) {
	var out []Job
	end := uint64(now.UnixNano())
	if now.UnixNano() < 0 {
		end = 0
	}
	err := db.view(func(tx *bolt.Tx) error {
		jobs, err := bucket(tx, bJobs)
		if err != nil {
			return err
		}
		c := jobs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) < 8 || binary.BigEndian.Uint64(k) > end {
				break
			}
			var j Job
			if err := decodeJSON(v, &j); err != nil {
				return fmt.Errorf("job %q: %w", k, err)
			}
			out = append(out, j)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	return out, nil
}

// NextJobAt returns when the earliest job is due; ok is false when nothing is
// scheduled.
func (db *DB) NextJobAt() (at time.Time, ok bool, err error) {
	err = db.view(func(tx *bolt.Tx) error {
		jobs, err := bucket(tx, bJobs)
		if err != nil {
			return err
		}
		k, _ := jobs.Cursor().First()
		if k == nil {
			return nil
		}
		if len(k) < 8 {
			return fmt.Errorf("job key %q: %w", k, ErrCorrupt)
		}
		at, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC(), true
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next job: %w", err)
	}
	return at, ok, nil
}

// GetJob returns a scheduled job, or ErrNotFound.
func (db *DB) GetJob(id string) (Job, error) {
	var j Job
	err := db.view(func(tx *bolt.Tx) error {
		byID, err := bucket(tx, bJobsByID)
		if err != nil {
			return err
		}
		k := byID.Get([]byte(id))
		if k == nil {
			return ErrNotFound
		}
		jobs, err := bucket(tx, bJobs)
		if err != nil {
			return err
		}
		return getJSON(jobs, k, &j)
	})
	if err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// DeleteJob removes a job. Deleting a job that is not there succeeds (it was
// already done), and then the audit entries are not written either.
func (db *DB) DeleteJob(id string, audit ...gatehouse.AuditEntry) error {
	err := db.update(func(tx *bolt.Tx) error {
		jobs, err := bucket(tx, bJobs)
		if err != nil {
			return err
		}
		byID, err := bucket(tx, bJobsByID)
		if err != nil {
			return err
		}
		k := byID.Get([]byte(id))
		if k == nil {
			return nil
		}
		if err := jobs.Delete(bytes.Clone(k)); err != nil {
			return err
		}
		if err := byID.Delete([]byte(id)); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	return nil
}

// ---- dedupe keys ----
//
// "dedupe" maps key → expiry (8-byte unix nanos); "dedupe_by_expiry" maps
// expiry + key → nothing so that purging reads only what has expired.

const never = math.MaxInt64

// MarkSeen records key as seen for ttl (ttl <= 0: forever) and reports whether
// it had already been seen and not yet expired. The check and the mark are one
// transaction, so of two concurrent deliveries exactly one sees false.
func (db *DB) MarkSeen(key string, ttl time.Duration, audit ...gatehouse.AuditEntry) (alreadySeen bool, err error) {
	if key == "" {
		return false, errors.New("mark seen: empty key")
	}
	err = db.update(func(tx *bolt.Tx) error {
		alreadySeen = false
		d, err := bucket(tx, bDedupe)
		if err != nil {
			return err
		}
		byExp, err := bucket(tx, bDedupeExpiry)
		if err != nil {
			return err
		}
		now := db.now().UnixNano()
		if v := d.Get([]byte(key)); v != nil {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now {
				alreadySeen = true
				return nil
			}
			if len(v) == 8 {
				if err := byExp.Delete(append(bytes.Clone(v), key...)); err != nil {
					return err
				}
			}
		}
		exp := int64(never)
		if ttl > 0 && now < never-int64(ttl) {
			exp = now + int64(ttl)
		}
		ev := u64(uint64(exp))
		if err := d.Put([]byte(key), ev); err != nil {
			return err
		}
		if err := byExp.Put(append(ev, key...), nil); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("mark seen %q: %w", key, err)
	}
	return alreadySeen, nil
}

// PurgeExpiredDedupe deletes dedupe keys whose expiry is at or before now and
// returns how many went.
func (db *DB) PurgeExpiredDedupe(now time.Time) (int, error) {
	var n int
	err := db.update(func(tx *bolt.Tx) error {
		n = 0
		d, err := bucket(tx, bDedupe)
		if err != nil {
			return err
		}
		byExp, err := bucket(tx, bDedupeExpiry)
		if err != nil {
			return err
		}
		limit := now.UnixNano()
		var dead [][]byte
		c := byExp.Cursor()
		for k, _ := c.First(); k != nil && len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) <= limit; k, _ = c.Next() {
			dead = append(dead, bytes.Clone(k))
		}
		for _, k := range dead {
			if err := byExp.Delete(k); err != nil {
				return err
			}
			// Only drop the key if it still carries this expiry (it may
			// have been marked again since).
			if v := d.Get(k[8:]); v != nil && bytes.Equal(v, k[:8]) {
				if err := d.Delete(k[8:]); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge dedupe keys: %w", err)
	}
	return n, nil
}
