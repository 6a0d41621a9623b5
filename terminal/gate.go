package terminal

import (
	"encoding/binary"
	"strconv"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// A Gate is an application system's offline terminal: a school gate, a
// library self-check kiosk, a venue turnstile, a tourist site gate, a
// parking barrier. It decides a tap from the card's entitlement file
// alone (package apps has the rules), writes the stamp on the card, and
// has its PSAM seal a non-financial record (record type A0) into its
// spool, uploaded as every record is. One tap, nine APDUs (ten for a
// CJ/T 166 card, which answers the JT/T 978 AID first with 6A82):
//
//	card  SELECT e-purse; READ BINARY 15 (basic data); READ BINARY 1A (the file)
//	PSAM  STAMP SAM 01 (the card's application key); 02 (the grant MAC)
//	      ... the rules (apps.Decide) ...
//	PSAM  STAMP SAM 03 (terminal sequence and write MAC)
//	card  STAMP (the stamp MAC)
//	PSAM  STAMP SAM 04 (the stamp MAC); GENERATE MAC 05 (the record MAC)
//
// The refusals before anything is written are the card's validity
// (expired), the blacklist or a blocked e-purse (blacklisted; a gate
// refuses but does not block: blocking is the e-purse's terminals'), no
// file or no slot of the gate's (wrong_application), a file that does not
// parse or whose grant MAC fails (forged), a file older than the version
// Versions requires (stale; a bike's return never is: BikeDock), then
// the rules. A card whose stamp MAC fails
// after it wrote the stamp is refused forged, and no record is kept: the
// card is not genuine. A card that loses power during STAMP may have
// written it: the tap ends with an error of kind IO and no record, and
// the back office sees the application counter skip (flagged
// application_counter_gap).
type Gate struct {
	mu   sync.Mutex
	cfg  GateConfig
	psam device
	tid  citycard.TerminalID
}

// Versions says which entitlement file version the back office requires
// of a card: a card whose grants changed since it last met an online
// terminal is named with its new version, and its older file is stale.
// MinVersion returns 0 for a card it does not name.
type Versions interface {
	MinVersion(issuer citycard.IssuerCode, asn citycard.ASN) uint32
}

// GateConfig sets a gate up.
type GateConfig struct {
	PSAM             apdu.Transport // the PSAM, holding the application master key
	PSAMID           citycard.PSAMID
	RecordKeyVersion uint8
	App              card.Application
	Scope            uint32      // the gate's school, library, venue, site group or zone
	Place            uint32      // the gate's number; at a site, the site number
	Action           apps.Action // the lane: check-in or check-out, admission, loan or return
	Spool            Spool
	Blacklist        Blacklist        // nil: none
	Versions         Versions         // nil: no card is stale
	Ground           *apps.Ground     // a venue gate at a school's ground (apps.Ground); nil: none
	Now              func() time.Time // nil: time.Now
}

// GateResult is what a tap at a gate decided.
type GateResult struct {
	Reason apps.Reason      // apps.Allowed or why not
	ASN    citycard.ASN     // the card, once read
	After  card.Entitlement // the slot as the stamp left it (allowed)
	Record record.Record    // the sealed record (allowed)
	Detail string           // what the refusal saw, for the gate's log
}

// NewGate returns a gate; it reads the terminal ID from the PSAM. Kind
// Invalid for an incomplete config, an action that is not the
// application's, or a ground on a gate that is not a venue's or that
// does not validate.
func NewGate(cfg GateConfig) (*Gate, error) {
	const op = "terminal.NewGate"
	if cfg.PSAM == nil || cfg.Spool == nil {
		return nil, citycard.E(op, citycard.Invalid, "PSAM and spool are required")
	}
	if !apps.Of(cfg.App, cfg.Action) {
		return nil, citycard.E(op, citycard.Invalid, "%v is not an action of the %v application", cfg.Action, cfg.App)
	}
	if cfg.Ground != nil {
		if cfg.App != card.AppVenue {
			return nil, citycard.E(op, citycard.Invalid, "a school's ground on a %v gate: want a venue's", cfg.App)
		}
		if err := cfg.Ground.Validate(); err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gate{cfg: cfg, psam: device{name: "PSAM", t: cfg.PSAM}}
	var err error
	if g.tid, err = g.psam.terminalID(op); err != nil {
		return nil, err
	}
	return g, nil
}

// ID returns the gate's terminal ID.
func (g *Gate) ID() citycard.TerminalID { return g.tid }

// Tap decides one tap of the card cd at the gate: a refusal is a result
// with its reason and a nil error. The error is kind IO when the card or
// the PSAM stopped answering or the spool failed, Invalid for an answer
// of the wrong form, KeyMissing when the PSAM lacks the card's
// application key version, and the PSAM's other refusals keep their
// kinds.
func (g *Gate) Tap(cd apdu.Transport) (GateResult, error) {
	const op = "terminal.Gate.Tap"
	g.mu.Lock()
	defer g.mu.Unlock()
	c := device{name: "card", t: cd}
	t, res, err := g.decide(op, c, g.cfg.Action, 0)
	if err != nil || res.Reason != apps.Allowed {
		return res, err
	}
	return g.stamp(op, c, &t)
}

// gateTap is what a tap's decision read of the card, for its stamp.
type gateTap struct {
	pub      card.BasicData
	f        card.Entitlements
	alg      keys.Alg
	d        apps.Decision
	date     citycard.BCDDate
	tm       citycard.BCDTime
	res      GateResult
	decision bool        // the rules decided (the file was read and checked)
	action   apps.Action // the tap's action: the lane's, or a bike dock's hire or return
}

// decide is a tap's first part, up to the rules' decision (nothing
// written): the card's validity, the blacklist, the file, its grant MAC
// and version, then apps.Decide of action (the lane's at a gate) for
// amountFen (a canteen purchase's; 0 at a gate). The result's reason is
// the refusal, Allowed to go on to stamp.
func (g *Gate) decide(op string, c device, action apps.Action, amountFen uint32) (gateTap, GateResult, error) {
	t := gateTap{action: action}
	now := g.cfg.Now()
	date, tm := citycard.DateTime(now.In(citycard.ChinaTime))
	t.date, t.tm = date, tm
	res := &t.res
	refuse := func(r apps.Reason, detail string) (gateTap, GateResult, error) {
		res.Reason, res.Detail = r, detail
		return t, *res, nil
	}

	sw, err := selectEPurse(op, c)
	if err != nil {
		return t, *res, err
	}
	b, _, err := c.send(op, "READ BINARY 15", readBinaryCmd(card.SFIBasicData, 0, card.BasicDataLen))
	if err != nil {
		return t, *res, err
	}
	pub, err := card.ParseBasicData(b)
	if err != nil {
		return t, *res, citycard.Wrap(op, citycard.Invalid, err)
	}
	t.pub = pub
	res.ASN = pub.ASN
	switch {
	case sw == apdu.SWWarnFileInvalidated:
		return refuse(apps.Blacklisted, "the card's application is blocked")
	case string(date[:]) < string(pub.Start[:]) || string(date[:]) > string(pub.Expiry[:]):
		return refuse(apps.Expired, "the card is valid "+pub.Start.String()+" to "+pub.Expiry.String())
	case g.cfg.Blacklist != nil && g.cfg.Blacklist.Contains(pub.Issuer, pub.ASN):
		return refuse(apps.Blacklisted, "the card is on the blacklist")
	}
	b, _, err = c.send(op, "READ BINARY 1A", readBinaryCmd(card.SFIEntitlements, 0, 0))
	if SWOf(err) == apdu.SWFileNotFound {
		return refuse(apps.WrongApplication, "the card has no entitlement file")
	}
	if err != nil {
		return t, *res, err
	}
	f, err := card.ParseEntitlements(b)
	if err != nil {
		return refuse(apps.Forged, err.Error())
	}

	alg, err := g.openStamp(op, &pub, &f)
	if SWOf(err) == apdu.SWMACInvalid {
		return refuse(apps.Forged, "the grant MAC does not verify")
	}
	if err != nil {
		return t, *res, err
	}
	// A bike's return is never refused stale: a grant revoked or changed
	// stops the next hire, while the bike out still comes back, paid.
	if g.cfg.Versions != nil && (g.cfg.App != card.AppBike || action != apps.Return) {
		if min := g.cfg.Versions.MinVersion(pub.Issuer, pub.ASN); f.Version < min {
			return refuse(apps.Stale, "file version "+strconv.FormatUint(uint64(f.Version), 10)+", the back office requires "+strconv.FormatUint(uint64(min), 10))
		}
	}
	t.f, t.alg, t.decision = f, alg, true
	t.d = apps.Decide(&f, g.tap(action, date, tm, amountFen))
	return refuse(t.d.Reason, "")
}

// tap is the rules' view of a tap of action at the gate.
func (g *Gate) tap(action apps.Action, date citycard.BCDDate, tm citycard.BCDTime, amountFen uint32) apps.Tap {
	return apps.Tap{App: g.cfg.App, Scope: g.cfg.Scope, Place: g.cfg.Place, Action: action, Date: date, Time: tm,
		Ground: g.cfg.Ground, AmountFen: amountFen}
}

// openStamp opens the PSAM's stamp session for the card pub's file f
// (STAMP SAM 01, the card's application key) and checks its grant MAC
// (02: the error's status word 9302 when it does not verify). A session
// ends with its stamp's check (04): a second stamp in one tap (a bike
// dock's overdue rental closed, then the hire) opens it again.
func (g *Gate) openStamp(op string, pub *card.BasicData, f *card.Entitlements) (keys.Alg, error) {
	return openStamp(op, g.psam, pub, f)
}

// openStamp is Gate.openStamp on psam; a fare terminal checks a
// concession card's file with it too (concession.go).
func openStamp(op string, psam device, pub *card.BasicData, f *card.Entitlements) (keys.Alg, error) {
	open := make([]byte, 0, lenStampOpen)
	open = append(open, pub.Issuer[:]...)
	open = append(open, pub.ASN.Div()...)
	open = append(open, f.KeyVersion)
	a, err := psam.sendLen(op, "STAMP SAM 01", apdu.Command{CLA: 0x80, INS: insStampSAM, P1: p1StampOpen, Data: open, Le: 1}, 1)
	if err != nil {
		return 0, err
	}
	grants := append(f.GrantMACData(), f.GrantMAC[:]...)
	if _, _, err := psam.send(op, "STAMP SAM 02", apdu.Command{CLA: 0x80, INS: insStampSAM, P1: p1StampGrants, Data: grants, Le: -1}); err != nil {
		return 0, err
	}
	return keys.Alg(a[0]), nil
}

// stamp is a tap's second part, once decide allowed it: the stamp on
// the card, its MAC checked, the record sealed and spooled.
func (g *Gate) stamp(op string, c device, t *gateTap) (GateResult, error) {
	res := t.res
	refuse := func(r apps.Reason, detail string) (GateResult, error) {
		res.Reason, res.Detail = r, detail
		return res, nil
	}
	pub, f, alg, d, date, tm := t.pub, &t.f, t.alg, t.d, t.date, t.tm

	w := card.StampWrite{Slot: uint8(d.Slot), Action: uint8(t.action), TerminalID: g.tid, Date: date, Time: tm,
		Uses: d.After.Uses, Inside: d.After.Inside, Sites: d.After.Sites}
	wd := binary.BigEndian.AppendUint16(make([]byte, 0, lenStampWrite), f.Counter)
	wd = append(wd, w.Slot, w.Action)
	wd = append(wd, date[:]...)
	wd = append(wd, tm[:]...)
	wd = binary.BigEndian.AppendUint16(wd, w.Uses)
	wd = append(wd, boolByte(w.Inside))
	wd = binary.BigEndian.AppendUint64(wd, w.Sites)
	sm, err := g.psam.sendLen(op, "STAMP SAM 03", apdu.Command{CLA: 0x80, INS: insStampSAM, P1: p1StampWrite, Data: wd, Le: 8}, 8)
	if err != nil {
		return res, err
	}
	w.TerminalSeq = binary.BigEndian.Uint32(sm[0:4])
	cmd := w.AppendData(make([]byte, 0, card.StampWriteLen))
	cmd = append(cmd, sm[4:8]...)
	mac, err := c.sendLen(op, "STAMP", apdu.Command{CLA: 0x80, INS: 0xDE, P1: w.Slot, P2: 0x00, Data: cmd, Le: 4}, 4)
	if SWOf(err) == apdu.SWMACInvalid {
		// The file is the issuer's (its grant MAC verified) but the card's
		// key is not: a copy of a genuine file on another chip.
		return refuse(apps.Forged, "the card refused the write MAC")
	}
	if err != nil {
		return res, err
	}
	e := keys.Stamp{Counter: f.Counter, App: uint8(g.cfg.App), Scope: g.cfg.Scope, Action: w.Action,
		TerminalID: g.tid, TerminalSeq: w.TerminalSeq, Date: date, Time: tm, Uses: w.Uses}
	check := append(keys.AppendStampMACData(make([]byte, 0, lenStampCheck), &e), mac...)
	if _, _, err := g.psam.send(op, "STAMP SAM 04", apdu.Command{CLA: 0x80, INS: insStampSAM, P1: p1StampCheck, Data: check, Le: -1}); err != nil {
		if SWOf(err) == apdu.SWMACInvalid {
			return refuse(apps.Forged, "the stamp MAC does not verify")
		}
		return res, err
	}

	rec := record.Record{
		Status: record.StatusComplete, Type: citycard.TxApplication,
		Issuer: pub.Issuer, ASN: pub.ASN, CardType: pub.CardType, RiderCategory: pub.RiderCategory,
		Alg: alg, KeyVersion: f.KeyVersion, Counter: f.Counter,
		TerminalID: g.tid, PSAMID: g.cfg.PSAMID, TerminalSeq: w.TerminalSeq, Date: date, Time: tm,
		Network: uint16(g.cfg.App), Line: g.cfg.Scope, Station: g.cfg.Place,
		EntryLine: f.Version, EntryStation: uint32(w.Uses), Product: uint16(t.action),
		TAC: [4]byte(mac), RecordKeyVersion: g.cfg.RecordKeyVersion,
	}
	if err := sealRecord(g.psam, op, &rec); err != nil {
		return res, err
	}
	raw, err := rec.MarshalBinary()
	if err != nil {
		return res, citycard.Wrap(op, citycard.Invalid, err)
	}
	if _, err := g.cfg.Spool.Append(raw); err != nil {
		return res, citycard.Wrap(op, citycard.IO, err)
	}
	res.After, res.Record = d.After, rec
	return res, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
