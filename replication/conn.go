package replication

import (
	"context"
	"sync"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// Control commands carried in transport.ControlRequest between the two
// runtimes of a link: the peer protocol's, see transport/control.go.
const (
	cmdLink        = transport.CmdLink
	cmdStatus      = transport.CmdStatus
	cmdSeedRequest = transport.CmdSeedRequest
	cmdSeedPlan    = transport.CmdSeedPlan
	cmdReseed      = transport.CmdReseed
	cmdDrop        = transport.CmdDrop
	cmdHoldApply   = transport.CmdHoldApply
)

// peerConn is one endpoint connection of a link. Control messages are
// queued and written by their own goroutine, so the link's loop never
// blocks on the network; the Records sender and the Ack path write
// directly (Conn serializes writers).
//
// Owner: c, hello, ctx and cancel are set by newPeerConn and never
// changed; mu guards the write queue and the request waiters (any
// goroutine queues, the writer goroutine drains); recv is the reader
// goroutine's, hard has its own lock, tickAcked is the loop's.
type peerConn struct {
	c      *transport.Conn
	hello  *transport.Hello
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards queue, nextID and waiters
	queue   []transport.Message
	wake    chan struct{}
	nextID  uint64
	waiters map[uint64]chan *transport.ControlResponse

	// recv checks what the reader receives (the reader's); hard makes it
	// durable (its own lock).
	recv recordReceiver
	hard hardener

	// tickAcked is the secondary's (hardened, redone) position last
	// acknowledged by its tick (loop only): see tickAck.
	tickAcked [2]sqlink.LSN
}

func newPeerConn(ctx context.Context, c *transport.Conn, h *transport.Hello) *peerConn {
	pc := &peerConn{c: c, hello: h, wake: make(chan struct{}, 1), waiters: map[uint64]chan *transport.ControlResponse{}}
	pc.ctx, pc.cancel = context.WithCancel(ctx)
	return pc
}

// stopHardening ends the connection and waits until its hardener (if any)
// has returned, so no more received records reach the log.
func (pc *peerConn) stopHardening() {
	pc.close()
	if done := pc.hard.doneCh(); done != nil {
		<-done
	}
}

// close ends the connection; the reader and writer return.
func (pc *peerConn) close() {
	pc.cancel()
	pc.c.Close()
}

// send queues m for the writer goroutine. It never blocks.
func (pc *peerConn) send(m transport.Message) {
	pc.mu.Lock()
	pc.queue = append(pc.queue, m)
	pc.mu.Unlock()
	select {
	case pc.wake <- struct{}{}:
	default:
	}
}

// control queues a control request with a JSON body.
func (pc *peerConn) control(cmd string, body any) {
	pc.send(transport.MustControl(0, cmd, body))
}

// request sends a control request and waits for its response.
func (pc *peerConn) request(ctx context.Context, cmd string, body any) error {
	ch := make(chan *transport.ControlResponse, 1)
	pc.mu.Lock()
	pc.nextID++
	id := pc.nextID
	pc.waiters[id] = ch
	pc.mu.Unlock()
	defer func() {
		pc.mu.Lock()
		delete(pc.waiters, id)
		pc.mu.Unlock()
	}()
	req, err := transport.NewControl(id, cmd, body)
	if err != nil {
		return err
	}
	pc.send(req)
	select {
	case resp := <-ch:
		return resp.Err()
	case <-pc.ctx.Done():
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "", "connection to the partner closed before it answered %s", cmd)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// respond delivers a response to the waiting request, if any.
func (pc *peerConn) respond(resp *transport.ControlResponse) {
	pc.mu.Lock()
	ch := pc.waiters[resp.ID]
	pc.mu.Unlock()
	if ch != nil {
		ch <- resp
	}
}

// writeLoop writes queued messages, flushing once per batch.
func (pc *peerConn) writeLoop() {
	for {
		select {
		case <-pc.ctx.Done():
			return
		case <-pc.wake:
		}
		pc.mu.Lock()
		q := pc.queue
		pc.queue = nil
		pc.mu.Unlock()
		for _, m := range q {
			if err := pc.c.WriteMessage(pc.ctx, m); err != nil {
				pc.close()
				return
			}
		}
		if err := pc.c.Flush(pc.ctx); err != nil {
			pc.close()
			return
		}
	}
}
