package fare

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// periodsFeed is a feed of the two published tariffs fare_time_periods.txt
// was made for, priced by the tests below:
//
// 杭州公共自行车 (Hangzhou public bikes), 租车收费标准 (杭州公共自行车,
// 2017-02-20): 1 小时内免费; 1 小时以上至 2 小时(含) 1 元; 2 小时以上
// 至 3 小时(含) 2 元; 超过 3 小时, 每小时 3 元 (不足一小时的按一小时计);
// 分段合计 (the periods add up).
//
// 北京路侧停车 (Beijing roadside parking), class-1 area (一类地区: within
// the 3rd Ring Road, CBD, Yansha, Zhongguancun West, Cuiwei), small car,
// the rates of the Beijing Development and Reform Commission's 2010
// notice in force from 2011-04-01 and charged by the electronic roadside
// charging of 2019: day (07:00-21:00) 2.50 yuan each 15 minutes within
// the first hour, 3.75 yuan each 15 minutes after it; night (21:00-07:00)
// 1.00 yuan each 2 hours. Each unit is paid once begun (the brief's
// reading; some third-party summaries say a part unit is free); a stay
// crossing 21:00 or 07:00 pays each unit at the rate in force when the
// unit starts, and the first hour counts from the start of the stay
// (README.md, fare_time_periods.txt).
var periodsFeed = map[string]string{
	"rider_categories.txt": `
rider_category_id,is_default_fare_category,fare_percent
adult,1,
student,0,50
child,0,50
`,
	"fare_products.txt": `
fare_product_id,fare_product_name,rider_category_id,amount,currency
hz_bike,杭州公共自行车,,0.00,CNY
bj_park,北京路侧停车 一类地区,,0.00,CNY
bj_park_max,停车未结算,,100.00,CNY
bike,租车,adult,1.00,CNY
`,
	"fare_leg_rules.txt": `
network_id,fare_product_id
hzbike,hz_bike
bjpark,bj_park
bike,bike
`,
	"fare_networks.txt": `
network_id,max_fare_product_id,capped
bjpark,bj_park_max,0
`,
	"fare_time_periods.txt": `
fare_product_id,rider_category_id,start_time,end_time,from_minutes,to_minutes,unit_minutes,unit_amount
hz_bike,,,,0,60,60,0.00
hz_bike,,,,60,120,60,1.00
hz_bike,,,,120,180,60,2.00
hz_bike,,,,180,,60,3.00
bj_park,,07:00:00,21:00:00,0,60,15,2.50
bj_park,,07:00:00,21:00:00,60,,15,3.75
bj_park,,21:00:00,07:00:00,0,,120,1.00
bike,,,,0,,60,1.00
bike,child,,,0,,60,1.00
`,
}

func TestTimePeriodsHangzhouBike(t *testing.T) {
	tab := mustLoad(t, periodsFeed)
	for _, tc := range []struct{ end, want string }{
		// 1 小时内免费: an hour, to the second, is free.
		{"08:30:00", "0.00"},
		{"09:00:00", "0.00"},
		// 1 小时以上至 2 小时(含) 1 元.
		{"09:00:01", "1.00"},
		{"10:00:00", "1.00"},
		// 2 小时以上至 3 小时(含) 2 元, added to the second hour's.
		{"10:00:01", "3.00"},
		{"11:00:00", "3.00"},
		// 超过 3 小时每小时 3 元, 不足一小时的按一小时计.
		{"11:00:01", "6.00"},
		{"12:00:00", "6.00"},
		{"12:30:00", "9.00"},
		// A whole day: 3.00 for hours 2 and 3, then 21 hours at 3.00.
		{"32:00:00", "66.00"},
	} {
		t.Run(tc.end, func(t *testing.T) {
			check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"hzbike","start_time":"08:00:00","end_time":"`+tc.end+`"}]}`,
				want{tc.want, []string{"hz_bike " + tc.want}})
		})
	}
}

func TestTimePeriodsBeijingParking(t *testing.T) {
	tab := mustLoad(t, periodsFeed)
	for _, tc := range []struct{ name, start, end, want string }{
		// Day, the first hour: 2.50 each 15 minutes begun.
		{"15 min", "10:00:00", "10:15:00", "2.50"},
		{"16 min", "10:00:00", "10:16:00", "5.00"},
		{"first hour", "10:00:00", "11:00:00", "10.00"},
		// After the first hour, 3.75 each 15 minutes begun.
		{"61 min", "10:00:00", "11:01:00", "13.75"},
		{"2 h", "10:00:00", "12:00:00", "25.00"},
		// Crossing 21:00: 20:30 and 20:45 at the day rate, then one
		// night unit from 21:00.
		{"into the night", "20:30:00", "22:00:00", "6.00"},
		// The unit begun at 20:50 is a day unit to 21:05, the next a
		// night unit: the rate in force when each unit starts.
		{"unit across 21:00", "20:50:00", "21:10:00", "3.50"},
		// Crossing 07:00: the night unit begun at 06:00 runs to 08:00 at
		// the night rate; the next, at 08:00, is past the first hour of
		// the stay: 3.75.
		{"into the day", "06:00:00", "08:00:00", "1.00"},
		{"into the day, a unit more", "06:00:00", "08:01:00", "4.75"},
		// Across midnight: night units from 22:00, 00:00, 02:00, 04:00,
		// 06:00.
		{"overnight", "22:00:00", "07:30:00", "5.00"},
		// Two days from 08:00: 10.00 (first hour) + 48 x 3.75 to 21:00,
		// 5 night units, 56 x 3.75 for 07:00-21:00, 5 night units, and
		// 4 x 3.75 to 08:00 on the third day.
		{"two days", "08:00:00", "56:00:00", "425.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"bjpark","start_time":"`+tc.start+`","end_time":"`+tc.end+`"}]}`,
				want{tc.want, []string{"bj_park " + tc.want}})
		})
	}
	// No end time: the network's maximum fare (README.md, fare_networks.txt).
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"bjpark","start_time":"10:00:00"}]}`,
		want{"100.00", []string{"bj_park_max 100.00"}})
	// Rows for every category: a student pays the same (README.md,
	// rider_categories.txt fare_percent: rows for everyone are not scaled).
	check(t, tab, `{"date":"2025-06-10","rider_category":"student","legs":[{"network_id":"bjpark","start_time":"10:00:00","end_time":"11:01:00"}]}`,
		want{"13.75", []string{"bj_park 13.75"}})
	q := quote(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"bjpark","start_time":"10:00:00","end_time":"11:01:00"}]}`)
	if e := q.Explanation(0); !strings.Contains(e, "61 min: 13.75 by time") {
		t.Errorf("explanation %q, want the minutes and the time charge", e)
	}
	if s := tab.Summary(); s.TimeFares != 3 {
		t.Errorf("summary: %d time fare products, want 3", s.TimeFares)
	}
}

// TestTimePeriodsCategoriesAndBase follows README.md's rider_categories.txt
// fare_percent line: priced from the default category's row, fare_percent
// scales the whole leg fare, base and time charge, unless the category has
// its own time rows; the product's amount is a base charged once.
func TestTimePeriodsCategoriesAndBase(t *testing.T) {
	tab := mustLoad(t, periodsFeed)
	for _, tc := range []struct{ cat, want string }{
		// Two hours: the base 1.00 and 2 x 1.00.
		{"adult", "3.00"},
		// 50% of the whole: 1.50.
		{"student", "1.50"},
		// Its own rows are its price: 50% of the base and its own 2.00.
		{"child", "2.50"},
	} {
		t.Run(tc.cat, func(t *testing.T) {
			check(t, tab, `{"date":"2025-06-10","rider_category":"`+tc.cat+`","legs":[{"network_id":"bike","start_time":"08:00:00","end_time":"10:00:00"}]}`,
				want{tc.want, []string{"bike " + tc.want}})
		})
	}
}

// TestTimePeriodsCaps follows README.md's fare_time_periods.txt
// window_cap_amount, day_cap_amount and free_minutes: a unit belongs to the
// window occurrence and the 24 hours from the start in which it starts,
// and pays what their caps leave.
func TestTimePeriodsCaps(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"fare_products.txt":  "fare_product_id,amount,currency\npark,0.00,CNY\n",
		"fare_leg_rules.txt": "network_id,fare_product_id\np,park\n",
		"fare_time_periods.txt": `
fare_product_id,start_time,end_time,from_minutes,to_minutes,unit_minutes,unit_amount,free_minutes,window_cap_amount,day_cap_amount
park,08:00:00,20:00:00,0,,60,4.00,15,,30.00
park,20:00:00,08:00:00,0,,60,2.00,15,5.00,30.00
`,
	})
	for _, tc := range []struct{ name, start, end, want string }{
		// 15 free minutes; past them, from the start.
		{"15 min", "10:00:00", "10:15:00", "0.00"},
		{"16 min", "10:00:00", "10:16:00", "4.00"},
		// Day: 7 hours, 28.00; 8 hours, capped at 30.00 for 24 hours.
		{"7 h", "10:00:00", "17:00:00", "28.00"},
		{"8 h", "10:00:00", "18:00:00", "30.00"},
		// A night: 12 units of 2.00, at most 5.00 a night.
		{"night", "20:00:00", "08:00:00", "5.00"},
		// Night then day: 5.00, then 4.00 an hour to the 24 hours' cap.
		{"night and day", "20:00:00", "14:00:00", "29.00"},
		{"night and day capped", "20:00:00", "44:00:00", "30.00"},
		// The second 24 hours pays afresh: 30.00, then from 20:00 on
		// day 2, a night capped at 5.00, then 08:00-10:00, 8.00.
		{"two days", "20:00:00", "58:00:00", "43.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"p","start_time":"`+tc.start+`","end_time":"`+tc.end+`"}]}`,
				want{tc.want, []string{"park " + tc.want}})
		})
	}
}

func TestTimePeriodsLoadErrors(t *testing.T) {
	const head = "fare_product_id,rider_category_id,start_time,end_time,from_minutes,to_minutes,unit_minutes,unit_amount,free_minutes,window_cap_amount,day_cap_amount\n"
	for _, tc := range []struct{ name, rows, want string }{
		{"overlap", "p,,,,0,60,15,1.00,,,\np,,,,30,,15,1.00,,,\n",
			`fare_time_periods.txt:3: from_minutes: 30 overlaps the period before it in this window (minutes to 60, line 2)`},
		{"gap", "p,,,,0,60,15,1.00,,,\np,,,,90,,15,1.00,,,\n",
			`fare_time_periods.txt:3: from_minutes: 90 leaves minutes 60-90 of the window without a period`},
		{"first not at 0", "p,,,,10,,15,1.00,,,\n",
			`fare_time_periods.txt:2: from_minutes: 10 leaves minutes 0-10 of the window without a period`},
		{"after an open-ended period", "p,,,,0,,15,1.00,,,\np,,,,60,,15,1.00,,,\n",
			`fare_time_periods.txt:3: from_minutes: 60 overlaps line 2, open-ended`},
		{"last not open-ended", "p,,,,0,60,15,1.00,,,\n",
			`fare_time_periods.txt:2: to_minutes: the window's last period ends at minute 60: leave to_minutes empty`},
		{"to before from", "p,,,,0,0,15,1.00,,,\n",
			`fare_time_periods.txt:2: to_minutes: 0 is not in 1..527040`},
		{"to not after from", "p,,,,0,60,15,1.00,,,\np,,,,60,60,15,1.00,,,\np,,,,60,,15,1.00,,,\n",
			`fare_time_periods.txt:3: to_minutes: 60 is not more than from_minutes 60`},
		{"unit 0", "p,,,,0,,0,1.00,,,\n", `fare_time_periods.txt:2: unit_minutes: 0 is not in 1..1440`},
		{"unit above a day", "p,,,,0,,1441,1.00,,,\n", `fare_time_periods.txt:2: unit_minutes: 1441 is not in 1..1440`},
		{"no unit amount", "p,,,,0,,15,,,,\n", `fare_time_periods.txt:2: unit_amount: required, empty`},
		{"negative unit amount", "p,,,,0,,15,-1.00,,,\n", `fare_time_periods.txt:2: unit_amount: a time fare amount is not negative`},
		{"negative cap", "p,,,,0,,15,1.00,,,-1.00\n", `fare_time_periods.txt:2: day_cap_amount: a cap is not negative`},
		{"start without end", "p,,07:00:00,,0,,15,1.00,,,\n", `fare_time_periods.txt:2: end_time: start_time and end_time go together`},
		{"bad time", "p,,07:00:00,25:00:00,0,,15,1.00,,,\n", `fare_time_periods.txt:2: end_time: "25:00:00" is not a time of day 00:00:00-24:00:00`},
		{"empty window", "p,,07:00:00,07:00:00,0,,15,1.00,,,\n", `fare_time_periods.txt:2: end_time: 07:00:00 is start_time too`},
		{"windows gap", "p,,07:00:00,21:00:00,0,,15,1.00,,,\np,,22:00:00,07:00:00,0,,120,1.00,,,\n",
			`fare_time_periods.txt:3: start_time: 22:00:00, but the window before it, 07:00:00-21:00:00 (line 2), ends at 21:00:00`},
		{"windows overlap", "p,,07:00:00,21:00:00,0,,15,1.00,,,\np,,20:00:00,07:00:00,0,,120,1.00,,,\n",
			`fare_time_periods.txt:3: start_time: 20:00:00, but the window before it, 07:00:00-21:00:00 (line 2), ends at 21:00:00`},
		{"one window not the whole day", "p,,07:00:00,21:00:00,0,,15,1.00,,,\n",
			`fare_time_periods.txt:2: start_time: 07:00:00, but the window before it, 07:00:00-21:00:00 (line 2), ends at 21:00:00`},
		{"all day and a window", "p,,,,0,,15,1.00,,,\np,,07:00:00,21:00:00,0,,15,1.00,,,\n",
			`fare_time_periods.txt:3: start_time: 07:00:00, but the window before it, 00:00:00-24:00:00 (line 2), ends at 24:00:00`},
		{"free minutes differ", "p,,,,0,60,15,1.00,10,,\np,,,,60,,15,1.00,,,\n",
			`fare_time_periods.txt:3: free_minutes: "", but line 2 has "10": one value for all the rows of a product and rider category`},
		{"window cap differs", "p,,07:00:00,21:00:00,0,60,15,1.00,,5.00,\np,,07:00:00,21:00:00,60,,15,1.00,,,\np,,21:00:00,07:00:00,0,,15,1.00,,,\n",
			`fare_time_periods.txt:3: window_cap_amount: "", but line 2 has "5.00"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(mapFeed(map[string]string{"fare_products.txt": minimalProducts, "fare_time_periods.txt": head + tc.rows}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v\nwant %q", err, tc.want)
			}
		})
	}
	// Rows per product and rider category: timePeriodRowsMax, at its
	// boundary (periods of a minute, the last open-ended).
	rows := func(n int) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			if i == n-1 {
				fmt.Fprintf(&b, "p,,,,%d,,15,1.00,,,\n", i)
				continue
			}
			fmt.Fprintf(&b, "p,,,,%d,%d,15,1.00,,,\n", i, i+1)
		}
		return b.String()
	}
	if _, err := Load(mapFeed(map[string]string{"fare_products.txt": minimalProducts, "fare_time_periods.txt": rows(timePeriodRowsMax)})); err != nil {
		t.Errorf("%d rows: %v", timePeriodRowsMax, err)
	}
	_, err := Load(mapFeed(map[string]string{"fare_products.txt": minimalProducts, "fare_time_periods.txt": rows(timePeriodRowsMax + 1)}))
	if want := `fare_time_periods.txt:34: fare_product_id: product "p" has more than 32 rows for this rider category`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%d rows: %v\nwant %q", timePeriodRowsMax+1, err, want)
	}
	// A product has fare_time_rules.txt or fare_time_periods.txt rows,
	// not both.
	_, err = Load(mapFeed(map[string]string{"fare_products.txt": minimalProducts,
		"fare_time_rules.txt":   "fare_product_id,period_minutes,period_amount\np,60,1.00\n",
		"fare_time_periods.txt": "fare_product_id,from_minutes,unit_minutes,unit_amount\np,0,60,1.00\n"}))
	if want := `fare_time_periods.txt:2: fare_product_id: product "p" has a fare_time_rules.txt row already, line 2`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("both files: %v\nwant %q", err, want)
	}
	// A product fare_products.txt lacks: a warning, the row ignored.
	tab := mustLoad(t, map[string]string{"fare_products.txt": minimalProducts,
		"fare_time_periods.txt": "fare_product_id,from_minutes,unit_minutes,unit_amount\nnope,0,60,1.00\n"})
	if w := tab.Warnings(); len(w) != 1 || !strings.Contains(w[0].Error(), `fare_time_periods.txt:2: fare_product_id: fare product "nope" is not in fare_products.txt: the row is ignored`) {
		t.Errorf("warnings %v", w)
	}
}

// randomPeriods writes a random, valid fare_time_periods.txt of product p
// (1 to 4 windows, 1 to 4 periods each, units of 1 to 240 minutes), with
// caps when capped.
func randomPeriods(r *rand.Rand, capped bool) string {
	var b strings.Builder
	b.WriteString("fare_product_id,start_time,end_time,from_minutes,to_minutes,unit_minutes,unit_amount,free_minutes,window_cap_amount,day_cap_amount\n")
	free, dayCap := "", ""
	if r.IntN(2) == 0 {
		free = fmt.Sprint(r.IntN(120))
	}
	if capped {
		dayCap = fmt.Sprintf("%d.00", 1+r.IntN(80))
	}
	nw := 1 + r.IntN(4)
	var starts []int
	for len(starts) < nw {
		s := r.IntN(96) * 900
		if !slices.Contains(starts, s) {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	for k, s := range starts {
		st, en := "", ""
		if nw > 1 {
			st, en = Clock(s).String(), Clock(starts[(k+1)%nw]).String()
		} else if r.IntN(2) == 0 {
			// One window of the whole day, from some time to the same
			// time is empty: all day, written out.
			st, en = "00:00:00", "24:00:00"
		}
		wcap := ""
		if capped && r.IntN(2) == 0 {
			wcap = fmt.Sprintf("%d.00", r.IntN(30))
		}
		from := 0
		np := 1 + r.IntN(4)
		for i := range np {
			to := ""
			next := from + 1 + r.IntN(300)
			if i < np-1 {
				to = fmt.Sprint(next)
			}
			fmt.Fprintf(&b, "p,%s,%s,%d,%s,%d,%d.%02d,%s,%s,%s\n", st, en, from, to, 1+r.IntN(240), r.IntN(6), r.IntN(100), free, wcap, dayCap)
			from = next
		}
	}
	return b.String()
}

// periodsTable loads a table of product p on network n priced by the
// fare_time_periods.txt rows periods.
func periodsTable(t testing.TB, periods string) *Table {
	t.Helper()
	tab, err := Load(mapFeed(map[string]string{
		"fare_products.txt":     "fare_product_id,amount,currency\np,0.00,CNY\n",
		"fare_leg_rules.txt":    "network_id,fare_product_id\nn,p\n",
		"fare_time_periods.txt": periods,
	}))
	if err != nil {
		t.Fatalf("Load:\n%s\n%v", periods, err)
	}
	return tab
}

// unitByUnit is fee as the rule reads, one unit at a time, to check the
// arithmetic of periodFare.fee against.
func unitByUnit(pf *periodFare, start Clock, durS int64) int64 {
	if durS <= pf.freeS {
		return 0
	}
	durS = min(durS, timeStayMaxS)
	spentDay := map[int64]int64{}
	spentOcc := map[[2]int64]int64{} // (window start, the day its occurrence began)
	var fen int64
	for s := int64(0); s < durS; {
		abs := int64(start) + s
		tod := abs % day
		w := pf.window(tod)
		occDay := abs / day
		if w.endS <= w.startS && tod < w.endS {
			occDay-- // the night that began the evening before
		}
		p := w.period(s)
		c := p.unitFen
		k := [2]int64{w.startS, occDay}
		if w.capFen >= 0 {
			c = min(c, w.capFen-spentOcc[k])
		}
		if pf.dayCap >= 0 {
			c = min(c, pf.dayCap-spentDay[s/day])
		}
		fen += c
		spentOcc[k] += c
		spentDay[s/day] += c
		s += p.unitS
	}
	return fen
}

// TestTimePeriodsArithmetic: fee, counting the units of each run at once,
// charges what pricing unit by unit charges, for random tariffs, starts
// and stays of minutes to days; and its steps stay within stepsMax.
func TestTimePeriodsArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 31))
	for range 300 {
		tab := periodsTable(t, randomPeriods(r, r.IntN(2) == 0))
		pf := tab.products[0].time[0].byPeriods
		for range 20 {
			start := Clock(r.IntN(2 * day))
			dur := int64(r.IntN(5 * day))
			if r.IntN(3) == 0 {
				dur = int64(r.IntN(6 * 3600))
			}
			got, steps := pf.fee(start, dur)
			if want := unitByUnit(pf, start, dur); got != want {
				t.Fatalf("start %s, %d s: fee %d, unit by unit %d\n%+v", start, dur, got, want, *pf)
			}
			if steps > pf.stepsMax(dur) {
				t.Fatalf("start %s, %d s: %d steps, more than stepsMax %d", start, dur, steps, pf.stepsMax(dur))
			}
		}
	}
}

// TestTimePeriodsStayBound: the work of a quote is bounded by the
// windows and days, not the minutes, and a stay is priced for at most
// timeStayMaxS: a longer one costs what timeStayMaxS costs (README.md,
// fare_time_periods.txt).
func TestTimePeriodsStayBound(t *testing.T) {
	// The most windows a product may have, each with a one-minute unit:
	// the dearest tariff to compute.
	var b strings.Builder
	b.WriteString("fare_product_id,start_time,end_time,from_minutes,unit_minutes,unit_amount\n")
	for k := range timePeriodRowsMax {
		fmt.Fprintf(&b, "p,%s,%s,0,1,0.01\n", Clock(k*45*60), Clock((k+1)*45*60))
	}
	tab := periodsTable(t, b.String())
	pf := tab.products[0].time[0].byPeriods
	atMax, steps := pf.fee(0, timeStayMaxS)
	if atMax != timeStayMaxS/60 {
		t.Errorf("366 days of one-minute units at 0.01: %d fen, want %d", atMax, timeStayMaxS/60)
	}
	// 366 days of 32 windows: about 367 x 33 steps, never 527,040 (a
	// step a minute).
	if max := pf.stepsMax(timeStayMaxS); steps > max || max > 367*33+33 {
		t.Errorf("%d steps, stepsMax %d", steps, max)
	}
	var q Quote
	price := func(end Clock) int64 {
		t.Helper()
		if err := tab.Price(&Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{NetworkID: "n", Start: 0, End: end}}}, &q); err != nil {
			t.Fatal(err)
		}
		return q.TotalFen
	}
	if a, b := price(timeStayMaxS-60), price(timeStayMaxS); a != atMax-1 || b != atMax {
		t.Errorf("a minute short of the bound %d, at it %d; want %d, %d", a, b, atMax-1, atMax)
	}
	if c := price(timeStayMaxS + 3600); c != atMax {
		t.Errorf("an hour past the bound: %d, want %d, what the bound costs", c, atMax)
	}
}

// TestNingboBikeByPeriods: the sample feed's bikes moved from
// fare_time_rules.txt (free_minutes 60, charge_free_minutes 0,
// period_minutes 60, period_amount 1.00, day_cap_amount 10.00) to
// fare_time_periods.txt (a free first hour, then 1.00 an hour, 10.00 for
// each 24 hours) and cost what they cost before, for every stay and
// rider category.
func TestNingboBikeByPeriods(t *testing.T) {
	src := os.DirFS("testdata/ningbo")
	old := fstest.MapFS{}
	names, err := fs.Glob(src, "*.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(src, n)
		if err != nil {
			t.Fatal(err)
		}
		switch n {
		case "fare_time_periods.txt":
			continue
		case "fare_time_rules.txt":
			b = append(b, "bike_time,,60,0,,,60,1.00,10.00\n"...)
		}
		old[n] = &fstest.MapFile{Data: b}
	}
	before, err := Load(old)
	if err != nil {
		t.Fatal(err)
	}
	now := ningbo(t)
	if r := now.products[now.productIDs.get("bike_time")].time; len(r) != 1 || r[0].byPeriods == nil {
		t.Fatal("bike_time is not priced by fare_time_periods.txt")
	}
	if r := before.products[before.productIDs.get("bike_time")].time; len(r) != 1 || r[0].byPeriods != nil {
		t.Fatal("bike_time is not priced by fare_time_periods.txt now and fare_time_rules.txt before")
	}
	r := rand.New(rand.NewPCG(53, 59))
	var qa, qb Quote
	for range 5000 {
		start := Clock(r.IntN(day))
		dur := Clock(r.IntN(4 * day))
		if r.IntN(2) == 0 {
			dur = Clock(r.IntN(4 * 3600))
		}
		j := &Journey{Date: DateOf(2025, 6, 10), RiderCategory: propCats[r.IntN(len(propCats))], Legs: []Leg{{RouteID: "bike", Start: start, End: start + dur}}}
		if err1, err2 := now.Price(j, &qa), before.Price(j, &qb); err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if qa.TotalFen != qb.TotalFen || !qa.Complete {
			t.Fatalf("%s, %d s from %s: %d by periods, %d by the time rule", j.RiderCategory, dur, start, qa.TotalFen, qb.TotalFen)
		}
	}
}
