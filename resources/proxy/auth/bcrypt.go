package auth

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/blowfish"
)

// bcrypt's own base64 alphabet (not crypt(3)'s itoa64 order).
const bcrypt64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

var bcryptMagic = []byte("OrpheanBeholderScryDoubt")

// bcryptCrypt computes bcrypt ("$2b$NN$" + 22 salt characters, also $2a$ and $2y$) as libxcrypt does: the cost
// is two digits 04..31, the salt 22 characters of bcrypt's alphabet of which only 128 bits count (the last
// character is written back canonically), the key is the password with its terminating NUL, cut at 72 bytes.
// Anything after the salt (a stored hash) is ignored. $2a$ is $2b$ except for the rare passwords that
// bcrypt2aAltered finds, refused here (ErrUnsupported) rather than answered wrongly.
func bcryptCrypt(password, setting string) (string, error) {
	if len(setting) < 29 || setting[3] != '$' || setting[6] != '$' {
		return "", errInvalid
	}
	variant := setting[:4]
	switch variant {
	case "$2a$", "$2b$", "$2y$":
	default:
		return "", errInvalid
	}
	if setting[4] < '0' || setting[4] > '9' || setting[5] < '0' || setting[5] > '9' {
		return "", errInvalid
	}
	cost := int(setting[4]-'0')*10 + int(setting[5]-'0')
	if cost < 4 || cost > 31 {
		return "", errInvalid
	}
	salt, ok := bcryptDecode(setting[7:29], 16)
	if !ok {
		return "", errInvalid
	}
	key := make([]byte, 0, 73)
	key = append(key, password...)
	key = append(key, 0)
	if len(key) > 72 {
		key = key[:72]
	}
	if variant == "$2a$" && bcrypt2aAltered(key) {
		return "", fmt.Errorf("%w: $2a$ bcrypt of this password (libxcrypt alters its key schedule)", ErrUnsupported)
	}
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	for i := uint64(0); i < 1<<uint(cost); i++ {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
	}
	out := make([]byte, len(bcryptMagic))
	copy(out, bcryptMagic)
	for i := 0; i < 24; i += 8 {
		for j := 0; j < 64; j++ {
			c.Encrypt(out[i:i+8], out[i:i+8])
		}
	}
	var b strings.Builder
	b.Grow(60)
	b.WriteString(setting[:7])
	b.WriteString(bcryptEncode(salt))
	b.WriteString(bcryptEncode(out[:23])) // bcrypt keeps 23 of the 24 bytes
	return b.String(), nil
}

// bcryptDecode reads n bytes from bcrypt-base64 text (4 characters per 3 bytes, big-endian bit order); bits left
// over in the last character are ignored, as libxcrypt does.
func bcryptDecode(s string, n int) ([]byte, bool) {
	out := make([]byte, 0, n+2)
	var acc uint32
	bits := 0
	for i := 0; i < len(s) && len(out) < n; i++ {
		v := strings.IndexByte(bcrypt64, s[i])
		if v < 0 {
			return nil, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>uint(bits)))
		}
	}
	return out, len(out) == n
}

// bcryptEncode writes b in bcrypt-base64 without padding.
func bcryptEncode(b []byte) string {
	var sb strings.Builder
	var acc uint32
	bits := 0
	for _, x := range b {
		acc = acc<<8 | uint32(x)
		bits += 8
		for bits >= 6 {
			bits -= 6
			sb.WriteByte(bcrypt64[(acc>>uint(bits))&63])
		}
	}
	if bits > 0 {
		sb.WriteByte(bcrypt64[(acc<<uint(6-bits))&63])
	}
	return sb.String()
}

// bcrypt2aAltered reports the keys for which libxcrypt's $2a$ departs from $2b$: it guards old hashes made with
// the sign-extension bug ($2x$) by changing the key schedule when a byte >= 0x80 sits inside a 32-bit key word
// yet the buggy and the correct words come out equal (e.g. "\xff\xff\xff"), so that the two cannot be confused.
func bcrypt2aAltered(key []byte) bool {
	signed, differ := false, false
	pos := 0
	for w := 0; w < 18; w++ { // the 18 words of the P-array, taken from the key cyclically
		var good, bad uint32
		for j := 0; j < 4; j++ {
			b := key[pos]
			pos = (pos + 1) % len(key)
			good = good<<8 | uint32(b)
			bad = bad<<8 | uint32(int32(int8(b)))
			if j > 0 && b >= 0x80 {
				signed = true
			}
		}
		if good != bad {
			differ = true
		}
	}
	return signed && !differ
}
