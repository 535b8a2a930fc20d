package server

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadUnderLoad reloads the configuration repeatedly while clients keep sending requests on keep-alive
// connections: no request fails.
func TestReloadUnderLoad(t *testing.T) {
	b1, b2 := startBackend(t, "s1"), startBackend(t, "s2")
	p := freePort(t)
	text := defaults + `
listen web
    bind 127.0.0.1:{P}
    balance {ALGO}
    server s1 127.0.0.1:{B1}
    server s2 127.0.0.1:{B2}
`
	vars := func(algo string) map[string]any {
		return map[string]any{"P": p, "B1": b1.port, "B2": b2.port, "ALGO": algo}
	}
	s := startProxy(t, text, vars("roundrobin"))
	var failures, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for i := 0; i < 400; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", p))
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	for i := 0; i < 6; i++ {
		algo := []string{"leastconn", "roundrobin", "static-rr"}[i%3]
		if err := s.Reload(mustConfig(t, text, vars(algo))); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests failed across reloads", failures.Load(), done.Load()+failures.Load())
	}
	if done.Load() == 0 {
		t.Error("no request completed")
	}
}
