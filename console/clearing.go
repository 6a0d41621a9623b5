package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/record"
)

// Cycles is what the console reads and moves of the clearing cycles: a
// day's cycle, the latest before a day (the list walks it back), and the
// two people's sign-off (clearing.Cycles.Approve, which refuses the
// reviewer approving). cmd/citycard adapts *clearing.Cycles and its store.
type Cycles interface {
	Cycle(ctx context.Context, d clearing.Day) (clearing.Stored, error)
	Before(ctx context.Context, d clearing.Day) (s clearing.Stored, ok bool, err error)
	Approve(ctx context.Context, d clearing.Day, by string) (*clearing.Stored, error)
}

// SettlementFiles writes a closed cycle's settlement files again from its
// stored result (exchange.Files); the console checks each against the
// hash the cycle closed with before it sends it.
type SettlementFiles interface {
	Files(ctx context.Context, s *clearing.Stored) (map[string][]byte, error)
}

// Bounds of the clearing pages.
const (
	cyclesPerPage  = 31        // cycles listed on one page, the newest first
	partyScanMax   = 1_000_000 // journaled records a party's page reads for its batches
	partyBatchRows = maxTableRows
)

type cycleRow struct {
	Day              string
	State            string
	Range            string
	Claimed, Cleared int64
	ClaimedFen       int64
	Steps            []cycleStep
}

type cycleStep struct{ What, By, At string }

// steps lists who did what to c and when, in order.
func steps(c *clearing.Cycle) []cycleStep {
	var out []cycleStep
	for _, s := range []struct {
		what, by string
		at       time.Time
	}{{"opened", "", c.OpenedAt}, {"computed", c.ComputedBy, c.ComputedAt}, {"reviewed", c.ReviewedBy, c.ReviewedAt},
		{"approved", c.ApprovedBy, c.ApprovedAt}, {"closed", c.ClosedBy, c.ClosedAt}} {
		if !s.at.IsZero() {
			out = append(out, cycleStep{s.what, s.by, s.at.In(citycard.ChinaTime).Format("2006-01-02 15:04")})
		}
	}
	return out
}

type cyclesPage struct {
	Configured bool
	Rows       []cycleRow
	Next       string // the before= of the next page; "": none
}

func (c *Console) handleCycles(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.cycles"
	p := cyclesPage{Configured: c.Cycles != nil}
	if c.Cycles == nil {
		c.render(w, r, s, http.StatusOK, "cycles", "Clearing", p)
		return
	}
	before := clearing.Day(math.MaxInt32)
	if v := r.FormValue("before"); v != "" {
		d, err := clearing.ParseDay(v)
		if err != nil {
			c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
			return
		}
		before = d
	}
	// The store keeps no list: the page walks back from before, one
	// cycle at a time, at most cyclesPerPage of them and one more to know
	// whether a next page exists.
	for len(p.Rows) <= cyclesPerPage {
		st, ok, err := c.Cycles.Before(r.Context(), before)
		if err != nil {
			c.fail(w, r, s, citycard.Wrap(op, citycard.Other, err))
			return
		}
		if !ok {
			break
		}
		if len(p.Rows) == cyclesPerPage {
			p.Next = before.String()
			break
		}
		cy := &st.Cycle
		row := cycleRow{Day: cy.Day.String(), State: cy.State.String(), Steps: steps(cy)}
		if st.Result != nil {
			row.Range = cy.Range.String()
			row.Claimed, row.ClaimedFen, row.Cleared = st.Result.Claim.Count, st.Result.Claim.AmountFen, st.Result.Cleared.Count
		}
		p.Rows = append(p.Rows, row)
		before = cy.Day
	}
	c.render(w, r, s, http.StatusOK, "cycles", "Clearing", p)
}

type positionRow struct {
	clearing.Position
	Link string
}

type cyclePage struct {
	Day      string
	State    string
	Range    string
	Cutoff   string
	Steps    []cycleStep
	Computed bool
	Totals   []totalsRow
	Rows     []positionRow
	RowsCut  bool // more parties than maxTableRows: the total is of them all
	Sum      clearing.Position
	Chart    chart
	Breaches []clearing.Breach
	Files    []clearing.File
	Closed   bool
	// The sign-off the page offers: "review", "approve" or "".
	Action    string
	CanSign   bool
	Reviewer  string
	Message   string
	Collector string
	CSRF      string // the session's, for the sign-off form
}

type totalsRow struct {
	Name string
	clearing.Totals
}

func (c *Console) cycleDay(w http.ResponseWriter, r *http.Request, s *session, op string) (clearing.Day, bool) {
	if c.Cycles == nil {
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "no clearing cycles are served by this console"))
		return 0, false
	}
	d, err := clearing.ParseDay(r.PathValue("day"))
	if err != nil {
		c.fail(w, r, s, citycard.Wrap(op, citycard.Invalid, err))
		return 0, false
	}
	return d, true
}

// storedCycle is the cycle of the request's {day}, as stored: false, the
// failure answered, for a bad day or a store that cannot give it.
func (c *Console) storedCycle(w http.ResponseWriter, r *http.Request, s *session, op string) (clearing.Day, clearing.Stored, bool) {
	d, ok := c.cycleDay(w, r, s, op)
	if !ok {
		return 0, clearing.Stored{}, false
	}
	st, err := c.Cycles.Cycle(r.Context(), d)
	if err != nil {
		c.fail(w, r, s, err)
		return 0, clearing.Stored{}, false
	}
	return d, st, true
}

func (c *Console) handleCycle(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.cycle"
	_, st, ok := c.storedCycle(w, r, s, op)
	if !ok {
		return
	}
	c.renderCycle(w, r, s, http.StatusOK, &st, "")
}

func (c *Console) renderCycle(w http.ResponseWriter, r *http.Request, s *session, code int, st *clearing.Stored, msg string) {
	cy := &st.Cycle
	p := cyclePage{Day: cy.Day.String(), State: cy.State.String(), Steps: steps(cy), Cutoff: cy.Cutoff.In(citycard.ChinaTime).Format("2006-01-02 15:04"),
		Files: st.Files, Closed: cy.State == clearing.Closed, CanSign: s.staff.Role >= RoleSupervisor, Reviewer: cy.ReviewedBy, Message: msg, CSRF: s.csrf}
	switch cy.State {
	case clearing.Computed:
		p.Action = "review"
	case clearing.Reviewed:
		p.Action = "approve"
	}
	if res := st.Result; res != nil {
		p.Computed, p.Range, p.Breaches, p.Collector = true, cy.Range.String(), res.Breaches, res.Collector
		p.Totals = []totalsRow{{"claimed", res.Claim.Totals}, {"cleared", res.Cleared}, {"late", res.Late}, {"pending issuer", res.Pending},
			{"suspense", res.Suspense}, {"duplicates", res.Duplicates}, {"loads", res.Loads}, {"applications", res.Applications},
			{"grey confirmed", res.Confirmed}, {"grey released", res.Released}, {"grey reversed", res.Reversed}}
		p.Chart = chart{Type: "bar", Datasets: []dataset{{Label: "receivable", Yuan: true}, {Label: "payable", Yuan: true}, {Label: "net", Yuan: true}}}
		for _, pos := range res.Positions {
			p.Rows = append(p.Rows, positionRow{pos, "/clearing/" + p.Day + "/parties/" + url.PathEscape(pos.Party)})
			p.Sum.ReceivableFen += pos.ReceivableFen
			p.Sum.PayableFen += pos.PayableFen
			p.Sum.NetFen += pos.NetFen
		}
		// The chart shows the largest nets; the table has every party.
		byNet := slices.Clone(res.Positions)
		slices.SortStableFunc(byNet, func(a, b clearing.Position) int { return cmpAbs(b.NetFen, a.NetFen) })
		for _, pos := range byNet[:min(len(byNet), chartBars)] {
			p.Chart.Labels = append(p.Chart.Labels, pos.Party)
			p.Chart.Datasets[0].Data = append(p.Chart.Datasets[0].Data, pos.ReceivableFen)
			p.Chart.Datasets[1].Data = append(p.Chart.Datasets[1].Data, pos.PayableFen)
			p.Chart.Datasets[2].Data = append(p.Chart.Datasets[2].Data, pos.NetFen)
		}
		if len(p.Rows) > maxTableRows {
			p.Rows, p.RowsCut = p.Rows[:maxTableRows], true
		}
	}
	c.render(w, r, s, code, "cycle", "Cycle "+p.Day, p)
}

func cmpAbs(a, b int64) int {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// handleSign reviews a computed cycle or approves a reviewed one as the
// staff member logged in: clearing refuses the reviewer approving
// (Permission) and a cycle moved meanwhile (Conflict). The form names
// the move it saw, so that a page left open over a move does not sign
// what the staff member did not see.
func (c *Console) handleSign(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.sign"
	d, cur, ok := c.storedCycle(w, r, s, op)
	if !ok {
		return
	}
	want := map[clearing.State]string{clearing.Computed: "review", clearing.Reviewed: "approve"}[cur.Cycle.State]
	if got := r.PostFormValue("move"); got != want || want == "" {
		c.fail(w, r, s, citycard.E(op, citycard.Conflict, "cycle %v is %v now: cannot %s it (reload the page)", d, cur.Cycle.State, got))
		return
	}
	st, err := c.Cycles.Approve(r.Context(), d, s.staff.Name)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.Logger.Info("console: cycle signed", "day", d.String(), "move", want, "by", s.staff.Name)
	c.renderCycle(w, r, s, http.StatusOK, st, fmt.Sprintf("%s by %s: the cycle is %v.", want+"ed", s.staff.Name, st.Cycle.State))
}

// handleFile sends one settlement file of a closed cycle, written again
// and checked against the hash the cycle closed with: a file that
// differs (the registry's names or accounts changed since) is a Conflict,
// never sent.
func (c *Console) handleFile(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.file"
	d, st, ok := c.storedCycle(w, r, s, op)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if st.Cycle.State != clearing.Closed || c.Files == nil {
		c.fail(w, r, s, citycard.E(op, citycard.Conflict, "cycle %v is %v: its settlement files are sent once it is closed", d, st.Cycle.State))
		return
	}
	i := slices.IndexFunc(st.Files, func(f clearing.File) bool { return f.Name == name })
	if i < 0 {
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "cycle %v has no file %q", d, name))
		return
	}
	all, err := c.Files.Files(r.Context(), &st)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data, ok := all[name]
	if !ok || clearing.FileOf(name, data).SHA256 != st.Files[i].SHA256 {
		c.fail(w, r, s, citycard.E(op, citycard.Conflict, "cycle %v: file %s written again differs from the one it closed with (sha256 %s): the registry changed since", d, name, st.Files[i].SHA256))
		return
	}
	ct := "text/csv; charset=utf-8"
	if strings.HasSuffix(name, ".xml") {
		ct = "application/xml"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	http.ServeContent(w, r, name, st.Cycle.ClosedAt, bytes.NewReader(data))
}

type partyBatch struct {
	Terminal, Batch string
	Records         int64
	Fen             int64
}

type partyPage struct {
	Day, Party string
	Position   clearing.Position
	Lines      []clearing.Line
	LinesCut   bool
	Batches    []partyBatch
	BatchesCut bool
	Scanned    int64
	ScanCut    bool // the range is longer than partyScanMax: batches of its start only
	ScanMax    int64
	Terminals  int
}

// handlePartyPosition shows what is behind a party's position: the
// cycle's lines it takes part in, and the batches of its terminals in
// the cycle's journal range (each linked to its records).
func (c *Console) handlePartyPosition(w http.ResponseWriter, r *http.Request, s *session) {
	const op = "console.party"
	d, st, ok := c.storedCycle(w, r, s, op)
	if !ok {
		return
	}
	party := r.PathValue("party")
	res := st.Result
	i := -1
	if res != nil {
		i = slices.IndexFunc(res.Positions, func(p clearing.Position) bool { return p.Party == party })
	}
	if i < 0 {
		c.fail(w, r, s, citycard.E(op, citycard.NotFound, "cycle %v has no position of party %q", d, party))
		return
	}
	p := partyPage{Day: d.String(), Party: party, Position: res.Positions[i], ScanMax: c.scanMax()}
	for _, l := range res.Lines {
		if l.Issuer == party || l.Operator == party || (res.Collector == party && l.FeeFen != 0) {
			if len(p.Lines) == maxTableRows {
				p.LinesCut = true
				break
			}
			p.Lines = append(p.Lines, l)
		}
	}
	terms, err := c.Terminals.Terminals(r.Context(), party)
	if err != nil {
		c.fail(w, r, s, citycard.Wrap(op, citycard.Other, err))
		return
	}
	mine := map[citycard.TerminalID]bool{}
	for _, t := range terms {
		if t.Operator == party {
			mine[t.ID] = true
		}
	}
	p.Terminals = len(mine)
	if len(mine) > 0 {
		if err := c.partyBatches(r.Context(), st.Cycle.Range, mine, &p); err != nil {
			c.fail(w, r, s, citycard.Wrap(op, citycard.Other, err))
			return
		}
	}
	c.render(w, r, s, http.StatusOK, "party", "Party "+party+" in cycle "+p.Day, p)
}

// scanMax is partyScanMax, or the bound a test set.
func (c *Console) scanMax() int64 {
	if c.partyScan > 0 {
		return c.partyScan
	}
	return partyScanMax
}

var errScanDone = errors.New("console: the scan is done")

// partyBatches reads the cycle's range, at most partyScanMax records, for
// the batches of the party's terminals: their records cleared (booked or
// recovered) and the sum of those.
func (c *Console) partyBatches(ctx context.Context, rg clearing.Range, mine map[citycard.TerminalID]bool, p *partyPage) error {
	type key struct {
		t citycard.TerminalID
		b string
	}
	idx := map[key]int{}
	err := c.Journal.Replay(ctx, rg.From, func(e *acquire.Journaled) error {
		if e.Pos > rg.To {
			return errScanDone
		}
		if p.Scanned == c.scanMax() {
			p.ScanCut = true
			return errScanDone
		}
		p.Scanned++
		if !mine[e.Terminal] || (e.Class != acquire.ClassBooked && e.Class != acquire.ClassRecovered) {
			return nil
		}
		k := key{e.Terminal, e.BatchID}
		j, ok := idx[k]
		if !ok {
			if len(p.Batches) == partyBatchRows {
				p.BatchesCut = true
				return nil
			}
			j = len(p.Batches)
			idx[k] = j
			p.Batches = append(p.Batches, partyBatch{Terminal: e.Terminal.String(), Batch: e.BatchID})
		}
		rec, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return nil // the journal holds only records that decoded
		}
		p.Batches[j].Records++
		p.Batches[j].Fen += int64(rec.Amount)
		return nil
	})
	if errors.Is(err, errScanDone) {
		err = nil
	}
	return err
}
