package record

import (
	"math"
	"strconv"
	"time"

	"github.com/citycard/citycard"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool { return s <= StatusGrey }

// String gives the status's name in the JSON form: complete, recovered,
// grey.
func (s Status) String() string {
	switch s {
	case StatusComplete:
		return "complete"
	case StatusRecovered:
		return "recovered"
	case StatusGrey:
		return "grey"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Validate checks r against the rules of the layout (see the package doc,
// "Rules"): the rules every decoder applies, so what passes Validate
// encodes and decodes again unchanged. It checks the fields in layout
// order and reports the first one broken. Kind Invalid, with a
// *FieldError in the chain naming the field and its binary offset.
//
// Validate does not verify the MACs: that is the Verifier's work.
func (r *Record) Validate() error {
	if err := r.validate(); err != nil {
		return citycard.Wrap("record.Record.Validate", citycard.Invalid, err)
	}
	return nil
}

func (r *Record) validate() *FieldError {
	if !r.Status.Valid() {
		return fieldErr(fStatus, "%d is not 0 (complete), 1 (recovered) or 2 (grey)", r.Status)
	}
	if !validType(r.Type) {
		return fieldErr(fType, "%02X is not 02 (load), 06 (purchase), 09 (composite purchase) or A0 (application)", r.Type)
	}
	if r.Issuer == (citycard.IssuerCode{}) {
		return fieldErr(fIssuer, "issuer code is zero")
	}
	if [8]byte(r.ASN[2:]) == ([8]byte{}) {
		return fieldErr(fASN, "%v: the rightmost 8 bytes, the card's diversification input, are zero", r.ASN)
	}
	if !r.Alg.Valid() {
		return fieldErr(fAlg, "%02X is not 00 (3DES) or 04 (SM4)", byte(r.Alg))
	}
	if r.Type == citycard.TxLoad && r.BalanceBeforeFen()+int64(r.Amount) > math.MaxInt32 {
		return fieldErr(fAmount, "load of %d onto a balance of %d overflows the card's 4-byte balance", r.Amount, r.BalanceBefore)
	}
	if r.TerminalID == (citycard.TerminalID{}) {
		return fieldErr(fTerminalID, "terminal ID is zero")
	}
	if r.PSAMID == (citycard.PSAMID{}) {
		return fieldErr(fPSAMID, "PSAM ID is zero")
	}
	if !validMoment(r.Date, r.Time) {
		if !validDate(r.Date) {
			return fieldErr(fDate, "%v is not a date", r.Date)
		}
		return fieldErr(fTime, "%v is not a time", r.Time)
	}
	if r.Type == citycard.TxLoad {
		// A load happens at a kiosk or a counter: there is no leg to begin.
		switch {
		case r.EntryLine != 0:
			return fieldErr(fEntryLine, "%d on a load, want 0", r.EntryLine)
		case r.EntryStation != 0:
			return fieldErr(fEntryStation, "%d on a load, want 0", r.EntryStation)
		case r.EntryDate != (citycard.BCDDate{}):
			return fieldErr(fEntryDate, "%v on a load, want 00000000", r.EntryDate)
		case r.EntryTime != (citycard.BCDTime{}):
			return fieldErr(fEntryTime, "%v on a load, want 000000", r.EntryTime)
		}
	}
	// The entry date and time are both zero (no entry) or a real moment.
	zeroDate, zeroTime := r.EntryDate == (citycard.BCDDate{}), r.EntryTime == (citycard.BCDTime{})
	switch {
	case zeroDate && !zeroTime:
		return fieldErr(fEntryDate, "zero while entry_time is %v", r.EntryTime)
	case !zeroDate && !validMoment(r.EntryDate, r.EntryTime):
		if !validDate(r.EntryDate) {
			return fieldErr(fEntryDate, "%v is not a date", r.EntryDate)
		}
		return fieldErr(fEntryTime, "%v is not a time", r.EntryTime)
	}
	// A grey record's TAC was never read: the terminal writes zero. The
	// converse is not a rule: a genuine TAC is zero once in 2^32 records,
	// about once a year at 20 million records a day, and the TAC check,
	// not the decoder, decides whether it is genuine.
	if r.Status == StatusGrey && r.TAC != ([4]byte{}) {
		return fieldErr(fTAC, "%X on a grey record, want 00000000", r.TAC[:])
	}
	if r.Type == citycard.TxApplication {
		return r.validateApplication()
	}
	return nil
}

func validType(t byte) bool {
	return t == citycard.TxLoad || t == citycard.TxPurchase || t == citycard.TxCompositePurchase || t == citycard.TxApplication
}

// validMoment reports whether d and t are a real date and time, as
// keys.Time decides; one call checks both on the path of valid records.
func validMoment(d citycard.BCDDate, t citycard.BCDTime) bool {
	_, err := citycard.TimeOf(d, t, time.UTC)
	return err == nil
}

// validDate reports whether d is a real day: BCD digits and a calendar
// date, as keys.Time decides.
func validDate(d citycard.BCDDate) bool {
	_, err := citycard.TimeOf(d, citycard.BCDTime{}, time.UTC)
	return err == nil
}

// validTime reports whether t is a real time of day (00:00:00 to
// 23:59:59), as keys.Time decides.
func validTime(t citycard.BCDTime) bool {
	_, err := citycard.TimeOf(citycard.BCDDate{0x20, 0x00, 0x01, 0x01}, t, time.UTC)
	return err == nil
}
