package xvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Address families as the request's family field carries them (Linux values).
const (
	FamilyNone  uint32 = 0 // TCP and vsock modes
	FamilyInet  uint32 = 2
	FamilyInet6 uint32 = 10
)

// FlagUUID is set by fence_xvm -u; daemons ignore it and decide by parsing the domain.
const FlagUUID uint8 = 0x01

// Field offsets inside the 176-byte request.
const (
	offOp      = 0
	offHash    = 1
	offAddrLen = 2
	offFlags   = 3
	offDomain  = 4
	offAddress = 68
	offPort    = 96
	offRandom  = 98
	offSeqno   = 104
	offFamily  = 108
	offDigest  = 112
)

// Request is a decoded fence_req_t. Callback (multicast mode) is where the daemon connects back: the
// address is the raw address field read according to Family, the port the port field.
type Request struct {
	Op         Op
	Hash       HashType
	AddrLen    uint8 // 4 or 16 in multicast mode, 0 in TCP mode; only counted in the signature
	Flags      uint8
	Domain     string     // VM name or UUID, at most MaxDomainLen bytes, no NUL
	Address    netip.Addr // callback address; invalid (zero) in TCP mode
	Port       uint16     // callback TCP port; 0 in TCP mode
	Random     [6]byte
	Seqno      uint32
	Family     uint32 // FamilyInet, FamilyInet6 or FamilyNone
	Digest     [DigestSize]byte
	RawAddress [28]byte // the whole address field as received; Encode starts from it, so Decode+Encode is exact
}

// Errors returned by Decode and Verify.
var (
	ErrLength       = errors.New("wrong request length")
	ErrDomain       = errors.New("bad domain")
	ErrHashTooWeak  = errors.New("hash type not strong enough")
	ErrUnknownHash  = errors.New("unknown hash type")
	ErrNoKey        = errors.New("signed request but no key loaded")
	ErrBadSignature = errors.New("request signature mismatch")
)

// Encode returns the 176 wire bytes of r, Digest included as it is.
// It fails if the domain is too long or holds a NUL, or the address does not fit the family.
func (r *Request) Encode() ([RequestSize]byte, error) {
	var b [RequestSize]byte
	if len(r.Domain) > MaxDomainLen {
		return b, fmt.Errorf("encode request: %w: %d bytes, at most %d", ErrDomain, len(r.Domain), MaxDomainLen)
	}
	if strings.IndexByte(r.Domain, 0) >= 0 {
		return b, fmt.Errorf("encode request: %w: contains NUL", ErrDomain)
	}
	b[offOp] = byte(r.Op)
	b[offHash] = byte(r.Hash)
	b[offAddrLen] = r.AddrLen
	b[offFlags] = r.Flags
	copy(b[offDomain:offDomain+64], r.Domain)
	copy(b[offAddress:offAddress+28], r.RawAddress[:])
	if r.Address.IsValid() {
		switch {
		case r.Family == FamilyInet && r.Address.Is4():
			a := r.Address.As4()
			copy(b[offAddress:], a[:])
		case r.Family == FamilyInet6 && (r.Address.Is6() || r.Address.Is4()):
			a := r.Address.As16()
			copy(b[offAddress:], a[:])
		default:
			return b, fmt.Errorf("encode request: address %s does not fit family %d", r.Address, r.Family)
		}
	}
	binary.LittleEndian.PutUint16(b[offPort:], r.Port)
	copy(b[offRandom:offRandom+6], r.Random[:])
	binary.LittleEndian.PutUint32(b[offSeqno:], r.Seqno)
	binary.LittleEndian.PutUint32(b[offFamily:], r.Family)
	copy(b[offDigest:], r.Digest[:])
	return b, nil
}

// Decode parses a request. It checks only the shape (length, domain NUL-terminated inside its 64 bytes);
// Verify checks the signature. Bad input returns an error, never panics.
func Decode(pkt []byte) (Request, error) {
	var r Request
	if len(pkt) != RequestSize {
		return r, fmt.Errorf("decode request: %w: %d bytes, want %d", ErrLength, len(pkt), RequestSize)
	}
	dom := pkt[offDomain : offDomain+64]
	n := 0
	for n < len(dom) && dom[n] != 0 {
		n++
	}
	if n > MaxDomainLen {
		return r, fmt.Errorf("decode request: %w: not NUL-terminated", ErrDomain)
	}
	r.Op = Op(pkt[offOp])
	r.Hash = HashType(pkt[offHash])
	r.AddrLen = pkt[offAddrLen]
	r.Flags = pkt[offFlags]
	r.Domain = string(dom[:n])
	r.Port = binary.LittleEndian.Uint16(pkt[offPort:])
	copy(r.Random[:], pkt[offRandom:offRandom+6])
	r.Seqno = binary.LittleEndian.Uint32(pkt[offSeqno:])
	r.Family = binary.LittleEndian.Uint32(pkt[offFamily:])
	copy(r.Digest[:], pkt[offDigest:])
	copy(r.RawAddress[:], pkt[offAddress:offAddress+28])
	switch r.Family {
	case FamilyInet:
		r.Address = netip.AddrFrom4([4]byte(pkt[offAddress : offAddress+4]))
	case FamilyInet6:
		r.Address = netip.AddrFrom16([16]byte(pkt[offAddress : offAddress+16]))
	}
	return r, nil
}

// Sign sets r.Hash to h, fills r.Random from rnd when h is not HashNone (zeros otherwise), computes
// the digest H(key || bytes 0..111 || 64 zero bytes) into r.Digest and returns the wire bytes.
func (r *Request) Sign(key []byte, h HashType, rnd io.Reader) ([RequestSize]byte, error) {
	if !h.Valid() {
		return [RequestSize]byte{}, fmt.Errorf("sign request: %w: %d", ErrUnknownHash, h)
	}
	r.Hash = h
	r.Random = [6]byte{}
	r.Digest = [DigestSize]byte{}
	if h != HashNone {
		if _, err := io.ReadFull(rnd, r.Random[:]); err != nil {
			return [RequestSize]byte{}, fmt.Errorf("sign request: read random bytes: %w", err)
		}
	}
	b, err := r.Encode()
	if err != nil {
		return b, fmt.Errorf("sign request: %w", err)
	}
	if h != HashNone {
		r.Digest = h.Sum(key, b[:])
		copy(b[offDigest:], r.Digest[:])
	}
	return b, nil
}

// Verify checks a received request's signature the way fence_virtd does: the request's hash type must be
// at least min; an unsigned request passes only when min is HashNone; a signed one needs a key and a
// digest that matches in all 64 bytes (padding included).
func Verify(pkt []byte, key []byte, min HashType) error {
	if len(pkt) != RequestSize {
		return fmt.Errorf("verify request: %w: %d bytes, want %d", ErrLength, len(pkt), RequestSize)
	}
	h := HashType(pkt[offHash])
	if h < min {
		return fmt.Errorf("verify request: %w (%s < %s)", ErrHashTooWeak, h, min)
	}
	if h == HashNone {
		return nil
	}
	if !h.Valid() {
		return fmt.Errorf("verify request: %w: %d", ErrUnknownHash, uint8(h))
	}
	if len(key) == 0 {
		return fmt.Errorf("verify request: %w", ErrNoKey)
	}
	var tmp [RequestSize]byte
	copy(tmp[:], pkt)
	clear(tmp[offDigest:])
	want := h.Sum(key, tmp[:])
	if !equal64(want[:], pkt[offDigest:]) {
		return fmt.Errorf("verify request: %w", ErrBadSignature)
	}
	return nil
}
