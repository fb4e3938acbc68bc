package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/datadir"
	"github.com/sqlink/sqlink/storage"
)

// CreateDatabase creates an empty database and registers it. The file is
// created first and registered last, so a crash between the two leaves an
// unregistered file that the next create of the same name replaces.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	if err := catalog.ValidateName("database", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dbs[name]; ok || s.restoring[name] {
		return sqlink.Errorf(sqlink.ECONFLICT, "pick another name, or drop it first with `sqlink db drop "+name+"`", "database %q already exists", name)
	}
	if _, err := s.cat.GetDatabase(ctx, name); err == nil {
		return sqlink.Errorf(sqlink.ECONFLICT, "pick another name, or drop it first with `sqlink db drop "+name+"`", "database %q already exists", name)
	}
	path := datadir.DatabasePath(s.cfg.DataDir, name)
	removeDatabaseFiles(path)
	db, err := storage.OpenDB(ctx, path, s.dbConfig())
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if _, err := s.cat.AddDatabase(ctx, catalog.Database{Name: name, State: sqlink.DatabaseOnline, CreatedAt: s.cfg.Now().UTC()}); err != nil {
		db.Close(ctx)
		removeDatabaseFiles(path)
		return err
	}
	s.dbs[name] = db
	s.log.Info("database created", "database", name)
	return nil
}

// DropDatabase ends the database's sessions, unregisters it and removes its
// files. Every refusal (no such database, a link replicates it) comes
// before anything changes: a refused drop leaves the database open and its
// sessions and link running. It holds createMu so that no link is created
// for the database between the check and the drop.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	return s.eng.Exclusive(func() error { return s.dropDatabase(ctx, name) })
}

func (s *Server) dropDatabase(ctx context.Context, name string) error {
	if _, err := s.cat.GetDatabase(ctx, name); err != nil {
		if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
			return sqlink.Errorf(sqlink.ENOTFOUND, "list databases with `sqlink db list`", "database %q does not exist", name)
		}
		return err
	}
	if err := s.refuseLinked(ctx, name); err != nil {
		return err
	}
	s.mu.Lock()
	db := s.dbs[name]
	delete(s.dbs, name)
	s.mu.Unlock()
	if s.pg != nil {
		s.pg.EndSessions(name, "57P01", fmt.Sprintf("database %q is being dropped", name))
	}
	if db != nil {
		if err := db.Close(ctx); err != nil {
			s.log.Warn("close dropped database", "database", name, "err", err)
		}
	}
	if err := s.cat.RemoveDatabase(ctx, name); err != nil {
		// Still registered: open it again rather than leave it
		// listed but closed until the next restart.
		if db != nil {
			s.reopen(ctx, name)
		}
		return err
	}
	removeDatabaseFiles(datadir.DatabasePath(s.cfg.DataDir, name))
	s.log.Info("database dropped", "database", name)
	return nil
}

// refuseLinked returns a conflict if a link replicates database.
func (s *Server) refuseLinked(ctx context.Context, database string) error {
	var names []string
	recs, err := s.cat.ListLinks(ctx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Database == database {
			names = append(names, rec.Name)
		}
	}
	if len(names) == 0 {
		if l := s.eng.ForDatabase(database); l != nil {
			names = append(names, l.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	return sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("drop the link first (`sqlink link drop %s`); the database stays, independent", names[0]),
		"database %q is replicated by link %s", database, strings.Join(names, ", "))
}

// reopen opens a registered ONLINE database again after a failed drop.
func (s *Server) reopen(ctx context.Context, name string) {
	db, err := storage.OpenDB(context.WithoutCancel(ctx), datadir.DatabasePath(s.cfg.DataDir, name), s.dbConfig())
	if err != nil {
		s.log.Error("reopen database after a failed drop; restart the instance", "database", name, "err", err)
		return
	}
	s.mu.Lock()
	s.dbs[name] = db
	s.mu.Unlock()
}

// Exec runs SQL statements on a database as one write, outside any client
// session (used by the demo to load sample data).
func (s *Server) Exec(ctx context.Context, database, query string) error {
	db, err := s.db(ctx, database)
	if err != nil {
		return err
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.BeginWrite(ctx); err != nil {
		return err
	}
	_, execErr := c.SQL().ExecContext(ctx, query)
	_, endErr := c.EndWrite(ctx)
	return errors.Join(execErr, endErr)
}

// Backup streams a backup of database to w and records it in the catalog.
// A full backup (copyOnly false) starts the database's backup chain.
func (s *Server) Backup(ctx context.Context, database string, copyOnly bool, w io.Writer) (catalog.BackupRecord, error) {
	db, err := s.db(ctx, database)
	if err != nil {
		return catalog.BackupRecord{}, err
	}
	// The recorded checksum and size are the backup file's, so the
	// operator (and the admin client) can check the file they hold.
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, h)}
	m, err := db.Backup(ctx, cw, copyOnly)
	if err != nil {
		return catalog.BackupRecord{}, err
	}
	rec, err := s.cat.RecordBackup(ctx, catalog.BackupRecord{
		ID: m.ID, Database: database, LSN: m.Pos.LSN, Epoch: m.Epoch, PageCount: m.PageCount,
		SHA256: hex.EncodeToString(h.Sum(nil)), CopyOnly: copyOnly, CreatedAt: m.Created, Size: cw.n,
	})
	if err != nil {
		return rec, fmt.Errorf("record backup: %w", err)
	}
	s.log.Info("backup taken", "database", database, "lsn", m.Pos.LSN, "copy_only", copyOnly, "bytes", cw.n)
	return rec, nil
}

// chainStarted says whether database (open as db) has a full backup that
// starts its backup chain: one taken since the latest gap in its history
// (changes made outside sqlink, see storage.LogGap), if it has one.
func (s *Server) chainStarted(ctx context.Context, database string, db *storage.DB) (bool, error) {
	var since sqlink.LSN
	if g := db.Gap(); g != nil {
		since = g.LSN
	}
	return s.cat.ChainStarted(ctx, database, since)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Restore restores a backup read from r as a new database. With restoring
// set the database is left RESTORING (not readable) for a link to seed;
// CompleteRestore brings it online.
func (s *Server) Restore(ctx context.Context, name string, restoring bool, r io.Reader) (storage.Manifest, error) {
	if err := catalog.ValidateName("database", name); err != nil {
		return storage.Manifest{}, err
	}
	// The name is taken before any file is touched, so that a refused
	// restore, or one racing another restore or create of the same name,
	// never removes an existing database's files.
	exists := sqlink.Errorf(sqlink.ECONFLICT, "restore under another name with --as, or drop the database first", "database %q already exists", name)
	s.mu.Lock()
	_, open := s.dbs[name]
	busy := open || s.restoring[name]
	if !busy {
		s.restoring[name] = true
	}
	s.mu.Unlock()
	if busy {
		return storage.Manifest{}, exists
	}
	defer func() {
		s.mu.Lock()
		delete(s.restoring, name)
		s.mu.Unlock()
	}()
	if _, err := s.cat.GetDatabase(ctx, name); err == nil {
		return storage.Manifest{}, exists
	} else if sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		return storage.Manifest{}, err
	}
	path := datadir.DatabasePath(s.cfg.DataDir, name)
	removeDatabaseFiles(path)
	m, err := storage.Restore(ctx, r, path)
	if err != nil {
		removeDatabaseFiles(path)
		return storage.Manifest{}, err
	}
	state := sqlink.DatabaseOnline
	if restoring {
		state = sqlink.DatabaseRestoring
	}
	var db *storage.DB
	if !restoring {
		if db, err = storage.OpenDB(ctx, path, s.dbConfig()); err != nil {
			removeDatabaseFiles(path)
			return storage.Manifest{}, fmt.Errorf("open restored database: %w", err)
		}
	}
	if _, err := s.cat.AddDatabase(ctx, catalog.Database{Name: name, State: state, CreatedAt: s.cfg.Now().UTC()}); err != nil {
		if db != nil {
			db.Close(ctx)
		}
		removeDatabaseFiles(path)
		return storage.Manifest{}, err
	}
	if db != nil {
		s.mu.Lock()
		s.dbs[name] = db
		s.mu.Unlock()
	}
	s.log.Info("database restored", "database", name, "lsn", m.Pos.LSN, "restoring", restoring)
	return m, nil
}

// CompleteRestore brings a RESTORING database online.
func (s *Server) CompleteRestore(ctx context.Context, name string) error {
	d, err := s.cat.GetDatabase(ctx, name)
	if err != nil {
		return err
	}
	if d.State != sqlink.DatabaseRestoring {
		return sqlink.Errorf(sqlink.ECONFLICT, "only a database restored with --restoring needs completing", "database %q is %s, not RESTORING", name, d.State)
	}
	if l := s.eng.ForDatabase(name); l != nil {
		return sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("wait for link %s to finish seeding it, or drop the link first", l.Name()),
			"database %q is being seeded by link %s", name, l.Name())
	}
	db, err := storage.OpenDB(ctx, datadir.DatabasePath(s.cfg.DataDir, name), s.dbConfig())
	if err != nil {
		return fmt.Errorf("open database %s: %w", name, err)
	}
	if err := s.cat.SetDatabaseState(ctx, name, sqlink.DatabaseOnline); err != nil {
		db.Close(ctx)
		return err
	}
	s.mu.Lock()
	s.dbs[name] = db
	s.mu.Unlock()
	return nil
}

// removeDatabaseFiles removes a database file and everything beside it that
// belongs to it (WAL, shared memory, replication log).
func removeDatabaseFiles(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
	matches, _ := filepath.Glob(path + "-*")
	for _, m := range matches {
		os.RemoveAll(m)
	}
}
