package store

import (
	"errors"
	"fmt"

	gatehouse "github.com/gatehousehq/gatehouse"
	bolt "go.etcd.io/bbolt"
)

// Access review campaigns live in the "governance" bucket too (no schema
// change: new key prefixes in an existing bucket):
//
//   - "campaign" NUL id → a gatehouse.Campaign with its counters;
//   - "review" NUL campaign NUL item → a gatehouse.ReviewItem.
//
// A campaign's items are written in large batches, one transaction each,
// before the campaign record itself: a crash part-way leaves items that no
// campaign names (invisible, and harmless), never a campaign missing items.

var (
	kCampaign = "campaign"
	kReview   = "review"
)

// ReviewBatch is how many review items one write transaction carries.
const ReviewBatch = 20000

// ErrSkipItem, returned by an UpdateReviewItems function, leaves that item
// unchanged without failing the others.
var ErrSkipItem = errors.New("skip review item")

// CreateCampaign stores c under a new time-ordered id ("c-…") with its
// items (their Campaign field is set), and returns it. The audit entries
// are appended with the campaign record.
func (db *DB) CreateCampaign(c gatehouse.Campaign, items []gatehouse.ReviewItem, audit ...gatehouse.AuditEntry) (gatehouse.Campaign, error) {
	for _, it := range items {
		if err := checkKeyPart("review item", it.ID); err != nil {
			return c, fmt.Errorf("create campaign: %w", err)
		}
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		c.ID, err = newID("c-", c.CreatedAt, b)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("create campaign: %w", err)
	}
	for start := 0; start < len(items); start += ReviewBatch {
		batch := items[start:min(start+ReviewBatch, len(items))]
		err := db.update(func(tx *bolt.Tx) error {
			b, err := bucket(tx, bGovernance)
			if err != nil {
				return err
			}
			// Keys ascend and land after every older campaign's: bbolt
			// appends full pages instead of splitting half-empty ones.
			b.FillPercent = 1.0
			for i := range batch {
				// The campaign id is in the key; storing it again in each
				// of 80,000 values would cost megabytes and fsync time.
				batch[i].Campaign = ""
				if err := putJSON(b, joinKey(kReview, c.ID, batch[i].ID), &batch[i]); err != nil {
					return err
				}
				batch[i].Campaign = c.ID
			}
			return nil
		})
		if err != nil {
			return c, fmt.Errorf("create campaign %s: write items: %w", c.ID, err)
		}
	}
	c.Items = len(items)
	c.Decided, c.Kept, c.Revoked = 0, 0, 0
	for _, it := range items {
		c.Count(gatehouse.ReviewItem{}, it)
	}
	err = db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		for i := range audit {
			if audit[i].Details == nil {
				audit[i].Details = map[string]string{}
			}
			audit[i].Details["campaign"] = c.ID
		}
		if err := putJSON(b, joinKey(kCampaign, c.ID), &c); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("create campaign %s: %w", c.ID, err)
	}
	return c, nil
}

// GetCampaign returns a stored campaign, or ErrNotFound.
func (db *DB) GetCampaign(id string) (gatehouse.Campaign, error) {
	if err := checkKeyPart("campaign id", id); err != nil {
		return gatehouse.Campaign{}, fmt.Errorf("get campaign: %w", err)
	}
	var c gatehouse.Campaign
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		return getJSON(b, joinKey(kCampaign, id), &c)
	})
	if err != nil {
		return gatehouse.Campaign{}, fmt.Errorf("get campaign %s: %w", id, err)
	}
	return c, nil
}

// Campaigns returns every campaign, oldest first.
func (db *DB) Campaigns() ([]gatehouse.Campaign, error) {
	var out []gatehouse.Campaign
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		c := b.Cursor()
		p := prefixKey(kCampaign)
		for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
			var cp gatehouse.Campaign
			if err := decodeJSON(v, &cp); err != nil {
				return err
			}
			out = append(out, cp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	return out, nil
}

// UpdateCampaign changes a campaign with fn (ErrSkipItem: no change) and
// appends the audit entries in the same transaction.
func (db *DB) UpdateCampaign(id string, fn func(*gatehouse.Campaign) error, audit ...gatehouse.AuditEntry) (gatehouse.Campaign, error) {
	var c gatehouse.Campaign
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		c = gatehouse.Campaign{}
		if err := getJSON(b, joinKey(kCampaign, id), &c); err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		if err := putJSON(b, joinKey(kCampaign, id), &c); err != nil {
			return err
		}
		_, err = db.appendAuditTx(tx, audit)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrSkipItem) {
			return c, err
		}
		return c, fmt.Errorf("update campaign %s: %w", id, err)
	}
	return c, nil
}

// ReviewItems returns a campaign's items in id order.
func (db *DB) ReviewItems(campaignID string) ([]gatehouse.ReviewItem, error) {
	if err := checkKeyPart("campaign id", campaignID); err != nil {
		return nil, fmt.Errorf("read review items: %w", err)
	}
	var out []gatehouse.ReviewItem
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		c := b.Cursor()
		p := prefixKey(kReview, campaignID)
		for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
			var it gatehouse.ReviewItem
			if err := decodeJSON(v, &it); err != nil {
				return err
			}
			it.Campaign = campaignID
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read review items of %s: %w", campaignID, err)
	}
	return out, nil
}

// GetReviewItem returns one item of a campaign, or ErrNotFound.
func (db *DB) GetReviewItem(campaignID, itemID string) (gatehouse.ReviewItem, error) {
	if err := checkKeyPart("campaign id", campaignID); err != nil {
		return gatehouse.ReviewItem{}, fmt.Errorf("get review item: %w", err)
	}
	if err := checkKeyPart("review item", itemID); err != nil {
		return gatehouse.ReviewItem{}, fmt.Errorf("get review item: %w", err)
	}
	var it gatehouse.ReviewItem
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bGovernance)
		if err != nil {
			return err
		}
		return getJSON(b, joinKey(kReview, campaignID, itemID), &it)
	})
	it.Campaign = campaignID
	if err != nil {
		return gatehouse.ReviewItem{}, fmt.Errorf("get review item %s/%s: %w", campaignID, itemID, err)
	}
	return it, nil
}

// UpdateReviewItems changes the named items of a campaign (ids nil: all of
// them) with fn, keeps the campaign's counters in step and appends the
// audit entries fn returns, in transactions of at most ReviewBatch items.
// fn returning ErrSkipItem leaves that item alone; any other error stops
// the update (earlier batches stay written). fn may run more than once for
// an item (a retried transaction) and must only change what it is given.
// It returns the campaign after the last batch and the changed items.
func (db *DB) UpdateReviewItems(campaignID string, ids []string, fn func(c *gatehouse.Campaign, it *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error)) (gatehouse.Campaign, []gatehouse.ReviewItem, error) {
	if ids == nil {
		all, err := db.ReviewItems(campaignID)
		if err != nil {
			return gatehouse.Campaign{}, nil, err
		}
		ids = make([]string, len(all))
		for i, it := range all {
			ids[i] = it.ID
		}
	}
	var camp gatehouse.Campaign
	var changed []gatehouse.ReviewItem
	for start := 0; start < len(ids) || start == 0; start += ReviewBatch {
		batch := ids[start:min(start+ReviewBatch, len(ids))]
		var done []gatehouse.ReviewItem
		err := db.update(func(tx *bolt.Tx) error {
			b, err := bucket(tx, bGovernance)
			if err != nil {
				return err
			}
			done = done[:0]
			camp = gatehouse.Campaign{}
			if err := getJSON(b, joinKey(kCampaign, campaignID), &camp); err != nil {
				return err
			}
			var audit []gatehouse.AuditEntry
			for _, id := range batch {
				key := joinKey(kReview, campaignID, id)
				var it gatehouse.ReviewItem
				if err := getJSON(b, key, &it); err != nil {
					return fmt.Errorf("item %s: %w", id, err)
				}
				it.Campaign = campaignID
				before := it
				a, err := fn(&camp, &it)
				if errors.Is(err, ErrSkipItem) {
					continue
				}
				if err != nil {
					return err
				}
				camp.Count(before, it)
				stored := it
				stored.Campaign = ""
				if err := putJSON(b, key, &stored); err != nil {
					return err
				}
				audit = append(audit, a...)
				done = append(done, it)
			}
			if err := putJSON(b, joinKey(kCampaign, campaignID), &camp); err != nil {
				return err
			}
			_, err = db.appendAuditTx(tx, audit)
			return err
		})
		if err != nil {
			return camp, changed, fmt.Errorf("update review items of %s: %w", campaignID, err)
		}
		changed = append(changed, done...)
		if len(ids) == 0 {
			break
		}
	}
	return camp, changed, nil
}
