package spectest

import (
	"slices"
	"sync"
	"testing"
)

func TestRecorder(t *testing.T) {
	r := NewRecorder(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { r.Errorf("violation %d", i) })
	}
	wg.Wait()
	got := r.Errors()
	slices.Sort(got)
	if want := []string{"violation 0", "violation 1", "violation 2", "violation 3"}; !slices.Equal(got, want) {
		t.Fatalf("Errors = %q, want %q", got, want)
	}
	if took := r.Take(); len(took) != 4 {
		t.Fatalf("Take = %q, want the 4 reports", took)
	}
	if left := r.Errors(); len(left) != 0 {
		t.Fatalf("after Take: %q", left)
	}
	r.Errorf("GET %s: %s", "/users", "unknown field")
	if got := r.Take(); len(got) != 1 || got[0] != "GET /users: unknown field" {
		t.Fatalf("Take = %q", got)
	}
}
