// Package xvm is the fence_xvm / fence_virtd wire format (fence-agents 4.12.1, XVM 1.9.0): the 176-byte
// request, its signature, the challenge-response, the result byte and the hostlist stream. It does no
// network I/O and keeps no state: the exchange helpers read and write an io.Reader / io.Writer that the
// caller owns (and puts deadlines on). Multi-byte integers are little-endian, as amd64 senders write them.
package xvm

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"strings"
)

// Sizes of the wire structures, in bytes.
const (
	RequestSize    = 176 // fence_req_t
	HostRecordSize = 130 // host_state_t
	ChallengeSize  = 64  // a challenge, and an answer (digest padded with zeros)
	DigestSize     = 64  // the hash field of a request
	MaxDomainLen   = 63  // longest domain (VM name or UUID) a request can carry
	MaxKeyLen      = 4096
	DefaultPort    = 1229
)

// Default multicast groups.
const (
	DefaultGroupIPv4 = "225.0.0.12"
	DefaultGroupIPv6 = "ff05::3:1"
)

// Op is a request's operation code.
type Op uint8

// Operation codes. OpMetadata and OpValidateAll are handled by the client and never sent.
const (
	OpNull        Op = 0
	OpOff         Op = 1
	OpReboot      Op = 2
	OpOn          Op = 3
	OpStatus      Op = 4
	OpDevStatus   Op = 5 // "monitor"
	OpHostList    Op = 6 // "list", "list-status"
	OpMetadata    Op = 7
	OpValidateAll Op = 8
)

var opNames = map[Op]string{OpNull: "null", OpOff: "off", OpReboot: "reboot", OpOn: "on", OpStatus: "status",
	OpDevStatus: "monitor", OpHostList: "list", OpMetadata: "metadata", OpValidateAll: "validate-all"}

// String returns the fence-agent action name of o.
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// ParseOp parses a fence-agent action name case-insensitively; "list-status" is OpHostList.
func ParseOp(s string) (Op, error) {
	l := strings.ToLower(s)
	if l == "list-status" {
		return OpHostList, nil
	}
	for o, n := range opNames {
		if n == l {
			return o, nil
		}
	}
	return 0, fmt.Errorf("parse operation %q: unsupported", s)
}

// NeedsDomain reports whether a request with this op must name a domain.
func (o Op) NeedsDomain() bool {
	return o != OpDevStatus && o != OpHostList && o != OpMetadata && o != OpValidateAll
}

// HashType selects the digest used for request signatures and for the challenge-response.
// The numeric order is the strength order: a daemon accepts any request hash >= its minimum.
type HashType uint8

// Hash types.
const (
	HashNone   HashType = 0
	HashSHA1   HashType = 1
	HashSHA256 HashType = 2
	HashSHA512 HashType = 3
)

// String returns none, sha1, sha256 or sha512.
func (h HashType) String() string {
	switch h {
	case HashNone:
		return "none"
	case HashSHA1:
		return "sha1"
	case HashSHA256:
		return "sha256"
	case HashSHA512:
		return "sha512"
	}
	return fmt.Sprintf("hash(%d)", uint8(h))
}

// ParseHash parses none, sha1, sha256 or sha512, case-insensitively.
func ParseHash(s string) (HashType, error) {
	switch strings.ToLower(s) {
	case "none":
		return HashNone, nil
	case "sha1":
		return HashSHA1, nil
	case "sha256":
		return HashSHA256, nil
	case "sha512":
		return HashSHA512, nil
	}
	return 0, fmt.Errorf("parse hash %q: want none, sha1, sha256 or sha512", s)
}

// Valid reports whether h is one of the four known hash types.
func (h HashType) Valid() bool { return h <= HashSHA512 }

func (h HashType) new() hash.Hash {
	switch h {
	case HashSHA1:
		return sha1.New()
	case HashSHA256:
		return sha256.New()
	case HashSHA512:
		return sha512.New()
	}
	return nil
}

// Sum returns H(key || parts...) zero-padded to 64 bytes, the form every digest takes on the wire.
// For HashNone and unknown types it returns 64 zero bytes.
func (h HashType) Sum(key []byte, parts ...[]byte) [DigestSize]byte {
	var out [DigestSize]byte
	hh := h.new()
	if hh == nil {
		return out
	}
	hh.Write(key)
	for _, p := range parts {
		hh.Write(p)
	}
	copy(out[:], hh.Sum(nil))
	return out
}

func equal64(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Result is the one byte a daemon answers with.
type Result uint8

// Result codes.
const (
	ResultSuccess  Result = 0    // success; for status: on
	ResultFail     Result = 1    // failure, unknown op, unknown VM for on/off/reboot
	ResultOff      Result = 2    // status: off (or unknown VM)
	ResultPerm     Result = 3    // refused by the static map
	ResultHostList Result = 0xFD // a hostlist stream follows
)

// String names the result.
func (r Result) String() string {
	switch r {
	case ResultSuccess:
		return "success"
	case ResultFail:
		return "fail"
	case ResultOff:
		return "off"
	case ResultPerm:
		return "permission denied"
	case ResultHostList:
		return "hostlist"
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}
