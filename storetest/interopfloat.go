package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/ledger"
)

// testInteropFloatMoves: our cards' records taken in the counterpart's
// city (an INC file of three, one forged and rejected) and an error
// record paying one of them back are what interop.FloatMoves names
// behind each interconnection entry on our float, card by card, and sum
// to what the ledger booked there; an entry of another type names none.
func testInteropFloatMoves(t *testing.T, s InteropStores) {
	ctx := context.Background()
	g := newInteropRig(t, s)
	d1 := clearDay
	recs := g.travel(d1, 150, 250, 350)
	recs[2] = forgeTAC(t, recs[2])
	inc, err := g.them.Incoming(interopOurs, interop.Day(d1), g.now.Truncate(time.Second), recs)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := g.x.Import(ctx, "inc.txt", inc)
	if err != nil {
		t.Fatal(err)
	}
	incID := imp.File.ID
	f, err := interop.Decode("inc", inc)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Clearing[1] // a genuine one: the forged is the last (recs[2])
	genuine := int64(f.Clearing[0].AmountFen + f.Clearing[1].AmountFen)
	errFile := &interop.File{Header: interop.Header{Type: interop.FileError, ID: "ERR-" + interopThem.String() + "-9", Sender: interopThem, Receiver: interopOurs,
		Day: interop.Day(d1 + 1), Created: g.now.Truncate(time.Second)},
		Errors: []interop.Correction{{RefFile: incID, RefSeq: 2, AmountFen: 100, Reason: interop.ReasonAmount, Issuer: r.Issuer, ASN: r.ASN, Counter: r.Counter}}}
	b, err := interop.Encode(errFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.x.Import(ctx, "err.txt", b); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		t    ledger.EntryType
		file string
	}
	booked := map[entry]int64{}
	err = s.Ledger.Scan(ctx, 0, func(p *ledger.Posted) error {
		for _, q := range p.Postings {
			if q.Account == (ledger.Account{Type: ledger.CardFloat, Party: interopOurs.String()}) {
				booked[entry{p.Type, p.Source}] += q.AmountFen
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[entry]int64{{interop.EntryIncoming, incID}: genuine, {interop.EntryCorrection, errFile.Header.ID}: -100}
	if len(booked) != len(want) {
		t.Fatalf("float entries %v: want %v", booked, want)
	}
	byCard := map[citycard.ASN]int64{}
	for e, fen := range booked {
		var named int64
		if err := interop.FloatMoves(ctx, s.Interop, e.t, e.file, func(asn citycard.ASN, fen int64) error {
			named += fen
			byCard[asn] += fen
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if named != fen || want[e] != fen {
			t.Errorf("entry %v: booked %d fen on the float, its records name %d; want %d", e, fen, named, want[e])
		}
	}
	if byCard[f.Clearing[0].ASN] != int64(f.Clearing[0].AmountFen) || byCard[r.ASN] != int64(r.AmountFen)-100 || len(byCard) != 2 {
		t.Errorf("by card %v: want the first record's fen, the second's less 100, none of the forged", byCard)
	}
	if err := interop.FloatMoves(ctx, s.Interop, interop.EntryRejected, incID, func(citycard.ASN, int64) error {
		t.Error("an entry of another type named a record")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
