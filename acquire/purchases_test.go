package acquire

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// TestCardPurchases reads a card's purchases back from the journal:
// booked ones, in journal order, whatever order they arrived in; a grey
// debit confirmed by the next record counts, one released does not, nor
// another card's.
func TestCardPurchases(t *testing.T) {
	c, _, a := newBackOffice(t)
	bus := c.device(terminal.ModePOS, "bus")
	metro := c.device(terminal.ModePOS, "metro")
	cd, other := c.card(21), c.card(22)
	c.tap(bus, cd, 100)   // counter 0
	c.tap(metro, cd, 200) // counter 1: uploaded first
	c.tap(bus, other, 50)
	cd.Tear(card.TearAfterCommit)
	bus.Tap(cd, 300)      // counter 2, grey: the card did debit
	c.tap(metro, cd, 400) // counter 3 confirms it
	cd.Tear(card.TearBeforeCommit)
	bus.Tap(cd, 500)    // counter 4, grey: never debited
	c.tap(bus, cd, 600) // counter 4 again: releases it

	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	submit(t, a, batchOf(bus.id, "b", bus.spool.take()))

	me := Card{ourIssuer, cd.State().ASN}
	got, err := a.CardPurchases(context.Background(), me, Card{ourIssuer, other.State().ASN})
	if err != nil {
		t.Fatal(err)
	}
	var fen int64
	counters := map[uint16]int64{}
	for _, p := range got[me] {
		fen += p.AmountFen
		counters[p.Counter] = p.AmountFen
		if p.At.IsZero() || p.Pos < 1 {
			t.Errorf("purchase %+v: no time or position", p)
		}
	}
	if want := int64(100 + 200 + 300 + 400 + 600); fen != want || len(got[me]) != 5 || counters[4] != 600 {
		t.Fatalf("purchases %+v: %d fen, want %d in 5 (the confirmed grey in, the released one out)", got[me], fen, want)
	}
	if sh, _ := a.Shadow(ourIssuer, me.ASN); sh.BookedFen != -fen {
		t.Fatalf("shadow books %d, the purchases read %d", sh.BookedFen, fen)
	}
	if o := got[Card{ourIssuer, other.State().ASN}]; len(o) != 1 || o[0].AmountFen != 50 {
		t.Fatalf("the other card's purchases %+v", o)
	}
	for i := 1; i < len(got[me]); i++ {
		if got[me][i].Pos <= got[me][i-1].Pos {
			t.Fatalf("not in journal order: %+v", got[me])
		}
	}

	// Bounds: no card, too many.
	if _, err := a.CardPurchases(context.Background()); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("no card: %v", err)
	}
	if _, err := a.CardPurchases(context.Background(), make([]Card, CardPurchasesMax+1)...); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("%d cards: %v", CardPurchasesMax+1, err)
	}
	if _, err := a.CardPurchases(context.Background(), make([]Card, CardPurchasesMax)...); err != nil {
		t.Fatalf("%d cards: %v", CardPurchasesMax, err)
	}
}

// TestLastUse: the newest time stamped on a card's records, whatever
// order they came in; a card without records is absent.
func TestLastUse(t *testing.T) {
	c, _, a := newBackOffice(t)
	bus := c.device(terminal.ModePOS, "bus")
	metro := c.device(terminal.ModePOS, "metro")
	cd, idle := c.card(31), c.card(32)
	c.tap(bus, cd, 100)
	c.tap(metro, cd, 100)
	last := c.now // the city's clock at the last tap
	submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	submit(t, a, batchOf(bus.id, "b", bus.spool.take()))
	me, other := Card{ourIssuer, cd.State().ASN}, Card{ourIssuer, idle.State().ASN}
	got, err := a.LastUse(context.Background(), me, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got[other]; ok || !got[me].Equal(last.Truncate(time.Second)) {
		t.Fatalf("last use %v, want %v for the card and none for the idle one", got, last)
	}
	if _, err := a.LastUse(context.Background()); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("no card: %v", err)
	}
}
