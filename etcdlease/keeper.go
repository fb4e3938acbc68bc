package etcdlease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// maxRPCTimeout bounds each etcd call of a renewal, so a renewal's
	// answer is never older than this when it is reported.
	maxRPCTimeout = time.Second
	// maxPoll bounds the interval between two reads of the keys.
	maxPoll = time.Second
	// retryAfter is the pause after a failed renewal or acquisition.
	retryAfter = 200 * time.Millisecond
)

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	// Held: this instance holds the lease at Epoch, renewed by a request
	// sent at At (etcd's expiry is at least At + TTL).
	Held EventType = iota + 1
	// Lost: the lease at Epoch is gone (expired, revoked), or the leader
	// key shows a newer epoch Target (Target 0 when none is newer).
	Lost
	// Expired: the leader key is absent; the epoch key says Epoch.
	Expired
	// ClaimResult answers Claim(…, Target): Granted or not.
	ClaimResult
	// Health: whether a linearizable read of the keys succeeded.
	Health
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
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is what a Keeper reports.
type Event struct {
	Type    EventType
	Epoch   sqlink.Epoch
	Target  sqlink.Epoch
	Granted bool
	Healthy bool
	At      time.Time // Held: when the renewal request was sent
	Reason  string    // Lost, ClaimResult refused, Health false: why
}

// KeeperConfig configures one link's Keeper.
type KeeperConfig struct {
	LinkID string
	// Self is this instance's name, written as the leader key's holder.
	Self string
	// TTL is the lease's time to live (DefaultTTL when 0).
	TTL time.Duration
	// Renew is the interval between renewals (TTL/3 when 0).
	Renew time.Duration
	// RPCTimeout bounds each etcd call (min(1 s, Renew/2) when 0).
	RPCTimeout time.Duration
	// PollInterval is the interval between two reads of the keys, besides
	// the watch (min(1 s, Renew) when 0).
	PollInterval time.Duration
	// ClaimTimeout is how long a claim waits for a live leader key to go
	// (2 TTL when 0).
	ClaimTimeout time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

func (c *KeeperConfig) setDefaults() {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Renew == 0 {
		c.Renew = c.TTL / 3
	}
	if c.RPCTimeout == 0 {
		c.RPCTimeout = min(maxRPCTimeout, c.Renew/2)
	}
	if c.PollInterval == 0 {
		c.PollInterval = min(maxPoll, c.Renew)
	}
	if c.ClaimTimeout == 0 {
		c.ClaimTimeout = 2 * c.TTL
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
	// Holder and Epoch are the leader key's ("" and 0 when absent).
	Holder string
	Epoch  sqlink.Epoch
	// KeyEpoch is the epoch key's value: the last epoch etcd granted.
	KeyEpoch sqlink.Epoch
	// Expires estimates when the leader's lease expires (zero when absent).
	Expires time.Time
	// Held: this instance holds the lease (at Epoch); Renewed is when its
	// last successful renewal was sent.
	Held    bool
	Renewed time.Time
	TTL     time.Duration
	// Claiming: a claim is waiting (for Target).
	Claiming bool
}

type claimReq struct {
	from, target sqlink.Epoch
	deadline     time.Time
}

type held struct {
	epoch   sqlink.Epoch
	id      clientv3.LeaseID
	renewed time.Time // send time of the last successful grant or renewal
	next    time.Time // next renewal
}

// Keeper keeps one link's lease. Its methods never block on etcd.
type Keeper struct {
	c    *Client
	cfg  KeeperConfig
	keys keys
	out  func(Event)
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}

	mu    sync.Mutex // guards what follows
	want  sqlink.Epoch
	claim *claimReq
	obs   Observation

	// Owned by run.
	held   *held
	wch    clientv3.WatchChan
	wstop  context.CancelFunc
	wfresh bool // the watch delivered an event since the last read
}

// NewKeeper starts keeping link cfg.LinkID's lease; out receives the
// events (on the Keeper's goroutine: it may block).
func (c *Client) NewKeeper(cfg KeeperConfig, out func(Event)) *Keeper {
	cfg.setDefaults()
	k := &Keeper{c: c, cfg: cfg, keys: linkKeys(cfg.LinkID), out: out,
		log: cfg.Logger.With("etcd_link", cfg.LinkID), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	k.obs.TTL = cfg.TTL
	k.ctx, k.cancel = context.WithCancel(context.Background())
	go k.run()
	return k
}

// Close stops the Keeper. The lease is left to expire: a restart within
// the TTL takes it back, a longer absence lets the secondary claim.
func (k *Keeper) Close() {
	k.cancel()
	<-k.done
}

// Hold asks the Keeper to hold the lease at epoch (this instance is
// primary at epoch).
func (k *Keeper) Hold(epoch sqlink.Epoch) {
	k.mu.Lock()
	k.want = epoch
	k.mu.Unlock()
	k.wake()
}

// Release gives up the lease at epoch, if held (this instance is no longer
// primary at epoch).
func (k *Keeper) Release(epoch sqlink.Epoch) {
	k.mu.Lock()
	if k.want == epoch {
		k.want = 0
	}
	k.mu.Unlock()
	k.wake()
}

// Claim asks for the lease at target, if etcd's epoch is from and no live
// lease holds the link; a ClaimResult answers. A new claim replaces one
// still waiting.
func (k *Keeper) Claim(from, target sqlink.Epoch) {
	k.mu.Lock()
	k.claim = &claimReq{from: from, target: target, deadline: k.cfg.Now().Add(k.cfg.ClaimTimeout)}
	k.obs.Claiming = true
	k.mu.Unlock()
	k.wake()
}

// Observation returns what the Keeper last saw.
func (k *Keeper) Observation() Observation {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.obs
}

// TTL returns the lease's time to live.
func (k *Keeper) TTL() time.Duration { return k.cfg.TTL }

func (k *Keeper) wake() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *Keeper) emit(ev Event) {
	if k.ctx.Err() == nil {
		k.out(ev)
	}
}

func (k *Keeper) run() {
	defer close(k.done)
	defer func() {
		if k.wstop != nil {
			k.wstop()
		}
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-k.kick:
		case <-timer.C:
		case resp, ok := <-k.wch:
			if !ok || resp.Err() != nil || resp.Canceled {
				k.wstop()
				k.wch, k.wstop = nil, nil
			} else {
				k.wfresh = true
			}
		}
		k.step()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(k.nextWake())
	}
}

// nextWake is how long until the next renewal or read.
func (k *Keeper) nextWake() time.Duration {
	d := k.cfg.PollInterval
	if k.held != nil {
		d = min(d, max(0, k.held.next.Sub(k.cfg.Now())))
	}
	return d
}

// step does what is due: release, claim, acquire, renew, then read the
// keys and report.
func (k *Keeper) step() {
	k.mu.Lock()
	want, claim := k.want, k.claim
	k.mu.Unlock()
	if k.held != nil && k.held.epoch != want {
		k.release()
	}
	if claim != nil {
		k.doClaim(claim)
		k.mu.Lock()
		want = k.want
		k.mu.Unlock()
	}
	var lost *Event
	if want != 0 && k.held == nil {
		lost = k.acquire(want)
	}
	if k.held != nil && !k.cfg.Now().Before(k.held.next) {
		if ev := k.renew(); ev != nil {
			lost = ev
		}
	}
	if lost != nil {
		k.emit(*lost)
	}
	k.observe(want, lost != nil)
}

func (k *Keeper) rpc() (context.Context, context.CancelFunc) {
	return context.WithTimeout(k.ctx, k.cfg.RPCTimeout)
}

func (k *Keeper) ttlSeconds() int64 {
	return int64((k.cfg.TTL + time.Second - 1) / time.Second)
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
	ok, err := k.keys.put(ctx, k.c.cli, s, k.cfg.Self, epoch, g.ID)
	if err != nil || !ok {
		k.revoke(g.ID)
		return false, err
	}
	k.held = &held{epoch: epoch, id: g.ID, renewed: sent, next: sent.Add(k.cfg.Renew)}
	if s.leader != nil && s.leaseID != 0 && s.leaseID != g.ID {
		// Our own key from before a restart, on the old lease.
		k.revoke(s.leaseID)
	}
	k.mu.Lock()
	k.want = epoch
	k.obs.Held, k.obs.Renewed = true, sent
	k.mu.Unlock()
	return true, nil
}

func (k *Keeper) revoke(id clientv3.LeaseID) {
	ctx, cancel := k.rpc()
	defer cancel()
	if _, err := k.c.cli.Revoke(ctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		k.log.Debug("revoke etcd lease", "lease", int64(id), "err", err)
	}
}

// acquire takes the lease at epoch for a primary: the leader key must be
// absent or already ours at epoch, and etcd's epoch at most epoch. It
// returns a Lost event when etcd has moved past epoch.
func (k *Keeper) acquire(epoch sqlink.Epoch) *Event {
	ctx, cancel := k.rpc()
	s, err := k.keys.read(ctx, k.c.cli)
	cancel()
	if err != nil {
		k.noteErr(err)
		return nil
	}
	if n := s.newest(); n > epoch {
		return &Event{Type: Lost, Epoch: epoch, Target: n, Reason: fmt.Sprintf("etcd holds link epoch %d", n)}
	}
	if s.leader != nil && *s.leader != (Leader{Holder: k.cfg.Self, Epoch: epoch}) {
		// Another holder at our epoch or before: it keeps the link until
		// its lease ends; the primary stays fenced meanwhile.
		k.noteErr(fmt.Errorf("etcd's leader key is held by %s at epoch %d", s.leader.Holder, s.leader.Epoch))
		return nil
	}
	ok, err := k.grantAndPut(s, epoch)
	if err != nil {
		k.noteErr(err)
		return nil
	}
	if ok {
		k.log.Info("etcd lease acquired", "epoch", epoch)
		k.emit(Event{Type: Held, Epoch: epoch, At: k.held.renewed})
	}
	return nil
}

// renew renews the lease held and checks that the leader key is still
// ours on it; it returns a Lost event if not.
func (k *Keeper) renew() *Event {
	h := k.held
	sent := k.cfg.Now()
	ctx, cancel := k.rpc()
	defer cancel()
	_, err := k.c.cli.KeepAliveOnce(ctx, h.id)
	var s snapshot
	if err == nil {
		s, err = k.keys.read(ctx, k.c.cli)
	}
	mine := err == nil && s.leader != nil && *s.leader == (Leader{Holder: k.cfg.Self, Epoch: h.epoch}) && s.leaseID == h.id
	switch {
	case mine:
		h.renewed, h.next = sent, sent.Add(k.cfg.Renew)
		k.mu.Lock()
		k.obs.Renewed = sent
		k.mu.Unlock()
		k.emit(Event{Type: Held, Epoch: h.epoch, At: sent})
		return nil
	case err == nil || errors.Is(err, rpctypes.ErrLeaseNotFound):
		why := "the lease expired in etcd before it was renewed"
		var target sqlink.Epoch
		if err == nil {
			why = "the leader key no longer names this instance"
			if s.leader != nil {
				why = fmt.Sprintf("etcd's leader key is held by %s at epoch %d", s.leader.Holder, s.leader.Epoch)
			}
			if n := s.newest(); n > h.epoch {
				target = n
			}
			k.revoke(h.id)
		}
		k.log.Warn("etcd lease lost", "epoch", h.epoch, "why", why)
		k.held = nil
		k.mu.Lock()
		k.obs.Held = false
		k.mu.Unlock()
		return &Event{Type: Lost, Epoch: h.epoch, Target: target, Reason: why}
	default:
		h.next = sent.Add(retryAfter)
		k.noteErr(err)
		return nil
	}
}

// release deletes our leader key (if unchanged) and revokes the lease.
func (k *Keeper) release() {
	h := k.held
	k.held = nil
	k.mu.Lock()
	k.obs.Held = false
	k.mu.Unlock()
	ctx, cancel := k.rpc()
	s, err := k.keys.read(ctx, k.c.cli)
	cancel()
	if err == nil && s.leader != nil && *s.leader == (Leader{Holder: k.cfg.Self, Epoch: h.epoch}) {
		ctx, cancel := k.rpc()
		_, err = k.keys.remove(ctx, k.c.cli, s)
		cancel()
	}
	if err != nil {
		k.log.Warn("release etcd lease: the lease will expire by itself", "epoch", h.epoch, "err", err)
	}
	k.revoke(h.id)
	k.log.Info("etcd lease released", "epoch", h.epoch)
}

// doClaim tries a claim once; it answers when granted, refused for good,
// or past its deadline.
func (k *Keeper) doClaim(c *claimReq) {
	answer := func(granted bool, reason string) {
		k.mu.Lock()
		if k.claim == c {
			k.claim = nil
			k.obs.Claiming = false
		}
		k.mu.Unlock()
		if granted {
			k.log.Info("etcd claim granted", "from", c.from, "target", c.target)
		} else {
			k.log.Info("etcd claim refused", "from", c.from, "target", c.target, "why", reason)
		}
		k.emit(Event{Type: ClaimResult, Target: c.target, Granted: granted, Reason: reason})
		if granted {
			k.emit(Event{Type: Held, Epoch: c.target, At: k.held.renewed})
		}
	}
	late := !k.cfg.Now().Before(c.deadline)
	if c.target <= c.from {
		answer(false, fmt.Sprintf("target epoch %d is not after %d", c.target, c.from))
		return
	}
	ctx, cancel := k.rpc()
	s, err := k.keys.read(ctx, k.c.cli)
	cancel()
	if err != nil {
		k.noteErr(err)
		if late {
			answer(false, fmt.Sprintf("etcd unreachable: %v", err))
		}
		return
	}
	if s.epoch != c.from || (s.leader != nil && s.leader.Epoch != c.from) {
		answer(false, fmt.Sprintf("etcd's link epoch is %d, not %d", s.newest(), c.from))
		return
	}
	if s.leader != nil {
		if late {
			answer(false, fmt.Sprintf("%s still holds the lease at epoch %d", s.leader.Holder, s.leader.Epoch))
		}
		return // wait for the lease to expire or be released
	}
	if k.held != nil {
		k.release()
	}
	ok, err := k.grantAndPut(s, c.target)
	switch {
	case err != nil:
		k.noteErr(err)
		if late {
			answer(false, fmt.Sprintf("etcd unreachable: %v", err))
		}
	case ok:
		answer(true, "")
	case late:
		answer(false, "the link's keys changed during the claim")
	}
}

func (k *Keeper) noteErr(err error) {
	if k.ctx.Err() != nil {
		return
	}
	k.mu.Lock()
	k.obs.Err = err.Error()
	k.mu.Unlock()
	k.log.Debug("etcd", "err", err)
}

// observe reads the keys, records what it saw and reports health, expiry
// (to a secondary) and a newer epoch (to a primary).
func (k *Keeper) observe(want sqlink.Epoch, lostSent bool) {
	if k.wch == nil {
		k.watch()
	}
	now := k.cfg.Now()
	ctx, cancel := k.rpc()
	s, err := k.keys.read(ctx, k.c.cli)
	cancel()
	if k.ctx.Err() != nil {
		return
	}
	k.wfresh = false
	if err != nil {
		k.mu.Lock()
		k.obs.Healthy, k.obs.CheckedAt, k.obs.Err = false, now, err.Error()
		k.mu.Unlock()
		k.emit(Event{Type: Health, Healthy: false, Reason: err.Error()})
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
	k.obs.Holder, k.obs.Epoch, k.obs.KeyEpoch, k.obs.Expires = "", 0, s.epoch, expires
	if s.leader != nil {
		k.obs.Holder, k.obs.Epoch = s.leader.Holder, s.leader.Epoch
	}
	k.mu.Unlock()
	k.emit(Event{Type: Health, Healthy: true})
	switch {
	case want == 0 && s.leader == nil:
		k.emit(Event{Type: Expired, Epoch: s.epoch})
	case want != 0 && !lostSent && s.newest() > want:
		k.emit(Event{Type: Lost, Epoch: want, Target: s.newest(), Reason: fmt.Sprintf("etcd holds link epoch %d", s.newest())})
	case want != 0 && !lostSent && k.held != nil && (s.leader == nil || s.leaseID != k.held.id):
		// Not ours any more (deleted by hand, or put by another): stop
		// reporting Held, then acquire again if the epoch allows it.
		k.revoke(k.held.id)
		k.held = nil
		k.mu.Lock()
		k.obs.Held = false
		k.mu.Unlock()
		k.emit(Event{Type: Lost, Epoch: want, Reason: "etcd's leader key no longer names this instance"})
	}
}

// watch (re)starts the watch on the link's keys: a change wakes the
// Keeper at once instead of at the next poll.
func (k *Keeper) watch() {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(k.ctx))
	k.wch = k.c.cli.Watch(ctx, k.keys.prefix, clientv3.WithPrefix())
	k.wstop = cancel
}
