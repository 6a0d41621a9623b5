package clearing

import (
	"cmp"
	"slices"
	"strings"
)

// FloatFigures are one issuer's three figures of stored value outstanding
// (沉淀资金), in fen, as the package doc's "Card float" defines them: of
// all its cards (Product ""), or of the cards of one card product
// (FloatSplit).
type FloatFigures struct {
	Issuer    string // the issuer's registry ID (its code)
	Product   string // "" for the issuer's whole float; a card product, NoProduct or UnexplainedProduct
	LedgerFen int64  // (1) card_float:ISSUER, credits minus debits
	ShadowFen int64  // (2) the book less the purchases the shadows booked
	// BookFen is (3), card management's book less the purchases booked;
	// HasBook is false for an issuer whose cards card management does
	// not keep (every issuer but our own): then only (1) and (2) are
	// reconciled.
	BookFen int64
	HasBook bool
}

// FloatLine is one issuer's (or one of its products') reconciliation: its figures, each
// difference from the ledger's, and which figure is off.
type FloatLine struct {
	FloatFigures
	ShadowDiffFen int64 // ShadowFen - LedgerFen
	BookDiffFen   int64 // BookFen - LedgerFen (0 without a book)
	// Off names the figure that disagrees: "" when they agree; "ledger",
	// "shadows" or "book" when the other two agree and it does not;
	// "ledger or shadows" when there is no book to tell which; "all"
	// when no two agree.
	Off string
}

// FloatReport is the reconciliation of every issuer's float.
type FloatReport struct {
	Lines []FloatLine // by issuer, then product (the issuer's whole float first)
	Sound bool        // no line is off
}

// ReconcileFloat reconciles each line's three figures: a pure function,
// the lines in issuer, then product order.
func ReconcileFloat(figs []FloatFigures) FloatReport {
	rep := FloatReport{Sound: true}
	for _, f := range figs {
		l := FloatLine{FloatFigures: f, ShadowDiffFen: f.ShadowFen - f.LedgerFen}
		if f.HasBook {
			l.BookDiffFen = f.BookFen - f.LedgerFen
		}
		l.Off = floatOff(f)
		if l.Off != "" {
			rep.Sound = false
		}
		rep.Lines = append(rep.Lines, l)
	}
	slices.SortFunc(rep.Lines, func(a, b FloatLine) int {
		return cmp.Or(strings.Compare(a.Issuer, b.Issuer), strings.Compare(a.Product, b.Product))
	})
	return rep
}

// floatOff names the figure that disagrees with the other two.
func floatOff(f FloatFigures) string {
	ls := f.LedgerFen == f.ShadowFen
	if !f.HasBook {
		if ls {
			return ""
		}
		return "ledger or shadows"
	}
	lb, sb := f.LedgerFen == f.BookFen, f.ShadowFen == f.BookFen
	switch {
	case ls && lb:
		return ""
	case ls:
		return "book"
	case lb:
		return "shadows"
	case sb:
		return "ledger"
	}
	return "all"
}
