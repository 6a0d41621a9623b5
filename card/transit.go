package card

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/citycard/citycard"
)

// The transit record file (SFI 17h) holds records addressed by their
// identifier, the record's first byte. Each identifier has one fixed
// length; UPDATE CAPP DATA CACHE refuses any other (6700).
//
// All integers are big-endian; dates are BCD YYYYMMDD, times BCD HHMMSS,
// months BCD YYYYMM. A date (with its time) of all zeros means "none";
// any other value must be a real date and time.
const (
	RecordJourney      byte = 0x01 // the trip: the last entry, for tap-off and transfers
	RecordSpend        byte = 0x02 // the spend: day and month totals, for caps
	RecordProductFirst byte = 0x10 // the first product slot
	RecordProductLast  byte = 0x17 // the last product slot (8 products)

	JourneyRecordLen = 75 // length of record 01 in bytes
	SpendLen         = 20 // length of record 02 in bytes
	ProductLen       = 22 // length of records 10h-17h in bytes
)

// RecordLen returns the fixed length of the transit record with
// identifier id, and false for an identifier the file does not hold.
func RecordLen(id byte) (int, bool) {
	switch {
	case id == RecordJourney:
		return JourneyRecordLen, true
	case id == RecordSpend:
		return SpendLen, true
	case id >= RecordProductFirst && id <= RecordProductLast:
		return ProductLen, true
	}
	return 0, false
}

// TransitRecord is one record of the transit record file: a JourneyRecord, a Spend
// or a Product. MarshalBinary gives its fixed-length bytes, identifier
// first, or kind Invalid naming the field that cannot be written.
type TransitRecord interface {
	RecordID() byte
	encoding.BinaryMarshaler
}

// ParseTransitRecord decodes one transit record, dispatching on its first
// byte, the identifier. It is as strict as the type's UnmarshalBinary:
// kind Invalid, naming the field, for an unknown identifier, a wrong
// length or a field out of range.
func ParseTransitRecord(b []byte) (TransitRecord, error) {
	if len(b) == 0 {
		return nil, citycard.E("card.ParseTransitRecord", citycard.Invalid, "transit record: empty")
	}
	switch id := b[0]; {
	case id == RecordJourney:
		var t JourneyRecord
		err := t.UnmarshalBinary(b)
		return t, err
	case id == RecordSpend:
		var s Spend
		err := s.UnmarshalBinary(b)
		return s, err
	case id >= RecordProductFirst && id <= RecordProductLast:
		var p Product
		err := p.UnmarshalBinary(b)
		return p, err
	default:
		return nil, citycard.E("card.ParseTransitRecord", citycard.Invalid, "transit record: field identifier: %02X is not 01, 02 or 10-17", id)
	}
}

// LegStatus says whether a trip's last leg is still open (tapped on, not
// yet off).
type LegStatus uint8

// The trip statuses.
const (
	LegClosed LegStatus = 0 // the last leg was tapped off (or there was none)
	LegOpen   LegStatus = 1 // tapped on, waiting for the tap-off
)

// String gives "closed" or "open".
func (s LegStatus) String() string {
	switch s {
	case LegClosed:
		return "closed"
	case LegOpen:
		return "open"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// JourneyRecord is record 01 of the transit record file: where and when the last
// leg began, what was provisionally charged for it, the journey it
// belongs to, and the previous leg, so that a tap-off can price the leg
// (with a transfer from the leg before it) and a tap-on or a boarding can
// grant a transfer. Layout (75 bytes):
//
//	id 01 (1) | status (1) | network (2) | line (4) | station (4) |
//	entry date (4) | entry time (3) | terminal ID (6) | provisional amount (4) |
//	journey start date (4) | journey start time (3) | legs in journey (1) |
//	journey spend (4) |
//	previous leg: network (2) | line (4) | from station (4) | to station (4) |
//	product (2) | start date (4) | start time (3) | end date (4) | end time (3) |
//	paid (4)
//
// Offsets: status 1, network 2, line 4, station 8, entry date 12, entry
// time 16, terminal 19, provisional 25, journey date 29, journey time 33,
// legs 36, journey spend 37, previous network 41, line 43, from station
// 47, to station 51, product 55, start date 57, start time 61, end date
// 64, end time 68, paid 71. The previous leg's start is what transfer
// windows counted from a leg's departure (GTFS duration_limit_type 0 and
// 1) need; its end, those counted from its arrival.
//
// The entry fields (network to terminal) are the trip's last tap: the
// tap-on of the leg in progress on an open trip, the boarding or the
// tap-off on a closed one.
//
// The previous leg is the last leg that is over (ended and paid) as the
// next tap sees it: on an open trip, the leg before the one in progress;
// on a closed trip, its last leg itself (a flat boarding, or the leg from
// its tap-on station to its tap-off station). A tap-off prices its leg
// together with the previous leg, so that the fare's transfer rules
// apply although the tap-on overwrote the entry of the leg before. An
// end date and time of all zeros means no previous leg, and then every
// previous-leg field is zero. For a flat boarding the end is the tap,
// and both stations are its stop.
type JourneyRecord struct {
	Status          LegStatus
	Network         uint16 // the operator network of the entry
	Line            uint32
	Station         uint32
	EntryDate       citycard.BCDDate
	EntryTime       citycard.BCDTime
	Terminal        citycard.TerminalID // the terminal of the tap-on
	ProvisionalFen  uint32              // debited at tap-on (0 or the maximum fare)
	JourneyDate     citycard.BCDDate    // when the journey's first leg began
	JourneyTime     citycard.BCDTime
	JourneyLegs     uint8  // legs in the journey so far, this one included
	JourneySpendFen uint32 // paid for the journey so far

	PrevNetwork     uint16           // the previous leg's network
	PrevLine        uint32           // its line (route)
	PrevFromStation uint32           // where it began: its tap-on, or a boarding's stop
	PrevToStation   uint32           // where it ended: its tap-off, or a boarding's stop
	PrevProduct     uint16           // the fare product it used; 0 = stored value
	PrevStartDate   citycard.BCDDate // when it began (its tap-on; a boarding: its tap); zero = unknown
	PrevStartTime   citycard.BCDTime
	PrevEndDate     citycard.BCDDate // when it ended (a boarding: its tap); zero = no previous leg
	PrevEndTime     citycard.BCDTime
	PrevFen         uint32 // what it paid in all (a tap-on's provisional amount included)
}

// HasPrev reports whether the journey record holds a previous leg.
func (t JourneyRecord) HasPrev() bool {
	return t.PrevEndDate != (citycard.BCDDate{}) || t.PrevEndTime != (citycard.BCDTime{})
}

// RecordID returns RecordJourney.
func (JourneyRecord) RecordID() byte { return RecordJourney }

// Validate checks every field: a known status, dates and times real or all
// zero, an entry date on an open trip, and no previous-leg field set
// without the previous leg's end. Kind Invalid naming the field.
func (t JourneyRecord) Validate() error {
	const op = "card.JourneyRecord.Validate"
	if t.Status != LegClosed && t.Status != LegOpen {
		return fieldErr(op, "journey", "status", "%d is not 0 (closed) or 1 (open)", t.Status)
	}
	if err := checkDateTime(op, "journey", "entry date/time", t.EntryDate, t.EntryTime); err != nil {
		return err
	}
	if t.Status == LegOpen && t.EntryDate == (citycard.BCDDate{}) {
		return fieldErr(op, "journey", "entry date", "an open trip needs its entry date")
	}
	if err := checkDateTime(op, "journey", "journey date/time", t.JourneyDate, t.JourneyTime); err != nil {
		return err
	}
	if err := checkDateTime(op, "journey", "previous end date/time", t.PrevEndDate, t.PrevEndTime); err != nil {
		return err
	}
	if err := checkDateTime(op, "journey", "previous start date/time", t.PrevStartDate, t.PrevStartTime); err != nil {
		return err
	}
	if start := t.PrevStartDate.String() + t.PrevStartTime.String(); t.HasPrev() && t.PrevStartDate != (citycard.BCDDate{}) && start > t.PrevEndDate.String()+t.PrevEndTime.String() {
		return fieldErr(op, "journey", "previous start date/time", "%s is after the previous leg's end", start)
	}
	if !t.HasPrev() {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"previous network", t.PrevNetwork != 0},
			{"previous line", t.PrevLine != 0},
			{"previous from station", t.PrevFromStation != 0},
			{"previous to station", t.PrevToStation != 0},
			{"previous product", t.PrevProduct != 0},
			{"previous start date", t.PrevStartDate != (citycard.BCDDate{}) || t.PrevStartTime != (citycard.BCDTime{})},
			{"previous paid", t.PrevFen != 0},
		} {
			if f.set {
				return fieldErr(op, "journey", f.name, "set on a trip with no previous leg (end date/time zero)")
			}
		}
	}
	return nil
}

// MarshalBinary returns the 68-byte record. Kind Invalid as Validate.
func (t JourneyRecord) MarshalBinary() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, JourneyRecordLen)
	b = append(b, RecordJourney, byte(t.Status))
	b = binary.BigEndian.AppendUint16(b, t.Network)
	b = binary.BigEndian.AppendUint32(b, t.Line)
	b = binary.BigEndian.AppendUint32(b, t.Station)
	b = append(b, t.EntryDate[:]...)
	b = append(b, t.EntryTime[:]...)
	b = append(b, t.Terminal[:]...)
	b = binary.BigEndian.AppendUint32(b, t.ProvisionalFen)
	b = append(b, t.JourneyDate[:]...)
	b = append(b, t.JourneyTime[:]...)
	b = append(b, t.JourneyLegs)
	b = binary.BigEndian.AppendUint32(b, t.JourneySpendFen)
	b = binary.BigEndian.AppendUint16(b, t.PrevNetwork)
	b = binary.BigEndian.AppendUint32(b, t.PrevLine)
	b = binary.BigEndian.AppendUint32(b, t.PrevFromStation)
	b = binary.BigEndian.AppendUint32(b, t.PrevToStation)
	b = binary.BigEndian.AppendUint16(b, t.PrevProduct)
	b = append(b, t.PrevStartDate[:]...)
	b = append(b, t.PrevStartTime[:]...)
	b = append(b, t.PrevEndDate[:]...)
	b = append(b, t.PrevEndTime[:]...)
	b = binary.BigEndian.AppendUint32(b, t.PrevFen)
	assertLen(b, JourneyRecordLen)
	return b, nil
}

// UnmarshalBinary decodes a 68-byte record 01. Kind Invalid, naming the
// field, for a wrong identifier or length or any field Validate refuses;
// t is unchanged on error.
func (t *JourneyRecord) UnmarshalBinary(b []byte) error {
	const op = "card.JourneyRecord.UnmarshalBinary"
	if err := checkHeader(op, "journey", b, RecordJourney, JourneyRecordLen); err != nil {
		return err
	}
	r := fields{b: b[1:]}
	var v JourneyRecord
	v.Status = LegStatus(r.u8())
	v.Network = r.u16()
	v.Line = r.u32()
	v.Station = r.u32()
	r.copy(v.EntryDate[:])
	r.copy(v.EntryTime[:])
	r.copy(v.Terminal[:])
	v.ProvisionalFen = r.u32()
	r.copy(v.JourneyDate[:])
	r.copy(v.JourneyTime[:])
	v.JourneyLegs = r.u8()
	v.JourneySpendFen = r.u32()
	v.PrevNetwork = r.u16()
	v.PrevLine = r.u32()
	v.PrevFromStation = r.u32()
	v.PrevToStation = r.u32()
	v.PrevProduct = r.u16()
	r.copy(v.PrevStartDate[:])
	r.copy(v.PrevStartTime[:])
	r.copy(v.PrevEndDate[:])
	r.copy(v.PrevEndTime[:])
	v.PrevFen = r.u32()
	if err := v.Validate(); err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	*t = v
	return nil
}

// BCDMonth is a month as YYYYMM in 3 BCD bytes.
type BCDMonth [3]byte

// String gives the month as its 6 digits, "202506".
func (m BCDMonth) String() string { return fmt.Sprintf("%X", m[:]) }

// Spend is record 02 of the transit record file: what the rider paid and
// rode on one day and in one month, for daily and monthly caps and for
// discounts by monthly spend. Layout (20 bytes):
//
//	id 02 (1) | day (4, BCD) | day spend (4) | day rides (2) |
//	month (3, BCD YYYYMM) | month spend (4) | month rides (2)
type Spend struct {
	Day           citycard.BCDDate // the day DaySpendFen counts; zero = none yet
	DaySpendFen   uint32
	DayRides      uint16
	Month         BCDMonth // the month MonthSpendFen counts; zero = none yet
	MonthSpendFen uint32
	MonthRides    uint16
}

// RecordID returns RecordSpend.
func (Spend) RecordID() byte { return RecordSpend }

// Validate checks that the day and month are real or all zero. Kind
// Invalid naming the field.
func (s Spend) Validate() error {
	const op = "card.Spend.Validate"
	if err := checkDateTime(op, "spend", "day", s.Day, citycard.BCDTime{}); err != nil {
		return err
	}
	if s.Month == (BCDMonth{}) {
		return nil
	}
	d := citycard.BCDDate{s.Month[0], s.Month[1], s.Month[2], 0x01}
	if _, err := citycard.TimeOf(d, citycard.BCDTime{}, time.UTC); err != nil {
		return fieldErr(op, "spend", "month", "%v is not a month YYYYMM", s.Month)
	}
	return nil
}

// MarshalBinary returns the 20-byte record. Kind Invalid as Validate.
func (s Spend) MarshalBinary() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, SpendLen)
	b = append(b, RecordSpend)
	b = append(b, s.Day[:]...)
	b = binary.BigEndian.AppendUint32(b, s.DaySpendFen)
	b = binary.BigEndian.AppendUint16(b, s.DayRides)
	b = append(b, s.Month[:]...)
	b = binary.BigEndian.AppendUint32(b, s.MonthSpendFen)
	b = binary.BigEndian.AppendUint16(b, s.MonthRides)
	assertLen(b, SpendLen)
	return b, nil
}

// UnmarshalBinary decodes a 20-byte record 02. Kind Invalid, naming the
// field, for a wrong identifier or length or any field Validate refuses;
// s is unchanged on error.
func (s *Spend) UnmarshalBinary(b []byte) error {
	const op = "card.Spend.UnmarshalBinary"
	if err := checkHeader(op, "spend", b, RecordSpend, SpendLen); err != nil {
		return err
	}
	r := fields{b: b[1:]}
	var v Spend
	r.copy(v.Day[:])
	v.DaySpendFen = r.u32()
	v.DayRides = r.u16()
	r.copy(v.Month[:])
	v.MonthSpendFen = r.u32()
	v.MonthRides = r.u16()
	if err := v.Validate(); err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	*s = v
	return nil
}

// ProductKind says how a product is used up.
type ProductType uint8

// The product kinds.
const (
	ProductPass        ProductType = 1 // valid for a period (月票, 年票)
	ProductCountTicket ProductType = 2 // holds a number of rides (次卡)
)

// String gives "pass" or "count ticket".
func (k ProductType) String() string {
	switch k {
	case ProductPass:
		return "pass"
	case ProductCountTicket:
		return "count ticket"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Product is one of records 10h-17h of the transit record file: a fare
// product the card holds. Layout (22 bytes):
//
//	id 10h-17h (1) | product (2) | kind (1) | network (2) | valid from (4) |
//	valid to (4) | rides left (2) | daily ride limit (1) | rides today (1) |
//	rides-today date (4)
type Product struct {
	Record         byte // the record identifier, RecordProductFirst..RecordProductLast: the slot
	ProductID      uint16
	Type           ProductType
	Network        uint16           // the network the product is valid on
	ValidFrom      citycard.BCDDate // first day of validity
	ValidTo        citycard.BCDDate // last day of validity, not before ValidFrom
	RidesLeft      uint16           // count tickets: rides still held
	DailyLimit     uint8            // rides allowed per day; 0 = no limit
	RidesToday     uint8            // rides taken on RidesTodayDate, at most DailyLimit when there is one
	RidesTodayDate citycard.BCDDate // the day RidesToday counts; zero = none yet
}

// RecordID returns p.Record.
func (p Product) RecordID() byte { return p.Record }

// Validate checks the slot, the kind, the validity period and the day's
// rides. Kind Invalid naming the field.
func (p Product) Validate() error {
	const op = "card.Product.Validate"
	if p.Record < RecordProductFirst || p.Record > RecordProductLast {
		return fieldErr(op, "product", "record", "%02X is not 10-17", p.Record)
	}
	if p.Type != ProductPass && p.Type != ProductCountTicket {
		return fieldErr(op, "product", "kind", "%d is not 1 (pass) or 2 (count ticket)", p.Type)
	}
	if p.ValidFrom == (citycard.BCDDate{}) {
		return fieldErr(op, "product", "valid from", "missing")
	}
	if err := checkDateTime(op, "product", "valid from", p.ValidFrom, citycard.BCDTime{}); err != nil {
		return err
	}
	if p.ValidTo == (citycard.BCDDate{}) {
		return fieldErr(op, "product", "valid to", "missing")
	}
	if err := checkDateTime(op, "product", "valid to", p.ValidTo, citycard.BCDTime{}); err != nil {
		return err
	}
	if bytes.Compare(p.ValidTo[:], p.ValidFrom[:]) < 0 {
		return fieldErr(op, "product", "valid to", "%v is before valid from %v", p.ValidTo, p.ValidFrom)
	}
	if p.DailyLimit > 0 && p.RidesToday > p.DailyLimit {
		return fieldErr(op, "product", "rides today", "%d is over the daily limit %d", p.RidesToday, p.DailyLimit)
	}
	return checkDateTime(op, "product", "rides-today date", p.RidesTodayDate, citycard.BCDTime{})
}

// MarshalBinary returns the 22-byte record. Kind Invalid as Validate.
func (p Product) MarshalBinary() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, ProductLen)
	b = append(b, p.Record)
	b = binary.BigEndian.AppendUint16(b, p.ProductID)
	b = append(b, byte(p.Type))
	b = binary.BigEndian.AppendUint16(b, p.Network)
	b = append(b, p.ValidFrom[:]...)
	b = append(b, p.ValidTo[:]...)
	b = binary.BigEndian.AppendUint16(b, p.RidesLeft)
	b = append(b, p.DailyLimit, p.RidesToday)
	b = append(b, p.RidesTodayDate[:]...)
	assertLen(b, ProductLen)
	return b, nil
}

// UnmarshalBinary decodes a 22-byte product record (identifier 10h-17h).
// Kind Invalid, naming the field, for a wrong identifier or length or any
// field Validate refuses; p is unchanged on error.
func (p *Product) UnmarshalBinary(b []byte) error {
	const op = "card.Product.UnmarshalBinary"
	if len(b) > 0 && (b[0] < RecordProductFirst || b[0] > RecordProductLast) {
		return fieldErr(op, "product", "identifier", "%02X is not 10-17", b[0])
	}
	if len(b) != ProductLen {
		return fieldErr(op, "product", "length", "%d bytes, want %d", len(b), ProductLen)
	}
	r := fields{b: b[1:]}
	v := Product{Record: b[0]}
	v.ProductID = r.u16()
	v.Type = ProductType(r.u8())
	v.Network = r.u16()
	r.copy(v.ValidFrom[:])
	r.copy(v.ValidTo[:])
	v.RidesLeft = r.u16()
	v.DailyLimit = r.u8()
	v.RidesToday = r.u8()
	r.copy(v.RidesTodayDate[:])
	if err := v.Validate(); err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	*p = v
	return nil
}

// fields reads big-endian fields in order from a buffer whose length the
// caller has checked.
type fields struct {
	b []byte
}

func (f *fields) u8() uint8 {
	v := f.b[0]
	f.b = f.b[1:]
	return v
}

func (f *fields) u16() uint16 {
	v := binary.BigEndian.Uint16(f.b)
	f.b = f.b[2:]
	return v
}

func (f *fields) u32() uint32 {
	v := binary.BigEndian.Uint32(f.b)
	f.b = f.b[4:]
	return v
}

func (f *fields) copy(dst []byte) {
	n := copy(dst, f.b)
	f.b = f.b[n:]
}

// checkHeader checks a record's identifier and length.
func checkHeader(op, record string, b []byte, id byte, n int) error {
	if len(b) > 0 && b[0] != id {
		return fieldErr(op, record, "identifier", "%02X, want %02X", b[0], id)
	}
	if len(b) != n {
		return fieldErr(op, record, "length", "%d bytes, want %d", len(b), n)
	}
	return nil
}

// checkDateTime accepts a date and time that are both zero (none) or that
// name a real moment.
func checkDateTime(op, record, field string, d citycard.BCDDate, t citycard.BCDTime) error {
	if d == (citycard.BCDDate{}) && t == (citycard.BCDTime{}) {
		return nil
	}
	if _, err := citycard.TimeOf(d, t, time.UTC); err != nil {
		return fieldErr(op, record, field, "%v %v is not a real date and time (or all zero)", d, t)
	}
	return nil
}

func fieldErr(op, record, field, format string, args ...any) error {
	return citycard.E(op, citycard.Invalid, "%s record: field %s: %s", record, field, fmt.Sprintf(format, args...))
}

// assertLen panics when a marshaled record does not have its fixed
// length: the layout and its length constant disagree, a programmer error.
func assertLen(b []byte, n int) {
	if len(b) != n {
		panic(fmt.Sprintf("card: record of %d bytes, layout says %d", len(b), n))
	}
}
