//go:build !unix

package simulated

// lockState is a no-op where flock is unavailable: processes must then not
// share a state file.
func lockState(path string) (func(), error) { return func() {}, nil }
