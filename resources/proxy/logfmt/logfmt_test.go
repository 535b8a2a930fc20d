package logfmt

import (
	"bytes"
	"testing"
	"time"

	"github.com/duet-ha/duet/resources/proxy/config"
)

func TestFormats(t *testing.T) {
	at := time.Date(2026, 11, 25, 7, 57, 13, 137e6, time.UTC)
	e := &Entry{Client: "127.0.0.1:46018", Accept: at, Request: at, Frontend: "rr321", Backend: "rr321", Server: "s1",
		TR: 0, Tw: 0, Tc: 0, Tr: 0, Ta: 0, Tt: 1, Status: 200, Bytes: 135, Term: "----", ActConn: 1, FeConn: 1,
		RequestLine: "GET / HTTP/1.1"}
	if got, want := HTTPLog(e), `127.0.0.1:46018 [25/Nov/2026:07:57:13.137] rr321 rr321/s1 0/0/0/0/0 200 135 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`; got != want {
		t.Errorf("httplog\n got %s\nwant %s", got, want)
	}
	e2 := &Entry{Client: "127.0.0.1:41532", Accept: time.Date(2026, 11, 25, 7, 58, 5, 230e6, time.UTC), Frontend: "tcp2", Backend: "tcp2",
		Server: "s1", Tw: 1, Tc: 0, Tt: 0, Bytes: 164, Term: "--", ActConn: 1, FeConn: 1}
	if got, want := TCPLog(e2), "127.0.0.1:41532 [25/Nov/2026:07:58:05.230] tcp2 tcp2/s1 1/0/0 164 -- 1/1/0/0/0 0/0"; got != want {
		t.Errorf("tcplog\n got %s\nwant %s", got, want)
	}
	e.Retries, e.Redispatch = 2, true
	if got := HTTPLog(e); !bytes.Contains([]byte(got), []byte(" 1/1/0/0/+2 ")) {
		t.Errorf("redispatch marker: %s", got)
	}
	e.RequestLine = "GET /a\"b HTTP/1.1"
	if got := HTTPLog(e); !bytes.Contains([]byte(got), []byte(`"GET /a#22b HTTP/1.1"`)) {
		t.Errorf("quote escaping: %s", got)
	}
}

func TestSyslogHeaders(t *testing.T) {
	s := NewSender("haproxy", "", nil, nil)
	s.PID = 15441
	at := time.Date(2026, 11, 25, 7, 57, 13, 0, time.UTC)
	tgt := config.LogTarget{Facility: 16, Len: 1024, Format: "rfc3164"}
	if got, want := s.Format(tgt, LevelInfo, "msg", at), "<134>Nov 25 07:57:13 haproxy[15441]: msg"; got != want {
		t.Errorf("rfc3164: %q, want %q", got, want)
	}
	tgt.Format = "short"
	if got := s.Format(tgt, LevelInfo, "msg", at); got != "<134>msg" {
		t.Errorf("short: %q", got)
	}
	tgt.Format = "raw"
	if got := s.Format(tgt, LevelInfo, "msg", at); got != "msg" {
		t.Errorf("raw: %q", got)
	}
	tgt.Format, s.Hostname = "rfc5424", "lb1"
	if got, want := s.Format(tgt, LevelInfo, "msg", at), "<134>1 2026-11-25T07:57:13.000000+00:00 lb1 haproxy 15441 - - msg"; got != want {
		t.Errorf("rfc5424: %q, want %q", got, want)
	}
	tgt.Format, tgt.Len = "raw", 5
	if got := s.Format(tgt, LevelInfo, "0123456789", at); got != "01234" {
		t.Errorf("len truncation: %q", got)
	}
	var out bytes.Buffer
	s2 := NewSender("", "", &out, nil)
	s2.Send([]config.LogTarget{{Network: "stdout", Format: "raw", Level: 6}, {Network: "stdout", Format: "raw", Level: 3}}, LevelInfo, "x", at)
	if out.String() != "x\n" {
		t.Errorf("level filtering: %q", out.String())
	}
}
