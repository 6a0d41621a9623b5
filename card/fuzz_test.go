package card_test

import (
	"bytes"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// fuzzState is where a fuzzed APDU lands.
type fuzzState int

const (
	fuzzNothingSelected fuzzState = iota // fresh after power-up
	fuzzSelected                         // e-purse selected, one purchase committed
	fuzzInPurchase                       // an INITIALIZE FOR CAPP PURCHASE open
	fuzzInLoad                           // an INITIALIZE FOR LOAD open
	fuzzStates
)

// FuzzTransmit sends arbitrary bytes as one APDU to a citizen card (3DES
// key v1, SM4 key v2, a product and a trip on file, one purchase
// committed) in each of four states: nothing selected, the e-purse
// selected, inside a composite purchase, inside a load. The card must
// never panic and always answer with a status word; a refusal changes no
// balance, counter, log or proof; no answer moves the balance outside its
// limits. Inside a transaction, the terminal's correct DEBIT or CREDIT
// must then either commit exactly the pending amount with the MAC2 and TAC
// computed independently, or be refused with nothing changed.
func FuzzTransmit(f *testing.F) {
	base := newFixture(f, card.ProfileCitizen, []keys.Alg{keys.Alg3DES, keys.AlgSM4}, withBalance(5000), withOverdraw(100))
	trip := card.JourneyRecord{Status: card.LegOpen, Network: 1, Line: 2, Station: 3, EntryDate: testDate, EntryTime: testTime}
	product := card.Product{Record: 0x11, ProductID: 5, Type: card.ProductCountTicket, ValidFrom: testStart, ValidTo: testExpiry, RidesLeft: 3}
	tb, pb := mustMarshal(f, trip), mustMarshal(f, product)

	seeds := [][]byte{
		nil,
		{0x00},
		{0x00, 0xA4, 0x04},
		cmdSelect(card.ProfileCitizen.AID()),
		cmdSelect(card.BankAID()),
		{0x00, 0xB0, 0x95, 0x00, 0x20},
		{0x00, 0xB0, 0x95, 0x1F, 0x00},
		cmdReadLog(1),
		cmdReadTransit(card.RecordJourney),
		cmdReadTransit(0x11),
		cmdGetChallenge(),
		cmdGetBalance(),
		cmdInit(0x00, 2, 100, testTerminal),
		cmdInit(0x01, 1, 100, testTerminal),
		cmdInit(0x03, 1, 100, testTerminal),
		cmdUpdateCAPP(tb),
		cmdUpdateCAPP(pb),
		cmdUpdateCAPP(mustMarshal(f, card.Spend{Day: testDate, DaySpendFen: 1})),
		cmdDebit(2, testDate, testTime, [4]byte{1, 2, 3, 4}),
		cmdCredit(testDate, testTime, [4]byte{1, 2, 3, 4}),
		cmdProof(citycard.TxPurchase, 0),
		cmdProof(citycard.TxCompositePurchase, 1),
		cmdBlock(0x1E, [4]byte{}),
		cmdBlock(0x18, [4]byte{}),
		{0x80, 0xCA, 0x9F, 0x36, 0x00},
		{0x90, 0x5C, 0x00, 0x02, 0x04},
	}
	for _, s := range seeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, cmd []byte) {
		for st := range fuzzStates {
			fx := base.fresh(t)
			if err := fx.card.SetProduct(product); err != nil {
				t.Fatal(err)
			}
			var pendingP *keys.Purchase
			var pendingL *keys.Load
			if st != fuzzNothingSelected {
				fx.selectEPurse()
				fx.purchase(citycard.TxCompositePurchase, 1, 10, tb)
			}
			switch st {
			case fuzzInPurchase:
				_, pendingP = fx.startPurchase(citycard.TxCompositePurchase, 1, 300)
			case fuzzInLoad:
				in := parseInitLoad(t, fx.must(cmdInit(0x00, 2, 700, testTerminal), apdu.SWOK))
				pendingL = &keys.Load{Random: in.random, OnlineCounter: in.counter, BalanceBefore: uint32(in.balance),
					Amount: 700, Type: citycard.TxLoad, TerminalID: testTerminal, Date: testDate, Time: testTime}
			}

			before, lastBefore := fx.money(), fx.card.State().Last
			resp, err := fx.card.Transmit(cmd)
			if err != nil {
				t.Fatalf("state %d: Transmit(%X): %v", st, cmd, err)
			}
			if len(resp) < 2 {
				t.Fatalf("state %d: Transmit(%X) answered %X: no status word", st, cmd, resp)
			}
			_ = card.Describe(cmd, resp) // must not panic either
			r, _ := apdu.ParseResponse(resp)
			after := fx.money()
			s := fx.card.State()
			if r.SW != apdu.SWOK && (after != before || !sameProof(s.Last, lastBefore)) {
				t.Fatalf("state %d: %X answered %v but changed the card: %+v -> %+v", st, cmd, r.SW, before, after)
			}
			if after.online < before.online || after.offline < before.offline {
				t.Fatalf("state %d: %X moved a counter back: %+v -> %+v", st, cmd, before, after)
			}
			if s.BalanceFen < -100 || s.BalanceFen > card.BalanceMaxFenDefault {
				t.Fatalf("state %d: %X left the balance at %d", st, cmd, s.BalanceFen)
			}

			// The terminal carries on with its correct command.
			switch {
			case pendingP != nil:
				pr := fx.purchaseProof(1, pendingP)
				b := fx.money()
				d, sw := fx.send(cmdDebit(pendingP.TerminalSeq, pendingP.Date, pendingP.Time, pr.MAC1))
				checkFollowUp(t, fx, b, sw, d, append(pr.TAC[:], pr.MAC2[:]...), -300)
			case pendingL != nil:
				pr := fx.loadProof(2, pendingL)
				b := fx.money()
				d, sw := fx.send(cmdCredit(pendingL.Date, pendingL.Time, pr.MAC2))
				checkFollowUp(t, fx, b, sw, d, pr.TAC[:], 700)
			}
		}
	})
}

// checkFollowUp checks the terminal's DEBIT or CREDIT after a fuzzed
// command: committed with the independent TAC, or refused unchanged.
func checkFollowUp(t *testing.T, fx *fixture, before money, sw apdu.SW, data, want []byte, deltaFen int64) {
	t.Helper()
	after := fx.money()
	switch sw {
	case apdu.SWOK:
		if !bytes.Equal(data, want) {
			t.Fatalf("follow-up answered %X, want %X", data, want)
		}
		if after.balance != before.balance+deltaFen || after.logLen < 1 {
			t.Fatalf("follow-up committed %+v -> %+v, want a change of %d fen", before, after, deltaFen)
		}
	case apdu.SWConditionsNotMet, apdu.SWMACInvalid, apdu.SWINSNotSupported:
		if sw == apdu.SWINSNotSupported && !bytes.Equal(fx.card.State().Selected, card.BankAID()) {
			t.Fatalf("follow-up answered %v with the e-purse selected", sw)
		}
		if after != before {
			t.Fatalf("refused follow-up (%v) changed the card: %+v -> %+v", sw, before, after)
		}
	default:
		t.Fatalf("follow-up answered %v", sw)
	}
}

func sameProof(a, b *card.TransactionProof) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
