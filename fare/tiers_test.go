package fare

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// beijing loads testdata/beijing: a Beijing-like metro (distance fares)
// and bus, with the metro's monthly spend tier on the city card.
func beijing(t testing.TB) *Table {
	t.Helper()
	tab, err := Load(os.DirFS("testdata/beijing"))
	if err != nil {
		t.Fatalf("Load(testdata/beijing): %v", err)
	}
	if w := tab.Warnings(); len(w) > 0 {
		t.Fatalf("testdata/beijing warnings: %v", w)
	}
	return tab
}

// bjDoc is a journey on the city card of testdata/beijing in June 2025,
// with the month's spend before it, of the given legs.
func bjDoc(extra, spendMonth string, legs ...string) string {
	return `{"date":"2025-06-10","fare_media":"citycard"` + extra + `,"spend":{"month":"` + spendMonth + `"},"legs":[` + strings.Join(legs, ",") + `]}`
}

// Legs of testdata/beijing: Pingguoyuan to Xidan is 15 km (5.00), Xidan
// to Wangfujing 2.8 km (3.00).
const (
	bjPgyXd = `{"route_id":"m1","from_stop_id":"pgy","to_stop_id":"xd","start_time":"08:00:00","end_time":"08:30:00"}`
	bjXdWfj = `{"route_id":"m1","from_stop_id":"xd","to_stop_id":"wfj","start_time":"09:00:00","end_time":"09:10:00"}`
	bjBus   = `{"route_id":"b1","from_stop_id":"b_xd","start_time":"07:30:00"}`
)

// TestBeijingMetroTier follows Beijing's rule for the metro on the city
// card (北京市轨道交通票价: 市政交通一卡通, 每自然月内): within a calendar
// month, the rides after 100 yuan spent pay 80%, after 150 yuan 50%,
// after 400 yuan the full fare again; the tier is decided by the spend
// before the ride (the ride that crosses a threshold pays the tier in
// force at its start). testdata/beijing/fare_tiers.txt states it.
func TestBeijingMetroTier(t *testing.T) {
	tab := beijing(t)
	for _, tc := range []struct {
		name, doc string
		want      want
		tier      string // the explanation of the last leg mentions it, "" none
	}{
		// "满100元以后的乘次 8折": below 100 yuan, the full fare.
		{"99.99 spent", bjDoc("", "99.99", bjPgyXd), want{"5.00", []string{"metro_5 5.00"}}, ""},
		{"100.00 spent", bjDoc("", "100.00", bjPgyXd), want{"4.00", []string{"metro_5 4.00"}},
			"month tier bj_metro (fare_tiers.txt line 2): 100.00 spent this month before this leg, 80% from 100.00: 5.00 less 1.00 = 4.00"},
		// "满150元以后的乘次 5折".
		{"149.99 spent", bjDoc("", "149.99", bjPgyXd), want{"4.00", []string{"metro_5 4.00"}}, "80% from 100.00"},
		{"150.00 spent", bjDoc("", "150.00", bjPgyXd), want{"2.50", []string{"metro_5 2.50"}}, "50% from 150.00: 5.00 less 2.50 = 2.50"},
		// "支出累计达到400元以后的乘次, 不再享受打折优惠".
		{"399.99 spent", bjDoc("", "399.99", bjPgyXd), want{"2.50", []string{"metro_5 2.50"}}, "50% from 150.00"},
		{"400.00 spent", bjDoc("", "400.00", bjPgyXd), want{"5.00", []string{"metro_5 5.00"}}, "100% from 400.00: 5.00 less 0.00 = 5.00"},
		// The legs of the journey count towards the later legs: 96.00,
		// then 5.00 (the leg that crosses 100 pays its full fare), then
		// 80% of 3.00.
		{"crossing in the journey", bjDoc("", "96.00", bjPgyXd, bjXdWfj), want{"7.40", []string{"metro_5 5.00", "metro_3 2.40"}}, "101.00 spent this month"},
		// Only the metro's spend counts, and only the metro is discounted
		// (fare_tier_networks.txt): the bus's 1.00 leaves the metro below
		// 100, and a bus ride after 120 yuan pays its fare.
		{"bus spend does not count", bjDoc("", "99.50", bjBus, bjPgyXd), want{"6.00", []string{"bus_1 1.00", "metro_5 5.00"}}, ""},
		{"bus not discounted", bjDoc("", "120.00", bjBus), want{"1.00", []string{"bus_1 1.00"}}, ""},
		// On the city card only (fare_media_id citycard).
		{"single-journey ticket", `{"date":"2025-06-10","fare_media":"ticket","spend":{"month":"120.00"},"legs":[` + bjPgyXd + `]}`, want{"5.00", []string{"metro_5 5.00"}}, ""},
		// A rider category's percent first (student 50%: 2.50), then the
		// tier's (80%: 2.00).
		{"student", bjDoc(`,"rider_category":"student"`, "120.00", bjPgyXd), want{"2.00", []string{"metro_5 2.00"}}, "80% from 100.00: 2.50 less 0.50 = 2.00"},
		// A calendar month: the spend is June's; a leg after midnight on
		// 1 July starts July's count from nothing.
		{"next month", `{"date":"2025-06-30","fare_media":"citycard","spend":{"month":"120.00"},"legs":[` +
			`{"route_id":"m1","from_stop_id":"pgy","to_stop_id":"xd","start_time":"23:20:00","end_time":"23:50:00"},` +
			`{"route_id":"m1","from_stop_id":"xd","to_stop_id":"wfj","start_time":"24:05:00","end_time":"24:15:00"}]}`,
			want{"7.00", []string{"metro_5 4.00", "metro_3 3.00"}}, ""},
		// A maximum fare waiting for its tap-off is neither discounted
		// nor counted (as caps leave it out).
		{"maximum fare", bjDoc("", "120.00", `{"route_id":"m1","from_stop_id":"pgy","tap_off_missing":true,"start_time":"08:00:00"}`),
			want{"10.00", []string{"metro_max 10.00"}}, ""},
		{"maximum fare not counted", bjDoc("", "96.00", `{"route_id":"m1","from_stop_id":"pgy","tap_off_missing":true,"start_time":"07:00:00"}`, bjPgyXd),
			want{"15.00", []string{"metro_max 10.00", "metro_5 5.00"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := check(t, tab, tc.doc, tc.want)
			last := len(q.Legs) - 1
			e := q.Explanation(last)
			if tc.tier == "" && strings.Contains(e, "tier") || tc.tier != "" && !strings.Contains(e, tc.tier) {
				t.Errorf("explanation %q, want it to say %q", e, tc.tier)
			}
			if id := q.TierID(last); (id != "") != (tc.tier != "") || id != "" && id != "bj_metro" {
				t.Errorf("tier %q", id)
			}
		})
	}
}

// tierFeed is a small city with a flat bus (2.00), a flat metro (4.00;
// 3.00 after a bus within 90 minutes, fare_transfer_rules type 0), a
// ferry (2.25), a bus pass, and the tiers and caps given.
func tierFeed(t *testing.T, tiers, tierNetworks, caps string) *Table {
	t.Helper()
	files := map[string]string{
		"networks.txt":         "network_id\nbus\nmetro\nferry\n",
		"rider_categories.txt": "rider_category_id,is_default_fare_category,fare_percent\nadult,1,\nstudent,0,50\n",
		"fare_media.txt":       "fare_media_id\ncard\n",
		"fare_products.txt": `
fare_product_id,amount,currency,rider_category_id
bus_2,2.00,CNY,adult
metro_4,4.00,CNY,adult
metro_after_bus,3.00,CNY,adult
ferry,2.25,CNY,adult
bus_pass,90.00,CNY,adult
`,
		"fare_leg_rules.txt": `
leg_group_id,network_id,fare_product_id
bus,bus,bus_2
metro,metro,metro_4
ferry,ferry,ferry
`,
		"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id
bus,metro,5400,1,0,metro_after_bus
`,
		"fare_held_products.txt": "fare_product_id,kind,network_id\nbus_pass,pass,bus\n",
		"fare_tiers.txt":         tiers,
	}
	if tierNetworks != "" {
		files["fare_tier_networks.txt"] = tierNetworks
	}
	if caps != "" {
		files["fare_caps.txt"] = caps
	}
	return mustLoad(t, files)
}

func tierDoc(spend string, legs ...string) string {
	return `{"date":"2025-06-10","fare_media":"card","spend":{` + spend + `},"legs":[` + strings.Join(legs, ",") + `]}`
}

const (
	tBus    = `{"network_id":"bus","start_time":"08:00:00"}`
	tBus2   = `{"network_id":"bus","start_time":"18:00:00"}`
	tMetro  = `{"network_id":"metro","start_time":"08:30:00"}`
	tFerry  = `{"network_id":"ferry","start_time":"07:00:00"}`
	gzTiers = "tier_id,period,threshold_kind,threshold,fare_percent\ngz,month,rides,15,60\n"
	gzNets  = "tier_id,network_id\ngz,bus\ngz,metro\n"
)

// TestGuangzhouRidesTier follows Guangzhou's rule (广州市公共交通乘车优惠):
// within a calendar month, the bus and metro rides of one card from the
// 16th pay 60%, rides 1 to 15 the full fare. The threshold is the rides
// before the leg: 15.
func TestGuangzhouRidesTier(t *testing.T) {
	tab := tierFeed(t, gzTiers, gzNets, "")
	heldTab := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent,held_rides_count\ngz,month,rides,15,60,1\n", gzNets, "")
	pass := `,"products":[{"fare_product_id":"bus_pass"}]`
	for _, tc := range []struct {
		name string
		tab  *Table
		doc  string
		want want
	}{
		// "第1至15次按原价": the 15th ride.
		{"15th ride", tab, tierDoc(`"month_rides":14`, tBus), want{"2.00", []string{"bus_2 2.00"}}},
		// "从第16次开始享受6折".
		{"16th ride", tab, tierDoc(`"month_rides":15`, tBus), want{"1.20", []string{"bus_2 1.20"}}},
		{"16th in the journey", tab, tierDoc(`"month_rides":14`, tBus, tBus2), want{"3.20", []string{"bus_2 2.00", "bus_2 1.20"}}},
		// Bus and metro count; the ferry neither counts nor is discounted.
		{"ferry not counted", tab, tierDoc(`"month_rides":14`, tFerry, tBus), want{"4.25", []string{"ferry 2.25", "bus_2 2.00"}}},
		{"ferry not discounted", tab, tierDoc(`"month_rides":20`, tFerry), want{"2.25", []string{"ferry 2.25"}}},
		// The week's and day's rides are not the month's.
		{"week rides", tab, tierDoc(`"week_rides":20,"day_rides":20`, tBus), want{"2.00", []string{"bus_2 2.00"}}},
		// A transfer pays its discounted fare, then the tier's percent of
		// it: 60% of 3.00.
		{"transfer", tab, tierDoc(`"month_rides":15`, tBus, tMetro), want{"3.00", []string{"bus_2 1.20", "metro_after_bus 1.80"}}},
		// A ride on a pass pays nothing, and is a ride of the tier only
		// with held_rides_count 1.
		{"pass ride not counted", tab, `{"date":"2025-06-10","fare_media":"card","spend":{"month_rides":14},"legs":[` + tBus + `,` + tMetro + `]` + pass + `}`,
			want{"4.00", []string{"bus_pass 0.00", "metro_4 4.00"}}},
		{"pass ride counted", heldTab, `{"date":"2025-06-10","fare_media":"card","spend":{"month_rides":14},"legs":[` + tBus + `,` + tMetro + `]` + pass + `}`,
			want{"2.40", []string{"bus_pass 0.00", "metro_4 2.40"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := check(t, tc.tab, tc.doc, tc.want)
			if strings.Contains(tc.name, "16th") && !strings.Contains(q.Explanation(len(q.Legs)-1), "15 rides this month before this leg, 60% from 15 rides") {
				t.Errorf("explanation %q", q.Explanation(len(q.Legs)-1))
			}
		})
	}
}

// TestShanghaiSpendTier follows Shanghai's public transport card rule
// (上海公共交通卡): once 70 yuan is spent on the metro in a calendar
// month, metro rides pay 90%.
func TestShanghaiSpendTier(t *testing.T) {
	tab := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent\nsh,month,spend,70.00,90\n", "tier_id,network_id\nsh,metro\n", "")
	check(t, tab, tierDoc(`"month":"69.99"`, tMetro), want{"4.00", []string{"metro_4 4.00"}})
	check(t, tab, tierDoc(`"month":"70.00"`, tMetro), want{"3.60", []string{"metro_4 3.60"}})
	check(t, tab, tierDoc(`"month":"70.00"`, tBus), want{"2.00", []string{"bus_2 2.00"}})
	// 69.00 and a metro leg: 73.00 counted before the second, at 90%.
	check(t, tab, tierDoc(`"month":"69.00"`, tMetro, `{"network_id":"metro","start_time":"09:30:00"}`), want{"7.60", []string{"metro_4 4.00", "metro_4 3.60"}})
}

// TestTierDecisions follows README.md's "spend tiers" lines of the
// semantics table.
func TestTierDecisions(t *testing.T) {
	// "rounded half away from zero to the fen": 90% of 2.25 is 2.025.
	round := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent\nr,day,spend,0.00,90\n", "tier_id,network_id\nr,ferry\n", "")
	check(t, round, tierDoc(``, tFerry), want{"2.03", []string{"ferry 2.03"}})

	// "caps apply after tiers": 50% from the day's first ride, a day cap
	// of 2.50: 1.00, 1.00, then 0.50 (the cap counts what the tier left).
	capped := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent\nhalf,day,rides,0,50\n", "", "rider_category_id,period,amount\n,day,2.50\n")
	q := check(t, capped, tierDoc(``, tFerry, tBus, tBus2), want{"2.50", []string{"ferry 1.13", "bus_2 1.00", "bus_2 0.37"}})
	if e := q.Explanation(2); !strings.Contains(e, "50% from 0 rides: 2.00 less 1.00 = 1.00; daily cap reached: 0.37 charged, 0.63 waived") {
		t.Errorf("explanation %q", e)
	}
	if l := q.Legs[2]; l.TierFen != 100 || l.CapFen != 63 {
		t.Errorf("tier %d, cap %d; want 100, 63", l.TierFen, l.CapFen)
	}

	// "several tiers: the lowest percent", not their product.
	two := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent\nspend90,month,spend,0.00,90\nrides80,month,rides,0,80\n", "", "")
	q = check(t, two, tierDoc(``, tBus), want{"1.60", []string{"bus_2 1.60"}})
	if id := q.TierID(0); id != "rides80" {
		t.Errorf("tier %q, want rides80", id)
	}

	// A tier for one rider category.
	student := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent,rider_category_id\ns,month,rides,0,50,student\n", "", "")
	check(t, student, tierDoc(``, tBus), want{"2.00", []string{"bus_2 2.00"}})
	check(t, student, `{"date":"2025-06-10","rider_category":"student","legs":[`+tBus+`]}`, want{"0.50", []string{"bus_2 0.50"}})

	// A week: Monday to Sunday. Sunday 15 June's week rides do not
	// count on Monday 16 June.
	week := tierFeed(t, "tier_id,period,threshold_kind,threshold,fare_percent\nw,week,rides,10,50\n", "", "")
	check(t, week, `{"date":"2025-06-15","spend":{"week_rides":10},"legs":[`+tBus+`]}`, want{"1.00", []string{"bus_2 1.00"}})
	check(t, week, `{"date":"2025-06-15","spend":{"week_rides":10},"legs":[{"network_id":"bus","start_time":"23:00:00"},{"network_id":"bus","start_time":"24:30:00"}]}`,
		want{"3.00", []string{"bus_2 1.00", "bus_2 2.00"}})
}

// TestSpentLegs: legs Spend counts already (a terminal pricing a tap
// after the leg before it) are neither counted again nor discounted.
func TestSpentLegs(t *testing.T) {
	tab := beijing(t)
	metro := func(from, to string, at Clock) Leg {
		return Leg{RouteID: "m1", FromStopID: from, ToStopID: to, Start: at, End: at + 600}
	}
	// The card spent 94.00, then 5.00 on the first leg: 99.00.
	j := &Journey{Date: DateOf(2025, 6, 10), FareMedia: "citycard", Spend: Spend{MonthFen: 9900},
		Legs: []Leg{metro("pgy", "xd", 8*3600), metro("xd", "wfj", 9*3600)}, SpentLegs: 1}
	var q Quote
	if err := tab.Price(j, &q); err != nil {
		t.Fatal(err)
	}
	if q.Legs[0].AmountFen != 500 || q.Legs[1].AmountFen != 300 {
		t.Errorf("legs %d, %d; want 500, 300 (99.00 before the second)\n%s", q.Legs[0].AmountFen, q.Legs[1].AmountFen, dump(&q))
	}
	// Counted twice, it would pass 100.00.
	j.SpentLegs = 0
	if err := tab.Price(j, &q); err != nil || q.Legs[1].AmountFen != 240 {
		t.Errorf("without SpentLegs: %d, %v; want 240", q.Legs[1].AmountFen, err)
	}
	for _, n := range []int{-1, 3} {
		j.SpentLegs = n
		if err := tab.Price(j, &q); err == nil {
			t.Errorf("SpentLegs %d of 2 legs: no error", n)
		}
	}
}

// TestTierJSON: the journey's spend carries the rides, strictly; the
// quote names the tier and what it took off.
func TestTierJSON(t *testing.T) {
	tab := beijing(t)
	j, err := tab.ParseJourney([]byte(`{"date":"2025-06-10","legs":[{}],"spend":{"month":"1.00","day_rides":1,"week_rides":2,"month_rides":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Spend{MonthFen: 100, DayRides: 1, WeekRides: 2, MonthRides: 3}); j.Spend != want {
		t.Errorf("spend %+v, want %+v", j.Spend, want)
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"date":"2025-06-10","legs":[{}],"spend":{"month_rides":-1}}`, "spend.month_rides: -1 is not 0 to 1000000"},
		{`{"date":"2025-06-10","legs":[{}],"spend":{"day_rides":1000001}}`, "spend.day_rides: 1000001 is not 0 to 1000000"},
		{`{"date":"2025-06-10","legs":[{}],"spend":{"week_rides":1.5}}`, "week_rides"},
		{`{"date":"2025-06-10","legs":[{}],"spend":{"month_rides":1,"month_rides":2}}`, "spend.month_rides: given twice"},
		{`{"date":"2025-06-10","legs":[{}],"spend":{"year_rides":1}}`, "unknown field"},
	} {
		if _, err := tab.ParseJourney([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseJourney(%s) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
	if j, err := tab.ParseJourney([]byte(`{"date":"2025-06-10","legs":[{}],"spend":{"day_rides":1000000}}`)); err != nil || j.Spend.DayRides != 1000000 {
		t.Errorf("1000000 rides, the limit: %v", err)
	}
	q := quote(t, tab, bjDoc("", "120.00", bjPgyXd))
	b, err := json.Marshal(q.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"tier":"1.00","tier_id":"bj_metro"`) {
		t.Errorf("quote JSON %s lacks the tier", b)
	}
	if s := tab.Summary(); s.Tiers != 1 {
		t.Errorf("summary: %d tiers, want 1", s.Tiers)
	}
}

func TestTierLoadErrors(t *testing.T) {
	base := func(tiers, nets string) map[string]string {
		m := map[string]string{"fare_products.txt": minimalProducts, "networks.txt": "network_id\nbus\n", "fare_media.txt": "fare_media_id\ncard\n", "fare_tiers.txt": tiers}
		if nets != "" {
			m["fare_tier_networks.txt"] = nets
		}
		return m
	}
	const head = "tier_id,period,threshold_kind,threshold,fare_percent\n"
	for _, tc := range []struct {
		name, tiers, nets, want string
	}{
		{"period", head + "a,year,spend,1.00,80\n", "", `fare_tiers.txt:2: period: "year" is not day, week or month`},
		{"kind", head + "a,month,trips,1,80\n", "", `fare_tiers.txt:2: threshold_kind: "trips" is not spend or rides`},
		{"percent", head + "a,month,spend,1.00,101\n", "", `fare_tiers.txt:2: fare_percent: 101 is not in 0..100`},
		{"no percent", head + "a,month,spend,1.00,\n", "", `fare_tiers.txt:2: fare_percent: required, empty`},
		{"no threshold", head + "a,month,spend,,80\n", "", `fare_tiers.txt:2: threshold: required, empty`},
		{"spend amount", head + "a,month,spend,1.001,80\n", "", `fare_tiers.txt:2: threshold: "1.001" has more than 2 decimals`},
		{"negative spend", head + "a,month,spend,-1.00,80\n", "", `fare_tiers.txt:2: threshold: "-1.00" is negative`},
		{"rides count", head + "a,month,rides,1.5,80\n", "", `fare_tiers.txt:2: threshold: "1.5" is not an integer`},
		{"rides bound", head + "a,month,rides,1000001,80\n", "", `fare_tiers.txt:2: threshold: 1000001 is not in 0..1000000`},
		{"same step twice", head + "a,month,spend,1.00,80\na,month,spend,1.00,50\n", "", `fare_tiers.txt:3: threshold: tier "a" has a step from 1.00 already, line 2`},
		{"period differs", head + "a,month,spend,1.00,80\na,day,spend,2.00,50\n", "", `fare_tiers.txt:3: period: tier "a" has period month on line 2`},
		{"kind differs", head + "a,month,spend,1.00,80\na,month,rides,2,50\n", "", `fare_tiers.txt:3: threshold_kind: tier "a" counts spend on line 2`},
		{"media differs", "tier_id,period,threshold_kind,threshold,fare_percent,fare_media_id\na,month,spend,1.00,80,\na,month,spend,2.00,50,card\n", "",
			`fare_tiers.txt:3: fare_media_id: tier "a" is for another fare media on line 2`},
		{"unknown tier", head + "a,month,spend,1.00,80\n", "tier_id,network_id\nb,bus\n", `fare_tier_networks.txt:2: tier_id: tier "b" is not in fare_tiers.txt`},
		{"network twice", head + "a,month,spend,1.00,80\n", "tier_id,network_id,discounted,counted\na,bus,0,0\na,bus,1,1\n", `fare_tier_networks.txt:3: network_id: network given twice for tier "a"`},
		{"flag", head + "a,month,spend,1.00,80\n", "tier_id,network_id,counted\na,bus,2\n", `fare_tier_networks.txt:2: counted: "2" is not 0 or 1`},
		{"too many steps", head + manyTiers(1, 17), "", `fare_tiers.txt:18: tier_id: tier "a" has more than 16 steps`},
		{"too many tiers", head + manyTiers(17, 1), "", `fare_tiers.txt:18: tier_id: more than 16 tiers`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(mapFeed(base(tc.tiers, tc.nets)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
	// 16 tiers of 16 steps: the limits themselves load.
	if _, err := Load(mapFeed(base(head+manyTiers(16, 16), ""))); err != nil {
		t.Errorf("16 tiers of 16 steps: %v", err)
	}
	if _, err := Load(mapFeed(base(head+"a,month,rides,1000000,0\na,month,rides,0,100\n", ""))); err != nil {
		t.Errorf("a threshold of 1000000 rides, percents 0 and 100: %v", err)
	}
	// A tier for a rider category the feed lacks is a warning, and
	// applies to no one.
	tab, err := Load(mapFeed(map[string]string{"fare_products.txt": minimalProducts, "fare_leg_rules.txt": "network_id,fare_product_id\nbus,p\n",
		"rider_categories.txt": "rider_category_id,is_default_fare_category\nadult,1\n",
		"fare_tiers.txt":       "tier_id,period,threshold_kind,threshold,fare_percent,rider_category_id\na,month,rides,0,50,ghost\n"}))
	if err != nil || len(tab.Warnings()) != 1 || !strings.Contains(tab.Warnings()[0].Error(), `rider category "ghost" is not defined: the tier applies to no one`) {
		t.Fatalf("Load: %v, warnings %v", err, tab.Warnings())
	}
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"bus","start_time":"08:00:00"}]}`, want{"2.00", []string{"p 2.00"}})
}

// manyTiers writes n tiers (a, b, ...) of steps rows each, from 0, 1, ...
// rides.
func manyTiers(n, steps int) string {
	var b strings.Builder
	for k := range n {
		for i := range steps {
			b.WriteString(string(rune('a'+k)) + ",month,rides," + strconv.Itoa(i) + ",80\n")
		}
	}
	return b.String()
}

// tiersOver returns the sample feed of testdata/ningbo with tiers added:
// random steps (percents 0 to 100), periods, counts and networks.
func tiersOver(t *testing.T, r *rand.Rand) (*Table, string) {
	t.Helper()
	fsys := fstest.MapFS{}
	entries, err := os.ReadDir("testdata/ningbo")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile("testdata/ningbo/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	var tiers, nets strings.Builder
	tiers.WriteString("tier_id,period,threshold_kind,threshold,fare_percent,held_rides_count\n")
	nets.WriteString("tier_id,network_id,discounted,counted\n")
	periods := []string{"day", "week", "month"}
	for k := range 1 + r.IntN(3) {
		id := string(rune('a' + k))
		period, kind := periods[r.IntN(3)], []string{"spend", "rides"}[r.IntN(2)]
		held := r.IntN(2)
		var from int64 // thresholds ascending: a step from each
		for i := range 1 + r.IntN(4) {
			if i > 0 {
				from += 1 + int64(r.IntN(3))
				if kind == "spend" {
					from += int64(r.IntN(5000))
				}
			}
			th := strconv.FormatInt(from, 10)
			if kind == "spend" {
				th = formatAmount(from, 2)
			}
			pct := []string{"0", "50", "60", "80", "90", "100"}[r.IntN(6)]
			tiers.WriteString(id + "," + period + "," + kind + "," + th + "," + pct + "," + string(rune('0'+held)) + "\n")
		}
		if r.IntN(2) == 0 {
			for _, n := range []string{"bus", "metro", "parking"} {
				if r.IntN(2) == 0 {
					nets.WriteString(id + "," + n + "," + string(rune('0'+r.IntN(2))) + "," + string(rune('0'+r.IntN(2))) + "\n")
				}
			}
		}
	}
	fsys["fare_tiers.txt"] = &fstest.MapFile{Data: []byte(tiers.String())}
	fsys["fare_tier_networks.txt"] = &fstest.MapFile{Data: []byte(nets.String())}
	tab, err := Load(fsys)
	if err != nil {
		t.Fatalf("Load with tiers:\n%s\n%s\n%v", tiers.String(), nets.String(), err)
	}
	return tab, tiers.String() + nets.String()
}

// TestPropertyTierNeverDearer: a tier never makes a journey dearer than
// without it (README.md: a tier's percent is 0 to 100, and caps apply
// after it), whatever the tiers, the journey and the spend and rides
// before it; a reused quote prices as a fresh one.
func TestPropertyTierNeverDearer(t *testing.T) {
	plain := ningbo(t)
	r := rand.New(rand.NewPCG(29, 31))
	var pq, tq, fresh Quote
	discounted := 0
	for range 25 {
		tab, desc := tiersOver(t, r)
		for range 400 {
			j := randomJourney(r)
			j.Spend.DayRides, j.Spend.WeekRides, j.Spend.MonthRides = r.IntN(6), r.IntN(20), r.IntN(60)
			if r.IntN(4) == 0 {
				j.SpentLegs = r.IntN(len(j.Legs) + 1) // a terminal's journey: its first legs in the spend
			}
			if err := plain.Price(j, &pq); err != nil {
				t.Fatal(err)
			}
			if err := tab.Price(j, &tq); err != nil {
				t.Fatal(err)
			}
			checkQuote(t, &tq)
			if tq.TotalFen > pq.TotalFen {
				t.Fatalf("with tiers %d, without %d\n%s%+v\n%s\n%s", tq.TotalFen, pq.TotalFen, desc, j, dump(&tq), dump(&pq))
			}
			if tq.TotalFen < pq.TotalFen {
				discounted++
			}
			for i := range tq.Legs {
				if l := tq.Legs[i]; l.JoinedTo < 0 && l.AmountFen > l.FullFen {
					t.Fatalf("leg %d: charged %d, more than its own fare %d\n%s", i, l.AmountFen, l.FullFen, dump(&tq))
				}
			}
			fresh = Quote{}
			if err := tab.Price(j, &fresh); err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(tq.JSON())
			b, _ := json.Marshal(fresh.JSON())
			if string(a) != string(b) {
				t.Fatalf("a reused quote differs from a fresh one:\n%s\n%s", a, b)
			}
		}
	}
	if discounted < 500 {
		t.Errorf("only %d of 10000 journeys discounted by a tier", discounted)
	}
}

// TestTierWarmQuoteAllocatesNothing: pricing with tiers allocates
// nothing on a warm Quote, as without them.
func TestTierWarmQuoteAllocatesNothing(t *testing.T) {
	tab := beijing(t)
	j, err := tab.ParseJourney([]byte(bjDoc("", "120.00", bjPgyXd, bjXdWfj)))
	if err != nil {
		t.Fatal(err)
	}
	var q Quote
	if err := tab.Price(j, &q); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = tab.Price(j, &q) }); n != 0 {
		t.Errorf("%v allocations a warm Quote, want 0", n)
	}
	if q.Legs[1].TierFen != 60 {
		t.Errorf("tier %d fen, want 60", q.Legs[1].TierFen)
	}
}
