package recon

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseYuan(t *testing.T) {
	for _, tt := range []struct {
		in   string
		fen  int64
		fail bool
	}{
		{"0", 0, false}, {"7", 700, false}, {"0.5", 50, false}, {"99.09", 9909, false}, {"007.10", 710, false},
		{"1000000000000", 1e14, false}, {"1000000000000.01", 0, true}, {"99999999999999999999", 0, true},
		{"", 0, true}, {".5", 0, true}, {"5.", 0, true}, {"1.234", 0, true}, {"-1", 0, true}, {"+1", 0, true},
		{"1e3", 0, true}, {"1,000.00", 0, true}, {" 1", 0, true}, {"1.2.3", 0, true}, {"NaN", 0, true},
	} {
		fen, err := ParseYuan(tt.in)
		if (err != nil) != tt.fail || fen != tt.fen {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d, fail %v", tt.in, fen, err, tt.fen, tt.fail)
		}
		if err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("ParseYuan(%q): kind %v, want Invalid", tt.in, citycard.KindOf(err))
		}
	}
}

func TestParseCAMT053(t *testing.T) {
	st, err := ParseCAMT053("exact.xml", read(t, "exact.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "STMT-20261202" || st.MessageID != "ICBC-NB-20261202-0001" || st.Account != "ICBC Ningbo 3901 0000 0000 0001" || len(st.Movements) != 2 {
		t.Fatalf("statement %+v", st)
	}
	m := st.Movements[0]
	d := clearing.DayOf(2026, 12, 2)
	if m.Seq != 1 || m.Direction != Debit || m.AmountFen != 9909 || m.Booked != d || m.Value != d || m.BankRef != "B0001" ||
		len(m.Parts) != 1 || m.Parts[0] != (Part{EndToEndID: "CCLR-20261201-00001", MessageID: "CCLR-20261201", PaymentInfoID: "CCLR-20261201-1", AmountFen: 9909, Remittance: "citycard clearing 2026-12-01 nb-bus"}) {
		t.Errorf("movement 1: %+v", m)
	}
	// A DtTm booking day is its date as written; a detail without an
	// amount has its movement's.
	if m := st.Movements[1]; m.Booked != d || m.Value != d || m.Parts[0].AmountFen != 18031 {
		t.Errorf("movement 2: %+v", m)
	}
}

// TestCSVAsCAMT053: the two forms of one statement read the same.
func TestCSVAsCAMT053(t *testing.T) {
	for _, name := range []string{"exact", "mismatched"} {
		x, err := ParseCAMT053(name+".xml", read(t, name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCSV(name+".csv", read(t, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if x.ID != c.ID || x.Account != c.Account || len(x.Movements) != len(c.Movements) {
			t.Fatalf("%s: camt.053 %s %q %d movements, CSV %s %q %d", name, x.ID, x.Account, len(x.Movements), c.ID, c.Account, len(c.Movements))
		}
		for i := range x.Movements {
			a, b := x.Movements[i], c.Movements[i]
			if a.Direction != b.Direction || a.AmountFen != b.AmountFen || a.Booked != b.Booked || a.Value != b.Value || a.BankRef != b.BankRef || len(a.Parts) != len(b.Parts) {
				t.Fatalf("%s: movement %d: camt.053 %+v, CSV %+v", name, i+1, a, b)
			}
			for k := range a.Parts {
				if a.Parts[k].EndToEndID != b.Parts[k].EndToEndID || a.Parts[k].AmountFen != b.Parts[k].AmountFen || a.Parts[k].Remittance != b.Parts[k].Remittance {
					t.Errorf("%s: movement %d part %d: camt.053 %+v, CSV %+v", name, i+1, k+1, a.Parts[k], b.Parts[k])
				}
			}
		}
	}
}

// TestTruncatedCAMT053: every cut of a file before its root's end is
// refused, naming a line and the element left open; the cut inside the
// first entry names it.
func TestTruncatedCAMT053(t *testing.T) {
	data := read(t, "exact.xml")
	end := bytes.Index(data, []byte("</Document>")) + len("</Document>")
	for n := 0; n < end; n++ {
		_, err := ParseCAMT053("exact.xml", data[:n])
		if err == nil {
			t.Fatalf("cut at %d of %d: accepted", n, len(data))
		}
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "exact.xml: line ") {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
	cut := bytes.Index(data, []byte("<BookgDt>")) + 4
	_, err := ParseCAMT053("exact.xml", data[:cut])
	want := "exact.xml: line 25: Document/BkToCstmrStmt/Stmt[1]/Ntry[1]: the file ends inside the element: truncated"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("cut inside the first entry: %v; want ...%s", err, want)
	}
	if _, err := ParseCAMT053("exact.xml", data[:end]); err != nil {
		t.Errorf("the file up to its root's end: %v", err)
	}
}

// TestCorruptCAMT053: each corruption is refused with its element's path
// and what is wrong with it.
func TestCorruptCAMT053(t *testing.T) {
	good := string(read(t, "exact.xml"))
	const ntry1 = "Document/BkToCstmrStmt/Stmt[1]/Ntry[1]"
	for _, tt := range []struct{ old, new, want string }{
		{`<Amt Ccy="CNY">99.09</Amt>
        <CdtDbtInd>`, `<Amt Ccy="CNY">99.091</Amt>
        <CdtDbtInd>`, ntry1 + `/Amt: amount "99.091": more than two decimals`},
		{`<Amt Ccy="CNY">99.09</Amt>
        <CdtDbtInd>`, `<Amt Ccy="USD">99.09</Amt>
        <CdtDbtInd>`, ntry1 + `/Amt: currency "USD": want Ccy="CNY"`},
		{`<Amt Ccy="CNY">99.09</Amt>
        <CdtDbtInd>`, `<Amt Ccy="CNY">-99.09</Amt>
        <CdtDbtInd>`, ntry1 + `/Amt: amount "-99.09": want digits`},
		{`<Amt Ccy="CNY">99.09</Amt>
        <CdtDbtInd>`, `<Amt Ccy="CNY">0.00</Amt>
        <CdtDbtInd>`, ntry1 + `/Amt: amount 0`},
		{"<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>2026-12-02", "<CdtDbtInd>DEBIT</CdtDbtInd>\n        <Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>2026-12-02", ntry1 + `/CdtDbtInd: 5 characters, at most 4`},
		{"<Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>2026-12-02", "<Sts><Cd>PDNG</Cd></Sts>\n        <BookgDt><Dt>2026-12-02", ntry1 + `/Sts/Cd: status "PDNG"`},
		{"<BookgDt><Dt>2026-12-02</Dt></BookgDt>\n        <ValDt>", "<ValDt>", ntry1 + "/BookgDt: missing"},
		{"<BookgDt><Dt>2026-12-02</Dt></BookgDt>\n        <ValDt>", "<BookgDt><Dt>2026-12-32</Dt></BookgDt>\n        <ValDt>", ntry1 + `/BookgDt/Dt: "2026-12-32": want YYYY-MM-DD`},
		{`<Amt Ccy="CNY">99.09</Amt>
            <RmtInf>`, `<Amt Ccy="CNY">99.00</Amt>
            <RmtInf>`, ntry1 + "/NtryDtls: the transaction details' amounts sum to 99.00, the entry's Amt is 99.09"},
		{"<EndToEndId>CCLR-20261201-00001</EndToEndId>", "<EndToEndId>CCLR-20261201-00001-AND-A-GOOD-DEAL-MORE</EndToEndId>", ntry1 + "/NtryDtls[1]/TxDtls[1]/Refs/EndToEndId: 40 characters, at most 35"},
		{"<Id>STMT-20261202</Id>", "<Id>STMT-20261202</Id><Id>AGAIN</Id>", "Document/BkToCstmrStmt/Stmt[1]/Id: more than one Id"},
		{"camt.053.001.08", "camt.052.001.08", "Document: element {urn:iso:std:iso:20022:tech:xsd:camt.052....}Document: want a camt.053 Document"},
		{"<Ccy>CNY</Ccy>", "<Ccy>EUR</Ccy>", "Document/BkToCstmrStmt/Stmt[1]/Acct/Ccy: \"EUR\": want CNY"},
		{"<Othr><Id>ICBC Ningbo 3901 0000 0000 0001</Id></Othr>", "", "Document/BkToCstmrStmt/Stmt[1]/Acct/Id: missing IBAN or Othr/Id"},
		{"<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!DOCTYPE x [<!ENTITY a \"b\">]>", "(document): a directive (DTD): not taken"},
		{"</Stmt>", "</Stmt><Stmt><Id>B</Id></Stmt>", "Document/BkToCstmrStmt/Stmt: 2 statements: want one"},
		{"<AcctSvcrRef>B0001</AcctSvcrRef>", "<AcctSvcrRef>B0001</AcctSvcrRef", "Document/BkToCstmrStmt/Stmt[1]/Ntry[1]"},
		{"<AcctSvcrRef>B0001</AcctSvcrRef>", "<AcctSvcrRef>B\x01</AcctSvcrRef>", "Document/BkToCstmrStmt/Stmt[1]/Ntry[1]"},
	} {
		if !strings.Contains(good, tt.old) {
			t.Fatalf("exact.xml has no %q", tt.old)
		}
		_, err := ParseCAMT053("bad.xml", []byte(strings.Replace(good, tt.old, tt.new, 1)))
		if err == nil || !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bad.xml: line ") {
			t.Errorf("%q -> %q: %v; want Invalid, a line and %q", tt.old, tt.new, err, tt.want)
		}
	}
}

func TestCorruptCSV(t *testing.T) {
	good := string(read(t, "exact.csv"))
	for _, tt := range []struct{ old, new, want string }{
		{",99.09,", ",99.090,", "line 2: amount: \"99.090\": more than two decimals"},
		{",99.09,", ",,", "line 2: amount: missing"},
		{",99.09,", ",0,", "line 2: amount: \"0\": 0: a payment moves money"},
		{",CNY,CCLR-20261201-00002", ",RMB,CCLR-20261201-00002", "line 3: currency: \"RMB\": want CNY"},
		{"B0002,2026-12-02,,DBIT", "B0002,2026-12-02,,OUT", "line 3: direction: \"OUT\": want DBIT or CRDT"},
		{"B0002,2026-12-02,", "B0002,02/12/2026,", "line 3: booking_date: \"02/12/2026\": want YYYY-MM-DD"},
		{"STMT-20261202,ICBC Ningbo 3901 0000 0000 0001,B0002", "STMT-OTHER,ICBC Ningbo 3901 0000 0000 0001,B0002", "line 3: statement_id: \"STMT-OTHER\": the file is of statement \"STMT-20261202\""},
		{"nb-metro\n", "nb-metro,extra\n", "line 3: the row: wrong number of fields"},
		{"nb-metro\n", "\"nb-metro\n", "line 3: column"},
		{"end_to_end_id,remittance", "e2e,remittance", "line 1: header"},
		{"B0002,2026-12-02,,DBIT,180.31", "B0001,2026-12-02,,DBIT,180.31", ""}, // the rows of B0001 together: accepted
	} {
		if !strings.Contains(good, tt.old) {
			t.Fatalf("exact.csv has no %q", tt.old)
		}
		_, err := ParseCSV("bad.csv", []byte(strings.Replace(good, tt.old, tt.new, 1)))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q -> %q: %v", tt.old, tt.new, err)
			}
			continue
		}
		if err == nil || !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "bad.csv: "+tt.want) {
			t.Errorf("%q -> %q: %v; want Invalid and %q", tt.old, tt.new, err, tt.want)
		}
	}
	// An entry's rows apart, and rows of one entry that disagree.
	rows := strings.Split(strings.TrimSpace(good), "\n")
	again := strings.Join([]string{rows[0], rows[1], rows[2], rows[1]}, "\n") + "\n"
	if _, err := ParseCSV("bad.csv", []byte(again)); err == nil || !strings.Contains(err.Error(), `line 4: entry: "B0001" again`) {
		t.Errorf("an entry's rows apart: %v", err)
	}
	split := strings.Join([]string{rows[0], rows[1], strings.Replace(rows[1], "DBIT", "CRDT", 1)}, "\n") + "\n"
	if _, err := ParseCSV("bad.csv", []byte(split)); err == nil || !strings.Contains(err.Error(), `line 3: direction: CRDT: entry "B0001" is DBIT`) {
		t.Errorf("an entry of two directions: %v", err)
	}
	if _, err := ParseCSV("bad.csv", []byte(rows[0]+"\n")); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("a header alone: %v", err)
	}
	if _, err := ParseCSV("bad.csv", nil); err == nil || !strings.Contains(err.Error(), "line 1: empty") {
		t.Errorf("an empty file: %v", err)
	}
}

// csvRow is a row of the CSV form, entry e paying amount.
func csvRow(e, amount, remittance string) string {
	return fmt.Sprintf("S,ACCT,%s,2026-12-02,,DBIT,%s,CNY,,%s\n", e, amount, remittance)
}

// TestLimits: each limit of a statement, at its boundary.
func TestLimits(t *testing.T) {
	head := strings.Join(CSVHeader, ",") + "\n"
	build := func(entries, partsOfFirst int) []byte {
		var b strings.Builder
		b.WriteString(head)
		for i := 0; i < partsOfFirst; i++ {
			b.WriteString(csvRow("E0", "0.01", ""))
		}
		for i := 1; i < entries; i++ {
			b.WriteString(csvRow(fmt.Sprint("E", i), "0.01", ""))
		}
		return []byte(b.String())
	}
	if st, err := ParseCSV("max.csv", build(MovementsMax, 1)); err != nil || len(st.Movements) != MovementsMax {
		t.Errorf("%d entries: %v", MovementsMax, err)
	}
	if _, err := ParseCSV("over.csv", build(MovementsMax+1, 1)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d: entry: more than %d entries", MovementsMax+2, MovementsMax)) {
		t.Errorf("%d entries: %v", MovementsMax+1, err)
	}
	if st, err := ParseCSV("max.csv", build(1, PartsMax)); err != nil || len(st.Movements[0].Parts) != PartsMax || st.Movements[0].AmountFen != PartsMax {
		t.Errorf("%d payments in an entry: %v", PartsMax, err)
	}
	if _, err := ParseCSV("over.csv", build(1, PartsMax+1)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d payments in entry", PartsMax)) {
		t.Errorf("%d payments in an entry: %v", PartsMax+1, err)
	}
	for _, tt := range []struct {
		row  string
		fail bool
	}{
		{csvRow("E", "1", strings.Repeat("备", RemittanceMax)), false},
		{csvRow("E", "1", strings.Repeat("备", RemittanceMax+1)), true},
		{csvRow(strings.Repeat("e", IDLenMax), "1", ""), false},
		{csvRow(strings.Repeat("e", IDLenMax+1), "1", ""), true},
		{csvRow("E", "1000000000000", ""), false},
		{csvRow("E", "1000000000000.01", ""), true},
	} {
		if _, err := ParseCSV("f.csv", []byte(head+tt.row)); (err != nil) != tt.fail {
			t.Errorf("%.60q...: %v, want failure %v", tt.row, err, tt.fail)
		}
	}
	// The file's size: a camt.053 padded with a comment to the limit is
	// read; a byte more is refused before it is parsed.
	x := read(t, "exact.xml")
	pad := func(n int) []byte {
		return append(append(append([]byte{}, x...), "<!--"...), append(bytes.Repeat([]byte{'x'}, n-len(x)-7), "-->"...)...)
	}
	if b := pad(FileBytesMax); len(b) != FileBytesMax {
		t.Fatalf("padded to %d", len(b))
	} else if _, err := ParseCAMT053("max.xml", b); err != nil {
		t.Errorf("%d bytes: %v", FileBytesMax, err)
	}
	if _, err := ParseCAMT053("over.xml", pad(FileBytesMax+1)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d bytes, at most %d", FileBytesMax+1, FileBytesMax)) {
		t.Errorf("%d bytes: %v", FileBytesMax+1, err)
	}
	if _, err := ParseCSV("over.csv", make([]byte, FileBytesMax+1)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a CSV of %d bytes: %v", FileBytesMax+1, err)
	}
}

func TestSniff(t *testing.T) {
	if Sniff(read(t, "exact.xml")) != CAMT053 || Sniff(read(t, "exact.csv")) != CSV || Sniff([]byte("\xef\xbb\xbf  <x/>")) != CAMT053 {
		t.Error("Sniff")
	}
}

// checkStatement asserts what a parser promises of what it accepts.
func checkStatement(t *testing.T, st *BankStatement) {
	if len(st.Movements) > MovementsMax || st.ID == "" || len(st.SHA256) != 64 {
		t.Fatalf("statement %q with %d movements", st.ID, len(st.Movements))
	}
	for _, m := range st.Movements {
		if m.AmountFen <= 0 || m.AmountFen > AmountFenMax || (m.Direction != Debit && m.Direction != Credit) || len(m.Parts) > PartsMax {
			t.Fatalf("movement %+v", m)
		}
		var sum int64
		for _, p := range m.Parts {
			sum += p.AmountFen
		}
		if len(m.Parts) > 0 && sum != m.AmountFen {
			t.Fatalf("movement %d: parts sum to %d, it is %d", m.Seq, sum, m.AmountFen)
		}
	}
}

func FuzzParseCAMT053(f *testing.F) {
	for _, n := range []string{"exact.xml", "mismatched.xml", "late.xml", "payins.xml", "payins-late.xml", "debtors.xml"} {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseCAMT053("fuzz.xml", data)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("kind %v: %v", citycard.KindOf(err), err)
			}
			return
		}
		checkStatement(t, st)
	})
}

func FuzzParseCSV(f *testing.F) {
	for _, n := range []string{"exact.csv", "mismatched.csv", "debtors.csv"} {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseCSV("fuzz.csv", data)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("kind %v: %v", citycard.KindOf(err), err)
			}
			return
		}
		checkStatement(t, st)
	})
}
