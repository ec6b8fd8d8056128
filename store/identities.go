package store

import (
	"fmt"
	"strings"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Identities live in "identities" keyed by Identity.Key(), with two unique
// secondary indexes: lower-cased email → key and employee id → key. Messages
// from Slack and HR carry an email or an employee id, never our key.

func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// PutIdentity inserts or replaces the identity stored under id.Key() and keeps
// the email and employee-id indexes in step. Another identity already holding
// the same email or employee id is ErrConflict.
func (db *DB) PutIdentity(id gatehouse.Identity, audit ...gatehouse.AuditEntry) (gatehouse.Identity, error) {
	key := id.Key()
	if err := checkKeyPart("identity key", key); err != nil {
		return gatehouse.Identity{}, fmt.Errorf("put identity: %w", err)
	}
	err := db.update(func(tx *bolt.Tx) error {
		ids, err := bucket(tx, bIdentities)
		if err != nil {
			return err
		}
		byEmail, err := bucket(tx, bIdxEmail)
		if err != nil {
			return err
		}
		byEmp, err := bucket(tx, bIdxEmployee)
		if err != nil {
			return err
		}
		email, emp := normEmail(id.Email), strings.TrimSpace(id.EmployeeID)
		for _, ix := range []struct {
			b    *bolt.Bucket
			val  string
			what string
		}{{byEmail, email, "email"}, {byEmp, emp, "employee id"}} {
			if ix.val == "" {
				continue
			}
			if owner := ix.b.Get([]byte(ix.val)); owner != nil && string(owner) != key {
				return fmt.Errorf("%s %q already belongs to identity %s: %w", ix.what, ix.val, owner, ErrConflict)
			}
		}
		var old gatehouse.Identity
		switch err := getJSON(ids, []byte(key), &old); {
		case err == nil:
			if e := normEmail(old.Email); e != "" && e != email {
				if err := byEmail.Delete([]byte(e)); err != nil {
					return err
				}
			}
			if e := strings.TrimSpace(old.EmployeeID); e != "" && e != emp {
				if err := byEmp.Delete([]byte(e)); err != nil {
					return err
				}
			}
		case err != ErrNotFound:
			return err
		}
		if email != "" {
			if err := byEmail.Put([]byte(email), []byte(key)); err != nil {
				return err
			}
		}
		if emp != "" {
			if err := byEmp.Put([]byte(emp), []byte(key)); err != nil {
				return err
			}
		}
		if err := putJSON(ids, []byte(key), &id); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("put identity %s: %w", key, err)
	}
	return id, nil
}

// GetIdentity returns the identity stored under key, or ErrNotFound.
func (db *DB) GetIdentity(key string) (gatehouse.Identity, error) {
	var id gatehouse.Identity
	err := db.view(func(tx *bolt.Tx) error {
		ids, err := bucket(tx, bIdentities)
		if err != nil {
			return err
		}
		return getJSON(ids, []byte(key), &id)
	})
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("get identity %s: %w", key, err)
	}
	return id, nil
}

func (db *DB) identityBy(index []byte, val, what string) (gatehouse.Identity, error) {
	var id gatehouse.Identity
	err := db.view(func(tx *bolt.Tx) error {
		ix, err := bucket(tx, index)
		if err != nil {
			return err
		}
		key := ix.Get([]byte(val))
		if key == nil {
			return ErrNotFound
		}
		ids, err := bucket(tx, bIdentities)
		if err != nil {
			return err
		}
		return getJSON(ids, key, &id)
	})
	if err != nil {
		return gatehouse.Identity{}, fmt.Errorf("identity by %s %q: %w", what, val, err)
	}
	return id, nil
}

// IdentityByEmail looks an identity up by email, case-insensitively.
func (db *DB) IdentityByEmail(email string) (gatehouse.Identity, error) {
	return db.identityBy(bIdxEmail, normEmail(email), "email")
}

// IdentityByEmployeeID looks an identity up by HR employee id.
func (db *DB) IdentityByEmployeeID(employeeID string) (gatehouse.Identity, error) {
	return db.identityBy(bIdxEmployee, strings.TrimSpace(employeeID), "employee id")
}

// EachIdentity calls fn for every identity in key order inside one read
// transaction; an error from fn stops the walk and is returned.
func (db *DB) EachIdentity(fn func(gatehouse.Identity) error) error {
	err := db.view(func(tx *bolt.Tx) error {
		ids, err := bucket(tx, bIdentities)
		if err != nil {
			return err
		}
		return ids.ForEach(func(k, v []byte) error {
			var id gatehouse.Identity
			if err := decodeJSON(v, &id); err != nil {
				return fmt.Errorf("identity %s: %w", k, err)
			}
			return fn(id)
		})
	})
	if err != nil {
		return fmt.Errorf("read identities: %w", err)
	}
	return nil
}

// ListIdentities returns every identity in key order.
func (db *DB) ListIdentities() ([]gatehouse.Identity, error) {
	var out []gatehouse.Identity
	err := db.EachIdentity(func(id gatehouse.Identity) error {
		out = append(out, id)
		return nil
	})
	return out, err
}
