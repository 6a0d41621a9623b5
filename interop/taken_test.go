package interop

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// pagedCard is a CardStore of one card's records, at the counters from
// first to last, that counts the pages it is asked for.
type pagedCard struct {
	first, last int
	pages       int
	broken      bool // answers a page that is not above after
}

func (p *pagedCard) CardRecords(_ context.Context, issuer citycard.IssuerCode, asn citycard.ASN, after, limit int) ([]Taken, error) {
	if _, err := CardRecordsArgs(issuer, asn, after, limit); err != nil {
		return nil, err
	}
	p.pages++
	var out []Taken
	for c := max(p.first, after+1); c <= p.last && len(out) < limit; c++ {
		out = append(out, Taken{File: "INC-1", Seq: c + 1, Counter: uint16(c), AmountFen: 1, At: time.Unix(int64(c), 0).UTC()})
	}
	if p.broken && len(out) > 0 {
		out[0].Counter = uint16(max(after, 0))
	}
	return out, nil
}

// TestCardTaken: a card's records are read whole a page at a time, the
// page after a full one asked for, none after a short one or after the
// last counter a card can have.
func TestCardTaken(t *testing.T) {
	ctx := context.Background()
	const page = CardRecordsPageMax
	for _, tc := range []struct {
		name        string
		first, last int // last < first: none
		pages       int
	}{
		{"none", 0, -1, 1},
		{"one", 0, 0, 1},
		{"a page less one", 0, page - 2, 1},
		{"a page", 0, page - 1, 2},
		{"a page and one", 0, page, 2},
		{"a full page ending at the last counter", math.MaxUint16 - page + 1, math.MaxUint16, 1},
		{"every counter", 0, math.MaxUint16, (math.MaxUint16 + page) / page},
	} {
		s := &pagedCard{first: tc.first, last: tc.last}
		got, err := CardTaken(ctx, s, ours, citycard.ASN{9})
		if err != nil || len(got) != tc.last-tc.first+1 || s.pages != tc.pages {
			t.Errorf("%s: %d records in %d pages, %v; want %d in %d", tc.name, len(got), s.pages, err, tc.last-tc.first+1, tc.pages)
			continue
		}
		for i, k := range got {
			if int(k.Counter) != tc.first+i {
				t.Errorf("%s: record %d of counter %d, want %d", tc.name, i, k.Counter, tc.first+i)
				break
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a store's page not above its after counter: no panic")
		}
	}()
	CardTaken(ctx, &pagedCard{first: 0, last: page, broken: true}, ours, citycard.ASN{9})
}

// TestCardRecordsArgs: after and limit are refused one past each bound,
// taken at it.
func TestCardRecordsArgs(t *testing.T) {
	for _, tc := range []struct {
		after, limit int
		ok           bool
	}{
		{-1, 1, true}, {math.MaxUint16, CardRecordsPageMax, true},
		{-2, 1, false}, {math.MaxUint16 + 1, 1, false}, {-1, 0, false}, {-1, CardRecordsPageMax + 1, false},
	} {
		args, err := CardRecordsArgs(ours, citycard.ASN{9}, tc.after, tc.limit)
		if tc.ok != (err == nil) || !tc.ok && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("after %d, limit %d: %v", tc.after, tc.limit, err)
		}
		if tc.ok && (args[1] != "09000000000000000000" || args[2] != int64(tc.after) || args[3] != int64(tc.limit)) {
			t.Errorf("after %d, limit %d: arguments %v", tc.after, tc.limit, args)
		}
	}
}
