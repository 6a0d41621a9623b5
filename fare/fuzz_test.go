package fare

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/citycard/citycard"
)

// checkQuote asserts what every quote keeps, whatever the journey: no
// negative amount, the total the sum of the priced legs, an unpriced leg
// charging nothing, Complete saying every leg is priced, the journey's
// refund and supplement the sums of the legs', and a JSON form.
func checkQuote(t *testing.T, q *Quote) {
	t.Helper()
	var sum, refund, supplement int64
	complete := true
	for i := range q.Legs {
		l := &q.Legs[i]
		if l.AmountFen < 0 || l.FullFen < 0 || l.RefundFen < 0 || l.SupplementFen < 0 || l.CapFen < 0 || l.TierFen < 0 {
			t.Fatalf("leg %d: a negative amount: %+v", i, l)
		}
		if l.RefundFen > 0 && l.SupplementFen > 0 {
			t.Fatalf("leg %d: both a refund and a supplement", i)
		}
		if !l.Priced {
			complete = false
			if l.AmountFen != 0 || l.JoinedTo < 0 && l.Chosen >= 0 {
				t.Fatalf("leg %d: unpriced, yet %d fen, offer %d", i, l.AmountFen, l.Chosen)
			}
		}
		for _, o := range l.Offers {
			if o.AmountFen < 0 {
				t.Fatalf("leg %d: offer %s of %d fen", i, o.FareProductID, o.AmountFen)
			}
			if o.FareProductID == "" {
				t.Fatalf("leg %d: an offer without a product: %+v", i, o)
			}
		}
		sum += l.AmountFen
		refund += l.RefundFen
		supplement += l.SupplementFen
	}
	if sum != q.TotalFen || refund != q.RefundFen || supplement != q.SupplementFen || complete != q.Complete {
		t.Fatalf("total %d, refund %d, supplement %d, complete %v; the legs give %d, %d, %d, %v",
			q.TotalFen, q.RefundFen, q.SupplementFen, q.Complete, sum, refund, supplement, complete)
	}
	if _, err := json.Marshal(q.JSON()); err != nil {
		t.Fatalf("the quote's JSON: %v", err)
	}
}

// journeyDoc writes a journey as the JSON ParseJourney reads, the inverse
// of the decoder, for the round trip of FuzzParseJourney.
func journeyDoc(t *testing.T, tab *Table, j *Journey) []byte {
	t.Helper()
	jj := JourneyJSON{Date: j.Date.String(), RiderCategory: j.RiderCategory, FareMedia: j.FareMedia}
	for _, l := range j.Legs {
		lj := LegJSON{RouteID: l.RouteID, NetworkID: l.NetworkID, FromStopID: l.FromStopID, ToStopID: l.ToStopID,
			StartTime: l.Start.String(), EndTime: l.End.String(), TapOffMissing: l.TapOffMissing}
		if l.DistanceKnown {
			d := l.DistanceM
			lj.DistanceM = &d
		}
		if l.ChargedFen != 0 {
			lj.Charged = tab.FormatAmount(l.ChargedFen)
		}
		jj.Legs = append(jj.Legs, lj)
	}
	for _, h := range j.Products {
		hj := HeldJSON{FareProductID: h.FareProductID, RidesLeft: h.RidesLeft, DailyLimit: h.DailyLimit, RidesToday: h.RidesToday}
		if h.ValidFrom != NoStart {
			hj.ValidFrom = h.ValidFrom.String()
		}
		if h.ValidTo != Forever {
			hj.ValidTo = h.ValidTo.String()
		}
		jj.Products = append(jj.Products, hj)
	}
	if j.Spend != (Spend{}) {
		jj.Spend = &SpendJSON{Day: tab.FormatAmount(j.Spend.DayFen), Week: tab.FormatAmount(j.Spend.WeekFen), Month: tab.FormatAmount(j.Spend.MonthFen),
			DayRides: j.Spend.DayRides, WeekRides: j.Spend.WeekRides, MonthRides: j.Spend.MonthRides}
	}
	b, err := json.Marshal(jj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseJourney feeds the journey decoder (the JSON `citycard fare
// price` reads) arbitrary documents. It must never panic; what it refuses
// is of kind Invalid; what it accepts reads back the same once written
// again, and prices (or is refused as Invalid) into a quote that keeps
// checkQuote's invariants.
func FuzzParseJourney(f *testing.F) {
	for _, doc := range []string{
		`{"date":"2025-06-10","fare_media":"citycard","legs":[{"route_id":"b1","from_stop_id":"b_train","to_stop_id":"b_gulou","start_time":"08:00:00","end_time":"08:20:00"},{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"fm","start_time":"08:30:00","end_time":"08:45:00"},{"route_id":"b2","start_time":"09:10:00"}]}`,
		`{"date":"2025-06-30","rider_category":"student","legs":[{"route_id":"m1","from_stop_id":"gq","to_stop_id":"fm","start_time":"23:40:00","end_time":"00:05:00","charged":"4.00"},{"route_id":"bike","start_time":"00:10:00","end_time":"01:30:00"}],"products":[{"fare_product_id":"student_monthly","valid_from":"2025-06-01","valid_to":"2025-06-30"}]}`,
		`{"date":"2025-06-10","legs":[{"network_id":"metro","distance_m":0,"start_time":"08:00:00"}],"products":[{"fare_product_id":"bus_10_rides","rides_left":1},{"fare_product_id":"museum"}],"spend":{"day":"9.00","week":"39.50","month":"149.00"}}`,
		`{"date":"2025-06-10","legs":[{"network_id":"parking","start_time":"08:00:00","end_time":"58:00:00","charged":"40.00"},{"route_id":"m1","from_stop_id":"gq","tap_off_missing":true,"start_time":"60:00:00"}]}`,
		`{"date":"2025-06-10","legs":[{"route_id":"s9","from_stop_id":"gq","to_stop_id":"b_train","start_time":"08:30:00"}]}`,
		`{"date":"2025-06-10","legs":[{"route_id":"m1","to_stop_id":"wc","tap_off_missing":true}]}`,
		`{"date":"2025-02-29","legs":[{}]}`,
		`{"date":"2025-06-10","legs":[{"distance_m":-1}]}`,
		`{"date":"2025-06-10","legs":[{"charged":"1.001"}],"spend":{"day":"-1"}}`,
		`{"date":"2025-06-10","legs":[{"route_id":"b1","start_time":"08:00:00"}],"spend":{"month":"120.00","day_rides":2,"week_rides":9,"month_rides":15}}`,
		`{"date":"2025-06-10","legs":[{}],"spend":{"month_rides":-1}}`,
		`{"date":"2025-06-10","legs":[{}],"products":[{"fare_product_id":"bus_monthly","valid_from":"2025-06-30","valid_to":"2025-06-01"}]}`,
		`{"date":"2025-06-10","legs":[{"start_time":"999:59:59"}]}{"trailing":1}`,
		`[]`,
	} {
		f.Add([]byte(doc))
	}
	tab := ningbo(f)
	var q Quote
	f.Fuzz(func(t *testing.T, doc []byte) {
		j, err := tab.ParseJourney(doc)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("ParseJourney: %v, of kind %v, want Invalid", err, citycard.KindOf(err))
			}
			return
		}
		again, err := tab.ParseJourney(journeyDoc(t, tab, j))
		if err != nil {
			t.Fatalf("the journey written again does not read: %v\n%s", err, journeyDoc(t, tab, j))
		}
		if !reflect.DeepEqual(j, again) {
			t.Fatalf("round trip:\n%+v\n%+v", j, again)
		}
		if err := tab.Price(j, &q); err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("Price: %v, of kind %v, want Invalid", err, citycard.KindOf(err))
			}
			return
		}
		checkQuote(t, &q)
	})
}
