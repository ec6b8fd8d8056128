package main

import (
	"context"
	"errors"
	"os"
	"reflect"
	"sort"

	"github.com/gatehousehq/gatehouse/config"
	"go.yaml.in/yaml/v3"
)

// Reload on SIGHUP.
//
// The engine, the Slack service and the connectors read their config without
// locks (it is immutable once loaded), so a config cannot be swapped under
// them piecemeal without races. A reload therefore swaps the whole core
// atomically, on the same open database (the lock is never released, so a
// standby cannot slip in):
//
//  1. the new file is read, validated and its rules compiled, and the Slack
//     tokens resolved (${ENV} and *_file secrets are re-read: rotation);
//     on any error every error is logged and the old core keeps running
//     untouched;
//  2. the old core is stopped like a shutdown (intake closed, in-flight
//     steps checkpointed), then a new core is started from the new config
//     and resumes every unfinished run under the new policy;
//  3. if the new core fails to start (an app's settings that validate but
//     cannot be built, say) the old config is started again.
//
// So a reload applies everything in the file — rules, profiles, approval
// policy and timings, apps and their entitlements, connector settings and
// secrets, HR intake, governance, engine tuning, Slack settings — except
// what is bound to the process: the database (store.path, --db), and the
// flags (--simulate, --log-level, --standby). Those need a restart, and a
// reload that changes store.path says so. The price of the swap is a
// Socket Mode reconnect (about a second; Slack redelivers what was not
// acknowledged) and a brief gap on the HR listener (vendors retry).

func (sv *server) reload(ctx context.Context, old *core) *core {
	log := sv.log.With().Str("config", sv.flags.config).Logger()
	log.Info().Msg("reload: SIGHUP received; reading the config")
	cfg, re, err := loadPolicy(sv.flags.config)
	if err == nil {
		_, err = slackTokens(cfg)
	}
	if err != nil {
		var el config.ErrorList
		if errors.As(err, &el) {
			for _, e := range el {
				log.Error().Str("error", e.Error()).Msg("reload: config error")
			}
		} else {
			log.Error().Err(err).Msg("reload: config error")
		}
		log.Error().Int("errors", max(len(el), 1)).Msg("reload rejected: the old config stays in effect")
		return old
	}
	for _, w := range cfg.Warnings {
		log.Warn().Str("warning", w.Error()).Msg("reload: config warning")
	}
	if sv.flags.db == "" && cfg.Store.Path != old.cfg.Store.Path {
		log.Warn().Str("store_path", cfg.Store.Path).Str("in_use", sv.path).Msg("reload: store.path changed; that needs a restart — keeping the open database")
	}
	// Swapped even when the text is unchanged: the secrets it points to
	// (${ENV} is fixed for the process, but *_file is re-read) may have
	// been rotated.
	raw, _ := os.ReadFile(sv.flags.config)
	changed := changedSections(old.raw, raw)
	log.Info().Strs("changed", changed).Msg("reload: config valid; swapping the core (secrets re-read)")
	sv.stop(old, old.cfg.Engine.ShutdownGrace, "reload")
	// Two engines must never drive runs at once: wait for the old one's
	// steps even past the grace period (nothing is exiting here).
	if old.engDone != nil {
		<-old.engDone
	}
	c, err := sv.start(cfg, re)
	if err == nil {
		c.raw = raw
		log.Info().Strs("changed", changed).Int("rules", len(cfg.Rules)).Int("apps", len(cfg.Apps)).Msg("reload: new config in effect")
		return c
	}
	log.Error().Err(err).Msg("reload: the new config did not start; starting the old one again")
	c, err = sv.start(old.cfg, old.re)
	if err != nil {
		log.Error().Err(err).Msg("reload: the old config did not start again either; exiting")
		return nil
	}
	c.raw = old.raw
	return c
}

// changedSections names the top-level sections that differ between two
// config files' texts (the decoded structs carry positions and parser
// state, which differ when only a line moved). Unreadable text counts as
// every section changed.
func changedSections(a, b []byte) []string {
	var ma, mb map[string]any
	if yaml.Unmarshal(a, &ma) != nil || yaml.Unmarshal(b, &mb) != nil {
		return []string{"(all)"}
	}
	var out []string
	for k, v := range mb {
		if !reflect.DeepEqual(ma[k], v) {
			out = append(out, k)
		}
	}
	for k := range ma {
		if _, ok := mb[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
