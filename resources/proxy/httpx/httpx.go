// Package httpx reads and writes HTTP/1.x messages for the proxy's hot path: request and response heads with
// haproxy 2.6's validation (status 400 for malformed or smuggling-prone requests, 502 for bad responses), and body
// framing (Content-Length, chunked, until close) copied without net/http. It holds no state between calls and
// starts no goroutines; a Head is reused by its owner connection.
package httpx

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxHead is the largest request or response head accepted: tune.bufsize (16384) minus tune.maxrewrite (1024).
const MaxHead = 16384 - 1024

// Error is a protocol error with the HTTP status haproxy would answer (400 for requests, 502 for responses).
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("http %d: %s", e.Status, e.Msg) }

func badReq(format string, a ...any) error {
	return &Error{Status: 400, Msg: fmt.Sprintf(format, a...)}
}

func badResp(format string, a ...any) error {
	return &Error{Status: 502, Msg: fmt.Sprintf(format, a...)}
}

// ErrEmpty is returned when the peer closed the connection before sending any byte of a new message.
var ErrEmpty = errors.New("connection closed before a message began")

// Field is one header line: offsets into Head.buf.
type Field struct {
	ns, ne, vs, ve int
	drop           bool
}

// Head is a parsed request or response head. Its strings alias an internal buffer that the next Read reuses.
type Head struct {
	buf    []byte
	Fields []Field
	lines  [][2]int // scratch of readHead, kept with its capacity across requests

	// request line
	Method, URI []byte
	// status line
	Status int
	Reason []byte

	Major, Minor int

	ContentLength int64 // -1 when absent
	Chunked       bool
	ConnClose     bool // "Connection: close" or HTTP/1.0 without keep-alive
	ConnKeepAlive bool // explicit "Connection: keep-alive"
	Upgrade       bool // Connection: upgrade with an Upgrade header
	Expect100     bool
	HadCLAndTE    bool // Content-Length was dropped because Transfer-Encoding was present
}

// Name returns header i's name.
func (h *Head) Name(i int) []byte { f := h.Fields[i]; return h.buf[f.ns:f.ne] }

// Value returns header i's value without surrounding spaces.
func (h *Head) Value(i int) []byte { f := h.Fields[i]; return h.buf[f.vs:f.ve] }

// Get returns the values of every occurrence of the header, in order (name case-insensitive).
func (h *Head) Get(name string) []string {
	var out []string
	for i, f := range h.Fields {
		if f.drop {
			continue
		}
		if eqFold(h.buf[f.ns:f.ne], name) {
			out = append(out, string(h.Value(i)))
		}
	}
	return out
}

// Has reports whether the header is present.
func (h *Head) Has(name string) bool {
	for _, f := range h.Fields {
		if !f.drop && eqFold(h.buf[f.ns:f.ne], name) {
			return true
		}
	}
	return false
}

// Add appends a header line (name: value) to what WriteFields emits.
func (h *Head) Add(name, value string) {
	ns := len(h.buf)
	h.buf = append(h.buf, name...)
	ne := len(h.buf)
	h.buf = append(h.buf, value...)
	h.Fields = append(h.Fields, Field{ns: ns, ne: ne, vs: ne, ve: len(h.buf)})
}

// SetValueAt replaces header i's value in place: the header keeps its position among the others.
func (h *Head) SetValueAt(i int, value string) {
	vs := len(h.buf)
	h.buf = append(h.buf, value...)
	h.Fields[i].vs, h.Fields[i].ve = vs, len(h.buf)
}

// DropAt removes header i from what WriteFields emits.
func (h *Head) DropAt(i int) { h.Fields[i].drop = true }

// Dropped reports whether header i was removed.
func (h *Head) Dropped(i int) bool { return h.Fields[i].drop }

// Drop removes every occurrence of the header from what WriteRequest and WriteResponse emit.
func (h *Head) Drop(name string) {
	for i := range h.Fields {
		f := &h.Fields[i]
		if eqFold(h.buf[f.ns:f.ne], name) {
			f.drop = true
		}
	}
}

func (h *Head) reset() {
	h.buf = h.buf[:0]
	h.Fields = h.Fields[:0]
	h.Method, h.URI, h.Reason = nil, nil, nil
	h.Status, h.Major, h.Minor = 0, 0, 0
	h.ContentLength = -1
	h.Chunked, h.ConnClose, h.ConnKeepAlive, h.Upgrade, h.Expect100, h.HadCLAndTE = false, false, false, false, false, false
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x >= 'A' && x <= 'Z' {
			x += 32
		}
		if y >= 'A' && y <= 'Z' {
			y += 32
		}
		if x != y {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// readHead reads lines up to and including the empty line into h.buf. It returns the offsets of each line
// (without its line ending).
func (h *Head) readHead(br *bufio.Reader, limit int, bad func(string, ...any) error) ([][2]int, error) {
	lines := h.lines[:0]
	defer func() { h.lines = lines[:0] }()
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return nil, bad("head too large")
			}
			if (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) && first && len(line) == 0 && len(h.buf) == 0 {
				return nil, ErrEmpty
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		first = false
		if len(h.buf)+len(line) > limit {
			return nil, bad("head larger than %d bytes", limit)
		}
		n := len(line) - 1
		if n > 0 && line[n-1] == '\r' {
			n--
		}
		if n == 0 {
			if len(lines) == 0 {
				continue // leading empty lines are ignored (RFC 9112 2.2)
			}
			return lines, nil
		}
		start := len(h.buf)
		h.buf = append(h.buf, line[:n]...)
		lines = append(lines, [2]int{start, start + n})
	}
}

// ReadRequest reads and validates one request head. Errors of type *Error carry the status to answer;
// ErrEmpty means the client closed an idle connection.
func (h *Head) ReadRequest(br *bufio.Reader) error {
	h.reset()
	lines, err := h.readHead(br, MaxHead, badReq)
	if err != nil {
		return err
	}
	rl := h.buf[lines[0][0]:lines[0][1]]
	sp1 := bytes.IndexByte(rl, ' ')
	if sp1 <= 0 {
		return badReq("bad request line")
	}
	for _, c := range rl[:sp1] {
		if !tchar[c] {
			return badReq("bad method")
		}
	}
	rest := rl[sp1+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 <= 0 {
		return badReq("bad request line (HTTP/0.9 is not supported)")
	}
	uri, ver := rest[:sp2], rest[sp2+1:]
	for _, c := range uri {
		if c <= ' ' || c == 0x7f {
			return badReq("invalid character in request target")
		}
	}
	if !parseVersion(ver, &h.Major, &h.Minor) {
		return badReq("bad HTTP version")
	}
	if h.Major != 1 {
		// haproxy normalizes other versions to HTTP/1.1
		h.Major, h.Minor = 1, 1
	}
	h.Method, h.URI = rl[:sp1], uri
	if err := h.parseFields(lines[1:], true); err != nil {
		return err
	}
	if h.Minor == 0 && !h.ConnKeepAlive {
		h.ConnClose = true
	}
	// absolute-form: the Host header must name the same authority (haproxy answers 400 otherwise)
	if auth, ok := authority(h.URI); ok {
		for _, v := range h.Get("host") {
			if !strings.EqualFold(v, string(auth)) {
				return badReq("Host header does not match the request's authority")
			}
		}
	}
	return nil
}

// authority returns the authority of an absolute-form request target.
func authority(uri []byte) ([]byte, bool) {
	i := bytes.Index(uri, []byte("://"))
	if i <= 0 {
		return nil, false
	}
	for _, c := range uri[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return nil, false
		}
	}
	rest := uri[i+3:]
	if j := bytes.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

func parseVersion(v []byte, major, minor *int) bool {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return false
	}
	*major, *minor = int(v[5]-'0'), int(v[7]-'0')
	return true
}

// parseFields parses header lines (with obs-fold) and derives the framing.
func (h *Head) parseFields(lines [][2]int, isReq bool) error {
	bad := badResp
	if isReq {
		bad = badReq
	}
	var host []byte
	for _, ln := range lines {
		line := h.buf[ln[0]:ln[1]]
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: append to the previous value (the bytes in between become spaces)
			if len(h.Fields) == 0 {
				return bad("folded line without a header")
			}
			f := &h.Fields[len(h.Fields)-1]
			for i := f.ve; i < ln[0]; i++ {
				h.buf[i] = ' '
			}
			end := ln[1]
			for end > ln[0] && (h.buf[end-1] == ' ' || h.buf[end-1] == '\t') {
				end--
			}
			if end > ln[0] {
				f.ve = end
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return bad("malformed header line")
		}
		for _, c := range line[:colon] {
			if !tchar[c] {
				return bad("invalid character in header name")
			}
		}
		vs, ve := ln[0]+colon+1, ln[1]
		for vs < ve && (h.buf[vs] == ' ' || h.buf[vs] == '\t') {
			vs++
		}
		for ve > vs && (h.buf[ve-1] == ' ' || h.buf[ve-1] == '\t') {
			ve--
		}
		for _, c := range h.buf[vs:ve] {
			if c == '\r' || c == '\n' {
				return bad("invalid character in header value")
			}
		}
		h.Fields = append(h.Fields, Field{ns: ln[0], ne: ln[0] + colon, vs: vs, ve: ve})
	}
	te := false
	for i := range h.Fields {
		name := h.Name(i)
		val := h.Value(i)
		switch {
		case eqFold(name, "content-length"):
			n, ok := parseCL(val)
			if !ok {
				return bad("invalid Content-Length")
			}
			if h.ContentLength >= 0 && h.ContentLength != n {
				return bad("conflicting Content-Length headers")
			}
			h.ContentLength = n
		case eqFold(name, "transfer-encoding"):
			if isReq && h.Minor == 0 && false {
				return bad("Transfer-Encoding in HTTP/1.0")
			}
			for tok, rest := nextToken(val); tok != nil; tok, rest = nextToken(rest) {
				if te {
					// anything after chunked is invalid; chunked twice too
					return bad("invalid Transfer-Encoding")
				}
				if eqFoldB(tok, "chunked") {
					te = true
				}
			}
			if !te {
				if isReq {
					return bad("Transfer-Encoding without chunked last")
				}
			}
		case eqFold(name, "connection"):
			for tok, rest := nextToken(val); tok != nil; tok, rest = nextToken(rest) {
				switch {
				case eqFoldB(tok, "close"):
					h.ConnClose = true
				case eqFoldB(tok, "keep-alive"):
					h.ConnKeepAlive = true
				case eqFoldB(tok, "upgrade"):
					h.Upgrade = true
				}
			}
		case eqFold(name, "expect"):
			if eqFoldB(val, "100-continue") {
				h.Expect100 = true
			}
		case isReq && eqFold(name, "host"):
			if host != nil && !bytes.EqualFold(host, val) {
				return bad("conflicting Host headers")
			}
			host = val
		}
	}
	if h.Upgrade && !h.Has("upgrade") {
		h.Upgrade = false
	}
	if te {
		h.Chunked = true
		if h.ContentLength >= 0 {
			h.ContentLength = -1
			h.HadCLAndTE = true
			h.Drop("content-length")
		}
	} else if !isReq && h.Has("transfer-encoding") {
		// a response with a non-chunked transfer-coding is read until close
		h.ConnClose = true
	}
	return nil
}

func eqFoldB(b []byte, s string) bool { return eqFold(b, s) }

// nextToken returns the first token of a comma-separated header value (spaces and tabs trimmed, empty ones
// skipped) and what follows it; tok is nil when there is none. It allocates nothing: every response carries
// such a header (Connection: keep-alive).
func nextToken(v []byte) (tok, rest []byte) {
	for len(v) > 0 {
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		if tok = bytes.Trim(tok, " \t"); len(tok) > 0 {
			return tok, v
		}
	}
	return nil, nil
}

// parseCL parses a Content-Length value, accepting a comma list of identical values.
func parseCL(v []byte) (int64, bool) {
	var n int64 = -1
	for rest := v; ; {
		part := rest
		comma := bytes.IndexByte(rest, ',')
		if comma >= 0 {
			part, rest = rest[:comma], rest[comma+1:]
		}
		part = bytes.Trim(part, " \t")
		if len(part) == 0 || len(part) > 18 {
			return 0, false
		}
		var x int64
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int64(c-'0')
		}
		if n >= 0 && x != n {
			return 0, false
		}
		n = x
		if comma < 0 {
			break
		}
	}
	return n, n >= 0
}

// ReadResponse reads one response head; reqMethod decides whether a body follows.
func (h *Head) ReadResponse(br *bufio.Reader) error {
	h.reset()
	lines, err := h.readHead(br, MaxHead, badResp)
	if err != nil {
		return err
	}
	sl := h.buf[lines[0][0]:lines[0][1]]
	if len(sl) < 12 || !parseVersion(sl[:8], &h.Major, &h.Minor) || sl[8] != ' ' {
		return badResp("bad status line")
	}
	code := sl[9:12]
	for _, c := range code {
		if c < '0' || c > '9' {
			return badResp("bad status code")
		}
	}
	h.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if h.Status < 100 {
		return badResp("bad status code")
	}
	if len(sl) > 12 {
		if sl[12] != ' ' {
			return badResp("bad status line")
		}
		h.Reason = sl[13:]
	}
	if err := h.parseFields(lines[1:], false); err != nil {
		return err
	}
	if h.Minor == 0 && h.Major == 1 && !h.ConnKeepAlive {
		h.ConnClose = true
	}
	return nil
}

// BodyKind is how a message body is delimited.
type BodyKind int

const (
	BodyNone BodyKind = iota
	BodyLength
	BodyChunked
	BodyUntilClose
)

// RequestBody returns the request's body framing.
func (h *Head) RequestBody() BodyKind {
	switch {
	case h.Chunked:
		return BodyChunked
	case h.ContentLength > 0:
		return BodyLength
	default:
		return BodyNone
	}
}

// ResponseBody returns the response's body framing for a request with the given method.
func (h *Head) ResponseBody(method []byte) BodyKind {
	switch {
	case string(method) == "HEAD", h.Status < 200, h.Status == 204, h.Status == 304:
		return BodyNone
	case string(method) == "CONNECT" && h.Status/100 == 2:
		return BodyUntilClose
	case h.Chunked:
		return BodyChunked
	case h.ContentLength >= 0:
		if h.ContentLength == 0 {
			return BodyNone
		}
		return BodyLength
	default:
		return BodyUntilClose
	}
}

// WriteRequestLine writes "METHOD URI HTTP/1.1\r\n".
func (h *Head) WriteRequestLine(w *bufio.Writer) {
	w.Write(h.Method)
	w.WriteByte(' ')
	w.Write(h.URI)
	if h.Minor == 0 {
		w.WriteString(" HTTP/1.0\r\n")
	} else {
		w.WriteString(" HTTP/1.1\r\n")
	}
}

// WriteStatusLine writes the status line with the version haproxy always answers with (HTTP/1.1).
func (h *Head) WriteStatusLine(w *bufio.Writer) {
	w.WriteString("HTTP/1.1 ")
	if st := h.Status; st >= 100 && st <= 999 {
		// byte by byte: a formatted string would be an allocation per response
		w.WriteByte(byte('0' + st/100))
		w.WriteByte(byte('0' + st/10%10))
		w.WriteByte(byte('0' + st%10))
	} else {
		w.WriteString(strconv.Itoa(st))
	}
	w.WriteByte(' ')
	w.Write(h.Reason)
	w.WriteString("\r\n")
}

// hopByHop are the headers the proxy manages itself.
func hopByHop(name []byte) bool {
	return eqFold(name, "connection") || eqFold(name, "keep-alive") || eqFold(name, "proxy-connection")
}

// WriteFields writes every header except dropped ones and the hop-by-hop ones the proxy rewrites.
func (h *Head) WriteFields(w *bufio.Writer) {
	for i, f := range h.Fields {
		if f.drop {
			continue
		}
		name := h.buf[f.ns:f.ne]
		if hopByHop(name) {
			continue
		}
		w.Write(name)
		w.WriteString(": ")
		w.Write(h.buf[f.vs:f.ve])
		w.WriteString("\r\n")
		_ = i
	}
}

// CopyBody copies one body of the given kind from br to w and returns the bytes read from br (framing included
// for chunked). A malformed chunked body returns an *Error with status errStatus.
func CopyBody(w *bufio.Writer, br *bufio.Reader, kind BodyKind, length int64, errStatus int) (int64, error) {
	switch kind {
	case BodyNone:
		return 0, nil
	case BodyLength:
		if length <= int64(br.Buffered()) {
			// the whole body is already buffered (the common small answer): no copy machinery, no allocation
			b, _ := br.Peek(int(length))
			n, err := w.Write(b)
			_, _ = br.Discard(n)
			return int64(n), err
		}
		n, err := io.CopyN(w, br, length)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	case BodyUntilClose:
		return io.Copy(w, br)
	}
	return copyChunked(w, br, errStatus)
}

func copyChunked(w *bufio.Writer, br *bufio.Reader, errStatus int) (int64, error) {
	var total int64
	bad := func(msg string) error { return &Error{Status: errStatus, Msg: msg} }
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return total, bad("chunk size line too long")
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		total += int64(len(line))
		size, ok := parseChunkSize(line)
		if !ok {
			return total, bad("invalid chunk size")
		}
		w.Write(line)
		if size == 0 {
			// trailers until the empty line
			for {
				t, err := br.ReadSlice('\n')
				if err != nil {
					if err == bufio.ErrBufferFull {
						return total, bad("trailer too long")
					}
					if err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					return total, err
				}
				total += int64(len(t))
				w.Write(t)
				if len(t) == 1 || (len(t) == 2 && t[0] == '\r') {
					return total, nil
				}
			}
		}
		n, err := io.CopyN(w, br, size)
		total += n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		c, err := br.ReadByte()
		if err == nil && c == '\r' {
			total++
			c, err = br.ReadByte()
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		total++
		if c != '\n' {
			return total, bad("missing CRLF after chunk data")
		}
		w.WriteString("\r\n")
	}
}

// parseChunkSize parses "HEX[;ext]\r\n".
func parseChunkSize(line []byte) (int64, bool) {
	n := len(line) - 1
	if n > 0 && line[n-1] == '\r' {
		n--
	}
	line = line[:n]
	var size int64
	digits := 0
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			goto ext
		}
		digits++
		if digits > 15 {
			return 0, false
		}
		size = size<<4 | int64(v)
	}
ext:
	if digits == 0 {
		return 0, false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i < len(line) && line[i] != ';' {
		return 0, false
	}
	return size, true
}

// ErrorResponse returns haproxy's built-in error response for status (connection: close).
func ErrorResponse(status int) []byte {
	reason, msg := StatusText(status)
	body := fmt.Sprintf("<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", status, reason, msg)
	return []byte(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-length: %d\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n%s",
		status, reason, len(body), body))
}

// StatusText returns haproxy's reason phrase and message for its built-in error pages.
func StatusText(status int) (reason, msg string) {
	switch status {
	case 200:
		return "OK", "Service ready."
	case 400:
		return "Bad request", "Your browser sent an invalid request."
	case 401:
		return "Unauthorized", "You need a valid user and password to access this content."
	case 403:
		return "Forbidden", "Request forbidden by administrative rules."
	case 404:
		return "Not Found", "The resource could not be found."
	case 405:
		return "Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"
	case 408:
		return "Request Time-out", "Your browser didn't send a complete request in time."
	case 500:
		return "Internal Server Error", "An internal server error occurred."
	case 501:
		return "Not Implemented", ".The server does not support the functionality required to fulfill the request."
	case 502:
		return "Bad Gateway", "The server returned an invalid or incomplete response."
	case 503:
		return "Service Unavailable", "No server is available to handle this request."
	case 504:
		return "Gateway Time-out", "The server didn't respond in time."
	}
	return "Error", "An error occurred."
}

// Reason is haproxy's reason phrase for a status it generates: that of its built-in error pages (StatusText),
// else http_get_reason's standard phrases, then one per class ("Success" for an unknown 2xx ...).
func Reason(status int) string {
	if r, _ := StatusText(status); r != "Error" {
		return r
	}
	if r, ok := reasons[status]; ok {
		return r
	}
	switch status / 100 {
	case 1:
		return "Informational"
	case 2:
		return "Success"
	case 3:
		return "Redirection"
	case 4:
		return "Client Error"
	case 5:
		return "Server Error"
	}
	return "Other"
}

var reasons = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 200: "OK", 201: "Created", 202: "Accepted",
	203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content", 206: "Partial Content",
	207: "Multi-Status", 210: "Content Different", 226: "IM Used", 300: "Multiple Choices", 301: "Moved Permanently",
	302: "Found", 303: "See Other", 304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect",
	308: "Permanent Redirect", 310: "Too many Redirects", 400: "Bad Request", 401: "Unauthorized",
	402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
	411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
	415: "Unsupported Media Type", 416: "Requested range unsatisfiable", 417: "Expectation failed",
	418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable entity", 423: "Locked",
	424: "Method failure", 425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required",
	429: "Too Many Requests", 431: "Request Header Fields Too Large", 449: "Retry With",
	450: "Blocked by Windows Parental Controls", 451: "Unavailable For Legal Reasons", 456: "Unrecoverable Error",
	499: "client has closed connection", 500: "Internal Server Error", 501: "Not Implemented",
	502: "Bad Gateway or Proxy Error", 503: "Service Unavailable", 504: "Gateway Time-out",
	505: "HTTP Version not supported", 506: "Variant also negociate", 507: "Insufficient storage",
	508: "Loop detected", 509: "Bandwidth Limit Exceeded", 510: "Not extended",
	511: "Network authentication required", 520: "Web server is returning an unknown error",
}
