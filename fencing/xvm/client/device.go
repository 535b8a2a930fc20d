package client

import (
	"context"
	"fmt"

	"github.com/duet-ha/duet/fencing"
	"github.com/duet-ha/duet/fencing/xvm"
)

// resultError turns a result byte other than success into an error that wraps the matching fencing error.
func resultError(what string, r xvm.Result) error {
	switch r {
	case xvm.ResultSuccess:
		return nil
	case xvm.ResultPerm:
		return fmt.Errorf("%s: %w", what, fencing.ErrDenied)
	case xvm.ResultFail:
		return fmt.Errorf("%s: %w", what, fencing.ErrFailed)
	}
	return fmt.Errorf("%s: %w: daemon answered %s", what, fencing.ErrFailed, r)
}

// Fence asks the daemon to power target off, on, or cycle it; nil means the daemon reported success.
func (c *Client) Fence(ctx context.Context, target string, action fencing.Action) error {
	var op xvm.Op
	switch action {
	case fencing.Off:
		op = xvm.OpOff
	case fencing.On:
		op = xvm.OpOn
	case fencing.Reboot:
		op = xvm.OpReboot
	default:
		return fmt.Errorf("fence %s: unknown action %v", target, action)
	}
	resp, err := c.Do(ctx, op, target)
	if err != nil {
		return fmt.Errorf("fence %s (%s) via fence_xvm: %w", target, action, err)
	}
	return resultError(fmt.Sprintf("fence %s (%s) via fence_xvm", target, action), resp.Result)
}

// Status asks the daemon for target's power state. fence_virtd answers "off" for an unknown target too.
func (c *Client) Status(ctx context.Context, target string) (fencing.PowerState, error) {
	resp, err := c.Do(ctx, xvm.OpStatus, target)
	if err != nil {
		return fencing.Unknown, fmt.Errorf("get status of %s via fence_xvm: %w", target, err)
	}
	switch resp.Result {
	case xvm.ResultSuccess:
		return fencing.PoweredOn, nil
	case xvm.ResultOff:
		return fencing.PoweredOff, nil
	}
	return fencing.Unknown, resultError(fmt.Sprintf("get status of %s via fence_xvm", target), resp.Result)
}

// List asks the daemon for the hosts it can fence. A VM counts as off only when libvirt says shut off,
// as status does.
func (c *Client) List(ctx context.Context) ([]fencing.Host, error) {
	resp, err := c.Do(ctx, xvm.OpHostList, "")
	if err != nil {
		return nil, fmt.Errorf("list hosts via fence_xvm: %w", err)
	}
	if resp.Result != xvm.ResultHostList {
		return nil, resultError("list hosts via fence_xvm", resp.Result)
	}
	hosts := make([]fencing.Host, 0, len(resp.Hosts))
	for _, h := range resp.Hosts {
		st := fencing.PoweredOn
		if h.State == xvm.StateShutoff {
			st = fencing.PoweredOff
		}
		hosts = append(hosts, fencing.Host{Name: h.Domain, UUID: h.UUID, State: st})
	}
	return hosts, nil
}

// Monitor asks the daemon whether its backend works (fence_xvm -o monitor).
func (c *Client) Monitor(ctx context.Context) error {
	resp, err := c.Do(ctx, xvm.OpDevStatus, "")
	if err != nil {
		return fmt.Errorf("monitor fence_virtd: %w", err)
	}
	return resultError("monitor fence_virtd", resp.Result)
}
