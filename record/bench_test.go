package record

import (
	mrand "math/rand/v2"
	"testing"

	"github.com/citycard/citycard"
)

// benchRecords returns n sealed records of kind k from n different cards,
// uploaded by 64 PSAMs, as a day's batches bring them.
func benchRecords(b *testing.B, f *fixture, k kind, n int) []Record {
	b.Helper()
	rnd := mrand.New(mrand.NewPCG(11, 12))
	var psams [64]citycard.PSAMID
	for i := range psams {
		psams[i] = sample(rnd, k).PSAMID
	}
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = sample(rnd, k)
		recs[i].PSAMID = psams[i%len(psams)]
		f.seal(b, &recs[i])
	}
	return recs
}

func benchVerify(b *testing.B, k kind, verify func(v *Verifier, r *Record) error) {
	f := newFixture(b)
	v := NewVerifier(f.store, operator)
	recs := benchRecords(b, f, k, 4096)
	for i := range recs { // warm the caches
		if err := verify(v, &recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := verify(v, &recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

func verifyFull(v *Verifier, r *Record) error { return v.Verify(r) }

// verifyTACOnly checks the TAC alone, with the card key derivation, as
// Verify does after the record MAC.
func verifyTACOnly(v *Verifier, r *Record) error {
	s := v.scratch.Get().(*scratch)
	defer v.putScratch(s)
	return v.verifyTAC("bench", r, s)
}

// BenchmarkVerify3DES verifies 3DES purchase records: record MAC (retail
// MAC, cached PSAM key) and TAC (card key derived from the issuer key).
func BenchmarkVerify3DES(b *testing.B) { benchVerify(b, kinds[0], verifyFull) }

// BenchmarkVerifySM4 verifies SM4 purchase records under an SM4 record key.
func BenchmarkVerifySM4(b *testing.B) { benchVerify(b, kinds[4], verifyFull) }

// BenchmarkVerifyTACOnly3DES verifies the TACs of 3DES purchases only.
func BenchmarkVerifyTACOnly3DES(b *testing.B) { benchVerify(b, kinds[0], verifyTACOnly) }

// BenchmarkVerifyTACOnlySM4 verifies the TACs of SM4 purchases only.
func BenchmarkVerifyTACOnlySM4(b *testing.B) { benchVerify(b, kinds[4], verifyTACOnly) }

// BenchmarkDecodeBinary decodes one record.
func BenchmarkDecodeBinary(b *testing.B) {
	r := golden()
	buf := layoutBytes(&r)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}
