package server

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestSideBySideUserlistCrypt sends the same Basic credentials to haproxy (which verifies with Debian's crypt(3))
// and to Duet: every user/password pair is accepted by both or refused by both. The hashes were made with
// libxcrypt and openssl passwd; yescrypt (and $2a$ of a few 8-bit passwords) is what Duet refuses where haproxy
// accepts.
func TestSideBySideUserlistCrypt(t *testing.T) {
	users := []struct {
		name, hash string
		accept     []string // passwords haproxy accepts
		refuse     []string // near misses it refuses
		duetRefuse bool     // haproxy accepts, Duet cannot verify the scheme
	}{
		{name: "md5", hash: "$1$DuetSalt$v059ARZd344JFaxhwwBYA1", accept: []string{"md5pass"}, refuse: []string{"md5pas", "md5passx", "MD5PASS"}},
		{name: "des", hash: "DuWqnyzF4IfII", accept: []string{"despass"}, refuse: []string{"despas", "despass1", "dEspass"}},
		// traditional DES uses the first 8 bytes only, without their top bit
		{name: "des8", hash: "DuHCdteJskrVg", accept: []string{"longdespass1", "longdesp", "longdespass2", "l\xefngdesp"}, refuse: []string{"longdes"}},
		{name: "bigcrypt", hash: "DuWD5CTAYEVOIo3xD4W5WYegHRuMrcWShp6", accept: []string{"bigcrypt-password"}, refuse: []string{"bigcrypt", "bigcrypt-passwor", "bigcrypt-passwordX"}},
		{name: "bsdi", hash: "_J9..DuetFZFHVK703AQ", accept: []string{"bsdi-pass-longer-than-8"}, refuse: []string{"bsdi-pas", "bsdi-pass-longer-than-9"}},
		{name: "sha256", hash: "$5$DuetSalt$n/Sak41XJ7lp5C5z6WTIgoIg6LvBjsDix9ObqR3QhF/", accept: []string{"sha256pw"}, refuse: []string{"sha256p"}},
		{name: "sha512", hash: "$6$rounds=2000$DuetSalt$hYZHpik4fETotydKisht2P13aTlmw85V0K9u5./fLy535m4PMZ5Hk735pHYVLj2ICkm/NQ3io1ybXMuQ1oy9Y/", accept: []string{"sha512pw"}, refuse: []string{"sha512pW"}},
		// the password is a C string for haproxy: it ends at a NUL byte
		{name: "8bit", hash: "$1$8bit$3L/A9OK5pAZtyyedArBBA1", accept: []string{"\xe9t\xe9-8bit", "\xe9t\xe9-8bit\x00x"}, refuse: []string{"et\xe9-8bit"}},
		{name: "empty", hash: "$1$empty$dcN8YAzH./JGClDgyY17..", accept: []string{"", "\x00"}, refuse: []string{" "}},
		{name: "insecure", hash: "", accept: []string{"plain", "plain\x00x"}, refuse: []string{"plainx", "Plain", "other"}},
		// a second "user insecure" line is ignored (haproxy warns): its password does not log in
		// hashes libxcrypt refuses: nobody logs in
		{name: "apr1", hash: "$apr1$DuetSalt$Gt6yD2rzWbEKuABU7hECQ.", refuse: []string{"md5pass", ""}},
		{name: "locked", hash: "!DuWqnyzF4IfII", refuse: []string{"despass"}},
		{name: "badsalt", hash: "$1$a b$v059ARZd344JFaxhwwBYA1", refuse: []string{"md5pass"}},
		{name: "bcrypt", hash: "$2y$05$DuetSaltDuetSaltDuetSOP5q1/snI63hKq0Y1EcK3s59uzh9axuO", accept: []string{"bcrypt-pw"}, refuse: []string{"bcrypt-p", "bcrypt-pw2"}},
		{name: "bcrypt8", hash: "$2b$04$DuetSaltDuetSaltDuetSOGNyN2J1Ik34aZGDPKCJ6IFYE5mYWA4y", accept: []string{"b\xe9-pw"}, refuse: []string{"be-pw"}},
		// bcrypt reads 72 bytes of the key: a longer password logs in with its first 72
		{name: "bcrypt72", hash: "$2b$04$DuetSaltDuetSaltDuetSOp2ezjnLqAVAuBptV71OgnocTHvccRSK", accept: []string{strings.Repeat("z", 72), strings.Repeat("z", 80)}, refuse: []string{strings.Repeat("z", 71)}},
		// libxcrypt changes $2a$'s key schedule for this password; Duet refuses to guess
		{name: "bcrypt2a", hash: "$2a$04$DuetSaltDuetSaltDuetSOSHoIvyphMvTlaKkpavwipZJyy1aElkm", accept: []string{"\xff\xff\xff"}, refuse: []string{"\xff\xff"}, duetRefuse: true},
		{name: "yescrypt", hash: "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$rcY.sqsUoG/SGw/FPteloCsldYkxZWdAV7MUEZonz53", accept: []string{"yes"}, refuse: []string{"no"}, duetRefuse: true},
	}
	var ul strings.Builder
	ul.WriteString("userlist L\n")
	for _, u := range users {
		if u.hash == "" {
			fmt.Fprintf(&ul, "    user %s insecure-password plain\n    user %s insecure-password other\n", u.name, u.name)
			continue
		}
		fmt.Fprintf(&ul, "    user %s password '%s'\n", u.name, u.hash)
	}
	body := "global\n    maxconn 100\n" + ul.String() +
		"defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n" +
		"frontend www\n    bind 127.0.0.1:%d\n    http-request auth realm R unless { http_auth(L) }\n" +
		"    http-request return status 200 content-type text/plain string ok\n"
	hp, dp := freePort(t), freePort(t)
	haproxyProc(t, fmt.Sprintf(body, hp), []int{hp})
	startProxy(t, fmt.Sprintf(body, dp), nil)
	status := func(port int, user, pass string) string {
		cred := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		return askL7(t, port, l7Req{target: "/", hdrs: "Host: a\r\nAuthorization: Basic " + cred + "\r\n"}).status
	}
	for _, u := range users {
		for _, tr := range append(u.accept, u.refuse...) {
			want := "401"
			if slices.Contains(u.accept, tr) {
				want = "200"
			}
			h, d := status(hp, u.name, tr), status(dp, u.name, tr)
			if h != want {
				t.Errorf("%s/%q: haproxy answered %s, the table expects %s", u.name, tr, h, want)
			}
			if u.duetRefuse && want == "200" {
				want = "401"
			}
			if d != want {
				t.Errorf("%s/%q: haproxy %s, Duet %s (want %s)", u.name, tr, h, d, want)
			}
		}
	}
}
