package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/citycard/citycard/sim/city"
)

// The city pays remote top-ups through the staff API, claims most at
// kiosks over HTTP (torn now and then, and claimed again at once),
// leaves the rest to expire and be refunded by the sweep, and refunds
// some lost cards instead of replacing them (TestSimReplacesLostCards
// has the others): every invariant holds, the
// top-ups' among them, and each kind of outcome happened.
func TestSimTopUpsAndLossRefunds(t *testing.T) {
	o := &simOptions{cards: 1000, days: 3, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultLost, city.FaultTear, city.FaultOffline}}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 8) // a seed whose torn claims the cards credited, with loss refunds
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || !rep.Invariants[city.InvTopUps] {
		t.Fatalf("violations: %v", rep.Violations)
	}
	f := rep.Figures
	if f.TopUpsPaid == 0 || f.TopUpsClaimed == 0 || f.TopUpsExpired == 0 || f.TopUpClaimsTorn == 0 || f.TopUpClaimsRecovered == 0 ||
		f.TopUpsPaid != f.TopUpsClaimed+f.TopUpsExpired+f.TopUpsPending || f.TopUpsPaidFen != f.TopUpsClaimedFen+f.TopUpsExpiredFen+f.TopUpsPendingFen {
		t.Errorf("top-ups: %d paid (%d fen), %d claimed (%d fen; %d torn), %d expired (%d fen), %d pending (%d fen)", f.TopUpsPaid, f.TopUpsPaidFen,
			f.TopUpsClaimed, f.TopUpsClaimedFen, f.TopUpClaimsTorn, f.TopUpsExpired, f.TopUpsExpiredFen, f.TopUpsPending, f.TopUpsPendingFen)
	}
	if f.LossRefunds == 0 || f.LossRefunds+f.Replacements != rep.FaultsInjected[string(city.FaultLost)] {
		t.Errorf("%d lost, %d replaced, %d refunded", rep.FaultsInjected[string(city.FaultLost)], f.Replacements, f.LossRefunds)
	}
}

// The check bites: a city that forgets a claim it made finds the back
// office holding it claimed, and says which top-up, with the seed.
func TestSimCatchesAForgottenClaim(t *testing.T) {
	o := &simOptions{cards: 300, days: 2, alg: "3des", quiet: true, forgetClaim: true}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Invariants[city.InvTopUps] {
		t.Fatalf("invariants %v", rep.Invariants)
	}
	if v := strings.Join(rep.Violations, "\n"); !strings.Contains(v, city.InvTopUps+": remote top-up ") || !strings.Contains(v, "claimed; the city claimed it: false") || !strings.Contains(v, "(seed 1)") {
		t.Fatalf("violations: %s", v)
	}
}
