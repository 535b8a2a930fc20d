package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loopPair is a loopConn accepted through acceptOwned and the client net.Conn at the other end.
func loopPair(t *testing.T) (*loopConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf := acceptFile(ln)
	if lf == nil {
		t.Fatal("acceptFile: no descriptor")
	}
	t.Cleanup(func() { ln.Close(); lf.Close() })
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	c, err := acceptOwned(lf, ln.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	lc := c.(*loopConn)
	t.Cleanup(func() { lc.Close() })
	if lc.RemoteAddr().String() != peer.LocalAddr().String() || lc.LocalAddr().String() != peer.RemoteAddr().String() {
		t.Fatalf("addresses %s <- %s, want %s <- %s", lc.LocalAddr(), lc.RemoteAddr(), peer.RemoteAddr(), peer.LocalAddr())
	}
	return lc, peer
}

// inPoller reports whether the connection had to wait in Go's netpoller (and so was moved there).
func inPoller(c *loopConn) bool { return c.fp.Load() != nil }

func TestLoopConnReadWrite(t *testing.T) {
	c, peer := loopPair(t)
	if _, err := peer.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if inPoller(c) {
		t.Fatal("a read that did not wait moved the socket into the netpoller")
	}
	// a read that has to wait: the data comes later
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = peer.Write([]byte("late"))
	}()
	n, err = c.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if !inPoller(c) {
		t.Fatal("a read that waited did not go through the netpoller")
	}
	// 8 MiB to a reader that starts late: the writes wait for room
	big := bytes.Repeat([]byte("0123456789abcdef"), 512*1024)
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := c.Write(big); err != nil || n != len(big) {
		t.Fatalf("write %d of %d: %v", n, len(big), err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("peer got %d bytes, not the %d written", len(b), len(big))
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := peer.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after CloseWrite the peer read %d bytes, %v; want EOF", n, err)
	}
	// the peer closes: end of stream
	peer.Close()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v after the peer closed; want EOF", n, err)
	}
}

func TestLoopConnDeadlines(t *testing.T) {
	for _, moved := range []bool{false, true} {
		name := "own"
		if moved {
			name = "in-netpoller"
		}
		t.Run(name, func(t *testing.T) {
			c, peer := loopPair(t)
			buf := make([]byte, 8)
			if moved {
				// a first read that waits moves the socket into the netpoller
				go func() { time.Sleep(20 * time.Millisecond); _, _ = peer.Write([]byte("x")) }()
				if _, err := c.Read(buf); err != nil {
					t.Fatal(err)
				}
			}
			// a deadline in the past fails the read even with data there, as Go's net.Conn does
			_, _ = peer.Write([]byte("data"))
			time.Sleep(20 * time.Millisecond)
			_ = c.SetReadDeadline(time.Now().Add(-time.Second))
			if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) || !isTimeout(err) {
				t.Fatalf("read past its deadline: %v, want a timeout", err)
			}
			_ = c.SetReadDeadline(time.Time{})
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != "data" {
				t.Fatalf("read %q, %v after clearing the deadline", buf[:n], err)
			}
			// a wait ends at the deadline
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			start := time.Now()
			if _, err := c.Read(buf); !isTimeout(err) {
				t.Fatalf("read with nothing to read: %v, want a timeout", err)
			}
			if d := time.Since(start); d < 40*time.Millisecond || d > 2*time.Second {
				t.Fatalf("the read waited %v for a 50 ms deadline", d)
			}
		})
	}
}

func TestLoopConnCloseWakesAndForbids(t *testing.T) {
	c, _ := loopPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the read waits in the netpoller
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("waiting read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the waiting read")
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	rc, _ := c.SyscallConn()
	if err := rc.Control(func(uintptr) { t.Error("Control ran after Close") }); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Control after Close: %v", err)
	}
}

// TestLoopConnCloseWhileInUse: Close from another goroutine never closes the descriptor under an operation in
// flight (its number could be reused by the next socket at once).
func TestLoopConnCloseWhileInUse(t *testing.T) {
	for range 50 {
		c, _ := loopPair(t)
		rc, _ := c.SyscallConn()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					err := rc.Control(func(fd uintptr) {
						if _, err := fcntlGetfd(int(fd)); err != nil {
							t.Errorf("descriptor closed under Control: %v", err)
						}
					})
					if err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		_ = c.Close()
		wg.Wait()
		if c.state.Load() != lcClosed|lcDone {
			t.Fatalf("state %#x after Close and every operation: the descriptor is not closed", c.state.Load())
		}
	}
}

func fcntlGetfd(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func TestOwnConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, ok := ownConn(dialed).(*loopConn)
	if !ok {
		t.Fatal("ownConn did not make a loopConn of a TCP connection")
	}
	defer c.Close()
	if _, err := dialed.Write([]byte("x")); err == nil {
		t.Fatal("the original connection is still open")
	}
	if c.RemoteAddr().String() != ln.Addr().String() {
		t.Fatalf("remote %s, want %s", c.RemoteAddr(), ln.Addr())
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := peer.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	// anything else is given back as it is
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if ownConn(a) != a {
		t.Fatal("ownConn changed a non-TCP connection")
	}
}

// TestAcceptOwnedClosed: closing the listener ends a waiting acceptOwned with an error the accept loop
// recognises (listener.closed), and the accepted sockets stay out of the netpoller.
func TestAcceptOwnedClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{ln: ln, acceptFile: acceptFile(ln)}
	if l.acceptFile == nil {
		t.Fatal("no accept descriptor")
	}
	done := make(chan error, 1)
	go func() {
		_, err := acceptOwned(l.acceptFile, ln.Addr(), false)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	l.close()
	select {
	case err := <-done:
		if err == nil || !l.closed.Load() {
			t.Fatalf("accept after close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("closing the listener did not end the accept")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("the listening socket is still open (a descriptor was left behind)")
	}
}
