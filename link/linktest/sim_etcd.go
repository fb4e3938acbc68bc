package linktest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

// etcdSim drives an AutoFailover link on a shared clock: etcd's clock is
// real time (units), and each instance ticks with its own period, which
// drifts within the bound the lease timer allows for (ClockDriftTicks per
// TTL).
type etcdSim struct {
	sim
	e   *Etcd
	ttl int
	now int64
	// etcdFaulty seeds cut the instances from etcd more often.
	etcdFaulty bool
	period     map[string]int64
	nextTick   map[string]int64
}

// SimulateEtcd runs one seeded schedule on an AutoFailover link: client
// writes, message faults, crashes, operator commands, and etcd faults
// (partitions of any pair among the two instances and etcd, etcd down,
// lost and delayed etcd answers and watch events, drifting clocks). It
// checks the invariants after every step, then heals everything and
// checks that the link converges.
func SimulateEtcd(o SimOptions) (res SimResult) {
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0xe7cd))
	opts := Options{
		Mode:           []sqlink.Mode{sqlink.ModeAsync, sqlink.ModeSync}[rng.IntN(2)],
		TwoWay:         rng.IntN(5) != 0,
		SeedLSN:        sqlink.LSN(rng.IntN(3)),
		SessionTimeout: 3 + rng.IntN(8),
		FailoverTicks:  10 + rng.IntN(40),
		AutoFailover:   true,
		MaxDataLoss:    uint64(rng.IntN(4)),
		LeaseTTL:       5 + rng.IntN(10),
	}
	c := NewCluster(opts)
	c.Quiet = true
	c.Etcd.Async = true
	s := &etcdSim{sim: sim{c: c, rng: rng}, e: c.Etcd, ttl: opts.LeaseTTL,
		period: map[string]int64{}, nextTick: map[string]int64{}, etcdFaulty: rng.IntN(3) == 0}
	c.OnEvent = func(e string) { s.logf("%s", e) }
	for _, id := range c.IDs {
		s.drift(id)
		s.nextTick[id] = s.period[id]
	}
	s.logf("seed %d (etcd): %+v", o.Seed, opts)
	defer func() {
		if p := recover(); p != nil {
			res = SimResult{Err: fmt.Errorf("panic: %v", p), Trace: s.trace, Steps: s.step}
		}
	}()
	for s.step = 1; s.step <= o.Steps; s.step++ {
		s.randomStep()
		if err := c.Check(); err != nil {
			return SimResult{Err: err, Trace: s.trace, Steps: s.step}
		}
	}
	// Heal: no more faults; an operator resumes what was paused.
	s.logf("heal")
	c.Partitioned = false
	s.e.SetUp(true)
	for _, id := range c.IDs {
		s.e.SetCut(id, false)
		c.Restart(id)
	}
	for i := 0; i < o.HealSteps; i++ {
		s.step++
		if i < o.HealSteps/3 && rng.IntN(3) == 0 {
			id := s.pick()
			if c.Write(id) {
				c.Commit(id)
			}
		}
		s.advance(UnitsPerTick)
		for n := 0; (len(c.Net) > 0 || len(s.e.Queue) > 0) && n < 1000; n++ {
			if len(s.e.Queue) > 0 {
				s.e.Deliver(0, false)
			}
			if len(c.Net) > 0 {
				c.Deliver(0, false)
			}
			for _, id := range c.IDs {
				c.Harden(id)
				for c.Commit(id) {
				}
			}
		}
		if i%10 == 5 {
			s.operatorHeal()
			s.operatorForce()
		}
		if err := c.Check(); err != nil {
			return SimResult{Err: err, Trace: s.trace, Steps: s.step}
		}
	}
	if err := c.CheckConverged(); err != nil {
		for _, id := range c.IDs {
			n := c.Nodes[id]
			s.logf("%s final: %s %+v", id, compactStatus(n.R.Status()), n.R.Status().AutoFailover)
			s.logf("%s log %v history %v", id, n.Log, n.R.HardState().History)
		}
		s.logf("%s", s.e)
		return SimResult{Err: fmt.Errorf("liveness: %w", err), Trace: s.trace, Steps: s.step}
	}
	return SimResult{Steps: s.step, Stats: c.Stats, Trace: s.trace}
}

// drift gives instance id a new tick period within the drift bound.
func (s *etcdSim) drift(id string) {
	d := int64(UnitsPerTick * link.DefaultClockDriftTicks / s.ttl)
	s.period[id] = UnitsPerTick - d + s.rng.Int64N(2*d+1)
}

// advance moves the clock on by dt units: instances tick when their own
// clock says so, etcd expires leases.
func (s *etcdSim) advance(dt int64) {
	s.now += dt
	for {
		next := ""
		for _, id := range s.c.IDs {
			if s.nextTick[id] <= s.now && (next == "" || s.nextTick[id] < s.nextTick[next]) {
				next = id
			}
		}
		if next == "" {
			break
		}
		s.e.Advance(s.nextTick[next])
		s.nextTick[next] += s.period[next]
		s.c.Tick(next)
	}
	s.e.Advance(s.now)
}

func (s *etcdSim) randomStep() {
	c, rng := s.c, s.rng
	if s.etcdFaulty && rng.IntN(100) < 3 {
		// Both instances cut from etcd while etcd runs (leases expire)
		// is where failsafe and claims meet.
		id := s.pick()
		s.e.SetCut(id, !s.e.Cut[id])
		s.logf("%s-etcd cut=%v", id, s.e.Cut[id])
		return
	}
	switch x := rng.IntN(1000); {
	case x < 250:
		dt := int64(1 + rng.IntN(80))
		s.advance(dt)
		s.logf("time +%d = %d", dt, s.now)
		if rng.IntN(3) == 0 {
			// A fast etcd: everything in flight arrives now, so a claim
			// can follow an expiry within the same instant.
			for n := 0; len(s.e.Queue) > 0 && n < 20; n++ {
				s.logf("etcd deliver %s", s.e.Queue[0])
				s.e.Deliver(0, false)
			}
		}
	case x < 330:
		s.stepWrite()
	case x < 410:
		s.stepCommit()
	case x < 470:
		s.stepHarden()
	case x < 680:
		s.stepNet()
	case x < 880:
		if len(s.e.Queue) == 0 {
			return
		}
		i := rng.IntN(min(len(s.e.Queue), 3))
		p := s.e.Queue[i]
		lose := rng.IntN(100) < 5
		s.logf("etcd %s %s", map[bool]string{true: "lose", false: "deliver"}[lose], p)
		s.e.Deliver(i, lose)
	case x < 895:
		id := s.pick()
		if !c.Nodes[id].Down {
			s.logf("crash %s", id)
			c.Crash(id)
			// Often the survivor finds it gone at once (a killed
			// process's connections are reset, its port refuses).
			if o := c.other(id); rng.IntN(2) == 0 && s.e.PartnerGone(o) {
				s.logf("%s finds %s gone", o, id)
				if rng.IntN(3) == 0 {
					// A supervisor restarts it at once: its claim of
					// its own key races the survivor's takeover.
					s.logf("restart %s", id)
					c.Restart(id)
				}
			}
		}
	case x < 930:
		id := s.pick()
		if c.Nodes[id].Down {
			s.logf("restart %s", id)
			c.Restart(id)
		}
	case x < 945:
		// The survivor's runtime finds a crashed partner's endpoint
		// refusing connections (replication/gone.go).
		id := s.pick()
		if s.e.PartnerGone(id) {
			s.logf("%s finds %s gone", id, c.other(id))
		}
	case x < 955:
		c.Partitioned = !c.Partitioned
		s.logf("a-b partitioned=%v", c.Partitioned)
	case x < 965:
		id := s.pick()
		s.e.SetCut(id, !s.e.Cut[id])
		s.logf("%s-etcd cut=%v", id, s.e.Cut[id])
	case x < 972:
		s.e.SetUp(!s.e.Up)
		s.logf("etcd up=%v", s.e.Up)
	case x < 976:
		id := s.pick()
		s.drift(id)
		s.logf("%s tick period %d", id, s.period[id])
	default:
		s.operatorEtcd()
	}
}

func (s *etcdSim) operatorEtcd() {
	c, rng := s.c, s.rng
	id := s.pick()
	var m link.Message
	switch y := rng.IntN(100); {
	case y < 40:
		m = link.Message{Type: link.MsgPlannedFailover, KeepLink: rng.IntN(6) != 0}
	case y < 55:
		m = link.Message{Type: link.MsgForcedFailover, AllowDataLoss: true}
	case y < 60:
		m = link.Message{Type: link.MsgSetRole, Primary: s.pick()}
	case y < 80:
		m = link.Message{Type: link.MsgResume}
	default:
		m = link.Message{Type: link.MsgAbort}
	}
	err := c.Step(id, m)
	s.logf("operator on %s: %s -> %v", id, m, err)
}

// FormatEtcdTrace returns a failing SimulateEtcd run's report.
func FormatEtcdTrace(seed int64, r SimResult) string {
	s := FormatTrace(seed, r)
	return s[:len(s)-len(fmt.Sprintf("replay: go test ./link/linktest -run TestSimulation -seed=%d -v\n", seed))] +
		fmt.Sprintf("replay: go test ./link/linktest -run 'TestSimulationEtcd$' -seed=%d -v\n", seed)
}

// operatorForce is what an operator does when no primary comes back and
// a secondary says only a forced failover (accepting a loss) would do.
func (s *etcdSim) operatorForce() {
	c := s.c
	sa, sb := c.Nodes["a"].R.Status(), c.Nodes["b"].R.Status()
	if sa.Role == sqlink.RolePrimary || sb.Role == sqlink.RolePrimary {
		return
	}
	for _, st := range []link.Status{sa, sb} {
		if strings.Contains(st.AutoFailover.Waiting, "force a failover") {
			err := c.Step(st.Self, link.Message{Type: link.MsgForcedFailover, AllowDataLoss: true})
			s.logf("operator: force %s (%s) -> %v", st.Self, st.AutoFailover.Waiting, err)
			return
		}
	}
}
