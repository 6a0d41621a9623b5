package record

import (
	"bytes"
	mrand "math/rand/v2"
	"testing"

	"github.com/citycard/citycard"
)

// fuzzSeeds returns valid records of every kind, unsealed (the decoders do
// not look at the MACs), and a grey one.
func fuzzSeeds() []Record {
	rnd := mrand.New(mrand.NewPCG(13, 14))
	out := []Record{golden()}
	for _, k := range kinds {
		r := sample(rnd, k)
		r.TAC = [4]byte{byte(rnd.Uint32()), 1, 2, 3}
		r.RecordMAC = [4]byte{byte(rnd.Uint32()), 4, 5, 6}
		out = append(out, r)
	}
	grey := golden()
	grey.Status, grey.TAC = StatusGrey, [4]byte{}
	return append(out, grey)
}

// checkDecoded holds a decoded record to the round trips: binary and JSON
// both give it back unchanged, and Verify neither panics nor passes it.
func checkDecoded(t *testing.T, r Record, v *Verifier) {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("decoded, yet MarshalBinary: %v", err)
	}
	if d, err := DecodeBinary(b); err != nil || d != r {
		t.Fatalf("binary round trip: %v\n%+v\n%+v", err, d, r)
	}
	j, err := r.MarshalJSON()
	if err != nil {
		t.Fatalf("decoded, yet MarshalJSON: %v", err)
	}
	d, err := DecodeJSON(j)
	if err != nil || d != r {
		t.Fatalf("JSON round trip of %s: %v\n%+v\n%+v", j, err, d, r)
	}
	if j2, _ := d.MarshalJSON(); !bytes.Equal(j, j2) {
		t.Fatalf("JSON not stable:\n%s\n%s", j, j2)
	}
	// The fuzzer does not know the keys: nothing it makes verifies.
	if err := v.Verify(&r); err == nil {
		t.Fatalf("a fuzzed record verifies: %+v", r)
	}
}

func FuzzDecodeBinary(f *testing.F) {
	for _, r := range fuzzSeeds() {
		f.Add(layoutBytes(&r))
	}
	f.Add([]byte("CR\x01"))
	f.Add(make([]byte, Size))
	fx := newFixture(f)
	v := NewVerifier(fx.store, operator)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeBinary(b)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("error of kind %v: %v", citycard.KindOf(err), err)
			}
			if r != (Record{}) {
				t.Fatalf("error %v with a record %+v", err, r)
			}
			return
		}
		if got := r.AppendBinary(nil); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded\n%X\nfrom\n%X", got, b)
		}
		checkDecoded(t, r, v)
		if recs, err := DecodeStream(append(bytes.Clone(b), b...)); err != nil || len(recs) != 2 || recs[1] != r {
			t.Fatalf("stream of two: %v", err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, r := range fuzzSeeds() {
		j, err := r.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j)
	}
	f.Add([]byte(goldenJSON[:100]))
	f.Add([]byte(`{"status":"grey","status":"grey"}`))
	f.Add([]byte(`{"amount":1e3}`))
	f.Add([]byte(`[]`))
	fx := newFixture(f)
	v := NewVerifier(fx.store, operator)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeJSON(b)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("error of kind %v: %v", citycard.KindOf(err), err)
			}
			if r != (Record{}) {
				t.Fatalf("error %v with a record %+v", err, r)
			}
			return
		}
		checkDecoded(t, r, v)
	})
}
