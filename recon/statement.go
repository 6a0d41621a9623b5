package recon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// Limits of a bank statement, each tested at its boundary. The lengths
// are ISO 20022's: Max35Text for identifiers, Max34Text for an account,
// Max140Text for a line of remittance information, Max500Text for the
// additional information of an entry.
const (
	FileBytesMax    = 8 << 20 // one statement file
	MovementsMax    = 10000   // movements in one statement
	PartsMax        = 1000    // transaction details of one movement
	PartsTotalMax   = 50000   // transaction details of one statement
	IDLenMax        = 35      // a statement, message, entry or end-to-end ID
	AccountLenMax   = 34      // the account the statement is of
	RemittanceMax   = 140     // one line of remittance information
	RemittanceLines = 10      // lines of remittance information of one detail
	InfoLenMax      = 500     // an entry's additional information
	// AmountFenMax is the largest amount of one movement or detail: 10^14
	// fen (a thousand billion yuan), so that the sum of a statement's
	// MovementsMax amounts stays far inside int64.
	AmountFenMax int64 = 1e14
)

// Format is the form of a statement file.
type Format uint8

// The formats of the bank's statement: ISO 20022 camt.053 and the CSV
// form README.md describes.
const (
	CAMT053 Format = iota + 1
	CSV
)

var formatNames = [...]string{CAMT053: "camt053", CSV: "csv"}

func (f Format) String() string {
	if int(f) < len(formatNames) && formatNames[f] != "" {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat parses "camt053" or "csv". Kind Invalid.
func ParseFormat(s string) (Format, error) {
	for f, n := range formatNames {
		if n != "" && n == s {
			return Format(f), nil
		}
	}
	return 0, citycard.E("recon.ParseFormat", citycard.Invalid, "format %q: want camt053 or csv", s)
}

// Direction says which way a movement moved money on the collector's
// account.
type Direction uint8

// Debit is money out (the collector paying a party: what a settlement
// instruction asks for), Credit money in. Their names are camt.053's
// CdtDbtInd codes.
const (
	Debit Direction = iota + 1
	Credit
)

func (d Direction) String() string {
	switch d {
	case Debit:
		return "DBIT"
	case Credit:
		return "CRDT"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// ParseDirection parses DBIT or CRDT. Kind Invalid.
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "DBIT":
		return Debit, nil
	case "CRDT":
		return Credit, nil
	}
	return 0, citycard.E("recon.ParseDirection", citycard.Invalid, "%q: want DBIT or CRDT", s)
}

// BankStatement is one statement of the collector's account as the bank
// sent it (camt.053's Stmt, or the CSV form): the movements it booked.
type BankStatement struct {
	ID        string // the bank's statement ID (Stmt/Id): one import per ID
	MessageID string // camt.053's GrpHdr/MsgId; "" in the CSV form
	Account   string // the account it is of
	Format    Format
	SHA256    string // lower-case hex of the file's bytes: the same file twice is one import
	Movements []Movement
}

// Movement is one booking on the account (camt.053's Ntry): money in or
// out, on a booking day, with what the bank says of it. A batch booking
// (one movement paying several instructions) has one Part per payment.
type Movement struct {
	ID        int64 // the store's, 0 before it is stored
	Statement string
	Seq       int // its rank in the statement, from 1
	Direction Direction
	AmountFen int64        // > 0
	Booked    clearing.Day // BookgDt
	Value     clearing.Day // ValDt; Booked where the bank gave none
	BankRef   string       // AcctSvcrRef (the CSV's entry)
	Info      string       // AddtlNtryInf
	Parts     []Part       // NtryDtls/TxDtls, in the file's order
	Match     int64        // the match that took it; 0 while unmatched
}

// Part is one transaction detail of a movement (TxDtls): the references
// of one payment. AmountFen is the detail's amount; a movement of one
// detail that gives none has its movement's.
type Part struct {
	EndToEndID    string `json:"end_to_end_id,omitempty"` // Refs/EndToEndId; "" for none or NOTPROVIDED
	MessageID     string `json:"message_id,omitempty"`    // Refs/MsgId
	PaymentInfoID string `json:"payment_info_id,omitempty"`
	AmountFen     int64  `json:"amount_fen"`
	Remittance    string `json:"remittance,omitempty"` // RmtInf/Ustrd, lines joined by a space
}

// Texts returns the texts m carries that may name what it pays: its
// parts' references and remittance information, its bank reference and
// information.
func (m *Movement) Texts() []string {
	out := make([]string, 0, 2+4*len(m.Parts))
	for _, p := range m.Parts {
		out = append(out, p.EndToEndID, p.MessageID, p.PaymentInfoID, p.Remittance)
	}
	return append(out, m.BankRef, m.Info)
}

// hashOf returns the lower-case hex SHA-256 of data.
func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ParseYuan reads an amount in yuan, as ISO 20022 and the banks' CSV write
// it ("1234.56", "7", "0.5"), exactly into fen: digits, then at most two
// decimals after a point; no sign, exponent, space or thousands
// separator; at most AmountFenMax. Never through a float. Kind Invalid.
func ParseYuan(s string) (int64, error) {
	fen, why := yuan(s)
	if why != "" {
		return 0, citycard.E("recon.ParseYuan", citycard.Invalid, "amount %q: %s", clip(s), why)
	}
	return fen, nil
}

// yuan is ParseYuan, with why it refused s ("" if it did not).
func yuan(s string) (int64, string) {
	whole, frac, point := strings.Cut(s, ".")
	switch {
	case whole == "":
		return 0, "want digits before the point"
	case point && frac == "":
		return 0, "want digits after the point"
	case len(frac) > 2:
		return 0, "more than two decimals: CNY has fen, no smaller unit"
	}
	tooMuch := fmt.Sprintf("more than %s yuan", citycard.Yuan(AmountFenMax))
	var fen int64
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, "want digits and at most one point"
			}
			if fen > AmountFenMax {
				return 0, tooMuch
			}
			fen = fen*10 + int64(c-'0')
		}
	}
	for i := len(frac); i < 2; i++ {
		fen *= 10 // at most 10^15 before: no overflow
	}
	if fen > AmountFenMax {
		return 0, tooMuch
	}
	return fen, ""
}

// clip cuts s for an error message: a corrupt file's field may be long.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// checkText refuses a text field longer than max characters, not UTF-8,
// or holding a control character: what an error of a parser says is the
// field's.
func checkText(s string, max int, required bool) string {
	switch {
	case required && s == "":
		return "missing"
	case !utf8.ValidString(s):
		return "not UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("%d characters, at most %d", utf8.RuneCountInString(s), max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("control character %U", r)
		}
	}
	return ""
}
