package card

import (
	"encoding/binary"
	"fmt"

	"github.com/citycard/citycard"
)

// Sizes of the e-purse application's files.
const (
	BasicDataLen = 32 // SFI 15h, the public basic data
	LogEntryLen  = 23 // one record of SFI 18h, the transaction log
	LogLen       = 10 // records SFI 18h keeps, the newest first
)

// The short file identifiers of the e-purse application.
const (
	SFIBasicData byte = 0x15
	SFITransit   byte = 0x17
	SFILog       byte = 0x18
)

// AppTypeEPurse is the application type byte of the basic data file.
const AppTypeEPurse byte = 0x01

// AppVersion is the application version the card writes in its basic data
// file and its FCI (tag 9F08).
const AppVersion byte = 0x01

// BasicData is the public basic data file (SFI 15h), 32 bytes:
//
//	issuer code (8) | application type (1) | application version (1) |
//	ASN (10, an 8-byte ASN right-aligned after 00 00) | start date (4) |
//	expiry date (4) | card type (1) | rider category (1) | profile (1) |
//	reserved (1)
type BasicData struct {
	Issuer        citycard.IssuerCode
	AppType       byte
	AppVersion    byte
	ASN           citycard.ASN
	Start         citycard.BCDDate
	Expiry        citycard.BCDDate
	CardType      uint8
	RiderCategory uint8
	Profile       Profile
}

// MarshalBinary returns the 32 bytes of the file; the reserved byte is 00.
// It never fails.
func (d BasicData) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, BasicDataLen)
	b = append(b, d.Issuer[:]...)
	b = append(b, d.AppType, d.AppVersion)
	b = append(b, d.ASN[:]...)
	b = append(b, d.Start[:]...)
	b = append(b, d.Expiry[:]...)
	b = append(b, d.CardType, d.RiderCategory, byte(d.Profile), 0)
	assertLen(b, BasicDataLen)
	return b, nil
}

// ParseBasicData decodes the 32-byte basic data file, as a terminal reads
// it. Kind Invalid, naming the field, for a wrong length, an unknown
// profile, an ASN whose length does not fit the profile or dates that are
// not BCD dates.
func ParseBasicData(b []byte) (BasicData, error) {
	const op = "card.ParseBasicData"
	var d BasicData
	if len(b) != BasicDataLen {
		return d, fieldErr(op, "basic data", "length", "%d bytes, want %d", len(b), BasicDataLen)
	}
	r := fields{b: b}
	r.copy(d.Issuer[:])
	d.AppType = r.u8()
	d.AppVersion = r.u8()
	r.copy(d.ASN[:])
	r.copy(d.Start[:])
	r.copy(d.Expiry[:])
	d.CardType = r.u8()
	d.RiderCategory = r.u8()
	d.Profile = Profile(r.u8())
	if !d.Profile.Valid() {
		return BasicData{}, fieldErr(op, "basic data", "profile", "%d is not 1, 2 or 3", d.Profile)
	}
	if (d.Profile.ASNLen() == 8) != d.ASN.Short() {
		return BasicData{}, fieldErr(op, "basic data", "ASN", "%v does not have the %d bytes of a %v card", d.ASN, d.Profile.ASNLen(), d.Profile)
	}
	if err := checkDateTime(op, "basic data", "start date", d.Start, citycard.BCDTime{}); err != nil {
		return BasicData{}, err
	}
	if err := checkDateTime(op, "basic data", "expiry date", d.Expiry, citycard.BCDTime{}); err != nil {
		return BasicData{}, err
	}
	return d, nil
}

// LogEntry is one record of the transaction log (SFI 18h), 23 bytes:
//
//	counter (2) | overdraw limit (3) | amount (4) | type (1) |
//	terminal ID (6) | date (4) | time (3)
//
// The counter is the one the transaction carried (INITIALIZE returned it):
// the online counter for a load, the offline counter for a purchase.
type LogEntry struct {
	Counter     uint16
	OverdrawFen uint32 // the card's overdraw limit then, at most FFFFFFh
	AmountFen   uint32
	Type        byte // citycard.TxLoad, citycard.TxPurchase or citycard.TxCompositePurchase
	Terminal    citycard.TerminalID
	Date        citycard.BCDDate
	Time        citycard.BCDTime
}

// MarshalBinary returns the 23-byte log record. Kind Invalid when the
// overdraw limit does not fit in 3 bytes.
func (e LogEntry) MarshalBinary() ([]byte, error) {
	if e.OverdrawFen > overdrawMaxFen {
		return nil, fieldErr("card.LogEntry.MarshalBinary", "log", "overdraw limit", "%d fen does not fit in 3 bytes", e.OverdrawFen)
	}
	b := make([]byte, 0, LogEntryLen)
	b = binary.BigEndian.AppendUint16(b, e.Counter)
	b = append(b, byte(e.OverdrawFen>>16), byte(e.OverdrawFen>>8), byte(e.OverdrawFen))
	b = binary.BigEndian.AppendUint32(b, e.AmountFen)
	b = append(b, e.Type)
	b = append(b, e.Terminal[:]...)
	b = append(b, e.Date[:]...)
	b = append(b, e.Time[:]...)
	assertLen(b, LogEntryLen)
	return b, nil
}

// ParseLogEntry decodes one 23-byte log record. Kind Invalid for a wrong
// length or an unknown transaction type. Date and time are not checked:
// the card writes what the terminal sent.
func ParseLogEntry(b []byte) (LogEntry, error) {
	const op = "card.ParseLogEntry"
	var e LogEntry
	if len(b) != LogEntryLen {
		return e, fieldErr(op, "log", "length", "%d bytes, want %d", len(b), LogEntryLen)
	}
	r := fields{b: b}
	e.Counter = r.u16()
	e.OverdrawFen = uint32(r.u8())<<16 | uint32(r.u16())
	e.AmountFen = r.u32()
	e.Type = r.u8()
	r.copy(e.Terminal[:])
	r.copy(e.Date[:])
	r.copy(e.Time[:])
	switch e.Type {
	case citycard.TxLoad, citycard.TxPurchase, citycard.TxCompositePurchase:
	default:
		return LogEntry{}, fieldErr(op, "log", "type", "%02X is not 02, 06 or 09", e.Type)
	}
	return e, nil
}

// fci builds the answer to SELECT: 6F { 84 AID, A5 { props } }.
func fci(aid []byte, props ...[]byte) []byte {
	var a5 []byte
	for _, p := range props {
		a5 = append(a5, p...)
	}
	inner := tlv([]byte{0x84}, aid)
	inner = append(inner, tlv([]byte{0xA5}, a5)...)
	return tlv([]byte{0x6F}, inner)
}

// tlv encodes one BER-TLV with a short length; values here are far under
// 128 bytes.
func tlv(tag, value []byte) []byte {
	if len(value) > 127 {
		panic(fmt.Sprintf("card: TLV value of %d bytes", len(value)))
	}
	b := append([]byte(nil), tag...)
	b = append(b, byte(len(value)))
	return append(b, value...)
}

// epurseFCI is the e-purse application's FCI: the AID, the application
// version (9F08) and, in the issuer discretionary data (BF0C), where the
// transaction log is (9F4D: SFI 18h, 10 records).
func epurseFCI(p Profile) []byte {
	return fci(p.AID(),
		tlv([]byte{0x9F, 0x08}, []byte{AppVersion}),
		tlv([]byte{0xBF, 0x0C}, tlv([]byte{0x9F, 0x4D}, []byte{SFILog, LogLen})),
	)
}

// bankFCI is the citizen card's bank application FCI: the AID, its label
// (50) and its priority (87).
func bankFCI() []byte {
	return fci(BankAID(),
		tlv([]byte{0x50}, []byte("CITIZEN DEBIT")),
		tlv([]byte{0x87}, []byte{0x01}),
	)
}
