package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehousehq/gatehouse"
)

// The bot's own small durable state: where each run in flight has its
// progress card, so that after a restart the same card keeps being edited
// instead of a second one appearing. Approval and task cards live on their
// records in the store; runs have no such field, and this bookkeeping is
// the transport's business, not the engine's. The file is rewritten
// atomically (temp file + rename) when a card is posted or a run finishes.

type cardState struct {
	Progress map[string]gatehouse.MessageRef `json:"progress"`
}

func (b *Bot) loadState() error {
	if b.cfg.StateFile == "" {
		return nil
	}
	raw, err := os.ReadFile(b.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read slack state: %w", err)
	}
	var st cardState
	if err := json.Unmarshal(raw, &st); err != nil {
		// A damaged file only costs duplicate cards: say so and go on.
		b.log.Warn().Err(err).Str("file", b.cfg.StateFile).Msg("slack state unreadable; starting without it")
		return nil
	}
	for run, ref := range st.Progress {
		if ref.Channel != "" && ref.TS != "" {
			b.progress.Store(run, ref)
		}
	}
	return nil
}

func (b *Bot) saveState() {
	if b.cfg.StateFile == "" {
		return
	}
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	st := cardState{Progress: map[string]gatehouse.MessageRef{}}
	b.progress.Range(func(k, v any) bool {
		if _, done := b.finished.Load(k); !done {
			st.Progress[k.(string)] = v.(gatehouse.MessageRef)
		}
		return true
	})
	raw, err := json.Marshal(st)
	if err == nil {
		err = writeAtomic(b.cfg.StateFile, raw)
	}
	if err != nil {
		b.log.Warn().Err(err).Str("file", b.cfg.StateFile).Msg("save slack state")
	}
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
