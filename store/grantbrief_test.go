package store

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	gatehouse "github.com/gatehousehq/gatehouse"
)

// fullBrief decodes a stored grant the slow, sure way.
func fullBrief(t testing.TB, v []byte) GrantBrief {
	t.Helper()
	var g GrantBrief
	if err := json.Unmarshal(v, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func checkBrief(t testing.TB, g gatehouse.Grant) {
	t.Helper()
	v, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	k := grantKey(g.Identity, g.App, g.Entitlement)
	fast, ok := briefOf(k, v)
	want := fullBrief(t, v)
	if !ok {
		return // the fallback decodes it; only a wrong fast answer is a bug
	}
	if fast.Identity != want.Identity || fast.App != want.App || fast.Entitlement != want.Entitlement || fast.Source != want.Source ||
		!fast.GrantedAt.Equal(want.GrantedAt) || !fast.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("fast brief %+v, full decode %+v (json %s)", fast, want, v)
	}
}

func TestGrantBriefMatchesFullDecode(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tricky := `x","granted_at":"1999-01-01T00:00:00Z","expires_at":"1999-01-01T00:00:00Z`
	for _, g := range []gatehouse.Grant{
		{Identity: "emp:1", App: "github", Entitlement: "account", Source: gatehouse.SourceBirthright, GrantedAt: at},
		{Identity: "ada@example.com", App: "aws", Entitlement: "prod", Source: gatehouse.SourceRequest, GrantedAt: at, ExpiresAt: at.Add(72 * time.Hour)},
		{Identity: "a", App: "b", Entitlement: "discovered:x", Source: gatehouse.SourceDiscovered, GrantedAt: at,
			Reasons: []gatehouse.Reason{{Rule: tricky, Profile: tricky}}, ApprovedBy: []string{tricky}, RunID: tricky},
		{Identity: "ünï", App: "ç", Entitlement: "é:1", Source: "weird\"source", GrantedAt: at},
	} {
		checkBrief(t, g)
	}
	// Through the store: the fast path and EachGrant agree on every record.
	db, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, r := range []string{"plain", tricky} {
		g := gatehouse.Grant{Identity: "p" + string(rune('a'+i)), App: "app", Entitlement: "e", Source: gatehouse.SourceBirthright, GrantedAt: at,
			Reasons: []gatehouse.Reason{{Rule: r}}, ExpiresAt: at.Add(time.Duration(i) * time.Hour)}
		if _, err := db.PutGrant(g); err != nil {
			t.Fatal(err)
		}
	}
	var full []gatehouse.Grant
	if err := db.EachGrant(func(g gatehouse.Grant) error { full = append(full, g); return nil }); err != nil {
		t.Fatal(err)
	}
	i := 0
	if err := db.EachGrantBrief(func(b GrantBrief) error {
		f := full[i]
		i++
		if b.Identity != f.Identity || !b.GrantedAt.Equal(f.GrantedAt) || !b.ExpiresAt.Equal(f.ExpiresAt) || b.Source != f.Source {
			t.Errorf("brief %+v, grant %+v", b, f)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != len(full) {
		t.Fatalf("%d briefs for %d grants", i, len(full))
	}
}

func FuzzGrantBrief(f *testing.F) {
	f.Add("emp:1", "github", "account", "birthright", "rule", int64(1764493200), int64(0))
	f.Add("a", "b", "c", `s"x`, `"granted_at":"`, int64(0), int64(1764493200))
	f.Fuzz(func(t *testing.T, id, app, ent, src, rule string, granted, expires int64) {
		if checkGrant(id, app, ent) != nil {
			return
		}
		g := gatehouse.Grant{Identity: id, App: app, Entitlement: ent, Source: gatehouse.GrantSource(src), Reasons: []gatehouse.Reason{{Rule: rule}},
			GrantedAt: time.Unix(granted%(1<<34), 0).UTC()}
		if expires != 0 {
			g.ExpiresAt = time.Unix(expires%(1<<34), 0).UTC()
		}
		checkBrief(t, g)
	})
}
