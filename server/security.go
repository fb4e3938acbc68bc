package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/internal/fsutil"
	"github.com/sqlink/sqlink/pgwire"
)

// File modes of a data directory: only the instance's user may read it,
// whatever the directory held before (the catalog holds password hashes and
// token hashes, the databases their data). PostgreSQL does the same.
const (
	dataDirMode  = 0o700
	dataFileMode = 0o600
)

// restrictUmask makes every file the process creates from now on private
// to its user (umask 077, as PostgreSQL's postmaster sets it): databases,
// their logs, backups and seeds are created by storage with modes the
// umask narrows. The umask is process-wide; an instance owns its process.
func restrictUmask() { syscall.Umask(0o077) }

// secureDataDir sets the data directory and every directory in it to 0700
// and every regular file to 0600. Symbolic links are not followed. A file
// whose mode cannot be changed is logged; the directory itself must be.
func secureDataDir(dir string, log *slog.Logger) error {
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
			want = dataDirMode
		case d.Type().IsRegular():
			want = dataFileMode
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

// authKeyPath is the file of the key for fake SCRAM salts (see
// pgwire.Config.AuthSecret).
func authKeyPath(dir string) string { return filepath.Join(dir, "auth.key") }

// authSecret returns the instance's key for fake SCRAM salts, creating it
// (0600) if the data directory has none yet: an instance initialised
// before the key existed gets one at its first start.
func authSecret(dir string) ([]byte, error) {
	b, err := os.ReadFile(authKeyPath(dir))
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", authKeyPath(dir), err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileSync(authKeyPath(dir), b, dataFileMode); err != nil {
		return nil, err
	}
	return b, nil
}

// LoginFailed audits a failed SQL sign-in (pgwire.LoginObserver), summarised
// per source address.
func (b backend) LoginFailed(ctx context.Context, user, source, reason string) {
	if b.s.failAudit == nil {
		return
	}
	b.s.failAudit.Record(ctx, "sql", source, catalog.AuditEntry{
		Action: "sql.login", Target: user, Result: sqlink.EUNAUTHORIZED, Detail: reason,
	})
}

var _ pgwire.LoginObserver = backend{}

// createPrivate creates an empty file with mode 0600 unless it exists, so
// that SQLite, which gives a new database file (and its -wal and -shm) the
// mode of the process's umask, finds it private already.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, dataFileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}
