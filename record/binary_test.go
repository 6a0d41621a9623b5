package record

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

func TestLayoutTable(t *testing.T) {
	off := 0
	names := map[string]bool{}
	for _, f := range layout {
		if f.offset != off {
			t.Errorf("field %s at offset %d, want %d", f.name, f.offset, off)
		}
		if names[f.name] {
			t.Errorf("field %s twice", f.name)
		}
		names[f.name] = true
		off += f.size
	}
	if off != Size {
		t.Errorf("layout of %d bytes, Size is %d", off, Size)
	}
	if fRecordMAC.offset != macDataSize {
		t.Errorf("record MAC at %d, MAC data of %d bytes", fRecordMAC.offset, macDataSize)
	}
	// The JSON form has the layout's fields after magic and version, in
	// order and with the same names.
	if len(jsonFields) != len(layout)-2 {
		t.Fatalf("%d JSON fields, %d layout fields", len(jsonFields), len(layout))
	}
	for i, jf := range jsonFields {
		if jf.name != layout[i+2].name {
			t.Errorf("JSON field %d is %s, layout field is %s", i, jf.name, layout[i+2].name)
		}
	}
}

// golden is the record of the package doc's JSON example.
func golden() Record {
	return Record{
		Status:        StatusComplete,
		Type:          citycard.TxCompositePurchase,
		Issuer:        citycard.IssuerCode{0x31, 0x50, 0, 0, 0, 0, 0, 0x01},
		ASN:           citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0x12, 0x34, 0x56, 0x78},
		CardType:      1,
		Alg:           keys.Alg3DES,
		KeyVersion:    1,
		Counter:       17,
		BalanceBefore: 5000,
		Amount:        300,
		TerminalID:    citycard.TerminalID{0x31, 0x50, 0, 0, 0x01, 0x01},
		PSAMID:        citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x01, 0x01},
		TerminalSeq:   4711,
		Date:          citycard.BCDDate{0x20, 0x26, 0x03, 0x12},
		Time:          citycard.BCDTime{0x08, 0x15, 0x00},
		Network:       1,
		Line:          2,
		Station:       14,
		EntryLine:     2,
		EntryStation:  3,
		EntryDate:     citycard.BCDDate{0x20, 0x26, 0x03, 0x12},
		EntryTime:     citycard.BCDTime{0x07, 0x58, 0x41},
		FareFull:      300,

		TAC:              [4]byte{0x1A, 0x2B, 0x3C, 0x4D},
		RecordKeyVersion: 1,
		RecordMAC:        [4]byte{0x5E, 0x6F, 0x7A, 0x8B},
	}
}

// goldenHex is golden() in layout v1, written by hand from the table in
// the package doc.
const goldenHex = "4352" + "01" + "00" + "09" + // magic, version, status, type
	"3150000000000001" + // issuer
	"00003150000012345678" + // asn
	"01" + "00" + "00" + "01" + // card type, rider category, alg, key version
	"0011" + "00001388" + "0000012C" + // counter, balance before, amount
	"315000000101" + // terminal ID
	"31500000000000000101" + // PSAM ID
	"00001267" + "20260312" + "081500" + // terminal sequence, date, time
	"0001" + "00000002" + "0000000E" + // network, line, station
	"00000002" + "00000003" + "20260312" + "075841" + // entry line, station, date, time
	"0000" + "0000012C" + // product, fare full
	"1A2B3C4D" + "01" + "5E6F7A8B" // TAC, record key version, record MAC

func TestGoldenBinary(t *testing.T) {
	r := golden()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(b)); got != goldenHex {
		t.Errorf("MarshalBinary:\n got %s\nwant %s", got, goldenHex)
	}
	if len(b) != Size {
		t.Errorf("%d bytes, want Size %d", len(b), Size)
	}
	want, _ := hex.DecodeString(goldenHex)
	if !bytes.Equal(r.MACData(), want[:Size-4]) {
		t.Errorf("MACData is not the first %d bytes", Size-4)
	}
	d, err := DecodeBinary(want)
	if err != nil {
		t.Fatal(err)
	}
	if d != r {
		t.Errorf("DecodeBinary:\n got %+v\nwant %+v", d, r)
	}
}

func TestEncodersAgree(t *testing.T) {
	f := newFixture(t)
	for _, r := range sealedSamples(t, f, 20) {
		want := layoutBytes(&r)
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("MarshalBinary %X\nwant          %X", b, want)
		}
		if got := r.AppendBinary([]byte{0xEE}); !bytes.Equal(got[1:], want) || got[0] != 0xEE {
			t.Fatalf("AppendBinary %X", got)
		}
		if !bytes.Equal(r.MACData(), want[:Size-4]) {
			t.Fatalf("MACData %X", r.MACData())
		}
		d, err := DecodeBinary(b)
		if err != nil {
			t.Fatal(err)
		}
		if d != r {
			t.Fatalf("round trip:\n got %+v\nwant %+v", d, r)
		}
		var u Record
		if err := u.UnmarshalBinary(b); err != nil || u != r {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
	}
}

// fieldOf returns the *FieldError in err's chain, failing the test if
// there is none or if err is not kind Invalid.
func fieldOf(t *testing.T, err error) *FieldError {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if k := citycard.KindOf(err); k != citycard.Invalid {
		t.Fatalf("kind %v, want invalid: %v", k, err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError in %v", err)
	}
	return fe
}

func TestDecodeBinaryErrors(t *testing.T) {
	base := golden()
	load := golden()
	load.Type = citycard.TxLoad
	load.EntryLine, load.EntryStation, load.EntryDate, load.EntryTime = 0, 0, citycard.BCDDate{}, citycard.BCDTime{}
	grey := golden()
	grey.Status, grey.TAC = StatusGrey, [4]byte{}

	put := func(f field, hexs string) func(b []byte) {
		return func(b []byte) {
			v, err := hex.DecodeString(hexs)
			if err != nil || len(v) != f.size {
				panic("bad test value " + hexs + " for " + f.name)
			}
			copy(b[f.offset:], v)
		}
	}
	tests := []struct {
		name   string
		base   Record
		mutate func([]byte)
		field  field
		reason string
	}{
		{"magic", base, put(fMagic, "4353"), fMagic, `4353 is not "CR"`},
		{"version 0", base, put(fVersion, "00"), fVersion, "layout version 0, want 1"},
		{"version 2", base, put(fVersion, "02"), fVersion, "layout version 2, want 1"},
		{"status 3", base, put(fStatus, "03"), fStatus, "3 is not 0 (complete)"},
		{"status FF", base, put(fStatus, "FF"), fStatus, "255 is not"},
		{"type 00", base, put(fType, "00"), fType, "00 is not 02 (load)"},
		{"type 05", base, put(fType, "05"), fType, "05 is not"},
		{"issuer zero", base, put(fIssuer, "0000000000000000"), fIssuer, "issuer code is zero"},
		{"asn zero", base, put(fASN, "00000000000000000000"), fASN, "are zero"},
		{"asn zero diversification input", base, put(fASN, "31500000000000000000"), fASN, "are zero"},
		{"alg 01", base, put(fAlg, "01"), fAlg, "01 is not 00 (3DES) or 04 (SM4)"},
		{"alg 02", base, put(fAlg, "02"), fAlg, "02 is not"},
		{"load overflow", load, func(b []byte) { put(fBalanceBefore, "7FFFFF00")(b); put(fAmount, "00000100")(b) }, fAmount, "overflows"},
		{"terminal zero", base, put(fTerminalID, "000000000000"), fTerminalID, "terminal ID is zero"},
		{"psam zero", base, put(fPSAMID, "00000000000000000000"), fPSAMID, "PSAM ID is zero"},
		{"date month 13", base, put(fDate, "20261332"), fDate, "20261332 is not a date"},
		{"date not BCD", base, put(fDate, "2026031A"), fDate, "2026031A is not a date"},
		{"date 29 Feb of a common year", base, put(fDate, "20250229"), fDate, "20250229 is not a date"},
		{"date 31 Apr", base, put(fDate, "20260431"), fDate, "is not a date"},
		{"date day 0", base, put(fDate, "20260300"), fDate, "is not a date"},
		{"date zero", base, put(fDate, "00000000"), fDate, "is not a date"},
		{"time hour 24", base, put(fTime, "240000"), fTime, "240000 is not a time"},
		{"time second 60", base, put(fTime, "235960"), fTime, "235960 is not a time"},
		{"time minute 60", base, put(fTime, "126000"), fTime, "is not a time"},
		{"time not BCD", base, put(fTime, "0A0000"), fTime, "is not a time"},
		{"entry date zero, time not", base, put(fEntryDate, "00000000"), fEntryDate, "zero while entry_time is 075841"},
		{"entry date invalid", base, put(fEntryDate, "20260230"), fEntryDate, "20260230 is not a date"},
		{"entry time invalid", base, put(fEntryTime, "076000"), fEntryTime, "076000 is not a time"},
		{"entry time alone", load, put(fEntryTime, "075841"), fEntryTime, "on a load"},
		{"load entry line", load, put(fEntryLine, "00000001"), fEntryLine, "1 on a load"},
		{"load entry station", load, put(fEntryStation, "00000001"), fEntryStation, "1 on a load"},
		{"load entry date", load, put(fEntryDate, "20260312"), fEntryDate, "on a load"},
		{"grey with a TAC", grey, put(fTAC, "00000001"), fTAC, "00000001 on a grey record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := layoutBytes(&tt.base)
			if _, err := DecodeBinary(b); err != nil {
				t.Fatalf("base does not decode: %v", err)
			}
			tt.mutate(b)
			_, err := DecodeBinary(b)
			fe := fieldOf(t, err)
			if fe.Field != tt.field.name || fe.Offset != tt.field.offset {
				t.Errorf("field %s at %d, want %s at %d: %v", fe.Field, fe.Offset, tt.field.name, tt.field.offset, err)
			}
			if !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", fe.Reason, tt.reason)
			}
			prefix := "record.DecodeBinary: field " + tt.field.name + " at offset "
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("message %q, want prefix %q", err, prefix)
			}
			var r Record
			if err := r.UnmarshalBinary(b); err == nil || r != (Record{}) {
				t.Errorf("UnmarshalBinary: err %v, record %+v", err, r)
			}
		})
	}
	// The example of the package doc, word for word.
	b := layoutBytes(&base)
	put(fDate, "20261332")(b)
	if _, err := DecodeBinary(b); err == nil || err.Error() != "record.DecodeBinary: field date at offset 57: 20261332 is not a date" {
		t.Errorf("message: %v", err)
	}
}

func TestDecodeBinaryLength(t *testing.T) {
	b := layoutBytes(new(golden()))
	for _, n := range []int{0, 1, Size - 1, Size + 1, 2 * Size} {
		in := make([]byte, n)
		copy(in, b)
		_, err := DecodeBinary(in)
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "want 104") {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

// TestDecodeBinaryEdges holds the rules to what they allow.
func TestDecodeBinaryEdges(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *Record)
	}{
		{"29 Feb of a leap year", func(r *Record) { r.Date = citycard.BCDDate{0x20, 0x28, 0x02, 0x29} }},
		{"29 Feb 2000", func(r *Record) { r.Date = citycard.BCDDate{0x20, 0x00, 0x02, 0x29} }},
		{"last second of the day", func(r *Record) { r.Time = citycard.BCDTime{0x23, 0x59, 0x59} }},
		{"midnight", func(r *Record) { r.Time = citycard.BCDTime{} }},
		{"entry at midnight", func(r *Record) { r.EntryTime = citycard.BCDTime{} }},
		{"no entry", func(r *Record) { r.EntryDate, r.EntryTime = citycard.BCDDate{}, citycard.BCDTime{} }},
		{"zero TAC on a complete record", func(r *Record) { r.TAC = [4]byte{} }},
		{"grey", func(r *Record) { r.Status, r.TAC = StatusGrey, [4]byte{} }},
		{"grey load", func(r *Record) {
			r.Status, r.TAC, r.Type = StatusGrey, [4]byte{}, citycard.TxLoad
			r.EntryLine, r.EntryStation, r.EntryDate, r.EntryTime = 0, 0, citycard.BCDDate{}, citycard.BCDTime{}
		}},
		{"load to the brim", func(r *Record) {
			r.Type, r.BalanceBefore, r.Amount = citycard.TxLoad, 0xFFFFFF00, 0xFF
			r.EntryLine, r.EntryStation, r.EntryDate, r.EntryTime = 0, 0, citycard.BCDDate{}, citycard.BCDTime{}
		}},
		{"purchase above the balance", func(r *Record) { r.Amount, r.BalanceBefore = 500, 100 }},
		{"10-byte ASN", func(r *Record) { r.ASN[0], r.ASN[1] = 0x31, 0x50 }},
		{"SM4", func(r *Record) { r.Alg = keys.AlgSM4 }},
		{"every integer at its maximum", func(r *Record) {
			r.CardType, r.RiderCategory, r.KeyVersion, r.RecordKeyVersion = 255, 255, 255, 255
			r.Counter, r.Network, r.Product = 0xFFFF, 0xFFFF, 0xFFFF
			r.BalanceBefore, r.Amount, r.TerminalSeq, r.Line, r.Station = ^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0), ^uint32(0)
			r.EntryLine, r.EntryStation, r.FareFull = ^uint32(0), ^uint32(0), ^uint32(0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := golden()
			tt.mutate(&r)
			d, err := DecodeBinary(layoutBytes(&r))
			if err != nil {
				t.Fatal(err)
			}
			if d != r {
				t.Errorf("got %+v\nwant %+v", d, r)
			}
		})
	}
}

func TestMarshalBinaryRefusesInvalid(t *testing.T) {
	r := golden()
	r.Status = 9
	_, err := r.MarshalBinary()
	if fe := fieldOf(t, err); fe.Field != "status" || fe.Offset != 3 {
		t.Errorf("%v", err)
	}
	if !strings.HasPrefix(err.Error(), "record.Record.MarshalBinary: field status at offset 3") {
		t.Errorf("%v", err)
	}
	if err := r.Validate(); !strings.HasPrefix(err.Error(), "record.Record.Validate: field status at offset 3") {
		t.Errorf("Validate: %v", err)
	}
	if g := golden(); g.Validate() != nil {
		t.Errorf("Validate(golden): %v", g.Validate())
	}
}

func TestDecodeStream(t *testing.T) {
	f := newFixture(t)
	recs := sealedSamples(t, f, 2)
	var b []byte
	for i := range recs {
		b = recs[i].AppendBinary(b)
	}
	got, err := DecodeStream(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
	for i := range got {
		if got[i] != recs[i] {
			t.Errorf("record %d differs", i)
		}
	}

	empty, err := DecodeStream(nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("empty stream: %v, %v", empty, err)
	}

	_, err = DecodeStream(b[:len(b)-1])
	if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "record 13 at byte 1352: 103 trailing bytes") {
		t.Errorf("short stream: %v", err)
	}

	bad := bytes.Clone(b)
	bad[2*Size+fDate.offset+2] = 0x13 // record 2's month
	_, err = DecodeStream(bad)
	if fe := fieldOf(t, err); fe.Field != "date" {
		t.Errorf("field %s", fe.Field)
	}
	if !strings.HasPrefix(err.Error(), "record.DecodeStream: record 2 at byte 208: record.DecodeBinary: field date at offset 57:") {
		t.Errorf("bad record: %v", err)
	}
}

func TestAmountOf(t *testing.T) {
	r := golden()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if fen, ok := AmountOf(b); !ok || fen != r.Amount {
		t.Fatalf("AmountOf: %d %v, want %d", fen, ok, r.Amount)
	}
	if _, ok := AmountOf(b[:36]); ok {
		t.Fatal("AmountOf read past a short record")
	}
}
