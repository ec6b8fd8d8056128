package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Approvals and tasks are few (hundreds open at a time) and every query wants a
// different slice of them, so they are stored by id and filtered by a scan
// rather than carrying indexes that must be kept consistent.

// ApprovalFilter selects approvals. Zero fields match everything.
type ApprovalFilter struct {
	Status      []gatehouse.ApprovalStatus
	Approver    string // email, case-insensitive, among Approvers
	RunID       string
	IdentityKey string
	Limit       int
}

func (f ApprovalFilter) match(a *gatehouse.Approval) bool {
	return (len(f.Status) == 0 || slices.Contains(f.Status, a.Status)) &&
		(f.Approver == "" || slices.ContainsFunc(a.Approvers, func(s string) bool { return strings.EqualFold(s, f.Approver) })) &&
		(f.RunID == "" || a.RunID == f.RunID) &&
		(f.IdentityKey == "" || a.IdentityKey == f.IdentityKey)
}

// TaskFilter selects tasks. Zero fields match everything.
type TaskFilter struct {
	Status      []gatehouse.TaskStatus
	Assignee    string // email, case-insensitive
	RunID       string
	IdentityKey string
	Limit       int
}

func (f TaskFilter) match(t *gatehouse.Task) bool {
	return (len(f.Status) == 0 || slices.Contains(f.Status, t.Status)) &&
		(f.Assignee == "" || strings.EqualFold(t.Assignee, f.Assignee)) &&
		(f.RunID == "" || t.RunID == f.RunID) &&
		(f.IdentityKey == "" || t.IdentityKey == f.IdentityKey)
}

// record is what the generic helpers need to know about a versioned value.
type record[T any] struct {
	bucket  []byte
	noun    string
	prefix  string
	id      func(*T) *string
	version func(*T) *uint64
	init    func(*T, *DB) // defaults on create
}

var approvalRec = record[gatehouse.Approval]{
	bucket: bApprovals, noun: "approval", prefix: "a-",
	id:      func(a *gatehouse.Approval) *string { return &a.ID },
	version: func(a *gatehouse.Approval) *uint64 { return &a.Version },
	init: func(a *gatehouse.Approval, db *DB) {
		if a.Status == "" {
			a.Status = gatehouse.ApprovalPending
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = db.now().UTC()
		}
	},
}

var taskRec = record[gatehouse.Task]{
	bucket: bTasks, noun: "task", prefix: "t-",
	id:      func(t *gatehouse.Task) *string { return &t.ID },
	version: func(t *gatehouse.Task) *uint64 { return &t.Version },
	init: func(t *gatehouse.Task, db *DB) {
		if t.Status == "" {
			t.Status = gatehouse.TaskOpen
		}
		if t.CreatedAt.IsZero() {
			t.CreatedAt = db.now().UTC()
		}
	},
}

func createRecord[T any](db *DB, rec record[T], v T, audit []gatehouse.AuditEntry) (T, error) {
	var out T
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, rec.bucket)
		if err != nil {
			return err
		}
		x := v
		id := rec.id(&x)
		if *id == "" {
			if *id, err = newID(rec.prefix, db.now(), b); err != nil {
				return err
			}
		}
		if err := checkKeyPart(rec.noun+" id", *id); err != nil {
			return err
		}
		if b.Get([]byte(*id)) != nil {
			return fmt.Errorf("%s %s already exists: %w", rec.noun, *id, ErrConflict)
		}
		rec.init(&x, db)
		*rec.version(&x) = 1
		if err := putJSON(b, []byte(*id), &x); err != nil {
			return err
		}
		if _, err := db.appendAuditTx(tx, audit); err != nil {
			return err
		}
		out = x
		return nil
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("create %s %s: %w", rec.noun, *rec.id(&v), err)
	}
	return out, nil
}

func getRecord[T any](db *DB, rec record[T], id string) (T, error) {
	var out T
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, rec.bucket)
		if err != nil {
			return err
		}
		return getJSON(b, []byte(id), &out)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("get %s %s: %w", rec.noun, id, err)
	}
	return out, nil
}

func modifyRecord[T any](db *DB, rec record[T], id string, fn func(*T) error, audit []gatehouse.AuditEntry) (T, error) {
	var out T
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, rec.bucket)
		if err != nil {
			return err
		}
		var x T
		if err := getJSON(b, []byte(id), &x); err != nil {
			return err
		}
		version := *rec.version(&x)
		if err := fn(&x); err != nil {
			return err
		}
		*rec.id(&x), *rec.version(&x) = id, version+1
		if err := putJSON(b, []byte(id), &x); err != nil {
			return err
		}
		if _, err := db.appendAuditTx(tx, audit); err != nil {
			return err
		}
		out = x
		return nil
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("update %s %s: %w", rec.noun, id, err)
	}
	return out, nil
}

func casRecord[T any](db *DB, rec record[T], v T, audit []gatehouse.AuditEntry) (T, error) {
	want := *rec.version(&v)
	return modifyRecord(db, rec, *rec.id(&v), func(stored *T) error {
		if have := *rec.version(stored); have != want {
			return fmt.Errorf("stored version %d, caller had %d: %w", have, want, ErrConflict)
		}
		*stored = v
		return nil
	}, audit)
}

func listRecords[T any](db *DB, rec record[T], match func(*T) bool, limit int) ([]T, error) {
	var out []T
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, rec.bucket)
		if err != nil {
			return err
		}
		return scanJSON(b, nil, func(x T) error {
			if match(&x) {
				out = append(out, x)
				if limit > 0 && len(out) >= limit {
					return errLimit
				}
			}
			return nil
		})
	})
	if errors.Is(err, errLimit) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", rec.noun, err)
	}
	return out, nil
}

// PutApproval stores a new approval request (ErrConflict if the id exists). An
// empty ID gets a time-ordered "a-..." id, an empty Status pending, CreatedAt
// now; Version starts at 1.
func (db *DB) PutApproval(a gatehouse.Approval, audit ...gatehouse.AuditEntry) (gatehouse.Approval, error) {
	return createRecord(db, approvalRec, a, audit)
}

// GetApproval returns an approval, or ErrNotFound.
func (db *DB) GetApproval(id string) (gatehouse.Approval, error) {
	return getRecord(db, approvalRec, id)
}

// ListApprovals returns matching approvals, oldest id first.
func (db *DB) ListApprovals(f ApprovalFilter) ([]gatehouse.Approval, error) {
	return listRecords(db, approvalRec, f.match, f.Limit)
}

// UpdateApproval reads the approval, lets fn change it and writes it back with
// Version+1, atomically with the audit entries. An error from fn (say, "already
// decided") aborts the write. fn may run more than once; see the package doc.
func (db *DB) UpdateApproval(id string, fn func(*gatehouse.Approval) error, audit ...gatehouse.AuditEntry) (gatehouse.Approval, error) {
	return modifyRecord(db, approvalRec, id, fn, audit)
}

// ReplaceApproval is compare-and-swap: it stores a only if the stored version
// equals a.Version (else ErrConflict) and returns it with Version+1.
func (db *DB) ReplaceApproval(a gatehouse.Approval, audit ...gatehouse.AuditEntry) (gatehouse.Approval, error) {
	return casRecord(db, approvalRec, a, audit)
}

// PutTask stores a new manual task (ErrConflict if the id exists). An empty ID
// gets a time-ordered "t-..." id, an empty Status open, CreatedAt now; Version
// starts at 1.
func (db *DB) PutTask(t gatehouse.Task, audit ...gatehouse.AuditEntry) (gatehouse.Task, error) {
	return createRecord(db, taskRec, t, audit)
}

// GetTask returns a task, or ErrNotFound.
func (db *DB) GetTask(id string) (gatehouse.Task, error) { return getRecord(db, taskRec, id) }

// ListTasks returns matching tasks, oldest id first.
func (db *DB) ListTasks(f TaskFilter) ([]gatehouse.Task, error) {
	return listRecords(db, taskRec, f.match, f.Limit)
}

// UpdateTask is the read-modify-write form for tasks (see UpdateApproval).
func (db *DB) UpdateTask(id string, fn func(*gatehouse.Task) error, audit ...gatehouse.AuditEntry) (gatehouse.Task, error) {
	return modifyRecord(db, taskRec, id, fn, audit)
}

// ReplaceTask is compare-and-swap on t.Version (see ReplaceApproval).
func (db *DB) ReplaceTask(t gatehouse.Task, audit ...gatehouse.AuditEntry) (gatehouse.Task, error) {
	return casRecord(db, taskRec, t, audit)
}
