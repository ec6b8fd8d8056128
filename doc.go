// Package gatehouse holds the domain of Gatehouse: identities, apps, entitlements,
// profiles, grants, lifecycle events, plans, runs and steps, audit entries, and the
// Connector interface every app integration implements.
//
// It imports only the standard library so that every other package (rules, store,
// lifecycle, connectors, handlers, bot) can share these types without pulling in
// each other's dependencies. Behaviour lives in the sub-packages; what is here is
// the vocabulary plus the small invariants that belong to the types themselves
// (validation, ordering, error classification).
package gatehouse
