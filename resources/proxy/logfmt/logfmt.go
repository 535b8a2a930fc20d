// Package logfmt renders haproxy's traffic log lines (option tcplog, option httplog [clf]) and sends them to syslog
// targets with haproxy's headers (rfc3164 without hostname, rfc5424, short, raw). Senders are safe for concurrent
// use and never block on the network beyond one datagram write.
package logfmt

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duet-ha/duet/resources/proxy/config"
)

// Levels, as syslog numbers.
const (
	LevelEmerg   = 0
	LevelAlert   = 1
	LevelNotice  = 5
	LevelInfo    = 6
	LevelWarning = 4
)

// Entry holds the fields of one traffic log line. Times are in milliseconds, -1 when the step was not reached.
type Entry struct {
	Client      string // ip:port
	Local       string // the frontend address the client connected to (ip:port)
	Accept      time.Time
	Request     time.Time // first request byte (httplog %tr)
	Frontend    string    // with "~" appended for TLS listeners
	Backend     string
	Server      string // "<NOSRV>" when none, "<STATS>" for the stats applet
	TR, Tw, Tc  int64
	Tr, Ta, Tt  int64
	Status      int
	Bytes       int64
	Term        string // 2 chars (tcplog) or 4 chars (httplog)
	ActConn     int64
	FeConn      int64
	BeConn      int64
	SrvConn     int64
	Retries     int
	Redispatch  bool
	SrvQueue    int
	BackQueue   int
	RequestLine string
}

// TCPLog renders %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq.
func TCPLog(e *Entry) string {
	return fmt.Sprintf("%s [%s] %s %s/%s %d/%d/%d %d %s %d/%d/%d/%d/%s %d/%d",
		e.Client, Date(e.Accept), e.Frontend, e.Backend, e.Server, e.Tw, e.Tc, e.Tt, e.Bytes, term(e.Term, 2),
		e.ActConn, e.FeConn, e.BeConn, e.SrvConn, retries(e), e.SrvQueue, e.BackQueue)
}

// HTTPLog renders %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
// (the captured header blocks are omitted because nothing is captured).
func HTTPLog(e *Entry) string {
	return fmt.Sprintf("%s [%s] %s %s/%s %d/%d/%d/%d/%d %d %d - - %s %d/%d/%d/%d/%s %d/%d %s",
		e.Client, Date(e.Request), e.Frontend, e.Backend, e.Server, e.TR, e.Tw, e.Tc, e.Tr, e.Ta, e.Status, e.Bytes,
		term(e.Term, 4), e.ActConn, e.FeConn, e.BeConn, e.SrvConn, retries(e), e.SrvQueue, e.BackQueue, quote(e.RequestLine))
}

// CLFLog renders option httplog clf.
func CLFLog(e *Entry) string {
	host, port := e.Client, "0"
	if i := strings.LastIndexByte(e.Client, ':'); i >= 0 {
		host, port = e.Client[:i], e.Client[i+1:]
	}
	return fmt.Sprintf("%s - - [%s] %s %d %d \"\" \"\" %s %s \"%s\" \"%s\" \"%s\" %d %d %d %d %d %s %d %d %d %d %s %d %d",
		host, e.Request.Format("02/Jan/2006:15:04:05 -0700"), quote(e.RequestLine), e.Status, e.Bytes, port,
		strconv.Itoa(int(e.Request.UnixMilli()%1000)), e.Frontend, e.Backend, e.Server,
		e.TR, e.Tw, e.Tc, e.Tr, e.Ta, term(e.Term, 4), e.ActConn, e.FeConn, e.BeConn, e.SrvConn, retries(e), e.SrvQueue, e.BackQueue)
}

func retries(e *Entry) string {
	if e.Redispatch {
		return "+" + strconv.Itoa(e.Retries)
	}
	return strconv.Itoa(e.Retries)
}

func term(t string, n int) string {
	if len(t) >= n {
		return t[:n]
	}
	return t + strings.Repeat("-", n-len(t))
}

func quote(s string) string {
	if s == "" {
		return "\"<BADREQ>\""
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '#' {
			fmt.Fprintf(&b, "#%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// Date renders haproxy's %t date: 25/Nov/2026:07:57:13.137.
func Date(t time.Time) string {
	return t.Format("02/Jan/2006:15:04:05.000")
}

// Sender writes log lines to the targets of one proxy (or of the global section).
type Sender struct {
	Tag      string // program name, default "haproxy"
	Hostname string // sent only when set (log-send-hostname)
	PID      int
	Stdout   io.Writer
	Stderr   io.Writer

	mu    sync.Mutex
	conns map[string]net.Conn
}

// NewSender returns a Sender; stdout and stderr receive the "stdout"/"stderr" targets.
func NewSender(tag, hostname string, stdout, stderr io.Writer) *Sender {
	if tag == "" {
		tag = "haproxy"
	}
	return &Sender{Tag: tag, Hostname: hostname, PID: os.Getpid(), Stdout: stdout, Stderr: stderr, conns: map[string]net.Conn{}}
}

// Send formats msg at level for every target whose level admits it and writes it. Errors are ignored, like
// haproxy's lost log counters: logging never blocks traffic.
func (s *Sender) Send(targets []config.LogTarget, level int, msg string, now time.Time) {
	for _, t := range targets {
		if level > t.Level || level < t.MinLevel {
			continue
		}
		line := s.Format(t, level, msg, now)
		switch t.Network {
		case "stdout":
			if s.Stdout != nil {
				_, _ = io.WriteString(s.Stdout, line+"\n")
			}
		case "stderr":
			if s.Stderr != nil {
				_, _ = io.WriteString(s.Stderr, line+"\n")
			}
		default:
			c := s.conn(t)
			if c != nil {
				_, _ = c.Write([]byte(line))
			}
		}
	}
}

// Format builds one syslog datagram for target t.
func (s *Sender) Format(t config.LogTarget, level int, msg string, now time.Time) string {
	pri := t.Facility*8 + level
	var line string
	switch t.Format {
	case "rfc5424":
		host := s.Hostname
		if host == "" {
			host, _ = os.Hostname()
		}
		line = fmt.Sprintf("<%d>1 %s %s %s %d - - %s", pri, now.Format("2006-01-02T15:04:05.000000-07:00"), host, s.Tag, s.PID, msg)
	case "short":
		line = fmt.Sprintf("<%d>%s", pri, msg)
	case "raw":
		line = msg
	default:
		host := ""
		if s.Hostname != "" {
			host = s.Hostname + " "
		}
		line = fmt.Sprintf("<%d>%s %s%s[%d]: %s", pri, now.Format(time.Stamp), host, s.Tag, s.PID, msg)
	}
	if t.Len > 0 && len(line) > t.Len {
		line = line[:t.Len]
	}
	return line
}

func (s *Sender) conn(t config.LogTarget) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := t.Network + " " + t.Address
	if c, ok := s.conns[key]; ok {
		return c
	}
	c, err := net.Dial(t.Network, t.Address)
	if err != nil {
		return nil
	}
	s.conns[key] = c
	return c
}

// Close closes the sender's sockets.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.conns {
		_ = c.Close()
		delete(s.conns, k)
	}
	return nil
}
