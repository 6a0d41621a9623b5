package clearing

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
)

// Limits of a cycle's other inputs.
const (
	AdjustmentsMax   = 1 << 16        // adjustments in one cycle
	AdjustmentFenMax = int64(1) << 40 // one adjustment: about 11 billion yuan
	RefLenMax        = 64             // bytes of an adjustment's reference
	ReasonLenMax     = 256            // bytes of an adjustment's reason
)

// DefaultRoundingAccount is where rounding remainders are booked unless
// Config names another: the fee income the scheme earns from rounding.
var DefaultRoundingAccount = ledger.Account{Type: ledger.FeeIncome, Party: "rounding"}

// Config is how a city clears: its calendar, who keeps the fees, the fee
// schedules, the rounding and the net debit caps.
type Config struct {
	Calendar Calendar
	// Collector is the party that keeps the fees and the rounding
	// remainders: our issuer, which runs the clearing.
	Collector string
	Fees      []FeeSchedule // at most one per party
	Rounding  Rounding
	// RoundingAccount is the ledger account the remainders are booked
	// to; DefaultRoundingAccount when zero.
	RoundingAccount ledger.Account
	// DebitCapsFen is the net debit cap of the parties that have one: a
	// net position below -cap is reported (Result.Breaches).
	DebitCapsFen map[string]int64
	// Concessions are the funders' concession shares in force: at most
	// one version per funder.
	Concessions []ConcessionVersion
	// Commissions are the commission schedules of the channels loads
	// come in through (top-up agents, partner banks): at most one per
	// channel, not the collector's.
	Commissions []FeeSchedule
}

// Clearer clears cycles under one Config. It holds nothing but the
// configuration: Clear is a pure function of its input.
type Clearer struct {
	cfg         Config
	schedules   map[string]*FeeSchedule
	commissions map[string]*FeeSchedule
}

// NewClearer checks cfg and returns its Clearer. Kind Invalid, naming the
// field.
func NewClearer(cfg Config) (*Clearer, error) {
	const op = "clearing.NewClearer"
	if err := cfg.Calendar.Validate(); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if cfg.Collector == "" {
		return nil, citycard.E(op, citycard.Invalid, "config: no collector of fees")
	}
	if cfg.Rounding.String() == "rounding?" {
		return nil, citycard.E(op, citycard.Invalid, "config: rounding %d", cfg.Rounding)
	}
	if cfg.RoundingAccount == (ledger.Account{}) {
		cfg.RoundingAccount = DefaultRoundingAccount
	}
	if err := cfg.RoundingAccount.Validate(); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if len(cfg.Fees) > SchedulesMax {
		return nil, citycard.E(op, citycard.Invalid, "config: %d fee schedules, at most %d", len(cfg.Fees), SchedulesMax)
	}
	// The Clearer keeps its own copy, so that a caller changing its
	// Config afterwards cannot change what a cycle clears to.
	cfg.Fees = slices.Clone(cfg.Fees)
	for i := range cfg.Fees {
		s := &cfg.Fees[i]
		s.Rules = slices.Clone(s.Rules)
		for j := range s.Rules {
			r := &s.Rules[j]
			r.Products, r.CardTypes, r.TerminalTypes = slices.Clone(r.Products), slices.Clone(r.CardTypes), slices.Clone(r.TerminalTypes)
		}
	}
	cfg.DebitCapsFen = maps.Clone(cfg.DebitCapsFen)
	cfg.Concessions = slices.Clone(cfg.Concessions)
	funders := map[string]bool{}
	for i := range cfg.Concessions {
		v := &cfg.Concessions[i]
		v.Shares = slices.Clone(v.Shares)
		if err := v.validate(op); err != nil {
			return nil, err
		}
		if funders[v.Funder] {
			return nil, citycard.E(op, citycard.Invalid, "config: two concession versions of %q", v.Funder)
		}
		funders[v.Funder] = true
	}
	cfg.Commissions = slices.Clone(cfg.Commissions)
	c := &Clearer{cfg: cfg, schedules: make(map[string]*FeeSchedule, len(cfg.Fees)), commissions: make(map[string]*FeeSchedule, len(cfg.Commissions))}
	for i := range cfg.Commissions {
		s := &cfg.Commissions[i]
		s.Rules = slices.Clone(s.Rules)
		if err := checkCommission(op, s); err != nil {
			return nil, err
		}
		if c.commissions[s.Party] != nil || s.Party == cfg.Collector {
			return nil, citycard.E(op, citycard.Invalid, "config: commission schedule of %q: two, or of the collector", s.Party)
		}
		c.commissions[s.Party] = s
	}
	for i := range cfg.Fees {
		s := &cfg.Fees[i]
		if err := s.validate(op); err != nil {
			return nil, err
		}
		if c.schedules[s.Party] != nil {
			return nil, citycard.E(op, citycard.Invalid, "config: two fee schedules of %q", s.Party)
		}
		c.schedules[s.Party] = s
	}
	for p, cap := range cfg.DebitCapsFen {
		if cap < 0 {
			return nil, citycard.E(op, citycard.Invalid, "config: net debit cap of %q: %d fen, want 0 or more", p, cap)
		}
	}
	return c, nil
}

// Adjustment is a correction decided by staff: AmountFen moves from
// Payer to Payee in the cycle that takes it. A closed cycle is never
// changed; its corrections are adjustments in a later one (Of names the
// cycle corrected).
type Adjustment struct {
	Ref       string // unique: the correction's name, its idempotency key
	Of        Day    // the earlier cycle it corrects
	Payer     string
	Payee     string
	AmountFen int64
	Reason    string
}

// Carry is a party's rounding remainder carried from the previous cycle
// (its RoundingLine.CarryOutMicro).
type Carry struct {
	Party string
	Micro int64
}

// Input is everything a cycle is cleared from.
type Input struct {
	Day         Day
	Claim       Claim
	Items       []Item // the claim's records, in position order
	Greys       []Grey // the grey decisions they made, in position order
	Adjustments []Adjustment
	Carry       []Carry
	// Interop are the interconnection files the cycle settles (see
	// interop.go), by file ID.
	Interop []Settling
	// LoadClaim is the ledger range the cycle took Loads from
	// (GatherLoads), in Seq order.
	LoadClaim LoadClaim
	Loads     []Load
	// TopUps are the remote top-ups paid and refunded in LoadClaim's
	// range (GatherLoads), in Seq order.
	TopUps []TopUpMove
	// FareVersion names the fare table Items' category discounts were
	// priced under (Gathered.FareVersion); "" for none.
	FareVersion string
}

// Line is one aggregation of a cycle: the cleared records of one issuer's
// cards on one operator's terminals, of one product, card type and
// channel, charged by one fee rule. The issuer pays GrossFen; the
// operator receives GrossFen - FeeFen; the collector receives FeeFen.
// The grey records whose confirmation the cycle's records made have lines
// of their own (Grey "confirmed"), cleared as records are; a confirmation
// reversed is a line of Grey "reversed" whose amounts are negative (the
// operator repays the fare, the collector the fee), Records counting the
// reversals.
type Line struct {
	Grey string // "" for records; "confirmed" or "reversed"
	// Interop is "" for records of the cycle's journal range; the
	// InteropMove of interconnection records ("accepted", "incoming",
	// "correction"), whose Operator is their acquirer.
	Interop        string `json:",omitempty"`
	Issuer         string
	Operator       string
	Product        uint16
	CardType       uint8
	TerminalType   registry.TerminalType
	Rule           string // the fee rule's name, "none" for none
	Records        int64
	GrossFen       int64
	FeeFen         int64
	RemainderMicro int64
}

// Position is a party's net position in a cycle: what it receives, what
// it pays, and the difference. A positive net is paid to the party.
type Position struct {
	Party         string
	ReceivableFen int64
	PayableFen    int64
	NetFen        int64
}

// Breach is a party whose net debit passed its cap: reported before
// settlement.
type Breach struct {
	Party  string
	NetFen int64
	CapFen int64
}

// Result is a cleared cycle: pure data, sorted, the same for the same
// input.
type Result struct {
	Day   Day
	Claim Claim
	// What the cycle did with each entry it took: cleared (booked and
	// recovered records of cards whose TAC we verified), pending their
	// issuer (other cities' cards, cleared by the interconnection answer),
	// held in suspense (grey records), duplicates and loads (not cleared
	// here: loads post through the card-management host), and the
	// non-financial records of the application systems (check-ins,
	// admissions, loans: they move no money). They add up to the claim.
	Cleared, Pending, Suspense, Duplicates, Loads, Applications Totals
	// What the records did to grey records in suspense, of this cycle or
	// earlier ones: confirmed (cleared: the grey's operator paid),
	// released (back to the card float: no party moves) and reversed
	// (cleared back). They add up to the claim's grey decisions.
	Confirmed, Released, Reversed Totals
	// GreysPending are the confirmations (and reversals, negative) of
	// other cities' cards' grey records among them: pending their issuer
	// (acquire.PendingIssuerDecided), cleared by no line.
	GreysPending Totals
	// Late counts the cleared records accepted before the cycle's day:
	// committed after their own cycle was fixed.
	Late Totals
	// Interop is what the cycle settled of the interconnection files it
	// took (InteropFiles, by ID): records accepted and rejected by their
	// issuer, our cards' records taken elsewhere, corrections.
	Interop      InteropTotals
	InteropFiles []string       `json:",omitempty"`
	Lines        []Line         // by issuer, operator, product, card type, channel, rule
	Rounding     []RoundingLine // by party
	Adjustments  []Adjustment   // by Ref
	Positions    []Position     // by party
	Breaches     []Breach       // by party
	// RoundingAccount is where Rounding's booked fen go.
	RoundingAccount ledger.Account
	Collector       string
	// FareVersion is the fare table the category discounts were priced
	// under ("" for none: no category discount was claimed).
	FareVersion string
	// Concessions are the compensation claims, by funder, operator,
	// rider category and kind; Unpriced counts the cleared records of a
	// rider category other than the default that the fare table did not
	// price as they state (no category discount claimed on them).
	Concessions []ConcessionLine
	Unpriced    Totals
	// LoadClaim is the ledger range the loads were taken from; Loaded
	// counts them (a reversal taking one back) and sums their net amount; Commissions are the
	// channels' commissions on them, by channel, issuer and rule.
	LoadClaim   LoadClaim
	Loaded      Totals
	Commissions []CommissionLine
	// TopUpsPaid and TopUpsRefunded count the remote top-ups paid into
	// the issuers' top-up pending accounts in the ledger range and paid
	// back out of them (refunds counted positive); TopUps are what each
	// payer owes each issuer for them, with its commission, by payer and
	// issuer. None moves the float: their claims are loads.
	TopUpsPaid     Totals      `json:",omitzero"`
	TopUpsRefunded Totals      `json:",omitzero"`
	TopUps         []TopUpLine `json:",omitempty"`
}

// lineKey is what a line aggregates by; it picks the fee rule too.
type lineKey struct {
	grey             acquire.GreyMove
	interop          InteropMove
	issuer, operator string
	product          uint16
	cardType         uint8
	tt               registry.TerminalType
}

// line is a line being summed, with its fee rule (nil for none).
type line struct {
	Line
	rule *FeeRule
}

// Clear clears a cycle from its input. It checks first that the items
// are the claim's whole range (Check, kind Conflict), that none was
// accepted at or after the cycle's cut-off and that the adjustments and
// carries are well formed (kind Invalid). Every aggregation is checked to
// sum to zero and the positions to net to zero: a failure of either is a
// programmer error and panics.
func (c *Clearer) Clear(in *Input) (*Result, error) {
	const op = "clearing.Clearer.Clear"
	if len(in.Items) > ItemsMax {
		return nil, citycard.E(op, citycard.Invalid, "cycle %v: %d records, at most %d", in.Day, len(in.Items), ItemsMax)
	}
	if err := Check(in.Day, in.Claim, in.Items); err != nil {
		return nil, err
	}
	if err := CheckGreys(in.Day, in.Claim, in.Greys); err != nil {
		return nil, err
	}
	if err := c.checkInput(op, in); err != nil {
		return nil, err
	}
	if err := checkInterop(op, in); err != nil {
		return nil, err
	}
	cal := c.cfg.Calendar
	start, end := cal.Start(in.Day), cal.End(in.Day)
	res := &Result{Day: in.Day, Claim: in.Claim, RoundingAccount: c.cfg.RoundingAccount, Collector: c.cfg.Collector, FareVersion: in.FareVersion, LoadClaim: in.LoadClaim}
	conc := concessions{lines: map[concessionKey]*ConcessionLine{}, shares: map[shareKey][]funderShare{}}

	// The fee rule is a function of the line's key, so one look-up per
	// record finds both the line and its rule.
	lines := map[lineKey]*line{}
	var legs [3]int64 // payer, payee, collector: every cleared record's three legs, summed apart
	for i := range in.Items {
		it := &in.Items[i]
		if !it.AcceptedAt.Before(end) {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: journaled record %d accepted at %v, at or after the cut-off %v", in.Day, it.Pos, it.AcceptedAt, end)
		}
		if it.AmountFen < 0 || it.AmountFen > math.MaxUint32 {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: journaled record %d of %d fen: want 0 to %d", in.Day, it.Pos, it.AmountFen, uint32(math.MaxUint32))
		}
		switch {
		case acquire.PendingIssuer(it.Class, it.Outcome):
			res.Pending.add(it.AmountFen)
			continue
		case it.Class == acquire.ClassBooked || it.Class == acquire.ClassRecovered:
		case it.Class == acquire.ClassSuspense:
			res.Suspense.add(it.AmountFen)
			continue
		case it.Class == acquire.ClassDuplicate:
			res.Duplicates.add(it.AmountFen)
			continue
		case it.Class == acquire.ClassLoad:
			res.Loads.add(it.AmountFen)
			continue
		case it.Class == acquire.ClassApplication:
			res.Applications.add(it.AmountFen)
			continue
		default:
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: journaled record %d of class %v", in.Day, it.Pos, it.Class)
		}
		res.Cleared.add(it.AmountFen)
		if it.AcceptedAt.Before(start) {
			res.Late.add(it.AmountFen)
		}
		if it.Unpriced {
			res.Unpriced.add(it.AmountFen)
		}
		if len(c.cfg.Concessions) != 0 {
			if err := c.concede(&conc, it); err != nil {
				return nil, err
			}
		}
		c.clearOne(lines, &legs, lineKey{issuer: it.Issuer, operator: it.Operator, product: it.Product, cardType: it.CardType, tt: it.TerminalType}, it.AmountFen)
	}
	for i := range in.Greys {
		g := &in.Greys[i]
		if g.AmountFen < 0 || g.AmountFen > math.MaxUint32 {
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: grey decision at %d of %d fen: want 0 to %d", in.Day, g.Pos, g.AmountFen, uint32(math.MaxUint32))
		}
		lk := lineKey{grey: g.Move, issuer: g.Issuer, operator: g.Operator, product: g.Product, cardType: g.CardType, tt: g.TerminalType}
		switch g.Move {
		case acquire.GreyConfirmed, acquire.GreyReversed:
			if g.PendingIssuer {
				// Another city's card: its issuer has not verified it,
				// so no line; the ledger holds it against the issuer's
				// interconnection receivable.
				fen := g.AmountFen
				if g.Move == acquire.GreyReversed {
					fen = -fen
				}
				res.GreysPending.add(fen)
			}
		}
		switch g.Move {
		case acquire.GreyConfirmed:
			res.Confirmed.add(g.AmountFen)
			if !g.PendingIssuer {
				c.clearOne(lines, &legs, lk, g.AmountFen)
			}
		case acquire.GreyReversed:
			res.Reversed.add(g.AmountFen)
			if !g.PendingIssuer {
				c.clearOne(lines, &legs, lk, -g.AmountFen)
			}
		case acquire.GreyReleased:
			res.Released.add(g.AmountFen)
		default:
			return nil, citycard.E(op, citycard.Invalid, "cycle %v: grey decision at %d: move %v", in.Day, g.Pos, g.Move)
		}
	}
	c.clearInterop(in, res, lines, &legs)
	res.Lines = sortedLines(lines)
	c.assertAggregations(res, legs)

	pos := positions{}
	rem := map[string]int64{}
	for i := range res.Lines {
		l := &res.Lines[i]
		pos.move(l.Issuer, l.Operator, l.GrossFen)
		pos.move(l.Operator, c.cfg.Collector, l.FeeFen)
		rem[l.Operator] += l.RemainderMicro
	}
	res.Concessions = conc.sorted()
	for i := range res.Concessions {
		l := &res.Concessions[i]
		pos.move(l.Funder, l.Operator, l.ClaimFen)
		rem[l.Funder] += l.RemainderMicro
	}
	var err error
	if res.Commissions, err = c.commission(op, in, res, pos); err != nil {
		return nil, err
	}
	for i := range res.Commissions {
		l := &res.Commissions[i]
		pos.move(c.cfg.Collector, l.Channel, l.CommissionFen)
		// The channel is owed what rounding left: its remainder negated.
		rem[l.Channel] -= l.RemainderMicro
	}
	if res.TopUps, err = c.topUps(op, in, res, pos); err != nil {
		return nil, err
	}
	for i := range res.TopUps {
		l := &res.TopUps[i]
		pos.move(c.cfg.Collector, l.Payer, l.CommissionFen)
		rem[l.Payer] -= l.RemainderMicro
	}
	carry := map[string]int64{}
	for _, cr := range in.Carry {
		carry[cr.Party] = cr.Micro
		if _, ok := rem[cr.Party]; !ok {
			rem[cr.Party] = 0
		}
	}
	for _, p := range sortedKeys(rem) {
		rl := book(p, carry[p], rem[p])
		res.Rounding = append(res.Rounding, rl)
		pos.move(p, c.cfg.Collector, rl.BookedFen)
	}
	res.Adjustments = slices.Clone(in.Adjustments)
	slices.SortFunc(res.Adjustments, func(a, b Adjustment) int { return strings.Compare(a.Ref, b.Ref) })
	for _, a := range res.Adjustments {
		pos.move(a.Payer, a.Payee, a.AmountFen)
	}
	res.Positions = pos.sorted()
	assertNetZero(res)
	for _, p := range res.Positions {
		if cap, ok := c.cfg.DebitCapsFen[p.Party]; ok && p.NetFen < -cap {
			res.Breaches = append(res.Breaches, Breach{Party: p.Party, NetFen: p.NetFen, CapFen: cap})
		}
	}
	return res, nil
}

// clearOne adds a cleared record (or grey confirmation) of fen to its
// line, charging the line's fee rule; a negative fen (a reversal) takes
// back exactly the fee the same amount was charged.
func (c *Clearer) clearOne(lines map[lineKey]*line, legs *[3]int64, lk lineKey, fen int64) {
	l := lines[lk]
	if l == nil {
		l = &line{Line: Line{Issuer: lk.issuer, Operator: lk.operator, Product: lk.product, CardType: lk.cardType, TerminalType: lk.tt, Rule: noRuleName}}
		if lk.grey != 0 {
			l.Grey = lk.grey.String()
		}
		if lk.interop != 0 {
			l.Interop = lk.interop.String()
		}
		s := c.schedules[lk.operator]
		if ri := s.rule(lk.product, lk.cardType, lk.tt); ri != noRule {
			l.rule = &s.Rules[ri]
			l.Rule = l.rule.Name
		}
		lines[lk] = l
	}
	var fee, rem int64
	if l.rule != nil {
		if fen < 0 {
			fee, rem = l.rule.Fee(-fen, c.cfg.Rounding)
			fee, rem = -fee, -rem
		} else {
			fee, rem = l.rule.Fee(fen, c.cfg.Rounding)
		}
	}
	l.Records++
	l.GrossFen += fen
	l.FeeFen += fee
	l.RemainderMicro += rem
	legs[0] -= fen
	legs[1] += fen - fee
	legs[2] += fee
}

// check checks a's fields, a taken by day's cycle. Kind Invalid.
func (a *Adjustment) check(op string, day Day) error {
	where := fmt.Sprintf("cycle %v: adjustment %q", day, a.Ref)
	switch {
	case a.Ref == "" || len(a.Ref) > RefLenMax || !utf8.ValidString(a.Ref):
		return citycard.E(op, citycard.Invalid, "%s: reference: want 1 to %d bytes of UTF-8", where, RefLenMax)
	case a.Of >= day:
		return citycard.E(op, citycard.Invalid, "%s corrects cycle %v: want an earlier one", where, a.Of)
	case a.Payer == "" || a.Payee == "" || a.Payer == a.Payee:
		return citycard.E(op, citycard.Invalid, "%s: payer %q and payee %q: want two parties", where, a.Payer, a.Payee)
	case a.AmountFen <= 0 || a.AmountFen > AdjustmentFenMax:
		return citycard.E(op, citycard.Invalid, "%s: %d fen: want 1 to %d", where, a.AmountFen, AdjustmentFenMax)
	case len(a.Reason) > ReasonLenMax || !utf8.ValidString(a.Reason):
		return citycard.E(op, citycard.Invalid, "%s: reason: at most %d bytes of UTF-8", where, ReasonLenMax)
	}
	return nil
}

// checkInput checks the adjustments and the carries. Kind Invalid.
func (c *Clearer) checkInput(op string, in *Input) error {
	if len(in.Adjustments) > AdjustmentsMax {
		return citycard.E(op, citycard.Invalid, "cycle %v: %d adjustments, at most %d", in.Day, len(in.Adjustments), AdjustmentsMax)
	}
	refs := map[string]bool{}
	for i := range in.Adjustments {
		a := &in.Adjustments[i]
		if err := a.check(op, in.Day); err != nil {
			return err
		}
		if refs[a.Ref] {
			return citycard.E(op, citycard.Invalid, "cycle %v: adjustment %q: twice", in.Day, a.Ref)
		}
		refs[a.Ref] = true
	}
	seen := map[string]bool{}
	for _, cr := range in.Carry {
		if cr.Party == "" || seen[cr.Party] || cr.Micro <= -MicroPerFen || cr.Micro >= MicroPerFen {
			return citycard.E(op, citycard.Invalid, "cycle %v: carry of %q, %d micro-fen: want one per party, less than a fen", in.Day, cr.Party, cr.Micro)
		}
		seen[cr.Party] = true
	}
	return nil
}

// assertAggregations checks that every entry went somewhere, the lines
// add up to what was cleared, and the legs of the cleared records sum to
// zero. A failure is a bug of this package: it panics.
func (c *Clearer) assertAggregations(res *Result, legs [3]int64) {
	var all Totals
	for _, t := range []Totals{res.Cleared, res.Pending, res.Suspense, res.Duplicates, res.Loads, res.Applications} {
		all.Count += t.Count
		all.AmountFen += t.AmountFen
	}
	greys := Totals{Count: res.Confirmed.Count + res.Released.Count + res.Reversed.Count, AmountFen: res.Confirmed.AmountFen + res.Released.AmountFen + res.Reversed.AmountFen}
	var lines, confirmed, reversed Totals
	var gross, fees int64
	for i := range res.Lines {
		l := &res.Lines[i]
		t := &lines
		if l.Interop != "" {
			t = new(Totals)
		}
		switch l.Grey {
		case "confirmed":
			t = &confirmed
		case "reversed":
			t = &reversed
		}
		t.Count += l.Records
		t.AmountFen += l.GrossFen
		gross += l.GrossFen
		fees += l.FeeFen
	}
	reversed.AmountFen = -reversed.AmountFen
	// The confirmations and reversals pending their issuer clear no
	// line: with them, the lines are the whole of both.
	pend := res.GreysPending
	if confirmed.Count+reversed.Count+pend.Count != res.Confirmed.Count+res.Reversed.Count ||
		confirmed.AmountFen-reversed.AmountFen+pend.AmountFen != res.Confirmed.AmountFen-res.Reversed.AmountFen {
		panic(fmt.Sprintf("clearing: cycle %v: grey lines confirmed %+v, reversed %+v and %+v pending; decided %+v and %+v",
			res.Day, confirmed, reversed, pend, res.Confirmed, res.Reversed))
	}
	acc, inc, cor := interopLines(res)
	if acc != res.Interop.Accepted || inc != res.Interop.Incoming || cor != res.Interop.Corrections {
		panic(fmt.Sprintf("clearing: cycle %v: interconnection lines %+v %+v %+v, settled %+v", res.Day, acc, inc, cor, res.Interop))
	}
	if all != res.Claim.Totals || greys != res.Claim.Greys || lines != res.Cleared ||
		legs[0]+legs[1]+legs[2] != 0 || -legs[0] != gross || legs[2] != fees {
		panic(fmt.Sprintf("clearing: cycle %v: aggregations do not sum: claim %+v, taken %+v, greys %+v, cleared %+v, lines %+v, confirmed %+v/%+v, reversed %+v/%+v, legs %v, fees %d",
			res.Day, res.Claim, all, greys, res.Cleared, lines, res.Confirmed, confirmed, res.Reversed, reversed, legs, fees))
	}
}

// assertNetZero checks that the positions net to zero: what one party
// pays another receives. A failure panics.
func assertNetZero(res *Result) {
	var net, rec, pay int64
	for _, p := range res.Positions {
		net += p.NetFen
		rec += p.ReceivableFen
		pay += p.PayableFen
		if p.NetFen != p.ReceivableFen-p.PayableFen {
			panic(fmt.Sprintf("clearing: cycle %v: position of %q: net %d, receivable %d, payable %d", res.Day, p.Party, p.NetFen, p.ReceivableFen, p.PayableFen))
		}
	}
	if net != 0 || rec != pay {
		panic(fmt.Sprintf("clearing: cycle %v: positions net to %d fen (receivable %d, payable %d), want 0", res.Day, net, rec, pay))
	}
}

// positions sums what each party receives and pays.
type positions map[string]*Position

// move makes payer pay payee fen; a negative fen is the other way.
func (p positions) move(payer, payee string, fen int64) {
	if fen == 0 {
		return
	}
	if fen < 0 {
		payer, payee, fen = payee, payer, -fen
	}
	p.get(payer).PayableFen += fen
	p.get(payee).ReceivableFen += fen
}

func (p positions) get(party string) *Position {
	x := p[party]
	if x == nil {
		x = &Position{Party: party}
		p[party] = x
	}
	return x
}

func (p positions) sorted() []Position {
	out := make([]Position, 0, len(p))
	for _, k := range sortedKeys(p) {
		x := *p[k]
		x.NetFen = x.ReceivableFen - x.PayableFen
		out = append(out, x)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedLines(m map[lineKey]*line) []Line {
	out := make([]Line, 0, len(m))
	for _, l := range m {
		out = append(out, l.Line)
	}
	slices.SortFunc(out, func(a, b Line) int {
		return cmp.Or(
			strings.Compare(a.Grey, b.Grey), strings.Compare(a.Interop, b.Interop), strings.Compare(a.Issuer, b.Issuer), strings.Compare(a.Operator, b.Operator),
			cmp.Compare(a.Product, b.Product), cmp.Compare(a.CardType, b.CardType),
			cmp.Compare(a.TerminalType, b.TerminalType))
	})
	return out
}
