package acquire

import (
	"time"

	"github.com/citycard/citycard"
)

// recordClock reads records' BCD dates and times as citycard.TimeOf does
// in citycard.ChinaTime, keeping the last date's midnight: a batch's
// records almost all share a day, and TimeOf's calendar checks were a
// fifteenth of the sequencer's time (bench ingest's profile). China
// keeps one offset all year (ChinaTime is a fixed zone), so a valid
// date's midnight plus a valid time of day is the time TimeOf gives;
// anything else (a digit not BCD, a day that does not exist, a time past
// 23:59:59) is TimeOf's to answer, error included.
type recordClock struct {
	date     citycard.BCDDate
	midnight time.Time
	known    bool // date's midnight is known
}

// at is citycard.TimeOf(d, t, citycard.ChinaTime).
func (c *recordClock) at(d citycard.BCDDate, t citycard.BCDTime) (time.Time, error) {
	h, okH := bcdByte(t[0])
	m, okM := bcdByte(t[1])
	s, okS := bcdByte(t[2])
	if !okH || !okM || !okS || h > 23 || m > 59 || s > 59 {
		return citycard.TimeOf(d, t, citycard.ChinaTime)
	}
	if !c.known || d != c.date {
		mid, err := citycard.TimeOf(d, citycard.BCDTime{}, citycard.ChinaTime)
		if err != nil {
			return time.Time{}, err
		}
		c.date, c.midnight, c.known = d, mid, true
	}
	return c.midnight.Add(time.Duration(h*3600+m*60+s) * time.Second), nil
}

// bcdByte is the two-digit number b holds in BCD; ok is false when a
// digit is not one.
func bcdByte(b byte) (n int, ok bool) {
	hi, lo := int(b>>4), int(b&0x0F)
	return hi*10 + lo, hi < 10 && lo < 10
}
