package xvm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func testKey(t *testing.T) []byte {
	t.Helper()
	k, err := os.ReadFile("testdata/test.key")
	if err != nil {
		t.Fatal(err)
	}
	if string(k) != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("unexpected test key %q", k)
	}
	return k
}

// vectors: every capture, with the challenge-response hash the daemon used and the listener mode.
var vectors = []struct {
	file          string
	auth          HashType
	clientListens bool // multicast mode: the daemon connects back to the client's port 1229
	minDatagrams  int
	minConns      int
}{
	{"mcast_ipv4_sha256.pcap", HashSHA256, true, 5, 5},
	{"mcast_ipv4_hash-sha1_auth-sha512_groups.pcap", HashSHA512, true, 3, 3},
	{"mcast_ipv4_hash-none_auth-none.pcap", HashNone, true, 1, 1},
	{"mcast_ipv6_udp.pcap", HashSHA256, true, 1, 0},
	{"mcast_ipv6_tcp_callback.pcap", HashSHA256, true, 0, 2},
	{"tcp_listener_sha256.pcap", HashSHA256, false, 0, 1},
}

// wrongKeySeqno is the request of vector H, sent twice with a key other than test.key.
const wrongKeySeqno = 775485

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vector A of fence_xvm.md section 6, field by field.
func TestDecodeVectorA(t *testing.T) {
	pkt := hexBytes(t, `
0402040074657374000000000000000000000000000000000000000000000000
0000000000000000000000000000000000000000000000000000000000000000
000000007f000001000000000000000000000000000000000000000000000000
cd04068149837c811d0d0d00020000005bfe9fc62158e1c34a5fa1fd5558ab34
226aaf6e3759ddad12c6da66c55333b700000000000000000000000000000000
00000000000000000000000000000000`)
	r, err := Decode(pkt)
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Op: OpStatus, Hash: HashSHA256, AddrLen: 4, Domain: "test",
		Address: netip.MustParseAddr("127.0.0.1"), Port: 1229, Random: [6]byte{0x06, 0x81, 0x49, 0x83, 0x7c, 0x81},
		Seqno: 855325, Family: FamilyInet}
	copy(want.Digest[:], pkt[112:])
	copy(want.RawAddress[:], pkt[68:96])
	if r != want {
		t.Fatalf("decode vector A:\n got %+v\nwant %+v", r, want)
	}
	if err := Verify(pkt, testKey(t), HashSHA256); err != nil {
		t.Fatalf("verify vector A: %v", err)
	}
}

// Every captured datagram decodes, re-encodes to the same bytes, verifies against test.key, and signing
// its fields again with its own random bytes reproduces it exactly.
func TestCapturedDatagrams(t *testing.T) {
	key := testKey(t)
	for _, v := range vectors {
		t.Run(v.file, func(t *testing.T) {
			c := readPcap(t, v.file)
			n := 0
			for _, d := range c.UDP {
				if d.Dst.Port() != DefaultPort {
					continue
				}
				n++
				r, err := Decode(d.Payload)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				enc, err := r.Encode()
				if err != nil || !bytes.Equal(enc[:], d.Payload) {
					t.Fatalf("re-encode differs (err %v):\n got %x\nwant %x", err, enc, d.Payload)
				}
				if err := Verify(d.Payload, key, r.Hash); err != nil {
					// Vector H: the capture holds two copies signed with a wrong key (the real daemon
					// dropped them); every other datagram must verify.
					if r.Seqno == wrongKeySeqno && errors.Is(err, ErrBadSignature) {
						continue
					}
					t.Fatalf("verify seqno %d with test.key: %v", r.Seqno, err)
				}
				if r.Address != d.Src.Addr() && r.Family == FamilyInet {
					t.Errorf("address field %s, UDP source %s", r.Address, d.Src.Addr())
				}
				if r.Port != DefaultPort {
					t.Errorf("port field %d", r.Port)
				}
				again := r
				again.Digest = [DigestSize]byte{}
				signed, err := again.Sign(key, r.Hash, bytes.NewReader(r.Random[:]))
				if err != nil || !bytes.Equal(signed[:], d.Payload) {
					t.Fatalf("re-sign differs (err %v):\n got %x\nwant %x", err, signed, d.Payload)
				}
				if r.Hash != HashNone {
					if err := Verify(d.Payload, []byte("wrong key"), HashNone); !errors.Is(err, ErrBadSignature) {
						t.Errorf("verify with wrong key: %v, want ErrBadSignature", err)
					}
				}
			}
			if n < v.minDatagrams {
				t.Fatalf("found %d datagrams, want at least %d", n, v.minDatagrams)
			}
		})
	}
}

// fakeConn replays one side of a captured stream and records what the code under test writes.
type fakeConn struct {
	in  io.Reader
	out bytes.Buffer
}

func (f *fakeConn) Read(p []byte) (int, error)  { return f.in.Read(p) }
func (f *fakeConn) Write(p []byte) (int, error) { return f.out.Write(p) }

// Both halves of every captured challenge-response are replayed: given the challenge the real peer chose
// as its random input, ClientAuth writes exactly what the real fence_xvm wrote, and DaemonAuth exactly
// what the real fence_virtd wrote. Then the result byte or hostlist is decoded.
func TestCapturedExchanges(t *testing.T) {
	key := testKey(t)
	for _, v := range vectors {
		t.Run(v.file, func(t *testing.T) {
			c := readPcap(t, v.file)
			conns, mismatches := 0, 0
			for _, cn := range c.TCP {
				c2d, d2c := cn.split(v.clientListens)
				if len(c2d) == 0 && len(d2c) == 0 {
					continue
				}
				conns++
				if !v.clientListens {
					if len(c2d) < RequestSize {
						t.Fatalf("TCP mode stream shorter than a request: %d", len(c2d))
					}
					r, err := Decode(c2d[:RequestSize])
					if err != nil {
						t.Fatal(err)
					}
					if err := Verify(c2d[:RequestSize], key, HashSHA256); err != nil {
						t.Fatalf("verify TCP-mode request: %v", err)
					}
					if r.Family != FamilyNone || r.Port != 0 || r.AddrLen != 0 || r.Address.IsValid() {
						t.Errorf("TCP-mode request carries callback fields: %+v", r)
					}
					c2d = c2d[RequestSize:]
				}
				authLen := 0
				if v.auth != HashNone && len(c2d) < 2*ChallengeSize {
					// The auth-mismatch capture: the client used sha512 against a sha256 daemon, rejected
					// the daemon's answer and closed after its challenge.
					cl := &fakeConn{in: bytes.NewReader(d2c)}
					if err := ClientAuth(cl, key, HashSHA512, bytes.NewReader(c2d[:ChallengeSize])); !errors.Is(err, ErrAuth) {
						t.Fatalf("client auth replay with sha512: %v, want ErrAuth", err)
					}
					if !bytes.Equal(cl.out.Bytes(), c2d) {
						t.Fatalf("client wrote %x, real client %x", cl.out.Bytes(), c2d)
					}
					dm := &fakeConn{in: bytes.NewReader(c2d)}
					if err := DaemonAuth(dm, key, v.auth, bytes.NewReader(d2c[ChallengeSize:])); err == nil {
						t.Fatal("daemon auth succeeded on a stream the client cut")
					}
					if !bytes.Equal(dm.out.Bytes(), d2c) {
						t.Fatalf("daemon wrote %x, real daemon %x", dm.out.Bytes(), d2c)
					}
					mismatches++
					continue
				}
				if v.auth != HashNone {
					authLen = 2 * ChallengeSize
					// Client side: its random input is its own challenge.
					cl := &fakeConn{in: bytes.NewReader(d2c)}
					if err := ClientAuth(cl, key, v.auth, bytes.NewReader(c2d[:ChallengeSize])); err != nil {
						t.Fatalf("client auth replay: %v", err)
					}
					if !bytes.Equal(cl.out.Bytes(), c2d[:authLen]) {
						t.Fatalf("client wrote %x\nreal client wrote %x", cl.out.Bytes(), c2d[:authLen])
					}
					// Daemon side: its random input is the daemon's challenge.
					dm := &fakeConn{in: bytes.NewReader(c2d)}
					if err := DaemonAuth(dm, key, v.auth, bytes.NewReader(d2c[ChallengeSize:authLen])); err != nil {
						t.Fatalf("daemon auth replay: %v", err)
					}
					if !bytes.Equal(dm.out.Bytes(), d2c[:authLen]) {
						t.Fatalf("daemon wrote %x\nreal daemon wrote %x", dm.out.Bytes(), d2c[:authLen])
					}
					// A wrong key fails on both sides.
					bad := &fakeConn{in: bytes.NewReader(d2c)}
					if err := ClientAuth(bad, []byte("other"), v.auth, bytes.NewReader(c2d[:ChallengeSize])); !errors.Is(err, ErrAuth) {
						t.Fatalf("client auth with wrong key: %v", err)
					}
					bad = &fakeConn{in: bytes.NewReader(c2d)}
					if err := DaemonAuth(bad, []byte("other"), v.auth, bytes.NewReader(d2c[ChallengeSize:authLen])); !errors.Is(err, ErrAuth) {
						t.Fatalf("daemon auth with wrong key: %v", err)
					}
				}
				rest := d2c[authLen:]
				if len(rest) == 0 {
					t.Fatalf("no result byte")
				}
				if Result(rest[0]) == ResultHostList {
					hosts, err := ReadHostList(bytes.NewReader(rest[1:]))
					if err != nil {
						t.Fatalf("read hostlist: %v", err)
					}
					consumed := 1 + (len(hosts)+1)*HostRecordSize
					if len(rest) != consumed+1 {
						t.Errorf("hostlist: %d bytes after records, want the final byte only", len(rest)-consumed)
					}
					for _, h := range hosts {
						if h.Domain != "test" || h.UUID != "6695eb01-f6a4-8304-79aa-97f2502e193f" || (h.State != StateRunning && h.State != StateShutoff) {
							t.Errorf("unexpected host record %+v", h)
						}
					}
				} else if len(rest) != 1 || rest[0] > byte(ResultPerm) {
					t.Errorf("result stream %x, want one result byte", rest)
				}
			}
			if v.file == "mcast_ipv4_sha256.pcap" && mismatches != 1 {
				t.Errorf("found %d auth-mismatch connections, want 1", mismatches)
			}
			if conns < v.minConns {
				t.Fatalf("found %d connections, want at least %d", conns, v.minConns)
			}
		})
	}
}

// Vector B: the hostlist with the real daemon's uninitialized bytes at 63, 127 and 129.
func TestHostListVectorB(t *testing.T) {
	// The 262 bytes after the challenge-response, as printed in fence_xvm.md section 6 B.
	all := hexBytes(t, `
fd74657374000000000000000000000000000000000000000000000000000000
0000000000000000000000000000000000000000000000000000000000000000
3336363935656230312d663661342d383330342d373961612d39376632353032
6531393366000000000000000000000000000000000000000000000000000000
fe010d0000000000000000000000000000000000000000000000000000000000
0000000000000000000000000000000000000000000000000000000000000000
0000000000000000000000000000000000000000000000000000000000000000
0000000000000000000000000000000000000000000000000000000000000000
000000000000`)
	if len(all) != 262 || all[0] != 0xfd {
		t.Fatalf("vector B has %d bytes", len(all))
	}
	stream := all[1:]
	hosts, err := ReadHostList(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	want := HostRecord{Domain: "test", UUID: "6695eb01-f6a4-8304-79aa-97f2502e193f", State: StateRunning}
	if len(hosts) != 1 || hosts[0] != want {
		t.Fatalf("got %+v, want [%+v]", hosts, want)
	}
	var buf bytes.Buffer
	if err := WriteHostList(&buf, hosts, ResultSuccess); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if got[0] != 0xfd || len(got) != 1+2*HostRecordSize+1 {
		t.Fatalf("written hostlist has %d bytes", len(got))
	}
	enc := want.Encode()
	if enc[63] != 0 || enc[127] != 0 || enc[129] != 0 {
		t.Fatalf("Duet writes garbage where the real daemon leaves it: %x", enc)
	}
	// Everything but the three uninitialized bytes matches the capture.
	real := stream[:HostRecordSize]
	for i := range enc {
		if i == 63 || i == 127 || i == 129 {
			continue
		}
		if enc[i] != real[i] {
			t.Fatalf("byte %d: %02x, real %02x", i, enc[i], real[i])
		}
	}
}

func TestHostListCutShort(t *testing.T) {
	rec := HostRecord{Domain: "a", UUID: "u", State: 1}.Encode()
	for _, n := range []int{0, 1, HostRecordSize - 1, HostRecordSize, HostRecordSize + 5} {
		stream := append(rec[:], make([]byte, HostRecordSize)...)[:n]
		if _, err := ReadHostList(bytes.NewReader(stream)); !errors.Is(err, ErrHostList) {
			t.Errorf("%d bytes: err %v, want ErrHostList", n, err)
		}
	}
}

func TestVerifyRules(t *testing.T) {
	key := []byte("k")
	sign := func(h HashType) []byte {
		r := Request{Op: OpOff, Domain: "vm1", Seqno: 7}
		b, err := r.Sign(key, h, bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
		if err != nil {
			t.Fatal(err)
		}
		return b[:]
	}
	tamper := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name string
		pkt  []byte
		key  []byte
		min  HashType
		want error
	}{
		{"sha256 ok", sign(HashSHA256), key, HashSHA256, nil},
		{"sha512 above min", sign(HashSHA512), key, HashSHA256, nil},
		{"sha1 at min sha1", sign(HashSHA1), key, HashSHA1, nil},
		{"sha1 below sha256", sign(HashSHA1), key, HashSHA256, ErrHashTooWeak},
		{"none below sha1", sign(HashNone), key, HashSHA1, ErrHashTooWeak},
		{"none with min none", sign(HashNone), nil, HashNone, nil},
		{"signed without key", sign(HashSHA256), nil, HashNone, ErrNoKey},
		{"unknown hash 4", func() []byte { b := sign(HashSHA256); b[1] = 4; return b }(), key, HashNone, ErrUnknownHash},
		{"domain tampered", tamper(sign(HashSHA256), 5), key, HashSHA256, ErrBadSignature},
		{"digest tampered", tamper(sign(HashSHA256), 112), key, HashSHA256, ErrBadSignature},
		{"padding not zero", tamper(sign(HashSHA1), 140), key, HashSHA1, ErrBadSignature},
		{"truncated", sign(HashSHA256)[:175], key, HashSHA256, ErrLength},
		{"oversized", append(sign(HashSHA256), 0), key, HashSHA256, ErrLength},
		{"empty", nil, key, HashNone, ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.pkt, tc.key, tc.min)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		r    Request
	}{
		{"domain 64 bytes", Request{Domain: strings.Repeat("a", 64)}},
		{"domain with NUL", Request{Domain: "a\x00b"}},
		{"v6 address with v4 family", Request{Family: FamilyInet, Address: netip.MustParseAddr("fd00::1")}},
		{"address without family", Request{Address: netip.MustParseAddr("10.0.0.1")}},
	}
	for _, tc := range tests {
		if _, err := tc.r.Encode(); err == nil {
			t.Errorf("%s: Encode succeeded", tc.name)
		}
	}
	if _, err := (&Request{}).Sign(nil, 9, bytes.NewReader(nil)); !errors.Is(err, ErrUnknownHash) {
		t.Errorf("Sign with hash 9: %v", err)
	}
	r := Request{Domain: strings.Repeat("a", 63), Family: FamilyInet6, Address: netip.MustParseAddr("fd00:fe::1"), AddrLen: 16}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b[:])
	if err != nil || back.Domain != r.Domain || back.Address != r.Address {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestDecodeDomainNotTerminated(t *testing.T) {
	var b [RequestSize]byte
	for i := 4; i < 68; i++ {
		b[i] = 'x'
	}
	if _, err := Decode(b[:]); !errors.Is(err, ErrDomain) {
		t.Fatalf("Decode: %v, want ErrDomain", err)
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"none", "SHA1", "sha256", "sha512"} {
		h, err := ParseHash(s)
		if err != nil || !strings.EqualFold(h.String(), s) {
			t.Errorf("ParseHash(%q) = %v, %v", s, h, err)
		}
	}
	if _, err := ParseHash("md5"); err == nil {
		t.Error("ParseHash(md5) succeeded")
	}
	ops := map[string]Op{"null": OpNull, "off": OpOff, "REBOOT": OpReboot, "on": OpOn, "status": OpStatus,
		"monitor": OpDevStatus, "list": OpHostList, "list-status": OpHostList, "metadata": OpMetadata, "validate-all": OpValidateAll}
	for s, want := range ops {
		if got, err := ParseOp(s); err != nil || got != want {
			t.Errorf("ParseOp(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseOp("devstatus"); err == nil {
		t.Error("ParseOp(devstatus) succeeded")
	}
}
