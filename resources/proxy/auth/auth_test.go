package auth

import (
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
	for _, scheme := range []string{"-5", "-6"} {
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
