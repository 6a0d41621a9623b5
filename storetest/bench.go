package storetest

import (
	"context"
	"strconv"
	"syscall"
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

// processCPU is the CPU time the process has used (user and system):
// on a machine shared with other work, a steadier measure than the
// clock. A database server's own is not in it.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchCommitBatch commits group commits of n online loads' operations
// as the load host makes them (cms.LoadHost through cms.GroupCommit):
// half authorizations (an operation key, a flow, a ledger entry, the
// card one version on, a new unconfirmed load, an audit record), half
// confirmations of the loads of the group before (the load settled, an
// audit record), on the stores open returns. Reported: operations/s,
// group commits/s and the process's CPU time an operation (the steadier
// figure on a shared machine). Each store's BenchmarkCommitBatch calls
// it.
func BenchCommitBatch(b *testing.B, open func(b *testing.B) cms.Store) {
	for _, n := range []int{2, 64, 256} {
		b.Run("ops="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			clk := &settable{now: time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)}
			st := open(b)
			m := cms.NewManager(st, cms.DefaultProducts(), mustProtector(b), clk.read)
			cash := cms.Channel{Type: cms.Cash, Party: issuerHex}
			cards := make([]cms.Card, n/2)
			for i := range cards {
				var asn citycard.ASN
				asn[9], asn[8], asn[7] = byte(i), byte(i>>8), 0xB1
				if _, err := m.Apply(ctx, clerk, cmsIssuer, asn, "transit", 0); err != nil {
					b.Fatal(err)
				}
				if _, err := m.Move(ctx, clerk, cmsIssuer, asn, cms.Personalize); err != nil {
					b.Fatal(err)
				}
				if _, err := m.Sell(ctx, clerk, "sale-"+strconv.Itoa(i), cmsIssuer, asn, cash, 0); err != nil {
					b.Fatal(err)
				}
				var err error
				if cards[i], err = st.Card(ctx, cmsIssuer, asn); err != nil {
					b.Fatal(err)
				}
			}
			float := ledger.Account{Type: ledger.CardFloat, Party: issuerHex}
			settlement := ledger.Account{Type: ledger.Settlement, Party: issuerHex}
			ops := make([]*cms.Operation, 0, n)
			var open []*cms.OnlineLoad
			cpu0 := processCPU(b)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				at := clk.read()
				ops = ops[:0]
				for _, l := range open {
					settled := *l
					settled.Status, settled.SettledAt, settled.Settlement = cms.LoadConfirmed, at, cms.SettledByTAC
					ops = append(ops, &cms.Operation{At: at, Loads: []*cms.OnlineLoad{&settled},
						Audit: &cms.AuditRecord{At: at, Actor: "kiosk", ServicePoint: "terminal:kiosk", Subject: "card:" + l.Card(), Action: "confirm load"}})
				}
				open = open[:0]
				for k := range cards {
					c := &cards[k]
					key := "load-" + strconv.Itoa(i) + "-" + strconv.Itoa(k)
					e := ledger.NewEntry("cms:"+key+"/load", ledger.EntryLoad, "card:"+c.String(), ledger.Transfer(settlement, float, 100)...)
					bk := &cms.Booking{Key: key, InputHash: [32]byte{byte(i), byte(k)}, Entries: []ledger.Entry{e},
						Flows: []cms.Flow{{Issuer: c.Issuer, Card: c.ASN, Type: cms.FlowLoad, Fen: 100}}}
					c.Version++
					moved := *c
					l := &cms.OnlineLoad{Key: key, Issuer: c.Issuer, ASN: c.ASN, Counter: uint16(i), AmountFen: 100,
						Terminal: citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, 1}, KeyVersion: 1, Channel: cash, AuthorizedAt: at, Status: cms.LoadUnconfirmed}
					open = append(open, l)
					ops = append(ops, &cms.Operation{Booking: bk, At: at, Cards: []*cms.Card{&moved}, Loads: []*cms.OnlineLoad{l},
						Audit: &cms.AuditRecord{At: at, Actor: "kiosk", ServicePoint: "terminal:kiosk", Subject: "card:" + c.String(), Action: "online load"}})
				}
				res, err := st.CommitBatch(ctx, ops)
				if err != nil {
					b.Fatal(err)
				}
				for k, r := range res {
					if r.Err != nil || r.Replayed {
						b.Fatalf("operation %d: %+v", k, r)
					}
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*n)/sec, "ops/s")
			b.ReportMetric(float64(b.N)/sec, "commits/s")
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N*n), "cpu-µs/op")
		})
	}
}
