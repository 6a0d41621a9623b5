package interop

import (
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

// The stores' rows (migrations 0014 and 0037): the columns in the order the
// scanners and the Args methods take them, so that the two stores differ
// only in their SQL's placeholders. Identifiers are upper-case hex,
// states and file types by name, reasons by code, times in Unix nanoseconds.
const (
	FileColumns       = `id, file_type, sent, sha256, day, sender, receiver, refers, records, amount_fen, body, at_ns, taken_day`
	RecColumns        = `file_id, seq, out, issuer, asn, counter, amount_fen, acquirer, terminal_type, product, card_type, state, reason, answered_by, grey_pos`
	CorrectionColumns = `file_id, seq, file_type, ref_file, ref_seq, stage, amount_fen, reason, issuer, acquirer, out, product, card_type, terminal_type`
	CityColumns       = `file_id, seq, city, institution, added, announced, effective, name`
	ListingColumns    = `file_id, seq, issuer, asn, added, reason, effective`
)

// Scanner is a row to scan: *sql.Row, *sql.Rows, pgx's rows.
type Scanner interface{ Scan(dst ...any) error }

// Rows are rows to scan one after the other: *sql.Rows, pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Each calls fn with each row of rows scanned by scan, until fn or scan
// fails; the stores' reads of many rows.
func Each[T any](rows Rows, scan func(Scanner) (T, error), fn func(*T) error) error {
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if err := fn(&v); err != nil {
			return err
		}
	}
	return rows.Err()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Args returns s's columns (FileColumns) as arguments.
func (s *Stored) Args() []any {
	var taken any
	if s.TakenBy != 0 {
		taken = int64(s.TakenBy)
	}
	return []any{s.ID, s.Type.String(), boolInt(s.Sent), s.SHA256, int64(s.Day), s.Sender.String(), s.Receiver.String(), s.Refers,
		int64(s.Records), s.AmountFen, s.Body, s.At.UnixNano(), taken}
}

// ScanFile scans a row of FileColumns (body may be selected as NULL).
// Kind IO for a row that does not read.
func ScanFile(row Scanner) (Stored, error) {
	var s Stored
	var typ, sender, receiver string
	var sent, day, records, atNs int64
	var taken *int64 // NULL for none
	if err := row.Scan(&s.ID, &typ, &sent, &s.SHA256, &day, &sender, &receiver, &s.Refers, &records, &s.AmountFen, &s.Body, &atNs, &taken); err != nil {
		return s, err
	}
	var ok bool
	var err, err2 error
	s.Type, ok = ParseFileType(typ)
	s.Sender, err = citycard.ParseIssuerCode(sender)
	s.Receiver, err2 = citycard.ParseIssuerCode(receiver)
	if !ok || err != nil || err2 != nil {
		return Stored{}, citycard.E("interop.ScanFile", citycard.IO, "file %s: stored row (typ %q, sender %q, receiver %q) does not read", s.ID, typ, sender, receiver)
	}
	s.Sent, s.Day, s.Records, s.At = sent == 1, Day(day), int(records), time.Unix(0, atNs).UTC()
	if taken != nil {
		s.TakenBy = clearing.Day(*taken)
	}
	return s, nil
}

// Args returns r's columns (RecColumns) as arguments.
func (r *Rec) Args() []any {
	return []any{r.File, int64(r.Seq), boolInt(r.Out), r.Issuer.String(), hexOf(r.ASN[:]), int64(r.Counter), r.AmountFen, r.Acquirer,
		int64(r.TerminalType), int64(r.Product), int64(r.CardType), r.State.String(), int64(r.Reason), r.AnsweredBy, r.GreyPos}
}

// ScanRec scans a row of RecColumns. Kind IO for a row that does not
// read.
func ScanRec(row Scanner) (Rec, error) {
	var r Rec
	var seq, out, counter, tt, product, cardType, reason int64
	var issuer, asn, state string
	if err := row.Scan(&r.File, &seq, &out, &issuer, &asn, &counter, &r.AmountFen, &r.Acquirer, &tt, &product, &cardType, &state, &reason, &r.AnsweredBy, &r.GreyPos); err != nil {
		return r, err
	}
	var ok bool
	var err, err2 error
	r.State, ok = ParseState(state)
	r.Issuer, err = citycard.ParseIssuerCode(issuer)
	r.ASN, err2 = citycard.ParseASN(asn)
	if !ok || err != nil || err2 != nil || len(asn) != 20 {
		return Rec{}, citycard.E("interop.ScanRec", citycard.IO, "record %s/%d: stored row (issuer %q, asn %q, state %q) does not read", r.File, seq, issuer, asn, state)
	}
	r.Seq, r.Out, r.Counter, r.TerminalType, r.Product, r.CardType, r.Reason = int(seq), out == 1, uint16(counter), registry.TerminalType(tt), uint16(product), uint8(cardType), Reason(reason)
	return r, nil
}

// Args returns c's columns (CorrectionColumns) as arguments.
func (c *Corr) Args() []any {
	return []any{c.File, int64(c.Seq), c.Type.String(), c.RefFile, int64(c.RefSeq), int64(c.Stage), c.AmountFen, int64(c.Reason), c.Issuer, c.Acquirer,
		boolInt(c.Out), int64(c.Product), int64(c.CardType), int64(c.TType)}
}

// ScanCorr scans a row of CorrectionColumns. Kind IO for a row that
// does not read.
func ScanCorr(row Scanner) (Corr, error) {
	var c Corr
	var typ string
	var seq, refSeq, stage, reason, out, product, cardType, tt int64
	if err := row.Scan(&c.File, &seq, &typ, &c.RefFile, &refSeq, &stage, &c.AmountFen, &reason, &c.Issuer, &c.Acquirer, &out, &product, &cardType, &tt); err != nil {
		return c, err
	}
	var ok bool
	if c.Type, ok = ParseFileType(typ); !ok {
		return Corr{}, citycard.E("interop.ScanCorr", citycard.IO, "correction %s/%d: stored typ %q", c.File, seq, typ)
	}
	c.Seq, c.RefSeq, c.Stage, c.Reason, c.Out, c.Product, c.CardType, c.TType = int(seq), int(refSeq), Stage(stage), Reason(reason), out == 1, uint16(product), uint8(cardType), registry.TerminalType(tt)
	return c, nil
}

// CityArgs returns city record seq of file as arguments (CityColumns).
func CityArgs(file string, seq int, c *City) []any {
	return []any{file, int64(seq), hexOf(c.Code[:]), c.Institution.String(), boolInt(bool(c.Action)), int64(c.Announced), int64(c.Effective), c.Name}
}

// ScanCity scans a row of CityColumns. Kind IO.
func ScanCity(row Scanner) (City, error) {
	var c City
	var file, code, inst string
	var seq, added, announced, effective int64
	if err := row.Scan(&file, &seq, &code, &inst, &added, &announced, &effective, &c.Name); err != nil {
		return c, err
	}
	err := parseHex(code, c.Code[:])
	var err2 error
	c.Institution, err2 = citycard.ParseIssuerCode(inst)
	if err != nil || err2 != nil {
		return City{}, citycard.E("interop.ScanCity", citycard.IO, "city %s/%d: stored row (%q, %q) does not read", file, seq, code, inst)
	}
	c.Action, c.Announced, c.Effective = added == 1, Day(announced), Day(effective)
	return c, nil
}

// ListingArgs returns blacklist record seq of file as arguments
// (ListingColumns).
func ListingArgs(file string, seq int, l *Listing) []any {
	return []any{file, int64(seq), l.Issuer.String(), hexOf(l.ASN[:]), boolInt(bool(l.Action)), l.Reason, int64(l.Effective)}
}

// ScanListing scans a row of ListingColumns. Kind IO.
func ScanListing(row Scanner) (Listing, error) {
	var l Listing
	var file, issuer, asn string
	var seq, added, effective int64
	if err := row.Scan(&file, &seq, &issuer, &asn, &added, &l.Reason, &effective); err != nil {
		return l, err
	}
	var err, err2 error
	l.Issuer, err = citycard.ParseIssuerCode(issuer)
	l.ASN, err2 = citycard.ParseASN(asn)
	if err != nil || err2 != nil {
		return Listing{}, citycard.E("interop.ScanListing", citycard.IO, "listing %s/%d: stored row (%q, %q) does not read", file, seq, issuer, asn)
	}
	l.Action, l.Effective = added == 1, Day(effective)
	return l, nil
}

// CaseColumns are the columns of a stored case (interop_cases).
const CaseColumns = `ref, input_sha256, file_type, day, ref_file, ref_seq, credit, amount_fen, reason, note, raised_by, at_ns, state, answer_reason, answered_by`

// Args returns c's columns (CaseColumns) as arguments.
func (c *Case) Args() []any {
	return []any{c.Ref, c.InputSHA256, c.Type.String(), int64(c.Day), c.RefFile, int64(c.RefSeq), boolInt(c.Credit), c.AmountFen, int64(c.Reason),
		c.Note, c.By, c.At.UnixNano(), c.State.String(), int64(c.Answer), c.AnsweredBy}
}

// ScanCase scans a row of CaseColumns. Kind IO for a row that does not
// read.
func ScanCase(row Scanner) (Case, error) {
	var c Case
	var typ, state string
	var day, refSeq, credit, reason, atNs, answer int64
	if err := row.Scan(&c.Ref, &c.InputSHA256, &typ, &day, &c.RefFile, &refSeq, &credit, &c.AmountFen, &reason, &c.Note, &c.By, &atNs, &state, &answer, &c.AnsweredBy); err != nil {
		return c, err
	}
	var ok, ok2 bool
	c.Type, ok = ParseFileType(typ)
	c.State, ok2 = ParseState(state)
	if !ok || !ok2 {
		return Case{}, citycard.E("interop.ScanCase", citycard.IO, "case %q: stored row (type %q, state %q) does not read", c.Ref, typ, state)
	}
	c.Day, c.RefSeq, c.Credit, c.Reason, c.At, c.Answer = Day(day), int(refSeq), credit == 1, Reason(reason), time.Unix(0, atNs).UTC(), Reason(answer)
	return c, nil
}
