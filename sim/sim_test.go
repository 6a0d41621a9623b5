package sim

import (
	"testing"

	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

func TestDayRecordsVerify(t *testing.T) {
	for _, alg := range []keys.Alg{keys.Alg3DES, keys.AlgSM4} {
		c, err := NewCity(Config{Seed: 1, Alg: alg, Terminals: 7, Cards: 50})
		if err != nil {
			t.Fatal(err)
		}
		ups := c.Day(1000, nil)
		v := record.NewVerifier(c.Store, Issuer)
		type last struct {
			counter int
			after   int64
		}
		cards := map[string]*last{}
		total := 0
		for _, u := range ups {
			seq := uint32(0)
			for _, raw := range u.Records {
				r, err := record.DecodeBinary(raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := v.VerifyFor(&r, u.Terminal.OperatorCode); err != nil {
					t.Fatalf("%v: record does not verify: %v", alg, err)
				}
				// Sealed under its operator's record key, not another's.
				if err := v.Verify(&r); err == nil {
					t.Fatalf("%v: a record of operator %v verifies under our issuer's record key", alg, u.Terminal.OperatorCode)
				}
				if r.TerminalSeq <= seq {
					t.Fatalf("terminal sequence %d after %d", r.TerminalSeq, seq)
				}
				seq = r.TerminalSeq
				total++
			}
		}
		// Per card, counters run 0, 1, 2... and balances follow.
		var all []record.Record
		for _, u := range ups {
			for _, raw := range u.Records {
				r, _ := record.DecodeBinary(raw)
				all = append(all, r)
			}
		}
		byCard := map[string][]record.Record{}
		for _, r := range all {
			byCard[r.ASN.String()] = append(byCard[r.ASN.String()], r)
		}
		for asn, rs := range byCard {
			l := &last{counter: -1}
			cards[asn] = l
			seen := map[uint16]record.Record{}
			for _, r := range rs {
				seen[r.Counter] = r
			}
			for i := 0; i < len(rs); i++ {
				r, ok := seen[uint16(i)]
				if !ok {
					t.Fatalf("card %s: counter %d missing", asn, i)
				}
				if l.counter >= 0 && int64(r.BalanceBefore) != l.after {
					t.Fatalf("card %s: balance %d, previous record left %d", asn, r.BalanceBefore, l.after)
				}
				l.counter, l.after = i, int64(r.BalanceBefore)-int64(r.Amount)
			}
		}
		if total != 1000 || len(byCard) != 50 {
			t.Fatalf("%d records over %d cards", total, len(byCard))
		}
		dups, forged := Spoil(ups, 0.1, 0.1, 3)
		if dups == 0 || forged == 0 {
			t.Fatalf("spoil made %d duplicates, %d forgeries", dups, forged)
		}
	}
}
