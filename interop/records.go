package interop

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// Clearing is one record of an OUT or INC file: what the card's issuer
// needs to verify the card's TAC (the TAC's inputs: amount, type,
// terminal, terminal sequence, date and time; the card: issuer, ASN, key
// version and algorithm to derive the TAC key) and to keep its card's
// counters and balance (counter, balance before, card type, product).
//
// A G line of an OUT file (Grey) is a grey record of the card, confirmed
// on its balance: the tap tore before the terminal read the TAC, so its
// tac is the grey record's, 00000000, and the issuer verifies it from
// its card's history instead: the card's record at the next counter (its
// TAC verified) begins at the balance the grey debit left, and no other
// tap of the card took the grey's counter (docs/interop.md).
type Clearing struct {
	Grey             bool // a G line: a grey record confirmed on its balance (OUT files only)
	Issuer           citycard.IssuerCode
	ASN              citycard.ASN
	CardType         uint8
	Counter          uint16 // the card's offline counter
	Type             byte   // citycard.TxPurchase or TxCompositePurchase
	AmountFen        uint32
	BalanceBeforeFen int32
	Terminal         citycard.TerminalID
	PSAM             citycard.PSAMID
	TerminalSeq      uint32
	At               time.Time // the tap's date and time, China time, whole seconds
	KeyVersion       uint8
	Alg              keys.Alg
	TAC              [4]byte
	Product          uint16
}

// ClearingOf returns the file record of a sealed record: a G line
// (Grey) for a grey record.
func ClearingOf(r *record.Record) (Clearing, error) {
	at, err := citycard.TimeOf(r.Date, r.Time, citycard.ChinaTime)
	if err != nil {
		return Clearing{}, citycard.E("interop.ClearingOf", citycard.Invalid, "record of card %v/%v counter %d: date and time: %w", r.Issuer, r.ASN, r.Counter, err)
	}
	return Clearing{
		Grey: r.Status == record.StatusGrey, Issuer: r.Issuer, ASN: r.ASN, CardType: r.CardType, Counter: r.Counter, Type: r.Type, AmountFen: r.Amount,
		BalanceBeforeFen: int32(r.BalanceBefore), Terminal: r.TerminalID, PSAM: r.PSAMID, TerminalSeq: r.TerminalSeq,
		At: at, KeyVersion: r.KeyVersion, Alg: r.Alg, TAC: r.TAC, Product: r.Product,
	}, nil
}

// Record returns the fields of c as a record: what the TAC is verified
// over (its record MAC is the acquirer's and is not in the file); a
// grey one for a G line, which has no TAC to verify.
func (c *Clearing) Record() record.Record {
	r := record.Record{
		Type: c.Type, Issuer: c.Issuer, ASN: c.ASN, CardType: c.CardType, Alg: c.Alg, KeyVersion: c.KeyVersion, Counter: c.Counter,
		BalanceBefore: uint32(c.BalanceBeforeFen), Amount: c.AmountFen, TerminalID: c.Terminal, PSAMID: c.PSAM, TerminalSeq: c.TerminalSeq,
		Product: c.Product, TAC: c.TAC,
	}
	if c.Grey {
		r.Status = record.StatusGrey
	}
	r.Date, r.Time = citycard.DateTime(c.At)
	return r
}

func (c *Clearing) fields() []string {
	return []string{c.Issuer.String(), hexOf(c.ASN[:]), itoa(int64(c.CardType)), itoa(int64(c.Counter)), hexOf([]byte{c.Type}),
		itoa(int64(c.AmountFen)), itoa(int64(c.BalanceBeforeFen)), c.Terminal.String(), c.PSAM.String(), itoa(int64(c.TerminalSeq)),
		c.At.In(citycard.ChinaTime).Format(dateTimeLayout), itoa(int64(c.KeyVersion)), hexOf([]byte{byte(c.Alg)}), hexOf(c.TAC[:]), itoa(int64(c.Product))}
}

// clearingFields names Clearing's fields, in order, for errors and the
// document.
var clearingFields = []string{"issuer", "asn", "card_type", "counter", "type", "amount_fen", "balance_before_fen", "terminal", "psam",
	"terminal_seq", "date_time", "key_version", "alg", "tac", "product"}

func (c *Clearing) amount() int64 { return int64(c.AmountFen) }

func (c *Clearing) parse(fs []string) (string, error) {
	p := fieldParser{fs: fs, names: clearingFields}
	c.Issuer = p.issuer()
	c.ASN = p.asn()
	c.CardType = uint8(p.uint(math.MaxUint8))
	c.Counter = uint16(p.uint(math.MaxUint16))
	c.Type = p.byte()
	if p.err == nil && c.Type != citycard.TxPurchase && c.Type != citycard.TxCompositePurchase {
		p.fail(fmt.Errorf("%02X: want %02X (purchase) or %02X (composite purchase)", c.Type, citycard.TxPurchase, citycard.TxCompositePurchase))
	}
	c.AmountFen = uint32(p.uint(math.MaxUint32))
	c.BalanceBeforeFen = int32(p.int(math.MinInt32, math.MaxInt32))
	p.hex(c.Terminal[:])
	p.hex(c.PSAM[:])
	c.TerminalSeq = uint32(p.uint(math.MaxUint32))
	c.At = p.dateTime()
	c.KeyVersion = uint8(p.uint(math.MaxUint8))
	c.Alg = keys.Alg(p.byte())
	if p.err == nil && !c.Alg.Valid() {
		p.fail(fmt.Errorf("%02X: want 00 (3DES) or 04 (SM4)", byte(c.Alg)))
	}
	p.hex(c.TAC[:])
	if p.err == nil && c.Grey && c.TAC != ([4]byte{}) {
		p.fail(fmt.Errorf("%X on a grey record, want 00000000: the card's TAC was never read", c.TAC[:]))
	}
	c.Product = uint16(p.uint(math.MaxUint16))
	return p.result()
}

// Reason is why a record was answered as it was: two digits, 00 for
// accepted. The list only grows at the end.
type Reason uint8

// The reasons.
const (
	ReasonAccepted    Reason = 0 // the TAC verifies: the issuer owes the amount
	ReasonTAC         Reason = 1 // the TAC does not verify: forged or altered
	ReasonDuplicate   Reason = 2 // (issuer, ASN, counter) was answered before
	ReasonKey         Reason = 3 // no TAC key of the record's key version
	ReasonNotIssuer   Reason = 4 // the card is not the answering issuer's
	ReasonBlacklisted Reason = 5 // the card was blacklisted before the tap
	ReasonAmount      Reason = 6 // error record: the amount cleared was wrong
	ReasonNotReceived Reason = 7 // error record: a record cleared was never received, or cleared twice
	ReasonCardholder  Reason = 8 // dispute: the cardholder disputes the record
	ReasonLate        Reason = 9 // the record came after the interconnection's time limit
	// ReasonUnconfirmed: a grey record (a G line) its card's history does
	// not confirm: no record of the card at the next counter, its TAC
	// verified, begins at the balance the grey debit left, or another
	// tap of the card took the grey's counter.
	ReasonUnconfirmed Reason = 10
	reasonEnd         Reason = 11 // the first code not defined
)

var reasonNames = [...]string{
	ReasonAccepted: "accepted", ReasonTAC: "tac", ReasonDuplicate: "duplicate", ReasonKey: "key_unknown", ReasonNotIssuer: "not_issuer",
	ReasonBlacklisted: "blacklisted", ReasonAmount: "amount", ReasonNotReceived: "not_received", ReasonCardholder: "cardholder", ReasonLate: "late",
	ReasonUnconfirmed: "unconfirmed",
}

// String returns the reason's name (tac, duplicate, ...).
func (r Reason) String() string {
	if r < reasonEnd {
		return reasonNames[r]
	}
	return "reason?"
}

// Code returns the reason as files write it: two digits.
func (r Reason) Code() string { return fmt.Sprintf("%02d", uint8(r)) }

// Answer is one record of an ANS file: the issuer's answer to record
// RefSeq of the file the answer refers to, echoing the card and amount
// so that an answer to another record is caught.
type Answer struct {
	RefSeq    int
	Accepted  bool
	Reason    Reason // ReasonAccepted if and only if Accepted
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	Counter   uint16
	AmountFen uint32
}

var answerFields = []string{"ref_seq", "result", "reason", "issuer", "asn", "counter", "amount_fen"}

func (a *Answer) fields() []string {
	res := "R"
	if a.Accepted {
		res = "A"
	}
	return []string{itoa(int64(a.RefSeq)), res, a.Reason.Code(), a.Issuer.String(), hexOf(a.ASN[:]), itoa(int64(a.Counter)), itoa(int64(a.AmountFen))}
}

func (a *Answer) amount() int64 { return int64(a.AmountFen) }

func (a *Answer) parse(fs []string) (string, error) {
	p := fieldParser{fs: fs, names: answerFields}
	a.RefSeq = p.uint(RecordsMax)
	if p.err == nil && a.RefSeq == 0 {
		p.fail(fmt.Errorf("0: records are numbered from 1"))
	}
	switch r := p.next(); r {
	case "A", "R":
		a.Accepted = r == "A"
	default:
		p.fail(fmt.Errorf("%q: want A (accepted) or R (rejected)", r))
	}
	a.Reason = p.reason()
	if p.err == nil && a.Accepted != (a.Reason == ReasonAccepted) {
		p.fail(fmt.Errorf("%s with result %v: 00 is the reason of an accepted record, and only of one", a.Reason.Code(), map[bool]string{true: "A", false: "R"}[a.Accepted]))
	}
	a.Issuer = p.issuer()
	a.ASN = p.asn()
	a.Counter = uint16(p.uint(math.MaxUint16))
	a.AmountFen = uint32(p.uint(math.MaxUint32))
	return p.result()
}

// Correction is one record of an ERR file (差错): a correction of record
// RefSeq of file RefFile, settled before. Credit: the card's issuer owes
// the acquirer AmountFen more (short cleared); debit: the acquirer pays
// AmountFen back (cleared twice, or too much).
type Correction struct {
	RefFile   string
	RefSeq    int
	Credit    bool
	AmountFen uint32 // > 0
	Reason    Reason
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	Counter   uint16
}

var correctionFields = []string{"ref_file", "ref_seq", "direction", "amount_fen", "reason", "issuer", "asn", "counter"}

func (c *Correction) fields() []string {
	d := "D"
	if c.Credit {
		d = "C"
	}
	return []string{c.RefFile, itoa(int64(c.RefSeq)), d, itoa(int64(c.AmountFen)), c.Reason.Code(), c.Issuer.String(), hexOf(c.ASN[:]), itoa(int64(c.Counter))}
}

// SignedFen is the correction's amount as the acquirer receives it:
// positive for a credit, negative for a debit.
func (c *Correction) SignedFen() int64 {
	if c.Credit {
		return int64(c.AmountFen)
	}
	return -int64(c.AmountFen)
}

func (c *Correction) amount() int64 { return c.SignedFen() }

func (c *Correction) parse(fs []string) (string, error) {
	p := fieldParser{fs: fs, names: correctionFields}
	c.RefFile = p.id()
	c.RefSeq = p.seq()
	switch d := p.next(); d {
	case "C", "D":
		c.Credit = d == "C"
	default:
		p.fail(fmt.Errorf("%q: want C (the acquirer is owed more) or D (it pays back)", d))
	}
	c.AmountFen = uint32(p.uint(math.MaxUint32))
	if p.err == nil && c.AmountFen == 0 {
		p.fail(fmt.Errorf("0: a correction moves money"))
	}
	c.Reason = p.reason()
	if p.err == nil && c.Reason == ReasonAccepted {
		p.fail(fmt.Errorf("00: a correction says what was wrong"))
	}
	c.Issuer = p.issuer()
	c.ASN = p.asn()
	c.Counter = uint16(p.uint(math.MaxUint16))
	return p.result()
}

// Stage is where a dispute stands.
type Stage uint8

// The stages of a dispute: raised by the card's issuer, then accepted
// (the acquirer pays back: an error record follows) or declined by the
// acquirer.
const (
	StageRaise   Stage = 1
	StageAccept  Stage = 2
	StageDecline Stage = 3
)

var stageNames = [...]string{StageRaise: "RAISE", StageAccept: "ACCEPT", StageDecline: "DECLINE"}

func (s Stage) String() string {
	if s >= StageRaise && s <= StageDecline {
		return stageNames[s]
	}
	return "stage?"
}

// Dispute is one record of a DSP file (争议): a challenge of record RefSeq
// of file RefFile, or its answer.
type Dispute struct {
	RefFile   string
	RefSeq    int
	Stage     Stage
	AmountFen uint32 // what is disputed
	Reason    Reason
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	Counter   uint16
}

var disputeFields = []string{"ref_file", "ref_seq", "stage", "amount_fen", "reason", "issuer", "asn", "counter"}

func (d *Dispute) fields() []string {
	return []string{d.RefFile, itoa(int64(d.RefSeq)), d.Stage.String(), itoa(int64(d.AmountFen)), d.Reason.Code(), d.Issuer.String(), hexOf(d.ASN[:]), itoa(int64(d.Counter))}
}

func (d *Dispute) amount() int64 { return int64(d.AmountFen) }

func (d *Dispute) parse(fs []string) (string, error) {
	p := fieldParser{fs: fs, names: disputeFields}
	d.RefFile = p.id()
	d.RefSeq = p.seq()
	s := p.next()
	d.Stage = 0
	for i, n := range stageNames {
		if n != "" && n == s {
			d.Stage = Stage(i)
		}
	}
	if p.err == nil && d.Stage == 0 {
		p.fail(fmt.Errorf("%q: want RAISE, ACCEPT or DECLINE", s))
	}
	d.AmountFen = uint32(p.uint(math.MaxUint32))
	d.Reason = p.reason()
	d.Issuer = p.issuer()
	d.ASN = p.asn()
	d.Counter = uint16(p.uint(math.MaxUint16))
	return p.result()
}

// Action is what a CTY or BLK record does: add or remove.
type Action bool

// The actions.
const (
	Add    Action = true
	Remove Action = false
)

func (a Action) String() string {
	if a {
		return "ADD"
	}
	return "DEL"
}

// City is one record of a CTY file: an interconnected city added to the
// terminals' lists, or removed from them, announced on one day and in
// force from another (within AddDaysMax or RemoveDaysMax of it).
type City struct {
	Code        [2]byte             // the city code, as issuer codes begin with it
	Institution citycard.IssuerCode // its clearing institution: the issuer of its cards
	Action      Action
	Announced   Day
	Effective   Day
	Name        string
}

var cityFields = []string{"city", "institution", "action", "announced", "effective", "name"}

func (c *City) fields() []string {
	return []string{hexOf(c.Code[:]), c.Institution.String(), c.Action.String(), dayString(c.Announced), dayString(c.Effective), c.Name}
}

func (c *City) amount() int64 { return 0 }

func (c *City) parse(fs []string) (string, error) {
	p := fieldParser{fs: fs, names: cityFields}
	p.hex(c.Code[:])
	c.Institution = p.issuer()
	if p.err == nil && [2]byte(c.Institution[:2]) != c.Code {
		p.fail(fmt.Errorf("%v does not begin with the city code %s", c.Institution, hexOf(c.Code[:])))
	}
	c.Action = p.action()
	c.Announced = p.day()
	c.Effective = p.day()
	if p.err == nil {
		if err := c.checkDays(); err != nil {
			p.fail(err)
		}
	}
	c.Name = p.next()
	if p.err == nil && (c.Name == "" || len(c.Name) > NameLenMax) {
		p.fail(fmt.Errorf("%q: want 1 to %d bytes", c.Name, NameLenMax))
	}
	return p.result()
}

// Listing is one record of a BLK file: a card its issuer blacklists (or
// no longer does) from a day on.
type Listing struct {
	Issuer    citycard.IssuerCode
	ASN       citycard.ASN
	Action    Action
	Reason    string // two digits, the issuer's: 01 lost, 02 stolen, 03 fraud, 04 other
	Effective Day
}

var listingFields = []string{"issuer", "asn", "action", "reason", "effective"}

func (l *Listing) fields() []string {
	return []string{l.Issuer.String(), hexOf(l.ASN[:]), l.Action.String(), l.Reason, dayString(l.Effective)}
}

func (l *Listing) amount() int64 { return 0 }

func (l *Listing) parse(fs []string) (string, error) {
	p := fieldParser{fs: fs, names: listingFields}
	l.Issuer = p.issuer()
	l.ASN = p.asn()
	l.Action = p.action()
	l.Reason = p.next()
	if p.err == nil && (len(l.Reason) != 2 || l.Reason[0] < '0' || l.Reason[0] > '9' || l.Reason[1] < '0' || l.Reason[1] > '9') {
		p.fail(fmt.Errorf("%q: want two digits", l.Reason))
	}
	l.Effective = p.day()
	return p.result()
}

// fieldParser reads a record's fields in order, stopping at the first
// fault, which it keeps with the field's name.
type fieldParser struct {
	fs    []string
	names []string
	i     int
	field string
	err   error
}

func (p *fieldParser) next() string {
	if p.err != nil {
		return ""
	}
	p.field = p.names[p.i]
	s := p.fs[p.i]
	p.i++
	return s
}

func (p *fieldParser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *fieldParser) result() (string, error) {
	if p.err != nil {
		return p.field, p.err
	}
	return "", nil
}

func (p *fieldParser) uint(max int) int {
	s := p.next()
	if p.err != nil {
		return 0
	}
	v, err := parseUint(s, max)
	p.fail(err)
	return v
}

func (p *fieldParser) int(min, max int64) int64 {
	s := p.next()
	if p.err != nil {
		return 0
	}
	v, err := parseInt(s, max)
	if err == nil && v < min {
		err = fmt.Errorf("%q: want at least %d", s, min)
	}
	p.fail(err)
	return v
}

func (p *fieldParser) hex(dst []byte) {
	s := p.next()
	if p.err == nil {
		p.fail(parseHex(s, dst))
	}
}

func (p *fieldParser) byte() byte {
	var b [1]byte
	p.hex(b[:])
	return b[0]
}

func (p *fieldParser) issuer() citycard.IssuerCode {
	var c citycard.IssuerCode
	p.hex(c[:])
	return c
}

func (p *fieldParser) asn() citycard.ASN {
	s := p.next()
	if p.err != nil {
		return citycard.ASN{}
	}
	a, err := parseASN(s)
	p.fail(err)
	return a
}

func (p *fieldParser) id() string {
	s := p.next()
	if p.err == nil {
		p.fail(checkID(s))
	}
	return s
}

func (p *fieldParser) seq() int {
	v := p.uint(RecordsMax)
	if p.err == nil && v == 0 {
		p.fail(fmt.Errorf("0: records are numbered from 1"))
	}
	return v
}

func (p *fieldParser) reason() Reason {
	s := p.next()
	if p.err != nil {
		return 0
	}
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		p.fail(fmt.Errorf("%q: want two digits", s))
		return 0
	}
	r := Reason((s[0]-'0')*10 + s[1] - '0')
	if r >= reasonEnd {
		p.fail(fmt.Errorf("%q: no such reason (00 to %02d)", s, reasonEnd-1))
	}
	return r
}

func (p *fieldParser) action() Action {
	s := p.next()
	if p.err == nil && s != "ADD" && s != "DEL" {
		p.fail(fmt.Errorf("%q: want ADD or DEL", s))
	}
	return s == "ADD"
}

func (p *fieldParser) day() Day {
	s := p.next()
	if p.err != nil {
		return 0
	}
	d, err := parseDay(s)
	p.fail(err)
	return d
}

func (p *fieldParser) dateTime() time.Time {
	s := p.next()
	if p.err != nil {
		return time.Time{}
	}
	t, err := parseDateTime(s)
	p.fail(err)
	return t
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
