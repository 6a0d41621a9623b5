package clearing

import (
	"slices"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// Limits of fee schedules.
const (
	MicroPerFen  = 1_000_000   // remainders are kept in micro-fen: a rate in ppm of an amount in fen is micro-fen
	RatePPMMax   = 1_000_000   // 100%
	FeeFenMax    = 100_000_000 // a fixed fee, minimum or cap: a million yuan
	RulesMax     = 256         // rules in one schedule
	RuleNameMax  = 32          // bytes of a rule's name
	SchedulesMax = 1 << 16     // schedules in one configuration
	matchMax     = 64          // values one rule matches in one field
	noRule       = int32(-1)   // the line of records no rule matched
	noRuleName   = "none"      // its name on lines
)

// Rounding is how a fee in fractions of a fen becomes whole fen, per
// record. What rounding takes or adds is the remainder: it is summed per
// party and booked, never dropped (see RoundingLine).
type Rounding uint8

// The roundings.
const (
	RoundDown     Rounding = 1 // towards zero: the party never pays a fraction it does not owe
	RoundHalfUp   Rounding = 2 // to the nearest fen, a half up
	RoundHalfEven Rounding = 3 // to the nearest fen, a half to the even fen (banker's rounding)
)

var roundingNames = [...]string{RoundDown: "down", RoundHalfUp: "half_up", RoundHalfEven: "half_even"}

// String returns the rounding's name.
func (r Rounding) String() string {
	if int(r) < len(roundingNames) && roundingNames[r] != "" {
		return roundingNames[r]
	}
	return "rounding?"
}

// round returns micro-fen exact (>= 0) in whole fen under r, and the
// remainder exact - fen*MicroPerFen, negative when r rounded up.
func (r Rounding) round(exact int64) (fen, remMicro int64) {
	fen, rem := exact/MicroPerFen, exact%MicroPerFen
	switch r {
	case RoundHalfUp:
		if rem >= MicroPerFen/2 {
			fen++
		}
	case RoundHalfEven:
		if rem > MicroPerFen/2 || rem == MicroPerFen/2 && fen%2 == 1 {
			fen++
		}
	}
	return fen, exact - fen*MicroPerFen
}

// FeeRule is one line of a fee schedule: which records it applies to and
// what it charges per record. The fee of a record is RatePPM parts per
// million of its amount plus FixedFen; a fee below MinFen is MinFen and
// one above MaxFen (when MaxFen is not 0) is MaxFen, both compared
// exactly, before rounding; only a fee between them is rounded. A fee is
// never more than the record's amount: an operator never owes for a
// record. A fee that a minimum, a cap or the amount bounds is exact, and
// leaves no remainder.
type FeeRule struct {
	Name string // names the rule on lines and statements
	// The records it applies to: each list empty for any value.
	Products      []uint16
	CardTypes     []uint8
	TerminalTypes []registry.TerminalType // the channel
	RatePPM       int64
	FixedFen      int64
	MinFen        int64
	MaxFen        int64 // 0 for no cap
}

// matches reports whether r applies to records of product p, card type
// ct and channel tt.
func (r *FeeRule) matches(p uint16, ct uint8, tt registry.TerminalType) bool {
	return (len(r.Products) == 0 || slices.Contains(r.Products, p)) &&
		(len(r.CardTypes) == 0 || slices.Contains(r.CardTypes, ct)) &&
		(len(r.TerminalTypes) == 0 || slices.Contains(r.TerminalTypes, tt))
}

// Fee returns the fee of a record of amountFen (>= 0) under rounding
// mode, and the remainder rounding left in micro-fen: exact fee minus
// fen, zero when a minimum, cap or the amount bounded the fee.
func (r *FeeRule) Fee(amountFen int64, mode Rounding) (fen, remMicro int64) {
	exact := amountFen*r.RatePPM + r.FixedFen*MicroPerFen
	switch {
	case exact <= r.MinFen*MicroPerFen:
		fen = r.MinFen
	case r.MaxFen != 0 && exact >= r.MaxFen*MicroPerFen:
		fen = r.MaxFen
	default:
		fen, remMicro = mode.round(exact)
	}
	if fen > amountFen {
		return amountFen, 0
	}
	return fen, remMicro
}

// validate checks the rule's bounds; where says which schedule and rule.
func (r *FeeRule) validate(op, where string) error {
	switch {
	case r.Name == "" || len(r.Name) > RuleNameMax || !utf8.ValidString(r.Name):
		return citycard.E(op, citycard.Invalid, "%s: name %q: want 1 to %d bytes of UTF-8", where, r.Name, RuleNameMax)
	case len(r.Products) > matchMax || len(r.CardTypes) > matchMax || len(r.TerminalTypes) > matchMax:
		return citycard.E(op, citycard.Invalid, "%s: at most %d products, card types and channels each", where, matchMax)
	case r.RatePPM < 0 || r.RatePPM > RatePPMMax:
		return citycard.E(op, citycard.Invalid, "%s: rate %d ppm: want 0 to %d", where, r.RatePPM, RatePPMMax)
	case r.FixedFen < 0 || r.FixedFen > FeeFenMax:
		return citycard.E(op, citycard.Invalid, "%s: fixed fee %d fen: want 0 to %d", where, r.FixedFen, FeeFenMax)
	case r.MinFen < 0 || r.MinFen > FeeFenMax:
		return citycard.E(op, citycard.Invalid, "%s: minimum %d fen: want 0 to %d", where, r.MinFen, FeeFenMax)
	case r.MaxFen < 0 || r.MaxFen > FeeFenMax || r.MaxFen != 0 && r.MaxFen < r.MinFen:
		return citycard.E(op, citycard.Invalid, "%s: cap %d fen: want 0 (none) or the minimum %d to %d", where, r.MaxFen, r.MinFen, FeeFenMax)
	}
	return nil
}

// FeeSchedule is the fees one operator or merchant pays on its records:
// the first rule that applies to a record charges it; a record no rule
// applies to is charged nothing (its line names the rule "none").
type FeeSchedule struct {
	Party string
	Rules []FeeRule
}

// validate checks the schedule. Kind Invalid, naming the party and rule.
func (s *FeeSchedule) validate(op string) error {
	if s.Party == "" {
		return citycard.E(op, citycard.Invalid, "fee schedule without a party")
	}
	if len(s.Rules) > RulesMax {
		return citycard.E(op, citycard.Invalid, "fee schedule of %q: %d rules, at most %d", s.Party, len(s.Rules), RulesMax)
	}
	names := map[string]bool{}
	for i := range s.Rules {
		where := "fee schedule of " + s.Party + ", rule " + itoa(int64(i))
		if err := s.Rules[i].validate(op, where); err != nil {
			return err
		}
		if names[s.Rules[i].Name] {
			return citycard.E(op, citycard.Invalid, "%s: name %q taken by an earlier rule", where, s.Rules[i].Name)
		}
		names[s.Rules[i].Name] = true
	}
	return nil
}

// rule returns the index of the first rule of s applying to the records
// of product p, card type ct and channel tt, or noRule.
func (s *FeeSchedule) rule(p uint16, ct uint8, tt registry.TerminalType) int32 {
	if s == nil {
		return noRule
	}
	for i := range s.Rules {
		if s.Rules[i].matches(p, ct, tt) {
			return int32(i)
		}
	}
	return noRule
}

// RoundingLine is a party's rounding remainder in a cycle: what rounding
// each record's fee left, in micro-fen, summed, plus what the previous
// cycle carried; the whole fen of it is booked to the rounding account
// (Config.RoundingAccount), the party paying it (receiving it, when
// rounding up charged more than the exact fees); the fraction of a fen
// left is carried into the next cycle. So CarryInMicro + RemainderMicro
// = BookedFen*MicroPerFen + CarryOutMicro, exactly, and over cycles no
// fraction of a fen is lost.
type RoundingLine struct {
	Party          string
	CarryInMicro   int64
	RemainderMicro int64
	BookedFen      int64
	CarryOutMicro  int64 // |CarryOutMicro| < MicroPerFen
}

// book splits carry in plus remainder into whole fen (towards zero) and
// the fraction carried on.
func book(party string, carryIn, rem int64) RoundingLine {
	total := carryIn + rem
	fen := total / MicroPerFen
	return RoundingLine{Party: party, CarryInMicro: carryIn, RemainderMicro: rem, BookedFen: fen, CarryOutMicro: total - fen*MicroPerFen}
}
