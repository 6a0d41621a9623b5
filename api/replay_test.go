package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
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

// feedMap is FareFeeds over tables in memory.
type feedMap map[string]*fare.Table

func (m feedMap) FareFeed(name string) (*fare.Table, error) {
	if t, ok := m[name]; ok {
		return t, nil
	}
	return nil, citycard.E("test.FareFeed", citycard.NotFound, "no feed %q", name)
}

// slowJournal is a journal whose every read waits for its context to
// end: a replay that never finishes in time.
type slowJournal struct{ whatif.Journal }

func (j slowJournal) Replay(ctx context.Context, from int64, fn func(e *acquire.Journaled) error) error {
	<-ctx.Done()
	return ctx.Err()
}

var replayDay = time.Date(2026, 11, 24, 0, 0, 0, 0, citycard.ChinaTime)

// replayJournal is a journal of a small city's day of composite
// purchases: a bus, then a metro leg gq -> fm, per card.
func replayJournal(t *testing.T) *acquire.MemJournal {
	t.Helper()
	tab, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		t.Fatal(err)
	}
	stops := []sim.DeviceStop{
		{Mode: terminal.ModeFlat, Network: 1, Line: 1, Station: 1001},
		{Mode: terminal.ModeTapOn, Network: 2, Line: 1, Station: 101},
		{Mode: terminal.ModeTapOff, Network: 2, Line: 1, Station: 106},
	}
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: 2, Alg: keys.Alg3DES, Fare: terminal.NewFareEngine(tab), Stops: stops,
		Cards: make([]sim.DeviceCard, 4), Start: replayDay})
	if err != nil {
		t.Fatal(err)
	}
	for c := range city.Cards {
		for i, m := range []int{0, 30, 55} {
			if _, err := city.Tap(c, i, replayDay.Add(time.Duration(8+c)*time.Hour+time.Duration(m)*time.Minute), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	j := acquire.NewMemJournal()
	ts := acquire.TerminalMap{}
	for _, tm := range city.Terminals {
		ts[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}
	}
	a, err := acquire.Open(context.Background(), acquire.Config{Journal: j, Terminals: ts, Verifier: record.NewVerifier(city.Store, sim.Issuer),
		Now: func() time.Time { return replayDay.Add(22 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, u := range city.Uploads() {
		b := acquire.Batch{Terminal: u.Terminal.ID, ID: "day", Count: len(u.Records), AmountFen: u.GenuineFen}
		for _, r := range u.Records {
			b.Body = append(b.Body, r...)
		}
		if _, err := a.Submit(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// TestFareReplayRoute: the API answers what whatif.Run answers, and
// refuses, with the kind that says why, what it will not replay.
func TestFareReplayRoute(t *testing.T) {
	j := replayJournal(t)
	old, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		t.Fatal(err)
	}
	staff := &StaticStaff{}
	staff.Add("auditor-token-0123456789", Staff{Name: "ann", Role: RoleAuditor})
	rp := &Replays{Journal: j, Feeds: feedMap{"current": old, "same": old}, MaxDays: 3}
	s := &Server{Staff: staff, Replays: rp}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(query string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v1/fares/replay?"+query, nil)
		req.Header.Set("Authorization", "Bearer auditor-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %v %s", query, err, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, b
	}

	code, body := get("from=2026-11-24&to=2026-11-24&feed=same&old_feed=current")
	want, err := whatif.Run(context.Background(), j, whatif.Config{From: replayDay, To: replayDay, New: old, Old: old})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	if code != http.StatusOK || string(body) != string(wantJSON) {
		t.Fatalf("%d %s\nwant %s", code, body, wantJSON)
	}
	if want.Records != 12 || want.OldFen == 0 || want.NewFen != want.OldFen {
		t.Fatalf("the day replayed under its own table: %+v", want.Totals)
	}

	for _, tc := range []struct {
		query string
		code  int
		kind  string
	}{
		{"from=2026-11-24&to=2026-11-26&feed=same", http.StatusOK, ""},
		{"from=2026-11-24&to=2026-11-27&feed=same", http.StatusUnprocessableEntity, "invalid"}, // 4 days, at most 3
		{"from=2026-11-24&to=2026-11-23&feed=same", http.StatusUnprocessableEntity, "invalid"},
		{"from=24.11.2026&to=2026-11-24&feed=same", http.StatusUnprocessableEntity, "invalid"},
		{"from=2026-11-24&feed=same", http.StatusUnprocessableEntity, "invalid"},
		{"from=2026-11-24&to=2026-11-24", http.StatusUnprocessableEntity, "invalid"},
		{"from=2026-11-24&to=2026-11-24&feed=" + url.QueryEscape("../etc"), http.StatusUnprocessableEntity, "invalid"},
		{"from=2026-11-24&to=2026-11-24&feed=" + strings.Repeat("a", 65), http.StatusUnprocessableEntity, "invalid"},
		{"from=2026-11-24&to=2026-11-24&feed=" + strings.Repeat("a", 64), http.StatusNotFound, "not found"},
		{"from=2026-11-24&to=2026-11-24&feed=nope", http.StatusNotFound, "not found"},
		{"from=2026-11-24&to=2026-11-24&feed=same&old_feed=nope", http.StatusNotFound, "not found"},
	} {
		code, body := get(tc.query)
		var e errorBody
		json.Unmarshal(body, &e)
		if code != tc.code || e.Kind != tc.kind {
			t.Errorf("%s: %d %s, want %d %s", tc.query, code, body, tc.code, tc.kind)
		}
	}

	// One replay at a time: a second is refused while one runs.
	rp.mu.Lock()
	code, _ = get("from=2026-11-24&to=2026-11-24&feed=same")
	rp.mu.Unlock()
	if code != http.StatusServiceUnavailable {
		t.Errorf("while a replay runs: %d, want 503", code)
	}
	// A replay that does not finish in time: refused, with what to do.
	rp.Journal, rp.Timeout = slowJournal{j}, 10*time.Millisecond
	code, body = get("from=2026-11-24&to=2026-11-24&feed=same")
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "did not finish within 10ms") {
		t.Errorf("too slow: %d %s", code, body)
	}
	// No feeds configured.
	s.Replays = nil
	if code, _ = get("from=2026-11-24&to=2026-11-24&feed=same"); code != http.StatusNotFound {
		t.Errorf("no feeds: %d, want 404", code)
	}
}
