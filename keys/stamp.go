package keys

import (
	"encoding/binary"

	"github.com/citycard/citycard"
)

// StampMACDataLen is the length of the data a stamp MAC covers.
const StampMACDataLen = 27

// Stamp is what the card's stamp MAC covers: one stamp an application
// gate wrote in the card's entitlement file (a check-in, an admission, a
// loan). The card computes it, the gate checks it at once, and the back
// office recomputes it from the non-financial record, as it does a TAC.
type Stamp struct {
	Counter     uint16 // the application counter the stamp carries
	App         uint8  // the application (card.Application)
	Scope       uint32 // the entitlement's scope: school, library, venue, site group, parking zone
	Action      uint8  // check-in, check-out, admission, loan, return (apps.Action)
	TerminalID  citycard.TerminalID
	TerminalSeq uint32 // the PSAM's terminal sequence of the record
	Date        citycard.BCDDate
	Time        citycard.BCDTime
	Uses        uint16 // the count the stamp leaves: loans out, admissions this month, 0 else
}

// AppendStampMACData appends the stamp MAC input to b (StampMACDataLen bytes):
//
//	counter(2) | application(1) | scope(4) | action(1) | terminal ID(6) |
//	terminal sequence(4) | date(4) | time(3) | uses(2)
//
// The stamp MAC is MAC under the card's application key (16 bytes: the
// application master key diversified by the ASN): for 3DES the retail
// MAC (ISO 9797-1 algorithm 3), for SM4 the CBC-MAC. This is the one
// place its layout is written.
func AppendStampMACData(b []byte, e *Stamp) []byte {
	b = binary.BigEndian.AppendUint16(b, e.Counter)
	b = append(b, e.App)
	b = binary.BigEndian.AppendUint32(b, e.Scope)
	b = append(b, e.Action)
	b = append(b, e.TerminalID[:]...)
	b = binary.BigEndian.AppendUint32(b, e.TerminalSeq)
	b = append(b, e.Date[:]...)
	b = append(b, e.Time[:]...)
	return binary.BigEndian.AppendUint16(b, e.Uses)
}

// StampMAC returns the stamp MAC of e under the card's application key
// appKey (16 bytes). Kind Invalid for a bad key or algorithm.
func StampMAC(alg Alg, appKey []byte, e *Stamp) ([4]byte, error) {
	var buf [StampMACDataLen]byte
	m, err := MAC(alg, appKey, AppendStampMACData(buf[:0], e))
	if err != nil {
		return m, citycard.Wrap("keys.StampMAC", citycard.Invalid, err)
	}
	return m, nil
}
