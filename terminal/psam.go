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

// PSAMConfig personalizes a PSAM.
type PSAMConfig struct {
	ID         citycard.PSAMID
	TerminalID citycard.TerminalID
	// Transport is the 32-byte transport key the PSAM unwraps injected
	// master keys with (keys.Store.Wrap).
	Transport []byte
	// Operator is the issuer code under which the back office keeps the
	// record master key; RecordKey is that key diversified by ID, and
	// RecordKeyVersion its version.
	Operator         citycard.IssuerCode
	RecordKey        [keys.KeyLen]byte
	RecordAlg        keys.Alg
	RecordKeyVersion uint8
	// Seq is the terminal transaction sequence to start from.
	Seq uint32
}

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
type PSAM struct {
	mu        sync.Mutex
	cfg       PSAMConfig
	slots     map[slotKey]purchaseSlot
	national  map[uint8]purchaseSlot // interconnection master keys by version
	recordMAC func(data []byte) [4]byte
	seq       uint32
	// session is the purchase session key of the last 8070, which 8072
	// checks MAC2 with; nil outside a purchase.
	session    []byte
	sessionAlg keys.Alg
	sessionAmt uint32
}

// NewPSAM returns a PSAM personalized with cfg. Kind Invalid for a bad
// record key or transport key.
func NewPSAM(cfg PSAMConfig) (*PSAM, error) {
	const op = "terminal.NewPSAM"
	if len(cfg.Transport) != 32 {
		return nil, citycard.E(op, citycard.Invalid, "transport key of %d bytes, want 32", len(cfg.Transport))
	}
	rk := cfg.RecordKey
	alg := cfg.RecordAlg
	if _, err := keys.NewBlock(alg, rk[:]); err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	cfg.Transport = append([]byte(nil), cfg.Transport...)
	p := &PSAM{
		cfg:      cfg,
		slots:    map[slotKey]purchaseSlot{},
		national: map[uint8]purchaseSlot{},
		seq:      cfg.Seq,
	}
	p.recordMAC = func(data []byte) [4]byte {
		m, err := keys.MAC(alg, rk[:], data)
		if err != nil {
			panic("terminal: record key checked in NewPSAM fails: " + err.Error())
		}
		return m
	}
	return p, nil
}

// InjectKey loads a master key wrapped under the PSAM's transport key (as
// keys.Store.Wrap makes it for ref). Purchase and maintenance keys of an
// issuer are used one level deep (by card ASN). national marks the
// interconnection purchase master key, used two levels deep (by issuer
// code, then by ASN) for every issuer without a key of its own in the PSAM.
// Kind Crypto if the wrapping does not open, Invalid for an unusable key.
func (p *PSAM) InjectKey(ref keys.Ref, alg keys.Alg, wrapped []byte, national bool) error {
	const op = "terminal.PSAM.InjectKey"
	mk, err := keys.Open(p.cfg.Transport, wrapped, []byte(ref.String()))
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	div, err := keys.NewDiversifier(alg, mk)
	clear(mk)
	if err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	if ref.Type != keys.KeyPurchase && ref.Type != keys.KeyMaintenance {
		return citycard.E(op, citycard.Invalid, "a PSAM holds purchase and maintenance keys, not %v", ref.Type)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if national {
		if ref.Type != keys.KeyPurchase {
			return citycard.E(op, citycard.Invalid, "the national key is a purchase key, not %v", ref.Type)
		}
		p.national[ref.Version] = purchaseSlot{div: div, twoLevel: true}
		return nil
	}
	p.slots[slotKey{ref.Issuer, ref.Type, ref.Version}] = purchaseSlot{div: div}
	return nil
}

// ID returns the PSAM's serial number.
func (p *PSAM) ID() citycard.PSAMID { return p.cfg.ID }

// Seq returns the next terminal transaction sequence the PSAM will give.
func (p *PSAM) Seq() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// RecordKeyVersion returns the version of the record key the PSAM seals with.
func (p *PSAM) RecordKeyVersion() uint8 { return p.cfg.RecordKeyVersion }

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
	switch {
	case c.CLA == 0x00 && c.INS == 0xB0:
		if c.P1 != 0x80|psamTerminalFileSFI || c.P2 != 0 {
			return apdu.Response{SW: apdu.SWFileNotFound}
		}
		if c.Le != len(p.cfg.TerminalID) || len(c.Data) != 0 {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		return apdu.Response{Data: append([]byte(nil), p.cfg.TerminalID[:]...), SW: apdu.SWOK}
	case c.CLA != 0x80:
		return apdu.Response{SW: apdu.SWCLANotSupported}
	case c.INS == insInitSAMPurchase:
		return p.initPurchase(c)
	case c.INS == insCreditSAM:
		return p.creditSAM(c)
	case c.INS == insGenerateMAC:
		return p.generateMAC(c)
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
	if pur.Type != keys.TxPurchase && pur.Type != keys.TxCompositePurchase {
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
	pur.TerminalID = p.cfg.TerminalID
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
		m := p.recordMAC(c.Data)
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
