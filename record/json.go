package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// MaxJSON bounds the length of a record's JSON form that DecodeJSON
// accepts. A record takes about 700 bytes; the rest is room for
// indentation.
const MaxJSON = 8 << 10

// jsonRecord is the JSON form as MarshalJSON writes it: the fields in
// layout order, named as in the layout.
type jsonRecord struct {
	Status           string `json:"status"`
	Type             string `json:"type"`
	Issuer           string `json:"issuer"`
	ASN              string `json:"asn"`
	CardType         uint8  `json:"card_type"`
	RiderCategory    uint8  `json:"rider_category"`
	Alg              string `json:"alg"`
	KeyVersion       uint8  `json:"key_version"`
	Counter          uint16 `json:"counter"`
	BalanceBefore    int64  `json:"balance_before"` // signed: below zero in the overdraw limit
	Amount           uint32 `json:"amount"`
	TerminalID       string `json:"terminal_id"`
	PSAMID           string `json:"psam_id"`
	TerminalSeq      uint32 `json:"terminal_seq"`
	Date             string `json:"date"`
	Time             string `json:"time"`
	Network          uint16 `json:"network"`
	Line             uint32 `json:"line"`
	Station          uint32 `json:"station"`
	EntryLine        uint32 `json:"entry_line"`
	EntryStation     uint32 `json:"entry_station"`
	EntryDate        string `json:"entry_date,omitempty"`
	EntryTime        string `json:"entry_time,omitempty"`
	Product          uint16 `json:"product"`
	FareFull         uint32 `json:"fare_full"`
	TAC              string `json:"tac"`
	RecordKeyVersion uint8  `json:"record_key_version"`
	RecordMAC        string `json:"record_mac"`
}

// typeNames are the JSON names of the transaction types.
var typeNames = map[byte]string{
	citycard.TxLoad:              "load",
	citycard.TxPurchase:          "purchase",
	citycard.TxCompositePurchase: "composite",
	citycard.TxApplication:       "application",
}

// TypeName gives the JSON name of a transaction type: "load", "purchase",
// "composite" or "application"; an unknown type prints as its hex id.
func TypeName(t byte) string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%02X)", t)
}

// MarshalJSON returns r's JSON form (see the package doc). Kind Invalid if
// r breaks a rule of the layout, so that nothing is written that
// DecodeJSON would refuse. It has a value receiver so that json.Marshal
// uses it for a Record as well as a *Record.
func (r Record) MarshalJSON() ([]byte, error) {
	if fe := r.validate(); fe != nil {
		fe.Offset = -1
		return nil, citycard.Wrap("record.Record.MarshalJSON", citycard.Invalid, fe)
	}
	j := jsonRecord{
		Status:           r.Status.String(),
		Type:             TypeName(r.Type),
		Issuer:           r.Issuer.String(),
		ASN:              r.ASN.String(),
		CardType:         r.CardType,
		RiderCategory:    r.RiderCategory,
		Alg:              r.Alg.String(),
		KeyVersion:       r.KeyVersion,
		Counter:          r.Counter,
		BalanceBefore:    r.BalanceBeforeFen(),
		Amount:           r.Amount,
		TerminalID:       r.TerminalID.String(),
		PSAMID:           r.PSAMID.String(),
		TerminalSeq:      r.TerminalSeq,
		Date:             formatDate(r.Date),
		Time:             formatTime(r.Time),
		Network:          r.Network,
		Line:             r.Line,
		Station:          r.Station,
		EntryLine:        r.EntryLine,
		EntryStation:     r.EntryStation,
		Product:          r.Product,
		FareFull:         r.FareFull,
		TAC:              fmt.Sprintf("%X", r.TAC[:]),
		RecordKeyVersion: r.RecordKeyVersion,
		RecordMAC:        fmt.Sprintf("%X", r.RecordMAC[:]),
	}
	// The entry time may be 00:00:00, so the entry date alone says
	// whether there is an entry (validate keeps a zero date's time zero).
	if r.EntryDate != (citycard.BCDDate{}) {
		j.EntryDate = formatDate(r.EntryDate)
		j.EntryTime = formatTime(r.EntryTime)
	}
	return json.Marshal(&j)
}

// UnmarshalJSON sets r from its JSON form as DecodeJSON does; r is
// unchanged on error. Kind Invalid.
func (r *Record) UnmarshalJSON(b []byte) error {
	d, err := DecodeJSON(b)
	if err != nil {
		return err
	}
	*r = d
	return nil
}

// DecodeJSON decodes a record's JSON form (see the package doc). It is
// strict, so that one record has one JSON spelling: one object and nothing
// after it, field names exactly as written (case matters), no unknown,
// duplicated or missing field (entry_date and entry_time are optional, and
// go together), numbers as plain integers in their field's range, ids and
// MACs in upper-case hex of their exact length, an 8-byte ASN as 16
// digits; then the rules of Validate. At most MaxJSON bytes. Every error
// is kind Invalid and names the JSON field (a *FieldError with Offset -1).
func DecodeJSON(b []byte) (Record, error) {
	r, err := decodeJSON(b)
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

// decodeJSON is DecodeJSON, but it may return a part of the record with
// an error.
func decodeJSON(b []byte) (Record, error) {
	const op = "record.DecodeJSON"
	var r Record
	if len(b) > MaxJSON {
		return r, citycard.E(op, citycard.Invalid, "JSON record of %d bytes, at most %d", len(b), MaxJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return r, citycard.E(op, citycard.Invalid, "not JSON: %v", err)
	}
	if tok != json.Delim('{') {
		return r, citycard.E(op, citycard.Invalid, "want a JSON object, have %s", describe(tok))
	}
	var seen uint64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, citycard.E(op, citycard.Invalid, "not JSON: %v", err)
		}
		name := tok.(string) // inside an object, the decoder yields only string keys here
		i := jsonFieldIndex(name)
		if i < 0 {
			return r, citycard.Wrap(op, citycard.Invalid, &FieldError{Field: name, Offset: -1, Reason: "unknown field"})
		}
		jf := &jsonFields[i]
		if seen&(1<<i) != 0 {
			return r, citycard.Wrap(op, citycard.Invalid, jf.err("given twice"))
		}
		seen |= 1 << i
		val, err := dec.Token()
		if err != nil {
			return r, citycard.Wrap(op, citycard.Invalid, jf.err("not JSON: %v", err))
		}
		if reason := jf.set(&r, val); reason != "" {
			return r, citycard.Wrap(op, citycard.Invalid, jf.err("%s", reason))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return r, citycard.E(op, citycard.Invalid, "not JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return r, citycard.E(op, citycard.Invalid, "after the object: %v", err)
		}
		return r, citycard.E(op, citycard.Invalid, "after the object: %s", describe(tok))
	}
	for i := range jsonFields {
		jf := &jsonFields[i]
		if !jf.optional && seen&(1<<i) == 0 {
			return r, citycard.Wrap(op, citycard.Invalid, jf.err("missing"))
		}
	}
	// Both or neither: an entry date alone would decode as an entry at
	// 00:00:00 and encode again with an entry_time the input did not have.
	hasDate, hasTime := seen&(1<<jsonEntryDate) != 0, seen&(1<<jsonEntryTime) != 0
	if hasDate != hasTime {
		if hasDate {
			return r, citycard.Wrap(op, citycard.Invalid, jsonFields[jsonEntryTime].err("missing while entry_date is given"))
		}
		return r, citycard.Wrap(op, citycard.Invalid, jsonFields[jsonEntryDate].err("missing while entry_time is given"))
	}
	if fe := r.validate(); fe != nil {
		fe.Offset = -1
		return r, citycard.Wrap(op, citycard.Invalid, fe)
	}
	return r, nil
}

// jsonField is one field of the JSON form and how to set it from a token.
type jsonField struct {
	name     string
	optional bool
	// set sets the field from a JSON token (json.Number, string, bool, nil
	// or json.Delim) and returns why it cannot, or "".
	set func(r *Record, v any) string
}

func (jf *jsonField) err(format string, args ...any) *FieldError {
	return &FieldError{Field: jf.name, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

// The indexes of the optional entry fields in jsonFields.
const (
	jsonEntryDate = 21
	jsonEntryTime = 22
)

// jsonFields lists the JSON form's fields in layout order; a field's index
// is its bit in DecodeJSON's set of fields seen.
var jsonFields = [...]jsonField{
	{name: fStatus.name, set: func(r *Record, v any) string {
		s, why := str(v)
		if why != "" {
			return why
		}
		for st := StatusComplete; st <= StatusGrey; st++ {
			if s == st.String() {
				r.Status = st
				return ""
			}
		}
		return fmt.Sprintf("%q is not complete, recovered or grey", s)
	}},
	{name: fType.name, set: func(r *Record, v any) string {
		s, why := str(v)
		if why != "" {
			return why
		}
		for t, n := range typeNames {
			if s == n {
				r.Type = t
				return ""
			}
		}
		return fmt.Sprintf("%q is not load, purchase, composite or application", s)
	}},
	{name: fIssuer.name, set: func(r *Record, v any) string { return hexInto(r.Issuer[:], v) }},
	{name: fASN.name, set: setASN},
	{name: fCardType.name, set: func(r *Record, v any) string { return uintInto(&r.CardType, v) }},
	{name: fRiderCategory.name, set: func(r *Record, v any) string { return uintInto(&r.RiderCategory, v) }},
	{name: fAlg.name, set: func(r *Record, v any) string {
		s, why := str(v)
		if why != "" {
			return why
		}
		switch s {
		case keys.Alg3DES.String():
			r.Alg = keys.Alg3DES
		case keys.AlgSM4.String():
			r.Alg = keys.AlgSM4
		default:
			return fmt.Sprintf("%q is not 3DES or SM4", s)
		}
		return ""
	}},
	{name: fKeyVersion.name, set: func(r *Record, v any) string { return uintInto(&r.KeyVersion, v) }},
	{name: fCounter.name, set: func(r *Record, v any) string { return uintInto(&r.Counter, v) }},
	{name: fBalanceBefore.name, set: func(r *Record, v any) string { return balanceInto(&r.BalanceBefore, v) }},
	{name: fAmount.name, set: func(r *Record, v any) string { return uintInto(&r.Amount, v) }},
	{name: fTerminalID.name, set: func(r *Record, v any) string { return hexInto(r.TerminalID[:], v) }},
	{name: fPSAMID.name, set: func(r *Record, v any) string { return hexInto(r.PSAMID[:], v) }},
	{name: fTerminalSeq.name, set: func(r *Record, v any) string { return uintInto(&r.TerminalSeq, v) }},
	{name: fDate.name, set: func(r *Record, v any) string { return dateInto(&r.Date, v) }},
	{name: fTime.name, set: func(r *Record, v any) string { return timeInto(&r.Time, v) }},
	{name: fNetwork.name, set: func(r *Record, v any) string { return uintInto(&r.Network, v) }},
	{name: fLine.name, set: func(r *Record, v any) string { return uintInto(&r.Line, v) }},
	{name: fStation.name, set: func(r *Record, v any) string { return uintInto(&r.Station, v) }},
	{name: fEntryLine.name, set: func(r *Record, v any) string { return uintInto(&r.EntryLine, v) }},
	{name: fEntryStation.name, set: func(r *Record, v any) string { return uintInto(&r.EntryStation, v) }},
	jsonEntryDate: {name: fEntryDate.name, optional: true, set: func(r *Record, v any) string { return dateInto(&r.EntryDate, v) }},
	jsonEntryTime: {name: fEntryTime.name, optional: true, set: func(r *Record, v any) string { return timeInto(&r.EntryTime, v) }},
	{name: fProduct.name, set: func(r *Record, v any) string { return uintInto(&r.Product, v) }},
	{name: fFareFull.name, set: func(r *Record, v any) string { return uintInto(&r.FareFull, v) }},
	{name: fTAC.name, set: func(r *Record, v any) string { return hexInto(r.TAC[:], v) }},
	{name: fRecordKeyVersion.name, set: func(r *Record, v any) string { return uintInto(&r.RecordKeyVersion, v) }},
	{name: fRecordMAC.name, set: func(r *Record, v any) string { return hexInto(r.RecordMAC[:], v) }},
}

func jsonFieldIndex(name string) int {
	for i := range jsonFields {
		if jsonFields[i].name == name {
			return i
		}
	}
	return -1
}

// describe names a JSON token's kind for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", rune(v))
	}
	return fmt.Sprintf("%T", v)
}

func str(v any) (string, string) {
	s, ok := v.(string)
	if !ok {
		return "", "want a string, have " + describe(v)
	}
	return s, ""
}

// uintInto parses a plain non-negative integer into *dst, whose type sets
// the range.
func uintInto[T uint8 | uint16 | uint32](dst *T, v any) string {
	n, ok := v.(json.Number)
	if !ok {
		return "want a number, have " + describe(v)
	}
	maxValue := uint64(^T(0))
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil || u > maxValue {
		return fmt.Sprintf("%s is not an integer from 0 to %d", n, maxValue)
	}
	*dst = T(u)
	return ""
}

// balanceInto parses a balance in fen, signed (see
// Record.BalanceBeforeFen), into its 4-byte two's complement form.
func balanceInto(dst *uint32, v any) string {
	n, ok := v.(json.Number)
	if !ok {
		return "want a number, have " + describe(v)
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
		return fmt.Sprintf("%s is not an integer from %d to %d", n, math.MinInt32, math.MaxInt32)
	}
	*dst = uint32(int32(i))
	return ""
}

// hexInto parses exactly 2*len(dst) upper-case hex digits into dst.
func hexInto(dst []byte, v any) string {
	s, why := str(v)
	if why != "" {
		return why
	}
	if len(s) != 2*len(dst) || !upperHex(s) {
		return fmt.Sprintf("%q is not %d upper-case hex digits", s, 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return err.Error() // unreachable after upperHex
	}
	return ""
}

// setASN parses an ASN as ASN.String writes it: 16 digits for an 8-byte
// ASN, 20 for a 10-byte one whose first two bytes are not both zero.
func setASN(r *Record, v any) string {
	s, why := str(v)
	if why != "" {
		return why
	}
	switch {
	case len(s) == 16 && upperHex(s):
		var a citycard.ASN
		hex.Decode(a[2:], []byte(s))
		r.ASN = a
		return ""
	case len(s) == 20 && upperHex(s):
		var a citycard.ASN
		hex.Decode(a[:], []byte(s))
		if a.Short() {
			return fmt.Sprintf("%q: write an 8-byte ASN as its 16 digits", s)
		}
		r.ASN = a
		return ""
	}
	return fmt.Sprintf("%q is not 16 or 20 upper-case hex digits", s)
}

func upperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// dateInto parses "YYYY-MM-DD" into a BCD date.
func dateInto(dst *citycard.BCDDate, v any) string {
	s, why := str(v)
	if why != "" {
		return why
	}
	var d citycard.BCDDate
	if !digitsBCD(d[:2], s, 0, 4) || !sep(s, 4, '-') || !digitsBCD(d[2:3], s, 5, 2) ||
		!sep(s, 7, '-') || !digitsBCD(d[3:], s, 8, 2) || len(s) != 10 || !validDate(d) {
		return fmt.Sprintf("%q is not a date YYYY-MM-DD", s)
	}
	*dst = d
	return ""
}

// timeInto parses "HH:MM:SS" into a BCD time.
func timeInto(dst *citycard.BCDTime, v any) string {
	s, why := str(v)
	if why != "" {
		return why
	}
	var t citycard.BCDTime
	if !digitsBCD(t[:1], s, 0, 2) || !sep(s, 2, ':') || !digitsBCD(t[1:2], s, 3, 2) ||
		!sep(s, 5, ':') || !digitsBCD(t[2:], s, 6, 2) || len(s) != 8 || !validTime(t) {
		return fmt.Sprintf("%q is not a time HH:MM:SS", s)
	}
	*dst = t
	return ""
}

// digitsBCD packs the n decimal digits of s at i into dst, two a byte.
func digitsBCD(dst []byte, s string, i, n int) bool {
	if i+n > len(s) {
		return false
	}
	for k := 0; k < n; k++ {
		c := s[i+k]
		if c < '0' || c > '9' {
			return false
		}
		if k%2 == 0 {
			dst[k/2] = (c - '0') << 4
		} else {
			dst[k/2] |= c - '0'
		}
	}
	return true
}

func sep(s string, i int, c byte) bool { return i < len(s) && s[i] == c }

// formatDate writes a BCD date as "YYYY-MM-DD". The date is valid, so each
// nibble is a digit.
func formatDate(d citycard.BCDDate) string {
	h := fmt.Sprintf("%X", d[:])
	return h[:4] + "-" + h[4:6] + "-" + h[6:]
}

// formatTime writes a BCD time as "HH:MM:SS".
func formatTime(t citycard.BCDTime) string {
	h := fmt.Sprintf("%X", t[:])
	return h[:2] + ":" + h[2:4] + ":" + h[4:]
}
