package balance

import (
	"testing"

	"github.com/duet-ha/duet/resources/proxy/config"
)

func TestPostParam(t *testing.T) {
	for _, tc := range []struct {
		body, name, want string
		ok               bool
	}{
		{"userid=abc", "userid", "abc", true},
		{"a=1&userid=abc&b=2", "userid", "abc", true},
		{"userid=", "userid", "", true},
		{"userid=&x=1", "userid", "", true},
		{"userid= abc", "userid", "", true},  // LWS first: empty value
		{"userid=\r\n", "userid", "", true},  // idem
		{"userid=/abc", "userid", "", false}, // not a token: not a form
		{"userid=a/b c", "userid", "a/b c", true},
		{"userid=a\x00b&c", "userid", "a\x00b", true}, // only the first byte is judged, as haproxy
		{"xuserid=1&userid=z", "userid", "z", true},
		{"USERID=z", "userid", "", false},
		{"&&userid=amp", "userid", "amp", true},
		{"userid", "userid", "", false},
		{"nothing=here", "userid", "", false},
		{"", "userid", "", false},
		{"k=v", "", "", false},
	} {
		got, ok := PostParam([]byte(tc.body), tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PostParam(%q, %q) = %q, %v; want %q, %v", tc.body, tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDechunk(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		complete bool
	}{
		{"5\r\nhello\r\n0\r\n\r\n", "hello", true},
		{"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n", "abcdefg", true},
		{"5\r\nhel", "hel", false},
		{"5\r\nhello\r\n6\r\n wor", "hello wor", false},
		{"5\r\nhello", "hello", false},
		{"A\r\n0123456789\r\n0\r\n", "0123456789", true},
		{"zz\r\nabc", "", false},
		{"5\r\nhelloXX", "hello", false},
		{"", "", false},
	} {
		got, complete := Dechunk([]byte(tc.in))
		if string(got) != tc.want || complete != tc.complete {
			t.Errorf("Dechunk(%q) = %q, %v; want %q, %v", tc.in, got, complete, tc.want, tc.complete)
		}
	}
}

// TestURLParamFallsBackToBody: the query string wins; the body is looked at only when it lacks the parameter.
func TestURLParamFallsBackToBody(t *testing.T) {
	key := keyFunc(config.Balance{Algo: config.AlgoURLParam, Param: "id"}, config.HashType{})
	hq, okq := key(&Request{URI: "/x?id=abc", Body: []byte("id=zzz")})
	hb, okb := key(&Request{URI: "/x", Body: []byte("id=abc")})
	if !okq || !okb || hq != hb {
		t.Errorf("query %d %v, body %d %v: want the same key", hq, okq, hb, okb)
	}
	if _, ok := key(&Request{URI: "/x"}); ok {
		t.Error("no parameter anywhere: want no key (round robin)")
	}
}

func FuzzPostParam(f *testing.F) {
	for _, s := range []string{"userid=abc", "a=1&userid=x&b", "5\r\nuseri\r\n4\r\nd=ab\r\n0\r\n\r\n", "userid= x", "&&&"} {
		f.Add([]byte(s), "userid")
	}
	f.Fuzz(func(t *testing.T, body []byte, name string) {
		if v, ok := PostParam(body, name); ok && len(v) > len(body) {
			t.Fatalf("value %q longer than the body", v)
		}
		data, _ := Dechunk(body)
		if len(data) > len(body) {
			t.Fatalf("de-chunked %d bytes out of %d", len(data), len(body))
		}
	})
}
