package clearing

import (
	"cmp"
	"slices"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/record"
)

// The products of the float per product that are no card product.
const (
	// NoProduct is the product of a card card management does not hold:
	// another issuer's, or one of ours it never sold.
	NoProduct = "-"
	// UnexplainedProduct holds the ledger's float postings no card and no
	// journaled record explains: an entry naming neither, or the part of
	// a batch's entries its records do not account for.
	UnexplainedProduct = "?"
)

// FloatSplit sums the three figures of the float (the package doc's
// "Card float") per issuer and card product, as the float report shows
// them: fed the ledger's float postings, the journal's records and grey
// decisions, the card shadows and card management's book, it gives each
// issuer's line (Product "") and its lines per product (Figures). The
// ledger does not name a card's product: a posting is put on one through
// its entry's drill-down, card management's entries naming their card
// (Source "card:ISSUER/ASN"), acquisition's their batch
// (acquire.LedgerSource), whose records' movements (the rules
// acquisition books by: a booked record of a card we verified, or a
// grey one, debits the float; a grey record released or reversed
// credits it) say which cards, and so which products, the entry moved;
// what they do not account for is UnexplainedProduct's. So the
// products' ledger figures sum to the ledger's account, and a
// disagreement between the ledger and the journal shows on the
// unexplained line.
type FloatSplit struct {
	own      string
	products map[citycard.ASN]string
	sums     map[floatKey]*floatSums
	// batches are acquisition's entries as the ledger has them (by
	// source and issuer) and as their records move them (by product too).
	ledgerBatches map[batchKey]*[2]int64
	journal       map[batchKey]*[2]int64
	// foreign are the issuers of other cities' cards the journal's
	// records showed (pending their issuer).
	foreign map[string]bool
}

type floatKey struct{ issuer, product string }

type batchKey struct{ source, issuer, product string }

type floatSums struct {
	debits, credits        int64 // the ledger's, on card_float
	booked, suspense, seen int64 // the shadows', and the load records the journal holds
	book, cmsDebits        int64 // card management's
	greys                  int64 // acquisition's credits: greys released or reversed
	elsewhere              int64 // our cards' records taken in other cities (Incoming), net: off the shadows
	elsewhereCredits       int64 // their corrections crediting the float
	pending                int64 // purchases pending their issuer (and their greys): on the shadow, not on the float
}

// NewFloatSplit returns the split of our issuer own's float, whose cards'
// products products gives (card management's: cms.Store.CardProducts).
func NewFloatSplit(own string, products map[citycard.ASN]string) *FloatSplit {
	return &FloatSplit{own: own, products: products, sums: map[floatKey]*floatSums{},
		ledgerBatches: map[batchKey]*[2]int64{}, journal: map[batchKey]*[2]int64{}, foreign: map[string]bool{}}
}

func (f *FloatSplit) productOf(issuer string, asn citycard.ASN) string {
	if p, ok := f.products[asn]; ok && issuer == f.own {
		return p
	}
	return NoProduct
}

func (f *FloatSplit) sum(issuer, product string) *floatSums {
	k := floatKey{issuer, product}
	s := f.sums[k]
	if s == nil {
		s = &floatSums{}
		f.sums[k] = s
	}
	return s
}

func (f *FloatSplit) batch(m map[batchKey]*[2]int64, k batchKey) *[2]int64 {
	b := m[k]
	if b == nil {
		b = &[2]int64{}
		m[k] = b
	}
	return b
}

// Posting adds a ledger entry's posting to card_float:issuer (fen > 0 a
// debit), put on a product by the entry's source: card management's
// name their card; any other's (acquisition's batch, an
// interconnection file) is put on products by the records fed for that
// source (Record, Grey, Incoming), and what they do not account for is
// unexplained.
func (f *FloatSplit) Posting(issuer, source string, fen int64) {
	if strings.HasPrefix(source, "card:") {
		if i := strings.LastIndexByte(source, '/'); i >= 0 {
			if asn, err := citycard.ParseASN(source[i+1:]); err == nil {
				f.add(issuer, f.productOf(issuer, asn), fen)
				return
			}
		}
		f.add(issuer, UnexplainedProduct, fen)
		return
	}
	addSide(f.batch(f.ledgerBatches, batchKey{source, issuer, ""}), fen)
}

// Incoming adds a record of our card asn taken in another city, which
// an interconnection entry of source books on our float (fen > 0 a
// debit: interop.FloatMoves): the chip spent it there, so it is off
// the shadows as a purchase here would be.
func (f *FloatSplit) Incoming(source string, asn citycard.ASN, fen int64) {
	p := f.productOf(f.own, asn)
	addSide(f.batch(f.journal, batchKey{source, f.own, p}), fen)
	s := f.sum(f.own, p)
	s.elsewhere += fen
	if fen < 0 {
		s.elsewhereCredits -= fen
	}
}

func addSide(b *[2]int64, fen int64) {
	if fen > 0 {
		b[0] += fen
	} else {
		b[1] -= fen
	}
}

func (f *FloatSplit) add(issuer, product string, fen int64) {
	s := f.sum(issuer, product)
	if fen > 0 {
		s.debits += fen
	} else {
		s.credits -= fen
	}
}

// Record adds a journaled record: its movement of the float, by
// acquisition's rules, to its batch's; a load record to what the
// shadows saw. Kind Invalid for a record that does not decode.
func (f *FloatSplit) Record(e *acquire.Journaled) error {
	r, err := record.DecodeBinary(e.Raw[:])
	if err != nil {
		return citycard.E("clearing.FloatSplit.Record", citycard.Invalid, "journal position %d: %w", e.Pos, err)
	}
	issuer := r.Issuer.String()
	p := f.productOf(issuer, r.ASN)
	switch {
	case e.Class == acquire.ClassLoad:
		f.sum(issuer, p).seen += int64(r.Amount)
	case e.Class == acquire.ClassBooked && e.Outcome == acquire.OutcomePendingIssuer,
		e.Class == acquire.ClassSuspense && e.Flags&acquire.FlagPendingIssuer != 0:
		// Another city's card: taken from the interconnection receivable
		// (to its operator, or to suspense), never from the float.
		f.foreign[issuer] = true
		f.sum(issuer, p).pending += int64(r.Amount)
	case e.Class == acquire.ClassBooked, e.Class == acquire.ClassSuspense:
		f.batch(f.journal, batchKey{acquire.LedgerSource(e.Terminal, e.BatchID), issuer, p})[0] += int64(r.Amount)
	}
	return nil
}

// Grey adds a grey decision made by a record of batch source: a release
// or a reversal credits the float, or, for another city's card (its grey
// record, added before, said so), the interconnection receivable.
func (f *FloatSplit) Grey(source string, g *acquire.GreyDecision) {
	if g.Move != acquire.GreyReleased && g.Move != acquire.GreyReversed {
		return
	}
	issuer := g.Issuer.String()
	p := f.productOf(issuer, g.ASN)
	if f.foreign[issuer] {
		f.sum(issuer, p).pending -= g.AmountFen
		return
	}
	f.batch(f.journal, batchKey{source, issuer, p})[1] += g.AmountFen
	f.sum(issuer, p).greys += g.AmountFen
}

// Shadow adds a card shadow (acquire.Acquirer.Shadows).
func (f *FloatSplit) Shadow(issuer citycard.IssuerCode, asn citycard.ASN, bookedFen, suspenseFen int64) {
	s := f.sum(issuer.String(), f.productOf(issuer.String(), asn))
	s.booked += bookedFen
	s.suspense += suspenseFen
}

// Book adds card management's flows of our issuer's cards, by product
// (cms.Store.ProductFlowTotals; "" for a card it does not hold).
func (f *FloatSplit) Book(byProduct map[string]map[cms.FlowType]int64) {
	for p, tot := range byProduct {
		if p == "" {
			p = NoProduct
		}
		s := f.sum(f.own, p)
		s.book += cms.BookTotal(tot)
		s.cmsDebits += tot[cms.FlowRefund] + tot[cms.FlowLoadReversed] + tot[cms.FlowMovedOut] + tot[cms.FlowAdjustDebit]
	}
}

// Figures returns the figures of every issuer (Product "") and of each
// of its products, by issuer then product.
func (f *FloatSplit) Figures() []FloatFigures {
	sums := map[floatKey]floatSums{}
	for k, s := range f.sums {
		sums[k] = *s
	}
	// Acquisition's entries: each product what its records moved, the
	// rest of what the ledger has unexplained.
	explained := map[batchKey][2]int64{}
	for k, j := range f.journal {
		s := sums[floatKey{k.issuer, k.product}]
		s.debits += j[0]
		s.credits += j[1]
		sums[floatKey{k.issuer, k.product}] = s
		e := explained[batchKey{k.source, k.issuer, ""}]
		explained[batchKey{k.source, k.issuer, ""}] = [2]int64{e[0] + j[0], e[1] + j[1]}
	}
	for k, l := range f.ledgerBatches {
		e := explained[k]
		s := sums[floatKey{k.issuer, UnexplainedProduct}]
		s.debits += l[0] - e[0]
		s.credits += l[1] - e[1]
		sums[floatKey{k.issuer, UnexplainedProduct}] = s
		delete(explained, k)
	}
	for k, e := range explained { // records of batches without a ledger entry on the float
		s := sums[floatKey{k.issuer, UnexplainedProduct}]
		s.debits -= e[0]
		s.credits -= e[1]
		sums[floatKey{k.issuer, UnexplainedProduct}] = s
	}
	totals := map[string]floatSums{}
	for k, s := range sums {
		t := totals[k.issuer]
		t.debits, t.credits = t.debits+s.debits, t.credits+s.credits
		t.booked, t.suspense, t.seen = t.booked+s.booked, t.suspense+s.suspense, t.seen+s.seen
		t.book, t.cmsDebits, t.greys, t.pending = t.book+s.book, t.cmsDebits+s.cmsDebits, t.greys+s.greys, t.pending+s.pending
		t.elsewhere, t.elsewhereCredits = t.elsewhere+s.elsewhere, t.elsewhereCredits+s.elsewhereCredits
		totals[k.issuer] = t
	}
	var out []FloatFigures
	figure := func(issuer, product string, s floatSums) FloatFigures {
		// Another city's card's purchase, pending its issuer, is booked
		// on its shadow but taken from interconnect_receivable, never
		// from the float: it is added back.
		fg := FloatFigures{Issuer: issuer, Product: product, LedgerFen: s.credits - s.debits, ShadowFen: s.booked - s.suspense + s.pending}
		if issuer == f.own {
			fg.ShadowFen = s.book - (s.seen - s.booked + s.suspense) - s.elsewhere
			fg.BookFen, fg.HasBook = s.book-(s.debits-s.cmsDebits-s.greys-s.elsewhereCredits), true
		}
		return fg
	}
	for issuer, t := range totals {
		out = append(out, figure(issuer, "", t))
	}
	for k, s := range sums {
		if s == (floatSums{}) {
			continue
		}
		out = append(out, figure(k.issuer, k.product, s))
	}
	slices.SortFunc(out, func(a, b FloatFigures) int {
		return cmp.Or(strings.Compare(a.Issuer, b.Issuer), strings.Compare(a.Product, b.Product))
	})
	return out
}
