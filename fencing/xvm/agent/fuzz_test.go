package agent

import (
	"io"
	"strings"
	"testing"
)

// FuzzParseStdin: the key=value reader and the option parser never panic on any input.
func FuzzParseStdin(f *testing.F) {
	f.Add("action=off\nport=vm1\nkey_file=/dev/null\n")
	f.Add("# c\n=\nhash=\nipport=0x\ntimeout=-1\ndebug\n")
	f.Fuzz(func(t *testing.T, in string) {
		a := parseStdin(strings.NewReader(in), io.Discard, io.Discard)
		if len(a.domain) > 63 && !a.err {
			t.Fatalf("accepted a %d-byte domain", len(a.domain))
		}
		parseArgs(strings.Fields(in), io.Discard, io.Discard)
	})
}
