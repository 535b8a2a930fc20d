// Command crm_mon is Duet's crm_mon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/duet-ha/duet/cluster/cli/crmmon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := crmmon.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
