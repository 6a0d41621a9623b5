package storetest

import (
	"context"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/migration"
	"github.com/citycard/citycard/record"
)

// Exec runs one statement with its arguments on a plain connection to a
// store: what its upgrade tests build an old store with.
type Exec func(ctx context.Context, query string, args ...any) error

// MigrateBefore applies ms, a store's migrations, older than version,
// in order, recording each by the statement record (its version and
// name its arguments) in the store's schema_migrations, which exists:
// the store a binary of that time left, for an upgrade test to open.
func MigrateBefore(t *testing.T, ms []migration.Migration, version int, exec Exec, record string) {
	t.Helper()
	ctx := context.Background()
	for _, m := range ms {
		if m.Version >= version {
			break
		}
		if err := exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if err := exec(ctx, record, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// GreyUpgrade is a store migrated before 0037 (its grey decisions name
// no grey position), for RunGreyPositionsMigration.
type GreyUpgrade struct {
	// Exec runs one statement on the store as it is before 0037; its
	// placeholders are $1, $2, ... if Numbered, else ?.
	Exec     Exec
	Numbered bool
	// Upgrade opens the store, which applies 0037, and returns what
	// clearing reads of it and a statement runner as Stores.Exec.
	Upgrade func(t *testing.T) (clearing.Journal, func(ctx context.Context, stmts ...string) error)
}

// RunGreyPositionsMigration upgrades a store migrated before 0037 whose
// journal holds another city's card's grey record (position 2, the
// bus's), a duplicate copy of it (5) and another card's grey (3), with
// decisions stored without the grey's position: the bus grey's
// confirmation (at 4) and its reversal (at 6), and a decision whose grey
// the journal does not hold. After it, both decisions of the bus grey
// name position 2 (not its duplicate, not the other card's), the third
// keeps 0, and the decisions are still append-only.
func RunGreyPositionsMigration(t *testing.T, open func(t *testing.T) GreyUpgrade) {
	ctx := context.Background()
	s := open(t)
	card := citycard.ASN{0, 0, 0x20, 0x00, 0, 0x02, 0, 0, 0, 1}
	other := citycard.ASN{0, 0, 0x20, 0x00, 0, 0x02, 0, 0, 0, 2}
	bus := citycard.TerminalID{0x31, 0x50, 0x01, 0, 0, 1}
	metro := citycard.TerminalID{0x31, 0x50, 0x01, 0, 0, 2}
	entry := func(out acquire.Outcome, class acquire.Class, asn citycard.ASN, counter uint16, term citycard.TerminalID, seq uint32) acquire.Journaled {
		r := record.Record{Status: record.StatusComplete, Type: citycard.TxPurchase, Issuer: interopThem, ASN: asn, Counter: counter, Amount: 200,
			BalanceBefore: 1000, TerminalID: term, TerminalSeq: seq, Date: [4]byte{0x20, 0x25, 0x12, 0x01}, Time: [3]byte{0x08, 0, 0}}
		if out == acquire.OutcomeGrey {
			r.Status = record.StatusGrey
		}
		e := acquire.Journaled{Terminal: term, BatchID: "b", Outcome: out, Class: class, Flags: acquire.FlagPendingIssuer}
		copy(e.Raw[:], r.AppendBinary(nil))
		return e
	}
	insert := func(table, cols string, values ...any) {
		t.Helper()
		ps := make([]string, len(values))
		for i := range ps {
			ps[i] = "?"
			if s.Numbered {
				ps[i] = "$" + strconv.Itoa(i+1)
			}
		}
		if err := s.Exec(ctx, "INSERT INTO "+table+" ("+cols+") VALUES ("+strings.Join(ps, ", ")+")", values...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	chunk := func(first int64, term citycard.TerminalID, es ...acquire.Journaled) {
		t.Helper()
		insert("acquire_journal", "first_pos, n, terminal, batch_id, data", first, int32(len(es)), term.String(), "b", acquire.EncodeChunk(es))
		insert("acquire_chunk_totals", "first_pos, n, amount_fen, at_ns", first, int32(len(es)), int64(200*len(es)), int64(1))
	}
	chunk(1, bus,
		entry(acquire.OutcomePendingIssuer, acquire.ClassBooked, card, 0, bus, 1),
		entry(acquire.OutcomeGrey, acquire.ClassSuspense, card, 1, bus, 2),
		entry(acquire.OutcomeGrey, acquire.ClassSuspense, other, 5, bus, 3))
	chunk(4, metro, entry(acquire.OutcomePendingIssuer, acquire.ClassBooked, card, 2, metro, 1))
	chunk(5, bus, entry(acquire.OutcomeGrey, acquire.ClassDuplicate, card, 1, bus, 2))
	chunk(6, metro, entry(acquire.OutcomePendingIssuer, acquire.ClassBooked, card, 1, metro, 2))
	decision := func(pos int64, idx int32, move string, term citycard.TerminalID, seq uint32, asn citycard.ASN, counter uint16) {
		t.Helper()
		insert("acquire_greys", "pos, idx, move, terminal, seq, issuer, asn, counter, card_type, product, amount_fen",
			pos, idx, move, term.String(), int64(seq), interopThem.String(), hex.EncodeToString(asn[:]), int32(counter), int32(2), int32(0), int64(200))
	}
	decision(4, 0, "confirmed", bus, 2, card, 1)
	decision(6, 0, "reversed", bus, 2, card, 1)
	decision(6, 1, "released", metro, 9, other, 7) // no such grey in the journal
	j, exec := s.Upgrade(t)
	var got []acquire.GreyDecision
	if err := j.Greys(ctx, clearing.Range{From: 0, To: math.MaxInt64}, func(g *acquire.GreyDecision) error {
		got = append(got, *g)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byMove := map[string]int64{}
	for _, g := range got {
		byMove[g.Move.String()] = g.GreyPos
	}
	if len(got) != 3 || byMove["confirmed"] != 2 || byMove["reversed"] != 2 || byMove["released"] != 0 {
		t.Fatalf("after the upgrade: %+v, want the bus grey's decisions at grey position 2 and the unknown one at 0", got)
	}
	for _, q := range []string{
		`UPDATE acquire_greys SET grey_pos = 3 WHERE move = 'released'`,
		`DELETE FROM acquire_greys`,
	} {
		if err := exec(ctx, q); err == nil {
			t.Errorf("%s: allowed after the upgrade", q)
		}
	}
}
