package governance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store"
)

// BenchmarkCampaign2000 starts an access review over 2,000 people holding
// 40 entitlements each (80,000 grants, all in scope), in a bbolt file
// that fsyncs every commit: reading identities and grants, choosing a
// reviewer for every line and writing the 80,000 items. Target: ≤ 1 s.
// BENCH_NOSYNC=1 skips the fsyncs, to tell the disk's share from ours.
func BenchmarkCampaign2000(b *testing.B) {
	const people, apps = 2000, 40
	var y strings.Builder
	y.WriteString("version: 1\norganization: {name: Bench, domain: example.com, time_zone: UTC}\nadmins: {it: [it@example.com], it_email: it@example.com, it_channel: C0IT}\napps:\n")
	for a := range apps {
		fmt.Fprintf(&y, "  app%02d: {connector: simulated, owner: owner%02d@example.com, entitlements: {admin: {kind: role, risk: high}}}\n", a, a)
	}
	y.WriteString("profiles: {base: {grants: [app00]}}\nrules: [{name: all, when: \"true\", profiles: [base]}]\n")
	cfg, err := config.Parse("bench.yaml", []byte(y.String()), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{NoSync: os.Getenv("BENCH_NOSYNC") != ""})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 {
		wg.Go(func() {
			for p := w; p < people; p += 64 {
				id := gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: fmt.Sprintf("p%05d@example.com", p), Name: "Person", EmployeeID: fmt.Sprintf("E%05d", p),
					ManagerEmail: fmt.Sprintf("p%05d@example.com", p/10), Team: "core", Status: gatehouse.StatusActive}
				if _, err := db.PutIdentity(id); err != nil {
					errs <- err
					return
				}
				for a := range apps {
					ent := "account"
					if a%2 == 1 {
						ent = "admin"
					}
					if _, err := db.PutGrant(gatehouse.Grant{Identity: id.Key(), App: fmt.Sprintf("app%02d", a), Entitlement: ent, Source: gatehouse.SourceBirthright, GrantedAt: now.Add(-400 * 24 * time.Hour)}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
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
