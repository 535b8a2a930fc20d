// Command waitdc is a benchmark helper: it polls a clusterd's status every millisecond until that node
// reports -dc as DC with quorum, then prints the milliseconds elapsed since -since (unix nanoseconds, the
// moment the benchmark killed the old DC). Exit 1 on timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/duet-ha/duet/cluster/client"
)

func main() {
	socket := flag.String("socket", client.DefaultSocket, "the survivor's API socket")
	dc := flag.String("dc", "", "the node that must become DC")
	sinceFile := flag.String("since-file", "", "file holding the start time in unix nanoseconds (written by the benchmark when it kills the DC)")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	c := client.New(*socket)
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err == nil && st.DC == *dc && st.Quorum.Quorate {
			at := time.Now()
			for i := 0; i < 2000; i++ { // the start time is written right after the kill
				if b, err := os.ReadFile(*sinceFile); err == nil && len(b) > 1 {
					ns, err := strconv.ParseInt(string(b[:len(b)-1]), 10, 64)
					if err == nil {
						fmt.Printf("%.1f\n", float64(at.UnixNano()-ns)/1e6)
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
			fmt.Fprintln(os.Stderr, "waitdc: no start time in", *sinceFile)
			os.Exit(1)
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "waitdc: timeout")
	os.Exit(1)
}
