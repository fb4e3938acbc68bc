package link_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/link/linktest"
)

// TestDataDriven runs the scripts under testdata, which deliver each
// message by hand as etcd's rafttest does. Regenerate with -rewrite.
//
// Commands: init [mode=sync] [one-way] [timeout=N], write <node> [n=N],
// tick [node] [n=N] [stabilize], deliver [from=x] [type=T] [n=N], drop [from=x] [type=T],
// stabilize, partition, heal, crash <node>, restart <node>, status <node>,
// log <node>, net, failover <node> [drop], force <node> [ack],
// set-role <node> primary=<id>, resume <node>, abort <node>,
// mode <node> <async|sync>.
// AutoFailover links (init auto [max-loss=N]): etcd (show the key),
// etcd-down, etcd-up, cut <node> and uncut <node> (from etcd); each tick
// round also advances etcd's clock by one tick.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var c *linktest.Cluster
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "init" && c == nil {
				d.Fatalf(t, "init first")
			}
			if c != nil {
				c.Out.Reset()
			}
			arg := func(key, def string) string {
				for _, a := range d.CmdArgs {
					if a.Key == key && len(a.Vals) > 0 {
						return a.Vals[0]
					}
				}
				return def
			}
			num := func(key string, def int) int {
				n, err := strconv.Atoi(arg(key, strconv.Itoa(def)))
				if err != nil {
					d.Fatalf(t, "%s: %v", key, err)
				}
				return n
			}
			node := func() string {
				for _, a := range d.CmdArgs {
					if len(a.Vals) == 0 && (a.Key == "a" || a.Key == "b") {
						return a.Key
					}
				}
				return ""
			}
			report := func(err error) {
				if err != nil {
					fmt.Fprintf(&c.Out, "error: %s: %s (hint: %s)\n", sqlink.ErrorCode(err), sqlink.ErrorMessage(err), sqlink.ErrorHint(err))
				}
			}
			match := func(p linktest.Packet) bool {
				if f := arg("from", ""); f != "" && p.From != f {
					return false
				}
				if ty := arg("type", ""); ty != "" {
					if ty == "record" {
						return p.Rec != nil
					}
					return p.Msg != nil && p.Msg.Type.String() == ty
				}
				return true
			}
			switch d.Cmd {
			case "init":
				o := linktest.Options{Mode: sqlink.Mode(arg("mode", "async")), TwoWay: !d.HasArg("one-way"),
					SessionTimeout: num("timeout", 0), FailoverTicks: num("failover-ticks", 0), AutoHarden: true,
					AutoFailover: d.HasArg("auto"), MaxDataLoss: uint64(num("max-loss", 0))}
				c = linktest.NewCluster(o)
				c.Out.Reset()
				c.Quiet = false
				for i := 0; i < 3; i++ {
					c.Tick("a")
					c.Tick("b")
					deliverAll(c, func(linktest.Packet) bool { return true })
				}
				c.Out.Reset()
				return status(c, "a") + status(c, "b")
			case "write":
				id := node()
				for i := 0; i < num("n", 1); i++ {
					if !c.Write(id) {
						fmt.Fprintf(&c.Out, "%s: read-only, write refused\n", id)
						break
					}
					c.Commit(id)
				}
				fmt.Fprintf(&c.Out, "%s: end %d, commit %d\n", id, c.Nodes[id].End(), c.Nodes[id].Soft.Commit)
			case "tick":
				for i := 0; i < num("n", 1); i++ {
					for _, id := range c.IDs {
						if n := node(); n == "" || n == id {
							c.Tick(id)
						}
					}
					if c.Etcd != nil {
						c.Etcd.Advance(c.Etcd.Now + linktest.UnitsPerTick)
					}
					if d.HasArg("stabilize") {
						deliverAll(c, func(linktest.Packet) bool { return true })
					}
				}
			case "deliver":
				limit := num("n", 1<<30)
				for i := 0; i < len(c.Net) && limit > 0; {
					if match(c.Net[i]) {
						c.Deliver(i, false)
						limit--
						continue
					}
					i++
				}
			case "drop":
				for i := 0; i < len(c.Net); {
					if match(c.Net[i]) {
						fmt.Fprintf(&c.Out, "dropped %s\n", c.Net[i])
						c.Drop(i)
						continue
					}
					i++
				}
			case "stabilize":
				deliverAll(c, func(linktest.Packet) bool { return true })
			case "partition":
				c.Partitioned = true
			case "heal":
				c.Partitioned = false
			case "crash":
				c.Crash(node())
			case "restart":
				c.Restart(node())
			case "status":
				return status(c, node())
			case "etcd":
				fmt.Fprintf(&c.Out, "%s\n", c.Etcd)
			case "etcd-down", "etcd-up":
				c.Etcd.SetUp(d.Cmd == "etcd-up")
			case "cut", "uncut":
				c.Etcd.SetCut(node(), d.Cmd == "cut")
			case "gone":
				if !c.Etcd.PartnerGone(node()) {
					fmt.Fprintf(&c.Out, "%s: partner not found gone\n", node())
				}
			case "log":
				n := c.Nodes[node()]
				fmt.Fprintf(&c.Out, "%v\n", n.Log)
				for _, s := range n.Saved {
					fmt.Fprintf(&c.Out, "saved: %v\n", s)
				}
			case "net":
				for _, p := range c.Net {
					fmt.Fprintf(&c.Out, "%s\n", p)
				}
			case "failover":
				report(c.Step(node(), link.Message{Type: link.MsgPlannedFailover, KeepLink: !d.HasArg("drop")}))
			case "force":
				report(c.Step(node(), link.Message{Type: link.MsgForcedFailover, AllowDataLoss: d.HasArg("ack")}))
			case "set-role":
				report(c.Step(node(), link.Message{Type: link.MsgSetRole, Primary: arg("primary", "")}))
			case "resume":
				report(c.Step(node(), link.Message{Type: link.MsgResume}))
			case "abort":
				report(c.Step(node(), link.Message{Type: link.MsgAbort}))
			case "mode":
				m := "sync"
				if d.HasArg("async") {
					m = "async"
				}
				report(c.Step(node(), link.Message{Type: link.MsgSetMode, NewMode: sqlink.Mode(m)}))
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			if err := c.Check(); err != nil {
				d.Fatalf(t, "invariant: %v", err)
			}
			out := c.Out.String()
			if out == "" {
				return "ok\n"
			}
			return out
		})
	})
}

// deliverAll delivers matching messages until none are left in flight.
func deliverAll(c *linktest.Cluster, match func(linktest.Packet) bool) {
	for n := 0; n < 10000; n++ {
		i := 0
		for i < len(c.Net) && !match(c.Net[i]) {
			i++
		}
		if i == len(c.Net) {
			return
		}
		c.Deliver(i, false)
	}
}

func status(c *linktest.Cluster, id string) string {
	n := c.Nodes[id]
	if n.Down {
		return id + ": down\n"
	}
	s := n.R.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s e%d writable=%t mode=%s %s connected=%t hardened=%d commit=%d partner=%s/e%d/%d\n",
		id, s.Role, s.Epoch, s.Writable, s.Mode, s.SyncState, s.Connected, s.Hardened, s.Commit, s.PartnerRole, s.PartnerEpoch, s.PartnerLSN)
	if s.Op.Active() {
		fmt.Fprintf(&b, "   op: %s %s target=e%d keep=%t paused=%t %s\n", s.Op.Kind, s.Op.Step, s.Op.Target, s.Op.KeepLink, s.Paused, s.PausedReason)
	}
	if s.SplitBrain.Active {
		fmt.Fprintf(&b, "   SPLIT_BRAIN fork=%d local-diverged=%d partner-diverged=%d partner-epoch=%d designated=%q\n",
			s.SplitBrain.ForkLSN, s.SplitBrain.LocalDiverged, s.SplitBrain.PartnerDiverged, s.SplitBrain.PartnerEpoch, s.SplitBrain.Designated)
	}
	if s.EstimatedLoss != (link.Loss{}) {
		fmt.Fprintf(&b, "   estimated loss if forced now: %d transactions, %d ticks\n", s.EstimatedLoss.Transactions, s.EstimatedLoss.Ticks)
	}
	if s.LastFailover.Kind != "" {
		fmt.Fprintf(&b, "   last: %s e%d lost=%d/%d ticks\n", s.LastFailover.Kind, s.LastFailover.Epoch, s.LastFailover.LostTransactions, s.LastFailover.LostTicks)
		if s.LastFailover.Reason != "" {
			fmt.Fprintf(&b, "   reason: %s\n", s.LastFailover.Reason)
		}
	}
	if l := s.AutoFailover; l.Enabled {
		fmt.Fprintf(&b, "   lease: holder=%q epoch=%d expires-in=%d etcd-healthy=%t failsafe=%t claiming=%t\n",
			l.Holder, l.Epoch, l.ExpiresInTicks, l.EtcdHealthy, l.Failsafe, l.Claiming)
		if l.Waiting != "" {
			fmt.Fprintf(&b, "   waiting: %s\n", l.Waiting)
		}
	}
	if s.Dropped {
		b.WriteString("   link dropped\n")
	}
	if s.LastError != "" {
		fmt.Fprintf(&b, "   last error: %s\n", s.LastError)
	}
	return b.String()
}
