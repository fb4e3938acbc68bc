package storage_test

import (
	"context"
	"fmt"
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
