package apdu

import (
	"bytes"
	"testing"

	"github.com/citycard/citycard"
)

func TestParseCommandCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want Command
	}{
		{"case 1", []byte{0x00, 0xA4, 0x04, 0x00}, Command{CLA: 0, INS: 0xA4, P1: 4, Le: -1}},
		{"case 2", []byte{0x80, 0x5C, 0x00, 0x02, 0x04}, Command{CLA: 0x80, INS: 0x5C, P2: 2, Le: 4}},
		{"case 2, Le 00 means 256", []byte{0x00, 0xB0, 0x95, 0x00, 0x00}, Command{INS: 0xB0, P1: 0x95, Le: 256}},
		{"case 3", []byte{0x84, 0x1E, 0x00, 0x00, 0x04, 1, 2, 3, 4}, Command{CLA: 0x84, INS: 0x1E, Data: []byte{1, 2, 3, 4}, Le: -1}},
		{"case 4", []byte{0x80, 0x50, 0x01, 0x02, 0x02, 9, 8, 0x0F}, Command{CLA: 0x80, INS: 0x50, P1: 1, P2: 2, Data: []byte{9, 8}, Le: 15}},
	} {
		got, err := ParseCommand(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.CLA != tc.want.CLA || got.INS != tc.want.INS || got.P1 != tc.want.P1 || got.P2 != tc.want.P2 || got.Le != tc.want.Le || !bytes.Equal(got.Data, tc.want.Data) {
			t.Fatalf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if tc.want.Le != 256 && !bytes.Equal(got.Encode(), tc.in) {
			t.Fatalf("%s: encodes to % X", tc.name, got.Encode())
		}
	}
	for name, in := range map[string][]byte{
		"short":            {0x00, 0xA4, 0x04},
		"Lc 0":             {0x00, 0xA4, 0x04, 0x00, 0x00, 0x01},
		"Lc over the data": {0x00, 0xA4, 0x04, 0x00, 0x05, 1, 2},
		"Lc under":         {0x00, 0xA4, 0x04, 0x00, 0x01, 1, 2, 3},
	} {
		if _, err := ParseCommand(in); !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("%s: %v, want Invalid", name, err)
		}
	}
}

func TestResponse(t *testing.T) {
	r, err := ParseResponse([]byte{1, 2, 0x94, 0x01})
	if err != nil || r.SW != SWInsufficientFunds || !bytes.Equal(r.Data, []byte{1, 2}) {
		t.Fatalf("%+v %v", r, err)
	}
	if r.SW.String() != "9401 insufficient balance" || SW(0x6F00).String() != "6F00" {
		t.Fatalf("names: %q %q", r.SW, SW(0x6F00))
	}
	if _, err := ParseResponse([]byte{0x90}); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("one byte: %v", err)
	}
	if Hex([]byte{0x80, 0x5C}) != "80 5C" || Hex(nil) != "" {
		t.Fatal("Hex")
	}
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte{0x80, 0x50, 0x01, 0x02, 0x0B, 1, 0, 0, 0, 200, 1, 2, 3, 4, 5, 6, 0x0F})
	f.Add([]byte{0x00, 0xB2, 0x01, 0xC4, 0x17})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		// A command that parses encodes to the same bytes (Le 256 aside,
		// which has two spellings).
		if c.Le != 256 && !bytes.Equal(c.Encode(), b) {
			t.Fatalf("% X parses to %+v, encodes to % X", b, c, c.Encode())
		}
	})
}
