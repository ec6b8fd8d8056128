// Package lifecycle turns lifecycle events (joiner, mover, leaver, rehire,
// leave of absence, return, contract end, non-human expiry) and access
// requests into durable runs of steps, and executes them.
//
// A run and its steps live in the store. Every step is persisted as running
// before its side effect and as succeeded, retrying, waiting or escalated
// after it, so a crash at any point is repaired by executing the step again on
// the next start: connector operations are idempotent, and every connector
// call carries the operation key RUNID/STEPID for the ones that are not
// naturally so.
//
// The executor is a set of per-app lanes. A lane has a FIFO queue, a bounded
// number of workers (the app's concurrency), a token bucket (the app's rate
// limit, with vendor defaults per connector type) and a pause honouring the
// vendor's Retry-After; all lanes share a global bound on concurrent calls
// (engine.workers). Steps are retried with exponential backoff and jitter up to
// the app's attempt budget, after which they become manual tasks escalated to
// IT: the run stays blocked, never reported done, until IT closes the task.
//
// A leaver suspends the IdP account, then revokes its sessions, and only
// then touches downstream apps: per app it removes the held entitlements
// (revoke_on_leave), disables or deletes the account and re-reads it
// (StepVerify). Grant records close only for what the re-read shows gone;
// what the app still shows is an escalated task. Ownership transfers go to
// the first of manager → app owner → IT holding an account there (chosen at
// plan time, next rung when the app refuses the receiver). See
// docs/offboarding.md.
//
// Runs of one identity execute one at a time in creation order; runs of
// different identities run in parallel. Future-dated runs wait as scheduled
// jobs in the store and fire at their effective time, also after restarts.
package lifecycle
