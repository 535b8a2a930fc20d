package virtd

import (
	"strings"
	"testing"
)

// FuzzBackendOutput: the parsers of virsh's and list commands' output never panic, and a marker cut
// takes the marker out.
func FuzzBackendOutput(f *testing.F) {
	f.Add("virsh # domstate test;echo @''1.\nrunning\n@1.virsh # ")
	f.Add("error: failed to get domain 'x'\n")
	f.Add("n1 11111111-2222-3333-4444-555555555555 on\nn2 off\n# c\n")
	f.Fuzz(func(t *testing.T, out string) {
		_ = virshErrors(parseVirshLines(out))
		if seq, text, rest, ok := cutMarker([]byte(out), []byte(virshMarker)); ok {
			if len(text)+len(rest) >= len(out) || seq == 0 && !strings.Contains(out, virshMarker+"0") {
				t.Fatalf("cutMarker(%q) = %d %q %q", out, seq, text, rest)
			}
		}
		for _, h := range parseExecList([]byte(out)) {
			if h.Name == "" {
				t.Fatal("host without a name")
			}
		}
	})
}
