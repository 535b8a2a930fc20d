package balance

import "bytes"

// PostParam is haproxy 2.6's get_server_ph_post: the value of the first name=value in an
// application/x-www-form-urlencoded POST body (the bytes received with the head), for balance url_param when
// the query string lacks the parameter. haproxy does this for every POST, with or without check_post, and
// whatever the Content-Type. As haproxy, it judges the value by its first byte: a space, tab, CR or LF there
// gives the empty value, another byte that is not an RFC 7230 token character means the body holds no
// parameters (ok=false: round robin); otherwise the value runs to the next '&' or the end of the data.
func PostParam(body []byte, name string) (string, bool) {
	plen := len(name)
	if plen == 0 {
		return "", false
	}
	params := body
	for len(params) > plen {
		if params[plen] == '=' && string(params[:plen]) == name {
			v := params[plen+1:]
			end := 0
			for end < len(v) && v[end] != '&' {
				if !isToken(v[0]) {
					if isLWS(v[0]) {
						break
					}
					return "", false
				}
				end++
			}
			return string(v[:end]), true
		}
		i := bytes.IndexByte(params, '&')
		if i < 0 {
			return "", false
		}
		params = params[i+1:]
	}
	return "", false
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isToken reports RFC 7230 tchar: ALPHA, DIGIT and "!#$%&'*+-.^_`|~".
func isToken(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c < 0x80 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// Dechunk returns the data of the complete and partial chunks at the start of b, a chunked body as far as it
// has been received, and whether b held the whole body up to its last (zero-size) chunk. It stops at anything
// malformed (the body reader refuses it later).
func Dechunk(b []byte) (data []byte, complete bool) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimRight(b[:i], "\r")
		if j := bytes.IndexByte(line, ';'); j >= 0 {
			line = line[:j]
		}
		size, ok := hexSize(bytes.TrimRight(line, " \t"))
		if !ok {
			break
		}
		if size == 0 {
			return data, true
		}
		b = b[i+1:]
		n := int(min(size, int64(len(b))))
		data = append(data, b[:n]...)
		if int64(n) < size {
			break
		}
		b = b[n:]
		switch {
		case len(b) >= 2 && b[0] == '\r' && b[1] == '\n':
			b = b[2:]
		case len(b) >= 1 && b[0] == '\n':
			b = b[1:]
		default:
			return data, false
		}
	}
	return data, false
}

// hexSize parses a chunk size (hex digits, at most 15 of them).
func hexSize(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}
