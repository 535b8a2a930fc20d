// Package transport carries Raft and the node-to-node RPC over one TCP port, authenticated with the cluster
// key. Every connection opens with a mutual HMAC-SHA256 challenge-response over fresh nonces; a peer without
// the key is refused before a single Raft or RPC byte is read. After the handshake, one channel byte routes the
// connection to Raft or to the RPC listener. The stream itself is not encrypted: the key proves membership;
// the cluster network is trusted not to be spied on (state this in the README).
package transport

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Channel selects what a connection carries.
type Channel byte

const (
	ChannelRaft Channel = 'R'
	ChannelRPC  Channel = 'H'
)

const (
	magic            = "DUET1"
	nonceLen         = 32
	macLen           = sha256.Size
	helloLen         = len(magic) + 1 + nonceLen
	challengeLen     = nonceLen + macLen
	handshakeTimeout = 3 * time.Second
)

// ErrWrongKey means the peer's proof did not match: the two nodes hold different cluster keys.
var ErrWrongKey = errors.New("cluster key mismatch: the peer holds a different cluster key")

// Hello is the first frame a dialer sends.
type Hello struct {
	Channel Channel
	Nonce   [nonceLen]byte
}

// ParseHello decodes the dialer's first frame.
func ParseHello(b []byte) (Hello, error) {
	var h Hello
	if len(b) != helloLen {
		return h, fmt.Errorf("hello: %d bytes, want %d", len(b), helloLen)
	}
	if string(b[:len(magic)]) != magic {
		return h, fmt.Errorf("hello: bad magic %q (not a Duet node, or another version)", b[:len(magic)])
	}
	h.Channel = Channel(b[len(magic)])
	if h.Channel != ChannelRaft && h.Channel != ChannelRPC {
		return h, fmt.Errorf("hello: unknown channel %q", byte(h.Channel))
	}
	copy(h.Nonce[:], b[len(magic)+1:])
	return h, nil
}

// Marshal encodes the frame.
func (h Hello) Marshal() []byte {
	b := make([]byte, 0, helloLen)
	b = append(b, magic...)
	b = append(b, byte(h.Channel))
	return append(b, h.Nonce[:]...)
}

func proof(key []byte, role string, ch Channel, a, b []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(role))
	m.Write([]byte{byte(ch)})
	m.Write(a)
	m.Write(b)
	return m.Sum(nil)
}

// Dial opens an authenticated connection of the given channel to addr (host:port).
func Dial(ctx context.Context, addr string, key []byte, ch Channel) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if err := clientHandshake(conn, key, ch); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	return conn, nil
}

// Probe tells whether a node is alive on addr: the TCP connection must be accepted within connectTimeout
// (the peer's kernel answers at once unless the host or its cable is gone) and the key handshake must finish
// within proofTimeout (the process itself answers; a live but CPU-starved process gets that long).
func Probe(addr string, key []byte, connectTimeout, proofTimeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, connectTimeout)
	if err != nil {
		return fmt.Errorf("probe %s: %w", addr, err)
	}
	defer conn.Close()
	if err := clientHandshakeUntil(conn, key, ChannelRPC, time.Now().Add(proofTimeout)); err != nil {
		return fmt.Errorf("probe %s: %w", addr, err)
	}
	return nil
}

func clientHandshake(conn net.Conn, key []byte, ch Channel) error {
	return clientHandshakeUntil(conn, key, ch, time.Now().Add(handshakeTimeout))
}

func clientHandshakeUntil(conn net.Conn, key []byte, ch Channel, deadline time.Time) error {
	_ = conn.SetDeadline(deadline)
	defer conn.SetDeadline(time.Time{})
	h := Hello{Channel: ch}
	if _, err := rand.Read(h.Nonce[:]); err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	if _, err := conn.Write(h.Marshal()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	var resp [challengeLen]byte
	if _, err := io.ReadFull(conn, resp[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("peer closed the connection during the handshake: %w", ErrWrongKey)
		}
		return fmt.Errorf("read challenge: %w", err)
	}
	srvNonce := resp[:nonceLen]
	if !hmac.Equal(resp[nonceLen:], proof(key, "srv", ch, h.Nonce[:], srvNonce)) {
		return ErrWrongKey
	}
	if _, err := conn.Write(proof(key, "cli", ch, srvNonce, h.Nonce[:])); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	// The server answers one byte: 1 = accepted. Reading it makes a refusal visible to the dialer.
	var ok [1]byte
	if _, err := io.ReadFull(conn, ok[:]); err != nil || ok[0] != 1 {
		return ErrWrongKey
	}
	return nil
}

func serverHandshake(conn net.Conn, key []byte) (Channel, error) {
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	buf := make([]byte, helloLen)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return 0, fmt.Errorf("read hello: %w", err)
	}
	h, err := ParseHello(buf)
	if err != nil {
		return 0, err
	}
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return 0, fmt.Errorf("nonce: %w", err)
	}
	if _, err := conn.Write(append(nonce[:], proof(key, "srv", h.Channel, h.Nonce[:], nonce[:])...)); err != nil {
		return 0, fmt.Errorf("send challenge: %w", err)
	}
	mac := make([]byte, macLen)
	if _, err := io.ReadFull(conn, mac); err != nil {
		return 0, fmt.Errorf("read proof: %w", err)
	}
	if !hmac.Equal(mac, proof(key, "cli", h.Channel, nonce[:], h.Nonce[:])) {
		return 0, ErrWrongKey
	}
	if _, err := conn.Write([]byte{1}); err != nil {
		return 0, fmt.Errorf("send accept: %w", err)
	}
	return h.Channel, nil
}

// Mux accepts authenticated connections on one TCP listener and routes them by channel.
type Mux struct {
	ln     net.Listener
	key    []byte
	log    *slog.Logger
	raft   chan net.Conn // authenticated Raft connections, read by the current raft layer
	rpc    *chanListener
	closed chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Listen starts accepting on addr. Close stops it and waits for its goroutines.
func Listen(addr string, key []byte, log *slog.Logger) (*Mux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mux{ln: ln, key: key, log: log, cancel: cancel, closed: make(chan struct{}),
		raft: make(chan net.Conn), rpc: newChanListener(ln.Addr(), make(chan net.Conn), nil)}
	m.wg.Add(1)
	go m.acceptLoop(ctx)
	return m, nil
}

// Addr is the listening address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

func (m *Mux) acceptLoop(ctx context.Context) {
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			ch, err := serverHandshake(conn, m.key)
			if err != nil {
				m.log.Warn("refused cluster connection", "from", conn.RemoteAddr().String(), "err", err)
				conn.Close()
				return
			}
			target := m.rpc.conns
			if ch == ChannelRaft {
				target = m.raft
			}
			select {
			case target <- conn:
			case <-ctx.Done():
				conn.Close()
			case <-time.After(handshakeTimeout):
				// Nobody accepts this channel now (Raft is restarting): the dialer retries.
				conn.Close()
			}
		}()
	}
}

// Close stops accepting and closes both channel listeners. Connections already handed out belong to
// their users.
func (m *Mux) Close() error {
	m.cancel()
	err := m.ln.Close()
	close(m.closed)
	m.rpc.Close()
	m.wg.Wait()
	return err
}

// RPCListener returns the listener that yields authenticated RPC connections.
func (m *Mux) RPCListener() net.Listener { return m.rpc }

// RaftLayer returns a new Raft stream layer whose connections are authenticated with the cluster key. Raft
// closes its layer on Shutdown, so each Raft instance (a restart after recovery makes a new one) needs its own.
func (m *Mux) RaftLayer() *RaftLayer {
	ctx, cancel := context.WithCancel(context.Background())
	return &RaftLayer{chanListener: newChanListener(m.ln.Addr(), m.raft, m.closed), key: m.key, ctx: ctx, cancel: cancel,
		conns: map[net.Conn]struct{}{}}
}

// RaftLayer implements raft.StreamLayer. Abort ends its dials and outgoing connections at once.
type RaftLayer struct {
	*chanListener
	key    []byte
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

var _ raft.StreamLayer = (*RaftLayer)(nil)

// Dial opens an authenticated Raft connection.
func (r *RaftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	c, err := Dial(ctx, string(addr), r.key, ChannelRaft)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		c.Close()
		return nil, net.ErrClosed
	}
	r.conns[c] = struct{}{}
	return &trackedConn{Conn: c, l: r}, nil
}

// Abort cancels dials in flight and closes the connections this layer opened. Raft's Shutdown waits for
// its RPCs to a peer that may be gone (a pulled cable leaves them to their timeouts); aborting first makes
// the shutdown take milliseconds.
func (r *RaftLayer) Abort() {
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
	r.conns = map[net.Conn]struct{}{}
}

type trackedConn struct {
	net.Conn
	l *RaftLayer
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c.Conn)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// chanListener is a net.Listener fed by the mux.
// chanListener is a net.Listener fed by the mux; it ends when it or its parent closes.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	parent chan struct{} // nil: no parent
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr, conns chan net.Conn, parent chan struct{}) *chanListener {
	return &chanListener{addr: addr, conns: conns, parent: parent, closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.parent:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
