package record

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// appRecord is a campus check-in as a gate seals it, its stamp MAC
// computed by hand over the layout of keys.AppendStampMACData (the test's
// own bytes, not the function).
func appRecord(t *testing.T, f *fixture) Record {
	t.Helper()
	r := Record{
		Type: citycard.TxApplication, Issuer: operator, ASN: citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0x12, 0x34, 0x56, 0x78},
		CardType: 1, Alg: keys.Alg3DES, KeyVersion: 1, Counter: 7,
		TerminalID: citycard.TerminalID{0x31, 0x50, 0, 0, 2, 1}, PSAMID: citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 2, 1},
		TerminalSeq: 42, Date: citycard.BCDDate{0x20, 0x26, 0x09, 0x01}, Time: citycard.BCDTime{0x07, 0x45, 0x30},
		Network: 1, Line: 0x457, Station: 3, EntryLine: 9, EntryStation: 0, Product: 1, RecordKeyVersion: recordV3DES,
	}
	ref := keys.Ref{Issuer: operator, Type: keys.KeyApplication, Version: 1}
	if _, ok := f.master[ref]; !ok {
		f.put(t, ref, keys.Alg3DES)
	}
	k := f.cardKey(t, operator, keys.KeyApplication, 1, r.ASN)
	var d []byte
	d = binary.BigEndian.AppendUint16(d, r.Counter)
	d = append(d, byte(r.Network))
	d = binary.BigEndian.AppendUint32(d, r.Line)
	d = append(d, byte(r.Product))
	d = append(d, r.TerminalID[:]...)
	d = binary.BigEndian.AppendUint32(d, r.TerminalSeq)
	d = append(d, r.Date[:]...)
	d = append(d, r.Time[:]...)
	d = binary.BigEndian.AppendUint16(d, uint16(r.EntryStation))
	mac, err := keys.MAC(keys.Alg3DES, k, d)
	if err != nil {
		t.Fatal(err)
	}
	r.TAC = mac
	f.sealMAC(t, &r)
	return r
}

// TestVerifyApplication: an application record's card part is its stamp
// MAC under the application key (package doc, "Application records"); an
// altered stamp or MAC fails it, and a missing application key is a
// rejection, not pending another issuer.
func TestVerifyApplication(t *testing.T) {
	f := newFixture(t)
	r := appRecord(t, f)
	v := NewVerifier(f.store, operator)
	if err := v.Verify(&r); err != nil {
		t.Fatalf("sealed application record: %v", err)
	}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if d, err := DecodeBinary(b); err != nil || d != r {
		t.Fatalf("binary round trip: %v", err)
	}
	j, err := r.MarshalJSON()
	if err != nil || !strings.Contains(string(j), `"type":"application"`) {
		t.Fatalf("JSON %s: %v", j, err)
	}
	if d, err := DecodeJSON(j); err != nil || d != r {
		t.Fatalf("JSON round trip: %v", err)
	}

	forged := r
	forged.TAC[0] ^= 1
	f.sealMAC(t, &forged) // a PSAM sealed it, but the card never MACed it
	wantCrypto(t, v.Verify(&forged), "stamp MAC")
	moved := r
	moved.EntryStation = 1 // the uses the card MACed were 0
	f.sealMAC(t, &moved)
	wantCrypto(t, v.Verify(&moved), "stamp MAC")

	noKey := r
	noKey.KeyVersion = 2
	f.sealMAC(t, &noKey)
	err = v.Verify(&noKey)
	if !citycard.IsKind(err, citycard.KeyMissing) || IsPendingIssuer(err) {
		t.Fatalf("no application key v2: %v, want KeyMissing and not pending", err)
	}
}

// TestApplicationRules follows the rules of application.go: each field an
// application record must leave zero, or keep in its range, at its
// boundary.
func TestApplicationRules(t *testing.T) {
	f := newFixture(t)
	base := appRecord(t, f)
	for _, c := range []struct {
		name  string
		edit  func(r *Record)
		field string // "" = valid
	}{
		{"as sealed", func(r *Record) {}, ""},
		{"recovered", func(r *Record) { r.Status = StatusRecovered }, "status"},
		{"balance before 1", func(r *Record) { r.BalanceBefore = 1 }, "balance_before"},
		{"amount 1", func(r *Record) { r.Amount = 1 }, "amount"},
		{"application 0", func(r *Record) { r.Network = 0 }, "network"},
		{"application 255", func(r *Record) { r.Network = 255 }, ""},
		{"application 256", func(r *Record) { r.Network = 256 }, "network"},
		{"uses 65535", func(r *Record) { r.EntryStation = 65535 }, ""},
		{"uses 65536", func(r *Record) { r.EntryStation = 65536 }, "entry_station"},
		{"a stamp date", func(r *Record) { r.EntryDate, r.EntryTime = r.Date, r.Time }, "entry_date"},
		{"action 0", func(r *Record) { r.Product = 0 }, "product"},
		{"action 255", func(r *Record) { r.Product = 255 }, ""},
		{"action 256", func(r *Record) { r.Product = 256 }, "product"},
		{"fare 1", func(r *Record) { r.FareFull = 1 }, "fare_full"},
	} {
		r := base
		c.edit(&r)
		err := r.Validate()
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "field "+c.field+" ") {
			t.Errorf("%s: %v, want field %s", c.name, err, c.field)
		}
	}
}
