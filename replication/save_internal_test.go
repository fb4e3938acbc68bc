package replication

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlink/sqlink/catalog"
)

// gatedCatalog holds the first PutLink until a second one starts (or a
// second passes, when saves are serialised and none can start), and notes
// whether two ever overlapped.
type gatedCatalog struct {
	*fakeCatalog
	calls, inside atomic.Int32
	overlap       atomic.Bool
	first, second chan struct{}
}

func (c *gatedCatalog) PutLink(ctx context.Context, rec catalog.LinkRecord) error {
	if c.inside.Add(1) > 1 {
		c.overlap.Store(true)
	}
	defer c.inside.Add(-1)
	switch c.calls.Add(1) {
	case 1:
		close(c.first)
		select {
		case <-c.second:
		case <-time.After(time.Second):
		}
	case 2:
		close(c.second)
	}
	return c.fakeCatalog.PutLink(ctx, rec)
}

// Two saves of a link's record land in the order they read it: a save
// that read older data (a seed worker's) never overwrites the newer
// record another (the loop's HardState) made durable meanwhile.
func TestLinkSave_SerialisedInReadOrder(t *testing.T) {
	e, _, _ := newTestEngine(t)
	cat := &gatedCatalog{fakeCatalog: newFakeCatalog(), first: make(chan struct{}), second: make(chan struct{})}
	e.cat = cat
	rt := newLink(e, catalog.LinkRecord{Name: "L", Database: "shop"}, linkData{LinkID: "link-1", FloorLSN: 1})

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = rt.save() }() // reads FloorLSN 1
	<-cat.first
	rt.mu.Lock()
	rt.data.FloorLSN = 2
	rt.mu.Unlock()
	go func() { defer wg.Done(); _ = rt.save() }() // reads FloorLSN 2
	wg.Wait()

	if cat.overlap.Load() {
		t.Error("two saves of one link wrote at once")
	}
	rec, err := cat.fakeCatalog.GetLink(context.Background(), "L")
	if err != nil {
		t.Fatal(err)
	}
	var d linkData
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.FloorLSN != 2 {
		t.Fatalf("the catalog holds floor LSN %d: an older save overwrote the newer one", d.FloorLSN)
	}
}

// blockingCatalog holds every PutLink until release is closed.
type blockingCatalog struct {
	*fakeCatalog
	calls   atomic.Int32
	entered chan struct{} // receives once per PutLink
	release chan struct{}
}

func (c *blockingCatalog) PutLink(ctx context.Context, rec catalog.LinkRecord) error {
	c.calls.Add(1)
	c.entered <- struct{}{}
	<-c.release
	return c.fakeCatalog.PutLink(ctx, rec)
}

// The retention floor is saved off the loop: saveFloor returns while the
// catalog write is in flight, one runs at a time, and the next one writes
// the newer floor.
func TestLinkSaveFloor_OffTheLoopOneAtATime(t *testing.T) {
	e, _, _ := newTestEngine(t)
	cat := &blockingCatalog{fakeCatalog: newFakeCatalog(), entered: make(chan struct{}, 4), release: make(chan struct{})}
	e.cat = cat
	rt := newLink(e, catalog.LinkRecord{Name: "L", Database: "shop"}, linkData{LinkID: "link-1", FloorLSN: 5})

	rt.saveFloor() // returns with the write blocked
	<-cat.entered
	rt.mu.Lock()
	rt.data.FloorLSN = 9
	rt.mu.Unlock()
	rt.saveFloor() // one is running: not another
	close(cat.release)
	rt.wg.Wait()
	if n := cat.calls.Load(); n != 1 {
		t.Fatalf("%d catalog writes, want 1 while one was in flight", n)
	}
	rt.saveFloor()
	rt.wg.Wait()
	rec, err := cat.fakeCatalog.GetLink(context.Background(), "L")
	if err != nil {
		t.Fatal(err)
	}
	var d linkData
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.FloorLSN != 9 {
		t.Fatalf("saved floor %d, want 9", d.FloorLSN)
	}
}
