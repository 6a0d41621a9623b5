package fare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/citycard/citycard"
)

// journeyJSONBytesMax bounds a journey document.
const journeyJSONBytesMax = 1 << 20

// JourneyJSON is the JSON form of a journey, as `citycard fare price`
// reads it. Amounts are decimal strings in the feed's currency units.
type JourneyJSON struct {
	Date          string     `json:"date"`
	RiderCategory string     `json:"rider_category,omitempty"`
	FareMedia     string     `json:"fare_media,omitempty"`
	Legs          []LegJSON  `json:"legs"`
	Products      []HeldJSON `json:"products,omitempty"`
	Spend         *SpendJSON `json:"spend,omitempty"`
}

// LegJSON is the JSON form of a Leg.
type LegJSON struct {
	RouteID       string `json:"route_id,omitempty"`
	NetworkID     string `json:"network_id,omitempty"`
	FromStopID    string `json:"from_stop_id,omitempty"`
	ToStopID      string `json:"to_stop_id,omitempty"`
	StartTime     string `json:"start_time,omitempty"`
	EndTime       string `json:"end_time,omitempty"`
	DistanceM     *int64 `json:"distance_m,omitempty"` // absent: unknown; 0 is the same station
	TapOffMissing bool   `json:"tap_off_missing,omitempty"`
	Charged       string `json:"charged,omitempty"`
}

// HeldJSON is the JSON form of a Held product.
type HeldJSON struct {
	FareProductID string `json:"fare_product_id"`
	ValidFrom     string `json:"valid_from,omitempty"` // absent: valid since always
	ValidTo       string `json:"valid_to,omitempty"`   // absent: never expires; inclusive
	RidesLeft     int    `json:"rides_left,omitempty"`
	DailyLimit    int    `json:"daily_limit,omitempty"`
	RidesToday    int    `json:"rides_today,omitempty"`
}

// SpendJSON is the JSON form of Spend.
type SpendJSON struct {
	Day        string `json:"day,omitempty"`
	Week       string `json:"week,omitempty"`
	Month      string `json:"month,omitempty"`
	DayRides   int    `json:"day_rides,omitempty"`
	WeekRides  int    `json:"week_rides,omitempty"`
	MonthRides int    `json:"month_rides,omitempty"`
}

// ParseJourney decodes a journey document (JourneyJSON), strictly:
// unknown fields, a field given twice in one object, data after the
// document, bad dates, times and amounts are errors of kind Invalid
// naming the field.
func (t *Table) ParseJourney(data []byte) (*Journey, error) {
	const op = "fare.ParseJourney"
	if len(data) > journeyJSONBytesMax {
		return nil, citycard.E(op, citycard.Invalid, "journey: %d bytes, at most %d", len(data), journeyJSONBytesMax)
	}
	var jj JourneyJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jj); err != nil {
		return nil, citycard.E(op, citycard.Invalid, "journey: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, citycard.E(op, citycard.Invalid, "journey: data after the document at byte %d", dec.InputOffset())
	}
	// encoding/json keeps the last of two values of one field: which the
	// writer meant is unknowable, so the document is refused.
	if err := duplicateField(data); err != nil {
		return nil, citycard.E(op, citycard.Invalid, "journey: %w", err)
	}
	bad := func(field string, err error) error {
		return citycard.E(op, citycard.Invalid, "journey: %s: %w", field, err)
	}
	j := &Journey{RiderCategory: jj.RiderCategory, FareMedia: jj.FareMedia}
	if jj.Date == "" {
		return nil, bad("date", fmt.Errorf("required"))
	}
	var err error
	if j.Date, err = ParseDate(jj.Date); err != nil {
		return nil, bad("date", err)
	}
	if len(jj.Legs) == 0 || len(jj.Legs) > MaxLegs {
		return nil, bad("legs", fmt.Errorf("1 to %d legs, have %d", MaxLegs, len(jj.Legs)))
	}
	for i, lj := range jj.Legs {
		l := Leg{RouteID: lj.RouteID, NetworkID: lj.NetworkID, FromStopID: lj.FromStopID, ToStopID: lj.ToStopID,
			Start: NoTime, End: NoTime, TapOffMissing: lj.TapOffMissing}
		if lj.DistanceM != nil {
			l.DistanceM, l.DistanceKnown = *lj.DistanceM, true
		}
		f := func(name string) string { return fmt.Sprintf("legs[%d].%s", i, name) }
		if lj.StartTime != "" {
			if l.Start, err = ParseClock(lj.StartTime); err != nil {
				return nil, bad(f("start_time"), err)
			}
		}
		if lj.EndTime != "" {
			if l.End, err = ParseClock(lj.EndTime); err != nil {
				return nil, bad(f("end_time"), err)
			}
		}
		if l.TapOffMissing && l.ToStopID != "" {
			return nil, bad(f("tap_off_missing"), fmt.Errorf("true, yet to_stop_id %q: a leg with a known exit has its tap-off", l.ToStopID))
		}
		if l.DistanceM < 0 || l.DistanceM > distanceMMax {
			return nil, bad(f("distance_m"), fmt.Errorf("%d is not 0 to %d", l.DistanceM, distanceMMax))
		}
		if lj.Charged != "" {
			if l.ChargedFen, err = parseAmount(lj.Charged, t.decimals); err != nil || l.ChargedFen < 0 {
				return nil, bad(f("charged"), fmt.Errorf("%q is not an amount of %s", lj.Charged, t.currency))
			}
		}
		j.Legs = append(j.Legs, l)
	}
	if len(jj.Products) > MaxHeld {
		return nil, bad("products", fmt.Errorf("at most %d, have %d", MaxHeld, len(jj.Products)))
	}
	for i, hj := range jj.Products {
		f := func(name string) string { return fmt.Sprintf("products[%d].%s", i, name) }
		h := Held{FareProductID: hj.FareProductID, RidesLeft: hj.RidesLeft, DailyLimit: hj.DailyLimit, RidesToday: hj.RidesToday,
			ValidFrom: NoStart, ValidTo: Forever}
		if hj.ValidFrom != "" {
			if h.ValidFrom, err = ParseDate(hj.ValidFrom); err != nil {
				return nil, bad(f("valid_from"), err)
			}
		}
		if hj.ValidTo != "" {
			if h.ValidTo, err = ParseDate(hj.ValidTo); err != nil {
				return nil, bad(f("valid_to"), err)
			}
		}
		if h.ValidTo < h.ValidFrom {
			return nil, bad(f("valid_to"), fmt.Errorf("%s is before valid_from %s", hj.ValidTo, hj.ValidFrom))
		}
		if h.RidesLeft < 0 || h.DailyLimit < 0 || h.RidesToday < 0 {
			return nil, bad(f("rides_left"), fmt.Errorf("counts are not negative"))
		}
		j.Products = append(j.Products, h)
	}
	if s := jj.Spend; s != nil {
		for _, p := range []struct {
			name string
			v    string
			dst  *int64
		}{{"spend.day", s.Day, &j.Spend.DayFen}, {"spend.week", s.Week, &j.Spend.WeekFen}, {"spend.month", s.Month, &j.Spend.MonthFen}} {
			if p.v == "" {
				continue
			}
			if *p.dst, err = parseAmount(p.v, t.decimals); err != nil || *p.dst < 0 {
				return nil, bad(p.name, fmt.Errorf("%q is not an amount of %s", p.v, t.currency))
			}
		}
		if err := spendRides(s, &j.Spend); err != nil {
			return nil, citycard.E(op, citycard.Invalid, "journey: %w", err)
		}
	}
	return j, nil
}

// duplicateField reports the first object of a JSON document (valid:
// Decode took it) that names a field twice, with the field's path
// ("legs[1].start_time").
func duplicateField(data []byte) error {
	type frame struct {
		seg    string // this value's path segment in its parent: ".legs", "[1]"
		object bool
		keys   map[string]bool
		key    string // object: the field whose value comes next
		atKey  bool   // object: the next token is a field name
		next   int    // array: the next element's index
	}
	var stack []*frame
	// child returns the path segment of the next value in the innermost
	// object or array, and steps past it.
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			f.atKey = true
			return "." + f.key
		}
		f.next++
		return fmt.Sprintf("[%d]", f.next-1)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, &frame{seg: child(), object: d == '{', keys: map[string]bool{}, atKey: d == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].atKey {
			f := stack[n-1]
			k := tok.(string)
			if f.keys[k] {
				var b strings.Builder
				for _, g := range stack {
					b.WriteString(g.seg)
				}
				return errors.New(strings.TrimPrefix(b.String()+"."+k, ".") + ": given twice")
			}
			f.keys[k], f.key, f.atKey = true, k, false
			continue
		}
		child()
	}
}

// QuoteJSON is the JSON form of a Quote, as `citycard fare price` writes
// it. Every amount is a decimal string in the feed's currency units.
type QuoteJSON struct {
	Version string `json:"version"`
	Total   string `json:"total"` // the sum of the priced legs, always a decimal string
	// Refund and Supplement are the journey's: what goes back of what
	// the legs were charged, and what is due beyond it.
	Refund     string `json:"refund"`
	Supplement string `json:"supplement"`
	Currency   string `json:"currency"`
	// Complete is false when a leg is not priced (its Priced false, its
	// offers empty).
	Complete bool           `json:"complete"`
	Legs     []LegQuoteJSON `json:"legs"`
	Warnings []string       `json:"warnings,omitempty"` // what pricing ignored (Quote.Warnings)
}

// LegQuoteJSON is the JSON form of a LegQuote.
type LegQuoteJSON struct {
	Priced        bool        `json:"priced"`
	FareProductID string      `json:"fare_product_id"`
	Amount        string      `json:"amount"`
	Full          string      `json:"full"`
	Transfer      bool        `json:"transfer,omitempty"`
	Cap           string      `json:"cap,omitempty"`
	Tier          string      `json:"tier,omitempty"`    // taken off by the spend tier, before the cap
	TierID        string      `json:"tier_id,omitempty"` // the spend tier that applied (fare_tiers.txt)
	Refund        string      `json:"refund,omitempty"`
	Supplement    string      `json:"supplement,omitempty"`
	Overtime      string      `json:"overtime,omitempty"` // an overtime surcharge, in amount and full
	DistanceM     *int64      `json:"distance_m,omitempty"`
	JoinedTo      *int        `json:"joined_to_leg,omitempty"`
	Explanation   string      `json:"explanation"`
	Offers        []OfferJSON `json:"offers"`
}

// OfferJSON is the JSON form of an Offer.
type OfferJSON struct {
	FareProductID string `json:"fare_product_id"`
	FareMediaID   string `json:"fare_media_id,omitempty"`
	Amount        string `json:"amount"`
	Origin        string `json:"origin"` // leg, held, transfer, max_fare, joined: the rule that offers it
	Requires      string `json:"requires,omitempty"`
	RequiresLeg   *int   `json:"requires_leg,omitempty"`
	// Covered: a free transfer; the product requires_leg was paid with
	// covers this leg, amount being that product's own price, paid once.
	Covered bool `json:"covered,omitempty"`
}

var offerOriginNames = [...]string{"leg", "held", "transfer", "max_fare", "joined"}

// String gives the kind's name as the JSON output writes it.
func (k OfferOrigin) String() string {
	if int(k) < len(offerOriginNames) {
		return offerOriginNames[k]
	}
	return fmt.Sprintf("offer_origin(%d)", k)
}

// JSON returns the quote's JSON form, with explanations. Legs are
// numbered from 0 in it, as in the journey's legs array.
func (q *Quote) JSON() QuoteJSON {
	t := q.t
	out := QuoteJSON{Version: q.Version, Total: t.FormatAmount(q.TotalFen), Currency: q.Currency,
		Refund: t.FormatAmount(q.RefundFen), Supplement: t.FormatAmount(q.SupplementFen), Complete: q.Complete, Legs: []LegQuoteJSON{}, Warnings: q.Warnings()}
	for i := range q.Legs {
		lq := &q.Legs[i]
		lj := LegQuoteJSON{
			Priced: lq.Priced, FareProductID: lq.FareProductID, Amount: t.FormatAmount(lq.AmountFen), Full: t.FormatAmount(lq.FullFen),
			Transfer: lq.Transfer, Explanation: q.Explanation(i), Offers: []OfferJSON{},
		}
		if lq.CapFen > 0 {
			lj.Cap = t.FormatAmount(lq.CapFen)
		}
		q.tierJSON(i, &lj)
		if lq.RefundFen > 0 {
			lj.Refund = t.FormatAmount(lq.RefundFen)
		}
		if lq.SupplementFen > 0 {
			lj.Supplement = t.FormatAmount(lq.SupplementFen)
		}
		if lq.OvertimeFen() > 0 {
			lj.Overtime = t.FormatAmount(lq.OvertimeFen())
		}
		if lq.DistanceM >= 0 && lq.JoinedTo < 0 {
			d := lq.DistanceM
			lj.DistanceM = &d
		}
		if lq.JoinedTo >= 0 {
			k := lq.JoinedTo
			lj.JoinedTo = &k
		}
		for _, o := range lq.Offers {
			oj := OfferJSON{FareProductID: o.FareProductID, FareMediaID: o.FareMediaID, Amount: t.FormatAmount(o.AmountFen), Origin: o.Origin.String(), Requires: o.RequiresProductID, Covered: o.Covered}
			if o.RequiresLeg >= 0 {
				k := o.RequiresLeg
				oj.RequiresLeg = &k
			}
			lj.Offers = append(lj.Offers, oj)
		}
		out.Legs = append(out.Legs, lj)
	}
	return out
}

// Explanation says in one line how leg i was priced. It is built on
// demand: pricing itself writes no text.
func (q *Quote) Explanation(i int) string {
	t := q.t
	lq := &q.Legs[i]
	if lq.JoinedTo >= 0 {
		return fmt.Sprintf("joined to leg %d by fare_leg_join_rules.txt: priced with it as one leg", lq.JoinedTo)
	}
	if lq.Chosen < 0 {
		stop := func(s int32) string {
			if s < 0 {
				return "?"
			}
			return t.stops.list[s]
		}
		net := "no known network"
		if lq.net >= 0 {
			net = "network " + t.networks.list[lq.net]
		}
		if len(lq.Offers) == 0 {
			return fmt.Sprintf("not priced: no fare rule prices this leg (%s, from %s to %s)", net, stop(lq.from), stop(lq.to))
		}
		return fmt.Sprintf("not priced: no offer for this leg (%s, from %s to %s) can be used on this journey", net, stop(lq.from), stop(lq.to))
	}
	o := &lq.Offers[lq.Chosen]
	var b strings.Builder
	name := t.products[o.product].name
	if name == "" {
		name = o.FareProductID
	}
	amt := t.FormatAmount
	switch q.explainExit(&b, lq, o) {
	case OfferLeg:
		r := &t.rules[o.rule]
		fmt.Fprintf(&b, "%s (%s), fare_leg_rules.txt line %d", name, o.FareProductID, r.line)
		if r.network >= 0 {
			fmt.Fprintf(&b, ", network %s", t.networks.list[r.network])
		}
		if r.minDistM >= 0 || r.maxDistM >= 0 {
			fmt.Fprintf(&b, ", %s km in band %s-%s km", km(lq.DistanceM), kmOrEmpty(r.minDistM), kmOrEmpty(r.maxDistM))
		}
		if o.minutes > 0 || len(t.products[o.product].time) > 0 {
			fmt.Fprintf(&b, ", %d min: %s by time", o.minutes, amt(o.timeFee))
		}
		if o.pct != 100 {
			fmt.Fprintf(&b, ", rider category %s pays %d%%", t.cats[q.cat].id, o.pct)
		} else if o.fromDefault {
			fmt.Fprintf(&b, ", rider category %s pays the default category's price", t.cats[q.cat].id)
		}
		fmt.Fprintf(&b, ": %s", amt(o.AmountFen))
	case OfferMaxFare:
		fmt.Fprintf(&b, "no tap-off: maximum fare %s (%s) of the network", name, o.FareProductID)
		if o.pct != 100 {
			fmt.Fprintf(&b, ", rider category %s pays %d%%", t.cats[q.cat].id, o.pct)
		}
		fmt.Fprintf(&b, ": %s", amt(o.AmountFen))
	case OfferHeld:
		h := &q.held[o.held]
		hp := t.products[o.product].held
		fmt.Fprintf(&b, "%s %s (%s) %s", hp.kind, name, o.FareProductID, validity(h))
		if hp.kind == CountTicket {
			used := 0
			for k := 0; k <= i; k++ {
				if c := q.Legs[k].Chosen; c >= 0 && q.Legs[k].Offers[c].Origin == OfferHeld && q.Legs[k].Offers[c].held == o.held {
					used++
				}
			}
			fmt.Fprintf(&b, ": %d rides left after this one", h.RidesLeft-used)
		}
		fmt.Fprintf(&b, ": nothing to pay (full fare %s)", amt(lq.FullFen))
	case OfferTransfer:
		x := &t.transfers[o.xfer]
		fmt.Fprintf(&b, "transfer from leg %d (%s), fare_transfer_rules.txt line %d", o.RequiresLeg, o.RequiresProductID, x.line)
		if x.limitS >= 0 {
			fmt.Fprintf(&b, " within %d min", x.limitS/60)
		}
		if o.Covered {
			fmt.Fprintf(&b, ", free transfer: the %s (%s, %s) of leg %d covers this leg, counted once: %s", name, o.FareProductID, amt(o.AmountFen), o.RequiresLeg, amt(lq.AmountFen+lq.CapFen+lq.TierFen-lq.OvertimeFen()))
			break
		}
		tp := "no transfer product"
		if x.product >= 0 {
			tp = fmt.Sprintf("%s %s", o.FareProductID, amt(o.chainFen))
			if x.typ == APlusAB || x.typ == APlusABPlusB {
				tp = fmt.Sprintf("%s %s", o.FareProductID, amt(o.AmountFen-cond(x.typ == APlusABPlusB, o.toFen, 0)))
			}
		}
		switch x.typ {
		case APlusAB:
			fmt.Fprintf(&b, ", A+AB: this leg pays the transfer product %s instead of %s", tp, amt(o.toFen))
		case APlusABPlusB:
			fmt.Fprintf(&b, ", A+AB+B: this leg pays %s plus its own fare %s", tp, amt(o.toFen))
		case AB:
			fmt.Fprintf(&b, ", AB: %s covers both legs, less what the earlier leg paid", tp)
		}
		fmt.Fprintf(&b, ": %s", amt(lq.AmountFen+lq.CapFen+lq.TierFen-lq.OvertimeFen()))
	}
	q.explainMetro(&b, lq, o)
	q.explainTier(&b, i)
	if lq.CapFen > 0 {
		p := map[CapPeriod]string{CapDay: "daily", CapWeek: "weekly", CapMonth: "monthly"}[lq.capPeriod]
		fmt.Fprintf(&b, "; %s cap reached: %s charged, %s waived", p, amt(lq.AmountFen), amt(lq.CapFen))
	}
	if lq.RefundFen > 0 {
		fmt.Fprintf(&b, "; %s was charged for the missing tap-off: %s refunded", amt(lq.AmountFen+lq.RefundFen), amt(lq.RefundFen))
	}
	if lq.SupplementFen > 0 {
		fmt.Fprintf(&b, "; %s was charged for the missing tap-off: %s more due", amt(lq.AmountFen-lq.SupplementFen), amt(lq.SupplementFen))
	}
	return b.String()
}

func cond(c bool, a, b int64) int64 {
	if c {
		return a
	}
	return b
}

func km(m int64) string {
	if m < 0 {
		return "?"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%d.%03d", m/1000, m%1000), "0"), ".")
}

func kmOrEmpty(m int64) string {
	if m < 0 {
		return ""
	}
	return km(m)
}

// validity says a held product's days: "valid 2025-06-01 to 2025-06-30",
// or without one or both ends.
func validity(h *Held) string {
	switch {
	case h.ValidFrom == NoStart && h.ValidTo == Forever:
		return "valid without dates"
	case h.ValidTo == Forever:
		return fmt.Sprintf("valid from %s, without end", h.ValidFrom)
	case h.ValidFrom == NoStart:
		return fmt.Sprintf("valid to %s", h.ValidTo)
	}
	return fmt.Sprintf("valid %s to %s", h.ValidFrom, h.ValidTo)
}
