package terminal

import (
	"encoding/binary"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// STAMP SAM (80 7A P1 00) is the PSAM's part of an application gate's tap
// (see gate.go): the PSAM holds the application master keys
// (keys.KeyApplication, provisioned as purchase keys are) and derives the
// card's application key inside, so that the gate's host never sees it.
//
//	P1 01 open          issuer(8) ASN(8) key version(1)         -> alg(1); 9403 no such key
//	P1 02 check grants  grant MAC data(7..109) grant MAC(4)     -> 9302 when it does not verify
//	P1 03 write MAC     counter(2) slot(1) action(1) date(4)    -> terminal sequence(4) write MAC(4)
//	                    time(3) uses(2) inside(1) sites(8)
//	P1 04 check stamp   stamp MAC data(27) stamp MAC(4)         -> 9302 when it does not verify
//
// P1 03 fills in the PSAM's terminal ID and consumes a terminal sequence,
// as INIT SAM FOR PURCHASE does: the card may write the stamp with it even
// if the gate never hears back. 02 to 04 answer 6985 without an open
// session; 04 ends it.
const (
	insStampSAM = 0x7A

	p1StampOpen   = 0x01
	p1StampGrants = 0x02
	p1StampWrite  = 0x03
	p1StampCheck  = 0x04

	lenStampOpen  = 17
	lenStampWrite = 22
	lenStampCheck = keys.StampMACDataLen + 4
)

// stampSession is the application key of the card of an open STAMP SAM.
type stampSession struct {
	mac *keys.MACKey
}

func (p *PSAM) stampSAM(c apdu.Command) apdu.Response {
	if c.P2 != 0 {
		return apdu.Response{SW: apdu.SWWrongP1P2}
	}
	d := c.Data
	if c.P1 == p1StampOpen {
		p.stamp = nil
		if len(d) != lenStampOpen {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		var issuer citycard.IssuerCode
		copy(issuer[:], d[0:8])
		var k [keys.KeyLen]byte
		defer clear(k[:])
		alg, ok := p.cardKey(&k, keys.KeyApplication, issuer, d[16], d[8:16])
		if !ok {
			return apdu.Response{SW: apdu.SWKeyIndexUnsupported}
		}
		mk, err := keys.NewMACKey(alg, k[:])
		if err != nil {
			return apdu.Response{SW: apdu.SWWrongData}
		}
		p.stamp = &stampSession{mac: mk}
		return apdu.Response{Data: []byte{byte(alg)}, SW: apdu.SWOK}
	}
	s := p.stamp
	if s == nil {
		return apdu.Response{SW: apdu.SWConditionsNotMet}
	}
	switch c.P1 {
	case p1StampGrants:
		if len(d) < 7+4 || len(d) > 7+card.EntitlementsMax*17+4 {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		if !keys.Equal4(s.mac.Sum(d[:len(d)-4]), [4]byte(d[len(d)-4:])) {
			return apdu.Response{SW: apdu.SWMACInvalid}
		}
		return apdu.Response{SW: apdu.SWOK}
	case p1StampWrite:
		if len(d) != lenStampWrite {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		w := card.StampWrite{Slot: d[2], Action: d[3], TerminalID: p.terminalID, TerminalSeq: p.seq,
			Uses: binary.BigEndian.Uint16(d[11:13]), Inside: d[13] == 1, Sites: binary.BigEndian.Uint64(d[14:22])}
		copy(w.Date[:], d[4:8])
		copy(w.Time[:], d[8:11])
		var buf [32]byte
		b := append(binary.BigEndian.AppendUint16(buf[:0], binary.BigEndian.Uint16(d[0:2])), w.Slot)
		m := s.mac.Sum(w.AppendData(b))
		p.seq++
		out := binary.BigEndian.AppendUint32(make([]byte, 0, 8), w.TerminalSeq)
		return apdu.Response{Data: append(out, m[:]...), SW: apdu.SWOK}
	case p1StampCheck:
		p.stamp = nil
		if len(d) != lenStampCheck {
			return apdu.Response{SW: apdu.SWWrongLength}
		}
		if !keys.Equal4(s.mac.Sum(d[:keys.StampMACDataLen]), [4]byte(d[keys.StampMACDataLen:])) {
			return apdu.Response{SW: apdu.SWMACInvalid}
		}
		return apdu.Response{SW: apdu.SWOK}
	}
	return apdu.Response{SW: apdu.SWWrongP1P2}
}
