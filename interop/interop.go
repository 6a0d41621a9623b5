package interop

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// The ledger entry types the interconnection books.
const (
	// EntryRejected reverses the records an issuer's answer rejected:
	// the operator's payable back against the receivable of the issuer.
	EntryRejected ledger.EntryType = "interop_rejected"
	// EntryIncoming books our cards' records accepted in another city:
	// our card float to what we owe that city.
	EntryIncoming ledger.EntryType = "interop_incoming"
	// EntryCorrection books an error record's correction.
	EntryCorrection ledger.EntryType = "interop_correction"
)

// Journal is what Export reads of acquisition's journal besides a
// cycle's range (which Cycles.Journal reads): one journaled record by its
// position, the grey record a decision names. The stores' clearing side
// implements it (a look-up of the chunk holding the position, by its
// primary key).
type Journal interface {
	// Journaled returns the journaled record at position pos. Kind
	// NotFound for a position past the journal's end.
	Journaled(ctx context.Context, pos int64) (acquire.Journaled, error)
}

// Centre is the national interconnection centre's institution code in
// our layout: all zeros, no city's.
var Centre = citycard.IssuerCode{}

// Interop exports and imports one city's interconnection files.
type Interop struct {
	Own    citycard.IssuerCode // our institution: the sender of our files, the issuer of our cards
	Centre citycard.IssuerCode // the national interconnection centre: the receiver of our OUT files
	Store  Store
	// Cycles reads the closed cycle a file is exported from, its journal
	// range, its grey decisions and its terminals.
	Cycles *clearing.Cycles
	// Journal reads back the grey records a cycle's OUT file sends (a
	// grey decision names its grey's position: GreyDecision.GreyPos).
	// Export needs it once a cycle confirmed a grey record of another
	// city's card.
	Journal Journal
	// Verifier checks our cards' TACs in INC files (VerifyTAC).
	Verifier *record.Verifier
	// Known, if set, checks that a party a file makes pay or be paid is
	// registered (kind NotFound otherwise): a cycle's settlement files
	// name every party with a position, so a file naming one the
	// registry does not know is refused at its import rather than
	// stopping the close of the cycle that settles it.
	Known func(ctx context.Context, party string) error
	Now   func() time.Time // when a file is stored (never in a file)
	// LateDays is the interconnection's time limit: a record of our
	// card in an INC file whose tap was more than LateDays days before
	// the file's day is answered late (ReasonLate), its TAC good or not
	// (0: DefaultLateDays).
	LateDays int
}

// DefaultLateDays is the interconnection's time limit on our cards'
// records taken elsewhere, when Interop.LateDays is 0: 30 days from the
// tap (China time) to the day of the INC file that brings it, the day
// itself included. An offline terminal may hold its records a few days;
// a month bounds how long our issuer's liability for a tap stays open,
// and a record past it is the acquirer's to bear.
const DefaultLateDays = 30

// late reports whether a record of a tap at at comes after the time
// limit in a file of day d.
func (x *Interop) late(d Day, at time.Time) bool {
	limit := x.LateDays
	if limit <= 0 {
		limit = DefaultLateDays
	}
	return int(d-chinaDay(at)) > limit
}

// OutgoingID returns the ID of our OUT file of cycle d.
func (x *Interop) OutgoingID(d clearing.Day) string {
	return "OUT-" + x.Own.String() + "-" + d.Compact()
}

// AnswerID returns the ID of our answer to the INC file of ID inc.
func AnswerID(inc string) string { return "ANS-" + inc }

// Export returns the OUT file of closed cycle d, and stores it (its
// records pending their answer): every record of another city's card the
// cycle took pending its issuer (an R line), and every grey record of
// such a card the cycle confirmed on its balance (a G line: the grey
// record itself, read back from the journal at the position its decision
// names), in journal order, each grey after the entry that confirmed it.
// A grey whose confirmation the cycle also reversed is not sent, nor is
// one released (never confirmed) or of no amount (nothing to pay); the
// confirmation of one is booked already (acquisition: the issuer's
// receivable to the grey's operator's payable), so its answer settles it
// as any record's: accepted, the issuer pays the operator in the next
// cycle to close; rejected, the booking is reversed at the answer's
// import (EntryRejected), once. Its bytes are a function of the cycle
// alone (its day, close time and journal range, and the grey decisions
// of that range): exporting it again gives the same bytes and stores
// nothing new, and a grey is sent once (the store refuses a second
// record of one). Kind NotFound (no cycle of d), Conflict (d not closed;
// a file of its ID stored with other bytes; a grey decision naming no
// grey record, or another record), Invalid (more than RecordsMax records;
// no Journal to read a grey from), and the store's kinds.
func (x *Interop) Export(ctx context.Context, d clearing.Day) ([]byte, error) {
	const op = "interop.Export"
	c, err := x.Cycles.Cycle(ctx, d)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if c.Cycle.State != clearing.Closed {
		return nil, citycard.E(op, citycard.Conflict, "cycle %v is %v: its interconnection file is exported once it is closed (its records are fixed)", d, c.Cycle.State)
	}
	greys, err := x.confirmedGreys(ctx, c.Cycle.Range)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	f := &File{Header: Header{Type: FileOutgoing, ID: x.OutgoingID(d), Sender: x.Own, Receiver: x.Centre, Day: Day(d),
		Created: c.Cycle.ClosedAt.In(citycard.ChinaTime).Truncate(time.Second)}}
	var recs []Rec
	terms := map[citycard.TerminalID]clearing.TerminalInfo{}
	// add appends r, journaled at pos, as the file's next record: the
	// grey record at greyPos if not 0.
	add := func(r *record.Record, pos, greyPos int64) error {
		if len(f.Clearing) >= RecordsMax {
			return citycard.E(op, citycard.Invalid, "cycle %v: more than %d records pending their issuer", d, RecordsMax)
		}
		ti, ok := terms[r.TerminalID]
		if !ok {
			var err error
			if ti, err = x.Cycles.Terminals.Terminal(ctx, r.TerminalID); err != nil {
				return citycard.Wrap(op, citycard.Other, err)
			}
			terms[r.TerminalID] = ti
		}
		cl, err := ClearingOf(r)
		if err != nil {
			return err
		}
		if cl.Grey != (greyPos != 0) {
			return citycard.E(op, citycard.Conflict, "cycle %v: journaled record %d: grey %t, want %t", d, pos, cl.Grey, greyPos != 0)
		}
		f.Clearing = append(f.Clearing, cl)
		recs = append(recs, Rec{File: f.Header.ID, Seq: len(f.Clearing), Out: true, Issuer: r.Issuer, ASN: r.ASN, Counter: r.Counter,
			AmountFen: int64(r.Amount), Acquirer: ti.Operator, TerminalType: ti.Type, Product: r.Product, CardType: r.CardType, State: Pending, GreyPos: greyPos})
		return nil
	}
	seen := 0 // the confirmations met at their deciding entries
	err = x.Cycles.Journal.Records(ctx, c.Cycle.Range, func(e *acquire.Journaled, _ time.Time) error {
		if acquire.PendingIssuer(e.Class, e.Outcome) {
			r, err := record.DecodeBinary(e.Raw[:])
			if err != nil {
				return citycard.E(op, citycard.Invalid, "cycle %v: journaled record %d: %w", d, e.Pos, err)
			}
			if err := add(&r, e.Pos, 0); err != nil {
				return err
			}
		}
		gs := greys[e.Pos]
		if len(gs) == 0 || !acquire.PendingIssuerDecided(e.Flags) {
			// Our own card's grey, confirmed by this entry: cleared, and
			// paid by this cycle.
			seen += len(gs)
			return nil
		}
		for _, g := range gs {
			r, err := x.greyRecord(ctx, &g)
			if err != nil {
				return err
			}
			if err := add(&r, g.Pos, g.GreyPos); err != nil {
				return err
			}
			seen++
		}
		return nil
	})
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if n := countGreys(greys); seen != n {
		return nil, citycard.E(op, citycard.Conflict, "cycle %v: %d grey confirmations in its range, %d at its entries", d, n, seen)
	}
	b, err := Encode(f)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	imp := &Import{File: storedOf(f, b, true), Records: recs, At: x.Now()}
	if _, err := x.Store.Import(ctx, imp); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return b, nil
}

// confirmedGreys returns the confirmations of grey records (of an amount:
// one of nothing has nothing to pay) that entries of range r made and no
// entry of r reversed, by the deciding entry's position, in the order
// made.
func (x *Interop) confirmedGreys(ctx context.Context, r clearing.Range) (map[int64][]acquire.GreyDecision, error) {
	type tap struct {
		issuer   citycard.IssuerCode
		asn      citycard.ASN
		counter  uint16
		terminal citycard.TerminalID
		seq      uint32
	}
	confirmed := map[tap]acquire.GreyDecision{}
	var order []tap
	err := x.Cycles.Journal.Greys(ctx, r, func(g *acquire.GreyDecision) error {
		k := tap{g.Issuer, g.ASN, g.Counter, g.Terminal, g.Seq}
		switch {
		case g.Move == acquire.GreyConfirmed && g.AmountFen > 0:
			confirmed[k] = *g
			order = append(order, k)
		case g.Move == acquire.GreyReversed:
			// A confirmation of this cycle undone in it: the grey
			// debit never happened, and nothing is sent. (One of an
			// earlier cycle was sent with that cycle's file.)
			delete(confirmed, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[int64][]acquire.GreyDecision{}
	for _, k := range order {
		if g, ok := confirmed[k]; ok {
			out[g.Pos] = append(out[g.Pos], g)
			delete(confirmed, k)
		}
	}
	return out, nil
}

func countGreys(m map[int64][]acquire.GreyDecision) int {
	n := 0
	for _, gs := range m {
		n += len(gs)
	}
	return n
}

// greyRecord reads the grey record decision g names from the journal.
// Kind Invalid (no Journal), Conflict (g names no position, or one whose
// journaled record is not that grey record), and the journal's kinds.
func (x *Interop) greyRecord(ctx context.Context, g *acquire.GreyDecision) (record.Record, error) {
	const op = "interop.Export"
	switch {
	case x.Journal == nil:
		return record.Record{}, citycard.E(op, citycard.Invalid, "grey decision %d/%d: no journal to read the grey record from", g.Pos, g.Index)
	case g.GreyPos <= 0 || g.GreyPos > g.Pos:
		return record.Record{}, citycard.E(op, citycard.Conflict, "grey decision %d/%d names grey position %d: the grey record of card %v/%v counter %d is not known (a decision older than migration 0037 whose grey the store did not find)",
			g.Pos, g.Index, g.GreyPos, g.Issuer, g.ASN, g.Counter)
	}
	e, err := x.Journal.Journaled(ctx, g.GreyPos)
	if citycard.IsKind(err, citycard.NotFound) {
		return record.Record{}, citycard.E(op, citycard.Conflict, "grey decision %d/%d names grey position %d, past the journal: %w", g.Pos, g.Index, g.GreyPos, err)
	}
	if err != nil {
		return record.Record{}, citycard.Wrap(op, citycard.Other, err)
	}
	r, err := record.DecodeBinary(e.Raw[:])
	if e.Pos != g.GreyPos || err != nil || e.Outcome != acquire.OutcomeGrey || e.Class != acquire.ClassSuspense ||
		r.Issuer != g.Issuer || r.ASN != g.ASN || r.Counter != g.Counter || r.TerminalID != g.Terminal || r.TerminalSeq != g.Seq {
		return record.Record{}, citycard.E(op, citycard.Conflict, "grey decision %d/%d: journal position %d (read %d) is not the grey record of card %v/%v counter %d at terminal %v sequence %d (%v)",
			g.Pos, g.Index, g.GreyPos, e.Pos, g.Issuer, g.ASN, g.Counter, g.Terminal, g.Seq, err)
	}
	return r, nil
}

func storedOf(f *File, b []byte, sent bool) Stored {
	h := &f.Header
	return Stored{ID: h.ID, Type: h.Type, Sent: sent, SHA256: Hash(b), Day: h.Day, Sender: h.Sender, Receiver: h.Receiver, Refers: h.Refers,
		Records: h.Records, AmountFen: h.AmountFen, Body: b}
}

// Imported is what Import did with a file.
type Imported struct {
	File    Stored
	Already bool // the same file was imported before: nothing changed
	// Accepted and Rejected count the records the file decided: an
	// answer's, or our verification of an INC file's.
	Accepted, Rejected Totals
	// Answer is our answer to an INC file, its bytes (also stored).
	Answer []byte
}

// Totals are a count of records and the sum of their amounts.
type Totals struct {
	Count     int64 `json:"count"`
	AmountFen int64 `json:"amount_fen"`
}

func (t *Totals) add(fen int64) { t.Count++; t.AmountFen += fen }

// Import reads a file received from the centre, named name, strictly
// (Decode), checks it against what is stored, and stores it with all it
// changes in one transaction; a file refused changes nothing. A file
// imported again (the same ID and bytes) changes nothing and says so
// (Imported.Already); another file under a stored ID is kind Conflict.
// What each type does:
//   - ANS: answers records of our OUT file (Refers): each must be
//     pending and echo its card, counter and amount. The rejected ones'
//     receivable and operator's payable are reversed in the ledger
//     (EntryRejected); the next cycle to close settles the accepted
//     ones (the issuer pays our operator) and counts the rejected.
//   - INC: our cards' records in another city: each TAC verified under
//     our keys, a record of another issuer's card, a forged TAC, a
//     missing key or a card and counter seen before rejected with its
//     reason; the accepted booked from our card float to what we owe the
//     acquiring city (EntryIncoming); our answer file (AnswerID) made
//     and stored. The next cycle to close settles the accepted.
//   - ERR: corrections of accepted records of our OUT or INC files,
//     booked (EntryCorrection) and settled in the next cycle.
//   - DSP: disputes of accepted records: raised once, then accepted or
//     declined once; no money moves (an error record does).
//   - CTY, BLK: the cities list and other issuers' blacklists, with
//     their effective days.
//
// Kinds: Invalid (a *FieldError naming the line and field), NotFound (a
// file or record referred to not stored), Conflict, the store's.
func (x *Interop) Import(ctx context.Context, name string, b []byte) (*Imported, error) {
	const op = "interop.Import"
	f, err := Decode(name, b)
	if err != nil {
		return nil, err
	}
	h := &f.Header
	st := storedOf(f, b, false)
	if got, err := x.Store.File(ctx, h.ID); err == nil {
		if got.Sent {
			return nil, citycard.E(op, citycard.Conflict, "file %s: %s is a file we sent, not one to import", name, h.ID)
		}
		if got.SHA256 != st.SHA256 {
			return nil, citycard.E(op, citycard.Conflict, "file %s (%s): a file of ID %s is stored with other bytes (SHA-256 %s): a new file takes a new ID", name, st.SHA256, h.ID, got.SHA256)
		}
		got.Body = nil
		return &Imported{File: got, Already: true}, nil
	} else if !citycard.IsKind(err, citycard.NotFound) {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if h.Receiver != x.Own {
		return nil, fieldErr(op, name, 1, "receiver", "%v: the file is not for us (%v)", h.Receiver, x.Own)
	}
	imp := &Import{File: st, At: x.Now()}
	out := &Imported{File: st}
	switch h.Type {
	case FileAnswer:
		err = x.answer(ctx, name, f, imp, out)
	case FileIncoming:
		err = x.incoming(ctx, name, f, imp, out)
	case FileError, FileDispute:
		err = x.corrections(ctx, name, f, imp)
	case FileCities:
		var cs Cities
		if err = x.cities(ctx, &cs); err == nil {
			err = cs.Take(f.Cities)
		}
		imp.Cities = f.Cities
	case FileBlacklist:
		imp.Listings = f.Blacklist
	default:
		err = fieldErr(op, name, 1, "type", "%v: we send OUT files, never receive one", h.Type)
	}
	if err != nil {
		return nil, err
	}
	if err := x.known(ctx, name, imp); err != nil {
		return nil, err
	}
	if len(imp.Ledger) > ledger.BatchMax {
		return nil, citycard.E(op, citycard.Invalid, "file %s: %d ledger entries, at most %d", name, len(imp.Ledger), ledger.BatchMax)
	}
	already, err := x.Store.Import(ctx, imp)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	out.Already = already
	out.File.Body = nil
	return out, nil
}

// known checks the parties imp makes pay or be paid with Known, each
// once. Kind NotFound, naming the file and the party.
func (x *Interop) known(ctx context.Context, name string, imp *Import) error {
	if x.Known == nil {
		return nil
	}
	seen := map[string]bool{}
	check := func(party string) error {
		if seen[party] {
			return nil
		}
		seen[party] = true
		if err := x.Known(ctx, party); err != nil {
			return citycard.E("interop.Import", citycard.NotFound, "file %s: party %s, which it makes pay or be paid, is not registered (register it first): %w", name, party, err)
		}
		return nil
	}
	for _, p := range imp.Parties {
		if err := check(p); err != nil {
			return err
		}
	}
	return nil
}

func fieldErr(op, file string, line int, field, format string, args ...any) error {
	return citycard.Wrap(op, citycard.Invalid, &FieldError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// outRecords reads the records of OUT or INC file id, by Seq.
func (x *Interop) outRecords(ctx context.Context, id string) ([]Rec, error) {
	var recs []Rec
	err := x.Store.Records(ctx, id, func(r *Rec) error {
		recs = append(recs, *r)
		return nil
	})
	return recs, err
}

// answer checks an ANS file against the OUT file it answers.
func (x *Interop) answer(ctx context.Context, name string, f *File, imp *Import, out *Imported) error {
	const op = "interop.Import"
	h := &f.Header
	ref, err := x.Store.File(ctx, h.Refers)
	if err == nil && ref.Sent && (ref.Type == FileError || ref.Type == FileDispute) {
		return x.caseAnswer(ctx, name, f, &ref, imp, out)
	}
	if citycard.IsKind(err, citycard.NotFound) || err == nil && (ref.Type != FileOutgoing || !ref.Sent) {
		return citycard.Wrap(op, citycard.NotFound, &FieldError{File: name, Line: 1, Field: "refers", Msg: fmt.Sprintf("%s: no OUT, ERR or DSP file of ours of that ID", h.Refers)})
	}
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	recs, err := x.outRecords(ctx, h.Refers)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	seen := map[int]bool{}
	type key struct {
		issuer   citycard.IssuerCode
		operator string
		product  uint16
	}
	rejected := map[key]*Totals{}
	for i := range f.Answers {
		a := &f.Answers[i]
		line := i + 2
		if a.RefSeq > len(recs) {
			return fieldErr(op, name, line, "ref_seq", "%d: file %s holds %d records", a.RefSeq, h.Refers, len(recs))
		}
		r := &recs[a.RefSeq-1]
		switch {
		case seen[a.RefSeq]:
			return fieldErr(op, name, line, "ref_seq", "%d answered twice in the file", a.RefSeq)
		case h.Sender != x.Centre && h.Sender != r.Issuer:
			return fieldErr(op, name, line, "issuer", "%v: the answer is %v's, which answers its own cards' records only (the centre answers any)", r.Issuer, h.Sender)
		case a.echoes(r, r.AmountFen) != "":
			return fieldErr(op, name, line, a.echoes(r, r.AmountFen), "record %d of %s is of card %v/%s counter %d, %d fen", a.RefSeq, h.Refers, r.Issuer, hexOf(r.ASN[:]), r.Counter, r.AmountFen)
		case r.State != Pending:
			return citycard.Wrap(op, citycard.Conflict, &FieldError{File: name, Line: line, Field: "ref_seq",
				Msg: fmt.Sprintf("%d: record %d of %s was %v by %s", a.RefSeq, a.RefSeq, h.Refers, r.State, r.AnsweredBy)})
		}
		seen[a.RefSeq] = true
		s := Rejected
		if a.Accepted {
			s = Accepted
			imp.Parties = append(imp.Parties, r.Issuer.String(), r.Acquirer)
			out.Accepted.add(r.AmountFen)
		} else {
			out.Rejected.add(r.AmountFen)
			k := key{r.Issuer, r.Acquirer, r.Product}
			if rejected[k] == nil {
				rejected[k] = &Totals{}
			}
			rejected[k].add(r.AmountFen)
		}
		imp.Answers = append(imp.Answers, Answered{File: h.Refers, Seq: a.RefSeq, State: s, Reason: a.Reason})
	}
	keys := make([]key, 0, len(rejected))
	for k := range rejected {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.issuer.String(), b.issuer.String()), cmp.Compare(a.operator, b.operator), cmp.Compare(a.product, b.product))
	})
	for i, k := range keys {
		t := rejected[k]
		e := ledger.NewEntry(entryKey(h.ID, i), EntryRejected, h.ID,
			ledger.Transfer(ledger.Account{Type: ledger.OperatorPayable, Party: k.operator}, ledger.Account{Type: ledger.InterconnectReceivable, Party: k.issuer.String()}, t.AmountFen)...)
		e.Product, e.Count, e.Memo = k.product, t.Count, "rejected by the issuer's answer "+h.ID+" to "+h.Refers
		imp.Ledger = append(imp.Ledger, e)
	}
	return nil
}

// echoes returns the first field of answer a that does not echo record
// r and the amount fen answered ("" if all do).
func (a *Answer) echoes(r *Rec, fen int64) string {
	switch {
	case a.Issuer != r.Issuer:
		return "issuer"
	case a.ASN != r.ASN:
		return "asn"
	case a.Counter != r.Counter:
		return "counter"
	case int64(a.AmountFen) != fen:
		return "amount_fen"
	}
	return ""
}

// entryKey is the idempotency key of file id's i-th ledger entry, in the
// file's own order of them.
func entryKey(id string, i int) string { return "interop:" + id + ":" + strconv.Itoa(i+1) }

// incoming verifies an INC file's records and makes our answer.
func (x *Interop) incoming(ctx context.Context, name string, f *File, imp *Import, out *Imported) error {
	const op = "interop.Import"
	h := &f.Header
	if len(h.ID) > IDLenMax-len(AnswerID("")) {
		return fieldErr(op, name, 1, "file_id", "%s: an INC file's ID has at most %d bytes, so that its answer's has %d", h.ID, IDLenMax-len(AnswerID("")), IDLenMax)
	}
	if x.Verifier == nil {
		return citycard.E(op, citycard.KeyMissing, "file %s: no key store to verify our cards' TACs", name)
	}
	ans := &File{Header: Header{Type: FileAnswer, ID: AnswerID(h.ID), Sender: x.Own, Receiver: h.Sender, Day: h.Day, Created: h.Created, Refers: h.ID}}
	type ckey struct {
		asn     citycard.ASN
		counter uint16
	}
	inFile := map[ckey]bool{}
	byProduct := map[uint16]*Totals{}
	acquirer := h.Sender.String()
	imp.Parties = append(imp.Parties, acquirer)
	for i := range f.Clearing {
		c := &f.Clearing[i]
		reason := ReasonAccepted
		if c.Issuer != x.Own {
			reason = ReasonNotIssuer
		} else if inFile[ckey{c.ASN, c.Counter}] {
			reason = ReasonDuplicate
		} else if seen, err := x.Store.Seen(ctx, c.Issuer, c.ASN, c.Counter); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		} else if seen {
			reason = ReasonDuplicate
		} else {
			r := c.Record()
			err := x.Verifier.VerifyTAC(&r)
			switch {
			case err == nil:
			case citycard.IsKind(err, citycard.KeyMissing):
				reason = ReasonKey
			case citycard.IsKind(err, citycard.Crypto), errors.Is(err, record.ErrTAC):
				reason = ReasonTAC
			default:
				return citycard.E(op, citycard.KindOf(err), "file %s line %d: %w", name, i+2, err)
			}
			// Late after the TAC: a forged record is answered forged,
			// whenever it claims to be from.
			if reason == ReasonAccepted && x.late(h.Day, c.At) {
				reason = ReasonLate
			}
		}
		st := Rejected
		if reason == ReasonAccepted {
			st = Accepted
			inFile[ckey{c.ASN, c.Counter}] = true
			out.Accepted.add(int64(c.AmountFen))
			if byProduct[c.Product] == nil {
				byProduct[c.Product] = &Totals{}
			}
			byProduct[c.Product].add(int64(c.AmountFen))
		} else {
			out.Rejected.add(int64(c.AmountFen))
		}
		imp.Records = append(imp.Records, Rec{File: h.ID, Seq: i + 1, Issuer: c.Issuer, ASN: c.ASN, Counter: c.Counter, AmountFen: int64(c.AmountFen),
			Acquirer: acquirer, Product: c.Product, CardType: c.CardType, State: st, Reason: reason, AnsweredBy: ans.Header.ID})
		imp.Taps = append(imp.Taps, Tap{File: h.ID, Seq: i + 1, At: c.At})
		ans.Answers = append(ans.Answers, Answer{RefSeq: i + 1, Accepted: st == Accepted, Reason: reason, Issuer: c.Issuer, ASN: c.ASN, Counter: c.Counter, AmountFen: c.AmountFen})
	}
	products := make([]uint16, 0, len(byProduct))
	for p := range byProduct {
		products = append(products, p)
	}
	slices.Sort(products)
	for i, p := range products {
		t := byProduct[p]
		e := ledger.NewEntry(entryKey(h.ID, i), EntryIncoming, h.ID,
			ledger.Transfer(ledger.Account{Type: ledger.CardFloat, Party: x.Own.String()}, ledger.Account{Type: ledger.InterconnectReceivable, Party: acquirer}, t.AmountFen)...)
		e.Product, e.Count, e.Memo = p, t.Count, "our cards' records accepted in "+acquirer+", file "+h.ID
		imp.Ledger = append(imp.Ledger, e)
	}
	b, err := Encode(ans)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	imp.Also = append(imp.Also, storedOf(ans, b, true))
	out.Answer = b
	return nil
}

// corrections checks an ERR or DSP file's records against the records
// they correct or dispute, and books the corrections.
func (x *Interop) corrections(ctx context.Context, name string, f *File, imp *Import) error {
	const op = "interop.Import"
	h := &f.Header
	files := map[string][]Rec{}
	recOf := func(line int, refFile string, refSeq int, issuer citycard.IssuerCode, asn citycard.ASN, counter uint16) (*Rec, error) {
		recs, ok := files[refFile]
		if !ok {
			ref, err := x.Store.File(ctx, refFile)
			if citycard.IsKind(err, citycard.NotFound) || err == nil && ref.Type != FileOutgoing && ref.Type != FileIncoming {
				return nil, citycard.Wrap(op, citycard.NotFound, &FieldError{File: name, Line: line, Field: "ref_file", Msg: fmt.Sprintf("%s: no OUT or INC file of that ID", refFile)})
			}
			if err != nil {
				return nil, citycard.Wrap(op, citycard.Other, err)
			}
			if recs, err = x.outRecords(ctx, refFile); err != nil {
				return nil, citycard.Wrap(op, citycard.Other, err)
			}
			files[refFile] = recs
		}
		switch {
		case refSeq > len(recs):
			return nil, fieldErr(op, name, line, "ref_seq", "%d: file %s holds %d records", refSeq, refFile, len(recs))
		case recs[refSeq-1].Issuer != issuer || recs[refSeq-1].ASN != asn || recs[refSeq-1].Counter != counter:
			r := &recs[refSeq-1]
			return nil, fieldErr(op, name, line, "asn", "card %v/%s counter %d: record %d of %s is card %v/%s counter %d", issuer, hexOf(asn[:]), counter, refSeq, refFile, r.Issuer, hexOf(r.ASN[:]), r.Counter)
		case h.Sender != x.Centre && h.Sender != recs[refSeq-1].Issuer && h.Sender.String() != recs[refSeq-1].Acquirer:
			return nil, fieldErr(op, name, line, "ref_seq", "%d: record %d of %s is neither %v's card nor taken by it: only its issuer, its acquirer or the centre corrects or disputes it", refSeq, refSeq, refFile, h.Sender)
		case recs[refSeq-1].State != Accepted:
			return nil, citycard.Wrap(op, citycard.Conflict, &FieldError{File: name, Line: line, Field: "ref_seq",
				Msg: fmt.Sprintf("%d: record %d of %s is %v: only an accepted record is corrected or disputed", refSeq, refSeq, refFile, recs[refSeq-1].State)})
		}
		return &recs[refSeq-1], nil
	}
	corr := func(r *Rec, seq int, refFile string, refSeq int) Corr {
		return corrOf(r, h.ID, seq, h.Type, refFile, refSeq)
	}
	for i := range f.Errors {
		e := &f.Errors[i]
		r, err := recOf(i+2, e.RefFile, e.RefSeq, e.Issuer, e.ASN, e.Counter)
		if err != nil {
			return err
		}
		c := corr(r, i+1, e.RefFile, e.RefSeq)
		c.AmountFen, c.Reason = e.SignedFen(), e.Reason
		imp.Parties = append(imp.Parties, c.Issuer, c.Acquirer)
		imp.Corrections = append(imp.Corrections, c)
		// The acquirer is owed more (or pays back): what the card's
		// issuer owes moves with it.
		imp.Ledger = append(imp.Ledger, correctionEntry(entryKey(h.ID, i), h.ID, r, e.SignedFen(),
			fmt.Sprintf("error record %d of %s: %s record %d of %s", i+1, h.ID, e.Reason, e.RefSeq, e.RefFile)))
	}
	for i := range f.Disputes {
		d := &f.Disputes[i]
		r, err := recOf(i+2, d.RefFile, d.RefSeq, d.Issuer, d.ASN, d.Counter)
		if err != nil {
			return err
		}
		if d.AmountFen == 0 || int64(d.AmountFen) > r.AmountFen {
			return fieldErr(op, name, i+2, "amount_fen", "%d: want 1 to the record's %d fen", d.AmountFen, r.AmountFen)
		}
		before, err := x.Store.Corrections(ctx, "", d.RefFile, d.RefSeq)
		if err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
		for _, c := range imp.Corrections {
			if c.RefFile == d.RefFile && c.RefSeq == d.RefSeq {
				before = append(before, c)
			}
		}
		last := Stage(0)
		for _, c := range before {
			if c.Type == FileDispute {
				last = c.Stage
			}
		}
		if ok := last == 0 && d.Stage == StageRaise || last == StageRaise && d.Stage != StageRaise; !ok {
			return citycard.Wrap(op, citycard.Conflict, &FieldError{File: name, Line: i + 2, Field: "stage",
				Msg: fmt.Sprintf("%v after %v: a dispute is raised once, then accepted or declined once", d.Stage, last)})
		}
		c := corr(r, i+1, d.RefFile, d.RefSeq)
		c.Stage, c.AmountFen, c.Reason = d.Stage, int64(d.AmountFen), d.Reason
		imp.Corrections = append(imp.Corrections, c)
	}
	return nil
}

// cities reads the stored cities list.
func (x *Interop) cities(ctx context.Context, cs *Cities) error {
	recs, err := x.Store.Cities(ctx)
	if err != nil {
		return citycard.Wrap("interop.cities", citycard.Other, err)
	}
	return cs.Take(recs)
}

// Cities returns the list of interconnected cities as stored.
func (x *Interop) Cities(ctx context.Context) (*Cities, error) {
	var cs Cities
	return &cs, x.cities(ctx, &cs)
}

// Settling implements clearing.Interconnect: the received ANS, INC and
// ERR files no closed cycle took, with their records as the cycle
// settles them.
func (x *Interop) Settling(ctx context.Context) ([]clearing.Settling, error) {
	const op = "interop.Interop.Settling"
	fs, err := x.Store.Untaken(ctx)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return x.settling(ctx, op, fs)
}

// SettlingOf returns the interconnection files of IDs ids with their
// records as a cycle settles them, in the order of ids: given a closed
// cycle's Result.InteropFiles, what it took, to clear it again. Kind
// NotFound for an ID not stored, and the store's kinds.
func (x *Interop) SettlingOf(ctx context.Context, ids []string) ([]clearing.Settling, error) {
	const op = "interop.Interop.SettlingOf"
	fs := make([]Stored, 0, len(ids))
	for _, id := range ids {
		f, err := x.Store.File(ctx, id)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		f.Body = nil
		fs = append(fs, f)
	}
	return x.settling(ctx, op, fs)
}

// settling reads the records of files fs as a cycle settles them.
func (x *Interop) settling(ctx context.Context, op string, fs []Stored) ([]clearing.Settling, error) {
	out := make([]clearing.Settling, 0, len(fs))
	for _, f := range fs {
		var err error
		s := clearing.Settling{File: f.ID}
		add := func(m clearing.InteropMove, r *Rec) error {
			s.Records = append(s.Records, clearing.Settled{Move: m, Issuer: r.Issuer.String(), Acquirer: r.Acquirer, TerminalType: r.TerminalType,
				Product: r.Product, CardType: r.CardType, AmountFen: r.AmountFen})
			return nil
		}
		switch f.Type {
		case FileAnswer:
			err = x.Store.Answered(ctx, f.ID, func(r *Rec) error {
				if r.State == Accepted {
					return add(clearing.InteropAccepted, r)
				}
				return add(clearing.InteropRejected, r)
			})
			if err == nil {
				// An answer to our ERR or DSP file: the cases it
				// accepted, kept as its corrections.
				err = x.correctionsOf(ctx, f.ID, &s)
			}
		case FileIncoming:
			err = x.Store.Records(ctx, f.ID, func(r *Rec) error {
				if r.State != Accepted {
					return nil
				}
				r.Issuer = x.Own
				return add(clearing.InteropIncoming, r)
			})
		case FileError:
			err = x.correctionsOf(ctx, f.ID, &s)
		}
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// correctionsOf adds the corrections stored of file id to s.
func (x *Interop) correctionsOf(ctx context.Context, id string, s *clearing.Settling) error {
	cs, err := x.Store.Corrections(ctx, id, "", 0)
	for _, c := range cs {
		s.Records = append(s.Records, clearing.Settled{Move: clearing.InteropCorrection, Issuer: c.Issuer, Acquirer: c.Acquirer, TerminalType: c.TType,
			Product: c.Product, CardType: c.CardType, AmountFen: c.AmountFen})
	}
	return err
}

var _ clearing.Interconnect = (*Interop)(nil)
