package interop

import (
	"context"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/terminal"
)

// FeedBy is who the terminals' blacklist names for the changes the
// other issuers' BLK files make.
const FeedBy = "interconnection"

// Blacklist is the terminals' blacklist (*blacklist.List).
type Blacklist interface {
	Set(ctx context.Context, c blacklist.Card, added bool, reason, by string) (int64, error)
	ListedBy(c blacklist.Card) (by string, listed bool)
	Version() int64
}

// FeedBlacklist brings the terminals' blacklist l to the other issuers'
// BLK listings in force on day d: a card its issuer lists is listed, one
// it delists is delisted (Blacklisted: a card's latest listing effective
// on or before d decides). A listing of our own cards is ignored: our
// blacklist is ours to keep. An issuer's delisting lifts only a listing
// the feed made (FeedBy): a visiting card our own staff listed (a fraud
// seen here) stays listed whatever its issuer says, until our staff lift
// it. Changes that change nothing are not
// recorded (List.Set), so feeding again is a no-op; a listing effective
// later is fed on the day it takes effect (the caller feeds each day).
// It returns the changes made. Kinds of the store and of l.
func (x *Interop) FeedBlacklist(ctx context.Context, l Blacklist, d clearing.Day) (int, error) {
	const op = "interop.FeedBlacklist"
	ls, err := x.Store.Listings(ctx)
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	listed := map[blacklist.Card]bool{}
	for _, b := range Blacklisted(ls, Day(d)) {
		listed[blacklist.Card{Issuer: b.Issuer, ASN: b.ASN}] = true
	}
	n := 0
	seen := map[blacklist.Card]bool{}
	for _, b := range ls {
		c := blacklist.Card{Issuer: b.Issuer, ASN: b.ASN}
		if b.Issuer == x.Own || seen[c] || b.Effective > Day(d) {
			continue
		}
		seen[c] = true
		if by, on := l.ListedBy(c); on && !listed[c] && by != FeedBy {
			continue
		}
		why := "delisted by its issuer (BLK) as of " + d.String()
		if listed[c] {
			why = "listed by its issuer (BLK) as of " + d.String()
		}
		before := l.Version()
		after, err := l.Set(ctx, c, listed[c], why, FeedBy)
		if err != nil {
			return n, citycard.Wrap(op, citycard.Other, err)
		}
		if after != before {
			n++
		}
	}
	return n, nil
}

// TerminalCities returns the interconnected cities' changes terminals
// download: our city (always accepted) and every CTY record stored, as
// the terminal's CityChange with its effective date, so that a terminal
// applies a join or a leave on its day by its own clock. Kinds of the
// store.
func (x *Interop) TerminalCities(ctx context.Context) ([2]byte, []terminal.CityChange, error) {
	const op = "interop.TerminalCities"
	own := [2]byte(x.Own[:2])
	cs, err := x.Store.Cities(ctx)
	if err != nil {
		return own, nil, citycard.Wrap(op, citycard.Other, err)
	}
	out := make([]terminal.CityChange, 0, len(cs))
	for _, c := range cs {
		t, err := time.Parse("2006-01-02", clearing.Day(c.Effective).String())
		if err != nil {
			return own, nil, citycard.E(op, citycard.Other, "city %X effective %v: %v", c.Code[:], c.Effective, err)
		}
		d, _ := citycard.DateTime(t)
		out = append(out, terminal.CityChange{City: c.Code, Add: c.Action == Add, Effective: d})
	}
	return own, out, nil
}
