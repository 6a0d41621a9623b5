package terminal

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// The codes of ../fare/testdata/ningbo/fare_codes.txt.
const (
	netBus, netMetro           = 1, 2
	catAdult, catStudent       = 0, 1
	stGaoqiao, stFuming        = 101, 106
	stBusGulou                 = 1001
	prodMonthly, prodTen       = 101, 103
	lineBus1, lineMetro1       = 1, 1
	cardCityCard         uint8 = 0
)

func ningboEngine(t *testing.T) *FareEngine {
	t.Helper()
	tab, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		t.Fatal(err)
	}
	return NewFareEngine(tab)
}

func at(hh, mm int) time.Time { return time.Date(2025, 6, 10, hh, mm, 0, 0, citycard.ChinaTime) }

func bcd(tm time.Time) (keys.BCDDate, keys.BCDTime) { return keys.DateTime(tm) }

func trip(status card.TripStatus, network uint16, line, station uint32, entry time.Time) Transit {
	d, tm := bcd(entry)
	return Transit{HasTrip: true, Trip: card.Trip{Status: status, Network: network, Line: line, Station: station, EntryDate: d, EntryTime: tm, JourneyDate: d, JourneyTime: tm, JourneyLegs: 1}}
}

func product(id uint16, kind card.ProductKind, rides uint16) card.Product {
	from, _ := bcd(time.Date(2025, 6, 1, 0, 0, 0, 0, citycard.ChinaTime))
	to, _ := bcd(time.Date(2025, 6, 30, 0, 0, 0, 0, citycard.ChinaTime))
	return card.Product{Record: card.RecordProductFirst, ProductID: id, Kind: kind, Network: netBus, ValidFrom: from, ValidTo: to, RidesLeft: rides}
}

func TestFareEnginePrice(t *testing.T) {
	e := ningboEngine(t)
	withProducts := func(tr Transit, ps ...card.Product) Transit { tr.Products = ps; return tr }
	for _, tc := range []struct {
		name          string
		q             FareQuery
		fen, full     uint32
		product       uint16
		transfer      bool
		explanationOf string
	}{
		{"pos purchase", FareQuery{At: at(8, 0), Tap: TapAmount, AmountFen: 1234}, 1234, 1234, 0, false, "purchase"},
		{"bus", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1, Station: stBusGulou}, 200, 200, 0, false, "bus_single"},
		{"night bus", FareQuery{At: at(23, 0), Tap: TapFlat, Network: netBus, Line: lineBus1, Station: stBusGulou}, 300, 300, 0, false, "bus_night"},
		{"student bus", FareQuery{At: at(8, 0), Tap: TapFlat, RiderCategory: catStudent, Network: netBus, Line: lineBus1}, 100, 100, 0, false, "50%"},
		{"bus to bus in 30 min", FareQuery{At: at(8, 30), Tap: TapFlat, CardType: cardCityCard, Network: netBus, Line: 2, Station: stBusGulou,
			Transit: trip(card.TripClosed, netBus, lineBus1, 1002, at(8, 0))}, 100, 200, 0, true, "transfer"},
		{"bus to bus after 2 h", FareQuery{At: at(10, 1), Tap: TapFlat, CardType: cardCityCard, Network: netBus, Line: 2, Station: stBusGulou,
			Transit: trip(card.TripClosed, netBus, lineBus1, 1002, at(8, 0))}, 200, 200, 0, false, "bus_single"},
		{"metro tap-on", FareQuery{At: at(8, 0), Tap: TapOn, Network: netMetro, Line: lineMetro1, Station: stGaoqiao}, 0, 0, 0, false, "tap-on"},
		{"metro tap-on after a bus", FareQuery{At: at(8, 20), Tap: TapOn, CardType: cardCityCard, Network: netMetro, Line: lineMetro1, Station: stGaoqiao,
			Transit: trip(card.TripClosed, netBus, lineBus1, 1002, at(8, 0))}, 0, 0, 0, true, "tap-on"},
		{"metro tap-off 15.5 km", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.TripOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}, 400, 400, 0, false, "metro_4"},
		{"student metro tap-off", FareQuery{At: at(8, 40), Tap: TapOff, RiderCategory: catStudent, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.TripOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}, 200, 200, 0, false, "metro_4"},
		{"tap-off across midnight", FareQuery{At: time.Date(2025, 6, 11, 0, 20, 0, 0, citycard.ChinaTime), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.TripOpen, netMetro, lineMetro1, stGaoqiao, at(23, 50))}, 400, 400, 0, false, "metro_4"},
		{"tap-off without tap-on", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming}, 800, 800, 0, false, "maximum fare"},
		{"tap-on after a missing tap-off", FareQuery{At: at(18, 0), Tap: TapOn, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.TripOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}, 800, 800, 0, false, "never tapped off"},
		{"monthly pass", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
			Transit: withProducts(Transit{}, product(prodMonthly, card.ProductPass, 0))}, 0, 200, prodMonthly, false, "pass"},
		{"count ticket", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
			Transit: withProducts(Transit{}, product(prodTen, card.ProductCountTicket, 5))}, 0, 200, prodTen, false, "count_ticket"},
		{"daily cap", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
			Transit: Transit{Spend: card.Spend{Day: keys.BCDDate{0x20, 0x25, 0x06, 0x10}, DaySpendFen: 900}}}, 100, 200, 0, false, "cap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := e.Price(tc.q)
			if err != nil {
				t.Fatalf("Price: %v", err)
			}
			if ch.AmountFen != tc.fen || ch.FullFen != tc.full || ch.Product != tc.product || ch.Transfer != tc.transfer {
				t.Errorf("charge %d (full %d, product %d, transfer %v), want %d (full %d, product %d, transfer %v)\n%s",
					ch.AmountFen, ch.FullFen, ch.Product, ch.Transfer, tc.fen, tc.full, tc.product, tc.transfer, ch.Explanation)
			}
			if !strings.Contains(ch.Explanation, tc.explanationOf) {
				t.Errorf("explanation %q does not mention %q", ch.Explanation, tc.explanationOf)
			}
		})
	}
}

func TestFareEngineProductUpdate(t *testing.T) {
	e := ningboEngine(t)
	ch, err := e.Price(FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
		Transit: Transit{Products: []card.Product{product(prodTen, card.ProductCountTicket, 5)}}})
	if err != nil {
		t.Fatal(err)
	}
	u := ch.ProductUpdate
	if u == nil || u.RidesLeft != 4 || u.RidesToday != 1 || u.RidesTodayDate != (keys.BCDDate{0x20, 0x25, 0x06, 0x10}) {
		t.Fatalf("product update %+v, want 4 rides left, 1 today on 20250610", u)
	}
	if err := u.Validate(); err != nil {
		t.Errorf("the update is not a valid product record: %v", err)
	}
	// A monthly pass at its daily limit (4): the ride is paid.
	p := product(prodMonthly, card.ProductPass, 0)
	p.DailyLimit, p.RidesToday, p.RidesTodayDate = 4, 4, keys.BCDDate{0x20, 0x25, 0x06, 0x10}
	ch, err = e.Price(FareQuery{At: at(18, 0), Tap: TapFlat, Network: netBus, Line: lineBus1, Transit: Transit{Products: []card.Product{p}}})
	if err != nil || ch.AmountFen != 200 || ch.ProductUpdate != nil {
		t.Errorf("pass at its daily limit: %d fen, update %v, %v; want 200, none", ch.AmountFen, ch.ProductUpdate, err)
	}
}

func TestFareEngineErrors(t *testing.T) {
	e := ningboEngine(t)
	for _, q := range []FareQuery{
		{At: at(8, 0), Tap: TapFlat, Network: 99},
		{At: at(8, 0), Tap: TapFlat, Network: netBus, RiderCategory: 200},
	} {
		if _, err := e.Price(q); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("Price(%+v) = %v, want kind Invalid", q, err)
		}
	}
}

func TestFareEngineRecheck(t *testing.T) {
	e := ningboEngine(t)
	d, tm := bcd(at(8, 40))
	ed, et := bcd(at(8, 0))
	rec := record.Record{Type: keys.TxCompositePurchase, Date: d, Time: tm, Network: netMetro, Line: lineMetro1, Station: stFuming,
		EntryLine: lineMetro1, EntryStation: stGaoqiao, EntryDate: ed, EntryTime: et, Amount: 400, FareFull: 400}
	c, err := e.Recheck(&rec)
	if err != nil || !c.Match || c.FullFen != 400 {
		t.Fatalf("Recheck = %+v, %v; want a match at 400", c, err)
	}
	rec.FareFull, rec.Amount = 300, 300
	if c, err = e.Recheck(&rec); err != nil || c.Match {
		t.Errorf("Recheck of a 3.00 record for a 4.00 leg = %+v, %v; want a mismatch", c, err)
	}
	rec.Type = keys.TxPurchase
	if _, err := e.Recheck(&rec); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("Recheck of a simple purchase: %v, want kind Invalid", err)
	}
}

// TestFareEngineIsFare keeps FareEngine a Fare.
func TestFareEngineIsFare(t *testing.T) {
	var _ Fare = (*FareEngine)(nil)
}
