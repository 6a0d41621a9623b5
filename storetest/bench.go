package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

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
