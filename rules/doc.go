// Package rules compiles the policy's expr-lang rules once, at config load,
// and evaluates them per identity and event into a Plan: profiles, grants with
// the reasons that caused them, exclusions, approvals, expiry and
// segregation-of-duties conflicts. It is the only importer of expr.
package rules
