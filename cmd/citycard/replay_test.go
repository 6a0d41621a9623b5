package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
	"github.com/citycard/citycard/whatif"
)

var replayDay = time.Date(2026, 11, 24, 0, 0, 0, 0, citycard.ChinaTime)

// copyFeed copies the sample feed into a temporary directory, with the
// cell old of file replaced by new (file "": as it is).
func copyFeed(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	names, err := filepath.Glob(filepath.Join(sampleFeed, "*.txt"))
	if err != nil || len(names) == 0 {
		t.Fatalf("the sample feed: %v", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if file != "" && filepath.Base(n) == file {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%s holds no %q", file, old)
			}
			b = bytes.Replace(b, []byte(old), []byte(new), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The stops of the replay's city: two buses, metro gates at gq and
// gulou_1 (9 km apart on line 1: metro_3), a shop.
var replayStops = []sim.DeviceStop{
	{Mode: terminal.ModeFlat, Network: 1, Line: 1, Station: 1001},
	{Mode: terminal.ModeFlat, Network: 1, Line: 2, Station: 1002},
	{Mode: terminal.ModeTapOn, Network: 2, Line: 1, Station: 101},
	{Mode: terminal.ModeTapOff, Network: 2, Line: 1, Station: 104},
	{Mode: terminal.ModePOS, Network: 99, Line: 1, Station: 1},
}

// rideDay rides a small day in a device city pricing with the feed in
// dir: each card a bus, a bus transfer, a bus-metro transfer, a shop, a
// bus in the evening; adults, students and seniors (whose caps the day
// stays under). It returns the
// city and the amount of each transit tap, by card and counter.
func rideDay(t *testing.T, dir string) (*sim.DeviceCity, map[[2]int]uint32) {
	t.Helper()
	tab, err := fare.Load(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	cards := make([]sim.DeviceCard, 9)
	for i := range cards {
		cards[i].RiderCategory = uint8(i % 3) // adult, student, senior
	}
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: 1, Alg: keys.AlgSM4, Fare: terminal.NewFareEngine(tab), Stops: replayStops, Cards: cards, Start: replayDay})
	if err != nil {
		t.Fatal(err)
	}
	amounts := map[[2]int]uint32{}
	for c := range cards {
		h := 7 + c
		n := 0
		for _, tp := range []struct{ stop, min int }{{0, 0}, {1, 20}, {2, 45}, {3, 70}, {4, 120}, {0, 500}} {
			at := replayDay.Add(time.Duration(h)*time.Hour + time.Duration(tp.min)*time.Minute)
			r, err := city.Tap(c, tp.stop, at, 1234)
			if err != nil {
				t.Fatalf("card %d, stop %d: %v", c, tp.stop, err)
			}
			if tp.stop != 4 {
				amounts[[2]int{c, n}] = r.Record.Amount
			}
			n++
		}
	}
	return city, amounts
}

// ingestDay uploads the city's records into the store db, each
// terminal's in one batch, the last terminal first, committed at the
// day's end.
func ingestDay(t *testing.T, db string, city *sim.DeviceCity) {
	t.Helper()
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ts := acquire.TerminalMap{}
	for _, tm := range city.Terminals {
		ts[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}
	}
	a, err := acquire.Open(ctx, acquire.Config{Journal: st.journal, Terminals: ts, Verifier: record.NewVerifier(city.Store, sim.Issuer),
		Now: func() time.Time { return replayDay.Add(23 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ups := city.Uploads()
	for i := len(ups) - 1; i >= 0; i-- {
		u := ups[i]
		b := acquire.Batch{Terminal: u.Terminal.ID, ID: "day", Count: len(u.Records), AmountFen: u.GenuineFen}
		for _, r := range u.Records {
			b.Body = append(b.Body, r...)
		}
		if ans, err := a.Submit(ctx, b); err != nil || ans.Rejected > 0 {
			t.Fatalf("terminal %v: %+v %v", u.Terminal.ID, ans, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFareReplay ingests a day of real terminals' records on SQLite and
// replays it with `citycard fare replay` under a feed whose bus fare went
// from 2.00 to 2.50 (one cell of fare_products.txt). The same day ridden
// by terminals of the new feed is the independent answer: new_fen is
// what they charged; old_fen, and the old feed replayed, what the
// records charged.
func TestFareReplay(t *testing.T) {
	newFeed := copyFeed(t, "fare_products.txt", "bus_single,公交单程 bus single,adult,,2.00,CNY", "bus_single,公交单程 bus single,adult,,2.50,CNY")
	old, oldFen := rideDay(t, sampleFeed)
	_, newFen := rideDay(t, newFeed)
	var wantOld, wantNew int64
	for k, v := range oldFen {
		wantOld += int64(v)
		wantNew += int64(newFen[k])
	}
	if wantNew <= wantOld {
		t.Fatalf("the day does not change: %d -> %d", wantOld, wantNew)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "bo.db")
	ingestDay(t, db, old)

	out := filepath.Join(t.TempDir(), "report")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"fare", "replay", "--db", db, "--from", "2026-11-24", "--to", "2026-11-24",
		"--feed", newFeed, "--feed-old", sampleFeed, "--json", "--out", out, "--workers", "2"}, func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("fare replay: %v\n%s", err, stderr.String())
	}
	var rep whatif.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if rep.OldFen != wantOld || rep.NewFen != wantNew || rep.ChangeFen != wantNew-wantOld || rep.Records != int64(len(oldFen)) {
		t.Errorf("%d records, old %d, new %d, change %d; want %d, %d, %d, %d", rep.Records, rep.OldFen, rep.NewFen, rep.ChangeFen,
			len(oldFen), wantOld, wantNew, wantNew-wantOld)
	}
	if rep.RepricedOldFen == nil || *rep.RepricedOldFen != wantOld || *rep.RecordsUnreproduced != 0 {
		t.Errorf("the old feed replayed: %v fen, %v unreproduced; want %d, 0", rep.RepricedOldFen, rep.RecordsUnreproduced, wantOld)
	}
	if rep.Skipped.NotInTableRecords != 9 || rep.Skipped.NotInTableFen != 9*1234 {
		t.Errorf("skipped %+v, want the 9 purchases at the shop", rep.Skipped)
	}
	if !strings.Contains(stderr.String(), "records re-priced") || !strings.Contains(stderr.String(), "100%") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	// The CSV files: by network sums to the totals.
	f, err := os.Open(filepath.Join(out, "by_network.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 3 || rows[0][0] != "network" {
		t.Fatalf("by_network.csv: %v %v", rows, err)
	}
	var sum int64
	col := indexOf(rows[0], "new_fen")
	for _, r := range rows[1:] {
		var v int64
		fmt.Sscan(r[col], &v)
		sum += v
	}
	if sum != wantNew {
		t.Errorf("by_network.csv new_fen sums to %d, want %d", sum, wantNew)
	}
	for _, name := range []string{"summary.csv", "by_line.csv", "by_rider_category.csv", "by_hour.csv", "change_per_card.csv"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// The table for a person.
	stdout.Reset()
	err = run(context.Background(), []string{"fare", "replay", "--db", db, "--from", "2026-11-24", "--to", "2026-11-24", "--feed", newFeed},
		func(string) string { return "" }, &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "by_rider_category") || !strings.Contains(stdout.String(), citycard.Yuan(wantNew)+" yuan") {
		t.Errorf("table: %v\n%s", err, stdout.String())
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestFareReplayFlags: what the command refuses, and how.
func TestFareReplayFlags(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "none.db")
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--to", "2026-11-24", "--feed", sampleFeed}, true, "--from is required"},
		{[]string{"--from", "2026-11-24", "--to", "2026-11-24"}, true, "--feed is required"},
		{[]string{"--from", "24/11/2026", "--to", "2026-11-24", "--feed", sampleFeed}, true, "is not a day YYYY-MM-DD"},
		{[]string{"--from", "2026-11-24", "--to", "2026-11-24", "--feed", sampleFeed, "--workers", "0"}, true, "--workers 0"},
		{[]string{"--from", "2026-11-24", "--to", "2026-11-24", "--feed", sampleFeed, "extra"}, true, `unexpected argument "extra"`},
		{[]string{"--from", "2026-11-24", "--to", "2026-11-24", "--feed", "/nonexistent"}, false, "--feed /nonexistent"},
		{[]string{"--from", "2026-11-24", "--to", "2026-11-24", "--feed", sampleFeed, "--db", db}, false, "no database at"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"fare", "replay"}, tc.args...), func(string) string { return "" }, &stdout, &stderr)
		if err == nil || isUsage(err) != tc.usage || !strings.Contains(err.Error()+stderr.String(), tc.want) {
			t.Errorf("%v: %v (usage %v)\n%s; want %q", tc.args, err, isUsage(err), stderr.String(), tc.want)
		}
	}
	// More days than a replay covers: the domain's refusal, kind Invalid.
	db = "sqlite:" + filepath.Join(t.TempDir(), "bo.db")
	st, err := openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.close()
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"fare", "replay", "--db", db, "--from", "2026-11-01", "--to", "2026-12-02", "--feed", sampleFeed},
		func(string) string { return "" }, &stdout, &stderr)
	if !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "at most 31") {
		t.Errorf("32 days: %v", err)
	}
}

func isUsage(err error) bool { return err != nil && strings.Contains(fmt.Sprint(err), "usage") }

// TestProgressBar: a line every tenth when stderr is not a terminal.
func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	b := newProgressBar(&buf, func() time.Time { return now })
	for i := int64(0); i <= 100; i += 5 {
		now = now.Add(time.Second)
		b.show(whatif.Progress{Read: i * 1000, Total: 100000})
	}
	b.done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 11 || !strings.Contains(lines[10], "100% 100000/100000") || !strings.Contains(lines[5], "[###############...............]  50%") {
		t.Errorf("progress:\n%s", buf.String())
	}
}

// TestServeFareReplay: serve --fare-feeds serves the what-if over its
// store's journal, each subdirectory a feed, for staff.
func TestServeFareReplay(t *testing.T) {
	feeds, old, wantNew := dearerDay(t)
	b := newBackOfficeFiles(t, "")
	ingestDay(t, b.db, old)
	b.addStaff(t, "ann", "auditor")
	srv := startServe(t, b.env(), "--db", b.db, "--store", b.store, "--addr", "127.0.0.1:0", "--fare-feeds", feeds)
	defer srv.stop(t)
	token := staffLoginCLI(t, srv.addr, "ann")
	get := func(query string) (int, whatif.Report) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+srv.addr+"/v1/fares/replay?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep whatif.Report
		json.NewDecoder(resp.Body).Decode(&rep)
		return resp.StatusCode, rep
	}
	if code, rep := get("from=2026-11-24&to=2026-11-24&feed=dearer"); code != http.StatusOK || rep.NewFen != wantNew {
		t.Errorf("replay under dearer: %d, new %d fen, want 200, %d", code, rep.NewFen, wantNew)
	}
	if code, _ := get("from=2026-11-24&to=2026-11-24&feed=cheaper"); code != http.StatusNotFound {
		t.Errorf("an unknown feed: %d, want 404", code)
	}
}

// dearerDay makes a directory of candidate feeds holding "dearer" (the
// sample feed with a bus single fare of 2.50 instead of 2.00), and a day
// ridden under the sample feed; wantNew is what the day costs under
// dearer.
func dearerDay(t *testing.T) (feeds string, day *sim.DeviceCity, wantNew int64) {
	t.Helper()
	feeds = t.TempDir()
	dearer := copyFeed(t, "fare_products.txt", "bus_single,公交单程 bus single,adult,,2.00,CNY", "bus_single,公交单程 bus single,adult,,2.50,CNY")
	if err := os.Rename(dearer, filepath.Join(feeds, "dearer")); err != nil {
		t.Fatal(err)
	}
	day, oldFen := rideDay(t, sampleFeed)
	_, newFen := rideDay(t, filepath.Join(feeds, "dearer"))
	for k := range oldFen {
		wantNew += int64(newFen[k])
	}
	return feeds, day, wantNew
}

// TestDirFeeds: a feed is a subdirectory, by its plain name.
func TestDirFeeds(t *testing.T) {
	dir := t.TempDir()
	if err := os.Rename(copyFeed(t, "", "", ""), filepath.Join(dir, "ningbo")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "broken"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "broken", "fare_products.txt"), []byte("fare_product_id,amount,currency\np,2.0.0,CNY\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
	d := dirFeeds(dir)
	if tab, err := d.FareFeed("ningbo"); err != nil || tab.Version() != "2025.06-1" {
		t.Errorf("ningbo: %v", err)
	}
	for name, kind := range map[string]citycard.Kind{"broken": citycard.Invalid, "missing": citycard.NotFound, "file": citycard.NotFound,
		"..": citycard.NotFound, "../" + filepath.Base(dir) + "/ningbo": citycard.NotFound, "ningbo/": citycard.NotFound, "": citycard.NotFound} {
		if _, err := d.FareFeed(name); !citycard.IsKind(err, kind) {
			t.Errorf("%q: %v, want kind %v", name, err, kind)
		}
	}
}
