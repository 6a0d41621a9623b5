package fare

import (
	"strings"
	"testing"
)

// metroLeg is a journey of one adult metro leg on line 1 of the sample
// feed, from and to the given stops, between the given times.
func metroLeg(from, to, start, end, extra string) string {
	return `{"date":"2025-06-10"` + extra + `,"legs":[{"route_id":"m1","from_stop_id":"` + from + `","to_stop_id":"` + to +
		`","start_time":"` + start + `","end_time":"` + end + `"}]}`
}

// TestOvertimeSurcharge follows the sample's fare_networks.txt metro row
// (README "fare_networks.txt": overtime_minutes, overtime_product_id):
// Ningbo's metro allows 120 minutes from entry to exit and has an
// overtime exit pay the highest single fare on top (宁波日报 2015-09-19,
// "超时乘车出站时,按出闸站的最高单程票价补交票款"; the sample takes the
// network's highest fare, metro_max 8.00, for the exit station's). A stay
// of exactly the limit is not overtime; one second more is.
func TestOvertimeSurcharge(t *testing.T) {
	tab := ningbo(t)
	// gq to fm: 15.5 km, metro_4 4.00.
	q := check(t, tab, metroLeg("gq", "fm", "08:00:00", "10:00:00", ""), want{"4.00", []string{"metro_4 4.00"}})
	if q.Legs[0].OvertimeFen() != 0 {
		t.Errorf("120 min: overtime %d fen, want none", q.Legs[0].OvertimeFen())
	}
	q = check(t, tab, metroLeg("gq", "fm", "08:00:00", "10:00:01", ""), want{"12.00", []string{"metro_4 12.00"}})
	l := q.Legs[0]
	if l.OvertimeFen() != 800 || l.FullFen != 1200 {
		t.Errorf("120 min 1 s: overtime %d fen, full %d, want 800 and 1200", l.OvertimeFen(), l.FullFen)
	}
	if e := q.Explanation(0); !strings.Contains(e, "2h0m1s in the paid area, over the 120 min limit of fare_networks.txt line 3: overtime surcharge") ||
		!strings.Contains(e, "metro_4), fare_leg_rules.txt line 6") || !strings.Contains(e, ": 4.00;") {
		t.Errorf("explanation %q", e)
	}
	if j := q.JSON(); j.Legs[0].Overtime != "8.00" || j.Legs[0].Amount != "12.00" {
		t.Errorf("JSON overtime %q, amount %q", j.Legs[0].Overtime, j.Legs[0].Amount)
	}
	// A student pays half of both (fare_percent 50).
	check(t, tab, metroLeg("gq", "fm", "08:00:00", "10:30:00", `,"rider_category":"student"`), want{"6.00", []string{"metro_4 6.00"}})
	// The surcharge is not capped, nor does it count towards the cap: the
	// adult day cap (10.00) is reached, the fare waived, the surcharge due.
	q = check(t, tab, metroLeg("gq", "fm", "08:00:00", "10:30:00", `,"spend":{"day":"10.00"}`), want{"8.00", []string{"metro_4 8.00"}})
	if q.Legs[0].CapFen != 400 {
		t.Errorf("cap took %d fen, want the fare's 400", q.Legs[0].CapFen)
	}
	// Without its tap-off a leg has no stay to measure: the maximum fare.
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"gq","tap_off_missing":true,"start_time":"08:00:00"}]}`,
		want{"8.00", []string{"metro_max 8.00"}})
	// Across midnight: 23:00 to 01:30 is 150 minutes.
	check(t, tab, metroLeg("gq", "fm", "23:00:00", "01:30:00", ""), want{"12.00", nil})
}

// overtimeFeed is a metro priced as Guangzhou publishes its overtime
// (广州市城市轨道交通乘客守则, 2016: 4 hours from entry to exit; an
// overtime exit pays the highest fare of the network), with a bus and a
// 1.00 bus-metro discount. The network has no overtime_product_id: its
// maximum fare is the overtime leg's fare.
var overtimeFeed = map[string]string{
	"fare_products.txt": `
fare_product_id,amount,currency
bus,2.00,CNY
m3,3.00,CNY
m9,9.00,CNY
mmax,10.00,CNY
disc,-1.00,CNY
`,
	"fare_leg_rules.txt": `
leg_group_id,network_id,fare_product_id,min_distance_m,max_distance_m
gb,bus,bus,,
gm,metro,m3,,10000
gm,metro,m9,10000,
`,
	"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id
gb,gm,28800,1,1,disc
`,
	"fare_networks.txt": `
network_id,max_fare_product_id,overtime_minutes
metro,mmax,240
`,
}

// TestOvertimeMaximumFare: without overtime_product_id, an overtime leg
// pays the network's maximum fare in place of its own (README
// "fare_networks.txt": overtime_minutes), a fare as any other: a
// transfer discount still applies to it.
func TestOvertimeMaximumFare(t *testing.T) {
	tab := mustLoad(t, overtimeFeed)
	leg := func(dist, start, end string) string {
		return `{"network_id":"metro","from_stop_id":"a","to_stop_id":"b","distance_m":` + dist + `,"start_time":"` + start + `","end_time":"` + end + `"}`
	}
	one := func(l string) string { return `{"date":"2025-06-10","legs":[` + l + `]}` }
	check(t, tab, one(leg("5000", "08:00:00", "12:00:00")), want{"3.00", []string{"m3 3.00"}})
	q := check(t, tab, one(leg("5000", "08:00:00", "12:00:01")), want{"10.00", []string{"mmax 10.00"}})
	if e := q.Explanation(0); !strings.Contains(e, "4h0m1s in the paid area, over the 240 min limit of fare_networks.txt line 2: the network's maximum fare mmax (mmax): 10.00") {
		t.Errorf("explanation %q", e)
	}
	// After a bus: the overtime leg's fare is the maximum, less the
	// discount: 2.00 + 10.00 - 1.00.
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"bus","start_time":"07:50:00"},`+leg("5000", "08:00:00", "13:00:00")+`]}`,
		want{"11.00", []string{"bus 2.00", "disc 9.00"}})
	// A maximum fare below a leg's own (a table's mistake) never lowers it.
	low := map[string]string{}
	for k, v := range overtimeFeed {
		low[k] = v
	}
	low["fare_products.txt"] = strings.Replace(overtimeFeed["fare_products.txt"], "mmax,10.00", "mmax,5.00", 1)
	check(t, mustLoad(t, low), one(leg("20000", "08:00:00", "13:00:00")), want{"9.00", []string{"m9 9.00"}})
}

// TestSameStationExit follows the sample's metro row (README
// "fare_networks.txt": same_station_product_id,
// same_station_free_minutes): since 1 August 2024 Ningbo's metro lets a
// card leave at the station it entered within 10 minutes for nothing
// ("本站进出" 10分钟内免费); later, the sample charges the minimum fare,
// metro_2 2.00. Stops of one station (gulou_1 and gulou_2 of gulou) are
// the same station. 10 minutes exactly is within; one second more is not.
func TestSameStationExit(t *testing.T) {
	tab := ningbo(t)
	q := check(t, tab, metroLeg("gulou_1", "gulou_2", "08:00:00", "08:10:00", ""), want{"0.00", []string{"metro_2 0.00"}})
	if e := q.Explanation(0); e != "exit at the entry station gulou_2 after 10m0s, within the 10 free minutes of fare_networks.txt line 3: nothing to pay" {
		t.Errorf("explanation %q", e)
	}
	if !q.Legs[0].Priced || q.Legs[0].FullFen != 0 {
		t.Errorf("a free exit is priced at 0: priced %v, full %d", q.Legs[0].Priced, q.Legs[0].FullFen)
	}
	q = check(t, tab, metroLeg("gulou_1", "gulou_2", "08:00:00", "08:10:01", ""), want{"2.00", []string{"metro_2 2.00"}})
	if e := q.Explanation(0); !strings.Contains(e, "exit at the entry station gulou_2 after 10m1s, past the 10 free minutes: the same-station fare") {
		t.Errorf("explanation %q", e)
	}
	// Without times the stay is unknown: the same-station fare.
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"fm","to_stop_id":"fm"}]}`, want{"2.00", []string{"metro_2 2.00"}})
	// After a bus, the free exit is free still, and a transfer: the
	// journey goes on from it.
	q = check(t, tab, `{"date":"2025-06-10","fare_media":"citycard","legs":[{"route_id":"b1","start_time":"07:50:00"},
		{"route_id":"m1","from_stop_id":"fm","to_stop_id":"fm","start_time":"08:00:00","end_time":"08:05:00"}]}`,
		want{"2.00", []string{"bus_single 2.00", "xfer_discount 0.00"}})
	if !q.Legs[1].Transfer {
		t.Errorf("the free exit after a bus is not a transfer:\n%s", dump(q))
	}
	// A stay over the limit at one station is overtime too.
	check(t, tab, metroLeg("fm", "fm", "08:00:00", "10:05:00", ""), want{"10.00", []string{"metro_2 10.00"}})
}

// TestSameStationFare: a network with a same-station fare and no free
// minutes (Guangzhou: an exit at the entry station pays the lowest fare,
// 2.00) charges it whatever the distance the rules would find.
func TestSameStationFare(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"fare_products.txt":  "fare_product_id,amount,currency\nm2,2.00,CNY\nm4,4.00,CNY\n",
		"fare_leg_rules.txt": "leg_group_id,network_id,fare_product_id\ngm,metro,m4\n",
		"fare_networks.txt":  "network_id,same_station_product_id\nmetro,m2\n",
	})
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"metro","from_stop_id":"a","to_stop_id":"a","start_time":"08:00:00","end_time":"08:01:00"}]}`,
		want{"2.00", []string{"m2 2.00"}})
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"metro","from_stop_id":"a","to_stop_id":"b","start_time":"08:00:00","end_time":"08:01:00"}]}`,
		want{"4.00", []string{"m4 4.00"}})
}

// TestMinBalance reads the sample's metro minimum balance (README
// "fare_networks.txt": min_balance_amount): Ningbo's metro takes no card
// holding less than 2 yuan.
func TestMinBalance(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct {
		network string
		fen     int64
		ok      bool
	}{{"metro", 200, true}, {"bus", 0, false}, {"parking", 0, false}, {"nowhere", 0, false}} {
		if fen, ok := tab.MinBalanceFen(tc.network); fen != tc.fen || ok != tc.ok {
			t.Errorf("MinBalanceFen(%q) = %d, %v; want %d, %v", tc.network, fen, ok, tc.fen, tc.ok)
		}
	}
}

// discountFeed is a bus and metro with a 1.00 discount between them each
// way within 120 minutes, as Shanghai publishes for its card (换乘地铁享1元
// 优惠, 2 hours), with conditions the README's fare_transfer_rules.txt
// columns express: the earlier leg paid at least 2.00, and one discount
// of the group per discount_window (the figures of this test). A
// community bus costs 1.00.
func discountFeed(window string, metroBus string) map[string]string {
	return map[string]string{
		"fare_products.txt": `
fare_product_id,amount,currency
bus,2.00,CNY
cbus,1.00,CNY
metro,3.00,CNY
d1,-1.00,CNY
d15,-1.50,CNY
d5,-5.00,CNY
`,
		"routes.txt": "route_id,network_id\nb,bus\nc,bus\nm,metro\n",
		"fare_leg_rules.txt": `
leg_group_id,network_id,from_area_id,fare_product_id
gb,bus,,bus
gb,bus,community,cbus
gm,metro,,metro
`,
		"stop_areas.txt": "area_id,stop_id\ncommunity,c1\n",
		"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id,min_from_leg_amount,discount_group_id,discount_window
gb,gm,7200,1,1,d1,2.00,sh,` + window + `
gm,gb,7200,1,1,` + metroBus + `,2.00,sh,` + window + `
`,
	}
}

// TestTransferDiscountConditions prices the README's
// fare_transfer_rules.txt extension columns: min_from_leg_amount (what
// the earlier leg paid, at least), discount_group_id and discount_window
// (one transfer of the group per window, inclusive, from the start of
// the leg that took it), and a discount never larger than the later
// leg's fare, chosen by the search where it saves the most.
func TestTransferDiscountConditions(t *testing.T) {
	tab := mustLoad(t, discountFeed("3600", "d1"))
	leg := func(route, from, start string) string {
		return `{"route_id":"` + route + `","from_stop_id":"` + from + `","start_time":"` + start + `"}`
	}
	journey := func(legs ...string) string {
		return `{"date":"2025-06-10","legs":[` + strings.Join(legs, ",") + `]}`
	}
	for _, tc := range []struct {
		name    string
		journey string
		want    want
	}{
		{"bus then metro", journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00")), want{"4.00", []string{"bus 2.00", "d1 2.00"}}},
		// 1.00 paid on the community bus is less than 2.00.
		{"community bus then metro", journey(leg("c", "c1", "08:00:00"), leg("m", "s", "08:30:00")), want{"4.00", []string{"cbus 1.00", "metro 3.00"}}},
		// One discount per hour: the third leg starts 60 min after the
		// metro that took one (inclusive), then one second later.
		{"second discount in the window", journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00"), leg("b", "s", "09:30:00")),
			want{"6.00", []string{"bus 2.00", "d1 2.00", "bus 2.00"}}},
		{"second discount after the window", journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00"), leg("b", "s", "09:30:01")),
			want{"5.00", []string{"bus 2.00", "d1 2.00", "d1 1.00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := check(t, tab, tc.journey, tc.want)
			checkQuote(t, q)
		})
	}
	// Without a window, one discount a journey.
	check(t, mustLoad(t, discountFeed("", "d1")), journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00"), leg("b", "s", "11:00:00")),
		want{"6.00", []string{"bus 2.00", "d1 2.00", "bus 2.00"}})
	// The search gives the one discount to the leg where it saves most:
	// 1.50 off the last bus, not 1.00 off the metro.
	q := check(t, mustLoad(t, discountFeed("3600", "d15")), journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00"), leg("b", "s", "09:00:00")),
		want{"5.50", []string{"bus 2.00", "metro 3.00", "d15 0.50"}})
	if e := q.Explanation(2); !strings.Contains(e, "(leg 1 paid at least 2.00) (the journey's one transfer of discount group sh in 60 min)") {
		t.Errorf("explanation %q", e)
	}
	// A discount of 5.00 on a 2.00 bus: the bus pays nothing, never less,
	// and the journey pays what it would without the ride.
	q = check(t, mustLoad(t, discountFeed("3600", "d5")), journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00"), leg("b", "s", "09:00:00")),
		want{"5.00", []string{"bus 2.00", "metro 3.00", "d5 0.00"}})
	alone := check(t, mustLoad(t, discountFeed("3600", "d5")), journey(leg("b", "s", "08:00:00"), leg("m", "s", "08:30:00")), want{"4.00", nil})
	if q.TotalFen < alone.TotalFen+100 {
		t.Errorf("the journey with a ride more pays %d, less than the 2.00 more than without it (%d)", q.TotalFen, alone.TotalFen)
	}
}

// TestLoadMetroColumns: the metro columns' errors and warnings name file,
// line and field (README "fare_networks.txt", "fare_transfer_rules.txt").
func TestLoadMetroColumns(t *testing.T) {
	products := "fare_product_id,amount,currency\np,2.00,CNY\nd,-1.00,CNY\n"
	for _, tc := range []struct {
		name, networks, transfers, want string
	}{
		{"overtime limit", "network_id,max_fare_product_id,overtime_minutes\nm,p,0\n", "",
			"fare_networks.txt:2: overtime_minutes: 0 is not in 1..10080"},
		{"overtime fare", "network_id,overtime_minutes\nm,240\n", "",
			"fare_networks.txt:2: overtime_minutes: needs max_fare_product_id (the fare of an overtime leg) or overtime_product_id (a surcharge on top)"},
		{"surcharge alone", "network_id,overtime_product_id\nm,p\n", "",
			"fare_networks.txt:2: overtime_product_id: forbidden without overtime_minutes"},
		{"free minutes", "network_id,overtime_product_id,overtime_minutes,same_station_free_minutes\nm,p,10,10\n", "",
			"fare_networks.txt:2: same_station_free_minutes: 10 min is not less than overtime_minutes 10"},
		{"negative surcharge", "network_id,overtime_minutes,overtime_product_id\nm,60,d\n", "",
			`fare_networks.txt:2: overtime_product_id: product "d" costs -1.00: a surcharge is 0 to 1000000.00`},
		{"minimum balance", "network_id,min_balance_amount\nm,-1.00\n", "",
			"fare_networks.txt:2: min_balance_amount: a minimum balance is not negative"},
		{"minimum fare", "", "fare_transfer_type,min_from_leg_amount\n1,-0.01\n",
			"fare_transfer_rules.txt:2: min_from_leg_amount: a minimum fare is not negative"},
		{"window alone", "", "fare_transfer_type,discount_window\n1,60\n",
			"fare_transfer_rules.txt:2: discount_window: forbidden without discount_group_id"},
		{"window", "", "fare_transfer_type,discount_group_id,discount_window\n1,g,0\n",
			"fare_transfer_rules.txt:2: discount_window: 0 is not in 1..31622400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"fare_products.txt": products}
			if tc.networks != "" {
				files["fare_networks.txt"] = tc.networks
			}
			if tc.transfers != "" {
				files["fare_transfer_rules.txt"] = tc.transfers
			}
			_, err := Load(mapFeed(files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v\nwant %q", err, tc.want)
			}
		})
	}
	// A surcharge product the feed lacks: a warning, and no overtime (not
	// the maximum fare in its place).
	tab := mustLoad(t, map[string]string{
		"fare_products.txt":  "fare_product_id,amount,currency\np,2.00,CNY\nmax,9.00,CNY\n",
		"fare_leg_rules.txt": "network_id,fare_product_id\nm,p\n",
		"fare_networks.txt":  "network_id,max_fare_product_id,overtime_minutes,overtime_product_id\nm,max,60,nope\n",
	})
	if w := tab.Warnings(); len(w) != 1 || !strings.Contains(w[0].Error(), `fare_networks.txt:2: overtime_product_id: fare product "nope" is not in fare_products.txt: no overtime is charged`) {
		t.Errorf("warnings %v", w)
	}
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"m","from_stop_id":"a","to_stop_id":"b","start_time":"08:00:00","end_time":"12:00:00"}]}`,
		want{"2.00", []string{"p 2.00"}})
}

// TestSameStationFreeExitTakesNoRide: a free exit at the entry station
// costs nothing, so no held product pays it: a pass with a daily ride
// limit keeps its ride, a count ticket its rides. It used to be paid
// from the student's monthly pass, which sorted first at 0.00 before the
// exit was waived.
func TestSameStationFreeExitTakesNoRide(t *testing.T) {
	tab := ningbo(t)
	pass := `,"rider_category":"student","products":[{"fare_product_id":"student_monthly","valid_from":"2025-06-01","valid_to":"2025-06-30"}]`
	q := check(t, tab, metroLeg("gulou_1", "gulou_2", "08:00:00", "08:10:00", pass), want{"0.00", []string{"metro_2 0.00"}})
	if l := q.Legs[0]; l.Chosen < 0 || l.Offers[l.Chosen].Origin == OfferHeld {
		t.Errorf("the free exit was paid by a held product:\n%s", dump(q))
	}
	// Past the free minutes the pass pays the same-station fare, as any leg.
	check(t, tab, metroLeg("gulou_1", "gulou_2", "08:00:00", "08:10:01", pass), want{"0.00", []string{"student_monthly 0.00"}})
}
