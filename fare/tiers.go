package fare

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Spend tiers (累计优惠): a discount that starts once a card has spent,
// or ridden, a set amount in a period (fare_tiers.txt, with
// fare_tier_networks.txt naming the networks a tier discounts and
// counts). Beijing's metro on the city card: within a calendar month,
// the rides after 100 yuan spent pay 80%, after 150 yuan 50%, after 400
// yuan the full fare again; Guangzhou: from the 16th bus or metro ride
// of a month, 60%.

// Limits of fare_tiers.txt: a city has a few tiers of a few steps.
const (
	tiersMax     = 16        // tiers (tier_id) of a table
	tierStepsMax = 16        // steps (rows) of one tier
	tierRidesMax = 1_000_000 // a rides threshold, and a Spend's ride count
)

// TierCount is what a tier counts towards its thresholds.
type TierCount uint8

// The counts of a tier.
const (
	TierSpend TierCount = 1 // what the counted legs were charged, in fen
	TierRides TierCount = 2 // the rides (legs) on the counted networks
)

// String gives "spend" or "rides", as fare_tiers.txt writes it.
func (c TierCount) String() string {
	switch c {
	case TierSpend:
		return "spend"
	case TierRides:
		return "rides"
	}
	return "tier_count(?)"
}

// tier is one tier_id of fare_tiers.txt: its period, what it counts, who
// it is for, its networks and its steps.
type tier struct {
	id        string
	line      int // its first row
	period    CapPeriod
	count     TierCount
	cat       int32 // -1: every rider category
	media     int32 // -1: every fare media
	heldRides bool  // a ride paid with a held product counts as a ride
	never     bool  // names a category or media the feed lacks: applies to no one
	// listed says fare_tier_networks.txt names the tier: only the
	// networks it lists are discounted and counted; else every network.
	listed     bool
	discounted []int32
	counted    []int32
	steps      []tierStep // by threshold, ascending
}

// tierStep is one row of a tier: from threshold (fen or rides) counted
// before a leg, the leg pays pct percent.
type tierStep struct {
	threshold int64
	pct       int64
	line      int
}

// loadTiers reads fare_tiers.txt and fare_tier_networks.txt. It runs
// before loadExtensions sizes the per-network slices, as a tier may name
// a network no other file does.
func (l *loader) loadTiers() {
	t := l.t
	f := l.file("fare_tiers.txt")
	byID := map[string]int{}
	for i := range f.rows {
		id, ok := l.required(f, i, "tier_id")
		if !ok {
			continue
		}
		period := CapPeriod(l.choice(f, i, "period", periodNames[:]...))
		count := TierCount(l.choice(f, i, "threshold_kind", "spend", "rides"))
		if period == 0 || count == 0 {
			continue
		}
		held := false
		switch v := f.get(i, "held_rides_count"); v {
		case "", "0":
		case "1":
			held = true
		default:
			l.errf(f, i, "held_rides_count", "%q is not 0 or 1", v)
		}
		cat, okCat := l.defRef(f, i, "rider_category_id", &t.catIDs, "rider category", "the tier applies to no one")
		media, okMedia := l.defRef(f, i, "fare_media_id", &t.media, "fare media", "the tier applies to no one")
		k, seen := byID[id]
		if !seen {
			if len(t.tiers) == tiersMax {
				l.errf(f, i, "tier_id", "more than %d tiers", tiersMax)
				continue
			}
			k = len(t.tiers)
			byID[id] = k
			t.tiers = append(t.tiers, tier{id: id, line: f.lines[i], period: period, count: count, cat: cat, media: media, heldRides: held})
		}
		tr := &t.tiers[k]
		tr.never = tr.never || !okCat || !okMedia
		// What a tier is stays the same on each of its rows.
		switch {
		case tr.period != period:
			l.errf(f, i, "period", "tier %q has period %s on line %d", id, periodName(tr.period), tr.line)
		case tr.count != count:
			l.errf(f, i, "threshold_kind", "tier %q counts %s on line %d", id, tr.count, tr.line)
		case okCat && tr.cat != cat:
			l.errf(f, i, "rider_category_id", "tier %q is for another rider category on line %d", id, tr.line)
		case okMedia && tr.media != media:
			l.errf(f, i, "fare_media_id", "tier %q is for another fare media on line %d", id, tr.line)
		case tr.heldRides != held:
			l.errf(f, i, "held_rides_count", "tier %q has another held_rides_count on line %d", id, tr.line)
		}
		st := tierStep{line: f.lines[i]}
		v, ok := l.required(f, i, "threshold")
		if !ok {
			continue
		}
		if count == TierSpend {
			st.threshold = l.amountField(f, i, "threshold", true)
		} else {
			st.threshold = l.intField(f, i, "threshold", 0, 0, tierRidesMax)
		}
		if st.threshold < 0 {
			l.errf(f, i, "threshold", "%q is negative", v)
		}
		if _, ok := l.required(f, i, "fare_percent"); !ok {
			continue
		}
		st.pct = l.intField(f, i, "fare_percent", 100, 0, 100)
		if len(tr.steps) == tierStepsMax {
			l.errf(f, i, "tier_id", "tier %q has more than %d steps", id, tierStepsMax)
			continue
		}
		for _, o := range tr.steps {
			if o.threshold == st.threshold {
				l.errf(f, i, "threshold", "tier %q has a step from %s already, line %d", id, v, o.line)
			}
		}
		tr.steps = append(tr.steps, st)
	}
	for k := range t.tiers {
		slices.SortFunc(t.tiers[k].steps, func(a, b tierStep) int { return cmp.Compare(a.threshold, b.threshold) })
	}

	f = l.file("fare_tier_networks.txt")
	given := map[[2]int32]bool{} // (tier, network)
	for i := range f.rows {
		id, ok1 := l.required(f, i, "tier_id")
		_, ok2 := l.required(f, i, "network_id")
		if !ok1 || !ok2 {
			continue
		}
		k, ok := byID[id]
		if !ok {
			l.errf(f, i, "tier_id", "tier %q is not in fare_tiers.txt", id)
			continue
		}
		tr := &t.tiers[k]
		n := l.ref(f, i, "network_id", &t.networks, "network")
		if given[[2]int32{int32(k), n}] {
			l.errf(f, i, "network_id", "network given twice for tier %q", id)
			continue
		}
		given[[2]int32{int32(k), n}] = true
		tr.listed = true
		flag := func(col string) bool {
			switch v := f.get(i, col); v {
			case "", "1":
				return true
			case "0":
			default:
				l.errf(f, i, col, "%q is not 0 or 1", v)
			}
			return false
		}
		if flag("discounted") {
			tr.discounted = append(tr.discounted, n)
		}
		if flag("counted") {
			tr.counted = append(tr.counted, n)
		}
	}
	l.growCats()
}

// periodNames are the periods of fare caps and spend tiers, as their
// files write them, at index period-1.
var periodNames = [...]string{"day", "week", "month"}

func periodName(p CapPeriod) string {
	if p < CapDay || p > CapMonth {
		return "period(?)"
	}
	return periodNames[p-1]
}

// choice returns the position (from 1) of field col's value among
// names, or 0 with an error naming them.
func (l *loader) choice(f *table, i int, col string, names ...string) int {
	v := f.get(i, col)
	for k, n := range names {
		if v == n {
			return k + 1
		}
	}
	list := names[len(names)-1]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " or " + list
	}
	l.errf(f, i, col, "%q is not %s", v, list)
	return 0
}

// discounts reports whether the tier's percent applies to a leg of
// network n (-1: no known network) for rider category cat and fare
// media (-1: none).
func (tr *tier) discounts(n, cat, media int32) bool {
	if tr.never || tr.cat >= 0 && tr.cat != cat || tr.media >= 0 && tr.media != media {
		return false
	}
	return !tr.listed || n >= 0 && containsI32(tr.discounted, n)
}

// counts reports whether a leg of network n counts towards the tier.
func (tr *tier) counts(n int32) bool {
	return !tr.listed || n >= 0 && containsI32(tr.counted, n)
}

// stepAt is the step in force for a count before a leg: the one of the
// highest threshold at most before, or -1 below the first.
func (tr *tier) stepAt(before int64) int {
	k := -1
	for i := range tr.steps {
		if tr.steps[i].threshold > before {
			break
		}
		k = i
	}
	return k
}

// tierBase is what Spend says was counted before the journey in period
// p of the first leg.
func tierBase(sp *Spend, c TierCount, p CapPeriod) int64 {
	if c == TierRides {
		switch p {
		case CapDay:
			return int64(sp.DayRides)
		case CapWeek:
			return int64(sp.WeekRides)
		}
		return int64(sp.MonthRides)
	}
	switch p {
	case CapDay:
		return sp.DayFen
	case CapWeek:
		return sp.WeekFen
	}
	return sp.MonthFen
}

// inSpend reports whether effective leg e is counted in Journey.Spend
// already (Journey.SpentLegs): tiers and caps neither count it again
// nor apply to it.
func (s *search) inSpend(j *Journey, e int) bool { return s.eff[e].last < j.SpentLegs }

// tierBefore is what tier tr counts before effective leg e: Spend, when
// e is in the period of the first leg, and the legs before e in e's
// period on the networks the tier counts. A leg counts what it was
// charged (after tiers and caps: what the card was debited), or its
// rides (each leg joined into it one): a maximum fare waiting for its
// tap-off counts nothing, nor does a leg no rule priced, and a ride paid
// with a held product counts as a ride only with held_rides_count.
func (tr *tier) tierBefore(s *search, j *Journey, e int, keys *[MaxLegs]periodKeys) int64 {
	p := tr.period - 1
	var before int64
	if keys[e][p] == keys[0][p] {
		before = tierBase(&j.Spend, tr.count, tr.period)
	}
	for k := 0; k < e; k++ {
		if keys[k][p] != keys[e][p] || s.inSpend(j, k) || !tr.counts(s.eff[k].net) {
			continue
		}
		lq := s.legs[k]
		if lq.Chosen < 0 {
			continue
		}
		o := &lq.Offers[lq.Chosen]
		switch {
		case o.Origin == OfferMaxFare:
		case tr.count == TierSpend:
			before += lq.AmountFen
		case o.Origin != OfferHeld || tr.heldRides:
			before += int64(s.eff[k].last - s.eff[k].first + 1)
		}
	}
	return before
}

// applyTier lowers effective leg e's chosen amount by the tier in force
// at its start: of the tiers discounting it, the step each is at for the
// count before the leg (the leg that crosses a threshold pays the step
// in force when it began), and of those the lowest percent (the first
// tier of the file among equals), not their product. The percent is of
// what the leg is charged after transfers (a transfer pays its
// discounted fare, then the tier's percent of it) and rider categories
// (a student's 50% fare, then the tier's percent), rounded half away
// from zero to the fen; fare caps apply after it (applyCaps). A leg paid
// with a held product or covered by a free transfer (nothing to pay), a
// maximum fare waiting for its tap-off and an unpriced leg are left
// alone; so is a leg Spend counts already (Journey.SpentLegs).
func (t *Table) applyTier(q *Quote, s *search, j *Journey, e int, keys *[MaxLegs]periodKeys) {
	lq := s.legs[e]
	if lq.Chosen < 0 || lq.AmountFen == 0 || s.inSpend(j, e) {
		return // nothing to lower (a free transfer too)
	}
	if o := lq.Offers[lq.Chosen].Origin; o == OfferMaxFare || o == OfferHeld {
		return
	}
	net := s.eff[e].net
	best, bestStep, bestPct := -1, -1, int64(101)
	var bestBefore int64
	for ti := range t.tiers {
		tr := &t.tiers[ti]
		if !tr.discounts(net, q.cat, q.media) {
			continue
		}
		before := tr.tierBefore(s, j, e, keys)
		k := tr.stepAt(before)
		if k < 0 || tr.steps[k].pct >= bestPct {
			continue
		}
		best, bestStep, bestPct, bestBefore = ti, k, tr.steps[k].pct, before
	}
	if best < 0 {
		return
	}
	lq.TierFen = lq.AmountFen - percentOf(lq.AmountFen, bestPct)
	lq.AmountFen -= lq.TierFen
	lq.tier, lq.tierStep = uint8(best+1), uint8(bestStep)
	q.scratch.tierBefore[s.eff[e].first] = bestBefore
}

// TierID returns the tier_id of the spend tier that applied to leg i
// (LegQuote.TierFen is what it took off), or "".
func (q *Quote) TierID(i int) string {
	if lq := &q.Legs[i]; lq.tier > 0 {
		return q.t.tiers[lq.tier-1].id
	}
	return ""
}

// tierJSON fills the tier fields of leg i's JSON form.
func (q *Quote) tierJSON(i int, lj *LegQuoteJSON) {
	lq := &q.Legs[i]
	lj.TierID = q.TierID(i)
	if lq.TierFen > 0 {
		lj.Tier = q.t.FormatAmount(lq.TierFen)
	}
}

// explainTier writes which tier applied to leg i, and how.
func (q *Quote) explainTier(b *strings.Builder, i int) {
	lq := &q.Legs[i]
	if lq.tier <= 0 {
		return
	}
	t := q.t
	tr := &t.tiers[lq.tier-1]
	st := &tr.steps[lq.tierStep]
	n := q.scratch.tierBefore[i]
	before := fmt.Sprintf("%s spent", t.FormatAmount(n))
	from := t.FormatAmount(st.threshold)
	if tr.count == TierRides {
		before, from = fmt.Sprintf("%d rides", n), fmt.Sprintf("%d rides", st.threshold)
	}
	fmt.Fprintf(b, "; %s tier %s (fare_tiers.txt line %d): %s this %s before this leg, ", periodName(tr.period), tr.id, st.line, before, periodName(tr.period))
	fmt.Fprintf(b, "%d%% from %s: %s less %s = %s", st.pct, from, t.FormatAmount(lq.AmountFen+lq.CapFen+lq.TierFen), t.FormatAmount(lq.TierFen), t.FormatAmount(lq.AmountFen+lq.CapFen))
}

// spendRides reads the ride counts of a journey document's spend: 0 to
// tierRidesMax each.
func spendRides(s *SpendJSON, sp *Spend) error {
	for _, r := range [...]struct {
		name string
		v    int
		dst  *int
	}{{"spend.day_rides", s.DayRides, &sp.DayRides}, {"spend.week_rides", s.WeekRides, &sp.WeekRides}, {"spend.month_rides", s.MonthRides, &sp.MonthRides}} {
		if r.v < 0 || r.v > tierRidesMax {
			return fmt.Errorf("%s: %d is not 0 to %d", r.name, r.v, tierRidesMax)
		}
		*r.dst = r.v
	}
	return nil
}
