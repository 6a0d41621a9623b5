package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
)

// BenchPostBatch books PostBatch calls of n entries of two postings each,
// as the acquisition pipeline does per upload batch (a few entries: one
// per issuer, operator and product) or per group commit (many), on the
// stores open returns. Reported: entries/s, postings/s and PostBatch
// transactions/s. Each store's BenchmarkPostBatch calls it.
func BenchPostBatch(b *testing.B, open func(b *testing.B) ledger.Store) {
	for _, n := range []int{4, 64, 1024} {
		b.Run("entries="+strconv.Itoa(n), func(b *testing.B) {
			start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
			tick := 0
			l := ledger.New(open(b), func() time.Time { tick++; return start.Add(time.Duration(tick) * time.Microsecond) })
			issuers := []ledger.Account{{Type: ledger.CardFloat, Party: "3150000000000001"}, {Type: ledger.CardFloat, Party: "2900000000000002"}}
			operators := []ledger.Account{{Type: ledger.OperatorPayable, Party: "nb-bus"}, {Type: ledger.OperatorPayable, Party: "nb-metro"}, {Type: ledger.OperatorPayable, Party: "nb-bike"}}
			batch := make([]ledger.Entry, n)
			ctx := context.Background()
			postings := 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range batch {
					key := "b" + strconv.Itoa(i) + "-" + strconv.Itoa(j)
					e := ledger.NewEntry(key, ledger.EntryPurchase, "upload:"+strconv.Itoa(i),
						ledger.Transfer(issuers[j%len(issuers)], operators[j%len(operators)], int64(200+j))...)
					e.Product = uint16(j % 5)
					e.Count = 1000 / int64(n)
					batch[j] = e
					postings += len(e.Postings)
				}
				if _, err := l.PostBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*n)/sec, "entries/s")
			b.ReportMetric(float64(postings)/sec, "postings/s")
			b.ReportMetric(float64(b.N)/sec, "tx/s")
		})
	}
}

// BenchCMSLoad books Manager.Load calls one after another on a pool of
// active cards, as the online load host will: each a replay check, a card
// read, and one transaction with its operation key, flow, ledger entry,
// card version and audit record. Reported: loads/s. Each store's
// BenchmarkCMSLoad calls it.
func BenchCMSLoad(b *testing.B, open func(b *testing.B) cms.Store) {
	ctx := context.Background()
	clk := &settable{now: time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)}
	m := cms.NewManager(open(b), cms.DefaultProducts(), mustProtector(b), clk.read)
	cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
	const cards = 64
	asns := make([]citycard.ASN, cards)
	for i := range asns {
		asns[i][9], asns[i][8] = byte(i), 0xB0
		if _, err := m.Apply(ctx, clerk, cmsIssuer, asns[i], "transit", 0); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Move(ctx, clerk, cmsIssuer, asns[i], cms.Personalize); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Sell(ctx, clerk, "sale-"+strconv.Itoa(i), cmsIssuer, asns[i], cash, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// A day of loads per card stays under the daily limit: the shadow's
		// figures are the caller's, and here they say an empty card.
		if _, err := m.Load(ctx, clerk, "load-"+strconv.Itoa(i), cmsIssuer, asns[i%cards], cash, 100, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "loads/s")
}

// mustProtector returns a Protector under an all-zero data key.
func mustProtector(tb testing.TB) *cms.Protector {
	tb.Helper()
	p, err := cms.NewProtector(make([]byte, cms.DataKeyLen), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
