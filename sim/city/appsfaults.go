package city

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/record"
)

// The faults at the application gates (appsfaults.go): a gate offline
// for a day, then uploading all it stamped at once; forged and altered
// records put in a gate's queue (a record MAC made up, a card number or
// a time changed after sealing), which the back office must reject and
// never file; a gate whose clock is wrong (its stamps' times, which the
// back office files as stamped).

// Application fault rates.
const (
	appForgePer = 150 // allowed taps a forged record, an altered one
	appAlterPer = 150
)

// Kinds of a record an application gate queued (appRec.bad).
const (
	appGenuine uint8 = iota
	appForged        // the record MAC made up
	appAltered       // sealed, then its card number or time changed
)

// appFaultRNG is the applications' fault stream, apart from the
// terminals' so that one does not shift the other.
func (c *City) appFaultRNG() *rand.Rand {
	a := c.apps
	if a.frng == nil {
		a.frng = rngFor(c.cfg.Seed, "apps-faults")
	}
	return a.frng
}

// appSkew sets the clock of the library's return gate wrong (the skew
// fault): it decides by no time of day, so the city expects what it
// would of a right clock; the back office files its stamps as stamped.
func (c *City) appSkew() {
	if c.apps == nil || !c.cfg.has(FaultSkew) {
		return
	}
	g := c.apps.apps[appLibrary].gates[gateKey{apps.Return, 1}]
	g.dev.skew = skews[c.appFaultRNG().IntN(len(skews))]
	c.fault(FaultSkew)
}

// appOffline takes gate g offline for a day (the offline fault): it
// stamps on, uploads nothing and downloads nothing until then.
func (c *City) appOffline(g *appGate) {
	if g.dev.offlineUntil.IsZero() {
		g.dev.offlineUntil = c.now().Add(24 * time.Hour)
		c.fault(FaultOffline)
	}
}

// injectAppFaults puts, now and then, a forged or an altered copy of
// the record gate g just queued (raw) in its queue, as a tampered gate
// would.
func (c *City) injectAppFaults(g *appGate, raw []byte) {
	rng := c.appFaultRNG()
	if c.cfg.has(FaultForge) && rng.IntN(appForgePer) == 0 {
		r, err := record.DecodeBinary(raw)
		if err == nil {
			r.RecordMAC[rng.IntN(4)] ^= byte(1 + rng.IntN(255))
			c.injectApp(g, &r, appForged, FaultForge)
		}
	}
	if c.cfg.has(FaultAlter) && rng.IntN(appAlterPer) == 0 {
		r, err := record.DecodeBinary(raw)
		if err == nil {
			if rng.IntN(2) == 0 {
				r.ASN[7] ^= 0x01 // another card's number
			} else {
				r.Time[2] ^= 0x01 // a second off
			}
			c.injectApp(g, &r, appAltered, FaultAlter)
		}
	}
}

func (c *City) injectApp(g *appGate, r *record.Record, bad uint8, f Fault) {
	a := c.apps
	raw, err := r.MarshalBinary()
	if err != nil {
		c.violate("gate %v: encoding a %v record: %v", g.dev.id, f, err)
		return
	}
	h := hashRec(raw)
	if _, dup := a.byHash[h]; dup {
		return
	}
	if _, err := g.dev.queue.Append(raw); err != nil {
		c.violate("gate %v: queueing a %v record: %v", g.dev.id, f, err)
		return
	}
	a.byHash[h] = int32(len(a.recs))
	a.recs = append(a.recs, appRec{hash: h, gate: a.recs[len(a.recs)-1].gate, holder: -1, action: g.key.action, raw: raw, bad: bad})
	c.fault(f)
}

// checkAppForged checks InvAppForgedRefused over the records the faults
// put in the gates' queues.
func (c *City) checkAppForged(inv *inv) {
	var forged, altered int64
	for i := range c.apps.recs {
		ar := &c.apps.recs[i]
		if ar.bad == appGenuine {
			continue
		}
		if ar.bad == appForged {
			forged++
		} else {
			altered++
		}
		g := c.apps.gates[ar.gate]
		r, _ := record.DecodeBinary(ar.raw)
		name := fmt.Sprintf("gate %v (%s) sequence %d, card %v, a record %s", g.dev.id, appDefs[g.app.idx].id, r.TerminalSeq, r.ASN, map[uint8]string{appForged: "forged", appAltered: "altered"}[ar.bad])
		switch {
		case ar.answer != acquire.Rejected:
			inv.fail("%s: answered %v, not rejected", name, ar.answer)
		case ar.rejects == 0:
			inv.fail("%s: not in the rejection journal", name)
		case ar.kept != 0 || ar.other != 0:
			inv.fail("%s: journaled %d times as an application record, %d otherwise", name, ar.kept, ar.other)
		}
	}
	inv.detail = fmt.Sprintf("%d forged (a bad record MAC) and %d altered (a card number or time changed) records in the gates' queues, each rejected, none journaled or filed", forged, altered)
}
