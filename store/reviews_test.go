package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
)

// TestCampaignRecords writes a campaign larger than one batch, decides
// items across the batch boundary and checks that the counters follow,
// that skipped items stay unchanged and that the audit is appended.
func TestCampaignRecords(t *testing.T) {
	db, _ := openTest(t)
	n := ReviewBatch + 5
	items := make([]gatehouse.ReviewItem, n)
	for i := range items {
		items[i] = gatehouse.ReviewItem{ID: fmt.Sprintf("i%06d", i+1), Identity: fmt.Sprintf("emp:%d", i), App: "github", Entitlement: "account", Reviewer: "grace@example.com"}
	}
	items[0].Decision = gatehouse.ReviewKeep // counted at creation
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c, err := db.CreateCampaign(gatehouse.Campaign{CreatedAt: at, Status: gatehouse.CampaignOpen}, items, auditEntry("review_start"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.Items != n || c.Decided != 1 || c.Kept != 1 {
		t.Fatalf("created %+v", c)
	}
	stored, err := db.ReviewItems(c.ID)
	if err != nil || len(stored) != n || stored[n-1].ID != items[n-1].ID || stored[n-1].Campaign != c.ID {
		t.Fatalf("items: %d, %v", len(stored), err)
	}
	// Decide the last of the first batch and the first of the second; skip
	// one that is already decided.
	ids := []string{items[0].ID, items[ReviewBatch-1].ID, items[ReviewBatch].ID}
	c2, changed, err := db.UpdateReviewItems(c.ID, ids, func(_ *gatehouse.Campaign, it *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error) {
		if !it.Pending() {
			return nil, ErrSkipItem
		}
		it.Decision = gatehouse.ReviewRevoke
		return []gatehouse.AuditEntry{auditEntry("review_revoke")}, nil
	})
	if err != nil || len(changed) != 2 || c2.Decided != 3 || c2.Revoked != 2 || c2.Kept != 1 {
		t.Fatalf("update: %+v, %d changed, %v", c2, len(changed), err)
	}
	if got, err := db.GetReviewItem(c.ID, items[ReviewBatch].ID); err != nil || got.Decision != gatehouse.ReviewRevoke || got.Campaign != c.ID {
		t.Fatalf("item after update: %+v %v", got, err)
	}
	if got, _ := db.GetReviewItem(c.ID, items[0].ID); got.Decision != gatehouse.ReviewKeep {
		t.Fatalf("a skipped item changed: %+v", got)
	}
	if stored, _ := db.GetCampaign(c.ID); stored.Decided != 3 {
		t.Fatalf("stored campaign %+v", stored)
	}
	// A failing function writes nothing of its batch.
	boom := errors.New("boom")
	if _, _, err := db.UpdateReviewItems(c.ID, []string{items[1].ID}, func(_ *gatehouse.Campaign, it *gatehouse.ReviewItem) ([]gatehouse.AuditEntry, error) {
		it.Decision = gatehouse.ReviewKeep
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := db.GetReviewItem(c.ID, items[1].ID); !got.Pending() {
		t.Fatalf("a failed update was written: %+v", got)
	}
	if _, err := db.GetReviewItem(c.ID, "i999999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing item: %v", err)
	}
	if _, err := db.GetCampaign("c-none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing campaign: %v", err)
	}
	if _, err := db.UpdateCampaign(c.ID, func(x *gatehouse.Campaign) error { x.Status = gatehouse.CampaignClosed; return nil }); err != nil {
		t.Fatal(err)
	}
	all, err := db.Campaigns()
	if err != nil || len(all) != 1 || all[0].Status != gatehouse.CampaignClosed {
		t.Fatalf("campaigns %+v %v", all, err)
	}
	// Campaign items and keeps share the bucket without mixing.
	if keeps, err := db.Keeps(); err != nil || len(keeps) != 0 {
		t.Fatalf("keeps %+v %v", keeps, err)
	}
}
