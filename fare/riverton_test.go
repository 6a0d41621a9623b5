package fare

import (
	"os"
	"strings"
	"testing"
)

// TestRivertonFeed tries testdata/riverton as a new user would try a
// published agency feed: a GTFS-Fares v2 feed built the way US agencies
// publish theirs (no rule_priority, timeframes by service, a free
// transfer, an upgrade by fare media), with the defects published feeds
// carry: a timeframe group timeframes.txt lacks, an area areas.txt lacks,
// products and a rider category the feed does not define, a route in no
// network, and (for a city whose riders tap off) rail zone fares with no
// maximum fare for a missing tap-off. The "done when": it loads
// (each defect a warning naming file and line) and prices; every leg no
// rule prices shows an empty offer set, the rest are priced.
func TestRivertonFeed(t *testing.T) {
	tab, err := Load(os.DirFS("testdata/riverton"))
	if err != nil {
		t.Fatalf("Load(testdata/riverton): %v", err)
	}
	var got []string
	for _, w := range tab.Warnings() {
		got = append(got, w.Error())
	}
	wantWarnings := []string{
		`stop_areas.txt:5: area_id: area "airport_zone" is not defined: the row is ignored`,
		`fare_products.txt:4: rider_category_id: rider category "youth" is not defined: the row never applies`,
		`fare_leg_rules.txt:5: from_timeframe_group_id: timeframe group "weekend" is not in timeframes.txt: the rule never matches`,
		`fare_leg_rules.txt:10: to_area_id: area "airport_zone" is not defined: the rule never matches`,
		`fare_leg_rules.txt:11: fare_product_id: fare product "rail_peak_reduced" is not in fare_products.txt: the rule never matches`,
		`fare_transfer_rules.txt:5: fare_product_id: fare product "rail_transfer_credit" is not in fare_products.txt: the rule never applies`,
		`rider_categories.txt:3: fare_percent: rider category "reduced" has no fare_percent and product "express_peak" no row for it: it pays the default category's price`,
		`fare_networks.txt: network_id: network "rail" has no maximum fare, and its fare rules need the tap-off (fare_leg_rules.txt:6: to_area_id): a leg whose tap-off is missing cannot be charged`,
	}
	if strings.Join(got, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantWarnings, "\n"))
	}
	if tab.Currency() != "USD" || tab.Version() != "riverton-2025-06" {
		t.Errorf("currency %s, version %s", tab.Currency(), tab.Version())
	}

	for _, tc := range []struct {
		name   string
		doc    string
		want   want
		priced []bool
	}{
		// Tuesday: two local buses (the second a free transfer, the
		// first's fare covering it), then the express off-peak, upgraded
		// from the local fare with the River Card: 2.00 + 0 + 2.00.
		{"weekday commute", `{"date":"2025-06-10","fare_media":"river_card","legs":[
			{"route_id":"10","from_stop_id":"market","to_stop_id":"union_bus","start_time":"08:00:00","end_time":"08:25:00"},
			{"route_id":"20","from_stop_id":"union_bus","to_stop_id":"harbor","start_time":"08:40:00","end_time":"09:05:00"},
			{"route_id":"X1","from_stop_id":"harbor","to_stop_id":"airport","start_time":"09:30:00","end_time":"10:15:00"}]}`,
			want{"4.00", []string{"local_fare 2.00", "local_fare 0.00", "express_upgrade 2.00"}}, []bool{true, true, true}},
		// Paying cash, no upgrade: the express at peak, 4.00.
		{"cash", `{"date":"2025-06-10","fare_media":"cash","legs":[
			{"route_id":"10","start_time":"08:00:00"},{"route_id":"X1","start_time":"08:30:00"}]}`,
			want{"6.00", []string{"local_fare 2.00", "express_peak 4.00"}}, []bool{true, true}},
		// Saturday: the express's weekend rule names the missing
		// timeframe group, so no rule prices it; the local bus is priced.
		{"saturday express", `{"date":"2025-06-14","fare_media":"river_card","legs":[
			{"route_id":"10","start_time":"10:00:00"},{"route_id":"X1","start_time":"10:30:00"}]}`,
			want{"2.00", []string{"local_fare 2.00", " 0.00"}}, []bool{true, false}},
		// Rail zone 1 to 2, 4.25; the ferry is in no network and no rule
		// has an empty network; rail to the airport, whose area is
		// undefined: unpriced.
		{"rail, ferry, airport", `{"date":"2025-06-10","legs":[
			{"route_id":"R","from_stop_id":"union_rail","to_stop_id":"oakdale","start_time":"17:00:00","end_time":"17:40:00"},
			{"route_id":"F","from_stop_id":"harbor","to_stop_id":"market","start_time":"18:30:00","end_time":"18:50:00"},
			{"route_id":"R","from_stop_id":"valley","to_stop_id":"airport","start_time":"20:00:00","end_time":"20:30:00"}]}`,
			want{"4.25", []string{"rail_2zone 4.25", " 0.00", " 0.00"}}, []bool{true, false, false}},
		// The reduced category has its own local fare, and pays the
		// adult express fare (no fare_percent).
		{"reduced", `{"date":"2025-06-10","rider_category":"reduced","legs":[
			{"route_id":"10","start_time":"12:00:00"},{"route_id":"X1","start_time":"15:00:00"}]}`,
			want{"4.00", []string{"local_fare 1.00", "express_offpeak 3.00"}}, []bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := check(t, tab, tc.doc, tc.want)
			complete := true
			for i, p := range tc.priced {
				l := q.Legs[i]
				complete = complete && p
				if l.Priced != p {
					t.Errorf("leg %d: priced %v, want %v", i, l.Priced, p)
				}
				if !p && len(l.Offers) != 0 {
					t.Errorf("leg %d: unpriced with %d offers, want an empty offer set", i, len(l.Offers))
				}
				if p && len(l.Offers) == 0 {
					t.Errorf("leg %d: priced without offers", i)
				}
			}
			if q.Complete != complete {
				t.Errorf("complete %v, want %v", q.Complete, complete)
			}
		})
	}
	// The free transfer: the second bus's offer is the first bus's
	// product at its price, covering it.
	q := quote(t, tab, `{"date":"2025-06-10","legs":[{"route_id":"10","start_time":"08:00:00"},{"route_id":"20","start_time":"08:40:00"}]}`)
	if !hasOffer(q.Legs[1], "local_fare", "local_fare") || !q.Legs[1].Offers[q.Legs[1].Chosen].Covered {
		t.Errorf("the second bus is not covered by the first's fare:\n%s", dump(q))
	}
}
