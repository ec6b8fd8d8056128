// Package processtest tests the gatehouse binary as an operator runs it: it
// builds cmd/gatehouse, starts real `serve` processes against the loopback
// Slack and simulated apps, and signals and kills them (SIGTERM with Slack
// down, SIGHUP reloads, an active/standby pair, restoring a hot backup). It
// also checks the packaging files (Dockerfile, systemd unit) and holds the
// sizing measurement of docs/operations.md. It has no non-test code.
package processtest
