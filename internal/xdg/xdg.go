// Package xdg owns where iotbench keeps its state on the bench machine:
// the ledgers (what was provisioned and flashed), the local cloud's CA and
// store. One directory, chosen once, so tests can point everything at a
// temporary one.
package xdg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvDataDir overrides the data directory (tests, CI, several benches on
// one machine).
const EnvDataDir = "IOTBENCH_DATA_DIR"

// DataDir returns iotbench's data directory, creating it 0700 (it holds
// private keys): $IOTBENCH_DATA_DIR, else $XDG_DATA_HOME/iotbench, else
// ~/.local/share/iotbench (XDG Base Directory Specification 0.8).
func DataDir() (string, error) {
	return dataDir(os.Getenv)
}

func dataDir(getenv func(string) string) (string, error) {
	dir := getenv(EnvDataDir)
	if dir == "" {
		if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
			dir = filepath.Join(x, "iotbench")
		} else {
			home := getenv("HOME")
			if home == "" {
				h, err := os.UserHomeDir()
				if err != nil {
					return "", fmt.Errorf("no data directory: set %s or HOME: %w", EnvDataDir, err)
				}
				home = h
			}
			dir = filepath.Join(home, ".local", "share", "iotbench")
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory %s: %w (set %s to a writable directory)", dir, err, EnvDataDir)
	}
	return dir, nil
}

// Sub returns a subdirectory of the data directory, created 0700.
func Sub(elem ...string) (string, error) {
	base, err := DataDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(append([]string{base}, elem...)...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory %s: %w", dir, err)
	}
	return dir, nil
}

// WriteFileAtomic writes data to path through a temporary file in the
// same directory and a rename, so a crash leaves either the old or the new
// file, never half of one. perm is applied before any byte is written
// (keys must never exist with a looser mode, not even briefly).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable.
	if d, derr := os.Open(dir); derr == nil {
		if serr := d.Sync(); serr != nil && !errors.Is(serr, os.ErrInvalid) {
			err = serr
		}
		d.Close()
	}
	return err
}
