package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
)

// Limits of the clearing routes.
const (
	CyclesPageMax    = 31  // cycles in one page of GET /v1/clearing/cycles
	StatementRowsMax = 500 // records in one page of a statement
)

// Clearing is what the clearing routes need: the cycles (clearing.Cycles
// has all but Files), and a closed cycle's settlement files, written again
// and checked against the hashes kept at close.
type Clearing interface {
	Cycle(ctx context.Context, d clearing.Day) (clearing.Stored, error)
	Before(ctx context.Context, d clearing.Day) (clearing.Stored, bool, error)
	Run(ctx context.Context, d clearing.Day, by string) (*clearing.Stored, error)
	Review(ctx context.Context, d clearing.Day, by string) (*clearing.Stored, error)
	ApproveReviewed(ctx context.Context, d clearing.Day, by string) (*clearing.Stored, error)
	Close(ctx context.Context, d clearing.Day, by string) (*clearing.Stored, error)
	Files(ctx context.Context, d clearing.Day) ([]exchange.SettlementFile, error)
	Statements(ctx context.Context, d clearing.Day) ([]clearing.Statement, error)
}

// The JSON of the clearing routes: snake_case, amounts in fen.
type (
	clearingTotalsJSON struct {
		Count     int64 `json:"count"`
		AmountFen int64 `json:"amount_fen"`
	}
	clearingPositionJSON struct {
		Party         string `json:"party"`
		ReceivableFen int64  `json:"receivable_fen"`
		PayableFen    int64  `json:"payable_fen"`
		NetFen        int64  `json:"net_fen"`
	}
	clearingFileJSON struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size_bytes"`
	}
	clearingFileContentJSON struct {
		Name    string `json:"name"`
		SHA256  string `json:"sha256"`
		Size    int64  `json:"size_bytes"`
		Content string `json:"content"` // the file's text (CSV or XML, UTF-8), as written at close
	}
	clearingCycleJSON struct {
		Day        string                        `json:"day"`
		State      string                        `json:"state"`
		Cutoff     string                        `json:"cutoff"`
		RangeFrom  int64                         `json:"range_from"`
		RangeTo    int64                         `json:"range_to"`
		ComputedBy string                        `json:"computed_by"`
		ReviewedBy string                        `json:"reviewed_by"`
		ApprovedBy string                        `json:"approved_by"`
		ClosedBy   string                        `json:"closed_by"`
		ClosedAt   string                        `json:"closed_at"`
		Totals     map[string]clearingTotalsJSON `json:"totals"`
		Positions  []clearingPositionJSON        `json:"positions"`
		Files      []clearingFileJSON            `json:"files"`

		// SettlementVersion is the settlement rules the cycle was
		// computed under, which its files are written under
		// (clearing.SettlementVersion).
		SettlementVersion uint8 `json:"settlement_version"`
	}
	clearingCyclesJSON struct {
		Cycles []clearingCycleJSON `json:"cycles"`
		Next   string              `json:"next_before,omitempty"` // the before of the next page; "" for the last
	}
	statementRowJSON struct {
		Key      string `json:"key"`
		Records  int64  `json:"records"`
		GrossFen int64  `json:"gross_fen"`
		FeeFen   int64  `json:"fee_fen"`
		NetFen   int64  `json:"net_fen"`
	}
	statementRecordJSON struct {
		Pos       int64  `json:"pos"`
		Line      uint32 `json:"line"`
		Terminal  string `json:"terminal"`
		Day       string `json:"day"`
		Issuer    string `json:"issuer"`
		ASN       string `json:"asn"`
		Counter   uint16 `json:"counter"`
		Seq       uint32 `json:"seq"`
		AmountFen int64  `json:"amount_fen"`
		FeeFen    int64  `json:"fee_fen"`
		Rule      string `json:"rule"`
		TAC       string `json:"tac"`
	}
	statementJSON struct {
		Party       string                `json:"party"`
		Day         string                `json:"day"`
		Total       statementRowJSON      `json:"total"`
		Lines       []statementRowJSON    `json:"lines"`
		Terminals   []statementRowJSON    `json:"terminals"`
		Days        []statementRowJSON    `json:"days"`
		RoundingFen int64                 `json:"rounding_fen"`
		Adjustments []statementRowJSON    `json:"adjustments"`
		PositionFen int64                 `json:"position_fen"`
		Records     []statementRecordJSON `json:"records"`
		NextAfter   int64                 `json:"next_after,omitempty"` // the after of the next page of records; 0 for the last
		// A payer's remote top-ups (empty for an operator), paged as
		// the records are, by ledger entry (after_top_up).
		TopUpTotal     statementRowJSON     `json:"top_up_total"`
		TopUpIssuers   []statementRowJSON   `json:"top_up_issuers"`
		TopUpDays      []statementRowJSON   `json:"top_up_days"`
		TopUps         []statementTopUpJSON `json:"top_ups"`
		NextAfterTopUp int64                `json:"next_after_top_up,omitempty"`
	}
	statementTopUpJSON struct {
		Seq           int64  `json:"ledger_seq"`
		TopUp         string `json:"top_up"`
		Refund        bool   `json:"refund"`
		Day           string `json:"day"`
		Issuer        string `json:"issuer"`
		Card          string `json:"card"`
		AmountFen     int64  `json:"amount_fen"`
		CommissionFen int64  `json:"commission_fen"`
		Rule          string `json:"rule"`
	}
)

func clearingTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func cycleJSON(s *clearing.Stored) clearingCycleJSON {
	c := &s.Cycle
	j := clearingCycleJSON{Day: c.Day.String(), State: c.State.String(), Cutoff: clearingTime(c.Cutoff), RangeFrom: c.Range.From, RangeTo: c.Range.To,
		ComputedBy: c.ComputedBy, ReviewedBy: c.ReviewedBy, ApprovedBy: c.ApprovedBy, ClosedBy: c.ClosedBy, ClosedAt: clearingTime(c.ClosedAt),
		SettlementVersion: uint8(c.SettlementVersion), Totals: map[string]clearingTotalsJSON{}, Positions: []clearingPositionJSON{}, Files: []clearingFileJSON{}}
	if res := s.Result; res != nil {
		for name, t := range map[string]clearing.Totals{"claimed": res.Claim.Totals, "cleared": res.Cleared, "late": res.Late, "pending_issuer": res.Pending,
			"suspense": res.Suspense, "duplicates": res.Duplicates, "loads": res.Loads, "loaded": res.Loaded,
			"top_ups_paid": res.TopUpsPaid, "top_ups_refunded": res.TopUpsRefunded} {
			j.Totals[name] = clearingTotalsJSON{t.Count, t.AmountFen}
		}
		for _, p := range res.Positions {
			j.Positions = append(j.Positions, clearingPositionJSON{p.Party, p.ReceivableFen, p.PayableFen, p.NetFen})
		}
	}
	for _, f := range s.Files {
		j.Files = append(j.Files, clearingFileJSON{f.Name, f.SHA256, f.Size})
	}
	return j
}

// clearingDay returns the request's {day}, with the clearing service:
// kind Invalid for a bad day, Unavailable without a service.
func (s *Server) clearingDay(r *http.Request) (clearing.Day, error) {
	const op = "api.clearing"
	if s.Clearing == nil {
		return 0, citycard.E(op, citycard.Unavailable, "clearing is not served here")
	}
	d, err := clearing.ParseDay(r.PathValue("day"))
	if err != nil {
		return 0, citycard.E(op, citycard.Invalid, "day %q: want YYYY-MM-DD", r.PathValue("day"))
	}
	return d, nil
}

// handleClearingCycles lists the cycles, newest first, before ?before=
// (a day, default none: the newest), at most ?limit= (1 to
// CyclesPageMax, default the most).
func (s *Server) handleClearingCycles(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.clearingCycles"
	if err := by.member().MayRead(""); err != nil { // a partner bank's staff: its own statement only
		s.fail(w, r, err)
		return
	}
	if s.Clearing == nil {
		s.fail(w, r, citycard.E(op, citycard.Unavailable, "clearing is not served here"))
		return
	}
	q := r.URL.Query()
	before := clearing.Day(1<<31 - 1)
	if v := q.Get("before"); v != "" {
		d, err := clearing.ParseDay(v)
		if err != nil {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "before=%q: want YYYY-MM-DD", v))
			return
		}
		before = d
	}
	limit := CyclesPageMax
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > CyclesPageMax {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, CyclesPageMax))
			return
		}
		limit = n
	}
	out := clearingCyclesJSON{Cycles: []clearingCycleJSON{}}
	for len(out.Cycles) < limit {
		c, ok, err := s.Clearing.Before(r.Context(), before)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			break
		}
		out.Cycles = append(out.Cycles, cycleJSON(&c))
		before = c.Cycle.Day
	}
	if len(out.Cycles) == limit {
		if _, ok, err := s.Clearing.Before(r.Context(), before); err == nil && ok {
			out.Next = before.String()
		}
	}
	s.reply(w, r, http.StatusOK, out)
}

func (s *Server) handleClearingCycle(w http.ResponseWriter, r *http.Request, by Staff) {
	if err := by.member().MayRead(""); err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.clearingDay(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Clearing.Cycle(r.Context(), d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, cycleJSON(&c))
}

// clearingMoveFunc is one of Clearing's moves of a cycle.
type clearingMoveFunc = func(context.Context, clearing.Day, string) (*clearing.Stored, error)

// clearingMove returns the handler of one of a cycle's moves: POST with
// no body (who moves it is the caller), answered with the moved cycle.
func (s *Server) clearingMove(name string, move func(Clearing) clearingMoveFunc) func(http.ResponseWriter, *http.Request, Staff) {
	return func(w http.ResponseWriter, r *http.Request, st Staff) {
		op := "api.clearing." + name
		d, err := s.clearingDay(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if r.ContentLength != 0 || len(r.URL.RawQuery) != 0 {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "cycle %v: %s takes no body and no query: the caller is who does it", d, name))
			return
		}
		c, err := move(s.Clearing)(r.Context(), d, st.Name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.Logger.Info("clearing cycle moved", "move", name, "day", d.String(), "by", st.Name, "state", c.Cycle.State.String())
		s.reply(w, r, http.StatusOK, cycleJSON(c))
	}
}

// handleClearingFile serves one settlement file of a closed cycle, as it
// closed with it: its name, hash, size and text.
func (s *Server) handleClearingFile(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.clearingFile"
	if err := by.member().MayRead(""); err != nil { // a partner bank's staff: its own statement only
		s.fail(w, r, err)
		return
	}
	d, err := s.clearingDay(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fs, err := s.Clearing.Files(r.Context(), d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := r.PathValue("file")
	for _, f := range fs {
		if f.Name == name {
			h := clearing.FileOf(f.Name, f.Data)
			s.reply(w, r, http.StatusOK, clearingFileContentJSON{h.Name, h.SHA256, h.Size, string(f.Data)})
			return
		}
	}
	s.fail(w, r, citycard.E(op, citycard.NotFound, "cycle %v has no file %q", d, name))
}

// handleClearingStatement serves {party}'s statement of a closed cycle,
// its records paged: ?after= (a journal position, default 0) and ?limit=
// (1 to StatementRowsMax, default the most); a payer's remote top-ups
// likewise, by ?after_top_up= (a ledger entry, default 0).
func (s *Server) handleClearingStatement(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.clearingStatement"
	if err := by.member().MayRead(r.PathValue("party")); err != nil { // a partner bank's staff: its own statement only
		s.fail(w, r, err)
		return
	}
	d, err := s.clearingDay(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	var after, afterTopUp int64
	for _, a := range []struct {
		name, what string
		to         *int64
	}{{"after", "a journal position", &after}, {"after_top_up", "a ledger entry", &afterTopUp}} {
		if v := q.Get(a.name); v != "" {
			if *a.to, err = strconv.ParseInt(v, 10, 64); err != nil || *a.to < 0 {
				s.fail(w, r, citycard.E(op, citycard.Invalid, "%s=%q: want %s, 0 or more", a.name, v, a.what))
				return
			}
		}
	}
	limit := StatementRowsMax
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > StatementRowsMax {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, StatementRowsMax))
			return
		}
		limit = n
	}
	sts, err := s.Clearing.Statements(r.Context(), d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	party := r.PathValue("party")
	for i := range sts {
		if sts[i].Party == party {
			s.reply(w, r, http.StatusOK, statementPage(&sts[i], after, afterTopUp, limit))
			return
		}
	}
	s.fail(w, r, citycard.E(op, citycard.NotFound, "cycle %v: no statement of %q", d, party))
}

func rowJSON(r clearing.StatementRow) statementRowJSON {
	return statementRowJSON{r.Key, r.Records, r.GrossFen, r.FeeFen, r.NetFen}
}

func rowsJSON(rs []clearing.StatementRow) []statementRowJSON {
	out := make([]statementRowJSON, len(rs))
	for i, r := range rs {
		out[i] = rowJSON(r)
	}
	return out
}

func statementPage(st *clearing.Statement, after, afterTopUp int64, limit int) statementJSON {
	j := statementJSON{Party: st.Party, Day: st.Day.String(), Total: rowJSON(st.Total),
		Lines: rowsJSON(st.Lines), Terminals: rowsJSON(st.Terminals), Days: rowsJSON(st.Days), RoundingFen: st.RoundingFen,
		Adjustments: rowsJSON(st.Adjustments), PositionFen: st.PositionFen,
		TopUpTotal: rowJSON(st.TopUpTotal), TopUpIssuers: rowsJSON(st.TopUpIssuers), TopUpDays: rowsJSON(st.TopUpDays)}
	j.Records, j.NextAfter = page(st.Records, after, limit, func(r *clearing.StatementRecord) (int64, statementRecordJSON) {
		return r.Pos, statementRecordJSON{r.Pos, r.Line, r.Terminal, r.Day, r.Issuer, r.ASN, r.Counter, r.Seq, r.AmountFen, r.FeeFen, r.Rule, r.TAC}
	})
	j.TopUps, j.NextAfterTopUp = page(st.TopUps, afterTopUp, limit, func(t *clearing.StatementTopUp) (int64, statementTopUpJSON) {
		return t.Seq, statementTopUpJSON{t.Seq, t.TopUp, t.Refund, t.Day, t.Issuer, t.Card, t.AmountFen, t.CommissionFen, t.Rule}
	})
	return j
}

// page returns up to limit of xs (in the order of their keys) whose key
// is after after, as conv makes them, and the after of the next page (0
// for the last).
func page[T, J any](xs []T, after int64, limit int, conv func(*T) (int64, J)) ([]J, int64) {
	out := []J{}
	var last int64
	for i := range xs {
		k, x := conv(&xs[i])
		if k <= after {
			continue
		}
		if len(out) == limit {
			return out, last
		}
		out, last = append(out, x), k
	}
	return out, 0
}
