package fare

import (
	"testing"
)

// benchPrice prices j b.N times into one reused Quote and reports
// quotes/s.
func benchPrice(b *testing.B, j *Journey) {
	tab := ningbo(b)
	var q Quote
	if err := tab.Price(j, &q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := tab.Price(j, &q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "quotes/s")
}

// BenchmarkSingleLegBus is a flat-fare bus boarding: one rule network,
// a timeframe test (night fares), a product for the rider's category.
func BenchmarkSingleLegBus(b *testing.B) {
	benchPrice(b, &Journey{Date: DateOf(2025, 6, 10), FareMedia: "citycard", Legs: []Leg{{RouteID: "b1", Start: 8 * 3600, End: NoTime}}})
}

// BenchmarkSingleLegMetro is a tap-off on the metro: distance from the
// kilometre posts, seven distance bands, a student's percent.
func BenchmarkSingleLegMetro(b *testing.B) {
	benchPrice(b, &Journey{Date: DateOf(2025, 6, 10), RiderCategory: "student", Legs: []Leg{
		{RouteID: "m1", FromStopID: "gq", ToStopID: "fm", Start: 8 * 3600, End: 8*3600 + 1800}}})
}

// BenchmarkThreeLegs is bus, metro, bus with two transfer discounts and
// a daily cap.
func BenchmarkThreeLegs(b *testing.B) {
	benchPrice(b, &Journey{Date: DateOf(2025, 6, 10), FareMedia: "citycard", Spend: Spend{DayFen: 300}, Legs: []Leg{
		{RouteID: "b1", FromStopID: "b_train", ToStopID: "b_gulou", Start: 8 * 3600, End: 8*3600 + 1200},
		{RouteID: "m1", FromStopID: "gulou_1", ToStopID: "fm", Start: 8*3600 + 1800, End: 8*3600 + 2700},
		{RouteID: "b2", Start: 9*3600 + 600, End: NoTime},
	}})
}

// BenchmarkThreeLegsHeld is three bus legs with a monthly pass whose
// daily limit leaves one ride, and a count ticket.
func BenchmarkThreeLegsHeld(b *testing.B) {
	benchPrice(b, &Journey{Date: DateOf(2025, 6, 10), FareMedia: "citycard", Legs: []Leg{
		{RouteID: "b1", Start: 8 * 3600, End: NoTime},
		{RouteID: "b2", Start: 8*3600 + 1200, End: NoTime},
		{RouteID: "b1", Start: 8*3600 + 2400, End: NoTime},
	}, Products: []Held{
		{FareProductID: "bus_monthly", ValidFrom: DateOf(2025, 6, 1), ValidTo: DateOf(2025, 6, 30), RidesToday: 3},
		{FareProductID: "bus_10_rides", ValidFrom: DateOf(2025, 1, 1), ValidTo: DateOf(2025, 12, 31), RidesLeft: 1},
	}})
}
