package record

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// Status says how the terminal came by the record's TAC.
type Status uint8

// The statuses of a record.
const (
	StatusComplete  Status = 0 // the card answered DEBIT (or CREDIT) with its TAC
	StatusRecovered Status = 1 // the card tore; GET TRANSACTION PROOF gave the TAC later
	StatusGrey      Status = 2 // the card tore and the TAC was never recovered: TAC is zero
)

// Record is one transaction as a terminal stores and uploads it. The TAC
// proves the card's part (amount, type, terminal ID, terminal sequence,
// date, time); the record MAC, computed by the PSAM under its own key
// (the back office's record master key diversified by PSAM ID), covers
// every other field, so that nothing can be altered unnoticed.
type Record struct {
	Status Status
	Type   byte // citycard.TxPurchase, TxCompositePurchase, TxLoad or TxApplication (see application.go)

	// The card.
	Issuer        citycard.IssuerCode
	ASN           citycard.ASN
	CardType      uint8
	RiderCategory uint8
	Alg           keys.Alg // the card's algorithm id (00 3DES, 04 SM4)
	KeyVersion    uint8    // the card key version the transaction used
	Counter       uint16   // offline counter (purchases) or online counter (loads), as INITIALIZE returned it
	BalanceBefore uint32   // fen, as the card writes it: read it with BalanceBeforeFen
	Amount        uint32   // fen debited (or credited, for a load)

	// The terminal.
	TerminalID  citycard.TerminalID
	PSAMID      citycard.PSAMID
	TerminalSeq uint32 // the PSAM's terminal transaction sequence
	Date        citycard.BCDDate
	Time        citycard.BCDTime

	// Transit: where the tap happened and, for a tap-off, where the leg
	// began. Zero where the terminal has none (a POS).
	Network      uint16
	Line         uint32
	Station      uint32
	EntryLine    uint32
	EntryStation uint32
	EntryDate    citycard.BCDDate
	EntryTime    citycard.BCDTime
	Product      uint16 // fare product used; 0 = stored value
	FareFull     uint32 // the fare before discounts and transfers, fen

	TAC              [4]byte
	RecordKeyVersion uint8 // version of the record master key that sealed it
	RecordMAC        [4]byte
}

// BalanceBeforeFen is the balance before the transaction, in fen. A
// purchase may take a card below zero, into its overdraw limit, and the
// card then writes its balance in two's complement: the 4 bytes are a
// signed number (no card holds 2^31 fen, 21 million yuan).
func (r *Record) BalanceBeforeFen() int64 { return int64(int32(r.BalanceBefore)) }
