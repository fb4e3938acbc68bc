package pgwire

import (
	"net"
	"sync"
	"time"
)

// A client that disconnects while its statement runs must not leave the
// statement running (holding the write lock, blocking every writer) until
// it ends by itself. Between statements the connection's goroutine reads
// the socket and sees the end of the stream at once; while a statement
// runs nobody reads it. So once a statement has run for watchDelay, a
// timer goroutine reads the socket ahead (watchSocket) into the
// connection's sockReader: the end of the stream or a reset cancels the
// statement and ends the session, bytes the client sent meanwhile (a
// pipelined message) are kept for the connection's goroutine, which reads
// them first. The statement's end stops the watch with a read deadline.
//
// Statements shorter than watchDelay pay only for resetting and stopping
// a timer: no goroutine, no system call.

// watchDelay is how long a statement runs before its socket is watched: long
// enough that short statements never start a watch, short enough that a
// dead client's statement is stopped well within a second.
const watchDelay = 100 * time.Millisecond

// maxReadAhead bounds what a watch buffers of a live client's pipelined
// messages; beyond it the watch stops (the client is alive).
const maxReadAhead = 64 << 10

// sockReader is what the protocol backend reads the socket through. It is
// safe for concurrent use, but only one goroutine reads at a time: the
// connection's goroutine between statements, a watch during one.
type sockReader struct {
	nc net.Conn

	mu   sync.Mutex
	buf  []byte // read ahead by a watch, not yet consumed
	err  error  // the end of the stream or a reset seen by a watch
	used bool   // Read was called since the last reset
}

// inUse reports whether the protocol backend has read through r since
// the session started. A backend rebuilt over another reader (a TLS
// connection made over nc, say) leaves it false, and then nc is never
// read ahead: the bytes would be lost to that backend.
func (r *sockReader) inUse() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.used
}

// reset forgets earlier reads; see inUse.
func (r *sockReader) reset() {
	r.mu.Lock()
	r.used = false
	r.mu.Unlock()
}

func (r *sockReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	r.used = true
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		r.mu.Unlock()
		return n, nil
	}
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return 0, err
	}
	r.mu.Unlock()
	return r.nc.Read(p)
}

// readAhead reads the socket until it ends (gone is true), a read deadline
// passes or maxReadAhead bytes are buffered.
func (r *sockReader) readAhead() (gone bool) {
	var tmp [4096]byte
	for {
		n, err := r.nc.Read(tmp[:])
		r.mu.Lock()
		r.buf = append(r.buf, tmp[:n]...)
		full := len(r.buf) >= maxReadAhead
		gone = err != nil && !isTimeout(err)
		if gone {
			r.err = err
		}
		r.mu.Unlock()
		if err != nil || full {
			return gone
		}
	}
}

// watchSocket runs on the watch timer while a statement runs; see above.
func (c *clientConn) watchSocket() {
	c.mu.Lock()
	if !c.running || c.watchDone != nil || c.fatal != nil || c.sock == nil || c.sock.nc != c.nc || !c.sock.inUse() {
		c.mu.Unlock()
		return
	}
	done := make(chan struct{})
	c.watchDone = done
	// An idle-in-transaction deadline set before this statement must not
	// end the watch; a terminated session has c.fatal set and is not
	// watched.
	_ = c.nc.SetReadDeadline(time.Time{})
	c.deadline = false
	c.mu.Unlock()
	gone := c.sock.readAhead()
	close(done)
	if gone {
		c.log.Info("pgwire: client disconnected while its statement ran; cancelling it", "pid", c.pid, "user", c.user, "database", c.database)
		c.terminate(errClientGone)
	}
}

// stopWatch ends the socket watch of the statement that just ended, if
// one runs, and waits for it; c.running is already false.
func (c *clientConn) stopWatch() {
	c.mu.Lock()
	done := c.watchDone
	if done != nil {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
	if done == nil {
		return
	}
	<-done
	c.mu.Lock()
	c.watchDone = nil
	if c.fatal == nil {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
	c.mu.Unlock()
}

// errClientGone ends a session whose client disconnected mid-statement;
// nobody reads it.
var errClientGone = newPgError("08006", "terminating connection because the client disconnected")
