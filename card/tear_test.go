package card_test

import (
	"bytes"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// tornSend sends cmd to a card armed to tear and checks that the exchange
// fails with kind IO and the card comes back reset.
func tornSend(t *testing.T, f *fixture, cmd []byte) {
	t.Helper()
	resp, err := f.card.Transmit(cmd)
	if err == nil || resp != nil {
		t.Fatalf("torn %s answered %X, %v; want no response and an error", apdu.Hex(cmd[:2]), resp, err)
	}
	if !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("torn exchange error %v, want kind IO", err)
	}
	s := f.card.State()
	if s.Selected != nil || s.InTransaction {
		t.Fatalf("after the tear: selected %X, in transaction %v; want a reset card", s.Selected, s.InTransaction)
	}
	// Reset: nothing selected, so e-purse commands wait for SELECT.
	f.must(cmdGetBalance(), apdu.SWConditionsNotMet)
}

func TestTearPurchase(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		for _, typ := range []byte{citycard.TxPurchase, citycard.TxCompositePurchase} {
			f := newFixture(t, p, []keys.Alg{alg}, withBalance(1000))
			f.selectEPurse()
			f.purchase(citycard.TxPurchase, 1, 10) // a committed transaction before: counter 0

			// Before commit: nothing happens; the terminal learns it from 9406.
			in, pur := f.startPurchase(typ, 1, 100)
			var recs [][]byte
			if typ == citycard.TxCompositePurchase {
				recs = append(recs, mustMarshal(t, card.JourneyRecord{Status: card.LegOpen, Station: 9, EntryDate: testDate, EntryTime: testTime}))
				f.must(cmdUpdateCAPP(recs[0]), apdu.SWOK)
			}
			pr := f.purchaseProof(1, pur)
			before := f.money()
			f.card.Tear(card.TearBeforeCommit)
			tornSend(t, f, cmdDebit(pur.TerminalSeq, pur.Date, pur.Time, pr.MAC1))
			if after := f.money(); after != before {
				t.Fatalf("tear before commit changed the card: %+v -> %+v", before, after)
			}
			if f.card.State().JourneyRecord != nil {
				t.Fatalf("tear before commit wrote the cached trip")
			}
			f.selectEPurse()
			f.must(cmdProof(typ, in.counter), apdu.SWMACNotAvailable)
			// The same counter comes back: the torn purchase never happened.
			in2, pur := f.startPurchase(typ, 1, 100)
			if in2.counter != in.counter || in2.balance != in.balance {
				t.Fatalf("after a tear before commit INITIALIZE gives counter %d balance %d, want %d %d", in2.counter, in2.balance, in.counter, in.balance)
			}
			for _, r := range recs {
				f.must(cmdUpdateCAPP(r), apdu.SWOK)
			}

			// After commit: the debit holds, the response is lost, the proof recovers it.
			pr = f.purchaseProof(1, pur)
			f.card.Tear(card.TearAfterCommit)
			tornSend(t, f, cmdDebit(pur.TerminalSeq, pur.Date, pur.Time, pr.MAC1))
			s := f.card.State()
			if s.BalanceFen != 890 || s.OfflineCounter != in.counter+1 {
				t.Fatalf("tear after commit: balance %d offline %d, want 890 %d", s.BalanceFen, s.OfflineCounter, in.counter+1)
			}
			if typ == citycard.TxCompositePurchase && (s.JourneyRecord == nil || s.JourneyRecord.Station != 9) {
				t.Fatalf("tear after commit lost the cached trip: %+v", s.JourneyRecord)
			}
			f.selectEPurse()
			d := f.must(cmdProof(typ, in.counter), apdu.SWOK)
			if !bytes.Equal(d, append(pr.MAC2[:], pr.TAC[:]...)) {
				t.Fatalf("recovered proof %X, want MAC2 %X TAC %X", d, pr.MAC2, pr.TAC)
			}
			other := citycard.TxPurchase
			if typ == citycard.TxPurchase {
				other = citycard.TxCompositePurchase
			}
			f.must(cmdProof(typ, in.counter+1), apdu.SWMACNotAvailable)
			f.must(cmdProof(typ, in.counter-1), apdu.SWMACNotAvailable)
			f.must(cmdProof(other, in.counter), apdu.SWMACNotAvailable)
			f.must(cmdProof(citycard.TxLoad, in.counter), apdu.SWMACNotAvailable)
			// The tear was for one command only.
			f.purchase(citycard.TxPurchase, 1, 1)
		}
	})
}

func TestTearLoad(t *testing.T) {
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		f := newFixture(t, p, []keys.Alg{alg}, withBalance(1000))
		f.selectEPurse()
		start := func() (initLoad, keys.Load, keys.Proof) {
			in := parseInitLoad(t, f.must(cmdInit(0x00, 1, 500, testTerminal), apdu.SWOK))
			l := keys.Load{Random: in.random, OnlineCounter: in.counter, BalanceBefore: uint32(in.balance), Amount: 500,
				Type: citycard.TxLoad, TerminalID: testTerminal, Date: testDate, Time: testTime}
			return in, l, f.loadProof(1, &l)
		}

		in, l, pr := start()
		before := f.money()
		f.card.Tear(card.TearBeforeCommit)
		tornSend(t, f, cmdCredit(l.Date, l.Time, pr.MAC2))
		if after := f.money(); after != before {
			t.Fatalf("tear before commit changed the card: %+v -> %+v", before, after)
		}
		f.selectEPurse()
		f.must(cmdProof(citycard.TxLoad, in.counter), apdu.SWMACNotAvailable)

		in, l, pr = start()
		f.card.Tear(card.TearAfterCommit)
		tornSend(t, f, cmdCredit(l.Date, l.Time, pr.MAC2))
		if s := f.card.State(); s.BalanceFen != 1500 || s.OnlineCounter != in.counter+1 {
			t.Fatalf("tear after commit: balance %d online %d, want 1500 %d", s.BalanceFen, s.OnlineCounter, in.counter+1)
		}
		f.selectEPurse()
		// For a load the MAC2 half is the host's MAC2 the card accepted.
		d := f.must(cmdProof(citycard.TxLoad, in.counter), apdu.SWOK)
		if !bytes.Equal(d, append(pr.MAC2[:], pr.TAC[:]...)) {
			t.Fatalf("recovered proof %X, want MAC2 %X TAC %X", d, pr.MAC2, pr.TAC)
		}
		f.must(cmdProof(citycard.TxPurchase, in.counter), apdu.SWMACNotAvailable)
		f.must(cmdProof(citycard.TxLoad, in.counter+1), apdu.SWMACNotAvailable)
	})
}

func TestTearAfterCommitOfABadCommand(t *testing.T) {
	// The command runs before the power goes: a wrong MAC1 commits nothing.
	f := newFixture(t, card.ProfileMoT, []keys.Alg{keys.AlgSM4}, withBalance(1000))
	f.selectEPurse()
	in, pur := f.startPurchase(citycard.TxPurchase, 1, 100)
	pr := f.purchaseProof(1, pur)
	pr.MAC1[0] ^= 0x80
	before := f.money()
	f.card.Tear(card.TearAfterCommit)
	tornSend(t, f, cmdDebit(pur.TerminalSeq, pur.Date, pur.Time, pr.MAC1))
	if after := f.money(); after != before {
		t.Fatalf("torn bad DEBIT changed the card: %+v -> %+v", before, after)
	}
	f.selectEPurse()
	f.must(cmdProof(citycard.TxPurchase, in.counter), apdu.SWMACNotAvailable)

	// Tear(TearNone) disarms.
	f.card.Tear(card.TearBeforeCommit)
	f.card.Tear(card.TearNone)
	f.purchase(citycard.TxPurchase, 1, 1)

	// Other commands do not trip the tear; the next DEBIT does.
	f.card.Tear(card.TearBeforeCommit)
	f.must(cmdGetBalance(), apdu.SWOK)
	f.must(cmdSelect(card.ProfileMoT.AID()), apdu.SWOK)
	tornSend(t, f, cmdDebit(1, testDate, testTime, [4]byte{}))
}
