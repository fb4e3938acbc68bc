package replication

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/transport"
)

// A secondary's applier acknowledges what it redid on the connection as
// soon as it has applied it: the acknowledgment reaches the primary with
// no other goroutine's help (the connection's writer is not running here,
// and the tick is an hour), so the primary's replay lag is the apply's,
// not a hand-off's.
func TestApplier_AcksRedoAtOnceOnTheConnection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, s := openTestDB(t, dir, "p.db"), openTestDB(t, dir, "s.db")
	s.SetReadOnly("primary-1")
	writeTestSQL(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	writeTestSQL(t, p, "INSERT INTO t (v) VALUES ('one')")

	e, _, _ := newTestEngine(t)
	rt := newLink(e, catalog.LinkRecord{Name: "L", Database: "shop"}, linkData{LinkID: "link-1"})
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	pc := newPeerConn(rt.ctx, transport.NewConn(ours), nil) // no writeLoop
	rt.mu.Lock()
	rt.conn = pc
	rt.mu.Unlock()
	rt.startApplier(s)
	t.Cleanup(rt.stopApplier)

	// Harden the primary's records on the secondary: the applier, waiting
	// for them, redoes them and acknowledges.
	recs := logRecords(t, p, 0)
	if len(recs) == 0 {
		t.Fatal("the primary logged nothing")
	}
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	want := recs[len(recs)-1].LSN

	peer := transport.NewConn(theirs)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		m, err := peer.ReadMessage(rctx)
		if err != nil {
			t.Fatalf("no acknowledgment of redo %d came: %v (redone %d)", want, err, s.Redone().LSN)
		}
		if a, ok := m.(*transport.Ack); ok && a.Redone >= want {
			if a.Hardened < a.Redone {
				t.Fatalf("acknowledged redone %d past hardened %d", a.Redone, a.Hardened)
			}
			break
		}
	}
	if got := s.Redone().LSN; got < want {
		t.Fatalf("acknowledged before the redo: redone %d, want %d", got, want)
	}
}
