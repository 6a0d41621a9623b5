package fare

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Date is a civil date as days since 1970-01-01. It needs no time zone:
// fares are set in local days.
type Date int32

// The open ends of a held product's validity: a product without dates
// never expires.
const (
	NoStart Date = math.MinInt32 // a ValidFrom without a first day
	Forever Date = math.MaxInt32 // a ValidTo without a last day
)

// DateOf returns the date of year, month (1-12) and day (1-31), without
// checking that the day exists.
func DateOf(y, m, d int) Date {
	// Days from civil, after H. Hinnant's public-domain algorithm.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return Date(era*146097 + doe - 719468)
}

// Civil returns the year, month and day of d.
func (d Date) Civil() (y, m, day int) {
	z := int(d) + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, day
}

// Weekday returns 0 for Monday through 6 for Sunday.
func (d Date) Weekday() int {
	// 1970-01-01 was a Thursday (3).
	w := (int(d) + 3) % 7
	if w < 0 {
		w += 7
	}
	return w
}

// String gives "YYYY-MM-DD".
func (d Date) String() string {
	y, m, day := d.Civil()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, day)
}

// ParseDate parses "YYYY-MM-DD" (the journey's form) or "YYYYMMDD" (the
// GTFS form) and checks that the day exists.
func ParseDate(s string) (Date, error) {
	var ys, ms, ds string
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		ys, ms, ds = s[:4], s[5:7], s[8:]
	case len(s) == 8:
		ys, ms, ds = s[:4], s[4:6], s[6:]
	default:
		return 0, fmt.Errorf("%q is not a date YYYY-MM-DD or YYYYMMDD", s)
	}
	y, e1 := digits(ys)
	m, e2 := digits(ms)
	d, e3 := digits(ds)
	if !e1 || !e2 || !e3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, fmt.Errorf("%q is not a date YYYY-MM-DD or YYYYMMDD", s)
	}
	v := DateOf(y, m, d)
	if y2, m2, d2 := v.Civil(); y2 != y || m2 != m || d2 != d {
		return 0, fmt.Errorf("%q is not a day of the calendar", s)
	}
	return v, nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// Clock is a time as seconds after midnight of the journey's date. As in
// GTFS, it may pass 24:00:00: 25:10:00 is 01:10 the next day. NoTime means
// unknown.
type Clock int32

// NoTime is the Clock of a time that is not known.
const NoTime Clock = -1

const day = 24 * 3600

// clockHoursMax bounds the hours of a Clock: a parking stay may last days,
// not years.
const clockHoursMax = 999

// ParseClock parses "HH:MM:SS" (H:MM:SS also), hours up to 999.
func ParseClock(s string) (Clock, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || len(parts[1]) != 2 || len(parts[2]) != 2 || len(parts[0]) < 1 || len(parts[0]) > 3 {
		return NoTime, fmt.Errorf("%q is not a time HH:MM:SS", s)
	}
	h, ok1 := digits(parts[0])
	m, ok2 := digits(parts[1])
	sec, ok3 := digits(parts[2])
	if !ok1 || !ok2 || !ok3 || m > 59 || sec > 59 || h > clockHoursMax {
		return NoTime, fmt.Errorf("%q is not a time HH:MM:SS", s)
	}
	return Clock(h*3600 + m*60 + sec), nil
}

// String gives "HH:MM:SS", or "" for NoTime.
func (c Clock) String() string {
	if c < 0 {
		return ""
	}
	return fmt.Sprintf("%02d:%02d:%02d", c/3600, c/60%60, c%60)
}

// currencyDecimals gives the minor-unit digits of the ISO 4217 currencies
// that do not use two.
var currencyDecimals = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

func decimalsOf(currency string) int {
	if d, ok := currencyDecimals[currency]; ok {
		return d
	}
	return 2
}

// amountMax bounds any amount: ten million currency units is more than any
// fare, cap or pass.
const amountMax = 10_000_000 * 1000

// parseAmount parses a decimal amount of the feed's currency ("2.50",
// "-1", "0.5") into minor units (fen for CNY). More decimals than the
// currency has are refused rather than rounded.
func parseAmount(s string, decimals int) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	u := strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(u, ".")
	if whole == "" && frac == "" || hasDot && frac == "" {
		return 0, fmt.Errorf("%q is not a decimal amount", s)
	}
	if _, ok := digits(frac); frac != "" && !ok {
		return 0, fmt.Errorf("%q is not a decimal amount", s)
	}
	if len(frac) > decimals {
		return 0, fmt.Errorf("%q has more than %d decimals", s, decimals)
	}
	if len(whole) > 12 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	w, ok := digits(whole)
	if whole == "" {
		w, ok = 0, true
	}
	f := 0
	if frac != "" {
		var okf bool
		f, okf = digits(frac)
		ok = ok && okf
	}
	if !ok {
		return 0, fmt.Errorf("%q is not a decimal amount", s)
	}
	for i := len(frac); i < decimals; i++ {
		f *= 10
	}
	scale := int64(1)
	for range decimals {
		scale *= 10
	}
	v := int64(w)*scale + int64(f)
	if v > amountMax {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// formatAmount writes minor units as a decimal string with the currency's
// decimals: 250 -> "2.50", -100 -> "-1.00".
func formatAmount(v int64, decimals int) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if decimals == 0 {
		return sign + strconv.FormatInt(v, 10)
	}
	scale := int64(1)
	for range decimals {
		scale *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, v/scale, decimals, v%scale)
}

// percentOf returns pct percent of v, rounded half away from zero to the
// minor unit.
func percentOf(v int64, pct int64) int64 {
	if v < 0 {
		return -((-v*pct + 50) / 100)
	}
	return (v*pct + 50) / 100
}

// parseUint parses a non-negative decimal integer up to limit.
func parseUint(s string, limit int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	if n > limit {
		return 0, fmt.Errorf("%s is more than %d", s, limit)
	}
	return n, nil
}
