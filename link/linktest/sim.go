package linktest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

// SimOptions configure one random run.
type SimOptions struct {
	Seed      int64
	Steps     int // random steps with faults
	HealSteps int // fault-free rounds before the liveness check
}

// SimResult is the outcome of one run: Err is the first violated invariant
// (nil if none) and Trace the last steps before it.
type SimResult struct {
	Err   error
	Trace []string
	Steps int
	Stats map[string]int
}

const traceLen = 60

type sim struct {
	c     *Cluster
	rng   *rand.Rand
	trace []string
	step  int
}

func (s *sim) logf(format string, args ...any) {
	line := fmt.Sprintf("%4d ", s.step) + fmt.Sprintf(format, args...)
	if len(s.trace) == traceLen {
		copy(s.trace, s.trace[1:])
		s.trace = s.trace[:traceLen-1]
	}
	s.trace = append(s.trace, line)
}

func (s *sim) pick() string { return s.c.IDs[s.rng.IntN(2)] }

// Simulate runs one seeded schedule of client writes, message faults,
// crashes and operator commands, checking the invariants after every step,
// then heals everything and checks that the link converges.
func Simulate(o SimOptions) (res SimResult) {
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))
	opts := Options{
		Mode:           []sqlink.Mode{sqlink.ModeAsync, sqlink.ModeSync}[rng.IntN(2)],
		TwoWay:         rng.IntN(5) != 0,
		SeedLSN:        sqlink.LSN(rng.IntN(3)),
		SessionTimeout: 3 + rng.IntN(10),
		FailoverTicks:  10 + rng.IntN(40),
	}
	s := &sim{c: NewCluster(opts), rng: rng}
	s.c.Quiet = true
	s.logf("seed %d: %+v", o.Seed, opts)
	defer func() {
		if p := recover(); p != nil {
			res = SimResult{Err: fmt.Errorf("panic: %v", p), Trace: s.trace, Steps: s.step}
		}
	}()
	check := func() error {
		if err := s.c.Check(); err != nil {
			return err
		}
		return nil
	}
	for s.step = 1; s.step <= o.Steps; s.step++ {
		s.randomStep()
		if err := check(); err != nil {
			return SimResult{Err: err, Trace: s.trace, Steps: s.step}
		}
	}
	// Heal: no more faults; an operator finishes whatever was left.
	s.c.Partitioned = false
	s.logf("heal")
	for _, id := range s.c.IDs {
		s.c.Restart(id)
	}
	for i := 0; i < o.HealSteps; i++ {
		s.step++
		if i < o.HealSteps/3 && rng.IntN(3) == 0 {
			id := s.pick()
			if s.c.Write(id) {
				s.c.Commit(id)
			}
		}
		for _, id := range s.c.IDs {
			s.c.Tick(id)
			s.c.Harden(id)
			for s.c.Commit(id) {
			}
		}
		for n := 0; len(s.c.Net) > 0 && n < 1000; n++ {
			s.c.Deliver(0, false)
			for _, id := range s.c.IDs {
				s.c.Harden(id)
			}
		}
		if i%10 == 5 {
			s.operatorHeal()
		}
		if err := check(); err != nil {
			return SimResult{Err: err, Trace: s.trace, Steps: s.step}
		}
	}
	if err := s.c.CheckConverged(); err != nil {
		for _, id := range s.c.IDs {
			s.logf("%s final: %s", id, compactStatus(s.c.Nodes[id].R.Status()))
		}
		return SimResult{Err: fmt.Errorf("liveness: %w", err), Trace: s.trace, Steps: s.step}
	}
	return SimResult{Steps: s.step, Stats: s.c.Stats}
}

// operatorHeal is what an operator does when the link is stuck: resume a
// paused failover, resolve a split brain in favour of the newer epoch.
func (s *sim) operatorHeal() {
	for _, id := range s.c.IDs {
		st := s.c.Nodes[id].R.Status()
		switch {
		case st.Paused:
			s.logf("operator: resume %s", id)
			_ = s.c.Step(id, link.Message{Type: link.MsgResume})
		case st.SplitBrain.Active:
			// Both sides pick the same winner: the newer epoch.
			winner := id
			if st.SplitBrain.PartnerEpoch > st.Epoch {
				winner = s.c.other(id)
			}
			if winner != id && st.SplitBrain.Designated == winner {
				continue
			}
			s.logf("operator: set-role %s primary=%s", id, winner)
			_ = s.c.Step(id, link.Message{Type: link.MsgSetRole, Primary: winner})
		}
	}
}

func (s *sim) randomStep() {
	c, rng := s.c, s.rng
	switch x := rng.IntN(1000); {
	case x < 150:
		s.stepWrite()
	case x < 280:
		s.stepCommit()
	case x < 380:
		s.stepHarden()
	case x < 720:
		s.stepNet()
	case x < 900:
		id := s.pick()
		if rng.IntN(3) == 0 {
			for _, id := range c.IDs {
				c.Tick(id)
			}
			s.logf("tick both")
		} else {
			c.Tick(id)
			s.logf("tick %s", id)
		}
	case x < 906:
		id := s.pick()
		if !c.Nodes[id].Down {
			s.logf("crash %s", id)
			c.Crash(id)
		}
	case x < 950:
		id := s.pick()
		if c.Nodes[id].Down {
			s.logf("restart %s", id)
			c.Restart(id)
		}
	case x < 960:
		c.Partitioned = !c.Partitioned
		s.logf("partitioned=%v", c.Partitioned)
	default:
		s.operator()
	}
}

func (s *sim) operator() {
	c, rng := s.c, s.rng
	id := s.pick()
	var m link.Message
	switch y := rng.IntN(100); {
	case y < 30:
		m = link.Message{Type: link.MsgPlannedFailover, KeepLink: rng.IntN(6) != 0}
	case y < 40:
		m = link.Message{Type: link.MsgForcedFailover, AllowDataLoss: rng.IntN(4) != 0}
	case y < 55:
		m = link.Message{Type: link.MsgSetRole, Primary: s.pick()}
	case y < 70:
		m = link.Message{Type: link.MsgResume}
	case y < 82:
		m = link.Message{Type: link.MsgAbort}
	default:
		m = link.Message{Type: link.MsgSetMode, NewMode: []sqlink.Mode{sqlink.ModeAsync, sqlink.ModeSync}[rng.IntN(2)]}
	}
	err := c.Step(id, m)
	s.logf("operator on %s: %s -> %v", id, m, err)
}

// FormatTrace returns a failing run's report.
func FormatTrace(seed int64, r SimResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d failed at step %d: %v\nlast steps:\n", seed, r.Steps, r.Err)
	for _, l := range r.Trace {
		b.WriteString("  " + l + "\n")
	}
	fmt.Fprintf(&b, "replay: go test ./link/linktest -run TestSimulation -seed=%d -v\n", seed)
	return b.String()
}

// stepWrite, stepCommit, stepHarden and stepNet are the random steps both
// simulations share; each draws from the rng in the same order as before
// they were shared, so a seed replays the same run.
func (s *sim) stepWrite() {
	c := s.c
	id := s.pick()
	if c.Write(id) {
		s.logf("write on %s", id)
	}
}

func (s *sim) stepCommit() {
	c := s.c
	id := s.pick()
	if c.Commit(id) {
		s.logf("commit on %s: end %d", id, c.Nodes[id].End())
	}
}

func (s *sim) stepHarden() {
	c := s.c
	id := s.pick()
	if c.Harden(id) {
		s.logf("harden on %s: end %d", id, c.Nodes[id].End())
	}
}

// stepNet delivers, duplicates or drops a message in flight.
func (s *sim) stepNet() {
	c, rng := s.c, s.rng
	if len(c.Net) == 0 {
		return
	}
	// Mostly near the front (delay), sometimes anywhere (reorder).
	i := rng.IntN(min(len(c.Net), 3))
	if rng.IntN(10) == 0 {
		i = rng.IntN(len(c.Net))
	}
	p := c.Net[i]
	switch y := rng.IntN(100); {
	case y < 6:
		s.logf("drop %s", p)
		c.Drop(i)
	case y < 11:
		s.logf("duplicate %s", p)
		c.Deliver(i, true)
	default:
		s.logf("deliver %s", p)
		c.Deliver(i, false)
	}
}
