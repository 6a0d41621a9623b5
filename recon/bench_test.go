package recon

import (
	"fmt"
	"testing"

	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
)

// benchSet is n instructions of one cycle and the movements paying them:
// by end-to-end ID, or (byRef) by remittance information alone.
func benchSet(n int, byRef bool) ([]Instruction, []Movement) {
	d := clearing.DayOf(2026, 12, 1)
	ins := make([]Instruction, n)
	mvs := make([]Movement, n)
	for i := range ins {
		party := fmt.Sprintf("op-%05d", i)
		ins[i] = Instruction{Instruction: exchange.Instruction{EndToEndID: exchange.EndToEndID(d, i+1), Party: party, AmountFen: int64(1000 + i)},
			Direction: Debit, Cycle: d, MessageID: exchange.MessageID(d), Due: d + 1, Remittance: exchange.Remittance(d, party)}
		p := Part{EndToEndID: ins[i].EndToEndID, AmountFen: ins[i].AmountFen, Remittance: ins[i].Remittance}
		if byRef {
			p.EndToEndID = ""
		}
		mvs[i] = Movement{ID: int64(i + 1), Direction: Debit, AmountFen: ins[i].AmountFen, Booked: d + 1, Parts: []Part{p}}
	}
	return ins, mvs
}

// BenchmarkMatching matches a statement paying n instructions.
func BenchmarkMatching(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, byRef := range []bool{false, true} {
			ins, mvs := benchSet(n, byRef)
			b.Run(fmt.Sprintf("n=%d/by_reference=%v", n, byRef), func(b *testing.B) {
				for b.Loop() {
					if ms := matching(ins, mvs, DefaultToleranceDays); len(ms) != n {
						b.Fatalf("%d matches", len(ms))
					}
				}
			})
		}
	}
}
