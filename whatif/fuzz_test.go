package whatif

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// FuzzReplayOrder makes a few cards' records from the input (boardings,
// gates' taps with and without their entries, plain purchases, a shop,
// amounts and times drawn from it) and checks what must hold whatever
// they are: every booked record of the day is re-priced or skipped,
// once; the old revenue is what they charged; the cards in the bands are
// the cards; and, with a reorder window longer than the journal, the
// report is the same whatever order the records reached the journal in,
// and whatever the number of workers. That holds while no card has more
// records than may wait for an earlier one (maxWaitingPerCard): past it
// the replay prices the oldest waiting record after a gap, by design
// (TestWaitingBound), so a card's records past the bound are left out.
func FuzzReplayOrder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5})
	f.Add([]byte{1, 1, 2, 1, 2, 0, 0, 3, 9, 200, 7})
	f.Add([]byte("a longer day of taps for several cards, shuffled"))
	oldT, newT := ningbo(f), ningbo(f, busFare, metroFare)
	gates := []uint32{stGQ, stGulou1, stDMK, stFM}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 96 {
			data = data[:96]
		}
		type open struct {
			on record.Record
			ok bool
		}
		var recs []record.Record
		var last [4]open
		var counter [4]uint16
		var sum int64
		for i, b := range data {
			c := int(b>>6) % 4
			if counter[c] >= maxWaitingPerCard {
				continue
			}
			when := at(5, 0).Add(time.Duration(i*7+int(b%5)) * time.Minute)
			fen := uint32(b) * 3
			var r record.Record
			switch b % 6 {
			case 0:
				r = mk(byte(c+1), counter[c], flat, netBus, uint32(1+b%2), stBusGulou, when, fen)
			case 1:
				r = mk(byte(c+1), counter[c], flat, netMetro, 1, gates[b%4], when, 0)
				last[c] = open{r, true}
			case 2:
				r = mk(byte(c+1), counter[c], flat, netMetro, 1, gates[(b/4)%4], when, fen)
				if last[c].ok {
					r = entry(r, last[c].on)
					last[c].ok = false
				}
			case 3:
				r = mk(byte(c+1), counter[c], pos, netShop, 1, 1, when, fen)
			case 4:
				r = mk(byte(c+1), counter[c], pos, netBus, 1, stBusTrain, when, fen)
			case 5:
				r = cat(mk(byte(c+1), counter[c], flat, netBus, 2, stBusTrain, when, fen), uint8(b%3))
			}
			counter[c]++
			recs = append(recs, r)
			if r.Network != netShop {
				sum += int64(r.Amount)
			}
		}
		journal := func(order []record.Record) *fakeJournal {
			j := &fakeJournal{}
			for _, r := range order {
				j.add(t, acquire.ClassBooked, at(23, 0), r)
			}
			return j
		}
		h := fnv.New64a()
		h.Write(data)
		shuffled := append([]record.Record(nil), recs...)
		rand.New(rand.NewPCG(h.Sum64(), 3)).Shuffle(len(shuffled), func(i, k int) { shuffled[i], shuffled[k] = shuffled[k], shuffled[i] })
		var first []byte
		for i, order := range [][]record.Record{recs, shuffled} {
			for _, workers := range []int{1, 2} {
				rep, err := Run(context.Background(), journal(order), Config{From: day, To: day, New: newT, Old: oldT, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if got := rep.Records + rep.Skipped.NotInTableRecords + rep.Skipped.UnpricedRecords; got != int64(len(recs)) {
					t.Fatalf("%d records: %d re-priced, %d not in the table, %d unpriced", len(recs), rep.Records, rep.Skipped.NotInTableRecords, rep.Skipped.UnpricedRecords)
				}
				if rep.OldFen+rep.Skipped.UnpricedFen != sum {
					t.Fatalf("old %d + unpriced %d fen, the records charged %d", rep.OldFen, rep.Skipped.UnpricedFen, sum)
				}
				var cards int64
				for _, b := range rep.ChangePerCard {
					cards += b.Cards
				}
				if cards != rep.Cards || rep.CardsPayMore+rep.CardsPayLess+rep.CardsPaySame != rep.Cards {
					t.Fatalf("cards %d, in bands %d, more+less+same %d", rep.Cards, cards, rep.CardsPayMore+rep.CardsPayLess+rep.CardsPaySame)
				}
				js, _ := json.Marshal(rep)
				if i == 0 && workers == 1 {
					first = js
				} else if string(js) != string(first) {
					t.Fatalf("order %d, %d workers:\n%s\nin counter order, 1 worker:\n%s", i, workers, js, first)
				}
			}
		}
	})
}
