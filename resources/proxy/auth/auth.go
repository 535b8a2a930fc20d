// Package auth checks HTTP basic credentials against haproxy userlists: plain ("insecure-password") and
// crypt(3) passwords as Debian's libxcrypt computes them for MD5-crypt ($1$), SHA-crypt ($5$, $6$), bcrypt
// ($2b$, $2y$, $2a$: htpasswd -B), traditional DES, bigcrypt and BSDi extended DES (_). yescrypt and the other
// libxcrypt schemes are recognised (Scheme) but not verified. It is pure and safe for concurrent use once built.
package auth

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// User is one userlist user.
type User struct {
	Name     string
	Password string // crypt(3) hash, or the plain password when Insecure
	Insecure bool
	Groups   []string
}

// List is one userlist.
type List struct {
	users  map[string]User
	groups map[string][]string // group -> users
}

// Registry holds the userlists of a configuration, by name.
type Registry struct {
	lists map[string]*List
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{lists: map[string]*List{}} }

// Add registers a userlist; groups maps each group to the users its "group ... users" line names.
func (r *Registry) Add(name string, users []User, groups map[string][]string) {
	l := &List{users: map[string]User{}, groups: groups}
	for _, u := range users {
		if _, dup := l.users[u.Name]; !dup { // the first one counts, as haproxy
			l.users[u.Name] = u
		}
	}
	r.lists[name] = l
}

// Has reports whether the userlist exists.
func (r *Registry) Has(name string) bool {
	if r == nil {
		return false
	}
	_, ok := r.lists[name]
	return ok
}

// Check verifies user and password against userlist list and returns the user's groups.
func (r *Registry) Check(list, user, pass string) ([]string, bool) {
	if r == nil {
		return nil, false
	}
	l := r.lists[list]
	if l == nil {
		return nil, false
	}
	u, ok := l.users[user]
	if !ok {
		return nil, false
	}
	if i := strings.IndexByte(pass, 0); i >= 0 {
		pass = pass[:i] // haproxy compares C strings
	}
	if u.Insecure {
		if subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) != 1 {
			return nil, false
		}
	} else if !Verify(pass, u.Password) {
		return nil, false
	}
	groups := append([]string(nil), u.Groups...)
	for g, members := range l.groups {
		for _, m := range members {
			if m == user {
				groups = append(groups, g)
			}
		}
	}
	return groups, true
}

// Supported reports whether Duet can verify a stored crypt(3) hash (see Scheme).
func Supported(hash string) bool {
	_, ok := Scheme(hash)
	return ok
}

// Verify checks password against a stored crypt(3) hash as haproxy does: crypt(password, hash) must give the
// hash again, byte for byte.
func Verify(password, hash string) bool {
	got, err := Crypt(password, hash)
	return err == nil && subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// shaCrypt computes SHA-crypt (Drepper's specification) of password with the settings of setting
// ("$6$[rounds=N$]salt[$...]"); like libxcrypt it refuses rounds outside 1000..999999999 or written with a
// leading zero.
func shaCrypt(password, setting string) (string, error) {
	var newHash func() hash.Hash
	var id string
	switch {
	case strings.HasPrefix(setting, "$5$"):
		newHash, id = sha256.New, "$5$"
	case strings.HasPrefix(setting, "$6$"):
		newHash, id = sha512.New, "$6$"
	default:
		return "", ErrUnsupported
	}
	rest := setting[3:]
	rounds, custom := 5000, false
	if strings.HasPrefix(rest, "rounds=") {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			return "", errInvalid
		}
		digits := rest[7:i]
		n, err := strconv.Atoi(digits)
		if err != nil || digits[0] < '1' || digits[0] > '9' || n < 1000 || n > 999999999 {
			return "", fmt.Errorf("%w: rounds=%q", errInvalid, digits)
		}
		rounds, custom = n, true
		rest = rest[i+1:]
	}
	salt := rest
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	p, s := []byte(password), []byte(salt)
	h := newHash()
	size := h.Size()
	// B
	h.Write(p)
	h.Write(s)
	h.Write(p)
	b := h.Sum(nil)
	// A
	h.Reset()
	h.Write(p)
	h.Write(s)
	cnt := len(p)
	for ; cnt > size; cnt -= size {
		h.Write(b)
	}
	h.Write(b[:cnt])
	for cnt = len(p); cnt > 0; cnt >>= 1 {
		if cnt&1 != 0 {
			h.Write(b)
		} else {
			h.Write(p)
		}
	}
	a := h.Sum(nil)
	// P'
	h.Reset()
	for i := 0; i < len(p); i++ {
		h.Write(p)
	}
	dp := h.Sum(nil)
	pp := make([]byte, 0, len(p))
	for cnt = len(p); cnt >= size; cnt -= size {
		pp = append(pp, dp...)
	}
	pp = append(pp, dp[:cnt]...)
	// S'
	h.Reset()
	for i := 0; i < 16+int(a[0]); i++ {
		h.Write(s)
	}
	ds := h.Sum(nil)
	sp := make([]byte, 0, len(s))
	for cnt = len(s); cnt >= size; cnt -= size {
		sp = append(sp, ds...)
	}
	sp = append(sp, ds[:cnt]...)
	c := a
	for i := 0; i < rounds; i++ {
		h.Reset()
		if i&1 != 0 {
			h.Write(pp)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sp)
		}
		if i%7 != 0 {
			h.Write(pp)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pp)
		}
		c = h.Sum(nil)
	}
	var out strings.Builder
	out.WriteString(id)
	if custom {
		fmt.Fprintf(&out, "rounds=%d$", rounds)
	}
	out.WriteString(salt)
	out.WriteByte('$')
	b64 := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out.WriteByte(itoa64[w&0x3f])
			w >>= 6
		}
	}
	if size == 64 {
		for i := 0; i < 21; i++ {
			x, y, z := i, i+21, i+42
			switch i % 3 {
			case 1:
				x, y, z = i+21, i+42, i
			case 2:
				x, y, z = i+42, i, i+21
			}
			b64(c[x], c[y], c[z], 4)
		}
		b64(0, 0, c[63], 2)
	} else {
		for i := 0; i < 10; i++ {
			x, y, z := i, i+10, i+20
			switch i % 3 {
			case 1:
				x, y, z = i+20, i, i+10
			case 2:
				x, y, z = i+10, i+20, i
			}
			b64(c[x], c[y], c[z], 4)
		}
		b64(0, c[31], c[30], 3)
	}
	return out.String(), nil
}
