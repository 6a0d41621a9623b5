package citycard

import (
	"fmt"
	"time"
)

// Dates, times and transaction types as cards, PSAMs, terminals and
// records write them: the card, terminal, record, acquire, fare and keys
// packages all speak them, so they live here, with the identifiers.

// Transaction types as the card, the PSAM and records write them.
const (
	TxLoad              byte = 0x02 // load (圈存) into the e-purse
	TxPurchase          byte = 0x06 // purchase from the e-purse
	TxCompositePurchase byte = 0x09 // composite purchase (复合消费), tap-on/tap-off
	// TxApplication is a non-financial record (非金融记录): the stamp an
	// application gate wrote in the card's entitlement file (a check-in,
	// an admission, a loan). It moves no e-purse counter and no money; our
	// own choice of value, outside the e-purse's types.
	TxApplication byte = 0xA0
)

// BCDDate is a date as YYYYMMDD in 4 BCD bytes.
type BCDDate [4]byte

// BCDTime is a time of day as HHMMSS in 3 BCD bytes.
type BCDTime [3]byte

// DateTime splits t into its BCD date and time, in t's location.
func DateTime(t time.Time) (BCDDate, BCDTime) {
	var d BCDDate
	var tm BCDTime
	y := t.Year()
	d[0], d[1] = bcd(y/100), bcd(y%100)
	d[2], d[3] = bcd(int(t.Month())), bcd(t.Day())
	tm[0], tm[1], tm[2] = bcd(t.Hour()), bcd(t.Minute()), bcd(t.Second())
	return d, tm
}

func bcd(v int) byte { return byte(v/10<<4 | v%10) }

func unbcd(b byte) (int, bool) {
	hi, lo := int(b>>4), int(b&0x0F)
	return hi*10 + lo, hi < 10 && lo < 10
}

// TimeOf joins a BCD date and time into a time in loc. Kind Invalid when a
// digit is not BCD or the date or time does not exist.
func TimeOf(d BCDDate, tm BCDTime, loc *time.Location) (time.Time, error) {
	var v [7]int
	raw := [7]byte{d[0], d[1], d[2], d[3], tm[0], tm[1], tm[2]}
	for i, b := range raw {
		n, ok := unbcd(b)
		if !ok {
			return time.Time{}, E("citycard.TimeOf", Invalid, "date/time %X: byte %d (%02X) is not BCD", raw, i, b)
		}
		v[i] = n
	}
	y, mo, dd, h, mi, s := v[0]*100+v[1], v[2], v[3], v[4], v[5], v[6]
	t := time.Date(y, time.Month(mo), dd, h, mi, s, 0, loc)
	if t.Year() != y || int(t.Month()) != mo || t.Day() != dd || t.Hour() != h || t.Minute() != mi || t.Second() != s {
		return time.Time{}, E("citycard.TimeOf", Invalid, "date/time %X does not exist", raw)
	}
	return t, nil
}

func (d BCDDate) String() string { return fmt.Sprintf("%X", d[:]) }
func (t BCDTime) String() string { return fmt.Sprintf("%X", t[:]) }
