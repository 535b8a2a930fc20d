package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandshakeRoutesChannels(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	m, err := Listen("127.0.0.1:0", key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		ch   Channel
		recv func() (net.Conn, error)
	}{
		{ChannelRPC, func() (net.Conn, error) { return m.RPCListener().Accept() }},
		{ChannelRaft, func() (net.Conn, error) { return m.RaftLayer().Accept() }},
	} {
		got := make(chan []byte, 1)
		go func() {
			c, err := tc.recv()
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			b := make([]byte, 5)
			_, _ = io.ReadFull(c, b)
			got <- b
		}()
		c, err := Dial(ctx, m.Addr().String(), key, tc.ch)
		if err != nil {
			t.Fatalf("dial %c: %v", tc.ch, err)
		}
		_, _ = c.Write([]byte("hello"))
		if b := <-got; string(b) != "hello" {
			t.Fatalf("channel %c delivered %q", tc.ch, b)
		}
		c.Close()
	}
}

func TestWrongKeyRefused(t *testing.T) {
	m, err := Listen("127.0.0.1:0", bytes.Repeat([]byte{1}, 32), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Dial(ctx, m.Addr().String(), bytes.Repeat([]byte{2}, 32), ChannelRPC)
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("dial with another key: %v, want ErrWrongKey", err)
	}
}

func TestParseHello(t *testing.T) {
	good := Hello{Channel: ChannelRaft}.Marshal()
	if h, err := ParseHello(good); err != nil || h.Channel != ChannelRaft {
		t.Fatalf("ParseHello(good) = %v, %v", h, err)
	}
	bad := [][]byte{nil, good[:10], append([]byte("XXXX1"), good[5:]...), append(append([]byte{}, good[:5]...), append([]byte{'Z'}, good[6:]...)...)}
	for _, b := range bad {
		if _, err := ParseHello(b); err == nil {
			t.Errorf("ParseHello(%q) accepted", b)
		}
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add(Hello{Channel: ChannelRPC}.Marshal())
	f.Add([]byte("DUET1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err == nil && !bytes.Equal(h.Marshal(), b) {
			t.Fatalf("round trip: %q -> %q", b, h.Marshal())
		}
	})
}

func TestProbe(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 32)
	m, err := Listen("127.0.0.1:0", key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := m.Addr().String()
	go func() {
		for {
			c, err := m.RPCListener().Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := Probe(addr, key, time.Second, 5*time.Second); err != nil {
		t.Fatalf("probe of a live node: %v", err)
	}
	if err := Probe(addr, bytes.Repeat([]byte{4}, 32), time.Second, 5*time.Second); err == nil {
		t.Fatal("probe with another key succeeded")
	}
	m.Close()
	if err := Probe(addr, key, time.Second, 5*time.Second); err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
}
