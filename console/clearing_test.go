package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/record"
)

// clearingJournal is clearing.Journal over the fixture's journal: every
// entry committed at commit, before any cut-off the tests run.
type clearingJournal struct {
	j      *acquire.MemJournal
	commit time.Time
}

func (cj clearingJournal) Claim(ctx context.Context, from int64, _ time.Time) (clearing.Claim, error) {
	cl := clearing.Claim{Range: clearing.Range{From: from, To: from}}
	err := cj.j.Replay(ctx, from, func(e *acquire.Journaled) error {
		r, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return err
		}
		cl.To, cl.Count, cl.AmountFen = e.Pos, cl.Count+1, cl.AmountFen+int64(r.Amount)
		return nil
	})
	return cl, err
}

func (cj clearingJournal) Records(ctx context.Context, rg clearing.Range, fn func(*acquire.Journaled, time.Time) error) error {
	done := errors.New("done")
	err := cj.j.Replay(ctx, rg.From, func(e *acquire.Journaled) error {
		if e.Pos > rg.To {
			return done
		}
		return fn(e, cj.commit)
	})
	if errors.Is(err, done) {
		return nil
	}
	return err
}

func (clearingJournal) Greys(context.Context, clearing.Range, func(*acquire.GreyDecision) error) error {
	return nil
}

func (tl terminalList) Terminal(_ context.Context, id citycard.TerminalID) (clearing.TerminalInfo, error) {
	for _, t := range tl {
		if t.ID == id {
			return clearing.TerminalInfo{Operator: t.Operator, Type: t.Type}, nil
		}
	}
	return clearing.TerminalInfo{}, citycard.E("test", citycard.NotFound, "terminal %v", id)
}

// memCycles is clearing.Store in memory, refusing a save from a stale
// state as the stores do.
type memCycles map[clearing.Day]clearing.Stored

func (m memCycles) Cycle(_ context.Context, d clearing.Day) (clearing.Stored, error) {
	s, ok := m[d]
	if !ok {
		return s, citycard.E("test", citycard.NotFound, "cycle %v", d)
	}
	return s, nil
}

func (m memCycles) Before(_ context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	var best clearing.Stored
	ok := false
	for day, s := range m {
		if day < d && (!ok || day > best.Cycle.Day) {
			best, ok = s, true
		}
	}
	return best, ok, nil
}

func (m memCycles) Save(_ context.Context, s *clearing.Stored, was clearing.State) error {
	cur, ok := m[s.Cycle.Day]
	switch {
	case !ok && was != 0:
		return citycard.E("test", citycard.NotFound, "cycle %v", s.Cycle.Day)
	case ok && was == 0:
		return citycard.E("test", citycard.Exists, "cycle %v", s.Cycle.Day)
	case ok && cur.Cycle.State != was:
		return citycard.E("test", citycard.Conflict, "cycle %v is %v, not %v", s.Cycle.Day, cur.Cycle.State, was)
	}
	m[s.Cycle.Day] = *s
	return nil
}

// walkCycles is the console's Cycles over clearing.Cycles and its store.
type walkCycles struct{ *clearing.Cycles }

func (w walkCycles) Before(ctx context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	return w.Store.Before(ctx, d)
}

// fixedFiles writes each closed cycle's one file: its day.
type fixedFiles struct{ tamper bool }

func fileOf(s *clearing.Stored) (string, []byte) {
	data := "day," + s.Cycle.Day.String() + "\n"
	return s.Cycle.Day.Compact() + "-positions.csv", []byte(data)
}

func (ff *fixedFiles) Files(_ context.Context, s *clearing.Stored) (map[string][]byte, error) {
	name, data := fileOf(s)
	if ff.tamper {
		data = append(data, '!')
	}
	return map[string][]byte{name: data}, nil
}

// clearingFixture is the fixture's back office with clearing cycles: day
// 1 of the city closed, its journal cleared into it; day 2 computed,
// waiting for its review.
type clearingFixture struct {
	*fixture
	cycles *clearing.Cycles
	store  memCycles
	files  *fixedFiles
	day1   clearing.Day
	day2   clearing.Day
}

func newClearingFixture(t *testing.T) *clearingFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t)
	cf := &clearingFixture{fixture: f, store: memCycles{}, files: &fixedFiles{}}
	clr, err := clearing.NewClearer(clearing.Config{Calendar: clearing.DefaultCalendar(), Collector: "issuer", Rounding: clearing.RoundHalfEven})
	if err != nil {
		t.Fatal(err)
	}
	tl := f.c.Terminals.(terminalList)
	clock := f.now
	cf.cycles = &clearing.Cycles{Clearer: clr, Store: cf.store, Journal: clearingJournal{f.j, time.Time{}}, Terminals: tl, Now: func() time.Time { return clock }}
	d1, err := clearing.ParseDay(f.days[0])
	if err != nil {
		t.Fatal(err)
	}
	cf.day1, cf.day2 = d1, d1+1
	// Every entry committed just before day 1's cut-off: all go to it.
	cf.cycles.Journal = clearingJournal{f.j, clearing.DefaultCalendar().End(d1).Add(-time.Minute)}
	if _, err := cf.cycles.Run(ctx, d1, "operator"); err != nil {
		t.Fatal(err)
	}
	for _, by := range []string{"supervisor", "supervisor2"} {
		if _, err := cf.cycles.Approve(ctx, d1, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cf.cycles.Close(ctx, d1, "supervisor2", func(c *clearing.Cycle, _ *clearing.Result) ([]clearing.File, error) {
		name, data := fileOf(&clearing.Stored{Cycle: *c})
		return []clearing.File{clearing.FileOf(name, data)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Day 2's cycle takes nothing more (the journal's every entry went to
	// day 1): computed after its cut-off, empty.
	clock = clearing.DefaultCalendar().End(cf.day2).Add(time.Minute)
	if _, err := cf.cycles.Run(ctx, cf.day2, "operator"); err != nil {
		t.Fatal(err)
	}
	f.secrets[RoleSupervisor] = "secret-of-supervisor"
	for name, secret := range map[string]string{"supervisor": f.secrets[RoleSupervisor], "supervisor2": "secret-of-supervisor2"} {
		f.staff[name] = struct {
			secret string
			role   Role
		}{secret, RoleSupervisor}
	}
	f.c.Cycles, f.c.Files = walkCycles{cf.cycles}, cf.files
	h, err := f.c.Handler()
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Close()
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return cf
}

// loginAs logs a new client in as name with secret.
func (f *fixture) loginAs(t *testing.T, name, secret string) (*http.Client, string) {
	t.Helper()
	cl := f.client(t)
	_, page := get(t, cl, f.srv.URL+"/login")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	resp, err := cl.PostForm(f.srv.URL+"/login", url.Values{"csrf": {m[1]}, "name": {name}, "secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login of %s: %d", name, resp.StatusCode)
	}
	_, page = get(t, cl, f.srv.URL+"/")
	m = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the overview of %s", name)
	}
	return cl, m[1]
}

func get(t *testing.T, cl *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, cl *http.Client, u string, v url.Values) (int, string) {
	t.Helper()
	resp, err := cl.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCyclePage: a cycle's page shows each party's position as the store
// keeps it, in yuan, and they net to zero (clearing/doc.go, Positions).
func TestCyclePage(t *testing.T) {
	cf := newClearingFixture(t)
	cl, _ := cf.loginAs(t, "auditor", cf.secrets[RoleAuditor])
	st, err := cf.cycles.Cycle(context.Background(), cf.day1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Result.Positions) < 2 {
		t.Fatalf("the fixture's cycle has %d positions: too few to test", len(st.Result.Positions))
	}
	code, page := get(t, cl, cf.srv.URL+"/clearing/"+cf.day1.String())
	if code != http.StatusOK {
		t.Fatalf("cycle page: %d", code)
	}
	for _, p := range st.Result.Positions {
		row := `<tr data-party="` + p.Party + `"><td><a href="/clearing/` + cf.day1.String() + `/parties/` + p.Party + `">` + p.Party +
			`</a></td><td class="n rec">` + yuan(p.ReceivableFen) + `</td><td class="n pay">` + yuan(p.PayableFen) + `</td><td class="n net">` + yuan(p.NetFen) + `</td></tr>`
		if !strings.Contains(page, row) {
			t.Errorf("cycle page: no row %s", row)
		}
	}
	if !strings.Contains(page, `id="nettotal">¥0.00<`) {
		t.Error("the positions' nets do not total ¥0.00")
	}
	// A closed cycle: its file named, hashed and linked; no sign-off.
	name, data := fileOf(&st)
	sum := clearing.FileOf(name, data).SHA256
	if !strings.Contains(page, `<a href="/clearing/`+cf.day1.String()+`/files/`+name+`">`) || !strings.Contains(page, sum) {
		t.Errorf("cycle page: no link to %s or no hash %s", name, sum)
	}
	if strings.Contains(page, `id="sign"`) {
		t.Error("a closed cycle offers a sign-off")
	}
}

// TestCyclesList: the list walks the store back from the newest cycle,
// cyclesPerPage a page, the next page from the last day shown.
func TestCyclesList(t *testing.T) {
	cf := newClearingFixture(t)
	// Fill the store to exactly one page, then one more.
	base := cf.store[cf.day1]
	for i := 1; len(cf.store) < cyclesPerPage; i++ {
		c := base
		c.Cycle.Day = cf.day1 - clearing.Day(i)
		cf.store[c.Cycle.Day] = c
	}
	cl, _ := cf.loginAs(t, "auditor", cf.secrets[RoleAuditor])
	rows := regexp.MustCompile(`<tr><td><a href="/clearing/(\d{4}-\d\d-\d\d)">`)
	_, page := get(t, cl, cf.srv.URL+"/clearing")
	if n := len(rows.FindAllString(page, -1)); n != cyclesPerPage || strings.Contains(page, `id="older"`) {
		t.Errorf("%d cycles stored: %d rows, older link %v; want all on one page", cyclesPerPage, n, strings.Contains(page, `id="older"`))
	}
	if m := rows.FindStringSubmatch(page); m == nil || m[1] != cf.day2.String() {
		t.Errorf("the first row is %v, want the newest cycle %v", m, cf.day2)
	}
	c := base
	c.Cycle.Day = cf.day1 - cyclesPerPage
	cf.store[c.Cycle.Day] = c
	_, page = get(t, cl, cf.srv.URL+"/clearing")
	if n := len(rows.FindAllString(page, -1)); n != cyclesPerPage || !strings.Contains(page, `id="older"`) {
		t.Fatalf("%d cycles stored: %d rows, want %d and a link to the older", cyclesPerPage+1, n, cyclesPerPage)
	}
	last := rows.FindAllStringSubmatch(page, -1)[cyclesPerPage-1][1]
	_, page = get(t, cl, cf.srv.URL+"/clearing?before="+last)
	if got := rows.FindAllStringSubmatch(page, -1); len(got) != 1 || got[0][1] != c.Cycle.Day.String() {
		t.Errorf("the older page: %v, want only %v", got, c.Cycle.Day)
	}
	if code, _ := get(t, cl, cf.srv.URL+"/clearing?before=yesterday"); code != http.StatusUnprocessableEntity {
		t.Errorf("before=yesterday: %d, want 422", code)
	}
}

// TestCycleSignOff: a supervisor reviews, the same supervisor cannot
// approve (clearing: a second person approves), another supervisor does;
// an auditor and a clerk see no button and are refused with their
// session's token.
func TestCycleSignOff(t *testing.T) {
	cf := newClearingFixture(t)
	u := cf.srv.URL + "/clearing/" + cf.day2.String()
	for _, role := range []Role{RoleAuditor, RoleClerk} {
		cl, tok := cf.loginAs(t, role.String(), cf.secrets[role])
		if _, page := get(t, cl, u); strings.Contains(page, `id="sign"`) || !strings.Contains(page, `id="nosign"`) {
			t.Errorf("the %v is offered the sign-off", role)
		}
		if code, _ := post(t, cl, u+"/sign", url.Values{"csrf": {tok}, "move": {"review"}}); code != http.StatusForbidden {
			t.Errorf("a review by the %v: %d, want 403", role, code)
		}
	}
	sup1, tok1 := cf.loginAs(t, "supervisor", cf.secrets[RoleSupervisor])
	if _, page := get(t, sup1, u); !strings.Contains(page, `<input type="hidden" name="csrf" value="`+tok1+`">`) || !strings.Contains(page, `<button type="submit" id="sign">Review the cycle</button>`) {
		t.Errorf("the supervisor is not offered the review with the session's CSRF token: %s", page)
	}
	if code, _ := post(t, sup1, u+"/sign", url.Values{"move": {"review"}}); code != http.StatusForbidden {
		t.Errorf("a review without the CSRF token: %d, want 403", code)
	}
	if code, page := post(t, sup1, u+"/sign", url.Values{"csrf": {tok1}, "move": {"approve"}}); code != http.StatusConflict {
		t.Errorf("approving a cycle not reviewed: %d, want 409: %s", code, page)
	}
	if code, page := post(t, sup1, u+"/sign", url.Values{"csrf": {tok1}, "move": {"review"}}); code != http.StatusOK || !strings.Contains(page, `id="state">reviewed<`) {
		t.Fatalf("the review: %d", code)
	}
	if code, _ := post(t, sup1, u+"/sign", url.Values{"csrf": {tok1}, "move": {"approve"}}); code != http.StatusForbidden {
		t.Errorf("the reviewer approving: %d, want 403", code)
	}
	if st, _ := cf.store.Cycle(context.Background(), cf.day2); st.Cycle.State != clearing.Reviewed {
		t.Fatalf("after the reviewer's refused approval the cycle is %v", st.Cycle.State)
	}
	sup2, tok2 := cf.loginAs(t, "supervisor2", "secret-of-supervisor2")
	if code, page := post(t, sup2, u+"/sign", url.Values{"csrf": {tok2}, "move": {"approve"}}); code != http.StatusOK || !strings.Contains(page, `id="state">approved<`) {
		t.Errorf("a second supervisor's approval: %d", code)
	}
	st, _ := cf.store.Cycle(context.Background(), cf.day2)
	if st.Cycle.ReviewedBy != "supervisor" || st.Cycle.ApprovedBy != "supervisor2" {
		t.Errorf("reviewed by %q, approved by %q", st.Cycle.ReviewedBy, st.Cycle.ApprovedBy)
	}
}

// TestCycleFiles: a closed cycle's file is sent as it closed, a file
// written again differently is refused, and a cycle not closed sends
// none.
func TestCycleFiles(t *testing.T) {
	cf := newClearingFixture(t)
	cl, _ := cf.loginAs(t, "auditor", cf.secrets[RoleAuditor])
	st, _ := cf.store.Cycle(context.Background(), cf.day1)
	name, data := fileOf(&st)
	u := cf.srv.URL + "/clearing/" + cf.day1.String() + "/files/"
	if code, body := get(t, cl, u+name); code != http.StatusOK || body != string(data) {
		t.Errorf("the file: %d %q, want %q", code, body, data)
	}
	if code, _ := get(t, cl, u+"other.csv"); code != http.StatusNotFound {
		t.Errorf("a file the cycle has not: %d, want 404", code)
	}
	cf.files.tamper = true
	if code, _ := get(t, cl, u+name); code != http.StatusConflict {
		t.Errorf("a file that differs from its hash: %d, want 409", code)
	}
	cf.files.tamper = false
	n2, _ := fileOf(&clearing.Stored{Cycle: clearing.Cycle{Day: cf.day2}})
	if code, _ := get(t, cl, cf.srv.URL+"/clearing/"+cf.day2.String()+"/files/"+n2); code != http.StatusConflict {
		t.Errorf("a file of a computed cycle: %d, want 409", code)
	}
}

// TestPartyPosition: a party's page lists the batches of its terminals
// in the cycle's range, and their amounts add up to what the operator's
// lines cleared (no fee schedule: the gross).
func TestPartyPosition(t *testing.T) {
	cf := newClearingFixture(t)
	cl, _ := cf.loginAs(t, "auditor", cf.secrets[RoleAuditor])
	st, _ := cf.store.Cycle(context.Background(), cf.day1)
	op := cf.city.Terminals[0].Operator
	var gross int64
	for _, l := range st.Result.Lines {
		if l.Operator == op {
			gross += l.GrossFen
		}
	}
	code, page := get(t, cl, cf.srv.URL+"/clearing/"+cf.day1.String()+"/parties/"+url.PathEscape(op))
	if code != http.StatusOK {
		t.Fatalf("party page: %d", code)
	}
	var sum int64
	for _, m := range regexp.MustCompile(`<td class="n">[\d,]+</td><td class="n">(-?¥[\d,.]+)</td></tr>`).FindAllStringSubmatch(page, -1) {
		sum += parseYuan(t, m[1])
	}
	if sum != gross || gross == 0 {
		t.Errorf("party %s: batches total %d fen, its lines %d", op, sum, gross)
	}
	if !strings.Contains(page, `<a href="/batches/`) {
		t.Error("party page links to no batch")
	}
	if code, _ := get(t, cl, cf.srv.URL+"/clearing/"+cf.day1.String()+"/parties/nobody"); code != http.StatusNotFound {
		t.Errorf("a party without a position: %d, want 404", code)
	}
}

func parseYuan(t *testing.T, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	s = strings.NewReplacer("-", "", "¥", "", ",", "", ".", "").Replace(s)
	var v int64
	for _, r := range s {
		if r < '0' || r > '9' || v > math.MaxInt64/10 {
			t.Fatalf("yuan %q", s)
		}
		v = v*10 + int64(r-'0')
	}
	if neg {
		v = -v
	}
	return v
}

// TestPartyScanBound: a party's page reads at most partyScanMax records
// of the cycle's range: a range of exactly the bound is read whole, one
// entry more is cut and says so.
func TestPartyScanBound(t *testing.T) {
	cf := newClearingFixture(t)
	cl, _ := cf.loginAs(t, "auditor", cf.secrets[RoleAuditor])
	st, _ := cf.store.Cycle(context.Background(), cf.day1)
	u := cf.srv.URL + "/clearing/" + cf.day1.String() + "/parties/" + url.PathEscape(cf.city.Terminals[0].Operator)
	for _, tc := range []struct {
		bound int64
		cut   bool
	}{{st.Cycle.Range.Len(), false}, {st.Cycle.Range.Len() - 1, true}} {
		cf.c.partyScan = tc.bound
		_, page := get(t, cl, u)
		if got := strings.Contains(page, `id="scancut"`); got != tc.cut {
			t.Errorf("range of %d records, bound %d: cut %v, want %v", st.Cycle.Range.Len(), tc.bound, got, tc.cut)
		}
		if want := num(tc.bound) + " records read"; !strings.Contains(page, want) {
			t.Errorf("bound %d: the page does not say %q", tc.bound, want)
		}
	}
}

// TestCyclePositionsBound: the positions table keeps maxTableRows
// parties (at the bound all, one more cut and said, the total still of
// every party) and the chart the chartBars largest nets.
func TestCyclePositionsBound(t *testing.T) {
	cf := newClearingFixture(t)
	cl, _ := cf.loginAs(t, "auditor", cf.secrets[RoleAuditor])
	for _, n := range []int{maxTableRows, maxTableRows + 1} {
		st := cf.store[cf.day1]
		res := *st.Result
		res.Positions = nil
		for i := range n {
			net := int64(i + 1)
			if i == n-1 {
				net = -int64(n-1) * int64(n) / 2 // the last pays every other
			}
			res.Positions = append(res.Positions, clearing.Position{Party: fmt.Sprintf("p%05d", i), ReceivableFen: max(net, 0), PayableFen: max(-net, 0), NetFen: net})
		}
		st.Result = &res
		cf.store[cf.day1] = st
		_, page := get(t, cl, cf.srv.URL+"/clearing/"+cf.day1.String())
		rows := strings.Count(page, `<tr data-party=`)
		cut := strings.Contains(page, `id="rowscut"`)
		if rows != maxTableRows || cut != (n > maxTableRows) || !strings.Contains(page, `id="nettotal">¥0.00<`) {
			t.Errorf("%d parties: %d rows, cut %v, or the total is not ¥0.00", n, rows, cut)
		}
		m := regexp.MustCompile(`data-chart="([^"]+)"`).FindStringSubmatch(page)
		var ch chart
		if m == nil || json.Unmarshal([]byte(html.UnescapeString(m[1])), &ch) != nil {
			t.Fatalf("%d parties: no chart", n)
		}
		if len(ch.Labels) != chartBars || ch.Labels[0] != fmt.Sprintf("p%05d", n-1) {
			t.Errorf("%d parties: chart of %d bars, first %q; want %d, the largest net first", n, len(ch.Labels), ch.Labels[0], chartBars)
		}
	}
}
