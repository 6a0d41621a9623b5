package card_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The layouts, byte for byte: a change here is a change of the card file
// every terminal reads.
func TestTransitLayouts(t *testing.T) {
	trip := card.JourneyRecord{
		Status: card.LegOpen, Network: 0x0102, Line: 0x03040506, Station: 0x0708090A,
		EntryDate: testDate, EntryTime: testTime, Terminal: testTerminal, ProvisionalFen: 0x0B0C0D0E,
		JourneyDate: citycard.BCDDate{0x20, 0x25, 0x06, 0x01}, JourneyTime: citycard.BCDTime{0x08, 0x00, 0x00},
		JourneyLegs: 2, JourneySpendFen: 0x0F101112,
		PrevNetwork: 0x1314, PrevLine: 0x15161718, PrevFromStation: 0x191A1B1C, PrevToStation: 0x1D1E1F20,
		PrevProduct: 0x2122, PrevStartDate: citycard.BCDDate{0x20, 0x25, 0x05, 0x31}, PrevStartTime: citycard.BCDTime{0x23, 0x40, 0x01},
		PrevEndDate: citycard.BCDDate{0x20, 0x25, 0x05, 0x31}, PrevEndTime: citycard.BCDTime{0x23, 0x59, 0x58},
		PrevFen: 0x23242526,
	}
	noPrev := card.JourneyRecord{Status: card.LegClosed, Network: 1, Line: 1, Station: 101, EntryDate: testDate, EntryTime: testTime,
		Terminal: testTerminal, JourneyDate: testDate, JourneyTime: testTime, JourneyLegs: 1, JourneySpendFen: 200}
	spend := card.Spend{Day: testDate, DaySpendFen: 400, DayRides: 2, Month: card.BCDMonth{0x20, 0x25, 0x06}, MonthSpendFen: 9000, MonthRides: 45}
	prod := card.Product{Record: 0x13, ProductID: 0x0102, Type: card.ProductPass, Network: 0x0304,
		ValidFrom: citycard.BCDDate{0x20, 0x25, 0x06, 0x01}, ValidTo: citycard.BCDDate{0x20, 0x25, 0x06, 0x30},
		RidesLeft: 0, DailyLimit: 4, RidesToday: 3, RidesTodayDate: testDate}
	tests := []struct {
		rec  card.TransitRecord
		want string
	}{
		{trip, "01 01 0102 03040506 0708090A 20250601 083000 000000000001 0B0C0D0E 20250601 080000 02 0F101112" +
			" 1314 15161718 191A1B1C 1D1E1F20 2122 20250531 234001 20250531 235958 23242526"},
		{noPrev, "01 00 0001 00000001 00000065 20250601 083000 000000000001 00000000 20250601 083000 01 000000C8" +
			" 0000 00000000 00000000 00000000 0000 00000000 000000 00000000 000000 00000000"},
		{spend, "02 20250601 00000190 0002 202506 00002328 002D"},
		{prod, "13 0102 01 0304 20250601 20250630 0000 04 03 20250601"},
	}
	for _, tt := range tests {
		want := unhex(t, tt.want)
		got := mustMarshal(t, tt.rec)
		if string(got) != string(want) {
			t.Errorf("%T marshals to\n %X\nwant\n %X", tt.rec, got, want)
		}
		if n, ok := card.RecordLen(tt.rec.RecordID()); !ok || n != len(got) {
			t.Errorf("RecordLen(%02X) = %d, %v; record is %d bytes", tt.rec.RecordID(), n, ok, len(got))
		}
		back, err := card.ParseTransitRecord(got)
		if err != nil || back != tt.rec {
			t.Errorf("ParseTransitRecord(%X) = %+v, %v; want %+v", got, back, err, tt.rec)
		}
	}
	if _, ok := card.RecordLen(0x03); ok {
		t.Errorf("RecordLen(03) ok")
	}
}

// Unmarshal is strict and names the field it refuses.
func TestTransitUnmarshalStrict(t *testing.T) {
	good := map[string][]byte{
		"journey": unhex(t, "01 01 0102 03040506 0708090A 20250601 083000 000000000001 00000000 00000000 000000 00 00000000"+
			" 0000 00000000 00000000 00000000 0000 00000000 000000 00000000 000000 00000000"),
		"journey with previous leg": unhex(t, "01 01 0102 03040506 0708090A 20250601 083000 000000000001 00000000 00000000 000000 00 00000000"+
			" 0001 00000001 000003E9 000003E9 0000 20250601 080000 20250601 081500 000000C8"),
		"spend":   unhex(t, "02 00000000 00000000 0000 000000 00000000 0000"),
		"product": unhex(t, "10 0001 02 0001 20250101 20251231 000A 00 00 00000000"),
	}
	set := func(b []byte, off int, v ...byte) []byte {
		c := append([]byte(nil), b...)
		copy(c[off:], v)
		return c
	}
	tests := []struct {
		name, rec string
		b         []byte
		field     string
	}{
		{"journey short", "journey", good["journey"][:card.JourneyRecordLen-1], "length"},
		{"journey of the old 41 bytes", "journey", good["journey"][:41], "length"},
		{"journey long", "journey", append(append([]byte(nil), good["journey"]...), 0), "length"},
		{"journey wrong id", "journey", set(good["journey"], 0, 0x02), "identifier"},
		{"journey status 2", "journey", set(good["journey"], 1, 0x02), "status"},
		{"journey entry month 13", "journey", set(good["journey"], 14, 0x13), "entry date/time"},
		{"journey entry hour 24", "journey", set(good["journey"], 16, 0x24), "entry date/time"},
		{"journey entry not BCD", "journey", set(good["journey"], 15, 0x0A), "entry date/time"},
		{"open journey without entry", "journey", set(good["journey"], 12, 0, 0, 0, 0, 0, 0, 0), "entry date"},
		{"journey journey time without date", "journey", set(good["journey"], 33, 0x08), "journey date/time"},
		{"journey previous end day 32", "journey", set(good["journey with previous leg"], 64, 0x20, 0x25, 0x06, 0x32), "previous end date/time"},
		{"journey previous end minute 60", "journey", set(good["journey with previous leg"], 69, 0x60), "previous end date/time"},
		{"journey previous end time without date", "journey", set(good["journey"], 68, 0x08), "previous end date/time"},
		{"journey previous start month 13", "journey", set(good["journey with previous leg"], 59, 0x13), "previous start date/time"},
		{"journey previous start after its end", "journey", set(good["journey with previous leg"], 61, 0x09), "previous start date/time"},
		{"journey previous start without end", "journey", set(good["journey"], 57, 0x20, 0x25, 0x06, 0x01), "previous start date"},
		{"journey previous network without end", "journey", set(good["journey"], 41, 0x00, 0x02), "previous network"},
		{"journey previous line without end", "journey", set(good["journey"], 46, 0x01), "previous line"},
		{"journey previous from station without end", "journey", set(good["journey"], 50, 0x01), "previous from station"},
		{"journey previous to station without end", "journey", set(good["journey"], 54, 0x01), "previous to station"},
		{"journey previous product without end", "journey", set(good["journey"], 56, 0x65), "previous product"},
		{"journey previous paid without end", "journey", set(good["journey"], 74, 0x01), "previous paid"},
		{"spend short", "spend", good["spend"][:19], "length"},
		{"spend wrong id", "spend", set(good["spend"], 0, 0x01), "identifier"},
		{"spend day 20250230", "spend", set(good["spend"], 1, 0x20, 0x25, 0x02, 0x30), "day"},
		{"spend month 00", "spend", set(good["spend"], 11, 0x20, 0x25, 0x00), "month"},
		{"product wrong id", "product", set(good["product"], 0, 0x18), "identifier"},
		{"product short", "product", good["product"][:21], "length"},
		{"product kind 3", "product", set(good["product"], 3, 0x03), "kind"},
		{"product without start", "product", set(good["product"], 6, 0, 0, 0, 0), "valid from"},
		{"product ends before it starts", "product", set(good["product"], 10, 0x20, 0x24, 0x12, 0x31), "valid to"},
		{"product rides over limit", "product", set(good["product"], 16, 0x02, 0x03), "rides today"},
		{"product rides date bad", "product", set(good["product"], 18, 0x20, 0x25, 0x99, 0x01), "rides-today date"},
	}
	for _, tt := range tests {
		var err error
		switch tt.rec {
		case "journey":
			v := card.JourneyRecord{Line: 77}
			err = v.UnmarshalBinary(tt.b)
			if v.Line != 77 {
				t.Errorf("%s: a failed UnmarshalBinary changed the trip", tt.name)
			}
		case "spend":
			var v card.Spend
			err = v.UnmarshalBinary(tt.b)
		case "product":
			var v card.Product
			err = v.UnmarshalBinary(tt.b)
		}
		if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "field "+tt.field+":") {
			t.Errorf("%s: error %v, want kind Invalid naming field %q", tt.name, err, tt.field)
		}
	}
	for name, b := range good {
		if _, err := card.ParseTransitRecord(b); err != nil {
			t.Errorf("good %s: %v", name, err)
		}
	}
	if _, err := card.ParseTransitRecord(nil); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("ParseTransitRecord(nil): %v", err)
	}
	if _, err := card.ParseTransitRecord([]byte{0x05}); err == nil || !strings.Contains(err.Error(), "field identifier") {
		t.Errorf("ParseTransitRecord(05): %v", err)
	}
	// Marshal refuses what Unmarshal would.
	if _, err := (card.JourneyRecord{Status: 5}).MarshalBinary(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("Marshal of a trip with status 5: %v", err)
	}
	if _, err := (card.JourneyRecord{PrevFen: 200}).MarshalBinary(); err == nil || !strings.Contains(err.Error(), "field previous paid:") {
		t.Errorf("Marshal of a trip paying for a previous leg it does not have: %v", err)
	}
	if !(card.JourneyRecord{PrevEndDate: testDate}).HasPrev() || (card.JourneyRecord{PrevNetwork: 1}).HasPrev() {
		t.Errorf("HasPrev does not follow the previous leg's end date")
	}
}

func TestLogEntryAndBasicData(t *testing.T) {
	e := card.LogEntry{Counter: 0x0102, OverdrawFen: 0x030405, AmountFen: 0x06070809, Type: citycard.TxCompositePurchase,
		Terminal: testTerminal, Date: testDate, Time: testTime}
	b, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "0102 030405 06070809 09 000000000001 20250601 083000"); string(b) != string(want) {
		t.Errorf("log entry %X, want %X", b, want)
	}
	if back, err := card.ParseLogEntry(b); err != nil || back != e {
		t.Errorf("ParseLogEntry = %+v, %v", back, err)
	}
	if _, err := card.ParseLogEntry(b[:22]); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("short log entry: %v", err)
	}
	b[9] = 0x07
	if _, err := card.ParseLogEntry(b); err == nil || !strings.Contains(err.Error(), "field type") {
		t.Errorf("log entry of type 07: %v", err)
	}
	if _, err := (card.LogEntry{OverdrawFen: 1 << 24}).MarshalBinary(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("overdraw of 4 bytes: %v", err)
	}

	bd := unhex(t, "3302000100000001 01 01 00003302000012345678 20250101 20341231 01 00 02 00")
	d, err := card.ParseBasicData(bd)
	if err != nil || d.Profile != card.ProfileMOHURD || d.ASN != testASN(card.ProfileMOHURD) {
		t.Errorf("ParseBasicData = %+v, %v", d, err)
	}
	for name, edit := range map[string]func([]byte){
		"profile":    func(b []byte) { b[30] = 4 },
		"ASN":        func(b []byte) { b[30] = 3 }, // an 8-byte ASN on a mot card
		"start date": func(b []byte) { b[22] = 0x1A },
	} {
		c := append([]byte(nil), bd...)
		edit(c)
		if _, err := card.ParseBasicData(c); err == nil || !strings.Contains(err.Error(), "field "+name) {
			t.Errorf("basic data with a bad %s: %v", name, err)
		}
	}
	if _, err := card.ParseBasicData(bd[:31]); err == nil || !strings.Contains(err.Error(), "field length") {
		t.Errorf("short basic data: %v", err)
	}
}
