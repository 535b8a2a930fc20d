package xvm

import (
	"errors"
	"fmt"
	"io"
)

// HostRecord is one host_state_t of a hostlist stream.
type HostRecord struct {
	Domain string // VM name, at most 63 bytes
	UUID   string // textual UUID, at most 63 bytes
	State  uint8  // libvirt virDomainState: 1 running, 3 paused, 5 shutoff, ...
}

// libvirt domain states that matter to fencing.
const (
	StateNoState  uint8 = 0
	StateRunning  uint8 = 1
	StatePaused   uint8 = 3
	StateShutdown uint8 = 4
	StateShutoff  uint8 = 5
	StateCrashed  uint8 = 6
)

// ErrHostList is returned for a malformed hostlist stream.
var ErrHostList = errors.New("bad hostlist stream")

// Terminator reports whether rec ends a hostlist (both strings empty).
func (rec HostRecord) Terminator() bool { return rec.Domain == "" && rec.UUID == "" }

// Encode returns the 130 wire bytes of rec, with zeros wherever the strings do not reach (the real daemon
// leaves stack garbage at bytes 63, 127 and 129; Duet writes zeros). Strings longer than 63 bytes are cut.
func (rec HostRecord) Encode() [HostRecordSize]byte {
	var b [HostRecordSize]byte
	copy(b[0:MaxDomainLen], rec.Domain)
	copy(b[64:64+MaxDomainLen], rec.UUID)
	b[128] = rec.State
	return b
}

// DecodeHostRecord parses a 130-byte record. Each string ends at its first NUL within 63 bytes; bytes 63,
// 127 and 129 are ignored (uninitialized in the real daemon).
func DecodeHostRecord(b []byte) (HostRecord, error) {
	if len(b) != HostRecordSize {
		return HostRecord{}, fmt.Errorf("decode host record: %w: %d bytes, want %d", ErrHostList, len(b), HostRecordSize)
	}
	return HostRecord{Domain: cstring(b[0:MaxDomainLen]), UUID: cstring(b[64 : 64+MaxDomainLen]), State: b[128]}, nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// WriteHostList writes a whole hostlist answer: the 0xFD byte, one record per host, the all-zero
// terminator record and the final result byte. Hosts with an empty name and UUID are skipped, since
// they would read as the terminator.
func WriteHostList(w io.Writer, hosts []HostRecord, final Result) error {
	buf := make([]byte, 0, 1+(len(hosts)+1)*HostRecordSize+1)
	buf = append(buf, byte(ResultHostList))
	for _, h := range hosts {
		if h.Terminator() {
			continue
		}
		b := h.Encode()
		buf = append(buf, b[:]...)
	}
	buf = append(buf, make([]byte, HostRecordSize)...)
	buf = append(buf, byte(final))
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write hostlist: %w", err)
	}
	return nil
}

// MaxHostRecords bounds how many records ReadHostList accepts before it calls the stream bad.
const MaxHostRecords = 1 << 16

// ReadHostList reads the records that follow the 0xFD byte (which the caller has read) up to and including
// the terminator, and returns them without it. It does not read the final result byte: the real client
// ignores it, and so may callers. A stream cut short returns the records read so far and an error.
func ReadHostList(r io.Reader) ([]HostRecord, error) {
	var hosts []HostRecord
	var b [HostRecordSize]byte
	for len(hosts) < MaxHostRecords {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return hosts, fmt.Errorf("read hostlist: %w: %w", ErrHostList, err)
		}
		rec, _ := DecodeHostRecord(b[:])
		if rec.Terminator() {
			return hosts, nil
		}
		hosts = append(hosts, rec)
	}
	return hosts, fmt.Errorf("read hostlist: %w: more than %d records", ErrHostList, MaxHostRecords)
}
