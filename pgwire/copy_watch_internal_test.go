package pgwire

import (
	"io"
	"log/slog"
	"net"
	"testing"
)

// While COPY FROM reads the socket itself, the disconnect watch must not
// read it too: two readers of one socket would take each other's bytes of
// the COPY data. holdSocketWatch keeps a watch that fires from reading.
func TestHoldSocketWatchKeepsTheWatchOff(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &clientConn{nc: a, log: slog.Default(), running: true}
	c.sock = &sockReader{nc: a, used: true}
	c.holdSocketWatch()
	go b.Write([]byte("copy data"))
	c.watchSocket() // the watch timer fires: it must return without reading
	if len(c.sock.buf) != 0 {
		t.Fatalf("the watch read %q ahead", c.sock.buf)
	}
	got := make([]byte, 9)
	if _, err := io.ReadFull(c.sock, got); err != nil || string(got) != "copy data" {
		t.Fatalf("read %q, %v", got, err)
	}
	// The statement's end lifts the hold.
	c.running = false
	c.stopWatch()
	if c.watchDone != nil {
		t.Fatal("the hold outlived the statement")
	}
}
