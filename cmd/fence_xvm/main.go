// Command fence_xvm is Duet's fence agent, compatible with fence-virt's fence_xvm (see fencing/xvm/agent).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/duet-ha/duet/fencing/xvm/agent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := agent.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
