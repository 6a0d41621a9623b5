package fare

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/citycard/citycard"
)

var (
	ningboOnce  sync.Once
	ningboTable *Table
	ningboErr   error
)

// ningbo loads the sample feed of testdata/ningbo once.
func ningbo(t testing.TB) *Table {
	t.Helper()
	ningboOnce.Do(func() { ningboTable, ningboErr = Load(os.DirFS("testdata/ningbo")) })
	if ningboErr != nil {
		t.Fatalf("Load(testdata/ningbo): %v", ningboErr)
	}
	return ningboTable
}

// quote prices a journey document against tab.
func quote(t *testing.T, tab *Table, doc string) *Quote {
	t.Helper()
	j, err := tab.ParseJourney([]byte(doc))
	if err != nil {
		t.Fatalf("ParseJourney(%s): %v", doc, err)
	}
	var q Quote
	if err := tab.Price(j, &q); err != nil {
		t.Fatalf("Price(%s): %v", doc, err)
	}
	return &q
}

// want is the expected price of a journey: the total and, per leg, the
// product and amount ("bus_single 2.00"), all in yuan as the feed writes
// them.
type want struct {
	total string
	legs  []string
}

func check(t *testing.T, tab *Table, doc string, w want) *Quote {
	t.Helper()
	q := quote(t, tab, doc)
	if got := tab.FormatAmount(q.TotalFen); got != w.total {
		t.Errorf("total = %s, want %s\njourney %s\n%s", got, w.total, doc, dump(q))
	}
	if len(w.legs) > 0 && len(w.legs) != len(q.Legs) {
		t.Fatalf("%d legs priced, want %d", len(q.Legs), len(w.legs))
	}
	for i, wl := range w.legs {
		got := q.Legs[i].FareProductID + " " + tab.FormatAmount(q.Legs[i].AmountFen)
		if got != wl {
			t.Errorf("leg %d = %q, want %q\njourney %s\n%s", i, got, wl, doc, dump(q))
		}
	}
	return q
}

func dump(q *Quote) string {
	var b strings.Builder
	for i := range q.Legs {
		b.WriteString("  ")
		b.WriteString(q.Explanation(i))
		b.WriteByte('\n')
		for _, o := range q.Legs[i].Offers {
			b.WriteString("    offer " + o.FareProductID + " " + q.t.FormatAmount(o.AmountFen) + " " + o.Origin.String() + " " + o.RequiresProductID + "\n")
		}
	}
	return b.String()
}

func TestFlatAndNightBus(t *testing.T) {
	tab := ningbo(t)
	leg := func(at string) string {
		return `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"` + at + `"}]}`
	}
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"08:00:00", "bus_single 2.00"},
		{"21:59:59", "bus_single 2.00"},
		{"22:00:00", "bus_night 3.00"}, // a timeframe's start is inclusive
		{"23:59:59", "bus_night 3.00"},
		{"24:30:00", "bus_night 3.00"}, // 00:30 the next day
		{"04:59:59", "bus_night 3.00"},
		{"05:00:00", "bus_single 2.00"}, // its end is exclusive
	} {
		t.Run(tc.at, func(t *testing.T) {
			check(t, tab, leg(tc.at), want{strings.Fields(tc.want)[1], []string{tc.want}})
		})
	}
}

func TestDistanceFares(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct {
		name, leg, want string
	}{
		// Kilometre posts of line 1: gq 0, wc 2.8, zm 4.5, gulou 9, dmk 10, fm 15.5, xp 52.
		{"2.8 km", `"route_id":"m1","from_stop_id":"gq","to_stop_id":"wc"`, "metro_2 2.00"},
		{"4.5 km", `"route_id":"m1","from_stop_id":"zm","to_stop_id":"gq"`, "metro_2 2.00"},
		{"9 km", `"route_id":"m1","from_stop_id":"gq","to_stop_id":"gulou_1"`, "metro_3 3.00"},
		{"12.7 km", `"route_id":"m1","from_stop_id":"wc","to_stop_id":"fm"`, "metro_4 4.00"},
		{"52 km", `"route_id":"m1","from_stop_id":"gq","to_stop_id":"xp"`, "metro_8 8.00"},
		{"same station", `"route_id":"m1","from_stop_id":"fm","to_stop_id":"fm"`, "metro_2 2.00"},
		// A band includes its upper bound: 6 km is in 0-6 km.
		{"6 km given", `"network_id":"metro","distance_m":6000`, "metro_2 2.00"},
		{"6.001 km given", `"network_id":"metro","distance_m":6001`, "metro_3 3.00"},
		{"44 km given", `"network_id":"metro","distance_m":44000`, "metro_7 7.00"},
		// The distance table, between lines: ls (line 2) to dmk (line 1) 16 km.
		{"distance table", `"network_id":"metro","from_stop_id":"ls","to_stop_id":"dmk"`, "metro_4 4.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"date":"2025-06-10","legs":[{` + tc.leg + `,"start_time":"08:00:00","end_time":"08:30:00"}]}`
			check(t, tab, doc, want{strings.Fields(tc.want)[1], []string{tc.want}})
		})
	}
}

func TestJoinedMetroLegs(t *testing.T) {
	tab := ningbo(t)
	// Line 2 from the airport to Gulou, line 1 on to Dongmenkou: one fare
	// leg of 16 km (stop_distances.txt), 4.00, not 4.00 + 2.00.
	q := check(t, tab, `{"date":"2025-06-10","legs":[
		{"route_id":"m2","from_stop_id":"ls","to_stop_id":"gulou_2","start_time":"08:00:00","end_time":"08:25:00"},
		{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"dmk","start_time":"08:29:00","end_time":"08:32:00"}]}`,
		want{"4.00", []string{"metro_4 4.00", " 0.00"}})
	if q.Legs[1].JoinedTo != 0 || q.Legs[0].DistanceM != 16000 {
		t.Errorf("joined to %d, distance %d m; want leg 0, 16000", q.Legs[1].JoinedTo, q.Legs[0].DistanceM)
	}
	// Leaving the paid area elsewhere than Gulou: two fares.
	check(t, tab, `{"date":"2025-06-10","legs":[
		{"route_id":"m2","from_stop_id":"ls","to_stop_id":"nbrs","start_time":"08:00:00","end_time":"08:20:00"},
		{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"dmk","start_time":"08:40:00","end_time":"08:43:00"}]}`,
		want{"6.00", []string{"metro_4 4.00", "metro_2 2.00"}})
}

func TestRiderCategories(t *testing.T) {
	tab := ningbo(t)
	metro := `"legs":[{"route_id":"m1","from_stop_id":"gq","to_stop_id":"fm","start_time":"08:00:00","end_time":"08:30:00"}]`
	bus := `"legs":[{"route_id":"b1","start_time":"08:00:00"}]`
	for _, tc := range []struct {
		cat, legs, want string
	}{
		{"", metro, "metro_4 4.00"}, // the default category, adult
		{"adult", metro, "metro_4 4.00"},
		{"student", metro, "metro_4 2.00"}, // fare_percent 50 of the adult row
		{"senior", metro, "metro_4 0.00"},  // fare_percent 0
		{"disabled", bus, "bus_single 0.00"},
		{"senior60", bus, "bus_single 1.00"},
	} {
		t.Run(tc.cat, func(t *testing.T) {
			doc := `{"date":"2025-06-10","rider_category":"` + tc.cat + `",` + tc.legs + `}`
			check(t, tab, doc, want{strings.Fields(tc.want)[1], []string{tc.want}})
		})
	}
	j := &Journey{Date: DateOf(2025, 6, 10), RiderCategory: "child", Legs: []Leg{{RouteID: "b1", Start: 0, End: NoTime}}}
	if err := tab.Price(j, &Quote{}); err == nil || !strings.Contains(err.Error(), `"child"`) {
		t.Errorf("unknown category: err = %v, want one naming it", err)
	}
}

func TestTransfers(t *testing.T) {
	tab := ningbo(t)
	bus2 := func(media, second string) string {
		return `{"date":"2025-06-10","fare_media":"` + media + `","legs":[
			{"route_id":"b1","start_time":"08:00:00"},{"route_id":"b2","start_time":"` + second + `"}]}`
	}
	// Bus to bus within 90 minutes, departure to departure: A + AB, the
	// second bus pays the transfer product, 1.00, instead of 2.00.
	q := check(t, tab, bus2("citycard", "09:00:00"), want{"3.00", []string{"bus_single 2.00", "bus_transfer 1.00"}})
	if o := q.Legs[1].Offers[q.Legs[1].Chosen]; o.RequiresLeg != 0 || o.RequiresProductID != "bus_single" || !q.Legs[1].Transfer {
		t.Errorf("transfer offer requires leg %d %q, want leg 0 bus_single", o.RequiresLeg, o.RequiresProductID)
	}
	// A transfer exactly at the duration limit still counts; a second
	// later it does not.
	check(t, tab, bus2("citycard", "09:30:00"), want{"3.00", nil})
	check(t, tab, bus2("citycard", "09:30:01"), want{"4.00", nil})
	// Paying cash: the transfer product is for the city card only.
	check(t, tab, bus2("cash", "09:00:00"), want{"4.00", nil})
	// transfer_count 1: a third bus is a new fare.
	check(t, tab, `{"date":"2025-06-10","fare_media":"citycard","legs":[
		{"route_id":"b1","start_time":"08:00:00"},{"route_id":"b2","start_time":"08:20:00"},{"route_id":"b1","start_time":"08:40:00"}]}`,
		want{"5.00", nil})
	// Bus, metro (9 to 15.5 km posts: 6.5 km, 3.00), bus: A + AB + B with
	// a 1.00 discount on each transfer: 2.00 + 2.00 + 1.00.
	check(t, tab, `{"date":"2025-06-10","fare_media":"citycard","legs":[
		{"route_id":"b1","from_stop_id":"b_train","to_stop_id":"b_gulou","start_time":"08:00:00","end_time":"08:20:00"},
		{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"fm","start_time":"08:30:00","end_time":"08:45:00"},
		{"route_id":"b2","start_time":"09:10:00"}]}`,
		want{"5.00", []string{"bus_single 2.00", "xfer_discount 2.00", "xfer_discount 1.00"}})
	// A student's discount is half: metro 1.50 - 0.50.
	check(t, tab, `{"date":"2025-06-10","rider_category":"student","fare_media":"citycard","legs":[
		{"route_id":"b1","start_time":"08:00:00"},
		{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"fm","start_time":"08:30:00","end_time":"08:45:00"}]}`,
		want{"2.00", []string{"bus_single 1.00", "xfer_discount 1.00"}})
	// A senior rides free: the discount never makes a fare negative.
	check(t, tab, `{"date":"2025-06-10","rider_category":"senior","fare_media":"citycard","legs":[
		{"route_id":"b1","start_time":"08:00:00"},
		{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"fm","start_time":"08:30:00","end_time":"08:45:00"}]}`,
		want{"0.00", []string{"bus_single 0.00", "metro_3 0.00"}})
	// Across midnight: the night bus at 23:50, a second bus at 00:30.
	check(t, tab, `{"date":"2025-06-10","fare_media":"citycard","legs":[
		{"route_id":"n1","start_time":"23:50:00"},{"route_id":"b1","start_time":"00:30:00"}]}`,
		want{"4.00", []string{"bus_night 3.00", "bus_transfer 1.00"}})
}

func TestTimeFares(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct {
		name, leg, want string
	}{
		// Bikes: the first hour free, then 1.00 an hour begun after it, 10.00 a day at most.
		{"bike 50 min", `"route_id":"bike","start_time":"08:00:00","end_time":"08:50:00"`, "bike_time 0.00"},
		{"bike 60 min", `"route_id":"bike","start_time":"08:00:00","end_time":"09:00:00"`, "bike_time 0.00"},
		{"bike 61 min", `"route_id":"bike","start_time":"08:00:00","end_time":"09:01:00"`, "bike_time 1.00"},
		{"bike 125 min", `"route_id":"bike","start_time":"08:00:00","end_time":"10:05:00"`, "bike_time 2.00"},
		{"bike 20 h", `"route_id":"bike","start_time":"08:00:00","end_time":"28:00:00"`, "bike_time 10.00"},
		{"bike 30 h", `"route_id":"bike","start_time":"08:00:00","end_time":"38:00:00"`, "bike_time 16.00"},
		// Parking: 15 minutes free; past them, from the start: 5.00 the
		// first hour, 2.00 each half hour begun, 40.00 a day at most.
		{"park 15 min", `"network_id":"parking","start_time":"10:00:00","end_time":"10:15:00"`, "parking_time 0.00"},
		{"park 16 min", `"network_id":"parking","start_time":"10:00:00","end_time":"10:16:00"`, "parking_time 5.00"},
		{"park 61 min", `"network_id":"parking","start_time":"10:00:00","end_time":"11:01:00"`, "parking_time 7.00"},
		{"park 150 min", `"network_id":"parking","start_time":"10:00:00","end_time":"12:30:00"`, "parking_time 11.00"},
		{"park 10 h", `"network_id":"parking","start_time":"08:00:00","end_time":"18:00:00"`, "parking_time 40.00"},
		// Overnight, 22:00 to 07:30: 570 minutes, 5.00 + 17 x 2.00.
		{"park overnight", `"network_id":"parking","start_time":"22:00:00","end_time":"07:30:00"`, "parking_time 39.00"},
		// Not returned: the network's maximum fare.
		{"bike not returned", `"route_id":"bike","start_time":"08:00:00"`, "bike_max 50.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"date":"2025-06-10","legs":[{` + tc.leg + `}]}`
			check(t, tab, doc, want{strings.Fields(tc.want)[1], []string{tc.want}})
		})
	}
	// Parking has no student rate: the product is for every category.
	check(t, tab, `{"date":"2025-06-10","rider_category":"student","legs":[{"network_id":"parking","start_time":"22:00:00","end_time":"07:30:00"}]}`,
		want{"39.00", nil})
}

func TestMissingTapOff(t *testing.T) {
	tab := ningbo(t)
	q := check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"gq","start_time":"08:00:00"}]}`,
		want{"8.00", []string{"metro_max 8.00"}})
	if e := q.Explanation(0); !strings.Contains(e, "no tap-off") {
		t.Errorf("explanation %q does not say the tap-off is missing", e)
	}
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"gq","tap_off_missing":true,"start_time":"08:00:00"}]}`,
		want{"8.00", []string{"metro_max 8.00"}})
	// README.md: contradictory input (tap_off_missing with an exit stop)
	// is an error. It was priced at the maximum fare, the exit ignored.
	if _, err := tab.ParseJourney([]byte(`{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"gq","to_stop_id":"wc","tap_off_missing":true,"start_time":"08:00:00"}]}`)); err == nil || !strings.Contains(err.Error(), `legs[0].tap_off_missing: true, yet to_stop_id "wc"`) {
		t.Errorf("tap_off_missing with an exit stop: %v, want an error naming legs[0].tap_off_missing", err)
	}
	j := &Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{RouteID: "m1", FromStopID: "gq", ToStopID: "wc", TapOffMissing: true, Start: 8 * 3600, End: NoTime}}}
	if err := tab.Price(j, &Quote{}); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "leg 1: tap_off_missing") {
		t.Errorf("Price of a missing tap-off with an exit stop: %v, want kind Invalid naming leg 1", err)
	}
	check(t, tab, `{"date":"2025-06-10","rider_category":"student","legs":[{"route_id":"m1","from_stop_id":"gq","start_time":"08:00:00"}]}`,
		want{"4.00", []string{"metro_max 4.00"}})
	// The tap-off turns up later: gq to fm is 15.5 km, 4.00; 4.00 of the
	// 8.00 charged goes back.
	q = check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"gq","to_stop_id":"fm","start_time":"08:00:00","end_time":"08:30:00","charged":"8.00"}]}`,
		want{"4.00", []string{"metro_4 4.00"}})
	if q.Legs[0].RefundFen != 400 {
		t.Errorf("refund %d fen, want 400", q.Legs[0].RefundFen)
	}
}

func TestHeldProducts(t *testing.T) {
	tab := ningbo(t)
	monthly := `{"fare_product_id":"bus_monthly","valid_from":"2025-06-01","valid_to":"2025-06-30"`
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[`+monthly+`}]}`,
		want{"0.00", []string{"bus_monthly 0.00"}})
	// Not on the metro.
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"m1","from_stop_id":"gq","to_stop_id":"wc","start_time":"08:00:00","end_time":"08:10:00"}],"products":[`+monthly+`}]}`,
		want{"2.00", []string{"metro_2 2.00"}})
	// Not before or after its days.
	check(t, tab, `{"date":"2025-07-01","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[`+monthly+`}]}`,
		want{"2.00", []string{"bus_single 2.00"}})
	// A pass that expires mid-journey: the night bus at 23:50 on its last
	// day rides on it, the bus at 00:10 the next day pays (night fare).
	check(t, tab, `{"date":"2025-06-30","fare_media":"citycard","legs":[{"route_id":"n1","start_time":"23:50:00"},{"route_id":"b1","start_time":"00:10:00"}],"products":[`+monthly+`}]}`,
		want{"3.00", []string{"bus_monthly 0.00", "bus_night 3.00"}})
	// Daily limit 4, three rides taken today: one more on the pass.
	q := check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"},{"route_id":"b2","start_time":"12:00:00"}],"products":[`+monthly+`,"rides_today":3}]}`,
		want{"2.00", nil})
	if n := usedHeld(q); n != 1 {
		t.Errorf("the pass pays %d legs, want 1", n)
	}
	// A count ticket with one ride left pays one leg.
	q = check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"},{"route_id":"b2","start_time":"12:00:00"}],"products":[{"fare_product_id":"bus_10_rides","valid_from":"2025-01-01","valid_to":"2025-12-31","rides_left":1}]}`,
		want{"2.00", nil})
	if n := usedHeld(q); n != 1 {
		t.Errorf("the count ticket pays %d legs, want 1", n)
	}
	// Empty: none.
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[{"fare_product_id":"bus_10_rides","valid_from":"2025-01-01","valid_to":"2025-12-31","rides_left":0}]}`,
		want{"2.00", nil})
	// The student pass is valid on the metro too.
	check(t, tab, `{"date":"2025-06-10","rider_category":"student","legs":[{"route_id":"m1","from_stop_id":"gq","to_stop_id":"xp","start_time":"08:00:00","end_time":"09:00:00"}],"products":[{"fare_product_id":"student_monthly","valid_from":"2025-06-01","valid_to":"2025-06-30"}]}`,
		want{"0.00", []string{"student_monthly 0.00"}})
}

func hasOffer(l LegQuote, product, requires string) bool {
	for _, o := range l.Offers {
		if o.FareProductID == product && o.RequiresProductID == requires {
			return true
		}
	}
	return false
}

func usedHeld(q *Quote) int {
	n := 0
	for _, l := range q.Legs {
		if l.Chosen >= 0 && l.Offers[l.Chosen].Origin == OfferHeld {
			n++
		}
	}
	return n
}

func TestCaps(t *testing.T) {
	tab := ningbo(t)
	bus := `"legs":[{"route_id":"b1","start_time":"08:00:00"}]`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"day cap", `"spend":{"day":"9.00"},` + bus, "1.00"},
		{"day cap reached", `"spend":{"day":"10.00"},` + bus, "0.00"},
		{"week cap", `"spend":{"day":"1.00","week":"39.50"},` + bus, "0.50"},
		{"month cap", `"spend":{"month":"149.00"},` + bus, "1.00"},
		{"student day cap", `"rider_category":"student","spend":{"day":"4.50"},` + bus, "0.50"},
		{"parking is not capped", `"spend":{"day":"9.00"},"legs":[{"network_id":"parking","start_time":"22:00:00","end_time":"07:30:00"}]`, "39.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tab, `{"date":"2025-06-10",`+tc.doc+`}`, want{tc.want, nil})
		})
	}
	// Within one journey: 9.00 spent, bus 2.00 -> 1.00, then metro 3.00 -> 0.
	check(t, tab, `{"date":"2025-06-10","spend":{"day":"9.00"},"legs":[{"route_id":"b1","start_time":"08:00:00"},{"route_id":"m1","from_stop_id":"gq","to_stop_id":"gulou_1","start_time":"12:00:00","end_time":"12:20:00"}]}`,
		want{"1.00", []string{"bus_single 1.00", "metro_3 0.00"}})
}

func TestAreas(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct{ from, to, want string }{
		{"b_gulou", "b_train", "suburban_2 2.00"},
		{"b_gulou", "fh_center", "suburban_4 4.00"},
		{"fh_xikou", "b_train", "suburban_4 4.00"},
		{"fh_center", "fh_xikou", "suburban_2 2.00"},
	} {
		doc := `{"date":"2025-06-10","legs":[{"route_id":"s9","from_stop_id":"` + tc.from + `","to_stop_id":"` + tc.to + `","start_time":"08:00:00"}]}`
		check(t, tab, doc, want{strings.Fields(tc.want)[1], []string{tc.want}})
	}
}

// mapFeed builds a feed from file contents.
func mapFeed(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, s := range files {
		m[name] = &fstest.MapFile{Data: []byte(strings.TrimLeft(s, "\n"))}
	}
	return m
}

func mustLoad(t *testing.T, files map[string]string) *Table {
	t.Helper()
	tab, err := Load(mapFeed(files))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tab
}

// TestTransferTypes prices the reference's example of fare_transfer_type
// with three legs A, B, C: type 0 gives A + AB then S + BC, type 1
// A + AB + B then S + BC + C, type 2 AB then S + BC, S being the cost so
// far.
func TestTransferTypes(t *testing.T) {
	feed := func(typ1, typ2, ab, bc string) map[string]string {
		return map[string]string{
			"fare_products.txt": `
fare_product_id,amount,currency
pa,2.00,CNY
pb,3.00,CNY
pc,5.00,CNY
tab,` + ab + `,CNY
tbc,` + bc + `,CNY
`,
			"fare_leg_rules.txt": `
leg_group_id,network_id,fare_product_id
ga,A,pa
gb,B,pb
gc,C,pc
`,
			"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id
ga,gb,` + typ1 + `,tab
gb,gc,` + typ2 + `,tbc
`,
		}
	}
	journey := `{"date":"2025-06-10","legs":[{"network_id":"A","start_time":"08:00:00"},{"network_id":"B","start_time":"08:10:00"},{"network_id":"C","start_time":"08:20:00"}]}`
	for _, tc := range []struct {
		name               string
		typ1, typ2, ab, bc string
		want               want
	}{
		// A + AB = 2.00 + 2.50; S + BC = 4.50 + 4.00.
		{"0 then 0", "0", "0", "2.50", "4.00", want{"8.50", []string{"pa 2.00", "tab 2.50", "tbc 4.00"}}},
		// A + AB + B = 2.00 - 1.00 + 3.00; S + BC + C = 4.00 - 0.50 + 5.00.
		{"1 then 1", "1", "1", "-1.00", "-0.50", want{"8.50", []string{"pa 2.00", "tab 2.00", "tbc 4.50"}}},
		// The reference processes AB = 2.50, then S + BC = 6.50; both
		// offers are there, but the cheapest combination pays A and B on
		// their own and lets BC cover B and C: 2.00 + 3.00 + (4.00 - 3.00).
		{"2 then 2", "2", "2", "2.50", "4.00", want{"6.00", []string{"pa 2.00", "pb 3.00", "tbc 1.00"}}},
		// AB then S + BC.
		{"2 then 0", "2", "0", "2.50", "4.00", want{"6.50", []string{"pa 2.00", "tab 0.50", "tbc 4.00"}}},
		// A + AB + B then S + BC would be 2.00 - 1.00 + 3.00 + 4.00 = 8.00;
		// cheaper again: A, B, and BC covering B and C.
		{"1 then 2", "1", "2", "-1.00", "4.00", want{"6.00", []string{"pa 2.00", "pb 3.00", "tbc 1.00"}}},
		// Without the transfers (type 0, dearer than the legs' own fares),
		// the legs' own fares are cheaper: 2.00 + 3.00 + 5.00.
		{"dearer transfers", "0", "0", "4.00", "6.00", want{"10.00", []string{"pa 2.00", "pb 3.00", "pc 5.00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := mustLoad(t, feed(tc.typ1, tc.typ2, tc.ab, tc.bc))
			q := check(t, tab, journey, tc.want)
			// Leg B always offers the transfer from A, requiring pa.
			if !hasOffer(q.Legs[1], "tab", "pa") || !hasOffer(q.Legs[2], "tbc", "pb") {
				t.Errorf("transfer offers missing:\n%s", dump(q))
			}
		})
	}
}

// TestEmptyFieldSemantics checks the reference's two meanings of an empty
// network_id: without rule_priority, it matches only networks no other
// row names; with rule_priority, any network, and the highest priority
// among the matching rows wins.
func TestEmptyFieldSemantics(t *testing.T) {
	products := `
fare_product_id,amount,currency
p_n1,1.00,CNY
p_any,5.00,CNY
p_night,7.00,CNY
`
	legs := func(n string) string {
		return `{"date":"2025-06-10","legs":[{"network_id":"` + n + `","start_time":"08:00:00"}]}`
	}
	tab := mustLoad(t, map[string]string{"fare_products.txt": products, "fare_leg_rules.txt": `
network_id,fare_product_id
n1,p_n1
,p_any
`})
	q := check(t, tab, legs("n1"), want{"1.00", []string{"p_n1 1.00"}})
	if len(q.Legs[0].Offers) != 1 {
		t.Errorf("n1 without rule_priority: %d offers, want 1 (p_n1)", len(q.Legs[0].Offers))
	}
	check(t, tab, legs("n2"), want{"5.00", []string{"p_any 5.00"}})

	tab = mustLoad(t, map[string]string{"fare_products.txt": products, "fare_leg_rules.txt": `
network_id,fare_product_id,rule_priority
n1,p_n1,0
,p_any,0
`})
	q = check(t, tab, legs("n1"), want{"1.00", []string{"p_n1 1.00"}})
	if len(q.Legs[0].Offers) != 2 {
		t.Errorf("n1 with rule_priority: %d offers, want 2 (p_n1, p_any)", len(q.Legs[0].Offers))
	}
	tab = mustLoad(t, map[string]string{"fare_products.txt": products, "fare_leg_rules.txt": `
network_id,fare_product_id,rule_priority
n1,p_n1,0
,p_any,2
`})
	check(t, tab, legs("n1"), want{"5.00", []string{"p_any 5.00"}})
}

// TestPartialFeed prices with fare files only, as OpenTripPlanner's tests
// do: the legs carry their network and the offers list every product.
func TestPartialFeed(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"fare_products.txt": `
fare_product_id,fare_product_name,rider_category_id,fare_media_id,amount,currency
single,Single,,,2.50,USD
single,Single,youth,,1.25,USD
day_pass,Day pass,,,5.00,USD
free_transfer,Free transfer,,,0.00,USD
`,
		"fare_leg_rules.txt": `
leg_group_id,network_id,fare_product_id
core,local,single
core,local,day_pass
`,
		"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id
core,core,-1,5400,1,0,free_transfer
`,
	})
	if tab.Currency() != "USD" {
		t.Errorf("currency %s, want USD", tab.Currency())
	}
	q := check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"local","start_time":"10:00:00"},{"network_id":"local","start_time":"10:30:00"},{"network_id":"local","start_time":"11:30:00"}]}`,
		want{"2.50", []string{"single 2.50", "free_transfer 0.00", "free_transfer 0.00"}})
	if n := len(q.Legs[0].Offers); n != 2 {
		t.Errorf("leg 0: %d offers, want 2 (single, day_pass)", n)
	}
	// Unlimited transfers, but within 90 minutes of the first leg's
	// departure: the leg at 11:31 is a new fare.
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"local","start_time":"10:00:00"},{"network_id":"local","start_time":"10:30:00"},{"network_id":"local","start_time":"11:31:00"}]}`,
		want{"5.00", []string{"single 2.50", "free_transfer 0.00", "single 2.50"}})
	check(t, tab, `{"date":"2025-06-10","rider_category":"youth","legs":[{"network_id":"local","start_time":"10:00:00"}]}`,
		want{"1.25", []string{"single 1.25"}})
}

// TestTransferCountSelection: of two same-group rules, the one with the
// smallest transfer_count at least the sub-journey's transfers applies.
func TestTransferCountSelection(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"fare_products.txt": `
fare_product_id,amount,currency
p,2.00,CNY
first_free,0.00,CNY
then_one,1.00,CNY
`,
		"fare_leg_rules.txt": "leg_group_id,network_id,fare_product_id\ng,n,p\n",
		"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,transfer_count,fare_transfer_type,fare_product_id
g,g,1,0,first_free
g,g,-1,0,then_one
`,
	})
	// The first transfer under the count-1 rule (free), the second under
	// the unlimited one (1.00).
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"n","start_time":"08:00:00"},{"network_id":"n","start_time":"08:10:00"},{"network_id":"n","start_time":"08:20:00"}]}`,
		want{"3.00", []string{"p 2.00", "first_free 0.00", "then_one 1.00"}})
}

// TestUnpricedLeg: a leg no rule prices is not an error of the journey.
// As OpenTripPlanner reports it, the leg has no offers; every other leg
// is priced, the total is theirs and the quote is not complete.
func TestUnpricedLeg(t *testing.T) {
	tab := ningbo(t)
	// The suburban bus's rules all name areas (rule_priority is set, so
	// an empty area would match any): from the metro stop gq, in no
	// area, no rule prices s9, and the suburban network has no maximum
	// fare.
	doc := `{"date":"2025-06-10","fare_media":"citycard","legs":[
		{"route_id":"b1","start_time":"08:00:00"},
		{"route_id":"s9","from_stop_id":"gq","to_stop_id":"b_train","start_time":"08:30:00","end_time":"09:00:00"},
		{"route_id":"b2","start_time":"09:10:00"}]}`
	q := check(t, tab, doc, want{"4.00", []string{"bus_single 2.00", " 0.00", "bus_single 2.00"}})
	if q.Complete {
		t.Error("a quote with an unpriced leg says it is complete")
	}
	for i, priced := range []bool{true, false, true} {
		if q.Legs[i].Priced != priced {
			t.Errorf("leg %d: priced %v, want %v", i, q.Legs[i].Priced, priced)
		}
	}
	if n := len(q.Legs[1].Offers); n != 0 || q.Legs[1].Chosen != -1 {
		t.Errorf("unpriced leg: %d offers, chosen %d; want none", n, q.Legs[1].Chosen)
	}
	if e := q.Explanation(1); !strings.Contains(e, "no fare rule prices this leg (network suburban, from gq to b_train)") {
		t.Errorf("explanation %q", e)
	}
	out, err := json.Marshal(q.JSON())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"total":"4.00"`, `"complete":false`, `{"priced":false,"fare_product_id":"","amount":"0.00"`, `"offers":[]}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("JSON %s\nwant %s", out, want)
		}
	}
	// A complete quote says so.
	if q := quote(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}]}`); !q.Complete || !q.Legs[0].Priced {
		t.Errorf("one bus leg: complete %v, priced %v; want both", q.Complete, q.Legs[0].Priced)
	}
}

// TestFreeTransfer: a fare_transfer_rules.txt row without a product
// costs nothing (the reference: "If empty, the cost of the transfer rule
// is 0"). As OpenTripPlanner reports it, the earlier leg's product covers
// the later leg: the later leg's offers include that product at its own
// price, requiring that leg, and the total counts it once. It used to be
// an offer with an empty fare_product_id.
func TestFreeTransfer(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"fare_products.txt":  "fare_product_id,fare_product_name,amount,currency\nsingle,Single,2.50,CNY\n",
		"fare_leg_rules.txt": "leg_group_id,network_id,fare_product_id\ncore,local,single\n",
		"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id
core,core,-1,5400,1,0,
`,
	})
	q := check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"local","start_time":"10:00:00"},{"network_id":"local","start_time":"10:30:00"},{"network_id":"local","start_time":"11:30:00"}]}`,
		want{"2.50", []string{"single 2.50", "single 0.00", "single 0.00"}})
	for i := 1; i < 3; i++ {
		l := q.Legs[i]
		o := l.Offers[l.Chosen]
		if !l.Transfer || o.FareProductID != "single" || o.AmountFen != 250 || !o.Covered || o.RequiresLeg != i-1 || o.RequiresProductID != "single" {
			t.Errorf("leg %d: chosen offer %+v, want single at 2.50, covered, requiring leg %d", i, o, i-1)
		}
		for _, o := range l.Offers {
			if o.FareProductID == "" {
				t.Errorf("leg %d: an offer without a product: %+v", i, o)
			}
		}
	}
	if e := q.Explanation(1); !strings.Contains(e, "free transfer: the Single (single, 2.50) of leg 0 covers this leg, counted once: 0.00") {
		t.Errorf("explanation %q", e)
	}
	out, _ := json.Marshal(q.JSON())
	if !strings.Contains(string(out), `{"fare_product_id":"single","amount":"2.50","origin":"transfer","requires":"single","requires_leg":0,"covered":true}`) {
		t.Errorf("JSON %s\nwant leg 1's covered offer", out)
	}
	// Beyond the 90 minutes from the first leg, a new fare.
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"local","start_time":"10:00:00"},{"network_id":"local","start_time":"10:30:00"},{"network_id":"local","start_time":"11:31:00"}]}`,
		want{"5.00", []string{"single 2.50", "single 0.00", "single 2.50"}})

	// Types 1 and 2 without a product: A + 0 + B pays B on the later leg;
	// AB = 0, less what A paid, leaves A covering B.
	for _, tc := range []struct {
		typ  string
		want want
	}{
		{"1", want{"5.00", []string{"pa 2.00", "pb 3.00"}}},
		{"2", want{"2.00", []string{"pa 2.00", "pa 0.00"}}},
	} {
		tab := mustLoad(t, map[string]string{
			"fare_products.txt":       "fare_product_id,amount,currency\npa,2.00,CNY\npb,3.00,CNY\n",
			"fare_leg_rules.txt":      "leg_group_id,network_id,fare_product_id\nga,A,pa\ngb,B,pb\n",
			"fare_transfer_rules.txt": "from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id\nga,gb," + tc.typ + ",\n",
		})
		q := check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"A","start_time":"08:00:00"},{"network_id":"B","start_time":"08:10:00"}]}`, tc.want)
		if !hasOffer(q.Legs[1], tc.want.legs[1][:2], "pa") {
			t.Errorf("type %s: leg 1 has no transfer offer of %s requiring pa\n%s", tc.typ, tc.want.legs[1][:2], dump(q))
		}
	}
}

// TestHeldProductOrder follows README.md's decision "held products are
// used as a terminal meets the legs, in time order": the first leg a
// product is valid on takes it, not the dearest; of several valid, the
// higher priority, then a pass before a count ticket, then the card's
// order; a valid held product before stored value (the e-purse).
func TestHeldProductOrder(t *testing.T) {
	tab := ningbo(t)
	ten := func(rides int) string {
		return fmt.Sprintf(`{"fare_product_id":"bus_10_rides","valid_from":"2025-01-01","valid_to":"2025-12-31","rides_left":%d}`, rides)
	}
	monthly := `{"fare_product_id":"bus_monthly","valid_from":"2025-06-01","valid_to":"2025-06-30"}`
	// The count ticket's last ride goes to the 08:00 bus (2.00), not the
	// dearer night bus (3.00) the cheapest combination would give it.
	check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"},{"route_id":"n1","start_time":"23:00:00"}],"products":[`+ten(1)+`]}`,
		want{"3.00", []string{"bus_10_rides 0.00", "bus_night 3.00"}})
	// A pass before a count ticket, whatever the card's order: the
	// count ticket keeps its rides.
	q := check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[`+ten(5)+`,`+monthly+`]}`,
		want{"0.00", []string{"bus_monthly 0.00"}})
	if len(q.Legs[0].Offers) != 3 {
		t.Errorf("offers: %d, want bus_single and both held products\n%s", len(q.Legs[0].Offers), dump(q))
	}
	// A held product before the e-purse, even where the leg costs
	// nothing from it: a senior (fare_percent 0) rides on the count
	// ticket the card holds.
	q = check(t, tab, `{"date":"2025-06-10","rider_category":"senior","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[`+ten(5)+`]}`,
		want{"0.00", []string{"bus_10_rides 0.00"}})
	if e := q.Explanation(0); !strings.Contains(e, "4 rides left after this one") {
		t.Errorf("explanation %q", e)
	}

	// The table's priority orders them: here the count ticket first.
	feed := func(passPriority, ticketPriority string) *Table {
		return mustLoad(t, map[string]string{
			"fare_products.txt":      "fare_product_id,amount,currency\nsingle,2.00,CNY\npass,60.00,CNY\nticket,18.00,CNY\n",
			"fare_leg_rules.txt":     "network_id,fare_product_id\nbus,single\n",
			"fare_held_products.txt": "fare_product_id,kind,network_id,rides,priority\npass,pass,bus,," + passPriority + "\nticket,count_ticket,bus,10," + ticketPriority + "\n",
		})
	}
	held := `"products":[{"fare_product_id":"pass","valid_from":"2025-06-01","valid_to":"2025-06-30"},{"fare_product_id":"ticket","valid_from":"2025-06-01","valid_to":"2025-06-30","rides_left":3}]`
	doc := `{"date":"2025-06-10","legs":[{"network_id":"bus","start_time":"08:00:00"}],` + held + `}`
	check(t, feed("", ""), doc, want{"0.00", []string{"pass 0.00"}})
	check(t, feed("1", "5"), doc, want{"0.00", []string{"ticket 0.00"}})
	check(t, feed("5", "1"), doc, want{"0.00", []string{"pass 0.00"}})
}

// TestHeldDailyLimit follows README.md's decision "a card's daily limit
// cannot raise the table's daily_ride_limit: the lower applies".
// bus_monthly has daily_ride_limit 4.
func TestHeldDailyLimit(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct {
		name              string
		limit, ridesToday int
		want              string
	}{
		{"the table's 4, 3 taken", 0, 3, "bus_monthly 0.00"},
		{"the table's 4, 4 taken", 0, 4, "bus_single 2.00"},
		{"the card's 10 does not raise the table's 4", 10, 4, "bus_single 2.00"},
		{"the card's 2 lowers the table's 4", 2, 2, "bus_single 2.00"},
		{"the card's 2, 1 taken", 2, 1, "bus_monthly 0.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[{"fare_product_id":"bus_monthly","valid_from":"2025-06-01","valid_to":"2025-06-30","daily_limit":%d,"rides_today":%d}]}`, tc.limit, tc.ridesToday)
			check(t, tab, doc, want{strings.Fields(tc.want)[1], []string{tc.want}})
		})
	}
}

// TestHeldValidity follows README.md's decisions "a product without dates
// never expires" and "valid_to is inclusive".
func TestHeldValidity(t *testing.T) {
	tab := ningbo(t)
	bus := func(date, product string) string {
		return `{"date":"` + date + `","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[` + product + `]}`
	}
	undated := `{"fare_product_id":"bus_monthly"}`
	for _, date := range []string{"2000-01-01", "2025-06-10", "2099-12-31"} {
		q := check(t, tab, bus(date, undated), want{"0.00", []string{"bus_monthly 0.00"}})
		if e := q.Explanation(0); !strings.Contains(e, "valid without dates") {
			t.Errorf("%s: explanation %q", date, e)
		}
	}
	check(t, tab, bus("2099-12-31", `{"fare_product_id":"bus_monthly","valid_from":"2025-06-01"}`), want{"0.00", []string{"bus_monthly 0.00"}})
	check(t, tab, bus("2025-05-31", `{"fare_product_id":"bus_monthly","valid_from":"2025-06-01"}`), want{"2.00", []string{"bus_single 2.00"}})
	// The last day counts; the day after does not.
	check(t, tab, bus("2025-06-30", `{"fare_product_id":"bus_monthly","valid_to":"2025-06-30"}`), want{"0.00", []string{"bus_monthly 0.00"}})
	check(t, tab, bus("2025-07-01", `{"fare_product_id":"bus_monthly","valid_to":"2025-06-30"}`), want{"2.00", []string{"bus_single 2.00"}})
	if _, err := tab.ParseJourney([]byte(bus("2025-06-10", `{"fare_product_id":"bus_monthly","valid_from":"2025-06-30","valid_to":"2025-06-01"}`))); err == nil || !strings.Contains(err.Error(), "products[0].valid_to") {
		t.Errorf("valid_to before valid_from: %v, want an error naming products[0].valid_to", err)
	}
}

// TestUnknownHeldProduct follows README.md's decision "a product the table
// does not know is ignored with a warning in the quote, not an error".
func TestUnknownHeldProduct(t *testing.T) {
	tab := ningbo(t)
	q := check(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}],"products":[
		{"fare_product_id":"museum_pass"},{"fare_product_id":"bus_single"},{"fare_product_id":"bus_10_rides","rides_left":2}]}`,
		want{"0.00", []string{"bus_10_rides 0.00"}})
	w := strings.Join(q.Warnings(), "\n")
	for _, want := range []string{`held product "museum_pass" (products[0]) is not a pass or count ticket of fare table 2025.06-1: ignored`,
		`held product "bus_single" (products[1])`} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q, want one containing %q", w, want)
		}
	}
	if out, _ := json.Marshal(q.JSON()); !strings.Contains(string(out), `"warnings":["held product \"museum_pass\"`) {
		t.Errorf("JSON %s: no warnings", out)
	}
	if q := quote(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}]}`); len(q.Warnings()) != 0 {
		t.Errorf("warnings %q, want none", q.Warnings())
	}
}

// TestOperatingDay follows README.md's decision on the operating day
// (运营日): feed_info.txt's operating_day_end_time sets when a table's day
// ends (without it, at midnight); a leg belongs to the operating day in
// which it starts, and day caps, daily ride limits, validity dates,
// spend.day (and the week and month of caps) follow it.
func TestOperatingDay(t *testing.T) {
	feed := func(dayEnd string) *Table {
		files := map[string]string{
			"fare_products.txt":      "fare_product_id,amount,currency\nsingle,2.00,CNY\npass,60.00,CNY\n",
			"fare_leg_rules.txt":     "network_id,fare_product_id\nbus,single\n",
			"fare_held_products.txt": "fare_product_id,kind,network_id,daily_ride_limit\npass,pass,bus,1\n",
			"fare_caps.txt":          "period,amount\nday,4.00\nmonth,100.00\n",
		}
		if dayEnd != "" {
			files["feed_info.txt"] = "feed_publisher_name,feed_version,operating_day_end_time\nx,1," + dayEnd + "\n"
		}
		return mustLoad(t, files)
	}
	four, midnight := feed("04:00:00"), feed("")
	if d := four.OperatingDay(DateOf(2025, 6, 11), 3*3600+59*60+59); d != DateOf(2025, 6, 10) {
		t.Errorf("03:59:59 on 06-11 is in operating day %s, want 2025-06-10", d)
	}
	if d := four.OperatingDay(DateOf(2025, 6, 10), 28*3600); d != DateOf(2025, 6, 11) {
		t.Errorf("28:00:00 of 06-10 is in operating day %s, want 2025-06-11", d)
	}
	// Two bus legs; spend is of the first one's operating day.
	legs := func(date, at1, at2, extra string) string {
		return `{"date":"` + date + `","legs":[{"network_id":"bus","start_time":"` + at1 + `"},{"network_id":"bus","start_time":"` + at2 + `"}]` + extra + `}`
	}
	spent := `,"spend":{"day":"1.00"}`
	pass := func(extra string) string { return `,"products":[{"fare_product_id":"pass"` + extra + `}]` }
	for _, tc := range []struct {
		name string
		tab  *Table
		doc  string
		want want
	}{
		// 1.00 spent on operating day 06-10, day cap 4.00: the 23:00 bus
		// pays 2.00, a bus the same operating day 1.00, the next 2.00.
		{"day cap at 01:00, day ending 04:00", four, legs("2025-06-10", "23:00:00", "25:00:00", spent), want{"3.00", []string{"single 2.00", "single 1.00"}}},
		{"day cap at 01:00, day ending at midnight", midnight, legs("2025-06-10", "23:00:00", "25:00:00", spent), want{"4.00", []string{"single 2.00", "single 2.00"}}},
		{"day cap at 03:59:59", four, legs("2025-06-10", "23:00:00", "27:59:59", spent), want{"3.00", []string{"single 2.00", "single 1.00"}}},
		{"day cap at 04:00, a new day", four, legs("2025-06-10", "23:00:00", "28:00:00", spent), want{"4.00", []string{"single 2.00", "single 2.00"}}},
		// Dated 06-11: 02:00 is in 06-10, whose spend spend.day is; 05:00
		// in 06-11. With the day ending at midnight, both in 06-11.
		{"journey dated the calendar day", four, legs("2025-06-11", "02:00:00", "05:00:00", `,"spend":{"day":"3.00"}`), want{"3.00", []string{"single 1.00", "single 2.00"}}},
		{"journey dated the calendar day, day ending at midnight", midnight, legs("2025-06-11", "02:00:00", "05:00:00", `,"spend":{"day":"3.00"}`), want{"1.00", []string{"single 1.00", "single 0.00"}}},
		// A pass whose last day is 06-10 holds at 01:00 on 06-11, not at 05:00.
		{"validity", four, legs("2025-06-11", "01:00:00", "05:00:00", pass(`,"valid_to":"2025-06-10"`)), want{"2.00", []string{"pass 0.00", "single 2.00"}}},
		{"validity, day ending at midnight", midnight, legs("2025-06-11", "01:00:00", "05:00:00", pass(`,"valid_to":"2025-06-10"`)), want{"4.00", []string{"single 2.00", "single 2.00"}}},
		// One ride a day: rides_today is of the first leg's operating day
		// (06-10, its ride taken); 05:00 is a new day.
		{"rides today", four, legs("2025-06-11", "02:00:00", "05:00:00", pass(`,"rides_today":1`)), want{"2.00", []string{"single 2.00", "pass 0.00"}}},
		{"rides today, day ending at midnight", midnight, legs("2025-06-11", "02:00:00", "05:00:00", pass(`,"rides_today":1`)), want{"4.00", []string{"single 2.00", "single 2.00"}}},
		// 23:00 and 02:00 are one operating day: the pass's one ride goes
		// to the first, the second pays.
		{"daily ride limit", four, legs("2025-06-10", "23:00:00", "26:00:00", pass("")), want{"2.00", []string{"pass 0.00", "single 2.00"}}},
		{"daily ride limit, day ending at midnight", midnight, legs("2025-06-10", "23:00:00", "26:00:00", pass("")), want{"0.00", []string{"pass 0.00", "pass 0.00"}}},
		// 97.00 spent in June, month cap 100.00: 01:00 on 1 July is in
		// June's last operating day.
		{"month cap", four, legs("2025-06-30", "23:00:00", "25:00:00", `,"spend":{"month":"97.00"}`), want{"3.00", []string{"single 2.00", "single 1.00"}}},
		{"month cap, day ending at midnight", midnight, legs("2025-06-30", "23:00:00", "25:00:00", `,"spend":{"month":"97.00"}`), want{"4.00", []string{"single 2.00", "single 2.00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.tab, tc.doc, tc.want)
		})
	}

	for _, v := range []string{"12:00:01", "4h", "-01:00:00"} {
		_, err := Load(mapFeed(map[string]string{"fare_products.txt": minimalProducts, "feed_info.txt": "feed_version,operating_day_end_time\n1," + v + "\n"}))
		if err == nil || !strings.Contains(err.Error(), "feed_info.txt:2: operating_day_end_time") {
			t.Errorf("operating_day_end_time %s: %v, want an error naming it", v, err)
		}
	}
}

// TestZeroDistance follows README.md's decision "distance_m: 0 is a real
// distance (the same station); an absent one is unknown". It used to be
// taken for unknown.
func TestZeroDistance(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct{ name, leg, want string }{
		// gq to xp is 52 km by the kilometre posts; a given 0 m is in the
		// first band (an empty min_distance_m includes 0).
		{"0 m given", `"route_id":"m1","from_stop_id":"gq","to_stop_id":"xp","distance_m":0`, "metro_2 2.00"},
		{"absent: the posts", `"route_id":"m1","from_stop_id":"gq","to_stop_id":"xp"`, "metro_8 8.00"},
		// No stops: 0 m given prices the leg; unknown, the maximum fare.
		{"0 m, no stops", `"network_id":"metro","distance_m":0`, "metro_2 2.00"},
		{"unknown, no stops", `"network_id":"metro"`, "metro_max 8.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := check(t, tab, `{"date":"2025-06-10","legs":[{`+tc.leg+`,"start_time":"08:00:00"}]}`, want{strings.Fields(tc.want)[1], []string{tc.want}})
			if strings.Contains(tc.leg, `"distance_m":0`) && q.Legs[0].DistanceM != 0 {
				t.Errorf("distance %d m, want 0", q.Legs[0].DistanceM)
			}
		})
	}
	// In Go, the zero Leg's distance is unknown unless DistanceKnown.
	for _, tc := range []struct {
		known bool
		want  int64
	}{{false, 800}, {true, 200}} {
		j := &Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{RouteID: "m1", FromStopID: "gq", ToStopID: "xp", Start: 8 * 3600, End: 9 * 3600, DistanceKnown: tc.known}}}
		var q Quote
		if err := tab.Price(j, &q); err != nil || q.TotalFen != tc.want {
			t.Errorf("DistanceKnown %v: %d fen, %v; want %d", tc.known, q.TotalFen, err, tc.want)
		}
	}
	j := &Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{NetworkID: "metro", Start: 0, End: NoTime, DistanceM: -5, DistanceKnown: true}}}
	if err := tab.Price(j, &Quote{}); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a negative distance: %v, want kind Invalid", err)
	}
}

// TestCategoryFallback follows README.md's decisions on fare_percent: a
// category without fare_percent and without its own row pays the default
// category's price (with a load warning); priced from the default
// category's row, fare_percent scales the whole leg fare, time charges
// too, unless the category has its own time rule; rows for everyone stay
// unscaled.
func TestCategoryFallback(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"rider_categories.txt": `
rider_category_id,is_default_fare_category,fare_percent
adult,1,
student,0,50
child,0,50
staff,0,
`,
		"fare_products.txt": `
fare_product_id,rider_category_id,amount,currency
bus,adult,2.00,CNY
bike,adult,1.00,CNY
park,,0.00,CNY
`,
		"fare_leg_rules.txt": "network_id,fare_product_id\nbus,bus\nbike,bike\npark,park\n",
		"fare_time_rules.txt": `
fare_product_id,rider_category_id,period_minutes,period_amount
bike,,60,1.00
bike,child,60,0.50
park,,60,3.00
`,
	})
	if w := tab.Warnings(); len(w) != 1 || !strings.Contains(w[0].Error(), `rider_categories.txt:5: fare_percent: rider category "staff" has no fare_percent and product "bus" no row for it: it pays the default category's price`) {
		t.Errorf("warnings %v, want one for staff", w)
	}
	leg := func(cat, net string) string {
		return `{"date":"2025-06-10","rider_category":"` + cat + `","legs":[{"network_id":"` + net + `","start_time":"08:00:00","end_time":"10:00:00"}]}`
	}
	for _, tc := range []struct{ cat, net, want string }{
		// The default category's row, 50%: 1.00.
		{"student", "bus", "bus 1.00"},
		// No fare_percent, no row: the default category's 2.00 (it was
		// left unpriced).
		{"staff", "bus", "bus 2.00"},
		// Two hours of bike: 1.00 base + 2.00 time; the student pays 50%
		// of the whole, 1.50 (the time was unscaled, 2.50).
		{"adult", "bike", "bike 3.00"},
		{"student", "bike", "bike 1.50"},
		{"staff", "bike", "bike 3.00"},
		// The child's own time rule is its price: 50% of the base, 0.50,
		// plus its own 1.00.
		{"child", "bike", "bike 1.50"},
		// A row for everyone: unscaled, 6.00 for everyone.
		{"student", "park", "park 6.00"},
	} {
		t.Run(tc.cat+" "+tc.net, func(t *testing.T) {
			q := check(t, tab, leg(tc.cat, tc.net), want{strings.Fields(tc.want)[1], []string{tc.want}})
			if tc.cat == "staff" && !strings.Contains(q.Explanation(0), "rider category staff pays the default category's price") {
				t.Errorf("explanation %q", q.Explanation(0))
			}
		})
	}
}

// TestMaxFareAndCaps follows README.md's decision "a max fare does not
// count towards caps until its tap-off is known (as London's capping
// does)": it is neither lowered by a cap nor counted in the spend.
func TestMaxFareAndCaps(t *testing.T) {
	tab := ningbo(t)
	// 9.00 spent today, the adult day cap 10.00: the metro leg with no
	// tap-off pays its 8.00 maximum fare in full (it was capped to 1.00),
	// and the bus after it still has 1.00 of the cap to pay (it paid 0).
	check(t, tab, `{"date":"2025-06-10","spend":{"day":"9.00"},"legs":[
		{"route_id":"m1","from_stop_id":"gq","start_time":"08:00:00","tap_off_missing":true},
		{"route_id":"b1","start_time":"12:00:00"}]}`,
		want{"9.00", []string{"metro_max 8.00", "bus_single 1.00"}})
	// Its tap-off known, the leg (gq to fm, 4.00) counts and is capped.
	check(t, tab, `{"date":"2025-06-10","spend":{"day":"9.00"},"legs":[
		{"route_id":"m1","from_stop_id":"gq","to_stop_id":"fm","start_time":"08:00:00","end_time":"08:30:00","charged":"8.00"},
		{"route_id":"b1","start_time":"12:00:00"}]}`,
		want{"1.00", []string{"metro_4 1.00", "bus_single 0.00"}})
}

// TestLateTapOff follows README.md's decision "a late tap-off whose fare
// is above what was charged reports the supplement due, and the quote
// states total, refund and supplement at journey level too".
func TestLateTapOff(t *testing.T) {
	tab := ningbo(t)
	// Parking closed 50 hours after it began, 40.00 (its maximum) charged:
	// 40.00 a day for two days and 9.00 for the last two hours, 89.00;
	// 49.00 more is due. The metro leg charged 8.00 costs 4.00.
	q := check(t, tab, `{"date":"2025-06-10","legs":[
		{"network_id":"parking","start_time":"08:00:00","end_time":"58:00:00","charged":"40.00"},
		{"route_id":"m1","from_stop_id":"gq","to_stop_id":"fm","start_time":"60:00:00","end_time":"60:30:00","charged":"8.00"}]}`,
		want{"93.00", []string{"parking_time 89.00", "metro_4 4.00"}})
	if l := q.Legs[0]; l.SupplementFen != 4900 || l.RefundFen != 0 {
		t.Errorf("parking: supplement %d, refund %d; want 4900, 0", l.SupplementFen, l.RefundFen)
	}
	if l := q.Legs[1]; l.SupplementFen != 0 || l.RefundFen != 400 {
		t.Errorf("metro: supplement %d, refund %d; want 0, 400", l.SupplementFen, l.RefundFen)
	}
	if q.RefundFen != 400 || q.SupplementFen != 4900 {
		t.Errorf("journey: refund %d, supplement %d; want 400, 4900", q.RefundFen, q.SupplementFen)
	}
	if e := q.Explanation(0); !strings.Contains(e, "40.00 was charged for the missing tap-off: 49.00 more due") {
		t.Errorf("explanation %q", e)
	}
	out, _ := json.Marshal(q.JSON())
	for _, want := range []string{`"total":"93.00","refund":"4.00","supplement":"49.00"`, `"full":"89.00","supplement":"49.00"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("JSON %s\nwant %s", out, want)
		}
	}
	// Nothing charged before: no refund, no supplement, both stated.
	out, _ = json.Marshal(quote(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}]}`).JSON())
	if !strings.Contains(string(out), `"total":"2.00","refund":"0.00","supplement":"0.00"`) {
		t.Errorf("JSON %s: want refund and supplement 0.00", out)
	}
}
