package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
)

// How clusterd fences a peer (STONITH) through fence_virtd: multicast to 225.0.0.12:1229, sha256.
func Example() {
	key, err := os.ReadFile("/etc/cluster/fence_xvm.key")
	if err != nil {
		fmt.Println("no key:", err)
		return
	}
	var dev fencing.Device
	dev, err = client.New(client.Config{
		Key: key, Hash: xvm.HashSHA256, Auth: xvm.HashSHA256,
		CallbackPort: client.EphemeralPort, // concurrent requests do not queue for port 1229
		Timeout:      20 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch err := dev.Fence(ctx, "server1", fencing.Off); {
	case err == nil:
		fmt.Println("server1 is off: safe to take over its resources")
	case errors.Is(err, fencing.ErrDenied):
		fmt.Println("the fence daemon's static map refuses us")
	default:
		fmt.Println("fencing failed; do not recover:", err)
	}
}
