package interop

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
	"github.com/duet-ha/duet/fencing/xvm/client"
	"github.com/duet-ha/duet/internal/nettest"
)

// TestConcurrentEphemeralCallbacks: with CallbackPort = EphemeralPort, concurrent requests from one host
// each get their own callback port, against both daemons.
func TestConcurrentEphemeralCallbacks(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needReal(t)
	_, duetVirtd := binaries(t)
	for _, d := range []struct{ name, bin string }{{"Duet fence_virtd", duetVirtd}, {"real fence_virtd", "fence_virtd"}} {
		t.Run(d.name, func(t *testing.T) {
			fv, n1 := topology(t, false)
			dir := t.TempDir()
			startDaemon(t, fv, d.bin, writeFile(t, dir, "f.conf", mcastConf(writeFile(t, dir, "key", testKey), "ipv4", "")), false)
			c, err := client.New(client.Config{Key: []byte(testKey), Hash: xvm.HashSHA256, Auth: xvm.HashSHA256,
				CallbackPort: client.EphemeralPort, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- n1.Do(func() error {
						st, err := c.Status(context.Background(), "test")
						if err == nil && st != fencing.PoweredOn {
							err = fmt.Errorf("status %v", st)
						}
						return err
					})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
