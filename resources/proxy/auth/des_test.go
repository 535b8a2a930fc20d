package auth

import (
	"crypto/des"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestDESCore checks the unsalted core against crypto/des on random keys and blocks.
func TestDESCore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		key, block := rng.Uint64(), rng.Uint64()
		var kb, in, want [8]byte
		binary.BigEndian.PutUint64(kb[:], key)
		binary.BigEndian.PutUint64(in[:], block)
		ref, err := des.NewCipher(kb[:])
		if err != nil {
			t.Fatal(err)
		}
		ref.Encrypt(want[:], in[:])
		var c desCipher
		c.setKey(key)
		if got := c.encrypt(block, 1); got != binary.BigEndian.Uint64(want[:]) {
			t.Fatalf("key %016x block %016x: got %016x want %x", key, block, got, want)
		}
	}
}

func BenchmarkDESCrypt(b *testing.B) {
	for b.Loop() {
		desCrypt("password", "ab")
	}
}
