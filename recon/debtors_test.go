package recon

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/registry"
)

// debtorsSettlement clears day 2026-12-01 with a party of each kind in
// net debit beside the collector, closes it on 2026-12-02 under the
// settlement version of now and returns its settlement (exchange.Settle):
// our cards ride the bus (10.00) and shop (3.50); the city's other
// issuer's cards ride the bus (8.60); another city's issuer's card rides
// the metro, accepted in the interconnection's answer (7.00); the shop
// owes the bus an adjustment of 5.00. So the bus is paid 23.60 and the
// metro 7.00, and pay-ins are expected of the city's other issuer
// (8.60, R00001), the other city's (7.00, R00002) and the shop (1.50,
// R00003).
func debtorsSettlement(t *testing.T) *exchange.Settlement {
	t.Helper()
	const our, city, other = "31500001FFFFFFFF", "31500002FFFFFFFF", "51800001FFFFFFFF"
	cal := clearing.DefaultCalendar()
	d := clearing.DayOf(2026, 12, 1)
	clr, err := clearing.NewClearer(clearing.Config{Calendar: cal, Collector: our, Rounding: clearing.RoundHalfEven})
	if err != nil {
		t.Fatal(err)
	}
	in := &clearing.Input{Day: d,
		Interop:     []clearing.Settling{{File: "ANS-1", Records: []clearing.Settled{{Move: clearing.InteropAccepted, Issuer: other, Acquirer: "nb-metro", TerminalType: registry.TerminalGate, AmountFen: 700}}}},
		Adjustments: []clearing.Adjustment{{Ref: "ADJ-1", Of: d - 1, Payer: "shop", Payee: "nb-bus", AmountFen: 500, Reason: "double charge"}}}
	for _, r := range []struct {
		issuer, op string
		fen        int64
	}{{our, "nb-bus", 200}, {our, "nb-bus", 300}, {our, "nb-bus", 500}, {city, "nb-bus", 400}, {city, "nb-bus", 460}, {our, "shop", 350}} {
		in.Claim.To++
		in.Claim.Count++
		in.Claim.AmountFen += r.fen
		in.Items = append(in.Items, clearing.Item{Pos: in.Claim.To, AcceptedAt: cal.Start(d).Add(9 * time.Hour), Class: acquire.ClassBooked, Outcome: acquire.OutcomeVerified,
			Issuer: r.issuer, Operator: r.op, TerminalType: registry.TerminalBusValidator, AmountFen: r.fen})
	}
	res, err := clr.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	end := cal.End(d)
	c := clearing.Open(cal, d, cal.Start(d))
	if c, err = c.Compute(res.Claim.Range, 0, end.Add(time.Hour)); err == nil {
		if c, err = c.Review("ann", end.Add(2*time.Hour)); err == nil {
			if c, err = c.Approve("bob", end.Add(3*time.Hour)); err == nil {
				c, err = c.Close(end.Add(9*time.Hour + 30*time.Minute))
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ps := map[string]exchange.Party{}
	for _, p := range []string{our, city, other, "nb-bus", "nb-metro", "shop"} {
		ps[p] = exchange.Party{Name: p, Account: "ACCT " + p}
	}
	s, err := exchange.Settle(&c, res, ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMatchDebtorPayIns: the pay-ins of the parties in net debit other
// than payers (an issuer of the city, an issuer of another city, an
// operator) are expected and matched as the payers' are, on a camt.053
// and on its CSV form alike: the city's issuer's credit by its
// reference as the EndToEndId, the shop's by its reference in the
// remittance; the other city's issuer has not paid, and its pay-in
// stays open, aged from its due day, whatever credit of its amount
// names no reference (the bank's interest, left for staff). The
// payments are matched apart, debits only.
func TestMatchDebtorPayIns(t *testing.T) {
	s := debtorsSettlement(t)
	var refs []string
	for _, p := range s.Incoming {
		refs = append(refs, fmt.Sprintf("%s %s %d", p.Reference, p.Party, p.AmountFen))
	}
	if want := []string{"CCLR-20261201-R00001 31500002FFFFFFFF 860", "CCLR-20261201-R00002 51800001FFFFFFFF 700", "CCLR-20261201-R00003 shop 150"}; !slices.Equal(refs, want) {
		t.Fatalf("pay-ins expected %q, want %q", refs, want)
	}
	show := func(fs []Finding, open bool) []string {
		var out []string
		for _, f := range fs {
			if f.Open() == open {
				out = append(out, fmt.Sprintf("%s %v %v %d/%d %dd %s %s %s", f.ID, f.State, f.Direction, f.InstructedFen, f.BankFen, f.AgeDays, f.How, strings.Join(f.EndToEndIDs, "+"), strings.Join(f.Parties, "+")))
			}
		}
		return out
	}
	for _, file := range []string{"debtors.xml", "debtors.csv"} {
		fs := reconcile(t, InstructionsOf(s), clearing.DayOf(2026, 12, 5), file)
		if got, want := show(fs, false), []string{
			"match-1 matched DBIT 2360/2360 3d end_to_end_id CCLR-20261201-00001 nb-bus",
			"match-2 matched DBIT 700/700 3d end_to_end_id CCLR-20261201-00002 nb-metro",
			"match-3 matched CRDT -860/-860 3d end_to_end_id CCLR-20261201-R00001 31500002FFFFFFFF",
			"match-4 matched CRDT -150/-150 3d reference CCLR-20261201-R00003 shop",
		}; !slices.Equal(got, want) {
			t.Errorf("%s: closed\n%q\nwant\n%q", file, got, want)
		}
		if got, want := show(fs, true), []string{
			"CCLR-20261201-R00002 unmatched_instruction CRDT -700/0 3d  CCLR-20261201-R00002 51800001FFFFFFFF",
			"bank-5 unmatched_movement CRDT 0/-700 2d   ",
		}; !slices.Equal(got, want) {
			t.Errorf("%s: open\n%q\nwant\n%q", file, got, want)
		}
	}
}
