package city

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// appEvent is one event of an application's day: a holder's tap at a
// gate, a site visitor's ticket, or a gate's upload slot.
type appEvent struct {
	at     int64 // seconds after midnight
	kind   uint8
	holder int32 // the holder tapping (appTapEv), the rider buying (appTicketEv)
	gate   int32 // the gate (index into cityApps.gates), the site (appTicketEv)
	expect apps.Reason
}

const (
	appTapEv uint8 = iota
	appTicketEv
	appUploadEv
	appOfflineEv // the gate goes offline for a day (appsfaults.go)
)

// appUploadMinutes are when the gates upload (and download the
// blacklist and their gate versions).
var appUploadMinutes = []int{10*60 + 10, 12*60 + 10, 18*60 + 40, 23*60 + 50}

// planApps draws the applications' day: pupils in at 07:00-07:55 (some
// late, after 08:00; a few absent) and out at 16:50-17:40 on school days;
// the sports centre's pass holders in the evening (at weekends in the
// day); the school ground's citizens after school hours (a few try at
// 15:00 and are refused for the school's hours), its pupils after class;
// loans and returns at the library; the annual pass at the sites (now
// and then the same site twice: refused, once a day), and tickets
// bought at the sites' POS by other riders.
func (c *City) planApps(day int) []appEvent {
	a := c.apps
	rng := rngFor(c.cfg.Seed, "apps-day", uint64(day))
	date := c.cfg.Start.AddDate(0, 0, day)
	weekend := date.Weekday() == time.Saturday || date.Weekday() == time.Sunday
	sitePct, ticketsPer := 4, 400 // site visits in a hundred pass holders, one ticket a day per so many riders
	if weekend {
		sitePct, ticketsPer = 25, 100
	}
	var evs []appEvent
	gate := func(app int, action apps.Action, place uint32) int32 {
		return int32(slices.Index(a.gates, a.apps[app].gates[gateKey{action, place}]))
	}
	tap := func(at int, h int, g int32) {
		evs = append(evs, appEvent{at: int64(at), kind: appTapEv, holder: int32(h), gate: g})
	}
	for hi, h := range a.holders {
		if h.has[appSchool] && !weekend && rng.IntN(100) >= 3 {
			in := 7*3600 + rng.IntN(55*60)
			if rng.IntN(100) < 6 {
				in = 8*3600 + 1 + rng.IntN(40*60)
			}
			tap(in, hi, gate(appSchool, apps.CheckIn, 1))
			tap(16*3600+50*60+rng.IntN(50*60), hi, gate(appSchool, apps.CheckOut, 1))
			if h.has[appGround] && rng.IntN(100) < 20 {
				tap(16*3600+rng.IntN(40*60), hi, gate(appGround, apps.Admit, 1)) // a pupil, in school hours
			}
		}
		if h.has[appVenue] && rng.IntN(100) < 25 {
			at := 18*3600 + rng.IntN(3*3600)
			if weekend {
				at = 9*3600 + rng.IntN(9*3600)
			}
			tap(at, hi, gate(appVenue, apps.Admit, 1))
		}
		if h.has[appGround] && !h.has[appSchool] {
			switch x := rng.IntN(100); {
			case x < 3 && !weekend:
				tap(15*3600+rng.IntN(3600), hi, gate(appGround, apps.Admit, 1)) // in school hours: refused
			case x < 25:
				at := 17*3600 + 30*60 + rng.IntN(3*3600)
				if weekend {
					at = 8*3600 + rng.IntN(10*3600)
				}
				tap(at, hi, gate(appGround, apps.Admit, 1))
			}
		}
		if h.has[appLibrary] {
			if rng.IntN(100) < 12 {
				at := 10*3600 + rng.IntN(9*3600)
				n := 1 + rng.IntN(3)
				if rng.IntN(20) == 0 {
					n += libraryLimit // more than may be out at once: the last refused
				}
				for ; n > 0; n-- {
					tap(at, hi, gate(appLibrary, apps.Loan, 1))
					at += 30
				}
			}
			if p := 5 + 10*h.loans; rng.IntN(100) < p {
				// Books come back, more often the more are out.
				for n := 1 + rng.IntN(max(1, h.loans)); n > 0; n-- {
					tap(9*3600+rng.IntN(3600), hi, gate(appLibrary, apps.Return, 1))
				}
			}
		}
		if h.has[appSites] && rng.IntN(100) < sitePct {
			site := uint32(1 + rng.IntN(2))
			at := 9*3600 + rng.IntN(6*3600)
			tap(at, hi, gate(appSites, apps.Admit, site))
			if rng.IntN(100) < 15 {
				tap(at+3600, hi, gate(appSites, apps.Admit, site)) // the same site again: once a day
			}
			if rng.IntN(100) < 30 {
				tap(at+2*3600, hi, gate(appSites, apps.Admit, 3-site))
			}
		}
	}
	// Tickets: a few riders a day buy one at a site's gate POS.
	tickets := max(1, len(c.riders)/ticketsPer)
	for k := 0; k < tickets; k++ {
		ri := rng.IntN(len(c.riders))
		evs = append(evs, appEvent{at: int64(9*3600 + rng.IntN(7*3600)), kind: appTicketEv, holder: int32(ri), gate: int32(rng.IntN(2))})
	}
	for gi := range a.gates[:a.slotGates] { // a bike dock uploads at its device's slots
		for _, m := range appUploadMinutes {
			evs = append(evs, appEvent{at: int64(m*60 + gi%7), kind: appUploadEv, gate: int32(gi)})
		}
	}
	if c.cfg.has(FaultOffline) {
		evs = append(evs, appEvent{at: int64(8*3600 + rng.IntN(10*3600)), kind: appOfflineEv, gate: int32(rng.IntN(len(a.gates)))})
	}
	slices.SortStableFunc(evs, func(x, y appEvent) int { return int(x.at - y.at) })
	return evs
}

// appsUntil plays the applications' events of day up to (not after) at
// seconds after midnight: called before each of the day's other events,
// so that the city's clock only goes forward.
func (c *City) appsUntil(ctx context.Context, day int, at int64) {
	a := c.apps
	if a == nil {
		return
	}
	midnight := c.cfg.Start.AddDate(0, 0, day)
	for len(a.pending) > 0 && a.pending[0].at <= at {
		ev := a.pending[0]
		a.pending = a.pending[1:]
		c.setNow(midnight.Add(time.Duration(ev.at) * time.Second))
		switch ev.kind {
		case appTapEv:
			c.appTap(ev.holder, a.gates[ev.gate], day)
		case appTicketEv:
			c.siteTicket(ev.holder, int(ev.gate))
		case appUploadEv:
			// The blacklist and the application's gate versions
			// downloaded, the queue uploaded.
			c.upload(ctx, a.gates[ev.gate].dev)
			if ev.gate == int32(a.slotGates-1) {
				c.appsFollow(ctx) // after the slot's last gate
			}
		case appOfflineEv:
			c.appOffline(a.gates[ev.gate])
		}
	}
}

// appsDay starts the applications' day: its events drawn.
func (c *City) appsDay(day int) {
	if c.apps != nil {
		c.apps.pending = c.planApps(day)
	}
}

// syncVersions downloads the gate versions of g's application after
// the last it holds, over HTTP (GET
// /v1/terminals/{terminal}/entitlement-versions), as a gate does.
func (c *City) syncVersions(ctx context.Context, g *appGate) {
	def := appDefs[g.app.idx]
	if _, err := g.dev.link.SyncGateVersions(ctx, def.kind, def.scope, g.mv); err != nil {
		c.fig.SyncFailures++
	}
}

// appTap is holder hi's tap at gate g: the gate's offline decision over
// APDUs, checked against what the city expects of the holder's
// entitlements and use.
func (c *City) appTap(hi int32, g *appGate, day int) {
	a := c.apps
	h := a.holders[hi]
	r := c.riders[h.cur]
	if r.lostOn >= 0 || r.handedIn() || r.replacedBy != -1 {
		return // the card is gone; its replacement taps once handed over
	}
	date, tm := citycard.DateTime(c.now())
	expect := c.appExpect(h, g, day, tm)
	a.taps++
	g.app.fig.Taps++
	c.cur, a.curGate, a.curHolder = h.cur, g, hi
	res, err := g.gate.Tap(r.card)
	c.cur, a.curGate, a.curHolder = -1, nil, -1
	if err != nil {
		c.violate("card %v at gate %v (%s): %v", r.asn, g.dev.id, appDefs[g.app.idx].id, err)
		return
	}
	if res.Reason != apps.Allowed {
		g.app.fig.Refusals[res.Reason.String()]++
		if res.Reason == expect || res.Reason == apps.Expired {
			return // expected, or the card's own validity ended
		}
		c.violate("card %v at gate %v (%s, %s): refused %v (%s), the city expected %v", r.asn, g.dev.id, appDefs[g.app.idx].id, g.key.action, res.Reason, res.Detail, expect)
		return
	}
	g.app.fig.Allowed++
	g.app.stamps++
	if expect != apps.Allowed {
		c.violate("card %v at gate %v (%s, %s): allowed, the city expected %v", r.asn, g.dev.id, appDefs[g.app.idx].id, g.key.action, expect)
	}
	if r.replaces >= 0 {
		a.replacedTaps++
	}
	c.injectAppFaults(g, a.recs[len(a.recs)-1].raw)
	switch g.app.idx {
	case appSchool:
		if g.key.action == apps.CheckIn {
			k := attKey{r.asn, date}
			if t, ok := a.att[k]; !ok || string(res.Record.Time[:]) < string(t[:]) {
				a.att[k] = res.Record.Time
			}
		}
	case appLibrary:
		if g.key.action == apps.Loan {
			h.loans++
		} else if h.loans > 0 {
			h.loans--
		}
	case appVenue:
		h.venue++
	case appGround:
		h.ground++
	case appSites:
		h.sites |= 1 << (g.key.place - 1)
	}
}

// appExpect is what the city expects a gate to answer holder h: the
// rules of package apps, from what the city knows of the holder's use.
func (c *City) appExpect(h *appHolder, g *appGate, day int, tm citycard.BCDTime) apps.Reason {
	now := c.now()
	if m := int(now.Month()); m != h.month {
		h.month, h.venue, h.ground = m, 0, 0
	}
	if h.siteDay != day {
		h.siteDay, h.sites = day, 0
	}
	switch g.app.idx {
	case appLibrary:
		if g.key.action == apps.Loan && h.loans >= libraryLimit {
			return apps.Limit
		}
	case appVenue:
		if h.venue >= venueLimit {
			return apps.Limit
		}
	case appGround:
		wd := now.Weekday()
		inHours := wd != time.Saturday && wd != time.Sunday && string(tm[:]) >= string(schoolOpen[:]) && string(tm[:]) < string(schoolClose[:])
		if inHours && !h.has[appSchool] {
			return apps.SchoolHours
		}
		if h.ground >= groundLimit {
			return apps.Limit
		}
	case appSites:
		if h.sites&(1<<(g.key.place-1)) != 0 {
			return apps.Limit
		}
	}
	return apps.Allowed
}

// siteTicket is rider ri's ticket at site s's gate POS: an e-purse
// purchase through the real APDU flow, at the site's price for the
// card's rider category (students, seniors 60-69 and the disabled half
// price; seniors of 70 and over in free, no purchase).
func (c *City) siteTicket(ri int32, s int) {
	r := c.riders[ri]
	if r.handedIn() || (r.issuer != 0 && r.persona != pVisitor) {
		return
	}
	fen := uint32(siteTicketFen)
	switch r.category {
	case catSenior:
		return
	case catStudent, catSenior60, catDisabled:
		fen /= 2
	}
	if c.tap(ri, c.devs[c.apps.tickets[s]], fen) == tapDone {
		c.apps.apps[appSites].fig.Tickets++
	}
}

// appSpool is a gate's Spool: its queue on disk, telling the city what
// the gate queued.
type appSpool struct {
	c *City
	g *appGate
}

func (s *appSpool) Append(raw []byte) (uint64, error) {
	seq, err := s.g.dev.queue.Append(raw)
	if err != nil {
		return seq, err
	}
	a := s.c.apps
	h := hashRec(raw)
	if _, dup := a.byHash[h]; dup {
		s.c.violate("gate %v: two queued records hash alike", s.g.dev.id)
		return seq, nil
	}
	r, err := record.DecodeBinary(raw)
	if err != nil || r.Type != citycard.TxApplication {
		s.c.violate("gate %v queued a record that is not an application record: %v", s.g.dev.id, err)
	}
	a.byHash[h] = int32(len(a.recs))
	a.recs = append(a.recs, appRec{hash: h, gate: int32(slices.Index(a.gates, s.g)), holder: a.curHolder, action: s.g.key.action, raw: append([]byte(nil), raw...)})
	return seq, nil
}

func (s *appSpool) Ack(seqs ...uint64) error { return s.g.dev.queue.Ack(seqs...) }

// appSender uploads a gate's batches over the back office's HTTP API
// and keeps the answers; with the duplicate fault now and then it sends
// a batch again under another ID, whose every record must come back a
// duplicate.
type appSender struct {
	c *City
	g *appGate
}

func (s *appSender) SendBatch(ctx context.Context, b terminal.UploadBatch) ([]bool, error) {
	c, d := s.c, s.g.dev
	ans, err := d.link.Upload(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(ans.Records) != len(b.Records) {
		return nil, citycard.E("city.appSender", citycard.IO, "batch %s: %d answers for %d records", b.ID, len(ans.Records), len(b.Records))
	}
	c.noteAppAnswers(d, b.Records, &ans, false)
	if c.cfg.has(FaultDuplicate) && c.frng.IntN(100) < duplicatePct {
		c.fault(FaultDuplicate)
		c.copies++
		cp := terminal.UploadBatch{Terminal: d.id, ID: fmt.Sprintf("sim-appdup-%d", c.copies), Records: b.Records}
		if again, err := d.link.Upload(ctx, cp); err == nil && len(again.Records) == len(b.Records) {
			c.noteAppAnswers(d, b.Records, &again, true)
		}
	}
	out := make([]bool, len(ans.Records))
	for i, ra := range ans.Records {
		out[i] = ra.Verdict != 0
	}
	return out, nil
}

// noteAppAnswers keeps the back office's answers to a gate's batch: a
// record of the gate's own upload answered rejected or a copy answered
// anything but duplicate is a violation at once.
func (c *City) noteAppAnswers(d *device, recs [][]byte, ans *acquire.Answer, copied bool) {
	for k, raw := range recs {
		if !c.noteAppAnswer(d, raw, ans.Records[k], copied, ans.BatchID, k) {
			c.violate("gate %v uploaded a record it never queued (batch %s, index %d)", d.id, ans.BatchID, k)
		}
	}
}

// noteAppAnswer keeps the back office's answer ra to raw, the k-th
// record of batch of d's: false for a record no application gate
// queued. A genuine record of the gate's own upload answered rejected,
// or a copy sent after its record was answered answered anything but
// duplicate (a bike dock's shuffled copy goes before), is a violation.
func (c *City) noteAppAnswer(d *device, raw []byte, ra acquire.RecordAnswer, copied bool, batch string, k int) bool {
	a := c.apps
	if a == nil {
		return false
	}
	i, ok := a.byHash[hashRec(raw)]
	if !ok {
		return false
	}
	ar := &a.recs[i]
	switch {
	case ar.bad != appGenuine:
		if ar.answer == 0 || ra.Verdict != acquire.Rejected {
			ar.answer = ra.Verdict // a forged record answered otherwise is kept for the check
		}
	case copied:
		c.fig.Copies.Verdicts[ra.Status]++
		if ra.Verdict != acquire.Duplicate && ar.answer != 0 {
			a.copyBad++
		}
	default:
		c.fig.Verdicts[ra.Status]++
		if ar.answer == 0 {
			ar.answer = ra.Verdict
		}
		if ra.Verdict == acquire.Rejected {
			c.violate("gate %v: a genuine application record (batch %s, index %d) was rejected: %v", d.id, batch, k, ra.Reasons)
		}
	}
	return true
}

// appFinalUploads empties every gate's queue after the last day.
func (c *City) appFinalUploads(ctx context.Context) {
	if c.apps == nil {
		return
	}
	for _, g := range c.apps.gates {
		g.dev.offlineUntil = time.Time{} // back online: everything at once
	}
	for round := 0; round < 10; round++ {
		left := 0
		for _, g := range c.apps.gates {
			if g.dev.queue.Len() > 0 {
				c.upload(ctx, g.dev)
			}
			left += g.dev.queue.Len()
		}
		if left == 0 {
			break
		}
	}
	for _, g := range c.apps.gates {
		c.syncVersions(ctx, g)
	}
}
