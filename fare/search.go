package fare

// search finds the cheapest combination of offers that pays for every
// effective leg: a depth-first search over the legs in order, each leg
// trying its offers cheapest first, pruned by the best total so far plus
// a lower bound of the legs still to price. A transfer offer is valid
// only when the leg before it was paid in the rule's from-leg group (and,
// for a same-group rule, within the rule's transfer count and duration
// from the first leg of the sub-journey). A leg that uses a held product
// (heldOffers chose it, in time order) pays with it and nothing else.
type search struct {
	t    *Table
	q    *Quote
	n    int
	legs [MaxLegs]*LegQuote
	eff  [MaxLegs]*eleg

	cur   [MaxLegs]int
	cost  [MaxLegs]int64
	chain [MaxLegs]int

	best      [MaxLegs]int
	bestCost  [MaxLegs]int64
	bestTotal int64
	found     bool
	nodes     int
	lb        [MaxLegs + 1]int64
}

func (s *search) run() {
	for e := s.n - 1; e >= 0; e-- {
		m := int64(-1)
		for i := range s.legs[e].Offers {
			o := &s.legs[e].Offers[i]
			a := max(o.AmountFen, 0)
			if o.Origin == OfferTransfer {
				a = max(min(o.AmountFen, o.chainFen), 0)
			}
			if m < 0 || a < m {
				m = a
			}
		}
		s.lb[e] = s.lb[e+1] + max(m, 0)
	}
	s.dfs(0, 0)
	if !s.found {
		// No combination satisfies every constraint. It cannot happen (a
		// transfer offer is never alone on a leg: it follows one of the
		// leg's own offers, and a held product heldOffers chose is always
		// valid), but if it did: each leg's cheapest offer that is not a
		// transfer or held product.
		for e := 0; e < s.n; e++ {
			s.best[e], s.bestCost[e] = -1, 0
			for i, o := range s.legs[e].Offers {
				if o.Origin == OfferLeg || o.Origin == OfferMaxFare {
					s.best[e], s.bestCost[e] = i, max(o.AmountFen, 0)
					break
				}
			}
		}
	}
	for e := 0; e < s.n; e++ {
		lq := s.legs[e]
		lq.Chosen = s.best[e]
		if lq.Chosen < 0 {
			continue
		}
		lq.Priced = true
		o := &lq.Offers[lq.Chosen]
		lq.FareProductID = o.FareProductID
		lq.AmountFen = s.bestCost[e]
		lq.Transfer = o.Origin == OfferTransfer
	}
}

func (s *search) dfs(e int, total int64) {
	if e < s.n && len(s.legs[e].Offers) == 0 {
		// A leg no rule prices: it pays nothing, and no transfer starts
		// from it (it has no leg offer a transfer rule could follow).
		s.cur[e], s.cost[e], s.chain[e] = -1, 0, e
		s.dfs(e+1, total)
		return
	}
	if e == s.n {
		if !s.found || total < s.bestTotal {
			s.found, s.bestTotal = true, total
			copy(s.best[:s.n], s.cur[:s.n])
			copy(s.bestCost[:s.n], s.cost[:s.n])
		}
		return
	}
	if s.found && (total+s.lb[e] >= s.bestTotal || s.nodes > searchBudget) {
		return
	}
	s.nodes++
	for i := range s.legs[e].Offers {
		amt, ok := s.amount(e, i)
		if !ok {
			continue
		}
		s.cur[e], s.cost[e] = i, amt
		s.dfs(e+1, total+amt)
	}
}

// amount is what offer i charges on leg e given the choices before it, and
// whether those choices allow it.
func (s *search) amount(e, i int) (int64, bool) {
	lq := s.legs[e]
	o := &lq.Offers[i]
	s.chain[e] = e
	if lq.held >= 0 && o.Origin != OfferHeld {
		return 0, false // the leg uses its held product
	}
	switch o.Origin {
	case OfferTransfer:
		if e == 0 {
			return 0, false
		}
		pe := e - 1
		if s.cur[pe] < 0 {
			return 0, false
		}
		po := &s.legs[pe].Offers[s.cur[pe]]
		if po.group < 0 || po.group != o.fromGroup {
			return 0, false
		}
		if (po.Origin == OfferLeg || o.Covered) && po.FareProductID != o.RequiresProductID {
			// A covered leg rides on the earlier leg's product: that leg
			// must hold it, whether it bought it or was covered itself.
			return 0, false
		}
		if po.Origin != OfferLeg && po.Origin != OfferTransfer {
			return 0, false
		}
		x := &s.t.transfers[o.xfer]
		start := pe
		if x.from >= 0 && x.from == x.to && po.Origin == OfferTransfer {
			if px := &s.t.transfers[po.xfer]; px.from == x.from && px.to == x.to {
				start = s.chain[pe]
			}
		}
		if start != pe {
			if x.count >= 0 && e-start > x.count {
				return 0, false
			}
			if !s.t.durationOK(x, s.eff[start], s.eff[e]) {
				return 0, false
			}
		}
		if x.from >= 0 && x.from == x.to && s.t.preferredOther(o.xfer, e-start) {
			return 0, false
		}
		if !s.discountOK(e, pe, x) {
			return 0, false
		}
		s.chain[e] = start
		if o.Covered {
			return 0, true
		}
		if x.typ == AB && po.Origin == OfferLeg {
			return max(o.chainFen-s.cost[pe], 0), true
		}
		return max(o.chainFen, 0), true
	case OfferHeld:
		// heldOffers chose the leg's held product, in time order.
		return 0, o.held == s.legs[e].held
	}
	return max(o.AmountFen, 0), true
}

// date is the operating day of effective leg e.
func (s *search) date(e int) Date {
	return s.t.OperatingDay(s.q.date, s.eff[e].start)
}

// applyCaps lowers the chosen amounts, leg by leg in order, first by the
// spend tier in force (applyTier), then so that the rider's spend in
// each capped period never passes the cap of their rider category (the
// category's own cap, else the cap for every category). A maximum fare
// charged for want of a tap-off neither counts towards the caps nor is
// lowered by them until the tap-off is known (as London's capping does):
// it is a charge pending, not the journey's fare. Legs Spend counts
// already (Journey.SpentLegs) are neither counted again nor lowered.
func (t *Table) applyCaps(q *Quote, s *search, j *Journey) {
	if len(t.caps) == 0 && len(t.tiers) == 0 {
		return
	}
	var spent [MaxLegs]int64
	// Each leg's day, week and month, computed once: comparing months
	// takes a civil date.
	var keys [MaxLegs]periodKeys
	for e := 0; e < s.n; e++ {
		keys[e] = periodKeysOf(s.date(e))
	}
	first := keys[0] // the periods of j.Spend: the first leg's
	for e := 0; e < s.n; e++ {
		lq := s.legs[e]
		if len(t.tiers) > 0 {
			t.applyTier(q, s, j, e, &keys)
		}
		if n := s.eff[e].net; n >= 0 && t.uncapped[n] || j.SpentLegs > 0 && s.inSpend(j, e) {
			continue
		}
		if lq.Chosen >= 0 && lq.Offers[lq.Chosen].Origin == OfferMaxFare {
			continue
		}
		d := &keys[e]
		allowed, binding := int64(-1), CapPeriod(0)
		for period := CapDay; period <= CapMonth; period++ {
			c := t.capsByCat[q.cat+1][period-1]
			if c < 0 {
				continue
			}
			var before int64
			if d[period-1] == first[period-1] {
				switch period {
				case CapDay:
					before = j.Spend.DayFen
				case CapWeek:
					before = j.Spend.WeekFen
				case CapMonth:
					before = j.Spend.MonthFen
				}
			}
			for k := 0; k < e; k++ {
				if keys[k][period-1] == d[period-1] {
					before += spent[k]
				}
			}
			left := max(c-before, 0)
			if allowed < 0 || left < allowed {
				allowed, binding = left, period
			}
		}
		if allowed >= 0 && lq.AmountFen > allowed {
			lq.CapFen = lq.AmountFen - allowed
			lq.AmountFen = allowed
			lq.capPeriod = binding
		}
		spent[e] = lq.AmountFen
	}
}

// capFor returns the cap amount for a rider category (-1: none) and
// period, or -1: the category's own cap, else the cap for every category.
// compile tabulates it (Table.capsByCat).
func (t *Table) capFor(cat int32, p CapPeriod) int64 {
	all := int64(-1)
	for _, c := range t.caps {
		if c.period != p {
			continue
		}
		if c.cat == cat && cat >= 0 {
			return c.amount
		}
		if c.cat < 0 {
			all = c.amount
		}
	}
	return all
}

// periodKeys name the cap periods (CapDay, CapWeek, CapMonth, at index
// period-1) a day is in: two days are in the same period when their keys
// for it are equal.
type periodKeys [3]int32

func periodKeysOf(d Date) periodKeys {
	y, m, _ := d.Civil()
	return periodKeys{int32(d), int32(d) - int32(d.Weekday()), int32(y*12 + m)}
}

// preferredOther reports whether another same-group rule with the same
// leg groups takes precedence over rule xi for a sub-journey of k
// transfers: the reference selects the rule with the smallest
// transfer_count at least k (-1, no limit, being the largest).
func (t *Table) preferredOther(xi int32, k int) bool {
	x := &t.transfers[xi]
	for i := range t.transfers {
		o := &t.transfers[i]
		if int32(i) == xi || o.never || o.from != x.from || o.to != x.to || o.count < k {
			continue
		}
		if x.count < 0 || o.count < x.count {
			return true
		}
	}
	return false
}
