package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/resources/executor"
)

type execRPC struct {
	hc   *http.Client
	addr string
}

func execClient(hc *http.Client, addr string) execRPC { return execRPC{hc: hc, addr: addr} }

// Exec posts an operation to a node's RPC endpoint and returns its result.
func (c execRPC) Exec(ctx context.Context, req executor.Request) (executor.Result, error) {
	var res executor.Result
	body, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.addr+api.PathExec, bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return res, fmt.Errorf("exec on %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("exec on %s: HTTP %d: %s", c.addr, resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("exec on %s: decode result: %w", c.addr, err)
	}
	return res, nil
}
