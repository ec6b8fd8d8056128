package store

import (
	"encoding/json"
	"fmt"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Governance records live in the "governance" bucket (schema 2):
//
//   - "keep" NUL identity NUL app → a gatehouse.Keep: a dormant account
//     somebody chose to keep, hidden from digests until Keep.Until;
//   - "digest" NUL id → a Digest: what a posted digest listed, so that every
//     click on it is checked against what was really shown.

var (
	bGovernance = []byte("governance")
	kKeep       = "keep"
	kDigest     = "digest"
)

// Digest is a stored governance digest. The payload is the digest as its
// producer encodes it; the store keeps it whole and never interprets it.
type Digest struct {
	ID        string          `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	Payload   json.RawMessage `json:"payload"`
	// Posted records where the digest went in Slack (summary first).
	Posted []gatehouse.MessageRef `json:"posted,omitempty"`
}

// PutKeep records (or replaces) a keep decision, with its audit entries in
// the same transaction.
func (db *DB) PutKeep(k gatehouse.Keep, audit ...gatehouse.AuditEntry) error {
	if err := checkKeyPart("identity", k.Identity); err != nil {
		return fmt.Errorf("put keep: %w", err)
	}
	if err := checkKeyPart("app", k.App); err != nil {
		return fmt.Errorf("put keep: %w", err)
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		if err := putJSON(b, joinKey(kKeep, k.Identity, k.App), &k); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return fmt.Errorf("put keep %s %s: %w", k.Identity, k.App, err)
	}
	return nil
}

// Keeps returns every keep decision, expired ones included (callers compare
// Until with their clock).
func (db *DB) Keeps() ([]gatehouse.Keep, error) {
	var out []gatehouse.Keep
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		c := b.Cursor()
		p := prefixKey(kKeep)
		for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
			var kp gatehouse.Keep
			if err := decodeJSON(v, &kp); err != nil {
				return err
			}
			out = append(out, kp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read keeps: %w", err)
	}
	return out, nil
}

// CreateDigest stores d under a new time-ordered id ("g-…") and returns it.
func (db *DB) CreateDigest(d Digest, audit ...gatehouse.AuditEntry) (Digest, error) {
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		id, err := newID("g-", d.CreatedAt, b)
		if err != nil {
			return err
		}
		d.ID = id
		for i := range audit {
			if audit[i].Details == nil {
				audit[i].Details = map[string]string{}
			}
			audit[i].Details["digest"] = id
		}
		if err := putJSON(b, joinKey(kDigest, id), &d); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return Digest{}, fmt.Errorf("create digest: %w", err)
	}
	return d, nil
}

// GetDigest returns a stored digest, or ErrNotFound.
func (db *DB) GetDigest(id string) (Digest, error) {
	if err := checkKeyPart("digest id", id); err != nil {
		return Digest{}, fmt.Errorf("get digest: %w", err)
	}
	var d Digest
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		return getJSON(b, joinKey(kDigest, id), &d)
	})
	if err != nil {
		return Digest{}, fmt.Errorf("get digest %s: %w", id, err)
	}
	return d, nil
}

// SetDigestPosted records where a digest was posted.
func (db *DB) SetDigestPosted(id string, refs []gatehouse.MessageRef) error {
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		var d Digest
		if err := getJSON(b, joinKey(kDigest, id), &d); err != nil {
			return err
		}
		d.Posted = refs
		return putJSON(b, joinKey(kDigest, id), &d)
	})
	if err != nil {
		return fmt.Errorf("record digest %s as posted: %w", id, err)
	}
	return nil
}
