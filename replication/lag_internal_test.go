package replication

import (
	"testing"
	"time"

	"github.com/sqlink/sqlink/transport"
)

// An async secondary acknowledges a group once, after applying it: the
// acknowledgment says how long before it the records were hardened, so the
// primary's harden lag is commit to fsync, and only the replay lag includes
// the apply.
func TestOnAck_HardenLagLeavesOutTheApply(t *testing.T) {
	commit := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	now := commit.Add(10 * time.Millisecond)
	rt := &Link{s: &Engine{cfg: Config{Now: func() time.Time { return now }}}}
	rt.times = []lsnTime{{lsn: 5, t: commit}}
	rt.onAck(&transport.Ack{Epoch: 1, Hardened: 5, Redone: 5, Time: now, HardenedAgo: 3 * time.Millisecond})
	if rt.hardenLag != 7*time.Millisecond || rt.replayLag != 10*time.Millisecond {
		t.Fatalf("harden lag %v, replay lag %v; want 7ms and 10ms", rt.hardenLag, rt.replayLag)
	}
}
