package fare

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

var (
	propCats     = []string{"", "adult", "student", "senior", "senior60", "disabled"}
	propMedia    = []string{"", "cash", "citycard", "qrcode"}
	propRoutes   = []string{"b1", "b2", "n1", "s9", "m1", "m2", "bike"}
	propStops    = []string{"gq", "wc", "zm", "gulou_1", "gulou_2", "dmk", "fm", "xp", "ls", "nbrs", "wt", "b_gulou", "b_train", "fh_center", "fh_xikou", ""}
	propNetworks = []string{"", "", "", "parking", "metro"}
	propHeld     = []string{"bus_monthly", "student_monthly", "bus_10_rides"}
)

// randomJourney draws a journey over the sample feed: any routes, stops,
// times (across midnight too), categories, media, held products and spend.
func randomJourney(r *rand.Rand) *Journey {
	j := &Journey{Date: DateOf(2025, 6, 1) + Date(r.IntN(60)), RiderCategory: propCats[r.IntN(len(propCats))], FareMedia: propMedia[r.IntN(len(propMedia))]}
	at := Clock(r.IntN(30 * 3600))
	for range 1 + r.IntN(4) {
		l := Leg{RouteID: propRoutes[r.IntN(len(propRoutes))], Start: at, End: NoTime}
		if n := propNetworks[r.IntN(len(propNetworks))]; n != "" {
			l.RouteID, l.NetworkID = "", n
		}
		l.FromStopID = propStops[r.IntN(len(propStops))]
		if r.IntN(4) > 0 {
			l.ToStopID = propStops[r.IntN(len(propStops))]
			l.End = at + Clock(r.IntN(3*3600))
		}
		if r.IntN(4) == 0 {
			l.DistanceM, l.DistanceKnown = int64(r.IntN(60000)), true
		}
		if r.IntN(10) == 0 {
			l.TapOffMissing, l.ToStopID, l.End = true, "", NoTime
		}
		if r.IntN(5) == 0 {
			l.ChargedFen = 800
		}
		j.Legs = append(j.Legs, l)
		at += Clock(r.IntN(7200))
	}
	for range r.IntN(3) {
		from := j.Date - Date(r.IntN(40))
		j.Products = append(j.Products, Held{
			FareProductID: propHeld[r.IntN(len(propHeld))], ValidFrom: from, ValidTo: from + Date(r.IntN(40)),
			RidesLeft: r.IntN(3), RidesToday: r.IntN(5),
		})
	}
	j.Spend = Spend{DayFen: int64(r.IntN(1200)), WeekFen: int64(r.IntN(5000)), MonthFen: int64(r.IntN(16000))}
	return j
}

// TestPropertyNeverNegativeDiscountBounded: every leg's fare is at least
// zero and at most its full fare (what it costs on its own), and a
// discount (a transfer product with a negative amount) never takes more
// than the fare it discounts; the total is the sum of the legs.
func TestPropertyNeverNegativeDiscountBounded(t *testing.T) {
	tab := ningbo(t)
	r := rand.New(rand.NewPCG(7, 11))
	var q Quote
	priced := 0
	for range 20000 {
		j := randomJourney(r)
		// Every random journey is good input: a leg no rule prices (a
		// bike leg from a metro stop...) is an unpriced leg, not an error.
		if err := tab.Price(j, &q); err != nil {
			t.Fatalf("Price(%+v): %v", j, err)
		}
		if q.Complete {
			priced++
		}
		checkQuote(t, &q)
		var sum int64
		complete := true
		for i, l := range q.Legs {
			if !l.Priced {
				complete = false
				if l.AmountFen != 0 || l.Chosen >= 0 && l.JoinedTo < 0 {
					t.Fatalf("leg %d: unpriced, yet %d fen (offer %d)\n%s", i, l.AmountFen, l.Chosen, dump(&q))
				}
			}
			if l.AmountFen < 0 {
				t.Fatalf("leg %d: negative fare %d\n%+v\n%s", i, l.AmountFen, j, dump(&q))
			}
			if l.JoinedTo < 0 && l.AmountFen > l.FullFen {
				t.Fatalf("leg %d: charged %d, more than its own fare %d\n%+v\n%s", i, l.AmountFen, l.FullFen, j, dump(&q))
			}
			for _, o := range l.Offers {
				if o.AmountFen < 0 {
					t.Fatalf("leg %d: offer %s of %d fen\n%s", i, o.FareProductID, o.AmountFen, dump(&q))
				}
			}
			sum += l.AmountFen
		}
		if sum != q.TotalFen {
			t.Fatalf("total %d, legs sum to %d", q.TotalFen, sum)
		}
		if complete != q.Complete {
			t.Fatalf("complete %v, but every leg priced is %v\n%s", q.Complete, complete, dump(&q))
		}
	}
	if priced < 5000 {
		t.Errorf("only %d of 20000 random journeys priced in full", priced)
	}
}

// TestPropertyLongerNeverCheaper: on one line, a longer ride never costs
// less, by distance (metro, section fares) and by time (bikes, parking).
func TestPropertyLongerNeverCheaper(t *testing.T) {
	tab := ningbo(t)
	r := rand.New(rand.NewPCG(3, 5))
	var q Quote
	price := func(j *Journey) int64 {
		if err := tab.Price(j, &q); err != nil {
			t.Fatalf("Price(%+v): %v", j, err)
		}
		return q.TotalFen
	}
	for range 5000 {
		cat := propCats[r.IntN(len(propCats))]
		a, b := int64(r.IntN(70000)), int64(r.IntN(70000))
		a, b = min(a, b)+1, max(a, b)+1
		leg := func(d int64) *Journey {
			return &Journey{Date: DateOf(2025, 6, 10), RiderCategory: cat, Legs: []Leg{{RouteID: "m1", Start: 8 * 3600, End: 9 * 3600, DistanceM: d}}}
		}
		if fa, fb := price(leg(a)), price(leg(b)); fb < fa {
			t.Fatalf("metro, %s: %d m costs %d, %d m costs %d", cat, a, fa, b, fb)
		}
		for _, net := range []string{"parking", "bike"} {
			sa, sb := Clock(r.IntN(80*3600)), Clock(r.IntN(80*3600))
			sa, sb = min(sa, sb), max(sa, sb)
			stay := func(d Clock) *Journey {
				return &Journey{Date: DateOf(2025, 6, 10), RiderCategory: cat, Legs: []Leg{{NetworkID: net, Start: 7 * 3600, End: 7*3600 + d}}}
			}
			if fa, fb := price(stay(sa)), price(stay(sb)); fb < fa {
				t.Fatalf("%s, %s: %d s costs %d, %d s costs %d", net, cat, sa, fa, sb, fb)
			}
		}
	}
	// Along line 1 by its kilometre posts, from its first station.
	line := []string{"gq", "wc", "zm", "gulou_1", "dmk", "fm", "xp"}
	last := int64(-1)
	for _, s := range line[1:] {
		f := price(&Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{RouteID: "m1", FromStopID: "gq", ToStopID: s, Start: 8 * 3600, End: 9 * 3600}}})
		if f < last {
			t.Fatalf("gq to %s costs %d, less than the station before (%d)", s, f, last)
		}
		last = f
	}
}

// TestPropertyHeldTimeOrder: held products are used in time order (the
// README's decision), so what the legs of a journey take of them never
// depends on the legs after: pricing the journey's first legs alone uses
// the same held product on each.
func TestPropertyHeldTimeOrder(t *testing.T) {
	tab := ningbo(t)
	r := rand.New(rand.NewPCG(13, 17))
	var whole, prefix Quote
	held := func(q *Quote, i int) string {
		if o, ok := q.Chosen(i); ok && o.Origin == OfferHeld {
			return o.FareProductID
		}
		return ""
	}
	tried := 0
	for range 5000 {
		j := randomJourney(r)
		if len(j.Products) == 0 || len(j.Legs) < 2 {
			continue
		}
		tried++
		if err := tab.Price(j, &whole); err != nil {
			t.Fatal(err)
		}
		p := *j
		p.Legs = j.Legs[:1+r.IntN(len(j.Legs)-1)]
		if err := tab.Price(&p, &prefix); err != nil {
			t.Fatal(err)
		}
		for i := range p.Legs {
			if whole.Legs[i].JoinedTo >= 0 || i+1 < len(j.Legs) && whole.Legs[i+1].JoinedTo >= 0 {
				break // a leg joined to the next is priced with it
			}
			if a, b := held(&whole, i), held(&prefix, i); a != b {
				t.Fatalf("leg %d uses %q in the journey, %q in its first %d legs\n%+v\n%s\n%s", i, a, b, len(p.Legs), j, dump(&whole), dump(&prefix))
			}
		}
	}
	if tried < 1000 {
		t.Errorf("only %d journeys with held products", tried)
	}
}

// TestPropertyQuoteReuse: a Quote reused across calls (as terminals and
// the benchmarks do) prices exactly as a fresh one: nothing of the
// journey before stays in it.
func TestPropertyQuoteReuse(t *testing.T) {
	tab := ningbo(t)
	r := rand.New(rand.NewPCG(19, 23))
	var warm Quote
	for range 5000 {
		if err := tab.Price(randomJourney(r), &warm); err != nil {
			t.Fatal(err)
		}
		j := randomJourney(r)
		var fresh Quote
		if err1, err2 := tab.Price(j, &warm), tab.Price(j, &fresh); err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		a, _ := json.Marshal(warm.JSON())
		b, _ := json.Marshal(fresh.JSON())
		if string(a) != string(b) {
			t.Fatalf("a reused quote differs from a fresh one:\n%s\n%s", a, b)
		}
	}
}

// TestPropertyTimePeriodsLongerNeverCheaper: priced by fare_time_periods.txt
// (random windows, periods, units, free minutes and caps), a longer stay
// never costs less than a shorter one with the same start, and neither do
// the published tariffs of the tests, for any rider category.
func TestPropertyTimePeriodsLongerNeverCheaper(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 41))
	var q Quote
	price := func(tab *Table, cat, net string, start Clock, durS int64) int64 {
		t.Helper()
		j := &Journey{Date: DateOf(2025, 6, 10), RiderCategory: cat, Legs: []Leg{{NetworkID: net, Start: start, End: start + Clock(durS)}}}
		if err := tab.Price(j, &q); err != nil {
			t.Fatal(err)
		}
		if !q.Complete {
			t.Fatalf("a stay of %d s from %s on %s is not priced", durS, start, net)
		}
		return q.TotalFen
	}
	stays := func() (int64, int64) {
		a, b := int64(r.IntN(4*day)), int64(r.IntN(4*day))
		if r.IntN(2) == 0 {
			a, b = int64(r.IntN(4*3600)), int64(r.IntN(4*3600))
		}
		return min(a, b), max(a, b)
	}
	for range 200 {
		tab := periodsTable(t, randomPeriods(r, r.IntN(2) == 0))
		for range 20 {
			start := Clock(r.IntN(day))
			a, b := stays()
			if fa, fb := price(tab, "", "n", start, a), price(tab, "", "n", start, b); fb < fa {
				t.Fatalf("from %s: %d s cost %d, %d s cost %d", start, a, fa, b, fb)
			}
		}
	}
	tab := mustLoad(t, periodsFeed)
	for range 3000 {
		cat := []string{"", "student", "child"}[r.IntN(3)]
		net := []string{"hzbike", "bjpark", "bike"}[r.IntN(3)]
		start := Clock(r.IntN(day))
		a, b := stays()
		if fa, fb := price(tab, cat, net, start, a), price(tab, cat, net, start, b); fb < fa {
			t.Fatalf("%s, %s, from %s: %d s cost %d, %d s cost %d", net, cat, start, a, fa, b, fb)
		}
	}
}

// TestPropertyTimePeriodsCapNeverDearer: a stay priced with the caps of
// fare_time_periods.txt (window_cap_amount, day_cap_amount) never costs
// more than the same stay priced by the same rows without them.
func TestPropertyTimePeriodsCapNeverDearer(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 47))
	var q Quote
	price := func(tab *Table, start Clock, durS int64) int64 {
		t.Helper()
		if err := tab.Price(&Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{NetworkID: "n", Start: start, End: start + Clock(durS)}}}, &q); err != nil {
			t.Fatal(err)
		}
		return q.TotalFen
	}
	capsMet := 0
	for range 300 {
		capped := randomPeriods(r, true)
		lines := strings.Split(strings.TrimSuffix(capped, "\n"), "\n")
		for i := 1; i < len(lines); i++ {
			f := strings.Split(lines[i], ",")
			f[8], f[9] = "", "" // window_cap_amount, day_cap_amount
			lines[i] = strings.Join(f, ",")
		}
		withCaps, without := periodsTable(t, capped), periodsTable(t, strings.Join(lines, "\n")+"\n")
		for range 20 {
			start, dur := Clock(r.IntN(day)), int64(r.IntN(5*day))
			c, u := price(withCaps, start, dur), price(without, start, dur)
			if c > u {
				t.Fatalf("from %s, %d s: %d with caps, %d without\n%s", start, dur, c, u, capped)
			}
			if c < u {
				capsMet++
			}
		}
	}
	if capsMet < 1000 {
		t.Errorf("caps lowered only %d of 6000 stays", capsMet)
	}
}

// FuzzLoad feeds the loader arbitrary leg rules, products, transfer
// rules and time periods (fare_time_periods.txt) or other extension
// files (fuzzExtensions): it must never panic, and a table it accepts
// must price (or refuse) a journey without panicking, a stay of days
// too.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("fare_product_id,amount,currency,rider_category_id\np,2.00,CNY,\nq,-1.00,CNY,\n"),
		[]byte("leg_group_id,network_id,fare_product_id,rule_priority,min_distance_m,max_distance_m\ng,n,p,0,,6000\ng,,q,1,6000,\n"),
		[]byte("from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\ng,g,-1,5400,1,2,q\n"),
		[]byte("#file fare_tiers.txt\ntier_id,period,threshold_kind,threshold,fare_percent\nt,month,spend,100.00,80\nt,month,spend,150.00,50\nr,day,rides,1,60\n#file fare_tier_networks.txt\ntier_id,network_id,counted\nt,n,1\nr,x,0\n"))
	f.Add([]byte("fare_product_id,amount,currency\n\"p\",1,CNY\n"), []byte("fare_product_id,from_timeframe_group_id\np,t\n"), []byte(""), []byte(""))
	f.Add([]byte("\xef\xbb\xbffare_product_id,amount,currency\np,0.5,JPY\n"), []byte("network_id,fare_product_id\n,p\n"), []byte("fare_transfer_type\n1\n"), []byte(""))
	f.Add([]byte("fare_product_id,amount,currency\np,0.00,CNY\n"), []byte("network_id,fare_product_id\nn,p\n"), []byte(""),
		[]byte("fare_product_id,start_time,end_time,from_minutes,to_minutes,unit_minutes,unit_amount,free_minutes,window_cap_amount,day_cap_amount\n"+
			"p,07:00:00,21:00:00,0,60,15,2.50,,,\np,07:00:00,21:00:00,60,,15,3.75,,,\np,21:00:00,07:00:00,0,,120,1.00,,5.00,\n"))
	f.Add([]byte("fare_product_id,amount,currency\np,1.00,CNY\n"), []byte("network_id,fare_product_id\nn,p\n"), []byte(""),
		[]byte("fare_product_id,from_minutes,to_minutes,unit_minutes,unit_amount,free_minutes,day_cap_amount\np,0,60,60,0.00,10,20.00\np,60,120,60,1.00,10,20.00\np,120,,1,0.01,10,20.00\n"))
	f.Add([]byte("\xef\xbb\xbffare_product_id,amount,currency\np,0.5,JPY\n"), []byte("network_id,fare_product_id\n,p\n"), []byte("fare_transfer_type\n1\n"), []byte("#file fare_tiers.txt\ntier_id,period,threshold_kind,threshold,fare_percent\nt,week,rides,0,0\n"))
	f.Fuzz(func(t *testing.T, products, legRules, transfers, extensions []byte) {
		fsys := fstest.MapFS{
			"fare_products.txt":       {Data: products},
			"fare_leg_rules.txt":      {Data: legRules},
			"fare_transfer_rules.txt": {Data: transfers},
		}
		fuzzExtensions(fsys, extensions)
		tab, err := Load(fsys)
		if err != nil {
			return
		}
		_ = tab.Summary()
		var q Quote
		for _, n := range []string{"n", "", "x"} {
			for _, j := range []*Journey{
				{Date: DateOf(2025, 6, 10), Spend: Spend{MonthFen: 12000, MonthRides: 15}, Legs: []Leg{
					{NetworkID: n, Start: 3600, End: 4000, DistanceM: 7000},
					{NetworkID: n, Start: 5000, End: NoTime},
					{NetworkID: n, FromStopID: "s", ToStopID: "s", Start: 6000, End: 6000 + 5*3600},
				}},
				{Date: DateOf(2025, 6, 10), Legs: []Leg{{NetworkID: n, Start: 20 * 3600, End: 20*3600 + 9*day}}},
			} {
				if err := tab.Price(j, &q); err == nil {
					checkQuote(t, &q)
				}
			}
		}
	})
}

// fuzzExtensions adds to a FuzzLoad feed its fourth input: the
// fare_time_periods.txt, or, where it begins with "#file ", extension
// files, each after a line "#file NAME" (fare_tiers.txt, ...), so that
// one input carries any of them and the corpus keeps its shape as
// extension files are added.
func fuzzExtensions(fsys fstest.MapFS, b []byte) {
	if !bytes.HasPrefix(b, []byte("#file ")) {
		fsys["fare_time_periods.txt"] = &fstest.MapFile{Data: b}
		return
	}
	for _, part := range bytes.Split(b, []byte("#file ")) {
		name, data, ok := bytes.Cut(part, []byte("\n"))
		if n := string(name); ok && fsys[n] == nil && fs.ValidPath(n) {
			fsys[n] = &fstest.MapFile{Data: data}
		}
	}
}

// ningboWith loads the sample feed with some of its files replaced: edit
// gets each file's text and returns the text to load.
func ningboWith(t *testing.T, edit func(name, text string) string) *Table {
	t.Helper()
	feed := fstest.MapFS{}
	entries, err := os.ReadDir("testdata/ningbo")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile("testdata/ningbo/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		feed[e.Name()] = &fstest.MapFile{Data: []byte(edit(e.Name(), string(b)))}
	}
	tab, err := Load(feed)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// totals prices each random journey with each table and calls check with
// the totals, in the tables' order.
func totals(t *testing.T, seed uint64, n int, tabs []*Table, tweak func(r *rand.Rand, j *Journey), check func(j *Journey, q []*Quote)) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed+1))
	qs := make([]*Quote, len(tabs))
	for i := range qs {
		qs[i] = &Quote{}
	}
	for range n {
		j := randomJourney(r)
		if tweak != nil {
			tweak(r, j)
		}
		for i, tab := range tabs {
			if err := tab.Price(j, qs[i]); err != nil {
				t.Fatalf("Price(%+v): %v", j, err)
			}
			checkQuote(t, qs[i])
		}
		check(j, qs)
	}
}

// TestPropertyTransferDiscountNeverDearer: a transfer discount never
// makes a journey dearer than without its rule, and its conditions
// (README fare_transfer_rules.txt: min_from_leg_amount,
// discount_group_id, discount_window) never make it cheaper than without
// them: the sample without its bus-metro discounts, with them on
// conditions, and as they are.
func TestPropertyTransferDiscountNeverDearer(t *testing.T) {
	rules := func(cond string) func(name, text string) string {
		return func(name, text string) string {
			if name != "fare_transfer_rules.txt" {
				return text
			}
			lines := strings.Split(strings.TrimSpace(text), "\n")
			out := []string{lines[0] + ",min_from_leg_amount,discount_group_id,discount_window"}
			for _, l := range lines[1:] {
				if strings.HasSuffix(l, ",xfer_discount") {
					if cond == "none" {
						continue
					}
					out = append(out, l+cond)
					continue
				}
				out = append(out, l+",,,")
			}
			return strings.Join(out, "\n") + "\n"
		}
	}
	without := ningboWith(t, rules("none"))
	conditional := ningboWith(t, rules(",2.00,bus_metro,3600"))
	plain := ningbo(t)
	cheaper, plainCheaper := 0, 0
	// Half the journeys bus and metro in turn, by an adult's city card
	// (which the discounts are for) that has met no cap.
	line1 := []string{"gq", "wc", "zm", "gulou_1", "dmk", "fm", "xp"}
	card := func(r *rand.Rand, j *Journey) {
		if r.IntN(2) == 0 {
			return
		}
		j.FareMedia, j.RiderCategory, j.Spend = "citycard", "", Spend{}
		for i := range j.Legs {
			l := &j.Legs[i]
			if l.TapOffMissing || l.NetworkID != "" {
				continue
			}
			l.RouteID, l.FromStopID, l.ToStopID, l.DistanceKnown, l.DistanceM = "b1", "", "", false, 0
			if i%2 == 1 {
				l.RouteID, l.FromStopID, l.ToStopID = "m1", line1[r.IntN(len(line1))], line1[r.IntN(len(line1))]
				l.End = l.Start + Clock(r.IntN(3600))
			}
		}
	}
	totals(t, 29, 20000, []*Table{without, conditional, plain}, card, func(j *Journey, q []*Quote) {
		if q[1].TotalFen > q[0].TotalFen || q[2].TotalFen > q[1].TotalFen {
			t.Fatalf("without the discount %d, with it on conditions %d, as it is %d\n%+v\n%s\n%s\n%s",
				q[0].TotalFen, q[1].TotalFen, q[2].TotalFen, j, dump(q[0]), dump(q[1]), dump(q[2]))
		}
		if q[1].TotalFen < q[0].TotalFen {
			cheaper++
		}
		if q[2].TotalFen < q[0].TotalFen {
			plainCheaper++
		}
	})
	if cheaper < 500 || plainCheaper <= cheaper {
		t.Errorf("%d journeys took a conditional discount, %d an unconditional one", cheaper, plainCheaper)
	}
}

// TestPropertyOvertimeNeverCheaper: an overtime rule never makes a
// journey cheaper (README fare_networks.txt: overtime_minutes): the sample
// without overtime, with its surcharge, and with the maximum fare as the
// overtime leg's fare.
func TestPropertyOvertimeNeverCheaper(t *testing.T) {
	networks := func(row string) func(name, text string) string {
		return func(name, text string) string {
			if name != "fare_networks.txt" {
				return text
			}
			return strings.Replace(text, "metro,metro_max,1,120,metro_max,", row, 1)
		}
	}
	without := ningboWith(t, networks("metro,metro_max,1,,,"))
	maxFare := ningboWith(t, networks("metro,metro_max,1,120,,"))
	dearer := [2]int{}
	totals(t, 31, 20000, []*Table{without, ningbo(t), maxFare}, nil, func(j *Journey, q []*Quote) {
		for i, w := range q[1:] {
			if w.TotalFen < q[0].TotalFen {
				t.Fatalf("overtime rule %d: %d, without it %d\n%+v\n%s\n%s", i, w.TotalFen, q[0].TotalFen, j, dump(w), dump(q[0]))
			}
			if w.TotalFen > q[0].TotalFen {
				dearer[i]++
			}
		}
	})
	if dearer[0] < 100 || dearer[1] < 100 {
		t.Errorf("overtime made only %v journeys dearer", dearer)
	}
}

// TestPropertyCapNeverDearer: a fare cap never makes a journey dearer
// than without it (README.md, fare_caps.txt: "the most a rider pays in
// the period"; caps only lower the chosen amounts): the sample feed's
// caps against the same feed without fare_caps.txt, over random
// journeys and spends before them.
func TestPropertyCapNeverDearer(t *testing.T) {
	capped := ningbo(t)
	uncapped := ningboWith(t, func(name, text string) string {
		if name == "fare_caps.txt" {
			return "rider_category_id,period,amount\n"
		}
		return text
	})
	r := rand.New(rand.NewPCG(41, 43))
	var cq, uq Quote
	lowered := 0
	for range 20000 {
		j := randomJourney(r)
		if err := capped.Price(j, &cq); err != nil {
			t.Fatal(err)
		}
		if err := uncapped.Price(j, &uq); err != nil {
			t.Fatal(err)
		}
		checkQuote(t, &cq)
		if cq.TotalFen > uq.TotalFen {
			t.Fatalf("with caps %d, without %d\n%+v\n%s\n%s", cq.TotalFen, uq.TotalFen, j, dump(&cq), dump(&uq))
		}
		if cq.TotalFen < uq.TotalFen {
			lowered++
		}
	}
	if lowered < 500 {
		t.Errorf("only %d of 20000 journeys lowered by a cap: the property is not exercised", lowered)
	}
}
