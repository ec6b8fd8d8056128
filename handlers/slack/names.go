package slackhandlers

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/rules"
)

// Grant origins as the Home tab and /access show them.
const (
	OriginBirthright = "birthright"
	OriginAddOn      = "add-on profile"
	OriginRequest    = "request"
	OriginDiscovered = "discovered"
)

// GrantOrigin says how a grant came to be held, from its Source and its
// Reasons: the store records every rule-chosen grant as birthright, and
// only the reasons tell that a rule attached it through an add-on profile
// (or that an approved request's plan carried it). cfg may be nil.
func GrantOrigin(g gatehouse.Grant, cfg *config.Config) string {
	switch g.Source {
	case gatehouse.SourceDiscovered:
		return OriginDiscovered
	case gatehouse.SourceRequest:
		return OriginRequest
	}
	for _, r := range g.Reasons {
		if r.Rule == string(rules.EventRequest) {
			return OriginRequest
		}
	}
	if cfg != nil {
		var addOns []string
		base := false
		for _, r := range g.Reasons {
			if _, ok := cfg.AddOns[r.Profile]; ok && r.Profile != "" {
				addOns = append(addOns, r.Profile)
			} else {
				base = true
			}
		}
		// An entitlement a base profile (or a rule directly) grants is
		// birthright even when an add-on lists it too: it would stay
		// without the add-on.
		if len(addOns) > 0 && !base {
			sort.Strings(addOns)
			return OriginAddOn + " " + strings.Join(slices.Compact(addOns), ", ")
		}
	}
	return OriginBirthright
}

// appTitle is an app's display title: its configured title, else its key.
func appTitle(cfg *config.Config, app string) string {
	if cfg != nil {
		if a, ok := cfg.Apps[app]; ok && a.Title != "" {
			return a.Title
		}
	}
	return app
}

// unknownRef returns a user-facing error when ref names an app or an
// entitlement the configuration does not have, with a did-you-mean from
// the configured names; nil when it is known.
func unknownRef(cfg *config.Config, ref gatehouse.EntitlementRef) error {
	if cfg == nil {
		return nil
	}
	app, ok := cfg.Apps[ref.App]
	if !ok {
		return userErr(ErrNotFound, "Gatehouse knows no app %q%s. `/access` lists what you hold.", ref.App, didYouMean(ref.App, cfg.AppNames()))
	}
	if ref.Entitlement == "" || ref.Entitlement == string(gatehouse.EntAccount) {
		return nil
	}
	if _, ok := cfg.Entitlement(ref); ok {
		return nil
	}
	if _, ok := app.Entitlements[ref.Entitlement]; ok {
		return nil
	}
	names := make([]string, 0, len(app.Entitlements))
	for n := range app.Entitlements {
		names = append(names, n)
	}
	sort.Strings(names)
	return userErr(ErrNotFound, "%s has no entitlement %q%s.", appTitle(cfg, ref.App), ref.Entitlement, didYouMean(ref.Entitlement, names))
}

func didYouMean(word string, known []string) string {
	if best := config.Closest(strings.ToLower(word), known); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
