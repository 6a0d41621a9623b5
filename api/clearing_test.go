package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
)

// fakeClearing is a Clearing over a map of cycles, moved by the
// clearing.Cycle methods (the state table of clearing/cycle.go), its
// closed cycles with one file and one statement.
type fakeClearing struct {
	cycles map[clearing.Day]*clearing.Stored
	now    time.Time
}

func newFakeClearing() *fakeClearing {
	return &fakeClearing{cycles: map[clearing.Day]*clearing.Stored{}, now: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *fakeClearing) Cycle(_ context.Context, d clearing.Day) (clearing.Stored, error) {
	s, ok := f.cycles[d]
	if !ok {
		return clearing.Stored{}, citycard.E("fake", citycard.NotFound, "no cycle of %v", d)
	}
	return *s, nil
}

func (f *fakeClearing) Before(_ context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	best := clearing.Day(-1 << 31)
	for day := range f.cycles {
		if day < d && day > best {
			best = day
		}
	}
	s, ok := f.cycles[best]
	if !ok {
		return clearing.Stored{}, false, nil
	}
	return *s, true, nil
}

func (f *fakeClearing) move(d clearing.Day, fn func(c clearing.Cycle) (clearing.Cycle, error)) (*clearing.Stored, error) {
	s, ok := f.cycles[d]
	if !ok {
		return nil, citycard.E("fake", citycard.NotFound, "no cycle of %v", d)
	}
	c, err := fn(s.Cycle)
	if err != nil {
		return nil, err
	}
	s.Cycle = c
	return s, nil
}

func (f *fakeClearing) Run(_ context.Context, d clearing.Day, by string) (*clearing.Stored, error) {
	if _, ok := f.cycles[d]; !ok {
		f.cycles[d] = &clearing.Stored{Cycle: clearing.Open(clearing.DefaultCalendar(), d, f.now)}
	}
	s, err := f.move(d, func(c clearing.Cycle) (clearing.Cycle, error) {
		c, err := c.Compute(clearing.Range{From: 0, To: 2}, 0, f.now)
		c.ComputedBy = by
		return c, err
	})
	if err == nil {
		s.Result = &clearing.Result{Day: d, Positions: []clearing.Position{{Party: "31500001FFFFFFFF", PayableFen: 300, NetFen: -300}, {Party: "nb-bus", ReceivableFen: 300, NetFen: 300}}}
	}
	return s, err
}

func (f *fakeClearing) Review(_ context.Context, d clearing.Day, by string) (*clearing.Stored, error) {
	return f.move(d, func(c clearing.Cycle) (clearing.Cycle, error) {
		if c.State != clearing.Computed {
			return c, citycard.E("fake", citycard.Conflict, "cycle %v is %v", d, c.State)
		}
		return c.Review(by, f.now)
	})
}

func (f *fakeClearing) ApproveReviewed(_ context.Context, d clearing.Day, by string) (*clearing.Stored, error) {
	return f.move(d, func(c clearing.Cycle) (clearing.Cycle, error) { return c.Approve(by, f.now) })
}

func (f *fakeClearing) Close(_ context.Context, d clearing.Day, by string) (*clearing.Stored, error) {
	s, err := f.move(d, func(c clearing.Cycle) (clearing.Cycle, error) {
		c, err := c.Close(f.now)
		c.ClosedBy = by
		return c, err
	})
	if err == nil {
		fs, _ := f.Files(context.Background(), d)
		s.Files = []clearing.File{clearing.FileOf(fs[0].Name, fs[0].Data)}
	}
	return s, err
}

func (f *fakeClearing) closed(d clearing.Day) error {
	s, ok := f.cycles[d]
	if !ok {
		return citycard.E("fake", citycard.NotFound, "no cycle of %v", d)
	}
	if s.Cycle.State != clearing.Closed {
		return citycard.E("fake", citycard.Conflict, "cycle %v is %v", d, s.Cycle.State)
	}
	return nil
}

func (f *fakeClearing) Files(_ context.Context, d clearing.Day) ([]exchange.SettlementFile, error) {
	if err := f.closed(d); err != nil {
		return nil, err
	}
	return []exchange.SettlementFile{{Name: exchange.FileNames(d)[0], Data: []byte("party,receivable_fen,payable_fen,net_fen\n")}}, nil
}

func (f *fakeClearing) Statements(_ context.Context, d clearing.Day) ([]clearing.Statement, error) {
	if err := f.closed(d); err != nil {
		return nil, err
	}
	var recs []clearing.StatementRecord
	for i := range 3 {
		recs = append(recs, clearing.StatementRecord{Pos: int64(i + 1), Line: 12, Terminal: "315001000001", Day: "20261201", Issuer: "31500001FFFFFFFF",
			ASN: "00000000000000000001", Counter: uint16(i), AmountFen: 100, Rule: "none", TAC: "0a1b2c3d"})
	}
	row := clearing.StatementRow{Key: "total", Records: 3, GrossFen: 300, NetFen: 300}
	var tops []clearing.StatementTopUp
	for i := range 3 {
		tops = append(tops, clearing.StatementTopUp{Seq: int64(10 + i), TopUp: fmt.Sprintf("%016X", i), Day: "20261201", Issuer: "31500001FFFFFFFF",
			Card: "card:31500001FFFFFFFF/01", AmountFen: 1000, Rule: "none"})
	}
	tops[2].Refund, tops[2].AmountFen = true, -1000
	payer := clearing.StatementRow{Key: "total", Records: 3, GrossFen: 1000, NetFen: -1000}
	return []clearing.Statement{{Party: "nb-bus", Day: d, Total: row, Lines: []clearing.StatementRow{row}, Records: recs, PositionFen: 300},
		{Party: "alipay", Day: d, Total: clearing.StatementRow{Key: "total"}, TopUps: tops, TopUpTotal: payer, PositionFen: -1000}}, nil
}

// TestClearingRoutes drives a cycle through /v1/clearing (the brief:
// "cycles list and show, run, review, approve, close, the files of a
// closed cycle, statements"), and refuses bad input route by route with a
// 4xx that changes nothing.
func TestClearingRoutes(t *testing.T) {
	f := newFixture(t)
	fc := newFakeClearing()
	f.s.Clearing = fc
	f.s.Staff.(*StaticStaff).Add("bob-supervisor-token", Staff{Name: "bob", Role: RoleSupervisor})
	op, aud := "bob-supervisor-token", f.staff
	const day = "/v1/clearing/cycles/2026-12-01"
	state := func() string {
		s, ok := fc.cycles[clearing.DayOf(2026, 12, 1)]
		if !ok {
			return "none"
		}
		return s.Cycle.State.String()
	}
	steps := []struct {
		method, path, token string
		body                string
		code                int
		want                string // in the answer
		state               string // the cycle's state after
	}{
		{"GET", day, aud, "", http.StatusNotFound, `"kind":"not found"`, "none"},
		{"POST", "/v1/clearing/cycles/2026-13-01/run", op, "", http.StatusUnprocessableEntity, "day", "none"},
		{"POST", day + "/run", aud, "", http.StatusForbidden, "", "none"},
		{"POST", day + "/run", op, "{}", http.StatusUnprocessableEntity, "no body", "none"},
		{"POST", day + "/run?by=carl", op, "", http.StatusUnprocessableEntity, "no query", "none"},
		{"POST", day + "/run", op, "", http.StatusOK, `"computed_by":"bob"`, "computed"},
		{"GET", day + "/files/CCLR-20261201-positions.csv", aud, "", http.StatusConflict, "", "computed"},
		{"POST", day + "/approve", op, "", http.StatusConflict, "", "computed"}, // not reviewed yet
		{"POST", day + "/review", op, "", http.StatusOK, `"state":"reviewed"`, "reviewed"},
		{"POST", day + "/review", op, "", http.StatusConflict, "", "reviewed"},
		{"POST", day + "/approve", op, "", http.StatusForbidden, "", "reviewed"}, // the reviewer
		{"POST", day + "/close", op, "", http.StatusConflict, "", "reviewed"},
	}
	for i, s := range steps {
		code, body := f.do(t, s.method, s.path, s.token, "", []byte(s.body), nil)
		if code != s.code || !strings.Contains(string(body), s.want) || state() != s.state {
			t.Fatalf("step %d, %s %s: %d %s, state %s; want %d with %q, state %s", i, s.method, s.path, code, body, state(), s.code, s.want, s.state)
		}
	}
	// Another member of staff approves, and closes.
	fc.cycles[clearing.DayOf(2026, 12, 1)].Cycle.ReviewedBy = "ann"
	for _, p := range []string{"/approve", "/close"} {
		if code, body := f.do(t, "POST", day+p, op, "", nil, nil); code != http.StatusOK {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	for _, s := range []struct {
		path string
		code int
		want string
	}{
		{day + "/files/CCLR-20261201-positions.csv", http.StatusOK, `"content":"party,receivable_fen`},
		{day + "/files/nothing.csv", http.StatusNotFound, ""},
		{day + "/statements/nb-bus", http.StatusOK, `"tac":"0a1b2c3d"`},
		{day + "/statements/nb-bus?limit=2", http.StatusOK, `"next_after":2`},
		{day + "/statements/nb-bus?after=2", http.StatusOK, `"pos":3`},
		{day + "/statements/nb-bus?limit=0", http.StatusUnprocessableEntity, "limit"},
		{day + "/statements/nb-bus?limit=501", http.StatusUnprocessableEntity, "limit"},
		{day + "/statements/nb-bus?limit=500", http.StatusOK, ""},
		{day + "/statements/nb-bus?after=-1", http.StatusUnprocessableEntity, "after"},
		{day + "/statements/nobody", http.StatusNotFound, ""},
		{day + "/statements/alipay", http.StatusOK, `"top_up_total":{"key":"total","records":3,"gross_fen":1000,"fee_fen":0,"net_fen":-1000}`},
		{day + "/statements/alipay?limit=2", http.StatusOK, `"next_after_top_up":11`},
		{day + "/statements/alipay?after_top_up=11", http.StatusOK, `"top_ups":[{"ledger_seq":12,"top_up":"0000000000000002","refund":true`},
		{day + "/statements/alipay?after_top_up=x", http.StatusUnprocessableEntity, "after_top_up"},
		{"/v1/clearing/cycles", http.StatusOK, `"state":"closed"`},
		{"/v1/clearing/cycles?limit=31", http.StatusOK, ""},
		{"/v1/clearing/cycles?limit=32", http.StatusUnprocessableEntity, "limit"},
		{"/v1/clearing/cycles?before=yesterday", http.StatusUnprocessableEntity, "before"},
		{"/v1/clearing/cycles?before=2026-12-01", http.StatusOK, `"cycles":[]`},
	} {
		if code, body := f.do(t, "GET", s.path, aud, "", nil, nil); code != s.code || !strings.Contains(string(body), s.want) {
			t.Errorf("GET %s: %d %s, want %d with %q", s.path, code, body, s.code, s.want)
		}
	}
	if state() != "closed" {
		t.Fatalf("state %s", state())
	}
	// Pages: two cycles, one a page.
	fc.cycles[clearing.DayOf(2026, 11, 30)] = &clearing.Stored{Cycle: clearing.Open(clearing.DefaultCalendar(), clearing.DayOf(2026, 11, 30), fc.now)}
	if code, body := f.do(t, "GET", "/v1/clearing/cycles?limit=1", aud, "", nil, nil); code != http.StatusOK || !strings.Contains(string(body), `"next_before":"2026-12-01"`) {
		t.Fatalf("first page: %d %s", code, body)
	}
	if code, body := f.do(t, "GET", "/v1/clearing/cycles?limit=1&before=2026-12-01", aud, "", nil, nil); code != http.StatusOK || !strings.Contains(string(body), `"day":"2026-11-30"`) || strings.Contains(string(body), "next_before") {
		t.Fatalf("last page: %d %s", code, body)
	}
	// Without a clearing service: 503, nothing served.
	g := f.with(t, func(s *Server) { s.Clearing = nil })
	if code, _ := g.do(t, "GET", "/v1/clearing/cycles", aud, "", nil, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("no clearing: %d", code)
	}
}
