package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/transport"
)

// attach makes pc the link's connection (on the loop).
func (rt *Link) attach(pc *peerConn) {
	rt.mu.Lock()
	old := rt.conn
	rt.conn = pc
	if cert := pc.c.PeerCertificate(); cert != nil {
		rt.partnerCertExpiry = cert.NotAfter
	}
	first := !rt.data.EverConnected
	rt.data.EverConnected = true
	phase := rt.data.Phase
	rt.mu.Unlock()
	if old != nil {
		old.close()
	}
	rt.stopSender()
	if first {
		if err := rt.save(); err != nil {
			rt.setError(err)
		}
	}
	rt.log.Info("link connected", "partner", pc.hello.InstanceName, "remote", pc.c.RemoteAddr())
	if rt.lastSelfMsg != nil {
		m := *rt.lastSelfMsg
		m.Type = link.MsgHeartbeat
		m.Target, m.KeepLink, m.AllowDataLoss, m.Primary, m.NewMode = 0, false, false, "", ""
		if rt.r != nil {
			hs := rt.r.HardState()
			m.LSN = hs.Hardened
		}
		pc.control(cmdLink, m)
	} else if rt.r != nil {
		rt.heartbeatDue = true
		rt.tickEarly() // queues a heartbeat carrying our status
	}
	pc.control(cmdStatus, partnerStatusOf(rt.localStatus()))
	rt.mu.Lock()
	db := rt.db
	rt.mu.Unlock()
	if phase == phaseSeeding {
		rt.resetSeedRetry()
		rt.requestSeed(pc)
	} else if d := divergedSecondary(db); d != nil {
		rt.reseedDiverged(d.Why)
	}
}

// detach forgets pc (on the loop).
func (rt *Link) detach(pc *peerConn) {
	rt.mu.Lock()
	if rt.conn != pc {
		rt.mu.Unlock()
		return
	}
	rt.conn = nil
	rt.mu.Unlock()
	if rt.sender != nil && rt.sender.pc == pc {
		rt.stopSender()
	}
	rt.log.Info("link disconnected")
	rt.startGoneProbe()
}

// serveConn runs an established connection until it ends.
func (rt *Link) serveConn(ctx context.Context, c *transport.Conn, h *transport.Hello) {
	pc := newPeerConn(ctx, c, h)
	defer pc.close()
	if !rt.call(func() { rt.attach(pc) }) {
		return
	}
	go pc.writeLoop()
	err := rt.readLoop(pc)
	if err != nil && rt.ctx.Err() == nil && pc.ctx.Err() == nil && !transport.IsClosed(err) && !errors.Is(err, io.EOF) {
		rt.setError(fmt.Errorf("link connection: %w", err))
	}
	pc.close()
	rt.call(func() { rt.detach(pc) })
}

func (rt *Link) dialLoop() {
	defer rt.wg.Done()
	var wait time.Duration
	var notFound time.Time // first of the partner's "no such link" refusals in a row
	for rt.ctx.Err() == nil {
		c, h, err := rt.s.dialLink(rt.ctx, rt)
		if err == nil {
			wait, notFound = 0, time.Time{}
			rt.serveConn(rt.ctx, c, h)
			c.Close()
			continue
		}
		if rt.ctx.Err() != nil {
			return
		}
		rt.setError(err)
		rt.mu.Lock()
		ever := rt.data.EverConnected
		rt.mu.Unlock()
		if sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			notFound = time.Time{}
		} else if notFound.IsZero() {
			notFound = rt.s.cfg.Now()
		}
		if !notFound.IsZero() && ever && rt.s.cfg.Now().Sub(notFound) >= partnerGoneAfter {
			// The partner has said for a while that it no longer has the
			// link: it was dropped there while we could not be told.
			go func() {
				if err := rt.s.dropLocal(context.Background(), rt, "the partner no longer has the link"); err != nil {
					rt.log.Error("drop link", "err", err)
				}
			}()
			return
		}
		wait = backoff(wait, maxReconnectDelay)
		if !sleep(rt.ctx, wait) {
			return
		}
	}
}

// readLoop handles the partner's frames until the connection ends.
func (rt *Link) readLoop(pc *peerConn) error {
	for {
		m, err := pc.c.ReadMessage(pc.ctx)
		if err != nil {
			return err
		}
		if err := rt.drainEarly(pc); err != nil {
			_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
			return err
		}
		switch m := m.(type) {
		case *transport.ControlRequest:
			if err := rt.onControl(pc, m); err != nil {
				return err
			}
			if err := rt.drainEarly(pc); err != nil {
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				return err
			}
		case *transport.ControlResponse:
			pc.respond(m)
		case *transport.Records:
			var err error
			if pc.recv.asm.Pending() {
				err = sqlink.Errorf(sqlink.EINVALID, "", "records %d..%d arrived in the middle of a record sent in parts", m.FirstLSN, m.LastLSN)
			} else {
				err = rt.receive(pc, m)
			}
			if err != nil {
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				return err
			}
		case *transport.RecordPart:
			// A record too large for one frame: received whole, it is a
			// Records batch of its own.
			b, err := pc.recv.asm.Add(m)
			if err == nil && b != nil {
				err = rt.receive(pc, b)
			}
			if err != nil {
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				return err
			}
		case *transport.Ack:
			rt.onAck(m)
		case *transport.Heartbeat:
			rt.mu.Lock()
			rt.lag.heardPrimary(m.LastCommitLSN, m.LastCommitTime, true)
			rt.mu.Unlock()
		case *transport.SeedChunk:
			if err := rt.seedChunk(m); err != nil {
				rt.setError(err)
				return err
			}
		case *transport.SeedDone:
			if err := rt.seedFinish(pc, m); err != nil {
				rt.setError(err)
				return err
			}
		case *transport.ErrorMessage:
			return m.Err()
		}
	}
}

func (rt *Link) onControl(pc *peerConn, m *transport.ControlRequest) error {
	switch m.Command {
	case cmdLink:
		var msg link.Message
		if err := m.Decode(&msg); err != nil {
			return fmt.Errorf("decode link message: %w", err)
		}
		rt.call(func() {
			if rt.r == nil {
				return
			}
			if msg.Type == link.MsgHeartbeat && (rt.partnerMsg == nil || msg.Version > rt.partnerMsg.Version) {
				// The partner's role state changed: the state machine
				// answers with ours, which must go out now, not at the
				// next tick.
				rt.heartbeatDue = true
			}
			if msg.Role == sqlink.RolePrimary || rt.partnerMsg == nil || msg.Version >= rt.partnerMsg.Version {
				mm := msg
				rt.mu.Lock()
				rt.partnerMsg = &mm
				rt.mu.Unlock()
			}
			if err := rt.r.Step(msg); err != nil {
				rt.setError(err)
			}
			// Act on it before the reader goes on: a secondary that now
			// knows its primary receives the records that came early
			// (readLoop drains them after this).
			rt.process()
		})
	case cmdStatus:
		var st transport.PartnerStatus
		if err := m.Decode(&st); err != nil {
			return fmt.Errorf("decode partner status: %w", err)
		}
		rt.mu.Lock()
		rt.partnerStatus = &st
		if st.Role == sqlink.RolePrimary {
			rt.lag.heardPrimary(st.LastCommitLSN, st.LastCommitTime, false)
		}
		rt.mu.Unlock()
	case cmdSeedRequest:
		var req seedRequest
		if err := m.Decode(&req); err != nil {
			return fmt.Errorf("decode seed request: %w", err)
		}
		rt.startSeedSender(pc, req)
	case cmdSeedPlan:
		var plan seedPlan
		if err := m.Decode(&plan); err != nil {
			return fmt.Errorf("decode seed plan: %w", err)
		}
		if err := rt.onSeedPlan(pc, plan); err != nil {
			rt.setError(err)
			rt.setSeedState(seedFailed)
			rt.seedRefused(pc, err)
			return nil
		}
		rt.resetSeedRetry()
	case cmdReseed:
		rt.call(func() { rt.restartSeeding(pc, "the primary no longer holds the log this replica needs") })
	case cmdHoldApply:
		var h holdApply
		if err := m.Decode(&h); err != nil {
			return fmt.Errorf("decode hold-apply: %w", err)
		}
		rt.mu.Lock()
		db := rt.db
		rt.mu.Unlock()
		if db != nil {
			if ro, _ := db.ReadOnly(); ro {
				db.HoldApply(h.LSN, rt.s.cfg.Now().Add(rt.s.cfg.LinkDigestTimeout))
			}
		}
	case cmdDrop:
		_ = pc.c.Send(pc.ctx, &transport.ControlResponse{ID: m.ID})
		go func() {
			if err := rt.s.dropLocal(context.Background(), rt, "the partner dropped the link"); err != nil {
				rt.log.Error("drop link", "err", err)
			}
		}()
		return io.EOF
	default:
		if m.ID != 0 {
			pc.send(&transport.ControlResponse{ID: m.ID, Code: sqlink.ENOTIMPLEMENTED, Message: "unknown link command " + m.Command})
		}
	}
	return nil
}

// hello describes this replica to the partner.
func (rt *Link) hello() transport.Hello {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	h := transport.Hello{
		InstanceID: rt.s.info.ID, InstanceName: rt.s.info.Name,
		LinkID: rt.id.linkID, LinkName: rt.id.name, Database: rt.id.database,
		Role: rt.rec.Role, Epoch: rt.rec.Epoch, History: slices.Clone(rt.history),
		Time: rt.s.cfg.Now(),
	}
	if rt.status.Role != "" {
		h.Role, h.Epoch = rt.status.Role, rt.status.Epoch
	}
	if rt.db != nil {
		h.Pos = rt.db.Pos()
	}
	return h
}

// checkHello refuses a Hello for another link or from another instance than
// the partner. Epochs are not refused here: a partner at an older epoch
// must hear from us to learn that it was demoted (the state machine decides).
func (rt *Link) checkHello(h *transport.Hello) error {
	if err := transport.CheckHello(rt.id.linkID, 0, h); err != nil {
		return err
	}
	if h.InstanceID != rt.id.partnerID {
		return sqlink.Errorf(sqlink.ECONFLICT, "check the link's partner on both instances (`sqlink link status`)",
			"instance %s (%s) spoke for link %q, whose partner is instance %s (%s)", h.InstanceName, h.InstanceID, rt.id.name, rt.id.partnerName, rt.id.partnerID)
	}
	return nil
}
