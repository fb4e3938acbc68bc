package replication

import (
	"errors"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

func TestPlanSeed(t *testing.T) {
	at := func(lsn sqlink.LSN) sqlink.Pos { return sqlink.Pos{LSN: lsn, Checksum: uint64(lsn) * 7} }
	open50 := &snapshotInfo{Pos: at(50), PageSize: 4096, PageCount: 10}
	newSnap := snapshotInfo{Pos: at(80), PageSize: 4096, PageCount: 12}
	for _, tc := range []struct {
		name      string
		req       seedRequest
		cur       *snapshotInfo
		logFrom   bool // the log reaches back to the request's base
		want      string
		wantPos   sqlink.LSN
		wantNext  uint32
		wantBase  sqlink.LSN
		wantOpens int
	}{
		{name: "nothing received", req: seedRequest{}, cur: open50, want: planFresh, wantPos: 80, wantNext: 1, wantBase: 80, wantOpens: 1},
		{name: "the snapshot it was receiving is open", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 4}, cur: open50,
			want: planResume, wantPos: 50, wantNext: 4, wantBase: 40},
		{name: "every page received, the done frame lost", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 11}, cur: open50,
			want: planResume, wantPos: 50, wantNext: 11, wantBase: 40},
		{name: "past the open snapshot's end", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 12}, cur: open50, logFrom: true,
			want: planRebase, wantPos: 80, wantNext: 12, wantBase: 40, wantOpens: 1},
		{name: "the primary restarted, log still there", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 4}, logFrom: true,
			want: planRebase, wantPos: 80, wantNext: 4, wantBase: 40, wantOpens: 1},
		{name: "rebased beyond the new snapshot's end", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 20}, logFrom: true,
			want: planRebase, wantPos: 80, wantNext: 13, wantBase: 40, wantOpens: 1},
		{name: "the primary restarted, log gone", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 4},
			want: planFresh, wantPos: 80, wantNext: 1, wantBase: 80, wantOpens: 1},
		{name: "only page 1 would be kept", req: seedRequest{Have: true, Base: at(40), Pos: at(50), Next: 1}, logFrom: true,
			want: planFresh, wantPos: 80, wantNext: 1, wantBase: 80, wantOpens: 1},
		{name: "its seed is newer than the primary's (another primary)", req: seedRequest{Have: true, Base: at(90), Pos: at(95), Next: 4}, logFrom: true,
			want: planFresh, wantPos: 80, wantNext: 1, wantBase: 80, wantOpens: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opens := 0
			open := func() (snapshotInfo, error) { opens++; return newSnap, nil }
			plan, base, err := planSeed(tc.req, tc.cur, 3, open, func(sqlink.LSN) bool { return tc.logFrom })
			if err != nil {
				t.Fatal(err)
			}
			if plan.Kind != tc.want || plan.Pos.LSN != tc.wantPos || plan.Next != tc.wantNext || base != tc.wantBase || opens != tc.wantOpens || plan.Epoch != 3 {
				t.Fatalf("plan %s at %d from page %d, base %d, %d snapshots opened, epoch %d; want %s at %d from page %d, base %d, %d opened",
					plan.Kind, plan.Pos.LSN, plan.Next, base, opens, plan.Epoch, tc.want, tc.wantPos, tc.wantNext, tc.wantBase, tc.wantOpens)
			}
		})
	}
	boom := errors.New("disk on fire")
	if _, _, err := planSeed(seedRequest{}, nil, 1, func() (snapshotInfo, error) { return snapshotInfo{}, boom }, nil); !errors.Is(err, boom) {
		t.Fatalf("a snapshot that cannot open: %v", err)
	}
}

func TestHealth(t *testing.T) {
	for _, tc := range []struct {
		state sqlink.SyncState
		mode  sqlink.Mode
		want  string
	}{
		{sqlink.Synchronized, sqlink.ModeSync, healthHealthy},
		{sqlink.Synchronizing, sqlink.ModeAsync, healthHealthy},
		{sqlink.Synchronizing, sqlink.ModeSync, healthPartial},
		{sqlink.NotSynchronizing, sqlink.ModeAsync, healthNot},
		{sqlink.Initializing, sqlink.ModeSync, healthNot},
		{sqlink.Reverting, sqlink.ModeAsync, healthNot},
	} {
		if got := health(tc.state, tc.mode); got != tc.want {
			t.Errorf("health(%s, %s) = %s, want %s", tc.state, tc.mode, got, tc.want)
		}
	}
}

func TestSyncStateOf(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		st                            link.Status
		seeding, connected, rewinding bool
		want                          sqlink.SyncState
	}{
		{"synchronized", link.Status{SyncState: sqlink.Synchronized}, false, true, false, sqlink.Synchronized},
		{"no state yet", link.Status{}, false, true, false, sqlink.Initializing},
		{"seeding", link.Status{SyncState: sqlink.Synchronizing}, true, true, false, sqlink.Initializing},
		{"disconnected", link.Status{SyncState: sqlink.Synchronized}, false, false, false, sqlink.NotSynchronizing},
		{"disconnected while seeding", link.Status{SyncState: sqlink.Synchronized}, true, false, false, sqlink.Initializing},
		{"rewinding", link.Status{SyncState: sqlink.Synchronizing}, false, true, true, sqlink.Reverting},
		{"reverting, disconnected", link.Status{SyncState: sqlink.Synchronizing, Reverting: true}, false, false, false, sqlink.Reverting},
		{"between roles", link.Status{SyncState: sqlink.Synchronized, Role: sqlink.RoleResolving}, false, true, false, sqlink.Initializing},
	} {
		if got := syncStateOf(tc.st, tc.seeding, tc.connected, tc.rewinding); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSeedProgressStatus(t *testing.T) {
	if (&seedProgress{}).status(0, false, t0) != nil {
		t.Fatal("a link that never seeded shows seeding")
	}
	sp := seedProgress{state: seedSeeding, done: 300, total: 1000, started: t0, startBytes: 100, sent: 300}
	sd := sp.status(2, true, t0.Add(2*time.Second))
	if sd.State != "SEEDING" || sd.RateBytes != 100 || sd.Attempts != 2 || !sd.FromBackup || sd.BytesSent != 300 {
		t.Fatalf("seeding status %+v", sd)
	}
	if want := t0.Add(9 * time.Second); !sd.EstimatedEnd.Equal(want) {
		t.Fatalf("estimated end %v, want %v", sd.EstimatedEnd, want)
	}
}

func TestLinkState(t *testing.T) {
	up := linkFacts{phase: phaseOnline, connected: true, status: link.Status{Connected: true, SyncState: sqlink.Synchronized}}
	with := func(f func(*linkFacts)) linkFacts { c := up; f(&c); return c }
	for _, tc := range []struct {
		name string
		f    linkFacts
		want string
	}{
		{"synchronized", up, linkSynchronized},
		{"synchronizing", with(func(f *linkFacts) { f.status.SyncState = sqlink.Synchronizing }), linkSynchronizing},
		{"no connection", with(func(f *linkFacts) { f.connected = false }), linkDisconnected},
		{"the partner silent", with(func(f *linkFacts) { f.status.Connected = false }), linkDisconnected},
		{"seeding here", with(func(f *linkFacts) { f.phase = phaseSeeding; f.connected = false }), linkSeeding},
		{"catching up", with(func(f *linkFacts) { f.phase = phaseCatchup }), linkSeeding},
		{"sending a seed", with(func(f *linkFacts) { f.seedSending = true }), linkSeeding},
		{"the partner restoring", with(func(f *linkFacts) { f.partnerRestoring = true }), linkSeeding},
		{"failover", with(func(f *linkFacts) { f.status.Op = link.Op{Kind: link.OpPlanned} }), linkFailover},
		{"reseed required", with(func(f *linkFacts) { f.reseedRequired = true; f.connected = false }), linkReseedRequired},
		{"diverged copy", with(func(f *linkFacts) { f.diverged = true }), linkReseedRequired},
		{"diverged while seeding", with(func(f *linkFacts) { f.diverged = true; f.phase = phaseSeeding }), linkSeeding},
		{"split brain over reseed", with(func(f *linkFacts) { f.reseedRequired = true; f.status.SplitBrain.Active = true }), linkSplitBrain},
		{"dropping over all", with(func(f *linkFacts) { f.dropping = true; f.status.SplitBrain.Active = true }), linkDropped},
		{"dropped by the state machine", with(func(f *linkFacts) { f.status.Dropped = true }), linkDropped},
	} {
		if got := linkState(tc.f); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
