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
)

// The codes of ../fare/testdata/beijing/fare_codes.txt.
const (
	bjNetBus, bjNetMetro       = 1, 2
	bjPgy, bjGzf, bjXd         = 101, 102, 103
	bjShd                      = 106
	bjBusXd                    = 1001
	bjLine1                    = 1
	bjStudent            uint8 = 1
	bjCityCard           uint8 = 1 // the card type of the test cards (card.Config.CardType)
	bjTicket             uint8 = 2
)

// beijingEngine loads ../fare/testdata/beijing, with its fare_tiers.txt
// and fare_tier_networks.txt replaced where tiers is not empty.
func beijingEngine(t *testing.T, tiers, tierNetworks string) *FareEngine {
	t.Helper()
	var fsys fs.FS = os.DirFS("../fare/testdata/beijing")
	if tiers != "" {
		m := fstest.MapFS{}
		entries, err := os.ReadDir("../fare/testdata/beijing")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile("../fare/testdata/beijing/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			m[e.Name()] = &fstest.MapFile{Data: b}
		}
		m["fare_tiers.txt"] = &fstest.MapFile{Data: []byte(tiers)}
		m["fare_tier_networks.txt"] = &fstest.MapFile{Data: []byte(tierNetworks)}
		fsys = m
	}
	tab, err := fare.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return NewFareEngine(tab)
}

// monthSpend is a card's spend record of June 2025 (the day: 10 June).
func monthSpend(fen uint32, rides uint16) card.Spend {
	return card.Spend{Day: citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, Month: card.BCDMonth{0x20, 0x25, 0x06}, MonthSpendFen: fen, MonthRides: rides}
}

func withSpend(tr Transit, sp card.Spend) Transit { tr.Spend = sp; return tr }

// TestFareEngineSpendTier: the terminal passes the card's month spend and
// rides, so that a tap gets the spend tier of Beijing's metro on the
// city card (80% after 100 yuan in a calendar month, 50% after 150, the
// full fare after 400; ../fare/testdata/beijing/fare_tiers.txt), and of
// Guangzhou's rides (60% from the 16th bus or metro ride of a month).
// Pingguoyuan to Xidan is 15 km: 5.00.
func TestFareEngineSpendTier(t *testing.T) {
	bj := beijingEngine(t, "", "")
	gz := beijingEngine(t, "tier_id,period,threshold_kind,threshold,fare_percent\ngz,month,rides,15,60\n", "tier_id,network_id\ngz,bus\ngz,metro\n")
	open := trip(card.LegOpen, bjNetMetro, bjLine1, bjPgy, at(8, 0))
	offXd := func(tr Transit) FareQuery {
		return FareQuery{At: at(8, 30), Tap: TapOff, CardType: bjCityCard, Network: bjNetMetro, Line: bjLine1, Station: bjXd, Transit: tr}
	}
	// A tap-off after a metro leg Gongzhufen to Xidan (4.00, ended
	// 07:40), which the card's spend counts: the tier sees the card's
	// spend, the previous leg not counted twice.
	afterMetro := withSpend(open, monthSpend(10000, 9))
	afterMetro.JourneyRecord.PrevNetwork, afterMetro.JourneyRecord.PrevLine = bjNetMetro, bjLine1
	afterMetro.JourneyRecord.PrevFromStation, afterMetro.JourneyRecord.PrevToStation = bjGzf, bjXd
	afterMetro.JourneyRecord.PrevEndDate, afterMetro.JourneyRecord.PrevEndTime = citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, citycard.BCDTime{0x07, 0x40}
	afterMetro.JourneyRecord.PrevStartDate, afterMetro.JourneyRecord.PrevStartTime = citycard.BCDDate{0x20, 0x25, 0x06, 0x10}, citycard.BCDTime{0x07, 0x20}
	afterMetro.JourneyRecord.PrevFen = 400
	may := withSpend(open, card.Spend{Month: card.BCDMonth{0x20, 0x25, 0x05}, MonthSpendFen: 12000})
	for _, tc := range []struct {
		name      string
		e         *FareEngine
		q         FareQuery
		fen, full uint32
		tier      string // the explanation mentions it, "" no tier
	}{
		// "满100元以后的乘次 8折".
		{"99.99 spent", bj, offXd(withSpend(open, monthSpend(9999, 20))), 500, 500, ""},
		{"100.00 spent", bj, offXd(withSpend(open, monthSpend(10000, 20))), 400, 500, "month tier bj_metro (fare_tiers.txt line 2): 100.00 spent"},
		// "满150元以后的乘次 5折".
		{"150.00 spent", bj, offXd(withSpend(open, monthSpend(15000, 30))), 250, 500, "50% from 150.00"},
		// "累计达到400元以后的乘次, 不再享受打折优惠".
		{"400.00 spent", bj, offXd(withSpend(open, monthSpend(40000, 80))), 500, 500, "100% from 400.00"},
		// On the city card only: a single-journey ticket pays the fare.
		{"ticket", bj, FareQuery{At: at(8, 30), Tap: TapOff, CardType: bjTicket, Network: bjNetMetro, Line: bjLine1, Station: bjXd,
			Transit: withSpend(open, monthSpend(15000, 30))}, 500, 500, ""},
		// The card's spend of May is not June's.
		{"last month's spend", bj, offXd(may), 500, 500, ""},
		{"after a metro leg", bj, offXd(afterMetro), 400, 500, "100.00 spent this month"},
		{"student", bj, FareQuery{At: at(8, 30), Tap: TapOff, CardType: bjCityCard, RiderCategory: bjStudent, Network: bjNetMetro, Line: bjLine1, Station: bjXd,
			Transit: withSpend(open, monthSpend(15000, 30))}, 125, 250, "50% from 150.00"},
		{"bus not discounted", bj, FareQuery{At: at(8, 0), Tap: TapFlat, CardType: bjCityCard, Network: bjNetBus, Line: bjLine1, Station: bjBusXd,
			Transit: Transit{Spend: monthSpend(12000, 20)}}, 100, 100, ""},
		// "从第16次开始享受6折": a boarding after 15 rides is the 16th.
		{"15th bus ride", gz, FareQuery{At: at(8, 0), Tap: TapFlat, CardType: bjCityCard, Network: bjNetBus, Line: bjLine1, Station: bjBusXd,
			Transit: Transit{Spend: monthSpend(1500, 14)}}, 100, 100, ""},
		{"16th bus ride", gz, FareQuery{At: at(8, 0), Tap: TapFlat, CardType: bjCityCard, Network: bjNetBus, Line: bjLine1, Station: bjBusXd,
			Transit: Transit{Spend: monthSpend(1500, 15)}}, 60, 100, "15 rides this month before this leg, 60% from 15 rides"},
		// A tap-off: the card counted this leg's ride at its tap-on, so
		// 16 rides on the card are 15 before this leg.
		{"15th metro ride", gz, offXd(withSpend(open, monthSpend(1500, 15))), 500, 500, ""},
		{"16th metro ride", gz, offXd(withSpend(open, monthSpend(1500, 16))), 300, 500, "15 rides this month before this leg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := tc.e.Price(tc.q)
			if err != nil {
				t.Fatalf("Price: %v", err)
			}
			if ch.AmountFen != tc.fen || ch.FullFen != tc.full {
				t.Errorf("charge %d (full %d), want %d (full %d)\n%s", ch.AmountFen, ch.FullFen, tc.fen, tc.full, ch.Explanation)
			}
			if tc.tier == "" && strings.Contains(ch.Explanation, "tier") || tc.tier != "" && !strings.Contains(ch.Explanation, tc.tier) {
				t.Errorf("explanation %q, want it to say %q", ch.Explanation, tc.tier)
			}
		})
	}
}

// TestFareEngineSpendTierThroughTheCard rides Beijing's metro from
// Pingguoyuan to Sihuidong (38.5 km: 7.00) sixteen times in a month with
// the real card and gates: the card's month spend, written at each
// tap-off, reaches 98.00 after 14 rides; the 15th pays 7.00 (it crosses
// 100 yuan, and the tier in force at its start is none), the 16th 80%:
// 5.60.
func TestFareEngineSpendTierThroughTheCard(t *testing.T) {
	e := beijingEngine(t, "", "")
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 8, 1)
	w.load(c, 20000)
	on := w.terminal(ModeTapOn, bjPgy, e, nil)
	off := w.terminal(ModeTapOff, bjShd, e, nil)
	for _, m := range []testTerminal{on, off} {
		m.cfg.Network, m.cfg.Line = bjNetMetro, bjLine1
	}
	var paid uint32
	for ride := 1; ride <= 16; ride++ {
		// A ride a day from 1 November.
		w.now = time.Date(2026, 11, ride, 8, 0, 0, 0, citycard.ChinaTime)
		if _, err := on.Tap(c, 0); err != nil {
			t.Fatalf("ride %d tap-on: %v", ride, err)
		}
		w.now = w.now.Add(50 * time.Minute)
		r, err := off.Tap(c, 0)
		if err != nil {
			t.Fatalf("ride %d tap-off: %v", ride, err)
		}
		want := uint32(700)
		if ride == 16 {
			want = 560
		}
		if r.Record.Amount != want || r.Record.FareFull != 700 {
			t.Fatalf("ride %d: charged %d (full %d), want %d (full 700): %s", ride, r.Record.Amount, r.Record.FareFull, want, r.Explanation)
		}
		paid += r.Record.Amount
	}
	s := c.State()
	if s.Spend == nil || s.Spend.MonthSpendFen != paid || s.Spend.MonthRides != 16 || s.BalanceFen != int64(20000-paid) {
		t.Errorf("card spend %+v, balance %d; want %d this month in 16 rides, balance %d", s.Spend, s.BalanceFen, paid, 20000-paid)
	}
}
