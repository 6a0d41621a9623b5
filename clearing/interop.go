package clearing

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// The interconnection's hook (package interop): a cycle settles the
// interconnection files imported since the previous cycle closed, each
// file whole, in the first cycle that closes after its import, as it
// takes adjustments. The records of other cities' cards accepted here
// are cleared pending their issuer (Result.Pending) in the cycle of their
// acceptance, and settle in the cycle that takes their issuer's answer;
// so do our cards' records accepted elsewhere, in the cycle that takes
// the incoming file they came in, and the corrections of an error file.
// A closed cycle is never changed: a file imported after it is the next
// cycle's. The store's Save of the closing cycle marks the files it took
// (Result.InteropFiles) in the same transaction, so that no other cycle
// takes one again.

// InteropFilesMax bounds the interconnection files one cycle takes.
const InteropFilesMax = 4096

// InteropMove is what one interconnection record does in the cycle that
// settles it. The names are stored (in Result); the list only grows at
// the end.
type InteropMove uint8

// The moves.
const (
	// InteropAccepted: a record of another city's card accepted here,
	// accepted by its issuer: the issuer pays our operator the fare, the
	// operator its fee to the collector, as for any record.
	InteropAccepted InteropMove = 1
	// InteropRejected: such a record rejected by its issuer: no party
	// moves (the operator was never paid for it) and package interop
	// reverses its receivable and the operator's payable in the ledger.
	InteropRejected InteropMove = 2
	// InteropIncoming: a record of our card accepted in another city,
	// whose TAC we verified: our issuer pays that city.
	InteropIncoming InteropMove = 3
	// InteropCorrection: an error record (差错): the card's issuer pays
	// the acquirer the amount, or (negative) the acquirer pays it back.
	InteropCorrection InteropMove = 4
)

var interopMoveNames = [...]string{InteropAccepted: "accepted", InteropRejected: "rejected", InteropIncoming: "incoming", InteropCorrection: "correction"}

// String returns the move's name.
func (m InteropMove) String() string {
	if int(m) < len(interopMoveNames) && interopMoveNames[m] != "" {
		return interopMoveNames[m]
	}
	return "interop?"
}

// Settled is one interconnection record as a cycle settles it.
type Settled struct {
	Move InteropMove
	// Issuer is the card's issuer, who pays; Acquirer who is paid: our
	// operator for our terminals' records, the acquiring city's
	// institution for our cards' records taken there.
	Issuer       string
	Acquirer     string
	TerminalType registry.TerminalType // our terminal's type; 0 for another city's
	Product      uint16
	CardType     uint8
	AmountFen    int64 // 0 to 2^32-1; a correction's is signed and not 0
}

// Settling is one interconnection file a cycle takes whole: its ID and
// its records.
type Settling struct {
	File    string
	Records []Settled
}

// Interconnect is what a cycle reads of the interconnection; package
// interop implements it over its store.
type Interconnect interface {
	// Settling returns the interconnection files no closed cycle took,
	// by file ID, at most InteropFilesMax.
	Settling(ctx context.Context) ([]Settling, error)
}

// InteropTotals are what a cycle settled of the interconnection.
type InteropTotals struct {
	Accepted, Rejected, Incoming, Corrections Totals
}

// checkInterop checks in's interconnection files. Kind Invalid.
func checkInterop(op string, in *Input) error {
	if len(in.Interop) > InteropFilesMax {
		return citycard.E(op, citycard.Invalid, "cycle %v: %d interconnection files, at most %d", in.Day, len(in.Interop), InteropFilesMax)
	}
	seen := map[string]bool{}
	for _, f := range in.Interop {
		if f.File == "" || seen[f.File] {
			return citycard.E(op, citycard.Invalid, "cycle %v: interconnection file %q: want one named file once", in.Day, f.File)
		}
		seen[f.File] = true
		if len(f.Records) > ItemsMax {
			return citycard.E(op, citycard.Invalid, "cycle %v: interconnection file %s: %d records, at most %d", in.Day, f.File, len(f.Records), ItemsMax)
		}
		for i := range f.Records {
			s := &f.Records[i]
			bad := s.Issuer == "" || s.Acquirer == "" || s.Issuer == s.Acquirer || s.Move.String() == "interop?"
			if s.Move == InteropCorrection {
				bad = bad || s.AmountFen == 0 || s.AmountFen < -math.MaxUint32 || s.AmountFen > math.MaxUint32
			} else {
				bad = bad || s.AmountFen < 0 || s.AmountFen > math.MaxUint32
			}
			if bad {
				return citycard.E(op, citycard.Invalid, "cycle %v: interconnection file %s record %d: %+v: want a move, two parties and an amount in range", in.Day, f.File, i+1, *s)
			}
		}
	}
	return nil
}

// clearInterop settles in's interconnection files into lines and res.
func (c *Clearer) clearInterop(in *Input, res *Result, lines map[lineKey]*line, legs *[3]int64) {
	for _, f := range in.Interop {
		res.InteropFiles = append(res.InteropFiles, f.File)
		for i := range f.Records {
			s := &f.Records[i]
			lk := lineKey{interop: s.Move, issuer: s.Issuer, operator: s.Acquirer, product: s.Product, cardType: s.CardType, tt: s.TerminalType}
			switch s.Move {
			case InteropAccepted:
				res.Interop.Accepted.add(s.AmountFen)
			case InteropRejected:
				res.Interop.Rejected.add(s.AmountFen)
				continue
			case InteropIncoming:
				res.Interop.Incoming.add(s.AmountFen)
			case InteropCorrection:
				res.Interop.Corrections.add(s.AmountFen)
			}
			c.clearOne(lines, legs, lk, s.AmountFen)
		}
	}
	slices.SortFunc(res.InteropFiles, strings.Compare)
}

// interopLines sums res's interconnection lines by move, for
// assertAggregations.
func interopLines(res *Result) (accepted, incoming, corrections Totals) {
	for i := range res.Lines {
		l := &res.Lines[i]
		t := map[string]*Totals{"accepted": &accepted, "incoming": &incoming, "correction": &corrections}[l.Interop]
		if t != nil {
			t.Count += l.Records
			t.AmountFen += l.GrossFen
		}
	}
	return
}
