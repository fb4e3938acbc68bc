// Package linktest runs the two replicas of one link against an in-memory
// model of their databases and a network that loses, delays, duplicates and
// reorders messages. It drives the datadriven scripts under link/testdata,
// which deliver each message by hand, and the seeded random simulation that
// checks the link's invariants after every step.
package linktest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

// Entry is one transaction in a model database's log.
type Entry struct {
	LSN   sqlink.LSN
	Epoch sqlink.Epoch
	Data  uint64 // identifies the client write
}

func (e Entry) String() string { return fmt.Sprintf("%d@e%d#%d", e.LSN, e.Epoch, e.Data) }

// Node is one instance: a link replica plus its database model. Log is the
// hardened log (Log[i] is LSN i+1). Pending holds client transactions not yet
// committed (a transaction gets its LSN and epoch when it commits) and
// Received the records a secondary received but has not hardened. A crash
// loses both.
type Node struct {
	ID        string
	R         *link.Replica
	Persisted link.HardState
	Log       []Entry
	Pending   []uint64
	Received  []Entry
	Soft      link.SoftState // as last applied
	Status    link.Status    // as last announced
	Saved     [][]Entry      // diverged transactions saved by rewinds
	Down      bool
	Rewinds   int

	shipNext sqlink.LSN
	cfg      link.Config
	lastLine string
}

// End returns the LSN of the last hardened transaction.
func (n *Node) End() sqlink.LSN { return sqlink.LSN(len(n.Log)) }

// State returns the replica's current hard state, or the persisted one when
// the node is down.
func (n *Node) State() link.HardState {
	if n.Down {
		return n.Persisted
	}
	return n.R.HardState()
}

// Packet is a message or a log record in flight.
type Packet struct {
	ID       int
	From, To string
	Msg      *link.Message
	Rec      *Entry
	RecEpoch sqlink.Epoch // the sending primary's epoch
}

func (p Packet) String() string {
	if p.Msg != nil {
		return p.Msg.String()
	}
	return fmt.Sprintf("%s->%s record %s from e%d", p.From, p.To, p.Rec, p.RecEpoch)
}

// Options configure a Cluster.
type Options struct {
	Mode           sqlink.Mode
	TwoWay         bool
	SeedLSN        sqlink.LSN
	SessionTimeout int
	FailoverTicks  int
	// AutoHarden hardens records on the secondary as soon as they arrive.
	AutoHarden bool
	// AutoFailover links the two through the etcd model (Cluster.Etcd),
	// with MaxDataLoss and the lease's TTL in ticks (0: the default).
	AutoFailover bool
	MaxDataLoss  uint64
	LeaseTTL     int
}

// Cluster is two nodes, "a" (the initial primary) and "b", and the network
// between them. It is not safe for concurrent use.
type Cluster struct {
	Nodes       map[string]*Node
	IDs         []string
	Net         []Packet
	Partitioned bool
	Opts        Options
	// Etcd is the etcd model of an AutoFailover link (nil otherwise).
	Etcd *Etcd

	// Out collects what happened, for datadriven output.
	Out strings.Builder
	// Quiet suppresses Out (the random simulation).
	Quiet bool

	// Invariant bookkeeping.
	Acked       []Ack
	ackedTo     map[string]sqlink.LSN
	epochOwner  map[sqlink.Epoch]string
	maxEpoch    sqlink.Epoch
	lastEpoch   map[string]sqlink.Epoch
	lastEnd     map[string]sqlink.LSN
	lastRewinds map[string]int
	lastKind    map[string]string
	etcdEpoch   sqlink.Epoch

	// OnEvent, when set, hears of every role or epoch change.
	OnEvent func(string)

	// Stats counts what happened (role changes by kind, split brains,
	// rewinds), to show what a run exercised.
	Stats map[string]int

	nextPacket int
	nextData   uint64
}

// Ack is a client transaction acknowledged as committed.
type Ack struct {
	Entry
	By     string
	Exempt bool // may be lost: a forced failover or split brain came after
}

// NewCluster creates a fresh link from a to b.
func NewCluster(o Options) *Cluster {
	if o.Mode == "" {
		o.Mode = sqlink.ModeAsync
	}
	c := &Cluster{
		Nodes: map[string]*Node{}, IDs: []string{"a", "b"}, Opts: o,
		ackedTo: map[string]sqlink.LSN{}, epochOwner: map[sqlink.Epoch]string{},
		lastEpoch: map[string]sqlink.Epoch{}, lastEnd: map[string]sqlink.LSN{},
		lastRewinds: map[string]int{}, lastKind: map[string]string{},
		Stats: map[string]int{},
	}
	for _, id := range c.IDs {
		cfg := link.Config{
			LinkID: "l1", Self: id, Partner: c.other(id), InitialPrimary: "a",
			Mode: o.Mode, TwoWay: o.TwoWay, SeedLSN: o.SeedLSN,
			SessionTimeoutTicks: o.SessionTimeout, FailoverTimeoutTicks: o.FailoverTicks,
			AutoFailover: o.AutoFailover, MaxDataLoss: o.MaxDataLoss, LeaseTTLTicks: o.LeaseTTL,
		}
		r, err := link.New(cfg)
		if err != nil {
			panic(err)
		}
		n := &Node{ID: id, R: r, cfg: cfg}
		for i := sqlink.LSN(1); i <= o.SeedLSN; i++ {
			c.nextData++
			n.Log = append(n.Log, Entry{LSN: i, Epoch: 1, Data: c.nextData})
		}
		c.Nodes[id] = n
	}
	// Seeding made both copies identical.
	c.Nodes["b"].Log = slices.Clone(c.Nodes["a"].Log)
	if o.AutoFailover {
		c.Etcd = newEtcd(c, o.LeaseTTL)
		c.Etcd.Sync()
	}
	c.ProcessAll()
	return c
}

func (c *Cluster) other(id string) string {
	if id == "a" {
		return "b"
	}
	return "a"
}

func (c *Cluster) printf(format string, args ...any) {
	if !c.Quiet {
		fmt.Fprintf(&c.Out, format, args...)
	}
}

// ProcessAll handles every pending Ready on both nodes.
func (c *Cluster) ProcessAll() {
	for _, id := range c.IDs {
		c.Process(id)
	}
}

// Process handles n's Readies as the server does: persist, send, apply,
// Advance.
func (c *Cluster) Process(id string) {
	n := c.Nodes[id]
	for i := 0; !n.Down && n.R.HasReady(); i++ {
		if i > 100 {
			panic("linktest: Ready loop does not settle")
		}
		rd := n.R.Ready()
		if rd.HardState != nil {
			if f := rd.HardState.LastFailover; f != n.Persisted.LastFailover && f.Kind != "" {
				c.Stats[string(f.Kind)]++
				if c.OnEvent != nil {
					c.OnEvent(fmt.Sprintf("%s: %s failover to e%d %s", id, f.Kind, f.Epoch, f.Reason))
				}
			}
			if h := rd.HardState; c.OnEvent != nil && (h.Role != n.Persisted.Role || h.Epoch != n.Persisted.Epoch) {
				c.OnEvent(fmt.Sprintf("%s: now %s e%d history %v", id, h.Role, h.Epoch, h.History))
			}
			if rd.HardState.SplitBrain.Active && !n.Persisted.SplitBrain.Active {
				c.Stats["split-brain"]++
			}
			n.Persisted = rd.HardState.Clone()
		}
		for _, m := range rd.Messages {
			m := m
			c.send(Packet{From: id, To: m.To, Msg: &m})
		}
		c.apply(n, rd)
		n.R.Advance(rd)
		if rd.Rewind != nil {
			c.rewind(n, *rd.Rewind)
		}
		if rd.Status != nil {
			if l := rd.Status.AutoFailover; l.Failsafe && !n.Status.AutoFailover.Failsafe && rd.Status.Role == sqlink.RolePrimary {
				c.Stats["failsafe"]++
			}
			if l := rd.Status.AutoFailover; l.Waiting != "" && l.Waiting != n.Status.AutoFailover.Waiting && rd.Status.Role == sqlink.RolePrimary {
				c.Stats["fenced"]++
			}
			n.Status = *rd.Status
			if line := compactStatus(n.Status); line != n.lastLine {
				n.lastLine = line
				c.printf("%s: %s\n", id, line)
			}
		}
		if c.Etcd != nil {
			c.Etcd.requests(id, rd) // last: etcd may answer at once
		}
	}
}

func (c *Cluster) send(p Packet) {
	c.nextPacket++
	p.ID = c.nextPacket
	if p.Msg != nil && p.Msg.Type != link.MsgHeartbeat {
		c.printf("%s sends %s\n", p.From, p.Msg)
	}
	c.Net = append(c.Net, p)
}

func (c *Cluster) apply(n *Node, rd link.Ready) {
	s, prev := rd.SoftState, n.Soft
	hs := n.R.HardState()
	if !s.Writable {
		n.Pending = nil // in-flight transactions roll back when writes stop
	}
	if !s.Replication.Receive || s.Replication.ReceiveEpoch != prev.Replication.ReceiveEpoch {
		n.Received = nil
	}
	if s.Writable != prev.Writable {
		c.printf("%s: writes %s\n", n.ID, map[bool]string{true: "on", false: "off"}[s.Writable])
	}
	n.Soft = s
	// Acknowledge client commits up to Commit.
	if hs.Role == sqlink.RolePrimary && s.Commit > c.ackedTo[n.ID] {
		stale := hs.Epoch < c.maxEpoch && (c.Etcd == nil || c.Opts.Mode != sqlink.ModeSync)
		for l := c.ackedTo[n.ID] + 1; l <= s.Commit && l <= n.End(); l++ {
			e := n.Log[l-1]
			if e.Epoch == hs.Epoch || !c.isAcked(e) {
				c.Acked = append(c.Acked, Ack{Entry: e, By: n.ID, Exempt: stale || hs.Dropped})
			}
		}
		c.ackedTo[n.ID] = s.Commit
	}
	if hs.Role != sqlink.RolePrimary {
		c.ackedTo[n.ID] = 0
	}
	if s.Replication.Send && s.Replication.SendFrom < n.shipNext {
		// already streaming; Tick restarts from SendFrom
	} else if s.Replication.Send {
		n.shipNext = s.Replication.SendFrom
	}
	c.ship(n)
}

func (c *Cluster) isAcked(e Entry) bool {
	for _, a := range c.Acked {
		if a.Entry == e {
			return true
		}
	}
	return false
}

// ship streams hardened records to the partner while the Ready says so.
func (c *Cluster) ship(n *Node) {
	r := n.Soft.Replication
	if !r.Send || n.Down {
		return
	}
	for ; n.shipNext >= 1 && n.shipNext <= n.End(); n.shipNext++ {
		e := n.Log[n.shipNext-1]
		c.send(Packet{From: n.ID, To: c.other(n.ID), Rec: &e, RecEpoch: r.SendEpoch})
	}
}

func (c *Cluster) rewind(n *Node, rw link.Rewind) {
	if rw.To > n.End() {
		panic(fmt.Sprintf("linktest: rewind of %s to %d beyond its log end %d", n.ID, rw.To, n.End()))
	}
	saved := slices.Clone(n.Log[rw.To:])
	n.Saved = append(n.Saved, saved)
	n.Log = n.Log[:rw.To]
	n.Received = nil
	n.Rewinds++
	c.printf("%s: saved %d diverged transactions and rewound to %d\n", n.ID, len(saved), rw.To)
	c.step(n, link.Message{Type: link.MsgRewound, LSN: rw.To})
}

func (c *Cluster) step(n *Node, m link.Message) error {
	err := n.R.Step(m)
	if err != nil {
		c.printf("%s: error: %v\n", n.ID, err)
	}
	c.Process(n.ID)
	return err
}

// Step feeds a local event into node id and processes the result.
func (c *Cluster) Step(id string, m link.Message) error {
	n := c.Nodes[id]
	if n.Down {
		c.printf("%s: down\n", id)
		return fmt.Errorf("%s is down", id)
	}
	return c.step(n, m)
}

// Write starts a client transaction on id if its database is writable and
// returns whether it did. Commit makes it durable.
func (c *Cluster) Write(id string) bool {
	n := c.Nodes[id]
	if n.Down || !n.Soft.Writable {
		return false
	}
	c.nextData++
	n.Pending = append(n.Pending, c.nextData)
	return true
}

// Commit hardens the oldest in-flight transaction on primary id.
func (c *Cluster) Commit(id string) bool {
	n := c.Nodes[id]
	if n.Down || len(n.Pending) == 0 || !n.Soft.Writable {
		return false
	}
	e := Entry{LSN: n.End() + 1, Epoch: n.R.HardState().Epoch, Data: n.Pending[0]}
	n.Pending = n.Pending[1:]
	n.Log = append(n.Log, e)
	c.step(n, link.Message{Type: link.MsgCommitted, LSN: e.LSN})
	return true
}

// Harden hardens the records a secondary received.
func (c *Cluster) Harden(id string) bool {
	n := c.Nodes[id]
	if n.Down || len(n.Received) == 0 {
		return false
	}
	n.Log = append(n.Log, n.Received...)
	n.Received = nil
	c.step(n, link.Message{Type: link.MsgHardened, LSN: n.End()})
	c.step(n, link.Message{Type: link.MsgApplied, LSN: n.End()})
	return true
}

// Tick ticks node id; the transport also restarts its stream from the
// partner's acknowledged position, as after a reconnect.
func (c *Cluster) Tick(id string) {
	n := c.Nodes[id]
	if n.Down {
		return
	}
	if n.Soft.Replication.Send {
		n.shipNext = n.Soft.Replication.SendFrom
	}
	c.step(n, link.Message{Type: link.MsgTick})
}

// Deliver delivers packet i of the network (and removes it unless dup).
func (c *Cluster) Deliver(i int, dup bool) {
	p := c.Net[i]
	if !dup {
		c.Net = slices.Delete(c.Net, i, i+1)
	}
	n := c.Nodes[p.To]
	if n.Down || c.Partitioned {
		return
	}
	if p.Msg != nil {
		if p.Msg.Type != link.MsgHeartbeat {
			c.printf("%s receives %s\n", p.To, p.Msg)
		}
		if err := n.R.Step(*p.Msg); err != nil {
			panic(fmt.Sprintf("linktest: %s refused %s: %v", p.To, p.Msg, err))
		}
		c.Process(p.To)
		return
	}
	// A log record: storage accepts it only if it follows the local log
	// and comes from the primary the link follows.
	r := n.Soft.Replication
	if !r.Receive || p.RecEpoch != r.ReceiveEpoch || p.Rec.LSN != n.End()+sqlink.LSN(len(n.Received))+1 {
		return
	}
	n.Received = append(n.Received, *p.Rec)
	if c.Opts.AutoHarden {
		c.Harden(p.To)
	}
}

// Drop removes packet i.
func (c *Cluster) Drop(i int) { c.Net = slices.Delete(c.Net, i, i+1) }

// Crash stops node id: it loses its volatile state and unpersisted Ready.
func (c *Cluster) Crash(id string) {
	n := c.Nodes[id]
	if n.Down {
		return
	}
	n.Down = true
	n.Pending, n.Received = nil, nil
	n.R = nil
	n.Soft = link.SoftState{}
	c.printf("%s: crashed\n", id)
	if c.Etcd != nil {
		c.Etcd.rt[id] = &runtime{inc: c.Etcd.rt[id].inc + 1}
	}
}

// Restart starts node id again from its persisted HardState and hardened log.
func (c *Cluster) Restart(id string) {
	n := c.Nodes[id]
	if !n.Down {
		return
	}
	cfg := n.cfg
	st := n.Persisted.Clone()
	cfg.State = &st
	r, err := link.New(cfg)
	if err != nil {
		panic(err)
	}
	n.R, n.Down, n.lastLine = r, false, ""
	n.shipNext = 0
	c.printf("%s: restarted\n", id)
	c.ackedTo[id] = 0
	if c.Etcd != nil {
		// The clients of the crashed process are gone: its commits are
		// acknowledged to nobody.
		c.ackedTo[id] = n.End()
	}
	if n.End() > st.Hardened {
		// The log was hardened before the HardState that counted it.
		if err := r.Step(link.Message{Type: link.MsgHardened, LSN: n.End()}); err != nil {
			panic(err)
		}
	}
	c.Process(id)
	if n.R.HardState().Role == sqlink.RolePrimary {
		c.ackedTo[id] = n.R.Status().Commit
	}
	if c.Etcd != nil {
		c.Etcd.Restarted(id)
	}
}

func compactStatus(s link.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s e%d", s.Role, s.Epoch)
	if s.Writable {
		b.WriteString(" rw")
	} else {
		b.WriteString(" ro")
	}
	fmt.Fprintf(&b, " %s %s", s.Mode, s.SyncState)
	if s.Dropped {
		b.WriteString(" DROPPED")
	}
	if s.Op.Active() {
		fmt.Fprintf(&b, " op=%s->e%d", s.Op.Step, s.Op.Target)
	}
	if s.Paused {
		fmt.Fprintf(&b, " paused(%s)", s.PausedReason)
	}
	if s.SplitBrain.Active {
		fmt.Fprintf(&b, " SPLIT_BRAIN(fork=%d local=%d partner=%d", s.SplitBrain.ForkLSN, s.SplitBrain.LocalDiverged, s.SplitBrain.PartnerDiverged)
		if s.SplitBrain.Designated != "" {
			fmt.Fprintf(&b, " designated=%s", s.SplitBrain.Designated)
		}
		b.WriteString(")")
	}
	if !s.Connected {
		b.WriteString(" disconnected")
	}
	return b.String()
}
