// Command sqlink runs and manages sqlink instances.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sqlink/sqlink/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewMain().Run(ctx, os.Args[1:])
	stop()
	os.Exit(cli.ExitCode(err))
}
