//go:build !unix

package server

import "net"

// holdListener does nothing here: the endpoint stops listening when it is
// closed (a partner may then take over a little before the databases are
// closed).
func holdListener(net.Listener) func() { return func() {} }
