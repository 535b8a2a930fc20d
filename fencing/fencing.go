// Package fencing defines what Duet asks of a fence device (STONITH): power a node off, on or cycle it,
// report its power state and list the nodes it can fence. Implementations: fencing/xvm/client (fence_xvm
// protocol against any fence_virtd) and the fence_virtd backends in fencing/virtd (libvirt, exec, netns).
package fencing

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Action is a power action that fences a target.
type Action int

// The actions a Device performs. Reboot powers the target off and then on again; a target that was
// already off stays off (as fence_virtd does).
const (
	Off Action = iota + 1
	On
	Reboot
)

// String returns the action's fence-agent name: off, on or reboot.
func (a Action) String() string {
	switch a {
	case Off:
		return "off"
	case On:
		return "on"
	case Reboot:
		return "reboot"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// ParseAction parses a fence-agent action name (off, on, reboot), case-insensitively.
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "off":
		return Off, nil
	case "on":
		return On, nil
	case "reboot":
		return Reboot, nil
	}
	return 0, fmt.Errorf("parse fence action %q: want off, on or reboot", s)
}

// PowerState is a target's power state as a fence device sees it.
type PowerState int

// Power states. Unknown is only returned together with an error.
const (
	Unknown PowerState = iota
	PoweredOn
	PoweredOff
)

// String returns "on", "off" or "unknown".
func (s PowerState) String() string {
	switch s {
	case PoweredOn:
		return "on"
	case PoweredOff:
		return "off"
	}
	return "unknown"
}

// Host is one target a device can fence.
type Host struct {
	Name  string     // the name fence requests use (a VM name, a node name)
	UUID  string     // textual UUID, or "" when the device has none
	State PowerState // power state at the time of listing
}

// Errors a Device returns (wrapped) when the caller must tell these cases apart.
var (
	// ErrNotFound: the device does not know the target. Status of an unknown target may instead report
	// PoweredOff, as fence_virtd does over the wire (it cannot tell the two apart).
	ErrNotFound = errors.New("fence target not found")
	// ErrDenied: the device refused the request for this target (fence_virtd's static map).
	ErrDenied = errors.New("fence request denied")
	// ErrFailed: the device tried and reported failure.
	ErrFailed = errors.New("fence operation failed")
	// ErrTimeout: no answer from the device in time; whether the target was fenced is unknown.
	ErrTimeout = errors.New("fence device did not answer")
)

// Device is a fence device: something that can cut a target's power. Every method blocks until the device
// has answered or ctx is done, and may be called from several goroutines at once. A nil error from Fence
// means the device confirmed the action; any error means the caller must not assume the target is down.
type Device interface {
	// Fence performs action on target (a VM or node name, or a UUID when the device supports that).
	Fence(ctx context.Context, target string, action Action) error
	// Status reports target's power state.
	Status(ctx context.Context, target string) (PowerState, error)
	// List returns the targets the device can fence, with their power states.
	List(ctx context.Context) ([]Host, error)
	// Monitor checks that the device itself is reachable and working (pacemaker's "monitor").
	Monitor(ctx context.Context) error
}
