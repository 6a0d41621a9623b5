package city

import (
	"math/rand/v2"
	"slices"
)

// stepKind is one step of a trip: a tap somewhere.
type stepKind uint8

// The steps.
const (
	stepBus        stepKind = iota // board a bus of line a (index)
	stepMetroIn                    // enter the metro at station a
	stepMetroOut                   // leave the metro at station a
	stepCoachIn                    // board a coach at stop code a
	stepCoachOut                   // leave a coach at stop code a
	stepBikeRent                   // hire a bike at dock a
	stepBikeReturn                 // return the bike out at dock a; fen bikeForgottenReturn: a forgotten one
	stepParkIn                     // park in zone a
	stepParkOut                    // leave zone a
	stepTaxi                       // pay a taxi fen
	stepPOS                        // buy for fen at POS device a
	stepLoad                       // load at kiosk or counter device a, if the balance runs low
	stepTravel                     // tap for fen on counterpart city a's terminal (travel.go)
)

// evKind is what an event of the day is.
type evKind uint8

// The events.
const (
	evTap        evKind = iota // a step of a rider's trip
	evUpload                   // device a uploads (and downloads the blacklist)
	evReportLost               // rider reports their card lost
	evOffline                  // device a goes offline for fen hours
	evArmCrash                 // the back office will crash at its a-th commit from now
	evRefund                   // rider hands their card back at a counter for a refund
	evTopUp                    // remote top-up a is paid (fen 0) or claimed at a kiosk (fen 1): topups.go
	evDamaged                  // rider hands their card in at a counter, damaged (damaged.go)
)

// event is one thing that happens in the city at a time of the day.
type event struct {
	at    int64 // seconds after the day's midnight
	order int32 // insertion order, which breaks ties
	kind  evKind
	step  stepKind
	rider int32
	trip  int32
	a     int32
	fen   uint32
}

// Daily patterns.
const (
	loadBelowFen = 2000 // a rider loads when the balance falls below 20 yuan
	missingOutPM = 3    // per mille of metro legs whose tap-off is missed (a gate left open)
)

// planner draws one day's events.
type planner struct {
	c       *City
	rng     *rand.Rand
	day     int
	weekday bool
	evs     []event
	trips   int32
}

func (p *planner) add(at int64, kind evKind, step stepKind, rider, trip, a int32, fen uint32) {
	at = max(0, min(at, 24*3600-1))
	p.evs = append(p.evs, event{at: at, order: int32(len(p.evs)), kind: kind, step: step, rider: rider, trip: trip, a: a, fen: fen})
}

func (p *planner) newTrip() int32 { p.trips++; return p.trips - 1 }

// clock draws a time of day around mean (minutes after midnight) with
// standard deviation sd minutes, within lo and hi: the peaks.
func (p *planner) clock(mean, sd, lo, hi float64) int64 {
	m := mean + sd*p.rng.NormFloat64()
	return int64(max(lo, min(hi, m)) * 60)
}

func (p *planner) between(lo, hi float64) int64 {
	return int64((lo + (hi-lo)*p.rng.Float64()) * 60)
}

func (p *planner) chance(pct int) bool { return p.rng.IntN(100) < pct }

// busLeg boards a bus of line at t; it returns when the rider gets off.
func (p *planner) busLeg(ri, trip int32, line int, t int64) int64 {
	p.add(t, evTap, stepBus, ri, trip, int32(line), 0)
	return t + int64(8+p.rng.IntN(25))*60
}

// metroLeg rides the metro from one station to another, loading first at
// the entry's kiosk if the balance runs low; it returns when the rider is
// out. A few tap-offs are missed.
func (p *planner) metroLeg(ri, trip int32, from, to int, t int64) int64 {
	c := p.c
	if c.riders[ri].issuer == 0 {
		p.add(t-40, evTap, stepLoad, ri, trip, int32(c.kiosks[from]), 0)
	}
	p.add(t, evTap, stepMetroIn, ri, trip, int32(from), 0)
	ride := int64(150+p.rng.IntN(240)) + int64(c.net.tripM(from, to))*96/1000
	if p.rng.IntN(1000) >= missingOutPM {
		p.add(t+ride, evTap, stepMetroOut, ri, trip, int32(to), 0)
	}
	return t + ride + 60
}

// bikeLeg rides a public bike from dock from to dock to (bikes.go):
// hired, and returned 8 to 28 minutes later; now and then
// (bikeLongPct) after a long ride of one to three hours, charged by the
// hour; now and then (bikeKeepPct) kept at the leg's end, not returned,
// so that the rider's next bike leg finds it out. It returns when the
// rider is off the bike.
func (p *planner) bikeLeg(ri, trip int32, from, to int, t int64) int64 {
	p.add(t, evTap, stepBikeRent, ri, trip, int32(from), 0)
	back := t + int64(8+p.rng.IntN(20))*60
	switch x := p.rng.IntN(100); {
	case x < bikeLongPct:
		back += int64(60+p.rng.IntN(120)) * 60
	case x < bikeLongPct+bikeKeepPct:
		return back + 120
	}
	p.add(back, evTap, stepBikeReturn, ri, trip, int32(to), 0)
	return back + 120
}

func (p *planner) pos(ri, trip int32, dev int, t int64, loFen, hiFen int) {
	fen := loFen + p.rng.IntN(hiFen-loFen+1)
	p.add(t, evTap, stepPOS, ri, trip, int32(dev), uint32(fen/10*10))
}

func (p *planner) anyPOS() int {
	ops := []int{opMart, opMart, opBakery, opPharmacy}
	ds := p.c.pos[ops[p.rng.IntN(len(ops))]]
	return ds[p.rng.IntN(len(ds))]
}

func (p *planner) taxi(ri, trip int32, t int64) {
	// A meter: 11 yuan for the first 3 km, then 2.40 yuan a km.
	km := 1 + p.rng.IntN(18)
	fen := 1100 + max(0, km-3)*240
	p.add(t, evTap, stepTaxi, ri, trip, 0, uint32(fen))
}

// counterLoad visits a service point in the evening, loading there if
// the balance runs low (riders of our cards who pass no kiosk).
func (p *planner) counterLoad(ri int32, t int64) {
	if p.c.riders[ri].issuer != 0 {
		return
	}
	cs := p.c.counters
	p.add(t, evTap, stepLoad, ri, p.newTrip(), int32(cs[int(ri)%len(cs)]), 0)
}

// metroTrip is a trip by metro, with the rider's own first and last
// legs: a bus feeder or a bike.
func (p *planner) metroTrip(ri int32, r *rider, from, to int, t int64, out bool) int64 {
	trip := p.newTrip()
	if out {
		switch {
		case r.feeder:
			t = p.busLeg(ri, trip, r.homeBus, t) + 240
		case r.bike:
			t = p.bikeLeg(ri, trip, r.dock, r.dock2, t)
		}
	}
	t = p.metroLeg(ri, trip, from, to, t)
	if !out {
		switch {
		case r.feeder:
			t = p.busLeg(ri, trip, r.homeBus, t+240)
		case r.bike:
			t = p.bikeLeg(ri, trip, r.dock2, r.dock, t)
		}
	}
	return t
}

// busTrip is a trip by bus, changing buses if the lines differ (the
// second boarding gets the transfer discount within 90 minutes).
func (p *planner) busTrip(ri int32, first, second int, t int64) int64 {
	trip := p.newTrip()
	t = p.busLeg(ri, trip, first, t)
	if second != first {
		t = p.busLeg(ri, trip, second, t+int64(2+p.rng.IntN(10))*60)
	}
	return t
}

// randomStation is any station but s.
func (p *planner) randomStation(s int) int {
	n := len(p.c.net.stations)
	if n == 1 {
		return s
	}
	x := p.rng.IntN(n - 1)
	if x >= s {
		x++
	}
	return x
}

// outing is a leisure trip there and back, by metro or bus, with some
// shopping and sometimes a taxi home.
func (p *planner) outing(ri int32, r *rider, leave, back int64) {
	c := p.c
	if p.chance(55) {
		to := p.randomStation(r.home)
		t := p.metroTrip(ri, r, r.home, to, leave, false)
		if p.chance(60) {
			p.pos(ri, p.newTrip(), p.anyPOS(), t+int64(10+p.rng.IntN(60))*60, 500, 30000)
		}
		if p.chance(12) {
			p.taxi(ri, p.newTrip(), max(back, t+3600))
			return
		}
		p.metroTrip(ri, r, to, r.home, max(back, t+3600), false)
		return
	}
	line := p.rng.IntN(len(c.net.busLines))
	t := p.busTrip(ri, r.homeBus, line, leave)
	if p.chance(60) {
		p.pos(ri, p.newTrip(), p.anyPOS(), t+int64(10+p.rng.IntN(60))*60, 500, 20000)
	}
	p.busTrip(ri, line, r.homeBus, max(back, t+3600))
}

// plan draws rider ri's day.
func (p *planner) plan(ri int32) {
	c := p.c
	r := c.riders[ri]
	switch r.persona {
	case pMetro:
		if !p.weekday {
			if p.chance(35) {
				p.outing(ri, r, p.between(600, 840), p.between(960, 1260))
			}
			break
		}
		if !p.chance(92) {
			break
		}
		t := p.metroTrip(ri, r, r.home, r.work, p.clock(470, 40, 360, 630), true)
		if p.chance(25) {
			p.pos(ri, p.newTrip(), r.lunch, max(t+1800, p.between(710, 790)), 1200, 3500)
		}
		t = p.metroTrip(ri, r, r.work, r.home, max(t+4*3600, p.clock(1070, 45, 960, 1290)), false)
		p.evening(ri, r, t)
	case pBus:
		if !p.weekday {
			if p.chance(30) {
				p.outing(ri, r, p.between(600, 840), p.between(960, 1260))
			}
			p.counterLoad(ri, p.between(1150, 1190))
			break
		}
		if !p.chance(90) {
			break
		}
		t := p.busTrip(ri, r.homeBus, r.workBus, p.clock(460, 40, 360, 630))
		if p.chance(20) {
			p.pos(ri, p.newTrip(), r.lunch, max(t+1800, p.between(710, 790)), 1000, 3000)
		}
		t = p.busTrip(ri, r.workBus, r.homeBus, max(t+4*3600, p.clock(1060, 45, 960, 1290)))
		p.evening(ri, r, t)
		if p.chance(3) {
			// A night out: the night fare after 22:00.
			p.busTrip(ri, r.homeBus, r.homeBus, max(t+1800, p.between(1330, 1400)))
		}
		p.counterLoad(ri, max(t+600, p.between(1150, 1190)))
	case pDriver:
		if p.weekday && p.chance(90) {
			trip := p.newTrip()
			in := p.clock(500, 25, 420, 600)
			p.add(in, evTap, stepParkIn, ri, trip, int32(r.zone), 0)
			if p.chance(40) {
				p.pos(ri, p.newTrip(), r.lunch, p.between(700, 790), 1500, 4000)
			}
			p.add(max(in+3600, p.clock(1065, 40, 960, 1260)), evTap, stepParkOut, ri, trip, int32(r.zone), 0)
		} else if !p.weekday && p.chance(25) {
			trip := p.newTrip()
			in, zone := p.between(600, 960), int32(p.rng.IntN(c.net.zones))
			p.add(in, evTap, stepParkIn, ri, trip, zone, 0)
			p.pos(ri, p.newTrip(), p.anyPOS(), in+1200, 2000, 50000)
			p.add(in+int64(30+p.rng.IntN(200))*60, evTap, stepParkOut, ri, trip, zone, 0)
		}
		p.counterLoad(ri, p.between(1150, 1190))
	case pStudent:
		if p.weekday && p.chance(95) {
			var t int64
			if r.feeder {
				t = p.metroTrip(ri, r, r.home, r.work, p.clock(420, 15, 380, 480), false)
			} else {
				t = p.busTrip(ri, r.homeBus, r.workBus, p.clock(420, 15, 380, 480))
			}
			if p.chance(80) {
				p.pos(ri, p.newTrip(), r.lunch, max(t+1800, p.between(700, 750)), 500, 1500)
			}
			back := p.clock(1000, 30, 930, 1140)
			if r.feeder {
				p.metroTrip(ri, r, r.work, r.home, back, false)
			} else {
				p.busTrip(ri, r.workBus, r.homeBus, back)
			}
		} else if !p.weekday && p.chance(30) {
			p.outing(ri, r, p.between(600, 900), p.between(1000, 1260))
		}
		p.counterLoad(ri, p.between(1150, 1190))
	case pSenior:
		if p.chance(45) {
			p.outing(ri, r, p.between(540, 660), p.between(780, 960))
		}
		p.counterLoad(ri, p.between(1150, 1190))
	case pOccasional:
		if p.chance(25) {
			p.outing(ri, r, p.between(480, 900), p.between(960, 1320))
		}
		if p.chance(4) {
			p.taxi(ri, p.newTrip(), p.between(1200, 1400))
		}
		p.counterLoad(ri, p.between(1150, 1190))
	case pSuburban:
		if (p.weekday && p.chance(85)) || (!p.weekday && p.chance(20)) {
			cl := c.net.coach[r.coach]
			town, city := cl.stops[r.town], cl.stops[0]
			trip := p.newTrip()
			t := p.clock(420, 30, 330, 540)
			p.add(t, evTap, stepCoachIn, ri, trip, int32(town), 0)
			t += int64(35+p.rng.IntN(40)) * 60
			p.add(t, evTap, stepCoachOut, ri, trip, int32(city), 0)
			if p.chance(50) {
				p.busLeg(ri, trip, r.workBus, t+300)
			}
			trip = p.newTrip()
			t = p.clock(1050, 30, 960, 1230)
			p.add(t, evTap, stepCoachIn, ri, trip, int32(city), 0)
			p.add(t+int64(35+p.rng.IntN(40))*60, evTap, stepCoachOut, ri, trip, int32(town), 0)
		}
		p.counterLoad(ri, p.between(1300, 1330))
	case pVisitor:
		if p.day < r.visitFrom || p.day > r.visitTo {
			break
		}
		t := p.between(540, 660)
		for k := 0; k < 2+p.rng.IntN(3) && t < 20*3600; k++ {
			to := p.randomStation(r.home)
			if p.chance(70) {
				t = p.metroTrip(ri, r, r.home, to, t, false)
			} else {
				t = p.busTrip(ri, p.rng.IntN(len(c.net.busLines)), p.rng.IntN(len(c.net.busLines)), t)
			}
			if p.chance(50) {
				p.pos(ri, p.newTrip(), p.anyPOS(), t+900, 800, 20000)
			}
			r.home = to
			t += int64(60+p.rng.IntN(120)) * 60
		}
		if p.chance(30) {
			p.taxi(ri, p.newTrip(), t)
		}
	}
}

// evening is what a commuter does after work: now and then shopping, a
// taxi late.
func (p *planner) evening(ri int32, r *rider, t int64) {
	if p.chance(6) {
		p.pos(ri, p.newTrip(), p.anyPOS(), t+int64(10+p.rng.IntN(90))*60, 800, 15000)
	}
	if p.chance(3) {
		p.taxi(ri, p.newTrip(), max(t+3600, p.between(1260, 1410)))
	}
}

// planDay draws the day's events: every rider's trips, every device's
// uploads, and the faults of the day; sorted by time, ties in the order
// drawn.
func (c *City) planDay(day int) *planner {
	p := &planner{c: c, rng: rngFor(c.cfg.Seed, "day", uint64(day)), day: day}
	wd := c.cfg.Start.AddDate(0, 0, day).Weekday()
	p.weekday = wd >= 1 && wd <= 5
	travellers := c.planTravel(p)
	c.planBikesOut(p)
	for ri := range c.riders {
		if !travellers[int32(ri)] {
			p.plan(int32(ri))
		}
	}
	for _, d := range c.devs {
		for _, m := range d.uploads {
			p.add(int64(m)*60+int64(d.idx%60), evUpload, 0, -1, -1, int32(d.idx), 0)
		}
	}
	c.planFaults(p)
	c.planRefunds(p)
	c.planDamaged(p)
	c.planTopUps(p)
	slices.SortStableFunc(p.evs, func(x, y event) int {
		if x.at != y.at {
			if x.at < y.at {
				return -1
			}
			return 1
		}
		return int(x.order - y.order)
	})
	return p
}
