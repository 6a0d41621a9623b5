package record

import (
	"bytes"
	"encoding/json"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

// goldenJSON is golden() in its JSON form, as the package doc shows it.
const goldenJSON = `{"status":"complete","type":"composite","issuer":"3150000000000001",` +
	`"asn":"3150000012345678","card_type":1,"rider_category":0,"alg":"3DES",` +
	`"key_version":1,"counter":17,"balance_before":5000,"amount":300,` +
	`"terminal_id":"315000000101","psam_id":"31500000000000000101",` +
	`"terminal_seq":4711,"date":"2026-03-12","time":"08:15:00",` +
	`"network":1,"line":2,"station":14,"entry_line":2,"entry_station":3,` +
	`"entry_date":"2026-03-12","entry_time":"07:58:41","product":0,` +
	`"fare_full":300,"tac":"1A2B3C4D","record_key_version":1,` +
	`"record_mac":"5E6F7A8B"}`

func TestGoldenJSON(t *testing.T) {
	r := golden()
	for _, v := range []any{r, &r} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != goldenJSON {
			t.Errorf("json.Marshal(%T):\n got %s\nwant %s", v, b, goldenJSON)
		}
	}
	d, err := DecodeJSON([]byte(goldenJSON))
	if err != nil {
		t.Fatal(err)
	}
	if d != r {
		t.Errorf("DecodeJSON:\n got %+v\nwant %+v", d, r)
	}
	// Indented, as a person or jq would write it.
	var ind bytes.Buffer
	json.Indent(&ind, []byte(goldenJSON), "", "  ")
	if d, err := DecodeJSON(ind.Bytes()); err != nil || d != r {
		t.Errorf("indented: %v", err)
	}
	// Through json.Unmarshal, as part of a larger document.
	var batch struct{ Records []Record }
	if err := json.Unmarshal([]byte(`{"Records":[`+goldenJSON+`]}`), &batch); err != nil || len(batch.Records) != 1 || batch.Records[0] != r {
		t.Errorf("json.Unmarshal: %v", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	f := newFixture(t)
	recs := sealedSamples(t, f, 10)
	noEntry := golden()
	noEntry.EntryLine, noEntry.EntryStation, noEntry.EntryDate, noEntry.EntryTime = 0, 0, citycard.BCDDate{}, citycard.BCDTime{}
	midnight := golden()
	midnight.EntryTime = citycard.BCDTime{}
	grey := golden()
	grey.Status, grey.TAC = StatusGrey, [4]byte{}
	recs = append(recs, noEntry, midnight, grey)
	for _, r := range recs {
		j, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		d, err := DecodeJSON(j)
		if err != nil {
			t.Fatalf("%s: %v", j, err)
		}
		if d != r {
			t.Fatalf("JSON round trip:\n got %+v\nwant %+v", d, r)
		}
		// Binary -> JSON -> binary is the identity on bytes.
		b := layoutBytes(&r)
		fromBin, err := DecodeBinary(b)
		if err != nil {
			t.Fatal(err)
		}
		j2, err := json.Marshal(fromBin)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(j2, &back); err != nil {
			t.Fatal(err)
		}
		b2, err := back.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("binary -> JSON -> binary:\n%X\n%X", b, b2)
		}
	}
	if j, _ := noEntry.MarshalJSON(); strings.Contains(string(j), "entry_date") || strings.Contains(string(j), "entry_time") {
		t.Errorf("no entry, yet %s", j)
	}
	if j, _ := midnight.MarshalJSON(); !strings.Contains(string(j), `"entry_time":"00:00:00"`) {
		t.Errorf("entry at midnight: %s", j)
	}
}

func TestMarshalJSONRefusesInvalid(t *testing.T) {
	r := golden()
	r.Date = citycard.BCDDate{0x20, 0x26, 0x13, 0x01}
	_, err := r.MarshalJSON()
	if fe := fieldOf(t, err); fe.Field != "date" || fe.Offset != -1 {
		t.Errorf("%v", err)
	}
	if _, err := json.Marshal(r); err == nil {
		t.Error("json.Marshal of an invalid record")
	}
}

// edit returns goldenJSON with one field's raw value replaced, or the field
// removed when value is "".
func edit(name, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(goldenJSON), &m); err != nil {
		panic(err)
	}
	if _, ok := m[name]; !ok && value == "" {
		panic("no field " + name)
	}
	if value == "" {
		delete(m, name)
	} else {
		m[name] = json.RawMessage(value)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		field  string // "" when the error is about the document, not a field
		reason string
	}{
		{"not JSON", `{"status":`, "", "not JSON"},
		{"empty", ``, "", "not JSON"},
		{"array", `[` + goldenJSON + `]`, "", "want a JSON object, have an array"},
		{"string", `"record"`, "", "want a JSON object, have a string"},
		{"null", `null`, "", "want a JSON object, have null"},
		{"trailing object", goldenJSON + `{}`, "", "after the object"},
		{"trailing garbage", goldenJSON + `x`, "", "after the object"},
		{"too long", goldenJSON + strings.Repeat(" ", MaxJSON), "", "at most 8192"},
		{"unknown field", strings.Replace(goldenJSON, `{`, `{"fare":1,`, 1), "fare", "unknown field"},
		{"name in another case", strings.Replace(goldenJSON, `"amount"`, `"Amount"`, 1), "Amount", "unknown field"},
		{"duplicate field", strings.Replace(goldenJSON, `{`, `{"amount":1,`, 1), "amount", "given twice"},
		{"entry date alone", edit("entry_time", ""), "entry_time", "missing while entry_date is given"},
		{"entry time alone", edit("entry_date", ""), "entry_date", "missing while entry_time is given"},

		{"status unknown", edit("status", `"done"`), "status", `"done" is not complete, recovered or grey`},
		{"status number", edit("status", `0`), "status", "want a string, have a number"},
		{"status upper case", edit("status", `"COMPLETE"`), "status", "is not complete"},
		{"type unknown", edit("type", `"refund"`), "type", `"refund" is not load, purchase, composite or application`},
		{"type hex", edit("type", `"09"`), "type", "is not load"},
		{"alg lower case", edit("alg", `"3des"`), "alg", `"3des" is not 3DES or SM4`},
		{"alg id", edit("alg", `"00"`), "alg", "is not 3DES or SM4"},
		{"issuer lower case", edit("issuer", `"3150000000000a01"`), "issuer", "is not 16 upper-case hex digits"},
		{"issuer short", edit("issuer", `"31500000000001"`), "issuer", "is not 16 upper-case hex digits"},
		{"issuer zero", edit("issuer", `"0000000000000000"`), "issuer", "issuer code is zero"},
		{"asn 20 digits of a short ASN", edit("asn", `"00003150000012345678"`), "asn", "write an 8-byte ASN as its 16 digits"},
		{"asn 18 digits", edit("asn", `"003150000012345678"`), "asn", "is not 16 or 20 upper-case hex digits"},
		{"asn lower case", edit("asn", `"315000001234567a"`), "asn", "is not 16 or 20"},
		{"asn number", edit("asn", `3150000012345678`), "asn", "want a string, have a number"},
		{"card type 256", edit("card_type", `256`), "card_type", "256 is not an integer from 0 to 255"},
		{"card type string", edit("card_type", `"1"`), "card_type", "want a number, have a string"},
		{"key version negative", edit("key_version", `-1`), "key_version", "-1 is not an integer"},
		{"counter 65536", edit("counter", `65536`), "counter", "from 0 to 65535"},
		{"balance 2^31", edit("balance_before", `2147483648`), "balance_before", "from -2147483648 to 2147483647"},
		{"balance below -2^31", edit("balance_before", `-2147483649`), "balance_before", "from -2147483648 to 2147483647"},
		{"amount fraction", edit("amount", `300.0`), "amount", "300.0 is not an integer"},
		{"amount exponent", edit("amount", `3e2`), "amount", "3e2 is not an integer"},
		{"amount huge", edit("amount", `123456789012345678901234567890`), "amount", "is not an integer"},
		{"amount null", edit("amount", `null`), "amount", "want a number, have null"},
		{"amount bool", edit("amount", `true`), "amount", "want a number, have a boolean"},
		{"amount array", edit("amount", `[300]`), "amount", "want a number, have an array"},
		{"amount object", edit("amount", `{"fen":300}`), "amount", "want a number, have an object"},
		{"terminal id long", edit("terminal_id", `"31500000010100"`), "terminal_id", "is not 12 upper-case hex digits"},
		{"terminal id zero", edit("terminal_id", `"000000000000"`), "terminal_id", "terminal ID is zero"},
		{"psam id short", edit("psam_id", `"315000000000000001"`), "psam_id", "is not 20 upper-case hex digits"},
		{"date BCD digits", edit("date", `"20260312"`), "date", `"20260312" is not a date YYYY-MM-DD`},
		{"date one-digit month", edit("date", `"2026-3-12"`), "date", "is not a date"},
		{"date 30 Feb", edit("date", `"2026-02-30"`), "date", "is not a date"},
		{"date month 13", edit("date", `"2026-13-01"`), "date", "is not a date"},
		{"date with time", edit("date", `"2026-03-12T08:15:00"`), "date", "is not a date"},
		{"date slashes", edit("date", `"2026/03/12"`), "date", "is not a date"},
		{"date sign", edit("date", `"+026-03-12"`), "date", "is not a date"},
		{"date number", edit("date", `20260312`), "date", "want a string, have a number"},
		{"time number", edit("time", `81500`), "time", "want a string, have a number"},
		{"tac number", edit("tac", `12345678`), "tac", "want a string, have a number"},
		{"time hour 24", edit("time", `"24:00:00"`), "time", `"24:00:00" is not a time HH:MM:SS`},
		{"time no seconds", edit("time", `"08:15"`), "time", "is not a time"},
		{"time BCD digits", edit("time", `"081500"`), "time", "is not a time"},
		{"time fraction", edit("time", `"08:15:00.5"`), "time", "is not a time"},
		{"entry date invalid", edit("entry_date", `"2026-04-31"`), "entry_date", "is not a date"},
		{"entry time invalid", edit("entry_time", `"07:60:00"`), "entry_time", "is not a time"},
		{"tac short", edit("tac", `"1A2B3C"`), "tac", "is not 8 upper-case hex digits"},
		{"tac lower case", edit("tac", `"1a2b3c4d"`), "tac", "is not 8 upper-case"},
		{"record mac long", edit("record_mac", `"5E6F7A8B00"`), "record_mac", "is not 8 upper-case"},
		{"grey with a TAC", edit("status", `"grey"`), "tac", "1A2B3C4D on a grey record"},
		{"load with an entry", edit("type", `"load"`), "entry_line", "2 on a load"},
		{"load overflow", strings.Replace(edit("type", `"load"`), `"balance_before":5000`, `"balance_before":2147483600`, 1), "amount", "overflows"},
		{"balance past 32 bits", strings.Replace(edit("type", `"load"`), `"balance_before":5000`, `"balance_before":4294967000`, 1), "balance_before", "from -2147483648 to 2147483647"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error for %s", tt.in)
			}
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Errorf("kind %v", citycard.KindOf(err))
			}
			if !strings.HasPrefix(err.Error(), "record.DecodeJSON: ") {
				t.Errorf("message %q", err)
			}
			if tt.field == "" {
				if !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("%v, want %q", err, tt.reason)
				}
				return
			}
			fe := fieldOf(t, err)
			if fe.Field != tt.field || fe.Offset != -1 {
				t.Errorf("field %q offset %d, want %q: %v", fe.Field, fe.Offset, tt.field, err)
			}
			if !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", fe.Reason, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), `record.DecodeJSON: field "`+tt.field+`": `) {
				t.Errorf("message %q", err)
			}
			var r Record
			if err := r.UnmarshalJSON([]byte(tt.in)); err == nil || r != (Record{}) {
				t.Errorf("UnmarshalJSON: %v, %+v", err, r)
			}
		})
	}
}

// TestDecodeJSONMissing removes each required field in turn.
func TestDecodeJSONMissing(t *testing.T) {
	for _, jf := range jsonFields {
		if jf.optional {
			continue
		}
		_, err := DecodeJSON([]byte(edit(jf.name, "")))
		fe := fieldOf(t, err)
		if fe.Field != jf.name || fe.Reason != "missing" {
			t.Errorf("without %s: %v", jf.name, err)
		}
	}
	// Both entry fields may go together.
	var m map[string]json.RawMessage
	json.Unmarshal([]byte(goldenJSON), &m)
	delete(m, "entry_date")
	delete(m, "entry_time")
	b, _ := json.Marshal(m)
	r, err := DecodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.EntryDate != (citycard.BCDDate{}) || r.EntryTime != (citycard.BCDTime{}) || r.EntryLine != 2 {
		t.Errorf("%+v", r)
	}
}

// TestDecodeJSONSpellings holds what DecodeJSON accepts besides its own
// output: white space and any order of fields, and string escapes.
func TestDecodeJSONSpellings(t *testing.T) {
	want := golden()
	for _, in := range []string{
		" \n\t" + goldenJSON + "\n",
		strings.Replace(goldenJSON, `{"status":"complete",`, `{`, 1)[:len(goldenJSON)-len(`"status":"complete",`)-1] + `,"status":"complete"}`,
		strings.Replace(goldenJSON, `"3DES"`, `"\u0033DES"`, 1),
	} {
		r, err := DecodeJSON([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if r != want {
			t.Errorf("%s: got %+v", in, r)
		}
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{TypeName(citycard.TxLoad), "load"},
		{TypeName(citycard.TxPurchase), "purchase"},
		{TypeName(citycard.TxCompositePurchase), "composite"},
		{TypeName(0x07), "type(07)"},
		{StatusComplete.String(), "complete"},
		{StatusRecovered.String(), "recovered"},
		{StatusGrey.String(), "grey"},
		{Status(5).String(), "status(5)"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

// TestOverdrawnBalance: a balance below zero (a purchase into the card's
// overdraw limit) is four bytes of two's complement in the binary layout
// and a negative number in the JSON form, both ways; a load onto it is
// not an overflow.
func TestOverdrawnBalance(t *testing.T) {
	r := sample(mrand.New(mrand.NewPCG(3, 4)), kinds[0])
	r.BalanceBefore = uint32(0xFFFFFED4) // -300
	if got := r.BalanceBeforeFen(); got != -300 {
		t.Fatalf("BalanceBeforeFen = %d, want -300", got)
	}
	js, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"balance_before":-300`) {
		t.Fatalf("JSON form: %s", js)
	}
	back, err := DecodeJSON(js)
	if err != nil || back.BalanceBefore != r.BalanceBefore {
		t.Fatalf("JSON back: %v %v", back.BalanceBefore, err)
	}
	bin, err := DecodeBinary(r.AppendBinary(nil))
	if err != nil || bin.BalanceBeforeFen() != -300 {
		t.Fatalf("binary back: %d %v", bin.BalanceBeforeFen(), err)
	}
}
