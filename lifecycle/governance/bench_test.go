package governance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
)

// BenchmarkDigest2000x40 computes a digest over 2,000 identities × 40 apps:
// 80,000 grants in a real bbolt file and 80,000 accounts listed by the apps
// (one in ten dormant, one orphan per app). Target: ≤ 200 ms per digest.
func BenchmarkDigest2000x40(b *testing.B) {
	const people, apps = 2000, 40
	cfg, db := benchOrg(b, people, apps, func(a int) string { return fmt.Sprintf(", seat_cost: %d", 5+a) }, func(int, int) string { return "account" }, true)
	now := benchNow
	var err error
	conns := map[string]gatehouse.Connector{}
	for a := range apps {
		seeds := make([]simulated.SeedAccount, 0, people+1)
		for p := range people {
			last := now.Add(-time.Duration(1+p%30) * 24 * time.Hour)
			if (p+a)%10 == 0 {
				last = now.Add(-90 * 24 * time.Hour)
			}
			e := fmt.Sprintf("p%05d@example.com", p)
			seeds = append(seeds, simulated.SeedAccount{UserName: e, Email: e, EmployeeID: fmt.Sprintf("E%05d", p), LastActivity: simulated.Timestamp{At: last}})
		}
		seeds = append(seeds, simulated.SeedAccount{UserName: fmt.Sprintf("ghost%02d", a), Email: fmt.Sprintf("ghost%02d@elsewhere.example", a), LastActivity: simulated.Timestamp{At: now}})
		name := fmt.Sprintf("app%02d", a)
		sim := simulated.New(name, simulated.Options{Accounts: seeds})
		accts, err := sim.ListAccounts(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		// A real app's listing costs the vendor's time, not Gatehouse's
		// CPU; the simulated app's own copying would be measured as the
		// digest's. The listing is taken once and answered as is.
		conns[name] = listed{Connector: sim, accts: accts}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var d Digest
	for i := 0; i < b.N; i++ {
		d, err = Compute(context.Background(), Sources{Config: cfg, DB: db, Conns: conns, Now: now})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if d.Grants != people*apps || len(d.Dormant) != people*apps/10 || len(d.Orphans) != apps {
		b.Fatalf("digest has %d grants, %d dormant, %d orphans", d.Grants, len(d.Dormant), len(d.Orphans))
	}
	b.ReportMetric(float64(len(d.Dormant)), "dormant")
}

// listed answers ListAccounts with a listing taken earlier.
type listed struct {
	gatehouse.Connector
	accts []gatehouse.Account
}

func (l listed) ListAccounts(context.Context) ([]gatehouse.Account, error) { return l.accts, nil }
