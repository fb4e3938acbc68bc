package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/server"
)

// The drain of a transaction left open on the primary (up to the drain
// timeout) shows under step 2, "stop writes on the primary", whichever
// instance ran the failover: run on the secondary, as the README does, it
// showed under step 3.
func TestFailoverSteps_DrainUnderStopWrites(t *testing.T) {
	const drain = 300 * time.Millisecond
	east, west := mustTwoWayPair(t, true, func(c *server.Config) { c.FailoverDrainTimeout = drain })
	waitRoles(t, east, west)
	ctx := context.Background()
	for _, run := range []struct {
		name     string
		primary  *node
		on       *node
		follower *node
	}{
		{"on the secondary", east, west, west},
		{"on the primary", west, west, east},
	} {
		c, err := run.primary.connect(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO items(body) VALUES ('left open')"); err != nil {
			t.Fatal(err)
		}
		res, err := run.on.failover(adminapi.FailoverRequest{})
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Steps) != 6 || res.Paused != "" {
			t.Fatalf("%s: result %+v", run.name, res)
		}
		if s := res.Steps[1]; s.Name != "stop writes on the primary" || s.Duration < drain.Seconds() {
			t.Errorf("%s: step 2 is %q, %.3f s; want the drain (at least %s) under it; steps:\n%+v", run.name, s.Name, s.Duration, drain, res.Steps)
		}
		waitRoles(t, run.follower, run.primary)
	}
}
