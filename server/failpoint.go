package server

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// failpoint kills the process when name is the configured failpoint
// (Config.Failpoint, env SQLINK_FAILPOINT), so crash tests can stop the
// instance at each named step. With the suffix ":hold" (e.g.
// storage/wal-sync:hold) the goroutine that reaches it stops there for
// good instead, and the test kills the process when it has looked.
func (s *Server) failpoint(name string) {
	fp, mode, _ := strings.Cut(s.cfg.Failpoint, ":")
	if fp == "" || fp != name {
		return
	}
	if mode == "hold" {
		s.log.Error("failpoint reached: holding", "failpoint", name)
		fmt.Fprintf(os.Stderr, "sqlink: failpoint %s reached: holding\n", name)
		select {}
	}
	s.log.Error("failpoint reached: killing the process", "failpoint", name)
	fmt.Fprintf(os.Stderr, "sqlink: failpoint %s reached: SIGKILL\n", name)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

// storageFailpoint is the failpoint hook of the databases (nil when no
// storage failpoint is configured, so commits never call it).
func (s *Server) storageFailpoint() func(string) {
	if !strings.HasPrefix(s.cfg.Failpoint, "storage/") {
		return nil
	}
	return s.failpoint
}
