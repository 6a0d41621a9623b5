package city

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/fare"
)

// The fare rules the city prices with are Ningbo's sample, byte for byte.
func TestFeedRulesAreNingbos(t *testing.T) {
	for name, body := range ningboRules {
		want, err := os.ReadFile(filepath.Join("..", "..", "fare", "testdata", "ningbo", name))
		if err != nil {
			t.Fatal(err)
		}
		if body != string(want) {
			t.Errorf("%s differs from fare/testdata/ningbo/%s: copy it again", name, name)
		}
	}
}

func cityFeed(t *testing.T, seed uint64, cards int) (*network, *fare.Table) {
	t.Helper()
	n := newNetwork(rngFor(seed, "network"), sizeFor(cards))
	tab, err := fare.Load(n.feed("test", "20250101", "20271231"))
	if err != nil {
		t.Fatalf("seed %d, %d cards: %v", seed, cards, err)
	}
	if w := tab.Warnings(); len(w) > 0 {
		t.Errorf("seed %d: feed warnings: %v", seed, w)
	}
	return n, tab
}

// price prices one leg of the city's feed on a weekday morning.
func price(t *testing.T, tab *fare.Table, cat string, leg fare.Leg) int64 {
	t.Helper()
	j := fare.Journey{Date: fare.DateOf(2026, 6, 2), RiderCategory: cat, FareMedia: "citycard", Legs: []fare.Leg{leg}}
	var q fare.Quote
	if err := tab.Price(&j, &q); err != nil {
		t.Fatalf("%+v: %v", leg, err)
	}
	return q.TotalFen
}

// Every city's network is connected, its distances are the lines' posts
// and its feed prices metro legs by Ningbo's distance bands and coach
// legs by zone.
func TestNetworkFeedPrices(t *testing.T) {
	bands := []struct {
		upToM int32
		fen   int64
	}{{6000, 200}, {12000, 300}, {18000, 400}, {24000, 500}, {34000, 600}, {44000, 700}, {1 << 30, 800}}
	for _, tc := range []struct {
		seed  uint64
		cards int
	}{{1, 100}, {2, 30000}, {3, 120000}, {4, 200000}} {
		n, tab := cityFeed(t, tc.seed, tc.cards)
		if len(n.metro) != sizeFor(tc.cards).metroLines {
			t.Fatalf("%d lines", len(n.metro))
		}
		for i := range n.platforms {
			for j := range n.platforms {
				d := n.distM[i][j]
				if d != n.distM[j][i] || d < 0 || d >= 1<<30 {
					t.Fatalf("seed %d: distance %s-%s: %d", tc.seed, n.platforms[i].stopID, n.platforms[j].stopID, d)
				}
				if pi, pj := n.platforms[i], n.platforms[j]; pi.line == pj.line && d > int32(abs(pi.postM-pj.postM)) {
					t.Fatalf("seed %d: %s-%s: %d m, longer than along the line", tc.seed, pi.stopID, pj.stopID, d)
				}
			}
		}
		// Metro legs between every two stations, by the shortest path.
		for k := 0; k < len(n.stations)*len(n.stations); k++ {
			s0, s := k/len(n.stations), k%len(n.stations)
			if s0 == s {
				continue
			}
			from, to := n.gatePlatform(s0), n.gatePlatform(s)
			d := n.tripM(s0, s)
			var want int64
			for _, b := range bands {
				if d <= b.upToM {
					want = b.fen
					break
				}
			}
			route := "m" + itoa(n.metro[from.line].code)
			got := price(t, tab, "adult", fare.Leg{RouteID: route, NetworkID: "metro", FromStopID: from.stopID, ToStopID: to.stopID, Start: 8 * 3600, End: 8*3600 + 1800})
			if got != want {
				t.Fatalf("seed %d: metro %s to %s, %d m: %d fen, want %d", tc.seed, from.stopID, to.stopID, d, got, want)
			}
			if got := price(t, tab, "student", fare.Leg{RouteID: route, NetworkID: "metro", FromStopID: from.stopID, ToStopID: to.stopID, Start: 8 * 3600, End: 8*3600 + 1800}); got != want/2 {
				t.Fatalf("seed %d: a student pays %d, want %d", tc.seed, got, want/2)
			}
		}
		cl := n.coach[0]
		city, town, town2 := "cs5000", "cs"+itoa(cl.stops[1]), "cs"+itoa(cl.stops[2])
		for _, c := range []struct {
			from, to string
			fen      int64
		}{{city, town, 400}, {town, city, 400}, {town, town2, 200}} {
			got := price(t, tab, "adult", fare.Leg{RouteID: "s" + itoa(cl.code), NetworkID: "suburban", FromStopID: c.from, ToStopID: c.to, Start: 7 * 3600, End: 8 * 3600})
			if got != c.fen {
				t.Fatalf("seed %d: coach %s to %s: %d fen, want %d", tc.seed, c.from, c.to, got, c.fen)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Fault
		err  string
	}{
		{"", nil, ""},
		{"none", nil, ""},
		{"all", Faults, ""},
		{"tear, db,tear", []Fault{FaultTear, FaultDB}, ""},
		{"tear,flood", nil, `unknown fault "flood"`},
		{"counterpart,tear", []Fault{FaultCounterpart, FaultTear}, ""},
		{"crash-clearing,crash", []Fault{FaultCrashClearing, FaultCrash}, ""},
	} {
		got, err := ParseFaults(tc.in)
		if tc.err != "" {
			if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want kind Invalid saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

// The database faults: a transient failure refuses a call or loses a
// commit's answer; an armed crash kills the journal at its commit,
// before or after it goes through, until the next wrap.
func TestFaultyJournal(t *testing.T) {
	ctx := context.Background()
	commit := func(j acquire.Journal, id string, pos int64) error {
		return j.Commit(ctx, &acquire.Commit{Batches: []acquire.StoredBatch{{Terminal: citycard.TerminalID{1}, ID: id}},
			Entries:   []acquire.Journaled{{Pos: pos, Terminal: citycard.TerminalID{1}, BatchID: id, Class: acquire.ClassBooked}},
			Movements: [][]acquire.Movement{nil}, At: time.Unix(0, 0)})
	}
	mem := acquire.NewMemJournal()
	fj := &faultyJournal{rng: rngFor(1, "test")}
	j := fj.wrap(mem)
	if err := commit(j, "a", 1); err != nil {
		t.Fatal(err)
	}

	// Every call failing: commits refused or committed unanswered, and
	// every failure transient.
	fj.setTransient(1000)
	pos := int64(1)
	for i := 0; i < 40; i++ {
		err := commit(j, "t"+strconv.Itoa(i), pos+1)
		if !citycard.Transient(err) {
			t.Fatalf("commit %d: %v, want a transient error", i, err)
		}
		if last, _ := mem.LastPos(ctx); last > pos {
			pos = last
		}
		if _, _, err := j.Batch(ctx, citycard.TerminalID{1}, "a"); !citycard.Transient(err) {
			t.Fatalf("batch: %v", err)
		}
	}
	if fj.lost == 0 || fj.lost == 40 || pos-1 != fj.lost {
		t.Fatalf("%d commits went through of %d lost answers", pos-1, fj.lost)
	}
	fj.setTransient(0)

	// A crash at the second commit from now, which goes through.
	fj.arm(2, true)
	if err := commit(j, "c1", pos+1); err != nil {
		t.Fatal(err)
	}
	if err := commit(j, "c2", pos+2); !errors.Is(err, errCrashed) || !fj.isDead() {
		t.Fatalf("the crashing commit: %v", err)
	}
	if last, _ := mem.LastPos(ctx); last != pos+2 {
		t.Fatalf("journal at %d, want %d: the crashing commit went through", last, pos+2)
	}
	if _, err := j.LastPos(ctx); !errors.Is(err, errCrashed) {
		t.Fatalf("after the crash: %v", err)
	}
	if err := j.Replay(ctx, 0, func(*acquire.Journaled) error { return nil }); !errors.Is(err, errCrashed) {
		t.Fatalf("replay after the crash: %v", err)
	}
	// A restart wraps the reopened store: alive again. A crash before
	// its commit leaves the journal where it was.
	j = fj.wrap(mem)
	fj.arm(1, false)
	if err := commit(j, "c3", pos+3); !errors.Is(err, errCrashed) {
		t.Fatal(err)
	}
	if last, _ := mem.LastPos(ctx); last != pos+2 {
		t.Fatalf("journal at %d, want %d: the crash came before the commit", last, pos+2)
	}
	if fj.crashes != 2 {
		t.Fatalf("%d crashes", fj.crashes)
	}
}

// A day's plan is a function of the seed: the same events, in time
// order, and a weekend is not a weekday.
func TestPlanDeterministic(t *testing.T) {
	plan := func(seed uint64, day int) []event {
		c := &City{cfg: Config{Seed: seed, Cards: 2000, Days: 7, Dir: t.TempDir()}, pos: map[int][]int{}}
		if err := c.cfg.check(); err != nil {
			t.Fatal(err)
		}
		c.net = newNetwork(rngFor(seed, "network"), sizeFor(c.cfg.Cards))
		// The devices the plan names, without their PSAMs and queues.
		for range c.net.busLines {
			c.busVehicles = append(c.busVehicles, []int{0})
		}
		for range c.net.stations {
			c.kiosks = append(c.kiosks, 0)
		}
		for _, op := range []int{opMart, opCanteen, opBakery, opPharmacy} {
			c.pos[op] = []int{op}
		}
		c.counters = []int{1}
		if err := c.buildKeys(); err != nil {
			t.Fatal(err)
		}
		if err := c.buildRiders(); err != nil {
			t.Fatal(err)
		}
		return c.planDay(day).evs
	}
	a, b := plan(7, 0), plan(7, 0)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("one seed, two plans")
	}
	if reflect.DeepEqual(a, plan(8, 0)) {
		t.Fatal("two seeds, one plan")
	}
	for i := 1; i < len(a); i++ {
		if a[i].at < a[i-1].at {
			t.Fatalf("event %d at %d after %d", i, a[i].at, a[i-1].at)
		}
	}
	taps := func(evs []event, lo, hi int64) int {
		n := 0
		for _, e := range evs {
			if e.kind == evTap && e.step != stepLoad && e.at >= lo*3600 && e.at < hi*3600 {
				n++
			}
		}
		return n
	}
	// Monday has its peaks; Saturday (day 5) has none and fewer taps.
	sat := plan(7, 5)
	peak, midday := taps(a, 7, 9), taps(a, 13, 15)
	if peak < 3*midday || taps(sat, 0, 24) >= taps(a, 0, 24)*3/4 {
		t.Fatalf("Monday: %d taps 7-9, %d 13-15, %d all day; Saturday %d", peak, midday, taps(a, 0, 24), taps(sat, 0, 24))
	}
}

func TestConfigLimits(t *testing.T) {
	for _, tc := range []struct {
		cards, days int
		ok          bool
	}{
		{1, 1, true}, {CardsMax, DaysMax, true},
		{0, 1, false}, {CardsMax + 1, 1, false}, {1, 0, false}, {1, DaysMax + 1, false},
	} {
		cfg := Config{Cards: tc.cards, Days: tc.days, Dir: "x"}
		if err := cfg.check(); tc.ok != (err == nil) || (err != nil && !citycard.IsKind(err, citycard.Invalid)) {
			t.Errorf("%d cards, %d days: %v", tc.cards, tc.days, err)
		}
	}
	if err := (&Config{Cards: 1, Days: 1}).check(); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no queue directory: %v", err)
	}
}

// A report lists maxViolations violations, and counts the rest.
func TestViolationsBounded(t *testing.T) {
	c := &City{cfg: Config{Seed: 9}}
	for i := 0; i < maxViolations+5; i++ {
		c.violate("card %d broke", i)
	}
	if len(c.violations) != maxViolations || c.violationsDropped != 5 || c.violations[0] != "card 0 broke (seed 9)" {
		t.Fatalf("%d listed, %d dropped, first %q", len(c.violations), c.violationsDropped, c.violations[0])
	}
}

// flakyStart is a back office whose Start fails transiently n times.
type flakyStart struct {
	BackOffice
	n, starts int
	kind      citycard.Kind
}

func (f *flakyStart) Start(context.Context, Setup) error {
	f.starts++
	if f.starts <= f.n {
		return citycard.E("test.Start", f.kind, "the database is busy")
	}
	return nil
}

// The back office is started again after a transient failure, as its
// supervisor would, startAttempts times at most; any other failure at
// once is a violation.
func TestStartRetries(t *testing.T) {
	for _, tc := range []struct {
		fails  int
		kind   citycard.Kind
		starts int
		ok     bool
	}{
		{0, citycard.IO, 1, true},
		{startAttempts - 1, citycard.IO, startAttempts, true},
		{startAttempts, citycard.IO, startAttempts, false},
		{1, citycard.Invalid, 1, false},
	} {
		f := &flakyStart{n: tc.fails, kind: tc.kind}
		c := &City{bo: f}
		c.start(context.Background(), "starting")
		if f.starts != tc.starts || tc.ok != (len(c.violations) == 0) {
			t.Errorf("%d failures of kind %v: %d starts, violations %v", tc.fails, tc.kind, f.starts, c.violations)
		}
	}
}
