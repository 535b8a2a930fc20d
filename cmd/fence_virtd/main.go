// Command fence_virtd is Duet's fence daemon, wire-compatible with fence-virtd (see fencing/virtd).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/duet-ha/duet/fencing/virtd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := virtd.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
