package whatif

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

// The codes of ../fare/testdata/ningbo/fare_codes.txt.
const (
	netBus, netMetro, netBike = 1, 2, 3
	netShop                   = 99 // not in the table
	catAdult, catStudent      = 0, 1
	catSenior                 = 2
	stBusGulou, stBusTrain    = 1001, 1002
	stBusGaoqiao              = 1003
	stGQ, stGulou1, stDMK     = 101, 104, 105
	stFM, stLS, stNBRS        = 106, 201, 202
	stBikeGulou, stBikeDMK    = 3001, 3002
	prodBusMonthly            = 101
	prodStudentMonthly        = 102
	prodBus10                 = 103
)

// day is the simulated day.
var day = time.Date(2026, 11, 24, 0, 0, 0, 0, citycard.ChinaTime)

func at(h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// ningbo loads the sample feed with each edit's old text replaced by its
// new one (the test fails if a file does not hold the old text).
func ningbo(t testing.TB, edits ...[3]string) *fare.Table {
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
		for _, e := range edits {
			if e[0] != n {
				continue
			}
			if !strings.Contains(string(b), e[1]) {
				t.Fatalf("%s holds no %q", n, e[1])
			}
			b = []byte(strings.Replace(string(b), e[1], e[2], 1))
		}
		fsys[n] = &fstest.MapFile{Data: b}
	}
	tab, err := fare.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// The new table of the tests: the bus single fare 2.00 -> 2.50, the metro
// 6-12 km fare 3.00 -> 3.50.
var (
	busFare   = [3]string{"fare_products.txt", "bus_single,公交单程 bus single,adult,,2.00,CNY", "bus_single,公交单程 bus single,adult,,2.50,CNY"}
	metroFare = [3]string{"fare_products.txt", "metro_3,地铁 6-12 km,adult,,3.00,CNY", "metro_3,地铁 6-12 km,adult,,3.50,CNY"}
)

// The stops of the test city: buses, metro gates, bike docks, a shop.
var cityStops = []sim.DeviceStop{
	{Mode: terminal.ModeFlat, Network: netBus, Line: 1, Station: stBusGulou},    // 0
	{Mode: terminal.ModeFlat, Network: netBus, Line: 2, Station: stBusTrain},    // 1
	{Mode: terminal.ModeFlat, Network: netBus, Line: 1, Station: stBusGaoqiao},  // 2
	{Mode: terminal.ModeTapOn, Network: netMetro, Line: 1, Station: stGQ},       // 3
	{Mode: terminal.ModeTapOff, Network: netMetro, Line: 1, Station: stGQ},      // 4
	{Mode: terminal.ModeTapOn, Network: netMetro, Line: 1, Station: stGulou1},   // 5
	{Mode: terminal.ModeTapOff, Network: netMetro, Line: 1, Station: stGulou1},  // 6
	{Mode: terminal.ModeTapOn, Network: netMetro, Line: 1, Station: stDMK},      // 7
	{Mode: terminal.ModeTapOff, Network: netMetro, Line: 1, Station: stDMK},     // 8
	{Mode: terminal.ModeTapOn, Network: netMetro, Line: 1, Station: stFM},       // 9
	{Mode: terminal.ModeTapOff, Network: netMetro, Line: 1, Station: stFM},      // 10
	{Mode: terminal.ModeTapOn, Network: netMetro, Line: 2, Station: stLS},       // 11
	{Mode: terminal.ModeTapOff, Network: netMetro, Line: 2, Station: stLS},      // 12
	{Mode: terminal.ModeTapOn, Network: netMetro, Line: 2, Station: stNBRS},     // 13
	{Mode: terminal.ModeTapOff, Network: netMetro, Line: 2, Station: stNBRS},    // 14
	{Mode: terminal.ModeTapOn, Network: netBike, Line: 1, Station: stBikeGulou}, // 15
	{Mode: terminal.ModeTapOff, Network: netBike, Line: 1, Station: stBikeDMK},  // 16
	{Mode: terminal.ModePOS, Network: netShop, Line: 1, Station: 1},             // 17
}

// metroGates are the (tap-on, tap-off) stops of each metro station.
var metroGates = [][2]int{{3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}}

// metroTrips are the station pairs (indices in metroGates) the feed has a
// distance for: along line 1, along line 2, and across by its table.
var metroTrips = [][2]int{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}, {4, 5}, {4, 2}, {4, 3}, {4, 0}, {5, 2},
	{1, 0}, {3, 0}, {2, 1}, {5, 4}, {2, 4}}

// cityCards are the test city's cards: adults, students, seniors, a bus
// pass, a student pass and a count ticket.
func cityCards() []sim.DeviceCard {
	from, _ := citycard.DateTime(time.Date(2026, 11, 1, 0, 0, 0, 0, citycard.ChinaTime))
	to, _ := citycard.DateTime(time.Date(2026, 11, 30, 0, 0, 0, 0, citycard.ChinaTime))
	var cs []sim.DeviceCard
	for i := range 24 {
		c := sim.DeviceCard{RiderCategory: catAdult}
		switch i % 8 {
		case 1, 5:
			c.RiderCategory = catStudent
		case 3:
			c.RiderCategory = catSenior
		}
		switch i {
		case 2:
			c.Products = []card.Product{{Record: card.RecordProductFirst, ProductID: prodBusMonthly, Type: card.ProductPass, Network: netBus, ValidFrom: from, ValidTo: to}}
		case 5:
			c.Products = []card.Product{{Record: card.RecordProductFirst, ProductID: prodStudentMonthly, Type: card.ProductPass, Network: netBus, ValidFrom: from, ValidTo: to}}
		case 6:
			c.Products = []card.Product{{Record: card.RecordProductFirst, ProductID: prodBus10, Type: card.ProductCountTicket, Network: netBus, ValidFrom: from, ValidTo: to, RidesLeft: 10}}
		}
		cs = append(cs, c)
	}
	return cs
}

// tap is one tap of the script.
type tap struct {
	card, stop int
	at         time.Time
	amountFen  uint32 // at the shop
}

// cityScript is a day of rides, the same for every table: bus boardings
// and bus-bus transfers, metro legs, bus-metro and metro-bus transfers,
// night buses, a tap-on never tapped off, a tap-off without a tap-on, bike
// hires, shopping. Each card's taps are in time order.
func cityScript(cards int, seed uint64) []tap {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []tap
	bus := func() int { return rng.IntN(3) }
	for c := range cards {
		now := at(6, 0).Add(time.Duration(rng.IntN(120)) * time.Minute)
		next := func(lo, hi int) time.Time {
			now = now.Add(time.Duration(lo+rng.IntN(hi-lo+1)) * time.Minute)
			return now
		}
		add := func(stop int, when time.Time) { out = append(out, tap{card: c, stop: stop, at: when}) }
		metro := func() {
			tr := metroTrips[rng.IntN(len(metroTrips))]
			add(metroGates[tr[0]][0], now)
			add(metroGates[tr[1]][1], next(8, 40))
		}
		trips := 1 + rng.IntN(6) // light riders stay under the day cap
		for trip := 0; trip < trips && now.Before(at(21, 0)); trip++ {
			switch rng.IntN(11) {
			case 0, 1:
				add(bus(), now)
			case 2, 3:
				metro()
			case 4:
				add(bus(), now)
				next(10, 60)
				metro()
			case 5:
				metro()
				add(bus(), next(5, 50))
			case 6:
				add(bus(), now)
				add(bus(), next(10, 80))
			case 7:
				tr := metroTrips[rng.IntN(len(metroTrips))]
				if rng.IntN(2) == 0 {
					add(metroGates[tr[0]][0], now) // never tapped off
				} else {
					add(metroGates[tr[1]][1], now) // no tap-on
				}
			case 8:
				add(15, now)
				add(16, next(20, 100))
			case 9:
				out = append(out, tap{card: c, stop: 17, at: now, amountFen: uint32(100 + rng.IntN(2000))})
			case 10:
				add(bus(), next(30, 60))
			}
			next(30, 150)
		}
		if rng.IntN(3) == 0 {
			add(bus(), at(22, 30+rng.IntN(20))) // the night bus
		}
	}
	// Before the day's rides, the taps a random day may miss: a tap-on
	// never tapped off, then a tap-on that pays its maximum fare and a
	// leg tapped off; a tap-off without a tap-on; a tap-on never tapped
	// off, then a bus that pays its maximum fare.
	out = append(out,
		tap{card: 0, stop: 3, at: at(5, 0)}, tap{card: 0, stop: 7, at: at(5, 30)}, tap{card: 0, stop: 10, at: at(5, 45)},
		tap{card: 1, stop: 10, at: at(5, 10)},
		tap{card: 4, stop: 5, at: at(5, 0)}, tap{card: 4, stop: 0, at: at(5, 40)})
	// The city's taps in time order, as they happen.
	slices.SortStableFunc(out, func(a, b tap) int { return a.at.Compare(b.at) })
	return out
}

// world is a device city that rode the script under one fare table.
type world struct {
	city *sim.DeviceCity
	recs map[cardCounter]record.Record // every record made, by card and counter
}

type cardCounter struct {
	asn     citycard.ASN
	counter uint16
}

// ride runs the script in a city whose terminals price with t.
func ride(tb testing.TB, t *fare.Table, script []tap) *world {
	tb.Helper()
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: 3, Alg: keys.Alg3DES, Fare: terminal.NewFareEngine(t), Stops: cityStops, Cards: cityCards(), Start: day})
	if err != nil {
		tb.Fatal(err)
	}
	w := &world{city: city, recs: map[cardCounter]record.Record{}}
	for _, tp := range script {
		res, err := city.Tap(tp.card, tp.stop, tp.at, tp.amountFen)
		if err != nil {
			tb.Fatalf("card %d at stop %d at %s: %v", tp.card, tp.stop, tp.at.Format("15:04"), err)
		}
		w.recs[cardCounter{res.Record.ASN, res.Record.Counter}] = res.Record
	}
	return w
}

// ingest uploads the world's records to an acquirer over j, each
// terminal's records in three batches, the batches of all terminals in a
// shuffled order: a card's records reach the journal out of their order.
func ingest(tb testing.TB, w *world, j acquire.Journal, seed uint64) {
	tb.Helper()
	ctx := context.Background()
	ts := acquire.TerminalMap{}
	for _, t := range w.city.Terminals {
		ts[t.ID] = acquire.TerminalInfo{ID: t.ID, PSAM: t.PSAM, Operator: t.Operator, OperatorCode: t.OperatorCode, Active: true}
	}
	a, err := acquire.Open(ctx, acquire.Config{Journal: j, Terminals: ts, Verifier: record.NewVerifier(w.city.Store, sim.Issuer),
		Now: func() time.Time { return at(23, 59) }})
	if err != nil {
		tb.Fatal(err)
	}
	var batches []acquire.Batch
	for _, u := range w.city.Uploads() {
		n := len(u.Records)
		for k, part := range [][][]byte{u.Records[:n/3], u.Records[n/3 : 2*n/3], u.Records[2*n/3:]} {
			if len(part) == 0 {
				continue
			}
			b := acquire.Batch{Terminal: u.Terminal.ID, ID: fmt.Sprintf("b%d", k), Count: len(part)}
			for _, r := range part {
				b.Body = append(b.Body, r...)
				fen, _ := record.AmountOf(r)
				b.AmountFen += int64(fen)
			}
			batches = append(batches, b)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	rng.Shuffle(len(batches), func(i, k int) { batches[i], batches[k] = batches[k], batches[i] })
	for _, b := range batches {
		ans, err := a.Submit(ctx, b)
		if err != nil || ans.Rejected > 0 {
			tb.Fatalf("batch %s of %v: %+v %v", b.ID, b.Terminal, ans, err)
		}
	}
	if err := a.Close(); err != nil {
		tb.Fatal(err)
	}
}
