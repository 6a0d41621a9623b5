package clearing

import (
	"cmp"
	"context"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
)

// LoadsMax bounds the load entries one cycle takes from the ledger.
const LoadsMax = 1 << 26

// Load is a load booked in the ledger as clearing sees it: one entry of
// type load (card management's: a sale's first load, a counter's, a
// kiosk's or a bank's) moving AmountFen from the settlement account of
// Channel, the party the money came in through (our issuer's own
// counters, a top-up agent, a partner bank, a payment company), to the
// card float of Issuer; or the reversal of one (a load the card never
// credited: a ledger reversal naming the load's entry, or, as booked
// before reversals were, a load entry of the other direction), negative.
type Load struct {
	Seq       int64 // the ledger entry's
	Channel   string
	Issuer    string
	AmountFen int64
}

// LoadClaim is the ledger range a cycle took its loads from, (From, To]
// in the ledger's Seq, and the count of the entries of every type in it
// (the ledger's Seq is dense: the count proves none was skipped).
type LoadClaim struct {
	Range
	Entries int64
}

// LedgerScanner is what clearing reads of the ledger: ledger.Store's
// Scan, and Entry to tell the reversal of a load from others.
type LedgerScanner interface {
	Scan(ctx context.Context, after int64, fn func(p *ledger.Posted) error) error
	Entry(ctx context.Context, seq int64) (ledger.Posted, error)
}

// GatherLoads claims the ledger range after Seq from up to the last
// entry booked before before (the cycle's cut-off), and returns the
// loads in it, the reversals of loads among them (a reversal whose
// entry is a load, in the range or before it). An entry booked before
// the cut-off but committed after the claim (the ledger's Seq is the
// commit order, its time the poster's clock) is in the next cycle's
// range, never lost nor taken twice, as a journal entry is. The loads
// booked before notBefore are in the range but not taken (zero for
// all): a cycle after one that claimed no ledger range (computed before
// loads were cleared) takes only the loads after that cycle's cut-off.
// Kind Conflict for a range that is not dense (an entry missing from the
// read), Invalid for a load entry (or a load's reversal) that is not one
// settlement account to one card float, or more than LoadsMax loads.
func GatherLoads(ctx context.Context, l LedgerScanner, from int64, notBefore, before time.Time) (LoadClaim, []Load, []TopUpMove, error) {
	const op = "clearing.GatherLoads"
	claim := LoadClaim{Range: Range{From: from, To: from}}
	var loads []Load
	var topUps []TopUpMove
	var reversals []ledger.Posted // of what, asked once the scan is done
	next := from + 1
	err := l.Scan(ctx, from, func(p *ledger.Posted) error {
		if p.Seq != next {
			return citycard.E(op, citycard.Conflict, "ledger after %d: entry %d read where %d was due: the read skipped entries", from, p.Seq, next)
		}
		next++
		if p.Time.Before(before) {
			claim.To = p.Seq
		}
		if p.Type != ledger.EntryLoad && p.Type != ledger.EntryReversal && p.Type != cms.EntryTopUp || p.Time.Before(notBefore) {
			return nil
		}
		if len(loads)+len(reversals)+len(topUps) == LoadsMax {
			return citycard.E(op, citycard.Invalid, "ledger after %d: more than %d loads before %v", from, LoadsMax, before)
		}
		if p.Type == cms.EntryTopUp {
			m, err := topUpOf(p)
			if err != nil {
				return citycard.Wrap(op, citycard.Invalid, err)
			}
			topUps = append(topUps, m)
			return nil
		}
		if p.Type == ledger.EntryReversal {
			r := *p
			r.Postings = slices.Clone(p.Postings)
			reversals = append(reversals, r)
			return nil
		}
		ld, err := loadOf(p)
		if err != nil {
			return citycard.Wrap(op, citycard.Invalid, err)
		}
		loads = append(loads, ld)
		return nil
	})
	if err != nil {
		return LoadClaim{}, nil, nil, citycard.Wrap(op, citycard.Other, err)
	}
	if loads, err = addReversals(ctx, l, loads, reversals); err != nil {
		return LoadClaim{}, nil, nil, citycard.Wrap(op, citycard.Other, err)
	}
	claim.Entries = claim.To - from
	for len(loads) > 0 && loads[len(loads)-1].Seq > claim.To {
		loads = loads[:len(loads)-1]
	}
	for len(topUps) > 0 && topUps[len(topUps)-1].Seq > claim.To {
		topUps = topUps[:len(topUps)-1]
	}
	return claim, loads, topUps, nil
}

// addReversals adds to loads (in Seq order) the reversals that reverse a
// load: one whose entry is among loads, or else one the ledger says is a
// load (an entry of an earlier range, or of this range before notBefore).
func addReversals(ctx context.Context, l LedgerScanner, loads []Load, reversals []ledger.Posted) ([]Load, error) {
	if len(reversals) == 0 {
		return loads, nil
	}
	n := len(loads)
	for i := range reversals {
		r := &reversals[i]
		if _, seen := slices.BinarySearchFunc(loads[:n], r.ReversalOf, func(ld Load, seq int64) int { return cmp.Compare(ld.Seq, seq) }); !seen {
			orig, err := l.Entry(ctx, r.ReversalOf)
			if err != nil {
				return nil, err
			}
			if orig.Type != ledger.EntryLoad {
				continue
			}
		}
		ld, err := loadOf(r)
		if err != nil {
			return nil, citycard.Wrap("clearing.GatherLoads", citycard.Invalid, err)
		}
		loads = append(loads, ld)
	}
	slices.SortFunc(loads, func(a, b Load) int { return cmp.Compare(a.Seq, b.Seq) })
	return loads, nil
}

// loadOf reads a load entry: one posting on a settlement account (or,
// for a remote top-up's claim, on the issuer's top-up pending account or
// an error receivable: the load's Channel is then the issuer itself,
// see the package doc, "Loads and commissions"), one on a card float.
func loadOf(p *ledger.Posted) (Load, error) {
	ld := Load{Seq: p.Seq}
	var float int64
	inHouse := false
	for _, q := range p.Postings {
		switch q.Account.Type {
		case ledger.Settlement, ledger.TopUpPending, ledger.ErrorReceivable:
			if ld.Channel != "" {
				return Load{}, citycard.E("clearing.loadOf", citycard.Invalid, "ledger entry %d (%s): two settlement postings", p.Seq, p.Key)
			}
			ld.Channel, ld.AmountFen = q.Account.Party, q.AmountFen
			inHouse = q.Account.Type != ledger.Settlement
		case ledger.CardFloat:
			if ld.Issuer != "" {
				return Load{}, citycard.E("clearing.loadOf", citycard.Invalid, "ledger entry %d (%s): two card float postings", p.Seq, p.Key)
			}
			ld.Issuer, float = q.Account.Party, q.AmountFen
		default:
			return Load{}, citycard.E("clearing.loadOf", citycard.Invalid, "ledger entry %d (%s): a load posting to %v: want a settlement account and a card float", p.Seq, p.Key, q.Account)
		}
	}
	if ld.Channel == "" || ld.Issuer == "" || ld.AmountFen != -float || ld.AmountFen == 0 {
		return Load{}, citycard.E("clearing.loadOf", citycard.Invalid, "ledger entry %d (%s): want one settlement posting and one card float posting of opposite amounts", p.Seq, p.Key)
	}
	if inHouse {
		ld.Channel = ld.Issuer // no channel took cash for a claim: no position, no commission
	}
	return ld, nil
}

// CommissionLine is the commission of one channel on the loads of one
// issuer's cards in a cycle, under one rule of the channel's commission
// schedule: Loads counts the loads (a reversal taking one back),
// LoadedFen their sum, CommissionFen what the collector pays the channel
// for them, each load's rounded the way Config.Rounding says, and
// RemainderMicro what rounding left, booked with the channel's rounding
// (the channel receiving it: RoundingLine's remainder counts it
// negated).
type CommissionLine struct {
	Channel        string
	Issuer         string
	Rule           string
	Loads          int64
	LoadedFen      int64
	CommissionFen  int64
	RemainderMicro int64
}

// checkCommission checks a commission schedule: a fee schedule whose
// rules match every load (the ledger's loads carry no product, card type
// or terminal). Kind Invalid.
func checkCommission(op string, s *FeeSchedule) error {
	if err := s.validate(op); err != nil {
		return err
	}
	for i := range s.Rules {
		r := &s.Rules[i]
		if len(r.Products) != 0 || len(r.CardTypes) != 0 || len(r.TerminalTypes) != 0 {
			return citycard.E(op, citycard.Invalid, "commission schedule of %s, rule %s: lists products, card types or channels: a load names only its channel and issuer, leave them empty", s.Party, r.Name)
		}
	}
	return nil
}

// CapVersion is a party's net debit cap from day Effective: a net
// position of the party below -CapFen in a cycle is a breach, reported
// before settlement (Result.Breaches) and blocking the cycle's review.
type CapVersion struct {
	Effective Day
	Party     string
	CapFen    int64
}

// CapHeader is the first line of a net debit cap file.
const CapHeader = "party,effective,cap_fen"

// DecodeCaps reads a net debit cap file: CapHeader, then one cap a line,
// at most one per party and day. Strict as DecodeFees. Kind Invalid
// naming the file, the line and the field.
func DecodeCaps(name string, r io.Reader) ([]CapVersion, error) {
	const op = "clearing.DecodeCaps"
	var out []CapVersion
	seen := map[string]bool{}
	err := readParamFile(op, name, r, CapHeader, func(n int, fields []string, bad badField) error {
		if len(fields) != 3 {
			return bad(-1, "%d fields, want 3 (%s)", len(fields), CapHeader)
		}
		if fields[0] == "" || len(fields[0]) > registry.PartyIDLenMax || !plain(fields[0]) {
			return bad(0, "%q: want a party ID", fields[0])
		}
		eff, err := ParseDay(fields[1])
		if err != nil {
			return bad(1, "%q: want YYYY-MM-DD", fields[1])
		}
		fen, err := feeInt(fields[2], AdjustmentFenMax)
		if err != nil {
			return bad(2, "%v", err)
		}
		if key := fields[0] + "\x00" + fields[1]; seen[key] {
			return bad(1, "the cap of %s from %v was given earlier", fields[0], eff)
		} else {
			seen[key] = true
		}
		out = append(out, CapVersion{Effective: eff, Party: fields[0], CapFen: fen})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, citycard.E(op, citycard.Invalid, "%s: no caps", name)
	}
	return out, nil
}

// EncodeCaps writes versions in the format DecodeCaps reads.
func EncodeCaps(w io.Writer, versions []CapVersion) error {
	var b strings.Builder
	b.WriteString(CapHeader + "\n")
	for _, v := range versions {
		b.WriteString(v.Party + "," + v.Effective.String() + "," + strconv.FormatInt(v.CapFen, 10) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CapVersionsInForce returns the cap versions in force on day d: per
// party, its latest effective on or before d; by party.
func CapVersionsInForce(versions []CapVersion, d Day) []CapVersion {
	return latestInForce(versions, d, func(v *CapVersion) (string, Day) { return v.Party, v.Effective })
}

// CapsInForce returns the caps in force on day d, by party.
func CapsInForce(versions []CapVersion, d Day) map[string]int64 {
	out := map[string]int64{}
	for _, v := range CapVersionsInForce(versions, d) {
		out[v.Party] = v.CapFen
	}
	return out
}

// commission moves the cycle's loads into pos (each channel owes the
// issuer what came in through it) and returns the channels' commission
// lines, each load charged by the first rule of its channel's schedule,
// a reversal taking back exactly what the load was charged (a line whose
// loads were all reversed in the cycle is left out: it is as if they
// never were). Kind Invalid for a load of 0 fen or beyond 2^32.
func (c *Clearer) commission(op string, in *Input, res *Result, pos positions) ([]CommissionLine, error) {
	type key struct{ channel, issuer string }
	lines := map[key]*CommissionLine{}
	prev := in.LoadClaim.From
	for i := range in.Loads {
		ld := &in.Loads[i]
		if ld.Seq <= prev || ld.Seq > in.LoadClaim.To {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: load at ledger entry %d: want one in %v, in Seq order", in.Day, ld.Seq, in.LoadClaim.Range)
		}
		prev = ld.Seq
		if ld.AmountFen == 0 || ld.AmountFen > math.MaxUint32 || ld.AmountFen < -math.MaxUint32 || ld.Channel == "" || ld.Issuer == "" {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: load at ledger entry %d of %d fen through %q onto %q's cards", in.Day, ld.Seq, ld.AmountFen, ld.Channel, ld.Issuer)
		}
		if ld.AmountFen < 0 { // a reversal takes its load back
			res.Loaded.Count--
		} else {
			res.Loaded.Count++
		}
		res.Loaded.AmountFen += ld.AmountFen
		if ld.Channel == ld.Issuer {
			continue // the issuer's own counter or kiosk, or a claim: no position, and no one to pay a commission
		}
		pos.move(ld.Channel, ld.Issuer, ld.AmountFen)
		rule, fen, rem := c.channelCommission(ld.Channel, ld.AmountFen)
		if rule == nil {
			continue
		}
		k := key{ld.Channel, ld.Issuer}
		l := lines[k]
		if l == nil {
			l = &CommissionLine{Channel: ld.Channel, Issuer: ld.Issuer, Rule: rule.Name}
			lines[k] = l
		}
		if ld.AmountFen < 0 {
			l.Loads--
		} else {
			l.Loads++
		}
		l.LoadedFen += ld.AmountFen
		l.CommissionFen += fen
		l.RemainderMicro += rem
	}
	out := make([]CommissionLine, 0, len(lines))
	for _, l := range lines {
		if *l != (CommissionLine{Channel: l.Channel, Issuer: l.Issuer, Rule: l.Rule}) { // not every load reversed
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b CommissionLine) int {
		return cmp.Or(strings.Compare(a.Channel, b.Channel), strings.Compare(a.Issuer, b.Issuer))
	})
	return out, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
