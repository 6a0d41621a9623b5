package city

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/record"
)

// The application systems' invariants (Report.Invariants).
const (
	// InvAppRecordsKept: every non-financial record a gate queued was
	// answered, is in the journal once as an application record, and
	// was never booked (no other class), rejected or lost; the back
	// office filed each under its application (apps.Office.Records).
	InvAppRecordsKept = "app_records_kept"
	// InvAppNoFalseDuplicates: no stamp was answered a duplicate of
	// another (each record answered duplicate is journaled as its own
	// application record: a retry of one that went through), and every
	// copy the city sent again was answered duplicate.
	InvAppNoFalseDuplicates = "app_no_false_duplicates"
	// InvAppLifecycle: a lost card's grants are blocked or, once it is
	// replaced, revoked, its replacement holds the same terms, active,
	// and the lost card is refused at its gates.
	InvAppLifecycle = "app_lifecycle_carried"
	// InvAppAttendance: the school's attendance per class and day
	// (apps.Office.Attendance) is what the city's pupils made, every
	// day: a weekend is no school day, nobody absent.
	InvAppAttendance = "app_attendance"
	// InvAppParentsTold: every check-in and check-out filed under the
	// school queued one event for the parents' app (the outbox the app
	// polls or its webhook receives), none twice.
	InvAppParentsTold = "app_parents_told"
	// InvAppForgedRefused: every forged or altered record put in a
	// gate's queue (appsfaults.go) was answered rejected, is in the
	// rejection journal, and was never journaled nor filed.
	InvAppForgedRefused = "app_forged_refused"
	// InvAppWebhooks: every event queued for an application with a
	// webhook was delivered by the run's end, taken exactly once by the
	// idempotent receiver (a delivery again explained by an answer it
	// lost), none with a bad signature (appshooks.go).
	InvAppWebhooks = "app_webhooks_delivered"
)

// appJournaled counts a journal entry of an application record; false
// for a record no gate queued.
func (c *City) appJournaled(e *acquire.Journaled) bool {
	if c.apps == nil {
		return false
	}
	i, ok := c.apps.byHash[hashRec(e.Raw[:])]
	if !ok {
		return false
	}
	ar := &c.apps.recs[i]
	switch e.Class {
	case acquire.ClassApplication:
		ar.kept++
	case acquire.ClassDuplicate:
		ar.dups++
	default:
		ar.other++
	}
	return true
}

// appRejected counts a rejection of an application record; false for a
// record no gate queued.
func (c *City) appRejected(raw []byte) bool {
	if c.apps == nil {
		return false
	}
	i, ok := c.apps.byHash[hashRec(raw)]
	if ok {
		c.apps.recs[i].rejects++
	}
	return ok
}

// checkApps checks the application systems' invariants, after the
// back office filed the records (IndexRecords) and followed card
// management's audit log (Follow), as serve does every 2 s.
func (c *City) checkApps(ctx context.Context, newInv func(string) *inv) {
	a := c.apps
	if a == nil {
		return
	}
	kept, nodup, life, att := newInv(InvAppRecordsKept), newInv(InvAppNoFalseDuplicates), newInv(InvAppLifecycle), newInv(InvAppAttendance)
	told, forged := newInv(InvAppParentsTold), newInv(InvAppForgedRefused)
	o, lc := c.bo.Apps()
	for last := int64(-1); ; {
		pos, err := o.IndexRecords(ctx, api.AcquireJournal{Journal: c.bo.Journal()})
		if err != nil {
			kept.fail("filing the application records: %v", err)
			break
		}
		if pos == last {
			break
		}
		last = pos
	}
	if _, _, err := o.Follow(ctx, lc); err != nil {
		life.fail("following card management's audit log: %v", err)
	}

	// Kept, never booked, filed.
	type tseq struct {
		t   citycard.TerminalID
		seq uint32
	}
	type stamp struct {
		app  int
		card citycard.ASN
		date citycard.BCDDate
		time citycard.BCDTime
	}
	mine := map[tseq]stamp{} // by terminal and sequence: the genuine record
	var answeredDup, copies, genuine int64
	for _, g := range a.gates {
		if n := g.dev.queue.Len(); n > 0 {
			kept.fail("gate %v still holds %d records after the last upload", g.dev.id, n)
		}
	}
	c.checkAppForged(forged)
	for i := range a.recs {
		ar := &a.recs[i]
		if ar.bad != appGenuine {
			continue
		}
		genuine++
		g := a.gates[ar.gate]
		r, _ := record.DecodeBinary(ar.raw)
		name := fmt.Sprintf("gate %v (%s, %s) sequence %d, card %v", g.dev.id, appDefs[g.app.idx].id, ar.action, r.TerminalSeq, r.ASN)
		mine[tseq{g.dev.id, r.TerminalSeq}] = stamp{g.app.idx, r.ASN, r.Date, r.Time}
		switch {
		case ar.answer == 0:
			kept.fail("%s: queued, never answered", name)
		case ar.answer == acquire.Rejected || ar.rejects > 0:
			kept.fail("%s: rejected (%d in the rejection journal)", name, ar.rejects)
		case ar.kept != 1 || ar.other != 0:
			kept.fail("%s: journaled as an application record %d times, booked or otherwise %d times", name, ar.kept, ar.other)
		}
		if ar.answer == acquire.Duplicate {
			answeredDup++
			if ar.kept == 0 {
				nodup.fail("%s: answered a duplicate, and no application record of its own is in the journal", name)
			}
		}
		copies += int64(ar.dups)
	}
	var filed, hires, returns int64
	for k, ca := range a.apps {
		var n int64
		for after := int64(0); ; {
			rs, err := o.Records(ctx, appDefs[k].id, after, apps.RecordsPageMax)
			if err != nil {
				kept.fail("reading the records of %s: %v", appDefs[k].id, err)
				break
			}
			for _, r := range rs {
				after = r.Pos
				n++
				if k == appBike && r.Action == apps.Hire {
					hires++
				} else if k == appBike && r.Action == apps.Return {
					returns++
				}
				if st, ok := mine[tseq{r.Terminal, r.TerminalSeq}]; !ok || st.app != k {
					kept.fail("%s: a record filed (terminal %v, sequence %d) that none of its gates queued", appDefs[k].id, r.Terminal, r.TerminalSeq)
				} else if st.card != r.Card.ASN || st.date != r.Date || st.time != r.Time {
					forged.fail("%s: a record filed (terminal %v, sequence %d) as card %v at %v %v, its gate stamped card %v at %v %v", appDefs[k].id, r.Terminal, r.TerminalSeq, r.Card.ASN, r.Date, r.Time, st.card, st.date, st.time)
				}
			}
			if len(rs) < apps.RecordsPageMax {
				break
			}
		}
		ca.fig.Records = n
		filed += n
		if n != ca.stamps {
			kept.fail("%s: %d records filed, its gates stamped %d", appDefs[k].id, n, ca.stamps)
		}
	}
	c.checkBikes(ctx, newInv(InvBikeRentals), hires, returns)
	// The parents told: one event a check-in or check-out filed.
	var ins, outs int64
	keys := map[string]bool{}
	for after := int64(0); ; {
		evs, err := o.Events(ctx, appDefs[appSchool].id, after, apps.EventsPageMax)
		if err != nil {
			told.fail("reading the school's events: %v", err)
			break
		}
		for _, e := range evs {
			after = e.ID
			switch e.Type {
			case apps.EventCheckIn:
				ins++
			case apps.EventCheckOut:
				outs++
			default:
				continue
			}
			if keys[e.Key] {
				told.fail("event %s queued twice", e.Key)
			}
			keys[e.Key] = true
		}
		if len(evs) < apps.EventsPageMax {
			break
		}
	}
	if ins+outs != a.apps[appSchool].fig.Records {
		told.fail("%s: %d check-in and %d check-out events queued for %d records filed", appDefs[appSchool].id, ins, outs, a.apps[appSchool].fig.Records)
	}
	told.detail = fmt.Sprintf("%d check-ins and %d check-outs, each one event in the outbox for the parents' app", ins, outs)
	kept.detail = fmt.Sprintf("%d application records queued, each journaled once as an application record, none booked or rejected; %d filed under their applications", genuine, filed)
	if a.copyBad > 0 {
		nodup.fail("%d records of a batch sent again answered other than duplicate", a.copyBad)
	}
	nodup.detail = fmt.Sprintf("%d stamps, none answered a duplicate of another (%d answered duplicate on a retry of their own); %d copies sent again, each journaled duplicate", genuine, answeredDup, copies)
	c.checkHooks(ctx, o, newInv(InvAppWebhooks))

	// The lifecycle: a lost card's grants revoked with its replacement,
	// the replacement's the same and active; the lost card refused.
	var lostHolders, moved, refused int64
	for _, h := range a.holders {
		if len(h.cards) < 2 && c.riders[h.cur].lostOn < 0 {
			continue
		}
		lostHolders++
		cur := c.riders[h.cur].asn
		if r := c.riders[h.cur]; r.replacedBy == -2 {
			cur[5] = r.gen + 1
		}
		// A lost card refunded rather than replaced (refunds.go) has no
		// successor: every card of the holder stays blocked or revoked.
		refunded := c.riders[h.cur].cutRefund != cutRefundNone
		for k := range h.has {
			if !h.has[k] {
				continue
			}
			id := appDefs[k].id
			for _, old := range h.cards {
				if old == cur && !refunded {
					continue
				}
				g, err := o.Entitlement(ctx, id, apps.CardRef{Issuer: Issuer, ASN: old})
				if err != nil || (g.State != apps.Revoked && g.State != apps.Blocked) {
					life.fail("card %v, lost: its grant of %s is %v (%v), not blocked or revoked", old, id, g.State, err)
				}
			}
			if refunded {
				continue
			}
			g, err := o.Entitlement(ctx, id, apps.CardRef{Issuer: Issuer, ASN: cur})
			switch {
			case err != nil:
				life.fail("card %v, the replacement: no grant of %s: %v", cur, id, err)
			case g.State != apps.Active || g.Slot.ValidFrom != h.terms[k].ValidFrom || g.Slot.ValidTo != h.terms[k].ValidTo ||
				g.Slot.Class != h.terms[k].Class || g.Slot.Limit != h.terms[k].Limit:
				life.fail("card %v, the replacement: its grant of %s is %v %+v, want active with %+v", cur, id, g.State, g.Slot, h.terms[k])
			default:
				moved++
			}
		}
		// Whoever holds the lost card tries one of its gates.
		today, _ := citycard.DateTime(c.now())
		for ri := range c.riders {
			r := c.riders[ri]
			if r.lostOn < 0 || !contains(h.cards, r.asn) {
				continue
			}
			for _, g := range a.gates {
				if !h.has[g.app.idx] || (g.key.action != apps.CheckIn && g.key.action != apps.Admit && g.key.action != apps.Loan) {
					continue
				}
				res, err := g.gate.Tap(r.card)
				switch {
				case err != nil:
					life.fail("card %v, lost, at gate %v: %v", r.asn, g.dev.id, err)
				case res.Reason == apps.Blacklisted || res.Reason == apps.Stale:
					refused++
				case res.Reason == apps.Expired && r.expiredOn(today):
					refused++ // its chip's validity is read before the blacklist
				default:
					life.fail("card %v, lost, at gate %v (%s): answered %v (%s)", r.asn, g.dev.id, appDefs[g.app.idx].id, res.Reason, res.Detail)
				}
				break
			}
		}
	}
	life.detail = fmt.Sprintf("%d holders lost their card: %d grants carried to the replacement, active, the old ones blocked or revoked; %d lost cards refused at a gate; %d taps allowed on replacement cards", lostHolders, moved, refused, a.replacedTaps)

	// Attendance per class and day.
	classes := map[uint16][]*appHolder{}
	for _, h := range a.holders {
		if h.has[appSchool] {
			classes[h.class] = append(classes[h.class], h)
		}
	}
	var reports, present, late, absent, schoolDays int64
	for day := 0; day < c.cfg.Days; day++ {
		t := c.cfg.Start.AddDate(0, 0, day)
		school := t.Weekday() != time.Saturday && t.Weekday() != time.Sunday // the city's school sets no calendar: weekdays
		if school {
			schoolDays++
		}
		date, _ := citycard.DateTime(t)
		for class := uint16(1); int(class) <= len(classes); class++ {
			rep, err := o.Attendance(ctx, appDefs[appSchool].id, class, date, citycard.BCDTime{})
			if err != nil {
				att.fail("class %d on %v: %v", class, date, err)
				continue
			}
			reports++
			if rep.SchoolDay != school {
				att.fail("class %d on %v (%v): school day %v, want %v", class, date, t.Weekday(), rep.SchoolDay, school)
			}
			if len(rep.Pupils) != len(classes[class]) {
				att.fail("class %d on %v: %d pupils in the report, the city has %d", class, date, len(rep.Pupils), len(classes[class]))
			}
			for _, p := range rep.Pupils {
				want := apps.Absent
				if !school {
					want = apps.NoSchool
				}
				if t, ok := a.att[attKey{p.Card.ASN, date}]; ok {
					want = apps.Present
					if school && string(t[:]) > string(apps.AttendanceLateDefault[:]) {
						want = apps.Late
					}
				}
				if p.Presence != want {
					att.fail("class %d on %v, card %v: %v, the city made it %v", class, date, p.Card.ASN, p.Presence, want)
				}
			}
			present, late, absent = present+int64(rep.Present), late+int64(rep.Lates), absent+int64(rep.Absent)
		}
	}
	att.detail = fmt.Sprintf("%d class reports over %d days (%d school days): %d present, %d late (after 08:00), %d absent, none on a weekend, each pupil as the city made it", reports, c.cfg.Days, schoolDays, present, late, absent)
}

func contains(s []citycard.ASN, x citycard.ASN) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// reportApps puts the applications' figures in the report.
func (c *City) reportApps(rep *Report) {
	if c.apps == nil {
		return
	}
	rep.AppTaps = c.apps.taps
	rep.City.Terminals["app-gate"] = c.apps.slotGates // the bike docks' gates are their docks
	rep.Apps = map[string]AppFigures{}
	for k, ca := range c.apps.apps {
		rep.Apps[appDefs[k].id] = ca.fig
	}
}

// printApps prints the applications' figures, one line each.
func (r *Report) printApps(w io.Writer) {
	if r.Apps == nil {
		return
	}
	fmt.Fprintf(w, "  %-30s %d\n", "application gate taps", r.AppTaps)
	ids := make([]string, 0, len(r.Apps))
	for id := range r.Apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := r.Apps[id]
		tickets := ""
		if f.Tickets > 0 {
			tickets = fmt.Sprintf("; %d tickets bought with the e-purse", f.Tickets)
		}
		fmt.Fprintf(w, "    %-28s %d holders, %d taps, %d allowed, %d filed; refused %s%s\n", id, f.Holders, f.Taps, f.Allowed, f.Records, orNone(joinCounts64(f.Refusals)), tickets)
	}
}
