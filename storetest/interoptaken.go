package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
)

// testInteropCardRecords: our cards' records accepted in the
// counterpart's city are read back card by card (interop.CardStore),
// by counter, each with the time of its tap as its INC file has it: a
// card's two records of two files, not its records of other cards nor
// a forged record rejected; after and limit page them, each bound
// refused one past it. A card of CardRecordsPageMax + 1 records reads
// in two pages, and whole by interop.CardTaken; a record stored without
// its tap is an IO error, never a purchase lost; a tap is never changed
// or removed.
func testInteropCardRecords(t *testing.T, s InteropStores) {
	ctx := context.Background()
	cs, ok := s.Interop.(interop.CardStore)
	if !ok {
		t.Fatalf("%T is not an interop.CardStore", s.Interop)
	}
	g := newInteropRig(t, s)
	d1 := clearDay
	day1 := g.travel(d1, 150, 250, 350)
	day1[2] = forgeTAC(t, day1[2])
	day2 := g.travel(d1+1, 400)
	var files []*interop.File
	for i, recs := range [][][]byte{day1, day2} {
		inc, err := g.them.Incoming(interopOurs, interop.Day(d1)+interop.Day(i), g.now.Truncate(time.Second), recs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.x.Import(ctx, fmt.Sprintf("inc-%d.txt", i), inc); err != nil {
			t.Fatal(err)
		}
		f, err := interop.Decode("inc", inc)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	taken := func(f *interop.File, seq int) interop.Taken {
		c := f.Clearing[seq-1]
		return interop.Taken{File: f.Header.ID, Seq: seq, Counter: c.Counter, AmountFen: int64(c.AmountFen), At: c.At.UTC()}
	}
	first, second := taken(files[0], 1), taken(files[1], 1)
	if first.At.Equal(second.At) || first.Counter+1 != second.Counter {
		t.Fatalf("the rig's taps: %+v then %+v, want two taps of one card a day apart", first, second)
	}
	asn := files[0].Clearing[0].ASN
	for _, tc := range []struct {
		name         string
		asn          citycard.ASN
		after, limit int
		want         []interop.Taken
	}{
		{"a card's records of two files", asn, -1, interop.CardRecordsPageMax, []interop.Taken{first, second}},
		{"after its first", asn, int(first.Counter), interop.CardRecordsPageMax, []interop.Taken{second}},
		{"after its last", asn, int(second.Counter), 1, nil},
		{"one at a time", asn, -1, 1, []interop.Taken{first}},
		{"another card's", files[0].Clearing[1].ASN, -1, 1, []interop.Taken{taken(files[0], 2)}},
		{"a forged record's card", files[0].Clearing[2].ASN, -1, interop.CardRecordsPageMax, nil},
	} {
		got, err := cs.CardRecords(ctx, interopOurs, tc.asn, tc.after, tc.limit)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][2]int{{-2, 1}, {1 << 16, 1}, {-1, 0}, {-1, interop.CardRecordsPageMax + 1}} {
		if got, err := cs.CardRecords(ctx, interopOurs, asn, bad[0], bad[1]); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("after %d, limit %d: %v %v, want kind Invalid", bad[0], bad[1], got, err)
		}
	}

	// A card of one record more than a page, in one INC file stored as
	// Import is given it.
	many := asn
	many[9] ^= 0xFF
	n := interop.CardRecordsPageMax + 1
	at0 := g.now.Truncate(time.Second).UTC()
	imp := testIncoming("INC-MANY", n, func(i int) (interop.Rec, time.Time) {
		return interop.Rec{ASN: many, Counter: uint16(i)}, at0.Add(time.Duration(i) * time.Minute)
	})
	if _, err := s.Interop.Import(ctx, imp); err != nil {
		t.Fatal(err)
	}
	page, err := cs.CardRecords(ctx, interopOurs, many, -1, interop.CardRecordsPageMax)
	if err != nil || len(page) != interop.CardRecordsPageMax || page[len(page)-1].Counter != uint16(n-2) {
		t.Fatalf("the first page of %d records: %d, %v", n, len(page), err)
	}
	rest, err := cs.CardRecords(ctx, interopOurs, many, int(page[len(page)-1].Counter), interop.CardRecordsPageMax)
	if err != nil || len(rest) != 1 || rest[0].Counter != uint16(n-1) || !rest[0].At.Equal(at0.Add(time.Duration(n-1)*time.Minute)) {
		t.Fatalf("the page after it: %+v %v, want the last record alone", rest, err)
	}
	all, err := interop.CardTaken(ctx, cs, interopOurs, many)
	if err != nil || len(all) != n {
		t.Fatalf("interop.CardTaken: %d records, %v; want %d", len(all), err, n)
	}
	for i, k := range all {
		if k.Counter != uint16(i) || k.Seq != i+1 || !k.At.Equal(at0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("record %d read %+v", i, k)
		}
	}

	// A record stored without its tap.
	lost := many
	lost[9] ^= 0x0F
	imp = testIncoming("INC-NOTAP", 1, func(int) (interop.Rec, time.Time) { return interop.Rec{ASN: lost, Counter: 7}, at0 })
	imp.Taps = nil
	if _, err := s.Interop.Import(ctx, imp); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.CardRecords(ctx, interopOurs, lost, -1, 1); !citycard.IsKind(err, citycard.IO) {
		t.Errorf("a record without its tap: %+v %v, want kind IO", got, err)
	}
	for _, q := range []string{`UPDATE interop_taps SET at_ns = 0`, `DELETE FROM interop_taps`} {
		if err := s.Exec(ctx, q); err == nil {
			t.Errorf("%s: done, want it refused (taps are append-only)", q)
		}
	}
}

// testIncoming returns the import of INC file id from the counterpart
// with n records of our cards, all accepted, record i (from 0) and its
// tap's time by rec (its ASN and counter; the rest is filled in), as
// Interop.Import hands it to the store.
func testIncoming(id string, n int, rec func(i int) (interop.Rec, time.Time)) *interop.Import {
	imp := &interop.Import{File: interop.Stored{ID: id, Type: interop.FileIncoming, SHA256: strings.Repeat("0", 64), Day: interop.Day(clearDay),
		Sender: interopThem, Receiver: interopOurs, Records: n, AmountFen: 10 * int64(n), Body: []byte(id)}, At: time.Unix(1e9, 0)}
	for i := range n {
		r, at := rec(i)
		r.File, r.Seq, r.Issuer, r.AmountFen, r.Acquirer, r.State, r.AnsweredBy = id, i+1, interopOurs, 10, interopThem.String(), interop.Accepted, interop.AnswerID(id)
		imp.Records = append(imp.Records, r)
		imp.Taps = append(imp.Taps, interop.Tap{File: id, Seq: i + 1, At: at})
	}
	return imp
}

// Taps0039 is what a store held before migration 0039, for its test:
// the files and records to store (each store with its own placeholders)
// before the migration, and what interop.CardStore reads of them after.
type Taps0039 struct {
	Files   []interop.Stored
	Records []interop.Rec
	ASN     citycard.ASN // the card whose records Check reads
	want    []interop.Taken
}

// Before0039 returns an INC file of three records of our card (the
// second rejected), a fourth record stored against it with no line in
// it, and an OUT file's record of the same card. After the migration the
// card's accepted INC records read with the time of their line (a tap at
// 03:10 China time is 19:10 UTC the day before), the fourth with the
// time its file was stored (the migration's fallback), and only the INC
// records have a tap.
func Before0039(t *testing.T) Taps0039 {
	t.Helper()
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, 0, 0x12, 0x34}
	china := func(h, m, s int) time.Time { return time.Date(2026, 12, 1, h, m, s, 0, citycard.ChinaTime) }
	f := &interop.File{Header: interop.Header{Type: interop.FileIncoming, ID: "INC-OLD-1", Sender: interopThem, Receiver: interopOurs, Day: interop.Day(clearDay),
		Created: china(23, 0, 0)}}
	for i, at := range []time.Time{china(3, 10, 5), china(9, 0, 0), china(23, 59, 59)} {
		f.Clearing = append(f.Clearing, interop.Clearing{Issuer: interopOurs, ASN: asn, CardType: 2, Counter: uint16(5 + 2*i), Type: citycard.TxPurchase,
			AmountFen: uint32(100 * (i + 1)), BalanceBeforeFen: 5000, TerminalSeq: uint32(i + 1), At: at, KeyVersion: 1, Product: 7})
	}
	b, err := interop.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	inc := interop.StoredOf(f, b, false)
	inc.At = china(23, 30, 0)
	out := interop.Stored{ID: "OUT-OLD-1", Type: interop.FileOutgoing, Sent: true, SHA256: strings.Repeat("1", 64), Day: inc.Day, Sender: interopOurs,
		Receiver: centre, Records: 1, AmountFen: 100, Body: []byte("out"), At: inc.At}
	rec := func(file string, seq int, counter uint16, fen int64, st interop.State) interop.Rec {
		r := interop.Rec{File: file, Seq: seq, Issuer: interopOurs, ASN: asn, Counter: counter, AmountFen: fen, Acquirer: interopThem.String(), State: st}
		if st != interop.Pending {
			r.AnsweredBy = "ANS-" + file
		}
		return r
	}
	b0039 := Taps0039{Files: []interop.Stored{inc, out}, ASN: asn, Records: []interop.Rec{
		rec(inc.ID, 1, 5, 100, interop.Accepted), rec(inc.ID, 2, 7, 200, interop.Rejected), rec(inc.ID, 3, 9, 300, interop.Accepted),
		rec(inc.ID, 4, 11, 400, interop.Accepted), rec(out.ID, 1, 13, 100, interop.Pending)}}
	b0039.Records[4].Out = true
	b0039.want = []interop.Taken{{File: inc.ID, Seq: 1, Counter: 5, AmountFen: 100, At: time.Date(2026, 11, 30, 19, 10, 5, 0, time.UTC)},
		{File: inc.ID, Seq: 3, Counter: 9, AmountFen: 300, At: time.Date(2026, 12, 1, 15, 59, 59, 0, time.UTC)},
		{File: inc.ID, Seq: 4, Counter: 11, AmountFen: 400, At: inc.At.UTC()}}
	return b0039
}

// Insert stores b's files and records with exec, as the binary before
// 0039 did, in statements whose n-th placeholder is ph(n).
func (b Taps0039) Insert(t *testing.T, exec Exec, ph func(n int) string) {
	t.Helper()
	values := func(n int) string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = ph(i + 1)
		}
		return strings.Join(ps, ", ")
	}
	for i := range b.Files {
		args := b.Files[i].Args()
		if err := exec(context.Background(), `INSERT INTO interop_files (`+interop.FileColumns+`) VALUES (`+values(len(args))+`)`, args...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range b.Records {
		args := b.Records[i].Args()
		if err := exec(context.Background(), `INSERT INTO interop_records (`+interop.RecColumns+`) VALUES (`+values(len(args))+`)`, args...); err != nil {
			t.Fatal(err)
		}
	}
}

// Check checks what cs reads of the card after the migration, and that
// taps (the rows of interop_taps) are the INC file's four.
func (b Taps0039) Check(t *testing.T, cs interop.CardStore, taps int) {
	t.Helper()
	got, err := interop.CardTaken(context.Background(), cs, interopOurs, b.ASN)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(b.want) {
		t.Errorf("the card's records after 0039: %+v %v\nwant %+v", got, err, b.want)
	}
	if taps != 4 {
		t.Errorf("%d taps after 0039: want the INC file's 4 records'", taps)
	}
}
