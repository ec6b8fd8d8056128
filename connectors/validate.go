package connectors

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// Validate decodes every app's settings with its connector type's factory, so
// `gatehouse check` reports bad connector settings (unknown keys, bad
// templates, wrong types) together with the rest of the config, located at
// file:line:col. Nothing is contacted: factories only decode and compile.
//
// An app whose connector type is not built into this binary is a warning, not
// an error: the config is valid and runs with --simulate, but `serve` without
// --simulate will refuse it.
func Validate(cfg *config.Config) config.ErrorList {
	var out config.ErrorList
	deps := Deps{Tasks: noTasks{}, UserAgent: "gatehouse-check"}
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		mu.RLock()
		f, ok := factories[app.Connector]
		mu.RUnlock()
		if !ok {
			out = append(out, config.Error{Pos: app.Pos, Key: "apps." + name + ".connector", Warning: true,
				Msg: fmt.Sprintf("connector type %q is not built into this binary yet; the app runs only with --simulate", app.Connector)})
			continue
		}
		c, err := f(app, deps)
		var el config.ErrorList
		switch {
		case errors.As(err, &el):
			out = append(out, el...)
		case errors.Is(err, config.ErrSecretUnresolved):
			// Credentials are filled in per environment; check works without them.
			out = append(out, config.Error{Pos: app.Pos, Key: "apps." + name + ".settings", Warning: true, Msg: err.Error()})
		case err != nil:
			out.Add(app.Pos, "apps."+name+".settings", "%v", err)
		}
		if cl, ok := c.(interface{ Close() error }); ok && c != nil {
			_ = cl.Close()
		}
	}
	return out
}

// noTasks satisfies TaskStore for validation, where no operation runs.
type noTasks struct{}

func (noTasks) EnsureTask(context.Context, gatehouse.Task) (gatehouse.Task, error) {
	return gatehouse.Task{}, errors.New("validation only: no task store")
}

func (noTasks) GetTask(context.Context, string) (gatehouse.Task, error) {
	return gatehouse.Task{}, errors.New("validation only: no task store")
}
