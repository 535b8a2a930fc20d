// Command namesrv is the demo's stand-in service: an HTTP server that answers every request with the name
// of the host it runs on, found by matching the host's addresses against -names (ADDR=NAME,...), and, with
// -via, the name of the proxy node the request came through ("rs1 via n1").
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	names := flag.String("names", "", "ADDR=NAME,... mapping host addresses to node names")
	via := flag.String("via", "", "ADDR=NAME,...: also say which of these clients (a proxy) the request came through")
	flag.Parse()
	viaNames := map[string]string{}
	for _, pair := range strings.Split(*via, ",") {
		if a, n, ok := strings.Cut(pair, "="); ok {
			viaNames[a] = n
		}
	}
	name, _ := os.Hostname()
	addrs, _ := net.InterfaceAddrs()
	for _, pair := range strings.Split(*names, ",") {
		a, n, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		for _, ha := range addrs {
			if ipn, ok := ha.(*net.IPNet); ok && ipn.IP.String() == a {
				name = n
			}
		}
	}
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if n, ok := viaNames[host]; ok {
			fmt.Fprintf(w, "%s via %s\n", name, n)
			return
		}
		fmt.Fprintln(w, name)
	})}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "namesrv:", err)
		os.Exit(1)
	}
}
