package fare

import "slices"

// Time fares by periods (fare_time_periods.txt): a product's stay is
// priced by rows of periods, each a range of minutes from the start of the
// stay with its own unit length and unit price, optionally inside a
// time-of-day window (day and night rates), with free minutes and caps per
// window and per 24 hours. It says what fare_time_rules.txt cannot: any
// number of periods each at its own price (杭州公共自行车: the first hour
// free, the second 1 yuan, the third 2 yuan, then 3 yuan an hour), and
// rates by the time of day inside one stay (北京路侧停车: a day rate
// with a dearer rate after the first hour, a night rate).

// Limits of fare_time_periods.txt.
const (
	// timePeriodRowsMax bounds the rows of one product and rider
	// category: a published tariff has a handful of periods a window.
	timePeriodRowsMax = 32
	// timeUnitMinutesMax bounds a unit: one day at most.
	timeUnitMinutesMax = 24 * 60
	// timeStayMaxS is the longest stay priced: a longer one costs what
	// 366 days cost. It bounds the work a quote does (stepsMax).
	timeStayMaxS = 366 * day
)

// periodFare is one product's fare_time_periods.txt rows for one rider
// category.
type periodFare struct {
	cat     int32 // -1: every category without its own rows
	line    int   // the first row, for errors
	freeS   int64
	dayCap  int64          // the most for each 24 hours from the start; -1 none
	windows []periodWindow // sorted by start; together they cover the day once
	rows    int
}

// periodWindow is a time-of-day window (all day: 00:00 to 24:00) and
// the periods in force inside it.
type periodWindow struct {
	startS, endS int64 // seconds of the day; endS <= startS wraps past midnight
	capFen       int64 // the most for one occurrence of the window; -1 none
	periods      []period
	line         int // its first row
}

// period is one row: units of unitS seconds at unitFen each, for units
// starting in [fromS, toS) of the stay.
type period struct {
	fromS, toS int64 // toS -1: open-ended
	unitS      int64
	unitFen    int64
	line       int
}

// charge is the time charge of a stay of durS seconds starting at start
// (seconds from the journey's midnight): by the fare_time_periods.txt
// rows where the rule has them, else by the fare_time_rules.txt row.
func (r *timeRule) charge(start Clock, durS int64) int64 {
	if r.byPeriods != nil {
		fen, _ := r.byPeriods.fee(start, durS)
		return fen
	}
	return r.fee(durS)
}

// fee prices a stay of durS seconds starting at start. A stay of at most
// the free minutes is free; a longer one pays every unit from its start.
// Units follow one another from the start of the stay; each is priced by
// the window in force when it starts and the period its start falls in
// (minutes from the start of the stay), and is paid whole once begun. A
// unit belongs to the window occurrence and to the 24 hours from the
// start in which it starts, and caps take what each unit charges, in time
// order, down to what the occurrence's and the 24 hours' caps leave.
//
// The units of a run of one window occurrence, one period and one 24
// hours are counted at once, so the work is the number of boundaries the
// stay crosses (steps), never its minutes: at most stepsMax.
func (pf *periodFare) fee(start Clock, durS int64) (fen int64, steps int) {
	if durS <= pf.freeS {
		return 0, 0
	}
	dur := min(durS, timeStayMaxS)
	begin := int64(max(start, 0)) % day
	var t, spentOcc, spentDay, block int64
	occEnd := int64(-1)
	for t < dur {
		steps++
		tod := (begin + t) % day
		w := pf.window(tod)
		if t >= occEnd {
			spentOcc, occEnd = 0, t+w.untilEnd(tod)
		}
		if b := t / day; b != block {
			block, spentDay = b, 0
		}
		p := w.period(t)
		end := min(dur, occEnd)
		if p.toS >= 0 {
			end = min(end, p.toS)
		}
		if pf.dayCap >= 0 {
			end = min(end, (block+1)*day)
		}
		n := (end - t + p.unitS - 1) / p.unitS
		c := n * p.unitFen
		if w.capFen >= 0 {
			c = min(c, w.capFen-spentOcc)
		}
		if pf.dayCap >= 0 {
			c = min(c, pf.dayCap-spentDay)
		}
		c = max(c, 0)
		fen, spentOcc, spentDay = fen+c, spentOcc+c, spentDay+c
		t += n * p.unitS
	}
	return fen, steps
}

// stepsMax bounds the steps of fee for a stay of durS seconds: every
// step but the last ends at a boundary the stay crosses, and a day holds
// one end of each window and one end of 24 hours; the periods end once
// each.
func (pf *periodFare) stepsMax(durS int64) int {
	days := int(min(durS, timeStayMaxS)/day) + 1
	return days*(len(pf.windows)+1) + pf.rows + 1
}

// window is the window in force at time of day tod: the last to start at
// or before it, else (before the first start) the last, which wraps past
// midnight.
func (pf *periodFare) window(tod int64) *periodWindow {
	w := &pf.windows[len(pf.windows)-1]
	for i := range pf.windows {
		if pf.windows[i].startS > tod {
			break
		}
		w = &pf.windows[i]
	}
	return w
}

// untilEnd is how long the window lasts after time of day tod, inside it.
func (w *periodWindow) untilEnd(tod int64) int64 {
	if w.endS > w.startS {
		return w.endS - tod
	}
	if tod >= w.startS {
		return day - tod + w.endS
	}
	return w.endS - tod
}

// period is the period of the window that elapsed seconds s of the stay
// fall in: the periods start at 0, follow one another and the last is
// open-ended.
func (w *periodWindow) period(s int64) *period {
	for i := range w.periods {
		if p := &w.periods[i]; p.toS < 0 || s < p.toS {
			return p
		}
	}
	panic("fare: a window's periods end (Load checks the last is open-ended)")
}

// loadTimePeriods reads fare_time_periods.txt into the products' time
// rules (timeRule.byPeriods), one for each product and rider category.
// Rows are for one product and rider category (empty: every category
// without its own rows); the rows of a window (start_time, end_time; both
// empty: all day) follow one another in file order from minute 0, the
// last open-ended; the windows of a product and category cover the day
// once; free_minutes and day_cap_amount are the same on every row of a
// product and category, window_cap_amount on every row of a window.
func (l *loader) loadTimePeriods() {
	t := l.t
	f := l.file("fare_time_periods.txt")
	type key struct{ p, cat int32 }
	fares := map[key]*periodFare{}
	var order []key
	both := map[int32]bool{}
	for i := range f.rows {
		p, ok := l.productRef(f, i, "fare_product_id", true, "the row is ignored")
		if p < 0 || !ok {
			continue
		}
		cat, ok := l.defRef(f, i, "rider_category_id", &t.catIDs, "rider category", "the row is ignored")
		if !ok {
			continue
		}
		if len(t.products[p].time) > 0 {
			if !both[p] {
				both[p] = true
				l.errf(f, i, "fare_product_id", "product %q has a fare_time_rules.txt row already, line %d: a product's time fare is in one of the two files",
					t.products[p].id, l.timeRuleLine(t.products[p].id))
			}
			continue
		}
		k := key{p, cat}
		pf := fares[k]
		if pf == nil {
			pf = &periodFare{cat: cat, line: f.lines[i], dayCap: -1}
			fares[k] = pf
			order = append(order, k)
			pf.freeS = 60 * l.intField(f, i, "free_minutes", 0, 0, timeStayMaxS/60)
			pf.dayCap = l.capField(f, i, "day_cap_amount")
		} else {
			l.same(f, i, "free_minutes", pf.line)
			l.same(f, i, "day_cap_amount", pf.line)
		}
		if pf.rows++; pf.rows > timePeriodRowsMax {
			if pf.rows == timePeriodRowsMax+1 {
				l.errf(f, i, "fare_product_id", "product %q has more than %d rows for this rider category", t.products[p].id, timePeriodRowsMax)
			}
			continue
		}
		w := l.periodWindow(f, i, pf)
		if w == nil {
			continue
		}
		l.appendPeriod(f, i, w)
	}
	for _, k := range order {
		pf := fares[k]
		if l.checkWindows(f, pf) {
			t.products[k.p].time = append(t.products[k.p].time, timeRule{cat: pf.cat, byPeriods: pf})
		}
	}
	l.growCats()
}

// timeRuleLine is the line of product id's first fare_time_rules.txt row.
func (l *loader) timeRuleLine(id string) int {
	f := l.file("fare_time_rules.txt")
	for i := range f.rows {
		if f.get(i, "fare_product_id") == id {
			return f.lines[i]
		}
	}
	return 0
}

// capField parses an optional cap amount: -1 when empty.
func (l *loader) capField(f *table, i int, col string) int64 {
	if f.get(i, col) == "" {
		return -1
	}
	v := l.amountField(f, i, col, false)
	if v < 0 {
		l.errf(f, i, col, "a cap is not negative")
	}
	return v
}

// same records an error when row i's col differs from the row at line.
func (l *loader) same(f *table, i int, col string, line int) {
	first := slices.Index(f.lines, line)
	if a, b := f.get(i, col), f.get(first, col); a != b {
		l.errf(f, i, col, "%q, but line %d has %q: one value for all the rows of a product and rider category", a, line, b)
	}
}

// periodWindow returns the window row i names in pf, added if new; nil
// when its times are wrong.
func (l *loader) periodWindow(f *table, i int, pf *periodFare) *periodWindow {
	st, en := f.get(i, "start_time"), f.get(i, "end_time")
	if (st == "") != (en == "") {
		l.errf(f, i, "end_time", "start_time and end_time go together")
		return nil
	}
	w := periodWindow{startS: 0, endS: day, capFen: -1, line: f.lines[i]}
	if st != "" {
		ok := true
		for _, c := range []struct {
			col, v string
			dst    *int64
		}{{"start_time", st, &w.startS}, {"end_time", en, &w.endS}} {
			v, err := ParseClock(c.v)
			if err != nil || v > day || c.col == "start_time" && v == day {
				l.errf(f, i, c.col, "%q is not a time of day 00:00:00-24:00:00", c.v)
				ok = false
			}
			*c.dst = int64(v)
		}
		if !ok {
			return nil
		}
		if w.startS == w.endS {
			l.errf(f, i, "end_time", "%s is start_time too: a window lasts; leave both empty for all day", en)
			return nil
		}
	}
	for k := range pf.windows {
		if o := &pf.windows[k]; o.startS == w.startS && o.endS == w.endS {
			l.same(f, i, "window_cap_amount", o.line)
			return o
		}
	}
	w.capFen = l.capField(f, i, "window_cap_amount")
	pf.windows = append(pf.windows, w)
	return &pf.windows[len(pf.windows)-1]
}

// appendPeriod adds row i's period to window w: it starts where the
// window's periods so far end (at minute 0 for the first).
func (l *loader) appendPeriod(f *table, i int, w *periodWindow) {
	_, ok1 := l.required(f, i, "from_minutes")
	_, ok2 := l.required(f, i, "unit_minutes")
	_, ok3 := l.required(f, i, "unit_amount")
	if !ok1 || !ok2 || !ok3 {
		return
	}
	p := period{toS: -1, line: f.lines[i]}
	p.fromS = 60 * l.intField(f, i, "from_minutes", 0, 0, timeStayMaxS/60)
	if f.get(i, "to_minutes") != "" {
		p.toS = 60 * l.intField(f, i, "to_minutes", 0, 1, timeStayMaxS/60)
		if p.toS <= p.fromS {
			l.errf(f, i, "to_minutes", "%d is not more than from_minutes %d", p.toS/60, p.fromS/60)
			return
		}
	}
	p.unitS = 60 * l.intField(f, i, "unit_minutes", 1, 1, timeUnitMinutesMax)
	p.unitFen = l.amountField(f, i, "unit_amount", true)
	if p.unitFen < 0 {
		l.errf(f, i, "unit_amount", "a time fare amount is not negative")
	}
	from := int64(0)
	if n := len(w.periods); n > 0 {
		last := &w.periods[n-1]
		if last.toS < 0 {
			l.errf(f, i, "from_minutes", "%d overlaps line %d, open-ended: the periods of a window follow one another, the last open-ended", p.fromS/60, last.line)
			return
		}
		from = last.toS
	}
	switch {
	case p.fromS < from:
		l.errf(f, i, "from_minutes", "%d overlaps the period before it in this window (minutes to %d, line %d)", p.fromS/60, from/60, w.periods[len(w.periods)-1].line)
		return
	case p.fromS > from:
		l.errf(f, i, "from_minutes", "%d leaves minutes %d-%d of the window without a period: the periods follow one another from 0", p.fromS/60, from/60, p.fromS/60)
		return
	}
	w.periods = append(w.periods, p)
}

// checkWindows checks that pf's windows end open-ended and cover the
// day once, and sorts them by start.
func (l *loader) checkWindows(f *table, pf *periodFare) bool {
	at := func(line int) int { return slices.Index(f.lines, line) }
	ok := len(pf.windows) > 0
	for k := range pf.windows {
		w := &pf.windows[k]
		if n := len(w.periods); n > 0 && w.periods[n-1].toS >= 0 {
			last := &w.periods[n-1]
			l.errf(f, at(last.line), "to_minutes", "the window's last period ends at minute %d: leave to_minutes empty, so that a longer stay has a price", last.toS/60)
			ok = false
		}
		if len(w.periods) == 0 {
			ok = false // its rows had errors
		}
	}
	slices.SortFunc(pf.windows, func(a, b periodWindow) int { return int(a.startS - b.startS) })
	for k := range pf.windows {
		w, next := &pf.windows[k], &pf.windows[(k+1)%len(pf.windows)]
		if w.endS%day != next.startS {
			l.errf(f, at(next.line), "start_time", "%s, but the window before it, %s-%s (line %d), ends at %s: the windows of a product and rider category cover the day once, without gap or overlap",
				Clock(next.startS), Clock(w.startS), Clock(w.endS), w.line, Clock(w.endS))
			return false
		}
	}
	return ok
}
