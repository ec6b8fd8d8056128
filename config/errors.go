package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a config file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one located config problem: where, which key, what is wrong.
type Error struct {
	Pos Pos
	Key string // dotted path, e.g. apps.okta.entitlements.admins.risk
	Msg string
	// Warning marks advice that does not stop the config from loading.
	Warning bool
}

func (e Error) Error() string {
	if e.Warning {
		return e.Pos.String() + ": warning: " + e.Key + ": " + e.Msg
	}
	if e.Key == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Key + ": " + e.Msg
}

// ErrorList collects every problem found, so a user fixes them in one pass.
type ErrorList []Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Add appends a located error.
func (l *ErrorList) Add(pos Pos, key, format string, args ...any) {
	*l = append(*l, Error{Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Sort orders errors by file, line, column, then key, for stable output.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return l[i].Key < l[j].Key
	})
}

// SplitWarnings separates warnings from errors.
func (l ErrorList) SplitWarnings() (errs, warnings ErrorList) {
	for _, e := range l {
		if e.Warning {
			warnings = append(warnings, e)
		} else {
			errs = append(errs, e)
		}
	}
	return errs, warnings
}

// Err returns nil when the list holds no errors (warnings do not count), else
// the sorted errors.
func (l ErrorList) Err() error {
	errs, _ := l.SplitWarnings()
	if len(errs) == 0 {
		return nil
	}
	errs.Sort()
	return errs
}
