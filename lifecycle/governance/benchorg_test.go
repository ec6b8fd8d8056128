package governance

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store"
)

// benchNow is the instant the benchmarks' organisation is seen at.
var benchNow = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// benchOrg builds the benchmarks' organisation in a real bbolt file: apps
// app00… (appExtra adds each app's YAML keys), and people p00000… in team
// core, each managed by p/10, holding ent(p, a) in every app since 400 days.
// Identities and grants are written by 64 writers, so the store's group
// commit batches them.
func benchOrg(b *testing.B, people, apps int, appExtra func(a int) string, ent func(p, a int) string, noSync bool) (*config.Config, *store.DB) {
	b.Helper()
	var y strings.Builder
	y.WriteString("version: 1\norganization: {name: Bench, domain: example.com, time_zone: UTC}\nadmins: {it: [it@example.com], it_email: it@example.com, it_channel: C0IT}\napps:\n")
	for a := range apps {
		fmt.Fprintf(&y, "  app%02d: {connector: simulated, owner: owner%02d@example.com%s}\n", a, a, appExtra(a))
	}
	y.WriteString("profiles: {base: {grants: [app00]}}\nrules: [{name: all, when: \"true\", profiles: [base]}]\n")
	cfg, err := config.Parse("bench.yaml", []byte(y.String()), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
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
					if _, err := db.PutGrant(gatehouse.Grant{Identity: id.Key(), App: fmt.Sprintf("app%02d", a), Entitlement: ent(p, a), Source: gatehouse.SourceBirthright, GrantedAt: benchNow.Add(-400 * 24 * time.Hour)}); err != nil {
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
	return cfg, db
}
