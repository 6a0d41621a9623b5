package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim/city"
	"github.com/citycard/citycard/terminal"
)

// simFaultsHolding are the faults under which every invariant must hold:
// all of them (tear joined once acquire stopped confirming a grey record
// from the counter alone).
const simFaultsHolding = "all"

func runSimCmd(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), append([]string{"sim"}, args...), func(string) string { return "" }, &out, &errb)
	return out.String(), err
}

// lastLine is the JSON report: the last line of stdout.
func lastLine(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	l := lines[len(lines)-1]
	if !strings.HasPrefix(l, "{") {
		t.Fatalf("the last line is not JSON: %q", l)
	}
	return l
}

// untimed cuts the timing object, the one part of the report that is
// not a function of the seed (it is the last field).
func untimed(t *testing.T, j string) string {
	t.Helper()
	i := strings.Index(j, `,"timing":`)
	if i < 0 {
		t.Fatalf("no timing in %s", j)
	}
	return j[:i]
}

// The same seed gives the same report, byte for byte but for its
// timings, with every fault on; another seed another.
func TestSimSameSeedSameReport(t *testing.T) {
	args := []string{"--seed", "7", "--cards", "250", "--days", "2", "--faults", "all", "--json"}
	a, _ := runSimCmd(t, args...)
	b, _ := runSimCmd(t, args...)
	ja, jb := untimed(t, lastLine(t, a)), untimed(t, lastLine(t, b))
	if ja != jb {
		t.Fatalf("seed 7 twice, two reports:\n%s\n%s", ja, jb)
	}
	for _, field := range []string{`"cards":250`, `"taps":`, `"records_booked":`, `"faults_injected":{`, `"invariants":{`, `"violations":[`, `"tear":`, `"crash":`, `"counterpart":`, `"interop_answered":true`} {
		if !strings.Contains(ja, field) {
			t.Errorf("the report lacks %s", field)
		}
	}
	// Card management sold the cards, registered ones to cardholders,
	// and no cardholder's resident ID number (Ningbo's region code, as
	// the city draws them) or mobile number (1390574 and four digits) is
	// printed.
	if !regexp.MustCompile(`"cards_sold":2[0-9]{2},"cards_registered":[1-9]`).MatchString(ja) {
		t.Errorf("no cards sold and registered in %s", ja)
	}
	// Every cycle charges the operators the fees of their schedules
	// (sim/city/fees.go) and books what rounding them left.
	if n := len(regexp.MustCompile(`"fees_fen":[1-9][0-9]*,"rounding_booked_fen":[0-9]+`).FindAllString(ja, -1)); n < 2 {
		t.Errorf("%d cycles charged fees, want every cycle of both days: %s", n, ja)
	}
	if m := regexp.MustCompile(`330203[0-9]{11}[0-9X]|1390574[0-9]{4}`).FindString(a); m != "" {
		t.Errorf("the report prints %q", m)
	}
	if !strings.HasPrefix(a, "replay: citycard sim --seed 7 ") {
		t.Errorf("the seed is not printed first: %q", a[:min(len(a), 80)])
	}
	c, _ := runSimCmd(t, "--seed", "8", "--cards", "250", "--days", "2", "--faults", "all", "--json")
	if untimed(t, lastLine(t, c)) == ja {
		t.Fatal("seeds 7 and 8 gave one report")
	}
}

// The CI-sized run: a few seeds of a small city, every fault that
// acquisition survives today, every invariant holding.
func TestSimSeedsHold(t *testing.T) {
	out, err := runSimCmd(t, "--seeds", "1..3", "--cards", "200", "--days", "2", "--faults", simFaultsHolding, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	j := lastLine(t, out)
	if !strings.Contains(j, `"failed":[]`) || strings.Count(j, `"ok":true`) != 3 || !strings.Contains(j, `"seeds_per_minute":`) {
		t.Fatalf("report: %s", j)
	}
}

// The checks bite: a back office that answers a batch without booking it
// (the terminal drops the records) breaks "nothing received is lost" and
// conservation, and the report names the card and the seed.
func TestSimCatchesAnAnswerWithoutBooking(t *testing.T) {
	dropped := false
	o := &simOptions{cards: 200, days: 1, alg: "3des", quiet: true,
		wrap: func(bo city.BackOffice) city.BackOffice { return lossyBackOffice{bo, &dropped} }}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !dropped || rep.OK() {
		t.Fatalf("dropped %v; violations %v", dropped, rep.Violations)
	}
	for _, inv := range []string{city.InvNothingLost, city.InvConservationCard, city.InvExactlyOnce} {
		if rep.Invariants[inv] {
			t.Errorf("%s holds", inv)
		}
	}
	v := strings.Join(rep.Violations, "\n")
	if !strings.Contains(v, "answered accepted, not in the journal") || !strings.Contains(v, "(seed 3)") || !strings.Contains(v, "card 3150") {
		t.Fatalf("violations: %s", v)
	}
}

// lossyBackOffice answers the first batch of purchases it is sent
// "accepted" without booking it.
type lossyBackOffice struct {
	city.BackOffice
	dropped *bool
}

func (l lossyBackOffice) Link(id citycard.TerminalID, token string) city.Link {
	return lossyLink{l.BackOffice.Link(id, token), l.dropped}
}

type lossyLink struct {
	city.Link
	dropped *bool
}

func (l lossyLink) Upload(ctx context.Context, b terminal.UploadBatch) (acquire.Answer, error) {
	if *l.dropped || b.AmountFen == 0 {
		return l.Link.Upload(ctx, b)
	}
	*l.dropped = true
	ans := acquire.Answer{Terminal: b.Terminal.String(), BatchID: b.ID, Records: make([]acquire.RecordAnswer, len(b.Records)), Accepted: len(b.Records)}
	for i := range ans.Records {
		ans.Records[i] = acquire.RecordAnswer{Index: i, Verdict: acquire.Accepted, Status: "accepted"}
	}
	return ans, nil
}

func TestSimUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--faults", "flood"}, `unknown fault "flood"`},
		{[]string{"--cards", "0"}, "--cards 1 to"},
		{[]string{"--days", "400"}, "--days 1 to"},
		{[]string{"--seeds", "5..3"}, "want A..B"},
		{[]string{"--seeds", "1-3"}, "want A..B"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		_, err := runSimCmd(t, tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestSimRefusesAUsedDatabase: a second run on the database of a first
// is refused, kind Exists, naming the database and what it holds,
// before anything of its city is registered.
func TestSimRefusesAUsedDatabase(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "city.db")
	if out, err := runSimCmd(t, "--seed", "1", "--cards", "50", "--days", "1", "--db", db); err != nil {
		t.Fatalf("the first run: %v\n%s", err, out)
	}
	_, err := runSimCmd(t, "--seed", "2", "--cards", "50", "--days", "1", "--db", db)
	if !citycard.IsKind(err, citycard.Exists) || !strings.Contains(err.Error(), "holds a city already") || !strings.Contains(err.Error(), db) {
		t.Fatalf("a second run on %s: %v, want Exists naming it", db, err)
	}
}

func TestParseSeeds(t *testing.T) {
	for _, tc := range []struct {
		in       string
		from, to uint64
		ok       bool
	}{
		{"1..3", 1, 3, true},
		{"5..5", 5, 5, true},
		{"0..99999", 0, 99999, true}, // seedsMax seeds
		{"0..100000", 0, 0, false},   // one more
		{"18446744073709551615..18446744073709551615", 1<<64 - 1, 1<<64 - 1, true},
		{"3..1", 0, 0, false},
		{"3", 0, 0, false},
		{"a..b", 0, 0, false},
	} {
		from, to, err := parseSeeds(tc.in)
		if tc.ok != (err == nil) || from != tc.from || to != tc.to {
			t.Errorf("%q: %d..%d %v", tc.in, from, to, err)
		}
		if err != nil && !errors.Is(err, errUsage) {
			t.Errorf("%q: %v is no usage error", tc.in, err)
		}
	}
}

func TestSimPostgres(t *testing.T) {
	url := os.Getenv("CITYCARD_TEST_POSTGRES")
	if url == "" {
		t.Skip("CITYCARD_TEST_POSTGRES not set")
	}
	out, err := runSimCmd(t, "--seed", "2", "--cards", "200", "--days", "1", "--faults", simFaultsHolding, "--db", url, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if j := lastLine(t, out); !strings.Contains(j, `"violations":[]`) {
		t.Fatalf("report: %s", j)
	}
}

// A terminal that can never reach the back office keeps its records,
// and the run ends anyway, bounded: the report says which terminal still
// holds how many.
func TestSimUnreachableTerminalKeepsItsRecords(t *testing.T) {
	var deaf citycard.TerminalID
	o := &simOptions{cards: 200, days: 1, alg: "3des", quiet: true,
		wrap: func(bo city.BackOffice) city.BackOffice { return deafBackOffice{bo, &deaf} }}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 4)
	if err != nil {
		t.Fatal(err)
	}
	v := strings.Join(rep.Violations, "\n")
	if rep.Invariants[city.InvNothingLost] || !strings.Contains(v, "terminal "+deaf.String()+" still holds") {
		t.Fatalf("violations: %s", v)
	}
}

// deafBackOffice never answers the first terminal that uploads a batch.
type deafBackOffice struct {
	city.BackOffice
	deaf *citycard.TerminalID
}

func (d deafBackOffice) Link(id citycard.TerminalID, token string) city.Link {
	return deafLink{d.BackOffice.Link(id, token), id, d.deaf}
}

type deafLink struct {
	city.Link
	id   citycard.TerminalID
	deaf *citycard.TerminalID
}

func (l deafLink) Upload(ctx context.Context, b terminal.UploadBatch) (acquire.Answer, error) {
	if *l.deaf == (citycard.TerminalID{}) {
		*l.deaf = l.id
	}
	if l.id == *l.deaf {
		return acquire.Answer{}, citycard.E("test.Upload", citycard.IO, "no route to the back office")
	}
	return l.Link.Upload(ctx, b)
}

// Each day is cleared and settled through the real cycles, crashed
// mid-clearing (crash-clearing): every cycle closed, by a reviewer and a
// second approver, its files written where --out says and equal to the
// hashes it closed with; the late uploads in a later cycle; and the
// clearing invariants hold (issue 12: positions sum to zero, clearing
// reproducible).
func TestSimClearsEachDay(t *testing.T) {
	out := t.TempDir()
	o := &simOptions{cards: 200, days: 2, alg: "3des", quiet: true, out: out}
	var err error
	if o.parsedFaults, err = city.ParseFaults("offline,crash-clearing"); err != nil {
		t.Fatal(err)
	}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("violations: %v", rep.Violations)
	}
	for _, inv := range []string{city.InvPositionsZero, city.InvReproducible, city.InvConservationClearing, city.InvOpenCycles} {
		if !rep.Invariants[inv] {
			t.Errorf("%s not checked or not holding: %v", inv, rep.Invariants)
		}
	}
	// Two days and the day of the last uploads, which came after the
	// second day's cut-off (a terminal offline for days comes back later:
	// the days between have no cycle).
	if len(rep.Cycles) != 3 || rep.Cycles[0].Day != "2026-06-01" || rep.Cycles[1].Day != "2026-06-02" || rep.Cycles[2].Day <= "2026-06-02" {
		t.Fatalf("cycles: %+v", rep.Cycles)
	}
	if rep.FaultsInjected[string(city.FaultCrashClearing)] != 3 {
		t.Errorf("crashes mid-clearing: %v, want one a cycle", rep.FaultsInjected)
	}
	var late int64
	for i, cy := range rep.Cycles {
		// The four files of every cycle (the pay-ins expected among
		// them), and the lines of remote top-ups for one that has them.
		topUps, incoming := 0, 0
		for _, f := range cy.Files {
			switch {
			case strings.HasSuffix(f.Name, "-topups.csv"):
				topUps++
			case strings.HasSuffix(f.Name, "-incoming.csv"):
				incoming++
			}
		}
		if cy.State != "closed" || len(cy.Files)-topUps != 4 || incoming != 1 || cy.Crashes != 1 {
			t.Errorf("cycle %s: %s, %d files (%d of remote top-ups, %d of pay-ins), %d crashes", cy.Day, cy.State, len(cy.Files), topUps, incoming, cy.Crashes)
		}
		if i > 0 && cy.RangeFrom != rep.Cycles[i-1].RangeTo {
			t.Errorf("cycle %s starts at %d, the one before ends at %d", cy.Day, cy.RangeFrom, rep.Cycles[i-1].RangeTo)
		}
		late += cy.Late
		for _, f := range cy.Files {
			data, err := os.ReadFile(filepath.Join(out, f.Name))
			if err != nil {
				t.Fatal(err)
			}
			if clearing.FileOf(f.Name, data) != f {
				t.Errorf("%s on disk is not the file cycle %s closed with", f.Name, cy.Day)
			}
		}
	}
	if late == 0 || rep.Cycles[2].Late != rep.Cycles[2].Claimed {
		t.Errorf("records tapped on an earlier day: %d in all, %d of the last cycle's %d", late, rep.Cycles[2].Late, rep.Cycles[2].Claimed)
	}
}

// The clearing checks bite: a cycle handed one booked record as a
// duplicate (the broken-invariant hook) pays its operator less than the
// ledger moved, and the run fails naming the invariant, the operator
// and the record; cleared again from its true inputs, the cycle is not
// what it closed with.
func TestSimCatchesAClearingThatDropsARecord(t *testing.T) {
	o := &simOptions{cards: 200, days: 1, alg: "3des", quiet: true, dropClearedRecord: true}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 3)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Invariants[city.InvConservationClearing] || rep.Invariants[city.InvReproducible] {
		t.Fatalf("invariants %v; violations %v", rep.Invariants, rep.Violations)
	}
	if !rep.Invariants[city.InvPositionsZero] || !rep.Invariants[city.InvOpenCycles] {
		t.Errorf("an invariant the hook does not break failed: %v", rep.Violations)
	}
	v := strings.Join(rep.Violations, "\n")
	t.Logf("violations:\n%s", v)
	if !strings.Contains(v, city.InvConservationClearing+": operator ") || !strings.Contains(v, "first record: journal position ") ||
		!strings.Contains(v, "journaled booked, given to its cycle as duplicate") || !strings.Contains(v, "(seed 3)") {
		t.Fatalf("violations: %s", v)
	}
}

// A crash mid-clearing at every point it is armed at (gathering the
// records, before and after each of the four saves: computed, reviewed,
// approved, closed) is survived: the restarted back office resumes the
// cycle or computes it again, and every invariant holds.
func TestSimCrashMidClearingAtEveryPoint(t *testing.T) {
	want := []string{"gathering its records"}
	for _, st := range []string{"computed", "reviewed", "approved", "closed"} {
		want = append(want, "before saving it "+st, "after saving it "+st)
	}
	seen := map[string]bool{}
	// Nine cycles in a row crash at the nine points (eight days and the
	// last uploads').
	o := &simOptions{cards: 40, days: 8, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultCrashClearing}}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("violations: %v", rep.Violations)
	}
	for _, cy := range rep.Cycles {
		if cy.Crashes != 1 {
			t.Errorf("cycle %s crashed %d times, armed %s", cy.Day, cy.Crashes, cy.CrashAt)
		}
		at, _, _ := strings.Cut(cy.CrashAt, " (")
		seen[at] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no run crashed %s (seen %v)", w, seen)
		}
	}
}

// Lost cards are replaced (or refunded: refunds.go): each replacement's cooling period ends (the
// city's is a day; those reported on the last day end after it, the
// clock run on for them), the new card is issued holding the balance as
// of the report, and conservation per card holds across it, the loss
// account included. (The damaged cards replaced move their balance
// too.)
func TestSimReplacesLostCards(t *testing.T) {
	o := &simOptions{cards: 300, days: 3, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultLost, city.FaultOffline}}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("violations: %v", rep.Violations)
	}
	f := rep.Figures
	if f.Replacements == 0 || f.BalancesMoved != f.Replacements+f.DamagedReplaced || f.BalancesMovedFen <= 0 || rep.FaultsInjected[string(city.FaultLost)] != f.Replacements+f.LossRefunds {
		t.Fatalf("%d lost, %d replaced (and %d damaged), %d moved (%d fen)", rep.FaultsInjected[string(city.FaultLost)], f.Replacements, f.DamagedReplaced, f.BalancesMoved, f.BalancesMovedFen)
	}
}

// The check bites: card management's book read without the balances
// moved out breaks conservation per card, naming the old card, which
// would still owe its balance.
func TestSimCatchesABalanceNotMovedOut(t *testing.T) {
	o := &simOptions{cards: 300, days: 3, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultLost, city.FaultOffline},
		wrap: func(bo city.BackOffice) city.BackOffice { return movedOutHidden{bo} }}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 3)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Invariants[city.InvConservationCard] {
		t.Fatalf("invariants %v", rep.Invariants)
	}
	if v := strings.Join(rep.Violations, "\n"); !strings.Contains(v, "moved out 0") || !strings.Contains(v, "want 0") || !strings.Contains(v, "(seed 3)") {
		t.Fatalf("violations: %s", v)
	}
}

// movedOutHidden reads card management's flows without the balances
// moved out.
type movedOutHidden struct{ city.BackOffice }

func (m movedOutHidden) CardFlows(ctx context.Context, asn citycard.ASN) ([]cms.Flow, error) {
	fs, err := m.BackOffice.CardFlows(ctx, asn)
	return slices.DeleteFunc(fs, func(f cms.Flow) bool { return f.Type == cms.FlowMovedOut }), err
}

// The checks bite on our cards' travels: a city whose first INC file is
// lost (its records of our cards never imported) finds the cards'
// balances below what the back office booked, and says which card, with
// the seed.
func TestSimCatchesALostIncomingFile(t *testing.T) {
	o := &simOptions{cards: 300, days: 2, alg: "3des", quiet: true, loseIncoming: true}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Invariants[city.InvConservationCard] || rep.Invariants[city.InvConservationTotal] || rep.Invariants[city.InvFloatThreeWays] {
		t.Fatalf("invariants %v", rep.Invariants)
	}
	if !rep.Invariants[city.InvIncomingAnswered] {
		t.Errorf("the INC files that came were not all answered: %v", rep.Violations)
	}
	v := strings.Join(rep.Violations, "\n")
	t.Logf("violations:\n%s", v)
	if !strings.Contains(v, city.InvConservationCard+": card ") || !strings.Contains(v, "purchases elsewhere accepted 0") || !strings.Contains(v, "(seed 1)") {
		t.Fatalf("violations: %s", v)
	}
}
