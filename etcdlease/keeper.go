package etcdlease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sqlink/sqlink"
)

// Defaults for KeeperConfig.
const (
	// DefaultTTL is the lease's time to live: how long a dead primary
	// holds the link before its secondary may claim it.
	DefaultTTL = 10 * time.Second
	// MinTTL is the shortest TTL a link accepts: etcd raises shorter ones
	// to its own minimum (1.5 election timeouts) anyway, and the fence
	// margin must fit in it.
	MinTTL = 3 * time.Second
	// maxRPCTimeout bounds each etcd call, so a stalled member does not
	// hold the Keeper up past one renewal period.
	maxRPCTimeout = time.Second
	// maxPoll bounds the interval between two reads of the keys.
	maxPoll = time.Second
)

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	// Holder in events is the holder's instance ID.

	// Held: this instance holds the lease at Epoch and the leader key names
	// it; Seq is the Renew request this answers (0 for a claim).
	Held EventType = iota + 1
	// Lost: the lease at Epoch is gone (expired, revoked), or the leader
	// key names another Holder; Target is etcd's epoch (0 when it could
	// not be read) and Seq the Renew request it answers, if any.
	Lost
	// Expired: the leader key is absent; the epoch key says Epoch; Holder
	// is the last holder this Keeper saw, if any.
	Expired
	// ClaimResult answers Claim(…, Target, Seq), echoing Seq: Granted or
	// not; when not,
	// Epoch is the link's epoch in etcd and Holder the live leader's (""
	// if none), both zero when etcd could not be read (the claim may have
	// succeeded).
	ClaimResult
	// Health: whether a linearizable read of the keys succeeded.
	Health
	// Observed: the leader key names Holder at Epoch with a live lease.
	Observed
)

func (t EventType) String() string {
	switch t {
	case Held:
		return "held"
	case Lost:
		return "lost"
	case Expired:
		return "expired"
	case ClaimResult:
		return "claim-result"
	case Health:
		return "health"
	case Observed:
		return "observed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is what a Keeper reports.
type Event struct {
	Type    EventType
	Epoch   sqlink.Epoch
	Target  sqlink.Epoch
	Holder  string
	Seq     uint64
	Granted bool
	Healthy bool
	Reason  string // Lost, ClaimResult refused, Health false: why
}

// KeeperConfig configures one link's Keeper.
type KeeperConfig struct {
	LinkID string
	// Self and SelfID are this instance's name and ID, written in the
	// leader key.
	Self, SelfID string
	// TTL is the lease's time to live (DefaultTTL when 0).
	TTL time.Duration
	// RPCTimeout bounds each etcd call (TTL/10, at most 1 s, when 0).
	RPCTimeout time.Duration
	// PollInterval is the interval between two reads of the keys, besides
	// the watch (TTL/20, at most 1 s, when 0).
	PollInterval time.Duration
	// ClaimTimeout is how long a claim waits for a live leader key at its
	// From epoch to go (TTL/2 when 0): a planned failover's claim may come
	// just before the old primary's release. The state machine asks again
	// later if it must.
	ClaimTimeout time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

func (c *KeeperConfig) setDefaults() {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	// etcd found unreachable must be reported well within the fencing
	// time (TTL - margin - drift, 2 s at a 5 s TTL) after it went: the
	// primary then keeps writes only if its secondary, finding etcd gone
	// too, confirmed failsafe before the fence point. The worst case is
	// a poll plus a timed-out read: TTL/20 + TTL/10 (750 ms at 5 s).
	if c.RPCTimeout == 0 {
		c.RPCTimeout = min(maxRPCTimeout, c.TTL/10)
	}
	if c.PollInterval == 0 {
		c.PollInterval = min(maxPoll, c.TTL/20)
	}
	if c.ClaimTimeout == 0 {
		c.ClaimTimeout = c.TTL / 2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Observation is what a Keeper last saw, for status and metrics.
type Observation struct {
	Healthy   bool
	CheckedAt time.Time // the last read (successful or not)
	Err       string    // why the last read failed
	// Holder, HolderID and Epoch are the leader key's ("" and 0 when
	// absent).
	Holder, HolderID string
	Epoch            sqlink.Epoch
	// KeyEpoch is the epoch key's value: the last epoch etcd granted.
	KeyEpoch sqlink.Epoch
	// Expires estimates when the leader's lease expires (zero when absent).
	Expires time.Time
	// Held: this instance holds the lease; Renewed is when its last
	// successful grant or renewal was sent.
	Held    bool
	Renewed time.Time
	TTL     time.Duration
	// Claiming: a claim is waiting.
	Claiming bool
}

type opKind int

const (
	opClaim opKind = iota + 1
	opRenew
	opRelease
)

// op is a request to the Keeper.
type op struct {
	kind         opKind
	from, target sqlink.Epoch // claim
	epoch        sqlink.Epoch // renew, release
	seq          uint64       // renew, claim: echoed in the answer
	deadline     time.Time    // claim
	takeover     string       // claim: the holder whose live lease it may replace
}

// goneMark is what PartnerGone recorded: the holder found gone and the
// leader key's mod revision read before it was found gone.
type goneMark struct {
	holderID string
	rev      int64
}

type held struct {
	epoch   sqlink.Epoch
	id      clientv3.LeaseID
	renewed time.Time // send time of the last successful grant or renewal
}

// Keeper keeps one link's lease. Its methods never block on etcd.
type Keeper struct {
	c    *Client
	cfg  KeeperConfig
	keys keys
	out  func(Event)
	log  *slog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	kick    chan struct{}
	watched chan struct{} // the watch saw a change

	mu   sync.Mutex // guards what follows
	ops  []op       // requests in order; one renew and one claim at most
	obs  Observation
	gone *goneMark

	// Owned by run.
	held       *held
	claim      *op // a claim waiting for a live leader key to go
	lastHolder string
}

// NewKeeper starts keeping link cfg.LinkID's lease; out receives the
// events (on the Keeper's goroutine: it may block).
func (c *Client) NewKeeper(cfg KeeperConfig, out func(Event)) *Keeper {
	cfg.setDefaults()
	k := &Keeper{c: c, cfg: cfg, keys: linkKeys(cfg.LinkID), out: out,
		log: cfg.Logger.With("etcd_link", cfg.LinkID), done: make(chan struct{}), kick: make(chan struct{}, 1),
		watched: make(chan struct{}, 1)}
	k.obs.TTL = cfg.TTL
	k.ctx, k.cancel = context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		k.watch()
	}()
	go func() {
		k.run()
		<-watchDone
		close(k.done)
	}()
	return k
}

// Close stops the Keeper. The lease is left to expire: a restart within
// the TTL takes it back, a longer absence lets the secondary claim.
func (k *Keeper) Close() {
	k.cancel()
	<-k.done
}

// Claim asks for the lease at target: granted when etcd's epoch key is
// from and no live lease holds the link, or, when from == target (a
// primary re-taking its own epoch), when the leader key is absent or
// already names this instance at target and the epoch key is absent or
// target. A ClaimResult answers, echoing seq; a claim replaces one still
// waiting.
func (k *Keeper) Claim(from, target sqlink.Epoch, seq uint64) { k.ClaimOver(from, target, seq, "") }

// ClaimOver is Claim, except that it may also be granted while the leader
// key names holderID at from with a live lease, if that key is the one
// PartnerGone recorded (same holder, same mod revision): holderID's
// process was found gone after the key was read, so a restarted process
// that re-took the key since has changed it and the claim is refused.
// When granted, holderID's lease is revoked. An empty holderID makes it
// Claim.
func (k *Keeper) ClaimOver(from, target sqlink.Epoch, seq uint64, holderID string) {
	k.push(op{kind: opClaim, from: from, target: target, seq: seq, deadline: k.cfg.Now().Add(k.cfg.ClaimTimeout), takeover: holderID})
}

// LeaderKey reads the leader key (linearizably): its holder's instance ID
// ("" when absent) and mod revision. A caller about to find out whether
// the holder's process is gone reads it first, then passes it to
// PartnerGone.
func (k *Keeper) LeaderKey(ctx context.Context) (holderID string, rev int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.RPCTimeout)
	defer cancel()
	s, err := k.keys.read(ctx, k.c.cli)
	if err != nil || s.leader == nil {
		return "", 0, err
	}
	return s.leader.HolderID, s.leaderRev, nil
}

// PartnerGone records that holderID's process was found gone after the
// leader key was read at mod revision rev (LeaderKey): a ClaimOver may
// replace that key, and only that one.
func (k *Keeper) PartnerGone(holderID string, rev int64) {
	k.mu.Lock()
	k.gone = &goneMark{holderID: holderID, rev: rev}
	k.mu.Unlock()
}

// takesOver reports whether claim c may replace the live leader key of
// snapshot s (see ClaimOver).
func (k *Keeper) takesOver(c *op, s snapshot) bool {
	k.mu.Lock()
	g := k.gone
	k.mu.Unlock()
	return c.takeover != "" && c.target > c.from && g != nil && s.leader != nil &&
		g.holderID == c.takeover && s.leader.HolderID == g.holderID && s.leaderRev == g.rev && s.leader.Epoch == c.from
}

// Renew renews the lease held at epoch once and checks that the leader key
// still names this instance: Held{Epoch, Seq} answers, or Lost. When etcd
// cannot be reached there is no answer (Health says so).
func (k *Keeper) Renew(epoch sqlink.Epoch, seq uint64) {
	k.push(op{kind: opRenew, epoch: epoch, seq: seq})
}

// Release revokes the lease held at epoch (the leader key goes with it);
// the epoch key stays.
func (k *Keeper) Release(epoch sqlink.Epoch) {
	k.push(op{kind: opRelease, epoch: epoch})
}

// Refresh asks the Keeper to read the keys and report them (health, the
// holder or the expiry) now rather than at its next poll: a new listener
// knows nothing yet.
func (k *Keeper) Refresh() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *Keeper) push(o op) {
	k.mu.Lock()
	if o.kind != opRelease {
		// The newest renew or claim replaces one not yet done.
		k.ops = slices.DeleteFunc(k.ops, func(q op) bool { return q.kind == o.kind })
	}
	k.ops = append(k.ops, o)
	if o.kind == opClaim {
		k.obs.Claiming = true
	}
	k.mu.Unlock()
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// Observation returns what the Keeper last saw.
func (k *Keeper) Observation() Observation {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.obs
}

// TTL returns the lease's time to live.
func (k *Keeper) TTL() time.Duration { return k.cfg.TTL }

func (k *Keeper) emit(ev Event) {
	if k.ctx.Err() == nil {
		k.out(ev)
	}
}

func (k *Keeper) run() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		poll := false
		select {
		case <-k.ctx.Done():
			return
		case <-k.kick:
		case <-timer.C:
			poll = true
		case <-k.watched:
			poll = true
		}
		k.step(poll)
		if poll {
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(k.cfg.PollInterval)
		}
	}
}

// step does the requests queued, retries a waiting claim, and on a poll
// (or a watch event) reads the keys and reports.
func (k *Keeper) step(poll bool) {
	k.mu.Lock()
	ops := k.ops
	k.ops = nil
	k.mu.Unlock()
	for _, o := range ops {
		if k.ctx.Err() != nil {
			return
		}
		switch o.kind {
		case opClaim:
			c := o
			k.claim = &c
		case opRenew:
			k.renew(o)
		case opRelease:
			k.release(o.epoch)
		}
	}
	if k.claim != nil {
		k.doClaim()
	}
	if poll || len(ops) == 0 {
		k.observe()
	}
}

func (k *Keeper) rpc() (context.Context, context.CancelFunc) {
	return context.WithTimeout(k.ctx, k.cfg.RPCTimeout)
}

func (k *Keeper) ttlSeconds() int64 {
	return int64((k.cfg.TTL + time.Second - 1) / time.Second)
}

func (k *Keeper) setHeld(h *held) {
	k.held = h
	k.mu.Lock()
	k.obs.Held = h != nil
	if h != nil {
		k.obs.Renewed = h.renewed
	}
	k.mu.Unlock()
}

// grantAndPut grants a lease and puts {self, epoch} under it if s is still
// current. It revokes the lease when the put does not happen.
func (k *Keeper) grantAndPut(s snapshot, epoch sqlink.Epoch) (bool, error) {
	sent := k.cfg.Now()
	ctx, cancel := k.rpc()
	defer cancel()
	g, err := k.c.cli.Grant(ctx, k.ttlSeconds())
	if err != nil {
		return false, err
	}
	ok, err := k.keys.put(ctx, k.c.cli, s, k.me(epoch), g.ID)
	if err != nil || !ok {
		k.revoke(g.ID)
		return false, err
	}
	if k.held != nil && k.held.id != g.ID {
		k.revoke(k.held.id)
	}
	if s.leader != nil && s.leaseID != 0 && s.leaseID != g.ID {
		// Our own key from before a restart, on the old lease, or the
		// lease of a holder whose process is gone (ClaimOver).
		k.revoke(s.leaseID)
	}
	k.setHeld(&held{epoch: epoch, id: g.ID, renewed: sent})
	return true, nil
}

func (k *Keeper) me(epoch sqlink.Epoch) Leader {
	return Leader{Holder: k.cfg.Self, HolderID: k.cfg.SelfID, Epoch: epoch}
}

// mine reports whether l names this instance at epoch.
func (k *Keeper) mine(l *Leader, epoch sqlink.Epoch) bool {
	return l != nil && l.HolderID == k.cfg.SelfID && l.Epoch == epoch
}

func (k *Keeper) revoke(id clientv3.LeaseID) {
	ctx, cancel := k.rpc()
	defer cancel()
	if _, err := k.c.cli.Revoke(ctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		k.log.Debug("revoke etcd lease", "lease", int64(id), "err", err)
	}
}

// renew renews the lease held at o.epoch and checks that the leader key is
// still ours on it: Held answers, or Lost.
func (k *Keeper) renew(o op) {
	h := k.held
	if h == nil || h.epoch != o.epoch {
		ev := Event{Type: Lost, Epoch: o.epoch, Seq: o.seq, Reason: fmt.Sprintf("this instance holds no lease at epoch %d", o.epoch)}
		ctx, cancel := k.rpc()
		s, err := k.keys.read(ctx, k.c.cli)
		cancel()
		if err != nil {
			k.health(err)
			return // no answer on a timeout
		}
		ev.Target = max(1, s.newest())
		if s.leader != nil {
			ev.Holder = s.leader.HolderID
		}
		k.emit(ev)
		return
	}
	sent := k.cfg.Now()
	ctx, cancel := k.rpc()
	defer cancel()
	_, err := k.c.cli.KeepAliveOnce(ctx, h.id)
	var s snapshot
	if err == nil {
		s, err = k.keys.read(ctx, k.c.cli)
	}
	mine := err == nil && s.leader != nil && k.mine(s.leader, h.epoch) && s.leaseID == h.id
	switch {
	case mine:
		h.renewed = sent
		k.setHeld(h)
		k.emit(Event{Type: Held, Epoch: h.epoch, Seq: o.seq})
	case err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound):
		ev := Event{Type: Lost, Epoch: h.epoch, Seq: o.seq, Reason: "the lease expired in etcd before it was renewed"}
		if err == nil {
			ev.Reason = "the leader key no longer names this instance"
			k.revoke(h.id)
		} else if s, err = k.keys.read(ctx, k.c.cli); err != nil {
			s = snapshot{} // etcd's epoch unknown: Target 0
		}
		if s.leader != nil {
			ev.Holder = s.leader.HolderID
			ev.Reason = fmt.Sprintf("etcd's leader key is held by %s at epoch %d", s.leader.Holder, s.leader.Epoch)
		}
		if s.rev != 0 {
			ev.Target = max(1, s.newest())
		}
		k.log.Warn("etcd lease lost", "epoch", h.epoch, "why", ev.Reason)
		k.setHeld(nil)
		k.emit(ev)
	default:
		k.health(err)
	}
}

// release revokes the lease held at epoch: etcd deletes the leader key
// with it.
func (k *Keeper) release(epoch sqlink.Epoch) {
	h := k.held
	if h == nil || h.epoch != epoch {
		return
	}
	k.setHeld(nil)
	ctx, cancel := k.rpc()
	_, err := k.c.cli.Revoke(ctx, h.id)
	cancel()
	if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		k.log.Warn("release etcd lease: it will expire by itself", "epoch", epoch, "err", err)
		return
	}
	k.log.Info("etcd lease released", "epoch", epoch)
}

// doClaim tries the waiting claim once; it answers when granted, refused
// for good, or past its deadline.
func (k *Keeper) doClaim() {
	c := k.claim
	answer := func(granted bool, s *snapshot, reason string) {
		k.claim = nil
		k.mu.Lock()
		k.obs.Claiming = slices.ContainsFunc(k.ops, func(q op) bool { return q.kind == opClaim })
		k.mu.Unlock()
		ev := Event{Type: ClaimResult, Target: c.target, Seq: c.seq, Granted: granted, Reason: reason}
		if granted {
			k.log.Info("etcd claim granted", "from", c.from, "target", c.target)
		} else {
			k.log.Info("etcd claim refused", "from", c.from, "target", c.target, "why", reason)
			if s != nil {
				ev.Epoch = max(1, s.newest())
				if s.leader != nil {
					ev.Holder = s.leader.HolderID
				}
			}
		}
		k.emit(ev)
	}
	late := !k.cfg.Now().Before(c.deadline)
	if c.target < c.from || c.from == 0 {
		answer(false, nil, fmt.Sprintf("target epoch %d is before %d", c.target, c.from))
		return
	}
	ctx, cancel := k.rpc()
	s, err := k.keys.read(ctx, k.c.cli)
	cancel()
	if err != nil {
		k.health(err)
		answer(false, nil, fmt.Sprintf("etcd unreachable: %v", err))
		return
	}
	// An absent epoch key is a new link's: epoch 1.
	switch epoch := max(1, s.epoch); {
	case epoch != c.from:
		answer(false, &s, fmt.Sprintf("etcd's link epoch is %d, not %d", epoch, c.from))
		return
	case s.leader != nil && s.leader.HolderID != k.cfg.SelfID && k.takesOver(c, s):
		k.log.Warn("etcd claim over a live lease: its holder's process is gone", "holder", s.leader.Holder, "epoch", s.leader.Epoch)
	case s.leader != nil && s.leader.HolderID != k.cfg.SelfID:
		if c.from == c.target || s.leader.Epoch != c.from || late {
			answer(false, &s, fmt.Sprintf("%s holds the lease at epoch %d", s.leader.Holder, s.leader.Epoch))
		}
		return // wait for the lease to expire or be released
	}
	ok, err := k.grantAndPut(s, c.target)
	switch {
	case err != nil:
		// The put may have happened: say nothing of etcd's epoch.
		k.health(err)
		answer(false, nil, fmt.Sprintf("etcd unreachable: %v", err))
	case ok:
		k.mu.Lock()
		k.gone = nil
		k.mu.Unlock()
		answer(true, nil, "")
	case late:
		answer(false, nil, "the link's keys changed during the claim")
	}
}

// health reports a failed etcd call.
func (k *Keeper) health(err error) {
	if k.ctx.Err() != nil {
		return
	}
	k.mu.Lock()
	k.obs.Healthy, k.obs.CheckedAt, k.obs.Err = false, k.cfg.Now(), err.Error()
	k.mu.Unlock()
	k.log.Debug("etcd", "err", err)
	k.emit(Event{Type: Health, Healthy: false, Reason: err.Error()})
}

// observe reads the keys, records what it saw and reports health, the
// holder or the expiry, and a lease of ours that is gone.
func (k *Keeper) observe() {
	now := k.cfg.Now()
	ctx, cancel := k.rpc()
	s, err := k.keys.read(ctx, k.c.cli)
	cancel()
	if k.ctx.Err() != nil {
		return
	}
	if err != nil {
		k.health(err)
		return
	}
	var expires time.Time
	switch {
	case s.leader == nil:
	case k.held != nil && s.leaseID == k.held.id:
		expires = k.held.renewed.Add(k.cfg.TTL)
	default:
		ctx, cancel := k.rpc()
		if ttl, err := k.c.cli.TimeToLive(ctx, s.leaseID); err == nil && ttl.TTL > 0 {
			expires = now.Add(time.Duration(ttl.TTL) * time.Second)
		}
		cancel()
	}
	k.mu.Lock()
	k.obs.Healthy, k.obs.CheckedAt, k.obs.Err = true, now, ""
	k.obs.Holder, k.obs.HolderID, k.obs.Epoch, k.obs.KeyEpoch, k.obs.Expires = "", "", 0, s.epoch, expires
	if s.leader != nil {
		k.obs.Holder, k.obs.HolderID, k.obs.Epoch = s.leader.Holder, s.leader.HolderID, s.leader.Epoch
	}
	k.mu.Unlock()
	k.emit(Event{Type: Health, Healthy: true})
	if h := k.held; h != nil && (s.leader == nil || s.leaseID != h.id) {
		// Not ours any more (deleted by hand, or put by another).
		k.revoke(h.id)
		k.setHeld(nil)
		ev := Event{Type: Lost, Epoch: h.epoch, Reason: "etcd's leader key no longer names this instance"}
		if s.leader != nil {
			ev.Holder = s.leader.HolderID
		}
		ev.Target = max(1, s.newest())
		k.emit(ev)
	}
	if s.leader == nil {
		// An absent epoch key is a new link's: epoch 1.
		k.emit(Event{Type: Expired, Epoch: max(1, s.epoch), Holder: k.lastHolder})
	} else {
		k.lastHolder = s.leader.HolderID
		k.emit(Event{Type: Observed, Epoch: s.leader.Epoch, Holder: s.leader.HolderID})
	}
}

// watch watches the link's keys until the Keeper closes, on a goroutine
// of its own (clientv3's Watch waits for a connection): a change wakes the
// Keeper at once instead of at the next poll. A watch that ends (no
// leader, etcd gone) starts again after a poll interval.
func (k *Keeper) watch() {
	for k.ctx.Err() == nil {
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(k.ctx))
		for resp := range k.c.cli.Watch(ctx, k.keys.prefix, clientv3.WithPrefix()) {
			if resp.Err() != nil || resp.Canceled {
				break
			}
			select {
			case k.watched <- struct{}{}:
			default:
			}
		}
		cancel()
		select {
		case <-k.ctx.Done():
		case <-time.After(k.cfg.PollInterval):
		}
	}
}
