package auth

import "math/bits"

// DES (FIPS 46-3) for the crypt(3) schemes that use it: traditional DES crypt, bigcrypt and BSDi extended DES.
// The tables are the standard's, with bits numbered from 1 at the most significant end; the salt swaps pairs of
// bits of the expansion E, so crypto/des cannot be used.

var desIP = [64]byte{
	58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
	62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
	57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
	61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
}

var desFP = [64]byte{
	40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
	38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
	36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
	34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
}

var desE = [48]byte{
	32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9,
	8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
	16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25,
	24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
}

var desP = [32]byte{
	16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
	2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
}

var desPC1 = [56]byte{
	57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
	10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
	63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
	14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
}

var desPC2 = [48]byte{
	14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
	23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
	41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
	44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
}

var desShifts = [16]byte{1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1}

var desS = [8][64]byte{
	{14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
		0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
		4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
		15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13},
	{15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
		3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
		0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
		13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9},
	{10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
		13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
		13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
		1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12},
	{7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
		13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
		10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
		3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14},
	{2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
		14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
		4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
		11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3},
	{12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
		10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
		9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
		4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13},
	{4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
		13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
		1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
		6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12},
	{13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
		1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
		7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
		2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11},
}

// permute picks the bits of in (width bits wide) that table names, first entry to the most significant output bit.
func permute(in uint64, width uint, table []byte) uint64 {
	var out uint64
	for _, p := range table {
		out = out<<1 | (in>>(width-uint(p)))&1
	}
	return out
}

// desCipher is one DES key schedule plus the salt mask of the crypt(3) variants.
type desCipher struct {
	sub  [16]uint64 // 48-bit round keys
	salt uint32     // 24-bit mask: bit 23-j set swaps expansion bits j and j+24
}

// setKey computes the round keys of the 64-bit key (parity bits ignored).
func (c *desCipher) setKey(key uint64) {
	cd := permute(key, 64, desPC1[:])
	l, r := uint32(cd>>28), uint32(cd&0x0fffffff)
	for i, s := range desShifts {
		l = (l<<s | l>>(28-s)) & 0x0fffffff
		r = (r<<s | r>>(28-s)) & 0x0fffffff
		c.sub[i] = permute(uint64(l)<<28|uint64(r), 56, desPC2[:])
	}
}

// setSalt turns a crypt salt value (bit i from salt character i/6, bit i%6) into the expansion swap mask.
func (c *desCipher) setSalt(v uint32) {
	c.salt = 0
	for i := 0; i < 24; i++ {
		if v&(1<<i) != 0 {
			c.salt |= 1 << (23 - i)
		}
	}
}

// desSP is each S-box followed by the permutation P: desSP[j][six] is the 32-bit round output of S-box j.
var desSP = func() (t [8][64]uint32) {
	for j := range t {
		for six := range t[j] {
			row, col := (six>>4)&2|six&1, (six>>1)&0xf
			v := uint64(desS[j][row<<4|col]) << (28 - 4*j)
			t[j][six] = uint32(permute(v, 32, desP[:]))
		}
	}
	return t
}()

// encrypt runs n full DES encryptions of block with the salted expansion. The final permutation of one
// encryption and the initial permutation of the next cancel, so they are applied once.
func (c *desCipher) encrypt(block uint64, n int) uint64 {
	b := permute(block, 64, desIP[:])
	l, r := uint32(b>>32), uint32(b)
	for ; n > 0; n-- {
		for i := 0; i < 16; i++ {
			// E: group j is input bits 4j-1 .. 4j+4 (0-based, wrapping), six at a time
			var e uint64
			for j := 0; j < 8; j++ {
				e = e<<6 | uint64(bits.RotateLeft32(r, (4*j-1)&31)>>26)
			}
			hi, lo := uint32(e>>24), uint32(e&0xffffff)
			f := (hi ^ lo) & c.salt
			e = (uint64(hi^f)<<24 | uint64(lo^f)) ^ c.sub[i]
			var s uint32
			for j := 0; j < 8; j++ {
				s |= desSP[j][(e>>(42-6*j))&0x3f]
			}
			l, r = r, l^s
		}
		l, r = r, l
	}
	return permute(uint64(l)<<32|uint64(r), 64, desFP[:])
}
