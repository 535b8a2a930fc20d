// Package hashfn holds haproxy's string hash functions (sdbm, djb2, wt6, crc32) and its avalanche mix, shared by
// the balancing algorithms and the hash converters.
package hashfn

import "hash/crc32"

// SDBM is haproxy's default hash: h = c + (h<<6) + (h<<16) - h.
func SDBM(b []byte) uint32 {
	var h uint32
	for _, c := range b {
		h = uint32(c) + (h << 6) + (h << 16) - h
	}
	return h
}

// DJB2 is Bernstein's hash: h = h*33 + c, starting at 5381.
func DJB2(b []byte) uint32 {
	h := uint32(5381)
	for _, c := range b {
		h = h<<5 + h + uint32(c)
	}
	return h
}

// WT6 is haproxy's wt6 hash.
func WT6(b []byte) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	s0, s1 := uint32(6), uint32(18)
	for _, c := range b {
		t := uint32(c)
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		t2 := h1<<s0 | h1>>((32-s0)&31)
		if s0 == 0 {
			t2 = h1
		}
		h1n := h0<<s1 | h0>>((32-s1)&31)
		if s1 == 0 {
			h1n = h0
		}
		h1 = h1n
		h0 = t2
		x := ((h0 >> 16) ^ h1) & 0xffff
		s0 = x & 0x1f
		s1 = x >> 11
	}
	return h0 ^ h1
}

// CRC32 is the standard reflected CRC-32 (IEEE), as zlib computes it.
func CRC32(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// FullHash is Bob Jenkins' 6-shift integer hash, haproxy's "avalanche".
func FullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

// HashFunc returns the named hash function (sdbm, djb2, wt6, crc32); unknown names give sdbm.
func HashFunc(name string) func([]byte) uint32 {
	switch name {
	case "djb2":
		return DJB2
	case "wt6":
		return WT6
	case "crc32":
		return CRC32
	default:
		return SDBM
	}
}
