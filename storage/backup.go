package storage

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/fsutil"
)

// Manifest describes a backup: which history position the pages are at and
// how to verify them.
type Manifest struct {
	ID        string       `json:"id"`
	Database  string       `json:"database,omitempty"` // filled by the caller
	LSN       sqlink.LSN   `json:"lsn"`
	Pos       sqlink.Pos   `json:"pos"`
	Epoch     sqlink.Epoch `json:"epoch"`
	PageSize  int64        `json:"page_size"`
	PageCount int64        `json:"page_count"`
	SHA256    string       `json:"sha256"` // of the pages, in order
	CopyOnly  bool         `json:"copy_only"`
	Created   time.Time    `json:"created"`
}

// Backup file layout:
//
//	header: "SQLKBAK1" | version u32 | page size u32 | page count u32 | 0 u32
//	pages:  page count x page size bytes, in page order
//	trailer: manifest JSON | JSON length u32 | "SQLKBEND"
const (
	backupMagic      = "SQLKBAK1"
	backupEndMagic   = "SQLKBEND"
	backupVersion    = 1
	backupHeaderSize = 24
	maxManifestSize  = 1 << 20
)

// Backup streams a consistent copy of the database to w while writes go
// on. It captures everything under the write lock, notes the position,
// opens a read transaction (fixing the snapshot), releases the lock and
// then copies every page of that snapshot. A full backup (copyOnly false)
// starts the database's backup chain.
func (db *DB) Backup(ctx context.Context, w io.Writer, copyOnly bool) (Manifest, error) {
	id, err := newID()
	if err != nil {
		return Manifest{}, err
	}
	rc, err := db.sqldb.Conn(ctx)
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: get connection: %w", err)
	}
	defer rc.Close()

	if err := db.lockWrite(ctx); err != nil {
		return Manifest{}, err
	}
	err = db.capture()
	var pageSize, pageCount int64
	if err == nil {
		_, err = rc.ExecContext(ctx, "BEGIN")
	}
	if err == nil {
		// The first read fixes the snapshot, at the captured position.
		err = rc.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(new(int64))
	}
	pos, epoch := db.Pos(), db.Epoch()
	db.unlockWrite()
	defer rc.ExecContext(context.Background(), "ROLLBACK")
	if err == nil {
		err = rc.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize)
	}
	if err == nil {
		err = rc.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pageCount)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: start snapshot: %w", err)
	}

	m := Manifest{ID: id, LSN: pos.LSN, Pos: pos, Epoch: epoch, PageSize: pageSize, PageCount: pageCount, CopyOnly: copyOnly, Created: db.cfg.Now().UTC()}
	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr [backupHeaderSize]byte
	copy(hdr[:], backupMagic)
	binary.BigEndian.PutUint32(hdr[8:], backupVersion)
	binary.BigEndian.PutUint32(hdr[12:], uint32(pageSize))
	binary.BigEndian.PutUint32(hdr[16:], uint32(pageCount))
	if _, err := bw.Write(hdr[:]); err != nil {
		return Manifest{}, fmt.Errorf("backup: write: %w", err)
	}
	sum := sha256.New()
	n, err := readPages(ctx, rc, pageSize, func(pgno int64, data []byte) error {
		sum.Write(data)
		_, err := bw.Write(data)
		return err
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("backup: copy pages: %w", err)
	}
	if n != pageCount {
		return Manifest{}, fmt.Errorf("backup: copied %d pages, snapshot has %d", n, pageCount)
	}
	m.SHA256 = hex.EncodeToString(sum.Sum(nil))
	if err := writeTrailer(bw, m); err != nil {
		return Manifest{}, err
	}
	if err := bw.Flush(); err != nil {
		return Manifest{}, fmt.Errorf("backup: write: %w", err)
	}
	if !copyOnly {
		if err := db.log.updateMeta(func(lm *logMeta) { lm.LastFullBackupID = id }); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

// LastFullBackupID returns the ID of the last full (not copy-only) backup
// taken of this database, or "".
func (db *DB) LastFullBackupID() string {
	db.log.mu.Lock()
	defer db.log.mu.Unlock()
	return db.log.meta.LastFullBackupID
}

func writeTrailer(w io.Writer, m Manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var t [12]byte
	binary.BigEndian.PutUint32(t[:], uint32(len(b)))
	copy(t[4:], backupEndMagic)
	if _, err := w.Write(append(b, t[:]...)); err != nil {
		return fmt.Errorf("backup: write manifest: %w", err)
	}
	return nil
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func badBackup(format string, args ...any) error {
	return sqlink.Errorf(sqlink.EINVALID, "the backup file is damaged or incomplete; take a new backup or use another copy", "invalid backup: "+format, args...)
}

type backupHeader struct {
	pageSize, pageCount int64
}

func readBackupHeader(r io.Reader) (backupHeader, error) {
	var hdr [backupHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return backupHeader{}, badBackup("file too short for a header")
	}
	if string(hdr[:8]) != backupMagic {
		return backupHeader{}, badBackup("not a sqlink backup (bad magic)")
	}
	if v := binary.BigEndian.Uint32(hdr[8:]); v != backupVersion {
		return backupHeader{}, badBackup("unsupported version %d", v)
	}
	h := backupHeader{pageSize: int64(binary.BigEndian.Uint32(hdr[12:])), pageCount: int64(binary.BigEndian.Uint32(hdr[16:]))}
	if h.pageSize < 512 || h.pageSize > maxPageSize || h.pageSize&(h.pageSize-1) != 0 {
		return backupHeader{}, badBackup("invalid page size %d", h.pageSize)
	}
	return h, nil
}

// readTrailer reads the manifest trailer that follows the pages (the rest
// of r) and checks it against the header.
func readTrailer(r io.Reader, h backupHeader) (Manifest, error) {
	rest, err := io.ReadAll(io.LimitReader(r, maxManifestSize+13))
	if err != nil {
		return Manifest{}, fmt.Errorf("read backup: %w", err)
	}
	if len(rest) < 12 || len(rest) > maxManifestSize+12 || string(rest[len(rest)-8:]) != backupEndMagic {
		return Manifest{}, badBackup("missing or damaged manifest (truncated file?)")
	}
	n := int(binary.BigEndian.Uint32(rest[len(rest)-12:]))
	if n != len(rest)-12 {
		return Manifest{}, badBackup("manifest length mismatch")
	}
	var m Manifest
	if err := json.Unmarshal(rest[:n], &m); err != nil {
		return Manifest{}, badBackup("manifest is not valid JSON: %v", err)
	}
	if m.PageSize != h.pageSize || m.PageCount != h.pageCount {
		return Manifest{}, badBackup("manifest says %d pages of %d bytes, header says %d of %d", m.PageCount, m.PageSize, h.pageCount, h.pageSize)
	}
	return m, nil
}

// copyPages copies the backup's pages from r to w (which may be
// io.Discard) and returns their SHA-256.
func copyPages(r io.Reader, w io.Writer, h backupHeader) (string, error) {
	sum := sha256.New()
	n, err := io.CopyN(io.MultiWriter(w, sum), r, h.pageSize*h.pageCount)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", badBackup("truncated: %d of %d page bytes", n, h.pageSize*h.pageCount)
		}
		return "", fmt.Errorf("copy backup pages: %w", err)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// ReadManifest reads a backup's manifest, verifying the page checksum on
// the way (it reads the whole stream).
func ReadManifest(r io.Reader) (Manifest, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h, err := readBackupHeader(br)
	if err != nil {
		return Manifest{}, err
	}
	sum, err := copyPages(br, io.Discard, h)
	if err != nil {
		return Manifest{}, err
	}
	m, err := readTrailer(br, h)
	if err != nil {
		return Manifest{}, err
	}
	if m.SHA256 != sum {
		return Manifest{}, badBackup("page checksum mismatch")
	}
	return m, nil
}

// Restore writes the backup in r to a new database file at dstPath, page
// for page as the source was at the backup's position, together with log
// metadata so that OpenDB continues LSNs from the manifest's Pos. It
// verifies the checksum first and leaves nothing at dstPath on failure.
func Restore(ctx context.Context, r io.Reader, dstPath string) (Manifest, error) {
	dstPath, err := filepath.Abs(dstPath)
	if err != nil {
		return Manifest{}, err
	}
	for _, p := range []string{dstPath, dstPath + "-wal", dstPath + "-log"} {
		if _, err := os.Stat(p); err == nil {
			return Manifest{}, sqlink.Errorf(sqlink.ECONFLICT, "drop the existing database or restore under another name", "%s already exists", p)
		}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	h, err := readBackupHeader(br)
	if err != nil {
		return Manifest{}, err
	}
	tmp := dstPath + ".restoring"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: create file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	sum, err := copyPages(&ctxReader{ctx: ctx, r: br}, bw, h)
	if err != nil {
		return Manifest{}, err
	}
	m, err := readTrailer(br, h)
	if err != nil {
		return Manifest{}, err
	}
	if m.SHA256 != sum {
		return Manifest{}, badBackup("page checksum mismatch")
	}
	if err := bw.Flush(); err != nil {
		return Manifest{}, fmt.Errorf("restore: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return Manifest{}, fmt.Errorf("restore: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return Manifest{}, fmt.Errorf("restore: close: %w", err)
	}
	if err := os.MkdirAll(dstPath+"-log", 0o755); err != nil {
		return Manifest{}, fmt.Errorf("restore: create log dir: %w", err)
	}
	epoch := m.Epoch
	if epoch == 0 {
		epoch = 1
	}
	if err := writeMeta(dstPath+"-log", logMeta{Base: m.Pos, Epoch: epoch}); err != nil {
		os.RemoveAll(dstPath + "-log")
		return Manifest{}, err
	}
	os.Remove(dstPath + "-shm")
	if err := os.Rename(tmp, dstPath); err != nil {
		os.RemoveAll(dstPath + "-log")
		return Manifest{}, fmt.Errorf("restore: rename: %w", err)
	}
	ok = true
	return m, fsutil.SyncDir(filepath.Dir(dstPath))
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
