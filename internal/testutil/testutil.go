// Package testutil holds helpers shared by sqlink's tests: polling with a
// deadline instead of sleeping, and free loopback ports.
package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// DefaultTimeout is how long RetryUntil polls by default. It is generous
// because CI machines are small and noisy; tests never depend on speed.
const DefaultTimeout = 60 * time.Second

// RetryUntil calls fn until it returns nil or timeout passes, then fails the
// test with fn's last error. It polls every few milliseconds, so a test waits
// only as long as the condition takes.
func RetryUntil(tb testing.TB, timeout time.Duration, fn func() error) {
	tb.Helper()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago. Prefer listening on 127.0.0.1:0 where the code allows it; this is for
// processes that must be told their address up front.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	// A port the kernel hands out for ":0" comes from the ephemeral range,
	// which every outgoing connection of every test also draws from: one
	// of them can take it between now and the server's listen. Ports
	// below that range are only taken by servers asking for them.
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
