package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/ledger"
)

// Limits of a case.
const (
	CaseRefMax  = 64  // bytes of a case's reference (its idempotency key)
	CaseNoteMax = 256 // bytes of its note
)

// Case is an error (差错) or dispute (争议) case our staff raise about an
// accepted record of an OUT file (another city's card on our terminal,
// accepted by its issuer's answer: we are its acquirer) or of an INC file
// (our card in another city, accepted by our verification: we are its
// issuer). The cases of a type raised on a day go out in our ERR or DSP
// file of that day (ExportCases), in the order raised; the answer to that
// file (an ANS file referring to it) accepts or rejects each once, and an
// accepted one books its correction in the ledger at the answer's import
// and is settled by the next cycle to close, as a received error record
// is (the answer file is taken whole by that cycle; a closed cycle never
// changes).
type Case struct {
	Ref     string   // the idempotency key staff gave: the case's ID
	Type    FileType // FileError or FileDispute
	Day     Day      // the day raised (China time): its file's day
	RefFile string   // the OUT or INC file of the record
	RefSeq  int
	// Credit (error cases only): the card's issuer owes the acquirer
	// AmountFen more (C); false: the acquirer pays it back (D). A dispute
	// asks the acquirer to pay the disputed amount back.
	Credit    bool
	AmountFen int64 // > 0
	Reason    Reason
	Note      string
	By        string // who raised it
	At        time.Time
	// InputSHA256 is the hash of what was asked (CaseInput.Hash): the
	// same Ref with another input is a Conflict.
	InputSHA256 string
	State       State  // Pending until the answer decides it
	Answer      Reason // the answer's reason (ReasonAccepted when accepted)
	AnsweredBy  string // the answer file that decided it
}

// SignedFen is what the case moves when accepted: what the card's issuer
// owes the acquirer (negative: the acquirer pays back).
func (c *Case) SignedFen() int64 {
	if c.Credit {
		return c.AmountFen
	}
	return -c.AmountFen
}

// CaseInput is what staff ask for when raising a case.
type CaseInput struct {
	Ref       string
	Type      FileType
	RefFile   string
	RefSeq    int
	Credit    bool
	AmountFen int64
	Reason    Reason
	Note      string
	By        string
}

// Hash is the SHA-256 of the input's fields, who asked excepted: a retry
// by another clerk is the same request.
func (in *CaseInput) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|%d|%t|%d|%d|%q", in.Ref, in.Type, in.RefFile, in.RefSeq, in.Credit, in.AmountFen, in.Reason, in.Note)
	return hex.EncodeToString(h.Sum(nil))
}

// CaseAnswer is a case an answer file decides.
type CaseAnswer struct {
	Ref    string
	State  State // Accepted or Rejected
	Reason Reason
}

// CaseFileID returns the ID of our ERR or DSP file of day d.
func (x *Interop) CaseFileID(t FileType, d Day) string {
	return t.String() + "-" + x.Own.String() + "-" + clearing.Day(d).Compact()
}

// chinaDay returns the day of t in China time.
func chinaDay(t time.Time) Day {
	y, m, dd := t.In(citycard.ChinaTime).Date()
	return Day(clearing.DayOf(y, m, dd))
}

// dayEnd returns the instant day d ends in China time.
func dayEnd(d Day) time.Time {
	t, _ := time.ParseInLocation("20060102", clearing.Day(d).Compact(), citycard.ChinaTime)
	return t.AddDate(0, 0, 1)
}

// Raise raises a case, or returns the one raised before under the same
// Ref with the same input (already true). Kind Invalid (a field out of
// its range, named; a dispute of a record of ours as acquirer: disputes
// are the card's issuer's), NotFound (no OUT or INC file of RefFile, or
// no record RefSeq in it), Conflict (the record not accepted, the Ref
// raised with another input, or a case of the type raised about the
// record before), and the store's kinds.
func (x *Interop) Raise(ctx context.Context, in CaseInput) (Case, bool, error) {
	const op = "interop.Raise"
	bad := func(field, format string, args ...any) (Case, bool, error) {
		return Case{}, false, citycard.E(op, citycard.Invalid, "case %q: %s: %s", in.Ref, field, fmt.Sprintf(format, args...))
	}
	switch {
	case len(in.Ref) == 0 || len(in.Ref) > CaseRefMax || !printable(in.Ref):
		return bad("ref", "want 1 to %d printable ASCII characters other than |", CaseRefMax)
	case in.Type != FileError && in.Type != FileDispute:
		return bad("type", "%v: want ERR or DSP", in.Type)
	case in.RefSeq < 1 || in.RefSeq > RecordsMax:
		return bad("ref_seq", "%d: want 1 to %d", in.RefSeq, RecordsMax)
	case in.AmountFen < 1 || in.AmountFen > math.MaxUint32:
		return bad("amount_fen", "%d: want 1 to %d", in.AmountFen, uint32(math.MaxUint32))
	case in.Reason == ReasonAccepted || in.Reason >= reasonEnd:
		return bad("reason", "%s: want a defined reason other than 00", in.Reason.Code())
	case in.Type == FileDispute && in.Credit:
		return bad("direction", "a dispute asks the acquirer to pay back: it has no direction C")
	case len(in.Note) > CaseNoteMax || !printableUTF8(in.Note):
		return bad("note", "want at most %d bytes of UTF-8 without | or control characters", CaseNoteMax)
	case in.By == "":
		return bad("by", "who raises the case is named")
	}
	ref, err := x.Store.File(ctx, in.RefFile)
	if citycard.IsKind(err, citycard.NotFound) || err == nil && ref.Type != FileOutgoing && ref.Type != FileIncoming {
		return Case{}, false, citycard.E(op, citycard.NotFound, "case %q: ref_file: %s: no OUT or INC file of that ID", in.Ref, in.RefFile)
	}
	if err != nil {
		return Case{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	recs, err := x.outRecords(ctx, in.RefFile)
	if err != nil {
		return Case{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	if in.RefSeq > len(recs) {
		return Case{}, false, citycard.E(op, citycard.NotFound, "case %q: ref_seq: %d: file %s holds %d records", in.Ref, in.RefSeq, in.RefFile, len(recs))
	}
	r := &recs[in.RefSeq-1]
	switch {
	case r.State != Accepted:
		return Case{}, false, citycard.E(op, citycard.Conflict, "case %q: record %d of %s is %v: a case is raised about an accepted record", in.Ref, in.RefSeq, in.RefFile, r.State)
	case in.Type == FileDispute && r.Out:
		return bad("type", "record %d of %s is another city's card on our terminal: a dispute is its issuer's to raise; raise an error case", in.RefSeq, in.RefFile)
	case in.Type == FileDispute && in.AmountFen > r.AmountFen:
		return bad("amount_fen", "%d: at most the record's %d fen is disputed", in.AmountFen, r.AmountFen)
	}
	day := chinaDay(x.Now())
	c := Case{Ref: in.Ref, Type: in.Type, Day: day, RefFile: in.RefFile, RefSeq: in.RefSeq, Credit: in.Credit, AmountFen: in.AmountFen,
		Reason: in.Reason, Note: in.Note, By: in.By, At: x.Now().UTC(), InputSHA256: in.Hash(), State: Pending}
	got, already, err := x.Store.Raise(ctx, &c)
	if err != nil {
		return Case{}, false, citycard.Wrap(op, citycard.Other, err)
	}
	return got, already, nil
}

// printable reports whether s is printable ASCII without |.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E || s[i] == '|' {
			return false
		}
	}
	return true
}

// printableUTF8 reports whether s is UTF-8 without | or control
// characters.
func printableUTF8(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7F || r == '|' || r == 0xFFFD {
			return false
		}
	}
	return true
}

// ExportCases returns our ERR or DSP file of day d: the cases of type t
// raised that day, in the order raised, each naming its record and
// echoing its card; and stores it (its records kept with the record they
// correct or dispute). The day must be over, so its cases are fixed: the
// file's bytes are a function of them (created: the day's end), and
// exporting it again gives the same bytes and stores nothing new. A day
// without cases gives a file of none. Kind Invalid (t not ERR or DSP),
// Conflict (the day not over; a file of its ID stored with other bytes),
// and the store's kinds.
func (x *Interop) ExportCases(ctx context.Context, t FileType, d Day) ([]byte, error) {
	const op = "interop.ExportCases"
	if t != FileError && t != FileDispute {
		return nil, citycard.E(op, citycard.Invalid, "type %v: our cases go out in ERR and DSP files", t)
	}
	end := dayEnd(d)
	if x.Now().Before(end) {
		return nil, citycard.E(op, citycard.Conflict, "%v file of %v: the day is not over (it ends at %v): cases may still be raised", t, clearing.Day(d), end)
	}
	cases, err := x.Store.Cases(ctx, t, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if len(cases) > RecordsMax {
		return nil, citycard.E(op, citycard.Invalid, "%v file of %v: more than %d cases, more than a file holds", t, clearing.Day(d), RecordsMax)
	}
	f := &File{Header: Header{Type: t, ID: x.CaseFileID(t, d), Sender: x.Own, Receiver: x.Centre, Day: d, Created: end}}
	imp := &Import{At: x.Now()}
	recs := map[string][]Rec{}
	for i := range cases {
		c := &cases[i]
		rs, ok := recs[c.RefFile]
		if !ok {
			if rs, err = x.outRecords(ctx, c.RefFile); err != nil {
				return nil, citycard.Wrap(op, citycard.Other, err)
			}
			recs[c.RefFile] = rs
		}
		if c.RefSeq > len(rs) {
			return nil, citycard.E(op, citycard.Conflict, "case %q: record %d of %s is not stored", c.Ref, c.RefSeq, c.RefFile)
		}
		r := &rs[c.RefSeq-1]
		cr := corrOf(r, f.Header.ID, i+1, t, c.RefFile, c.RefSeq)
		cr.Reason = c.Reason
		switch t {
		case FileError:
			f.Errors = append(f.Errors, Correction{RefFile: c.RefFile, RefSeq: c.RefSeq, Credit: c.Credit, AmountFen: uint32(c.AmountFen), Reason: c.Reason,
				Issuer: r.Issuer, ASN: r.ASN, Counter: r.Counter})
			cr.AmountFen = c.SignedFen()
		case FileDispute:
			f.Disputes = append(f.Disputes, Dispute{RefFile: c.RefFile, RefSeq: c.RefSeq, Stage: StageRaise, AmountFen: uint32(c.AmountFen), Reason: c.Reason,
				Issuer: r.Issuer, ASN: r.ASN, Counter: r.Counter})
			cr.Stage, cr.AmountFen = StageRaise, c.AmountFen
		}
		imp.Corrections = append(imp.Corrections, cr)
	}
	b, err := Encode(f)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	imp.File = storedOf(f, b, true)
	if _, err := x.Store.Import(ctx, imp); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return b, nil
}

// corrOf is the stored form of a correction or dispute of record r
// (record refSeq of refFile), as record seq of file id of type t.
func corrOf(r *Rec, id string, seq int, t FileType, refFile string, refSeq int) Corr {
	return Corr{File: id, Seq: seq, Type: t, RefFile: refFile, RefSeq: refSeq, Issuer: r.Issuer.String(), Acquirer: r.Acquirer, Out: r.Out,
		Product: r.Product, CardType: r.CardType, TType: r.TerminalType}
}

// correctionEntry is the ledger entry of a correction of record r by
// signed fen (positive: the card's issuer owes the acquirer more), key
// and reference those of the file that makes it. For another city's
// card on our terminal, between the issuer's interconnection receivable
// and our operator's payable; for our card in another city, between our
// card float and the acquiring city's receivable.
func correctionEntry(key, file string, r *Rec, fen int64, memo string) ledger.Entry {
	debit := ledger.Account{Type: ledger.InterconnectReceivable, Party: r.Issuer.String()}
	credit := ledger.Account{Type: ledger.OperatorPayable, Party: r.Acquirer}
	if !r.Out {
		debit = ledger.Account{Type: ledger.CardFloat, Party: r.Issuer.String()}
		credit = ledger.Account{Type: ledger.InterconnectReceivable, Party: r.Acquirer}
	}
	if fen < 0 {
		debit, credit, fen = credit, debit, -fen
	}
	le := ledger.NewEntry(key, EntryCorrection, file, ledger.Transfer(debit, credit, fen)...)
	le.Product, le.Count, le.Memo = r.Product, 1, memo
	return le
}

// caseAnswer checks an ANS file against our ERR or DSP file ref it
// answers: each line a case of it, echoing its record's card and the
// case's amount, answered once, by its record's counterparty (the card's
// issuer for a record of our terminal, the acquiring city for our card's)
// or the centre. An accepted case books its correction (a dispute: the
// acquirer pays the disputed amount back), kept as a correction of the
// answer file, which the next cycle to close settles.
func (x *Interop) caseAnswer(ctx context.Context, name string, f *File, ref *Stored, imp *Import, out *Imported) error {
	const op = "interop.Import"
	h := &f.Header
	cases, err := x.Store.Cases(ctx, ref.Type, ref.Day)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if len(cases) != ref.Records {
		return citycard.E(op, citycard.Conflict, "file %s: our %s holds %d cases, %d are stored of its day", name, ref.ID, ref.Records, len(cases))
	}
	recs := map[string][]Rec{}
	seen := map[int]bool{}
	for i := range f.Answers {
		a := &f.Answers[i]
		line := i + 2
		if a.RefSeq > len(cases) {
			return fieldErr(op, name, line, "ref_seq", "%d: file %s holds %d records", a.RefSeq, h.Refers, len(cases))
		}
		c := &cases[a.RefSeq-1]
		rs, ok := recs[c.RefFile]
		if !ok {
			if rs, err = x.outRecords(ctx, c.RefFile); err != nil {
				return citycard.Wrap(op, citycard.Other, err)
			}
			recs[c.RefFile] = rs
		}
		if c.RefSeq > len(rs) {
			return citycard.E(op, citycard.Conflict, "file %s: case %q: record %d of %s is not stored", name, c.Ref, c.RefSeq, c.RefFile)
		}
		r := &rs[c.RefSeq-1]
		counterparty := r.Issuer.String()
		if !r.Out {
			counterparty = r.Acquirer
		}
		switch {
		case seen[a.RefSeq]:
			return fieldErr(op, name, line, "ref_seq", "%d answered twice in the file", a.RefSeq)
		case h.Sender != x.Centre && h.Sender.String() != counterparty:
			return fieldErr(op, name, line, "ref_seq", "%d: the answer is %v's; case %q is %s's to answer (or the centre's)", a.RefSeq, h.Sender, c.Ref, counterparty)
		case a.echoes(r, c.AmountFen) != "":
			return fieldErr(op, name, line, a.echoes(r, c.AmountFen), "case %q is of card %v/%s counter %d, %d fen", c.Ref, r.Issuer, hexOf(r.ASN[:]), r.Counter, c.AmountFen)
		case c.State != Pending:
			return citycard.Wrap(op, citycard.Conflict, &FieldError{File: name, Line: line, Field: "ref_seq",
				Msg: fmt.Sprintf("%d: case %q was %v by %s", a.RefSeq, c.Ref, c.State, c.AnsweredBy)})
		}
		seen[a.RefSeq] = true
		if !a.Accepted {
			out.Rejected.add(c.AmountFen)
			imp.Cases = append(imp.Cases, CaseAnswer{Ref: c.Ref, State: Rejected, Reason: a.Reason})
			continue
		}
		out.Accepted.add(c.AmountFen)
		imp.Cases = append(imp.Cases, CaseAnswer{Ref: c.Ref, State: Accepted, Reason: a.Reason})
		cr := corrOf(r, h.ID, len(imp.Corrections)+1, FileError, c.RefFile, c.RefSeq)
		cr.AmountFen, cr.Reason = c.SignedFen(), c.Reason
		imp.Corrections = append(imp.Corrections, cr)
		imp.Parties = append(imp.Parties, cr.Issuer, cr.Acquirer)
		imp.Ledger = append(imp.Ledger, correctionEntry(entryKey(h.ID, len(imp.Ledger)), h.ID, r, cr.AmountFen,
			"case "+c.Ref+" ("+c.Type.String()+" record "+strconv.Itoa(a.RefSeq)+" of "+ref.ID+"), accepted by "+h.ID+": "+c.Reason.String()+" record "+strconv.Itoa(c.RefSeq)+" of "+c.RefFile))
	}
	return nil
}
