package xvm

import (
	"bytes"
	"os"
	"testing"
)

func seedDatagrams(f *testing.F) {
	for _, v := range vectors {
		data, err := os.ReadFile("testdata/" + v.file)
		if err != nil {
			f.Fatal(err)
		}
		c, err := parsePcap(data)
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range c.UDP {
			f.Add(d.Payload)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, RequestSize))
}

// FuzzDecode: decoding and verifying never panic, and whatever decodes re-encodes to something that decodes
// the same (byte for byte when the domain is zero-padded, as every real client sends it).
func FuzzDecode(f *testing.F) {
	seedDatagrams(f)
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_ = Verify(pkt, key, HashNone)
		_ = Verify(pkt, nil, HashSHA256)
		r, err := Decode(pkt)
		if err != nil {
			return
		}
		b, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		// Bytes after the domain's NUL are not kept; with zero padding the round trip is exact.
		if bytes.Count(pkt[4+len(r.Domain):68], []byte{0}) == 64-len(r.Domain) && !bytes.Equal(b[:], pkt) {
			t.Fatalf("decode+encode not exact:\n in %x\nout %x", pkt, b)
		}
		r2, err := Decode(b[:])
		if err != nil || r2 != r {
			t.Fatalf("second decode differs: %+v %v", r2, err)
		}
	})
}

// FuzzHostList: reading a hostlist stream never panics and every record read writes back to a stream
// that reads the same.
func FuzzHostList(f *testing.F) {
	rec := HostRecord{Domain: "test", UUID: "6695eb01-f6a4-8304-79aa-97f2502e193f", State: 1}.Encode()
	f.Add(append(rec[:], make([]byte, HostRecordSize+1)...))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, stream []byte) {
		hosts, err := ReadHostList(bytes.NewReader(stream))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteHostList(&buf, hosts, ResultSuccess); err != nil {
			t.Fatal(err)
		}
		again, err := ReadHostList(bytes.NewReader(buf.Bytes()[1:]))
		if err != nil || len(again) != len(hosts) {
			t.Fatalf("round trip: %d hosts, %v; want %d", len(again), err, len(hosts))
		}
		for i := range hosts {
			if again[i] != hosts[i] {
				t.Fatalf("record %d: %+v, want %+v", i, again[i], hosts[i])
			}
		}
	})
}

// FuzzAuth: both halves of the challenge-response survive any peer bytes without panicking, and accept
// only a correct answer.
func FuzzAuth(f *testing.F) {
	f.Add([]byte{}, uint8(2))
	f.Add(bytes.Repeat([]byte{7}, 200), uint8(3))
	key := []byte("k")
	f.Fuzz(func(t *testing.T, peer []byte, h uint8) {
		rnd := bytes.Repeat([]byte{1}, ChallengeSize)
		c := &fakeConn{in: bytes.NewReader(peer)}
		if err := ClientAuth(c, key, HashType(h), bytes.NewReader(rnd)); err == nil && HashType(h) != HashNone {
			want := Answer(key, rnd, HashType(h))
			if !bytes.Equal(peer[:ChallengeSize], want[:]) {
				t.Fatal("client accepted a wrong answer")
			}
		}
		d := &fakeConn{in: bytes.NewReader(peer)}
		if err := DaemonAuth(d, key, HashType(h), bytes.NewReader(rnd)); err == nil && HashType(h) != HashNone {
			want := Answer(key, rnd, HashType(h))
			if !bytes.Equal(peer[ChallengeSize:2*ChallengeSize], want[:]) {
				t.Fatal("daemon accepted a wrong answer")
			}
		}
	})
}
