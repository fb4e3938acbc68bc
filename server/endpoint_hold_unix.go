//go:build unix

package server

import (
	"net"
	"syscall"
)

// holdListener keeps ln's socket listening after ln is closed, until the
// function it returns is called: it holds a second descriptor of the
// socket. Connections that arrive meanwhile wait in the kernel's queue
// and are reset when it is released; none is refused.
func holdListener(ln net.Listener) func() {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	fd := -1
	_ = rc.Control(func(f uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if d, err := syscall.Dup(int(f)); err == nil {
			syscall.CloseOnExec(d)
			fd = d
		}
	})
	return func() {
		if fd >= 0 {
			syscall.Close(fd)
			fd = -1
		}
	}
}
