// Package crashtest holds the end-to-end crash test of the lifecycle engine:
// it builds the real gatehouse binary, SIGKILLs it at random points while runs
// execute against file-backed simulated apps, restarts it, and checks that
// every run completes with every effect applied exactly once and the audit
// chain intact. It has no non-test code.
package crashtest
