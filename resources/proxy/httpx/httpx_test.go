package httpx

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	if err != nil {
		return -1
	}
	return 200
}

// The expected statuses are what haproxy 2.6.12 answered to the same bytes on this machine.
func TestReadRequestStatuses(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
	}{
		{"CL+TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 200},
		{"2CL diff", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
		{"2CL same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 200},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 200},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"TE chunked,gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"TE chunked,chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"bad reqline", "GET\r\n\r\n", 400},
		{"bad version", "GET / HTTP/2.5\r\n\r\n", 200},
		{"1.1 nohost", "GET / HTTP/1.1\r\n\r\n", 200},
		{"space hdrname", "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nBad : x\r\n\r\n", 400},
		{"bad CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400},
		{"neg CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
		{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 200},
		{"big hdr", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", 400},
		{"lf only", "GET / HTTP/1.1\nHost: a\n\n", 200},
		{"obs fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 200},
		{"method bad", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"ctl in uri", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"space in uri", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"HTTP/0.9", "GET /\r\n\r\n", 400},
		{"2 hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	} {
		var h Head
		err := h.ReadRequest(bufio.NewReaderSize(strings.NewReader(tc.in), 16384))
		if got := status(err); got != tc.want {
			t.Errorf("%s: status %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
}

func TestFraming(t *testing.T) {
	var h Head
	in := "POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
	if err := h.ReadRequest(bufio.NewReader(strings.NewReader(in))); err != nil {
		t.Fatal(err)
	}
	if !h.Chunked || h.ContentLength != -1 || !h.HadCLAndTE || h.RequestBody() != BodyChunked {
		t.Fatalf("framing = %+v", h)
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	h.WriteRequestLine(w)
	h.WriteFields(w)
	w.Flush()
	if got := out.String(); got != "POST /x?y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" {
		t.Errorf("rewritten head = %q", got)
	}
	if g := h.Get("host"); len(g) != 1 || g[0] != "a" {
		t.Errorf("Get(host) = %q", g)
	}
}

func TestChunkedCopy(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		want    int
	}{
		{"5;x=y\r\nhello\r\n0\r\n\r\n", "5;x=y\r\nhello\r\n0\r\n\r\n", 200},
		{"5\nhello\n0\n\n", "5\nhello\r\n0\n\n", 200},
		{"zz\r\n\r\n", "", 400},
		{"5\r\nhelloXX0\r\n\r\n", "", 400},
		{"fffffffffffffffff\r\n", "", 400},
		{"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 200},
	} {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		_, err := CopyBody(w, bufio.NewReader(strings.NewReader(tc.in)), BodyChunked, 0, 400)
		w.Flush()
		if got := status(err); got != tc.want {
			t.Errorf("%q: status %d (%v), want %d", tc.in, got, err, tc.want)
			continue
		}
		if tc.want == 200 && out.String() != tc.out {
			t.Errorf("%q: copied %q, want %q", tc.in, out.String(), tc.out)
		}
	}
}

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		in     string
		method string
		want   int
		kind   BodyKind
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", 200, BodyLength},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "HEAD", 200, BodyNone},
		{"HTTP/1.1 204 No Content\r\n\r\n", "GET", 200, BodyNone},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, BodyChunked},
		{"HTTP/1.0 200 OK\r\n\r\n", "GET", 200, BodyUntilClose},
		{"HTTP/1.1 2x0 OK\r\n\r\n", "GET", 502, 0},
		{"garbage\r\n\r\n", "GET", 502, 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET", 502, 0},
		{"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 200, BodyNone},
	} {
		var h Head
		err := h.ReadResponse(bufio.NewReader(strings.NewReader(tc.in)))
		if got := status(err); got != tc.want {
			t.Errorf("%q: status %d (%v), want %d", tc.in, got, err, tc.want)
			continue
		}
		if err == nil && h.ResponseBody([]byte(tc.method)) != tc.kind {
			t.Errorf("%q: body kind %d, want %d", tc.in, h.ResponseBody([]byte(tc.method)), tc.kind)
		}
	}
}

func TestErrorResponse(t *testing.T) {
	want := "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
	if got := string(ErrorResponse(400)); got != want {
		t.Errorf("ErrorResponse(400) = %q", got)
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Head
		br := bufio.NewReaderSize(bytes.NewReader(in), 16384)
		if err := h.ReadRequest(br); err != nil {
			return
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		h.WriteRequestLine(w)
		h.WriteFields(w)
		_, _ = CopyBody(w, br, h.RequestBody(), h.ContentLength, 400)
		w.Flush()
		if h.Chunked && h.ContentLength >= 0 {
			t.Fatal("both chunked and a content length")
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Head
		br := bufio.NewReaderSize(bytes.NewReader(in), 16384)
		if err := h.ReadResponse(br); err != nil {
			return
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		h.WriteStatusLine(w)
		h.WriteFields(w)
		_, _ = CopyBody(w, br, h.ResponseBody([]byte("GET")), h.ContentLength, 502)
	})
}

func TestParseCL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"42", 42, true}, {" 42 ", 42, true}, {"42, 42", 42, true}, {"42,42,42", 42, true},
		{"42, 43", 0, false}, {"", 0, false}, {",", 0, false}, {"42,", 0, false}, {"-1", 0, false},
		{"1e3", 0, false}, {"1234567890123456789", 0, false},
	} {
		got, ok := parseCL([]byte(c.in))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseCL(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
