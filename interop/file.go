package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard"
)

// Limits of a file: every file, line and field has a bound.
const (
	Format       = "CCIC1" // the layout's name and version, the header's second field
	RecordsMax   = 1 << 21 // records in one file: 2,097,152
	LineLenMax   = 512     // bytes of one line, its \n excluded
	FileLenMax   = 1 << 30 // bytes of one file: RecordsMax lines of LineLenMax fit
	IDLenMax     = 64      // bytes of a file ID
	NameLenMax   = 96      // bytes of a city's name
	amountAbsMax = 1 << 52 // |sum of a file's amounts|: the header's and trailer's bound
)

// FileType is what a file carries. The names are the header's third
// field and are stored.
type FileType uint8

// The types of file. The list only grows at the end.
const (
	FileOutgoing  FileType = 1 // OUT: records of other cities' cards accepted here, sent for their issuers to verify: they owe us
	FileIncoming  FileType = 2 // INC: records of our cards accepted in other cities, for us to verify: we owe
	FileAnswer    FileType = 3 // ANS: the issuer's answer to each record of an OUT or INC file, accepted or rejected with a reason
	FileError     FileType = 4 // ERR: error records (差错): corrections of records settled before
	FileDispute   FileType = 5 // DSP: dispute records (争议): a settled record challenged, and the challenge's answer
	FileCities    FileType = 6 // CTY: the interconnected cities, added and removed with their effective dates
	FileBlacklist FileType = 7 // BLK: cards blacklisted (or no longer) by their issuer, with their effective dates
)

var fileTypeNames = [...]string{FileOutgoing: "OUT", FileIncoming: "INC", FileAnswer: "ANS", FileError: "ERR", FileDispute: "DSP", FileCities: "CTY", FileBlacklist: "BLK"}

// String returns the type's name in files (OUT, INC, ...).
func (k FileType) String() string {
	if k.valid() {
		return fileTypeNames[k]
	}
	return "file_type?"
}

func (k FileType) valid() bool { return int(k) < len(fileTypeNames) && fileTypeNames[k] != "" }

// ParseFileType parses a type's name. ok is false for none.
func ParseFileType(s string) (FileType, bool) {
	for i, n := range fileTypeNames {
		if n != "" && n == s {
			return FileType(i), true
		}
	}
	return 0, false
}

// Header is a file's first line: what it is, who sent it to whom, for
// which business day, and its totals (which the trailer repeats).
type Header struct {
	Type     FileType
	ID       string              // unique among all files: A-Z, 0-9 and '-', 1 to IDLenMax bytes
	Sender   citycard.IssuerCode // the institution (city clearing house) or the centre that wrote it
	Receiver citycard.IssuerCode
	Day      Day       // the business day it belongs to
	Created  time.Time // China time, whole seconds: for an exported file, the cycle's close time
	// Refers is the file it answers (ANS): an OUT or INC file's ID; ""
	// for the other types.
	Refers    string
	Records   int   // how many record lines follow
	AmountFen int64 // the sum of the records' amount fields (signed for error records)
}

// Day is a business day as files write it, YYYYMMDD: days since
// 1970-01-01, as clearing.Day.
type Day int32

// File is one interconnection file: its header and the records of its
// type, in line order (record i is on line i+2 and has Seq i+1).
type File struct {
	Header    Header
	Clearing  []Clearing   // OUT, INC
	Answers   []Answer     // ANS
	Errors    []Correction // ERR
	Disputes  []Dispute    // DSP
	Cities    []City       // CTY
	Blacklist []Listing    // BLK
}

// len returns how many records f holds, of its type.
func (f *File) len() int {
	switch f.Header.Type {
	case FileOutgoing, FileIncoming:
		return len(f.Clearing)
	case FileAnswer:
		return len(f.Answers)
	case FileError:
		return len(f.Errors)
	case FileDispute:
		return len(f.Disputes)
	case FileCities:
		return len(f.Cities)
	case FileBlacklist:
		return len(f.Blacklist)
	}
	return 0
}

// row is one record line's fields after R and its sequence number.
type row interface {
	fields() []string
	amount() int64
	// parse reads fs (as fields writes them) into the row, or returns
	// the name of the field at fault and why.
	parse(fs []string) (field string, err error)
}

// rows returns f's records as rows, in order.
func (f *File) rows() []row {
	out := make([]row, 0, f.len())
	switch f.Header.Type {
	case FileOutgoing, FileIncoming:
		for i := range f.Clearing {
			out = append(out, &f.Clearing[i])
		}
	case FileAnswer:
		for i := range f.Answers {
			out = append(out, &f.Answers[i])
		}
	case FileError:
		for i := range f.Errors {
			out = append(out, &f.Errors[i])
		}
	case FileDispute:
		for i := range f.Disputes {
			out = append(out, &f.Disputes[i])
		}
	case FileCities:
		for i := range f.Cities {
			out = append(out, &f.Cities[i])
		}
	case FileBlacklist:
		for i := range f.Blacklist {
			out = append(out, &f.Blacklist[i])
		}
	}
	return out
}

// newRow appends a zero record of f's type and returns it.
func (f *File) newRow() row {
	switch f.Header.Type {
	case FileOutgoing, FileIncoming:
		f.Clearing = append(f.Clearing, Clearing{})
		return &f.Clearing[len(f.Clearing)-1]
	case FileAnswer:
		f.Answers = append(f.Answers, Answer{})
		return &f.Answers[len(f.Answers)-1]
	case FileError:
		f.Errors = append(f.Errors, Correction{})
		return &f.Errors[len(f.Errors)-1]
	case FileDispute:
		f.Disputes = append(f.Disputes, Dispute{})
		return &f.Disputes[len(f.Disputes)-1]
	case FileCities:
		f.Cities = append(f.Cities, City{})
		return &f.Cities[len(f.Cities)-1]
	default:
		f.Blacklist = append(f.Blacklist, Listing{})
		return &f.Blacklist[len(f.Blacklist)-1]
	}
}

// headerFields names the header's fields, in order.
var headerFields = []string{"record", "format", "type", "file_id", "sender", "receiver", "day", "created", "refers", "records", "amount_fen"}

// trailerFields names the trailer's fields, in order.
var trailerFields = []string{"record", "records", "amount_fen", "sha256"}

// Encode returns f's bytes: the header, one line per record, and the
// trailer with the SHA-256 of every byte before it. It sets the header's
// Records and AmountFen from the records. The same file gives the same
// bytes. Kind Invalid for a field Decode would refuse (Encode checks its
// output by decoding it: what it writes, it reads).
func Encode(f *File) ([]byte, error) {
	const op = "interop.Encode"
	rows := f.rows()
	h := f.Header
	h.Records = len(rows)
	h.AmountFen = 0
	for _, r := range rows {
		h.AmountFen += r.amount()
	}
	var b bytes.Buffer
	writeLine(&b, "H", Format, h.Type.String(), h.ID, h.Sender.String(), h.Receiver.String(), dayString(h.Day),
		h.Created.In(citycard.ChinaTime).Format(dateTimeLayout), h.Refers, strconv.Itoa(h.Records), strconv.FormatInt(h.AmountFen, 10))
	for i, r := range rows {
		writeLine(&b, append([]string{lineKind(r), strconv.Itoa(i + 1)}, r.fields()...)...)
	}
	sum := sha256.Sum256(b.Bytes())
	writeLine(&b, "T", strconv.Itoa(h.Records), strconv.FormatInt(h.AmountFen, 10), hex.EncodeToString(sum[:]))
	if _, err := Decode(h.ID, b.Bytes()); err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	f.Header = h
	return b.Bytes(), nil
}

// lineKind returns the first field of r's line: G for a grey record
// confirmed on its balance (an OUT file's), R for every other record.
func lineKind(r row) string {
	if c, ok := r.(*Clearing); ok && c.Grey {
		return "G"
	}
	return "R"
}

func writeLine(b *bytes.Buffer, fs ...string) {
	for i, s := range fs {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(s)
	}
	b.WriteByte('\n')
}

// FieldError is what Decode refuses: the file, the line (from 1) and the
// field at fault, and why.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("file %s line %d field %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Decode reads a whole file, strictly: every line as the layout says
// (docs/interop.md), the header's and trailer's counts and sums those of
// the records, the trailer's SHA-256 that of the bytes before it, and
// nothing after the trailer. name is the file's name for errors. A file
// it refuses yields no records at all: kind Invalid, with a *FieldError
// (errors.As) naming the line and the field.
func Decode(name string, b []byte) (*File, error) {
	const op = "interop.Decode"
	f, ferr := decode(b)
	if ferr != nil {
		ferr.File = name
		return nil, citycard.Wrap(op, citycard.Invalid, ferr)
	}
	return f, nil
}

func decode(b []byte) (*File, *FieldError) {
	bad := func(line int, field, format string, args ...any) *FieldError {
		return &FieldError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) > FileLenMax {
		return nil, bad(0, "file", "%d bytes, at most %d", len(b), FileLenMax)
	}
	if len(b) == 0 {
		return nil, bad(1, "record", "an empty file: want a header")
	}
	if !utf8.Valid(b) {
		return nil, bad(lineOf(b, invalidUTF8At(b)), "file", "not UTF-8")
	}
	f := &File{}
	line, start := 0, 0
	var h *Header
	done := false
	want := 0 // the fields of a record line of the file's type
	for start < len(b) {
		line++
		end := bytes.IndexByte(b[start:], '\n')
		if end < 0 {
			return nil, bad(line, "record", "no line end: the file is truncated")
		}
		l := b[start : start+end]
		if done {
			return nil, bad(line, "record", "a line after the trailer")
		}
		if len(l) > LineLenMax {
			return nil, bad(line, "record", "%d bytes, at most %d", len(l), LineLenMax)
		}
		if i := bytes.IndexFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7F }); i >= 0 {
			return nil, bad(line, "record", "control character %q at byte %d", l[i], i+1)
		}
		fs := strings.Split(string(l), "|")
		switch {
		case line == 1:
			hh, fe := parseHeader(fs)
			if fe != nil {
				fe.Line = 1
				return nil, fe
			}
			h = &hh
			f.Header = hh
		case fs[0] == "G" && h.Type != FileOutgoing:
			return nil, bad(line, "record", "G (a grey record confirmed on its balance) in a %v file: only an OUT file sends one", h.Type)
		case fs[0] == "R" || fs[0] == "G":
			n := f.len()
			if n >= h.Records {
				return nil, bad(line, "record", "record %d past the %d the header counts", n+1, h.Records)
			}
			r := f.newRow()
			if fs[0] == "G" {
				f.Clearing[n].Grey = true
			}
			if want == 0 {
				want = len(r.fields()) + 2
			}
			if len(fs) != want {
				return nil, bad(line, "record", "%d fields, want %d for a %v record", len(fs), want, h.Type)
			}
			if fs[1] != strconv.Itoa(n+1) {
				return nil, bad(line, "seq", "%q, want %d: records are numbered from 1 in order", fs[1], n+1)
			}
			if field, err := r.parse(fs[2:]); err != nil {
				return nil, bad(line, field, "%v", err)
			}
		case fs[0] == "T":
			if fe := checkTrailer(fs, f, b[:start]); fe != nil {
				fe.Line = line
				return nil, fe
			}
			done = true
		default:
			return nil, bad(line, "record", "%q: want R (a record), G (an OUT file's grey record) or T (the trailer)", fs[0])
		}
		start += end + 1
	}
	if !done {
		return nil, bad(line+1, "record", "no trailer: the file is truncated after %d of %d records", f.len(), h.Records)
	}
	return f, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func lineOf(b []byte, at int) int { return bytes.Count(b[:at], []byte{'\n'}) + 1 }

func parseHeader(fs []string) (Header, *FieldError) {
	bad := func(field, format string, args ...any) (Header, *FieldError) {
		return Header{}, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if fs[0] != "H" {
		return bad("record", "%q: want H, the header", fs[0])
	}
	if len(fs) != len(headerFields) {
		return bad("record", "%d fields, want %d in a header", len(fs), len(headerFields))
	}
	if fs[1] != Format {
		return bad("format", "%q, want %s", fs[1], Format)
	}
	var h Header
	var ok bool
	if h.Type, ok = ParseFileType(fs[2]); !ok {
		return bad("type", "%q: want one of OUT, INC, ANS, ERR, DSP, CTY, BLK", fs[2])
	}
	if err := checkID(fs[3]); err != nil {
		return bad("file_id", "%v", err)
	}
	h.ID = fs[3]
	var err error
	if h.Sender, err = parseIssuer(fs[4]); err != nil {
		return bad("sender", "%v", err)
	}
	if h.Receiver, err = parseIssuer(fs[5]); err != nil {
		return bad("receiver", "%v", err)
	}
	if h.Day, err = parseDay(fs[6]); err != nil {
		return bad("day", "%v", err)
	}
	if h.Created, err = parseDateTime(fs[7]); err != nil {
		return bad("created", "%v", err)
	}
	switch {
	case h.Type == FileAnswer:
		if err := checkID(fs[8]); err != nil {
			return bad("refers", "an answer names the file it answers: %v", err)
		}
	case fs[8] != "":
		return bad("refers", "%q: only an answer refers to a file", fs[8])
	}
	h.Refers = fs[8]
	if h.Records, err = parseUint(fs[9], RecordsMax); err != nil {
		return bad("records", "%v", err)
	}
	if h.AmountFen, err = parseInt(fs[10], amountAbsMax); err != nil {
		return bad("amount_fen", "%v", err)
	}
	return h, nil
}

// checkTrailer checks the trailer fs of f against its records and the
// SHA-256 of before, the bytes before it.
func checkTrailer(fs []string, f *File, before []byte) *FieldError {
	bad := func(field, format string, args ...any) *FieldError {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(fs) != len(trailerFields) {
		return bad("record", "%d fields, want %d in a trailer", len(fs), len(trailerFields))
	}
	h := &f.Header
	n, err := parseUint(fs[1], RecordsMax)
	if err != nil {
		return bad("records", "%v", err)
	}
	if got := f.len(); n != h.Records || got != h.Records {
		return bad("records", "%d, the header counts %d, the file holds %d", n, h.Records, got)
	}
	amount, err := parseInt(fs[2], amountAbsMax)
	if err != nil {
		return bad("amount_fen", "%v", err)
	}
	var sum int64
	for _, r := range f.rows() {
		sum += r.amount()
	}
	if amount != h.AmountFen || sum != h.AmountFen {
		return bad("amount_fen", "%d, the header sums %d, the records %d", amount, h.AmountFen, sum)
	}
	want := sha256.Sum256(before)
	if fs[3] != hex.EncodeToString(want[:]) {
		return bad("sha256", "%q is not the SHA-256 of the lines before the trailer: the file was altered or cut", fs[3])
	}
	return nil
}

// Hash returns the SHA-256 of a file's bytes, lower-case hex: what makes a
// second import of the same file a no-op and of another file under the
// same ID a conflict.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkID checks a file ID: 1 to IDLenMax bytes of A-Z, 0-9 and '-'.
func checkID(s string) error {
	if s == "" || len(s) > IDLenMax {
		return fmt.Errorf("%q: want 1 to %d characters", s, IDLenMax)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%q: byte %q: want A-Z, 0-9 and '-'", s, c)
		}
	}
	return nil
}

const (
	dayLayout      = "20060102"
	dateTimeLayout = "20060102150405"
)

func dayString(d Day) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(dayLayout)
}

// String returns YYYYMMDD.
func (d Day) String() string { return dayString(d) }

func parseDay(s string) (Day, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil || len(s) != 8 || t.Year() < 2000 || t.Year() > 2099 {
		return 0, fmt.Errorf("%q: want YYYYMMDD, 2000 to 2099", s)
	}
	return Day(t.Unix() / 86400), nil
}

func parseDateTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation(dateTimeLayout, s, citycard.ChinaTime)
	if err != nil || len(s) != 14 || t.Year() < 2000 || t.Year() > 2099 {
		return time.Time{}, fmt.Errorf("%q: want YYYYMMDDhhmmss, 2000 to 2099", s)
	}
	return t, nil
}

// parseUint parses a decimal in 0..max, canonical (no sign, no leading
// zero): so that a file decoded and encoded again is the same bytes.
func parseUint(s string, max int) (int, error) {
	v, err := parseInt(s, int64(max))
	if err == nil && v < 0 {
		err = fmt.Errorf("%q: want 0 to %d", s, max)
	}
	return int(v), err
}

// parseInt parses a canonical decimal with |v| <= max.
func parseInt(s string, max int64) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != s || v > max || v < -max {
		return 0, fmt.Errorf("%q: want a decimal from -%d to %d, no leading zeros", s, max, max)
	}
	return v, nil
}

// parseHex parses exactly len(dst) bytes of upper-case hex.
func parseHex(s string, dst []byte) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%q: want %d upper-case hex digits", s, 2*len(dst))
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("%q: want %d upper-case hex digits", s, 2*len(dst))
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

// unhex reads one upper-case hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func parseIssuer(s string) (citycard.IssuerCode, error) {
	var c citycard.IssuerCode
	return c, parseHex(s, c[:])
}

func parseASN(s string) (citycard.ASN, error) {
	var a citycard.ASN
	if err := parseHex(s, a[:]); err != nil {
		return a, err
	}
	if a == (citycard.ASN{}) {
		return a, fmt.Errorf("%q: a zero ASN names no card", s)
	}
	return a, nil
}

func hexOf(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
