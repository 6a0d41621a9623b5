package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/sim/city"
)

// Our cards lost after travelling: their balance as of the report moves
// to the replacement (or is refunded) less their purchases in the other
// cities, and every conservation holds.
func TestSimLostAfterTravel(t *testing.T) {
	o := &simOptions{cards: 300, days: 3, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultLost}}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("violations: %v", rep.Violations)
	}
	if f := rep.Figures; f.Travel.Lost == 0 || f.Replacements+f.LossRefunds == 0 {
		t.Fatalf("%d cards lost after travelling, %d replaced, %d refunded: want some", f.Travel.Lost, f.Replacements, f.LossRefunds)
	}
}

// The checks bite: the city's balance moves reckoned without the cards'
// purchases elsewhere (as before they were counted) break conservation
// per card, naming a card lost after travelling.
func TestSimCatchesAMoveWithoutPurchasesElsewhere(t *testing.T) {
	o := &simOptions{cards: 300, days: 3, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultLost},
		wrap: func(bo city.BackOffice) city.BackOffice { return noElsewhere{bo} }}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 8)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Invariants[city.InvConservationCard] {
		t.Fatalf("invariants %v", rep.Invariants)
	}
	if v := strings.Join(rep.Violations, "\n"); !strings.Contains(v, "(seed 8)") {
		t.Fatalf("violations: %s", v)
	}
}

// noElsewhere has no interconnection store for the city's purses.
type noElsewhere struct{ city.BackOffice }

func (noElsewhere) InteropCards() interop.CardStore { return nil }
