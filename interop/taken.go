package interop

import (
	"context"
	"math"
	"time"

	"github.com/citycard/citycard"
)

// CardRecordsPageMax bounds the records of one card a store reads at
// once (CardStore.CardRecords). A card has at most 65,536 records
// accepted from other cities (its offline counter has that many values,
// and the store's unique index of (issuer, asn, counter) accepts each
// once), so CardTaken reads them all in at most 66 pages.
const CardRecordsPageMax = 1000

// Tap is when the card of an INC record was tapped, kept beside the
// record (migration 0039's interop_taps, as Rec has no time and a
// stored record never changes): what cuts a lost or damaged card's
// records elsewhere at its report, as its purchases here are cut
// (cms.SplitAtCut). Import.Taps holds one for each record of an INC
// file, accepted or not.
type Tap struct {
	File string
	Seq  int
	At   time.Time // the record's date and time (China time, whole seconds)
}

// TapColumns are the columns of a stored Tap (interop_taps), in the
// order of Args; times in Unix nanoseconds.
const TapColumns = `file_id, seq, at_ns`

// Args returns t's columns (TapColumns) as arguments.
func (t *Tap) Args() []any { return []any{t.File, int64(t.Seq), t.At.UnixNano()} }

// Taken is one of our cards' records accepted in another city (a record
// of an INC file we accepted): where it is stored, the card's offline
// counter, the amount it debited and when the card was tapped.
type Taken struct {
	File      string
	Seq       int
	Counter   uint16
	AmountFen int64
	At        time.Time // UTC
}

// CardStore reads a card's records accepted in other cities:
// sqlite.Interop and postgres.Interop implement it beside Store.
type CardStore interface {
	// CardRecords returns the INC records of card (issuer, asn) that
	// were accepted, by counter, those of a counter above after (-1:
	// from the first), at most limit. Kinds Invalid (after not -1 to
	// 65535, limit not 1 to CardRecordsPageMax: CardRecordsArgs), IO (a
	// record stored without its tap: ScanTaken).
	CardRecords(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, after, limit int) ([]Taken, error)
}

// CardRecordsArgs checks CardStore.CardRecords's after and limit and
// returns its arguments as the stores' queries take them: issuer, ASN
// (as stored: upper-case hex), after, limit. Kind Invalid.
func CardRecordsArgs(issuer citycard.IssuerCode, asn citycard.ASN, after, limit int) ([]any, error) {
	const op = "interop.CardRecords"
	if after < -1 || after > math.MaxUint16 {
		return nil, citycard.E(op, citycard.Invalid, "after counter %d: want -1 (from the first) to %d", after, math.MaxUint16)
	}
	if limit < 1 || limit > CardRecordsPageMax {
		return nil, citycard.E(op, citycard.Invalid, "%d records of a card at once: want 1 to %d", limit, CardRecordsPageMax)
	}
	return []any{issuer.String(), hexOf(asn[:]), int64(after), int64(limit)}, nil
}

// TakenColumns are what the stores' CardRecords select, in ScanTaken's
// order, from TakenFrom: a record without its tap reads its time as
// NULL, which ScanTaken refuses rather than lose the record from the
// card's purchases.
const (
	TakenColumns = `r.file_id, r.seq, r.counter, r.amount_fen, t.at_ns`
	TakenFrom    = `interop_records r LEFT JOIN interop_taps t ON t.file_id = r.file_id AND t.seq = r.seq`
)

// ScanTaken scans a row of TakenColumns. Kind IO for a row that does not
// read or has no tap time.
func ScanTaken(row Scanner) (Taken, error) {
	var k Taken
	var seq, counter int64
	var atNs *int64
	if err := row.Scan(&k.File, &seq, &counter, &k.AmountFen, &atNs); err != nil {
		return k, err
	}
	if atNs == nil || counter < 0 || counter > math.MaxUint16 {
		return Taken{}, citycard.E("interop.ScanTaken", citycard.IO, "record %d of %s: stored without its tap time, or counter %d", seq, k.File, counter)
	}
	k.Seq, k.Counter, k.At = int(seq), uint16(counter), time.Unix(0, *atNs).UTC()
	return k, nil
}

// CardTaken returns every INC record of card (issuer, asn) accepted, by
// counter, read from s a page (CardRecordsPageMax) at a time: our card's
// purchases in other cities, which its balance is reckoned less when the
// card is not there to be read (package api's ShadowBalances). Kinds of
// CardRecords.
func CardTaken(ctx context.Context, s CardStore, issuer citycard.IssuerCode, asn citycard.ASN) ([]Taken, error) {
	const op = "interop.CardTaken"
	var out []Taken
	for after := -1; after < math.MaxUint16; {
		page, err := s.CardRecords(ctx, issuer, asn, after, CardRecordsPageMax)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		for _, k := range page {
			if int(k.Counter) <= after {
				panic("interop.CardTaken: a page of " + issuer.String() + "/" + hexOf(asn[:]) + " not above its after counter") // the store broke its contract
			}
			after = int(k.Counter)
		}
		out = append(out, page...)
		if len(page) < CardRecordsPageMax {
			break
		}
	}
	return out, nil
}
