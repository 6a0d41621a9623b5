package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/registry"
)

// clearTestDay is a day in the past of any clock the tests run under, so
// that its cycle may be computed now.
var clearTestDay = clearing.DayOf(2025, 1, 15)

// clearDB books n records of clearTestDay into a fresh SQLite database,
// as the bench does.
func clearDB(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	db := "sqlite:" + filepath.Join(t.TempDir(), "citycard.db")
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if _, err := bookBenchDay(ctx, st, clearTestDay, 7, n, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	return db
}

func showJSON(t *testing.T, db string, day clearing.Day) jsonCycle {
	t.Helper()
	out, _, err := runCLI(t, "clear", "show", "--date", day.String(), "--db", db, "--json")
	var jc jsonCycle
	if err != nil || json.Unmarshal([]byte(out), &jc) != nil {
		t.Fatalf("clear show --json: %v\n%s", err, out)
	}
	return jc
}

// TestClearCycle runs a day's cycle through the CLI as staff would (the
// issue: "citycard clear run|show|approve|close --date YYYY-MM-DD",
// "approved (two people)", "a closed cycle is immutable", "re-running a
// cycle gives byte-identical files").
func TestClearCycle(t *testing.T) {
	db := clearDB(t, 3000)
	day := clearTestDay.String()
	if _, _, err := runCLI(t, "clear", "show", "--date", day, "--db", db); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("show before run: %v, want NotFound", err)
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", day, "--db", db); err == nil || !strings.Contains(err.Error(), "--by") {
		t.Fatalf("run without --by: %v", err)
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", "2025-13-01", "--db", db, "--by", "carl"); err == nil {
		t.Fatal("a bad date accepted")
	}
	out, _, err := runCLI(t, "clear", "run", "--date", day, "--db", db, "--by", "carl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cycle 2025-01-15: computed", "by carl", "journal range (0, 3000]", "claimed           3000,", "PARTY", "op-001"} {
		if !strings.Contains(out, want) {
			t.Errorf("run's output lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); !strings.HasSuffix(lines[len(lines)-1], " 0.00") {
		t.Errorf("the positions' total does not net to 0.00:\n%s", out)
	}
	// Not closed: no files.
	if _, _, err := runCLI(t, "settle", "files", "--date", day, "--db", db, "--out", t.TempDir()); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("files of a computed cycle: %v, want Conflict", err)
	}
	if out, _, err := runCLI(t, "clear", "approve", "--date", day, "--db", db, "--by", "ann"); err != nil || !strings.Contains(out, "reviewed  ") {
		t.Fatalf("ann's review: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "clear", "approve", "--date", day, "--db", db, "--by", "ann"); !citycard.IsKind(err, citycard.Permission) {
		t.Fatalf("ann approving what she reviewed: %v, want Permission", err)
	}
	if _, _, err := runCLI(t, "clear", "close", "--date", day, "--db", db, "--by", "dora"); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("closing a reviewed cycle: %v, want Conflict", err)
	}
	if _, _, err := runCLI(t, "clear", "approve", "--date", day, "--db", db, "--by", "bob"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCLI(t, "clear", "close", "--date", day, "--db", db, "--by", "dora"); err != nil || !strings.Contains(out, "file CCLR-20250115-pain001.xml") {
		t.Fatalf("close: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", day, "--db", db, "--by", "carl"); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("recomputing a closed cycle: %v, want Conflict", err)
	}

	jc := showJSON(t, db, clearTestDay)
	var net int64
	for _, p := range jc.Positions {
		net += p.NetFen
	}
	if jc.State != "closed" || jc.ComputedBy != "carl" || jc.ReviewedBy != "ann" || jc.ApprovedBy != "bob" || jc.ClosedBy != "dora" ||
		jc.Totals["claimed"].Count != 3000 || net != 0 || len(jc.Positions) < 3 || len(jc.Files) != 4 || jc.RangeTo != 3000 ||
		jc.SettlementVersion != uint8(clearing.SettlementCurrent) {
		t.Fatalf("show --json: %+v", jc)
	}

	// The files, twice: byte for byte the ones the cycle closed with.
	dirs := [2]string{t.TempDir(), filepath.Join(t.TempDir(), "new")}
	for _, dir := range dirs {
		if _, _, err := runCLI(t, "settle", "files", "--date", day, "--db", db, "--out", dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range jc.Files {
		a, err := os.ReadFile(filepath.Join(dirs[0], f.Name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dirs[1], f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) || clearing.FileOf(f.Name, a) != f {
			t.Errorf("%s: the two writes differ, or differ from the hash kept at close", f.Name)
		}
	}
	pain, _ := os.ReadFile(filepath.Join(dirs[0], "CCLR-20250115-pain001.xml"))
	if !bytes.Contains(pain, []byte("<CreDtTm>"+jc.ClosedAt+"</CreDtTm>")) {
		t.Errorf("the pain.001's creation time is not the close time %s", jc.ClosedAt)
	}
	// Every party in net debit but our issuer (here the city's two
	// other issuers) is asked to pay in, minus its net.
	var debtors, asked []string
	for _, p := range jc.Positions {
		if p.NetFen < 0 && p.Party != "31500001FFFFFFFF" {
			debtors = append(debtors, p.Party+" "+strconv.FormatInt(-p.NetFen, 10))
		}
	}
	for _, r := range readCSV(t, filepath.Join(dirs[0], "CCLR-20250115-incoming.csv"))[1:] {
		asked = append(asked, r[1]+" "+r[4])
	}
	if len(debtors) != 2 || !slices.Equal(asked, debtors) {
		t.Errorf("pay-ins expected %q, want the debtors' %q", asked, debtors)
	}

	// The next day's cycle takes the range after it (empty), and the day
	// after waits for it to close.
	next := clearTestDay.Next()
	if _, _, err := runCLI(t, "clear", "run", "--date", next.String(), "--db", db, "--by", "carl"); err != nil {
		t.Fatal(err)
	}
	if jn := showJSON(t, db, next); jn.RangeFrom != 3000 || jn.RangeTo != 3000 || jn.Totals["claimed"].Count != 0 {
		t.Errorf("the next day: %+v", jn)
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", next.Next().String(), "--db", db, "--by", "carl"); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a day after a cycle not closed: %v, want Conflict", err)
	}

	// A party's account changed since the close: the files would not be
	// the ones the cycle closed with, and are refused.
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = registry.New(st.registry, time.Now).SetSettlementAccount(ctx, "op-001", "another bank")
	st.close()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "settle", "files", "--date", day, "--db", db, "--out", t.TempDir()); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("files after the registry changed: %v, want Conflict", err)
	}
}

// TestBenchClear runs the clearing benchmark small (the issue: "The same
// seed gives byte-identical files"; --json's last line has records,
// seconds, records_per_s, parties, positions_sum_fen (0) and files).
func TestBenchClear(t *testing.T) {
	bench := func(seed string) (benchClearResult, string) {
		t.Helper()
		dir := t.TempDir()
		out, errOut, err := runCLI(t, "bench", "clear", "--records", "3000", "--seed", seed, "--out", dir, "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		if !strings.Contains(errOut, "bench clear: booking 3000 records") {
			t.Errorf("no progress on stderr: %q", errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var r benchClearResult
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
			t.Fatalf("last line: %v\n%s", err, out)
		}
		return r, dir
	}
	r1, d1 := bench("3")
	r2, d2 := bench("3")
	r3, _ := bench("4")
	if !r1.OK || r1.Records != 3000 || r1.PositionsSumFen != 0 || r1.Parties < 3 || len(r1.Files) != 4 || r1.Seconds <= 0 || r1.RecordsPerS <= 0 {
		t.Fatalf("bench: %+v", r1)
	}
	for i, f := range r1.Files {
		a, _ := os.ReadFile(filepath.Join(d1, f.Name))
		b, _ := os.ReadFile(filepath.Join(d2, f.Name))
		if len(a) == 0 || !bytes.Equal(a, b) || r2.Files[i] != f {
			t.Errorf("%s differs between two runs of one seed", f.Name)
		}
	}
	if r3.Files[0] == r1.Files[0] {
		t.Error("another seed gave the same positions")
	}
	if _, _, err := runCLI(t, "bench", "clear", "--records", "0"); err == nil {
		t.Error("--records 0 accepted")
	}
}
