// Package connectors builds the connector of every configured app from a
// registry of connector types. Each type lives in its own sub-package
// (connectors/scim, connectors/ldap, …) and registers a Factory from its init
// function; connectors/all imports them all for the binary.
package connectors

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/rs/zerolog"
)

// TaskStore is what the manual connector needs to hand operations to people:
// tasks are created idempotently by ID and read back to learn their outcome.
type TaskStore interface {
	// EnsureTask creates t if no task with t.ID exists, and returns the stored task.
	EnsureTask(ctx context.Context, t gatehouse.Task) (gatehouse.Task, error)
	GetTask(ctx context.Context, id string) (gatehouse.Task, error)
}

// Deps are the shared services a connector may use.
type Deps struct {
	Logger zerolog.Logger
	Tasks  TaskStore
	// Debug records every HTTP request and response (redacted) to the logger.
	Debug bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// UserAgent identifies Gatehouse to vendors ("gatehouse/VERSION").
	UserAgent string
	// SimulateStateDir, under --simulate, gives every simulated app a state
	// file DIR/APP.json so that separate commands (onboard, then approve,
	// then offboard) see the same simulated apps. Empty: in memory.
	SimulateStateDir string
}

// Factory builds the connector for one configured app. It decodes
// app.Settings itself (strictly, with positions) and returns a
// config.ErrorList for bad settings.
type Factory func(app *config.App, deps Deps) (gatehouse.Connector, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a connector type available. It panics on duplicates, which
// can only be a programming error.
func Register(typ string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[typ]; dup {
		panic("connectors: duplicate registration of " + typ)
	}
	factories[typ] = f
}

// Types lists the registered connector types.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Build constructs a connector per configured app. With simulate set, every
// app gets a simulated connector instead ("simulated" must be registered):
// this is how the example config runs end to end with no credentials. Errors
// for all apps are collected and returned together.
func Build(cfg *config.Config, deps Deps, simulate bool) (map[string]gatehouse.Connector, error) {
	out := map[string]gatehouse.Connector{}
	var errs config.ErrorList
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		typ := app.Connector
		if simulate {
			typ = "simulated"
		}
		mu.RLock()
		f, ok := factories[typ]
		mu.RUnlock()
		if !ok {
			errs.Add(app.Pos, "apps."+name+".connector", "connector type %q is not available in this build (available: %v); run with --simulate to try the config without it", typ, Types())
			continue
		}
		c, err := f(app, deps)
		if err != nil {
			if el, ok := err.(config.ErrorList); ok {
				errs = append(errs, el...)
			} else {
				errs.Add(app.Pos, "apps."+name+".settings", "%v", err)
			}
			continue
		}
		out[name] = c
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
