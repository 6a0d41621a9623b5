package record

import (
	"encoding/binary"
	"fmt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// Size is the length in bytes of a record in binary layout v1.
const Size = 104

// Version is the binary layout version this package writes and reads.
const Version = 1

// macDataSize is the length of the bytes the record MAC covers: every byte
// before the MAC.
const macDataSize = Size - 4

// MaxStream bounds the records DecodeStream accepts in one call (about
// 104 MiB): a terminal batch holds thousands, so a larger input is a
// mistake or an attack, and the caller splits honest bulk files.
const MaxStream = 1 << 20

// The magic bytes that open every record: "CR", for citycard record.
const (
	magic0 = 'C'
	magic1 = 'R'
)

// field is one field of the binary layout: its name (the same as in the
// JSON form), its offset and its size. The table is the layout; the
// encoder, the decoder and the error messages all follow it.
type field struct {
	name   string
	offset int
	size   int
}

// The fields of layout v1 in order. Each offset is the previous offset plus
// the previous size; TestLayoutTable checks it.
var (
	fMagic            = field{"magic", 0, 2}
	fVersion          = field{"version", 2, 1}
	fStatus           = field{"status", 3, 1}
	fType             = field{"type", 4, 1}
	fIssuer           = field{"issuer", 5, 8}
	fASN              = field{"asn", 13, 10}
	fCardType         = field{"card_type", 23, 1}
	fRiderCategory    = field{"rider_category", 24, 1}
	fAlg              = field{"alg", 25, 1}
	fKeyVersion       = field{"key_version", 26, 1}
	fCounter          = field{"counter", 27, 2}
	fBalanceBefore    = field{"balance_before", 29, 4}
	fAmount           = field{"amount", 33, 4}
	fTerminalID       = field{"terminal_id", 37, 6}
	fPSAMID           = field{"psam_id", 43, 10}
	fTerminalSeq      = field{"terminal_seq", 53, 4}
	fDate             = field{"date", 57, 4}
	fTime             = field{"time", 61, 3}
	fNetwork          = field{"network", 64, 2}
	fLine             = field{"line", 66, 4}
	fStation          = field{"station", 70, 4}
	fEntryLine        = field{"entry_line", 74, 4}
	fEntryStation     = field{"entry_station", 78, 4}
	fEntryDate        = field{"entry_date", 82, 4}
	fEntryTime        = field{"entry_time", 86, 3}
	fProduct          = field{"product", 89, 2}
	fFareFull         = field{"fare_full", 91, 4}
	fTAC              = field{"tac", 95, 4}
	fRecordKeyVersion = field{"record_key_version", 99, 1}
	fRecordMAC        = field{"record_mac", 100, 4}
)

// layout lists the fields in order, for tests and documentation.
var layout = []field{
	fMagic, fVersion, fStatus, fType, fIssuer, fASN, fCardType,
	fRiderCategory, fAlg, fKeyVersion, fCounter, fBalanceBefore, fAmount,
	fTerminalID, fPSAMID, fTerminalSeq, fDate, fTime, fNetwork, fLine,
	fStation, fEntryLine, fEntryStation, fEntryDate, fEntryTime, fProduct,
	fFareFull, fTAC, fRecordKeyVersion, fRecordMAC,
}

// AppendBinary appends r in binary layout v1 (Size bytes) to b and returns
// the extended slice. It does not validate r: it is the PSAM's and the
// terminal's fast path, and MarshalBinary is the checked one. It allocates
// only when b lacks room.
func (r *Record) AppendBinary(b []byte) []byte {
	b = r.appendMACData(b)
	return append(b, r.RecordMAC[:]...)
}

// appendMACData appends the first macDataSize bytes of the layout.
func (r *Record) appendMACData(b []byte) []byte {
	b = append(b, magic0, magic1, Version, byte(r.Status), r.Type)
	b = append(b, r.Issuer[:]...)
	b = append(b, r.ASN[:]...)
	b = append(b, r.CardType, r.RiderCategory, byte(r.Alg), r.KeyVersion)
	b = binary.BigEndian.AppendUint16(b, r.Counter)
	b = binary.BigEndian.AppendUint32(b, r.BalanceBefore)
	b = binary.BigEndian.AppendUint32(b, r.Amount)
	b = append(b, r.TerminalID[:]...)
	b = append(b, r.PSAMID[:]...)
	b = binary.BigEndian.AppendUint32(b, r.TerminalSeq)
	b = append(b, r.Date[:]...)
	b = append(b, r.Time[:]...)
	b = binary.BigEndian.AppendUint16(b, r.Network)
	b = binary.BigEndian.AppendUint32(b, r.Line)
	b = binary.BigEndian.AppendUint32(b, r.Station)
	b = binary.BigEndian.AppendUint32(b, r.EntryLine)
	b = binary.BigEndian.AppendUint32(b, r.EntryStation)
	b = append(b, r.EntryDate[:]...)
	b = append(b, r.EntryTime[:]...)
	b = binary.BigEndian.AppendUint16(b, r.Product)
	b = binary.BigEndian.AppendUint32(b, r.FareFull)
	b = append(b, r.TAC[:]...)
	return append(b, r.RecordKeyVersion)
}

// MACData returns the bytes the record MAC covers: the first Size-4 bytes
// of the binary layout, every byte before the MAC itself (the TAC and the
// record key version included). The PSAM computes its MAC (APDU 80FA) over
// exactly these bytes.
func (r *Record) MACData() []byte {
	return r.appendMACData(make([]byte, 0, macDataSize))
}

// MarshalBinary returns r in binary layout v1. Kind Invalid if r breaks a
// rule of the layout (see Validate): what it writes, DecodeBinary reads.
func (r *Record) MarshalBinary() ([]byte, error) {
	if fe := r.validate(); fe != nil {
		return nil, citycard.Wrap("record.Record.MarshalBinary", citycard.Invalid, fe)
	}
	return r.AppendBinary(make([]byte, 0, Size)), nil
}

// UnmarshalBinary sets r from b as DecodeBinary does; r is unchanged on
// error. Kind Invalid.
func (r *Record) UnmarshalBinary(b []byte) error {
	d, err := DecodeBinary(b)
	if err != nil {
		return err
	}
	*r = d
	return nil
}

// DecodeBinary decodes one record in binary layout v1. It is strict: b must
// be exactly Size bytes, open with "CR" and version 1, and every field must
// keep the rules of Validate. Every error is kind Invalid and names the
// field and its offset (a *FieldError in the chain), so that a rejection
// says what was wrong.
func DecodeBinary(b []byte) (Record, error) {
	const op = "record.DecodeBinary"
	var r Record
	if len(b) != Size {
		return r, citycard.E(op, citycard.Invalid, "record of %d bytes, want %d", len(b), Size)
	}
	if b[0] != magic0 || b[1] != magic1 {
		return r, citycard.Wrap(op, citycard.Invalid, fieldErr(fMagic, "%02X%02X is not \"CR\" (4352)", b[0], b[1]))
	}
	if b[2] != Version {
		return r, citycard.Wrap(op, citycard.Invalid, fieldErr(fVersion, "layout version %d, want %d", b[2], Version))
	}
	r.Status = Status(b[fStatus.offset])
	r.Type = b[fType.offset]
	copy(r.Issuer[:], b[fIssuer.offset:])
	copy(r.ASN[:], b[fASN.offset:])
	r.CardType = b[fCardType.offset]
	r.RiderCategory = b[fRiderCategory.offset]
	r.Alg = keys.Alg(b[fAlg.offset])
	r.KeyVersion = b[fKeyVersion.offset]
	r.Counter = binary.BigEndian.Uint16(b[fCounter.offset:])
	r.BalanceBefore = binary.BigEndian.Uint32(b[fBalanceBefore.offset:])
	r.Amount = binary.BigEndian.Uint32(b[fAmount.offset:])
	copy(r.TerminalID[:], b[fTerminalID.offset:])
	copy(r.PSAMID[:], b[fPSAMID.offset:])
	r.TerminalSeq = binary.BigEndian.Uint32(b[fTerminalSeq.offset:])
	copy(r.Date[:], b[fDate.offset:])
	copy(r.Time[:], b[fTime.offset:])
	r.Network = binary.BigEndian.Uint16(b[fNetwork.offset:])
	r.Line = binary.BigEndian.Uint32(b[fLine.offset:])
	r.Station = binary.BigEndian.Uint32(b[fStation.offset:])
	r.EntryLine = binary.BigEndian.Uint32(b[fEntryLine.offset:])
	r.EntryStation = binary.BigEndian.Uint32(b[fEntryStation.offset:])
	copy(r.EntryDate[:], b[fEntryDate.offset:])
	copy(r.EntryTime[:], b[fEntryTime.offset:])
	r.Product = binary.BigEndian.Uint16(b[fProduct.offset:])
	r.FareFull = binary.BigEndian.Uint32(b[fFareFull.offset:])
	copy(r.TAC[:], b[fTAC.offset:])
	r.RecordKeyVersion = b[fRecordKeyVersion.offset]
	copy(r.RecordMAC[:], b[fRecordMAC.offset:])
	if fe := r.validate(); fe != nil {
		return Record{}, citycard.Wrap(op, citycard.Invalid, fe)
	}
	return r, nil
}

// DecodeStream decodes a concatenation of records in binary layout v1, as
// a terminal uploads a batch. It is all or nothing: one bad record fails
// the call, and the error (kind Invalid) names the record's index and the
// byte where it starts. An empty b gives an empty, non-nil slice. At most
// MaxStream records.
func DecodeStream(b []byte) ([]Record, error) {
	const op = "record.DecodeStream"
	if len(b)%Size != 0 {
		n := len(b) / Size
		return nil, citycard.E(op, citycard.Invalid, "record %d at byte %d: %d trailing bytes, want %d per record", n, n*Size, len(b)%Size, Size)
	}
	n := len(b) / Size
	if n > MaxStream {
		return nil, citycard.E(op, citycard.Invalid, "%d records in one stream, at most %d", n, MaxStream)
	}
	out := make([]Record, n)
	for i := range out {
		r, err := DecodeBinary(b[i*Size : (i+1)*Size])
		if err != nil {
			return nil, citycard.E(op, citycard.Invalid, "record %d at byte %d: %w", i, i*Size, err)
		}
		out[i] = r
	}
	return out, nil
}

// FieldError says which field of a record broke a rule. Decoders and
// Validate return it wrapped in a *citycard.Error of kind Invalid; the
// acquirer can keep Field as the reason code of a rejection.
type FieldError struct {
	Field  string // the field's name, as in the JSON form: "date", "tac"
	Offset int    // its offset in the binary layout, or -1 in the JSON form
	Reason string
}

// Error says "field date at offset 57: 20261332 is not a date", or in the
// JSON form "field \"date\": ...".
func (e *FieldError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("field %q: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("field %s at offset %d: %s", e.Field, e.Offset, e.Reason)
}

func fieldErr(f field, format string, args ...any) *FieldError {
	return &FieldError{Field: f.name, Offset: f.offset, Reason: fmt.Sprintf(format, args...)}
}

// AmountOf returns the amount field of a record in the binary layout
// without decoding it, for header totals: the sum a terminal declares for
// a batch and the back office checks. ok is false when b is too short to
// hold the field.
func AmountOf(b []byte) (fen uint32, ok bool) {
	if len(b) < fAmount.offset+fAmount.size {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[fAmount.offset:]), true
}
