package spectest

import (
	"fmt"
	"sync"
	"testing"
)

// Recorder is a testing.TB that keeps the fake's Errorf reports instead of
// failing the test, so that a fake's own tests can prove it reports a
// violation (with the method, path and reason) rather than let it pass.
// Everything else goes to the wrapped TB. Safe for concurrent use: the
// fakes report from their server goroutines.
type Recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

// NewRecorder wraps t.
func NewRecorder(t testing.TB) *Recorder { return &Recorder{TB: t} }

// Errorf records the report.
func (r *Recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// Errors returns the reports so far, oldest first.
func (r *Recorder) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// Take returns the reports so far and forgets them, so that a test can
// check one request at a time.
func (r *Recorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.errs
	r.errs = nil
	return out
}
