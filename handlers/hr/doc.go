// Package hr is Gatehouse's HR-system intake: webhooks from BambooHR, HiBob,
// Personio, Rippling and a generic JSON sender, and a scheduled directory
// sync (those vendors' APIs, a Workday RaaS report or a CSV file), turned into
// joiner, mover, leaver, rehire, leave-of-absence, return and contract-end
// events for the lifecycle engine.
//
// The invariants it keeps, in order:
//
//   - A webhook is authenticated as its vendor documents (HMAC with constant-
//     time comparison, timestamp window, or token), checked for shape, and
//     recorded durably in the store's job queue (the inbox) before it is
//     answered 2xx; a worker processes the inbox afterwards, and whatever was
//     recorded but not processed when the process died is processed on the
//     next start.
//   - The same delivery twice has one effect: deliveries are deduplicated by
//     vendor id or content hash, and every event carries a dedupe key derived
//     from the state it describes, so reprocessing yields the same runs.
//   - Identities are matched by employee id, then email; disagreement is
//     flagged to IT, never guessed.
//   - Terminations and moves beyond the mass-change guard's limits are held
//     for IT to confirm.
package hr
