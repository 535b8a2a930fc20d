package balance

import "github.com/duet-ha/duet/resources/proxy/hashfn"

// SDBM is haproxy's default hash (see hashfn.SDBM).
func SDBM(b []byte) uint32 { return hashfn.SDBM(b) }

// DJB2 is Bernstein's hash (see hashfn.DJB2).
func DJB2(b []byte) uint32 { return hashfn.DJB2(b) }

// WT6 is haproxy's wt6 hash (see hashfn.WT6).
func WT6(b []byte) uint32 { return hashfn.WT6(b) }

// CRC32 is the standard reflected CRC-32 (see hashfn.CRC32).
func CRC32(b []byte) uint32 { return hashfn.CRC32(b) }

// FullHash is haproxy's "avalanche" mix (see hashfn.FullHash).
func FullHash(a uint32) uint32 { return hashfn.FullHash(a) }

// HashFunc returns the named hash function (sdbm, djb2, wt6, crc32); unknown names give sdbm.
func HashFunc(name string) func([]byte) uint32 { return hashfn.HashFunc(name) }
