package terminal

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
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
	stWangchun                 = 102
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

func bcd(tm time.Time) (citycard.BCDDate, citycard.BCDTime) { return citycard.DateTime(tm) }

func trip(status card.LegStatus, network uint16, line, station uint32, entry time.Time) Transit {
	d, tm := bcd(entry)
	return Transit{HasJourney: true, JourneyRecord: card.JourneyRecord{Status: status, Network: network, Line: line, Station: station, EntryDate: d, EntryTime: tm, JourneyDate: d, JourneyTime: tm, JourneyLegs: 1}}
}

func product(id uint16, kind card.ProductType, rides uint16) card.Product {
	from, _ := bcd(time.Date(2025, 6, 1, 0, 0, 0, 0, citycard.ChinaTime))
	to, _ := bcd(time.Date(2025, 6, 30, 0, 0, 0, 0, citycard.ChinaTime))
	return card.Product{Record: card.RecordProductFirst, ProductID: id, Type: kind, Network: netBus, ValidFrom: from, ValidTo: to, RidesLeft: rides}
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
			Transit: trip(card.LegClosed, netBus, lineBus1, 1002, at(8, 0))}, 100, 200, 0, true, "transfer"},
		{"bus to bus after 2 h", FareQuery{At: at(10, 1), Tap: TapFlat, CardType: cardCityCard, Network: netBus, Line: 2, Station: stBusGulou,
			Transit: trip(card.LegClosed, netBus, lineBus1, 1002, at(8, 0))}, 200, 200, 0, false, "bus_single"},
		{"metro tap-on", FareQuery{At: at(8, 0), Tap: TapOn, Network: netMetro, Line: lineMetro1, Station: stGaoqiao}, 0, 0, 0, false, "tap-on"},
		{"metro tap-on after a bus", FareQuery{At: at(8, 20), Tap: TapOn, CardType: cardCityCard, Network: netMetro, Line: lineMetro1, Station: stGaoqiao,
			Transit: trip(card.LegClosed, netBus, lineBus1, 1002, at(8, 0))}, 0, 0, 0, true, "tap-on"},
		{"metro tap-off 15.5 km", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}, 400, 400, 0, false, "metro_4"},
		{"student metro tap-off", FareQuery{At: at(8, 40), Tap: TapOff, RiderCategory: catStudent, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}, 200, 200, 0, false, "metro_4"},
		{"tap-off across midnight", FareQuery{At: time.Date(2025, 6, 11, 0, 20, 0, 0, citycard.ChinaTime), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(23, 50))}, 400, 400, 0, false, "metro_4"},
		// The entry station's code is in no fare_codes.txt row: the leg's
		// distance is unknown, no rule prices it, and the network's
		// maximum fare is charged (it was an error).
		{"tap-off from an unmapped station", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.LegOpen, netMetro, lineMetro1, 999, at(8, 0))}, 800, 800, 0, false, "no fare rule prices the leg"},
		{"tap-off without tap-on", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming}, 800, 800, 0, false, "maximum fare"},
		{"tap-on after a missing tap-off", FareQuery{At: at(18, 0), Tap: TapOn, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(8, 0))}, 800, 800, 0, false, "never tapped off"},
		{"monthly pass", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
			Transit: withProducts(Transit{}, product(prodMonthly, card.ProductPass, 0))}, 0, 200, prodMonthly, false, "pass"},
		{"count ticket", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
			Transit: withProducts(Transit{}, product(prodTen, card.ProductCountTicket, 5))}, 0, 200, prodTen, false, "count_ticket"},
		{"daily cap", FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1,
			Transit: Transit{Spend: card.Spend{Day: citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, DaySpendFen: 900}}}, 100, 200, 0, false, "cap"},
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
	if u == nil || u.RidesLeft != 4 || u.RidesToday != 1 || u.RidesTodayDate != (citycard.BCDDate{0x20, 0x25, 0x06, 0x10}) {
		t.Fatalf("product update %+v, want 4 rides left, 1 today on 20250610", u)
	}
	if err := u.Validate(); err != nil {
		t.Errorf("the update is not a valid product record: %v", err)
	}
	// A monthly pass at its daily limit (4): the ride is paid.
	p := product(prodMonthly, card.ProductPass, 0)
	p.DailyLimit, p.RidesToday, p.RidesTodayDate = 4, 4, citycard.BCDDate{0x20, 0x25, 0x06, 0x10}
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
	rec := record.Record{Type: citycard.TxCompositePurchase, Date: d, Time: tm, Network: netMetro, Line: lineMetro1, Station: stFuming,
		EntryLine: lineMetro1, EntryStation: stGaoqiao, EntryDate: ed, EntryTime: et, Amount: 400, FareFull: 400}
	c, err := e.Recheck(&rec)
	if err != nil || !c.Match || c.FullFen != 400 {
		t.Fatalf("Recheck = %+v, %v; want a match at 400", c, err)
	}
	rec.FareFull, rec.Amount = 300, 300
	if c, err = e.Recheck(&rec); err != nil || c.Match {
		t.Errorf("Recheck of a 3.00 record for a 4.00 leg = %+v, %v; want a mismatch", c, err)
	}
	rec.Type = citycard.TxPurchase
	if _, err := e.Recheck(&rec); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("Recheck of a simple purchase: %v, want kind Invalid", err)
	}
}

// TestFareEngineIsFare keeps FareEngine a Fare.
func TestFareEngineIsFare(t *testing.T) {
	var _ Fare = (*FareEngine)(nil)
}

// openAfter is an open metro trip entered at gq at entry, whose previous
// leg (kept by the tap-on) is a boarding of bus line 1 at b_train at
// boarded, paid fen.
func openAfter(boarded time.Time, fen uint32, entry time.Time) Transit {
	tr := trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, entry)
	d, tm := bcd(boarded)
	tr.JourneyRecord.PrevNetwork, tr.JourneyRecord.PrevLine, tr.JourneyRecord.PrevFromStation, tr.JourneyRecord.PrevToStation = netBus, lineBus1, 1002, 1002
	tr.JourneyRecord.PrevEndDate, tr.JourneyRecord.PrevEndTime, tr.JourneyRecord.PrevFen = d, tm, fen
	tr.JourneyRecord.JourneyDate, tr.JourneyRecord.JourneyTime, tr.JourneyRecord.JourneyLegs = d, tm, 2
	return tr
}

// TestFareEngineTransferAtTapOff prices metro tap-offs after a bus with
// the sample feed. By hand, from ../fare/testdata/ningbo:
//   - the bus (route b1, network bus) matches fare_leg_rules.txt's
//     "bus,bus,...,bus_single": 2.00 (bus_night, 3.00, from 22:00 to
//     05:00 by timeframes.txt);
//   - the metro leg gq -> fm is 15500 m by route_stop_posts.txt (m1: gq
//     0, fm 15500), in the band 12000 < d <= 18000 of metro_4: 4.00;
//   - fare_transfer_rules.txt "bus,metro,,5400,1,1,xfer_discount": within
//     5400 s from the bus boarding to the metro tap-on (duration_limit_type
//     1, departure to departure, inclusive), fare_transfer_type 1
//     (A+AB+B) charges the metro leg xfer_discount (-1.00) plus its own
//     metro_4 (4.00): 3.00. The bus was paid at its boarding; the gate
//     charges 3.00, full fare 4.00.
func TestFareEngineTransferAtTapOff(t *testing.T) {
	e := ningboEngine(t)
	next := func(hh, mm int) time.Time { return time.Date(2025, 6, 11, hh, mm, 0, 0, citycard.ChinaTime) }
	passRide := openAfter(at(8, 0), 0, at(8, 20))
	passRide.JourneyRecord.PrevProduct = prodMonthly
	metroThenBus := trip(card.LegClosed, netMetro, lineMetro1, stFuming, at(8, 40))
	metroThenBus.JourneyRecord.PrevNetwork, metroThenBus.JourneyRecord.PrevLine = netMetro, lineMetro1
	metroThenBus.JourneyRecord.PrevFromStation, metroThenBus.JourneyRecord.PrevToStation = stGaoqiao, stFuming
	metroThenBus.JourneyRecord.PrevEndDate, metroThenBus.JourneyRecord.PrevEndTime, metroThenBus.JourneyRecord.PrevFen = citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, citycard.BCDTime{0x08, 0x40}, 400
	// The same metro leg, with when it began: from 07:20 (100 min before
	// the 09:00 bus) or 07:40 (80 min). The rule's duration_limit_type 1
	// counts from the previous leg's departure: the first is out of the
	// 90-minute window, the second in it.
	metroLong, metroShort := metroThenBus, metroThenBus
	metroLong.JourneyRecord.PrevStartDate, metroLong.JourneyRecord.PrevStartTime = citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, citycard.BCDTime{0x07, 0x20}
	metroShort.JourneyRecord.PrevStartDate, metroShort.JourneyRecord.PrevStartTime = citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, citycard.BCDTime{0x07, 0x40}
	capped := openAfter(at(8, 0), 200, at(8, 20))
	capped.Spend = card.Spend{Day: citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, DaySpendFen: 900}
	for _, tc := range []struct {
		name          string
		q             FareQuery
		fen, full     uint32
		transfer      bool
		explanationOf string
	}{
		{"bus then metro, 20 min", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: openAfter(at(8, 0), 200, at(8, 20))}, 300, 400, true, "xfer_discount"},
		// 09:30 is 5400 s after 08:00: the limit is inclusive.
		{"tap-on at the window's end", FareQuery{At: at(9, 50), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: openAfter(at(8, 0), 200, at(9, 30))}, 300, 400, true, "xfer_discount"},
		// 09:31 is 5460 s after 08:00: out of the window.
		{"tap-on after the window", FareQuery{At: at(9, 51), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: openAfter(at(8, 0), 200, at(9, 31))}, 400, 400, false, "metro_4"},
		// A night bus at 23:30 (3.00), the metro from 23:50 to 00:20:
		// 20 min from boarding to tap-on, across midnight.
		{"across midnight", FareQuery{At: next(0, 20), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: openAfter(at(23, 30), 300, at(23, 50))}, 300, 400, true, "xfer_discount"},
		{"bus the day before", FareQuery{At: next(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: openAfter(at(8, 0), 200, next(8, 20))}, 400, 400, false, "metro_4"},
		{"bus on a pass", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: passRide}, 400, 400, false, "metro_4"},
		// The card's 9.00 of the day count the bus's 2.00: priced again,
		// it is taken out, and the day cap (10.00) leaves 1.00 of the 3.00.
		{"capped", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: capped}, 100, 400, true, "cap"},
		// A tap-on without a previous leg (an old card): no transfer.
		{"metro alone", FareQuery{At: at(8, 40), Tap: TapOff, Network: netMetro, Line: lineMetro1, Station: stFuming,
			Transit: trip(card.LegOpen, netMetro, lineMetro1, stGaoqiao, at(8, 20))}, 400, 400, false, "metro_4"},
		// metro then bus: the closed trip's previous leg is the metro leg
		// gq -> fm (metro_4); "metro,bus,,5400,1,1,xfer_discount" gives
		// the bus 2.00 - 1.00.
		{"metro then bus", FareQuery{At: at(9, 0), Tap: TapFlat, CardType: cardCityCard, Network: netBus, Line: lineBus1, Station: stBusGulou,
			Transit: metroThenBus}, 100, 200, true, "xfer_discount"},
		{"metro from 07:20 then bus at 09:00", FareQuery{At: at(9, 0), Tap: TapFlat, CardType: cardCityCard, Network: netBus, Line: lineBus1, Station: stBusGulou,
			Transit: metroLong}, 200, 200, false, "bus_single"},
		{"metro from 07:40 then bus at 09:00", FareQuery{At: at(9, 0), Tap: TapFlat, CardType: cardCityCard, Network: netBus, Line: lineBus1, Station: stBusGulou,
			Transit: metroShort}, 100, 200, true, "xfer_discount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := e.Price(tc.q)
			if err != nil {
				t.Fatalf("Price: %v", err)
			}
			if ch.AmountFen != tc.fen || ch.FullFen != tc.full || ch.Transfer != tc.transfer {
				t.Errorf("charge %d (full %d, transfer %v), want %d (full %d, transfer %v)\n%s",
					ch.AmountFen, ch.FullFen, ch.Transfer, tc.fen, tc.full, tc.transfer, ch.Explanation)
			}
			if !strings.Contains(ch.Explanation, tc.explanationOf) {
				t.Errorf("explanation %q does not mention %q", ch.Explanation, tc.explanationOf)
			}
		})
	}
}

// TestFareEngineTransferThroughTheCard rides bus line 1, then the metro
// from gq to fm, with the real card and terminals: the metro tap-on
// writes the bus leg into the journey record (UPDATE CAPP DATA CACHE), the
// tap-off gate reads it back (READ RECORD) and charges 3.00 instead of
// 4.00 (worked out in TestFareEngineTransferAtTapOff). A second ride
// after the window pays the full 4.00.
func TestFareEngineTransferThroughTheCard(t *testing.T) {
	e := ningboEngine(t)
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 7, 1)
	w.load(c, 5000)
	bus := w.terminal(ModeFlat, stBusGulou, e, nil) // network 1, line 1: bus b1
	on := w.terminal(ModeTapOn, stGaoqiao, e, nil)
	off := w.terminal(ModeTapOff, stFuming, e, nil)
	for _, m := range []testTerminal{on, off} {
		m.cfg.Network, m.cfg.Line = netMetro, lineMetro1
	}
	tap := func(term testTerminal, hh, mm int, fen, full uint32) Result {
		t.Helper()
		w.now = time.Date(2026, 11, 24, hh, mm, 0, 0, citycard.ChinaTime)
		r, err := term.Tap(c, 0)
		if err != nil {
			t.Fatalf("tap at %02d:%02d: %v", hh, mm, err)
		}
		if r.Record.Amount != fen || r.Record.FareFull != full {
			t.Fatalf("tap at %02d:%02d: charged %d (full %d), want %d (full %d): %s", hh, mm, r.Record.Amount, r.Record.FareFull, fen, full, r.Explanation)
		}
		return r
	}
	tap(bus, 8, 0, 200, 200)
	tap(on, 8, 20, 0, 0)
	tr := c.State().JourneyRecord
	if tr == nil || tr.Status != card.LegOpen || tr.PrevNetwork != netBus || tr.PrevLine != lineBus1 || tr.PrevFromStation != stBusGulou ||
		tr.PrevEndTime != (citycard.BCDTime{0x08, 0x00, 0x00}) || tr.PrevFen != 200 || tr.PrevProduct != 0 || tr.JourneyLegs != 2 {
		t.Fatalf("trip after the metro tap-on %+v, want the bus leg as its previous leg", tr)
	}
	r := tap(off, 8, 40, 300, 400)
	if r.Record.EntryStation != stGaoqiao || r.Record.Network != netMetro {
		t.Errorf("tap-off record entry %d on network %d, want %d on %d", r.Record.EntryStation, r.Record.Network, stGaoqiao, netMetro)
	}
	tr = c.State().JourneyRecord
	if tr.Status != card.LegClosed || tr.PrevNetwork != netMetro || tr.PrevFromStation != stGaoqiao || tr.PrevToStation != stFuming ||
		tr.PrevFen != 300 || tr.JourneyLegs != 2 || tr.JourneySpendFen != 500 {
		t.Errorf("trip after the tap-off %+v, want the metro leg gq-fm as its previous leg, 2 legs, 5.00", tr)
	}
	// Metro then bus within the window: 2.00 - 1.00.
	tap(bus, 9, 0, 100, 200)
	// The bus at 09:00, the metro entered at 10:31 (91 min later): no discount.
	tap(on, 10, 31, 0, 0)
	tap(off, 10, 50, 400, 400)
	if s := c.State(); s.BalanceFen != 5000-200-300-100-400 {
		t.Errorf("balance %d, want %d", s.BalanceFen, 5000-200-300-100-400)
	}
}

// ningboWithBusFare returns the Ningbo fare table with the bus single fare
// set to amount (yuan, as the feed writes it) and no caps, so that a bus
// boarding is charged exactly that.
func ningboWithBusFare(t *testing.T, amount string) *FareEngine {
	t.Helper()
	return ningboEdited(t, map[string][2]string{
		"fare_products.txt": {"bus_single,公交单程 bus single,adult,,2.00,CNY", "bus_single,公交单程 bus single,adult,," + amount + ",CNY"},
		"fare_caps.txt":     {"", ""},
	})
}

// ningboEdited returns the Ningbo fare table with a line of some files
// replaced: edits[file] = {old line, new line}; an old line "" empties
// the file but for its header.
func ningboEdited(t *testing.T, edits map[string][2]string) *FareEngine {
	t.Helper()
	fsys := fstest.MapFS{}
	src := os.DirFS("../fare/testdata/ningbo")
	names, err := fs.Glob(src, "*.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := fs.ReadFile(src, n)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		switch ed, ok := edits[n]; {
		case !ok:
		case ed[0] == "":
			head, _, _ := strings.Cut(text, "\n")
			text = head + "\n"
		case !strings.Contains(text, ed[0]):
			t.Fatalf("the Ningbo feed's %s has no line %q", n, ed[0])
		default:
			text = strings.Replace(text, ed[0], ed[1], 1)
		}
		fsys[n] = &fstest.MapFile{Data: []byte(text)}
	}
	tab, err := fare.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return NewFareEngine(tab)
}

// TestFareEngineFareBound: a fare up to FareFenMax is charged; above it
// (up to amounts that do not fit the record's 32 bits) it is an error,
// never a wrapped amount.
func TestFareEngineFareBound(t *testing.T) {
	if FareFenMax != 100_000 {
		t.Fatalf("FareFenMax %d: the cases below are written for 1000.00 yuan", FareFenMax)
	}
	d, tm := bcd(at(8, 0))
	rec := record.Record{Type: citycard.TxCompositePurchase, Date: d, Time: tm, Network: netBus, Line: lineBus1, Station: stBusGulou}
	for _, tc := range []struct {
		amount string
		fen    uint32 // 0: refused
	}{
		{"999.99", 99_999},
		{"1000.00", FareFenMax},
		{"1000.01", 0},
		{"42949672.96", 0}, // 2^32 fen: 0 when cut to 32 bits
		{"50000000.00", 0}, // 5e9 fen: 705,032,704 when cut to 32 bits
	} {
		e := ningboWithBusFare(t, tc.amount)
		ch, err := e.Price(FareQuery{At: at(8, 0), Tap: TapFlat, Network: netBus, Line: lineBus1, Station: stBusGulou})
		c, rerr := e.Recheck(&rec)
		if tc.fen == 0 {
			if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "FareFenMax") {
				t.Errorf("bus fare %s: charge %d, %v; want kind Invalid naming FareFenMax", tc.amount, ch.AmountFen, err)
			}
			if !citycard.IsKind(rerr, citycard.Invalid) {
				t.Errorf("Recheck at bus fare %s: full fare %d, %v; want kind Invalid", tc.amount, c.FullFen, rerr)
			}
			continue
		}
		if err != nil || ch.AmountFen != tc.fen || ch.FullFen != tc.fen {
			t.Errorf("bus fare %s: charge %d (full %d), %v; want %d", tc.amount, ch.AmountFen, ch.FullFen, err, tc.fen)
		}
		if rerr != nil || c.FullFen != tc.fen {
			t.Errorf("Recheck at bus fare %s: full fare %d, %v; want %d", tc.amount, c.FullFen, rerr, tc.fen)
		}
	}
}

// TestSectionFareNoWrap: many steps of a large step fare reach the
// maximum fare; they do not wrap around 32 bits to a small one.
func TestSectionFareNoWrap(t *testing.T) {
	f := SectionFare{Network: 1, BaseFen: 200, BaseStations: 6, StepFen: 1 << 31, StepStations: 1, MaxFen: 700}
	for _, tc := range []struct {
		from, to uint32
		want     uint32
	}{
		{10, 14, 200},       // within the base stations
		{10, 17, 700},       // one step: 200 + 2^31, capped
		{10, 30, 700},       // 14 steps: 14 * 2^31 wraps 32 bits to 0
		{0, 1<<32 - 1, 700}, // the most stations apart
	} {
		q := FareQuery{Tap: TapOff, Network: 1, Station: tc.to, Transit: Transit{HasJourney: true, JourneyRecord: card.JourneyRecord{Status: card.LegOpen, Network: 1, Station: tc.from}}}
		ch, err := f.Price(q)
		if err != nil || ch.AmountFen != tc.want {
			t.Errorf("%d to %d: %d fen, %v; want %d", tc.from, tc.to, ch.AmountFen, err, tc.want)
		}
	}
}

// More codes of ../fare/testdata/ningbo/fare_codes.txt.
const (
	netBike, netSuburban = 3, 5
	lineBike, lineCoach  = 1, 919
	stBikeGulou          = 3001
	stFenghua            = 5001
)

// TestFareEngineRecheckTaps re-prices records without an entry as what
// their terminal charged, by the sample feed's rules (DESIGN.md, the
// composite purchase: "tap-on writes an entry record ... with a zero or
// provisional amount ... A missing tap-off is charged the configured
// maximum fare at the next tap"):
//   - a leg the rules price only from its exit (the metro's distance
//     bands, the bikes' time fare, the suburban bus's zones,
//     fare_leg_rules.txt) is a tap-on: 0 (or a provisional amount, the
//     record's amount under its full fare), or a tap-off without its
//     tap-on, the network's maximum fare (fare_networks.txt: metro_max
//     8.00, bike_max 50.00, suburban_4 4.00);
//   - a bus is a boarding: bus_single 2.00;
//   - either may also pay a missed tap-off: the maximum fare of one
//     network, on top.
//
// Anything else is a mismatch.
func TestFareEngineRecheckTaps(t *testing.T) {
	e := ningboEngine(t)
	d, tm := bcd(at(8, 40))
	rec := func(network uint16, line, station uint32, amount, full uint32) record.Record {
		return record.Record{Type: citycard.TxCompositePurchase, Date: d, Time: tm, Network: network, Line: line, Station: station, Amount: amount, FareFull: full}
	}
	for _, tc := range []struct {
		name       string
		rec        record.Record
		match      bool
		tap        TapKind
		penaltyFen uint32
	}{
		{"metro tap-on", rec(netMetro, lineMetro1, stGaoqiao, 0, 0), true, TapOn, 0},
		// A tap-on paying a missed metro tap-off and a tap-off without
		// its tap-on charge the same: the record cannot tell them apart,
		// and the reading without a penalty is the one given.
		{"metro tap-on paying a missed metro tap-off", rec(netMetro, lineMetro1, stGaoqiao, 800, 800), true, TapOff, 0},
		{"metro tap-on paying a missed bike return", rec(netMetro, lineMetro1, stGaoqiao, 5000, 5000), true, TapOn, 5000},
		{"metro tap-on, a missed bike return less its provisional 3.00", rec(netMetro, lineMetro1, stGaoqiao, 4700, 5000), true, TapOn, 5000},
		{"metro tap-off without tap-on", rec(netMetro, lineMetro1, stFuming, 800, 800), true, TapOff, 0},
		{"metro tap-off without tap-on, and a missed bike return", rec(netMetro, lineMetro1, stFuming, 5800, 5800), true, TapOff, 5000},
		{"metro tap-on charging 3.00", rec(netMetro, lineMetro1, stGaoqiao, 300, 300), false, TapOn, 0},
		{"metro tap-on charging more than its full fare", rec(netMetro, lineMetro1, stGaoqiao, 900, 800), false, TapOn, 0},
		{"bike hire", rec(netBike, lineBike, stBikeGulou, 0, 0), true, TapOn, 0},
		{"bike hire paying a missed metro tap-off", rec(netBike, lineBike, stBikeGulou, 800, 800), true, TapOn, 800},
		{"coach tap-on", rec(netSuburban, lineCoach, stFenghua, 0, 0), true, TapOn, 0},
		{"coach tap-off without tap-on", rec(netSuburban, lineCoach, stFenghua, 400, 400), true, TapOff, 0},
		{"bus", rec(netBus, lineBus1, stBusGulou, 200, 200), true, TapFlat, 0},
		{"bus on a transfer", rec(netBus, lineBus1, stBusGulou, 100, 200), true, TapFlat, 0},
		{"bus paying a missed metro tap-off", rec(netBus, lineBus1, stBusGulou, 1000, 1000), true, TapFlat, 800},
		{"bus paying a missed coach tap-off", rec(netBus, lineBus1, stBusGulou, 600, 600), true, TapFlat, 400},
		{"bus charging 5.00", rec(netBus, lineBus1, stBusGulou, 500, 500), false, TapFlat, 0},
		{"bus charging nothing in full", rec(netBus, lineBus1, stBusGulou, 0, 0), false, TapFlat, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.Recheck(&tc.rec)
			if err != nil {
				t.Fatalf("Recheck: %v", err)
			}
			if c.Match != tc.match || c.Match && (c.Tap != tc.tap || c.PenaltyFen != tc.penaltyFen) {
				t.Errorf("Recheck = %+v; want match %v as %v, penalty %d", c, tc.match, tc.tap, tc.penaltyFen)
			}
		})
	}
}

// rig is a card holding 50.00 and, pricing with the sample feed, a bus
// validator (b1 at b_gulou), a metro tap-on gate at gq and a metro
// tap-off gate.
type rig struct {
	w            *world
	c            *card.Card
	bus, on, off testTerminal
}

func newRig(t *testing.T, e *FareEngine, exit uint32) rig {
	t.Helper()
	w := newWorld(t, keys.Alg3DES)
	g := rig{w: w, c: w.newCard(card.ProfileMOHURD, 7, 1)}
	w.load(g.c, 5000)
	g.bus = w.terminal(ModeFlat, stBusGulou, e, nil)
	g.on = w.terminal(ModeTapOn, stGaoqiao, e, nil)
	g.off = w.terminal(ModeTapOff, exit, e, nil)
	for _, m := range []testTerminal{g.on, g.off} {
		m.cfg.Network, m.cfg.Line = netMetro, lineMetro1
	}
	return g
}

// rideTap is a tap of a ride: the terminal, the day of November 2026
// and the time (the city's clock), and the fare the tap must charge.
type rideTap struct {
	term        testTerminal
	day, hh, mm int
	fen         uint32
}

// ride taps the rig's card in order and returns the taps' records; a tap
// that fails, or charges another fare, fails the test.
func (g rig) ride(t *testing.T, taps ...rideTap) []record.Record {
	t.Helper()
	var recs []record.Record
	for _, tap := range taps {
		g.w.now = time.Date(2026, 11, tap.day, tap.hh, tap.mm, 0, 0, citycard.ChinaTime)
		r, err := tap.term.Tap(g.c, 0)
		if err != nil {
			t.Fatalf("tap on day %d at %02d:%02d: %v", tap.day, tap.hh, tap.mm, err)
		}
		if r.Record.Amount != tap.fen {
			t.Errorf("tap on day %d at %02d:%02d charged %d, want %d: %s", tap.day, tap.hh, tap.mm, r.Record.Amount, tap.fen, r.Explanation)
		}
		recs = append(recs, r.Record)
	}
	return recs
}

// TestFareEngineRecheckThroughTheCard rides with the real card and
// terminals, a metro leg never tapped off among them, and re-checks every
// record as the back office does: each is the fare the terminal charged
// (the findings of the city simulator were false alarms at every tap-on
// and at a boarding that paid a missed tap-off).
func TestFareEngineRecheckThroughTheCard(t *testing.T) {
	e := ningboEngine(t)
	g := newRig(t, e, stFuming)
	// One day each, so that the day cap (10.00, fare_caps.txt) stays out.
	recs := g.ride(t,
		rideTap{g.on, 24, 8, 0, 0},      // never tapped off
		rideTap{g.bus, 24, 9, 0, 1000},  // bus_single 2.00 and metro_max 8.00
		rideTap{g.on, 25, 10, 0, 0},     // the metro, gq to fm
		rideTap{g.off, 25, 10, 30, 400}, // metro_4
		rideTap{g.bus, 25, 11, 0, 100},  // metro to bus in 90 min: 2.00 - 1.00
		rideTap{g.on, 26, 12, 0, 0},     // never tapped off
		rideTap{g.on, 26, 18, 0, 800},   // metro_max
	)
	for i, r := range recs {
		if ck, err := e.Recheck(&r); err != nil || !ck.Match {
			t.Errorf("Recheck of tap %d (%d fen, full %d) = %+v, %v; want a match", i+1, r.Amount, r.FareFull, ck, err)
		}
	}
}

// TestFareEngineMissedTapOffIsNotProvisional: the maximum fare a tap-on
// charges for an earlier leg never tapped off pays that leg; it is not a
// provisional amount of the leg the tap-on begins (DESIGN.md: "A missing
// tap-off is charged the configured maximum fare at the next tap"), so
// the leg's tap-off charges its own fare in full. By the sample feed:
// metro_max 8.00 at the 18:00 tap-on, then gq to wc, 2.8 km by
// route_stop_posts.txt, metro_2 2.00 (under the day cap of 10.00).
func TestFareEngineMissedTapOffIsNotProvisional(t *testing.T) {
	g := newRig(t, ningboEngine(t), stWangchun)
	g.ride(t, rideTap{g.on, 24, 12, 0, 0}, rideTap{g.on, 24, 18, 0, 800}, rideTap{g.off, 24, 18, 20, 200})
	if tr := g.c.State().JourneyRecord; tr.PrevFen != 200 || tr.JourneySpendFen != 200 {
		t.Errorf("journey record after the tap-off: the leg paid %d, the journey %d; want 200 and 200", tr.PrevFen, tr.JourneySpendFen)
	}
	if got := g.c.State().BalanceFen; got != 5000-800-200 {
		t.Errorf("balance %d, want %d", got, 5000-800-200)
	}
}

// TestFareEngineTapOffAfterAnotherNetwork: a coach tap-on at fh_center
// (the suburban bus, network 5), then a tap-off at a metro gate (network
// 2) with no metro tap-on. The leg open on the card is the coach's, not
// the metro's: the gate charges the metro's maximum fare for a tap-off
// without its tap-on (metro_max 8.00) and the coach leg's missing
// tap-off (suburban_4 4.00, fare_networks.txt), and starts a new
// journey; the record carries no entry (the coach's station is no metro
// station), and the back office's re-check finds both. Where the coach's
// network has no maximum fare, the rules charge nothing for its missing
// tap-off, and the gate still lets the rider out.
func TestFareEngineTapOffAfterAnotherNetwork(t *testing.T) {
	for _, tc := range []struct {
		name       string
		e          *FareEngine
		fen        uint32
		penaltyFen uint32
	}{
		{"coach with a maximum fare", ningboEngine(t), 1200, 400},
		{"coach without one", ningboEdited(t, map[string][2]string{"fare_networks.txt": {"suburban,suburban_4,1", "suburban,,1"}}), 800, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, tc.e, stFuming)
			coach := g.w.terminal(ModeTapOn, stFenghua, tc.e, nil)
			coach.cfg.Network, coach.cfg.Line = netSuburban, lineCoach
			recs := g.ride(t, rideTap{coach, 24, 7, 0, 0}, rideTap{g.off, 24, 8, 0, tc.fen})
			off := recs[1]
			if off.EntryStation != 0 || off.EntryLine != 0 || off.EntryDate != (citycard.BCDDate{}) {
				t.Errorf("tap-off record with entry station %d, line %d, date %v: want none (the coach leg is not the metro's)", off.EntryStation, off.EntryLine, off.EntryDate)
			}
			if ck, err := tc.e.Recheck(&off); err != nil || !ck.Match || ck.Tap != TapOff || ck.PenaltyFen != tc.penaltyFen {
				t.Errorf("Recheck = %+v, %v; want a match as a tap-off, penalty %d", ck, err, tc.penaltyFen)
			}
			tr := g.c.State().JourneyRecord
			if d, tm := bcd(g.w.now); tr.Status != card.LegClosed || tr.JourneyLegs != 1 || tr.JourneyDate != d || tr.JourneyTime != tm ||
				tr.PrevNetwork != netMetro || tr.PrevFromStation != 0 || tr.PrevToStation != stFuming || tr.PrevFen != 800 {
				t.Errorf("journey record %+v: want a closed new journey of one metro leg, from an unknown station to fm, paid 8.00", tr)
			}
		})
	}
}

// TestFareEngineTapOffClockBehind: the exit gate's clock is 30 minutes
// behind, and the card entered at 08:00 by the entry gate's: at 08:20
// the exit gate's clock says 07:50, before the card's entry. The card's
// entry is the truth: the gate lets the rider out and charges the leg gq
// to fm, metro_4 4.00 (15.5 km, route_stop_posts.txt), priced as ending
// no earlier than it began; the record keeps both times as the gate and
// the card gave them, and the back office's re-check flags it (the leg's
// length in time is unknown). The card's journey record ends the leg at
// its entry, so it stays valid, and a bus at 09:00 is a transfer from it
// (metro to bus within 90 minutes, fare_transfer_rules.txt: 1.00).
func TestFareEngineTapOffClockBehind(t *testing.T) {
	e := ningboEngine(t)
	g := newRig(t, e, stFuming)
	g.off.cfg.Now = func() time.Time { return g.w.now.Add(-30 * time.Minute) }
	off := g.ride(t, rideTap{g.on, 24, 8, 0, 0}, rideTap{g.off, 24, 8, 20, 400})[1]
	if off.Time != (citycard.BCDTime{0x07, 0x50}) || off.EntryTime != (citycard.BCDTime{0x08, 0x00}) || off.EntryStation != stGaoqiao {
		t.Errorf("tap-off record at %v, entry %v at %d: want 075000, its entry 080000 at gq", off.Time, off.EntryTime, off.EntryStation)
	}
	ck, err := e.Recheck(&off)
	if err != nil || ck.Match || !ck.ExitBeforeEntry || ck.FullFen != 400 || !strings.Contains(ck.Explanation, "before its entry") {
		t.Errorf("Recheck = %+v, %v; want no match, the exit before the entry, full fare 400", ck, err)
	}
	if tr := g.c.State().JourneyRecord; tr.PrevNetwork != netMetro || tr.PrevFromStation != stGaoqiao ||
		tr.PrevStartTime != (citycard.BCDTime{0x08, 0x00}) || tr.PrevEndTime != (citycard.BCDTime{0x08, 0x00}) {
		t.Errorf("journey record %+v: want the leg from gq, begun and ended at 08:00", tr)
	}
	g.ride(t, rideTap{g.bus, 24, 9, 0, 100})
}

// TestMaxFaresLeftOutOfTheCardsSpend: a maximum fare is left out of fare
// caps (fare/README.md: "A max fare does not count towards caps until its
// tap-off is known"), so the card's spend, which the next taps' caps
// read, leaves it out too. An adult (day cap 10.00) leaves a metro leg
// open at noon and pays its maximum fare (8.00) at the evening tap-on,
// then 2.00 for the evening leg: the card's day spend is 2.00, not
// 10.00, and the bus after it (past the transfer window) charges its
// 2.00, not nothing. A tap-off
// without its tap-on (8.00) is left out the same way.
func TestMaxFaresLeftOutOfTheCardsSpend(t *testing.T) {
	g := newRig(t, ningboEngine(t), stWangchun)
	bus := g.bus
	bus.cfg.Network, bus.cfg.Line = netBus, lineBus1
	g.ride(t, rideTap{g.on, 24, 12, 0, 0}, rideTap{g.on, 24, 18, 0, 800}, rideTap{g.off, 24, 18, 20, 200})
	if sp := g.c.State().Spend; sp.DaySpendFen != 200 || sp.MonthSpendFen != 200 || sp.DayRides != 2 {
		t.Errorf("spend after a missed tap-off paid: day %d, month %d fen, %d rides; want 200, 200, 2", sp.DaySpendFen, sp.MonthSpendFen, sp.DayRides)
	}
	g.ride(t, rideTap{bus, 24, 20, 0, 200}, rideTap{g.off, 24, 21, 0, 800})
	if sp := g.c.State().Spend; sp.DaySpendFen != 400 {
		t.Errorf("day spend after a bus ride and a tap-off without its tap-on: %d fen, want 400", sp.DaySpendFen)
	}
}

// TestFareEngineTapOnClockBehind: the card entered the metro at 08:00 and
// never tapped off; at 08:20 it taps on at a gate whose clock is 30
// minutes behind (07:50, before the card's open entry). The open leg is
// the card's truth all the same: its tap-off is missing, and the tap-on
// charges its maximum fare (metro_max 8.00), as it would at a gate with
// the right time, and the explanation says the clock is behind; the
// back office's re-check agrees with the fare (the record alone reads as
// a tap-off without its tap-on too, at the same 8.00). It used to charge
// nothing, as if the card had no open leg.
func TestFareEngineTapOnClockBehind(t *testing.T) {
	e := ningboEngine(t)
	g := newRig(t, e, stFuming)
	g.ride(t, rideTap{g.on, 24, 8, 0, 0})
	g.on.cfg.Now = func() time.Time { return g.w.now.Add(-30 * time.Minute) }
	g.w.now = time.Date(2026, 11, 24, 8, 20, 0, 0, citycard.ChinaTime)
	r, err := g.on.Tap(g.c, 0)
	if err != nil || r.Record.Amount != 800 || !strings.Contains(r.Explanation, "behind the card's open entry") {
		t.Fatalf("tap-on at a gate behind: %v, %d fen: %s; want 800 and the clock said", err, r.Record.Amount, r.Explanation)
	}
	on := r.Record
	if on.Time != (citycard.BCDTime{0x07, 0x50}) {
		t.Errorf("tap-on record at %v, want the gate's 075000", on.Time)
	}
	ck, err := e.Recheck(&on)
	if err != nil || !ck.Match || ck.FullFen != 800 {
		t.Errorf("Recheck = %+v, %v; want a match at 800", ck, err)
	}
	// The leg the gate opened is the card's open leg now, from 08:00 by the
	// card's clock: a tap-off at 08:40 by a right clock closes it.
	g.ride(t, rideTap{g.off, 24, 8, 40, 400})
}
