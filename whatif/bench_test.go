//go:build unix

package whatif

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// commuterDay is a journal of cards' commutes, the records in each card's
// order: a bus, then the metro (a transfer); in the evening the metro,
// then a bus (a transfer). Six records and four legs a card, stations
// and times varying by card. The records are not sealed: a replay does
// not verify.
func commuterDay(tb testing.TB, cards int) *fakeJournal {
	tb.Helper()
	j := &fakeJournal{}
	gates := []uint32{stGQ, stGulou1, stDMK, stFM}
	committed := at(23, 0)
	for c := range cards {
		asn := func(r record.Record) record.Record {
			r.ASN[6], r.ASN[7], r.ASN[8], r.ASN[9] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
			return r
		}
		m := time.Duration(c%120) * time.Minute
		from, to := gates[c%4], gates[(c/4+1+c%4)%4]
		if from == to {
			to = gates[(c%4+1)%4]
		}
		bus := uint32(stBusGulou + c%3)
		on1 := mk(0, 1, flat, netMetro, 1, from, at(7, 20).Add(m), 0)
		on2 := mk(0, 4, flat, netMetro, 1, to, at(17, 0).Add(m), 0)
		for _, r := range []record.Record{
			mk(0, 0, flat, netBus, uint32(1+c%2), bus, at(7, 0).Add(m), 200),
			on1,
			entry(mk(0, 2, flat, netMetro, 1, to, at(7, 45).Add(m), 200), on1),
			mk(0, 3, pos, netShop, 1, 1, at(12, 0).Add(m), 1500),
			on2,
			entry(mk(0, 5, flat, netMetro, 1, from, at(17, 30).Add(m), 300), on2),
			mk(0, 6, flat, netBus, uint32(1+c%2), bus, at(17, 50).Add(m), 100),
		} {
			j.add(tb, acquire.ClassBooked, committed, asn(r))
		}
	}
	return j
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplay replays a day of commuters under the new table (and,
// for /old, the old one too), whole: journal read, records decoded, each
// card's order, pricing, sums. records/s is the number to quote: run it
// with -cpu 1 for one core (Workers follows GOMAXPROCS).
func BenchmarkReplay(b *testing.B) {
	const cards = 20_000
	j := commuterDay(b, cards)
	newT, oldT := ningbo(b, busFare, metroFare), ningbo(b)
	for _, tc := range []struct {
		name string
		old  bool
	}{{"new", false}, {"old", true}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := Config{From: day, To: day, New: newT, Workers: runtime.GOMAXPROCS(0)}
			if tc.old {
				cfg.Old = oldT
			}
			var records int64
			cpu0 := cpuTime()
			for b.Loop() {
				rep, err := Run(context.Background(), j, cfg)
				if err != nil {
					b.Fatal(err)
				}
				records += rep.Records + rep.Skipped.NotInTableRecords
			}
			// Records per second of the process's CPU time, besides per
			// second of the clock: on a machine others share, the clock
			// counts their work too.
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(records)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
