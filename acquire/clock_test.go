package acquire

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// TestRecordClock holds recordClock.at to citycard.TimeOf, times and
// errors, over valid and invalid dates and times, with the remembered
// date changing and coming back.
func TestRecordClock(t *testing.T) {
	cases := []struct {
		d citycard.BCDDate
		t citycard.BCDTime
	}{
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x08, 0x30, 0x00}},
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x23, 0x59, 0x59}},
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x00, 0x00, 0x00}},
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x24, 0x00, 0x00}}, // no such time
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x12, 0x60, 0x00}},
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x12, 0x00, 0x60}},
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x1A, 0x00, 0x00}}, // not BCD
		{citycard.BCDDate{0x20, 0x24, 0x02, 0x29}, citycard.BCDTime{0x10, 0x00, 0x00}}, // a leap day
		{citycard.BCDDate{0x20, 0x25, 0x02, 0x29}, citycard.BCDTime{0x10, 0x00, 0x00}}, // none that year
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x02}, citycard.BCDTime{0x09, 0x15, 0x07}}, // the first date again
		{citycard.BCDDate{0x20, 0x26, 0x13, 0x01}, citycard.BCDTime{0x10, 0x00, 0x00}}, // month 13
		{citycard.BCDDate{0x20, 0x26, 0x04, 0x31}, citycard.BCDTime{0x10, 0x00, 0x00}}, // 31 April
		{citycard.BCDDate{0x20, 0x26, 0x0C, 0x01}, citycard.BCDTime{0x10, 0x00, 0x00}}, // not BCD
		{citycard.BCDDate{0x20, 0x26, 0x12, 0x31}, citycard.BCDTime{0x23, 0x59, 0x59}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var c struct {
			d citycard.BCDDate
			t citycard.BCDTime
		}
		// Mostly valid BCD around a few days, some of every byte.
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(400))
		c.d, _ = citycard.DateTime(day)
		c.t = citycard.BCDTime{bcd(rng.IntN(25)), bcd(rng.IntN(61)), bcd(rng.IntN(61))}
		if rng.IntN(50) == 0 {
			c.d[rng.IntN(4)] = byte(rng.IntN(256))
		}
		if rng.IntN(50) == 0 {
			c.t[rng.IntN(3)] = byte(rng.IntN(256))
		}
		cases = append(cases, c)
	}
	var clk recordClock
	for _, c := range cases {
		want, wantErr := citycard.TimeOf(c.d, c.t, citycard.ChinaTime)
		got, err := clk.at(c.d, c.t)
		if !got.Equal(want) || got.Location() != want.Location() || (err == nil) != (wantErr == nil) {
			t.Fatalf("at(%X, %X) = %v, %v; TimeOf: %v, %v", c.d, c.t, got, err, want, wantErr)
		}
		if err != nil && citycard.KindOf(err) != citycard.KindOf(wantErr) {
			t.Fatalf("at(%X, %X): kind %v, TimeOf's %v", c.d, c.t, citycard.KindOf(err), citycard.KindOf(wantErr))
		}
	}
}

func bcd(n int) byte { return byte(n/10<<4 | n%10) }
