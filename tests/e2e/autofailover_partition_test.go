package e2e_test

// Partition tests of automatic failover through etcd (issue 25): the two
// instances and three etcd members each run in a network namespace of
// their own (netns_harness_test.go), and the tests cut pairs of them apart
// while writers on both instances record every answer.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/internal/testutil"
)

// The primary cut off from etcd and from the secondary fences itself
// (writes get 25006) before the secondary promotes; every write the old
// primary acknowledged is on the new one; healed, the old primary follows
// by itself, with no split brain.
func TestAutoFailoverPartition_PrimaryIsolated(t *testing.T) {
	lab, _, alpha, beta := setupPartitionLink(t, partLinkTTL)
	epoch := mustLinkStatus(t, alpha, "af").Epoch

	// A patient writer sees what a commit waiting for the unreachable
	// secondary finally answers; an impatient one sees the fence at once.
	patient := startPartWriter(t, alpha, 1, 2*time.Minute)
	probe := startPartWriter(t, alpha, 1_000_000, time.Second)
	onBeta := startPartWriter(t, beta, 2_000_000, time.Second)
	waitAcked(t, patient, time.Time{}, 50, time.Minute)

	cut := time.Now()
	lab.Cut("alpha", "beta", "etcd1", "etcd2", "etcd3")

	// beta takes the lease and writes.
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		if _, ok := onBeta.FirstCode(cut, ""); !ok {
			return fmt.Errorf("beta accepts no write yet: %s; %s", onBeta.Summary(), probe.Summary())
		}
		return nil
	})
	bst := waitLeaseHolder(t, beta, "af", "beta")
	if bst.Epoch <= epoch {
		t.Fatalf("beta is primary at epoch %d, not above %d", bst.Epoch, epoch)
	}
	promoted, _ := onBeta.FirstCode(cut, "")
	// beta was still a secondary when it answered its last refusal before
	// its first accepted write: it promoted after that refusal was sent.
	var notYet time.Time
	for _, x := range onBeta.Tries() {
		if x.Sent.Before(promoted.Sent) && x.Code == "25006" {
			notYet = x.Sent
		}
	}
	fence, ok := probe.FirstCode(cut, "25006")
	if !ok {
		t.Fatalf("alpha refused no write with 25006 before beta promoted: %s", probe.Summary())
	}
	t.Logf("cut at %s; alpha's first 25006 answered %s after; beta refused a write sent %s after, accepted one sent %s after",
		cut.Format("15:04:05.000"), fence.Recv.Sub(cut).Round(time.Millisecond), notYet.Sub(cut).Round(time.Millisecond),
		promoted.Sent.Sub(cut).Round(time.Millisecond))
	if !fence.Recv.Before(notYet) {
		t.Fatalf("alpha fenced (first 25006 received %s) no earlier than beta's promotion (beta still refused a write sent %s)",
			fence.Recv.Format("15:04:05.000"), notYet.Format("15:04:05.000"))
	}
	// Once fenced, alpha takes no write.
	for _, w := range []*partWriter{patient, probe} {
		for _, x := range w.Tries() {
			if x.Code == "" && x.Sent.After(fence.Recv) {
				t.Fatalf("alpha acknowledged write %d sent %s after its fence: %s", x.ID, x.Sent.Sub(fence.Recv), w.Summary())
			}
		}
	}

	lab.Heal()
	waitFollows(t, beta, alpha)
	patient.Stop()
	probe.Stop()
	onBeta.Stop()
	t.Log(patient.Summary())
	t.Log(probe.Summary())
	t.Log(onBeta.Summary())
	n := checkAllPresent(t, beta, patient, probe, onBeta)
	checkAllPresent(t, alpha, patient, probe, onBeta)
	t.Logf("%d acknowledged writes, all on both instances", n)
	if a := auditActions(t, alpha, "link.lease.fence"); len(a) == 0 {
		t.Fatalf("alpha's audit log has no fence")
	}
	if st := mustLinkStatus(t, beta, "af"); st.SplitBrain != nil || st.State == "SPLIT_BRAIN" {
		t.Fatalf("split brain after healing: %+v", st.SplitBrain)
	}
	t.Log(mustVerify(t, beta, alpha, "af"))
}

// The two instances cut from each other, both still seeing etcd: the
// primary keeps its lease and, once the secondary is disconnected, keeps
// taking writes; the secondary never promotes. Healed, the secondary
// catches up and holds every acknowledged write.
func TestAutoFailoverPartition_InstancesCutFromEachOther(t *testing.T) {
	lab, _, alpha, beta := setupPartitionLink(t, partLinkTTL)
	epoch := mustLinkStatus(t, beta, "af").Epoch
	onAlpha := startPartWriter(t, alpha, 1, 2*time.Minute)
	onBeta := startPartWriter(t, beta, 2_000_000, time.Second)
	waitAcked(t, onAlpha, time.Time{}, 50, time.Minute)

	cut := time.Now()
	lab.Cut("alpha", "beta")
	// alpha takes writes again once it stops waiting for beta (the
	// session timeout), and keeps taking them for three lease TTLs.
	waitAcked(t, onAlpha, cut, 20, 2*time.Minute)
	resumed := time.Now()
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		if d := time.Since(cut); d < 3*partLinkTTL {
			return fmt.Errorf("%s since the cut", d.Round(time.Millisecond))
		}
		return nil
	})
	waitAcked(t, onAlpha, resumed, 20, time.Minute)
	checkNoPromotion(t, beta, onBeta, epoch)
	// beta sees alpha's live lease in etcd.
	waitLink(t, beta, "af", time.Minute, func(st adminapi.LinkStatus) error {
		if a := st.AutoFailover; a == nil || a.Holder != "alpha" || !a.EtcdHealthy || a.Held {
			return fmt.Errorf("auto-failover %+v, want alpha holding the lease and etcd healthy", a)
		}
		return nil
	})
	ast := mustLinkStatus(t, alpha, "af")
	if a := ast.AutoFailover; ast.Local.Role != sqlink.RolePrimary || a == nil || !a.Held || a.Holder != "alpha" {
		t.Fatalf("alpha: %s, auto-failover %+v", ast.Local.Role, a)
	}
	t.Logf("alpha took writes %s after the cut, at epoch %d (was %d)", resumed.Sub(cut).Round(time.Millisecond), ast.Epoch, epoch)

	lab.Heal()
	waitFollows(t, alpha, beta)
	onAlpha.Stop()
	onBeta.Stop()
	checkNoPromotion(t, beta, onBeta, mustLinkStatus(t, beta, "af").Epoch)
	t.Log(onAlpha.Summary())
	t.Log(onBeta.Summary())
	t.Logf("%d acknowledged writes, all on beta", checkAllPresent(t, beta, onAlpha))
	if a := auditActions(t, beta, "link.failover.automatic"); len(a) != 0 {
		t.Fatalf("beta failed over: %q", a)
	}
}

// etcd loses a minority (its leader, killed): nothing changes. The
// primary keeps its lease and every write succeeds; the secondary stays.
// At the default lease TTL.
func TestAutoFailoverPartition_EtcdMinorityLost(t *testing.T) {
	testEtcdMinorityLost(t, etcdlease.DefaultTTL, false)
}

// etcd's leader cut off from everyone (the instances and the other
// members) rather than killed: the clients' connections to it go silent
// instead of closing. Nothing changes either.
func TestAutoFailoverPartition_EtcdMinorityCutOff(t *testing.T) {
	testEtcdMinorityLost(t, etcdlease.DefaultTTL, true)
}

// The same at a 5 s TTL, the shortest link create accepts: the primary
// renews every second, so etcd electing a new leader costs renewals, not
// writes.
func TestAutoFailoverPartition_EtcdMinorityLostShortTTL(t *testing.T) {
	testEtcdMinorityLost(t, partLinkTTL, false)
}

// testEtcdMinorityLost kills etcd's leader, or cuts it off when cut.
func testEtcdMinorityLost(t *testing.T, ttl time.Duration, cut bool) {
	lab, ms, alpha, beta := setupPartitionLink(t, ttl)
	epoch := mustLinkStatus(t, alpha, "af").Epoch
	onAlpha := startPartWriter(t, alpha, 1, 2*time.Minute)
	onBeta := startPartWriter(t, beta, 2_000_000, time.Second)
	// Past the link's first lease TTL (see TestAutoFailover_NewLinkNoFence).
	waitAcked(t, onAlpha, time.Now().Add(ttl), 50, 2*time.Minute)

	lost := etcdLeader(t, ms)
	killed := time.Now()
	if cut {
		var others []string
		for _, n := range []string{"alpha", "beta", "etcd1", "etcd2", "etcd3"} {
			if n != ms[lost].node.Name {
				others = append(others, n)
			}
		}
		lab.Cut(ms[lost].node.Name, others...)
		t.Logf("cut etcd member %s, the leader, off", ms[lost].node.Name)
	} else {
		ms[lost].Kill()
		t.Logf("killed etcd member %s, the leader", ms[lost].node.Name)
	}
	// Two TTLs: time for the lease to expire, were it not renewed.
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		if d := time.Since(killed); d < 2*ttl {
			return fmt.Errorf("%s since the kill", d.Round(time.Millisecond))
		}
		return nil
	})
	waitAcked(t, onAlpha, killed, 50, time.Minute)
	for _, in := range []*Instance{alpha, beta} {
		waitLink(t, in, "af", time.Minute, func(st adminapi.LinkStatus) error {
			if a := st.AutoFailover; a == nil || !a.EtcdHealthy || a.Holder != "alpha" || a.Epoch != epoch {
				return fmt.Errorf("auto-failover %+v, want etcd healthy and alpha holding epoch %d", a, epoch)
			}
			return nil
		})
	}
	checkNoPromotion(t, beta, onBeta, epoch)
	onAlpha.Stop()
	onBeta.Stop()
	t.Log(onAlpha.Summary())
	fenced := int64(-1)
	if x, ok := onAlpha.FirstCode(killed, "25006"); ok {
		if ttl < etcdlease.DefaultTTL {
			fenced = x.ID
			// At a 5 s lease the primary fences 2 s after its last
			// confirmed renewal, about etcd's own leader election time:
			// an election may fence it for a moment (safe: same holder,
			// same epoch, checked above and below). The README says so;
			// the default TTL must not.
			t.Logf("alpha refused write %d, sent %s after the kill (short TTL: a fence during etcd's election): %s", x.ID, x.Sent.Sub(killed).Round(time.Millisecond), onAlpha.Summary())
		} else {
			t.Fatalf("alpha refused write %d, sent %s after the kill: %s", x.ID, x.Sent.Sub(killed).Round(time.Millisecond), onAlpha.Summary())
		}
	}
	if x, ok := onAlpha.FirstCode(killed, "error"); ok {
		if x.ID == fenced+1 && strings.Contains(x.Err, "conn closed") {
			// A fence ends the sessions (so that pools find whichever
			// instance is primary next): the write after the refused one
			// found its connection ended, and the writer reconnects.
			t.Logf("write %d on alpha found its session ended by that fence: %s", x.ID, x.Err)
			if y, ok := onAlpha.FirstCode(x.Sent.Add(time.Nanosecond), "error"); ok {
				t.Fatalf("write %d on alpha failed, sent %s after the kill: %s", y.ID, y.Sent.Sub(killed).Round(time.Millisecond), y.Err)
			}
		} else {
			t.Fatalf("write %d on alpha failed, sent %s after the kill: %s", x.ID, x.Sent.Sub(killed).Round(time.Millisecond), x.Err)
		}
	}
	if st := mustLinkStatus(t, alpha, "af"); st.Epoch != epoch || st.State != "SYNCHRONIZED" {
		t.Fatalf("alpha: epoch %d (was %d), state %s", st.Epoch, epoch, st.State)
	}
	waitCaughtUp(t, alpha, beta, "af", time.Minute)
	t.Logf("%d acknowledged writes, all on beta", checkAllPresent(t, beta, onAlpha))
}

// etcd down entirely: the primary keeps serving (failsafe: its secondary,
// which sees it and not etcd either, confirms it holds every commit), and
// neither instance promotes. etcd back, the primary holds the lease again
// at the same epoch. At the default lease TTL.
func TestAutoFailoverPartition_EtcdDown(t *testing.T) {
	testEtcdDown(t, etcdlease.DefaultTTL)
}

// The same at a 5 s TTL, which link create accepts. The primary used to
// refuse writes for about a second before the failsafe started: its fence
// point is 2 s after it requested its last confirmed renewal (as little
// as 1 s after etcd went down), while the secondary learnt that etcd was
// gone only when its own read timed out (up to a 1 s poll plus a 1 s RPC
// timeout) and sent its failsafe confirmation at its next tick. Now the
// Keeper's poll and timeout scale with the TTL and the confirmation goes
// at once.
func TestAutoFailoverPartition_EtcdDownShortTTL(t *testing.T) {
	testEtcdDown(t, partLinkTTL)
}

func testEtcdDown(t *testing.T, ttl time.Duration) {
	_, ms, alpha, beta := setupPartitionLink(t, ttl)
	epoch := mustLinkStatus(t, alpha, "af").Epoch
	onAlpha := startPartWriter(t, alpha, 1, 2*time.Minute)
	onBeta := startPartWriter(t, beta, 2_000_000, time.Second)
	// Past the link's first lease TTL (see TestAutoFailover_NewLinkNoFence).
	waitAcked(t, onAlpha, time.Now().Add(ttl), 50, 2*time.Minute)

	down := time.Now()
	for _, m := range ms {
		m.Kill()
	}
	waitLink(t, alpha, "af", time.Minute, func(st adminapi.LinkStatus) error {
		if a := st.AutoFailover; a == nil || a.EtcdHealthy || !a.Failsafe {
			return fmt.Errorf("auto-failover %+v, want etcd unhealthy and failsafe", a)
		}
		return nil
	})
	// Two TTLs: the lease has expired in etcd's eyes long before.
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		if d := time.Since(down); d < 2*ttl {
			return fmt.Errorf("%s since etcd went down", d.Round(time.Millisecond))
		}
		return nil
	})
	waitAcked(t, onAlpha, time.Now(), 50, time.Minute)
	checkNoPromotion(t, beta, onBeta, epoch)
	if first, last, n := refusals(onAlpha, down); n > 0 {
		t.Errorf("alpha refused %d writes after etcd went down, sent from %s to %s after: %s", n,
			first.Sent.Sub(down).Round(time.Millisecond), last.Sent.Sub(down).Round(time.Millisecond), onAlpha.Summary())
	}

	// etcd back: alpha holds the lease again, at the same epoch.
	for _, m := range ms {
		m.Restart(t)
	}
	waitEtcdQuorum(t, ms)
	st := waitLeaseHolder(t, alpha, "af", "alpha")
	waitAcked(t, onAlpha, time.Now(), 20, time.Minute)
	onAlpha.Stop()
	onBeta.Stop()
	t.Log(onAlpha.Summary())
	checkNoPromotion(t, beta, onBeta, epoch)
	if st.Epoch != epoch {
		t.Fatalf("alpha's epoch %d, was %d", st.Epoch, epoch)
	}
	waitCaughtUp(t, alpha, beta, "af", time.Minute)
	t.Logf("%d acknowledged writes, all on beta", checkAllPresent(t, beta, onAlpha))
}

// The primary cut off from etcd only, still seeing its secondary: it
// fences itself, the secondary (SYNCHRONIZED, seeing the lease expire)
// takes over, and the old primary follows it at once, over the link that
// still works; every acknowledged write is on both.
func TestAutoFailoverPartition_PrimaryCutFromEtcd(t *testing.T) {
	testPrimaryCutFromEtcd(t, false)
}

// While it is fenced and before the secondary promotes, the old primary
// must not tell clients that the secondary is the primary (it said so:
// stopWrites gave SetReadOnly the partner's name for every reason, and
// pgwire added "the primary is instance beta"). Only refusals answered
// before a status request that found beta still a secondary are checked:
// once beta promotes, alpha steps down and names it rightly.
func TestAutoFailoverPartition_FencedPrimaryNamesNoPrimary(t *testing.T) {
	testPrimaryCutFromEtcd(t, true)
}

// secondaryWatch polls in's status of link af until it is no longer a
// secondary at epoch: Until is when the last request that found it one was
// sent (so anything answered before was answered while it was one).
type secondaryWatch struct {
	mu    sync.Mutex
	until time.Time
	done  chan struct{}
	stop  chan struct{}
}

func watchSecondary(in *Instance, epoch sqlink.Epoch) *secondaryWatch {
	w := &secondaryWatch{done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond): // pace the polls
			}
			sent := time.Now()
			st, err := linkStatus(in, "af")
			if err != nil {
				continue
			}
			if st.Local.Role != sqlink.RoleSecondary || st.Epoch != epoch {
				return
			}
			w.mu.Lock()
			w.until = sent
			w.mu.Unlock()
		}
	}()
	return w
}

// Until stops the watch and returns the time of its last request that found
// the instance a secondary.
func (w *secondaryWatch) Until() time.Time {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.until
}

func testPrimaryCutFromEtcd(t *testing.T, checkMessages bool) {
	lab, _, alpha, beta := setupPartitionLink(t, partLinkTTL)
	epoch := mustLinkStatus(t, alpha, "af").Epoch
	patient := startPartWriter(t, alpha, 1, 2*time.Minute)
	probe := startPartWriter(t, alpha, 1_000_000, time.Second)
	onBeta := startPartWriter(t, beta, 2_000_000, time.Second)
	waitAcked(t, patient, time.Now().Add(partLinkTTL), 50, time.Minute)

	watch := watchSecondary(beta, epoch)
	cut := time.Now()
	lab.Cut("alpha", "etcd1", "etcd2", "etcd3")
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		if _, ok := onBeta.FirstCode(cut, ""); !ok {
			return fmt.Errorf("beta accepts no write yet: %s; %s", onBeta.Summary(), probe.Summary())
		}
		return nil
	})
	secondaryUntil := watch.Until()
	promoted, _ := onBeta.FirstCode(cut, "")
	fence, ok := probe.FirstCode(cut, "25006")
	if !ok || !fence.Recv.Before(promoted.Sent) {
		t.Fatalf("alpha's first refusal %+v (found %v), beta's first accepted write sent %s", fence, ok, promoted.Sent.Format("15:04:05.000"))
	}
	t.Logf("cut at %s; alpha's first 25006 answered %s after; beta accepted a write sent %s after",
		cut.Format("15:04:05.000"), fence.Recv.Sub(cut).Round(time.Millisecond), promoted.Sent.Sub(cut).Round(time.Millisecond))
	if checkMessages {
		checked := 0
		for _, w := range []*partWriter{patient, probe} {
			for _, x := range w.Tries() {
				if x.Code != "25006" || !x.Recv.Before(secondaryUntil) || !x.Sent.After(cut) {
					continue
				}
				checked++
				if strings.Contains(x.Err, `primary is instance "beta"`) {
					t.Fatalf("alpha, fenced, while beta was still a secondary, answered write %d with: %s", x.ID, x.Err)
				}
			}
		}
		if checked == 0 {
			t.Fatalf("no refusal from alpha answered before beta was last seen a secondary (%s after the cut)", secondaryUntil.Sub(cut))
		}
		t.Logf("%d refusals answered while beta was a secondary (seen so %s after the cut) name no primary",
			checked, secondaryUntil.Sub(cut).Round(time.Millisecond))
	}
	// alpha follows beta without waiting for etcd.
	bst := waitLeaseHolder(t, beta, "af", "beta")
	if bst.Epoch <= epoch {
		t.Fatalf("beta is primary at epoch %d, not above %d", bst.Epoch, epoch)
	}
	waitFollows(t, beta, alpha)
	waitAcked(t, onBeta, time.Now(), 20, time.Minute)
	patient.Stop()
	probe.Stop()
	onBeta.Stop()
	t.Log(patient.Summary())
	t.Log(probe.Summary())
	t.Log(onBeta.Summary())
	for _, w := range []*partWriter{patient, probe} {
		for _, x := range w.Tries() {
			if x.Code == "" && x.Sent.After(fence.Recv) {
				t.Fatalf("alpha acknowledged write %d sent %s after its fence", x.ID, x.Sent.Sub(fence.Recv))
			}
		}
	}
	n := checkAllPresent(t, beta, patient, probe, onBeta)
	checkAllPresent(t, alpha, patient, probe, onBeta)
	t.Logf("%d acknowledged writes, all on both instances", n)
	lab.Heal()
	waitLeaseHolder(t, alpha, "af", "beta")
}

// A new auto-failover link at a 5 s TTL, nothing cut: once its primary
// takes writes it keeps taking them. It used to fence itself for a moment
// two seconds after the link was created: the claim is made at tick 0;
// tick 1 comes early (the heartbeat at connect) and before the claim's
// answer, so no renewal was made at it, and the first renewal waited for
// tick 2, the fence point (claim tick + TTL - margin - drift = 2). A
// claim granted a renewal period late now renews at once.
func TestAutoFailover_NewLinkNoFence(t *testing.T) {
	_, _, alpha, beta := setupPartitionLink(t, partLinkTTL)
	onAlpha := startPartWriter(t, alpha, 1, time.Minute)
	waitAcked(t, onAlpha, time.Time{}, 1, time.Minute)
	first := onAlpha.Tries()[0].Sent
	for _, x := range onAlpha.Tries() {
		if x.Code == "" {
			first = x.Sent
			break
		}
	}
	waitAcked(t, onAlpha, first.Add(2*partLinkTTL), 20, time.Minute)
	onAlpha.Stop()
	if f, l, n := refusals(onAlpha, first); n > 0 {
		t.Fatalf("alpha refused %d writes sent from %s to %s after its first accepted one: %s", n,
			f.Sent.Sub(first).Round(time.Millisecond), l.Sent.Sub(first).Round(time.Millisecond), onAlpha.Summary())
	}
	waitCaughtUp(t, alpha, beta, "af", time.Minute)
}
