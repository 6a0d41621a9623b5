package card_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// TestPropertyConservation runs a long random sequence of loads,
// purchases and composite purchases, with refusals and wrong MACs mixed
// in, on every profile with both algorithms, and checks after every step
// that balance = initial + loads - purchases, that each counter moves by
// exactly one per commit of its kind (so strictly increases), that every
// MAC2 and TAC equals keys.PurchaseProof or keys.LoadProof computed from
// the host's keys, and that GET TRANSACTION PROOF gives back the last
// one.
func TestPropertyConservation(t *testing.T) {
	const (
		steps       = 1000
		initialFen  = 5000
		overdrawFen = 300
		maxFen      = 20000
	)
	each(t, func(t *testing.T, p card.Profile, alg keys.Alg) {
		other := keys.AlgSM4
		if alg == keys.AlgSM4 {
			other = keys.Alg3DES
		}
		f := newFixture(t, p, []keys.Alg{alg, other}, withBalance(initialFen), withOverdraw(overdrawFen), withMax(maxFen))
		f.selectEPurse()
		rng := rand.New(rand.NewPCG(20250601, uint64(p)<<8|uint64(alg)))

		var loads, purchases int64
		online, offline := uint16(0), uint16(0)
		var last *card.TransactionProof
		var commits int
		var sawMax, sawInsufficient, sawNegative bool
		for step := range steps {
			balance := initialFen + loads - purchases
			version := uint8(1 + rng.IntN(2))
			switch op := rng.IntN(10); {
			case op < 2: // load, sometimes over the maximum
				amount := uint32(1 + rng.IntN(8000))
				if balance+int64(amount) > maxFen {
					f.must(cmdInit(0x00, version, amount, testTerminal), apdu.SWWrongData)
					sawMax = true
					break
				}
				got := f.load(version, amount)
				if int64(got.init.balance) != balance || got.init.counter != online {
					t.Fatalf("step %d: INITIALIZE FOR LOAD balance %d counter %d, want %d %d", step, got.init.balance, got.init.counter, balance, online)
				}
				loads += int64(amount)
				last = &card.TransactionProof{Type: citycard.TxLoad, Counter: online, MAC2: got.mac2, TAC: got.tac}
				online++
				commits++
			case op < 7: // purchase or composite purchase, sometimes over the balance
				amount := uint32(rng.IntN(3000))
				typ, p1 := citycard.TxPurchase, byte(0x01)
				if op >= 5 {
					typ, p1 = citycard.TxCompositePurchase, 0x03
				}
				if int64(amount) > balance+overdrawFen {
					f.must(cmdInit(p1, version, amount, testTerminal), apdu.SWInsufficientFunds)
					sawInsufficient = true
					break
				}
				var recs [][]byte
				if typ == citycard.TxCompositePurchase {
					tr := card.JourneyRecord{Status: card.LegStatus(rng.IntN(2)), Network: uint16(rng.Uint32()), Line: rng.Uint32(),
						Station: rng.Uint32(), EntryDate: testDate, EntryTime: testTime, ProvisionalFen: amount}
					recs = append(recs, mustMarshal(t, tr))
				}
				got := f.purchase(typ, version, amount, recs...)
				if int64(got.init.balance) != balance || got.init.counter != offline {
					t.Fatalf("step %d: INITIALIZE FOR PURCHASE balance %d counter %d, want %d %d", step, got.init.balance, got.init.counter, balance, offline)
				}
				if got.init.alg != f.keys[version].alg || got.init.version != version {
					t.Fatalf("step %d: INITIALIZE key v%d alg %v, want v%d %v", step, got.init.version, got.init.alg, version, f.keys[version].alg)
				}
				purchases += int64(amount)
				last = &card.TransactionProof{Type: typ, Counter: offline, MAC2: got.mac2, TAC: got.tac}
				offline++
				commits++
				if len(recs) > 0 {
					if rec := f.must(cmdReadTransit(card.RecordJourney), apdu.SWOK); !bytes.Equal(rec, recs[0]) {
						t.Fatalf("step %d: journey record %X, want %X", step, rec, recs[0])
					}
				}
			case op == 7: // purchase with a wrong MAC1
				if balance+overdrawFen < 1 {
					break
				}
				_, pur := f.startPurchase(citycard.TxPurchase, version, 1)
				pr := f.purchaseProof(version, pur)
				pr.MAC1[rng.IntN(4)] ^= byte(1 + rng.IntN(255))
				f.must(cmdDebit(pur.TerminalSeq, pur.Date, pur.Time, pr.MAC1), apdu.SWMACInvalid)
			case op == 8: // load with a wrong MAC2
				if balance+1 > maxFen {
					break
				}
				in := parseInitLoad(t, f.must(cmdInit(0x00, version, 1, testTerminal), apdu.SWOK))
				l := keys.Load{Random: in.random, OnlineCounter: in.counter, BalanceBefore: uint32(in.balance), Amount: 1,
					Type: citycard.TxLoad, TerminalID: testTerminal, Date: testDate, Time: testTime}
				pr := f.loadProof(version, &l)
				pr.MAC2[rng.IntN(4)] ^= byte(1 + rng.IntN(255))
				f.must(cmdCredit(l.Date, l.Time, pr.MAC2), apdu.SWMACInvalid)
			default: // recover the last proof
				if last == nil {
					f.must(cmdProof(citycard.TxPurchase, 0), apdu.SWMACNotAvailable)
					break
				}
				d := f.must(cmdProof(last.Type, last.Counter), apdu.SWOK)
				if !bytes.Equal(d, append(last.MAC2[:], last.TAC[:]...)) {
					t.Fatalf("step %d: proof %X, want %X%X", step, d, last.MAC2, last.TAC)
				}
				f.must(cmdProof(last.Type, last.Counter-1), apdu.SWMACNotAvailable)
			}

			s := f.card.State()
			want := initialFen + loads - purchases
			if s.BalanceFen != want || s.OnlineCounter != online || s.OfflineCounter != offline {
				t.Fatalf("step %d: balance %d online %d offline %d, want %d %d %d", step, s.BalanceFen, s.OnlineCounter, s.OfflineCounter, want, online, offline)
			}
			sawNegative = sawNegative || s.BalanceFen < 0
			if s.BalanceFen < -overdrawFen || s.BalanceFen > maxFen {
				t.Fatalf("step %d: balance %d outside [-%d, %d]", step, s.BalanceFen, overdrawFen, maxFen)
			}
			d := f.must(cmdGetBalance(), apdu.SWOK)
			if got := int64(int32(binary.BigEndian.Uint32(d))); got != want {
				t.Fatalf("step %d: GET BALANCE %d, want %d", step, got, want)
			}
			if last != nil && (s.Last == nil || *s.Last != *last) {
				t.Fatalf("step %d: last transaction %+v, want %+v", step, s.Last, last)
			}
		}
		if commits < steps/3 || !sawMax || !sawInsufficient || !sawNegative {
			t.Errorf("%d commits in %d steps, load over the maximum %v, insufficient %v, overdrawn %v: the sequence tests too little",
				commits, steps, sawMax, sawInsufficient, sawNegative)
		}
	})
}
