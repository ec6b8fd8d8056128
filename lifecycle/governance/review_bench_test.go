package governance

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// BenchmarkCampaign2000 starts an access review over 2,000 people holding
// 40 entitlements each (80,000 grants, all in scope), in a bbolt file
// that fsyncs every commit: reading identities and grants, choosing a
// reviewer for every line and writing the 80,000 items. Target: ≤ 1 s.
// BENCH_NOSYNC=1 skips the fsyncs, to tell the disk's share from ours.
func BenchmarkCampaign2000(b *testing.B) {
	const people, apps = 2000, 40
	cfg, db := benchOrg(b, people, apps, func(int) string { return ", entitlements: {admin: {kind: role, risk: high}}" }, func(_, a int) string {
		if a%2 == 1 {
			return "admin"
		}
		return "account"
	}, os.Getenv("BENCH_NOSYNC") != "")
	r := &Reviews{Config: cfg, DB: db}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		c, err := r.Start(context.Background(), StartRequest{Scope: gatehouse.ReviewScope{Team: "core"}, Reviewers: []string{"manager", "app_owner"}, By: Actor{Email: "it@example.com", IT: true}})
		if err != nil {
			b.Fatal(err)
		}
		if c.Items != people*apps {
			b.Fatalf("%d items, want %d", c.Items, people*apps)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/campaign")
}
