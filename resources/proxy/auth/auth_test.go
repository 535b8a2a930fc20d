package auth

import (
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCryptVectors(t *testing.T) {
	// vectors from Drepper's SHA-crypt specification ($5$ is checked against openssl below)
	for _, tc := range []struct{ pw, setting, want string }{
		{"Hello world!", "$6$saltstring", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"Hello world!", "$6$rounds=10000$saltstringsaltstring", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	} {
		got, err := Crypt(tc.pw, tc.setting)
		if err != nil || got != tc.want {
			t.Errorf("Crypt(%q, %q) = %q, %v; want %q", tc.pw, tc.setting, got, err, tc.want)
		}
	}
}

func TestCryptAgainstOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	for _, scheme := range []string{"-1", "-5", "-6"} {
		for _, pw := range []string{"secret", "x", "a much longer password than the hash size of sha256 ............"} {
			out, err := exec.Command(bin, "passwd", scheme, "-salt", "DuetSalt", pw).Output()
			if err != nil {
				t.Fatalf("openssl passwd: %v", err)
			}
			h := strings.TrimSpace(string(out))
			if !Verify(pw, h) {
				t.Errorf("Verify(%q, %q) failed", pw, h)
			}
			if Verify(pw+"x", h) {
				t.Errorf("wrong password accepted for %q", h)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	h, _ := Crypt("pw2", "$6$abc")
	r.Add("L", []User{{Name: "alice", Password: "pw1", Insecure: true, Groups: []string{"ops"}}, {Name: "bob", Password: h}},
		map[string][]string{"admins": {"bob"}})
	if g, ok := r.Check("L", "alice", "pw1"); !ok || strings.Join(g, ",") != "ops" {
		t.Errorf("alice: %v %v", g, ok)
	}
	if g, ok := r.Check("L", "bob", "pw2"); !ok || strings.Join(g, ",") != "admins" {
		t.Errorf("bob: %v %v", g, ok)
	}
	for _, bad := range [][3]string{{"L", "alice", "nope"}, {"L", "carol", "x"}, {"M", "alice", "pw1"}} {
		if _, ok := r.Check(bad[0], bad[1], bad[2]); ok {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestCryptLibxcrypt replays crypt(3) results of Debian's libxcrypt (testdata/gen_libxcrypt.py): Crypt gives the
// same string, and settings libxcrypt refuses ("*0"/"*1") give an error.
func TestCryptLibxcrypt(t *testing.T) {
	data, err := os.ReadFile("testdata/libxcrypt.txt")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("libxcrypt.txt:%d: %d fields", i+1, len(f))
		}
		pw, err := hex.DecodeString(f[0])
		if err != nil {
			t.Fatalf("libxcrypt.txt:%d: %v", i+1, err)
		}
		got, err := Crypt(string(pw), f[1])
		if _, ok := Scheme(f[1]); !ok && f[2][0] != '*' {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("libxcrypt.txt:%d: Crypt(%q, %q) = %q, %v; want ErrUnsupported", i+1, pw, f[1], got, err)
			}
			continue
		}
		if f[2] == "*0" || f[2] == "*1" {
			if err == nil {
				t.Errorf("libxcrypt.txt:%d: Crypt(%q, %q) = %q, libxcrypt refuses it", i+1, pw, f[1], got)
			}
			continue
		}
		if err != nil || got != f[2] {
			t.Errorf("libxcrypt.txt:%d: Crypt(%q, %q) = %q, %v; want %q", i+1, pw, f[1], got, err, f[2])
			continue
		}
		if !Verify(string(pw), f[2]) {
			t.Errorf("libxcrypt.txt:%d: Verify(%q, %q) = false", i+1, pw, f[2])
		}
	}
}

// TestBcrypt2a: libxcrypt's $2a$ equals $2b$ except for the keys bcrypt2aAltered finds (truth from
// Debian 12's libcrypt.so.1: crypt(pw, "$2a$04$"+salt) against crypt(pw, "$2b$04$"+salt)).
func TestBcrypt2a(t *testing.T) {
	const salt = "aaaaaaaaaaaaaaaaaaaaaa"
	for _, tc := range []struct {
		pw      string
		altered bool
	}{
		{"\xff\xff\xff", true},
		{strings.Repeat("\xff", 72), true},
		{"\xff\xff\xff\xff", false},
		{"a\xff\xff\xff", false},
		{"\xff\x80pwd", false},
		{"\x80", false},
		{"plain", false},
	} {
		a, err := Crypt(tc.pw, "$2a$04$"+salt)
		if tc.altered {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("Crypt(%q, $2a$) = %q, %v; want ErrUnsupported", tc.pw, a, err)
			}
			continue
		}
		b, err2 := Crypt(tc.pw, "$2b$04$"+salt)
		if err != nil || err2 != nil || a[4:] != b[4:] {
			t.Errorf("Crypt(%q): $2a$ %q, %v; $2b$ %q, %v: want the same hash", tc.pw, a, err, b, err2)
		}
	}
}

func TestScheme(t *testing.T) {
	for _, tc := range []struct {
		hash, name string
		ok         bool
	}{
		{"$1$abc$x", "MD5-crypt ($1$)", true},
		{"$5$abc$x", "SHA-256-crypt ($5$)", true},
		{"$6$abc$x", "SHA-512-crypt ($6$)", true},
		{"abJnggxhB/yWI", "DES", true},
		{"abJnggxhB/yWIhAyA1wNll32", "bigcrypt", true},
		{"_J9..CCCCaxLHlwiamg2", "BSDi extended DES (_)", true},
		{"$y$j9T$abc$def", "yescrypt ($y$)", false},
		{"$2y$05$abc", "bcrypt ($2y$)", true},
		{"$2b$05$abc", "bcrypt ($2b$)", true},
		{"$2a$05$abc", "bcrypt ($2a$)", true},
		{"$2x$05$abc", "bcrypt ($2x$)", false},
		{"$7$CU..../....abcdefgh$x", "scrypt ($7$)", false},
		{"$apr1$abc$def", "invalid", false},
		{"!$6$abc$x", "invalid", false},
		{"", "invalid", false},
		{"a-", "invalid", false},
		{"$6$a b$x", "invalid", false},
	} {
		if name, ok := Scheme(tc.hash); name != tc.name || ok != tc.ok {
			t.Errorf("Scheme(%q) = %q, %v; want %q, %v", tc.hash, name, ok, tc.name, tc.ok)
		}
	}
}

// FuzzCrypt: no setting makes Crypt panic, and a computed hash verifies against itself.
func FuzzCrypt(f *testing.F) {
	for _, s := range []string{"ab", "abcdefghijklmnop", "_J9..CCCC", "$1$salt", "$5$rounds=1000$s", "$6$s$h", "$y$j9T$x", "$2b$04$abcdefghijklmnopqrstuv", "$2a$04$abcdefghijklmnopqrstuvXXXX", ""} {
		f.Add("password", s)
	}
	f.Fuzz(func(t *testing.T, pw, setting string) {
		if strings.HasPrefix(setting, "_") && len(setting) >= 5 {
			if n, _ := b64Value(setting[1:5]); n > 5000 {
				return // slow on purpose (2^24 DES runs at most)
			}
		}
		if strings.HasPrefix(setting, "$2") && len(setting) >= 6 && setting[4:6] > "05" {
			return // bcrypt costs 2^cost rounds on purpose
		}
		if strings.Contains(setting, "rounds=") {
			return // up to 999999999 rounds on purpose
		}
		h, err := Crypt(pw, setting)
		if err != nil {
			return
		}
		if !Verify(pw, h) {
			t.Errorf("Crypt(%q, %q) = %q does not verify", pw, setting, h)
		}
	})
}
