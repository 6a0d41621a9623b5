package citycard

import (
	"encoding/hex"
	"testing"
	"time"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBCDDateTime(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 11, 24, 8, 30, 15, 0, loc)
	d, tm := DateTime(at)
	if d.String() != "20261124" || tm.String() != "083015" {
		t.Fatalf("DateTime = %v %v", d, tm)
	}
	back, err := TimeOf(d, tm, loc)
	if err != nil || !back.Equal(at) {
		t.Errorf("TimeOf = %v, %v; want %v", back, err, at)
	}
	for _, tc := range []struct{ d, t string }{
		{"2026022a", "000000"}, // not BCD
		{"20260229", "000000"}, // 2026 is not a leap year
		{"20261124", "240000"}, // no hour 24
	} {
		var bd BCDDate
		var bt BCDTime
		copy(bd[:], mustHex(t, tc.d))
		copy(bt[:], mustHex(t, tc.t))
		if _, err := TimeOf(bd, bt, loc); !IsKind(err, Invalid) {
			t.Errorf("TimeOf(%s %s): err = %v, want kind Invalid", tc.d, tc.t, err)
		}
	}
}
