// Package apdu encodes and decodes ISO 7816-4 command and response APDUs
// (short form only: Lc and Le of one byte, as every e-purse command uses)
// and names the status words the e-purse application answers with.
//
// A Transport carries APDUs between a terminal and a card (or a PSAM); the
// virtual card and PSAM implement it directly, and a reader driver would
// implement it for a real chip.
package apdu

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/citycard/citycard"
)

// SW is a status word.
type SW uint16

// The status words of the e-purse application (ISO 7816-4, PBOC 2.0, CJ/T
// 166, JT/T 978).
const (
	SWOK                  SW = 0x9000 // success
	SWWarnFileInvalidated SW = 0x6283 // selected file invalidated (application blocked)
	SWWrongLength         SW = 0x6700 // wrong length (Lc or Le)
	SWSecurityStatus      SW = 0x6982 // security status not satisfied
	SWConditionsNotMet    SW = 0x6985 // conditions of use not satisfied (wrong order)
	SWIncorrectSMData     SW = 0x6988 // incorrect secure messaging data
	SWWrongData           SW = 0x6A80 // incorrect data field
	SWFuncNotSupported    SW = 0x6A81 // function not supported (application blocked)
	SWFileNotFound        SW = 0x6A82 // file or application not found
	SWRecordNotFound      SW = 0x6A83 // record not found
	SWWrongP1P2           SW = 0x6A86 // incorrect P1 P2
	SWWrongOffset         SW = 0x6B00 // wrong P1 P2: offset outside the file
	SWINSNotSupported     SW = 0x6D00 // instruction not supported
	SWCLANotSupported     SW = 0x6E00 // class not supported
	SWMACInvalid          SW = 0x9302 // MAC invalid
	SWAppLocked           SW = 0x9303 // application permanently locked
	SWInsufficientFunds   SW = 0x9401 // insufficient balance
	SWKeyIndexUnsupported SW = 0x9403 // key index (version) not supported
	SWMACNotAvailable     SW = 0x9406 // required MAC not available (no such transaction)
)

var swNames = map[SW]string{
	SWOK:                  "success",
	SWWarnFileInvalidated: "selected file invalidated (application blocked)",
	SWWrongLength:         "wrong length",
	SWSecurityStatus:      "security status not satisfied",
	SWConditionsNotMet:    "conditions of use not satisfied",
	SWIncorrectSMData:     "incorrect secure messaging data",
	SWWrongData:           "incorrect data",
	SWFuncNotSupported:    "function not supported",
	SWFileNotFound:        "file or application not found",
	SWRecordNotFound:      "record not found",
	SWWrongP1P2:           "incorrect P1 P2",
	SWWrongOffset:         "offset outside the file",
	SWINSNotSupported:     "instruction not supported",
	SWCLANotSupported:     "class not supported",
	SWMACInvalid:          "MAC invalid",
	SWAppLocked:           "application permanently locked",
	SWInsufficientFunds:   "insufficient balance",
	SWKeyIndexUnsupported: "key index not supported",
	SWMACNotAvailable:     "MAC not available",
}

// String gives "9000 success".
func (s SW) String() string {
	if n, ok := swNames[s]; ok {
		return fmt.Sprintf("%04X %s", uint16(s), n)
	}
	return fmt.Sprintf("%04X", uint16(s))
}

// Command is a short command APDU.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Le               int // -1: no Le; 0..256 (0 in the encoding means 256)
}

// Encode returns the APDU bytes: header, then Lc and data if any, then Le if
// any. It panics on data over 255 bytes, a programmer error.
func (c Command) Encode() []byte {
	if len(c.Data) > 255 {
		panic("apdu: command data over 255 bytes")
	}
	b := make([]byte, 0, 6+len(c.Data))
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le >= 0 {
		b = append(b, byte(c.Le))
	}
	return b
}

// ParseCommand decodes a short command APDU (cases 1 to 4). Kind Invalid,
// naming the length problem, for anything else; the card answers 6700.
func ParseCommand(b []byte) (Command, error) {
	const op = "apdu.ParseCommand"
	if len(b) < 4 {
		return Command{}, citycard.E(op, citycard.Invalid, "APDU of %d bytes: shorter than a header", len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3], Le: -1}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2
		c.Le = int(body[0])
	default:
		lc := int(body[0])
		if lc == 0 {
			return Command{}, citycard.E(op, citycard.Invalid, "Lc is 0 (extended length is not supported)")
		}
		switch len(body) {
		case 1 + lc: // case 3
		case 2 + lc: // case 4
			c.Le = int(body[1+lc])
		default:
			return Command{}, citycard.E(op, citycard.Invalid, "Lc %d does not match the %d bytes that follow it", lc, len(body)-1)
		}
		c.Data = body[1 : 1+lc]
	}
	if c.Le == 0 {
		c.Le = 256
	}
	return c, nil
}

// Response is a response APDU: data, then SW1 SW2.
type Response struct {
	Data []byte
	SW   SW
}

// Encode returns data || SW1 SW2.
func (r Response) Encode() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, byte(r.SW>>8), byte(r.SW))
}

// ParseResponse splits a response into data and SW. Kind Invalid if it is
// shorter than 2 bytes.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, citycard.E("apdu.ParseResponse", citycard.Invalid, "response of %d bytes: no status word", len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: SW(b[n])<<8 | SW(b[n+1])}, nil
}

// Transport sends one command APDU and returns the response APDU. An error
// means the exchange failed (the card left the field, lost power): no
// response was received.
type Transport interface {
	Transmit(cmd []byte) ([]byte, error)
}

// Hex formats bytes as spaced upper-case hex for traces: "80 50 01 02".
func Hex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	s := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(s[i : i+2])
	}
	return sb.String()
}
