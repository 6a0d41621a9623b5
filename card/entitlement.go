package card

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/keys"
)

// The entitlement file (应用数据文件, SFI 1Ah) is where the applications
// that decide offline (campus gates, library kiosks, venue turnstiles,
// tourist site gates, parking gates) keep a card's entitlements. Layouts
// are in the package doc's "Entitlement file" section.
const (
	SFIEntitlements byte = 0x1A

	EntitlementsFormat    byte = 0x01 // the layout version of the file
	EntitlementsHeaderLen      = 13   // format, key version, file version, counter, count, grant MAC
	EntitlementLen             = 35   // one entitlement slot
	EntitlementsMax            = 6    // slots a file holds
	// EntitlementsMaxLen is the longest file: one READ BINARY reads it.
	EntitlementsMaxLen = EntitlementsHeaderLen + EntitlementsMax*EntitlementLen

	// StampWriteLen is the data of STAMP: action(1) terminal(6)
	// seq(4) date(4) time(3) uses(2) inside(1) sites(8) write MAC(4).
	StampWriteLen = 33
	// SitesMax is the highest site number a tourist annual pass counts
	// (bit n-1 of the sites field is site n).
	SitesMax = 64
)

// Application is which application system an entitlement belongs to. The
// values are the application byte of the entitlement file: keep them.
type Application uint8

// The applications.
const (
	AppCampus  Application = 1 // school gates: student status, check-in and check-out
	AppLibrary Application = 2 // library borrowing with a loan limit
	AppVenue   Application = 3 // sports venue pass: admissions a month
	AppSite    Application = 4 // tourist annual pass (年卡): each site once a day
	AppParking Application = 5 // parking permit: check-in and check-out
	AppBike    Application = 6 // public bikes: deposit-free rental, one bike out (inside) since the last stamp, the hire

	// AppConcession is no application system's: it is the back office's
	// own slot of a concession card (a senior's, a student's), its scope
	// the rider category code the card's basic data carries, valid to
	// the last day of the annual review's grace (package cms), written
	// at each online contact under the grant MAC. A fare terminal prices
	// a concession card at its lapsed category when the slot is missing,
	// forged or past (package terminal).
	AppConcession Application = 7
)

var appNames = [...]string{AppCampus: "campus", AppLibrary: "library", AppVenue: "venue", AppSite: "site", AppParking: "parking", AppBike: "bike", AppConcession: "concession"}

// Valid reports whether a is one of the six application systems (the
// kinds of package apps): AppConcession, the back office's own, is not.
func (a Application) Valid() bool { return a >= AppCampus && a <= AppBike }

// InFile reports whether a may hold a slot of the entitlement file: an
// application system's, or the concession's.
func (a Application) InFile() bool { return a.Valid() || a == AppConcession }

// String gives the name ParseApplication reads: campus, library, venue,
// site, parking, bike; and concession.
func (a Application) String() string {
	if a.InFile() {
		return appNames[a]
	}
	return fmt.Sprintf("application(%d)", uint8(a))
}

// ParseApplication parses an application name (any case). Kind Invalid
// for any other.
func ParseApplication(name string) (Application, error) {
	for a := AppCampus; a <= AppBike; a++ {
		if strings.EqualFold(name, appNames[a]) {
			return a, nil
		}
	}
	return 0, citycard.E("card.ParseApplication", citycard.Invalid, "application %q: want campus, library, venue, site, parking or bike", name)
}

// Entitlement is one slot of the entitlement file: what the card may do
// in one application at one scope, and what it has used. The grant
// (application to limit) is written at a counter or kiosk and proved by
// the file's grant MAC; the use (uses to sites) is written by gates.
// Fields an application does not use are zero.
type Entitlement struct {
	App       Application
	Scope     uint32           // school, library, venue, site group, parking zone or bike operator's zone code
	ValidFrom citycard.BCDDate // first day
	ValidTo   citycard.BCDDate // last day, not before ValidFrom
	Class     uint16           // campus: the pupil's class
	Limit     uint16           // library: loans at once; venue: admissions a month; campus: the daily canteen limit in fen (0: none)
	Uses      uint16           // library: loans out; venue: admissions in the month of LastDate; campus: canteen spend in fen on LastDate
	LastDate  citycard.BCDDate // the last stamp written; zero = none
	LastTime  citycard.BCDTime
	Inside    bool   // campus, parking: checked in and not yet out; bike: a bike out (hired at LastDate, LastTime)
	Sites     uint64 // site: bit n-1 set for site n visited on LastDate
}

// Validate checks the slot: a known application, a real validity period,
// the fields of other applications zero, uses within the limit, the last
// stamp zero or real. Kind Invalid naming the field.
// ValidOn reports whether day d is within the grant's validity, valid
// from to valid to, both days included. Both are BCD YYYYMMDD, so their
// bytes order as the days do.
func (e *Entitlement) ValidOn(d citycard.BCDDate) bool {
	return bytes.Compare(d[:], e.ValidFrom[:]) >= 0 && bytes.Compare(d[:], e.ValidTo[:]) <= 0
}

func (e Entitlement) Validate() error {
	const op = "card.Entitlement.Validate"
	if !e.App.InFile() {
		return fieldErr(op, "entitlement", "application", "%d is not 1-7", e.App)
	}
	if e.App == AppConcession && e.Scope > 0xFF {
		return fieldErr(op, "entitlement", "scope", "%d on a concession: want a rider category code, 0-255", e.Scope)
	}
	for _, f := range []struct {
		name string
		d    citycard.BCDDate
	}{{"valid from", e.ValidFrom}, {"valid to", e.ValidTo}} {
		if f.d == (citycard.BCDDate{}) {
			return fieldErr(op, "entitlement", f.name, "missing")
		}
		if err := checkDateTime(op, "entitlement", f.name, f.d, citycard.BCDTime{}); err != nil {
			return err
		}
	}
	if bytes.Compare(e.ValidTo[:], e.ValidFrom[:]) < 0 {
		return fieldErr(op, "entitlement", "valid to", "%v is before valid from %v", e.ValidTo, e.ValidFrom)
	}
	// A campus slot's limit is the parents' daily canteen limit in fen
	// and its uses the day's canteen spend (package apps).
	counted := e.App == AppLibrary || e.App == AppVenue || e.App == AppCampus
	switch {
	case e.Class != 0 && e.App != AppCampus:
		return fieldErr(op, "entitlement", "class", "%d on a %v entitlement, want 0", e.Class, e.App)
	case e.Limit != 0 && !counted:
		return fieldErr(op, "entitlement", "limit", "%d on a %v entitlement, want 0", e.Limit, e.App)
	case e.Uses > e.Limit:
		return fieldErr(op, "entitlement", "uses", "%d over the limit %d", e.Uses, e.Limit)
	case e.Inside && e.App != AppCampus && e.App != AppParking && e.App != AppBike:
		return fieldErr(op, "entitlement", "inside", "set on a %v entitlement", e.App)
	case e.Sites != 0 && e.App != AppSite:
		return fieldErr(op, "entitlement", "sites", "%016X on a %v entitlement, want 0", e.Sites, e.App)
	}
	return checkDateTime(op, "entitlement", "last date/time", e.LastDate, e.LastTime)
}

// appendBinary appends the 35-byte slot:
//
//	application(1) | scope(4) | valid from(4) | valid to(4) | class(2) |
//	limit(2) | uses(2) | last date(4) | last time(3) | inside(1) | sites(8)
func (e *Entitlement) appendBinary(b []byte) []byte {
	b = e.appendGrant(b)
	b = binary.BigEndian.AppendUint16(b, e.Uses)
	b = append(b, e.LastDate[:]...)
	b = append(b, e.LastTime[:]...)
	inside := byte(0)
	if e.Inside {
		inside = 1
	}
	b = append(b, inside)
	return binary.BigEndian.AppendUint64(b, e.Sites)
}

// appendGrant appends the slot's grant, the part the grant MAC covers:
// application(1) | scope(4) | valid from(4) | valid to(4) | class(2) | limit(2).
func (e *Entitlement) appendGrant(b []byte) []byte {
	b = append(b, byte(e.App))
	b = binary.BigEndian.AppendUint32(b, e.Scope)
	b = append(b, e.ValidFrom[:]...)
	b = append(b, e.ValidTo[:]...)
	b = binary.BigEndian.AppendUint16(b, e.Class)
	return binary.BigEndian.AppendUint16(b, e.Limit)
}

// Entitlements is the entitlement file (SFI 1Ah).
type Entitlements struct {
	KeyVersion uint8  // the application key version that MACs the grants and the stamps
	Version    uint32 // the file version: the back office's, raised at every change of the grants
	Counter    uint16 // the application counter: the next stamp carries it, then it goes up by one
	Slots      []Entitlement
	GrantMAC   [4]byte // the issuer's MAC over the grants (GrantMACData)
}

// Find returns the index of the slot of app at scope, or -1.
func (f *Entitlements) Find(app Application, scope uint32) int {
	for i := range f.Slots {
		if f.Slots[i].App == app && f.Slots[i].Scope == scope {
			return i
		}
	}
	return -1
}

// Validate checks the file: at most EntitlementsMax slots, each valid, no
// two of one application and scope. Kind Invalid naming the field.
func (f *Entitlements) Validate() error {
	const op = "card.Entitlements.Validate"
	if len(f.Slots) > EntitlementsMax {
		return fieldErr(op, "entitlements", "count", "%d slots, at most %d", len(f.Slots), EntitlementsMax)
	}
	for i := range f.Slots {
		if err := f.Slots[i].Validate(); err != nil {
			return citycard.E(op, citycard.Invalid, "slot %d: %w", i, err)
		}
		if j := f.Find(f.Slots[i].App, f.Slots[i].Scope); j != i {
			return fieldErr(op, "entitlements", "scope", "slot %d repeats slot %d's %v scope %d", i, j, f.Slots[i].App, f.Slots[i].Scope)
		}
	}
	return nil
}

// MarshalBinary returns the file:
//
//	format 01 (1) | key version (1) | file version (4) | counter (2) |
//	count (1) | grant MAC (4) | count × slot (35)
//
// Kind Invalid as Validate.
func (f *Entitlements) MarshalBinary() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, EntitlementsHeaderLen+len(f.Slots)*EntitlementLen)
	b = append(b, EntitlementsFormat, f.KeyVersion)
	b = binary.BigEndian.AppendUint32(b, f.Version)
	b = binary.BigEndian.AppendUint16(b, f.Counter)
	b = append(b, byte(len(f.Slots)))
	b = append(b, f.GrantMAC[:]...)
	for i := range f.Slots {
		b = f.Slots[i].appendBinary(b)
	}
	assertLen(b, EntitlementsHeaderLen+len(f.Slots)*EntitlementLen)
	return b, nil
}

// ParseEntitlements decodes the entitlement file as a gate reads it. It
// is strict: format 01, a length that is exactly the header and the
// slots its count says, every slot valid (Validate), inside 0 or 1; so a
// file that decodes encodes again to the same bytes. Kind Invalid naming
// the field.
func ParseEntitlements(b []byte) (Entitlements, error) {
	const op = "card.ParseEntitlements"
	var f Entitlements
	if len(b) < EntitlementsHeaderLen {
		return f, fieldErr(op, "entitlements", "length", "%d bytes, under the %d of the header", len(b), EntitlementsHeaderLen)
	}
	r := fields{b: b}
	if v := r.u8(); v != EntitlementsFormat {
		return f, fieldErr(op, "entitlements", "format", "%02X, want %02X", v, EntitlementsFormat)
	}
	f.KeyVersion = r.u8()
	f.Version = r.u32()
	f.Counter = r.u16()
	n := int(r.u8())
	r.copy(f.GrantMAC[:])
	if n > EntitlementsMax {
		return Entitlements{}, fieldErr(op, "entitlements", "count", "%d slots, at most %d", n, EntitlementsMax)
	}
	if want := EntitlementsHeaderLen + n*EntitlementLen; len(b) != want {
		return Entitlements{}, fieldErr(op, "entitlements", "length", "%d bytes, want %d for %d slots", len(b), want, n)
	}
	f.Slots = make([]Entitlement, n)
	for i := range f.Slots {
		e := &f.Slots[i]
		e.App = Application(r.u8())
		e.Scope = r.u32()
		r.copy(e.ValidFrom[:])
		r.copy(e.ValidTo[:])
		e.Class = r.u16()
		e.Limit = r.u16()
		e.Uses = r.u16()
		r.copy(e.LastDate[:])
		r.copy(e.LastTime[:])
		switch in := r.u8(); in {
		case 0:
		case 1:
			e.Inside = true
		default:
			return Entitlements{}, fieldErr(op, "entitlements", "inside", "slot %d: %02X is not 00 or 01", i, in)
		}
		e.Sites = binary.BigEndian.Uint64(r.b)
		r.b = r.b[8:]
	}
	if err := f.Validate(); err != nil {
		return Entitlements{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	return f, nil
}

// GrantMACData is what the grant MAC covers: format(1) | key version(1) |
// file version(4) | count(1) | each slot's grant (17: application, scope,
// valid from, valid to, class, limit). The counter and the use fields are
// the gates' to change, so they are left out; each stamp a gate writes is
// proved by its own stamp MAC.
func (f *Entitlements) GrantMACData() []byte {
	b := make([]byte, 0, 7+len(f.Slots)*17)
	b = append(b, EntitlementsFormat, f.KeyVersion)
	b = binary.BigEndian.AppendUint32(b, f.Version)
	b = append(b, byte(len(f.Slots)))
	for i := range f.Slots {
		b = f.Slots[i].appendGrant(b)
	}
	return b
}

// GrantMAC computes the grant MAC of f under the card's application key
// (keys.MAC: the retail MAC for 3DES, the CBC-MAC for SM4). Kind Invalid
// for a bad key or algorithm.
func GrantMAC(alg keys.Alg, appKey []byte, f *Entitlements) ([4]byte, error) {
	m, err := keys.MAC(alg, appKey, f.GrantMACData())
	if err != nil {
		return m, citycard.Wrap("card.GrantMAC", citycard.Invalid, err)
	}
	return m, nil
}

// AppKey is the card's application key of one version: the application
// master key (keys.KeyApplication) of that version diversified by the ASN.
type AppKey struct {
	Version uint8
	Alg     keys.Alg
	Key     [keys.KeyLen]byte
}

// DeriveAppKey derives the application key of version for the card asn
// of issuer from store, as DeriveKeySet derives the e-purse keys. Kind
// KeyMissing when the store holds no such master key.
func DeriveAppKey(store keys.Store, issuer citycard.IssuerCode, asn citycard.ASN, version uint8) (AppKey, error) {
	k := AppKey{Version: version}
	alg, err := store.DeriveInto(&k.Key, keys.Ref{Issuer: issuer, Type: keys.KeyApplication, Version: version}, asn.Div())
	if err != nil {
		return AppKey{}, citycard.Wrap("card.DeriveAppKey", citycard.Other, err)
	}
	k.Alg = alg
	return k, nil
}

// StampWrite is what a gate asks STAMP to write in one slot: the
// slot's new use and the stamp's identity, which the stamp MAC covers.
type StampWrite struct {
	Slot        uint8
	Action      uint8
	TerminalID  citycard.TerminalID
	TerminalSeq uint32
	Date        citycard.BCDDate
	Time        citycard.BCDTime
	Uses        uint16
	Inside      bool
	Sites       uint64
}

// AppendData appends the command data of STAMP without its MAC (29
// bytes): action(1) | terminal ID(6) | terminal sequence(4) | date(4) |
// time(3) | uses(2) | inside(1) | sites(8).
func (w *StampWrite) AppendData(b []byte) []byte {
	b = append(b, w.Action)
	b = append(b, w.TerminalID[:]...)
	b = binary.BigEndian.AppendUint32(b, w.TerminalSeq)
	b = append(b, w.Date[:]...)
	b = append(b, w.Time[:]...)
	b = binary.BigEndian.AppendUint16(b, w.Uses)
	inside := byte(0)
	if w.Inside {
		inside = 1
	}
	b = append(b, inside)
	return binary.BigEndian.AppendUint64(b, w.Sites)
}

// WriteMAC is the gate's MAC that authorizes STAMP: keys.MAC under
// the card's application key over counter(2) | slot(1) | the command data
// without its MAC (29 bytes). The counter (the file's, which the write
// moves) makes each write MAC good once. Kind Invalid for a bad key.
func WriteMAC(alg keys.Alg, appKey []byte, counter uint16, w *StampWrite) ([4]byte, error) {
	var buf [32]byte
	b := binary.BigEndian.AppendUint16(buf[:0], counter)
	b = append(b, w.Slot)
	m, err := keys.MAC(alg, appKey, w.AppendData(b))
	if err != nil {
		return m, citycard.Wrap("card.WriteMAC", citycard.Invalid, err)
	}
	return m, nil
}

// SetEntitlements writes the entitlement file outside any transaction, as
// a service point or kiosk does at an online contact (the secure write of
// card management will replace it). The card keeps f as given: the grant
// MAC is the issuer's, and gates check it. Kind Invalid, naming the
// field, for a file Validate refuses; Conflict for a card personalized
// without an application key.
func (c *Card) SetEntitlements(f Entitlements) error {
	const op = "card.Card.SetEntitlements"
	b, err := f.MarshalBinary()
	if err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.appKey == nil {
		return citycard.E(op, citycard.Conflict, "card has no application key: it was personalized without an entitlement file")
	}
	c.entitlements = b
	return nil
}

// doStamp answers STAMP (80 DE slot 00 21 data MAC 04): it
// writes one stamp in the entitlement file and answers the card's stamp
// MAC. The checks run in this order: P2 (6A86), lengths (6700), a file on
// the card (6A82), a blocked application (6A81), the slot (6A83), the
// counter (9402 at FFFFh), the write MAC (9302), then the new use and the
// date and time (6A80: a use the slot's application does not have, or
// uses over the limit). Then it commits: the slot's use and last stamp,
// the counter up by one.
func (c *Card) doStamp(cmd apdu.Command) []byte {
	if cmd.P2 != 0x00 {
		return sw(apdu.SWWrongP1P2)
	}
	if !lengthOK(cmd, StampWriteLen, 4) {
		return sw(apdu.SWWrongLength)
	}
	if c.entitlements == nil {
		return sw(apdu.SWFileNotFound)
	}
	if c.blocked {
		return sw(apdu.SWFuncNotSupported)
	}
	f, err := ParseEntitlements(c.entitlements)
	if err != nil {
		panic("card: own entitlement file unreadable: " + err.Error())
	}
	if int(cmd.P1) >= len(f.Slots) {
		return sw(apdu.SWRecordNotFound)
	}
	if f.Counter == counterMax {
		return sw(SWCounterLimit)
	}
	d := cmd.Data
	w := StampWrite{Slot: cmd.P1, Action: d[0], TerminalSeq: binary.BigEndian.Uint32(d[7:11]),
		Uses: binary.BigEndian.Uint16(d[18:20]), Inside: d[20] == 1, Sites: binary.BigEndian.Uint64(d[21:29])}
	copy(w.TerminalID[:], d[1:7])
	copy(w.Date[:], d[11:15])
	copy(w.Time[:], d[15:18])
	want, err := WriteMAC(c.appKey.Alg, c.appKey.Key[:], f.Counter, &w)
	if err != nil {
		panic("card: write MAC with personalized key: " + err.Error())
	}
	if !keys.Equal4(want, [4]byte(d[29:33])) {
		return sw(apdu.SWMACInvalid)
	}
	e := f.Slots[w.Slot]
	e.Uses, e.Inside, e.Sites, e.LastDate, e.LastTime = w.Uses, w.Inside, w.Sites, w.Date, w.Time
	if d[20] > 1 || e.Validate() != nil || w.Date == (citycard.BCDDate{}) {
		return sw(apdu.SWWrongData)
	}
	mac, err := keys.StampMAC(c.appKey.Alg, c.appKey.Key[:], &keys.Stamp{
		Counter: f.Counter, App: uint8(e.App), Scope: e.Scope, Action: w.Action,
		TerminalID: w.TerminalID, TerminalSeq: w.TerminalSeq, Date: w.Date, Time: w.Time, Uses: w.Uses,
	})
	if err != nil {
		panic("card: stamp MAC with personalized key: " + err.Error())
	}
	f.Slots[w.Slot] = e
	f.Counter++
	b, err := f.MarshalBinary()
	if err != nil {
		panic("card: entitlement file unwritable after a checked write: " + err.Error())
	}
	c.entitlements = b
	return ok(mac[:])
}
