// Command crm is Duet's crm.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/duet-ha/duet/cluster/cli/crm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := crm.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
