package virtd

import "testing"

// FuzzBackendOutput: the parsers of virsh's and list commands' output never panic.
func FuzzBackendOutput(f *testing.F) {
	f.Add("virsh # domstate test\nrunning\nvirsh # echo __DUET_''MARK1__\n")
	f.Add("error: failed to get domain 'x'\n")
	f.Add("n1 11111111-2222-3333-4444-555555555555 on\nn2 off\n# c\n")
	f.Fuzz(func(t *testing.T, out string) {
		_, _ = parseVirshOutput(out)
		for _, h := range parseExecList([]byte(out)) {
			if h.Name == "" {
				t.Fatal("host without a name")
			}
		}
	})
}
