package auth

import (
	"crypto/md5"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported is returned by Crypt for a setting whose scheme Duet does not implement (crypt(3) on Debian may
// still know it: yescrypt, scrypt ...).
var ErrUnsupported = errors.New("crypt: unsupported scheme")

// errInvalid is returned for a setting that Debian's crypt(3) (libxcrypt) refuses; such a hash never matches.
var errInvalid = errors.New("crypt: invalid setting")

// Scheme names the crypt(3) scheme of a stored hash as libxcrypt dispatches it, and reports whether Duet verifies
// it. A hash libxcrypt rejects (bad characters, unknown prefix) is named "invalid" and is not supported: such a
// user cannot log in with haproxy either.
func Scheme(hash string) (name string, supported bool) {
	if hasBadChars(hash) {
		return "invalid", false
	}
	switch {
	case strings.HasPrefix(hash, "$1$"):
		return "MD5-crypt ($1$)", true
	case strings.HasPrefix(hash, "$5$"):
		return "SHA-256-crypt ($5$)", true
	case strings.HasPrefix(hash, "$6$"):
		return "SHA-512-crypt ($6$)", true
	case strings.HasPrefix(hash, "_"):
		return "BSDi extended DES (_)", true
	case strings.HasPrefix(hash, "$y$"):
		return "yescrypt ($y$)", false
	case strings.HasPrefix(hash, "$gy$"):
		return "gost-yescrypt ($gy$)", false
	case strings.HasPrefix(hash, "$7$"):
		return "scrypt ($7$)", false
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return "bcrypt (" + hash[:4] + ")", true
	case strings.HasPrefix(hash, "$2x$"):
		// the sign-extension bug kept for old hashes; nothing produces it any more
		return "bcrypt ($2x$)", false
	case strings.HasPrefix(hash, "$3$"):
		return "NT hash ($3$)", false
	case strings.HasPrefix(hash, "$md5"):
		return "SunMD5 ($md5)", false
	case strings.HasPrefix(hash, "$sha1$"):
		return "HMAC-SHA1 ($sha1$)", false
	case len(hash) >= 2 && isB64(hash[0]) && isB64(hash[1]):
		if len(hash) > 13 {
			return "bigcrypt", true
		}
		return "DES", true
	}
	return "invalid", false
}

// Crypt computes crypt(3) of password with setting (a salt specification or a whole stored hash), as Debian's
// libxcrypt does for the schemes Duet implements: MD5-crypt ($1$), SHA-crypt ($5$, $6$), bcrypt, traditional DES,
// bigcrypt and BSDi extended DES (_). The password ends at its first NUL byte, as a C string does. Other schemes
// give ErrUnsupported; settings libxcrypt refuses give an error too.
func Crypt(password, setting string) (string, error) {
	if i := strings.IndexByte(password, 0); i >= 0 {
		password = password[:i]
	}
	name, ok := Scheme(setting)
	switch {
	case name == "invalid":
		return "", errInvalid
	case !ok:
		return "", fmt.Errorf("%w: %s", ErrUnsupported, name)
	}
	switch setting[0] {
	case '_':
		return bsdiCrypt(password, setting)
	case '$':
		switch setting[1] {
		case '1':
			return md5Crypt(password, setting)
		case '2':
			return bcryptCrypt(password, setting)
		}
		return shaCrypt(password, setting)
	}
	return desCrypt(password, setting), nil
}

// hasBadChars reports what libxcrypt refuses anywhere in a setting: controls, space, non-ASCII and "!*:;\".
func hasBadChars(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || strings.IndexByte(`!*:;\`, c) >= 0 {
			return true
		}
	}
	return false
}

func isB64(c byte) bool { return strings.IndexByte(itoa64, c) >= 0 }

// b64Value decodes the little-endian base-64 number in s (each character 6 bits, the first the least significant).
func b64Value(s string) (uint32, bool) {
	var v uint32
	for i := len(s) - 1; i >= 0; i-- {
		d := strings.IndexByte(itoa64, s[i])
		if d < 0 {
			return 0, false
		}
		v = v<<6 | uint32(d)
	}
	return v, true
}

// desKey packs up to 8 password bytes into a DES key, each shifted left by one (its top bit is lost).
func desKey(p string) uint64 {
	var k uint64
	for i := 0; i < 8; i++ {
		var c byte
		if i < len(p) {
			c = p[i] << 1
		}
		k = k<<8 | uint64(c)
	}
	return k
}

// desEncode writes the 64-bit block as 11 characters, 6 bits at a time from the most significant end.
func desEncode(out *strings.Builder, b uint64) {
	for shift := 58; shift >= -2; shift -= 6 {
		var v uint64
		if shift >= 0 {
			v = b >> shift
		} else {
			v = b << -shift
		}
		out.WriteByte(itoa64[v&0x3f])
	}
}

// desCrypt is traditional crypt (two salt characters, the first 8 password bytes, 25 encryptions of zero) and,
// for settings longer than 13 characters, bigcrypt: each further 8 bytes of password (up to 128) are encrypted
// the same way with the first two characters of the previous segment's output as salt.
func desCrypt(password, setting string) string {
	var out strings.Builder
	out.WriteString(setting[:2])
	salt := setting[:2]
	var c desCipher
	for seg := 0; ; seg++ {
		chunk := password[min(8*seg, len(password)):min(8*seg+8, len(password))]
		v, _ := b64Value(salt)
		c.setSalt(v)
		c.setKey(desKey(chunk))
		start := out.Len()
		desEncode(&out, c.encrypt(0, 25))
		if len(setting) <= 13 || 8*seg+8 >= len(password) || seg == 15 {
			break
		}
		salt = out.String()[start : start+2]
	}
	return out.String()
}

// bsdiCrypt is BSDi extended DES: "_", 4 characters of iteration count, 4 of salt; every password byte counts
// (each further 8 are folded into the key by encrypting the key with itself).
func bsdiCrypt(password, setting string) (string, error) {
	if len(setting) < 9 {
		return "", errInvalid
	}
	count, ok1 := b64Value(setting[1:5])
	salt, ok2 := b64Value(setting[5:9])
	if !ok1 || !ok2 {
		return "", errInvalid
	}
	var c desCipher
	key := desKey(password)
	c.setKey(key)
	for p := password[min(8, len(password)):]; p != ""; p = p[min(8, len(p)):] {
		key = c.encrypt(key, 1) ^ desKey(p)
		c.setKey(key)
	}
	c.setSalt(salt)
	var out strings.Builder
	out.WriteString(setting[:9])
	desEncode(&out, c.encrypt(0, max(int(count), 1))) // libxcrypt runs a count of 0 once
	return out.String(), nil
}

// md5Crypt is Poul-Henning Kamp's MD5-based crypt: "$1$", up to 8 salt characters, 1000 rounds of MD5.
func md5Crypt(password, setting string) (string, error) {
	salt := setting[3:]
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	salt = salt[:min(8, len(salt))]
	alt := md5.Sum([]byte(password + salt + password))
	h := md5.New()
	h.Write([]byte(password + "$1$" + salt))
	for n := len(password); n > 0; n -= 16 {
		h.Write(alt[:min(n, 16)])
	}
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write([]byte(password[:1]))
		}
	}
	final := h.Sum(nil)
	for i := 0; i < 1000; i++ {
		h.Reset()
		if i&1 != 0 {
			h.Write([]byte(password))
		} else {
			h.Write(final)
		}
		if i%3 != 0 {
			h.Write([]byte(salt))
		}
		if i%7 != 0 {
			h.Write([]byte(password))
		}
		if i&1 != 0 {
			h.Write(final)
		} else {
			h.Write([]byte(password))
		}
		final = h.Sum(final[:0])
	}
	var out strings.Builder
	out.WriteString("$1$" + salt + "$")
	put := func(v uint32, n int) {
		for ; n > 0; n-- {
			out.WriteByte(itoa64[v&0x3f])
			v >>= 6
		}
	}
	for _, t := range [5][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		put(uint32(final[t[0]])<<16|uint32(final[t[1]])<<8|uint32(final[t[2]]), 4)
	}
	put(uint32(final[11]), 2)
	return out.String(), nil
}
