package importer

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkpointVersion is the format version of the checkpoint file.
const checkpointVersion = 1

// checkpoint records how far an import got: every line up to Line (ending
// at byte Offset) is committed. FirstLine and LastLine are SHA-256 sums of
// the first line and of line Line, so a checkpoint is only honoured for the
// input it was written for.
type checkpoint struct {
	Version   int    `json:"version"`
	FirstLine string `json:"first_line_sha256"`
	Line      int64  `json:"line"`
	Offset    int64  `json:"offset"`
	LastStart int64  `json:"last_line_offset"`
	LastLine  string `json:"last_line_sha256"`
}

// readCheckpoint loads path; a missing file is the zero checkpoint.
func readCheckpoint(path string) (checkpoint, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("importer: read checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil || cp.Version != checkpointVersion || cp.Line < 1 ||
		cp.Offset < 1 || cp.LastStart < 0 || cp.LastStart >= cp.Offset || !isSum(cp.FirstLine) || !isSum(cp.LastLine) {
		return checkpoint{}, fmt.Errorf("importer: checkpoint %s is not a valid checkpoint; remove it to import from the start", path)
	}
	return cp, nil
}

func isSum(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// writeCheckpoint replaces path atomically: a temporary file in the same
// directory, synced, then renamed over it.
func writeCheckpoint(path string, cp checkpoint) error {
	cp.Version = checkpointVersion
	raw, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("importer: encode checkpoint: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("importer: write checkpoint: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(raw, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("importer: write checkpoint: %w", err)
	}
	return nil
}

// removeCheckpoint deletes path once the import is complete.
func removeCheckpoint(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("importer: remove checkpoint: %w", err)
	}
	return nil
}
