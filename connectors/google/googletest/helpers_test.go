package googletest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// recorder captures Errorf calls instead of failing the test.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func newRequest(method, url string) (*http.Request, error) { return http.NewRequest(method, url, nil) }
