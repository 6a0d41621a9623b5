package interop

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	ours   = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	theirs = citycard.IssuerCode{0x20, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	day    = Day(20423) // 2025-12-01
)

func header(k FileType, id string) Header {
	h := Header{Type: k, ID: id, Sender: ours, Receiver: theirs, Day: day, Created: time.Date(2025, 12, 2, 1, 30, 0, 0, citycard.ChinaTime)}
	if k == FileAnswer {
		h.Refers = "OUT-1"
	}
	return h
}

func clearingRec(n byte, fen uint32) Clearing {
	return Clearing{Issuer: theirs, ASN: citycard.ASN{0, 0, 0x20, 0, 0, 2, 0, 0, 0, n}, CardType: 2, Counter: uint16(n), Type: citycard.TxPurchase,
		AmountFen: fen, BalanceBeforeFen: -120, Terminal: citycard.TerminalID{0x31, 0x50, 3, 0, 0, n}, PSAM: citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 3, 0, 0, n},
		TerminalSeq: 4000000000, At: time.Date(2025, 12, 1, 23, 59, 59, 0, citycard.ChinaTime), KeyVersion: 1, Alg: keys.AlgSM4, TAC: [4]byte{0xDE, 0xAD, 0xBE, 0xEF}, Product: 7}
}

// greyRec is clearingRec of a grey record confirmed on its balance (a G
// line): no TAC.
func greyRec(n byte, fen uint32) Clearing {
	c := clearingRec(n, fen)
	c.Grey, c.TAC = true, [4]byte{}
	return c
}

// sampleFiles are one well-formed file of each type.
func sampleFiles() map[string]*File {
	return map[string]*File{
		"out":     {Header: header(FileOutgoing, "OUT-1"), Clearing: []Clearing{clearingRec(1, 200), clearingRec(2, 0)}},
		"outgrey": {Header: header(FileOutgoing, "OUT-3"), Clearing: []Clearing{clearingRec(1, 200), greyRec(3, 150)}},
		"ans": {Header: header(FileAnswer, "ANS-1"), Answers: []Answer{
			{RefSeq: 1, Accepted: true, Issuer: theirs, ASN: clearingRec(1, 0).ASN, Counter: 1, AmountFen: 200},
			{RefSeq: 2, Reason: ReasonTAC, Issuer: theirs, ASN: clearingRec(2, 0).ASN, Counter: 2, AmountFen: 0}}},
		"err": {Header: header(FileError, "ERR-1"), Errors: []Correction{{RefFile: "OUT-1", RefSeq: 1, AmountFen: 50, Reason: ReasonAmount, Issuer: theirs, ASN: clearingRec(1, 0).ASN, Counter: 1},
			{RefFile: "OUT-1", RefSeq: 2, Credit: true, AmountFen: 20, Reason: ReasonNotReceived, Issuer: theirs, ASN: clearingRec(2, 0).ASN, Counter: 2}}},
		"dsp": {Header: header(FileDispute, "DSP-1"), Disputes: []Dispute{{RefFile: "OUT-1", RefSeq: 1, Stage: StageRaise, AmountFen: 200, Reason: ReasonCardholder, Issuer: theirs, ASN: clearingRec(1, 0).ASN, Counter: 1}}},
		"cty": {Header: header(FileCities, "CTY-1"), Cities: []City{{Code: [2]byte{0x20, 0}, Institution: theirs, Action: Add, Announced: day, Effective: day + 30, Name: "上海公共交通卡"},
			{Code: [2]byte{0x10, 0}, Institution: citycard.IssuerCode{0x10, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}, Action: Remove, Announced: day, Effective: day + 7, Name: "Beijing"}}},
		"blk":   {Header: header(FileBlacklist, "BLK-1"), Blacklist: []Listing{{Issuer: theirs, ASN: clearingRec(1, 0).ASN, Action: Add, Reason: "01", Effective: day + 1}}},
		"empty": {Header: header(FileOutgoing, "OUT-2")},
	}
}

// TestGolden: every type encodes to the bytes of its golden file
// (docs/interop.md's examples), and decodes back to the same file.
func TestGolden(t *testing.T) {
	for name, f := range sampleFiles() {
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", name+".txt")
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s: encoded\n%s\nwant\n%s", name, b, want)
		}
		g, err := Decode(name, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := Encode(g)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: decoded and encoded again: %v\n%s", name, err, again)
		}
	}
}

// TestDecodeRefuses: each fault is named by its line and field, and the
// file yields nothing.
func TestDecodeRefuses(t *testing.T) {
	good, err := Encode(sampleFiles()["out"])
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.SplitAfter(string(good), "\n")
	ls = ls[:len(ls)-1] // the empty string after the last line end
	join := func(l ...string) []byte { return []byte(strings.Join(l, "")) }
	swap := func(i int, from, to string) []byte {
		c := append([]string(nil), ls...)
		c[i] = strings.Replace(c[i], from, to, 1)
		return join(c...)
	}
	for _, c := range []struct {
		name  string
		b     []byte
		line  int
		field string
	}{
		{"empty", nil, 1, "record"},
		{"no trailer", join(ls[:3]...), 4, "record"},
		{"cut mid-line", good[:len(good)-5], 4, "record"},
		{"a record missing", join(ls[0], ls[1], ls[3]), 3, "records"},
		{"a line after the trailer", join(append(ls, ls[1])...), 5, "record"},
		{"CRLF", swap(1, "\n", "\r\n"), 2, "record"},
		{"not UTF-8", swap(2, "|7\n", "|\xff\n"), 3, "file"},
		{"format", swap(0, "CCIC1", "CCIC2"), 1, "format"},
		{"type", swap(0, "|OUT|", "|XXX|"), 1, "type"},
		{"refers on an OUT file", swap(0, "||2|", "|ANS-9|2|"), 1, "refers"},
		{"lower-case hex", swap(1, "20000001FFFFFFFF", "20000001ffffffff"), 2, "issuer"},
		{"a zero ASN", swap(1, "00002000000200000001", "00000000000000000000"), 2, "asn"},
		{"sequence", swap(2, "R|2|", "R|3|"), 3, "seq"},
		{"a leading zero", swap(1, "|200|", "|0200|"), 2, "amount_fen"},
		{"type", swap(1, "|06|", "|07|"), 2, "type"},
		{"a date", swap(1, "20251201235959", "20251301235959"), 2, "date_time"},
		{"alg", swap(1, "|04|DEADBEEF", "|05|DEADBEEF"), 2, "alg"},
		{"too few fields", swap(1, "|7\n", "\n"), 2, "record"},
		{"an amount changed", swap(1, "|200|", "|201|"), 4, "amount_fen"},
		{"the hash", swap(3, "|200|", "|200|0"), 4, "sha256"},
		{"a trailer field more", swap(3, "\n", "|x\n"), 4, "record"},
		{"a TAC changed", swap(1, "DEADBEEF", "DEADBEEE"), 4, "sha256"},
		{"a record past the header's count", swap(0, "|2|200\n", "|1|200\n"), 3, "record"},
	} {
		f, err := Decode(c.name, c.b)
		var fe *FieldError
		if f != nil || !errors.As(err, &fe) || !citycard.IsKind(err, citycard.Invalid) || fe.Line != c.line || fe.Field != c.field || fe.File != c.name {
			t.Errorf("%s: %v, %v; want line %d field %s", c.name, f, err, c.line, c.field)
		}
	}
	long := append([]byte("H|"), bytes.Repeat([]byte("x"), LineLenMax)...)
	if _, err := Decode("long", append(long, '\n')); err == nil || !strings.Contains(err.Error(), "line 1 field record") {
		t.Errorf("a line past %d bytes: %v", LineLenMax, err)
	}
}

// TestRecordRules: fields whose values the layout forbids are refused,
// by Encode as by Decode.
func TestRecordRules(t *testing.T) {
	for _, c := range []struct {
		name, file string
		edit       func(f *File)
	}{
		{"answer accepted with a reason", "ans", func(f *File) { f.Answers[0].Reason = ReasonTAC }},
		{"answer rejected without one", "ans", func(f *File) { f.Answers[1].Reason = ReasonAccepted }},
		{"unknown reason", "ans", func(f *File) { f.Answers[1].Reason = reasonEnd }},
		{"an answer to record 0", "ans", func(f *File) { f.Answers[1].RefSeq = 0 }},
		{"correction of nothing", "err", func(f *File) { f.Errors[0].AmountFen = 0 }},
		{"correction without a reason", "err", func(f *File) { f.Errors[0].Reason = ReasonAccepted }},
		{"city added after 31 days", "cty", func(f *File) { f.Cities[0].Effective = day + 31 }},
		{"city removed after 8 days", "cty", func(f *File) { f.Cities[1].Effective = day + 8 }},
		{"city effective before its announcement", "cty", func(f *File) { f.Cities[0].Effective = day - 1 }},
		{"institution of another city", "cty", func(f *File) { f.Cities[0].Code = [2]byte{0x30, 0} }},
		{"a name with a bar", "cty", func(f *File) { f.Cities[0].Name = "a|b" }},
		{"a listing's reason", "blk", func(f *File) { f.Blacklist[0].Reason = "1" }},
		{"a file ID in lower case", "blk", func(f *File) { f.Header.ID = "blk-1" }},
		{"an answer referring to nothing", "ans", func(f *File) { f.Header.Refers = "" }},
		{"a load in a clearing file", "out", func(f *File) { f.Clearing[0].Type = citycard.TxLoad }},
		{"a grey record with a TAC", "outgrey", func(f *File) { f.Clearing[1].TAC[3] = 1 }},
		{"a grey record in an INC file", "outgrey", func(f *File) { f.Header.Type = FileIncoming }},
	} {
		f := sampleFiles()[c.file]
		c.edit(f)
		if _, err := Encode(f); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v, want Invalid", c.name, err)
		}
	}
}

// TestGreyLines: a G line is an OUT file's record of a grey record, read
// back as one (Grey, no TAC, a grey record to verify), numbered and
// summed with the R lines; in another type of file it is refused.
func TestGreyLines(t *testing.T) {
	b, err := Encode(sampleFiles()["outgrey"])
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode("outgrey", b)
	if err != nil || len(f.Clearing) != 2 || f.Clearing[0].Grey || !f.Clearing[1].Grey || f.Header.AmountFen != 350 {
		t.Fatalf("decoded %+v, %v; want an R line and a G line of 350 fen", f, err)
	}
	if r := f.Clearing[1].Record(); r.Status != record.StatusGrey || r.TAC != ([4]byte{}) {
		t.Errorf("the G line's record: status %v, TAC %X; want a grey record without one", r.Status, r.TAC)
	}
	inc := strings.Replace(string(b), "|OUT|", "|INC|", 1)
	var fe *FieldError
	if _, err := Decode("inc", []byte(inc)); !errors.As(err, &fe) || fe.Line != 3 || fe.Field != "record" {
		t.Errorf("a G line in an INC file: %v, want line 3 refused", err)
	}
}

// TestCities: a city is in the terminals' lists from its effective day,
// out of them from its removal's.
func TestCities(t *testing.T) {
	var cs Cities
	sh := City{Code: [2]byte{0x20, 0}, Institution: theirs, Action: Add, Announced: day, Effective: day + 30, Name: "Shanghai"}
	if err := cs.Take([]City{sh}); err != nil {
		t.Fatal(err)
	}
	out := sh
	out.Action, out.Announced, out.Effective = Remove, day+60, day+67
	if err := cs.Take([]City{out}); err != nil {
		t.Fatal(err)
	}
	late := out
	late.Effective = day + 68
	if err := cs.Take([]City{late}); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a removal 8 days after its announcement: %v", err)
	}
	for _, c := range []struct {
		d    Day
		want bool
	}{{day, false}, {day + 29, false}, {day + 30, true}, {day + 66, true}, {day + 67, false}} {
		if got := cs.Accepts(theirs, c.d); got != c.want {
			t.Errorf("day +%d: %v, want %v", c.d-day, got, c.want)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode refuses them with a line and a
// field (kind Invalid) or reads a file that encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, sf := range sampleFiles() {
		b, err := Encode(sf)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode("fuzz", b)
		if err != nil {
			var fe *FieldError
			if got != nil || !citycard.IsKind(err, citycard.Invalid) || !errors.As(err, &fe) || fe.Field == "" || fe.Line < 0 {
				t.Fatalf("refused with %v (a file %v)", err, got)
			}
			return
		}
		again, err := Encode(got)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded, then encoded to other bytes (%v):\n%q\n%q", err, again, b)
		}
	})
}

// TestLimits: a header counting more than RecordsMax records, and a
// file past FileLenMax, are refused before anything is read of them.
func TestLimits(t *testing.T) {
	b, err := Encode(sampleFiles()["empty"])
	if err != nil {
		t.Fatal(err)
	}
	var fe *FieldError
	at := strings.Replace(string(b), "||0|0\n", "||2097152|0\n", 1)
	if _, err := Decode("at", []byte(at)); !errors.As(err, &fe) || fe.Field != "records" || fe.Line != 2 {
		t.Errorf("a header of RecordsMax records, none there: %v", err)
	}
	over := strings.Replace(string(b), "||0|0\n", "||2097153|0\n", 1)
	if _, err := Decode("over", []byte(over)); !errors.As(err, &fe) || fe.Line != 1 || fe.Field != "records" {
		t.Errorf("a header of RecordsMax+1 records: %v", err)
	}
	if _, err := Decode("big", make([]byte, FileLenMax+1)); !errors.As(err, &fe) || fe.Field != "file" {
		t.Errorf("a file past FileLenMax: %v", err)
	}
}

// BenchmarkDecode decodes an OUT file of 100,000 records.
func BenchmarkDecode(b *testing.B) {
	f := &File{Header: header(FileOutgoing, "OUT-B")}
	for i := range 100000 {
		c := clearingRec(byte(i%250+1), uint32(i))
		c.Counter = uint16(i)
		f.Clearing = append(f.Clearing, c)
	}
	data, err := Encode(f)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := Decode("b", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(f.Clearing))/b.Elapsed().Seconds(), "records/s")
}
