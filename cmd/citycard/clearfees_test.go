package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// TestClearFees sets fee schedules from a file and clears a cycle under
// them (README.md, "Fee schedule files"): a recompute after the set
// charges op-012 its fee, the same file set again changes nothing, and a
// bad file is refused naming its line and field, nothing of it stored.
func TestClearFees(t *testing.T) {
	db := clearDB(t, 600)
	day := clearTestDay.String()
	net := func() int64 {
		t.Helper()
		for _, p := range showJSON(t, db, clearTestDay).Positions {
			if p.Party == "op-012" {
				return p.NetFen
			}
		}
		t.Fatalf("no position of op-012: %+v", showJSON(t, db, clearTestDay).Positions)
		return 0
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", day, "--db", db, "--by", "carl"); err != nil {
		t.Fatal(err)
	}
	before := net()
	dir := t.TempDir()
	good := filepath.Join(dir, "fees.csv")
	body := clearing.FeeHeader + "\nop-002," + (clearTestDay + 1).String() + ",all,,,,100000,0,0,0\nop-012," + day + ",all,,,,100000,0,0,0\n"
	if err := os.WriteFile(good, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "clear", "fees", "set", good, "--db", db); err == nil || !strings.Contains(err.Error(), "--by") {
		t.Fatalf("set without --by: %v", err)
	}
	for range 2 {
		if out, _, err := runCLI(t, "clear", "fees", "set", good, "--db", db, "--by", "ann"); err != nil || !strings.Contains(out, "2 fee schedule versions set") {
			t.Fatalf("set: %v\n%s", err, out)
		}
	}
	if out, _, err := runCLI(t, "clear", "fees", "show", "--db", db); err != nil || out != body {
		t.Fatalf("show: %v\n%s\nwant\n%s", err, out, body)
	}
	if out, _, err := runCLI(t, "clear", "fees", "show", "--db", db, "--date", day, "--json"); err != nil || !strings.Contains(out, `"party": "op-012"`) || strings.Contains(out, "op-002") || !strings.Contains(out, `"rate_ppm": 100000`) {
		t.Fatalf("show --date --json: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(clearing.FeeHeader+"\nop-003,"+day+",all,,,,0,0,0,0\nop-012,"+day+",all,,,,10%,0,0,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "clear", "fees", "set", bad, "--db", db, "--by", "ann"); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "bad.csv:3: field rate_ppm") {
		t.Fatalf("a bad file: %v", err)
	}
	if out, _, _ := runCLI(t, "clear", "fees", "show", "--db", db); strings.Contains(out, "op-003") {
		t.Fatalf("a refused file stored a version:\n%s", out)
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", day, "--db", db, "--by", "carl"); err != nil {
		t.Fatal(err)
	}
	// 10% of op-012's gross, in whole fen per record (rounded half even).
	after := net()
	if fee := before - after; fee <= 0 || fee > before/10+600 || fee < before/10-600 {
		t.Fatalf("op-012 nets %d fen under a 10%% fee, %d without", after, before)
	}
	statementFiles(t, db, after)
}

// statementFiles closes clearTestDay's computed cycle, writes its files
// twice and checks op-012's statement (the brief: "per-party statements
// ... every figure drillable to the records behind it ... byte-identical
// on re-runs"): its total nets what its position does, and its record
// rows, each with a TAC, add up to its records' net (the rounding booked,
// less than a fen a record, apart).
func statementFiles(t *testing.T, db string, netFen int64) {
	t.Helper()
	day := clearTestDay.String()
	for _, step := range [][]string{{"approve", "ann"}, {"approve", "bob"}, {"close", "dora"}} {
		if _, _, err := runCLI(t, "clear", step[0], "--date", day, "--db", db, "--by", step[1]); err != nil {
			t.Fatalf("%s: %v", step[0], err)
		}
	}
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		if _, _, err := runCLI(t, "settle", "files", "--date", day, "--db", db, "--out", dir); err != nil {
			t.Fatal(err)
		}
	}
	name := "CCLR-20250115-statement-op-012.csv"
	a, err := os.ReadFile(filepath.Join(dirs[0], name))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[1], name)); err != nil || string(a) != string(b) {
		t.Fatalf("a second run wrote other bytes (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "CCLR-20250115-statement-op-012.txt")); err != nil {
		t.Fatal(err)
	}
	var total, sum, n int64
	for _, line := range strings.Split(strings.TrimSpace(string(a)), "\n")[1:] {
		f := strings.Split(line, ",")
		net, _ := strconv.ParseInt(f[5], 10, 64)
		switch f[0] {
		case "position":
			total = net
		case "record":
			if len(f[15]) != 8 {
				t.Fatalf("a record without its TAC: %s", line)
			}
			sum += net
			n++
		}
	}
	if total != netFen || sum < total || sum-total > 600 || n == 0 {
		t.Fatalf("statement nets %d, its %d records %d; the position %d", total, n, sum, netFen)
	}
}
