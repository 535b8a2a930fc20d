// Package client is the typed Go client of clusterd's local API, used by crm, crm_mon and the tests.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/duet-ha/duet/cluster/api"
	"github.com/duet-ha/duet/cluster/store"
)

// DefaultSocket is where clusterd listens unless configured otherwise; the DUET_SOCKET environment variable
// overrides it for crm and crm_mon (handy with several nodes on one host).
var DefaultSocket = socketFromEnv()

func socketFromEnv() string {
	if s := os.Getenv("DUET_SOCKET"); s != "" {
		return s
	}
	return "/run/duet/clusterd.sock"
}

// Client talks to one clusterd. It is safe for concurrent use.
type Client struct {
	hc   *http.Client
	base string
	who  string // where it connects, for errors
}

// New returns a client for the unix socket at path.
func New(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 2,
	}
	return &Client{hc: &http.Client{Transport: tr}, base: "http://clusterd", who: path}
}

// NewHTTP returns a client that uses hc to reach base (the node-to-node RPC channel uses this).
func NewHTTP(hc *http.Client, base string) *Client {
	return &Client{hc: hc, base: base, who: base}
}

// Error is an error answer from clusterd.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrUnreachable wraps failures to reach clusterd at all.
var ErrUnreachable = errors.New("clusterd is not reachable")

// Status returns the node's current view.
func (c *Client) Status(ctx context.Context) (*api.Status, error) {
	var st api.Status
	if err := c.do(ctx, http.MethodGet, api.PathStatus, nil, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Submit sends a command; it returns the CIB epoch after the change.
func (c *Client) Submit(ctx context.Context, cmd store.Command) (api.CommandResult, error) {
	return c.submit(ctx, cmd, false)
}

// Forward sends a command on behalf of another node (it is not forwarded again).
func (c *Client) Forward(ctx context.Context, cmd store.Command) (api.CommandResult, error) {
	return c.submit(ctx, cmd, true)
}

func (c *Client) submit(ctx context.Context, cmd store.Command, forwarded bool) (api.CommandResult, error) {
	var res api.CommandResult
	body, err := cmd.Encode()
	if err != nil {
		return res, err
	}
	hdr := http.Header{}
	if forwarded {
		hdr.Set(api.HeaderForwarded, "1")
	}
	err = c.do(ctx, http.MethodPost, api.PathCommand, hdr, body, &res)
	return res, err
}

// Watch calls fn with the current status and after every change until ctx ends or fn returns an error.
func (c *Client) Watch(ctx context.Context, fn func(*api.Status) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+api.PathWatch, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.who, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var st api.Status
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			return fmt.Errorf("decode status stream: %w", err)
		}
		if err := fn(&st); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("status stream: %w", err)
	}
	return fmt.Errorf("status stream from %s ended", c.who)
}

func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.who, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode answer from %s: %w", c.who, err)
	}
	return nil
}

func readError(resp *http.Response) error {
	var e api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return &Error{Code: resp.StatusCode, Message: e.Error}
}
