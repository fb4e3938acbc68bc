package pgwire_test

import (
	"os"
	"testing"

	"github.com/sqlink/sqlink/pgwire"
)

// TestDevServer runs a server for manual poking when PGWIRE_DEV is set.
func TestDevServer(t *testing.T) {
	if os.Getenv("PGWIRE_DEV") == "" {
		t.Skip("set PGWIRE_DEV=1")
	}
	s := mustStartServer(t, pgwire.Config{})
	os.WriteFile(os.Getenv("PGWIRE_DEV"), []byte(s.port), 0o644)
	select {}
}
