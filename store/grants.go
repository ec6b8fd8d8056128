package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Grants are kept twice:
//
//   - "grants" holds what is held now: key identity NUL app NUL entitlement.
//     Revoking deletes the key, so it only ever lists active grants.
//   - "grant_history" holds every interval ever held, never deleted: key
//     app NUL entitlement NUL identity NUL granted-at (8-byte unix nanos), the
//     value a Grant whose RevokedAt closes the interval. The app-first key makes
//     "who had APP:ENT at T" one prefix scan; grant_history_by_identity (identity
//     NUL app NUL entitlement NUL granted-at → history key) serves per-person
//     timelines.

func grantKey(identity, app, ent string) []byte { return joinKey(identity, app, ent) }

func historyKey(g *gatehouse.Grant) []byte {
	return append(prefixKey(g.App, g.Entitlement, g.Identity), timeKey(g.GrantedAt)...)
}

func checkGrant(identity, app, ent string) error {
	for _, p := range [][2]string{{"identity", identity}, {"app", app}, {"entitlement", ent}} {
		if err := checkKeyPart(p[0], p[1]); err != nil {
			return err
		}
	}
	return nil
}

// PutGrant records that g.Identity holds g.App:g.Entitlement. A new grant
// opens a history interval at g.GrantedAt (now if zero). If the grant is
// already active it is updated in place (source, reasons, approvers, expiry,
// last use) and keeps its original GrantedAt, so repeated grants do not split
// the interval. A grant with RevokedAt set is refused: use RevokeGrant.
func (db *DB) PutGrant(g gatehouse.Grant, audit ...gatehouse.AuditEntry) (gatehouse.Grant, error) {
	if err := checkGrant(g.Identity, g.App, g.Entitlement); err != nil {
		return gatehouse.Grant{}, fmt.Errorf("put grant: %w", err)
	}
	if !g.RevokedAt.IsZero() {
		return gatehouse.Grant{}, fmt.Errorf("put grant %s %s:%s: revoked_at is set; use RevokeGrant", g.Identity, g.App, g.Entitlement)
	}
	var out gatehouse.Grant
	err := db.update(func(tx *bolt.Tx) error {
		cur, hist, hidx, err := grantBuckets(tx)
		if err != nil {
			return err
		}
		ng := g
		key := grantKey(g.Identity, g.App, g.Entitlement)
		var old gatehouse.Grant
		switch err := getJSON(cur, key, &old); {
		case err == nil:
			ng.GrantedAt = old.GrantedAt
		case err == ErrNotFound:
			if ng.GrantedAt.IsZero() {
				ng.GrantedAt = db.now().UTC()
			}
		default:
			return err
		}
		if err := putJSON(cur, key, &ng); err != nil {
			return err
		}
		hk := historyKey(&ng)
		if err := putJSON(hist, hk, &ng); err != nil {
			return err
		}
		if err := hidx.Put(append(prefixKey(ng.Identity, ng.App, ng.Entitlement), timeKey(ng.GrantedAt)...), hk); err != nil {
			return err
		}
		if _, err := db.appendAuditTx(tx, audit); err != nil {
			return err
		}
		out = ng
		return nil
	})
	if err != nil {
		return gatehouse.Grant{}, fmt.Errorf("put grant %s %s:%s: %w", g.Identity, g.App, g.Entitlement, err)
	}
	return out, nil
}

func grantBuckets(tx *bolt.Tx) (cur, hist, hidx *bolt.Bucket, err error) {
	if cur, err = bucket(tx, bGrants); err != nil {
		return
	}
	if hist, err = bucket(tx, bGrantHistory); err != nil {
		return
	}
	hidx, err = bucket(tx, bGrantHistIdx)
	return
}

// RevokeGrant closes an active grant at at (now if zero) by by. It is
// idempotent: revoking what is not held succeeds with revoked=false, and then
// nothing is written, audit entries included (record a no-op explicitly with
// AppendAudit if it matters).
func (db *DB) RevokeGrant(identityKey, app, ent string, at time.Time, by string, audit ...gatehouse.AuditEntry) (revoked bool, err error) {
	if err := checkGrant(identityKey, app, ent); err != nil {
		return false, fmt.Errorf("revoke grant: %w", err)
	}
	err = db.update(func(tx *bolt.Tx) error {
		revoked = false
		cur, hist, _, err := grantBuckets(tx)
		if err != nil {
			return err
		}
		key := grantKey(identityKey, app, ent)
		var g gatehouse.Grant
		switch err := getJSON(cur, key, &g); {
		case err == ErrNotFound:
			return nil
		case err != nil:
			return err
		}
		when := at
		if when.IsZero() {
			when = db.now().UTC()
		}
		if when.Before(g.GrantedAt) {
			when = g.GrantedAt // an interval never ends before it starts
		}
		g.RevokedAt, g.RevokedBy = when, by
		if err := putJSON(hist, historyKey(&g), &g); err != nil {
			return err
		}
		if err := cur.Delete(key); err != nil {
			return err
		}
		if _, err := db.appendAuditTx(tx, audit); err != nil {
			return err
		}
		revoked = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("revoke grant %s %s:%s: %w", identityKey, app, ent, err)
	}
	return revoked, nil
}

// Grants returns the identity's active grants, ordered by app then entitlement.
func (db *DB) Grants(identityKey string) ([]gatehouse.Grant, error) {
	var out []gatehouse.Grant
	err := db.view(func(tx *bolt.Tx) error {
		cur, err := bucket(tx, bGrants)
		if err != nil {
			return err
		}
		return scanJSON(cur, prefixKey(identityKey), func(g gatehouse.Grant) error {
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("grants of %s: %w", identityKey, err)
	}
	return out, nil
}

// GetGrant returns one active grant, or ErrNotFound.
func (db *DB) GetGrant(identityKey, app, ent string) (gatehouse.Grant, error) {
	var g gatehouse.Grant
	err := db.view(func(tx *bolt.Tx) error {
		cur, err := bucket(tx, bGrants)
		if err != nil {
			return err
		}
		return getJSON(cur, grantKey(identityKey, app, ent), &g)
	})
	if err != nil {
		return gatehouse.Grant{}, fmt.Errorf("get grant %s %s:%s: %w", identityKey, app, ent, err)
	}
	return g, nil
}

// scanJSON decodes every value under prefix (nil: all) into T and calls fn.
func scanJSON[T any](b *bolt.Bucket, prefix []byte, fn func(T) error) error {
	c := b.Cursor()
	var k, v []byte
	if prefix == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(prefix)
	}
	for ; k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		var x T
		if err := decodeJSON(v, &x); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

// EachGrant calls fn for every active grant (identity, app, entitlement order)
// inside one read transaction.
func (db *DB) EachGrant(fn func(gatehouse.Grant) error) error {
	err := db.view(func(tx *bolt.Tx) error {
		cur, err := bucket(tx, bGrants)
		if err != nil {
			return err
		}
		return scanJSON(cur, nil, fn)
	})
	if err != nil {
		return fmt.Errorf("read grants: %w", err)
	}
	return nil
}

// AllGrants returns every active grant.
func (db *DB) AllGrants() ([]gatehouse.Grant, error) {
	var out []gatehouse.Grant
	err := db.EachGrant(func(g gatehouse.Grant) error {
		out = append(out, g)
		return nil
	})
	return out, err
}

// WhoHad answers "who held app:ent at instant at" from the history, including
// grants revoked since. ent "" means any entitlement of the app. Results are
// ordered by entitlement, identity, granted-at.
func (db *DB) WhoHad(app, ent string, at time.Time) ([]gatehouse.Grant, error) {
	if err := checkKeyPart("app", app); err != nil {
		return nil, fmt.Errorf("who had: %w", err)
	}
	prefix := prefixKey(app)
	if ent != "" {
		prefix = prefixKey(app, ent)
	}
	var out []gatehouse.Grant
	err := db.view(func(tx *bolt.Tx) error {
		hist, err := bucket(tx, bGrantHistory)
		if err != nil {
			return err
		}
		return scanJSON(hist, prefix, func(g gatehouse.Grant) error {
			if g.Active(at) {
				out = append(out, g)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("who had %s:%s at %s: %w", app, ent, at.Format(time.RFC3339), err)
	}
	return out, nil
}

// GrantHistory returns every grant interval the identity ever had, ordered by
// GrantedAt (open intervals have a zero RevokedAt).
func (db *DB) GrantHistory(identityKey string) ([]gatehouse.Grant, error) {
	var out []gatehouse.Grant
	err := db.view(func(tx *bolt.Tx) error {
		_, hist, hidx, err := grantBuckets(tx)
		if err != nil {
			return err
		}
		prefix := prefixKey(identityKey)
		c := hidx.Cursor()
		for k, hk := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, hk = c.Next() {
			var g gatehouse.Grant
			if err := getJSON(hist, hk, &g); err != nil {
				return fmt.Errorf("history %q: %w", k, err)
			}
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("grant history of %s: %w", identityKey, err)
	}
	slices.SortStableFunc(out, func(a, b gatehouse.Grant) int {
		if c := a.GrantedAt.Compare(b.GrantedAt); c != 0 {
			return c
		}
		return strings.Compare(a.App+"\x00"+a.Entitlement, b.App+"\x00"+b.Entitlement)
	})
	return out, nil
}

// GrantBrief is the part of a grant a sweep over all of them needs (the
// governance digest reads 80,000 at 2,000 people × 40 apps): decoding only
// these fields skips the reasons and approvers that cost most of a full
// decode.
type GrantBrief struct {
	Identity    string                `json:"identity"`
	App         string                `json:"app"`
	Entitlement string                `json:"entitlement"`
	Source      gatehouse.GrantSource `json:"source"`
	GrantedAt   time.Time             `json:"granted_at"`
	ExpiresAt   time.Time             `json:"expires_at,omitzero"`
}

// Ref returns the granted entitlement's reference.
func (g GrantBrief) Ref() gatehouse.EntitlementRef {
	return gatehouse.EntitlementRef{App: g.App, Entitlement: g.Entitlement}
}

// EachGrantBrief is EachGrant for the fields of GrantBrief only. The
// identity, app and entitlement come from the key; the times and the source
// are picked out of the stored JSON without decoding the rest (a full
// decode is most of the cost of a sweep), falling back to encoding/json
// whenever the value is not in the shape this package writes.
func (db *DB) EachGrantBrief(fn func(GrantBrief) error) error {
	err := db.view(func(tx *bolt.Tx) error {
		cur, err := bucket(tx, bGrants)
		if err != nil {
			return err
		}
		c := cur.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			g, ok := briefOf(k, v)
			if !ok {
				if err := decodeJSON(v, &g); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
			}
			if err := fn(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read grants: %w", err)
	}
	return nil
}

var (
	jsonSource    = []byte(`"source":"`)
	jsonGrantedAt = []byte(`"granted_at":"`)
	jsonExpiresAt = []byte(`"expires_at":"`)
)

// briefOf reads a grant's brief from its key (identity NUL app NUL
// entitlement) and value. A member name followed by `":"` cannot occur
// inside a JSON string (its quotes would be escaped), so the first match is
// the member itself. ok is false when anything is not as expected.
func briefOf(k, v []byte) (GrantBrief, bool) {
	var g GrantBrief
	parts := bytes.SplitN(k, []byte{0}, 3)
	// JSON would have replaced invalid UTF-8 in the value: only valid keys
	// say exactly what the value says.
	if len(parts) != 3 || !utf8.Valid(k) {
		return g, false
	}
	g.Identity, g.App, g.Entitlement = string(parts[0]), string(parts[1]), string(parts[2])
	src, ok := jsonString(v, jsonSource)
	if !ok {
		return g, false
	}
	g.Source = gatehouse.GrantSource(src)
	at, ok := jsonTime(v, jsonGrantedAt)
	if !ok {
		return g, false
	}
	g.GrantedAt = at
	if bytes.Contains(v, jsonExpiresAt) {
		if g.ExpiresAt, ok = jsonTime(v, jsonExpiresAt); !ok {
			return g, false
		}
	}
	return g, true
}

// jsonString returns the plain (escape-free) string value of member.
func jsonString(v, member []byte) (string, bool) {
	i := bytes.Index(v, member)
	if i < 0 {
		return "", false
	}
	rest := v[i+len(member):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

func jsonTime(v, member []byte) (time.Time, bool) {
	s, ok := jsonString(v, member)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
