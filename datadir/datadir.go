// Package datadir holds an instance's data directory: where its files
// are and that only the instance's user may read them.
package datadir

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/fsutil"
)

// File modes of a data directory: only the instance's user may read it,
// whatever the directory held before (the catalog holds password hashes and
// token hashes, the databases their data). PostgreSQL does the same.
const (
	DirMode  = 0o700
	FileMode = 0o600
)

// Paths inside a data directory dir.
func CatalogPath(dir string) string  { return filepath.Join(dir, "catalog.db") }
func DatabasesDir(dir string) string { return filepath.Join(dir, "databases") }
func DatabasePath(dir, name string) string {
	return filepath.Join(DatabasesDir(dir), name+".db")
}

// RestrictUmask makes every file the process creates from now on private
// to its user (umask 077, as PostgreSQL's postmaster sets it): databases,
// their logs, backups and seeds are created by storage with modes the
// umask narrows. The umask is process-wide; an instance owns its process.
func RestrictUmask() { syscall.Umask(0o077) }

// Secure sets the data directory and every directory in it to 0700
// and every regular file to 0600. Symbolic links are not followed. A file
// whose mode cannot be changed is logged; the directory itself must be.
func Secure(dir string, log *slog.Logger) error {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // a data directory that is a symbolic link: its target
	}
	fixed := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			log.Warn("cannot check the mode of a file in the data directory", "path", path, "err", err)
			return nil
		}
		var want fs.FileMode
		switch {
		case d.IsDir():
			want = DirMode
		case d.Type().IsRegular():
			want = FileMode
		default:
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if info.Mode().Perm() == want {
			return nil
		}
		if err := os.Chmod(path, want); err != nil {
			if path == dir {
				return err
			}
			log.Warn("cannot restrict the mode of a file in the data directory", "path", path, "err", err)
			return nil
		}
		fixed++
		return nil
	})
	if err != nil {
		return sqlink.Errorf(sqlink.EINVALID, "run sqlink as the data directory's owner, or fix its permissions (chmod -R go-rwx)",
			"restrict permissions of data directory %s: %v", dir, err)
	}
	if fixed > 0 {
		log.Info("restricted the permissions of the data directory to its owner", "dir", dir, "changed", fixed)
	}
	return nil
}

// AuthKeyPath is the file of the key for fake SCRAM salts (see
// pgwire.Config.AuthSecret).
func AuthKeyPath(dir string) string { return filepath.Join(dir, "auth.key") }

// AuthSecret returns the instance's key for fake SCRAM salts, creating it
// (0600) if the data directory has none yet: an instance initialised
// before the key existed gets one at its first start.
func AuthSecret(dir string) ([]byte, error) {
	b, err := os.ReadFile(AuthKeyPath(dir))
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", AuthKeyPath(dir), err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileSync(AuthKeyPath(dir), b, FileMode); err != nil {
		return nil, err
	}
	return b, nil
}

// CreatePrivate creates an empty file with mode 0600 unless it exists, so
// that SQLite, which gives a new database file (and its -wal and -shm) the
// mode of the process's umask, finds it private already.
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}
