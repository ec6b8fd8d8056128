package gatehouse

import "time"

// Keep is a person's decision that a dormant grant stays: who decided, why,
// and until when the weekly digest stops listing it (the snooze). After
// Until the grant is listed again if it is still unused.
type Keep struct {
	Identity string    `json:"identity"` // Identity.Key()
	App      string    `json:"app"`
	By       string    `json:"by"` // email of who decided
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	Until    time.Time `json:"until"`
}

// Active reports whether the keep still hides the grant at t.
func (k Keep) Active(t time.Time) bool { return t.Before(k.Until) }
