package terminal

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// The terminal reads the card's files with their layouts from package card
// (card.ParseBasicData, card.ParseLogEntry, the transit records): the
// bytes a real chip holds, not the virtual card's internals.

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

// sendLen is send for a command whose answer has a fixed length: n bytes
// of data with 9000 (n 0: no data). An answer of any other length is kind
// Invalid, an *answerError: the device answered, but not with what the
// command returns. Cards and PSAMs are untrusted input; a terminal never
// slices an answer it has not measured.
func (d device) sendLen(op, what string, c apdu.Command, n int) ([]byte, error) {
	b, _, err := d.send(op, what, c)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, &citycard.Error{Op: op, Kind: citycard.Invalid, Err: &answerError{dev: d.name, cmd: what, got: len(b), want: n}}
	}
	return b, nil
}

// answerError is an answer with status 9000 whose data has the wrong
// length.
type answerError struct {
	dev       string
	cmd       string
	got, want int
}

func (e *answerError) Error() string {
	return fmt.Sprintf("%s answered %s with %d bytes of data, want %d", e.dev, e.cmd, e.got, e.want)
}

// refused reports whether err is the device's refusal of a command: an
// answer that parsed, with a status word other than 9000. A refused DEBIT
// or CREDIT did nothing on the card; any other failure of one (no answer,
// an answer that does not parse, data of the wrong length) may follow a
// committed transaction.
func refused(err error) bool { return SWOf(err) != 0 }

// SWOf returns the status word of a card or PSAM refusal in err's chain, or
// 0 if err is not one.
func SWOf(err error) apdu.SW {
	var e *swError
	if errors.As(err, &e) {
		return e.sw
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

// terminalID reads the terminal number from a PSAM (file 0016).
func (d device) terminalID(op string) (citycard.TerminalID, error) {
	var tid citycard.TerminalID
	b, err := d.sendLen(op, "READ BINARY 0016", readBinaryCmd(psamTerminalFileSFI, 0, byte(len(tid))), len(tid))
	if err != nil {
		return tid, err
	}
	copy(tid[:], b)
	return tid, nil
}

// selectEPurse selects the card's e-purse (the JT/T 978 AID, then the
// CJ/T 166 one) and returns the status word: 9000, or 6283 for a blocked
// application.
func selectEPurse(op string, c device) (apdu.SW, error) {
	var sw apdu.SW
	var err error
	for _, aid := range [][]byte{card.ProfileMoT.AID(), card.ProfileMOHURD.AID()} {
		_, sw, err = c.send(op, "SELECT", selectCmd(aid), apdu.SWWarnFileInvalidated)
		if err == nil || SWOf(err) != apdu.SWFileNotFound {
			break
		}
	}
	return sw, err
}
