package main

import (
	"context"
	"errors"
	"time"

	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// Active/standby: two serve processes on one database (a shared volume).
// bbolt's exclusive file lock is the lease: the holder is the only writer.
// A standby (serve --standby) polls for the lock and builds nothing — no
// Slack connection (Slack would share events between both), no HR
// listener — until it has it; then it starts like any serve and resumes
// every unfinished run. The lock dies with the active process (kill -9,
// crash, machine loss on a local volume), so no lease expiry has to be
// tuned. On network file systems flock may not be honoured: see
// docs/operations.md.

// standbyPoll is how long each attempt waits for the lock.
const standbyPoll = time.Second

// openServeDB opens the database for writing. With standby, a database
// locked by another process is waited for until ctx ends (nil, nil).
func openServeDB(ctx context.Context, path string, standby bool, log zerolog.Logger) (*store.DB, error) {
	db, err := store.Open(path, store.Options{Timeout: time.Second})
	if !standby || !errors.Is(err, store.ErrLocked) {
		return db, err
	}
	log.Info().Str("db", path).Msg("standby: waiting for the lock held by the active instance")
	start := time.Now()
	for {
		if ctx.Err() != nil {
			return nil, nil
		}
		db, err = store.Open(path, store.Options{Timeout: standbyPoll})
		if !errors.Is(err, store.ErrLocked) {
			if err == nil {
				log.Info().Str("db", path).Dur("waited", time.Since(start)).Msg("standby: lock acquired; taking over as the active instance")
			}
			return db, err
		}
	}
}
