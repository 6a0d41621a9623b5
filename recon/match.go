package recon

import (
	"slices"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
)

// Instruction is one movement a closed cycle expects on the bank's
// statement: a settlement instruction (Direction Debit: the collector's
// account debited AmountFen, on or after Due, the payment named by its
// EndToEndID), or a party's pay-in (Direction Credit: the account
// credited AmountFen by the party, from Due, under the reference the
// cycle's incoming CSV gave it, kept as its EndToEndID).
type Instruction struct {
	exchange.Instruction
	Direction  Direction
	Cycle      clearing.Day
	MessageID  string       // the pain.001's MsgId: CCLR-YYYYMMDD
	Due        clearing.Day // the requested execution date (the cycle's close date)
	Remittance string       // RmtInf/Ustrd as the pain.001 wrote it; "" for a pay-in
	Match      int64        // the match that took it; 0 while unmatched
}

// InstructionsOf returns settlement s's instructions, then its expected
// pay-ins (exchange.PayIn, its Reference as the EndToEndID), as
// reconciliation expects them, all due on the cycle's close date.
func InstructionsOf(s *exchange.Settlement) []Instruction {
	out := make([]Instruction, 0, len(s.Instructions)+len(s.Incoming))
	due := clearing.DayOf(s.Closed.Year(), s.Closed.Month(), s.Closed.Day())
	for _, in := range s.Instructions {
		out = append(out, Instruction{Instruction: in, Direction: Debit, Cycle: s.Day, MessageID: s.MessageID, Due: due, Remittance: exchange.Remittance(s.Day, in.Party)})
	}
	for _, p := range s.Incoming {
		in := exchange.Instruction{EndToEndID: p.Reference, Party: p.Party, Name: p.Name, Account: p.Account, AmountFen: p.AmountFen}
		out = append(out, Instruction{Instruction: in, Direction: Credit, Cycle: s.Day, MessageID: s.MessageID, Due: due})
	}
	return out
}

// SignedFen is what in moves on the collector's account, as a Match's
// and a Finding's amounts count it: a payment's amount, a pay-in's
// negated.
func (in *Instruction) SignedFen() int64 {
	if in.Direction == Credit {
		return -in.AmountFen
	}
	return in.AmountFen
}

// SignedFen is what m moved on the collector's account: a debit's
// amount, a credit's negated.
func (m *Movement) SignedFen() int64 {
	if m.Direction == Credit {
		return -m.AmountFen
	}
	return m.AmountFen
}

// State is what matching made of instructions and movements.
type State uint8

// The states of a match.
const (
	// Matched: the movements pay the instructions, to the fen.
	Matched State = iota + 1
	// Mismatched: they refer to each other (an end-to-end ID, or a
	// reference within the date tolerance), in the same direction, but
	// the amounts differ: both amounts kept.
	Mismatched
)

// ParseState parses a State's name. Kind Invalid.
func ParseState(s string) (State, error) {
	for _, st := range []State{Matched, Mismatched} {
		if st.String() == s {
			return st, nil
		}
	}
	return 0, citycard.E("recon.ParseState", citycard.Invalid, "state %q: want matched or mismatched", s)
}

// How says what a match went by.
const (
	ByEndToEnd  = "end_to_end_id" // the movement's transaction details name the instructions
	ByReference = "reference"     // amount, date within the tolerance, and a reference to the instruction (its EndToEndId or remittance information)
	ByCycle     = "cycle"         // amount, date, and the cycle's message ID: a batch booking of a cycle's payments
)

// Match is one match of instructions and movements: one to one, one
// movement paying several instructions, or several movements one
// instruction. Once made it never changes; a mismatch stays open until
// staff resolve it.
type Match struct {
	ID            int64 // the store's
	State         State
	How           string
	InstructedFen int64 // the instructions' sum (a pay-in counted negative)
	BankFen       int64 // the movements' sum (a credit counted negative)
	Statement     string
	Instructions  []string // EndToEndIDs
	Movements     []int64  // movement IDs
}

// DefaultToleranceDays is how many days a movement's booking day may be
// from an instruction's due day for a match by reference.
const DefaultToleranceDays = 3

// ToleranceDaysMax bounds Config.ToleranceDays.
const ToleranceDaysMax = 31

// matching pairs open instructions and movements (Reconciler.Import's
// step, pure): first by end-to-end ID, then by amount, date within tol
// days and reference. ins and mvs are in a fixed order (instructions by
// EndToEndID, movements by ID), and so is what it returns: the same
// input gives the same matches. Each returned Match names its parts by
// EndToEndID and movement ID.
func matching(ins []Instruction, mvs []Movement, tol int) []Match {
	usedI := make([]bool, len(ins))
	usedM := make([]bool, len(mvs))
	var out []Match
	add := func(how string, is, ms []int) {
		m := Match{How: how, State: Matched}
		for _, i := range is {
			usedI[i] = true
			m.InstructedFen += ins[i].SignedFen()
			m.Instructions = append(m.Instructions, ins[i].EndToEndID)
		}
		for _, j := range ms {
			usedM[j] = true
			m.BankFen += mvs[j].SignedFen()
			m.Movements = append(m.Movements, mvs[j].ID)
		}
		if m.BankFen != m.InstructedFen {
			m.State = Mismatched
		}
		out = append(out, m)
	}

	// 1. By end-to-end ID: the instructions and movements linked by the
	// movements' details, in connected groups (a batch booking links one
	// movement to several instructions, a split payment several
	// movements to one), of one direction: a credit naming a payment,
	// or a debit a pay-in, links nothing.
	byE2E := make(map[string]int, len(ins))
	for i := range ins {
		byE2E[ins[i].EndToEndID] = i
	}
	parent := make([]int, len(ins)+len(mvs)) // union-find: instructions, then movements
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	linked := make([]bool, len(mvs))
	for j := range mvs {
		for _, p := range mvs[j].Parts {
			if i, ok := byE2E[p.EndToEndID]; ok && p.EndToEndID != "" && ins[i].Direction == mvs[j].Direction {
				linked[j] = true
				a, b := find(i), find(len(ins)+j)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			}
		}
	}
	groups := map[int]*[2][]int{}
	var roots []int
	for i := range ins {
		r := find(i)
		if g, ok := groups[r]; ok {
			g[0] = append(g[0], i)
		} else {
			groups[r] = &[2][]int{{i}, nil}
			roots = append(roots, r)
		}
	}
	for j := range mvs {
		if linked[j] {
			g := groups[find(len(ins)+j)]
			g[1] = append(g[1], j)
		}
	}
	for _, r := range roots {
		if g := groups[r]; len(g[1]) > 0 {
			add(ByEndToEnd, g[0], g[1])
		}
	}

	// The references each movement makes, found by its words (runs of
	// identifier characters): an instruction's EndToEndId is one word,
	// its remittance information a run of words, a cycle's message or
	// payment information ID one word; so one reference inside a longer
	// identifier (nb-bus in nb-bus-express) is none, and the passes below
	// look each movement's candidates up instead of trying every pair.
	idx := newRefIndex(ins)
	refs := make([][]int, len(mvs))      // the instructions each movement mentions, in order
	cycles := make([][]int, len(mvs))    // the instructions of the cycles it names
	mentioned := make([][]int, len(ins)) // the movements mentioning each instruction
	for j := range mvs {
		refs[j], cycles[j] = idx.of(&mvs[j])
		for _, i := range refs[j] {
			mentioned[i] = append(mentioned[i], j)
		}
	}

	// 2. By reference: what a movement's texts name, within the date
	// tolerance, in the instruction's direction (a debit pays a payment,
	// a credit a pay-in).
	within := func(i, j int) bool {
		d := int(mvs[j].Booked) - int(ins[i].Due)
		return !usedI[i] && !usedM[j] && mvs[j].Direction == ins[i].Direction && d >= -tol && d <= tol
	}
	insWithin := func(is []int, j int) []int {
		var out []int
		for _, i := range is {
			if within(i, j) {
				out = append(out, i)
			}
		}
		return out
	}
	// 2a. One movement, one instruction or several.
	for j := range mvs {
		cand := insWithin(refs[j], j)
		var sum int64
		exact := -1
		for _, i := range cand {
			sum += ins[i].AmountFen
			if exact < 0 && ins[i].AmountFen == mvs[j].AmountFen {
				exact = i
			}
		}
		switch {
		case exact >= 0:
			add(ByReference, []int{exact}, []int{j})
		case len(cand) > 1 && sum == mvs[j].AmountFen:
			add(ByReference, cand, []int{j})
		}
	}
	// 2b. Several movements, one instruction.
	for i := range ins {
		var cand []int
		var sum int64
		for _, j := range mentioned[i] {
			if within(i, j) {
				cand = append(cand, j)
				sum += mvs[j].AmountFen
			}
		}
		if len(cand) > 1 && sum == ins[i].AmountFen {
			add(ByReference, []int{i}, cand)
		}
	}
	// 3. By cycle: a movement naming a cycle's message (or payment
	// information) ID pays one of its instructions of its amount (the only
	// one), or all of those left within the tolerance, summing exactly.
	for j := range mvs {
		cand := insWithin(cycles[j], j)
		var sum int64
		exact, exacts := -1, 0
		for _, i := range cand {
			sum += ins[i].AmountFen
			if ins[i].AmountFen == mvs[j].AmountFen {
				exact, exacts = i, exacts+1
			}
		}
		switch {
		case exacts == 1:
			add(ByCycle, []int{exact}, []int{j})
		case len(cand) > 0 && sum == mvs[j].AmountFen:
			add(ByCycle, cand, []int{j})
		}
	}
	// 4. What still refers to exactly one instruction, and it to
	// exactly that movement, is that payment with the amount wrong:
	// mismatched, both amounts kept.
	for j := range mvs {
		cand := insWithin(refs[j], j)
		if len(cand) != 1 {
			continue
		}
		n := 0
		for _, k := range mentioned[cand[0]] {
			if within(cand[0], k) {
				n++
			}
		}
		if n == 1 {
			add(ByReference, cand, []int{j})
		}
	}
	return out
}

// refIndex finds the instructions a movement's texts refer to.
type refIndex struct {
	endToEnd   map[string]int
	remittance map[string][]int // the remittance's words, joined by a space
	lens       []int            // the remittances' lengths in words
	cycle      map[string][]int // a message or payment information ID
}

func newRefIndex(ins []Instruction) *refIndex {
	x := &refIndex{endToEnd: map[string]int{}, remittance: map[string][]int{}, cycle: map[string][]int{}}
	for i := range ins {
		if e := ins[i].EndToEndID; e != "" {
			x.endToEnd[e] = i
		}
		if ws := words(ins[i].Remittance); len(ws) > 0 {
			k := strings.Join(ws, " ")
			x.remittance[k] = append(x.remittance[k], i)
			if !slices.Contains(x.lens, len(ws)) {
				x.lens = append(x.lens, len(ws))
			}
		}
		if m := ins[i].MessageID; m != "" {
			x.cycle[m] = append(x.cycle[m], i)
			if ins[i].Direction == Debit { // the pain.001's PmtInfId: its payments only
				x.cycle[m+"-1"] = append(x.cycle[m+"-1"], i)
			}
		}
	}
	return x
}

// of returns the instructions m refers to (by end-to-end ID or
// remittance information) and those of the cycles it names, each in
// the instructions' order, once.
func (x *refIndex) of(m *Movement) (refs, cycles []int) {
	for _, t := range m.Texts() {
		ws := words(t)
		for k, w := range ws {
			if i, ok := x.endToEnd[w]; ok {
				refs = append(refs, i)
			}
			cycles = append(cycles, x.cycle[w]...)
			for _, n := range x.lens {
				if k+n <= len(ws) {
					refs = append(refs, x.remittance[strings.Join(ws[k:k+n], " ")]...)
				}
			}
		}
	}
	slices.Sort(refs)
	slices.Sort(cycles)
	return slices.Compact(refs), slices.Compact(cycles)
}

// words splits t into runs of identifier characters: ASCII letters and
// digits, '-', '_' and '.', the characters of registry party IDs and of
// the settlement files' IDs. Anything else parts words, Chinese text
// and full-width punctuation among it.
func words(t string) []string {
	return strings.FieldsFunc(t, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	})
}
