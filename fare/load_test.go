package fare

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

const minimalProducts = `
fare_product_id,amount,currency
p,2.00,CNY
`

func TestLoadErrorsNameFileLineField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad amount", map[string]string{"fare_products.txt": "fare_product_id,amount,currency\np,2.00,CNY\nq,2.5x,CNY\n"},
			`fare_products.txt:3: amount: "2.5x" is not a decimal amount`},
		{"too many decimals", map[string]string{"fare_products.txt": "fare_product_id,amount,currency\np,2.001,CNY\n"},
			`fare_products.txt:2: amount: "2.001" has more than 2 decimals`},
		{"no currency", map[string]string{"fare_products.txt": "fare_product_id,amount,currency\np,2.00,\n"},
			`fare_products.txt:2: currency: required, empty`},
		{"two currencies", map[string]string{"fare_products.txt": "fare_product_id,amount,currency\np,2.00,CNY\nq,1.00,USD\n"},
			`fare_products.txt:3: currency: USD, but the feed's amounts are in CNY`},
		{"transfer count", map[string]string{"fare_products.txt": minimalProducts, "fare_leg_rules.txt": "leg_group_id,fare_product_id\ng,p\n",
			"fare_transfer_rules.txt": "from_leg_group_id,to_leg_group_id,fare_transfer_type\ng,g,0\n"},
			`fare_transfer_rules.txt:2: transfer_count: required when from_leg_group_id equals to_leg_group_id`},
		{"duration type", map[string]string{"fare_products.txt": minimalProducts, "fare_transfer_rules.txt": "duration_limit,fare_transfer_type\n60,0\n"},
			`fare_transfer_rules.txt:2: duration_limit_type: required with a duration_limit`},
		{"transfer type", map[string]string{"fare_products.txt": minimalProducts, "fare_transfer_rules.txt": "fare_transfer_type\n3\n"},
			`fare_transfer_rules.txt:2: fare_transfer_type: 3 is not in 0..2`},
		{"timeframe time", map[string]string{"fare_products.txt": minimalProducts, "timeframes.txt": "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,25:00:00,daily\n"},
			`timeframes.txt:2: end_time: "25:00:00" is not a time of day`},
		{"distance band", map[string]string{"fare_products.txt": minimalProducts, "fare_leg_rules.txt": "fare_product_id,min_distance_m,max_distance_m\np,6000,6000\n"},
			`fare_leg_rules.txt:2: max_distance_m: 6000 is not more than min_distance_m 6000`},
		{"held kind", map[string]string{"fare_products.txt": minimalProducts, "fare_held_products.txt": "fare_product_id,kind\np,season\n"},
			`fare_held_products.txt:2: kind: "season" is not pass or count_ticket`},
		{"cap period", map[string]string{"fare_products.txt": minimalProducts, "fare_caps.txt": "period,amount\nyear,100.00\n"},
			`fare_caps.txt:2: period: "year" is not day, week or month`},
		{"code range", map[string]string{"fare_products.txt": minimalProducts, "fare_codes.txt": "kind,id,code\nnetwork,bus,70000\n"},
			`fare_codes.txt:2: code: 70000 is more than 65535`},
		{"two defaults", map[string]string{"fare_products.txt": minimalProducts, "rider_categories.txt": "rider_category_id,is_default_fare_category\na,1\nb,1\n"},
			`rider_categories.txt:3: is_default_fare_category: a second default category`},
		{"bad quoting", map[string]string{"fare_products.txt": "fare_product_id,amount,currency\n\"p,2.00,CNY\n"},
			`fare_products.txt:2:`},
		{"no products", map[string]string{"fare_leg_rules.txt": "fare_product_id\np\n"},
			`fare_products.txt: missing`},
		// GTFS: "each line must have the same number of fields as the
		// header"; a longer row used to lose its extra fields unseen.
		{"row longer than its header", map[string]string{"fare_products.txt": "fare_product_id,amount,currency\np,2.00,CNY\nq,1.00,CNY,extra\n"},
			`fare_products.txt:3: 4 fields, but the header has 3`},
		{"row shorter than its header", map[string]string{"fare_products.txt": minimalProducts, "fare_leg_rules.txt": "network_id,fare_product_id,rule_priority\nbus,p\n"},
			`fare_leg_rules.txt:2: 2 fields, but the header has 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(mapFeed(tc.files))
			if err == nil {
				t.Fatalf("Load: no error, want %q", tc.want)
			}
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Errorf("kind %v, want Invalid", citycard.KindOf(err))
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v is not an ErrorList", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadToleratesRealFeeds(t *testing.T) {
	// Extra files and columns, a reference to a network networks.txt
	// lacks, a leg group no leg rule has, a service with no calendar.
	tab, err := Load(mapFeed(map[string]string{
		"shapes.txt":   "shape_id,shape_pt_lat\ns,1\n",
		"networks.txt": "network_id,network_name,x_experimental\nbus,Bus,1\n",
		"fare_products.txt": "\xef\xbb\xbffare_product_id,fare_product_name,amount,currency,x_color\n" +
			"p,Single,2.00,CNY,red\n\n",
		"fare_leg_rules.txt":      "leg_group_id,network_id,fare_product_id,from_timeframe_group_id\ng,tram,p,\ng,bus,p,all\n",
		"timeframes.txt":          "timeframe_group_id,service_id\nall,nowhere\n",
		"fare_transfer_rules.txt": "from_leg_group_id,to_leg_group_id,fare_transfer_type\ng,ghost,0\n",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, w := range tab.Warnings() {
		got = append(got, w.Error())
	}
	for _, want := range []string{
		`fare_leg_rules.txt:2: network_id: network "tram" is not defined`,
		`timeframes.txt:2: service_id: service "nowhere" is in neither calendar.txt nor calendar_dates.txt`,
		`fare_transfer_rules.txt:2: to_leg_group_id: leg group "ghost" is in no fare_leg_rules.txt row`,
	} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("warnings:\n%s\nwant one containing %q", strings.Join(got, "\n"), want)
		}
	}
	// The timeframe with no calendar applies every day.
	j := &Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{NetworkID: "bus", Start: 3600, End: NoTime}}}
	var q Quote
	if err := tab.Price(j, &q); err != nil || q.TotalFen != 200 {
		t.Errorf("Price = %d fen, %v; want 200", q.TotalFen, err)
	}
}

func TestVersion(t *testing.T) {
	if v := ningbo(t).Version(); v != "2025.06-1" {
		t.Errorf("version %q, want feed_info.txt's 2025.06-1", v)
	}
	a := mustLoad(t, map[string]string{"fare_products.txt": minimalProducts})
	b := mustLoad(t, map[string]string{"fare_products.txt": strings.Replace(minimalProducts, "2.00", "2.10", 1)})
	if !strings.HasPrefix(a.Version(), "sha256:") || a.Version() == b.Version() {
		t.Errorf("versions without feed_info: %q and %q, want distinct hashes", a.Version(), b.Version())
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		s    string
		fen  int64
		ok   bool
		back string
	}{
		{"2.50", 250, true, "2.50"}, {"-1.00", -100, true, "-1.00"}, {"0", 0, true, "0.00"}, {"3", 300, true, "3.00"},
		{"0.5", 50, true, "0.50"}, {".5", 50, true, "0.50"}, {"", 0, false, ""}, {"1.", 0, false, ""},
		{"1.234", 0, false, ""}, {"abc", 0, false, ""}, {"1e3", 0, false, ""}, {"--1", 0, false, ""},
	} {
		fen, err := parseAmount(tc.s, 2)
		if (err == nil) != tc.ok || tc.ok && (fen != tc.fen || formatAmount(fen, 2) != tc.back) {
			t.Errorf("parseAmount(%q) = %d, %v; want %d ok=%v", tc.s, fen, err, tc.fen, tc.ok)
		}
	}
	if formatAmount(-5, 2) != "-0.05" || formatAmount(1234, 0) != "1234" || formatAmount(1234, 3) != "1.234" {
		t.Errorf("formatAmount: %s %s %s", formatAmount(-5, 2), formatAmount(1234, 0), formatAmount(1234, 3))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		d := Date(r.IntN(200000) - 100000)
		y, m, dd := d.Civil()
		if DateOf(y, m, dd) != d {
			t.Fatalf("DateOf(Civil(%d)) = %d", d, DateOf(y, m, dd))
		}
	}
	if d, _ := ParseDate("2025-06-10"); d.Weekday() != 1 || d.String() != "2025-06-10" {
		t.Errorf("2025-06-10: weekday %d (want 1, Tuesday), %s", d.Weekday(), d)
	}
	for _, s := range []string{"2025-02-29", "2025-13-01", "20250230", "2025/06/10"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q): no error", s)
		}
	}
	if c, err := ParseClock("25:10:00"); err != nil || c != 25*3600+600 {
		t.Errorf("ParseClock(25:10:00) = %d, %v", c, err)
	}
	for _, s := range []string{"8:00", "08:60:00", "aa:00:00", "1000:00:00"} {
		if _, err := ParseClock(s); err == nil {
			t.Errorf("ParseClock(%q): no error", s)
		}
	}
}

func TestParseJourneyErrors(t *testing.T) {
	tab := ningbo(t)
	for _, tc := range []struct{ doc, want string }{
		{`{"legs":[{}]}`, "date: required"},
		{`{"date":"2025-06-31","legs":[{}]}`, "date:"},
		{`{"date":"2025-06-10","legs":[]}`, "legs: 1 to 16"},
		{`{"date":"2025-06-10","legs":[{"start_time":"8h"}]}`, "legs[0].start_time"},
		{`{"date":"2025-06-10","legs":[{"charged":"x"}]}`, "legs[0].charged"},
		{`{"date":"2025-06-10","legs":[{}],"surprise":1}`, "unknown field"},
		// Strict where encoding/json is lenient: data after the document
		// was ignored, and of a field given twice the last value kept.
		{`{"date":"2025-06-10","legs":[{}]} {"date":"2025-06-11"}`, "data after the document"},
		{`{"date":"2025-06-10","legs":[{}]}]`, "data after the document"},
		{`{"date":"2025-06-10","legs":[{"route_id":"b1"},{"start_time":"08:00:00","start_time":"09:00:00"}]}`, "legs[1].start_time: given twice"},
		{`{"date":"2025-06-10","date":"2025-06-11","legs":[{}]}`, "journey: date: given twice"},
		{`{"date":"2025-06-10","legs":[{}],"spend":{"day":"1.00","day":"2.00"}}`, "spend.day: given twice"},
		{`{"date":"2025-06-10","legs":[{}],"products":[{"fare_product_id":"bus_monthly","valid_from":"x","valid_to":"2025-06-30"}]}`, "products[0].valid_from"},
	} {
		_, err := tab.ParseJourney([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseJourney(%s) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
	// Bad input to Price: a route or stop the feed's routes.txt or
	// stops.txt lacks.
	for _, tc := range []struct {
		leg  Leg
		want string
	}{
		{Leg{RouteID: "b99", Start: 0, End: NoTime}, `leg 1: route "b99" is not in the feed's routes.txt`},
		{Leg{RouteID: "m1", FromStopID: "gq", ToStopID: "atlantis", Start: 0, End: 600}, `leg 1: stop "atlantis" is not in the feed's stops.txt`},
	} {
		j := &Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{tc.leg}}
		if err := tab.Price(j, &Quote{}); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Price(%+v) = %v, want kind Invalid containing %q", tc.leg, err, tc.want)
		}
	}
}

// TestNoMaximumFareWarning follows README.md's fare_networks.txt
// max_fare_product_id: a leg whose tap-off is missing is charged the
// network's maximum fare, "or that cannot be priced for want of it: no
// exit stop and no distance". A network whose rules need the exit (a
// to_area_id, a distance band) and that has no maximum fare cannot
// charge a missing tap-off: Load warns, naming fare_networks.txt (its row
// when it has one) and the network. A flat network, one with a maximum
// fare, and a rule that never matches are no reason to warn.
func TestNoMaximumFareWarning(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"areas.txt": "area_id\ncity\ntown\n",
		"fare_products.txt": `
fare_product_id,amount,currency
flat,2.00,CNY
zone,4.00,CNY
band,3.00,CNY
max,8.00,CNY
`,
		"timeframes.txt": "timeframe_group_id,start_time,end_time,service_id\nday,06:00:00,22:00:00,daily\n",
		"fare_leg_rules.txt": `
leg_group_id,network_id,from_area_id,to_area_id,from_timeframe_group_id,fare_product_id,min_distance_m,max_distance_m
g,bus,,,,flat,,
g,coach,city,town,,zone,,
g,metro,,,,band,,6000
g,rail,,,,band,,6000
g,tram,,town,nightly,zone,,
`,
		"fare_networks.txt": "network_id,max_fare_product_id\nbus,\ncoach,\nrail,max\n",
	})
	var got []string
	for _, w := range tab.Warnings() {
		if strings.Contains(w.Error(), "maximum fare") {
			got = append(got, w.Error())
		}
	}
	want := []string{
		`fare_networks.txt:3: max_fare_product_id: network "coach" has no maximum fare, and its fare rules need the tap-off (fare_leg_rules.txt:3: to_area_id): a leg whose tap-off is missing cannot be charged`,
		`fare_networks.txt: network_id: network "metro" has no maximum fare, and its fare rules need the tap-off (fare_leg_rules.txt:4: a distance band): a leg whose tap-off is missing cannot be charged`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSampleFeedHasNoWarnings(t *testing.T) {
	if w := ningbo(t).Warnings(); len(w) > 0 {
		t.Errorf("testdata/ningbo warnings: %v", w)
	}
	if _, err := os.Stat("testdata/ningbo/fare_products.txt"); err != nil {
		t.Fatal(err)
	}
}

// TestStopDistancesBothWays follows README.md: "A row gives both
// directions unless the reverse has its own row". A reverse row beside
// its pair used to fail the whole feed as a distance given twice.
func TestStopDistancesBothWays(t *testing.T) {
	files := map[string]string{
		"fare_products.txt": "fare_product_id,amount,currency\nshort,2.00,CNY\nlong,3.00,CNY\n",
		"fare_leg_rules.txt": "network_id,fare_product_id,min_distance_m,max_distance_m\n" +
			"metro,short,,1100\nmetro,long,1100,\n",
		"stops.txt":          "stop_id\na\nb\nc\n",
		"stop_distances.txt": "from_stop_id,to_stop_id,distance_m\na,b,1000\nb,a,1200\na,c,900\n",
	}
	tab := mustLoad(t, files)
	for _, tc := range []struct {
		from, to string
		distM    int64
	}{{"a", "b", 1000}, {"b", "a", 1200}, {"a", "c", 900}, {"c", "a", 900}} {
		j := &Journey{Date: DateOf(2025, 6, 10), Legs: []Leg{{NetworkID: "metro", FromStopID: tc.from, ToStopID: tc.to, Start: 3600, End: 4000}}}
		var q Quote
		if err := tab.Price(j, &q); err != nil {
			t.Fatalf("%s to %s: %v", tc.from, tc.to, err)
		}
		if q.Legs[0].DistanceM != tc.distM {
			t.Errorf("%s to %s: %d m, want %d", tc.from, tc.to, q.Legs[0].DistanceM, tc.distM)
		}
	}
	files["stop_distances.txt"] = "from_stop_id,to_stop_id,distance_m\na,b,1000\nb,a,1200\na,b,1000\n"
	if _, err := Load(mapFeed(files)); err == nil || !strings.Contains(err.Error(), "stop_distances.txt:4: to_stop_id: distance given twice") {
		t.Errorf("a pair given twice in one direction: %v, want an error naming line 4", err)
	}
}

// TestDanglingReferencesAreWarnings: a reference to a timeframe group,
// area, product, rider category or fare media the feed does not define
// is a warning (the first fare issue; published feeds carry them, e.g. a
// timeframe group timeframes.txt lacks), and the rule or row naming it
// never applies. A transfer rule naming a missing product is not a free
// transfer.
func TestDanglingReferencesAreWarnings(t *testing.T) {
	tab := mustLoad(t, map[string]string{
		"rider_categories.txt": "rider_category_id,is_default_fare_category\nadult,1\n",
		"fare_media.txt":       "fare_media_id,fare_media_type\ncard,2\n",
		"areas.txt":            "area_id\ncity\n",
		"stops.txt":            "stop_id\ns1\n",
		"stop_areas.txt":       "area_id,stop_id\nzone_x,s1\n",
		"timeframes.txt":       "timeframe_group_id,start_time,end_time,service_id\nnight,22:00:00,24:00:00,daily\n",
		"fare_products.txt": `
fare_product_id,rider_category_id,fare_media_id,amount,currency
single,,,2.00,CNY
single,youth,,1.00,CNY
single,,phone,1.50,CNY
peak,,,0.50,CNY
`,
		"fare_leg_rules.txt": `
leg_group_id,network_id,from_area_id,from_timeframe_group_id,fare_product_id,rule_priority
g,bus,,,single,0
g,bus,,peak_hours,peak,5
g,bus,,,nope,9
g,bus,zone_x,,peak,7
`,
		"fare_transfer_rules.txt": `
from_leg_group_id,to_leg_group_id,transfer_count,fare_transfer_type,fare_product_id
g,g,1,0,ghost
`,
		"fare_networks.txt":   "network_id,max_fare_product_id\nbus,bus_max\n",
		"fare_codes.txt":      "kind,id,code\nrider_category,youth,1\nfare_product,nope,5\nfare_media,phone,3\n",
		"fare_time_rules.txt": "fare_product_id,period_minutes,period_amount\nnope,60,1.00\n",
		"fare_caps.txt":       "rider_category_id,period,amount\nyouth,day,5.00\n",
	})
	var got []string
	for _, w := range tab.Warnings() {
		got = append(got, w.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`fare_products.txt:3: rider_category_id: rider category "youth" is not defined: the row never applies`,
		`fare_products.txt:4: fare_media_id: fare media "phone" is not defined: the row never applies`,
		`fare_leg_rules.txt:3: from_timeframe_group_id: timeframe group "peak_hours" is not in timeframes.txt: the rule never matches`,
		`fare_leg_rules.txt:4: fare_product_id: fare product "nope" is not in fare_products.txt: the rule never matches`,
		`fare_leg_rules.txt:5: from_area_id: area "zone_x" is not defined: the rule never matches`,
		`stop_areas.txt:2: area_id: area "zone_x" is not defined: the row is ignored`,
		`fare_transfer_rules.txt:2: fare_product_id: fare product "ghost" is not in fare_products.txt: the rule never applies`,
		`fare_networks.txt:2: max_fare_product_id: fare product "bus_max" is not in fare_products.txt: the network has no maximum fare`,
		`fare_codes.txt:2: id: rider category "youth" is not defined: the code maps nothing`,
		`fare_codes.txt:3: id: fare product "nope" is not in fare_products.txt: the code maps nothing`,
		`fare_time_rules.txt:2: fare_product_id: fare product "nope" is not in fare_products.txt: the row is ignored`,
		`fare_caps.txt:2: rider_category_id: rider category "youth" is not defined: the cap is ignored`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings:\n%s\nwant one containing %q", all, want)
		}
	}
	// The rules naming what is missing never match, whatever their
	// priority: both legs pay single 2.00 of the card (not the phone's
	// 1.50), and the transfer rule naming a missing product does not make
	// the second leg free.
	q := check(t, tab, `{"date":"2025-06-10","fare_media":"card","legs":[{"network_id":"bus","start_time":"08:00:00"},{"network_id":"bus","start_time":"08:10:00"}]}`,
		want{"4.00", []string{"single 2.00", "single 2.00"}})
	for i, l := range q.Legs {
		if len(l.Offers) != 1 {
			t.Errorf("leg %d: %d offers, want single alone\n%s", i, len(l.Offers), dump(q))
		}
	}
	// The rule naming the undefined area never matches, though
	// stop_areas.txt puts s1 in it (as undefined there).
	check(t, tab, `{"date":"2025-06-10","legs":[{"network_id":"bus","from_stop_id":"s1","start_time":"08:00:00"}]}`,
		want{"2.00", []string{"single 2.00"}})
	if _, ok := tab.RiderCategoryID(1); ok {
		t.Error("rider category code 1 maps an undefined category")
	}
	j := &Journey{Date: DateOf(2025, 6, 10), RiderCategory: "youth", Legs: []Leg{{NetworkID: "bus", Start: 0, End: NoTime}}}
	if err := tab.Price(j, &Quote{}); err == nil || !strings.Contains(err.Error(), `rider category "youth"`) {
		t.Errorf("a rider of an undefined category: %v, want an error naming it", err)
	}
}
