package terminal

import (
	"encoding/binary"
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/keys"
)

// PSAM instructions. 8070 and 8072 are the PBOC PSAM's purchase commands;
// 80FA is its MAC computation command, whose P1 we use to choose the key.
const (
	insInitSAMPurchase = 0x70 // INIT SAM FOR PURCHASE: MAC1 and terminal sequence
	insCreditSAM       = 0x72 // CREDIT SAM FOR PURCHASE: verify MAC2
	insGenerateMAC     = 0xFA // GENERATE MAC: P1 05 record MAC, 06 maintenance MAC

	p1RecordMAC      = 0x05
	p1MaintenanceMAC = 0x06

	psamTerminalFileSFI = 0x16 // file 0016: the terminal number
)

// lenInitSAM is the data length of INIT SAM FOR PURCHASE: random(4)
// counter(2) amount(4) type(1) date(4) time(3) key version(1) alg(1)
// ASN(8) issuer code(8).
const lenInitSAM = 36

// lenMaintenanceMAC is the data length of GENERATE MAC 06: issuer code(8)
// ASN(8) key version(1) challenge(4) command header(5).
const lenMaintenanceMAC = 26

// purchaseSlot is one purchase (or maintenance) master key the PSAM holds.
type purchaseSlot struct {
	div *keys.Diversifier
	// twoLevel keys serve interconnected cities' cards: the national master
	// key is diversified first by the card's issuer code, then by its ASN.
	twoLevel bool
}

type slotKey struct {
	issuer  citycard.IssuerCode
	typ     keys.KeyType
	version uint8
}

// PSAM is a virtual purchase secure access module. It holds the purchase
// master keys of the issuers it serves (and the national key for
// interconnected cards), computes MAC1 with diversification, verifies MAC2,
// keeps the terminal transaction sequence, and seals each record with the
// record MAC. It speaks APDUs (apdu.Transport) like a real PSAM in the
// terminal's SAM slot.
//
// Its life has the two stages of a real PSAM's (see ProvisionPSAM): its
// vendor delivers it blank, holding only its serial number and its
// transport key (PSAMVendor.NewPSAM); the operator's key injection station
// then personalizes it once with the terminal number, the record key, the
// sequence and the master keys, which arrive wrapped under the transport
// key. A blank PSAM answers every command with 6985.
type PSAM struct {
	mu sync.Mutex
	id citycard.PSAMID
	// transportRef names the transport master key the vendor diversified
	// transport from; transport never leaves the PSAM.
	transportRef keys.Ref
	transport    [keys.KeyLen]byte

	personalized     bool
	terminalID       citycard.TerminalID
	recordKeyVersion uint8
	slots            map[slotKey]purchaseSlot
	national         map[uint8]purchaseSlot // interconnection master keys by version
	recordMAC        *keys.MACKey
	seq              uint32
	// session is the purchase session key of the last 8070, which 8072
	// checks MAC2 with; nil outside a purchase.
	session    []byte
	sessionAlg keys.Alg
	sessionAmt uint32
	// stamp is the card's application key of the last STAMP SAM 01 (see
	// psamstamp.go); nil outside a gate's tap.
	stamp *stampSession
}

// InjectKey loads a master key wrapped under the PSAM's transport key (as
// keys.Store.Wrap makes it for ref and this PSAM), as a personalized PSAM
// takes a new key version after a rotation. Purchase and maintenance keys
// of an issuer are used one level deep (by card ASN). national marks the
// interconnection purchase master key, used two levels deep (by issuer
// code, then by ASN) for every issuer without a key of its own in the PSAM.
// The key's algorithm travels inside the wrapping. Kind Crypto if the
// wrapping does not open under the PSAM's transport key, Invalid for a key
// the PSAM does not hold (a type other than purchase and maintenance, a
// national key that is not a purchase key) or a malformed wrapping.
func (p *PSAM) InjectKey(ref keys.Ref, wrapped []byte, national bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot, err := p.openKey(ref, wrapped, national)
	if err != nil {
		return citycard.Wrap("terminal.PSAM.InjectKey", citycard.Other, err)
	}
	p.install(ref, slot, national)
	return nil
}

// openKey unwraps one injected key into the slot it will take. The caller
// holds p.mu.
func (p *PSAM) openKey(ref keys.Ref, wrapped []byte, national bool) (purchaseSlot, error) {
	const op = "terminal.PSAM.openKey"
	if ref.Type != keys.KeyPurchase && ref.Type != keys.KeyMaintenance && ref.Type != keys.KeyApplication {
		return purchaseSlot{}, citycard.E(op, citycard.Invalid, "a PSAM holds purchase, maintenance and application keys, not %v", ref.Type)
	}
	if national && ref.Type != keys.KeyPurchase {
		return purchaseSlot{}, citycard.E(op, citycard.Invalid, "the national key is a purchase key, not %v", ref.Type)
	}
	alg, mk, err := keys.UnwrapKey(p.transport[:], ref, wrapped)
	if err != nil {
		return purchaseSlot{}, citycard.Wrap(op, citycard.Other, err)
	}
	div, err := keys.NewDiversifier(alg, mk)
	clear(mk)
	if err != nil {
		return purchaseSlot{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	return purchaseSlot{div: div, twoLevel: national}, nil
}

// install puts an opened key in its slot. The caller holds p.mu.
func (p *PSAM) install(ref keys.Ref, s purchaseSlot, national bool) {
	if national {
		p.national[ref.Version] = s
		return
	}
	p.slots[slotKey{ref.Issuer, ref.Type, ref.Version}] = s
}

// wrappedKey is a master key on its way into a PSAM.
type wrappedKey struct {
	ref      keys.Ref
	wrapped  []byte
	national bool
}

// personalize writes the operator's part into a blank PSAM, all or
// nothing: every wrapped key is opened before anything is kept, and a PSAM
// whose personalization failed stays blank. Kind Conflict if the PSAM is
// personalized already; Invalid for a bad record key; InjectKey's kinds
// for a key.
func (p *PSAM) personalize(tid citycard.TerminalID, recordAlg keys.Alg, recordKey *[keys.KeyLen]byte, recordKeyVersion uint8, seq uint32, ks []wrappedKey) error {
	const op = "terminal.PSAM.personalize"
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.personalized {
		return citycard.E(op, citycard.Conflict, "PSAM %v is personalized already", p.id)
	}
	mac, err := keys.NewMACKey(recordAlg, recordKey[:])
	if err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	opened := make([]purchaseSlot, len(ks))
	for i, k := range ks {
		if opened[i], err = p.openKey(k.ref, k.wrapped, k.national); err != nil {
			return citycard.E(op, citycard.KindOf(err), "PSAM %v: key %v: %w", p.id, k.ref, err)
		}
	}
	for i, k := range ks {
		p.install(k.ref, opened[i], k.national)
	}
	p.terminalID, p.recordKeyVersion, p.recordMAC, p.seq = tid, recordKeyVersion, mac, seq
	p.personalized = true
	return nil
}

// blank reports whether the PSAM awaits its personalization.
func (p *PSAM) blank() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.personalized
}

// ID returns the PSAM's serial number.
func (p *PSAM) ID() citycard.PSAMID { return p.id }

// Transport returns the ref of the transport master key the PSAM's
// transport key was diversified from (by the PSAM's ID): the key the
// injection station asks the store to wrap under. It names the key; the
// transport key itself never leaves the PSAM.
func (p *PSAM) Transport() keys.Ref { return p.transportRef }

// Seq returns the next terminal transaction sequence the PSAM will give.
func (p *PSAM) Seq() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// RecordKeyVersion returns the version of the record key the PSAM seals
// with (0 while it is blank).
func (p *PSAM) RecordKeyVersion() uint8 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recordKeyVersion
}

// Transmit implements apdu.Transport.
func (p *PSAM) Transmit(b []byte) ([]byte, error) {
	cmd, err := apdu.ParseCommand(b)
	if err != nil {
		return apdu.Response{SW: apdu.SWWrongLength}.Encode(), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handle(cmd).Encode(), nil
}

func (p *PSAM) handle(c apdu.Command) apdu.Response {
	if !p.personalized {
		return apdu.Response{SW: apdu.SWConditionsNotMet}
	}
	switch {
	case c.CLA == 0x00 && c.INS == 0xB0:
		if c.P1 != 0x80|psamTerminalFileSFI || c.P2 != 0 {
			return apdu.Response{SW: apdu.SWFileNotFound}
		}
		if c.Le != len(p.terminalID) || len(c.Data) != 0 {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		return apdu.Response{Data: append([]byte(nil), p.terminalID[:]...), SW: apdu.SWOK}
	case c.CLA != 0x80:
		return apdu.Response{SW: apdu.SWCLANotSupported}
	case c.INS == insInitSAMPurchase:
		return p.initPurchase(c)
	case c.INS == insCreditSAM:
		return p.creditSAM(c)
	case c.INS == insGenerateMAC:
		return p.generateMAC(c)
	case c.INS == insStampSAM:
		return p.stampSAM(c)
	}
	return apdu.Response{SW: apdu.SWINSNotSupported}
}

// cardKey derives the card's key of type typ and version for the card
// (issuer, asn): one level for an issuer the PSAM holds, two through the
// national key otherwise. ok is false when the PSAM holds no such key.
func (p *PSAM) cardKey(dst *[keys.KeyLen]byte, typ keys.KeyType, issuer citycard.IssuerCode, version uint8, asn []byte) (keys.Alg, bool) {
	if s, ok := p.slots[slotKey{issuer, typ, version}]; ok {
		s.div.DeriveInto(dst, asn)
		return s.div.Alg(), true
	}
	if typ != keys.KeyPurchase {
		return 0, false
	}
	s, ok := p.national[version]
	if !ok {
		return 0, false
	}
	var mid [keys.KeyLen]byte
	s.div.DeriveInto(&mid, issuer[:])
	d, err := keys.NewDiversifier(s.div.Alg(), mid[:])
	if err != nil {
		return 0, false
	}
	d.DeriveInto(dst, asn)
	return d.Alg(), true
}

func (p *PSAM) initPurchase(c apdu.Command) apdu.Response {
	if c.P1 != 0 || c.P2 != 0 {
		return apdu.Response{SW: apdu.SWWrongP1P2}
	}
	if len(c.Data) != lenInitSAM || (c.Le != -1 && c.Le != 8) {
		return apdu.Response{SW: apdu.SWWrongLength}
	}
	d := c.Data
	var pur keys.Purchase
	copy(pur.Random[:], d[0:4])
	pur.OfflineCounter = binary.BigEndian.Uint16(d[4:6])
	pur.Amount = binary.BigEndian.Uint32(d[6:10])
	pur.Type = d[10]
	copy(pur.Date[:], d[11:15])
	copy(pur.Time[:], d[15:18])
	version, alg := d[18], keys.Alg(d[19])
	asn := d[20:28]
	var issuer citycard.IssuerCode
	copy(issuer[:], d[28:36])
	if pur.Type != citycard.TxPurchase && pur.Type != citycard.TxCompositePurchase {
		return apdu.Response{SW: apdu.SWWrongData}
	}
	var dpk [keys.KeyLen]byte
	kalg, ok := p.cardKey(&dpk, keys.KeyPurchase, issuer, version, asn)
	if !ok {
		return apdu.Response{SW: apdu.SWKeyIndexUnsupported}
	}
	if kalg != alg {
		return apdu.Response{SW: apdu.SWWrongData}
	}
	pur.TerminalID = p.terminalID
	pur.TerminalSeq = p.seq
	sk, err := keys.SessionKey(alg, dpk[:], keys.PurchaseSessionInput(pur.Random, pur.OfflineCounter, pur.TerminalSeq))
	if err != nil {
		return apdu.Response{SW: apdu.SWWrongData}
	}
	mac1, err := keys.MAC(alg, sk, keys.PurchaseMAC1Data(&pur))
	if err != nil {
		return apdu.Response{SW: apdu.SWWrongData}
	}
	// The sequence is consumed by every MAC1, as a real PSAM does: the card
	// may debit with it even if the terminal never hears back.
	p.seq++
	p.session, p.sessionAlg, p.sessionAmt = sk, alg, pur.Amount
	out := binary.BigEndian.AppendUint32(nil, pur.TerminalSeq)
	return apdu.Response{Data: append(out, mac1[:]...), SW: apdu.SWOK}
}

func (p *PSAM) creditSAM(c apdu.Command) apdu.Response {
	if c.P1 != 0 || c.P2 != 0 {
		return apdu.Response{SW: apdu.SWWrongP1P2}
	}
	if len(c.Data) != 4 {
		return apdu.Response{SW: apdu.SWWrongLength}
	}
	if p.session == nil {
		return apdu.Response{SW: apdu.SWConditionsNotMet}
	}
	want, err := keys.MAC(p.sessionAlg, p.session, keys.PurchaseMAC2Data(&keys.Purchase{Amount: p.sessionAmt}))
	p.session = nil
	if err != nil {
		return apdu.Response{SW: apdu.SWWrongData}
	}
	if !keys.Equal4(want, [4]byte(c.Data)) {
		return apdu.Response{SW: apdu.SWMACInvalid}
	}
	return apdu.Response{SW: apdu.SWOK}
}

func (p *PSAM) generateMAC(c apdu.Command) apdu.Response {
	if c.P2 != 0 {
		return apdu.Response{SW: apdu.SWWrongP1P2}
	}
	switch c.P1 {
	case p1RecordMAC:
		if len(c.Data) == 0 {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		m := p.recordMAC.Sum(c.Data)
		return apdu.Response{Data: m[:], SW: apdu.SWOK}
	case p1MaintenanceMAC:
		if len(c.Data) != lenMaintenanceMAC {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		var issuer citycard.IssuerCode
		copy(issuer[:], c.Data[0:8])
		var damk [keys.KeyLen]byte
		alg, ok := p.cardKey(&damk, keys.KeyMaintenance, issuer, c.Data[16], c.Data[8:16])
		if !ok {
			return apdu.Response{SW: apdu.SWKeyIndexUnsupported}
		}
		m, err := keys.MAC(alg, damk[:], c.Data[17:26])
		if err != nil {
			return apdu.Response{SW: apdu.SWWrongData}
		}
		return apdu.Response{Data: m[:], SW: apdu.SWOK}
	}
	return apdu.Response{SW: apdu.SWWrongP1P2}
}
