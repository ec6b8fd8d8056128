package main

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

func TestChangedSections(t *testing.T) {
	base := "version: 1\napps:\n  okta: {connector: simulated}\nrules:\n  - name: a\n    when: \"true\"\n"
	for _, tc := range []struct {
		name, next string
		want       []string
	}{
		{"unchanged", base, nil},
		{"only moved lines", "rules:\n  - name: a\n    when: \"true\"\nversion: 1\napps:\n  okta: {connector: simulated}\n", nil},
		{"a rule added", base + "  - name: b\n    when: \"false\"\n", []string{"rules"}},
		{"a section added and one removed", "version: 1\nrules:\n  - name: a\n    when: \"true\"\nengine: {workers: 2}\n", []string{"apps", "engine"}},
		{"unreadable", "rules: [", []string{"(all)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := changedSections([]byte(base), []byte(tc.next)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStandbyWaitsAndStops: a standby waits while the lock is held, takes
// the database once it is released, and gives up cleanly when stopped.
func TestStandbyWaitsAndStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	active, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openServeDB(context.Background(), path, false, zerolog.Nop()); err == nil {
		t.Fatal("a second writer opened a locked database without --standby")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	db, err := openServeDB(ctx, path, true, zerolog.Nop())
	if db != nil || err != nil {
		t.Fatalf("stopped standby: db %v err %v, want nil, nil", db, err)
	}
	got := make(chan *store.DB, 1)
	go func() {
		db, err := openServeDB(context.Background(), path, true, zerolog.Nop())
		if err != nil {
			t.Error(err)
		}
		got <- db
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("the standby took a held lock")
	default:
	}
	active.Close()
	select {
	case db := <-got:
		if db == nil {
			t.Fatal("no database")
		}
		db.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the standby did not take over a released lock")
	}
}
