package recon

import (
	"slices"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
)

// Instruction is one settlement instruction of a closed cycle as
// reconciliation expects to see it on the bank's statement: the
// collector's account debited AmountFen, on or after Due, the payment
// named by its EndToEndID.
type Instruction struct {
	exchange.Instruction
	Cycle      clearing.Day
	MessageID  string       // the pain.001's MsgId: CCLR-YYYYMMDD
	Due        clearing.Day // the requested execution date (the cycle's close date)
	Remittance string       // RmtInf/Ustrd as the pain.001 wrote it
	Match      int64        // the match that took it; 0 while unmatched
}

// InstructionsOf returns settlement s's instructions as reconciliation
// expects them.
func InstructionsOf(s *exchange.Settlement) []Instruction {
	out := make([]Instruction, len(s.Instructions))
	due := clearing.DayOf(s.Closed.Year(), s.Closed.Month(), s.Closed.Day())
	for i, in := range s.Instructions {
		out[i] = Instruction{Instruction: in, Cycle: s.Day, MessageID: s.MessageID, Due: due, Remittance: exchange.Remittance(s.Day, in.Party)}
	}
	return out
}

// State is what matching made of instructions and movements.
type State uint8

// The states of a match.
const (
	// Matched: the movements pay the instructions, to the fen.
	Matched State = iota + 1
	// Mismatched: they refer to each other (an end-to-end ID, or a
	// reference within the date tolerance), but the amounts (or the
	// direction) differ: both amounts kept.
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
	InstructedFen int64 // the instructions' sum
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
			m.InstructedFen += ins[i].AmountFen
			m.Instructions = append(m.Instructions, ins[i].EndToEndID)
		}
		for _, j := range ms {
			usedM[j] = true
			if mvs[j].Direction == Debit {
				m.BankFen += mvs[j].AmountFen
			} else {
				m.BankFen -= mvs[j].AmountFen
			}
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
	// movements to one).
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
			if i, ok := byE2E[p.EndToEndID]; ok && p.EndToEndID != "" {
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

	// 2. By reference: what a movement's texts name, within the date
	// tolerance, debits only.
	within := func(i, j int) bool {
		d := int(mvs[j].Booked) - int(ins[i].Due)
		return !usedI[i] && !usedM[j] && mvs[j].Direction == Debit && d >= -tol && d <= tol
	}
	refers := func(i, j int) bool { return within(i, j) && mentions(&mvs[j], ins[i].EndToEndID, ins[i].Remittance) }
	// 2a. One movement, one instruction or several.
	for j := range mvs {
		var cand []int
		var sum int64
		exact := -1
		for i := range ins {
			if refers(i, j) {
				cand = append(cand, i)
				sum += ins[i].AmountFen
				if exact < 0 && ins[i].AmountFen == mvs[j].AmountFen {
					exact = i
				}
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
		for j := range mvs {
			if refers(i, j) {
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
		var cand []int
		var sum int64
		exact, exacts := -1, 0
		for i := range ins {
			if within(i, j) && namesCycle(&mvs[j], ins[i].MessageID) {
				cand = append(cand, i)
				sum += ins[i].AmountFen
				if ins[i].AmountFen == mvs[j].AmountFen {
					exact, exacts = i, exacts+1
				}
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
		var cand []int
		for i := range ins {
			if refers(i, j) {
				cand = append(cand, i)
			}
		}
		if len(cand) != 1 {
			continue
		}
		n := 0
		for k := range mvs {
			if refers(cand[0], k) {
				n++
			}
		}
		if n == 1 {
			add(ByReference, cand, []int{j})
		}
	}
	return out
}

// mentions reports whether one of m's texts holds one of refs as a
// whole: not inside a longer identifier (the remittance of party nb-bus
// is not mentioned by nb-bus-express's).
func mentions(m *Movement, refs ...string) bool {
	for _, t := range m.Texts() {
		for _, r := range refs {
			if r != "" && containsWhole(t, r) {
				return true
			}
		}
	}
	return false
}

// containsWhole reports whether ref occurs in t with no identifier
// character (a letter, digit, '-', '_' or '.') right before or after it.
func containsWhole(t, ref string) bool {
	idChar := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	for from := 0; from+len(ref) <= len(t); {
		i := strings.Index(t[from:], ref)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(ref)
		if (i == 0 || !idChar(t[i-1])) && (end == len(t) || !idChar(t[end])) {
			return true
		}
		from = i + 1
	}
	return false
}

// namesCycle reports whether one of m's texts names message ID msg (or
// its payment information, msg-1) as a whole word, not as the prefix of
// one of its payments' end-to-end IDs.
func namesCycle(m *Movement, msg string) bool {
	for _, t := range m.Texts() {
		if slices.ContainsFunc(strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '/' }), func(w string) bool {
			return w == msg || w == msg+"-1"
		}) {
			return true
		}
	}
	return false
}
