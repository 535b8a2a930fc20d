package xvm

import (
	"errors"
	"fmt"
	"io"
)

// ErrAuth is returned when the peer's answer to a challenge does not match.
var ErrAuth = errors.New("invalid response to challenge")

// Answer returns the answer to a challenge: H(key || challenge) zero-padded to 64 bytes.
func Answer(key, challenge []byte, h HashType) [ChallengeSize]byte {
	return h.Sum(key, challenge)
}

// CheckAnswer reports whether answer is the right answer to challenge, comparing all 64 bytes in
// constant time.
func CheckAnswer(key, challenge, answer []byte, h HashType) bool {
	if len(answer) != ChallengeSize {
		return false
	}
	want := Answer(key, challenge, h)
	return equal64(want[:], answer)
}

// ClientAuth runs the client's half of the challenge-response on rw: send a 64-byte challenge from rnd,
// check the daemon's answer, read the daemon's challenge and answer it. With HashNone it does nothing.
// It blocks on rw; the caller sets deadlines.
func ClientAuth(rw io.ReadWriter, key []byte, h HashType, rnd io.Reader) error {
	if h == HashNone {
		return nil
	}
	if !h.Valid() {
		return fmt.Errorf("authenticate to daemon: %w: %d", ErrUnknownHash, uint8(h))
	}
	var ch, buf [ChallengeSize]byte
	if _, err := io.ReadFull(rnd, ch[:]); err != nil {
		return fmt.Errorf("authenticate to daemon: read random bytes: %w", err)
	}
	if _, err := rw.Write(ch[:]); err != nil {
		return fmt.Errorf("authenticate to daemon: send challenge: %w", err)
	}
	if _, err := io.ReadFull(rw, buf[:]); err != nil {
		return fmt.Errorf("authenticate to daemon: read answer: %w", err)
	}
	if !CheckAnswer(key, ch[:], buf[:], h) {
		return fmt.Errorf("authenticate to daemon: %w", ErrAuth)
	}
	if _, err := io.ReadFull(rw, buf[:]); err != nil {
		return fmt.Errorf("authenticate to daemon: read challenge: %w", err)
	}
	ans := Answer(key, buf[:], h)
	if _, err := rw.Write(ans[:]); err != nil {
		return fmt.Errorf("authenticate to daemon: send answer: %w", err)
	}
	return nil
}

// DaemonAuth runs the daemon's half: read the client's challenge and answer it, then challenge the client
// with 64 bytes from rnd and check its answer. With HashNone it does nothing. It blocks on rw.
func DaemonAuth(rw io.ReadWriter, key []byte, h HashType, rnd io.Reader) error {
	if h == HashNone {
		return nil
	}
	if !h.Valid() {
		return fmt.Errorf("authenticate client: %w: %d", ErrUnknownHash, uint8(h))
	}
	var ch, buf [ChallengeSize]byte
	if _, err := io.ReadFull(rw, buf[:]); err != nil {
		return fmt.Errorf("authenticate client: read challenge: %w", err)
	}
	ans := Answer(key, buf[:], h)
	if _, err := io.ReadFull(rnd, ch[:]); err != nil {
		return fmt.Errorf("authenticate client: read random bytes: %w", err)
	}
	// One write for answer and challenge, as the real daemon's segments show (128 bytes).
	var out [2 * ChallengeSize]byte
	copy(out[:], ans[:])
	copy(out[ChallengeSize:], ch[:])
	if _, err := rw.Write(out[:]); err != nil {
		return fmt.Errorf("authenticate client: send answer and challenge: %w", err)
	}
	if _, err := io.ReadFull(rw, buf[:]); err != nil {
		return fmt.Errorf("authenticate client: read answer: %w", err)
	}
	if !CheckAnswer(key, ch[:], buf[:], h) {
		return fmt.Errorf("authenticate client: %w", ErrAuth)
	}
	return nil
}
