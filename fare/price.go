package fare

import (
	"fmt"

	"github.com/citycard/citycard"
)

// Limits of a journey: a journey is a few legs of one trip, and a card
// holds at most a few products.
const (
	MaxLegs      = 16                 // legs of one journey
	MaxHeld      = 16                 // products held
	distanceMMax = int64(100_000_000) // 100,000 km: the most a leg's distance may be
	searchBudget = 1 << 14
)

// Journey is what Price prices: the legs of one trip, who rides, and what
// the rider holds.
type Journey struct {
	Date          Date   // the service date of the first leg; leg times count from its midnight
	RiderCategory string // a rider_category_id; "" for the feed's default category
	FareMedia     string // a fare_media_id; "" for no particular media
	Legs          []Leg
	Products      []Held // products the card holds: passes and count tickets
	Spend         Spend  // spent and ridden before this journey, for fare caps and spend tiers
	// SpentLegs says the first SpentLegs legs are counted in Spend
	// already: a terminal prices a tap after the leg before it (for its
	// transfers), which the card's spend counts. Caps and spend tiers
	// neither count those legs again nor apply to them. 0 for none.
	SpentLegs int
}

// Leg is one ride. Fields the feed does not need may be left empty.
type Leg struct {
	RouteID    string
	NetworkID  string // the leg's network; "" to take it from the route
	FromStopID string // where the leg began (tap-on)
	ToStopID   string // where it ended (tap-off); "" when there was none
	Start, End Clock  // tap-on and tap-off times; NoTime when unknown
	// DistanceM is the leg's distance in metres, known when above 0 or
	// when DistanceKnown is set: 0 m is a real distance (the same
	// station). An unknown distance (the zero Leg's) is taken from the
	// feed's tables.
	DistanceM     int64
	DistanceKnown bool
	// TapOffMissing says the leg's tap-off never came: the network's
	// maximum fare applies.
	TapOffMissing bool
	// ChargedFen is what was already charged for the leg (the maximum fare
	// at a missing tap-off); when the tap-off turns up later, the leg is
	// priced and the difference refunded, or, where the fare is above
	// what was charged, the supplement due stated.
	ChargedFen int64
}

// Held is a product the card holds.
type Held struct {
	FareProductID string
	// ValidFrom and ValidTo are the first and the last day of validity,
	// both inclusive. A product without dates never expires: ValidFrom
	// NoStart and ValidTo Forever (what the JSON form gives when they are
	// absent).
	ValidFrom  Date
	ValidTo    Date
	RidesLeft  int // count tickets: rides still held
	DailyLimit int // rides a day the card allows; 0: none. The lower of it and the feed's daily_ride_limit applies
	RidesToday int // rides already taken on the operating day of the journey's first leg
}

// Spend is what the rider paid, and how many rides they took, in the
// periods fare caps and spend tiers count, before the journey: the
// operating day of its first leg (Table.OperatingDay), and the week
// (Monday to Sunday) and month of that day. A spend tier takes them as
// the count of the networks it counts (fare_tier_networks.txt): what a
// card carries.
type Spend struct {
	DayFen, WeekFen, MonthFen       int64
	DayRides, WeekRides, MonthRides int
}

// OfferKind says where an offer comes from.
type OfferOrigin uint8

// The kinds of offer.
const (
	OfferLeg      OfferOrigin = iota // a product of a matching fare_leg_rules.txt row
	OfferHeld                        // a pass or count ticket the card holds
	OfferTransfer                    // a product of a fare_transfer_rules.txt row
	OfferMaxFare                     // the network's maximum fare: the tap-off is missing
	OfferJoined                      // the leg is joined to an earlier one (fare_leg_join_rules.txt)
)

// Offer is one way the rules allow paying for a leg.
type Offer struct {
	FareProductID string
	FareMediaID   string
	AmountFen     int64 // what this offer charges on the leg
	Origin        OfferOrigin
	// RequiresLeg and RequiresProductID name the earlier leg and the
	// product it must be paid with for a transfer offer; -1 and "" else.
	RequiresLeg       int
	RequiresProductID string
	// Covered marks a free transfer (a fare_transfer_rules.txt row
	// without a product) of type 0 or 2: the product RequiresLeg was paid
	// with covers this leg too, as OpenTripPlanner reports it. The offer
	// names that product at its own price (AmountFen), paid once, on that
	// leg: this leg pays nothing for it.
	Covered bool

	product   int32
	rule      int32 // fare_leg_rules row (the to-leg's for a transfer)
	xfer      int32 // fare_transfer_rules row
	group     int32 // the leg group the leg counts in when paid with this offer
	fromGroup int32 // transfer: the group the earlier leg must count in
	chainFen  int64 // transfer type AB: the amount when the earlier leg was itself a transfer
	toFen     int64 // transfer: the to-leg product's own amount
	held      int32
	pct       int64 // rider category percent applied, 100 when none
	// fromDefault: priced from the default category's row, the category
	// having none of its own
	fromDefault bool
	exit        exitKind // a metro rule changed the offer (metro.go)
	timeFee     int64    // a time-based product: the part of AmountFen for the time
	minutes     int64
}

// LegQuote is the price of one leg.
type LegQuote struct {
	// Priced says an offer pays for the leg. A leg no rule prices (no
	// offer, or none the journey can use) is not an error of the journey:
	// it has no chosen offer, AmountFen and FullFen 0, and the quote is
	// not Complete. A joined leg is priced with the leg it is joined to.
	Priced        bool
	overtimeFen   int32 // the overtime surcharge (OvertimeFen), in Priced's padding: a larger LegQuote prices slower
	FareProductID string
	AmountFen     int64 // charged for the leg, after transfers, held products and caps
	FullFen       int64 // the leg's cheapest fare on its own: no transfer, no held product
	CapFen        int64 // taken off by fare caps
	TierFen       int64 // taken off by a spend tier (fare_tiers.txt), before caps
	RefundFen     int64 // to refund of ChargedFen, once the tap-off turned up
	SupplementFen int64 // due beyond ChargedFen, the fare being above it
	DistanceM     int64 // -1 when unknown
	Transfer      bool  // a transfer offer was used
	JoinedTo      int   // the first leg of the effective leg this leg is joined to, or -1
	Chosen        int   // index of the offer used in Offers, -1 for a joined leg
	Offers        []Offer

	first, last int // input legs of the effective leg
	capPeriod   CapPeriod
	tier        uint8 // 1 + the spend tier applied (Table.tiers), 0 none; beside capPeriod, in its padding
	tierStep    uint8 // its step
	net         int32 // the effective leg's network, stops: for the explanation
	from, to    int32
	held        int32 // the held product (index in Journey.Products) the leg uses, or -1
}

// Quote is the price of a journey. A Quote may be reused across calls to
// Price: its slices are reused, so pricing allocates nothing once warm.
type Quote struct {
	Version  string
	Currency string
	TotalFen int64 // the sum of the priced legs' AmountFen
	// RefundFen and SupplementFen sum the legs': what goes back of what
	// was charged (Leg.ChargedFen), and what is due beyond it.
	RefundFen, SupplementFen int64
	// Complete says every leg is priced; a quote that is not prices the
	// legs it can and says which it cannot (LegQuote.Priced).
	Complete bool
	Legs     []LegQuote

	t           *Table
	cat         int32
	media       int32
	held        []Held
	date        Date
	unknownHeld []int32 // Journey.Products the table does not know: ignored
	hu          heldUse // what the legs took of Journey.Products, while pricing
	scratch     struct {
		legs   [MaxLegs]eleg // the journey's legs resolved, then joined into effective legs
		search search
		// tierBefore is what the spend tier of a leg (by its index)
		// counted before it, for the explanation.
		tierBefore [MaxLegs]int64
	}
}

// Warnings are what pricing ignored, one a line: a held product the table
// does not know as a pass or count ticket. They are built on demand.
func (q *Quote) Warnings() []string {
	var w []string
	for _, i := range q.unknownHeld {
		w = append(w, fmt.Sprintf("held product %q (products[%d]) is not a pass or count ticket of fare table %s: ignored", q.held[i].FareProductID, i, q.Version))
	}
	return w
}

// eleg is an effective fare leg, resolved to indices.
type eleg struct {
	net, route int32
	from, to   int32
	start, end Clock // absolute: seconds from the journey date's midnight
	distM      int64 // -1 unknown
	missing    bool
	charged    int64
	first      int
	last       int
}

// Price prices j into q. A leg no rule prices is not an error: the quote
// shows it unpriced, prices every other leg and is not Complete (as
// OpenTripPlanner and the reference do: a leg without offers). Errors are
// of kind Invalid, for bad input only: a journey with no legs or too
// many, an unknown rider category or fare media, a leg whose tap-off is
// missing yet has an exit stop, a route or stop the feed's routes.txt or
// stops.txt lacks
// (where it has that file; a route in no network is simply in none).
func (t *Table) Price(j *Journey, q *Quote) error {
	const op = "fare.Price"
	n := len(j.Legs)
	if n == 0 || n > MaxLegs {
		return citycard.E(op, citycard.Invalid, "a journey has 1 to %d legs, this one %d", MaxLegs, n)
	}
	if j.SpentLegs < 0 || j.SpentLegs > n {
		return citycard.E(op, citycard.Invalid, "%d legs counted in the spend already, of a journey of %d", j.SpentLegs, n)
	}
	if len(j.Products) > MaxHeld {
		return citycard.E(op, citycard.Invalid, "a card holds at most %d products, this one %d", MaxHeld, len(j.Products))
	}
	cat := t.defaultCat
	if j.RiderCategory != "" {
		if cat = t.catIDs.get(j.RiderCategory); cat < 0 {
			return citycard.E(op, citycard.Invalid, "rider category %q is not in the feed", j.RiderCategory)
		}
	}
	media := int32(-1)
	if j.FareMedia != "" {
		if media = t.media.get(j.FareMedia); media < 0 {
			return citycard.E(op, citycard.Invalid, "fare media %q is not in the feed", j.FareMedia)
		}
	}
	// A product the table does not know (or knows, but not as a pass or
	// count ticket) is ignored, with a warning in the quote: the card
	// may hold products of other schemes, and its rides are still priced.
	q.unknownHeld = q.unknownHeld[:0]
	for i := range j.Products {
		if t.heldProduct(&j.Products[i]) == nil {
			q.unknownHeld = append(q.unknownHeld, int32(i))
		}
	}
	// Resolve the legs, moving times past midnight where a leg starts
	// before the one it follows (23:50 then 00:10).
	// The legs and the search live in the Quote, so that a warm Quote
	// prices without zeroing them: every field read is written first.
	raw := &q.scratch.legs
	var offset Clock
	prev := NoTime
	for i := range j.Legs {
		l := &j.Legs[i]
		r := &raw[i]
		r.route, r.from, r.to, r.net = -1, -1, -1, -1
		if l.RouteID != "" {
			r.route = t.routes.get(l.RouteID)
		}
		if l.FromStopID != "" {
			r.from = t.stops.get(l.FromStopID)
		}
		if l.ToStopID != "" {
			r.to = t.stops.get(l.ToStopID)
		}
		if err := t.checkLeg(l, r); err != nil {
			return citycard.E(op, citycard.Invalid, "leg %d: %w", i+1, err)
		}
		if l.NetworkID != "" {
			r.net = t.networks.get(l.NetworkID)
		} else if r.route >= 0 {
			r.net = t.routeNet[r.route]
		}
		r.start, r.end = l.Start, l.End
		if r.start >= 0 {
			if prev >= 0 && r.start+offset < prev {
				offset += day
			}
			r.start += offset
			prev = r.start
		}
		if r.end >= 0 {
			r.end += offset
			if r.start >= 0 && r.end < r.start {
				r.end += day
			}
			prev = max(prev, r.end)
		}
		r.distM = -1
		if l.DistanceM > 0 || l.DistanceKnown {
			r.distM = l.DistanceM
		}
		r.missing = l.TapOffMissing
		r.charged = l.ChargedFen
		r.first, r.last = i, i
		if r.end < 0 && r.start >= 0 && (r.to >= 0 || r.distM >= 0) {
			r.end = r.start
		}
	}

	q.Version, q.Currency, q.TotalFen, q.Complete = t.version, t.currency, 0, true
	q.RefundFen, q.SupplementFen = 0, 0
	q.t, q.cat, q.media, q.held, q.date = t, cat, media, j.Products, j.Date
	if cap(q.Legs) < n {
		q.Legs = make([]LegQuote, n)
	}
	q.Legs = q.Legs[:n]

	// Join legs as fare_leg_join_rules.txt says, into effective legs.
	// In place: effective leg ne is built in raw[ne], ne <= i.
	effs := raw
	ne := 0
	for i := 0; i < n; i++ {
		if ne > 0 && t.joined(&effs[ne-1], &raw[i], &j.Legs[i-1], &j.Legs[i]) {
			e := &effs[ne-1]
			r := &raw[i]
			if e.net != r.net {
				e.net = -1
			}
			if e.route != r.route {
				e.route = -1
			}
			e.to, e.end, e.last = r.to, r.end, i
			if e.distM >= 0 && r.distM >= 0 {
				e.distM += r.distM
			} else {
				e.distM = -1
			}
			e.missing = e.missing || r.missing
			e.charged += r.charged
			continue
		}
		if ne != i {
			effs[ne] = raw[i]
		}
		ne++
	}

	hu := &q.hu
	if len(j.Products) > 0 {
		*hu = heldUse{first: t.OperatingDay(j.Date, effs[0].start)}
	}
	for e := 0; e < ne; e++ {
		ev := &effs[e]
		if ev.distM < 0 {
			ev.distM = t.distance(ev)
		}
		lq := &q.Legs[ev.first]
		*lq = LegQuote{Offers: lq.Offers[:0], JoinedTo: -1, DistanceM: ev.distM, first: ev.first, last: ev.last, Chosen: -1,
			net: ev.net, from: ev.from, to: ev.to, held: -1}
		t.legOffers(ev, cat, media, j, lq)
		free := t.metro.priced && t.freeExit(ev, j)
		if !free {
			lq.held = t.heldOffers(ev, j, hu, lq)
		}
		if e > 0 {
			t.transferOffers(&effs[e-1], ev, &q.Legs[effs[e-1].first], lq, cat, media)
		}
		sortLegOffers(lq, free)
		lq.FullFen = -1
		for _, o := range lq.Offers {
			if (o.Origin == OfferLeg || o.Origin == OfferMaxFare) && (lq.FullFen < 0 || o.AmountFen < lq.FullFen) {
				lq.FullFen = o.AmountFen
			}
		}
		if lq.FullFen < 0 {
			lq.FullFen = 0
		}
		for k := ev.first + 1; k <= ev.last; k++ {
			jq := &q.Legs[k]
			*jq = LegQuote{Offers: jq.Offers[:0], JoinedTo: ev.first, Chosen: -1, DistanceM: -1, first: k, last: k, held: -1}
		}
	}

	s := &q.scratch.search
	s.t, s.q, s.n = t, q, ne
	s.found, s.nodes, s.bestTotal, s.lb[ne] = false, 0, 0, 0
	for e := 0; e < ne; e++ {
		s.legs[e] = &q.Legs[effs[e].first]
		s.eff[e] = &effs[e]
	}
	s.run()
	t.capsThenOvertime(q, s, j)
	for e := 0; e < ne; e++ {
		lq := s.legs[e]
		if !lq.Priced {
			q.Complete = false
			continue
		}
		lq.RefundFen, lq.SupplementFen = settle(effs[e].charged, lq.AmountFen)
		q.TotalFen += lq.AmountFen
		q.RefundFen += lq.RefundFen
		q.SupplementFen += lq.SupplementFen
	}
	for i := range q.Legs {
		if k := q.Legs[i].JoinedTo; k >= 0 {
			q.Legs[i].Priced = q.Legs[k].Priced
		}
	}
	return nil
}

// settle compares what was charged for a leg (0: nothing yet) with its
// fare: the refund of what was charged above the fare, or the supplement
// due of the fare above it (a late tap-off whose fare passes the maximum
// fare charged: a long parking stay).
func settle(chargedFen, fareFen int64) (refundFen, supplementFen int64) {
	switch {
	case chargedFen <= 0:
		return 0, 0
	case chargedFen > fareFen:
		return chargedFen - fareFen, 0
	}
	return 0, fareFen - chargedFen
}

// checkLeg refuses a leg (l, resolved to r) naming a route or stop the
// feed's routes.txt or stops.txt lacks, a distance out of range, and
// contradictory input (a missing tap-off with an exit stop): the journey
// is wrong, not the fare table.
func (t *Table) checkLeg(l *Leg, r *eleg) error {
	if l.TapOffMissing && l.ToStopID != "" {
		return fmt.Errorf("tap_off_missing, yet an exit stop %q: a leg with a known exit has its tap-off", l.ToStopID)
	}
	if l.DistanceM < 0 || l.DistanceM > distanceMMax {
		return fmt.Errorf("distance %d m is not 0 to %d", l.DistanceM, distanceMMax)
	}
	if l.RouteID != "" && t.routesDefined >= 0 && (r.route < 0 || r.route >= t.routesDefined) {
		return fmt.Errorf("route %q is not in the feed's routes.txt", l.RouteID)
	}
	if t.stopsDefined >= 0 {
		if l.FromStopID != "" && (r.from < 0 || r.from >= t.stopsDefined) {
			return fmt.Errorf("stop %q is not in the feed's stops.txt", l.FromStopID)
		}
		if l.ToStopID != "" && (r.to < 0 || r.to >= t.stopsDefined) {
			return fmt.Errorf("stop %q is not in the feed's stops.txt", l.ToStopID)
		}
	}
	return nil
}

// joined reports whether leg b continues the effective leg a as one fare
// leg under a fare_leg_join_rules.txt row.
func (t *Table) joined(a, b *eleg, la, lb *Leg) bool {
	if len(t.joins) == 0 || a.net < 0 || b.net < 0 {
		return false
	}
	for _, r := range t.joins {
		if r.fromNet != a.net || r.toNet != b.net {
			continue
		}
		if r.fromStop >= 0 && !t.isStop(a.to, r.fromStop) || r.toStop >= 0 && !t.isStop(b.from, r.toStop) {
			continue
		}
		return true
	}
	return false
}

// isStop reports whether stop s is want or a stop of station want.
func (t *Table) isStop(s, want int32) bool {
	return s >= 0 && (s == want || t.stopParent[s] == want)
}

// distance finds a leg's distance in the feed: the distance table between
// its stops (or their stations), else the kilometre posts of its route.
func (t *Table) distance(e *eleg) int64 {
	if e.from < 0 || e.to < 0 {
		return -1
	}
	if len(t.distances) > 0 {
		for _, a := range [2]int32{e.from, t.stopParent[e.from]} {
			for _, b := range [2]int32{e.to, t.stopParent[e.to]} {
				if a >= 0 && b >= 0 {
					if d, ok := t.distances[[2]int32{a, b}]; ok {
						return d
					}
				}
			}
		}
		if e.from == e.to {
			return 0
		}
	}
	if e.route >= 0 && len(t.posts) > 0 {
		a, ok1 := t.posts[[2]int32{e.route, e.from}]
		b, ok2 := t.posts[[2]int32{e.route, e.to}]
		if ok1 && ok2 {
			if a > b {
				return a - b
			}
			return b - a
		}
	}
	if e.from == e.to {
		return 0
	}
	return -1
}

// dateTime splits an absolute Clock into the day and the time of day.
func dateTime(d Date, c Clock) (Date, Clock) {
	return d + Date(c/day), c % day
}

// active reports whether timeframe group g holds at clock c of the
// journey starting on date d. End times are exclusive.
func (t *Table) active(g int32, d Date, c Clock) bool {
	if c < 0 {
		return false
	}
	dd, tod := dateTime(d, c)
	for _, tf := range t.tfGroups[g] {
		if tod >= tf.start && tod < tf.end && (tf.service < 0 || t.services[tf.service].on(dd)) {
			return true
		}
	}
	return false
}

func (s *service) on(d Date) bool {
	if v, ok := s.added[d]; ok {
		return v
	}
	return s.hasRange && d >= s.start && d <= s.end && s.weekdays&(1<<d.Weekday()) != 0
}

// areaMatch reports whether a rule's area (want, -1 for empty) matches a
// stop. listed says which areas the rule column names: an empty area
// matches, without rule_priority, only stops in no listed area.
func (t *Table) areaMatch(want int32, stop int32, listed []bool) bool {
	if want < 0 {
		if t.priorityMode || stop < 0 {
			return true
		}
		for _, a := range t.stopAreas[stop] {
			if listed[a] {
				return false
			}
		}
		return true
	}
	if stop < 0 {
		return false
	}
	for _, a := range t.stopAreas[stop] {
		if a == want {
			return true
		}
	}
	return false
}

// matchRule reports whether fare leg rule r matches effective leg e.
func (t *Table) matchRule(r *legRule, e *eleg, d Date) bool {
	if !t.areaMatch(r.fromArea, e.from, t.fromListed) || !t.areaMatch(r.toArea, e.to, t.toListed) {
		return false
	}
	if r.fromTF >= 0 && !t.active(r.fromTF, d, e.start) {
		return false
	}
	if r.toTF >= 0 && !t.active(r.toTF, d, e.end) {
		return false
	}
	if r.minDistM >= 0 || r.maxDistM >= 0 {
		if e.distM < 0 || r.minDistM >= 0 && e.distM <= r.minDistM || r.maxDistM >= 0 && e.distM > r.maxDistM {
			return false
		}
	}
	if len(t.products[r.product].time) > 0 && (e.start < 0 || e.end < 0) {
		return false
	}
	return true
}

// legOffers appends the leg's own offers: the products of the matching
// fare leg rules of the highest matching priority, and the maximum fare
// when the leg cannot be priced for want of its tap-off.
func (t *Table) legOffers(e *eleg, cat, media int32, j *Journey, lq *LegQuote) {
	if !e.missing {
		list := t.rulesFor[e.net+1]
		prio := -1
		for _, ri := range list {
			r := &t.rules[ri]
			if prio >= 0 && r.priority < prio {
				break
			}
			if !t.matchRule(r, e, j.Date) {
				continue
			}
			prio = r.priority
			base := Offer{Origin: OfferLeg, rule: ri, group: r.group, xfer: -1, held: -1, RequiresLeg: -1, fromGroup: -1}
			lq.Offers = t.appendProduct(lq.Offers, r.product, cat, media, base, e)
		}
	}
	if !hasKind(lq.Offers, OfferLeg) && e.net >= 0 {
		if p := t.networkMax[e.net]; p >= 0 && (e.missing || e.to < 0 && e.distM < 0 || e.end < 0) {
			base := Offer{Origin: OfferMaxFare, rule: -1, group: -1, xfer: -1, held: -1, RequiresLeg: -1, fromGroup: -1}
			lq.Offers = t.appendProduct(lq.Offers, p, cat, media, base, nil)
		}
	}
	if r := t.metro.of(e.net); r != nil {
		t.stationOffers(r, e, j, cat, media, lq) // overtime and same-station rules (metro.go)
	}
}

func hasKind(os []Offer, k OfferOrigin) bool {
	for i := range os {
		if os[i].Origin == k {
			return true
		}
	}
	return false
}

func containsI32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// appendProduct appends an offer of product p for each of its rows that
// the rider category and fare media may use. A category pays the rows
// that name it; failing those, the rows for every category (unscaled) and
// the default category's rows, at the category's fare_percent (100
// without one: the default category's price, with a load warning).
// Priced from the default category's row, fare_percent scales the whole
// leg fare, time charges too, unless the category has its own time rule
// (which is its price, unscaled). A time fare prices stay, the leg's
// times (nil, or a time unknown: no offer of a time fare).
func (t *Table) appendProduct(dst []Offer, p, cat, media int32, base Offer, stay *eleg) []Offer {
	pr := &t.products[p]
	exact := false
	for i := range pr.variants {
		if pr.variants[i].cat == cat && cat >= 0 {
			exact = true
			break
		}
	}
	scaled := !exact && cat >= 0 && cat != t.defaultCat && t.defaultCat >= 0
	for i := range pr.variants {
		v := &pr.variants[i]
		pct := int64(100)
		fromDefault := false
		switch {
		case exact && v.cat != cat:
			continue
		case exact:
		case v.cat < 0:
		case scaled && v.cat == t.defaultCat:
			pct, fromDefault = t.cats[cat].percent, true
		default:
			continue
		}
		if media >= 0 && v.media >= 0 && v.media != media {
			continue
		}
		o := base
		o.product, o.FareProductID, o.pct, o.fromDefault = p, pr.id, pct, fromDefault
		if v.media >= 0 {
			o.FareMediaID = t.media.list[v.media]
		}
		o.AmountFen = percentOf(v.amount, pct)
		if len(pr.time) > 0 {
			if stay == nil || stay.start < 0 || stay.end < 0 {
				continue
			}
			durS := int64(stay.end - stay.start)
			r, own := t.timeRuleFor(pr, cat, fromDefault)
			if r == nil {
				continue
			}
			fee := r.charge(stay.start, durS)
			o.timeFee, o.minutes = fee, (durS+59)/60
			if fromDefault && !own {
				o.AmountFen = percentOf(v.amount+fee, pct)
			} else {
				o.AmountFen += fee
			}
		}
		if base.Origin == OfferLeg || base.Origin == OfferMaxFare {
			o.AmountFen = max(o.AmountFen, 0)
		}
		dst = append(dst, o)
	}
	return dst
}

// timeRuleFor picks product pr's time rule for rider category cat: the
// category's own (own true), else, for a fare from the default category's
// row, the default category's, else the rule for every category; nil for
// none.
func (t *Table) timeRuleFor(pr *product, cat int32, fromDefault bool) (r *timeRule, own bool) {
	var dflt, all *timeRule
	for i := range pr.time {
		switch c := pr.time[i].cat; {
		case c == cat && cat >= 0:
			return &pr.time[i], true
		case c < 0:
			all = &pr.time[i]
		case fromDefault && c == t.defaultCat:
			dflt = &pr.time[i]
		}
	}
	if dflt != nil {
		return dflt, false
	}
	return all, false
}

// fee is the time fare of a stay of durS seconds: nothing within the free
// minutes; then the first period and every further period begun, counted
// from the start (charge_free_minutes 1) or after the free minutes (0);
// at most the day cap for each 24 hours from the start, each later 24
// hours priced afresh without free minutes.
func (r *timeRule) fee(durS int64) int64 {
	if durS <= r.freeS {
		return 0
	}
	if r.dayCap <= 0 {
		return r.periods(durS, true)
	}
	days, rem := durS/day, durS%day
	first := r.periods(min(durS, day), true)
	if days == 0 {
		return min(first, r.dayCap)
	}
	return days*r.dayCap + min(r.periods(rem, false), r.dayCap)
}

// periods prices d seconds by periods begun; withFree deducts the free
// minutes unless they are charged.
func (r *timeRule) periods(d int64, withFree bool) int64 {
	if withFree && !r.chargeFree {
		d -= r.freeS
	}
	if d <= 0 {
		return 0
	}
	var fen int64
	if r.firstS > 0 {
		fen = r.firstAmount
		d -= r.firstS
		if d <= 0 {
			return fen
		}
	}
	return fen + (d+r.periodS-1)/r.periodS*r.periodAmount
}

// transferOffers appends the offers of the transfer rules from effective
// leg a to b (the leg after it).
func (t *Table) transferOffers(a, b *eleg, aq, bq *LegQuote, cat, media int32) {
	if len(t.transfers) == 0 {
		return
	}
	na := len(aq.Offers)
	nb := len(bq.Offers)
	for xi := range t.transfers {
		x := &t.transfers[xi]
		if x.never || !t.durationOK(x, a, b) {
			continue
		}
		for i := 0; i < na; i++ {
			ao := &aq.Offers[i]
			if ao.Origin != OfferLeg || !groupMatch(x.from, ao.group, t.fromGrpListed) {
				continue
			}
			for k := 0; k < nb; k++ {
				if o := &bq.Offers[k]; o.Origin != OfferLeg || !groupMatch(x.to, o.group, t.toGrpListed) {
					continue
				}
				bo := bq.Offers[k] // a copy: appending may move bq.Offers
				base := Offer{
					Origin: OfferTransfer, rule: bo.rule, xfer: int32(xi), group: bo.group, fromGroup: ao.group,
					held: -1, RequiresLeg: a.first, RequiresProductID: ao.FareProductID, toFen: bo.AmountFen, pct: 100,
				}
				start := len(bq.Offers)
				if x.product < 0 {
					bq.Offers = append(bq.Offers, freeTransfer(x.typ, base, ao, &bo))
				} else {
					bq.Offers = t.appendProduct(bq.Offers, x.product, cat, media, base, nil)
				}
				for o := start; o < len(bq.Offers); o++ {
					of := &bq.Offers[o]
					if x.product >= 0 {
						tfen := of.AmountFen
						switch x.typ {
						case APlusAB:
							of.AmountFen = tfen
						case APlusABPlusB:
							of.AmountFen = tfen + bo.AmountFen
						case AB:
							of.AmountFen = tfen - ao.AmountFen
						}
						of.chainFen = tfen
						of.AmountFen = max(of.AmountFen, 0)
						if x.typ == APlusAB || x.typ == APlusABPlusB {
							// A discount never exceeds the fare it discounts.
							of.chainFen = of.AmountFen
						}
					}
					if dupOffer(bq.Offers[:o], of) {
						bq.Offers = append(bq.Offers[:o], bq.Offers[o+1:]...)
						o--
					}
				}
			}
		}
	}
}

// freeTransfer is the offer of a fare_transfer_rules.txt row without a
// product, whose cost the reference makes 0. Of type 0 (A + 0) and 2 (0,
// less what A paid, never below zero) the earlier leg's product covers
// the later leg: the offer names it at its own price, Covered, and the
// later leg pays nothing (the quote counts the product once, on the
// earlier leg). Of type 1 (A + 0 + B) the later leg pays its own product,
// as a transfer (so that a chain of transfers may go on from it).
func freeTransfer(typ TransferType, base Offer, a, b *Offer) Offer {
	o := base
	if typ == APlusABPlusB {
		o.product, o.FareProductID, o.FareMediaID, o.pct = b.product, b.FareProductID, b.FareMediaID, b.pct
		o.AmountFen, o.chainFen = b.AmountFen, b.AmountFen
		return o
	}
	o.product, o.FareProductID, o.FareMediaID, o.pct = a.product, a.FareProductID, a.FareMediaID, a.pct
	o.AmountFen, o.chainFen, o.Covered = a.AmountFen, 0, true
	return o
}

func dupOffer(os []Offer, o *Offer) bool {
	for i := range os {
		p := &os[i]
		if p.Origin == o.Origin && p.product == o.product && p.FareMediaID == o.FareMediaID && p.AmountFen == o.AmountFen &&
			p.RequiresProductID == o.RequiresProductID && p.fromGroup == o.fromGroup && p.group == o.group && p.xfer == o.xfer && p.Covered == o.Covered {
			return true
		}
	}
	return false
}

// groupMatch reports whether a transfer rule's leg group (want, -1 for
// empty) matches a leg's group. An empty group matches the groups the
// column does not name.
func groupMatch(want, g int32, listed []bool) bool {
	if g < 0 {
		return false
	}
	if want < 0 {
		return !listed[g]
	}
	return want == g
}

// durationOK checks a transfer's duration limit between legs a (the
// first of the sub-journey) and b. The limit is inclusive.
func (t *Table) durationOK(x *transferRule, a, b *eleg) bool {
	if x.limitS < 0 {
		return true
	}
	var from, to Clock
	switch x.limitType {
	case DepartureToArrival:
		from, to = a.start, b.end
	case DepartureToDeparture:
		from, to = a.start, b.start
	case ArrivalToDeparture:
		from, to = a.end, b.start
	case ArrivalToArrival:
		from, to = a.end, b.end
	}
	if from < 0 {
		from = a.start
	}
	if to < 0 {
		to = b.start
	}
	if from < 0 || to < 0 {
		return false
	}
	return int64(to-from) <= x.limitS
}

// sortOffers orders offers by amount, then kind, keeping the order of
// equals (an insertion sort: offers are few, and it allocates nothing).
func sortOffers(os []Offer) {
	for i := 1; i < len(os); i++ {
		for k := i; k > 0 && less(&os[k], &os[k-1]); k-- {
			os[k], os[k-1] = os[k-1], os[k]
		}
	}
}

func less(a, b *Offer) bool {
	if ca, cb := a.charge(), b.charge(); ca != cb {
		return ca < cb
	}
	return a.Origin < b.Origin
}

// charge is what the offer charges on its leg before the search looks at
// the legs before it: nothing for a covered leg (its AmountFen is the
// covering product's own price).
func (o *Offer) charge() int64 {
	if o.Covered {
		return 0
	}
	return o.AmountFen
}

func (t *Table) netName(n int32) string {
	if n < 0 {
		return ""
	}
	return t.networks.list[n]
}

// heldUse is what the journey's legs so far took of each held product.
type heldUse struct {
	first Date           // the operating day of the journey's first leg
	rides [MaxHeld]int32 // rides taken in this journey
	day   [MaxHeld]int32 // of them, on the operating day last
	last  [MaxHeld]Date  // that day
}

// heldOffers appends an offer for each held product the card may use on
// effective leg e, after the legs before it took theirs, and returns the
// one the leg uses (or -1), recording its ride. A held product is used as
// a terminal meets the legs, in time order: the first leg it is valid on
// takes it (a count ticket's last ride goes to the first such leg, not
// the dearest), and of several valid on a leg, heldBefore decides; a
// valid held product is always used before stored value.
func (t *Table) heldOffers(e *eleg, j *Journey, u *heldUse, lq *LegQuote) int32 {
	if len(j.Products) == 0 {
		return -1
	}
	d, first := t.OperatingDay(j.Date, e.start), u.first
	best := int32(-1)
	for hi := range j.Products {
		h := &j.Products[hi]
		hp := t.heldProduct(h)
		if hp == nil {
			continue // a warning of the quote
		}
		p := t.productIDs.get(h.FareProductID)
		if d < h.ValidFrom || d > h.ValidTo {
			continue
		}
		if len(hp.networks) > 0 && !containsI32(hp.networks, e.net) {
			continue
		}
		if hp.kind == CountTicket && h.RidesLeft-int(u.rides[hi]) < 1 {
			continue
		}
		if limit := t.dailyLimit(h, hp); limit > 0 {
			today := 0
			if u.last[hi] == d {
				today = int(u.day[hi])
			}
			if d == first {
				today += h.RidesToday
			}
			if today+1 > limit {
				continue
			}
		}
		lq.Offers = append(lq.Offers, Offer{
			FareProductID: t.products[p].id, Origin: OfferHeld, product: p, rule: -1, xfer: -1,
			group: -1, fromGroup: -1, held: int32(hi), RequiresLeg: -1, pct: 100,
		})
		if best < 0 || t.heldBefore(j, int32(hi), best) {
			best = int32(hi)
		}
	}
	if best >= 0 {
		u.rides[best]++
		if u.last[best] != d {
			u.last[best], u.day[best] = d, 0
		}
		u.day[best]++
	}
	return best
}

// heldProduct is the table's pass or count ticket a card's product is,
// or nil for a product the table does not know as one.
func (t *Table) heldProduct(h *Held) *heldProduct {
	p := t.productIDs.get(h.FareProductID)
	if p < 0 {
		return nil
	}
	return t.products[p].held
}

// heldBefore reports whether held product a is used before b when both
// are valid on a leg: the higher fare_held_products.txt priority, then a
// pass before a count ticket, then the card's order.
func (t *Table) heldBefore(j *Journey, a, b int32) bool {
	pa, pb := t.heldProduct(&j.Products[a]), t.heldProduct(&j.Products[b])
	if pa.priority != pb.priority {
		return pa.priority > pb.priority
	}
	if pa.kind != pb.kind {
		return pa.kind == Pass
	}
	return a < b
}

// dailyLimit is the rides a day a held product allows, 0 for no limit:
// the lower of the card's and the table's daily_ride_limit. A card's limit
// can lower the table's (a product sold with fewer rides a day), never
// raise it: the table is the operator's rule, the card's byte is data.
func (t *Table) dailyLimit(h *Held, hp *heldProduct) int {
	switch {
	case h.DailyLimit <= 0:
		return hp.dailyLimit
	case hp.dailyLimit <= 0:
		return h.DailyLimit
	}
	return min(h.DailyLimit, hp.dailyLimit)
}
