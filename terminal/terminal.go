package terminal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// Mode is what a terminal does with a tap.
type Mode uint8

// The modes of a terminal.
const (
	// ModePOS charges the amount the operator keys in with a simple
	// purchase (8050 01): merchants, canteens, sports venues.
	ModePOS Mode = iota
	// ModeFlat charges the fare's flat amount with a composite purchase
	// that also writes the journey record, so that the next leg can give a
	// transfer discount: buses with one fare.
	ModeFlat
	// ModeTapOn opens a leg: a composite purchase of the fare's entry
	// amount (zero, or a missing tap-off's maximum fare) writing the entry.
	ModeTapOn
	// ModeTapOff closes the leg: reads the entry, prices the leg, debits.
	ModeTapOff
)

var modeNames = [...]string{"pos", "flat", "tap-on", "tap-off"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", m)
}

// Spool is the durable offline queue a terminal keeps its records in
// (Queue implements it). Append must be durable when it returns.
type Spool interface {
	Append(rec []byte) (uint64, error)
	Ack(seqs ...uint64) error
}

// Blacklist tells whether a card must be refused (and blocked).
type Blacklist interface {
	Contains(issuer citycard.IssuerCode, asn citycard.ASN) bool
}

// Config sets a terminal up.
type Config struct {
	PSAM             apdu.Transport // the PSAM in the SAM slot
	PSAMID           citycard.PSAMID
	RecordKeyVersion uint8 // the version of the record key the PSAM seals with
	Mode             Mode
	Network          uint16
	Line             uint32
	Station          uint32
	Fare             Fare
	Spool            Spool
	Blacklist        Blacklist // nil: none
	// Cities are the interconnected cities whose cards it accepts (a
	// card of another city is refused ErrCityNotAccepted); nil: every
	// card its PSAM holds a key for.
	Cities *Cities
	// KeyVersions are the card key versions the terminal uses, newest
	// first: the purchase key versions its PSAM holds, and for loads the
	// versions of the issuer's load keys its host holds. A purchase and a
	// load alike try each until the card knows one.
	KeyVersions []uint8
	// MaintenanceKeyVersion is the version of the application maintenance
	// key the PSAM blocks blacklisted cards with.
	MaintenanceKeyVersion uint8
	Now                   func() time.Time // nil: time.Now
	// RetryWindow is how long after a torn purchase the card's next tap
	// here counts as the rider retrying the same tap: the recovered
	// purchase completes it and nothing more is charged. Later, the
	// recovery is followed by a new charge. Zero: DefaultRetryWindow.
	RetryWindow time.Duration
	// Concessions maps each concession rider category code to the code
	// it lapses to (the products file's review_lapse_category, in the
	// terminal's parameters: api.Client.SyncConcessions): a card
	// of one is priced at its own only while its entitlement file holds
	// the concession slot of its category valid today, under a grant MAC
	// the PSAM verifies (its PSAM then holds the application master key,
	// keys.KeyApplication); nil: every card at the category it carries.
	Concessions map[uint8]uint8
}

// DefaultRetryWindow is the retry window of a terminal whose Config has none.
const DefaultRetryWindow = 2 * time.Minute

// Terminal is a validator or POS: it reads the card, checks its dates and
// the blacklist, charges the fare through the PSAM, recovers grey records,
// and keeps every record in its spool until the back office answers for
// it. One tap at a time: calls are serialized.
type Terminal struct {
	mu   sync.Mutex
	cfg  Config
	psam device
	tid  citycard.TerminalID
	// greys are the torn purchases awaiting the card's next tap, by card.
	greys map[cardKey]grey
	// torn loads awaiting recovery before the card's next load.
	tornLoads map[cardKey]tornLoad
}

type cardKey struct {
	issuer citycard.IssuerCode
	asn    citycard.ASN
}

type grey struct {
	rec      record.Record
	spoolSeq uint64
	at       time.Time
}

type tornLoad struct {
	req LoadRequest
}

// New returns a terminal; it reads the terminal ID from the PSAM. Kind
// Invalid for an incomplete config.
func New(cfg Config) (*Terminal, error) {
	const op = "terminal.New"
	if cfg.PSAM == nil || cfg.Spool == nil || cfg.Fare == nil {
		return nil, citycard.E(op, citycard.Invalid, "PSAM, spool and fare are required")
	}
	if len(cfg.KeyVersions) == 0 {
		return nil, citycard.E(op, citycard.Invalid, "no purchase key version")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryWindow == 0 {
		cfg.RetryWindow = DefaultRetryWindow
	}
	t := &Terminal{
		cfg:       cfg,
		psam:      device{name: "PSAM", t: cfg.PSAM},
		greys:     map[cardKey]grey{},
		tornLoads: map[cardKey]tornLoad{},
	}
	var err error
	if t.tid, err = t.psam.terminalID(op); err != nil {
		return nil, err
	}
	return t, nil
}

// SetConcessions replaces the terminal's concession categories
// (Config.Concessions), as its parameters bring them; the next tap
// prices by them.
func (t *Terminal) SetConcessions(m map[uint8]uint8) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.Concessions = m
}

// ID returns the terminal ID (the PSAM's terminal number).
func (t *Terminal) ID() citycard.TerminalID { return t.tid }

// Result is what a tap did.
type Result struct {
	Card         card.BasicData
	Record       record.Record // the record of this tap, sealed and spooled
	BalanceAfter int64         // fen; below zero when the purchase used the card's overdraw limit
	Explanation  string        // the fare's explanation
	// Recovered is the record of an earlier torn purchase that this tap
	// recovered with GET TRANSACTION PROOF, if any. Within the retry
	// window it is also Record: the tap completed the torn one.
	Recovered *record.Record
	// Grey is true when the card tore during this tap: Record is then the
	// grey record (no TAC), spooled, and recovered on the card's next tap.
	Grey bool
}

// Refusals a terminal answers a tap with (kind Conflict). Check with
// errors.Is.
var (
	ErrExpired     = errors.New("card expired or not yet valid")
	ErrBlacklisted = errors.New("card is blacklisted: application blocked")
	ErrBlocked     = errors.New("card application is blocked")
)

// Tap runs one tap of the card on the terminal. amountFen is the amount of
// a POS purchase and ignored in other modes. Refusals are errors: kind
// Conflict (ErrExpired, ErrBlacklisted, ErrBlocked), Insufficient (the
// balance does not cover the fare, or is below the network's minimum to
// tap on: ErrBelowMinBalance), IO (the card left the field), Invalid
// (the card or the PSAM answered what the command does not return, such
// as data of the wrong length). Before DEBIT is sent such an error ends
// the tap with no record. Once it is sent, only a status word refusing the
// debit means nothing happened: if the card tore, answered something that
// is not a DEBIT's answer, or the complete record could not be sealed and
// spooled, the Result has Grey set and its Record is the grey record, left
// spooled and recovered with GET TRANSACTION PROOF at the card's next tap.
func (t *Terminal) Tap(cd apdu.Transport, amountFen uint32) (Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "terminal.Tap"
	now := t.cfg.Now().In(citycard.ChinaTime)
	c := device{name: "card", t: cd}
	var res Result

	pub, err := t.open(op, c, now)
	if err != nil {
		return res, err
	}
	res.Card = pub
	k := cardKey{pub.Issuer, pub.ASN}
	if g, ok := t.greys[k]; ok {
		rec, recovered, balance, err := t.recoverPurchase(op, c, pub, g)
		if recovered {
			res.Recovered = &rec
		}
		if err != nil {
			return res, err
		}
		if recovered && now.Sub(g.at) <= t.cfg.RetryWindow {
			res.Record, res.BalanceAfter = rec, signedFen(balance)
			res.Explanation = "the torn tap is complete: its debit is recovered, nothing more to pay"
			return res, nil
		}
	}

	cat, lapsed, err := t.category(op, c, pub, now)
	if err != nil {
		return res, err
	}
	q := FareQuery{
		At: now, Tap: tapKind(t.cfg.Mode), Issuer: pub.Issuer, CardType: pub.CardType,
		RiderCategory: cat, Network: t.cfg.Network, Line: t.cfg.Line, Station: t.cfg.Station,
		AmountFen: amountFen,
	}
	composite := t.cfg.Mode != ModePOS
	if composite {
		if q.Transit, err = t.readTransit(op, c); err != nil {
			return res, err
		}
	}
	if bf, ok := t.cfg.Fare.(balanceFare); ok && composite && bf.needsBalance(q) {
		if q.BalanceFen, err = readBalance(op, c); err != nil {
			return res, err
		}
		q.BalanceKnown = true
	}
	charge, err := t.cfg.Fare.Price(q)
	if err != nil {
		return res, citycard.Wrap(op, fareErrKind(err), err)
	}
	res.Explanation = charge.Explanation
	if lapsed != "" {
		res.Explanation += "; " + lapsed
	}

	rec, balanceAfter, greyRec, err := t.purchase(op, c, pub, now, q, charge)
	if greyRec {
		res.Record, res.Grey = rec, true
		return res, err
	}
	if err != nil {
		return res, err
	}
	res.Record, res.BalanceAfter = rec, signedFen(balanceAfter)
	return res, nil
}

// signedFen reads a balance as the card writes it: 4 bytes, in two's
// complement below zero (a purchase into the overdraw limit); its uint32
// arithmetic wraps as the card's does (see record.Record.BalanceBeforeFen).
func signedFen(b uint32) int64 { return int64(int32(b)) }

// open selects the e-purse application, reads the public data, checks the
// dates and the blacklist (blocking a blacklisted card).
func (t *Terminal) open(op string, c device, now time.Time) (card.BasicData, error) {
	pub, err := readPublic(op, c)
	if err != nil {
		return pub, err
	}
	today, _ := citycard.DateTime(now)
	if string(today[:]) < string(pub.Start[:]) || string(today[:]) > string(pub.Expiry[:]) {
		return pub, citycard.E(op, citycard.Conflict, "card %v valid %v to %v, today is %v: %w", pub.ASN, pub.Start, pub.Expiry, today, ErrExpired)
	}
	if t.cfg.Blacklist != nil && t.cfg.Blacklist.Contains(pub.Issuer, pub.ASN) {
		if err := t.block(op, c, pub); err != nil {
			return pub, err
		}
		return pub, citycard.E(op, citycard.Conflict, "card %v: %w", pub.ASN, ErrBlacklisted)
	}
	if t.cfg.Cities != nil && !t.cfg.Cities.Accepts(pub.Issuer, today) {
		return pub, citycard.E(op, citycard.Conflict, "card %v of issuer %v on %v: %w", pub.ASN, pub.Issuer, today, ErrCityNotAccepted)
	}
	return pub, nil
}

// readPublic selects the card's e-purse and reads its public data:
// kind Conflict (ErrBlocked) for a card whose application is blocked,
// Invalid for data that does not parse, the card's errors.
func readPublic(op string, c device) (card.BasicData, error) {
	var pub card.BasicData
	sw, err := selectEPurse(op, c)
	if err != nil {
		return pub, err
	}
	if sw == apdu.SWWarnFileInvalidated {
		return pub, citycard.Wrap(op, citycard.Conflict, ErrBlocked)
	}
	// ParseBasicData checks the length of the answer, as the parsers of
	// the transit and log records do.
	b, _, err := c.send(op, "READ BINARY 15", readBinaryCmd(card.SFIBasicData, 0, card.BasicDataLen))
	if err != nil {
		return pub, err
	}
	if pub, err = card.ParseBasicData(b); err != nil {
		return pub, citycard.Wrap(op, citycard.Invalid, err)
	}
	return pub, nil
}

// block blocks the card's application: GET CHALLENGE, the PSAM's
// maintenance MAC, APPLICATION BLOCK.
func (t *Terminal) block(op string, c device, pub card.BasicData) error {
	ch, err := c.sendLen(op, "GET CHALLENGE", apdu.Command{CLA: 0x00, INS: 0x84, Le: 4}, 4)
	if err != nil {
		return err
	}
	header := []byte{0x84, 0x1E, 0x00, 0x00, 0x04}
	data := make([]byte, 0, lenMaintenanceMAC)
	data = append(data, pub.Issuer[:]...)
	data = append(data, pub.ASN.Div()...)
	data = append(data, t.cfg.MaintenanceKeyVersion)
	data = append(data, ch...)
	data = append(data, header...)
	mac, err := t.psam.sendLen(op, "GENERATE MAC 06", apdu.Command{CLA: 0x80, INS: insGenerateMAC, P1: p1MaintenanceMAC, Data: data, Le: 4}, 4)
	if err != nil {
		return err
	}
	_, err = c.sendLen(op, "APPLICATION BLOCK", apdu.Command{CLA: 0x84, INS: 0x1E, P1: 0x00, P2: 0x00, Data: mac, Le: -1}, 0)
	return err
}

// initialize sends INITIALIZE (FOR LOAD, P1 00; FOR PURCHASE, 01; FOR
// CAPP PURCHASE, 03) with each key version of the config in turn, newest
// first, until the card knows one (9403 for those it does not), and
// returns the card's answer of n bytes. The card names the version it
// took in its answer; the caller reads it from there.
func (t *Terminal) initialize(op, what string, c device, p1 byte, amount uint32, n int) ([]byte, error) {
	return initialize(op, what, c, t.cfg.KeyVersions, t.tid, p1, amount, n)
}

// initialize is Terminal.initialize for versions and terminal tid.
func initialize(op, what string, c device, versions []uint8, tid citycard.TerminalID, p1 byte, amount uint32, n int) ([]byte, error) {
	var err error
	for _, v := range versions {
		data := make([]byte, 0, 11)
		data = append(data, v)
		data = binary.BigEndian.AppendUint32(data, amount)
		data = append(data, tid[:]...)
		var b []byte
		b, err = c.sendLen(op, what, apdu.Command{CLA: 0x80, INS: 0x50, P1: p1, P2: 0x02, Data: data, Le: n}, n)
		if SWOf(err) == apdu.SWKeyIndexUnsupported {
			continue
		}
		return b, err
	}
	return nil, err
}

// initPurchase sends INITIALIZE FOR (CAPP) PURCHASE with the newest key
// version the card knows.
func (t *Terminal) initPurchase(op string, c device, p1 byte, amount uint32) (initResult, error) {
	var r initResult
	b, err := t.initialize(op, "INITIALIZE FOR PURCHASE", c, p1, amount, 15)
	if err != nil {
		return r, err
	}
	r.Balance = binary.BigEndian.Uint32(b[0:4])
	r.Counter = binary.BigEndian.Uint16(b[4:6])
	r.Overdraw = uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])
	r.KeyVersion, r.Alg = b[9], keys.Alg(b[10])
	copy(r.Random[:], b[11:15])
	return r, nil
}

// purchase runs INITIALIZE, the PSAM's MAC1, the transit updates, DEBIT,
// the PSAM's MAC2 check and the sealing. It spools a grey record before
// DEBIT, so that a crash or a tear loses nothing, and acks it once the
// complete record is spooled. isGrey reports that rec is a grey record
// left for recovery: the card may have debited, and the terminal has no
// complete record of it.
func (t *Terminal) purchase(op string, c device, pub card.BasicData, now time.Time, q FareQuery, ch Charge) (rec record.Record, balanceAfter uint32, isGrey bool, err error) {
	typ, p1 := citycard.TxPurchase, byte(0x01)
	if t.cfg.Mode != ModePOS {
		typ, p1 = citycard.TxCompositePurchase, 0x03
	}
	in, err := t.initPurchase(op, c, p1, ch.AmountFen)
	if err != nil {
		return rec, 0, false, err
	}
	date, tm := citycard.DateTime(now)
	samData := make([]byte, 0, lenInitSAM)
	samData = append(samData, in.Random[:]...)
	samData = binary.BigEndian.AppendUint16(samData, in.Counter)
	samData = binary.BigEndian.AppendUint32(samData, ch.AmountFen)
	samData = append(samData, typ)
	samData = append(samData, date[:]...)
	samData = append(samData, tm[:]...)
	samData = append(samData, in.KeyVersion, byte(in.Alg))
	samData = append(samData, pub.ASN.Div()...)
	samData = append(samData, pub.Issuer[:]...)
	b, err := t.psam.sendLen(op, "INIT SAM FOR PURCHASE", apdu.Command{CLA: 0x80, INS: insInitSAMPurchase, Data: samData, Le: 8}, 8)
	if err != nil {
		return rec, 0, false, err
	}
	seq := binary.BigEndian.Uint32(b[0:4])
	mac1 := b[4:8]

	rec = record.Record{
		Status: record.StatusGrey, Type: typ,
		Issuer: pub.Issuer, ASN: pub.ASN, CardType: pub.CardType, RiderCategory: q.RiderCategory,
		Alg: in.Alg, KeyVersion: in.KeyVersion, Counter: in.Counter, BalanceBefore: in.Balance, Amount: ch.AmountFen,
		TerminalID: t.tid, PSAMID: t.cfg.PSAMID, TerminalSeq: seq, Date: date, Time: tm,
		Network: t.cfg.Network, Line: t.cfg.Line, Station: t.cfg.Station,
		Product: ch.Product, FareFull: ch.FullFen, RecordKeyVersion: t.cfg.RecordKeyVersion,
	}
	if typ == citycard.TxCompositePurchase {
		if err := t.writeTransit(op, c, q, ch, &rec, now); err != nil {
			return rec, 0, false, err
		}
	}
	if err := t.seal(op, &rec); err != nil {
		return rec, 0, false, err
	}
	greySeq, err := t.spool(op, &rec)
	if err != nil {
		return rec, 0, false, err
	}

	debit := make([]byte, 0, 15)
	debit = binary.BigEndian.AppendUint32(debit, seq)
	debit = append(debit, date[:]...)
	debit = append(debit, tm[:]...)
	debit = append(debit, mac1...)
	// From here on the card may have debited: every way out either spools
	// the complete record or leaves the grey one for recovery.
	greyRec := rec
	keepGrey := func(err error) (record.Record, uint32, bool, error) {
		t.greys[cardKey{pub.Issuer, pub.ASN}] = grey{rec: greyRec, spoolSeq: greySeq, at: now}
		return greyRec, 0, true, err
	}
	resp, err := c.sendLen(op, "DEBIT FOR PURCHASE", apdu.Command{CLA: 0x80, INS: 0x54, P1: 0x01, P2: 0x00, Data: debit, Le: 8}, 8)
	if err != nil && refused(err) {
		// The card refused the debit: nothing happened on the card.
		if aerr := t.cfg.Spool.Ack(greySeq); aerr != nil {
			return rec, 0, false, citycard.Wrap(op, citycard.IO, aerr)
		}
		return rec, 0, false, err
	}
	if err != nil {
		// The card tore, or its answer is not a DEBIT's (MAC2 and TAC):
		// it may or may not have debited. The grey record stays spooled;
		// the card's next tap here recovers it.
		return keepGrey(err)
	}
	copy(rec.TAC[:], resp[0:4])
	_, macErr := t.psam.sendLen(op, "CREDIT SAM FOR PURCHASE", apdu.Command{CLA: 0x80, INS: insCreditSAM, Data: resp[4:8], Le: -1}, 0)
	rec.Status = record.StatusComplete
	if err := t.seal(op, &rec); err != nil {
		return keepGrey(err)
	}
	if _, err := t.spool(op, &rec); err != nil {
		return keepGrey(err)
	}
	if err := t.cfg.Spool.Ack(greySeq); err != nil {
		return rec, 0, false, citycard.Wrap(op, citycard.IO, err)
	}
	if macErr != nil {
		// The card debited and gave a TAC, so the record stands (the back
		// office verifies the TAC); a wrong MAC2 means the card is not
		// genuine, which the caller must report.
		return rec, in.Balance - ch.AmountFen, false, macErr
	}
	return rec, in.Balance - ch.AmountFen, false, nil
}

// seal asks the PSAM for the record MAC over everything else in rec.
func (t *Terminal) seal(op string, rec *record.Record) error { return sealRecord(t.psam, op, rec) }

// sealRecord asks psam for the record MAC over everything else in rec:
// the terminal's and the gate's.
func sealRecord(psam device, op string, rec *record.Record) error {
	m, err := psam.sendLen(op, "GENERATE MAC 05", apdu.Command{CLA: 0x80, INS: insGenerateMAC, P1: p1RecordMAC, Data: rec.MACData(), Le: 4}, len(rec.RecordMAC))
	if err != nil {
		return err
	}
	copy(rec.RecordMAC[:], m)
	return nil
}

func (t *Terminal) spool(op string, rec *record.Record) (uint64, error) {
	b, err := rec.MarshalBinary()
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Invalid, err)
	}
	seq, err := t.cfg.Spool.Append(b)
	if err != nil {
		return 0, citycard.Wrap(op, citycard.IO, err)
	}
	return seq, nil
}

// recoverPurchase settles a grey record on the card's next tap: it
// re-reads the balance and the last transaction of the card's log; if the
// debit happened (same counter, type, amount and terminal), GET
// TRANSACTION PROOF yields its TAC and the recovered record is spooled in
// place of the grey one (recovered is true). If the debit never happened
// the grey record stays spooled: the back office releases it when the
// card's next record shows the same counter again. On an error the grey
// record stays awaiting the card's next tap.
func (t *Terminal) recoverPurchase(op string, c device, pub card.BasicData, g grey) (rec record.Record, recovered bool, balance uint32, err error) {
	k := cardKey{pub.Issuer, pub.ASN}
	bal, err := c.sendLen(op, "GET BALANCE", apdu.Command{CLA: 0x80, INS: 0x5C, P1: 0x00, P2: 0x02, Le: 4}, 4)
	if err != nil {
		return rec, false, 0, err
	}
	balance = binary.BigEndian.Uint32(bal)
	b, _, err := c.send(op, "READ RECORD 18/1", readRecordCmd(card.SFILog, 1, false, card.LogEntryLen))
	if err != nil && SWOf(err) != apdu.SWRecordNotFound {
		return rec, false, 0, err
	}
	var last card.LogEntry
	if err == nil {
		if last, err = card.ParseLogEntry(b); err != nil {
			return rec, false, 0, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	g.rec.Status = record.StatusGrey
	happened := err == nil && last.Counter == g.rec.Counter && last.Type == g.rec.Type &&
		last.AmountFen == g.rec.Amount && last.Terminal == g.rec.TerminalID
	if !happened {
		delete(t.greys, k)
		return rec, false, balance, nil
	}
	data := binary.BigEndian.AppendUint16(nil, g.rec.Counter)
	proof, err := c.sendLen(op, "GET TRANSACTION PROOF", apdu.Command{CLA: 0x80, INS: 0x5A, P1: 0x00, P2: g.rec.Type, Data: data, Le: 8}, 8)
	if err != nil {
		return rec, false, 0, err
	}
	rec = g.rec
	rec.Status = record.StatusRecovered
	copy(rec.TAC[:], proof[4:8])
	if err := t.seal(op, &rec); err != nil {
		return record.Record{}, false, 0, err
	}
	if _, err := t.spool(op, &rec); err != nil {
		return record.Record{}, false, 0, err
	}
	// The recovered record is spooled: the grey one is no longer needed,
	// nor awaited, whatever the ack does.
	delete(t.greys, k)
	if err := t.cfg.Spool.Ack(g.spoolSeq); err != nil {
		return rec, true, balance, citycard.Wrap(op, citycard.IO, err)
	}
	return rec, true, balance, nil
}

// Greys returns the number of torn purchases awaiting recovery.
func (t *Terminal) Greys() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.greys)
}
