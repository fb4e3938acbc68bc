package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink/storage"
)

func TestSeed_ResumableCopyThenCatchUp(t *testing.T) {
	ctx := context.Background()
	p := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	for i := 0; i < 40; i++ {
		mustExecWrite(t, p, fmt.Sprintf("INSERT INTO t(v) VALUES (randomblob(%d))", 1000+i*50))
	}
	snap, err := p.OpenSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	// Writes go on while the seed is copied.
	for i := 0; i < 10; i++ {
		mustExecWrite(t, p, "UPDATE t SET v = randomblob(3000) WHERE id = "+fmt.Sprint(i+1))
	}

	spath := filepath.Join(t.TempDir(), "s.sqlite")
	w, err := storage.CreateSeed(spath, snap.Pos, snap.Epoch, snap.PageSize, snap.PageCount)
	if err != nil {
		t.Fatal(err)
	}
	copyChunks := func(w *storage.SeedWriter, chunks int) {
		for i := 0; i < chunks && !w.State().Done(); i++ {
			pages, err := snap.ReadPages(ctx, w.State().Next, 7)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WritePages(pages); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyChunks(w, 3)
	if _, err := w.Finish("primary-1"); err == nil {
		t.Fatal("Finish of an incomplete seed succeeded")
	}
	w.Close() // interrupted
	w, err = storage.OpenSeed(spath)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.State().Next, uint32(22); got != want {
		t.Fatalf("resumed at page %d, want %d", got, want)
	}
	copyChunks(w, 1000)
	st, err := w.Finish("primary-1")
	if err != nil {
		t.Fatal(err)
	}
	if st.BytesDone() != snap.PageCount*snap.PageSize {
		t.Fatalf("bytes done %d", st.BytesDone())
	}

	s := MustOpenDBAt(t, spath, storage.DBConfig{})
	if ro, _ := s.ReadOnly(); !ro {
		t.Fatal("seeded database is not read-only")
	}
	if got, want := s.Redone(), snap.Pos; got != want {
		t.Fatalf("seeded redone %s, want %s", got, want)
	}
	ship(t, p, s, 4)
	if s.Redone() != p.Pos() {
		t.Fatalf("secondary at %s, primary at %s", s.Redone(), p.Pos())
	}
	mustComparePages(t, p.Path(), s.Path())
	mustIntegrityOK(t, s)
}

// A snapshot read from the database file stays the snapshot while commits
// and checkpoints go on: no checkpoint writes into the file under it.
func TestSnapshot_StableUnderWritesAndCheckpoints(t *testing.T) {
	ctx := context.Background()
	p := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	for i := 0; i < 200; i++ {
		mustExecWrite(t, p, "INSERT INTO t(v) VALUES (randomblob(3000))")
	}
	snap, err := p.OpenSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var got []storage.Page
	for pg := uint32(1); int64(pg) <= snap.PageCount; {
		if pg%16 == 1 {
			// Rewrite pages already read and not yet read, and checkpoint.
			for i := 0; i < 10; i++ {
				mustExecWrite(t, p, fmt.Sprintf("UPDATE t SET v = randomblob(3000) WHERE id = %d", 1+(int(pg)*7+i)%200))
			}
			if err := p.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		pages, err := snap.ReadPages(ctx, pg, 5)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pages...)
		pg += uint32(len(pages))
	}
	want := replayToFile(t, p, snap.Pos.LSN)
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != snap.PageCount*snap.PageSize {
		t.Fatalf("replayed file has %d bytes, snapshot %d pages", len(b), snap.PageCount)
	}
	for _, pg := range got {
		off := int64(pg.Pgno-1) * snap.PageSize
		if pg.Pgno == 1 {
			continue // the change counter differs between a WAL database and a replay
		}
		if !bytes.Equal(pg.Data, b[off:off+snap.PageSize]) {
			t.Fatalf("snapshot page %d differs from the database at LSN %d", pg.Pgno, snap.Pos.LSN)
		}
	}
}
