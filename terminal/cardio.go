package terminal

import (
	"encoding/binary"
	"fmt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/keys"
)

// The card's AIDs and file identifiers, as card/doc.go lays them down. The
// terminal keeps its own copy: it talks to real chips through the same
// bytes and must not depend on the virtual card's internals.
var (
	aidMoT    = []byte{0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05}
	aidMOHURD = []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x86, 0x98, 0x07, 0x01}
)

const (
	sfiPublic  = 0x15
	sfiTransit = 0x17
	sfiLog     = 0x18

	lenPublic = 32
	lenLog    = 23
)

// PublicData is the card's public basic data file (SFI 15h).
type PublicData struct {
	Issuer        citycard.IssuerCode
	AppType       uint8
	AppVersion    uint8
	ASN           citycard.ASN
	Start, Expiry keys.BCDDate
	CardType      uint8
	RiderCategory uint8
	Profile       uint8
}

func parsePublic(b []byte) (PublicData, error) {
	var p PublicData
	if len(b) != lenPublic {
		return p, citycard.E("terminal.parsePublic", citycard.Invalid, "public data of %d bytes, want %d", len(b), lenPublic)
	}
	copy(p.Issuer[:], b[0:8])
	p.AppType, p.AppVersion = b[8], b[9]
	copy(p.ASN[:], b[10:20])
	copy(p.Start[:], b[20:24])
	copy(p.Expiry[:], b[24:28])
	p.CardType, p.RiderCategory, p.Profile = b[28], b[29], b[30]
	return p, nil
}

// LogEntry is one record of the card's transaction log (SFI 18h).
type LogEntry struct {
	Counter    uint16
	Overdraw   uint32
	Amount     uint32
	Type       byte
	TerminalID citycard.TerminalID
	Date       keys.BCDDate
	Time       keys.BCDTime
}

func parseLog(b []byte) (LogEntry, error) {
	var e LogEntry
	if len(b) != lenLog {
		return e, citycard.E("terminal.parseLog", citycard.Invalid, "log record of %d bytes, want %d", len(b), lenLog)
	}
	e.Counter = binary.BigEndian.Uint16(b[0:2])
	e.Overdraw = uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])
	e.Amount = binary.BigEndian.Uint32(b[5:9])
	e.Type = b[9]
	copy(e.TerminalID[:], b[10:16])
	copy(e.Date[:], b[16:20])
	copy(e.Time[:], b[20:23])
	return e, nil
}

// initResult is the card's answer to INITIALIZE FOR PURCHASE.
type initResult struct {
	Balance    uint32
	Counter    uint16
	Overdraw   uint32
	KeyVersion uint8
	Alg        keys.Alg
	Random     [4]byte
}

// swError is a card or PSAM answer other than 9000.
type swError struct {
	dev string // "card" or "PSAM"
	cmd string
	sw  apdu.SW
}

func (e *swError) Error() string { return fmt.Sprintf("%s answered %s with %v", e.dev, e.cmd, e.sw) }

// kindOfSW classifies a status word for the terminal's caller.
func kindOfSW(sw apdu.SW) citycard.Kind {
	switch sw {
	case apdu.SWInsufficientFunds:
		return citycard.Insufficient
	case apdu.SWMACInvalid:
		return citycard.Crypto
	case apdu.SWKeyIndexUnsupported:
		return citycard.KeyMissing
	case apdu.SWFuncNotSupported, apdu.SWWarnFileInvalidated, apdu.SWAppLocked, apdu.SWConditionsNotMet:
		return citycard.Conflict
	case apdu.SWFileNotFound, apdu.SWRecordNotFound:
		return citycard.NotFound
	}
	return citycard.Invalid
}

// device sends commands to a card or PSAM and checks status words.
type device struct {
	name string
	t    apdu.Transport
}

// send transmits c and returns the response data if the status word is
// 9000 (or one of okAlso). A transport failure is kind IO; any other
// status word is an *swError wrapped with its kind.
func (d device) send(op, what string, c apdu.Command, okAlso ...apdu.SW) ([]byte, apdu.SW, error) {
	raw, err := d.t.Transmit(c.Encode())
	if err != nil {
		return nil, 0, citycard.E(op, citycard.IO, "%s: %s: %w", d.name, what, err)
	}
	r, err := apdu.ParseResponse(raw)
	if err != nil {
		return nil, 0, citycard.E(op, citycard.Invalid, "%s: %s: %w", d.name, what, err)
	}
	if r.SW == apdu.SWOK {
		return r.Data, r.SW, nil
	}
	for _, sw := range okAlso {
		if r.SW == sw {
			return r.Data, r.SW, nil
		}
	}
	return nil, r.SW, &citycard.Error{Op: op, Kind: kindOfSW(r.SW), Err: &swError{dev: d.name, cmd: what, sw: r.SW}}
}

// SWOf returns the status word of a card or PSAM refusal in err's chain, or
// 0 if err is not one.
func SWOf(err error) apdu.SW {
	for err != nil {
		if e, ok := err.(*swError); ok {
			return e.sw
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return 0
		}
		err = u.Unwrap()
	}
	return 0
}

func selectCmd(aid []byte) apdu.Command {
	return apdu.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x00, Data: aid, Le: 0}
}

func readBinaryCmd(sfi, off, n byte) apdu.Command {
	return apdu.Command{CLA: 0x00, INS: 0xB0, P1: 0x80 | sfi, P2: off, Le: int(n)}
}

func readRecordCmd(sfi, rec byte, byID bool, n int) apdu.Command {
	p2 := sfi<<3 | 0x04
	if byID {
		p2 = sfi << 3
	}
	return apdu.Command{CLA: 0x00, INS: 0xB2, P1: rec, P2: p2, Le: n}
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
