package server

import (
	"fmt"
	"os"
	"syscall"
)

// failpoint kills the process when name is the configured failpoint
// (Config.Failpoint, env SQLINK_FAILPOINT), so crash tests can stop the
// instance at each named step.
func (s *Server) failpoint(name string) {
	if s.cfg.Failpoint == "" || s.cfg.Failpoint != name {
		return
	}
	s.log.Error("failpoint reached: killing the process", "failpoint", name)
	fmt.Fprintf(os.Stderr, "sqlink: failpoint %s reached: SIGKILL\n", name)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
