// Package rules compiles the policy's expr-lang rules once, at config load,
// and evaluates them per identity and event into a Plan: profiles, grants with
// the reasons that caused them, exclusions, approvals, expiry and
// segregation-of-duties conflicts. It is the only importer of expr.
//
// The semantics (ordering, exclusions, account implication, approvals,
// expiry, movers) are specified in docs/rules.md. Compile builds an Engine,
// which is immutable and safe for concurrent use; Plan, ForRequest and Why
// never compile. Person files are read with ParsePerson.
package rules
